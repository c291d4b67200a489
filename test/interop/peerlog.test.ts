// peerlog's own client (in this process) and CLI (the built bundle, dist/peerlog.mjs, as a
// separate process) against a broker in this process: the same round trips as the
// third-party clients.
import t from 'tap'
import { Admin } from '../../src/client/admin.ts'
import { Consumer, type ConsumerRecord } from '../../src/client/consumer.ts'
import { partitionForKey } from '../../src/client/partitioner.ts'
import { Producer, type RecordMetadata } from '../../src/client/producer.ts'
import { cliBundle, describeRun, inProcessBroker, run } from './harness.ts'

const enc = new TextEncoder()
const dec = new TextDecoder()

async function readAll(address: string, topic: string, partitions: number, count: number): Promise<ConsumerRecord[]> {
  const consumer = new Consumer({ 'bootstrap.servers': address, 'auto.offset.reset': 'earliest' })
  try {
    consumer.assign([...Array(partitions).keys()].map((partition) => ({ topic, partition })))
    const out: ConsumerRecord[] = []
    const deadline = Date.now() + 30_000
    while (out.length < count && Date.now() < deadline) out.push(...(await consumer.poll(500)))
    return out
  } finally {
    await consumer.close()
  }
}

t.test("peerlog's client: producer (acks=all, each compression) and an assigned consumer", async (t) => {
  const broker = await inProcessBroker(t)
  const partitions = 4
  const count = 5_000
  for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
    const topic = `client-${codec}`
    const admin = new Admin({ 'bootstrap.servers': broker.address })
    await admin.createTopics([{ topic, numPartitions: partitions, replicationFactor: 1 }])
    await admin.close()
    const producer = new Producer({ 'bootstrap.servers': broker.address, acks: 'all', 'compression.type': codec, 'linger.ms': 5 })
    const sends: Promise<RecordMetadata>[] = []
    for (let i = 0; i < count; i++) {
      sends.push(
        producer.send({
          topic,
          key: i % 10 === 0 ? null : `key-${i % 89}`,
          value: i % 13 === 0 ? null : `value ${i} ${'abc'.repeat(i % 50)}`,
          headers: [{ key: 'seq', value: String(i) }, { key: 'bin', value: Uint8Array.of(i & 255, 0, 255) }],
          timestamp: 1_700_000_000_000 + i,
        }),
      )
    }
    const acked = await Promise.all(sends)
    await producer.close()
    const got = await readAll(broker.address, topic, partitions, count)
    t.equal(got.length, count, `${codec}: consumed ${got.length} of ${count}`)
    const at = new Map(acked.map((m, i) => [`${m.partition}/${m.offset}`, i]))
    const problems: string[] = []
    for (const r of got) {
      const i = at.get(`${r.partition}/${r.offset}`)
      if (i === undefined) {
        problems.push(`no send acknowledged ${r.partition}/${r.offset}`)
        continue
      }
      const key = i % 10 === 0 ? null : `key-${i % 89}`
      const value = i % 13 === 0 ? null : `value ${i} ${'abc'.repeat(i % 50)}`
      if ((r.key === null ? null : dec.decode(r.key)) !== key) problems.push(`${i}: key`)
      if ((r.value === null ? null : dec.decode(r.value)) !== value) problems.push(`${i}: value`)
      if (r.timestamp !== 1_700_000_000_000 + i) problems.push(`${i}: timestamp`)
      if (JSON.stringify(r.headers.map((h) => [h.key, [...(h.value ?? [])]])) !== JSON.stringify([['seq', [...enc.encode(String(i))]], ['bin', [i & 255, 0, 255]]])) problems.push(`${i}: headers`)
      if (key !== null && partitionForKey(enc.encode(key), partitions) !== r.partition) problems.push(`${i}: partition`)
    }
    t.same(problems.slice(0, 10), [], `${codec}: every record at the offset send() resolved to, byte-identical`)
  }
})

t.test('peerlog CLI (the bundle): topics, produce --key-separator, consume', async (t) => {
  const broker = await inProcessBroker(t)
  const bundle = await cliBundle(t)
  const cli = (args: string[], input?: string) => run(process.execPath, [bundle, ...args, '--bootstrap-server', broker.address], { timeoutMs: 60_000, ...(input === undefined ? {} : { input }) })
  const topic = 'cli-orders'
  const partitions = 3

  const created = await cli(['topics', '--create', '--topic', topic, '--partitions', String(partitions), '--replication-factor', '1'])
  t.equal(created.code, 0, describeRun('peerlog topics --create', created))
  const listed = await cli(['topics', '--list'])
  t.match(listed.stdout.toString(), new RegExp(`^${topic}$`, 'm'), 'topics --list')
  const described = await cli(['topics', '--describe', '--topic', topic])
  t.match(described.stdout.toString(), new RegExp(`PartitionCount: ${partitions}`), 'topics --describe')

  const count = 20_000
  const lines = Array.from({ length: count }, (_, i) => `k${i % 101}:${i}`)
  const produced = await cli(['produce', '--topic', topic, '--key-separator', ':'], lines.join('\n') + '\n')
  t.equal(produced.code, 0, describeRun('peerlog produce', produced))

  const consumed = await cli(['consume', '--topic', topic, '--from-beginning', '--max-messages', String(count), '--print-key', '--key-separator', ':'])
  t.equal(consumed.code, 0, describeRun('peerlog consume', consumed))
  const out = consumed.stdout.toString().split('\n').filter((l) => l !== '')
  t.equal(out.length, count, `consume printed ${out.length} of ${count}`)
  const seen = new Set<number>()
  const lastByKey = new Map<string, number>()
  let disorder = 0
  for (const line of out) {
    const [k, v] = line.split(':') as [string, string]
    const i = Number(v)
    if (k !== `k${i % 101}`) disorder++
    if ((lastByKey.get(k) ?? -1) >= i) disorder++
    lastByKey.set(k, i)
    seen.add(i)
  }
  t.equal(seen.size, count, 'every line once')
  t.equal(disorder, 0, 'keys as written, and in order per key (per partition)')

  // One partition by itself: every key there is one murmur2 maps to it.
  const admin = new Admin({ 'bootstrap.servers': broker.address })
  const [end] = await admin.listOffsets([{ topic, partition: 0, spec: 'latest' }])
  await admin.close()
  const n0 = end!.offset
  t.ok(n0 > 0, 'partition 0 has records')
  {
    const p0 = await cli(['consume', '--topic', topic, '--partition', '0', '--offset', '0', '--max-messages', String(n0), '--print-key', '--key-separator', ':'])
    const keys = p0.stdout.toString().split('\n').filter((l) => l !== '').map((l) => l.split(':')[0]!)
    t.equal(keys.length, n0, `partition 0 holds ${n0}`)
    t.ok(keys.every((k) => partitionForKey(enc.encode(k), partitions) === 0), 'and each of its keys is one murmur2 maps to partition 0')
  }
  const wrong = await cli(['consume', '--topic', 'no-such-topic', '--from-beginning', '--max-messages', '1'])
  t.not(wrong.code, 0, 'an unknown topic: non-zero exit')
  t.equal(wrong.stderr.trim().split('\n').length, 1, `one line: ${wrong.stderr.trim()}`)
})
