// The group consumer against the real broker (startBroker): subscribe, rebalances with each
// assignor, the listener, commits, poll timeouts, static membership, independent groups.
import t, { type Test } from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Admin } from '../../src/client/admin.ts'
import { Consumer, type ConsumerRecord, type TopicPartition } from '../../src/client/consumer.ts'
import { Producer } from '../../src/client/producer.ts'
import { startBroker } from '../../src/broker/start-broker.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'peerlog-group-'))
const broker = await startBroker({
  dataDir,
  port: 0,
  config: { 'group.initial.rebalance.delay.ms': 0, 'offsets.topic.num.partitions': 3, 'group.min.session.timeout.ms': 500 },
})
t.teardown(async () => {
  await broker.stop()
  rmSync(dataDir, { recursive: true, force: true })
})
const bootstrap = broker.address
const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b))
const tpName = (p: TopicPartition) => `${p.topic}-${p.partition}`

let topicSeq = 0
async function topic(t: Test, partitions: number, records = 0): Promise<string> {
  const name = `grp-${++topicSeq}`
  const admin = new Admin({ 'bootstrap.servers': bootstrap })
  await admin.createTopics([{ topic: name, numPartitions: partitions }])
  await admin.close()
  if (records > 0) await produce(t, name, partitions, 0, records)
  return name
}

/** `count` records, spread over the partitions in turn, values `v<start+i>`. */
async function produce(t: Test, name: string, partitions: number, start: number, count: number): Promise<void> {
  const producer = new Producer({ 'bootstrap.servers': bootstrap, 'linger.ms': 1 })
  await Promise.all(Array.from({ length: count }, (_, i) => producer.send({ topic: name, partition: (start + i) % partitions, value: `v${start + i}` })))
  await producer.close()
}

let groupSeq = 0
const newGroup = () => `group-${++groupSeq}`

interface Member {
  c: Consumer
  records: ConsumerRecord[]
  calls: string[]
  assigned: () => string[]
}

function member(t: Test, group: string, config: Record<string, unknown> = {}): Member {
  const c = new Consumer({
    'bootstrap.servers': bootstrap,
    'group.id': group,
    'auto.offset.reset': 'earliest',
    'fetch.max.wait.ms': 50,
    'heartbeat.interval.ms': 100,
    'session.timeout.ms': 6000,
    'retry.backoff.ms': 20,
    ...config,
  } as never)
  t.teardown(() => c.close(2000))
  const m: Member = { c, records: [], calls: [], assigned: () => c.assignment().map(tpName).sort() }
  return m
}

function subscribe(m: Member, topics: string[] | RegExp): void {
  m.c.subscribe(topics, {
    onPartitionsAssigned: (tps) => void m.calls.push(`assigned ${tps.map(tpName).join(',')}`),
    onPartitionsRevoked: (tps) => void m.calls.push(`revoked ${tps.map(tpName).join(',')}`),
    onPartitionsLost: (tps) => void m.calls.push(`lost ${tps.map(tpName).join(',')}`),
  })
}

/** Polls every member concurrently until `done()` holds (checked between polls) or `timeoutMs` passes. */
async function pollAll(members: Member[], done: () => boolean, timeoutMs = 20000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  let finished = false
  await Promise.all(
    members.map(async (m) => {
      while (!finished && Date.now() < deadline) {
        m.records.push(...(await m.c.poll(50)))
        if (done()) finished = true
      }
    }),
  )
  return finished
}

const sizes = (ms: Member[]) => ms.map((m) => m.c.assignment().length)
const allAssigned = (ms: Member[], n: number) => ms.reduce((a, m) => a + m.c.assignment().length, 0) === n && new Set(ms.flatMap((m) => m.assigned())).size === n

for (const strategy of ['range', 'roundrobin'] as const) {
  t.test(`${strategy}: two members split six partitions 3/3, a third makes it 2/2/2, one closes and the others take over`, async (t) => {
    const name = await topic(t, 6, 60)
    const group = newGroup()
    const a = member(t, group, { 'partition.assignment.strategy': strategy })
    const b = member(t, group, { 'partition.assignment.strategy': strategy })
    subscribe(a, [name])
    subscribe(b, [name])
    t.ok(await pollAll([a, b], () => allAssigned([a, b], 6) && sizes([a, b]).every((n) => n === 3)), 'split 3/3')
    t.same(sizes([a, b]), [3, 3])
    const aHad = a.assigned()
    const aCalls = a.calls.length
    const c = member(t, group, { 'partition.assignment.strategy': strategy })
    subscribe(c, [name])
    t.ok(await pollAll([a, b, c], () => allAssigned([a, b, c], 6) && sizes([a, b, c]).every((n) => n === 2)), 'split 2/2/2')
    t.same(sizes([a, b, c]), [2, 2, 2])
    t.same(a.calls.slice(aCalls, aCalls + 1), [`revoked ${aHad.join(',')}`], 'eager: a first gave up everything it had')
    t.same(a.calls[a.calls.length - 1], `assigned ${a.assigned().join(',')}`, 'then got its new partitions')
    await c.c.close()
    t.ok(await pollAll([a, b], () => allAssigned([a, b], 6)), 'the others take over')
    t.same(sizes([a, b]), [3, 3])
    // Every record was read by somebody; eager rebalances may re-read some (auto-commit every 5 s).
    const values = new Set([...a.records, ...b.records, ...c.records].map((r) => text(r.value)))
    t.ok(await pollAll([a, b], () => new Set([...a.records, ...b.records, ...c.records].map((r) => text(r.value))).size === 60), 'every record read')
    t.ok(values.size <= 60)
  })
}

t.test('cooperative-sticky: a joining member takes partitions without the owner revoking the rest', async (t) => {
  const name = await topic(t, 6, 30)
  const group = newGroup()
  const config = { 'partition.assignment.strategy': 'cooperative-sticky' }
  const a = member(t, group, config)
  subscribe(a, [name])
  t.ok(await pollAll([a], () => a.c.assignment().length === 6), 'the first member owns all six')
  const before = a.assigned()
  const b = member(t, group, config)
  subscribe(b, [name])
  t.ok(await pollAll([a, b], () => allAssigned([a, b], 6) && sizes([a, b]).every((n) => n === 3)), 'split 3/3')
  const revokedCalls = a.calls.filter((c) => c.startsWith('revoked') && c !== 'revoked ')
  t.equal(revokedCalls.length, 1, `one revocation: ${a.calls.join(' | ')}`)
  const revoked = revokedCalls[0]!.slice('revoked '.length).split(',')
  t.equal(revoked.length, 3, 'only the three partitions that moved')
  t.same([...revoked].sort(), b.assigned(), 'what a revoked is what b got')
  t.same(a.assigned(), before.filter((p) => !revoked.includes(p)), 'a kept the rest')
  t.notOk(a.calls.some((c) => c.startsWith('lost')), 'nothing lost')
  t.notOk(b.calls.some((c) => c.startsWith('revoked') && c !== 'revoked '), 'b revoked nothing')
})

t.test('commitSync: a new member of the group resumes right after the committed offsets', async (t) => {
  const name = await topic(t, 3, 90)
  const group = newGroup()
  const a = member(t, group, { 'enable.auto.commit': false, 'max.poll.records': 7 })
  subscribe(a, [name])
  t.ok(await pollAll([a], () => a.records.length >= 40), 'a read some')
  await a.c.commitSync()
  const committed = await a.c.committed([0, 1, 2].map((partition) => ({ topic: name, partition })))
  for (const p of [0, 1, 2]) {
    const mine = a.records.filter((r) => r.partition === p)
    // A partition nothing was read from yet commits its starting position (0), if it had one.
    const expected = mine.length === 0 ? [undefined, 0] : [mine[mine.length - 1]!.offset + 1]
    t.ok(expected.includes(committed[p]!.committed?.offset), `partition ${p}: committed the position`)
  }
  await a.c.close()
  const b = member(t, group, { 'enable.auto.commit': false })
  subscribe(b, [name])
  t.ok(await pollAll([b], () => a.records.length + b.records.length >= 90), 'b read the rest')
  const values = [...a.records, ...b.records].map((r) => text(r.value))
  t.equal(values.length, 90, 'no duplicates')
  t.equal(new Set(values).size, 90, 'no loss')
})

t.test('auto-commit: offsets committed on the interval and on close; the next member resumes exactly', async (t) => {
  const name = await topic(t, 2, 50)
  const group = newGroup()
  const a = member(t, group, { 'auto.commit.interval.ms': 100, 'max.poll.records': 2 })
  subscribe(a, [name])
  t.ok(await pollAll([a], () => a.records.length >= 10), 'a read some')
  const onInterval = await a.c.committed([{ topic: name, partition: 0 }])
  // The interval commit is async: wait until it landed.
  let landed = onInterval[0]!.committed !== null
  for (let i = 0; i < 50 && !landed; i++) {
    a.records.push(...(await a.c.poll(20)))
    landed = (await a.c.committed([{ topic: name, partition: 0 }]))[0]!.committed !== null
  }
  t.ok(landed, 'committed on the interval')
  await a.c.close()
  const b = member(t, group)
  subscribe(b, [name])
  t.ok(await pollAll([b], () => a.records.length + b.records.length >= 50), 'b read the rest')
  const values = [...a.records, ...b.records].map((r) => text(r.value))
  t.equal(values.length, 50, 'no duplicates')
  t.equal(new Set(values).size, 50, 'no loss')
})

t.test('commitAsync: many quick commits land in order, the last one wins', async (t) => {
  const name = await topic(t, 1, 0)
  const group = newGroup()
  const a = member(t, group, { 'enable.auto.commit': false })
  const tp = { topic: name, partition: 0 }
  a.c.assign([tp])
  const order: number[] = []
  const errors: unknown[] = []
  let done = 0
  const n = 200
  await new Promise<void>((resolve) => {
    for (let i = 1; i <= n; i++) {
      a.c.commitAsync([{ ...tp, offset: i }], (error, offsets) => {
        if (error) errors.push(error)
        order.push(offsets[0]!.offset)
        if (++done === n) resolve()
      })
    }
  })
  t.same(errors, [])
  t.same(order, Array.from({ length: n }, (_, i) => i + 1), 'callbacks in the order of the calls')
  t.equal((await a.c.committed([tp]))[0]!.committed?.offset, n, 'the newest commit is the one kept')
  await a.c.commitSync([{ ...tp, offset: 7, metadata: 'seven' }])
  t.same((await a.c.committed([tp]))[0]!.committed, { offset: 7, leaderEpoch: -1, metadata: 'seven' })
})

t.test('max.poll.interval.ms exceeded: the member leaves, the other takes over, the late one rejoins on its next poll', async (t) => {
  const name = await topic(t, 4, 0)
  const group = newGroup()
  const config = { 'max.poll.interval.ms': 1500, 'partition.assignment.strategy': 'range' }
  const a = member(t, group, config)
  const b = member(t, group, config)
  subscribe(a, [name])
  subscribe(b, [name])
  t.ok(await pollAll([a, b], () => allAssigned([a, b], 4) && sizes([a, b]).every((n) => n === 2)), 'split 2/2')
  const aHad = a.assigned()
  // a stops polling; b goes on.
  t.ok(await pollAll([b], () => b.c.assignment().length === 4, 10000), 'b takes over all four')
  t.equal(a.c.groupMetadata().generationId, -1, 'a left the group')
  t.ok(await pollAll([a, b], () => allAssigned([a, b], 4) && sizes([a, b]).every((n) => n === 2)), 'a rejoins on its next poll')
  t.ok(a.calls.includes(`lost ${aHad.join(',')}`) || a.calls.includes(`lost ${[...aHad].sort().join(',')}`), `a's partitions were lost, not revoked: ${a.calls.join(' | ')}`)
})

t.test('static membership: a restarted member gets its partitions back, the others see no rebalance', async (t) => {
  const name = await topic(t, 6, 0)
  const group = newGroup()
  const config = { 'partition.assignment.strategy': 'range', 'session.timeout.ms': 10000 }
  const a = member(t, group, { ...config, 'group.instance.id': 'instance-a' })
  subscribe(a, [name])
  t.ok(await pollAll([a], () => a.c.assignment().length === 6), 'a alone, the leader')
  const b = member(t, group, { ...config, 'group.instance.id': 'instance-b' })
  subscribe(b, [name])
  t.ok(await pollAll([a, b], () => allAssigned([a, b], 6) && sizes([a, b]).every((n) => n === 3)), 'split 3/3')
  const bHad = b.assigned()
  const aCalls = a.calls.length
  const aGeneration = a.c.groupMetadata().generationId
  await b.c.close()
  const b2 = member(t, group, { ...config, 'group.instance.id': 'instance-b' })
  subscribe(b2, [name])
  t.ok(await pollAll([a, b2], () => b2.c.assignment().length === 3), 'the restarted member is assigned')
  t.same(b2.assigned(), bHad, 'the same partitions as before the restart')
  await pollAll([a, b2], () => false, 500)
  t.same(a.calls.slice(aCalls), [], 'a saw no revocation')
  t.equal(a.c.groupMetadata().generationId, aGeneration, 'no new generation')
})

t.test('a consumer in another group reads every record too', async (t) => {
  const name = await topic(t, 3, 45)
  const a = member(t, newGroup())
  const b = member(t, newGroup())
  subscribe(a, [name])
  subscribe(b, [name])
  t.ok(await pollAll([a, b], () => a.records.length >= 45 && b.records.length >= 45))
  t.equal(new Set(a.records.map((r) => text(r.value))).size, 45)
  t.equal(new Set(b.records.map((r) => text(r.value))).size, 45)
})

t.test('a pattern subscription follows the topics that match it', async (t) => {
  const first = await topic(t, 2, 4)
  const group = newGroup()
  const a = member(t, group, { 'metadata.max.age.ms': 200 })
  const re = new RegExp(`^${first.replace(/\d+$/, '')}(${first.match(/\d+$/)![0]}|${Number(first.match(/\d+$/)![0]) + 1})$`)
  subscribe(a, re)
  t.ok(await pollAll([a], () => a.c.assignment().length === 2), 'the matching topic is assigned')
  const second = await topic(t, 1, 3)
  t.ok(re.test(second))
  t.ok(await pollAll([a], () => a.c.assignment().length === 3 && a.records.length >= 7), 'a new matching topic joins the assignment')
  t.same(a.c.subscription(), [first, second].sort())
})

t.test('unsubscribe gives the partitions back to the group', async (t) => {
  const name = await topic(t, 2, 0)
  const group = newGroup()
  const a = member(t, group)
  const b = member(t, group)
  subscribe(a, [name])
  subscribe(b, [name])
  t.ok(await pollAll([a, b], () => allAssigned([a, b], 2) && sizes([a, b]).every((n) => n === 1)))
  await a.c.unsubscribe()
  t.same(a.c.assignment(), [])
  t.ok(a.calls[a.calls.length - 1]!.startsWith('revoked '), 'revoked on unsubscribe')
  t.ok(await pollAll([b], () => b.c.assignment().length === 2), 'b takes both')
  await t.rejects(a.c.poll(10), /not assigned any partitions nor subscribed/)
})

t.test('a second member with the same group.instance.id fences the first', async (t) => {
  const name = await topic(t, 1, 0)
  const group = newGroup()
  const a = member(t, group, { 'group.instance.id': 'same' })
  subscribe(a, [name])
  t.ok(await pollAll([a], () => a.c.assignment().length === 1))
  const b = member(t, group, { 'group.instance.id': 'same' })
  subscribe(b, [name])
  t.ok(await pollAll([b], () => b.c.assignment().length === 1), 'the new instance takes over')
  let error: unknown
  for (let i = 0; i < 100 && error === undefined; i++) await a.c.poll(50).catch((e) => (error = e))
  t.match(error, { name: 'FENCED_INSTANCE_ID' })
  await t.rejects(a.c.poll(10), { name: 'FENCED_INSTANCE_ID' }, 'and stays fenced')
})

t.test('misuse: subscribe without group.id, mixing assign and subscribe', async (t) => {
  const name = await topic(t, 1, 0)
  const plain = new Consumer({ 'bootstrap.servers': bootstrap })
  t.teardown(() => plain.close())
  t.throws(() => plain.subscribe([name]), { name: 'INVALID_GROUP_ID', message: /group.id/ })
  await t.rejects(plain.commitSync([{ topic: name, partition: 0, offset: 1 }]), { name: 'INVALID_GROUP_ID' })
  const a = member(t, newGroup())
  a.c.assign([{ topic: name, partition: 0 }])
  t.throws(() => a.c.subscribe([name]), /mutually exclusive/)
  const b = member(t, newGroup())
  b.c.subscribe([name])
  t.throws(() => b.c.assign([{ topic: name, partition: 0 }]), /mutually exclusive/)
})

t.test('heartbeats go on between polls: a member busy for longer than session.timeout.ms stays in the group', async (t) => {
  const name = await topic(t, 2, 0)
  const group = newGroup()
  const config = { 'session.timeout.ms': 800, 'heartbeat.interval.ms': 100, 'max.poll.interval.ms': 30000 }
  const a = member(t, group, config)
  const b = member(t, group, config)
  subscribe(a, [name])
  subscribe(b, [name])
  t.ok(await pollAll([a, b], () => allAssigned([a, b], 2) && sizes([a, b]).every((n) => n === 1)))
  const generation = a.c.groupMetadata().generationId
  await pollAll([b], () => false, 2500)
  t.equal(b.c.assignment().length, 1, 'b did not get a\'s partition')
  t.equal(a.c.groupMetadata().generationId, generation, 'a is still in its generation')
  t.same(a.calls.filter((c) => c.startsWith('lost') || c.startsWith('revoked')), [])
})

t.test('auto-commit before an eager revocation: the next owner of a partition starts after what was consumed', async (t) => {
  const name = await topic(t, 2, 40)
  const group = newGroup()
  const config = { 'auto.commit.interval.ms': 600000, 'partition.assignment.strategy': 'range' }
  const a = member(t, group, config)
  subscribe(a, [name])
  t.ok(await pollAll([a], () => a.records.length >= 40), 'a read everything')
  const b = member(t, group, config)
  subscribe(b, [name])
  t.ok(await pollAll([a, b], () => allAssigned([a, b], 2) && sizes([a, b]).every((n) => n === 1)))
  await produce(t, name, 2, 40, 10)
  t.ok(await pollAll([a, b], () => a.records.length + b.records.length >= 50))
  await pollAll([a, b], () => false, 300)
  const values = [...a.records, ...b.records].map((r) => text(r.value))
  t.equal(values.length, 50, 'nothing read twice')
  t.equal(new Set(values).size, 50)
})

t.test('per-partition commit errors name the partition; errors of the listener come out of poll', async (t) => {
  const name = await topic(t, 1, 0)
  const group = newGroup()
  const a = member(t, group, { 'enable.auto.commit': false })
  const tp = { topic: name, partition: 0 }
  a.c.assign([tp])
  await t.rejects(a.c.commitSync([{ ...tp, offset: 1, metadata: 'x'.repeat(5000) }]), { name: 'OFFSET_METADATA_TOO_LARGE', message: new RegExp(`partition ${name}-0 at offset 1`) })
  const b = member(t, newGroup())
  b.c.subscribe([name], {
    onPartitionsAssigned: () => {
      throw new Error('listener failed')
    },
  })
  let error: unknown
  for (let i = 0; i < 100 && error === undefined; i++) await b.c.poll(50).catch((e) => (error = e))
  t.match(error, { message: 'listener failed' })
  t.same(b.c.assignment(), [tp], 'the assignment took effect all the same')
})

t.test('auto.offset.reset=none and no committed offset: poll fails naming the partition (NoOffsetForPartition)', async (t) => {
  const name = await topic(t, 1, 3)
  const a = member(t, newGroup(), { 'auto.offset.reset': 'none' })
  subscribe(a, [name])
  let error: unknown
  for (let i = 0; i < 100 && error === undefined; i++) await a.c.poll(50).catch((e) => (error = e))
  t.match(error, { name: 'OFFSET_OUT_OF_RANGE', message: new RegExp(`NoOffsetForPartition.*${name}-0`) })
})

t.test('assign() with a group.id starts at the committed offset', async (t) => {
  const name = await topic(t, 1, 10)
  const group = newGroup()
  const tp = { topic: name, partition: 0 }
  const a = member(t, group, { 'enable.auto.commit': false })
  a.c.assign([tp])
  await a.c.commitSync([{ ...tp, offset: 6 }])
  const b = member(t, group)
  b.c.assign([tp])
  t.equal(await b.c.position(tp), 6)
  t.ok(await pollAll([b], () => b.records.length >= 4))
  t.same(b.records.map((r) => r.offset), [6, 7, 8, 9])
})

t.test('close() is bounded even when the listener never returns', async (t) => {
  const name = await topic(t, 1, 0)
  const a = member(t, newGroup())
  let revoking = false
  a.c.subscribe([name], {
    onPartitionsRevoked: () => {
      revoking = true
      return new Promise<void>(() => {})
    },
  })
  t.ok(await pollAll([a], () => a.c.assignment().length === 1))
  await a.c.close(300)
  t.ok(revoking, 'the listener was called')
  await t.rejects(a.c.poll(10), /closed/)
})
