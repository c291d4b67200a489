import t from 'tap'
import { DEFAULT_BROKER_CONFIG } from '../../src/broker/broker-config.ts'
import { applyRecords, emptyImage } from '../../src/cluster/metadata-image.ts'
import type { BrokerSettings } from '../../src/broker/broker-config.ts'
import {
  brokerConfigProblem,
  ConfigSource,
  describeBrokerConfigs,
  describeTopicConfigs,
  effectiveBrokerConfig,
  isDynamicBrokerConfig,
  minInsyncReplicas,
  partitionLogConfig,
  resolveTopicConfigs,
  topicConfigProblem,
  topicLogConfig,
  TOPIC_CONFIG_NAMES,
} from '../../src/cluster/topic-configs.ts'
import { DEFAULT_LOG_CONFIG } from '../../src/log/log-config.ts'
import { RecordingLogger } from '../../src/runtime/logger.ts'

const ID = 'AAECAwQFBgcICQoLDA0ODw'

const S = ConfigSource
/** Node 3; log.retention.ms and log.segment.bytes set explicitly, log.retention.bytes altered for node 3 and for all, log.cleanup.policy for all. */
function fixture() {
  const settings: BrokerSettings = {
    config: { ...DEFAULT_BROKER_CONFIG, 'node.id': 3, 'log.retention.ms': 1000, 'log.segment.bytes': 5000 },
    explicit: new Set(['node.id', 'log.retention.ms', 'log.segment.bytes']),
  }
  const image = applyRecords(emptyImage('c', 3), [
    { record: { type: 'TopicRecord', name: 'x', topicId: ID }, offset: 0 },
    { record: { type: 'ConfigRecord', resourceType: 2, resourceName: 'x', name: 'retention.ms', value: '77' }, offset: 1 },
    { record: { type: 'ConfigRecord', resourceType: 4, resourceName: '', name: 'log.retention.bytes', value: '100' }, offset: 2 },
    { record: { type: 'ConfigRecord', resourceType: 4, resourceName: '', name: 'log.cleanup.policy', value: 'compact' }, offset: 3 },
    { record: { type: 'ConfigRecord', resourceType: 4, resourceName: '3', name: 'log.retention.bytes', value: '200' }, offset: 4 },
    { record: { type: 'ConfigRecord', resourceType: 4, resourceName: '4', name: 'log.segment.bytes', value: '400' }, offset: 5 },
  ])
  return { settings, image }
}

t.test('a topic log config: broker defaults, dynamic overrides, topic overrides', async (t) => {
  const { settings, image } = fixture()
  const config = settings.config
  t.match(topicLogConfig(image, 'x', config), { 'retention.ms': 77, 'segment.bytes': 5000, 'retention.bytes': 200, 'cleanup.policy': 'compact' })
  t.equal(topicLogConfig(image, 'nope', config), undefined)
  t.match(effectiveBrokerConfig(image, config), { 'log.retention.bytes': 200, 'log.cleanup.policy': 'compact', 'log.segment.bytes': 5000 })
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

t.test('DescribeConfigs for a topic: values, sources and synonyms in Kafka\'s order', async (t) => {
  const { settings, image } = fixture()
  const byName = new Map(resolveTopicConfigs({ 'retention.ms': '77', 'some.plugin.config': 'x' }, settings, image).map((c) => [c.name, c]))
  t.same([...byName.keys()], [...TOPIC_CONFIG_NAMES, 'some.plugin.config'].sort(), 'every topic config, and an unknown override, sorted')
  t.same(byName.get('retention.ms'), {
    name: 'retention.ms', value: '77', source: S.DYNAMIC_TOPIC_CONFIG, readOnly: false,
    synonyms: [
      { name: 'retention.ms', value: '77', source: S.DYNAMIC_TOPIC_CONFIG },
      { name: 'log.retention.ms', value: '1000', source: S.STATIC_BROKER_CONFIG },
      { name: 'log.retention.ms', value: '604800000', source: S.DEFAULT_CONFIG },
    ],
  })
  t.same(byName.get('retention.bytes'), {
    name: 'retention.bytes', value: '200', source: S.DYNAMIC_BROKER_CONFIG, readOnly: false,
    synonyms: [
      { name: 'log.retention.bytes', value: '200', source: S.DYNAMIC_BROKER_CONFIG },
      { name: 'log.retention.bytes', value: '100', source: S.DYNAMIC_DEFAULT_BROKER_CONFIG },
      { name: 'log.retention.bytes', value: '-1', source: S.DEFAULT_CONFIG },
    ],
  })
  t.match(byName.get('cleanup.policy'), { value: 'compact', source: S.DYNAMIC_DEFAULT_BROKER_CONFIG })
  t.match(byName.get('segment.bytes'), { value: '5000', source: S.STATIC_BROKER_CONFIG }, 'another node\'s override does not apply')
  t.same(byName.get('segment.ms')!.synonyms, [{ name: 'log.roll.ms', value: String(DEFAULT_LOG_CONFIG['segment.ms']), source: S.DEFAULT_CONFIG }], 'a synonym BrokerConfig lacks: the default')
  t.match(byName.get('min.insync.replicas'), { value: '1', source: S.DEFAULT_CONFIG })
  t.match(byName.get('compression.type'), { value: 'producer', source: S.DEFAULT_CONFIG })
  t.match(byName.get('leader.replication.throttled.replicas'), { value: '', source: S.DEFAULT_CONFIG, synonyms: [] })
  t.same(byName.get('some.plugin.config'), { name: 'some.plugin.config', value: 'x', source: S.DYNAMIC_TOPIC_CONFIG, readOnly: false, synonyms: [{ name: 'some.plugin.config', value: 'x', source: S.DYNAMIC_TOPIC_CONFIG }] })

  // Without the image (or with no dynamic configs): the static config and the defaults only.
  t.match(new Map(resolveTopicConfigs({}, settings).map((c) => [c.name, c])).get('retention.bytes'), { value: '-1', source: S.DEFAULT_CONFIG })
})

t.test('DescribeConfigs for a broker: dynamic overrides, read-only unless dynamic', async (t) => {
  const { settings, image } = fixture()
  const byName = new Map(describeBrokerConfigs(settings, image).map((c) => [c.name, c]))
  t.same([...byName.keys()], Object.keys(DEFAULT_BROKER_CONFIG).sort())
  t.match(byName.get('num.partitions'), { value: '1', source: S.DEFAULT_CONFIG, readOnly: true, synonyms: [{ name: 'num.partitions', value: '1', source: S.DEFAULT_CONFIG }] })
  t.match(byName.get('node.id'), { value: '3', source: S.STATIC_BROKER_CONFIG, readOnly: true })
  t.match(byName.get('advertised.listeners'), { value: null, source: S.DEFAULT_CONFIG })
  t.match(byName.get('log.retention.bytes'), { value: '200', source: S.DYNAMIC_BROKER_CONFIG, readOnly: false })
  t.match(byName.get('log.cleanup.policy'), { value: 'compact', source: S.DYNAMIC_DEFAULT_BROKER_CONFIG, readOnly: false })
  t.match(byName.get('log.segment.bytes'), { value: '5000', source: S.STATIC_BROKER_CONFIG, readOnly: false })
})

t.test('the LogConfig a partition gets, and min.insync.replicas', async (t) => {
  const { settings, image } = fixture()
  t.match(partitionLogConfig({ 'retention.ms': '77' }, settings, image), { 'retention.ms': 77, 'retention.bytes': 200, 'cleanup.policy': 'compact', 'segment.bytes': 5000 })
  t.same(partitionLogConfig({ 'retention.ms': '77' }, settings, image), topicLogConfig(image, 'x', settings.config), 'topicLogConfig: the same, from the image')
  t.match(partitionLogConfig({}, settings), { 'retention.ms': 1000, 'retention.bytes': -1, 'cleanup.policy': 'delete' }, 'the static config alone')

  // A value that does not parse falls to the next level, with a warning.
  const logger = new RecordingLogger()
  t.match(partitionLogConfig({ 'retention.ms': 'soon', 'segment.bytes': '1' }, settings, image, logger), { 'retention.ms': 1000, 'segment.bytes': 5000 })
  t.match(logger.text(), /config retention\.ms=soon ignored: invalid value 'soon' for retention\.ms/)
  t.match(logger.text(), /config segment\.bytes=1 ignored/)

  t.equal(minInsyncReplicas({}, settings, image), 1)
  t.equal(minInsyncReplicas({ 'min.insync.replicas': '2' }, settings, image), 2)
  t.equal(minInsyncReplicas({ 'min.insync.replicas': '0' }, settings), 1)
  t.equal(minInsyncReplicas({}, { config: { ...settings.config, 'min.insync.replicas': 3 } as never, explicit: new Set() }), 3, 'a broker-level setting, when the config carries one')
})

t.test('describeTopicConfigs (CreateTopics) agrees with the resolution', async (t) => {
  const { settings, image } = fixture()
  const effective = effectiveBrokerConfig(image, settings.config)
  const described = describeTopicConfigs({ 'retention.ms': '77' }, effective)
  const resolved = resolveTopicConfigs({ 'retention.ms': '77' }, settings, image)
  t.same(described.map((c) => [c.name, c.value, c.isDefault]), resolved.map((c) => [c.name, c.value, c.source !== S.DYNAMIC_TOPIC_CONFIG]))
})
