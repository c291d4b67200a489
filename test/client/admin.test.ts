import t from 'tap'
import { Admin, AdminError } from '../../src/client/admin.ts'
import { ErrorCode } from '../../src/protocol/kafka/error-codes.ts'
import { ApiKey } from '../../src/protocol/kafka/generated/index.ts'
import { Producer } from '../../src/client/producer.ts'
import { FakeCluster } from './fixtures/fake-broker.ts'

t.test('topics: create (on the controller), list, describe, create partitions, delete', async (t) => {
  const fake = await FakeCluster.start({ brokers: 2, autoCreate: false, numPartitions: 2 })
  t.teardown(() => fake.stop())
  // bootstrap on the broker that is not the controller
  const admin = new Admin({ 'bootstrap.servers': `127.0.0.1:${fake.servers[1]!.port}`, 'retry.backoff.ms': 10 })
  t.teardown(() => admin.close())
  await admin.createTopics([{ topic: 'a', numPartitions: 3, configs: { 'cleanup.policy': 'compact' } }, { topic: 'b' }])
  t.same(fake.requests.filter((r) => r.api === ApiKey.CreateTopics).map((r) => r.nodeId), [0], 'sent to the controller')
  t.equal(fake.topics.get('a')!.partitions.length, 3)
  t.equal(fake.topics.get('b')!.partitions.length, 2, 'broker default')
  t.equal(fake.topics.get('a')!.configs.get('cleanup.policy'), 'compact')
  await admin.createTopics([{ topic: 'v', numPartitions: 1 }], { validateOnly: true })
  t.notOk(fake.topics.has('v'), 'validateOnly')
  const dup = await admin.createTopics([{ topic: 'a' }, { topic: 'c', replicaAssignment: [{ partition: 0, replicas: [0] }] }]).catch((e) => e)
  t.ok(dup instanceof AdminError)
  t.equal(dup.name, 'TOPIC_ALREADY_EXISTS')
  t.same(Object.keys(dup.errors), ['a'])
  t.ok(fake.topics.has('c'), 'the other topic was created')
  t.same(await admin.listTopics(), ['a', 'b', 'c'])
  const [d] = await admin.describeTopics(['a'])
  t.equal(d!.partitions.length, 3)
  t.same(d!.partitions.map((p) => p.leader), [0, 1, 0])
  await t.rejects(admin.describeTopics(['zz']), { name: 'UNKNOWN_TOPIC_OR_PARTITION' })
  await admin.createPartitions([{ topic: 'a', count: 5 }])
  t.equal(fake.topics.get('a')!.partitions.length, 5)
  await t.rejects(admin.createPartitions([{ topic: 'a', count: 2 }]), { name: 'INVALID_PARTITIONS' })
  await admin.deleteTopics(['b'])
  t.notOk(fake.topics.has('b'))
  await t.rejects(admin.deleteTopics(['b']), { name: 'UNKNOWN_TOPIC_OR_PARTITION' })
  const cluster = await admin.describeCluster()
  t.equal(cluster.clusterId, 'fake-cluster')
  t.equal(cluster.brokers.length, 2)
})

t.test('NOT_CONTROLLER and retriable errors are retried', async (t) => {
  const fake = await FakeCluster.start({ autoCreate: false })
  t.teardown(() => fake.stop())
  const admin = new Admin({ 'bootstrap.servers': fake.bootstrap, 'retry.backoff.ms': 10 })
  t.teardown(() => admin.close())
  fake.faults.push({ api: ApiKey.CreateTopics, times: 2, action: { error: ErrorCode.NOT_CONTROLLER } })
  await admin.createTopics([{ topic: 'x', numPartitions: 1 }])
  t.equal(fake.count(ApiKey.CreateTopics), 3)
  fake.faults.push({ api: ApiKey.Metadata, action: { disconnect: true } })
  t.same(await admin.listTopics(), ['x'])
  fake.faults.push({ api: ApiKey.CreateTopics, times: 100, action: { error: ErrorCode.NOT_CONTROLLER } })
  await t.rejects(admin.createTopics([{ topic: 'y' }], { timeoutMs: 150 }), { name: 'REQUEST_TIMED_OUT', message: /NOT_CONTROLLER/ })
  fake.faults.length = 0
})

t.test('configs: describe and alter', async (t) => {
  const fake = await FakeCluster.start({ autoCreate: false })
  t.teardown(() => fake.stop())
  fake.createTopic('t', 1, { 'retention.ms': '1000' })
  const admin = new Admin({ 'bootstrap.servers': fake.bootstrap })
  t.teardown(() => admin.close())
  const [d] = await admin.describeConfigs([{ type: 'topic', name: 't' }])
  t.same(d!.configs.map((c) => [c.name, c.value, c.isDefault]), [['cleanup.policy', 'delete', true], ['retention.ms', '1000', false]])
  const [only] = await admin.describeConfigs([{ type: 'topic', name: 't', keys: ['retention.ms'] }])
  t.same(only!.configs.map((c) => c.name), ['retention.ms'])
  const [b] = await admin.describeConfigs([{ type: 'broker', name: '0' }])
  t.ok(b!.configs.some((c) => c.name === 'broker.id'))
  await t.rejects(admin.describeConfigs([{ type: 'topic', name: 'nope' }]), { name: 'UNKNOWN_TOPIC_OR_PARTITION' })
  await admin.alterConfigs([{ type: 'topic', name: 't', configs: { 'retention.ms': '5', 'segment.bytes': null } }])
  t.same([...fake.topics.get('t')!.configs], [['retention.ms', '5']])
  await admin.alterConfigs([{ type: 'topic', name: 't', configs: { 'retention.ms': '9' } }], { validateOnly: true })
  t.same([...fake.topics.get('t')!.configs], [['retention.ms', '5']])
})

t.test('offsets: list and delete records', async (t) => {
  const fake = await FakeCluster.start({ brokers: 2, autoCreate: false })
  t.teardown(() => fake.stop())
  fake.createTopic('o', 2)
  const producer = new Producer({ 'bootstrap.servers': fake.bootstrap, 'linger.ms': 0 })
  t.teardown(() => producer.close())
  for (let i = 0; i < 6; i++) await producer.send({ topic: 'o', partition: i % 2, value: `${i}`, timestamp: 100 * i })
  const admin = new Admin({ 'bootstrap.servers': fake.bootstrap, 'retry.backoff.ms': 10 })
  t.teardown(() => admin.close())
  const offs = await admin.listOffsets([
    { topic: 'o', partition: 0, spec: 'earliest' },
    { topic: 'o', partition: 1, spec: 'latest' },
    { topic: 'o', partition: 0, spec: { timestamp: 150 } },
  ])
  t.same(offs.map((o) => o.offset), [0, 3, 1])
  t.equal(offs[2]!.timestamp, 200)
  const low = await admin.deleteRecords([{ topic: 'o', partition: 0, offset: 2 }, { topic: 'o', partition: 1, offset: -1 }])
  t.same(low.map((l) => l.lowWatermark), [2, 3])
  t.same((await admin.listOffsets([{ topic: 'o', partition: 0, spec: 'earliest' }]))[0]!.offset, 2)
  await t.rejects(admin.deleteRecords([{ topic: 'o', partition: 0, offset: 99 }]), { name: 'OFFSET_OUT_OF_RANGE' })
  fake.faults.push({ api: ApiKey.ListOffsets, action: { error: ErrorCode.NOT_LEADER_OR_FOLLOWER } })
  t.equal((await admin.listOffsets([{ topic: 'o', partition: 1, spec: 'latest' }]))[0]!.offset, 3, 'retried')
  await t.rejects(admin.listOffsets([{ topic: 'missing', partition: 0, spec: 'latest' }], { timeoutMs: 200 }), { name: 'REQUEST_TIMED_OUT' })
})
