"""kafka-python against peerlog: produce N records (acks=1), then consume them with assign().

usage: kafka_python_round_trip.py <bootstrap> <topic> <partitions> <count>
Prints one JSON line: {"produced": n, "consumed": [[partition, offset, key, value], ...]}.
"""
import json
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

bootstrap, topic, partitions, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=5, request_timeout_ms=30000)
futures = [producer.send(topic, key=f"k{i % 113}".encode(), value=f"value-{i}".encode(), partition=i % partitions)
           for i in range(count)]
producer.flush(60)
produced = 0
for f in futures:
    f.get(timeout=30)
    produced += 1
producer.close()

consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                         auto_offset_reset="earliest", consumer_timeout_ms=1000)
tps = [TopicPartition(topic, p) for p in range(partitions)]
consumer.assign(tps)
consumer.seek_to_beginning(*tps)
consumed = []
deadline = time.time() + 60
while len(consumed) < count and time.time() < deadline:
    for tp, msgs in consumer.poll(timeout_ms=1000, max_records=5000).items():
        for m in msgs:
            consumed.append([m.partition, m.offset, m.key.decode(), m.value.decode()])
consumer.close()
print(json.dumps({"produced": produced, "api_version": ".".join(map(str, producer.config["api_version"] or ())), "consumed": consumed}))
