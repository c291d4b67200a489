// The group coordinator service of a real broker, called directly (as the Kafka handlers do).
import { dispatch, type Ref, spawn, start, stop } from 'nact'
import t, { type Test } from 'tap'
import { ReplicaDirectory } from '../../../actors/broker-node/directory.ts'
import type { JoinGroupInput, JoinGroupResult, OffsetCommitInput, SyncGroupResult } from '../../../actors/group-coordinator/messages.ts'
import { OFFSETS_TOPIC, startGroupCoordinator } from '../../../actors/group-coordinator/service.ts'
import type { ReplicaMessage } from '../../../actors/partition-replica/messages.ts'
import { DEFAULT_BROKER_CONFIG } from '../../../src/broker/broker-config.ts'
import { type RunningBroker, startBroker } from '../../../src/broker/start-broker.ts'
import { ErrorCode } from '../../../src/protocol/kafka/error-codes.ts'
import { systemClock } from '../../../src/runtime/clock.ts'
import { RecordingLogger } from '../../../src/runtime/logger.ts'

const PARTITIONS = 3
const BOUND_MS = 10_000

async function broker(t: Test): Promise<RunningBroker> {
  const b = await startBroker({ dataDir: t.testdir(), port: 0, config: { 'offsets.topic.num.partitions': PARTITIONS, 'group.initial.rebalance.delay.ms': 0 } })
  t.teardown(() => b.stop())
  return b
}

/** Retries `f` while it answers a retriable coordinator error (bounded), as a client does. */
async function retrying<R extends { errorCode: number }>(f: () => Promise<R>): Promise<R> {
  const retriable = new Set<number>([ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_NOT_AVAILABLE])
  for (let i = 0; i < BOUND_MS / 20; i++) {
    const r = await f()
    if (!retriable.has(r.errorCode)) return r
    await new Promise((res) => setTimeout(res, 20))
  }
  throw new Error('still not available')
}

const join = (groupId: string, memberId = '', more: Partial<JoinGroupInput> = {}): JoinGroupInput => ({
  groupId,
  memberId,
  groupInstanceId: null,
  clientId: 'client',
  clientHost: '/127.0.0.1',
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 10_000,
  protocolType: 'consumer',
  protocols: [{ name: 'range', metadata: new Uint8Array([0, 1]) }],
  requireKnownMemberId: true,
  ...more,
})

const bytes = (s: string) => new TextEncoder().encode(s)

/** An offset commit from outside the group protocol (generation -1), as admin tools send. */
const soloCommit = (groupId: string, offset: number): OffsetCommitInput => ({
  groupId, generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1,
  topics: [{ name: 't', partitions: [{ partition: 0, offset, leaderEpoch: -1, metadata: null }] }],
})

t.test('findCoordinator creates __consumer_offsets and names this broker', async (t) => {
  const b = await broker(t)
  t.notOk(b.metadata.image().topics.has(OFFSETS_TOPIC), 'not there before the first need')
  const found = await b.groups.findCoordinator('g')
  t.same(found, { errorCode: ErrorCode.NONE, errorMessage: null, nodeId: b.nodeId, host: b.host, port: b.port })
  const topic = b.metadata.image().topics.get(OFFSETS_TOPIC)!
  t.equal(topic.partitions.length, PARTITIONS)
  t.equal(topic.internal, true)
  t.equal(topic.partitions[0]!.replicas.length, 1, 'replication factor capped at the brokers there are')
  t.match(topic.configs, { 'cleanup.policy': 'compact', 'compression.type': 'producer' })
})

t.test('two members join, sync, heartbeat, commit and fetch their offsets', async (t) => {
  const b = await broker(t)
  const g = b.groups
  await g.findCoordinator('g')

  // KIP-394: a new member first gets its id.
  const first = await retrying(() => g.joinGroup(join('g')))
  t.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED)
  t.match(first.memberId, /^client-/)
  const a = first.memberId
  const j1 = await g.joinGroup(join('g', a))
  t.equal(j1.errorCode, ErrorCode.NONE)
  t.equal(j1.generationId, 1)
  t.equal(j1.leader, a)
  t.same(j1.members.map((m) => m.memberId), [a])
  t.equal((await g.syncGroup({ groupId: 'g', generationId: 1, memberId: a, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: a, assignment: bytes('all') }] })).errorCode, ErrorCode.NONE)

  // A second member: the first learns of the rebalance from its heartbeat and joins again.
  const second = await g.joinGroup(join('g'))
  const bId = second.memberId
  const bJoin = g.joinGroup(join('g', bId))
  let hb = { errorCode: ErrorCode.NONE as number }
  for (let i = 0; i < BOUND_MS / 20 && hb.errorCode === ErrorCode.NONE; i++) {
    hb = await g.heartbeat({ groupId: 'g', generationId: 1, memberId: a, groupInstanceId: null })
    if (hb.errorCode === ErrorCode.NONE) await new Promise((r) => setTimeout(r, 20))
  }
  t.equal(hb.errorCode, ErrorCode.REBALANCE_IN_PROGRESS)
  const [aJoin2, bJoin2] = await Promise.all([g.joinGroup(join('g', a)), bJoin]) as [JoinGroupResult, JoinGroupResult]
  t.equal(aJoin2.generationId, 2)
  t.equal(bJoin2.generationId, 2)
  const leader = aJoin2.leader
  t.equal(bJoin2.leader, leader)
  const [lead, follow] = leader === a ? [aJoin2, bJoin2] : [bJoin2, aJoin2]
  t.same(lead.members.map((m) => m.memberId).sort(), [a, bId].sort(), 'the leader gets every member')
  t.same(follow.members, [], 'followers get none')

  const followerSync = g.syncGroup({ groupId: 'g', generationId: 2, memberId: follow.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] })
  const leaderSync = await g.syncGroup({
    groupId: 'g', generationId: 2, memberId: lead.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range',
    assignments: [{ memberId: lead.memberId, assignment: bytes('p0') }, { memberId: follow.memberId, assignment: bytes('p1') }],
  })
  t.same(leaderSync, { errorCode: ErrorCode.NONE, protocolType: 'consumer', protocolName: 'range', assignment: bytes('p0') } satisfies SyncGroupResult)
  t.same(await followerSync, { errorCode: ErrorCode.NONE, protocolType: 'consumer', protocolName: 'range', assignment: bytes('p1') })
  t.same(await g.heartbeat({ groupId: 'g', generationId: 2, memberId: a, groupInstanceId: null }), { errorCode: ErrorCode.NONE })
  t.same(await g.heartbeat({ groupId: 'g', generationId: 1, memberId: a, groupInstanceId: null }), { errorCode: ErrorCode.ILLEGAL_GENERATION })

  const committed = await g.commitOffsets({
    groupId: 'g', generationId: 2, memberId: lead.memberId, groupInstanceId: null, retentionTimeMs: -1,
    topics: [{ name: 'orders', partitions: [{ partition: 0, offset: 10, leaderEpoch: 0, metadata: 'm' }, { partition: 1, offset: 20, leaderEpoch: -1, metadata: null }] }],
  })
  t.same(committed, { topics: [{ name: 'orders', partitions: [{ partition: 0, errorCode: 0 }, { partition: 1, errorCode: 0 }] }] })
  const stale = await g.commitOffsets({ groupId: 'g', generationId: 1, memberId: a, groupInstanceId: null, retentionTimeMs: -1, topics: [{ name: 'orders', partitions: [{ partition: 0, offset: 99, leaderEpoch: -1, metadata: null }] }] })
  t.equal(stale.topics[0]!.partitions[0]!.errorCode, ErrorCode.ILLEGAL_GENERATION)

  const fetched = await g.fetchOffsets({ groupId: 'g', topics: [{ name: 'orders', partitions: [0, 1, 2] }] })
  t.equal(fetched.errorCode, ErrorCode.NONE)
  t.match(fetched.topics, [{ name: 'orders', partitions: [
    { partition: 0, offset: 10, leaderEpoch: 0, metadata: 'm', errorCode: 0 },
    { partition: 1, offset: 20, errorCode: 0 },
    { partition: 2, offset: -1, errorCode: 0 },
  ] }])
  const all = await g.fetchOffsets({ groupId: 'g', topics: null })
  t.same(all.topics.map((x) => [x.name, x.partitions.map((p) => [p.partition, p.offset])]), [['orders', [[0, 10], [1, 20]]]])

  const described = await g.describeGroup('g')
  t.match(described, { errorCode: 0, groupId: 'g', state: 'Stable', protocolType: 'consumer', protocolData: 'range' })
  t.same(described.members.map((m) => m.memberId).sort(), [a, bId].sort())
  const listed = await g.listGroups([])
  t.same(listed, { errorCode: 0, groups: [{ groupId: 'g', protocolType: 'consumer', state: 'Stable' }] })
  t.same((await g.listGroups(['empty'])).groups, [], 'filtered by state')

  const left = await g.leaveGroup({ groupId: 'g', members: [{ memberId: follow.memberId, groupInstanceId: null }] })
  t.same(left, { errorCode: 0, members: [{ memberId: follow.memberId, groupInstanceId: null, errorCode: 0 }] })
})

t.test('groups that do not exist get Kafka answers and no actor', async (t) => {
  const b = await broker(t)
  const g = b.groups
  await g.findCoordinator('x')
  t.same(await retrying(() => g.describeGroup('nope')), { errorCode: 0, groupId: 'nope', state: 'Dead', protocolType: '', protocolData: '', members: [] })
  t.same(await g.deleteGroup('nope'), { errorCode: ErrorCode.GROUP_ID_NOT_FOUND })
  t.same(await g.fetchOffsets({ groupId: 'nope', topics: [{ name: 't', partitions: [0, 1] }] }), {
    errorCode: 0,
    topics: [{ name: 't', partitions: [0, 1].map((partition) => ({ partition, offset: -1, leaderEpoch: -1, metadata: '', errorCode: 0 })) }],
  })
  t.same(await g.heartbeat({ groupId: 'nope', generationId: 1, memberId: 'm', groupInstanceId: null }), { errorCode: ErrorCode.UNKNOWN_MEMBER_ID })
  t.match(await g.syncGroup({ groupId: 'nope', generationId: 1, memberId: 'm', groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] }), { errorCode: ErrorCode.UNKNOWN_MEMBER_ID })
  t.same(await g.leaveGroup({ groupId: 'nope', members: [{ memberId: 'm', groupInstanceId: null }] }), { errorCode: 0, members: [{ memberId: 'm', groupInstanceId: null, errorCode: ErrorCode.UNKNOWN_MEMBER_ID }] })
  t.equal((await g.joinGroup(join('nope', 'stale-id'))).errorCode, ErrorCode.UNKNOWN_MEMBER_ID)
  t.equal((await g.joinGroup(join(''))).errorCode, ErrorCode.INVALID_GROUP_ID)
  t.same(await g.deleteOffsets({ groupId: 'nope', topics: [{ name: 't', partitions: [0] }] }), { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, topics: [] })
  t.same(await g.listGroups([]), { errorCode: 0, groups: [] })
  t.same(g.partitions().map((p) => p.groups), [0, 0, 0], 'no group actor was made for them')
  // A commit from outside the group protocol makes the group (Empty, with offsets).
  t.same(await g.commitOffsets(soloCommit('solo', 3)), { topics: [{ name: 't', partitions: [{ partition: 0, errorCode: 0 }] }] })
  t.same((await g.listGroups([])).groups, [{ groupId: 'solo', protocolType: '', state: 'Empty' }])
})

t.test('requests for a partition that is still loading get COORDINATOR_LOAD_IN_PROGRESS', async (t) => {
  const b = await broker(t)
  await b.groups.findCoordinator('g')
  let committed = await b.groups.commitOffsets(soloCommit('g', 5))
  for (let i = 0; i < BOUND_MS / 20 && committed.topics[0]!.partitions[0]!.errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS; i++) {
    await new Promise((r) => setTimeout(r, 20))
    committed = await b.groups.commitOffsets(soloCommit('g', 5))
  }
  t.equal(committed.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE)

  // A second service over the same broker whose replicas answer only once the gate opens.
  const system = start()
  t.teardown(() => stop(system))
  let open = false
  const queued: { to: Ref<ReplicaMessage>; msg: ReplicaMessage }[] = []
  const directory = new ReplicaDirectory()
  for (let p = 0; p < PARTITIONS; p++) {
    const real = b.node.directory.get(OFFSETS_TOPIC, p)!
    const gate = spawn(system, (s: null, msg: ReplicaMessage) => {
      if (open) dispatch(real, msg)
      else queued.push({ to: real, msg })
      return s
    }, `gate-${p}`, { initialState: null }) as Ref<ReplicaMessage>
    directory.set(OFFSETS_TOPIC, p, gate)
  }
  const service = startGroupCoordinator({
    nodeId: b.nodeId,
    settings: { config: { ...DEFAULT_BROKER_CONFIG, 'offsets.topic.num.partitions': PARTITIONS }, explicit: new Set() },
    metadata: b.metadata,
    directory,
    clock: systemClock,
    logger: new RecordingLogger(),
    advertised: () => ({ host: b.host, port: b.port }),
  })
  t.teardown(() => service.close())
  t.equal((await service.describeGroup('g')).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
  t.equal((await service.fetchOffsets({ groupId: 'g', topics: null })).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
  t.equal((await service.listGroups([])).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
  t.ok(service.partitions().every((p) => p.status === 'loading'))
  open = true
  for (const { to, msg } of queued.splice(0)) dispatch(to, msg)
  const fetched = await retrying(() => service.fetchOffsets({ groupId: 'g', topics: null }))
  t.match(fetched, { errorCode: 0, topics: [{ name: 't', partitions: [{ partition: 0, offset: 5 }] }] }, 'loaded from the log')
})

t.test('a group whose partition another broker leads gets NOT_COORDINATOR, and findCoordinator names that broker', async (t) => {
  const b = await broker(t)
  await b.groups.findCoordinator('g')
  const other = startGroupCoordinator({
    nodeId: 2,
    settings: { config: { ...DEFAULT_BROKER_CONFIG, 'node.id': 2 }, explicit: new Set() },
    metadata: b.metadata,
    directory: new ReplicaDirectory(),
    clock: systemClock,
    logger: new RecordingLogger(),
    advertised: () => ({ host: 'elsewhere', port: 1 }),
  })
  t.teardown(() => other.close())
  t.same(await other.heartbeat({ groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null }), { errorCode: ErrorCode.NOT_COORDINATOR })
  t.match(await other.findCoordinator('g'), { errorCode: 0, nodeId: b.nodeId, host: b.host, port: b.port })
  t.same(other.partitions(), [])
})

t.test('close answers waiting members with NOT_COORDINATOR, and later calls too', async (t) => {
  const b = await broker(t)
  const g = b.groups
  await g.findCoordinator('g')
  const a = (await retrying(() => g.joinGroup(join('g', '', { requireKnownMemberId: false })))).memberId
  t.equal((await g.syncGroup({ groupId: 'g', generationId: 1, memberId: a, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [{ memberId: a, assignment: bytes('x') }] })).errorCode, 0)
  // A second member's join waits for the first to join again.
  const waiting = g.joinGroup(join('g', '', { requireKnownMemberId: false }))
  await new Promise((r) => setTimeout(r, 50))
  await g.close()
  t.equal((await waiting).errorCode, ErrorCode.NOT_COORDINATOR)
  t.same(await g.heartbeat({ groupId: 'g', generationId: 1, memberId: a, groupInstanceId: null }), { errorCode: ErrorCode.NOT_COORDINATOR })
})
