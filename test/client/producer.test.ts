import t, { type Test } from 'tap'
import { Producer } from '../../src/client/producer.ts'
import { partitionForKey } from '../../src/client/partitioner.ts'
import { ErrorCode } from '../../src/protocol/kafka/error-codes.ts'
import { ApiKey } from '../../src/protocol/kafka/generated/index.ts'
import { decodeRecordBatch } from '../../src/record/record-batch.ts'
import { Compression } from '../../src/record/compression/index.ts'
import { RecordingLogger } from '../../src/runtime/logger.ts'
import { FakeCluster } from './fixtures/fake-broker.ts'

const utf8 = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b))

async function setup(t: Test, options: Parameters<typeof FakeCluster.start>[0] = {}) {
  const fake = await FakeCluster.start(options)
  t.teardown(() => fake.stop())
  const make = (config: Record<string, unknown> = {}) => {
    const p = new Producer({ 'bootstrap.servers': fake.bootstrap, 'retry.backoff.ms': 10, 'retry.backoff.max.ms': 20, ...config } as never)
    t.teardown(() => p.close({ timeoutMs: 100 }))
    return p
  }
  return { fake, make }
}

t.test('send resolves to topic, partition, offset, timestamp; records land as sent', async (t) => {
  const { fake, make } = await setup(t)
  fake.createTopic('t', 1)
  const p = make({ 'linger.ms': 0 })
  const m = await p.send({ topic: 't', key: 'k', value: 'v', headers: { h: 'x', n: null }, timestamp: 1234 })
  t.same(m, { topic: 't', partition: 0, offset: 0, timestamp: 1234 })
  const m2 = await p.send({ topic: 't', value: utf8('second'), headers: [{ key: 'a', value: 'b' }, { key: 'a', value: 'c' }] })
  t.equal(m2.offset, 1)
  t.ok(Math.abs(m2.timestamp - Date.now()) < 5000, 'create time defaults to now')
  const batches = fake.topics.get('t')!.partitions[0]!.batches.map((b) => decodeRecordBatch(b.bytes))
  const r0 = batches[0]!.records[0]!
  t.equal(text(r0.key), 'k')
  t.equal(text(r0.value), 'v')
  t.same(r0.headers.map((h) => [h.key, text(h.value)]), [['h', 'x'], ['n', null]])
  t.equal(r0.timestamp, 1234)
  t.same(batches[1]!.records[0]!.headers.map((h) => [h.key, text(h.value)]), [['a', 'b'], ['a', 'c']])
  t.equal(batches[1]!.records[0]!.key, null)
})

t.test('keys go where Kafka puts them; explicit partitions win; bad partitions fail', async (t) => {
  const { fake, make } = await setup(t, { brokers: 2 })
  fake.createTopic('k6', 6)
  const p = make({ 'linger.ms': 1 })
  const keys = ['21', 'foobar', 'a', 'b', 'c', 'user-17']
  const ms = await Promise.all(keys.map((key) => p.send({ topic: 'k6', key, value: key })))
  for (let i = 0; i < keys.length; i++) t.equal(ms[i]!.partition, partitionForKey(utf8(keys[i]!), 6), keys[i])
  t.equal((await p.send({ topic: 'k6', key: '21', partition: 5, value: 'x' })).partition, 5)
  await t.rejects(p.send({ topic: 'k6', partition: 6, value: 'x' }), /invalid partition 6 for topic k6: it has partitions 0-5/)
  const ignore = make({ 'partitioner.ignore.keys': true, 'linger.ms': 0 })
  const a = await ignore.send({ topic: 'k6', key: '21', value: '1' })
  const b = await ignore.send({ topic: 'k6', key: 'foobar', value: '2' })
  t.ok(a.partition >= 0 && b.partition >= 0, 'keys ignored: sticky partitioning')
  t.same(await p.partitionsFor('k6').then((x) => x.map((y) => y.leader)), [0, 1, 0, 1, 0, 1])
})

t.test('batching: linger.ms gathers records into one batch per partition; batch.size splits', async (t) => {
  const { fake, make } = await setup(t)
  fake.createTopic('b', 1)
  const p = make({ 'linger.ms': 50 })
  await p.partitionsFor('b')
  const before = fake.count(ApiKey.Produce)
  const ms = await Promise.all(Array.from({ length: 100 }, (_, i) => p.send({ topic: 'b', value: `v${i}` })))
  t.same(ms.map((m) => m.offset), Array.from({ length: 100 }, (_, i) => i), 'offsets in send order')
  t.equal(fake.count(ApiKey.Produce) - before, 1, 'one request')
  t.equal(fake.topics.get('b')!.partitions[0]!.batches.length, 1, 'one batch')
  const small = make({ 'linger.ms': 1000, 'batch.size': 200 })
  const t0 = Date.now()
  await Promise.all(Array.from({ length: 20 }, (_, i) => small.send({ topic: 'b', partition: 0, value: `x${i}`.padEnd(30) })))
  const batches = fake.topics.get('b')!.partitions[0]!.batches.slice(1)
  t.ok(batches.length > 2 && batches.every((b) => b.bytes.length <= 200 + 61), `batch.size splits (${batches.length} batches)`)
  t.ok(batches.length >= 1, 'last batch waited for linger.ms or flush')
  t.ok(Date.now() - t0 >= 900, 'the last, partial batch lingered')
  // flush() sends without waiting for linger.ms
  const slow = make({ 'linger.ms': 60000 })
  const pending = slow.send({ topic: 'b', value: 'flushed' })
  await slow.flush()
  t.ok((await pending).offset > 0)
})

t.test('sticky partitioning: keyless records fill a batch on one partition, then move', async (t) => {
  const { fake, make } = await setup(t)
  fake.createTopic('s', 4)
  const p = make({ 'linger.ms': 1000, 'batch.size': 1000 })
  await p.partitionsFor('s')
  const ms = await Promise.all(Array.from({ length: 60 }, (_, i) => p.send({ topic: 's', value: `value-${i}`.padEnd(50) })))
  const runs: number[] = []
  for (const m of ms) if (runs[runs.length - 1] !== m.partition) runs.push(m.partition)
  t.ok(runs.length >= 3, `moved between partitions (${runs.join(',')})`)
  for (let i = 1; i < runs.length; i++) t.not(runs[i], runs[i - 1])
  for (const part of fake.topics.get('s')!.partitions) for (const b of part.batches) t.ok(b.bytes.length <= 1000 + 61)
})

t.test('every compression codec', async (t) => {
  const { fake, make } = await setup(t)
  fake.createTopic('c', 1)
  for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const) {
    const p = make({ 'compression.type': codec, 'linger.ms': 0 })
    const m = await p.send({ topic: 'c', key: codec, value: 'x'.repeat(500) })
    const batch = fake.topics.get('c')!.partitions[0]!.batches.find((b) => b.baseOffset === m.offset)!
    const decoded = decodeRecordBatch(batch.bytes)
    t.equal(decoded.compression, Compression[codec], codec)
    t.equal(text(decoded.records[0]!.value), 'x'.repeat(500))
  }
  const lvl = make({ 'compression.type': 'gzip', 'compression.gzip.level': 9, 'linger.ms': 0 })
  t.ok((await lvl.send({ topic: 'c', value: 'y' })).offset >= 5)
})

t.test('acks=0 resolves without an answer (offset -1); acks=1', async (t) => {
  const { fake, make } = await setup(t)
  fake.createTopic('a', 1)
  const p0 = make({ acks: 0, 'linger.ms': 0 })
  const m = await p0.send({ topic: 'a', value: 'x', timestamp: 7 })
  t.same(m, { topic: 'a', partition: 0, offset: -1, timestamp: 7 })
  const p1 = make({ acks: '1', 'linger.ms': 0 })
  t.equal((await p1.send({ topic: 'a', value: 'y' })).offset, 1)
})

t.test('retries: NOT_LEADER_OR_FOLLOWER refreshes metadata and goes to the new leader', async (t) => {
  const { fake, make } = await setup(t, { brokers: 2 })
  fake.createTopic('r', 1)
  const p = make({ 'linger.ms': 0 })
  await p.send({ topic: 'r', value: 'first' })
  fake.moveLeader('r', 0, 1)
  const m = await p.send({ topic: 'r', value: 'moved' })
  t.equal(m.offset, 1)
  const produces = fake.requests.filter((r) => r.api === ApiKey.Produce).map((r) => r.nodeId)
  t.same(produces, [0, 0, 1], 'tried the old leader, then the new one')
})

t.test('retries: retriable errors, disconnects and request timeouts are retried', async (t) => {
  const { fake, make } = await setup(t)
  fake.createTopic('r', 1)
  const p = make({ 'linger.ms': 0, 'request.timeout.ms': 300 })
  await p.partitionsFor('r')
  fake.faults.push({ api: ApiKey.Produce, times: 2, action: { error: ErrorCode.NOT_ENOUGH_REPLICAS } })
  t.equal((await p.send({ topic: 'r', value: 'a' })).offset, 0)
  fake.faults.push({ api: ApiKey.Produce, action: { disconnect: true } })
  t.equal((await p.send({ topic: 'r', value: 'b' })).offset, 1)
  fake.faults.push({ api: ApiKey.Produce, action: { noResponse: true } })
  t.equal((await p.send({ topic: 'r', value: 'c' })).offset, 2)
  t.equal(fake.count(ApiKey.Produce), 7)
})

t.test('a non-retriable error fails the send; retries=0 gives up at once', async (t) => {
  const { fake, make } = await setup(t)
  fake.createTopic('e', 1)
  const p = make({ 'linger.ms': 0 })
  await p.partitionsFor('e')
  fake.faults.push({ api: ApiKey.Produce, action: { error: ErrorCode.INVALID_RECORD } })
  await t.rejects(p.send({ topic: 'e', value: 'a' }), { name: 'INVALID_RECORD', code: ErrorCode.INVALID_RECORD, retriable: false })
  const none = make({ 'linger.ms': 0, retries: 0 })
  await none.partitionsFor('e')
  fake.faults.push({ api: ApiKey.Produce, action: { error: ErrorCode.NOT_ENOUGH_REPLICAS } })
  await t.rejects(none.send({ topic: 'e', value: 'b' }), { name: 'NOT_ENOUGH_REPLICAS', retriable: true })
})

t.test('delivery.timeout.ms bounds retries', async (t) => {
  const { fake, make } = await setup(t)
  fake.createTopic('d', 1)
  const p = make({ 'linger.ms': 0, 'request.timeout.ms': 100, 'delivery.timeout.ms': 300 })
  await p.partitionsFor('d')
  fake.faults.push({ api: ApiKey.Produce, times: 1000, action: { error: ErrorCode.NOT_ENOUGH_REPLICAS } })
  const t0 = Date.now()
  await t.rejects(p.send({ topic: 'd', value: 'a' }), { name: 'REQUEST_TIMED_OUT', message: /delivery.timeout.ms 300\)/ })
  t.ok(Date.now() - t0 < 1000)
  fake.faults.length = 0
  // a batch that cannot be sent at all (no leader) expires with REQUEST_TIMED_OUT
  fake.moveLeader('d', 0, 5)
  await t.rejects(p.send({ topic: 'd', value: 'b' }), { name: 'REQUEST_TIMED_OUT', message: /delivery.timeout.ms/ })
})

t.test('unknown topics: auto-created, or max.block.ms; invalid topics fail at once', async (t) => {
  const { fake, make } = await setup(t, { autoCreate: false })
  const p = make({ 'linger.ms': 0, 'max.block.ms': 200 })
  await t.rejects(p.send({ topic: 'nope', value: 'x' }), { name: 'REQUEST_TIMED_OUT', message: /not present in metadata after 200 ms/ })
  setTimeout(() => fake.createTopic('later', 1), 50)
  const p2 = make({ 'linger.ms': 0, 'max.block.ms': 2000 })
  t.equal((await p2.send({ topic: 'later', value: 'x' })).offset, 0, 'waits for the topic to appear')
  const auto = await setup(t, { autoCreate: true, numPartitions: 3 })
  const p3 = auto.make({ 'linger.ms': 0 })
  const ordered = await Promise.all([p3.send({ topic: 'fresh', partition: 2, value: '1' }), p3.send({ topic: 'fresh', partition: 2, value: '2' })])
  t.same(ordered.map((m) => m.offset), [0, 1], 'sends waiting for metadata keep their order')
  t.equal(auto.fake.topics.get('fresh')!.partitions.length, 3)
})

t.test('max.request.size, buffer.memory, close', async (t) => {
  const { fake, make } = await setup(t)
  fake.createTopic('m', 1)
  const p = make({ 'max.request.size': 1000, 'linger.ms': 0 })
  await t.rejects(p.send({ topic: 'm', value: 'x'.repeat(2000) }), { name: 'MESSAGE_TOO_LARGE' })
  const tight = make({ 'buffer.memory': 300, 'linger.ms': 50, 'max.block.ms': 2000 })
  await tight.partitionsFor('m')
  const ms = await Promise.all(Array.from({ length: 10 }, (_, i) => tight.send({ topic: 'm', value: `${i}`.padEnd(100) })))
  t.equal(ms.length, 10, 'sends waited for room')
  const blocked = make({ 'buffer.memory': 300, 'linger.ms': 5000, 'max.block.ms': 100, 'delivery.timeout.ms': 40000 })
  await blocked.partitionsFor('m')
  const first = blocked.send({ topic: 'm', value: 'a'.repeat(250) })
  await t.rejects(blocked.send({ topic: 'm', value: 'b'.repeat(250) }), /buffer.memory \(300\) is full/)
  await blocked.close()
  t.ok((await first).offset >= 0, 'close flushes')
  await t.rejects(blocked.send({ topic: 'm', value: 'late' }), /the producer is closed/)
  await blocked.close()
  const stuck = make({ 'linger.ms': 0 })
  await stuck.partitionsFor('m')
  fake.moveLeader('m', 0, 9)
  const lost = stuck.send({ topic: 'm', value: 'never' })
  await stuck.close({ timeoutMs: 100 })
  await t.rejects(lost, /the producer closed before m-0 was delivered/)
})

t.test('max.in.flight.requests.per.connection=1 keeps order across retries; unknown configs warn', async (t) => {
  const { fake } = await setup(t)
  fake.createTopic('o', 1)
  const logger = new RecordingLogger()
  const p = new Producer({ 'bootstrap.servers': fake.bootstrap, 'max.in.flight.requests.per.connection': 1, 'linger.ms': 0, 'batch.size': 100, 'retry.backoff.ms': 5, 'no.such': 1 }, { logger })
  t.teardown(() => p.close())
  t.match(logger.text(), /'no.such' was supplied but isn't a known producer config/)
  await p.partitionsFor('o')
  fake.faults.push({ api: ApiKey.Produce, times: 1, action: { error: ErrorCode.NOT_ENOUGH_REPLICAS } })
  const ms = await Promise.all(Array.from({ length: 10 }, (_, i) => p.send({ topic: 'o', value: `${i}`.padEnd(60) })))
  t.same(ms.map((m) => m.offset), Array.from({ length: 10 }, (_, i) => i))
})
