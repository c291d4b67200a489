/**
 * OffsetIndex — the sparse offset index of one segment (`<baseOffset>.index`), laid out as Kafka's.
 *
 * On disk, no header, a run of 8-byte big-endian entries:
 *   relativeOffset int32 (offset - baseOffset) | position int32 (byte position of a batch in the .log)
 * Both fields strictly increase from one entry to the next. The file holds exactly entries*8 bytes
 * (Kafka preallocates and trims on close; we append, so a crash can leave at most a torn last entry).
 *
 * The index is a cache of the .log, so it carries no checksum: the log runs sanityCheck() at start-up
 * and rebuilds an index that fails it. Every entry is kept in memory, which makes lookup a binary
 * search with no I/O; appends stay in memory until flush() or until 4 KiB are pending.
 */
import type { Storage, StorageFile } from './storage.ts'

const ENTRY_SIZE = 8
const WRITE_BUFFER_BYTES = 4096
const INT32_MAX = 0x7fffffff
const INITIAL_CAPACITY = 64

export interface OffsetPosition {
  offset: number
  position: number
}

export class OffsetIndex {
  readonly path: string
  private readonly storage: Storage
  private readonly base: number
  private readonly maxEntries: number
  private file: StorageFile | null
  private relativeOffsets: Int32Array
  private positions: Int32Array
  private count: number
  /** Entries [0, flushed) are in the file; the rest are pending. */
  private flushed: number

  private constructor(storage: Storage, path: string, file: StorageFile, baseOffset: number, maxEntries: number, loaded: Uint8Array) {
    this.storage = storage
    this.path = path
    this.file = file
    this.base = baseOffset
    this.maxEntries = maxEntries
    // A torn last entry (size not a multiple of 8) is left out; sanityCheck() still reports the file.
    const count = Math.floor(loaded.length / ENTRY_SIZE)
    const capacity = Math.max(count, Math.min(maxEntries, INITIAL_CAPACITY))
    this.relativeOffsets = new Int32Array(capacity)
    this.positions = new Int32Array(capacity)
    const view = new DataView(loaded.buffer, loaded.byteOffset, loaded.byteLength)
    for (let i = 0; i < count; i++) {
      this.relativeOffsets[i] = view.getInt32(i * ENTRY_SIZE)
      this.positions[i] = view.getInt32(i * ENTRY_SIZE + 4)
    }
    this.count = count
    this.flushed = count
  }

  /** Opens the index of the segment starting at `baseOffset`, creating an empty file if there is none. */
  static open(storage: Storage, path: string, baseOffset: number, maxIndexBytes: number): OffsetIndex {
    if (!Number.isSafeInteger(baseOffset) || baseOffset < 0) throw new Error(`invalid base offset ${baseOffset} for index ${path}`)
    if (!Number.isSafeInteger(maxIndexBytes) || maxIndexBytes < 0) throw new Error(`invalid max index size ${maxIndexBytes} for index ${path}`)
    const file = storage.open(path, { create: true })
    try {
      const loaded = new Uint8Array(file.size())
      const read = file.readInto(loaded, 0, loaded.length, 0)
      return new OffsetIndex(storage, path, file, baseOffset, Math.floor(maxIndexBytes / ENTRY_SIZE), loaded.subarray(0, read))
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

  /** Offset of the last entry, or the base offset when the index is empty (as Kafka's lastOffset). */
  get lastOffset(): number {
    return this.count === 0 ? this.base : this.base + this.relativeOffsets[this.count - 1]!
  }

  get sizeInBytes(): number {
    return this.count * ENTRY_SIZE
  }

  /** Full when no entry fits in `maxIndexBytes` any more; the segment rolls then. */
  isFull(): boolean {
    return this.count >= this.maxEntries
  }

  /** Why the index cannot be trusted (torn file, entries out of order...), or null when it is sound. */
  sanityCheck(): string | null {
    const size = this.openFile().size()
    if (size % ENTRY_SIZE !== 0) return `index file size ${size} is not a multiple of ${ENTRY_SIZE} (torn last entry)`
    let previousRelative = -1
    let previousPosition = -1
    for (let i = 0; i < this.count; i++) {
      const relative = this.relativeOffsets[i]!
      const position = this.positions[i]!
      if (relative < 0) return `entry ${i} has a negative relative offset ${relative} (offset ${this.base + relative} is below the base offset ${this.base})`
      if (position < 0) return `entry ${i} has a negative position ${position}`
      if (relative <= previousRelative) return `entry ${i}: offset ${this.base + relative} does not increase (previous ${this.base + previousRelative})`
      if (position <= previousPosition) return `entry ${i}: position ${position} does not increase (previous ${previousPosition})`
      previousRelative = relative
      previousPosition = position
    }
    return null
  }

  /** Records that the batch ending at `offset` starts at byte `position`. Both must exceed the last entry's. */
  append(offset: number, position: number): void {
    this.openFile()
    if (this.isFull()) throw new Error(`attempt to append to a full index ${this.path} (${this.count} entries)`)
    const relative = offset - this.base
    if (!Number.isInteger(relative) || relative < 0 || relative > INT32_MAX) {
      throw new Error(`offset ${offset} cannot be indexed in ${this.path} (base offset ${this.base})`)
    }
    if (!Number.isInteger(position) || position < 0 || position > INT32_MAX) {
      throw new Error(`position ${position} cannot be indexed in ${this.path}`)
    }
    const last = this.count - 1
    if (last >= 0 && relative <= this.relativeOffsets[last]!) {
      throw new Error(`offset ${offset} appended to ${this.path} is not larger than the last offset ${this.lastOffset}`)
    }
    if (last >= 0 && position <= this.positions[last]!) {
      throw new Error(`position ${position} appended to ${this.path} is not larger than the last position ${this.positions[last]}`)
    }
    if (this.count === this.relativeOffsets.length) this.grow()
    this.relativeOffsets[this.count] = relative
    this.positions[this.count] = position
    this.count++
    if ((this.count - this.flushed) * ENTRY_SIZE >= WRITE_BUFFER_BYTES) this.writePending()
  }

  /** The largest entry whose offset is <= `targetOffset`, or (baseOffset, 0) when there is none. */
  lookup(targetOffset: number): OffsetPosition {
    const slot = this.largestLowerBound(targetOffset - this.base)
    if (slot < 0) return { offset: this.base, position: 0 }
    return { offset: this.base + this.relativeOffsets[slot]!, position: this.positions[slot]! }
  }

  /** Removes every entry whose offset is >= `offset`. */
  truncateTo(offset: number): void {
    this.openFile()
    const keep = this.largestLowerBound(offset - this.base - 1) + 1
    if (keep >= this.count) return
    this.count = keep
    if (this.flushed > keep) {
      this.openFile().truncate(keep * ENTRY_SIZE)
      this.flushed = keep
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

  // Slot of the last entry with relativeOffset <= target, -1 when none.
  private largestLowerBound(target: number): number {
    let lo = 0
    let hi = this.count - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.relativeOffsets[mid]! <= target) {
        found = mid
        lo = mid + 1
      } else {
        hi = mid - 1
      }
    }
    return found
  }

  private grow(): void {
    const capacity = Math.min(Math.max(this.relativeOffsets.length * 2, INITIAL_CAPACITY), this.maxEntries)
    const relativeOffsets = new Int32Array(capacity)
    relativeOffsets.set(this.relativeOffsets)
    this.relativeOffsets = relativeOffsets
    const positions = new Int32Array(capacity)
    positions.set(this.positions)
    this.positions = positions
  }

  private writePending(): void {
    const file = this.openFile()
    const pending = this.count - this.flushed
    if (pending > 0) {
      const bytes = new Uint8Array(pending * ENTRY_SIZE)
      const view = new DataView(bytes.buffer)
      for (let i = 0; i < pending; i++) {
        view.setInt32(i * ENTRY_SIZE, this.relativeOffsets[this.flushed + i]!)
        view.setInt32(i * ENTRY_SIZE + 4, this.positions[this.flushed + i]!)
      }
      file.writeAt(bytes, this.flushed * ENTRY_SIZE)
      this.flushed = this.count
    }
    // Drops a torn entry a crash left behind, so a flushed index always passes the size check.
    if (file.size() > this.count * ENTRY_SIZE) file.truncate(this.count * ENTRY_SIZE)
  }

  private openFile(): StorageFile {
    if (this.file === null) throw new Error(`index ${this.path} is closed`)
    return this.file
  }
}
