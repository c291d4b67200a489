// A consumer group survives a broker restart: its offsets, its generation, its static member's assignment.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import type { JoinGroupInput } from '../../actors/group-coordinator/messages.ts'
import { type RunningBroker, startBroker } from '../../src/broker/start-broker.ts'
import { ErrorCode } from '../../src/protocol/kafka/error-codes.ts'

const BOUND_MS = 10_000
const config = { 'offsets.topic.num.partitions': 3, 'group.initial.rebalance.delay.ms': 0 }

/** Retries `f` while the coordinator is loading or not there yet (bounded), as a client does. */
async function retrying<R extends { errorCode: number }>(f: () => Promise<R>): Promise<R> {
  const retriable = new Set<number>([ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_NOT_AVAILABLE])
  for (let i = 0; i < BOUND_MS / 20; i++) {
    const r = await f()
    if (!retriable.has(r.errorCode)) return r
    await new Promise((res) => setTimeout(res, 20))
  }
  throw new Error('the coordinator never became available')
}

const staticJoin = (memberId: string): JoinGroupInput => ({
  groupId: 'g',
  memberId,
  groupInstanceId: 'instance-1',
  clientId: 'client',
  clientHost: '/127.0.0.1',
  sessionTimeoutMs: 30_000,
  rebalanceTimeoutMs: 30_000,
  protocolType: 'consumer',
  protocols: [{ name: 'range', metadata: new Uint8Array([7]) }],
  requireKnownMemberId: true,
})
const assignment = new Uint8Array([1, 2, 3, 4])

t.test('committed offsets, the generation and a static member survive a restart', async (t) => {
  const dataDir = t.testdir()
  let broker: RunningBroker = await startBroker({ dataDir, port: 0, config })
  t.teardown(() => broker.stop())

  await broker.groups.findCoordinator('g')
  // A static member gets its id at once (no MEMBER_ID_REQUIRED round trip).
  const joined = await retrying(() => broker.groups.joinGroup(staticJoin('')))
  t.equal(joined.errorCode, ErrorCode.NONE)
  t.equal(joined.generationId, 1)
  const memberId = joined.memberId
  const synced = await broker.groups.syncGroup({ groupId: 'g', generationId: 1, memberId, groupInstanceId: 'instance-1', protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId, assignment }] })
  t.equal(synced.errorCode, ErrorCode.NONE)
  const committed = await broker.groups.commitOffsets({
    groupId: 'g', generationId: 1, memberId, groupInstanceId: 'instance-1', retentionTimeMs: -1,
    topics: [{ name: 'orders', partitions: [{ partition: 0, offset: 42, leaderEpoch: 0, metadata: 'at 42' }, { partition: 1, offset: 7, leaderEpoch: -1, metadata: null }] }],
  })
  t.same(committed.topics[0]!.partitions.map((p) => p.errorCode), [0, 0])

  await broker.stop()
  broker = await startBroker({ dataDir, port: 0, config })

  const fetched = await retrying(() => broker.groups.fetchOffsets({ groupId: 'g', topics: [{ name: 'orders', partitions: [0, 1] }] }))
  t.match(fetched, { errorCode: 0, topics: [{ name: 'orders', partitions: [{ partition: 0, offset: 42, leaderEpoch: 0, metadata: 'at 42' }, { partition: 1, offset: 7 }] }] })
  const described = await broker.groups.describeGroup('g')
  t.match(described, { errorCode: 0, state: 'Stable', protocolType: 'consumer', protocolData: 'range' })
  t.same(described.members.map((m) => [m.memberId, m.groupInstanceId]), [[memberId, 'instance-1']])
  t.same(described.members[0]!.assignment, assignment)
  t.same((await broker.groups.listGroups([])).groups, [{ groupId: 'g', protocolType: 'consumer', state: 'Stable' }])

  // The static member restarts too: it joins with no member id and its instance id.
  const rejoined = await broker.groups.joinGroup(staticJoin(''))
  t.equal(rejoined.errorCode, ErrorCode.NONE)
  t.equal(rejoined.generationId, 1, 'no new generation')
  const resynced = await broker.groups.syncGroup({ groupId: 'g', generationId: 1, memberId: rejoined.memberId, groupInstanceId: 'instance-1', protocolType: 'consumer', protocolName: 'range', assignments: [] })
  t.same(resynced, { errorCode: ErrorCode.NONE, protocolType: 'consumer', protocolName: 'range', assignment })
  t.same(await broker.groups.heartbeat({ groupId: 'g', generationId: 1, memberId: rejoined.memberId, groupInstanceId: 'instance-1' }), { errorCode: ErrorCode.NONE })
})

t.test('offsets are loaded even when the high watermark checkpoint lags the log (an unclean shutdown)', async (t) => {
  const dataDir = t.testdir()
  let broker: RunningBroker = await startBroker({ dataDir, port: 0, config })
  t.teardown(() => broker.stop())
  await broker.groups.findCoordinator('solo')
  const committed = await retrying(async () => {
    const r = await broker.groups.commitOffsets({ groupId: 'solo', generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1, topics: [{ name: 'orders', partitions: [{ partition: 0, offset: 9, leaderEpoch: -1, metadata: null }] }] })
    return { errorCode: r.topics[0]!.partitions[0]!.errorCode }
  })
  t.equal(committed.errorCode, ErrorCode.NONE)
  await broker.stop()

  // As if the broker had died before checkpointing: no high watermark for __consumer_offsets.
  const path = join(dataDir, 'replication-offset-checkpoint')
  const [version, , ...entries] = readFileSync(path, 'utf8').trim().split('\n')
  const kept = entries.filter((l) => !l.startsWith('__consumer_offsets '))
  t.ok(kept.length < entries.length, 'the checkpoint had the partition')
  writeFileSync(path, [version, String(kept.length), ...kept].join('\n') + '\n')

  broker = await startBroker({ dataDir, port: 0, config })
  const fetched = await retrying(() => broker.groups.fetchOffsets({ groupId: 'solo', topics: [{ name: 'orders', partitions: [0] }] }))
  t.match(fetched, { errorCode: 0, topics: [{ partitions: [{ partition: 0, offset: 9 }] }] })
})
