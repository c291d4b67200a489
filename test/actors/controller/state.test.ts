// The controller's pure state machine: decisions (handle) and their replay, with Kafka's error codes.
import t from 'tap'
import type { ControllerRequest, ReplyOf, RequestOf } from '../../../actors/controller/messages.ts'
import { handle, initialState, MAX_PARTITIONS, replay, replayBatch, type ControllerContext, type ControllerState } from '../../../actors/controller/state.ts'
import { DEFAULT_BROKER_CONFIG } from '../../../src/broker/broker-config.ts'
import { applyRecords } from '../../../src/cluster/metadata-image.ts'
import { decodeMetadataRecord, encodeMetadataRecord, type MetadataRecord } from '../../../src/cluster/metadata-records.ts'
import { ErrorCode } from '../../../src/protocol/kafka/error-codes.ts'
import { SeededRandom } from '../../../src/sim/random.ts'

const E = ErrorCode

function setup(config: Partial<typeof DEFAULT_BROKER_CONFIG> = {}) {
  const ctx: ControllerContext = { config: { ...DEFAULT_BROKER_CONFIG, ...config }, random: new SeededRandom(42) }
  let state: ControllerState = initialState('cluster-1', ctx.config['node.id'])
  const log: MetadataRecord[] = []
  const run = <T extends ControllerRequest['type']>(req: RequestOf<T>): ReplyOf[T] => {
    const before = state
    const { records, reply } = handle(state, req, ctx)
    t.equal(state, before, 'handle changes nothing')
    // through the codec, as the actor does
    const entries = records.map((r, i) => ({ record: decodeMetadataRecord(encodeMetadataRecord(r)), offset: state.image.offset + 1 + i }))
    state = replayBatch(state, entries)
    log.push(...entries.map((e) => e.record))
    return reply
  }
  run({ type: 'registerBroker', nodeId: ctx.config['node.id'], host: 'localhost', port: 9092, rack: null })
  return { ctx, run, state: () => state, log }
}

t.test('bootstrap: a feature level and the broker registration', async (t) => {
  const { state, log, run } = setup()
  t.same(log.map((r) => r.type), ['FeatureLevelRecord', 'RegisterBrokerRecord'])
  t.equal(state().features.get('metadata.version'), 1)
  t.same(state().image.brokers.get(1), { nodeId: 1, host: 'localhost', port: 9092, rack: null, fenced: false })
  t.match(log[1], { brokerEpoch: 1n })
  t.same(run({ type: 'registerBroker', nodeId: 1, host: 'localhost', port: 9092, rack: null }), { registered: false, brokerEpoch: null })
  t.equal(log.length, 2, 'unchanged registration writes nothing')
  t.same(run({ type: 'registerBroker', nodeId: 1, host: 'example.org', port: 9093, rack: 'r' }), { registered: true, brokerEpoch: 2n })
  t.same(log.map((r) => r.type), ['FeatureLevelRecord', 'RegisterBrokerRecord', 'RegisterBrokerRecord'], 'no second feature level')
  t.match(state().image.brokers.get(1), { host: 'example.org', port: 9093, rack: 'r' })
})

t.test('createTopics: defaults, placement, ids, configs', async (t) => {
  const { run, state, log } = setup({ 'num.partitions': 3, 'node.id': 5 })
  const [r] = run({ type: 'createTopics', topics: [{ name: 'orders', numPartitions: -1, replicationFactor: -1, configs: { 'retention.ms': '1000', 'cleanup.policy': 'compact' } }], validateOnly: false })
  t.match(r, { name: 'orders', errorCode: 0, errorMessage: null, numPartitions: 3, replicationFactor: 1 })
  t.match(r!.topicId, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/)
  const topic = state().image.topics.get('orders')!
  t.equal(state().image.topicsById.get(r!.topicId!), topic)
  t.same(topic.partitions.map((p) => [p.partition, p.replicas, p.isr, p.leader, p.leaderEpoch, p.partitionEpoch]), [0, 1, 2].map((p) => [p, [5], [5], 5, 0, 0]))
  t.same(topic.configs, { 'cleanup.policy': 'compact', 'retention.ms': '1000' })
  t.equal(topic.internal, false)
  t.same(log.slice(2).map((x) => x.type), ['TopicRecord', 'ConfigRecord', 'ConfigRecord', 'PartitionRecord', 'PartitionRecord', 'PartitionRecord'])
  const retention = r!.configs.find((c) => c.name === 'retention.ms')!
  t.same(retention, { name: 'retention.ms', value: '1000', isDefault: false, readOnly: false, sensitive: false })
  t.match(r!.configs.find((c) => c.name === 'segment.bytes'), { value: String(DEFAULT_BROKER_CONFIG['log.segment.bytes']), isDefault: true })
  t.ok(r!.configs.find((c) => c.name === 'min.insync.replicas'))

  const [internal] = run({ type: 'createTopics', topics: [{ name: '__consumer_offsets', numPartitions: 2, replicationFactor: 1 }], validateOnly: false })
  t.equal(internal!.errorCode, 0)
  t.equal(state().image.topics.get('__consumer_offsets')!.internal, true)
})

t.test('createTopics: every error', async (t) => {
  const { run, state } = setup()
  run({ type: 'createTopics', topics: [{ name: 'a_b', numPartitions: 1, replicationFactor: 1 }, { name: 'taken', numPartitions: 1, replicationFactor: 1 }], validateOnly: false })
  const before = state()
  const cases: [object, number, RegExp | null][] = [
    [{ name: '' }, E.INVALID_TOPIC_EXCEPTION, /can't be empty/],
    [{ name: '.' }, E.INVALID_TOPIC_EXCEPTION, /cannot be "\." or "\.\."/],
    [{ name: '..' }, E.INVALID_TOPIC_EXCEPTION, /cannot be "\." or "\.\."/],
    [{ name: 'x'.repeat(250) }, E.INVALID_TOPIC_EXCEPTION, /can't be longer than 249 characters/],
    [{ name: 'bad name' }, E.INVALID_TOPIC_EXCEPTION, /contains a character other than ASCII alphanumerics/],
    [{ name: 'a.b' }, E.INVALID_TOPIC_EXCEPTION, /Topic 'a\.b' collides with existing topic: a_b/],
    [{ name: 'taken' }, E.TOPIC_ALREADY_EXISTS, /Topic 'taken' already exists\./],
    [{ name: '__cluster_metadata' }, E.INVALID_REQUEST, /prohibited/],
    [{ name: 'p0', numPartitions: 0 }, E.INVALID_PARTITIONS, /invalid non-positive value/],
    [{ name: 'p-2', numPartitions: -2 }, E.INVALID_PARTITIONS, /invalid non-positive value/],
    [{ name: 'pmax', numPartitions: MAX_PARTITIONS + 1 }, E.INVALID_PARTITIONS, /above the maximum/],
    [{ name: 'r0', replicationFactor: 0 }, E.INVALID_REPLICATION_FACTOR, /larger than 0/],
    [{ name: 'r3', replicationFactor: 3 }, E.INVALID_REPLICATION_FACTOR, /replication factor of 3 cannot be reached because only 1 broker\(s\) are registered/],
    [{ name: 'c1', configs: { 'retention.ms': 'soon' } }, E.INVALID_CONFIG, /invalid value 'soon' for retention\.ms/],
    [{ name: 'c2', configs: { 'no.such.config': '1' } }, E.INVALID_CONFIG, /Unknown topic config name: no\.such\.config/],
    [{ name: 'c3', configs: { 'retention.ms': null } }, E.INVALID_CONFIG, /Null value not supported/],
    [{ name: 'c4', configs: { 'compression.type': 'brotli' } }, E.INVALID_CONFIG, /compression\.type/],
    [{ name: 'c5', configs: { 'min.insync.replicas': '0' } }, E.INVALID_CONFIG, /min\.insync\.replicas/],
    [{ name: 'c6', configs: { 'unclean.leader.election.enable': 'maybe' } }, E.INVALID_CONFIG, /true or false/],
    [{ name: 'c7', configs: { 'min.cleanable.dirty.ratio': '2' } }, E.INVALID_CONFIG, /from 0 to 1/],
    [{ name: 'c8', configs: { 'leader.replication.throttled.replicas': 'x' } }, E.INVALID_CONFIG, /partition:broker/],
    [{ name: 'm1', numPartitions: 2, assignments: [[1]] }, E.INVALID_REQUEST, /numPartitions was not set to -1/],
    [{ name: 'm2', replicationFactor: 1, assignments: [[1]] }, E.INVALID_REQUEST, /replicationFactor was not set to -1/],
    [{ name: 'm3', assignments: [[]] }, E.INVALID_REPLICA_ASSIGNMENT, /empty replica list/],
    [{ name: 'm4', assignments: [[1, 1]] }, E.INVALID_REPLICA_ASSIGNMENT, /broker 1 more than once/],
    [{ name: 'm5', assignments: [[7]] }, E.INVALID_REPLICA_ASSIGNMENT, /broker 7, but no such broker is registered/],
    [{ name: 'm6', assignments: Array.from({ length: MAX_PARTITIONS + 1 }, () => [1]) }, E.INVALID_PARTITIONS, /above the maximum/],
  ]
  const replies = run({
    type: 'createTopics',
    topics: cases.map(([c]) => ({ numPartitions: -1, replicationFactor: -1, ...c }) as never),
    validateOnly: false,
  })
  replies.forEach((r, i) => {
    const [c, code, message] = cases[i]!
    t.equal(r.errorCode, code, `${JSON.stringify(c).slice(0, 60)}: code`)
    if (message) t.match(r.errorMessage, message)
    t.same([r.topicId, r.numPartitions, r.replicationFactor, r.configs], [null, -1, -1, []])
  })
  t.equal(state().image.offset, before.image.offset, 'nothing written')

  // duplicates in one request: both refused
  const dup = run({ type: 'createTopics', topics: [{ name: 'd', numPartitions: 1, replicationFactor: 1 }, { name: 'd', numPartitions: 1, replicationFactor: 1 }], validateOnly: false })
  t.same(dup.map((r) => [r.errorCode, r.errorMessage]), [[E.INVALID_REQUEST, 'Duplicate topic name.'], [E.INVALID_REQUEST, 'Duplicate topic name.']])
  // colliding names within one request: the second one collides with the first
  const coll = run({ type: 'createTopics', topics: [{ name: 'x.y', numPartitions: 1, replicationFactor: 1 }, { name: 'x_y', numPartitions: 1, replicationFactor: 1 }], validateOnly: false })
  t.same(coll.map((r) => r.errorCode), [0, E.INVALID_TOPIC_EXCEPTION])
})

t.test('createTopics: collision warning, explicit assignments, validateOnly', async (t) => {
  const { run, state, ctx } = setup()
  const { warnings } = handle(state(), { type: 'createTopics', topics: [{ name: 'with.dot', numPartitions: 1, replicationFactor: 1 }], validateOnly: false }, ctx)
  t.match(warnings, [/with\.dot: Due to limitations in metric names/])
  const [m] = run({ type: 'createTopics', topics: [{ name: 'manual', numPartitions: -1, replicationFactor: -1, assignments: [[1], [1]] }], validateOnly: false })
  t.match(m, { errorCode: 0, numPartitions: 2, replicationFactor: 1 })
  t.same(state().image.topics.get('manual')!.partitions.map((p) => p.replicas), [[1], [1]])
  const offset = state().image.offset
  const v = handle(state(), { type: 'createTopics', topics: [{ name: 'dry', numPartitions: 4, replicationFactor: 1 }, { name: 'manual', numPartitions: 1, replicationFactor: 1 }], validateOnly: true }, ctx)
  t.same(v.records, [])
  t.match(v.reply, [{ name: 'dry', errorCode: 0, topicId: null, numPartitions: 4 }, { name: 'manual', errorCode: E.TOPIC_ALREADY_EXISTS }])
  t.equal(state().image.offset, offset)
})

t.test('deleteTopics', async (t) => {
  const { run, state } = setup()
  const created = run({ type: 'createTopics', topics: ['a', 'b', 'c'].map((name) => ({ name, numPartitions: 2, replicationFactor: 1 })), validateOnly: false })
  const idB = created[1]!.topicId!
  const replies = run({
    type: 'deleteTopics',
    topics: [{ name: 'a' }, { topicId: idB }, { name: 'nope' }, { topicId: 'AAAAAAAAAAAAAAAAAAAAAw' }, { name: 'c', topicId: created[2]!.topicId! }, {}, { name: 'a' }],
  })
  t.match(replies, [
    { name: 'a', errorCode: E.INVALID_REQUEST, errorMessage: 'Duplicate topic name.' },
    { name: 'b', topicId: idB, errorCode: 0, errorMessage: null },
    { name: 'nope', topicId: null, errorCode: E.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'This server does not host this topic-partition.' },
    { name: null, topicId: 'AAAAAAAAAAAAAAAAAAAAAw', errorCode: E.UNKNOWN_TOPIC_ID, errorMessage: 'This server does not host this topic ID.' },
    { name: 'c', errorCode: E.INVALID_REQUEST },
    { errorCode: E.INVALID_REQUEST },
    { name: 'a', errorCode: E.INVALID_REQUEST },
  ])
  t.same([...state().image.topics.keys()].sort(), ['a', 'c'])
  t.notOk(state().image.topicsById.has(idB))
  // by name then by id in one request: the second finds nothing
  const again = run({ type: 'deleteTopics', topics: [{ name: 'c' }, { topicId: created[2]!.topicId! }] })
  t.same(again.map((r) => r.errorCode), [0, E.UNKNOWN_TOPIC_ID])
  // the zero uuid counts as no id
  t.same(run({ type: 'deleteTopics', topics: [{ name: 'a', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }] }).map((r) => r.errorCode), [0])
  // a name can be reused, with a new id
  const [re] = run({ type: 'createTopics', topics: [{ name: 'b', numPartitions: 1, replicationFactor: 1 }], validateOnly: false })
  t.not(re!.topicId, idB)
})

t.test('createPartitions', async (t) => {
  const { run, state, ctx } = setup()
  run({ type: 'createTopics', topics: [{ name: 't', numPartitions: 2, replicationFactor: 1 }], validateOnly: false })
  const v = handle(state(), { type: 'createPartitions', topics: [{ name: 't', count: 4 }], validateOnly: true }, ctx)
  t.same(v.records, [])
  t.match(v.reply, [{ errorCode: 0 }])
  const replies = run({
    type: 'createPartitions',
    topics: [
      { name: 't', count: 5 },
      { name: 'missing', count: 3 },
      { name: 'dup', count: 3 },
      { name: 'dup', count: 3 },
    ],
    validateOnly: false,
  })
  t.match(replies, [
    { name: 't', errorCode: 0, errorMessage: null },
    { name: 'missing', errorCode: E.UNKNOWN_TOPIC_OR_PARTITION },
    { errorCode: E.INVALID_REQUEST, errorMessage: 'Duplicate topic name.' },
    { errorCode: E.INVALID_REQUEST },
  ])
  t.same(state().image.topics.get('t')!.partitions.map((p) => [p.partition, p.leader, p.replicas]), [0, 1, 2, 3, 4].map((p) => [p, 1, [1]]))
  const errors = run({
    type: 'createPartitions',
    topics: [
      { name: 't', count: 5 },
    ],
    validateOnly: false,
  })
  t.match(errors, [{ errorCode: E.INVALID_PARTITIONS, errorMessage: 'Topic already has 5 partition(s).' }])
  t.match(run({ type: 'createPartitions', topics: [{ name: 't', count: 3 }], validateOnly: false }), [
    { errorCode: E.INVALID_PARTITIONS, errorMessage: 'The topic t currently has 5 partition(s); 3 would not be an increase.' },
  ])
  t.match(run({ type: 'createPartitions', topics: [{ name: 't', count: MAX_PARTITIONS + 1 }], validateOnly: false }), [{ errorCode: E.INVALID_PARTITIONS }])
  t.match(run({ type: 'createPartitions', topics: [{ name: 't', count: 7, assignments: [[1]] }], validateOnly: false }), [
    { errorCode: E.INVALID_REPLICA_ASSIGNMENT, errorMessage: 'Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.' },
  ])
  t.match(run({ type: 'createPartitions', topics: [{ name: 't', count: 6, assignments: [[9]] }], validateOnly: false }), [{ errorCode: E.INVALID_REPLICA_ASSIGNMENT }])
  t.match(run({ type: 'createPartitions', topics: [{ name: 't', count: 6, assignments: [[1]] }], validateOnly: false }), [{ errorCode: 0 }])
  t.equal(state().image.topics.get('t')!.partitions.length, 6)
})

t.test('alterConfigs and incrementalAlterConfigs: topics', async (t) => {
  const { run, state, ctx } = setup()
  run({ type: 'createTopics', topics: [{ name: 't', numPartitions: 1, replicationFactor: 1, configs: { 'retention.ms': '1000', 'segment.bytes': '100000' } }], validateOnly: false })
  const cfg = () => state().image.topics.get('t')!.configs
  // AlterConfigs: the full set
  t.match(run({ type: 'alterConfigs', resources: [{ type: 'topic', name: 't', configs: [{ name: 'retention.ms', value: '2000' }] }], validateOnly: false, incremental: false }), [
    { type: 'topic', name: 't', errorCode: 0 },
  ])
  t.same(cfg(), { 'retention.ms': '2000' }, 'unlisted keys went back to defaults')
  // validateOnly changes nothing
  const v = handle(state(), { type: 'alterConfigs', resources: [{ type: 'topic', name: 't', configs: [{ name: 'retention.ms', value: '5' }] }], validateOnly: true, incremental: false }, ctx)
  t.same(v.records, [])
  // Incremental: set, delete, append, subtract
  t.match(
    run({
      type: 'alterConfigs',
      resources: [{ type: 'topic', name: 't', configs: [{ name: 'cleanup.policy', value: 'compact', op: 'append' }, { name: 'retention.ms', value: null, op: 'delete' }, { name: 'max.message.bytes', value: '2000', op: 'set' }] }],
      validateOnly: false,
      incremental: true,
    }),
    [{ errorCode: 0 }],
  )
  t.same(cfg(), { 'cleanup.policy': 'delete,compact', 'max.message.bytes': '2000' })
  run({ type: 'alterConfigs', resources: [{ type: 'topic', name: 't', configs: [{ name: 'cleanup.policy', value: 'delete', op: 'subtract' }] }], validateOnly: false, incremental: true })
  t.same(cfg()['cleanup.policy'], 'compact')
  const offset = state().image.offset
  run({ type: 'alterConfigs', resources: [{ type: 'topic', name: 't', configs: [{ name: 'max.message.bytes', value: '2000' }] }], validateOnly: false, incremental: true })
  t.equal(state().image.offset, offset, 'no change, no record')
  const errors = run({
    type: 'alterConfigs',
    resources: [
      { type: 'topic', name: 'missing', configs: [] },
      { type: 'topic', name: 't', configs: [{ name: 'retention.ms', value: 'x' }] },
    ],
    validateOnly: false,
    incremental: true,
  })
  t.match(errors, [{ errorCode: E.UNKNOWN_TOPIC_OR_PARTITION }, { errorCode: E.INVALID_CONFIG, errorMessage: /retention\.ms/ }])
  const more: [object[], boolean, number, RegExp][] = [
    [[{ name: 'retention.ms', value: '1', op: 'append' }], true, E.INVALID_CONFIG, /Can't APPEND to key retention\.ms because its type is not LIST/],
    [[{ name: 'bogus', value: null, op: 'delete' }], true, E.INVALID_CONFIG, /Unknown topic config name: bogus/],
    [[{ name: 'retention.ms', value: null, op: 'set' }], true, E.INVALID_CONFIG, /Null value/],
    [[{ name: 'retention.ms', value: '1', op: 'frobnicate' }], true, E.INVALID_REQUEST, /Unknown alter config operation/],
    [[{ name: 'retention.ms', value: '1' }, { name: 'retention.ms', value: '2' }], true, E.INVALID_REQUEST, /duplicate config keys/],
    [[{ name: 'retention.ms', value: null }], false, E.INVALID_CONFIG, /Null value/],
  ]
  for (const [configs, incremental, code, message] of more) {
    const [r] = run({ type: 'alterConfigs', resources: [{ type: 'topic', name: 't', configs: configs as never }], validateOnly: false, incremental })
    t.equal(r!.errorCode, code, JSON.stringify(configs))
    t.match(r!.errorMessage, message)
  }
  const dup = run({ type: 'alterConfigs', resources: [{ type: 'topic', name: 't', configs: [] }, { type: 'topic', name: 't', configs: [] }], validateOnly: false, incremental: false })
  t.same(dup.map((r) => r.errorCode), [E.INVALID_REQUEST, E.INVALID_REQUEST])
  t.match(run({ type: 'alterConfigs', resources: [{ type: 'group' as never, name: 'g', configs: [] }], validateOnly: false, incremental: false }), [{ errorCode: E.INVALID_REQUEST }])
})

t.test('alterConfigs: brokers', async (t) => {
  const { run, state } = setup()
  t.match(run({ type: 'alterConfigs', resources: [{ type: 'broker', name: '', configs: [{ name: 'log.retention.ms', value: '5000' }] }], validateOnly: false, incremental: true }), [{ errorCode: 0 }])
  t.match(run({ type: 'alterConfigs', resources: [{ type: 'broker', name: '1', configs: [{ name: 'log.cleanup.policy', value: 'compact', op: 'append' }] }], validateOnly: false, incremental: true }), [{ errorCode: 0 }])
  t.same(state().image.brokerConfigs!.get(''), { 'log.retention.ms': '5000' })
  t.same(state().image.brokerConfigs!.get('1'), { 'log.cleanup.policy': 'delete,compact' })
  const errors = run({
    type: 'alterConfigs',
    resources: [
      { type: 'broker', name: 'x', configs: [] },
      { type: 'broker', name: '2', configs: [{ name: 'num.partitions', value: '3' }] },
      { type: 'broker', name: '3', configs: [{ name: 'whatever', value: '3' }] },
      { type: 'broker', name: '4', configs: [{ name: 'log.segment.bytes', value: '1' }] },
    ],
    validateOnly: false,
    incremental: true,
  })
  t.match(errors, [
    { errorCode: E.INVALID_REQUEST, errorMessage: 'Invalid broker name x' },
    { errorCode: E.INVALID_REQUEST, errorMessage: 'Cannot update these configs dynamically: num.partitions' },
    { errorCode: E.INVALID_CONFIG, errorMessage: 'Unknown broker config name: whatever' },
    { errorCode: E.INVALID_CONFIG, errorMessage: /log\.segment\.bytes/ },
  ])
  // AlterConfigs (not incremental) with an empty set removes the overrides
  run({ type: 'alterConfigs', resources: [{ type: 'broker', name: '', configs: [] }], validateOnly: false, incremental: false })
  t.notOk(state().image.brokerConfigs!.has(''))
})

t.test('replay = live: the same records give the same image, and replay asserts transitions', async (t) => {
  const { run, state, log, ctx } = setup()
  run({ type: 'createTopics', topics: [{ name: 'a', numPartitions: 3, replicationFactor: 1, configs: { 'retention.ms': '10' } }, { name: 'b', numPartitions: 1, replicationFactor: 1 }], validateOnly: false })
  run({ type: 'createPartitions', topics: [{ name: 'b', count: 4 }], validateOnly: false })
  run({ type: 'deleteTopics', topics: [{ name: 'a' }] })
  run({ type: 'alterConfigs', resources: [{ type: 'topic', name: 'b', configs: [{ name: 'segment.bytes', value: '100000' }] }], validateOnly: false, incremental: true })
  // one record at a time, from the beginning
  let again = initialState('cluster-1', ctx.config['node.id'])
  log.forEach((record, offset) => (again = replay(again, record, offset)))
  t.same(again.image, state().image)
  t.same(again.features, state().features)
  // an invalid history throws
  t.throws(() => replay(again, log[0]!, 0), /not after the image's offset/)
  t.throws(() => replay(initialState('c', 1), { type: 'RemoveTopicRecord', topicId: 'AAAAAAAAAAAAAAAAAAAAAw' }, 0), /RemoveTopicRecord for topic id .*, which is absent/)
  // a feature level of 0 removes the feature
  const s = replay(again, { type: 'FeatureLevelRecord', name: 'metadata.version', featureLevel: 0 }, again.image.offset + 1)
  t.notOk(s.features.has('metadata.version'))
  t.same(applyRecords(state().image, []), state().image)
})
