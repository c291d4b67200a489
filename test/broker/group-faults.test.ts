// Consumer groups under faults and bad input, against the real broker: members that die or go
// quiet mid-rebalance, a broker restart mid-rebalance, and requests a confused client sends.
// After a fault the group converges (Stable, every partition owned once); after bad input the
// sender gets Kafka's error code and the group's other members go on untouched.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { Admin } from '../../src/client/admin.ts'
import { Consumer } from '../../src/client/consumer.ts'
import { encodeSubscription } from '../../src/client/consumer-protocol.ts'
import type { TopicPartition } from '../../src/client/list-offsets.ts'
import { type RunningBroker, startBroker } from '../../src/broker/start-broker.ts'
import { ErrorCode, errorName } from '../../src/protocol/kafka/error-codes.ts'
import { ApiKey } from '../../src/protocol/kafka/generated/index.ts'
import { RecordingLogger } from '../../src/runtime/logger.ts'
import { describeGroup, findCoordinator, type MemberOptions, ProtocolMember, waitConverged } from './group-protocol-member.ts'
import { TestClient } from './kafka-test-client.ts'

const config = { 'group.initial.rebalance.delay.ms': 0, 'offsets.topic.num.partitions': 3, 'group.min.session.timeout.ms': 500 }
/** How long a group may take to converge after a fault (session timeouts here are 1–2 s). */
const CONVERGE_BOUND_MS = 10_000
/** How long the healthy members are watched after bad input. */
const WATCH_MS = 600
/** Kafka's offset.metadata.max.bytes default. */
const OFFSET_METADATA_MAX_BYTES = 4096
/** Above `__consumer_offsets`' max.message.bytes (message.max.bytes, 1048588 by default). */
const OVERSIZED_METADATA_BYTES = 1_100_000

/** A valid subscription whose user data makes it too large to store in `__consumer_offsets`. */
const oversizedProtocols = (topic: string) => [
  { name: 'range', metadata: encodeSubscription({ topics: [topic], userData: new Uint8Array(OVERSIZED_METADATA_BYTES).fill(7), ownedPartitions: [], generationId: -1, rackId: null }) },
]
const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms))
/** Waits (bounded) until `check()` holds; whether it did. */
async function eventually(check: () => boolean, boundMs = CONVERGE_BOUND_MS): Promise<boolean> {
  const deadline = Date.now() + boundMs
  while (!check() && Date.now() < deadline) await sleep(20)
  return check()
}
const names = (codes: ReadonlyMap<string, number>) => new Map([...codes].map(([k, v]) => [k, errorName(v)]))

const dataDir = mkdtempSync(join(tmpdir(), 'peerlog-group-faults-'))
const logger = new RecordingLogger()
const broker = await startBroker({ dataDir, port: 0, config, logger })
t.teardown(async () => {
  await broker.stop()
  rmSync(dataDir, { recursive: true, force: true })
})
const observer = await TestClient.connect(broker.port)
t.teardown(() => observer.close())

let seq = 0
/** A fresh group and a fresh topic of `count` partitions. */
async function fixture(address: string, count = 6): Promise<{ group: string; topic: string; partitions: TopicPartition[] }> {
  const n = ++seq
  const topic = `faults-${n}`
  const admin = new Admin({ 'bootstrap.servers': address })
  try {
    await admin.createTopics([{ topic, numPartitions: count }])
  } finally {
    await admin.close()
  }
  return { group: `faults-group-${n}`, topic, partitions: Array.from({ length: count }, (_, partition) => ({ topic, partition })) }
}

async function member(t: Test, group: string, partitions: TopicPartition[], options: Omit<MemberOptions, 'partitions'> = {}, port = broker.port): Promise<ProtocolMember> {
  const m = await ProtocolMember.connect(port, group, { partitions, ...options })
  t.teardown(() => m.kill())
  return m
}

/** Every member follows; resolves once the group is Stable with exactly them and every partition owned once. */
async function formGroup(t: Test, group: string, partitions: TopicPartition[], members: ProtocolMember[]): Promise<void> {
  for (const m of members) m.follow()
  const { problem } = await waitConverged(observer, group, partitions, { members: () => members.map((m) => m.memberId), boundMs: CONVERGE_BOUND_MS })
  if (problem !== null) throw new Error(`the group did not form: ${problem}`)
  // The members themselves have all been through the generation the group settled on.
  t.ok(await eventually(() => members.every((m) => m.syncedGeneration === members[0]!.generationId && m.generationId === members[0]!.generationId)), 'every member synced the same generation')
}

/**
 * The members were not disturbed from their logs' `marks` on: they keep heartbeating with no
 * error for WATCH_MS, stay in `generation`, and can still commit their partitions.
 */
async function assertUndisturbed(t: Test, members: ProtocolMember[], marks: number[], generation: number): Promise<void> {
  await sleep(WATCH_MS)
  members.forEach((m, i) => {
    t.same(m.errorsSince(marks[i]!), [], `member ${i}: no error since the bad input`)
    t.ok(m.log.slice(marks[i]!).filter((e) => e.op === 'heartbeat').length >= 2, `member ${i}: kept heartbeating`)
    t.equal(m.generationId, generation, `member ${i}: still in generation ${generation}`)
  })
  for (const [i, m] of members.entries()) t.ok(await m.commitOwned(i + 1), `member ${i}: its commit succeeds`)
}

/**
 * Waits until the group is converged on exactly these consumers and each consumer holds what
 * DescribeGroups says it was assigned; null, or what was still wrong at the end of the bound.
 */
async function consumersConverged(group: string, partitions: TopicPartition[], consumers: Consumer[], client = observer): Promise<string | null> {
  const deadline = Date.now() + CONVERGE_BOUND_MS
  const key = (tps: TopicPartition[]) => tps.map((tp) => `${tp.topic}-${tp.partition}`).sort().join(',')
  for (;;) {
    const { problem, group: g } = await waitConverged(client, group, partitions, { members: () => consumers.map((c) => c.groupMetadata().memberId), boundMs: Math.max(0, deadline - Date.now()) })
    const mismatch =
      problem ??
      consumers
        .map((c) => {
          const described = g.members.find((m) => m.memberId === c.groupMetadata().memberId)
          return described && key(described.partitions) === key(c.assignment()) ? null : `${c.groupMetadata().memberId} holds [${key(c.assignment())}], the group gave it [${key(described?.partitions ?? [])}]`
        })
        .find((p) => p !== null) ??
      null
    if (mismatch === null || Date.now() >= deadline) return mismatch
    await sleep(50)
  }
}

t.afterEach(() => {
  const errors = logger.lines.filter((l) => l.level === 'error')
  if (errors.length > 0) t.fail(`the broker logged errors:\n${errors.map((l) => l.message).join('\n')}`)
  logger.lines.length = 0
})

t.test('a member killed after JoinGroup, before SyncGroup: the others converge without it', async (t) => {
  const { group, partitions } = await fixture(broker.address)
  const a = await member(t, group, partitions)
  const b = await member(t, group, partitions)
  await formGroup(t, group, partitions, [a, b])
  const c = await member(t, group, partitions, { sessionTimeoutMs: 1000, rebalanceTimeoutMs: 1000 })
  t.equal(await c.join(), ErrorCode.NONE, 'the newcomer joins the next generation')
  t.notOk(c.isLeader, 'as a follower')
  const killedIn = c.generationId
  c.kill()
  const { problem, group: g } = await waitConverged(observer, group, partitions, { members: () => [a.memberId, b.memberId], boundMs: CONVERGE_BOUND_MS })
  t.equal(problem, null, 'Stable, without the killed member, every partition owned once')
  t.ok(await eventually(() => a.syncedGeneration > killedIn && b.syncedGeneration === a.syncedGeneration), 'in a generation after the one the member was killed in')
  t.same(g.members.map((m) => m.partitions.length).sort(), [3, 3], 'three partitions each')
})

t.test('the leader killed after JoinGroup, before its SyncGroup: the followers converge without it', async (t) => {
  const { group, partitions } = await fixture(broker.address)
  const leader = await member(t, group, partitions, { sessionTimeoutMs: 1000, rebalanceTimeoutMs: 1000 })
  t.equal(await leader.join(), ErrorCode.NONE)
  t.equal(await leader.sync(), ErrorCode.NONE)
  t.ok(leader.isLeader)
  const a = await member(t, group, partitions)
  const b = await member(t, group, partitions)
  a.follow()
  b.follow()
  // The leader hears of the rebalance and joins it, as the leader again.
  let heard = false
  for (let i = 0; i < 50 && !heard; i++) {
    heard = (await leader.heartbeat()) === ErrorCode.REBALANCE_IN_PROGRESS
    if (!heard) await sleep(50)
  }
  t.ok(heard, 'the leader is told to rejoin')
  t.equal(await leader.join(), ErrorCode.NONE)
  t.ok(leader.isLeader, 'it leads the new generation')
  leader.kill()
  const { problem } = await waitConverged(observer, group, partitions, { members: () => [a.memberId, b.memberId], boundMs: CONVERGE_BOUND_MS })
  t.equal(problem, null, 'Stable, led by a follower of before, every partition owned once')
  t.ok(a.isLeader || b.isLeader, 'one of the others leads')
})

t.test('a member that stops heartbeating is removed after its session timeout; the others converge', async (t) => {
  const { group, partitions } = await fixture(broker.address)
  const a = await member(t, group, partitions)
  const b = await member(t, group, partitions)
  const c = await member(t, group, partitions, { sessionTimeoutMs: 1000 })
  await formGroup(t, group, partitions, [a, b, c])
  const before = a.generationId
  c.silence()
  const { problem } = await waitConverged(observer, group, partitions, { members: () => [a.memberId, b.memberId], boundMs: CONVERGE_BOUND_MS })
  t.equal(problem, null, 'Stable with the two that heartbeat, every partition owned once')
  t.ok(await eventually(() => a.syncedGeneration > before), 'a new generation')
  t.same(a.errorsSince(0, ['sync', 'commit', 'leave']), [], 'no sync failed along the way')
})

t.test('a consumer that exceeds max.poll.interval.ms leaves; the others converge', async (t) => {
  const { group, topic, partitions } = await fixture(broker.address)
  const consumers = [0, 1, 2].map(() => {
    const c = new Consumer({
      'bootstrap.servers': broker.address,
      'group.id': group,
      'max.poll.interval.ms': 1500,
      'session.timeout.ms': 6000,
      'heartbeat.interval.ms': 100,
      'retry.backoff.ms': 20,
      'fetch.max.wait.ms': 50,
      'partition.assignment.strategy': 'range',
    })
    t.teardown(() => c.close(2000))
    c.subscribe([topic])
    return c
  })
  const ids = (cs: Consumer[]) => cs.map((c) => c.groupMetadata().memberId)
  /** Polls `polling` until the group (as DescribeGroups shows it) has converged on `expected`. */
  const converge = async (polling: Consumer[], expected: Consumer[]) => {
    let result: Awaited<ReturnType<typeof waitConverged>> | null = null
    let done = false
    await Promise.all([
      ...polling.map(async (c) => {
        const deadline = Date.now() + CONVERGE_BOUND_MS
        while (!done && Date.now() < deadline) await c.poll(50)
      }),
      (async () => {
        result = await waitConverged(observer, group, partitions, { members: () => ids(expected), boundMs: CONVERGE_BOUND_MS })
        done = true
      })(),
    ])
    return result!
  }
  t.equal((await converge(consumers, consumers)).problem, null, 'three consumers, two partitions each')
  const [a, b, late] = consumers as [Consumer, Consumer, Consumer]
  const lateId = late.groupMetadata().memberId
  // `late` stops polling; its heartbeats go on but it leaves once max.poll.interval.ms has passed.
  const { problem, group: g } = await converge([a, b], [a, b])
  t.equal(problem, null, 'Stable with the two that poll, every partition owned once')
  t.notOk(g.members.some((m) => m.memberId === lateId), 'the late consumer is gone')
  t.same(g.members.map((m) => m.partitions.length).sort(), [3, 3])
  t.equal(late.groupMetadata().generationId, -1, 'and knows it left')
})

for (const [pending, hold] of [['PreparingRebalance', 'rejoin'], ['CompletingRebalance', 'sync']] as const) {
  t.test(`a broker restart mid-rebalance (${pending}): the consumers find the coordinator again and the group converges`, async (t) => {
    const dir = t.testdir()
    let node: RunningBroker = await startBroker({ dataDir: dir, port: 0, config })
    t.teardown(() => node.stop())
    const port = node.port
    const { group, topic, partitions } = await fixture(node.address)
    let client = await TestClient.connect(port)
    t.teardown(() => client.close())
    await findCoordinator(client, group)
    // A member that will hold the next rebalance open. Here first, it leads the group.
    const holder = await member(t, group, partitions, { sessionTimeoutMs: 1500, rebalanceTimeoutMs: 30_000 }, port)
    holder.follow()
    t.equal((await waitConverged(client, group, partitions, { members: () => [holder.memberId], boundMs: CONVERGE_BOUND_MS })).problem, null, 'the holder leads')

    const consumers = [0, 1].map(() => {
      const c = new Consumer({
        'bootstrap.servers': node.address,
        'group.id': group,
        'session.timeout.ms': 3000,
        'heartbeat.interval.ms': 100,
        'max.poll.interval.ms': 10_000,
        'retry.backoff.ms': 20,
        'reconnect.backoff.ms': 20,
        'fetch.max.wait.ms': 50,
        // As the holder, which offers only range.
        'partition.assignment.strategy': 'range',
      })
      t.teardown(() => c.close(2000))
      c.subscribe([topic])
      return c
    })
    // Every consumer polls in the background for the whole test (bounded), as an application does.
    const errors: string[] = []
    let polling = true
    const pollers = consumers.map(async (c) => {
      const deadline = Date.now() + 4 * CONVERGE_BOUND_MS
      while (polling && Date.now() < deadline) await c.poll(50).catch((e: Error) => void errors.push(`${e.name}: ${e.message}`))
    })
    t.teardown(async () => {
      polling = false
      await Promise.all(pollers)
    })
    const ids = () => consumers.map((c) => c.groupMetadata().memberId)
    t.equal((await waitConverged(client, group, partitions, { members: () => [...ids(), holder.memberId], boundMs: CONVERGE_BOUND_MS })).problem, null, 'three members')
    t.ok(holder.isLeader, 'the holder still leads')

    holder.holdRebalance(hold)
    consumers[0]!.enforceRebalance('the test starts a rebalance')
    let state = ''
    for (let i = 0; i < 100 && state !== pending; i++) {
      state = (await describeGroup(client, group)).state
      if (state !== pending) await sleep(50)
    }
    t.equal(state, pending, 'a rebalance is pending')

    await node.stop()
    node = await startBroker({ dataDir: dir, port, config })
    client.close()
    client = await TestClient.connect(port)
    await findCoordinator(client, group)
    t.equal(await consumersConverged(group, partitions, consumers, client), null, 'Stable with the two consumers, every partition owned once, as they see it too')
    t.same(errors, [], 'poll() threw nothing')
  })
}

t.test('a stale generation: ILLEGAL_GENERATION on Heartbeat, SyncGroup and OffsetCommit; the others go on', async (t) => {
  const { group, partitions } = await fixture(broker.address)
  const a = await member(t, group, partitions)
  const b = await member(t, group, partitions)
  await formGroup(t, group, partitions, [a, b])
  const generation = a.generationId
  const marks = [a.log.length, b.log.length]
  // b's member id on another connection, a generation the group has moved past.
  const stale = await member(t, group, partitions)
  stale.memberId = b.memberId
  stale.generationId = generation - 1
  t.equal(errorName(await stale.heartbeat()), 'ILLEGAL_GENERATION')
  t.equal(errorName(await stale.sync()), 'ILLEGAL_GENERATION')
  t.same(names(await stale.commit([{ ...partitions[0]!, offset: 5 }])), new Map([[`${partitions[0]!.topic}-0`, 'ILLEGAL_GENERATION']]))
  // A generation the group has not reached yet is just as wrong.
  stale.generationId = generation + 1
  t.equal(errorName(await stale.heartbeat()), 'ILLEGAL_GENERATION')
  await assertUndisturbed(t, [a, b], marks, generation)
})

t.test('an unknown member: UNKNOWN_MEMBER_ID on every request; the others go on', async (t) => {
  const { group, partitions } = await fixture(broker.address)
  const a = await member(t, group, partitions)
  const b = await member(t, group, partitions)
  await formGroup(t, group, partitions, [a, b])
  const generation = a.generationId
  const marks = [a.log.length, b.log.length]
  const ghost = await member(t, group, partitions)
  ghost.memberId = 'ghost-00000000-0000-0000-0000-000000000000'
  ghost.generationId = generation
  t.equal(errorName(await ghost.heartbeat()), 'UNKNOWN_MEMBER_ID')
  t.equal(errorName(await ghost.sync()), 'UNKNOWN_MEMBER_ID')
  t.same(names(await ghost.commit([{ ...partitions[0]!, offset: 5 }])), new Map([[`${partitions[0]!.topic}-0`, 'UNKNOWN_MEMBER_ID']]))
  t.equal(errorName(await ghost.join()), 'UNKNOWN_MEMBER_ID', 'JoinGroup with an id the group never gave')
  t.equal(errorName(await ghost.leave()), 'UNKNOWN_MEMBER_ID', 'LeaveGroup names the member unknown')
  // Outside the group's management (no member id, no generation) a group with members takes no commits.
  ghost.memberId = ''
  ghost.generationId = -1
  t.same(names(await ghost.commit([{ ...partitions[1]!, offset: 5 }])), new Map([[`${partitions[1]!.topic}-1`, 'UNKNOWN_MEMBER_ID']]))
  await assertUndisturbed(t, [a, b], marks, generation)
})

t.test('a mismatched protocol: INCONSISTENT_GROUP_PROTOCOL for the newcomer; the others go on', async (t) => {
  const { group, partitions } = await fixture(broker.address)
  const a = await member(t, group, partitions)
  const b = await member(t, group, partitions)
  await formGroup(t, group, partitions, [a, b])
  const generation = a.generationId
  const marks = [a.log.length, b.log.length]
  const connect = await member(t, group, partitions, { protocolType: 'connect', protocols: [{ name: 'default', metadata: new Uint8Array([0, 1]) }] })
  t.equal(errorName(await connect.join()), 'INCONSISTENT_GROUP_PROTOCOL', 'another protocol type')
  t.equal(connect.memberId, '', 'and no member id')
  const otherAssignor = await member(t, group, partitions, { protocols: [{ name: 'no-such-assignor', metadata: new Uint8Array([0, 1]) }] })
  t.equal(errorName(await otherAssignor.join()), 'INCONSISTENT_GROUP_PROTOCOL', 'the same type, no protocol in common')
  await assertUndisturbed(t, [a, b], marks, generation)
  t.equal((await describeGroup(observer, group)).protocolType, 'consumer')
})

t.test("a static member's old id after it was replaced: FENCED_INSTANCE_ID; the others go on", async (t) => {
  const { group, partitions } = await fixture(broker.address)
  const a = await member(t, group, partitions)
  a.follow()
  const { problem } = await waitConverged(observer, group, partitions, { members: () => [a.memberId], boundMs: CONVERGE_BOUND_MS })
  t.equal(problem, null, 'a leads')
  const old = await member(t, group, partitions, { groupInstanceId: 'instance-s' })
  old.follow()
  t.equal((await waitConverged(observer, group, partitions, { members: () => [a.memberId, old.memberId], boundMs: CONVERGE_BOUND_MS })).problem, null, 'a static member joins')
  t.ok(await eventually(() => old.syncedGeneration === a.generationId && a.syncedGeneration === a.generationId), 'both synced the generation')
  const generation = a.generationId
  const had = old.assignment
  old.silence()
  const marks = [a.log.length]
  // The instance restarts with no member id: it takes the old one's place, with no rebalance.
  const replacement = await member(t, group, partitions, { groupInstanceId: 'instance-s' })
  t.equal(await replacement.join(), ErrorCode.NONE)
  t.not(replacement.memberId, old.memberId, 'a new member id')
  t.equal(replacement.generationId, generation, 'the same generation')
  t.equal(await replacement.sync(), ErrorCode.NONE)
  t.same(replacement.assignment, had, "the old one's partitions")
  replacement.follow()
  t.equal(errorName(await old.heartbeat()), 'FENCED_INSTANCE_ID')
  t.equal(errorName(await old.sync()), 'FENCED_INSTANCE_ID')
  t.same(names(await old.commit([{ ...partitions[0]!, offset: 5 }])), new Map([[`${partitions[0]!.topic}-0`, 'FENCED_INSTANCE_ID']]))
  t.equal(errorName(await old.join()), 'FENCED_INSTANCE_ID')
  await assertUndisturbed(t, [a, replacement], [marks[0]!, 0], generation)
  t.equal((await waitConverged(observer, group, partitions, { members: () => [a.memberId, replacement.memberId], boundMs: CONVERGE_BOUND_MS })).problem, null, 'the group has the replacement in the old one\'s place')
})

t.test('oversized member metadata: SyncGroup fails with UNKNOWN_SERVER_ERROR, and once the member leaves the others form a healthy generation', async (t) => {
  const { group, topic, partitions } = await fixture(broker.address)
  const a = await member(t, group, partitions)
  const b = await member(t, group, partitions)
  await formGroup(t, group, partitions, [a, b])
  const before = a.generationId
  // The group's GroupMetadataValue would carry this subscription: it cannot fit `__consumer_offsets`.
  const big = await member(t, group, partitions, { sessionTimeoutMs: 2000, protocols: oversizedProtocols(topic) })
  t.equal(await big.join(), ErrorCode.NONE, 'JoinGroup takes it (Kafka checks the size only when it stores the group)')
  const failedIn = big.generationId
  t.ok(failedIn > before)
  const synced = errorName(await big.sync())
  t.ok(['UNKNOWN_SERVER_ERROR', 'REBALANCE_IN_PROGRESS'].includes(synced), `its SyncGroup fails (${synced})`)
  // The leader's SyncGroup of that generation got Kafka's answer to a record too large to store.
  const syncs = [a, b].flatMap((m) => m.log.filter((e) => e.op === 'sync' && e.generationId === failedIn).map((e) => errorName(e.errorCode)))
  t.ok(syncs.includes('UNKNOWN_SERVER_ERROR'), `the leader's SyncGroup: UNKNOWN_SERVER_ERROR (${syncs.join(', ')})`)
  t.same(syncs.filter((s) => s !== 'UNKNOWN_SERVER_ERROR' && s !== 'REBALANCE_IN_PROGRESS'), [], 'no other error for the members')
  t.equal(errorName(await big.leave()), 'NONE', 'the offending member leaves')
  const { problem } = await waitConverged(observer, group, partitions, { members: () => [a.memberId, b.memberId], boundMs: CONVERGE_BOUND_MS })
  t.equal(problem, null, 'Stable with the two others, every partition owned once')
  const unexpected = [a, b].flatMap((m) => m.errorsSince(0)).filter((e) => !/REBALANCE_IN_PROGRESS|UNKNOWN_SERVER_ERROR|MEMBER_ID_REQUIRED/.test(e))
  t.same(unexpected, [], 'the others saw only the rebalance and the failed store')
  await eventually(() => a.syncedGeneration === a.generationId && b.syncedGeneration === a.generationId)
  t.ok(a.generationId > failedIn, `the healthy generation (${a.generationId}) comes after the one that failed (${failedIn}): generations only grow`)
  const generation = a.generationId
  await assertUndisturbed(t, [a, b], [a.log.length, b.log.length], generation)
})

t.test('oversized member metadata: peerlog consumers in the group see the failed rebalance and go on once the member leaves', async (t) => {
  const { group, topic, partitions } = await fixture(broker.address)
  const consumers = [0, 1].map(() => {
    const c = new Consumer({
      'bootstrap.servers': broker.address,
      'group.id': group,
      'session.timeout.ms': 3000,
      'heartbeat.interval.ms': 100,
      'retry.backoff.ms': 20,
      'fetch.max.wait.ms': 50,
      'partition.assignment.strategy': 'range',
    })
    t.teardown(() => c.close(2000))
    c.subscribe([topic])
    return c
  })
  const errors: string[] = []
  let polling = true
  const pollers = consumers.map(async (c) => {
    const deadline = Date.now() + 3 * CONVERGE_BOUND_MS
    while (polling && Date.now() < deadline) await c.poll(50).catch((e: Error) => void errors.push(`${e.name}: ${e.message}`))
  })
  t.teardown(async () => {
    polling = false
    await Promise.all(pollers)
  })
  const ids = () => consumers.map((c) => c.groupMetadata().memberId)
  t.equal((await waitConverged(observer, group, partitions, { members: ids, boundMs: CONVERGE_BOUND_MS })).problem, null, 'two consumers')
  const big = await member(t, group, partitions, { sessionTimeoutMs: 2000, protocols: oversizedProtocols(topic) })
  t.equal(await big.join(), ErrorCode.NONE)
  t.ok(['UNKNOWN_SERVER_ERROR', 'REBALANCE_IN_PROGRESS'].includes(errorName(await big.sync())), 'its SyncGroup fails')
  t.equal(errorName(await big.leave()), 'NONE', 'the offending member leaves')
  t.equal(await consumersConverged(group, partitions, consumers), null, 'Stable with the two consumers, every partition owned once, as they see it too')
  // Kafka's consumers surface the failed SyncGroup once (an unexpected error), then rejoin.
  t.same(errors.filter((e) => !/^UNKNOWN_SERVER_ERROR: SyncGroup failed/.test(e)), [], 'poll() threw nothing else')
})

t.test('commits for unknown topics and partitions: UNKNOWN_TOPIC_OR_PARTITION for those only, the rest committed', async (t) => {
  const { group, topic, partitions } = await fixture(broker.address, 2)
  const a = await member(t, group, partitions)
  const b = await member(t, group, partitions)
  await formGroup(t, group, partitions, [a, b])
  const generation = a.generationId
  const marks = [a.log.length, b.log.length]
  const r = await a.commit([
    { topic, partition: 0, offset: 10 },
    { topic: 'no-such-topic', partition: 0, offset: 11 },
    { topic, partition: 1, offset: 12 },
    { topic, partition: 7, offset: 13 },
  ])
  t.same(
    names(r),
    new Map([
      [`${topic}-0`, 'NONE'],
      ['no-such-topic-0', 'UNKNOWN_TOPIC_OR_PARTITION'],
      [`${topic}-1`, 'NONE'],
      [`${topic}-7`, 'UNKNOWN_TOPIC_OR_PARTITION'],
    ]),
  )
  const fetched = await observer.request(ApiKey.OffsetFetch, 5, { groupId: group, topics: [{ name: topic, partitionIndexes: [0, 1] }] })
  t.same(fetched.topics[0]!.partitions.map((p) => [p.partitionIndex, Number(p.committedOffset)]), [[0, 10], [1, 12]], 'the known partitions were committed')
  marks[0] = a.log.length
  await assertUndisturbed(t, [a, b], marks, generation)
})

t.test('commit metadata over offset.metadata.max.bytes: OFFSET_METADATA_TOO_LARGE for that partition only', async (t) => {
  const { group, topic, partitions } = await fixture(broker.address, 2)
  const a = await member(t, group, partitions)
  const b = await member(t, group, partitions)
  await formGroup(t, group, partitions, [a, b])
  const generation = a.generationId
  const marks = [a.log.length, b.log.length]
  const r = await b.commit([
    { topic, partition: 0, offset: 20, metadata: 'x'.repeat(OFFSET_METADATA_MAX_BYTES + 1) },
    { topic, partition: 1, offset: 21, metadata: 'y'.repeat(OFFSET_METADATA_MAX_BYTES) },
  ])
  t.same(names(r), new Map([[`${topic}-0`, 'OFFSET_METADATA_TOO_LARGE'], [`${topic}-1`, 'NONE']]))
  const fetched = await observer.request(ApiKey.OffsetFetch, 5, { groupId: group, topics: [{ name: topic, partitionIndexes: [0, 1] }] })
  t.same(
    fetched.topics[0]!.partitions.map((p) => [p.partitionIndex, Number(p.committedOffset), p.metadata?.length ?? null]),
    [[0, -1, 0], [1, 21, OFFSET_METADATA_MAX_BYTES]],
    'only the partition within the limit was committed',
  )
  marks[1] = b.log.length
  await assertUndisturbed(t, [a, b], marks, generation)
})

t.test('a commit too large to store in one batch: INVALID_COMMIT_OFFSET_SIZE for each partition; the others go on', async (t) => {
  // Metadata within offset.metadata.max.bytes (counted in UTF-16 units, as Kafka does) but 3 bytes a character in UTF-8.
  const metadata = '€'.repeat(OFFSET_METADATA_MAX_BYTES)
  const count = Math.ceil(OVERSIZED_METADATA_BYTES / (3 * OFFSET_METADATA_MAX_BYTES))
  const { group, topic, partitions } = await fixture(broker.address, count)
  const a = await member(t, group, partitions)
  const b = await member(t, group, partitions)
  await formGroup(t, group, partitions, [a, b])
  const generation = a.generationId
  const marks = [a.log.length, b.log.length]
  // b commits at the same moment: its commit is its own and succeeds (Kafka appends each commit as one batch).
  const [r, bCommitted] = await Promise.all([a.commit(partitions.map((tp) => ({ ...tp, offset: 1, metadata }))), b.commitOwned(7)])
  t.same(new Set(names(r).values()), new Set(['INVALID_COMMIT_OFFSET_SIZE']), `every one of the ${count} partitions`)
  t.ok(bCommitted, "the other member's commit at the same time succeeds")
  const fetched = await observer.request(ApiKey.OffsetFetch, 5, { groupId: group, topics: [{ name: topic, partitionIndexes: [0] }] })
  t.equal(errorName(fetched.errorCode), 'NONE', 'the group answers OffsetFetch at once')
  const own = b.assignment.find((tp) => tp.partition === 0) ? 7 : -1
  t.equal(Number(fetched.topics[0]?.partitions[0]?.committedOffset ?? NaN), own, 'nothing of the oversized commit was committed')
  marks[0] = a.log.length
  marks[1] = b.log.length
  await assertUndisturbed(t, [a, b], marks, generation)
})
