/**
 * What the consumer holds per assigned partition: the position (the offset of the next record
 * poll() returns, with the leader epoch of the record before it), a pending offset reset,
 * paused or not, and the records fetched but not yet returned. A partition is fetched only when
 * its buffer is empty, so the buffer holds at most one fetch response's records for it
 * (bounded by max.partition.fetch.bytes).
 *
 * And how the partitions came to be assigned, as Kafka's SubscriptionState: by the application
 * (assign), or by the group for a list of topics or a pattern (subscribe); the kinds do not mix
 * (an IllegalState-style error, as Kafka). With a group, a newly assigned partition starts at
 * its committed offset (reset 'committed', resolved by an OffsetFetch), and only without one
 * per auto.offset.reset.
 */
import type { RecordHeader } from '../record/record.ts'
import { tpKey, type TopicPartition } from './list-offsets.ts'

export type OffsetResetStrategy = 'earliest' | 'latest' | 'none'

export interface ConsumerRecord {
  topic: string
  partition: number
  offset: number
  timestamp: number
  timestampType: 'CreateTime' | 'LogAppendTime'
  key: Uint8Array | null
  value: Uint8Array | null
  headers: RecordHeader[]
  /** The leader epoch the batch was written in (-1 if unknown). */
  leaderEpoch: number
}

export interface PartitionState extends TopicPartition {
  /** Next offset to return; null while it awaits a reset. */
  position: number | null
  /** The leader epoch of the record before the position (what a commit carries); -1 when unknown. */
  positionLeaderEpoch: number
  /** How to find the position when it is null: 'committed' asks the group first. */
  reset: OffsetResetStrategy | 'committed' | null
  paused: boolean
  /** Fetched, not yet returned; the first has offset >= position. */
  buffer: ConsumerRecord[]
  highWatermark: number
  lastStableOffset: number
  logStartOffset: number
  /** Bumped by every seek, so that a fetch sent before it is recognised as stale. */
  epoch: number
}

export type SubscriptionType = 'NONE' | 'AUTO_TOPICS' | 'AUTO_PATTERN' | 'USER_ASSIGNED'

export interface OffsetAndEpoch extends TopicPartition {
  offset: number
  leaderEpoch: number
}

const EXCLUSIVE = 'Subscription to topics, partitions and pattern are mutually exclusive'

export class SubscriptionState {
  private readonly partitions = new Map<string, PartitionState>()
  private type: SubscriptionType = 'NONE'
  private topics: readonly string[] = []
  private regex: RegExp | null = null

  constructor(private readonly defaultReset: OffsetResetStrategy) {}

  get subscriptionType(): SubscriptionType {
    return this.type
  }

  /** Whether the group assigns the partitions (subscribe) rather than the application. */
  get autoAssigned(): boolean {
    return this.type === 'AUTO_TOPICS' || this.type === 'AUTO_PATTERN'
  }

  /** The topics subscribed to (for a pattern, those it matched last). */
  subscription(): readonly string[] {
    return this.topics
  }

  get pattern(): RegExp | null {
    return this.regex
  }

  private setType(type: SubscriptionType): void {
    if (this.type !== 'NONE' && this.type !== type) throw new Error(EXCLUSIVE)
    this.type = type
  }

  subscribe(topics: readonly string[]): void {
    this.setType('AUTO_TOPICS')
    this.topics = [...new Set(topics)].sort()
  }

  subscribePattern(pattern: RegExp): void {
    this.setType('AUTO_PATTERN')
    this.regex = pattern
  }

  /** The topics a pattern subscription matches now. */
  setPatternMatches(topics: readonly string[]): void {
    if (this.type !== 'AUTO_PATTERN') throw new Error('not subscribed to a pattern')
    this.topics = [...new Set(topics)].sort()
  }

  /** The application's assignment (assign()). */
  assignManually(tps: readonly TopicPartition[], initialReset?: 'committed'): void {
    this.setType('USER_ASSIGNED')
    this.assign(tps, initialReset)
  }

  unsubscribe(): void {
    this.type = 'NONE'
    this.topics = []
    this.regex = null
    this.assign([])
  }

  /** Replaces the assignment; partitions kept keep their position. */
  assign(tps: readonly TopicPartition[], initialReset?: 'committed'): void {
    const next = new Map<string, PartitionState>()
    for (const tp of tps) {
      const key = tpKey(tp.topic, tp.partition)
      next.set(key, this.partitions.get(key) ?? {
        topic: tp.topic,
        partition: tp.partition,
        position: null,
        positionLeaderEpoch: -1,
        reset: initialReset ?? this.defaultReset,
        paused: false,
        buffer: [],
        highWatermark: -1,
        lastStableOffset: -1,
        logStartOffset: -1,
        epoch: 0,
      })
    }
    this.partitions.clear()
    for (const [k, v] of next) this.partitions.set(k, v)
  }

  assignment(): TopicPartition[] {
    return [...this.partitions.values()].map(({ topic, partition }) => ({ topic, partition }))
  }

  states(): IterableIterator<PartitionState> {
    return this.partitions.values()
  }

  get(tp: TopicPartition): PartitionState | undefined {
    return this.partitions.get(tpKey(tp.topic, tp.partition))
  }

  /** The state of an assigned partition; throws for one not assigned (as Kafka's IllegalStateException). */
  must(tp: TopicPartition): PartitionState {
    const s = this.get(tp)
    if (s === undefined) throw new Error(`no current assignment for partition ${tp.topic}-${tp.partition}`)
    return s
  }

  seek(tp: TopicPartition, offset: number, leaderEpoch = -1): void {
    if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`seek offset must be a non-negative integer, got ${offset}`)
    const s = this.must(tp)
    s.position = offset
    s.positionLeaderEpoch = leaderEpoch
    s.reset = null
    s.buffer = []
    s.epoch++
  }

  requestReset(tp: TopicPartition, strategy: OffsetResetStrategy | 'committed'): void {
    const s = this.must(tp)
    s.position = null
    s.positionLeaderEpoch = -1
    s.reset = strategy
    s.buffer = []
    s.epoch++
  }

  /** The positions of the partitions that have one: what a commit of "everything consumed" sends. */
  allConsumed(): OffsetAndEpoch[] {
    const out: OffsetAndEpoch[] = []
    for (const s of this.partitions.values()) if (s.position !== null) out.push({ topic: s.topic, partition: s.partition, offset: s.position, leaderEpoch: s.positionLeaderEpoch })
    return out
  }

  get size(): number {
    return this.partitions.size
  }
}
