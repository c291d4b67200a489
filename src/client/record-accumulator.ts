/**
 * The producer's record accumulator, as Kafka's RecordAccumulator: per topic-partition, a
 * queue of batches. `append` adds to the last open batch of the partition or opens a new
 * one; the sender `drain`s the batches that are ready (full, lingered linger.ms, behind
 * another batch, flushing, or a retry whose backoff passed) and hands them back with
 * `reenqueue` when a retriable error sends them round again (at the front: order within a
 * partition is kept while max.in.flight.requests.per.connection is 1).
 *
 * Bounds: `batch.size` bytes per batch (a record larger than that gets a batch of its own);
 * `buffer.memory` bytes of records held, from append until their batch completes (the
 * producer makes send() wait for room, up to max.block.ms).
 */
import { sizeOfRecord, type RecordInput } from '../record/record.ts'
import { BATCH_HEADER_SIZE } from '../record/batch-header.ts'
import type { KafkaError } from './errors.ts'

export interface RecordMetadata {
  topic: string
  partition: number
  /** -1 when acks=0 (the broker does not say). */
  offset: number
  /** The record's create time, or the broker's log-append time when the topic uses LogAppendTime. */
  timestamp: number
}

interface Callback {
  resolve: (m: RecordMetadata) => void
  reject: (e: Error) => void
}

export class ProducerBatch {
  readonly records: RecordInput[] = []
  private readonly callbacks: Callback[] = []
  /** Estimated bytes of the encoded batch (uncompressed upper bound). */
  sizeBytes = BATCH_HEADER_SIZE
  /** No more appends: it is full, or was drained. */
  closed = false
  attempts = 0
  retryAtMs = 0
  /** Not to be sent again until the metadata is newer than this version (after a leadership error). */
  waitForMetadataAfter = -1
  /** The encoded batch, built once at its first send and reused by retries. */
  bytes: Uint8Array | null = null
  private settled = false
  readonly done: Promise<void>
  private markDone!: () => void

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly createdMs: number,
  ) {
    this.done = new Promise((r) => (this.markDone = r))
  }

  get recordCount(): number {
    return this.records.length
  }

  /** Bytes this record adds to the batch. */
  sizeOf(record: RecordInput): number {
    const first = this.records[0]?.timestamp ?? record.timestamp ?? 0
    return sizeOfRecord(this.records.length, (record.timestamp ?? 0) - first, record.key, record.value, record.headers)
  }

  add(record: RecordInput, size: number, callback: Callback): void {
    this.records.push(record)
    this.callbacks.push(callback)
    this.sizeBytes += size
  }

  complete(baseOffset: number, logAppendTimeMs: number): void {
    if (this.settled) return
    this.settled = true
    for (let i = 0; i < this.records.length; i++) {
      const offset = baseOffset < 0 ? -1 : baseOffset + i
      const timestamp = logAppendTimeMs >= 0 ? logAppendTimeMs : this.records[i]!.timestamp!
      this.callbacks[i]!.resolve({ topic: this.topic, partition: this.partition, offset, timestamp })
    }
    this.markDone()
  }

  fail(error: KafkaError | Error): void {
    if (this.settled) return
    this.settled = true
    for (const c of this.callbacks) c.reject(error)
    this.markDone()
  }
}

interface PartitionQueue {
  topic: string
  partition: number
  batches: ProducerBatch[]
}

export interface AccumulatorOptions {
  batchSizeBytes: number
  lingerMs: number
}

export class RecordAccumulator {
  private readonly queues = new Map<string, PartitionQueue>()
  /** Batches drained and not yet completed (in flight, or about to be). */
  readonly inFlight = new Set<ProducerBatch>()
  /** Bytes of records held (appended, not completed). */
  bufferedBytes = 0
  /** While > 0, every batch is ready regardless of linger.ms. */
  flushing = 0

  constructor(private readonly options: AccumulatorOptions) {}

  private queue(topic: string, partition: number): PartitionQueue {
    const key = `${partition}\u0000${topic}`
    let q = this.queues.get(key)
    if (q === undefined) {
      q = { topic, partition, batches: [] }
      this.queues.set(key, q)
    }
    return q
  }

  /**
   * Appends to the partition's open batch, or opens a new one. With `abortOnNewBatch`
   * (sticky partitioning), returns false instead of opening one, so the partitioner can
   * move on first (KIP-480).
   */
  append(topic: string, partition: number, record: RecordInput, callback: Callback, nowMs: number, abortOnNewBatch = false): boolean {
    const q = this.queue(topic, partition)
    const last = q.batches[q.batches.length - 1]
    if (last !== undefined && !last.closed) {
      const size = last.sizeOf(record)
      if (last.sizeBytes + size <= this.options.batchSizeBytes) {
        last.add(record, size, callback)
        this.bufferedBytes += size
        return true
      }
      last.closed = true
    }
    if (abortOnNewBatch) return false
    const batch = new ProducerBatch(topic, partition, nowMs)
    const size = batch.sizeOf(record)
    batch.add(record, size, callback)
    this.bufferedBytes += size
    if (batch.sizeBytes >= this.options.batchSizeBytes) batch.closed = true
    q.batches.push(batch)
    return true
  }

  /** Batches not completed: queued and in flight. */
  *all(): Generator<ProducerBatch> {
    for (const q of this.queues.values()) yield* q.batches
    yield* this.inFlight
  }

  /** Whether anything is held. */
  get isEmpty(): boolean {
    if (this.inFlight.size > 0) return false
    for (const q of this.queues.values()) if (q.batches.length > 0) return false
    return true
  }

  /**
   * Fails (and removes) queued batches created at least `deliveryTimeoutMs` ago; in-flight
   * batches are left to their response. Returns how many expired.
   */
  expire(nowMs: number, deliveryTimeoutMs: number, error: (b: ProducerBatch) => Error): number {
    let n = 0
    for (const q of this.queues.values()) {
      while (q.batches.length > 0 && nowMs - q.batches[0]!.createdMs >= deliveryTimeoutMs) {
        const b = q.batches.shift()!
        this.release(b)
        b.fail(error(b))
        n++
      }
    }
    return n
  }

  /**
   * The head batch of each partition that is ready to go, and the earliest time another
   * one will be (Infinity when none is waiting).
   */
  ready(nowMs: number, muted: (topic: string, partition: number) => boolean): { ready: ProducerBatch[]; nextCheckMs: number } {
    const ready: ProducerBatch[] = []
    let nextCheckMs = Infinity
    for (const q of this.queues.values()) {
      const b = q.batches[0]
      if (b === undefined || muted(q.topic, q.partition)) continue
      if (b.retryAtMs > nowMs) {
        nextCheckMs = Math.min(nextCheckMs, b.retryAtMs)
        continue
      }
      const lingerUntil = b.createdMs + this.options.lingerMs
      if (b.closed || q.batches.length > 1 || this.flushing > 0 || b.attempts > 0 || lingerUntil <= nowMs) ready.push(b)
      else nextCheckMs = Math.min(nextCheckMs, lingerUntil)
    }
    return { ready, nextCheckMs }
  }

  /** Takes a ready head batch out of its queue for sending. */
  drain(b: ProducerBatch): void {
    const q = this.queue(b.topic, b.partition)
    if (q.batches[0] === b) q.batches.shift()
    b.closed = true
    this.inFlight.add(b)
  }

  /** Puts a batch back at the front of its partition's queue, to be sent after `retryAtMs`. */
  reenqueue(b: ProducerBatch, retryAtMs: number): void {
    this.inFlight.delete(b)
    b.retryAtMs = retryAtMs
    this.queue(b.topic, b.partition).batches.unshift(b)
  }

  /** Forgets a completed (or failed) batch and frees its bytes. */
  release(b: ProducerBatch): void {
    this.inFlight.delete(b)
    this.bufferedBytes -= b.sizeBytes - BATCH_HEADER_SIZE
  }
}
