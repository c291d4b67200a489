// kafka-python (Debian's python3-kafka) in a consumer group: one process reads part of a topic
// and commits; a second process in the same group resumes exactly after the committed offsets.
import { join } from 'node:path'
import t from 'tap'
import { Admin } from '../../src/client/admin.ts'
import { Producer } from '../../src/client/producer.ts'
import { APT_HINT, PYTHON, describeRun, inProcessBroker, requireTool, root, run } from './harness.ts'

t.test('kafka-python: a group consumer commits; the next process in the group resumes exactly after the committed offsets', async (t) => {
  if (!requireTool(t, 'kafkaPython', APT_HINT)) return
  const broker = await inProcessBroker(t, { 'group.initial.rebalance.delay.ms': 0, 'offsets.topic.num.partitions': 3 })
  const topic = 'kp-group'
  const partitions = 3
  const count = 3000
  const admin = new Admin({ 'bootstrap.servers': broker.address })
  await admin.createTopics([{ topic, numPartitions: partitions }])
  await admin.close()
  const producer = new Producer({ 'bootstrap.servers': broker.address, 'linger.ms': 5 })
  await Promise.all(Array.from({ length: count }, (_, i) => producer.send({ topic, partition: i % partitions, value: `v${i}` })))
  await producer.close()

  const script = join(root, 'test/interop/py/kafka_python_group.py')
  const read = async (limit: number) => {
    const r = await run(PYTHON, [script, broker.address, 'kp-g', topic, String(limit)], { timeoutMs: 90_000 })
    t.equal(r.code, 0, describeRun('kafka_python_group.py', r))
    return JSON.parse(r.stdout.toString()) as { consumed: [number, number, string][]; committed: Record<string, number | null> }
  }
  const first = await read(1000)
  t.equal(first.consumed.length, 1000, 'the first process read 1,000 records')
  const next = [0, 0, 0]
  for (const [p, o] of first.consumed) next[p] = Math.max(next[p]!, o + 1)
  t.same(first.committed, { 0: next[0], 1: next[1], 2: next[2] }, 'and committed the offset after the last record it read in each partition')

  const second = await read(count)
  const firstAt = second.consumed.reduce<Record<number, number>>((acc, [p, o]) => ((acc[p] ??= o), acc), {})
  // (A partition the first process read to its end has nothing left for the second.)
  const expected = Object.fromEntries(next.map((o, p) => [p, o]).filter(([, o]) => o! < count / partitions))
  t.same(firstAt, expected, 'the second process started exactly at the committed offsets')
  const all = new Set([...first.consumed, ...second.consumed].map(([, , v]) => v))
  t.equal(first.consumed.length + second.consumed.length, count, 'no record read twice')
  t.equal(all.size, count, 'every record read once')
  t.same(second.committed, { 0: count / partitions, 1: count / partitions, 2: count / partitions }, 'the group ends committed at the log end')
})
