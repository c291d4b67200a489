import t from 'tap'
import type { OffsetCommitInput, OffsetDeleteInput, OffsetFetchInput } from '../../../../actors/group-coordinator/messages.ts'
import { ErrorCode } from '../../../../src/protocol/kafka/error-codes.ts'
import { ApiKey } from '../../../../src/protocol/kafka/generated/index.ts'
import { call, FakeGroups, fakeContext } from './group-fixtures.ts'

const TOPICS = { orders: 3, payments: 1 }

const commitRequest = (version: number, extra: Record<string, unknown> = {}) => ({
  groupId: 'g',
  generationIdOrMemberEpoch: 5,
  memberId: 'm-1',
  retentionTimeMs: version <= 4 ? 86_400_000n : undefined,
  groupInstanceId: version >= 7 ? 'i-1' : undefined,
  topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 42n, committedLeaderEpoch: version >= 6 ? 3 : undefined, committedMetadata: 'meta' }] }],
  ...extra,
})

t.test('OffsetCommit', async (t) => {
  t.test('v2–v4 carry a retention time; v5+ leave it to the broker (-1)', async (t) => {
    for (const version of [2, 3, 4, 5, 6, 7]) {
      const groups = new FakeGroups()
      const r = await call(fakeContext(groups, TOPICS), ApiKey.OffsetCommit, version, commitRequest(version))
      t.same(r.topics, [{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.NONE }] }], `v${version}`)
      const input = groups.inputs('commitOffsets')[0] as OffsetCommitInput
      t.equal(input.retentionTimeMs, version <= 4 ? 86_400_000 : -1, `v${version} retention`)
    }
  })

  t.test('v6+ carry the leader epoch, v7 the group instance id', async (t) => {
    for (const version of [2, 5, 6, 7]) {
      const groups = new FakeGroups()
      await call(fakeContext(groups, TOPICS), ApiKey.OffsetCommit, version, commitRequest(version))
      const input = groups.inputs('commitOffsets')[0] as OffsetCommitInput
      t.same(
        { ...input, retentionTimeMs: undefined },
        {
          groupId: 'g',
          generationId: 5,
          memberId: 'm-1',
          groupInstanceId: version >= 7 ? 'i-1' : null,
          retentionTimeMs: undefined,
          topics: [{ name: 'orders', partitions: [{ partition: 0, offset: 42, leaderEpoch: version >= 6 ? 3 : -1, metadata: 'meta' }] }],
        },
        `v${version}`,
      )
    }
  })

  t.test('partitions the metadata does not have are UNKNOWN_TOPIC_OR_PARTITION; the rest are committed', async (t) => {
    const groups = new FakeGroups({
      commitOffsets: (input) =>
        Promise.resolve({ topics: input.topics.map((tp) => ({ name: tp.name, partitions: tp.partitions.map((p) => ({ partition: p.partition, errorCode: ErrorCode.OFFSET_METADATA_TOO_LARGE })) })) }),
    })
    const r = await call(fakeContext(groups, TOPICS), ApiKey.OffsetCommit, 7, {
      ...commitRequest(7),
      topics: [
        { name: 'orders', partitions: [0, 3, 2].map((partitionIndex) => ({ partitionIndex, committedOffset: 1n, committedMetadata: null })) },
        { name: 'missing', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedMetadata: null }] },
        { name: 'payments', partitions: [{ partitionIndex: 0, committedOffset: 9n, committedMetadata: null }] },
      ],
    })
    t.same(r.topics, [
      {
        name: 'orders',
        partitions: [
          { partitionIndex: 0, errorCode: ErrorCode.OFFSET_METADATA_TOO_LARGE },
          { partitionIndex: 3, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
          { partitionIndex: 2, errorCode: ErrorCode.OFFSET_METADATA_TOO_LARGE },
        ],
      },
      { name: 'missing', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }] },
      { name: 'payments', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.OFFSET_METADATA_TOO_LARGE }] },
    ])
    const input = groups.inputs('commitOffsets')[0] as OffsetCommitInput
    t.same(input.topics.map((tp) => [tp.name, tp.partitions.map((p) => p.partition)]), [['orders', [0, 2]], ['payments', [0]]], 'only existing partitions reach the coordinator')
  })

  t.test('when no partition exists, the coordinator is not asked', async (t) => {
    const groups = new FakeGroups()
    const r = await call(fakeContext(groups, TOPICS), ApiKey.OffsetCommit, 3, { ...commitRequest(3), topics: [{ name: 'missing', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedMetadata: null }] }] })
    t.same(r.topics, [{ name: 'missing', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }] }])
    t.same(groups.calls, [])
  })

  t.test("an empty group id is committed like any other (Kafka keeps that for old clients)", async (t) => {
    const groups = new FakeGroups()
    const r = await call(fakeContext(groups, TOPICS), ApiKey.OffsetCommit, 2, { ...commitRequest(2), groupId: '', generationIdOrMemberEpoch: -1, memberId: '' })
    t.equal(r.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE)
    t.equal((groups.inputs('commitOffsets')[0] as OffsetCommitInput).groupId, '')
  })

  t.test('a group-level error from the coordinator is on every partition it was given', async (t) => {
    const groups = new FakeGroups({
      commitOffsets: (input) =>
        Promise.resolve({ topics: input.topics.map((tp) => ({ name: tp.name, partitions: tp.partitions.map((p) => ({ partition: p.partition, errorCode: ErrorCode.ILLEGAL_GENERATION })) })) }),
    })
    const r = await call(fakeContext(groups, TOPICS), ApiKey.OffsetCommit, 4, commitRequest(4))
    t.same(r.topics[0]!.partitions, [{ partitionIndex: 0, errorCode: ErrorCode.ILLEGAL_GENERATION }])
  })
})

t.test('OffsetFetch', async (t) => {
  const committed = new FakeGroups({
    fetchOffsets: (input) =>
      Promise.resolve({
        errorCode: ErrorCode.NONE,
        topics: (input.topics ?? [{ name: 'orders', partitions: [0, 1] }]).map((tp) => ({
          name: tp.name,
          partitions: tp.partitions.map((p) => (tp.name === 'orders' && p === 0 ? { partition: p, offset: 42, leaderEpoch: 3, metadata: 'meta', errorCode: ErrorCode.NONE } : { partition: p, offset: -1, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE })),
        })),
      }),
  })

  t.test('topics pass through as asked, unknown ones too; the leader epoch from v5', async (t) => {
    for (const version of [1, 2, 3, 4, 5]) {
      committed.calls.length = 0
      const r = await call(fakeContext(committed, TOPICS), ApiKey.OffsetFetch, version, {
        groupId: 'g',
        topics: [{ name: 'orders', partitionIndexes: [0, 1] }, { name: 'never-heard-of', partitionIndexes: [0] }],
      })
      t.same(committed.inputs('fetchOffsets'), [{ groupId: 'g', topics: [{ name: 'orders', partitions: [0, 1] }, { name: 'never-heard-of', partitions: [0] }] }] satisfies OffsetFetchInput[], `v${version}`)
      const epoch = version >= 5 ? 3 : -1
      t.same(
        r.topics,
        [
          {
            name: 'orders',
            partitions: [
              { partitionIndex: 0, committedOffset: 42n, committedLeaderEpoch: epoch, metadata: 'meta', errorCode: ErrorCode.NONE },
              { partitionIndex: 1, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE },
            ],
          },
          { name: 'never-heard-of', partitions: [{ partitionIndex: 0, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE }] },
        ],
        `v${version}`,
      )
      t.equal(r.errorCode, ErrorCode.NONE)
    }
  })

  t.test('v2+ with null topics ask for every committed offset', async (t) => {
    committed.calls.length = 0
    const r = await call(fakeContext(committed, TOPICS), ApiKey.OffsetFetch, 2, { groupId: 'g', topics: null })
    t.same(committed.inputs('fetchOffsets'), [{ groupId: 'g', topics: null }])
    t.same(r.topics.map((tp) => [tp.name, tp.partitions.map((p) => p.partitionIndex)]), [['orders', [0, 1]]])
  })

  t.test('v1 has no top-level error: a group-level error is on every partition asked for', async (t) => {
    const groups = new FakeGroups({ fetchOffsets: () => Promise.resolve({ errorCode: ErrorCode.NOT_COORDINATOR, topics: [] }) })
    const r = await call(fakeContext(groups, TOPICS), ApiKey.OffsetFetch, 1, { groupId: 'g', topics: [{ name: 'orders', partitionIndexes: [0, 2] }] })
    t.same(r.topics, [
      {
        name: 'orders',
        partitions: [
          { partitionIndex: 0, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.NOT_COORDINATOR },
          { partitionIndex: 2, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.NOT_COORDINATOR },
        ],
      },
    ])
  })

  t.test('v2+ answer a group-level error at the top, with no topics', async (t) => {
    const groups = new FakeGroups({ fetchOffsets: () => Promise.resolve({ errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, topics: [] }) })
    for (const version of [2, 3, 4, 5]) {
      const r = await call(fakeContext(groups, TOPICS), ApiKey.OffsetFetch, version, { groupId: 'g', topics: [{ name: 'orders', partitionIndexes: [0] }] })
      t.same([r.errorCode, r.topics], [ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, []], `v${version}`)
    }
  })

  t.test("an empty group id is fetched like any other", async (t) => {
    const groups = new FakeGroups()
    const r = await call(fakeContext(groups, TOPICS), ApiKey.OffsetFetch, 3, { groupId: '', topics: [{ name: 'orders', partitionIndexes: [0] }] })
    t.equal(r.errorCode, ErrorCode.NONE)
    t.same((groups.inputs('fetchOffsets')[0] as OffsetFetchInput).groupId, '')
  })
})

t.test('OffsetDelete', async (t) => {
  t.test('partitions the metadata does not have are UNKNOWN_TOPIC_OR_PARTITION; the rest go to the coordinator', async (t) => {
    const groups = new FakeGroups({
      deleteOffsets: (input) =>
        Promise.resolve({ errorCode: ErrorCode.NONE, topics: input.topics.map((tp) => ({ name: tp.name, partitions: tp.partitions.map((p) => ({ partition: p, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC })) })) }),
    })
    const r = await call(fakeContext(groups, TOPICS), ApiKey.OffsetDelete, 0, {
      groupId: 'g',
      topics: [
        { name: 'orders', partitions: [{ partitionIndex: 1 }, { partitionIndex: 9 }] },
        { name: 'missing', partitions: [{ partitionIndex: 0 }] },
      ],
    })
    t.equal(r.errorCode, ErrorCode.NONE)
    t.same(r.topics, [
      { name: 'orders', partitions: [{ partitionIndex: 1, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC }, { partitionIndex: 9, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }] },
      { name: 'missing', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }] },
    ])
    t.same(groups.inputs('deleteOffsets'), [{ groupId: 'g', topics: [{ name: 'orders', partitions: [1] }] }] satisfies OffsetDeleteInput[])
  })

  t.test('a group-level error comes at the top, with no topics', async (t) => {
    const groups = new FakeGroups({ deleteOffsets: () => Promise.resolve({ errorCode: ErrorCode.NON_EMPTY_GROUP, topics: [] }) })
    const r = await call(fakeContext(groups, TOPICS), ApiKey.OffsetDelete, 0, { groupId: 'g', topics: [{ name: 'missing', partitions: [{ partitionIndex: 0 }] }] })
    t.same([r.errorCode, r.topics], [ErrorCode.NON_EMPTY_GROUP, []])
    t.same(groups.inputs('deleteOffsets'), [{ groupId: 'g', topics: [] }], "asked even with nothing to delete: the group's own error applies")
  })

  t.test('an empty group id is INVALID_GROUP_ID', async (t) => {
    const groups = new FakeGroups()
    const r = await call(fakeContext(groups, TOPICS), ApiKey.OffsetDelete, 0, { groupId: '', topics: [{ name: 'orders', partitions: [{ partitionIndex: 0 }] }] })
    t.same([r.errorCode, r.topics], [ErrorCode.INVALID_GROUP_ID, []])
    t.same(groups.calls, [])
  })
})
