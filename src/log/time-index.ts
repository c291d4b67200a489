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
 * held wholly in memory, with appends written on flush() or once 4 KiB are pending.
 */
import type { Storage, StorageFile } from './storage.ts'

const ENTRY_SIZE = 12
const WRITE_BUFFER_BYTES = 4096
const INT32_MAX = 0x7fffffff
const INITIAL_CAPACITY = 64
/** Kafka's RecordBatch.NO_TIMESTAMP. */
const NO_TIMESTAMP = -1

export interface TimestampOffset {
  timestamp: number
  offset: number
}

export class TimeIndex {
  readonly path: string
  private readonly storage: Storage
  private readonly base: number
  private readonly maxEntries: number
  private file: StorageFile | null
  private timestamps: Float64Array
  private relativeOffsets: Int32Array
  private count: number
  /** Entries [0, flushed) are in the file; the rest are pending. */
  private flushed: number

  private constructor(storage: Storage, path: string, file: StorageFile, baseOffset: number, maxEntries: number, loaded: Uint8Array) {
    this.storage = storage
    this.path = path
    this.file = file
    this.base = baseOffset
    this.maxEntries = maxEntries
    // A torn last entry (size not a multiple of 12) is left out; sanityCheck() still reports the file.
    const count = Math.floor(loaded.length / ENTRY_SIZE)
    const capacity = Math.max(count, Math.min(maxEntries, INITIAL_CAPACITY))
    this.timestamps = new Float64Array(capacity)
    this.relativeOffsets = new Int32Array(capacity)
    const view = new DataView(loaded.buffer, loaded.byteOffset, loaded.byteLength)
    for (let i = 0; i < count; i++) {
      // Beyond 2^53 the conversion rounds; sanityCheck() rejects such timestamps.
      this.timestamps[i] = Number(view.getBigInt64(i * ENTRY_SIZE))
      this.relativeOffsets[i] = view.getInt32(i * ENTRY_SIZE + 8)
    }
    this.count = count
    this.flushed = count
  }

  /** Opens the time index of the segment starting at `baseOffset`, creating an empty file if there is none. */
  static open(storage: Storage, path: string, baseOffset: number, maxIndexBytes: number): TimeIndex {
    if (!Number.isSafeInteger(baseOffset) || baseOffset < 0) throw new Error(`invalid base offset ${baseOffset} for time index ${path}`)
    if (!Number.isSafeInteger(maxIndexBytes) || maxIndexBytes < 0) throw new Error(`invalid max index size ${maxIndexBytes} for time index ${path}`)
    const file = storage.open(path, { create: true })
    try {
      const loaded = new Uint8Array(file.size())
      const read = file.readInto(loaded, 0, loaded.length, 0)
      return new TimeIndex(storage, path, file, baseOffset, Math.floor(maxIndexBytes / ENTRY_SIZE), loaded.subarray(0, read))
    } catch (err) {
      file.close()
      throw err
    }
  }

  get baseOffset(): number {
    return this.base
  }

  get entries(): number {
    return this.count
  }

  /** The last entry, or (-1, baseOffset) when the index is empty (as Kafka's lastEntry). */
  get lastEntry(): TimestampOffset {
    if (this.count === 0) return { timestamp: NO_TIMESTAMP, offset: this.base }
    return this.entryAt(this.count - 1)
  }

  get sizeInBytes(): number {
    return this.count * ENTRY_SIZE
  }

  /**
   * Full one entry early, as Kafka's: the segment rolls when this turns true, and the slot left
   * over takes the entry appended as the segment is closed.
   */
  isFull(): boolean {
    return this.count >= this.maxEntries - 1
  }

  /** Why the index cannot be trusted (torn file, entries out of order...), or null when it is sound. */
  sanityCheck(): string | null {
    const size = this.openFile().size()
    if (size % ENTRY_SIZE !== 0) return `time index file size ${size} is not a multiple of ${ENTRY_SIZE} (torn last entry)`
    let previousTimestamp = NO_TIMESTAMP
    let previousRelative = 0
    for (let i = 0; i < this.count; i++) {
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

  /**
   * Records that no record before `offset` has a timestamp above `timestamp`, when `timestamp` is
   * larger than the last entry's (a smaller or equal one adds nothing, and NO_TIMESTAMP never lands).
   * Offsets must not go backwards. Unlike Kafka, a smaller timestamp is skipped rather than refused,
   * so the caller may pass each batch's max timestamp or the running max alike.
   */
  maybeAppend(timestamp: number, offset: number): void {
    this.openFile()
    if (!Number.isSafeInteger(timestamp)) throw new Error(`invalid timestamp ${timestamp} for time index ${this.path}`)
    if (!Number.isSafeInteger(offset)) throw new Error(`invalid offset ${offset} for time index ${this.path}`)
    const last = this.lastEntry
    if (this.count > 0 && offset < last.offset) {
      throw new Error(`offset ${offset} appended to ${this.path} goes back from the last offset ${last.offset}`)
    }
    if (timestamp <= last.timestamp) return
    const relative = offset - this.base
    if (relative < 0 || relative > INT32_MAX) throw new Error(`offset ${offset} cannot be indexed in ${this.path} (base offset ${this.base})`)
    // isFull() leaves one slot for the roll; only a really full index refuses.
    if (this.count >= this.maxEntries) throw new Error(`attempt to append to a full time index ${this.path} (${this.count} entries)`)
    if (this.count === this.timestamps.length) this.grow()
    this.timestamps[this.count] = timestamp
    this.relativeOffsets[this.count] = relative
    this.count++
    if ((this.count - this.flushed) * ENTRY_SIZE >= WRITE_BUFFER_BYTES) this.writePending()
  }

  /** The largest entry whose timestamp is <= `targetTimestamp`, or (-1, baseOffset) when there is none. */
  lookup(targetTimestamp: number): TimestampOffset {
    let lo = 0
    let hi = this.count - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.timestamps[mid]! <= targetTimestamp) {
        found = mid
        lo = mid + 1
      } else {
        hi = mid - 1
      }
    }
    if (found < 0) return { timestamp: NO_TIMESTAMP, offset: this.base }
    return this.entryAt(found)
  }

  /** Removes every entry whose offset is >= `offset`. */
  truncateTo(offset: number): void {
    this.openFile()
    const target = offset - this.base
    // First slot whose relative offset is >= target; offsets never decrease, so all after it go too.
    let lo = 0
    let hi = this.count
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.relativeOffsets[mid]! < target) lo = mid + 1
      else hi = mid
    }
    if (lo >= this.count) return
    this.count = lo
    if (this.flushed > lo) {
      this.openFile().truncate(lo * ENTRY_SIZE)
      this.flushed = lo
    }
  }

  /** Removes every entry (the index is about to be rebuilt). */
  reset(): void {
    this.openFile().truncate(0)
    this.count = 0
    this.flushed = 0
  }

  /** Writes pending entries to the file (not durable until sync()). */
  flush(): void {
    this.openFile()
    this.writePending()
  }

  sync(): void {
    this.flush()
    this.openFile().sync()
  }

  close(): void {
    if (this.file === null) return
    this.writePending()
    this.file.close()
    this.file = null
  }

  /** Closes the index, dropping pending entries, and removes its file. */
  delete(): void {
    if (this.file !== null) {
      this.file.close()
      this.file = null
    }
    this.storage.remove(this.path)
  }

  private entryAt(slot: number): TimestampOffset {
    return { timestamp: this.timestamps[slot]!, offset: this.base + this.relativeOffsets[slot]! }
  }

  private grow(): void {
    const capacity = Math.min(Math.max(this.timestamps.length * 2, INITIAL_CAPACITY), this.maxEntries)
    const timestamps = new Float64Array(capacity)
    timestamps.set(this.timestamps)
    this.timestamps = timestamps
    const relativeOffsets = new Int32Array(capacity)
    relativeOffsets.set(this.relativeOffsets)
    this.relativeOffsets = relativeOffsets
  }

  private writePending(): void {
    const file = this.openFile()
    const pending = this.count - this.flushed
    if (pending > 0) {
      const bytes = new Uint8Array(pending * ENTRY_SIZE)
      const view = new DataView(bytes.buffer)
      for (let i = 0; i < pending; i++) {
        view.setBigInt64(i * ENTRY_SIZE, BigInt(this.timestamps[this.flushed + i]!))
        view.setInt32(i * ENTRY_SIZE + 8, this.relativeOffsets[this.flushed + i]!)
      }
      file.writeAt(bytes, this.flushed * ENTRY_SIZE)
      this.flushed = this.count
    }
    // Drops a torn entry a crash left behind, so a flushed index always passes the size check.
    if (file.size() > this.count * ENTRY_SIZE) file.truncate(this.count * ENTRY_SIZE)
  }

  private openFile(): StorageFile {
    if (this.file === null) throw new Error(`time index ${this.path} is closed`)
    return this.file
  }
}
