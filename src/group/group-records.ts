/**
 * The records of `__consumer_offsets`, in Kafka's own formats (kafka-message-specs/internal):
 * a record's key and value each open with an int16 version, then the fields of that version.
 *
 *   key   version 0|1: OffsetCommitKey    group string, topic string, partition int32
 *   key   version 2:   GroupMetadataKey   group string
 *   value OffsetCommitValue v0–4 (v4 flexible): offset int64, [v3+ leaderEpoch int32],
 *         metadata string, commitTimestamp int64, [v1 expireTimestamp int64], [v4 tagged fields]
 *   value GroupMetadataValue v0–4 (v4 flexible): protocolType string, generation int32,
 *         protocol nullable string, leader nullable string, [v2+ currentStateTimestamp int64],
 *         members [memberId, [v3+ groupInstanceId nullable], clientId, clientHost,
 *         [v1+ rebalanceTimeout int32], sessionTimeout int32, subscription bytes, assignment bytes]
 *   a null value is a tombstone: the offset, or the whole group, is deleted (compaction drops both).
 *
 * peerlog writes OffsetCommitKey v1 with OffsetCommitValue v3 (v1 when an expire timestamp is
 * set, as Kafka does) and GroupMetadataKey v2 with GroupMetadataValue v3, and reads every
 * version, so a data dir copied from a Kafka broker's `__consumer_offsets` replays too.
 */
import { ProtocolDecodeError, Reader, Writer } from '../protocol/kafka/primitives.ts'

export interface OffsetCommitRecordValue {
  offset: number
  /** -1 when unknown. */
  leaderEpoch: number
  metadata: string
  commitTimestamp: number
  /** -1 unless the commit asked for its own retention (OffsetCommit v2–4 retention_time_ms). */
  expireTimestamp: number
}

export interface GroupMemberRecord {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  rebalanceTimeoutMs: number
  sessionTimeoutMs: number
  /** The member's metadata for the chosen protocol. */
  subscription: Uint8Array
  assignment: Uint8Array
}

export interface GroupMetadataRecordValue {
  protocolType: string
  generation: number
  protocol: string | null
  leader: string | null
  /** When the group last changed state (-1 when unknown): an empty group's offsets expire from it. */
  currentStateTimestamp: number
  members: GroupMemberRecord[]
}

export type GroupRecord =
  | { type: 'offset-commit'; group: string; topic: string; partition: number; value: OffsetCommitRecordValue | null }
  | { type: 'group-metadata'; group: string; value: GroupMetadataRecordValue | null }

/** The key and value bytes of a record (value null: a tombstone). */
export interface EncodedGroupRecord {
  key: Uint8Array
  value: Uint8Array | null
}

/** Bytes of `__consumer_offsets` that do not read as one of its records. */
export class GroupRecordDecodeError extends Error {
  override readonly name = 'GroupRecordDecodeError'
}

const OFFSET_COMMIT_KEY_VERSION = 1
const GROUP_METADATA_KEY_VERSION = 2
const OFFSET_COMMIT_VALUE_VERSION = 3
/** The value version Kafka writes for a commit that carries its own expire timestamp (only v1 has the field). */
const OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY = 1
const GROUP_METADATA_VALUE_VERSION = 3
const HIGHEST_VALUE_VERSION = 4

export function encodeGroupRecord(record: GroupRecord): EncodedGroupRecord {
  switch (record.type) {
    case 'offset-commit': {
      const key = new Writer(64).int16(OFFSET_COMMIT_KEY_VERSION).string(record.group).string(record.topic).int32(record.partition).finish()
      return { key, value: record.value === null ? null : encodeOffsetCommitValue(record.value) }
    }
    case 'group-metadata': {
      const key = new Writer(32).int16(GROUP_METADATA_KEY_VERSION).string(record.group).finish()
      return { key, value: record.value === null ? null : encodeGroupMetadataValue(record.value) }
    }
    default: {
      const never: never = record
      throw new Error(`unknown group record ${JSON.stringify(never)}`)
    }
  }
}

function encodeOffsetCommitValue(v: OffsetCommitRecordValue): Uint8Array {
  const w = new Writer(64)
  if (v.expireTimestamp !== -1) {
    // v1 has no leader epoch: Kafka drops it too when a commit asks for its own retention.
    return w.int16(OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY).int64(v.offset).string(v.metadata).int64(v.commitTimestamp).int64(v.expireTimestamp).finish()
  }
  return w.int16(OFFSET_COMMIT_VALUE_VERSION).int64(v.offset).int32(v.leaderEpoch).string(v.metadata).int64(v.commitTimestamp).finish()
}

function encodeGroupMetadataValue(v: GroupMetadataRecordValue): Uint8Array {
  const w = new Writer(256)
  w.int16(GROUP_METADATA_VALUE_VERSION)
    .string(v.protocolType)
    .int32(v.generation)
    .nullableString(v.protocol)
    .nullableString(v.leader)
    .int64(v.currentStateTimestamp)
  w.array(v.members, false, (w, m) => {
    w.string(m.memberId)
      .nullableString(m.groupInstanceId)
      .string(m.clientId)
      .string(m.clientHost)
      .int32(m.rebalanceTimeoutMs)
      .int32(m.sessionTimeoutMs)
      .bytes(m.subscription)
      .bytes(m.assignment)
  })
  return w.finish()
}

/**
 * Decodes one record of `__consumer_offsets`. Throws GroupRecordDecodeError on bytes it cannot
 * read (a key version it does not know, truncated fields): the loader logs and skips those.
 */
export function decodeGroupRecord(key: Uint8Array, value: Uint8Array | null): GroupRecord {
  try {
    const r = new Reader(key)
    const version = r.int16('key version')
    if (version === 0 || version === 1) {
      const group = r.string('group')
      const topic = r.string('topic')
      const partition = r.int32('partition')
      return { type: 'offset-commit', group, topic, partition, value: value === null ? null : decodeOffsetCommitValue(value) }
    }
    if (version === 2) {
      const group = r.string('group')
      return { type: 'group-metadata', group, value: value === null ? null : decodeGroupMetadataValue(value) }
    }
    throw new GroupRecordDecodeError(`unknown __consumer_offsets key version ${version}`)
  } catch (e) {
    throw asDecodeError(e)
  }
}

function asDecodeError(e: unknown): unknown {
  if (e instanceof ProtocolDecodeError) return new GroupRecordDecodeError(e.message)
  return e
}

function decodeOffsetCommitValue(bytes: Uint8Array): OffsetCommitRecordValue {
  const r = new Reader(bytes)
  const version = r.int16('value version')
  if (version < 0 || version > HIGHEST_VALUE_VERSION) throw new GroupRecordDecodeError(`unknown OffsetCommitValue version ${version}`)
  const flexible = version >= 4
  const offset = r.int64Number('offset')
  const leaderEpoch = version >= 3 ? r.int32('leaderEpoch') : -1
  const metadata = flexible ? r.compactString('metadata') : r.string('metadata')
  const commitTimestamp = r.int64Number('commitTimestamp')
  const expireTimestamp = version === 1 ? r.int64Number('expireTimestamp') : -1
  if (flexible) r.taggedFields()
  return { offset, leaderEpoch, metadata, commitTimestamp, expireTimestamp }
}

function decodeGroupMetadataValue(bytes: Uint8Array): GroupMetadataRecordValue {
  const r = new Reader(bytes)
  const version = r.int16('value version')
  if (version < 0 || version > HIGHEST_VALUE_VERSION) throw new GroupRecordDecodeError(`unknown GroupMetadataValue version ${version}`)
  const flexible = version >= 4
  const str = (field: string) => (flexible ? r.compactString(field) : r.string(field))
  const nullableStr = (field: string) => (flexible ? r.compactNullableString(field) : r.nullableString(field))
  // Copies: the caller's buffer (a log read) may be reused, the state keeps these.
  const bytesField = (field: string) => (flexible ? r.compactBytes(field) : r.bytes(field)).slice()
  const protocolType = str('protocolType')
  const generation = r.int32('generation')
  const protocol = nullableStr('protocol')
  const leader = nullableStr('leader')
  const currentStateTimestamp = version >= 2 ? r.int64Number('currentStateTimestamp') : -1
  // A member takes at least 10 bytes in v0 (two empty strings, int32, two empty bytes...): a lying count fails early.
  const count = flexible ? r.compactArrayLength(6, false, 'members') : r.arrayLength(10, false, 'members')
  const members: GroupMemberRecord[] = []
  for (let i = 0; i < count; i++) {
    const memberId = str('memberId')
    const groupInstanceId = version >= 3 ? nullableStr('groupInstanceId') : null
    const clientId = str('clientId')
    const clientHost = str('clientHost')
    const rebalanceTimeoutMs = version >= 1 ? r.int32('rebalanceTimeout') : -1
    const sessionTimeoutMs = r.int32('sessionTimeout')
    const subscription = bytesField('subscription')
    const assignment = bytesField('assignment')
    if (flexible) r.taggedFields()
    members.push({ memberId, groupInstanceId, clientId, clientHost, rebalanceTimeoutMs, sessionTimeoutMs, subscription, assignment })
  }
  if (flexible) r.taggedFields()
  return { protocolType, generation, protocol, leader, currentStateTimestamp, members }
}

/** The group a record belongs to, read from its key alone (what the loader routes by). */
export function groupOfKey(key: Uint8Array): string {
  try {
    const r = new Reader(key)
    const version = r.int16('key version')
    if (version < 0 || version > 2) throw new GroupRecordDecodeError(`unknown __consumer_offsets key version ${version}`)
    return r.string('group')
  } catch (e) {
    throw asDecodeError(e)
  }
}

/**
 * The `__consumer_offsets` partition of a group: Kafka's `Utils.abs(groupId.hashCode) % n`,
 * with Java's String.hashCode over UTF-16 code units, so a group lands where Kafka puts it.
 */
export function partitionForGroup(groupId: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions <= 0) throw new RangeError(`a topic has at least one partition, not ${partitions}`)
  let h = 0
  for (let i = 0; i < groupId.length; i++) h = (Math.imul(h, 31) + groupId.charCodeAt(i)) | 0
  // Utils.abs is Math.abs with MIN_VALUE mapped to 0 (not `h & 0x7fffffff`, the producer's toPositive).
  return (h === -0x80000000 ? 0 : Math.abs(h)) % partitions
}
