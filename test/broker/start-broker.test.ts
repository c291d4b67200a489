import { dispatch } from 'nact'
import t from 'tap'
import { startBroker } from '../../src/broker/start-broker.ts'
import { ErrorCode } from '../../src/protocol/kafka/error-codes.ts'
import { API_TABLE, ApiKey } from '../../src/protocol/kafka/generated/index.ts'
import { BatchHeader } from '../../src/record/batch-header.ts'
import { buildRecordBatch, iterateRecordBatches } from '../../src/record/record-batch.ts'
import { RecordingLogger } from '../../src/runtime/logger.ts'
import { TestClient } from './kafka-test-client.ts'

const enc = new TextEncoder()
const dec = new TextDecoder()
const batch = (...values: string[]) => buildRecordBatch(values.map((v, i) => ({ key: enc.encode(`k${i}`), value: enc.encode(v), timestamp: 1_700_000_000_000 + i })))
const values = (records: Uint8Array | null) => (records ? [...iterateRecordBatches(records)].flatMap((b) => b.records.map((r) => dec.decode(r.value!))) : [])

const produce = (c: TestClient, topic: string, partition: number, records: Uint8Array, acks = 1) =>
  c.request(ApiKey.Produce, 8, { transactionalId: null, acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] })
const fetch = (c: TestClient, topic: string, partition: number, offset: number, maxWaitMs = 0, minBytes = 1) =>
  c.request(ApiKey.Fetch, 11, {
    replicaId: -1, maxWaitMs, minBytes, maxBytes: 50 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: BigInt(offset), logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  })
const listOffset = async (c: TestClient, topic: string, timestamp: bigint) =>
  (await c.request(ApiKey.ListOffsets, 5, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp }] }] })).topics[0]!.partitions[0]!
const metadata = (c: TestClient, topics: string[] | null, allowAutoTopicCreation = true) =>
  c.request(ApiKey.Metadata, 8, { topics: topics?.map((name) => ({ name })) ?? null, allowAutoTopicCreation, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })

t.test('a broker that the generated codecs, as a client, use end to end', async (t) => {
  const dataDir = t.testdir()
  const logger = new RecordingLogger()
  let broker = await startBroker({ dataDir, port: 0, logger, config: { 'num.partitions': 1 } })
  t.teardown(() => broker.stop())
  t.match(broker.address, /^127\.0\.0\.1:\d+$/)
  const c = await TestClient.connect(broker.port)
  t.teardown(() => c.close())

  const versions = await c.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' })
  t.same(versions.apiKeys.map((a) => [a.apiKey, a.minVersion, a.maxVersion]), API_TABLE.map((a) => [a.key, a.minVersion, a.maxVersion]), 'ApiVersions advertises exactly API_TABLE')

  // Auto-create on Metadata.
  let md = await metadata(c, ['auto'])
  t.same(md.brokers.map((b) => [b.nodeId, b.host, b.port]), [[1, '127.0.0.1', broker.port]])
  t.equal(md.controllerId, 1)
  t.equal(md.topics[0]!.errorCode, ErrorCode.NONE)
  t.equal(md.topics[0]!.partitions.length, 1)
  t.equal(md.topics[0]!.partitions[0]!.leaderId, 1)
  md = await metadata(c, ['never'], false)
  t.equal(md.topics[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  md = await metadata(c, ['bad name!'])
  t.equal(md.topics[0]!.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION)

  // Produce and fetch.
  let p = await produce(c, 'auto', 0, batch('a', 'b', 'c'))
  t.equal(p.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE)
  t.equal(p.responses[0]!.partitionResponses[0]!.baseOffset, 0n)
  p = await produce(c, 'auto', 0, batch('d', 'e', 'f'))
  t.equal(p.responses[0]!.partitionResponses[0]!.baseOffset, 3n)
  let f = await fetch(c, 'auto', 0, 0)
  let part = f.responses[0]!.partitions[0]!
  t.same(values(part.records), ['a', 'b', 'c', 'd', 'e', 'f'])
  t.equal(part.highWatermark, 6n)
  t.equal(part.lastStableOffset, 6n)
  t.equal(part.logStartOffset, 0n)
  t.equal(new BatchHeader(part.records!, 0).partitionLeaderEpoch, 0, 'the leader epoch was stamped')
  f = await fetch(c, 'auto', 0, 100)
  t.equal(f.responses[0]!.partitions[0]!.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
  f = await fetch(c, 'nope', 0, 0)
  t.equal(f.responses[0]!.partitions[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)

  // Auto-create on produce; illegal names; a bad CRC appends nothing.
  p = await produce(c, 'made-by-produce', 0, batch('x'))
  t.equal(p.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE)
  p = await produce(c, '..', 0, batch('x'))
  t.equal(p.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION)
  const corrupt = batch('y', 'z')
  corrupt[corrupt.length - 1]! ^= 0xff
  p = await produce(c, 'auto', 0, corrupt)
  t.equal(p.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.CORRUPT_MESSAGE)
  t.equal((await listOffset(c, 'auto', -1n)).offset, 6n, 'nothing appended')

  // Long poll: nothing there → waits for maxWait; an append wakes it at once.
  let started = Date.now()
  f = await fetch(c, 'auto', 0, 6, 200)
  t.ok(Date.now() - started >= 150, 'waited about maxWaitMs')
  t.same(values(f.responses[0]!.partitions[0]!.records), [])
  const c2 = await TestClient.connect(broker.port)
  t.teardown(() => c2.close())
  started = Date.now()
  const polling = fetch(c, 'auto', 0, 6, 10_000)
  setTimeout(() => void produce(c2, 'auto', 0, batch('g')), 100)
  part = (await polling).responses[0]!.partitions[0]!
  t.same(values(part.records), ['g'])
  t.ok(Date.now() - started < 5000, 'woken by the append')

  // ListOffsets.
  t.equal((await listOffset(c, 'auto', -1n)).offset, 7n)
  t.equal((await listOffset(c, 'auto', -2n)).offset, 0n)
  const byTime = await listOffset(c, 'auto', 1_700_000_000_001n)
  t.equal(byTime.offset, 1n)
  t.equal(byTime.timestamp, 1_700_000_000_001n)
  t.equal((await listOffset(c, 'auto', 1_800_000_000_000n)).offset, -1n)

  // acks=0: no answer, and the next answer is the next request's.
  c.send(ApiKey.Produce, 8, { transactionalId: null, acks: 0, timeoutMs: 5000, topicData: [{ name: 'auto', partitionData: [{ index: 0, records: batch('h') }] }] })
  t.equal((await listOffset(c, 'auto', -1n)).offset, 8n)

  // Admin: create (with configs), describe and alter configs, add partitions, delete records, delete.
  const ct = await c.request(ApiKey.CreateTopics, 4, {
    topics: [
      { name: 'c', numPartitions: 3, replicationFactor: 1, assignments: [], configs: [{ name: 'retention.ms', value: '60000' }] },
      { name: 'auto', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
      { name: 'a/b', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
    ],
    timeoutMs: 5000,
    validateOnly: false,
  })
  t.same(ct.topics.map((x) => [x.name, x.errorCode]), [['c', 0], ['auto', ErrorCode.TOPIC_ALREADY_EXISTS], ['a/b', ErrorCode.INVALID_TOPIC_EXCEPTION]])
  const dc = await c.request(ApiKey.DescribeConfigs, 2, { resources: [{ resourceType: 2, resourceName: 'c', configurationKeys: null }, { resourceType: 4, resourceName: '1', configurationKeys: ['num.partitions'] }, { resourceType: 2, resourceName: 'nope', configurationKeys: null }], includeSynonyms: false })
  const cfg = new Map(dc.results[0]!.configs.map((x) => [x.name, x]))
  t.match(cfg.get('retention.ms'), { value: '60000', configSource: 1 })
  t.match(cfg.get('segment.bytes'), { value: '1073741824', configSource: 5 })
  t.match(dc.results[1]!.configs, [{ name: 'num.partitions', value: '1', configSource: 4 }])
  t.equal(dc.results[2]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  const ac = await c.request(ApiKey.AlterConfigs, 1, { resources: [{ resourceType: 2, resourceName: 'c', configs: [{ name: 'retention.ms', value: '120000' }] }], validateOnly: false })
  t.equal(ac.responses[0]!.errorCode, ErrorCode.NONE)
  const dc2 = await c.request(ApiKey.DescribeConfigs, 2, { resources: [{ resourceType: 2, resourceName: 'c', configurationKeys: ['retention.ms'] }], includeSynonyms: false })
  t.match(dc2.results[0]!.configs, [{ name: 'retention.ms', value: '120000' }])
  // A dynamic broker config (AlterConfigs on broker resource ""): DescribeConfigs reports it, with its synonyms.
  const ab = await c.request(ApiKey.AlterConfigs, 1, { resources: [{ resourceType: 4, resourceName: '', configs: [{ name: 'log.retention.bytes', value: '123456789' }] }], validateOnly: false })
  t.equal(ab.responses[0]!.errorCode, ErrorCode.NONE)
  const dc3 = await c.request(ApiKey.DescribeConfigs, 2, {
    resources: [{ resourceType: 2, resourceName: 'c', configurationKeys: ['retention.bytes', 'retention.ms'] }, { resourceType: 4, resourceName: '1', configurationKeys: ['log.retention.bytes', 'num.partitions'] }],
    includeSynonyms: true,
  })
  t.same(dc3.results[0]!.configs.map((x) => [x.name, x.value, x.configSource, x.isDefault, x.readOnly, x.synonyms.map((y) => [y.name, y.value, y.source])]), [
    ['retention.bytes', '123456789', 3, false, false, [['log.retention.bytes', '123456789', 3], ['log.retention.bytes', '-1', 5]]],
    ['retention.ms', '120000', 1, false, false, [['retention.ms', '120000', 1], ['log.retention.ms', '604800000', 5]]],
  ])
  t.same(dc3.results[1]!.configs.map((x) => [x.name, x.value, x.configSource, x.readOnly]), [['log.retention.bytes', '123456789', 3, false], ['num.partitions', '1', 4, true]])
  t.equal((await c.request(ApiKey.AlterConfigs, 1, { resources: [{ resourceType: 4, resourceName: '', configs: [] }], validateOnly: false })).responses[0]!.errorCode, ErrorCode.NONE)
  const cp = await c.request(ApiKey.CreatePartitions, 1, { topics: [{ name: 'c', count: 5, assignments: null }], timeoutMs: 5000, validateOnly: false })
  t.equal(cp.results[0]!.errorCode, ErrorCode.NONE)
  t.equal((await metadata(c, ['c'])).topics[0]!.partitions.length, 5)
  p = await produce(c, 'c', 4, batch('new partition'))
  t.equal(p.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE)
  const dr = await c.request(ApiKey.DeleteRecords, 1, { topics: [{ name: 'auto', partitions: [{ partitionIndex: 0, offset: 3n }] }], timeoutMs: 5000 })
  t.same([dr.topics[0]!.partitions[0]!.errorCode, dr.topics[0]!.partitions[0]!.lowWatermark], [0, 3n])
  t.equal((await listOffset(c, 'auto', -2n)).offset, 3n)
  t.equal((await fetch(c, 'auto', 0, 1)).responses[0]!.partitions[0]!.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
  const dt = await c.request(ApiKey.DeleteTopics, 3, { topicNames: ['c', 'nope'], timeoutMs: 5000 })
  t.same(dt.responses.map((x) => [x.name, x.errorCode]), [['c', 0], ['nope', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]])
  t.equal((await metadata(c, ['c'], false)).topics[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)

  // A malformed request closes that connection only.
  const bad = await TestClient.connect(broker.port)
  bad.raw(Uint8Array.from([0, 0, 0, 8, 0x7f, 0x7f, 0, 0, 0, 0, 0, 1]))
  await bad.closed
  const garbled = await TestClient.connect(broker.port)
  garbled.raw(Uint8Array.from([0, 0, 0, 12, 0, 3, 0, 8, 0, 0, 0, 1, 0, 0, 0x7f, 0xff]))
  await garbled.closed
  t.match(logger.text(), /does not decode/)
  t.equal((await listOffset(c2, 'auto', -1n)).offset, 8n, 'the other connection still works')

  // A crashed replica actor is restarted from its log and serves again.
  dispatch(broker.node.directory.get('auto', 0)!, { type: 'crash', reason: 'test' })
  const afterCrash = await produce(c, 'auto', 0, batch('i'))
  const code = afterCrash.responses[0]!.partitionResponses[0]!.errorCode
  t.ok(code === ErrorCode.NONE || code === ErrorCode.NOT_LEADER_OR_FOLLOWER, 'a retriable error at worst')
  await broker.node.sync()
  p = await produce(c, 'auto', 0, batch('j'))
  t.equal(p.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE)
  t.match(logger.text(), /replica auto-0 restarted after a crash/)
  const end = (await listOffset(c, 'auto', -1n)).offset
  t.ok(end === 9n || end === 10n)

  // A clean stop, and a restart finds the topics and records.
  c.close()
  c2.close()
  await broker.stop()
  broker = await startBroker({ dataDir, port: 0, logger })
  const c3 = await TestClient.connect(broker.port)
  t.teardown(() => c3.close())
  f = await fetch(c3, 'auto', 0, 3)
  t.same(values(f.responses[0]!.partitions[0]!.records).slice(0, 4), ['d', 'e', 'f', 'g'])
  t.equal(f.responses[0]!.partitions[0]!.highWatermark, end)
})
