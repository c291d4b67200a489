import t, { type Test } from 'tap'
import { Consumer } from '../../src/client/consumer.ts'
import { Producer } from '../../src/client/producer.ts'
import { ErrorCode } from '../../src/protocol/kafka/error-codes.ts'
import { ApiKey } from '../../src/protocol/kafka/generated/index.ts'
import { FakeCluster } from './fixtures/fake-broker.ts'

const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b))

async function setup(t: Test, options: Parameters<typeof FakeCluster.start>[0] = {}) {
  const fake = await FakeCluster.start(options)
  t.teardown(() => fake.stop())
  const producer = new Producer({ 'bootstrap.servers': fake.bootstrap, 'linger.ms': 0 })
  t.teardown(() => producer.close())
  const consumer = (config: Record<string, unknown> = {}) => {
    const c = new Consumer({ 'bootstrap.servers': fake.bootstrap, 'fetch.max.wait.ms': 50, 'retry.backoff.ms': 10, ...config } as never)
    t.teardown(() => c.close())
    return c
  }
  return { fake, producer, consumer }
}

async function pollUntil(c: Consumer, n: number, timeoutMs = 5000) {
  const out = []
  const deadline = Date.now() + timeoutMs
  while (out.length < n && Date.now() < deadline) out.push(...(await c.poll(200)))
  return out
}

t.test('assign + earliest: every record back with key, value, headers, timestamp', async (t) => {
  const { fake, producer, consumer } = await setup(t, { brokers: 2 })
  fake.createTopic('t', 2)
  for (let i = 0; i < 20; i++) await producer.send({ topic: 't', partition: i % 2, key: `k${i}`, value: `v${i}`, headers: { i: String(i) }, timestamp: 1000 + i })
  const c = consumer({ 'auto.offset.reset': 'earliest' })
  c.assign([{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }])
  t.same(c.assignment(), [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }])
  const rs = await pollUntil(c, 20)
  t.equal(rs.length, 20)
  for (const p of [0, 1]) {
    const mine = rs.filter((r) => r.partition === p)
    t.same(mine.map((r) => r.offset), Array.from({ length: 10 }, (_, i) => i), `partition ${p} in order`)
  }
  const r = rs.find((x) => text(x.key) === 'k3')!
  t.equal(text(r.value), 'v3')
  t.equal(r.timestamp, 1003)
  t.equal(r.timestampType, 'CreateTime')
  t.same(r.headers.map((h) => [h.key, text(h.value)]), [['i', '3']])
  t.equal(await c.position({ topic: 't', partition: 0 }), 10)
})

t.test('latest by default; poll waits for new records; max.poll.records', async (t) => {
  const { fake, producer, consumer } = await setup(t)
  fake.createTopic('l', 1)
  await producer.send({ topic: 'l', value: 'old' })
  const c = consumer({ 'max.poll.records': 3 })
  c.assign([{ topic: 'l', partition: 0 }])
  t.same(await c.poll(100), [], 'nothing new')
  t.equal(await c.position({ topic: 'l', partition: 0 }), 1)
  setTimeout(() => Promise.all(Array.from({ length: 5 }, (_, i) => producer.send({ topic: 'l', value: `n${i}` }))), 50)
  const first = await c.poll(3000)
  t.ok(first.length >= 1 && first.length <= 3, `at most max.poll.records (${first.length})`)
  const rest = await pollUntil(c, 5 - first.length)
  t.same([...first, ...rest].map((r) => text(r.value)), ['n0', 'n1', 'n2', 'n3', 'n4'])
})

t.test('seek, seekToBeginning, seekToEnd, pause and resume', async (t) => {
  const { fake, producer, consumer } = await setup(t)
  fake.createTopic('s', 2)
  for (let i = 0; i < 10; i++) await producer.send({ topic: 's', partition: 0, value: `a${i}` })
  for (let i = 0; i < 3; i++) await producer.send({ topic: 's', partition: 1, value: `b${i}` })
  const c = consumer()
  const p0 = { topic: 's', partition: 0 }
  const p1 = { topic: 's', partition: 1 }
  c.assign([p0])
  c.seek(p0, 7)
  t.same((await pollUntil(c, 3)).map((r) => r.offset), [7, 8, 9])
  c.seekToBeginning()
  t.equal(await c.position(p0), 0)
  t.equal((await pollUntil(c, 10)).length, 10)
  c.seekToEnd([p0])
  t.equal(await c.position(p0), 10)
  c.assign([p0, p1])
  c.seek(p1, 0)
  c.seek(p0, 0)
  c.pause([p0])
  t.same(c.paused(), [p0])
  const only1 = await pollUntil(c, 3)
  t.same(only1.map((r) => r.partition), [1, 1, 1], 'paused partition not returned')
  c.resume([p0])
  t.same(c.paused(), [])
  t.equal((await pollUntil(c, 10)).filter((r) => r.partition === 0).length, 10)
  t.throws(() => c.seek({ topic: 's', partition: 9 }, 0), /no current assignment for partition s-9/)
  t.throws(() => c.seek(p0, -1), RangeError)
  c.unassign()
  await t.rejects(c.poll(10), /not assigned any partitions/)
})

t.test('offsetsForTimes, beginningOffsets, endOffsets', async (t) => {
  const { fake, producer, consumer } = await setup(t)
  fake.createTopic('o', 1)
  for (let i = 0; i < 5; i++) await producer.send({ topic: 'o', value: `${i}`, timestamp: 1000 * (i + 1) })
  const c = consumer()
  const tp = { topic: 'o', partition: 0 }
  const r = await c.offsetsForTimes([{ ...tp, timestamp: 2500 }])
  t.same(r, [{ ...tp, result: { offset: 2, timestamp: 3000, leaderEpoch: 0 } }])
  t.same((await c.offsetsForTimes([{ ...tp, timestamp: 99999 }]))[0]!.result, null)
  await t.rejects(c.offsetsForTimes([{ ...tp, timestamp: -5 }]), RangeError)
  t.same(await c.beginningOffsets([tp]), [{ ...tp, offset: 0 }])
  t.same(await c.endOffsets([tp]), [{ ...tp, offset: 5 }])
  t.same(await c.partitionsFor('o'), [0])
})

t.test('OFFSET_OUT_OF_RANGE: reset per auto.offset.reset, or an error with none', async (t) => {
  const { fake, producer, consumer } = await setup(t)
  fake.createTopic('r', 1)
  for (let i = 0; i < 5; i++) await producer.send({ topic: 'r', value: `${i}` })
  const tp = { topic: 'r', partition: 0 }
  const early = consumer({ 'auto.offset.reset': 'earliest' })
  early.assign([tp])
  early.seek(tp, 50)
  t.same((await pollUntil(early, 5)).map((r) => r.offset), [0, 1, 2, 3, 4])
  const none = consumer({ 'auto.offset.reset': 'none' })
  none.assign([tp])
  await t.rejects(none.poll(500), { name: 'OFFSET_OUT_OF_RANGE', message: /auto.offset.reset is none/ })
  none.seek(tp, 50)
  let error: unknown
  for (let i = 0; i < 10 && error === undefined; i++) await none.poll(100).catch((e) => (error = e))
  t.match(error, { name: 'OFFSET_OUT_OF_RANGE', message: /fetch position 50 is out of range/ })
})

t.test('fetch errors: leadership moves are followed, other errors surface from poll', async (t) => {
  const { fake, producer, consumer } = await setup(t, { brokers: 2 })
  fake.createTopic('f', 1)
  for (let i = 0; i < 3; i++) await producer.send({ topic: 'f', value: `${i}` })
  const c = consumer({ 'auto.offset.reset': 'earliest' })
  const tp = { topic: 'f', partition: 0 }
  c.assign([tp])
  t.equal((await pollUntil(c, 3)).length, 3)
  fake.moveLeader('f', 0, 1)
  await producer.send({ topic: 'f', value: 'after move' })
  const moved = await pollUntil(c, 1)
  t.same(moved.map((r) => text(r.value)), ['after move'])
  fake.faults.push({ api: ApiKey.Fetch, action: { disconnect: true } })
  await producer.send({ topic: 'f', value: 'after disconnect' })
  t.same((await pollUntil(c, 1)).map((r) => text(r.value)), ['after disconnect'])
  fake.faults.push({ api: ApiKey.Fetch, action: { error: ErrorCode.TOPIC_AUTHORIZATION_FAILED } })
  let error: unknown
  for (let i = 0; i < 10 && error === undefined; i++) await c.poll(100).catch((e) => (error = e))
  t.match(error, { name: 'TOPIC_AUTHORIZATION_FAILED' })
  await c.close()
  t.throws(() => c.assign([tp]), /closed/)
})
