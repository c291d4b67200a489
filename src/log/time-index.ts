/**
 * TimeIndex — the sparse time index of one segment (`<baseOffset>.timeindex`), laid out as Kafka's.
 *
 * On disk, no header, a run of 12-byte big-endian entries:
 *   timestamp int64 (largest timestamp so far) | relativeOffset int32 (offset - baseOffset)
 * An entry (T, O) says that no record before offset O has a timestamp above T. Timestamps strictly
 * increase from one entry to the next, offsets never decrease. The file holds exactly entries*12 bytes;
 * a crash can leave at most a torn last entry.
 *
 * Like the OffsetIndex it is a cache of the .log (no checksum, rebuilt when sanityCheck() fails),
 * held wholly in memory, with appends written on flush() or once 4 KiB are pending (the file's
 * life is IndexFile's, in index-file.ts).
 */
import { IndexFile, resized } from './index-file.ts'
import type { Storage } from './storage.ts'

const ENTRY_SIZE = 12
const INT32_MAX = 0x7fffffff
/** Kafka's RecordBatch.NO_TIMESTAMP. */
const NO_TIMESTAMP = -1

export interface TimestampOffset {
  timestamp: number
  offset: number
}

export class TimeIndex extends IndexFile {
  private timestamps = new Float64Array(0)
  private relativeOffsets = new Int32Array(0)

  private constructor(storage: Storage, path: string, baseOffset: number, maxIndexBytes: number) {
    super(storage, path, baseOffset, maxIndexBytes, ENTRY_SIZE, 'time index')
  }

  /** Opens the time index of the segment starting at `baseOffset`, creating an empty file if there is none. */
  static open(storage: Storage, path: string, baseOffset: number, maxIndexBytes: number): TimeIndex {
    return new TimeIndex(storage, path, baseOffset, maxIndexBytes).load()
  }

  /** The last entry, or (-1, baseOffset) when the index is empty (as Kafka's lastEntry). */
  get lastEntry(): TimestampOffset {
    if (this.entries === 0) return { timestamp: NO_TIMESTAMP, offset: this.base }
    return this.entryAt(this.entries - 1)
  }

  /**
   * Full one entry early, as Kafka's: the segment rolls when this turns true, and the slot left
   * over takes the entry appended as the segment is closed.
   */
  override isFull(): boolean {
    return this.entries >= this.maxEntries - 1
  }

  /**
   * Records that no record before `offset` has a timestamp above `timestamp`, when `timestamp` is
   * larger than the last entry's (a smaller or equal one adds nothing, and NO_TIMESTAMP never lands).
   * Offsets must not go backwards. Unlike Kafka, a smaller timestamp is skipped rather than refused,
   * so the caller may pass each batch's max timestamp or the running max alike.
   */
  maybeAppend(timestamp: number, offset: number): void {
    this.assertOpen()
    if (!Number.isSafeInteger(timestamp)) throw new Error(`invalid timestamp ${timestamp} for time index ${this.path}`)
    if (!Number.isSafeInteger(offset)) throw new Error(`invalid offset ${offset} for time index ${this.path}`)
    const last = this.lastEntry
    if (this.entries > 0 && offset < last.offset) {
      throw new Error(`offset ${offset} appended to ${this.path} goes back from the last offset ${last.offset}`)
    }
    if (timestamp <= last.timestamp) return
    const relative = offset - this.base
    if (relative < 0 || relative > INT32_MAX) throw new Error(`offset ${offset} cannot be indexed in ${this.path} (base offset ${this.base})`)
    // isFull() leaves one slot for the roll; only a really full index refuses.
    this.assertRoom()
    const slot = this.nextSlot()
    this.timestamps[slot] = timestamp
    this.relativeOffsets[slot] = relative
    this.added()
  }

  /** The largest entry whose timestamp is <= `targetTimestamp`, or (-1, baseOffset) when there is none. */
  lookup(targetTimestamp: number): TimestampOffset {
    const slot = this.largestLowerBound(this.timestamps, targetTimestamp)
    if (slot < 0) return { timestamp: NO_TIMESTAMP, offset: this.base }
    return this.entryAt(slot)
  }

  protected override checkEntries(): string | null {
    let previousTimestamp = NO_TIMESTAMP
    let previousRelative = 0
    for (let i = 0; i < this.entries; i++) {
      const timestamp = this.timestamps[i]!
      const relative = this.relativeOffsets[i]!
      if (!Number.isSafeInteger(timestamp) || timestamp < 0) return `entry ${i} has an invalid timestamp ${timestamp}`
      if (relative < 0) return `entry ${i} has a negative relative offset ${relative} (offset ${this.base + relative} is below the base offset ${this.base})`
      if (timestamp <= previousTimestamp) return `entry ${i}: timestamp ${timestamp} does not increase (previous ${previousTimestamp})`
      if (relative < previousRelative) return `entry ${i}: offset ${this.base + relative} goes backwards (previous ${this.base + previousRelative})`
      previousTimestamp = timestamp
      previousRelative = relative
    }
    return null
  }

  // The first slot whose relative offset is >= the target; offsets never decrease, so all after it go too.
  protected override entriesBelow(offset: number): number {
    const target = offset - this.base
    let lo = 0
    let hi = this.entries
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.relativeOffsets[mid]! < target) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  protected override decode(view: DataView, at: number, slot: number): void {
    // Beyond 2^53 the conversion rounds; sanityCheck() rejects such timestamps.
    this.timestamps[slot] = Number(view.getBigInt64(at))
    this.relativeOffsets[slot] = view.getInt32(at + 8)
  }

  protected override encode(view: DataView, at: number, slot: number): void {
    view.setBigInt64(at, BigInt(this.timestamps[slot]!))
    view.setInt32(at + 8, this.relativeOffsets[slot]!)
  }

  protected override resize(capacity: number): void {
    this.timestamps = resized(this.timestamps, capacity)
    this.relativeOffsets = resized(this.relativeOffsets, capacity)
  }

  private entryAt(slot: number): TimestampOffset {
    return { timestamp: this.timestamps[slot]!, offset: this.base + this.relativeOffsets[slot]! }
  }
}
