import t from 'tap'
import type { JoinGroupInput, LeaveGroupInput, SyncGroupInput } from '../../../../actors/group-coordinator/messages.ts'
import { ErrorCode } from '../../../../src/protocol/kafka/error-codes.ts'
import { ApiKey } from '../../../../src/protocol/kafka/generated/index.ts'
import { AUTHORIZED_OPERATIONS_OMITTED, GROUP_AUTHORIZED_OPERATIONS } from '../../../../src/protocol/kafka/handlers/groups.ts'
import { buildRecordBatch } from '../../../../src/record/record-batch.ts'
import { startBroker } from '../../../../src/broker/start-broker.ts'
import { TestClient } from '../../../broker/kafka-test-client.ts'
import { CLIENT_ID, call, FakeGroups, fakeConnection, fakeContext } from './group-fixtures.ts'

const bytes = (s: string) => new TextEncoder().encode(s)
const joinRequest = { groupId: 'g', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 30_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: bytes('sub') }] }

t.test('JoinGroup', async (t) => {
  t.test('v0 has no rebalance timeout: the session timeout stands in', async (t) => {
    const groups = new FakeGroups()
    await call(fakeContext(groups), ApiKey.JoinGroup, 0, { ...joinRequest, rebalanceTimeoutMs: undefined })
    const input = groups.inputs('joinGroup')[0] as JoinGroupInput
    t.equal(input.rebalanceTimeoutMs, 10_000)
    t.equal(input.sessionTimeoutMs, 10_000)
    t.equal(input.requireKnownMemberId, false)
  })

  t.test('v1–v3 pass the rebalance timeout and do not require a known member id', async (t) => {
    for (const version of [1, 2, 3]) {
      const groups = new FakeGroups()
      await call(fakeContext(groups), ApiKey.JoinGroup, version, joinRequest)
      const input = groups.inputs('joinGroup')[0] as JoinGroupInput
      t.same([input.rebalanceTimeoutMs, input.requireKnownMemberId], [30_000, false], `v${version}`)
    }
  })

  t.test('v4+ require a known member id from dynamic members (KIP-394), not from static ones', async (t) => {
    for (const version of [4, 5]) {
      const groups = new FakeGroups()
      await call(fakeContext(groups), ApiKey.JoinGroup, version, joinRequest)
      t.equal((groups.inputs('joinGroup')[0] as JoinGroupInput).requireKnownMemberId, true, `v${version} dynamic`)
    }
    const groups = new FakeGroups()
    await call(fakeContext(groups), ApiKey.JoinGroup, 5, { ...joinRequest, groupInstanceId: 'instance-1' })
    const input = groups.inputs('joinGroup')[0] as JoinGroupInput
    t.equal(input.groupInstanceId, 'instance-1')
    t.equal(input.requireKnownMemberId, false, 'v5 static')
  })

  t.test('MEMBER_ID_REQUIRED comes back with the id the member must join with', async (t) => {
    const groups = new FakeGroups({
      joinGroup: () => Promise.resolve({ errorCode: ErrorCode.MEMBER_ID_REQUIRED, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId: 'test-client-1234', members: [] }),
    })
    const r = await call(fakeContext(groups), ApiKey.JoinGroup, 4, joinRequest)
    t.same(r, { throttleTimeMs: 0, errorCode: ErrorCode.MEMBER_ID_REQUIRED, generationId: -1, protocolName: '', leader: '', memberId: 'test-client-1234', members: [] })
  })

  t.test("the member's client id, host and protocols reach the coordinator", async (t) => {
    const groups = new FakeGroups()
    await call(fakeContext(groups), ApiKey.JoinGroup, 2, { ...joinRequest, memberId: 'm-7', protocols: [{ name: 'range', metadata: bytes('a') }, { name: 'roundrobin', metadata: bytes('b') }] }, fakeConnection('::ffff:10.1.2.3:40000'))
    const input = groups.inputs('joinGroup')[0] as JoinGroupInput
    t.same(
      { groupId: input.groupId, memberId: input.memberId, clientId: input.clientId, clientHost: input.clientHost, protocolType: input.protocolType, protocols: input.protocols.map((p) => [p.name, Buffer.from(p.metadata).toString()]) },
      { groupId: 'g', memberId: 'm-7', clientId: CLIENT_ID, clientHost: '/10.1.2.3', protocolType: 'consumer', protocols: [['range', 'a'], ['roundrobin', 'b']] },
    )
  })

  t.test("the leader gets the members' metadata; instance ids from v5", async (t) => {
    const members = [
      { memberId: 'm-1', groupInstanceId: 'i-1', metadata: bytes('one') },
      { memberId: 'm-2', groupInstanceId: null, metadata: bytes('two') },
    ]
    const groups = new FakeGroups({ joinGroup: () => Promise.resolve({ errorCode: ErrorCode.NONE, generationId: 3, protocolType: 'consumer', protocolName: 'range', leader: 'm-1', memberId: 'm-1', members }) })
    const ctx = fakeContext(groups)
    const v5 = await call(ctx, ApiKey.JoinGroup, 5, { ...joinRequest, memberId: 'm-1' })
    t.same([v5.errorCode, v5.generationId, v5.protocolName, v5.leader, v5.memberId], [ErrorCode.NONE, 3, 'range', 'm-1', 'm-1'])
    t.same(v5.members.map((m) => [m.memberId, m.groupInstanceId, Buffer.from(m.metadata).toString()]), [['m-1', 'i-1', 'one'], ['m-2', null, 'two']])
    const v4 = await call(ctx, ApiKey.JoinGroup, 4, { ...joinRequest, memberId: 'm-1' })
    t.same(v4.members.map((m) => [m.memberId, m.groupInstanceId]), [['m-1', null], ['m-2', null]], 'v4 has no instance ids')
  })

  t.test("an empty group id is INVALID_GROUP_ID and the coordinator is not asked", async (t) => {
    const groups = new FakeGroups()
    const r = await call(fakeContext(groups), ApiKey.JoinGroup, 5, { ...joinRequest, groupId: '', memberId: 'm-1' })
    t.same(r, { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_GROUP_ID, generationId: -1, protocolName: '', leader: '', memberId: 'm-1', members: [] })
    t.same(groups.calls, [])
  })
})

t.test('SyncGroup', async (t) => {
  t.test("the leader's assignments reach the coordinator; each member gets its own back", async (t) => {
    for (const version of [0, 1, 2, 3]) {
      const groups = new FakeGroups({ syncGroup: () => Promise.resolve({ errorCode: ErrorCode.NONE, protocolType: 'consumer', protocolName: 'range', assignment: bytes('mine') }) })
      const r = await call(fakeContext(groups), ApiKey.SyncGroup, version, {
        groupId: 'g',
        generationId: 4,
        memberId: 'm-1',
        groupInstanceId: version >= 3 ? 'i-1' : undefined,
        assignments: [{ memberId: 'm-1', assignment: bytes('mine') }, { memberId: 'm-2', assignment: bytes('theirs') }],
      })
      t.same([r.errorCode, Buffer.from(r.assignment).toString()], [ErrorCode.NONE, 'mine'], `v${version}`)
      const input = groups.inputs('syncGroup')[0] as SyncGroupInput
      t.same(
        { ...input, assignments: input.assignments.map((a) => [a.memberId, Buffer.from(a.assignment).toString()]) },
        { groupId: 'g', generationId: 4, memberId: 'm-1', groupInstanceId: version >= 3 ? 'i-1' : null, protocolType: null, protocolName: null, assignments: [['m-1', 'mine'], ['m-2', 'theirs']] },
        `v${version}`,
      )
    }
  })

  t.test('errors pass through; an empty group id is INVALID_GROUP_ID', async (t) => {
    const groups = new FakeGroups({ syncGroup: () => Promise.resolve({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, protocolType: null, protocolName: null, assignment: new Uint8Array(0) }) })
    const ctx = fakeContext(groups)
    t.equal((await call(ctx, ApiKey.SyncGroup, 1, { groupId: 'g', generationId: 1, memberId: 'm', assignments: [] })).errorCode, ErrorCode.REBALANCE_IN_PROGRESS)
    const r = await call(ctx, ApiKey.SyncGroup, 1, { groupId: '', generationId: 1, memberId: 'm', assignments: [] })
    t.same([r.errorCode, r.assignment.length], [ErrorCode.INVALID_GROUP_ID, 0])
    t.equal(groups.calls.length, 1)
  })
})

t.test('Heartbeat', async (t) => {
  t.test('v0–v3 reach the coordinator; the instance id from v3', async (t) => {
    for (const version of [0, 1, 2, 3]) {
      const groups = new FakeGroups({ heartbeat: () => Promise.resolve({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS }) })
      const r = await call(fakeContext(groups), ApiKey.Heartbeat, version, { groupId: 'g', generationId: 2, memberId: 'm-1', groupInstanceId: version >= 3 ? 'i-1' : undefined })
      t.equal(r.errorCode, ErrorCode.REBALANCE_IN_PROGRESS, `v${version}`)
      t.same(groups.inputs('heartbeat'), [{ groupId: 'g', generationId: 2, memberId: 'm-1', groupInstanceId: version >= 3 ? 'i-1' : null }], `v${version}`)
    }
  })

  t.test('an empty group id is INVALID_GROUP_ID', async (t) => {
    const groups = new FakeGroups()
    t.equal((await call(fakeContext(groups), ApiKey.Heartbeat, 0, { groupId: '', generationId: 2, memberId: 'm-1' })).errorCode, ErrorCode.INVALID_GROUP_ID)
    t.same(groups.calls, [])
  })
})

t.test('LeaveGroup', async (t) => {
  t.test('v0–v2 name one member by id', async (t) => {
    for (const version of [0, 1, 2]) {
      const groups = new FakeGroups()
      const r = await call(fakeContext(groups), ApiKey.LeaveGroup, version, { groupId: 'g', memberId: 'm-1' })
      t.equal(r.errorCode, ErrorCode.NONE, `v${version}`)
      t.same(groups.inputs('leaveGroup'), [{ groupId: 'g', members: [{ memberId: 'm-1', groupInstanceId: null }] }] satisfies LeaveGroupInput[], `v${version}`)
    }
  })

  t.test("v0–v2: the member's own error is the response's", async (t) => {
    const groups = new FakeGroups({ leaveGroup: () => Promise.resolve({ errorCode: ErrorCode.NONE, members: [{ memberId: 'm-1', groupInstanceId: null, errorCode: ErrorCode.UNKNOWN_MEMBER_ID }] }) })
    t.equal((await call(fakeContext(groups), ApiKey.LeaveGroup, 1, { groupId: 'g', memberId: 'm-1' })).errorCode, ErrorCode.UNKNOWN_MEMBER_ID)
  })

  t.test('v0–v2: a group-level error wins', async (t) => {
    const groups = new FakeGroups({ leaveGroup: () => Promise.resolve({ errorCode: ErrorCode.NOT_COORDINATOR, members: [] }) })
    t.equal((await call(fakeContext(groups), ApiKey.LeaveGroup, 0, { groupId: 'g', memberId: 'm-1' })).errorCode, ErrorCode.NOT_COORDINATOR)
  })

  t.test('v3 leaves a batch (KIP-345) and answers per member', async (t) => {
    const groups = new FakeGroups({
      leaveGroup: (input) =>
        Promise.resolve({ errorCode: ErrorCode.NONE, members: input.members.map((m) => ({ ...m, errorCode: m.groupInstanceId === 'gone' ? ErrorCode.UNKNOWN_MEMBER_ID : ErrorCode.NONE })) }),
    })
    const members = [
      { memberId: 'm-1', groupInstanceId: null },
      { memberId: '', groupInstanceId: 'i-2' },
      { memberId: '', groupInstanceId: 'gone' },
    ]
    const r = await call(fakeContext(groups), ApiKey.LeaveGroup, 3, { groupId: 'g', members })
    t.same(groups.inputs('leaveGroup'), [{ groupId: 'g', members }])
    t.equal(r.errorCode, ErrorCode.NONE)
    t.same(r.members, [
      { memberId: 'm-1', groupInstanceId: null, errorCode: ErrorCode.NONE },
      { memberId: '', groupInstanceId: 'i-2', errorCode: ErrorCode.NONE },
      { memberId: '', groupInstanceId: 'gone', errorCode: ErrorCode.UNKNOWN_MEMBER_ID },
    ])
  })

  t.test('v3: a group-level error comes at the top, with no members', async (t) => {
    const groups = new FakeGroups({ leaveGroup: () => Promise.resolve({ errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, members: [] }) })
    const r = await call(fakeContext(groups), ApiKey.LeaveGroup, 3, { groupId: 'g', members: [{ memberId: 'm-1', groupInstanceId: null }] })
    t.same([r.errorCode, r.members], [ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, []])
  })

  t.test('an empty group id is INVALID_GROUP_ID', async (t) => {
    const groups = new FakeGroups()
    const ctx = fakeContext(groups)
    t.equal((await call(ctx, ApiKey.LeaveGroup, 0, { groupId: '', memberId: 'm-1' })).errorCode, ErrorCode.INVALID_GROUP_ID)
    const v3 = await call(ctx, ApiKey.LeaveGroup, 3, { groupId: '', members: [{ memberId: 'm-1', groupInstanceId: null }] })
    t.same([v3.errorCode, v3.members], [ErrorCode.INVALID_GROUP_ID, []])
    t.same(groups.calls, [])
  })
})

t.test('ListGroups v0–v3 list every group (no states filter before v4)', async (t) => {
  for (const version of [0, 1, 2, 3]) {
    const groups = new FakeGroups({
      listGroups: () =>
        Promise.resolve({
          errorCode: ErrorCode.NONE,
          groups: [
            { groupId: 'a', protocolType: 'consumer', state: 'Stable' as const },
            { groupId: 'b', protocolType: '', state: 'Empty' as const },
          ],
        }),
    })
    const r = await call(fakeContext(groups), ApiKey.ListGroups, version, {})
    t.same(groups.inputs('listGroups'), [[]], `v${version}`)
    t.same([r.errorCode, r.groups], [ErrorCode.NONE, [{ groupId: 'a', protocolType: 'consumer' }, { groupId: 'b', protocolType: '' }]], `v${version}`)
  }
  const loading = new FakeGroups({ listGroups: () => Promise.resolve({ errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, groups: [] }) })
  t.equal((await call(fakeContext(loading), ApiKey.ListGroups, 3, {})).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
})

t.test('DescribeGroups', async (t) => {
  const stable = {
    errorCode: ErrorCode.NONE,
    groupId: 'a',
    state: 'Stable' as const,
    protocolType: 'consumer',
    protocolData: 'range',
    members: [{ memberId: 'm-1', groupInstanceId: 'i-1', clientId: 'c', clientHost: '/10.0.0.1', metadata: bytes('meta'), assignment: bytes('asg') }],
  }
  const groups = new FakeGroups({
    describeGroup: (groupId) => {
      if (groupId === 'a') return Promise.resolve(stable)
      if (groupId === 'elsewhere') return Promise.resolve({ ...stable, errorCode: ErrorCode.NOT_COORDINATOR, groupId, state: 'Dead' as const, members: [] })
      return Promise.resolve({ errorCode: ErrorCode.NONE, groupId, state: 'Dead' as const, protocolType: '', protocolData: '', members: [] })
    },
  })
  const ctx = fakeContext(groups)

  t.test('several groups in one request, each answered on its own', async (t) => {
    const r = await call(ctx, ApiKey.DescribeGroups, 0, { groups: ['a', 'unknown', 'elsewhere'] })
    t.same(
      r.groups.map((g) => [g.groupId, g.errorCode, g.groupState, g.protocolType, g.protocolData, g.members.length]),
      [
        ['a', ErrorCode.NONE, 'Stable', 'consumer', 'range', 1],
        ['unknown', ErrorCode.NONE, 'Dead', '', '', 0],
        ['elsewhere', ErrorCode.NOT_COORDINATOR, '', '', '', 0],
      ],
    )
    const m = r.groups[0]!.members[0]!
    t.same([m.memberId, m.clientId, m.clientHost, Buffer.from(m.memberMetadata).toString(), Buffer.from(m.memberAssignment).toString()], ['m-1', 'c', '/10.0.0.1', 'meta', 'asg'])
    t.equal(m.groupInstanceId, null, 'no instance ids before v4')
  })

  t.test('v4 shows static members’ instance ids', async (t) => {
    const r = await call(ctx, ApiKey.DescribeGroups, 4, { groups: ['a'], includeAuthorizedOperations: false })
    t.equal(r.groups[0]!.members[0]!.groupInstanceId, 'i-1')
  })

  t.test("authorized operations: Kafka's 'not requested' unless asked, then read, delete and describe", async (t) => {
    let r = await call(ctx, ApiKey.DescribeGroups, 3, { groups: ['a'], includeAuthorizedOperations: false })
    t.equal(r.groups[0]!.authorizedOperations, AUTHORIZED_OPERATIONS_OMITTED)
    r = await call(ctx, ApiKey.DescribeGroups, 3, { groups: ['a', 'elsewhere'], includeAuthorizedOperations: true })
    t.equal(r.groups[0]!.authorizedOperations, GROUP_AUTHORIZED_OPERATIONS)
    t.equal(GROUP_AUTHORIZED_OPERATIONS, 0b1_0100_1000, 'AclOperation bits READ 3, DELETE 6, DESCRIBE 8')
    t.equal(r.groups[1]!.authorizedOperations, AUTHORIZED_OPERATIONS_OMITTED, 'not for a group in error')
  })
})

t.test('DeleteGroups answers per group, each group once', async (t) => {
  for (const version of [0, 1]) {
    const groups = new FakeGroups({
      deleteGroup: (groupId) => Promise.resolve({ errorCode: groupId === 'busy' ? ErrorCode.NON_EMPTY_GROUP : groupId === 'nope' ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.NONE }),
    })
    const r = await call(fakeContext(groups), ApiKey.DeleteGroups, version, { groupsNames: ['old', 'busy', 'nope', 'old'] })
    t.same(r.results, [
      { groupId: 'old', errorCode: ErrorCode.NONE },
      { groupId: 'busy', errorCode: ErrorCode.NON_EMPTY_GROUP },
      { groupId: 'nope', errorCode: ErrorCode.GROUP_ID_NOT_FOUND },
    ], `v${version}`)
    t.same(groups.inputs('deleteGroup'), ['old', 'busy', 'nope'], `v${version}`)
  }
})

// ---------------------------------------------------------------------------------------------
// Over the wire, against a whole broker and its real group coordinator.

/** Polls `attempt` until it returns a value (at most `tries` times, `pauseMs` apart). */
async function eventually<R>(what: string, tries: number, pauseMs: number, attempt: () => Promise<R | undefined>): Promise<R> {
  for (let i = 0; i < tries; i++) {
    const r = await attempt()
    if (r !== undefined) return r
    await new Promise((resolve) => setTimeout(resolve, pauseMs))
  }
  throw new Error(`${what}: not after ${tries} tries`)
}

t.test('two members join, sync, heartbeat, commit and fetch over the wire at several versions', async (t) => {
  const broker = await startBroker({
    dataDir: t.testdir(),
    port: 0,
    config: { 'num.partitions': 2, 'offsets.topic.num.partitions': 3, 'group.initial.rebalance.delay.ms': 0 },
  })
  t.teardown(() => broker.stop())
  const a = await TestClient.connect(broker.port)
  const b = await TestClient.connect(broker.port)
  t.teardown(() => {
    a.close()
    b.close()
  })
  const group = 'wire-group'
  const timeouts = { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000 }
  const protocols = [{ name: 'range', metadata: bytes('subscription') }]

  // The topic the members commit for; the coordinator's topic is created on first FindCoordinator.
  const md = await a.request(ApiKey.Metadata, 8, { topics: [{ name: 'events' }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })
  t.equal(md.topics[0]!.errorCode, ErrorCode.NONE)
  const found = await eventually('FindCoordinator', 100, 50, async () => {
    const r = await a.request(ApiKey.FindCoordinator, 2, { key: group, keyType: 0 })
    return r.errorCode === ErrorCode.NONE ? r : undefined
  })
  t.same([found.nodeId, found.host, found.port], [broker.nodeId, broker.host, broker.port], 'this broker coordinates the group')
  const v0 = await a.request(ApiKey.FindCoordinator, 0, { key: group })
  t.same([v0.errorCode, v0.nodeId], [ErrorCode.NONE, broker.nodeId], 'v0 too')

  // KIP-394: a dynamic member's first JoinGroup (v4+) gets MEMBER_ID_REQUIRED and its id.
  const first = await a.request(ApiKey.JoinGroup, 5, { groupId: group, ...timeouts, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols })
  t.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED)
  const memberA = first.memberId
  t.match(memberA, /^test-client-/, "Kafka's member id: the client id and a unique suffix")
  const joinedA = await a.request(ApiKey.JoinGroup, 5, { groupId: group, ...timeouts, memberId: memberA, groupInstanceId: null, protocolType: 'consumer', protocols })
  t.same([joinedA.errorCode, joinedA.generationId, joinedA.leader, joinedA.memberId, joinedA.protocolName], [ErrorCode.NONE, 1, memberA, memberA, 'range'])
  t.same(joinedA.members.map((m) => m.memberId), [memberA], 'the leader gets the members')
  const syncedA = await a.request(ApiKey.SyncGroup, 3, { groupId: group, generationId: 1, memberId: memberA, groupInstanceId: null, assignments: [{ memberId: memberA, assignment: bytes('A:0,1') }] })
  t.same([syncedA.errorCode, Buffer.from(syncedA.assignment).toString()], [ErrorCode.NONE, 'A:0,1'])
  t.equal((await a.request(ApiKey.Heartbeat, 3, { groupId: group, generationId: 1, memberId: memberA, groupInstanceId: null })).errorCode, ErrorCode.NONE)

  // A second member joins at v3 (before KIP-394: no MEMBER_ID_REQUIRED); the first learns of the rebalance by heartbeat and rejoins.
  const joiningB = b.request(ApiKey.JoinGroup, 3, { groupId: group, ...timeouts, memberId: '', protocolType: 'consumer', protocols })
  await eventually('REBALANCE_IN_PROGRESS', 100, 20, async () => {
    const r = await a.request(ApiKey.Heartbeat, 1, { groupId: group, generationId: 1, memberId: memberA })
    return r.errorCode === ErrorCode.REBALANCE_IN_PROGRESS ? true : undefined
  })
  const rejoinedA = await a.request(ApiKey.JoinGroup, 5, { groupId: group, ...timeouts, memberId: memberA, groupInstanceId: null, protocolType: 'consumer', protocols })
  const joinedB = await joiningB
  const memberB = joinedB.memberId
  t.same([rejoinedA.errorCode, joinedB.errorCode], [ErrorCode.NONE, ErrorCode.NONE])
  t.same([rejoinedA.generationId, joinedB.generationId], [2, 2], 'a new generation')
  t.equal(joinedB.leader, memberA, 'the leader stays')
  t.same(rejoinedA.members.map((m) => m.memberId).sort(), [memberA, memberB].sort())
  t.same(joinedB.members, [], 'followers get no members')

  const syncingB = b.request(ApiKey.SyncGroup, 0, { groupId: group, generationId: 2, memberId: memberB, assignments: [] })
  const resyncedA = await a.request(ApiKey.SyncGroup, 3, {
    groupId: group,
    generationId: 2,
    memberId: memberA,
    groupInstanceId: null,
    assignments: [{ memberId: memberA, assignment: bytes('A:0') }, { memberId: memberB, assignment: bytes('B:1') }],
  })
  const syncedB = await syncingB
  t.same([resyncedA.errorCode, Buffer.from(resyncedA.assignment).toString()], [ErrorCode.NONE, 'A:0'])
  t.same([syncedB.errorCode, Buffer.from(syncedB.assignment).toString()], [ErrorCode.NONE, 'B:1'])
  t.equal((await b.request(ApiKey.Heartbeat, 0, { groupId: group, generationId: 2, memberId: memberB })).errorCode, ErrorCode.NONE)
  t.equal((await a.request(ApiKey.Heartbeat, 3, { groupId: group, generationId: 2, memberId: memberA, groupInstanceId: null })).errorCode, ErrorCode.NONE)

  // Commits at v2 and v7; a stale generation is refused; fetches at v1 and v5.
  const commitB = await b.request(ApiKey.OffsetCommit, 2, {
    groupId: group, generationIdOrMemberEpoch: 2, memberId: memberB, retentionTimeMs: -1n,
    topics: [{ name: 'events', partitions: [{ partitionIndex: 1, committedOffset: 7n, committedMetadata: 'b' }] }],
  })
  t.same(commitB.topics, [{ name: 'events', partitions: [{ partitionIndex: 1, errorCode: ErrorCode.NONE }] }])
  const commitA = await a.request(ApiKey.OffsetCommit, 7, {
    groupId: group, generationIdOrMemberEpoch: 2, memberId: memberA, groupInstanceId: null,
    topics: [{ name: 'events', partitions: [{ partitionIndex: 0, committedOffset: 5n, committedLeaderEpoch: 0, committedMetadata: 'a' }, { partitionIndex: 9, committedOffset: 1n, committedLeaderEpoch: 0, committedMetadata: null }] }],
  })
  t.same(commitA.topics, [{ name: 'events', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.NONE }, { partitionIndex: 9, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }] }])
  const stale = await a.request(ApiKey.OffsetCommit, 5, {
    groupId: group, generationIdOrMemberEpoch: 1, memberId: memberA,
    topics: [{ name: 'events', partitions: [{ partitionIndex: 0, committedOffset: 6n, committedMetadata: null }] }],
  })
  t.equal(stale.topics[0]!.partitions[0]!.errorCode, ErrorCode.ILLEGAL_GENERATION)

  const fetchedV1 = await b.request(ApiKey.OffsetFetch, 1, { groupId: group, topics: [{ name: 'events', partitionIndexes: [0, 1] }] })
  t.same(fetchedV1.topics[0]!.partitions.map((p) => [p.partitionIndex, p.committedOffset, p.metadata, p.errorCode]), [[0, 5n, 'a', ErrorCode.NONE], [1, 7n, 'b', ErrorCode.NONE]])
  const fetchedV5 = await a.request(ApiKey.OffsetFetch, 5, { groupId: group, topics: null })
  t.equal(fetchedV5.errorCode, ErrorCode.NONE)
  t.same(
    fetchedV5.topics.flatMap((tp) => tp.partitions.map((p) => [tp.name, p.partitionIndex, p.committedOffset, p.committedLeaderEpoch])).sort(),
    [['events', 0, 5n, 0], ['events', 1, 7n, -1]],
    'every committed offset, with its leader epoch',
  )

  // What the group admin APIs show.
  const described = await a.request(ApiKey.DescribeGroups, 4, { groups: [group], includeAuthorizedOperations: true })
  const g = described.groups[0]!
  t.same([g.errorCode, g.groupState, g.protocolType, g.protocolData, g.authorizedOperations], [ErrorCode.NONE, 'Stable', 'consumer', 'range', GROUP_AUTHORIZED_OPERATIONS])
  t.same(g.members.map((m) => [m.memberId, m.clientId, m.clientHost, Buffer.from(m.memberAssignment).toString()]).sort(), [
    [memberA, 'test-client', '/127.0.0.1', 'A:0'],
    [memberB, 'test-client', '/127.0.0.1', 'B:1'],
  ].sort())
  const listed = await a.request(ApiKey.ListGroups, 3, {})
  t.same(listed.groups.filter((l) => l.groupId === group), [{ groupId: group, protocolType: 'consumer' }])
  t.equal((await a.request(ApiKey.DeleteGroups, 1, { groupsNames: [group] })).results[0]!.errorCode, ErrorCode.NON_EMPTY_GROUP)

  // Both leave (v3 batch, v0 single); the offsets stay.
  const leftB = await b.request(ApiKey.LeaveGroup, 3, { groupId: group, members: [{ memberId: memberB, groupInstanceId: null }] })
  t.same([leftB.errorCode, leftB.members], [ErrorCode.NONE, [{ memberId: memberB, groupInstanceId: null, errorCode: ErrorCode.NONE }]])
  t.equal((await a.request(ApiKey.LeaveGroup, 0, { groupId: group, memberId: memberA })).errorCode, ErrorCode.NONE)
  t.equal((await a.request(ApiKey.DescribeGroups, 0, { groups: [group] })).groups[0]!.groupState, 'Empty')
  const after = await a.request(ApiKey.OffsetFetch, 3, { groupId: group, topics: [{ name: 'events', partitionIndexes: [0] }] })
  t.equal(after.topics[0]!.partitions[0]!.committedOffset, 5n)

  // `__consumer_offsets` is the coordinator's: listed as internal, not writable by clients.
  const internal = await a.request(ApiKey.Metadata, 8, { topics: [{ name: '__consumer_offsets' }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })
  t.same([internal.topics[0]!.errorCode, internal.topics[0]!.isInternal, internal.topics[0]!.partitions.length], [ErrorCode.NONE, true, 3])
  const records = buildRecordBatch([{ key: null, value: bytes('forged'), timestamp: 1_700_000_000_000 }])
  const forged = await a.request(ApiKey.Produce, 8, { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: '__consumer_offsets', partitionData: [{ index: 0, records }] }] })
  t.equal(forged.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION)
})
