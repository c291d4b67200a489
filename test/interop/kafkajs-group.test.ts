// KafkaJS's consumer groups against a broker in this process: consumer.run with eachMessage and
// with eachBatch in a group of two, then KafkaJS's admin: listGroups, describeGroups,
// fetchOffsets and resetOffsets (and a consumer that resumes from the reset offsets).
import { createRequire } from 'node:module'
import t from 'tap'
import { inProcessBroker, waitFor } from './harness.ts'

const require = createRequire(import.meta.url)
const { Kafka, logLevel } = require('kafkajs') as typeof import('kafkajs')

const PARTITIONS = 4
const COUNT = 2000

t.test('KafkaJS: eachMessage and eachBatch in a group of two; admin listGroups, describeGroups, fetchOffsets, resetOffsets', async (t) => {
  const broker = await inProcessBroker(t, { 'group.initial.rebalance.delay.ms': 0, 'offsets.topic.num.partitions': 3 })
  const kafka = new Kafka({ clientId: 'kjs-group', brokers: [broker.address], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } })
  const admin = kafka.admin()
  await admin.connect()
  t.teardown(() => admin.disconnect())
  const topic = 'kjs-group'
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] })
  const producer = kafka.producer()
  await producer.connect()
  for (let b = 0; b < COUNT / 100; b++) {
    await producer.send({ topic, messages: Array.from({ length: 100 }, (_, i) => ({ partition: (b * 100 + i) % PARTITIONS, value: `m${b * 100 + i}` })) })
  }
  await producer.disconnect()

  const seen = new Map<string, string>()
  const byMember = new Map<string, number>()
  const messageConsumer = kafka.consumer({ groupId: 'kjs-g', sessionTimeout: 10_000, heartbeatInterval: 500 })
  const batchConsumer = kafka.consumer({ groupId: 'kjs-g', sessionTimeout: 10_000, heartbeatInterval: 500 })
  t.teardown(async () => {
    await messageConsumer.disconnect()
    await batchConsumer.disconnect()
  })
  for (const c of [messageConsumer, batchConsumer]) {
    await c.connect()
    await c.subscribe({ topic, fromBeginning: true })
  }
  await messageConsumer.run({
    eachMessage: async ({ partition, message }) => {
      seen.set(`${partition}:${message.offset}`, message.value!.toString())
      byMember.set('eachMessage', (byMember.get('eachMessage') ?? 0) + 1)
    },
  })
  await batchConsumer.run({
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      for (const message of batch.messages) {
        seen.set(`${batch.partition}:${message.offset}`, message.value!.toString())
        byMember.set('eachBatch', (byMember.get('eachBatch') ?? 0) + 1)
        resolveOffset(message.offset)
      }
      await heartbeat()
    },
  })
  await waitFor(`all ${COUNT} messages`, () => (seen.size >= COUNT ? true : undefined), 60_000, 100)
  t.equal(seen.size, COUNT, 'every message consumed by the group')
  t.equal(new Set(seen.values()).size, COUNT, 'each message value once')

  const groups = await admin.listGroups()
  t.ok(groups.groups.some((g) => g.groupId === 'kjs-g' && g.protocolType === 'consumer'), 'listGroups shows the group')
  const described = await waitFor('both members in a stable group', async () => {
    const d = await admin.describeGroups(['kjs-g'])
    const g = d.groups[0]!
    return g.state === 'Stable' && g.members.length === 2 ? g : undefined
  }, 30_000, 200)
  t.equal(described.protocolType, 'consumer', 'describeGroups: protocol type consumer')
  t.ok(['RoundRobinAssigner', 'roundrobin'].includes(described.protocol), `describeGroups: KafkaJS's assigner (${described.protocol})`)
  t.ok(described.members.every((m) => m.clientId === 'kjs-group'), 'describeGroups: both members with their client id')

  // Offsets are committed as the consumers go (KafkaJS commits every 5 s or on a rebalance); stop them to flush.
  await messageConsumer.disconnect()
  await batchConsumer.disconnect()
  const offsets = await admin.fetchOffsets({ groupId: 'kjs-g', topics: [topic] })
  t.same(
    offsets[0]!.partitions.map((p) => [p.partition, p.offset]).sort((a, b) => Number(a[0]) - Number(b[0])),
    Array.from({ length: PARTITIONS }, (_, p) => [p, String(COUNT / PARTITIONS)]),
    'fetchOffsets: the group committed the end of every partition',
  )

  await admin.resetOffsets({ groupId: 'kjs-g', topic, earliest: true })
  const reset = await admin.fetchOffsets({ groupId: 'kjs-g', topics: [topic] })
  // KafkaJS resets by committing Kafka's EARLIEST sentinel (-2), which a Kafka broker stores as
  // given; KafkaJS's consumer then treats it as "no offset" and starts where fromBeginning says.
  t.ok(reset[0]!.partitions.every((p) => p.offset === '-2'), 'resetOffsets earliest: every partition committed at -2, as on Kafka')

  // A new member of the group starts again from the beginning (without the reset it would resume at the end).
  const again = kafka.consumer({ groupId: 'kjs-g', sessionTimeout: 10_000, heartbeatInterval: 500 })
  t.teardown(() => again.disconnect())
  await again.connect()
  await again.subscribe({ topic, fromBeginning: true })
  let reread = 0
  await again.run({ eachMessage: async () => void reread++ })
  await waitFor('the group re-reading from 0', () => (reread >= COUNT ? true : undefined), 60_000, 100)
  t.equal(reread, COUNT, 'after the reset the group reads the topic again from the start')
})
