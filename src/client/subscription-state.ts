/**
 * What the consumer holds per assigned partition: the position (the offset of the next record
 * poll() returns), a pending offset reset, paused or not, and the records fetched but not yet
 * returned. A partition is fetched only when its buffer is empty, so the buffer holds at most
 * one fetch response's records for it (bounded by max.partition.fetch.bytes). The group
 * consumer (next issue) changes the assignment through the same calls.
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
  /** How to reset the position, when it must be. */
  reset: OffsetResetStrategy | null
  paused: boolean
  /** Fetched, not yet returned; the first has offset >= position. */
  buffer: ConsumerRecord[]
  highWatermark: number
  lastStableOffset: number
  logStartOffset: number
  /** Bumped by every seek, so that a fetch sent before it is recognised as stale. */
  epoch: number
}

export class SubscriptionState {
  private readonly partitions = new Map<string, PartitionState>()

  constructor(private readonly defaultReset: OffsetResetStrategy) {}

  /** Replaces the assignment; partitions kept keep their position. */
  assign(tps: readonly TopicPartition[]): void {
    const next = new Map<string, PartitionState>()
    for (const tp of tps) {
      const key = tpKey(tp.topic, tp.partition)
      next.set(key, this.partitions.get(key) ?? {
        topic: tp.topic,
        partition: tp.partition,
        position: null,
        reset: this.defaultReset,
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

  seek(tp: TopicPartition, offset: number): void {
    if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`seek offset must be a non-negative integer, got ${offset}`)
    const s = this.must(tp)
    s.position = offset
    s.reset = null
    s.buffer = []
    s.epoch++
  }

  requestReset(tp: TopicPartition, strategy: OffsetResetStrategy): void {
    const s = this.must(tp)
    s.position = null
    s.reset = strategy
    s.buffer = []
    s.epoch++
  }

  get size(): number {
    return this.partitions.size
  }
}
