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
 * search with no I/O; appends stay in memory until flush() or until 4 KiB are pending (the file's
 * life is IndexFile's, in index-file.ts).
 */
import { IndexFile, resized } from './index-file.ts'
import type { Storage } from './storage.ts'

const ENTRY_SIZE = 8
const INT32_MAX = 0x7fffffff

export interface OffsetPosition {
  offset: number
  position: number
}

export class OffsetIndex extends IndexFile {
  private relativeOffsets = new Int32Array(0)
  private positions = new Int32Array(0)

  private constructor(storage: Storage, path: string, baseOffset: number, maxIndexBytes: number) {
    super(storage, path, baseOffset, maxIndexBytes, ENTRY_SIZE, 'index')
  }

  /** Opens the index of the segment starting at `baseOffset`, creating an empty file if there is none. */
  static open(storage: Storage, path: string, baseOffset: number, maxIndexBytes: number): OffsetIndex {
    return new OffsetIndex(storage, path, baseOffset, maxIndexBytes).load()
  }

  /** Offset of the last entry, or the base offset when the index is empty (as Kafka's lastOffset). */
  get lastOffset(): number {
    return this.entries === 0 ? this.base : this.base + this.relativeOffsets[this.entries - 1]!
  }

  /** Records that the batch ending at `offset` starts at byte `position`. Both must exceed the last entry's. */
  append(offset: number, position: number): void {
    this.assertOpen()
    this.assertRoom()
    const relative = offset - this.base
    if (!Number.isInteger(relative) || relative < 0 || relative > INT32_MAX) {
      throw new Error(`offset ${offset} cannot be indexed in ${this.path} (base offset ${this.base})`)
    }
    if (!Number.isInteger(position) || position < 0 || position > INT32_MAX) {
      throw new Error(`position ${position} cannot be indexed in ${this.path}`)
    }
    const last = this.entries - 1
    if (last >= 0 && relative <= this.relativeOffsets[last]!) {
      throw new Error(`offset ${offset} appended to ${this.path} is not larger than the last offset ${this.lastOffset}`)
    }
    if (last >= 0 && position <= this.positions[last]!) {
      throw new Error(`position ${position} appended to ${this.path} is not larger than the last position ${this.positions[last]}`)
    }
    const slot = this.nextSlot()
    this.relativeOffsets[slot] = relative
    this.positions[slot] = position
    this.added()
  }

  /** The largest entry whose offset is <= `targetOffset`, or (baseOffset, 0) when there is none. */
  lookup(targetOffset: number): OffsetPosition {
    const slot = this.largestLowerBound(this.relativeOffsets, targetOffset - this.base)
    if (slot < 0) return { offset: this.base, position: 0 }
    return { offset: this.base + this.relativeOffsets[slot]!, position: this.positions[slot]! }
  }

  protected override checkEntries(): string | null {
    let previousRelative = -1
    let previousPosition = -1
    for (let i = 0; i < this.entries; i++) {
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

  protected override entriesBelow(offset: number): number {
    return this.largestLowerBound(this.relativeOffsets, offset - this.base - 1) + 1
  }

  protected override decode(view: DataView, at: number, slot: number): void {
    this.relativeOffsets[slot] = view.getInt32(at)
    this.positions[slot] = view.getInt32(at + 4)
  }

  protected override encode(view: DataView, at: number, slot: number): void {
    view.setInt32(at, this.relativeOffsets[slot]!)
    view.setInt32(at + 4, this.positions[slot]!)
  }

  protected override resize(capacity: number): void {
    this.relativeOffsets = resized(this.relativeOffsets, capacity)
    this.positions = resized(this.positions, capacity)
  }
}
