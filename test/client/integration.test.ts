// peerlog's client against the real broker (startBroker): produce/consume round trips with
// keys, headers and timestamps in every codec, and the admin operations.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Admin } from '../../src/client/admin.ts'
import { Consumer } from '../../src/client/consumer.ts'
import { Producer } from '../../src/client/producer.ts'
import { partitionForKey } from '../../src/client/partitioner.ts'
import { startBroker } from '../../src/broker/start-broker.ts'

const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b))
const utf8 = (s: string) => new TextEncoder().encode(s)

const dataDir = mkdtempSync(join(tmpdir(), 'peerlog-client-'))
const broker = await startBroker({ dataDir, port: 0 })
t.teardown(async () => {
  await broker.stop()
  rmSync(dataDir, { recursive: true, force: true })
})
const bootstrap = broker.address

t.test('admin: create, list, describe, create partitions, configs, offsets, delete records, delete', async (t) => {
  const admin = new Admin({ 'bootstrap.servers': bootstrap })
  t.teardown(() => admin.close())
  await admin.createTopics([{ topic: 'adm', numPartitions: 2, replicationFactor: 1, configs: { 'retention.ms': '86400000' } }])
  t.ok((await admin.listTopics()).includes('adm'))
  const [d] = await admin.describeTopics(['adm'])
  t.equal(d!.partitions.length, 2)
  t.ok(d!.partitions.every((p) => p.leader === broker.nodeId))
  await t.rejects(admin.createTopics([{ topic: 'adm', numPartitions: 1 }]), { name: 'TOPIC_ALREADY_EXISTS' })
  await admin.createPartitions([{ topic: 'adm', count: 3 }])
  t.equal((await admin.describeTopics(['adm']))[0]!.partitions.length, 3)
  const [cfg] = await admin.describeConfigs([{ type: 'topic', name: 'adm' }])
  t.equal(cfg!.configs.find((c) => c.name === 'retention.ms')?.value, '86400000')
  await admin.alterConfigs([{ type: 'topic', name: 'adm', configs: { 'retention.ms': '3600000' } }])
  const [cfg2] = await admin.describeConfigs([{ type: 'topic', name: 'adm', keys: ['retention.ms'] }])
  t.equal(cfg2!.configs.find((c) => c.name === 'retention.ms')?.value, '3600000')
  const producer = new Producer({ 'bootstrap.servers': bootstrap, 'linger.ms': 0 })
  t.teardown(() => producer.close())
  for (let i = 0; i < 5; i++) await producer.send({ topic: 'adm', partition: 0, value: `${i}`, timestamp: 1000 * (i + 1) })
  const offs = await admin.listOffsets([
    { topic: 'adm', partition: 0, spec: 'earliest' },
    { topic: 'adm', partition: 0, spec: 'latest' },
    { topic: 'adm', partition: 0, spec: { timestamp: 2500 } },
  ])
  t.same(offs.map((o) => o.offset), [0, 5, 2])
  const [low] = await admin.deleteRecords([{ topic: 'adm', partition: 0, offset: 3 }])
  t.equal(low!.lowWatermark, 3)
  t.equal((await admin.listOffsets([{ topic: 'adm', partition: 0, spec: 'earliest' }]))[0]!.offset, 3)
  await admin.deleteTopics(['adm'])
  t.notOk((await admin.listTopics()).includes('adm'))
  const cluster = await admin.describeCluster()
  t.equal(cluster.brokers.length, 1)
})

for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const) {
  t.test(`round trip with ${codec}: keys, headers, timestamps, per-partition order`, async (t) => {
    const topic = `rt-${codec}`
    const admin = new Admin({ 'bootstrap.servers': bootstrap })
    t.teardown(() => admin.close())
    await admin.createTopics([{ topic, numPartitions: 3 }])
    const producer = new Producer({ 'bootstrap.servers': bootstrap, 'compression.type': codec, 'linger.ms': 5, acks: 'all' })
    t.teardown(() => producer.close())
    const n = 300
    const sent = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        producer.send({ topic, key: i % 7 === 0 ? null : `key-${i % 20}`, value: `value-${i}`.repeat(3), headers: [{ key: 'i', value: String(i) }, { key: 'codec', value: codec }], timestamp: 1_700_000_000_000 + i }),
      ),
    )
    for (let i = 0; i < n; i++) {
      if (i % 7 !== 0) t.equal(sent[i]!.partition, partitionForKey(utf8(`key-${i % 20}`), 3))
    }
    const consumer = new Consumer({ 'bootstrap.servers': bootstrap, 'auto.offset.reset': 'earliest', 'fetch.max.wait.ms': 100 })
    t.teardown(() => consumer.close())
    consumer.assign([0, 1, 2].map((partition) => ({ topic, partition })))
    const got = []
    const deadline = Date.now() + 10000
    while (got.length < n && Date.now() < deadline) got.push(...(await consumer.poll(500)))
    t.equal(got.length, n, 'every record back')
    for (const p of [0, 1, 2]) {
      const offsets = got.filter((r) => r.partition === p).map((r) => r.offset)
      t.same(offsets, Array.from({ length: offsets.length }, (_, i) => i), `partition ${p}: in order, no gaps`)
    }
    for (const r of got) {
      const i = Number(text(r.headers[0]!.value))
      const s = sent[i]!
      t.equal(r.partition, s.partition)
      t.equal(r.offset, s.offset)
      t.equal(text(r.value), `value-${i}`.repeat(3))
      t.equal(text(r.key), i % 7 === 0 ? null : `key-${i % 20}`)
      t.equal(r.timestamp, 1_700_000_000_000 + i)
      t.equal(text(r.headers[1]!.value), codec)
    }
  })
}

t.test('consumer against the broker: seek, offsetsForTimes, end offsets, out of range reset', async (t) => {
  const producer = new Producer({ 'bootstrap.servers': bootstrap, 'linger.ms': 0 })
  t.teardown(() => producer.close())
  for (let i = 0; i < 10; i++) await producer.send({ topic: 'cons', partition: 0, value: `${i}`, timestamp: 5000 + i * 10 })
  const c = new Consumer({ 'bootstrap.servers': bootstrap, 'auto.offset.reset': 'earliest', 'fetch.max.wait.ms': 100 })
  t.teardown(() => c.close())
  const tp = { topic: 'cons', partition: 0 }
  t.same((await c.offsetsForTimes([{ ...tp, timestamp: 5035 }]))[0]!.result?.offset, 4)
  t.same(await c.endOffsets([tp]), [{ ...tp, offset: 10 }])
  c.assign([tp])
  c.seek(tp, 8)
  const rs = []
  while (rs.length < 2) rs.push(...(await c.poll(1000)))
  t.same(rs.map((r) => text(r.value)), ['8', '9'])
  c.seek(tp, 1000)
  const again = []
  const deadline = Date.now() + 5000
  while (again.length < 10 && Date.now() < deadline) again.push(...(await c.poll(500)))
  t.equal(again[0]?.offset, 0, 'out of range: reset to earliest')
})
