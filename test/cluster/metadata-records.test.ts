import t from 'tap'
import {
  decodeMetadataRecord,
  encodeMetadataRecord,
  MetadataRecordError,
  MetadataRecordType,
  type MetadataRecord,
} from '../../src/cluster/metadata-records.ts'
import { Writer } from '../../src/protocol/kafka/primitives.ts'

const ID = 'AAECAwQFBgcICQoLDA0ODw' // bytes 0..15

const samples: MetadataRecord[] = [
  {
    type: 'RegisterBrokerRecord', brokerId: 1, isMigratingZkBroker: false, incarnationId: ID, brokerEpoch: 7n,
    endPoints: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092, securityProtocol: 0 }],
    features: [{ name: 'metadata.version', minSupportedVersion: 1, maxSupportedVersion: 1 }], rack: null, fenced: false, inControlledShutdown: false,
  },
  { type: 'TopicRecord', name: 'orders', topicId: ID },
  { type: 'PartitionRecord', partitionId: 2, topicId: ID, replicas: [1, 2], isr: [1], removingReplicas: [], addingReplicas: [2], leader: 1, leaderRecoveryState: 0, leaderEpoch: 0, partitionEpoch: 0 },
  { type: 'PartitionRecord', partitionId: 0, topicId: ID, replicas: [1], isr: [1], removingReplicas: [], addingReplicas: [], leader: 1, leaderRecoveryState: 1, leaderEpoch: 3, partitionEpoch: 4 },
  { type: 'ConfigRecord', resourceType: 2, resourceName: 'orders', name: 'retention.ms', value: '1000' },
  { type: 'ConfigRecord', resourceType: 4, resourceName: '', name: 'log.retention.ms', value: null },
  { type: 'PartitionChangeRecord', partitionId: 0, topicId: ID, isr: null, leader: -2, replicas: null, removingReplicas: null, addingReplicas: null, leaderRecoveryState: -1 },
  { type: 'PartitionChangeRecord', partitionId: 1, topicId: ID, isr: [1, 2], leader: 2, replicas: [2, 1], removingReplicas: [3], addingReplicas: [], leaderRecoveryState: 0 },
  { type: 'RemoveTopicRecord', topicId: ID },
  { type: 'FeatureLevelRecord', name: 'metadata.version', featureLevel: 1 },
  { type: 'NoOpRecord' },
]

t.test('every record round-trips', async (t) => {
  for (const r of samples) t.same(decodeMetadataRecord(encodeMetadataRecord(r)), r, r.type)
})

t.test('framing: frame version, apiKey, version, then the flexible record', async (t) => {
  const bytes = encodeMetadataRecord({ type: 'TopicRecord', name: 'ab', topicId: ID })
  // 0 frame version, 2 TopicRecord, 0 version, compact string "ab" (len+1 = 3), 16 uuid bytes, empty tag buffer
  t.same([...bytes], [0, 2, 0, 3, 97, 98, ...Array.from({ length: 16 }, (_, i) => i), 0])
  t.same([...encodeMetadataRecord({ type: 'NoOpRecord' })], [0, 20, 0, 0])
  t.equal(MetadataRecordType.RemoveTopicRecord, 9)
  // RegisterBrokerRecord is written at v1 (InControlledShutdown)
  t.equal(encodeMetadataRecord(samples[0]!)[2], 1)
})

t.test('older and newer versions decode', async (t) => {
  // RegisterBrokerRecord v0 (no InControlledShutdown) and v3 (IsMigratingZkBroker, LogDirs tagged)
  const rb = (version: number) => {
    const w = new Writer()
    w.uvarint(0).uvarint(0).uvarint(version).int32(3)
    if (version >= 2) w.bool(true)
    w.uuid(ID).int64(5n)
    w.array([{ n: 'PLAINTEXT' }], true, (w2, e) => w2.compactString(e.n).compactString('h').uint16(1).int16(0).taggedFields([]))
    w.array([], true, () => {})
    w.compactNullableString('r1').bool(true)
    if (version >= 1) w.bool(true)
    w.taggedFields(version >= 3 ? [[0, (x) => x.array([ID], true, (w2, id) => w2.uuid(id))]] : [])
    return decodeMetadataRecord(w.finish())
  }
  t.match(rb(0), { brokerId: 3, inControlledShutdown: false, isMigratingZkBroker: false, rack: 'r1', fenced: true, endPoints: [{ host: 'h', port: 1 }] })
  t.match(rb(3), { brokerId: 3, inControlledShutdown: true, isMigratingZkBroker: true })
  // PartitionRecord v2: Directories, and ELR tagged fields that are skipped
  const w = new Writer()
  w.uvarint(0).uvarint(3).uvarint(2).int32(0).uuid(ID)
  for (const list of [[1], [1], [], []]) w.array(list, true, (w2, x) => w2.int32(x))
  w.int32(1).int32(2).int32(3)
  w.array([ID], true, (w2, id) => w2.uuid(id))
  w.taggedFields([[0, (x) => x.int8(1)], [1, (x) => x.array([1], true, (w2, v) => w2.int32(v))], [9, (x) => x.int8(0)]])
  t.match(decodeMetadataRecord(w.finish()), { type: 'PartitionRecord', leader: 1, leaderEpoch: 2, partitionEpoch: 3, leaderRecoveryState: 1 })
  // PartitionChangeRecord v2 with directories (tag 8) and ELR (6)
  const c = new Writer()
  c.uvarint(0).uvarint(5).uvarint(2).int32(0).uuid(ID)
  c.taggedFields([[1, (x) => x.int32(4)], [6, (x) => x.array([1], true, (w2, v) => w2.int32(v))], [8, (x) => x.array([ID], true, (w2, id) => w2.uuid(id))]])
  t.match(decodeMetadataRecord(c.finish()), { type: 'PartitionChangeRecord', leader: 4, isr: null })
})

t.test('bad bytes throw MetadataRecordError', async (t) => {
  const bad = (bytes: number[], pattern: RegExp) => t.throws(() => decodeMetadataRecord(Uint8Array.from(bytes)), { name: 'MetadataRecordError', message: pattern })
  bad([1, 2, 0], /frame version 1/)
  bad([0, 77, 0], /unknown metadata record type 77/)
  bad([0, 2, 1], /unsupported TopicRecord version 1/)
  bad([0, 20, 0, 0, 5], /1 bytes after the record/)
  bad([0, 2, 0, 3, 97], /TopicRecord v0: /)
  bad([], /metadata record: /)
  // a null where the spec forbids one
  const w = new Writer()
  w.uvarint(0).uvarint(3).uvarint(0).int32(0).uuid(ID).compactArrayLength(null)
  t.throws(() => decodeMetadataRecord(w.finish()), MetadataRecordError)
})
