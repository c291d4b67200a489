"""kafka-python in a consumer group: read up to <max> records of <topic> (or until nothing
came for 3 s), commit what was read, and print it.

usage: kafka_python_group.py <bootstrap> <group> <topic> <max>
Prints one JSON line: {"consumed": [[partition, offset, value], ...], "committed": {p: offset}}.
"""
import json
import sys

from kafka import KafkaConsumer, TopicPartition

bootstrap, group, topic, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                         auto_offset_reset="earliest", consumer_timeout_ms=3000,
                         session_timeout_ms=10000, heartbeat_interval_ms=1000)
consumed = []
for m in consumer:
    consumed.append([m.partition, m.offset, m.value.decode()])
    if len(consumed) >= limit:
        break
consumer.commit()
parts = consumer.partitions_for_topic(topic) or set()
committed = {str(p): consumer.committed(TopicPartition(topic, p)) for p in sorted(parts)}
consumer.close()
print(json.dumps({"consumed": consumed, "committed": committed}))
