/**
 * IndexFile — what the sparse indexes of a segment (OffsetIndex, TimeIndex) share: the life of
 * their file. The on-disk formats are given by the subclasses; both are a run of fixed-size
 * entries with no header, so the file holds exactly entries*entrySize bytes (Kafka preallocates
 * and trims on close; we append, so a crash can leave at most a torn last entry).
 *
 * Every entry is kept in memory, in arrays the subclass owns, so lookups need no I/O. Appends stay
 * in memory until flush() or until 4 KiB are pending; the subclass encodes and decodes entries,
 * this class decides when they are read, written, truncated and dropped.
 */
import type { Storage, StorageFile } from './storage.ts'

const WRITE_BUFFER_BYTES = 4096
const INITIAL_CAPACITY = 64

/** A copy of `array` with room for `capacity` entries (at least its length), for resize(). */
export function resized<T extends Int32Array | Float64Array>(array: T, capacity: number): T {
  const copy = new (array.constructor as new (length: number) => T)(capacity)
  copy.set(array)
  return copy
}

export abstract class IndexFile {
  readonly path: string
  /** The segment's base offset: entries store their offset relative to it. */
  protected readonly base: number
  /** How many entries fit in the `maxIndexBytes` given to open(). */
  protected readonly maxEntries: number
  private readonly storage: Storage
  private readonly entrySize: number
  /** What the index is called in messages ("index", "time index"). */
  private readonly kind: string
  private file: StorageFile | null = null
  /** Length of the subclass's arrays. */
  private capacity = 0
  private count = 0
  /** Entries [0, flushed) are in the file; the rest are pending. */
  private flushed = 0

  /** Checks the arguments of open(); load() then opens the file. */
  protected constructor(storage: Storage, path: string, baseOffset: number, maxIndexBytes: number, entrySize: number, kind: string) {
    if (!Number.isSafeInteger(baseOffset) || baseOffset < 0) throw new Error(`invalid base offset ${baseOffset} for ${kind} ${path}`)
    if (!Number.isSafeInteger(maxIndexBytes) || maxIndexBytes < 0) throw new Error(`invalid max index size ${maxIndexBytes} for ${kind} ${path}`)
    this.storage = storage
    this.path = path
    this.base = baseOffset
    this.maxEntries = Math.floor(maxIndexBytes / entrySize)
    this.entrySize = entrySize
    this.kind = kind
  }

  /** Stores in the arrays, at `slot`, the entry encoded at `at` in `view`. */
  protected abstract decode(view: DataView, at: number, slot: number): void
  /** Writes the entry at `slot` into `view` at `at`. */
  protected abstract encode(view: DataView, at: number, slot: number): void
  /** Replaces the arrays by ones of `capacity` entries (never shorter than they are), keeping the entries. */
  protected abstract resize(capacity: number): void
  /** Why the entries cannot be trusted (out of order, out of range), or null; sanityCheck() has checked the file size. */
  protected abstract checkEntries(): string | null
  /** How many entries have an offset below `offset` (offsets never decrease, so they come first). */
  protected abstract entriesBelow(offset: number): number

  /**
   * Opens the file, creating it empty if there is none, and loads its entries; called once by the
   * subclass's open(), after its constructor (its arrays exist only then). A failure closes the file again.
   */
  protected load(): this {
    const file = this.storage.open(this.path, { create: true })
    try {
      const loaded = new Uint8Array(file.size())
      const read = file.readInto(loaded, 0, loaded.length, 0)
      // A torn last entry (size not a multiple of entrySize) is left out; sanityCheck() still reports the file.
      const count = Math.floor(read / this.entrySize)
      this.setCapacity(Math.max(count, Math.min(this.maxEntries, INITIAL_CAPACITY)))
      const view = new DataView(loaded.buffer, 0, read)
      for (let i = 0; i < count; i++) this.decode(view, i * this.entrySize, i)
      this.count = count
      this.flushed = count
    } catch (err) {
      file.close()
      throw err
    }
    this.file = file
    return this
  }

  get baseOffset(): number {
    return this.base
  }

  get entries(): number {
    return this.count
  }

  get sizeInBytes(): number {
    return this.count * this.entrySize
  }

  /** Full when no entry fits in `maxIndexBytes` any more; the segment rolls then. */
  isFull(): boolean {
    return this.count >= this.maxEntries
  }

  /** Why the index cannot be trusted (torn file, entries out of order...), or null when it is sound. */
  sanityCheck(): string | null {
    const size = this.openFile().size()
    if (size % this.entrySize !== 0) return `${this.kind} file size ${size} is not a multiple of ${this.entrySize} (torn last entry)`
    return this.checkEntries()
  }

  /** Removes every entry whose offset is >= `offset`. */
  truncateTo(offset: number): void {
    this.openFile()
    const keep = this.entriesBelow(offset)
    if (keep >= this.count) return
    this.count = keep
    if (this.flushed > keep) {
      this.openFile().truncate(keep * this.entrySize)
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

  /** Throws when the index is closed. */
  protected assertOpen(): void {
    this.openFile()
  }

  /** Throws when no entry fits any more (whatever isFull() says). */
  protected assertRoom(): void {
    if (this.count >= this.maxEntries) throw new Error(`attempt to append to a full ${this.kind} ${this.path} (${this.count} entries)`)
  }

  /**
   * The slot of the next entry, the arrays grown if it lies beyond them. The subclass stores the
   * entry there, then calls added().
   */
  protected nextSlot(): number {
    if (this.count === this.capacity) this.setCapacity(Math.min(Math.max(this.capacity * 2, INITIAL_CAPACITY), this.maxEntries))
    return this.count
  }

  /** Counts the entry stored at nextSlot(), writing the pending ones once they reach 4 KiB. */
  protected added(): void {
    this.count++
    if ((this.count - this.flushed) * this.entrySize >= WRITE_BUFFER_BYTES) this.writePending()
  }

  /** Slot of the last entry whose key in `keys` (one of the subclass's arrays, ascending) is <= `target`, -1 when none. */
  protected largestLowerBound(keys: Int32Array | Float64Array, target: number): number {
    let lo = 0
    let hi = this.count - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (keys[mid]! <= target) {
        found = mid
        lo = mid + 1
      } else {
        hi = mid - 1
      }
    }
    return found
  }

  private setCapacity(capacity: number): void {
    this.resize(capacity)
    this.capacity = capacity
  }

  private writePending(): void {
    const file = this.openFile()
    const pending = this.count - this.flushed
    if (pending > 0) {
      const bytes = new Uint8Array(pending * this.entrySize)
      const view = new DataView(bytes.buffer)
      for (let i = 0; i < pending; i++) this.encode(view, i * this.entrySize, this.flushed + i)
      file.writeAt(bytes, this.flushed * this.entrySize)
      this.flushed = this.count
    }
    // Drops a torn entry a crash left behind, so a flushed index always passes the size check.
    if (file.size() > this.sizeInBytes) file.truncate(this.sizeInBytes)
  }

  private openFile(): StorageFile {
    if (this.file === null) throw new Error(`${this.kind} ${this.path} is closed`)
    return this.file
  }
}
