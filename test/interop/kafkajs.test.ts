// KafkaJS (npm devDependency) against a broker in this process: admin createTopics,
// fetchTopicMetadata, fetchTopicOffsets, deleteTopics; producer send with keys and headers
// (uncompressed and gzip); and reading the assigned partitions back.
//
// KafkaJS has no consumer without a group: consumer.run() (and consumer.connect's first
// subscribe/run) needs a group coordinator (FindCoordinator, JoinGroup, SyncGroup, ...), which
// the next issue brings. So the partitions are read with KafkaJS's own low-level API — its
// Cluster (metadata, leaders) and Broker.fetch (its Fetch codec and RecordBatch decoder) —
// which is everything consumer.run does per partition minus the group protocol.
import { createRequire } from 'node:module'
import t from 'tap'
import { partitionForKey } from '../../src/client/partitioner.ts'
import { inProcessBroker } from './harness.ts'

const require = createRequire(import.meta.url)
const { Kafka, logLevel, Partitioners, CompressionTypes } = require('kafkajs') as typeof import('kafkajs')

interface KjsMessage {
  offset: string
  key: Buffer | null
  value: Buffer | null
  timestamp: string
  headers: Record<string, Buffer | Buffer[] | undefined>
}
interface KjsBroker {
  fetch(request: unknown): Promise<{ responses: { topicName: string; partitions: { partition: number; errorCode: number; highWatermark: string; messages: KjsMessage[] }[] }[] }>
}
interface KjsCluster {
  connect(): Promise<void>
  disconnect(): Promise<void>
  addTargetTopic(topic: string): Promise<void>
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>
  findBroker(b: { nodeId: string }): Promise<KjsBroker>
}

/** KafkaJS's cluster, as its producer and consumer make it (Kafka's private createCluster). */
function kafkajsCluster(kafka: InstanceType<typeof Kafka>): KjsCluster {
  const symbols = [...Object.getOwnPropertySymbols(kafka), ...Object.getOwnPropertySymbols(Object.getPrototypeOf(kafka) as object)]
  const create = symbols.find((s) => s.description === 'private:Kafka:createCluster')
  if (!create) throw new Error('this KafkaJS version has no private createCluster')
  return (kafka as unknown as Record<symbol, (o: object) => KjsCluster>)[create]!({ metadataMaxAge: 300_000, allowAutoTopicCreation: false })
}

t.test('KafkaJS: admin, producer with keys and headers, fetch of assigned partitions', async (t) => {
  const broker = await inProcessBroker(t, { 'auto.create.topics.enable': false })
  const kafka = new Kafka({ clientId: 'interop', brokers: [broker.address], logLevel: logLevel.NOTHING, retry: { retries: 3 } })
  const admin = kafka.admin()
  await admin.connect()
  t.teardown(() => admin.disconnect())
  const topic = 'kafkajs-orders'
  const partitions = 3

  t.equal(await admin.createTopics({ topics: [{ topic, numPartitions: partitions }, { topic: 'kafkajs-doomed', numPartitions: 1 }], waitForLeaders: true }), true, 'createTopics')
  t.equal(await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] }), false, 'createTopics of an existing topic: false, as with Kafka')
  t.ok((await admin.listTopics()).includes(topic), 'listTopics')
  const md = await admin.fetchTopicMetadata({ topics: [topic] })
  t.same(
    md.topics[0]!.partitions.map((p) => [p.partitionId, p.leader, p.replicas, p.isr, p.partitionErrorCode]).sort(),
    [...Array(partitions).keys()].map((p) => [p, broker.nodeId, [broker.nodeId], [broker.nodeId], 0]),
    'fetchTopicMetadata: the partitions, led by this broker',
  )

  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false })
  await producer.connect()
  t.teardown(() => producer.disconnect())
  const count = 3_000
  const sent: { key: string; value: string; headers: Record<string, string>; timestamp: string }[] = []
  for (let i = 0; i < count; i++) sent.push({ key: `user-${i % 57}`, value: `event ${i} ${'x'.repeat(i % 200)}`, headers: { seq: String(i), source: 'kafkajs' }, timestamp: String(1_700_000_000_000 + i) })
  const half = count / 2
  const meta = [
    ...(await producer.send({ topic, acks: -1, messages: sent.slice(0, half) })),
    ...(await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: sent.slice(half) })),
  ]
  t.ok(meta.every((m) => m.errorCode === 0), 'producer.send acknowledged (acks=-1, plain and gzip)')

  const offsets = await admin.fetchTopicOffsets(topic)
  const total = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0)
  t.equal(total, count, 'fetchTopicOffsets: high - low sums to what was sent')
  t.ok(offsets.every((o) => o.low === '0'), 'low offsets are 0')

  // Read every assigned partition from offset 0 with KafkaJS's Broker.fetch.
  const cluster = kafkajsCluster(kafka)
  await cluster.connect()
  t.teardown(() => cluster.disconnect())
  await cluster.addTargetTopic(topic)
  const got: (KjsMessage & { partition: number })[] = []
  const leaders = cluster.findLeaderForPartitions(topic, [...Array(partitions).keys()])
  for (const [nodeId, ps] of Object.entries(leaders)) {
    const b = await cluster.findBroker({ nodeId })
    const next = new Map(ps.map((p) => [p, 0]))
    for (let rounds = 0; rounds < 1000 && [...next].some(([p, o]) => o < Number(offsets.find((x) => x.partition === p)!.high)); rounds++) {
      const r = await b.fetch({
        replicaId: -1,
        isolationLevel: 1,
        maxWaitTime: 100,
        minBytes: 1,
        maxBytes: 1 << 20,
        topics: [{ topic, partitions: ps.map((p) => ({ partition: p, fetchOffset: String(next.get(p)), maxBytes: 64 << 10 })) }],
      })
      for (const part of r.responses[0]!.partitions) {
        t.equal(part.errorCode, 0, `fetch ${topic}-${part.partition}`)
        for (const m of part.messages) {
          if (Number(m.offset) < next.get(part.partition)!) continue
          got.push({ ...m, partition: part.partition })
          next.set(part.partition, Number(m.offset) + 1)
        }
      }
    }
  }
  t.equal(got.length, count, `fetched ${got.length} of ${count}`)
  const problems: string[] = []
  const lastSeq = new Map<number, number>()
  for (const m of got) {
    const h = Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, String(v)]))
    const i = Number(h.seq)
    const want = sent[i]
    if (!want) {
      problems.push(`unexpected record ${JSON.stringify(h)}`)
      continue
    }
    if (m.key?.toString() !== want.key || m.value?.toString() !== want.value || m.timestamp !== want.timestamp || h.source !== 'kafkajs') problems.push(`record ${i} differs`)
    if (partitionForKey(Buffer.from(want.key), partitions) !== m.partition) problems.push(`record ${i} in partition ${m.partition}, not where murmur2 puts ${want.key}`)
    if ((lastSeq.get(m.partition) ?? -1) >= i) problems.push(`record ${i} out of order in partition ${m.partition}`)
    lastSeq.set(m.partition, i)
  }
  t.same(problems.slice(0, 10), [], 'keys, values, headers and timestamps as sent; in murmur2 partitions (KafkaJS DefaultPartitioner = peerlog); in order')

  await admin.deleteTopics({ topics: ['kafkajs-doomed'] })
  t.notOk((await admin.listTopics()).includes('kafkajs-doomed'), 'deleteTopics')
  await t.rejects(admin.fetchTopicMetadata({ topics: ['kafkajs-doomed'] }), 'and its metadata is gone')
})
