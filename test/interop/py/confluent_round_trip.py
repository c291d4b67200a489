"""confluent-kafka (librdkafka) against peerlog: produce the records of a JSON file with
acks=all and one compression.type, then read them back with a consumer using assign().

usage: confluent_round_trip.py <bootstrap> <compression> <records.json> <out.json>

records.json: {"topic": T, "partitions": N, "records": [{"p", "k", "v", "h": [[key, value]], "ts"}]}
with k, v and header values base64 (or null). out.json: the records consumed, in the same
shape plus "o" (offset) and "tt" (timestamp type), in the order of each partition.
"""
import base64
import json
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

bootstrap, compression, records_path, out_path = sys.argv[1:5]
spec = json.load(open(records_path))
topic = spec["topic"]
records = spec["records"]


def b(s):
    return None if s is None else base64.b64decode(s)


def s(x):
    return None if x is None else base64.b64encode(x).decode()


errors = []
delivered = [0]


def on_delivery(err, msg):
    if err is not None:
        errors.append(str(err))
    else:
        delivered[0] += 1


producer = Producer({
    "bootstrap.servers": bootstrap,
    "acks": "all",
    "compression.type": compression,
    "linger.ms": 5,
    "enable.idempotence": False,
    "message.timeout.ms": 30000,
})
for r in records:
    while True:
        try:
            producer.produce(topic, value=b(r["v"]), key=b(r["k"]), partition=r["p"],
                             headers=[(k, b(v)) for k, v in r["h"]], timestamp=r["ts"], on_delivery=on_delivery)
            break
        except BufferError:
            producer.poll(0.05)
    producer.poll(0)
left = producer.flush(60)
if left or errors or delivered[0] != len(records):
    print(f"produce: {delivered[0]} delivered of {len(records)}, {left} left, errors: {errors[:5]}", file=sys.stderr)
    sys.exit(1)

consumer = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": "unused-with-assign",
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "enable.partition.eof": False,
})
consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(spec["partitions"])])
out = []
deadline = time.time() + 60
while len(out) < len(records) and time.time() < deadline:
    for msg in consumer.consume(num_messages=1000, timeout=1.0):
        if msg.error():
            raise KafkaException(msg.error())
        tt, ts = msg.timestamp()
        out.append({"p": msg.partition(), "o": msg.offset(), "k": s(msg.key()), "v": s(msg.value()),
                    "h": [[k, s(v)] for k, v in (msg.headers() or [])], "ts": ts, "tt": tt})
consumer.close()
json.dump(out, open(out_path, "w"))
print(f"{compression}: produced {len(records)}, consumed {len(out)}")
