import t from 'tap'
import { DEFAULT_BROKER_CONFIG } from '../../src/broker/broker-config.ts'
import { applyRecords, emptyImage } from '../../src/cluster/metadata-image.ts'
import {
  brokerConfigProblem,
  describeTopicConfigs,
  effectiveBrokerConfig,
  isDynamicBrokerConfig,
  topicConfigProblem,
  topicLogConfig,
  TOPIC_CONFIG_NAMES,
} from '../../src/cluster/topic-configs.ts'

const ID = 'AAECAwQFBgcICQoLDA0ODw'

t.test('a topic log config: broker defaults, dynamic overrides, topic overrides', async (t) => {
  const config = { ...DEFAULT_BROKER_CONFIG, 'log.segment.bytes': 5000, 'node.id': 3 }
  const image = applyRecords(emptyImage('c', 3), [
    { record: { type: 'TopicRecord', name: 'x', topicId: ID }, offset: 0 },
    { record: { type: 'ConfigRecord', resourceType: 2, resourceName: 'x', name: 'retention.ms', value: '77' }, offset: 1 },
    { record: { type: 'ConfigRecord', resourceType: 4, resourceName: '', name: 'log.retention.bytes', value: '100' }, offset: 2 },
    { record: { type: 'ConfigRecord', resourceType: 4, resourceName: '', name: 'log.cleanup.policy', value: 'compact' }, offset: 3 },
    { record: { type: 'ConfigRecord', resourceType: 4, resourceName: '3', name: 'log.retention.bytes', value: '200' }, offset: 4 },
    { record: { type: 'ConfigRecord', resourceType: 4, resourceName: '4', name: 'log.retention.bytes', value: '400' }, offset: 5 },
  ])
  t.match(topicLogConfig(image, 'x', config), { 'retention.ms': 77, 'segment.bytes': 5000, 'retention.bytes': 200, 'cleanup.policy': 'compact' })
  t.equal(topicLogConfig(image, 'nope', config), undefined)
  t.match(effectiveBrokerConfig(image, config), { 'log.retention.bytes': 200, 'log.cleanup.policy': 'compact' })
  const described = describeTopicConfigs({ 'retention.ms': '77' }, config)
  t.same(described.map((c) => c.name), TOPIC_CONFIG_NAMES)
  t.match(described.find((c) => c.name === 'retention.ms'), { value: '77', isDefault: false })
  t.match(described.find((c) => c.name === 'compression.type'), { value: 'producer', isDefault: true })
})

t.test('validation', async (t) => {
  t.equal(topicConfigProblem({ 'retention.ms': '5', 'compression.type': 'zstd', 'min.insync.replicas': '2', preallocate: 'TRUE', 'min.cleanable.dirty.ratio': '0.1', 'follower.replication.throttled.replicas': '0:1,1:2' }), null)
  t.match(topicConfigProblem({ 'message.timestamp.difference.max.ms': '99999999999999999999' }), /expected an integer >= 0/)
  t.match(topicConfigProblem({ 'file.delete.delay.ms': 'x' }), /expected an integer >= 0/)
  t.match(topicConfigProblem({ 'min.cleanable.dirty.ratio': '' }), /from 0 to 1/)
  t.ok(isDynamicBrokerConfig('log.retention.ms') && !isDynamicBrokerConfig('num.partitions'))
  t.equal(brokerConfigProblem('message.max.bytes', '1000'), null)
  t.match(brokerConfigProblem('log.retention.ms', '-5'), /for log\.retention\.ms: expected an integer >= -1/)
})
