/**
 * The metadata records: Kafka's KRaft records (../shared/kafka-message-specs/internal/*.json,
 * `"type": "metadata"`) that the controller appends to the metadata log `__cluster_metadata-0`,
 * and their codec.
 *
 * Framing, as Kafka's MetadataRecordSerde: each metadata record is the value of one Kafka
 * record (key null) in an ordinary v2 RecordBatch, laid out as
 *
 *   unsigned varint  frame version (0)
 *   unsigned varint  apiKey (the record type: TopicRecord 2, PartitionRecord 3, ...)
 *   unsigned varint  version of that record
 *   the record, flexible-encoded (compact strings and arrays, a tag buffer after each struct)
 *
 * The codecs are written by hand from the JSON specs (8 small messages; the API generator's
 * output folder is reserved for request/response codecs). Encoders write the versions below
 * (`WRITE_VERSIONS`); decoders read every valid version of each spec and skip unknown tagged
 * fields, so a log written by a newer peerlog that only adds tagged fields still loads.
 * Decoding throws MetadataRecordError for an unknown apiKey or version, or bad bytes.
 */
import { ProtocolDecodeError, Reader, Writer } from '../protocol/kafka/primitives.ts'

export const MetadataRecordType = {
  RegisterBrokerRecord: 0,
  TopicRecord: 2,
  PartitionRecord: 3,
  ConfigRecord: 4,
  PartitionChangeRecord: 5,
  RemoveTopicRecord: 9,
  FeatureLevelRecord: 12,
  NoOpRecord: 20,
} as const
export type MetadataRecordTypeName = keyof typeof MetadataRecordType

/** Kafka's ConfigResource.Type ids, as ConfigRecord.ResourceType holds them. */
export const ConfigResourceTypeId = { topic: 2, broker: 4 } as const

export interface BrokerEndpoint {
  name: string
  host: string
  port: number
  /** 0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL. */
  securityProtocol: number
}

export interface BrokerFeature {
  name: string
  minSupportedVersion: number
  maxSupportedVersion: number
}

export interface RegisterBrokerRecord {
  type: 'RegisterBrokerRecord'
  brokerId: number
  isMigratingZkBroker: boolean
  incarnationId: string
  brokerEpoch: bigint
  endPoints: BrokerEndpoint[]
  features: BrokerFeature[]
  rack: string | null
  fenced: boolean
  inControlledShutdown: boolean
}

export interface TopicRecord {
  type: 'TopicRecord'
  name: string
  topicId: string
}

export interface PartitionRecord {
  type: 'PartitionRecord'
  partitionId: number
  topicId: string
  replicas: number[]
  isr: number[]
  removingReplicas: number[]
  addingReplicas: number[]
  leader: number
  leaderRecoveryState: number
  leaderEpoch: number
  partitionEpoch: number
}

export interface ConfigRecord {
  type: 'ConfigRecord'
  /** ConfigResourceTypeId: 2 topic, 4 broker. */
  resourceType: number
  resourceName: string
  name: string
  /** null: the override is removed. */
  value: string | null
}

export interface PartitionChangeRecord {
  type: 'PartitionChangeRecord'
  partitionId: number
  topicId: string
  /** null: unchanged. */
  isr: number[] | null
  /** -2: unchanged; -1: no leader. */
  leader: number
  replicas: number[] | null
  removingReplicas: number[] | null
  addingReplicas: number[] | null
  /** -1: unchanged. */
  leaderRecoveryState: number
}

export interface RemoveTopicRecord {
  type: 'RemoveTopicRecord'
  topicId: string
}

export interface FeatureLevelRecord {
  type: 'FeatureLevelRecord'
  name: string
  featureLevel: number
}

export interface NoOpRecord {
  type: 'NoOpRecord'
}

export type MetadataRecord =
  | RegisterBrokerRecord
  | TopicRecord
  | PartitionRecord
  | ConfigRecord
  | PartitionChangeRecord
  | RemoveTopicRecord
  | FeatureLevelRecord
  | NoOpRecord

/** The version each record is written in. */
export const WRITE_VERSIONS: Readonly<Record<MetadataRecordTypeName, number>> = {
  RegisterBrokerRecord: 1,
  TopicRecord: 0,
  PartitionRecord: 0,
  ConfigRecord: 0,
  PartitionChangeRecord: 0,
  RemoveTopicRecord: 0,
  FeatureLevelRecord: 0,
  NoOpRecord: 0,
}

/** The versions each record is read in (its spec's validVersions). */
export const READ_VERSIONS: Readonly<Record<MetadataRecordTypeName, readonly [number, number]>> = {
  RegisterBrokerRecord: [0, 3],
  TopicRecord: [0, 0],
  PartitionRecord: [0, 2],
  ConfigRecord: [0, 0],
  PartitionChangeRecord: [0, 2],
  RemoveTopicRecord: [0, 0],
  FeatureLevelRecord: [0, 0],
  NoOpRecord: [0, 0],
}

const NAME_BY_KEY = new Map<number, MetadataRecordTypeName>(
  (Object.entries(MetadataRecordType) as [MetadataRecordTypeName, number][]).map(([name, key]) => [key, name]),
)

export class MetadataRecordError extends Error {
  override name = 'MetadataRecordError'
}

// ---------------------------------------------------------------- helpers

const int32s = (w: Writer, v: readonly number[]) => w.array(v, true, (w2, x) => w2.int32(x))
const nullableInt32s = (w: Writer, v: readonly number[] | null) => w.array(v, true, (w2, x) => w2.int32(x))
const readInt32s = (r: Reader, field: string): number[] => {
  const out = r.array(true, 4, (r2) => r2.int32(field), field)
  if (out === null) throw new ProtocolDecodeError(`${field}: null in a non-nullable compact array at offset ${r.offset}`, r.offset)
  return out
}
const readNullableInt32s = (r: Reader, field: string): number[] | null => r.array(true, 4, (r2) => r2.int32(field), field)
const skipUuids = (r: Reader, field: string) => void r.array(true, 16, (r2) => r2.uuid(field), field)

// ---------------------------------------------------------------- encode

/** The record's framed bytes: frame version, apiKey, version, then the record. */
export function encodeMetadataRecord(record: MetadataRecord): Uint8Array {
  const version = WRITE_VERSIONS[record.type]
  const w = new Writer(64)
  w.uvarint(0).uvarint(MetadataRecordType[record.type]).uvarint(version)
  switch (record.type) {
    case 'RegisterBrokerRecord':
      w.int32(record.brokerId)
      w.uuid(record.incarnationId)
      w.int64(record.brokerEpoch)
      w.array(record.endPoints, true, (w2, e) => {
        w2.compactString(e.name).compactString(e.host).uint16(e.port).int16(e.securityProtocol).taggedFields([])
      })
      w.array(record.features, true, (w2, f) => {
        w2.compactString(f.name).int16(f.minSupportedVersion).int16(f.maxSupportedVersion).taggedFields([])
      })
      w.compactNullableString(record.rack)
      w.bool(record.fenced)
      w.bool(record.inControlledShutdown) // v1+
      w.taggedFields([])
      break
    case 'TopicRecord':
      w.compactString(record.name).uuid(record.topicId).taggedFields([])
      break
    case 'PartitionRecord':
      w.int32(record.partitionId).uuid(record.topicId)
      int32s(w, record.replicas)
      int32s(w, record.isr)
      int32s(w, record.removingReplicas)
      int32s(w, record.addingReplicas)
      w.int32(record.leader).int32(record.leaderEpoch).int32(record.partitionEpoch)
      w.taggedFields(record.leaderRecoveryState !== 0 ? [[0, (t) => t.int8(record.leaderRecoveryState)]] : [])
      break
    case 'ConfigRecord':
      w.int8(record.resourceType).compactString(record.resourceName).compactString(record.name).compactNullableString(record.value).taggedFields([])
      break
    case 'PartitionChangeRecord': {
      w.int32(record.partitionId).uuid(record.topicId)
      const tags: [number, (t: Writer) => void][] = []
      if (record.isr !== null) tags.push([0, (t) => nullableInt32s(t, record.isr)])
      if (record.leader !== -2) tags.push([1, (t) => t.int32(record.leader)])
      if (record.replicas !== null) tags.push([2, (t) => nullableInt32s(t, record.replicas)])
      if (record.removingReplicas !== null) tags.push([3, (t) => nullableInt32s(t, record.removingReplicas)])
      if (record.addingReplicas !== null) tags.push([4, (t) => nullableInt32s(t, record.addingReplicas)])
      if (record.leaderRecoveryState !== -1) tags.push([5, (t) => t.int8(record.leaderRecoveryState)])
      w.taggedFields(tags)
      break
    }
    case 'RemoveTopicRecord':
      w.uuid(record.topicId).taggedFields([])
      break
    case 'FeatureLevelRecord':
      w.compactString(record.name).int16(record.featureLevel).taggedFields([])
      break
    case 'NoOpRecord':
      w.taggedFields([])
      break
  }
  return w.finish()
}

// ---------------------------------------------------------------- decode

/** Decodes one framed metadata record (a Kafka record's value). */
export function decodeMetadataRecord(bytes: Uint8Array): MetadataRecord {
  const r = new Reader(bytes)
  let type: MetadataRecordTypeName | undefined
  let version = -1
  try {
    const frameVersion = r.uvarint('frameVersion')
    if (frameVersion !== 0) throw new MetadataRecordError(`unsupported metadata record frame version ${frameVersion}`)
    const apiKey = r.uvarint('apiKey')
    type = NAME_BY_KEY.get(apiKey)
    if (type === undefined) throw new MetadataRecordError(`unknown metadata record type ${apiKey}`)
    version = r.uvarint('version')
    const [lo, hi] = READ_VERSIONS[type]
    if (version < lo || version > hi) throw new MetadataRecordError(`unsupported ${type} version ${version} (reads ${lo}-${hi})`)
    const record = decodeBody(type, version, r)
    if (r.remaining !== 0) throw new MetadataRecordError(`${type} v${version}: ${r.remaining} bytes after the record`)
    return record
  } catch (err) {
    if (err instanceof MetadataRecordError) throw err
    const what = type === undefined ? 'metadata record' : `${type} v${version}`
    throw new MetadataRecordError(`${what}: ${(err as Error).message}`)
  }
}

function decodeBody(type: MetadataRecordTypeName, version: number, r: Reader): MetadataRecord {
  switch (type) {
    case 'RegisterBrokerRecord': {
      const brokerId = r.int32('BrokerId')
      const isMigratingZkBroker = version >= 2 ? r.bool('IsMigratingZkBroker') : false
      const incarnationId = r.uuid('IncarnationId')
      const brokerEpoch = r.int64('BrokerEpoch')
      const endPoints = r.array(true, 6, (e) => {
        const ep = { name: e.compactString('Name'), host: e.compactString('Host'), port: e.uint16('Port'), securityProtocol: e.int16('SecurityProtocol') }
        e.skipTaggedFields('EndPoints')
        return ep
      }, 'EndPoints') ?? []
      const features = r.array(true, 6, (f) => {
        const feature = { name: f.compactString('Name'), minSupportedVersion: f.int16('MinSupportedVersion'), maxSupportedVersion: f.int16('MaxSupportedVersion') }
        f.skipTaggedFields('Features')
        return feature
      }, 'Features') ?? []
      const rack = r.compactNullableString('Rack')
      const fenced = r.bool('Fenced')
      const inControlledShutdown = version >= 1 ? r.bool('InControlledShutdown') : false
      r.skipTaggedFields('RegisterBrokerRecord') // LogDirs (v3+, tag 0) is not kept
      return { type, brokerId, isMigratingZkBroker, incarnationId, brokerEpoch, endPoints, features, rack, fenced, inControlledShutdown }
    }
    case 'TopicRecord': {
      const name = r.compactString('Name')
      const topicId = r.uuid('TopicId')
      r.skipTaggedFields('TopicRecord')
      return { type, name, topicId }
    }
    case 'PartitionRecord': {
      const partitionId = r.int32('PartitionId')
      const topicId = r.uuid('TopicId')
      const replicas = readInt32s(r, 'Replicas')
      const isr = readInt32s(r, 'Isr')
      const removingReplicas = readInt32s(r, 'RemovingReplicas')
      const addingReplicas = readInt32s(r, 'AddingReplicas')
      const leader = r.int32('Leader')
      const leaderEpoch = r.int32('LeaderEpoch')
      const partitionEpoch = r.int32('PartitionEpoch')
      if (version >= 1) skipUuids(r, 'Directories')
      let leaderRecoveryState = 0
      r.taggedFields((tag, t) => {
        if (tag === 0) leaderRecoveryState = t.int8('LeaderRecoveryState')
      }, 'PartitionRecord')
      return { type, partitionId, topicId, replicas, isr, removingReplicas, addingReplicas, leader, leaderRecoveryState, leaderEpoch, partitionEpoch }
    }
    case 'ConfigRecord': {
      const resourceType = r.int8('ResourceType')
      const resourceName = r.compactString('ResourceName')
      const name = r.compactString('Name')
      const value = r.compactNullableString('Value')
      r.skipTaggedFields('ConfigRecord')
      return { type, resourceType, resourceName, name, value }
    }
    case 'PartitionChangeRecord': {
      const partitionId = r.int32('PartitionId')
      const topicId = r.uuid('TopicId')
      const out: PartitionChangeRecord = { type, partitionId, topicId, isr: null, leader: -2, replicas: null, removingReplicas: null, addingReplicas: null, leaderRecoveryState: -1 }
      r.taggedFields((tag, t) => {
        if (tag === 0) out.isr = readNullableInt32s(t, 'Isr')
        else if (tag === 1) out.leader = t.int32('Leader')
        else if (tag === 2) out.replicas = readNullableInt32s(t, 'Replicas')
        else if (tag === 3) out.removingReplicas = readNullableInt32s(t, 'RemovingReplicas')
        else if (tag === 4) out.addingReplicas = readNullableInt32s(t, 'AddingReplicas')
        else if (tag === 5) out.leaderRecoveryState = t.int8('LeaderRecoveryState')
        // 6, 7 (ELR, v2+) and 8 (Directories, v1+) are not kept
      }, 'PartitionChangeRecord')
      return out
    }
    case 'RemoveTopicRecord': {
      const topicId = r.uuid('TopicId')
      r.skipTaggedFields('RemoveTopicRecord')
      return { type, topicId }
    }
    case 'FeatureLevelRecord': {
      const name = r.compactString('Name')
      const featureLevel = r.int16('FeatureLevel')
      r.skipTaggedFields('FeatureLevelRecord')
      return { type, name, featureLevel }
    }
    case 'NoOpRecord':
      r.skipTaggedFields('NoOpRecord')
      return { type }
  }
}
