"""One member of a consumer group (confluent-kafka over librdkafka) that prints what happens
to it as JSON lines on stdout, until SIGTERM (then it closes: commit, leave the group).

usage: confluent_group_member.py <bootstrap> <group> <topic> <name> <assignment.strategy>

Lines: {"event": "assigned"|"revoked"|"lost", "partitions": [..]}  (incremental under
cooperative-sticky: only what changed), {"event": "record", "p": p, "o": o}, {"event": "closed"}.
"""
import json
import signal
import sys

from confluent_kafka import Consumer

bootstrap, group, topic, name, strategy = sys.argv[1:6]
running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)


def say(**kw):
    print(json.dumps(kw), flush=True)


def parts(ps):
    return sorted(p.partition for p in ps)


consumer = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": group,
    "client.id": name,
    "partition.assignment.strategy": strategy,
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 500,
    "auto.offset.reset": "earliest",
    "enable.auto.commit": True,
    "auto.commit.interval.ms": 200,
})
consumer.subscribe(
    [topic],
    on_assign=lambda c, ps: say(event="assigned", partitions=parts(ps)),
    on_revoke=lambda c, ps: say(event="revoked", partitions=parts(ps)),
    on_lost=lambda c, ps: say(event="lost", partitions=parts(ps)),
)
while running:
    m = consumer.poll(0.1)
    if m is None or m.error():
        continue
    say(event="record", p=m.partition(), o=m.offset())
consumer.close()
say(event="closed")
