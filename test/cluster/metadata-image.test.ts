import t from 'tap'
import { applyRecord, applyRecords, emptyImage, ImageBuilder, MetadataReplayError, TRANSITIONS } from '../../src/cluster/metadata-image.ts'
import type { MetadataRecord } from '../../src/cluster/metadata-records.ts'

const ID = 'AAECAwQFBgcICQoLDA0ODw'
const ID2 = 'AQECAwQFBgcICQoLDA0ODw'
const part = (partitionId: number, topicId = ID): MetadataRecord => ({
  type: 'PartitionRecord', partitionId, topicId, replicas: [1], isr: [1], removingReplicas: [], addingReplicas: [], leader: 1, leaderRecoveryState: 0, leaderEpoch: 0, partitionEpoch: 0,
})
const change = (over: object): MetadataRecord => ({
  type: 'PartitionChangeRecord', partitionId: 0, topicId: ID, isr: null, leader: -2, replicas: null, removingReplicas: null, addingReplicas: null, leaderRecoveryState: -1, ...over,
})
const entries = (records: MetadataRecord[], from = 0) => records.map((record, i) => ({ record, offset: from + i }))

t.test('replay builds a frozen image and leaves the old one alone', async (t) => {
  const empty = emptyImage('c', 1)
  const image = applyRecords(empty, entries([{ type: 'TopicRecord', name: 'x', topicId: ID }, part(0), part(1), { type: 'ConfigRecord', resourceType: 2, resourceName: 'x', name: 'retention.ms', value: '5' }]))
  t.equal(empty.topics.size, 0)
  t.equal(image.offset, 3)
  const x = image.topics.get('x')!
  t.equal(image.topicsById.get(ID), x)
  t.ok(Object.isFrozen(x) && Object.isFrozen(x.partitions) && Object.isFrozen(x.partitions[0]) && Object.isFrozen(x.configs))
  t.same(x.configs, { 'retention.ms': '5' })
  // PartitionChangeRecord: leader change bumps both epochs, an ISR change only the partition epoch
  const a = applyRecord(image, change({ isr: [1, 2] }), 4)
  t.match(a.topics.get('x')!.partitions[0], { isr: [1, 2], leader: 1, leaderEpoch: 0, partitionEpoch: 1 })
  const b = applyRecord(a, change({ leader: 2, replicas: [2, 1] }), 5)
  t.match(b.topics.get('x')!.partitions[0], { replicas: [2, 1], leader: 2, leaderEpoch: 1, partitionEpoch: 2 })
  t.match(image.topics.get('x')!.partitions[0], { isr: [1], partitionEpoch: 0 }, 'older image untouched')
  const c = applyRecord(b, { type: 'ConfigRecord', resourceType: 2, resourceName: 'x', name: 'retention.ms', value: null }, 6)
  t.same(c.topics.get('x')!.configs, {})
  const d = applyRecord(c, { type: 'RemoveTopicRecord', topicId: ID }, 7)
  t.equal(d.topics.size + d.topicsById.size, 0)
  t.equal(c.topics.size, 1)
  // broker configs
  const e = applyRecords(d, entries([{ type: 'ConfigRecord', resourceType: 4, resourceName: '', name: 'log.retention.ms', value: '9' }, { type: 'ConfigRecord', resourceType: 4, resourceName: '', name: 'log.retention.ms', value: null }], 8))
  t.equal(e.brokerConfigs!.size, 0)
  // NoOp advances the offset only
  t.equal(applyRecord(e, { type: 'NoOpRecord' }, 10).offset, 10)
  t.same(Object.keys(TRANSITIONS).sort(), ['ConfigRecord', 'FeatureLevelRecord', 'NoOpRecord', 'PartitionChangeRecord', 'PartitionRecord', 'RegisterBrokerRecord', 'RemoveTopicRecord', 'TopicRecord'])
})

t.test('the builder copies on write, also after build()', async (t) => {
  const base = applyRecord(emptyImage('c', 1), { type: 'TopicRecord', name: 'x', topicId: ID }, 0)
  const b = new ImageBuilder(base)
  t.equal(b.build(), base, 'nothing applied: the same image')
  b.apply({ type: 'TopicRecord', name: 'y', topicId: ID2 }, 1)
  const one = b.build()
  b.apply({ type: 'RemoveTopicRecord', topicId: ID }, 2)
  const two = b.build()
  t.same([...one.topics.keys()], ['x', 'y'])
  t.same([...two.topics.keys()], ['y'])
  t.same([...base.topics.keys()], ['x'])
})

t.test('transitions that the table forbids throw', async (t) => {
  const base = applyRecords(emptyImage('c', 1), entries([{ type: 'TopicRecord', name: 'x', topicId: ID }, part(0)]))
  const bad: [MetadataRecord, RegExp][] = [
    [{ type: 'TopicRecord', name: 'x', topicId: ID2 }, /TopicRecord for topic x .* which is present/],
    [{ type: 'TopicRecord', name: 'z', topicId: ID }, /which is present/],
    [part(0), /PartitionRecord for partition x-0, which is present/],
    [part(2), /has 1 partitions \(ids are contiguous\)/],
    [part(0, ID2), /unknown topic id/],
    [change({ partitionId: 3 }), /PartitionChangeRecord for partition x-3, which is absent/],
    [{ type: 'RemoveTopicRecord', topicId: ID2 }, /which is absent/],
    [{ type: 'ConfigRecord', resourceType: 2, resourceName: 'nope', name: 'a', value: 'b' }, /ConfigRecord for topic nope, which is absent/],
    [{ type: 'ConfigRecord', resourceType: 8, resourceName: 'g', name: 'a', value: 'b' }, /resource type 8/],
    [{ type: 'RegisterBrokerRecord', brokerId: 1, isMigratingZkBroker: false, incarnationId: ID, brokerEpoch: 0n, endPoints: [], features: [], rack: null, fenced: false, inControlledShutdown: false }, /no endpoint/],
  ]
  for (const [record, message] of bad) t.throws(() => applyRecord(base, record, 2), { name: 'MetadataReplayError', message }, record.type)
  t.throws(() => applyRecord(base, { type: 'NoOpRecord' }, 1), MetadataReplayError)
  // an endpoint other than PLAINTEXT is used when it is the only one
  const reg = applyRecord(base, { type: 'RegisterBrokerRecord', brokerId: 2, isMigratingZkBroker: false, incarnationId: ID, brokerEpoch: 0n, endPoints: [{ name: 'EXTERNAL', host: 'h', port: 1, securityProtocol: 0 }], features: [], rack: 'r', fenced: true, inControlledShutdown: false }, 2)
  t.same(reg.brokers.get(2), { nodeId: 2, host: 'h', port: 1, rack: 'r', fenced: true })
})
