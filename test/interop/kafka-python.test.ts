// kafka-python (Debian's python3-kafka, run by Debian's python3): produce and consume 10,000 records.
import { join } from 'node:path'
import t from 'tap'
import { Admin } from '../../src/client/admin.ts'
import { APT_HINT, PYTHON, describeRun, inProcessBroker, requireTool, root, run } from './harness.ts'

t.test('kafka-python: produce and consume 10,000 records', async (t) => {
  if (!requireTool(t, 'kafkaPython', APT_HINT)) return
  const broker = await inProcessBroker(t)
  const topic = 'kafka-python'
  const partitions = 4
  const count = 10_000
  const admin = new Admin({ 'bootstrap.servers': broker.address })
  await admin.createTopics([{ topic, numPartitions: partitions, replicationFactor: 1 }])
  await admin.close()

  const r = await run(PYTHON, [join(root, 'test/interop/py/kafka_python_round_trip.py'), broker.address, topic, String(partitions), String(count)], { timeoutMs: 120_000 })
  t.equal(r.code, 0, describeRun('kafka_python_round_trip.py', r))
  if (r.code !== 0) return
  const out = JSON.parse(r.stdout.toString()) as { produced: number; api_version: string; consumed: [number, number, string, string][] }
  t.comment(`kafka-python settled on api_version ${out.api_version}`)
  t.equal(out.produced, count, 'every send acknowledged')
  t.equal(out.consumed.length, count, `consumed ${out.consumed.length} of ${count}`)
  const seen = new Set<number>()
  let wrong = 0
  const next = new Array<number>(partitions).fill(0)
  for (const [p, o, k, v] of out.consumed) {
    const i = Number(v.slice('value-'.length))
    if (p !== i % partitions || k !== `k${i % 113}` || o !== next[p]) wrong++
    next[p] = o + 1
    seen.add(i)
  }
  t.equal(wrong, 0, 'each record in its partition, with its key, at consecutive offsets')
  t.equal(seen.size, count, 'every record once')
})
