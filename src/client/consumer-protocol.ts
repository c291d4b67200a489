/**
 * The consumer protocol (protocol type "consumer"): the bytes a consumer puts in JoinGroup's
 * protocol metadata (its subscription) and the leader puts in SyncGroup's assignments. The
 * broker never reads them; every client in a group must, so the layout is Kafka's
 * (ConsumerProtocolSubscription.json, ConsumerProtocolAssignment.json), never flexible:
 *
 *   Subscription => version:int16 topics:[STRING] userData:NULLABLE_BYTES
 *                   ownedPartitions:[topic:STRING partitions:[INT32]]   (v1+)
 *                   generationId:INT32                                  (v2+, -1 = unknown)
 *                   rackId:NULLABLE_STRING                              (v3+)
 *   Assignment   => version:int16 assignedPartitions:[topic:STRING partitions:[INT32]]
 *                   userData:NULLABLE_BYTES                             (same at v0..v3)
 *
 * Encoding writes v3 by default, as Java 3.x does (other clients send lower versions); the
 * fields a lower version lacks are "ignorable" in the spec and are dropped. Decoding accepts
 * every version >= 0: a version above 3 is read as v3 and what follows the known fields is
 * ignored (Kafka's rule, which is why new versions may only append fields). Trailing bytes are
 * ignored at every version, as Java's reader does. An empty rackId reads as null (as in Java).
 * Empty or malformed bytes, or a negative version, throw ConsumerProtocolError; note that the
 * broker sends an empty assignment to a member the leader left out, which librdkafka reads as
 * "no partitions": the caller decides.
 *
 * Subscription topics and owned partitions are written sorted (Java sorts them); assigned
 * partitions are grouped by topic in the order the topics first appear. Decoded userData is a
 * copy, so a decoded value does not pin the response buffer it came from.
 */
import { ProtocolDecodeError, Reader, Writer } from '../protocol/kafka/primitives.ts'
import type { TopicPartition } from './list-offsets.ts'

/** The highest version of either message this module knows; the one it writes by default. */
export const CONSUMER_PROTOCOL_VERSION = 3

/** Kafka's JoinGroup protocol type for consumers. */
export const CONSUMER_PROTOCOL_TYPE = 'consumer'

/** Bytes that are not a consumer protocol subscription or assignment. */
export class ConsumerProtocolError extends Error {
  override readonly name = 'ConsumerProtocolError'
}

export interface ConsumerProtocolSubscription {
  topics: string[]
  userData: Uint8Array | null
  /** v1+; [] when the version lacks it. */
  ownedPartitions: TopicPartition[]
  /** v2+; -1 when the version lacks it or the member has no generation. */
  generationId: number
  /** v3+; null when the version lacks it or the member has no rack. */
  rackId: string | null
}

export interface ConsumerProtocolAssignment {
  partitions: TopicPartition[]
  userData: Uint8Array | null
}

export interface Versioned {
  /** The version the bytes declare (may be above CONSUMER_PROTOCOL_VERSION). */
  version: number
}

function checkVersion(version: number): void {
  if (!Number.isInteger(version) || version < 0 || version > CONSUMER_PROTOCOL_VERSION) {
    throw new RangeError(`consumer protocol version ${version} is not one of 0..${CONSUMER_PROTOCOL_VERSION}`)
  }
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** [topic, partitions] groups, topics in first-appearance order, partitions in the given order. */
function groupByTopic(partitions: readonly TopicPartition[]): [string, number[]][] {
  const groups = new Map<string, number[]>()
  for (const { topic, partition } of partitions) {
    let g = groups.get(topic)
    if (g === undefined) groups.set(topic, (g = []))
    g.push(partition)
  }
  return [...groups]
}

function writeTopicPartitions(w: Writer, groups: readonly [string, number[]][]): void {
  w.arrayLength(groups.length)
  for (const [topic, partitions] of groups) {
    w.string(topic)
    w.arrayLength(partitions.length)
    for (const p of partitions) w.int32(p)
  }
}

function readTopicPartitions(r: Reader, field: string): TopicPartition[] {
  const out: TopicPartition[] = []
  // A group is at least a 2-byte topic length and a 4-byte count.
  const n = r.arrayLength(6, false, field)
  for (let i = 0; i < n; i++) {
    const topic = r.string(`${field}.topic`)
    const m = r.arrayLength(4, false, `${field}.partitions`)
    for (let j = 0; j < m; j++) out.push({ topic, partition: r.int32(`${field}.partitions`) })
  }
  return out
}

function readVersion(r: Reader, what: string): number {
  if (r.remaining === 0) throw new ConsumerProtocolError(`empty ${what}: no version`)
  const version = r.int16('version')
  if (version < 0) throw new ConsumerProtocolError(`${what} version ${version} is negative`)
  return version
}

function decodeFailure(e: unknown, what: string): unknown {
  return e instanceof ProtocolDecodeError ? new ConsumerProtocolError(`malformed ${what}: ${e.message}`, { cause: e }) : e
}

const copy = (b: Uint8Array | null): Uint8Array | null => (b === null ? null : b.slice())

export function encodeSubscription(s: ConsumerProtocolSubscription, version: number = CONSUMER_PROTOCOL_VERSION): Uint8Array {
  checkVersion(version)
  const w = new Writer(64)
  w.int16(version)
  const topics = [...s.topics].sort(byString)
  w.arrayLength(topics.length)
  for (const t of topics) w.string(t)
  w.nullableBytes(s.userData)
  if (version >= 1) {
    const owned = [...s.ownedPartitions].sort((a, b) => byString(a.topic, b.topic) || a.partition - b.partition)
    writeTopicPartitions(w, groupByTopic(owned))
  }
  if (version >= 2) w.int32(s.generationId)
  if (version >= 3) w.nullableString(s.rackId)
  return w.finish()
}

export function decodeSubscription(bytes: Uint8Array): ConsumerProtocolSubscription & Versioned {
  const r = new Reader(bytes)
  try {
    const version = readVersion(r, 'subscription')
    const n = r.arrayLength(2, false, 'topics')
    const topics: string[] = []
    for (let i = 0; i < n; i++) topics.push(r.string('topics'))
    const userData = copy(r.nullableBytes('userData'))
    const ownedPartitions = version >= 1 ? readTopicPartitions(r, 'ownedPartitions') : []
    const generationId = version >= 2 ? r.int32('generationId') : -1
    const rack = version >= 3 ? r.nullableString('rackId') : null
    return { version, topics, userData, ownedPartitions, generationId, rackId: rack === '' ? null : rack }
  } catch (e) {
    throw decodeFailure(e, 'subscription')
  }
}

export function encodeAssignment(a: ConsumerProtocolAssignment, version: number = CONSUMER_PROTOCOL_VERSION): Uint8Array {
  checkVersion(version)
  const w = new Writer(64)
  w.int16(version)
  writeTopicPartitions(w, groupByTopic(a.partitions))
  w.nullableBytes(a.userData)
  return w.finish()
}

export function decodeAssignment(bytes: Uint8Array): ConsumerProtocolAssignment & Versioned {
  const r = new Reader(bytes)
  try {
    const version = readVersion(r, 'assignment')
    const partitions = readTopicPartitions(r, 'assignedPartitions')
    const userData = copy(r.nullableBytes('userData'))
    return { version, partitions, userData }
  } catch (e) {
    throw decodeFailure(e, 'assignment')
  }
}
