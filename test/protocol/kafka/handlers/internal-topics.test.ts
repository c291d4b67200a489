// `__consumer_offsets` and `__transaction_state` belong to the coordinators: clients may read
// and list them but not write them, delete their records, or have them auto-created with a
// user topic's settings.
import t from 'tap'
import { ErrorCode } from '../../../../src/protocol/kafka/error-codes.ts'
import { ApiKey } from '../../../../src/protocol/kafka/generated/index.ts'
import { buildRecordBatch } from '../../../../src/record/record-batch.ts'
import { call, FakeGroups, fakeContext } from './group-fixtures.ts'

const batch = buildRecordBatch([{ key: null, value: new TextEncoder().encode('v'), timestamp: 1_700_000_000_000 }])
const produce = (topic: string, partition = 0) => ({ transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }] })
const metadata = (names: string[], allowAutoTopicCreation = true) => ({ topics: names.map((name) => ({ name })), allowAutoTopicCreation, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })

t.test('a client cannot produce to an internal topic', async (t) => {
  const ctx = fakeContext(new FakeGroups(), { __consumer_offsets: 50 })
  const r = await call(ctx, ApiKey.Produce, 8, produce('__consumer_offsets', 7))
  const p = r.responses[0]!.partitionResponses[0]!
  t.equal(p.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION)
  t.equal(p.errorMessage, 'Cannot append to internal topic __consumer_offsets')
})

t.test('producing to a missing internal topic does not create it', async (t) => {
  // The fake metadata service refuses createTopics: an attempt would fail the answer below.
  const ctx = fakeContext(new FakeGroups())
  for (const topic of ['__consumer_offsets', '__transaction_state']) {
    const r = await call(ctx, ApiKey.Produce, 8, produce(topic))
    t.equal(r.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, topic)
  }
})

t.test('Metadata flags internal topics', async (t) => {
  const ctx = fakeContext(new FakeGroups(), { __consumer_offsets: 2, orders: 1 })
  const r = await call(ctx, ApiKey.Metadata, 8, metadata(['__consumer_offsets', 'orders']))
  t.same(r.topics.map((tp) => [tp.name, tp.errorCode, tp.isInternal, tp.partitions.length]), [['__consumer_offsets', ErrorCode.NONE, true, 2], ['orders', ErrorCode.NONE, false, 1]])
})

t.test('Metadata for a missing __consumer_offsets has the group coordinator create it, and answers LEADER_NOT_AVAILABLE meanwhile', async (t) => {
  const groups = new FakeGroups()
  const ctx = fakeContext(groups)
  const r = await call(ctx, ApiKey.Metadata, 8, metadata(['__consumer_offsets', '__transaction_state']))
  t.same(r.topics.map((tp) => [tp.name, tp.errorCode, tp.isInternal]), [
    ['__consumer_offsets', ErrorCode.LEADER_NOT_AVAILABLE, true],
    ['__transaction_state', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, true],
  ])
  t.same(groups.inputs('findCoordinator'), [''], 'FindCoordinator creates it with the offsets.topic.* settings')
})

t.test('Metadata without auto-creation leaves a missing __consumer_offsets alone', async (t) => {
  const groups = new FakeGroups()
  const r = await call(fakeContext(groups), ApiKey.Metadata, 8, metadata(['__consumer_offsets'], false))
  t.same([r.topics[0]!.errorCode, r.topics[0]!.isInternal], [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, true])
  t.same(groups.calls, [])
})

t.test("a client cannot delete an internal topic's records", async (t) => {
  const ctx = fakeContext(new FakeGroups(), { __consumer_offsets: 50 })
  const r = await call(ctx, ApiKey.DeleteRecords, 1, { topics: [{ name: '__consumer_offsets', partitions: [{ partitionIndex: 3, offset: 10n }, { partitionIndex: 99, offset: 10n }] }], timeoutMs: 1000 })
  t.same(r.topics[0]!.partitions.map((p) => [p.partitionIndex, p.errorCode]), [[3, ErrorCode.INVALID_TOPIC_EXCEPTION], [99, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]])
})
