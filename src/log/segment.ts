/**
 * Segment — one `<baseOffset>.log` file of RecordBatch v2 bytes exactly as producers sent
 * them (only baseOffset, partitionLeaderEpoch and, for LogAppendTime, the timestamps
 * patched), with its sparse `.index` (last offset of a batch → file position) and
 * `.timeindex` (max timestamp so far → offset). File names are the base offset in
 * 20 zero-padded digits, as Kafka writes them.
 *
 * An index entry is added for a batch once more than `index.interval.bytes` have been
 * appended since the previous entry, so a lookup lands at most that many bytes (or one
 * batch) before its target and a short header walk finishes the job.
 */
import {
  BATCH_HEADER_SIZE,
  BatchHeader,
  type BatchProblem,
  LOG_OVERHEAD,
  MAGIC_V2,
  scanBatches,
} from '../record/batch-header.ts'
import { OffsetIndex } from './offset-index.ts'
import type { Storage, StorageFile } from './storage.ts'
import { joinPath } from './storage.ts'
import { TimeIndex } from './time-index.ts'

export const LOG_SUFFIX = '.log'
export const INDEX_SUFFIX = '.index'
export const TIME_INDEX_SUFFIX = '.timeindex'

/** How many bytes a header walk reads at once. */
const HEADER_WALK_CHUNK_BYTES = 8 * 1024
/** How many bytes recovery validates at once (whole batches larger than this are read alone). */
const RECOVERY_CHUNK_BYTES = 4 * 1024 * 1024
const INT32_MAX = 0x7fffffff

export function segmentFileName(baseOffset: number, suffix: string): string {
  return String(baseOffset).padStart(20, '0') + suffix
}

/** Base offset of a segment file name (`00000000000000000042.log` → 42), or null. */
export function parseSegmentFileName(name: string, suffix: string): number | null {
  if (!name.endsWith(suffix)) return null
  const digits = name.slice(0, -suffix.length)
  return /^\d{20}$/.test(digits) ? Number(digits) : null
}

/** Where one batch sits in a segment, read from its header. */
export interface BatchLocation {
  position: number
  baseOffset: number
  lastOffset: number
  maxTimestamp: number
  size: number
  partitionLeaderEpoch: number
}

export interface SegmentSettings {
  indexIntervalBytes: number
  maxIndexBytes: number
}

export interface RecoveryResult {
  validBytes: number
  truncatedBytes: number
  problem: BatchProblem | null
  /** Every valid batch's leader epoch and base offset where the epoch changed, in order. */
  epochStarts: { epoch: number; startOffset: number }[]
}

export class Segment {
  readonly baseOffset: number
  readonly dir: string
  private readonly storage: Storage
  private readonly settings: SegmentSettings
  private readonly file: StorageFile
  readonly offsetIndex: OffsetIndex
  readonly timeIndex: TimeIndex
  private bytesSinceLastIndexEntry = 0
  /** Largest batch maxTimestamp in the segment, and the last offset of that batch (-1 when none). */
  maxTimestampSoFar = -1
  offsetOfMaxTimestampSoFar = -1
  /** maxTimestamp of the first batch: `segment.ms` counts from it, as in Kafka. */
  private rollingBaseTimestamp: number | null = null
  /** When this segment object was created or opened (clock ms): the fallback for `segment.ms`. */
  readonly createdMs: number
  /** Offset after the last batch (the segment's own log end offset). */
  nextOffset: number
  private headerBuf = new Uint8Array(HEADER_WALK_CHUNK_BYTES)

  /** Appended to every file name: '' for a live segment, '.cleaned' for one the log cleaner is writing. */
  private readonly fileSuffix: string

  private constructor(storage: Storage, dir: string, baseOffset: number, settings: SegmentSettings, create: boolean, nowMs: number, fileSuffix = '') {
    this.storage = storage
    this.fileSuffix = fileSuffix
    this.dir = dir
    this.baseOffset = baseOffset
    this.settings = settings
    this.createdMs = nowMs
    this.file = storage.open(this.path(LOG_SUFFIX), { create })
    this.offsetIndex = OffsetIndex.open(storage, this.path(INDEX_SUFFIX), baseOffset, settings.maxIndexBytes)
    this.timeIndex = TimeIndex.open(storage, this.path(TIME_INDEX_SUFFIX), baseOffset, settings.maxIndexBytes)
    this.nextOffset = baseOffset
  }

  /** Creates the files of a new, empty segment (named `<base>.log<fileSuffix>` etc.: the cleaner writes `.cleaned` ones). */
  static create(storage: Storage, dir: string, baseOffset: number, settings: SegmentSettings, nowMs: number, fileSuffix = ''): Segment {
    for (const suffix of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]) storage.remove(joinPath(dir, segmentFileName(baseOffset, suffix) + fileSuffix))
    return new Segment(storage, dir, baseOffset, settings, true, nowMs, fileSuffix)
  }

  /**
   * Opens an existing segment. Its indexes are trusted only after `sanityCheck()`;
   * the caller runs `recover()` for a segment that may hold an unflushed tail.
   */
  static open(storage: Storage, dir: string, baseOffset: number, settings: SegmentSettings, nowMs: number): Segment {
    return new Segment(storage, dir, baseOffset, settings, false, nowMs)
  }

  path(suffix: string): string {
    return joinPath(this.dir, segmentFileName(this.baseOffset, suffix) + this.fileSuffix)
  }

  get size(): number {
    return this.file.size()
  }

  /** Largest timestamp in the segment; an empty segment counts as created now (never expires by time). */
  largestTimestamp(nowMs: number): number {
    return this.maxTimestampSoFar >= 0 ? this.maxTimestampSoFar : nowMs
  }

  /** Why the indexes cannot be trusted, or null. A truncated or garbled index is rebuilt, never used. */
  sanityCheck(): string | null {
    const offsetProblem = this.offsetIndex.sanityCheck()
    if (offsetProblem) return `${this.path(INDEX_SUFFIX)}: ${offsetProblem}`
    const timeProblem = this.timeIndex.sanityCheck()
    if (timeProblem) return `${this.path(TIME_INDEX_SUFFIX)}: ${timeProblem}`
    const lastPosition = this.offsetIndex.lookup(this.offsetIndex.lastOffset).position
    if (lastPosition > this.size) return `${this.path(INDEX_SUFFIX)}: points past the end of the log file`
    return null
  }

  /**
   * Loads what the segment needs to take appends without a full scan: the next offset and
   * the max timestamp. The time index's last entry covers every batch up to the last
   * offset-index entry (both are written together), so only the batches after that entry
   * are walked. Used on open after a clean stop and after a truncation.
   */
  loadTail(verifyCrc = false): void {
    const last = this.timeIndex.lastEntry
    this.maxTimestampSoFar = last.timestamp
    this.offsetOfMaxTimestampSoFar = last.timestamp >= 0 ? last.offset : -1
    const start = this.offsetIndex.entries > 0 ? this.offsetIndex.lookup(this.offsetIndex.lastOffset).position : 0
    this.nextOffset = Math.max(this.baseOffset, this.offsetIndex.entries > 0 ? this.offsetIndex.lastOffset + 1 : this.baseOffset)
    this.walk(start, this.size, (b) => {
      if (verifyCrc && !new BatchHeader(this.readBytes(b.position, b.size)).isCrcValid()) {
        throw new Error(`batch at byte ${b.position} fails its CRC`)
      }
      if (b.maxTimestamp > this.maxTimestampSoFar) {
        this.maxTimestampSoFar = b.maxTimestamp
        this.offsetOfMaxTimestampSoFar = b.lastOffset
      }
      this.nextOffset = b.lastOffset + 1
      return true
    })
    // Bytes from the last indexed batch (inclusive) on: exactly what append would have counted.
    this.bytesSinceLastIndexEntry = this.size - start
    const first = this.firstBatch()
    this.rollingBaseTimestamp = first ? first.maxTimestamp : null
  }

  private firstBatch(): BatchLocation | null {
    let found: BatchLocation | null = null
    this.walk(0, this.size, (b) => {
      found = b
      return false
    })
    return found
  }

  /**
   * Appends batches already validated and given their offsets. `bytes` holds whole batches
   * back to back; `batches` describes each (positions relative to `bytes`).
   */
  append(bytes: Uint8Array, batches: readonly BatchLocation[]): void {
    const start = this.file.append(bytes)
    for (const b of batches) this.indexBatch(start + b.position, b.lastOffset, b.maxTimestamp, b.size)
    if (this.rollingBaseTimestamp === null && batches.length > 0) this.rollingBaseTimestamp = batches[0]!.maxTimestamp
  }

  private indexBatch(position: number, lastOffset: number, maxTimestamp: number, size: number): void {
    if (lastOffset < this.nextOffset) throw new Error(`invariant: offsets only grow (segment ${this.baseOffset}: batch ends at ${lastOffset}, log end is ${this.nextOffset})`)
    if (maxTimestamp > this.maxTimestampSoFar) {
      this.maxTimestampSoFar = maxTimestamp
      this.offsetOfMaxTimestampSoFar = lastOffset
    }
    // One append of several batches may add several entries: once an index is full the rest are
    // skipped (the index is sparse: a lookup walks a little further) and the next append rolls.
    if (this.bytesSinceLastIndexEntry > this.settings.indexIntervalBytes && !this.offsetIndex.isFull() && !this.timeIndex.isFull()) {
      this.offsetIndex.append(lastOffset, position)
      this.timeIndex.maybeAppend(this.maxTimestampSoFar, this.offsetOfMaxTimestampSoFar)
      this.bytesSinceLastIndexEntry = 0
    }
    this.bytesSinceLastIndexEntry += size
    this.nextOffset = lastOffset + 1
  }

  /** True when a batch ending at `lastOffset` cannot be indexed relative to this segment's base. */
  cannotHold(lastOffset: number): boolean {
    return lastOffset - this.baseOffset > INT32_MAX
  }

  /** `segment.ms` is measured from the first batch's timestamp, else from when the segment was created. */
  timeWaitedForRoll(nowMs: number, maxTimestampInBatches: number): number {
    const base = this.rollingBaseTimestamp
    return base !== null && base >= 0 ? maxTimestampInBatches - base : nowMs - this.createdMs
  }

  /**
   * Walks batch headers from `from` to `to`, calling `visit` until it returns false.
   * Reads the file in chunks; never reads a batch's records.
   */
  walk(from: number, to: number, visit: (b: BatchLocation) => boolean): void {
    const buf = this.headerBuf
    let chunkStart = from
    let chunkEnd = from
    let pos = from
    while (pos < to) {
      if (pos + BATCH_HEADER_SIZE > chunkEnd) {
        chunkStart = pos
        const want = Math.min(buf.length, to - pos)
        chunkEnd = pos + this.file.readInto(buf, 0, want, pos)
        if (chunkEnd - pos < BATCH_HEADER_SIZE) throw new Error(`${this.path(LOG_SUFFIX)} ends inside a batch header at byte ${pos}`)
      }
      const h = new BatchHeader(buf, pos - chunkStart)
      const size = h.sizeInBytes
      if (size < BATCH_HEADER_SIZE || h.magic !== MAGIC_V2 || pos + size > to) {
        throw new Error(`${this.path(LOG_SUFFIX)} holds no whole batch at byte ${pos}`)
      }
      const b: BatchLocation = {
        position: pos,
        baseOffset: h.baseOffset,
        lastOffset: h.lastOffset,
        maxTimestamp: h.maxTimestamp,
        size,
        partitionLeaderEpoch: h.partitionLeaderEpoch,
      }
      if (!visit(b)) return
      pos += size
    }
  }

  /** The first batch whose last offset is ≥ `offset`, at or after `startingPosition`; null when none. */
  translateOffset(offset: number, startingPosition = 0): BatchLocation | null {
    const from = Math.max(startingPosition, this.offsetIndex.lookup(offset).position)
    let found: BatchLocation | null = null
    this.walk(from, this.size, (b) => {
      if (b.lastOffset >= offset) {
        found = b
        return false
      }
      return true
    })
    return found
  }

  /**
   * Whole batches starting with the one that holds `startOffset` (or the next one), at most
   * `maxBytes` of them, but the first batch even when it alone is larger, when
   * `minOneBatch` (Kafka's rule, so a consumer is never stuck behind a large batch).
   * Nothing at or beyond file position `maxPosition` is returned. Null when no batch qualifies.
   * `nextOffset` is the offset after the last batch returned.
   *
   * One read from the index entry at or before the target, headers walked in memory: a
   * sequential consumer's next offset is usually exactly an indexed batch.
   */
  read(startOffset: number, maxBytes: number, maxPosition: number, minOneBatch: boolean, buffer?: Uint8Array): { bytes: Uint8Array; first: BatchLocation; nextOffset: number } | null {
    let from = this.offsetIndex.lookup(startOffset).position
    let need = 0
    for (;;) {
      if (from >= maxPosition) return null
      const want = Math.min(maxPosition - from, Math.max(maxBytes, HEADER_WALK_CHUNK_BYTES, need))
      const buf = buffer && buffer.length >= want ? buffer : allocUnsafe(want)
      const got = this.file.readInto(buf, 0, want, from)
      const dv = new DataView(buf.buffer, buf.byteOffset, got)
      let pos = 0
      let first: BatchLocation | null = null
      while (pos + BATCH_HEADER_SIZE <= got) {
        const size = dv.getInt32(pos + 8) + LOG_OVERHEAD
        const baseOffset = Number(dv.getBigInt64(pos))
        const lastOffset = baseOffset + dv.getInt32(pos + 23)
        if (lastOffset >= startOffset) {
          first = { position: from + pos, baseOffset, lastOffset, maxTimestamp: Number(dv.getBigInt64(pos + 35)), size, partitionLeaderEpoch: dv.getInt32(pos + 12) }
          break
        }
        pos += size
      }
      if (!first) {
        // The target lies past what this read covered (large batches in between): go on from there.
        from += pos
        continue
      }
      if (first.size > maxBytes && !minOneBatch) return { bytes: new Uint8Array(0), first, nextOffset: first.baseOffset }
      if (pos + first.size > got) {
        // The first batch is not whole in what was read: read again, starting with it.
        from = first.position
        need = first.size
        continue
      }
      let end = pos + first.size
      let nextOffset = first.lastOffset + 1
      while (end + BATCH_HEADER_SIZE <= got) {
        const size = dv.getInt32(end + 8) + LOG_OVERHEAD
        if (end + size > got || end + size - pos > maxBytes) break
        nextOffset = Number(dv.getBigInt64(end)) + dv.getInt32(end + 23) + 1
        end += size
      }
      return { bytes: buf.subarray(pos, end), first, nextOffset }
    }
  }

  /** `length` bytes at `position`, in a buffer of their own. */
  readBytes(position: number, length: number): Uint8Array {
    const out = allocUnsafe(length)
    const n = this.file.readInto(out, 0, length, position)
    if (n !== length) throw new Error(`invariant: short read of ${this.path(LOG_SUFFIX)} at ${position} (${n} of ${length} bytes)`)
    return out
  }

  /**
   * Re-reads the whole segment, checking every batch (length, magic, CRC, offsets that only
   * grow), rebuilds both indexes from scratch and cuts the file after the last valid batch.
   * `minNextOffset` is the offset the first batch must not go below (the previous segment's end).
   */
  recover(minNextOffset: number): RecoveryResult {
    this.offsetIndex.reset()
    this.timeIndex.reset()
    this.bytesSinceLastIndexEntry = 0
    this.maxTimestampSoFar = -1
    this.offsetOfMaxTimestampSoFar = -1
    this.rollingBaseTimestamp = null
    this.nextOffset = Math.max(this.baseOffset, minNextOffset)
    const fileSize = this.size
    const epochStarts: { epoch: number; startOffset: number }[] = []
    let pos = 0
    let problem: BatchProblem | null = null
    while (pos < fileSize && !problem) {
      let want = Math.min(RECOVERY_CHUNK_BYTES, fileSize - pos)
      if (want >= LOG_OVERHEAD) {
        // A batch larger than a chunk is read alone, so a chunk always holds at least one.
        const head = this.readBytes(pos, LOG_OVERHEAD)
        const size = new DataView(head.buffer, head.byteOffset, LOG_OVERHEAD).getInt32(8) + LOG_OVERHEAD
        if (size > want && size <= fileSize - pos) want = size
      }
      const chunk = this.readBytes(pos, want)
      const scan = scanBatches(chunk, 0, chunk.length, {}, (at, h) => {
        if (problem) return
        const baseOffset = h.baseOffset
        const lastOffset = h.lastOffset
        if (baseOffset < this.nextOffset || this.cannotHold(lastOffset)) {
          problem = { kind: 'bad-offsets', at: pos + at, detail: `batch ${baseOffset}..${lastOffset} does not follow ${this.nextOffset - 1} in segment ${this.baseOffset}` }
          return
        }
        const epoch = h.partitionLeaderEpoch
        const latest = epochStarts.length > 0 ? epochStarts[epochStarts.length - 1]!.epoch : -1
        if (epoch >= 0 && epoch > latest) epochStarts.push({ epoch, startOffset: baseOffset })
        if (this.rollingBaseTimestamp === null) this.rollingBaseTimestamp = h.maxTimestamp
        this.indexBatch(pos + at, lastOffset, h.maxTimestamp, h.sizeInBytes)
      })
      if (problem) break
      // A chunk always starts with a batch it holds whole (see above), so a batch cut short by
      // the chunk's end, with more file after it, is read again at the start of the next one.
      if (scan.problem && !(scan.problem.kind === 'truncated' && pos + chunk.length < fileSize)) {
        problem = { ...scan.problem, at: pos + scan.problem.at }
      }
      pos += scan.validEnd
    }
    const validBytes = problem ? (problem as BatchProblem).at : pos
    const truncatedBytes = fileSize - validBytes
    if (truncatedBytes > 0) this.file.truncate(validBytes)
    this.offsetIndex.flush()
    this.timeIndex.flush()
    return { validBytes, truncatedBytes, problem, epochStarts }
  }

  /**
   * Removes every batch whose last offset is ≥ `offset` (a follower's truncation: whole
   * batches only). Returns the bytes removed.
   */
  truncateTo(offset: number): number {
    const from = this.translateOffset(offset)
    if (!from) return 0
    const removed = this.size - from.position
    this.file.truncate(from.position)
    this.offsetIndex.truncateTo(offset)
    this.timeIndex.truncateTo(offset)
    this.loadTail()
    return removed
  }

  /**
   * Takes back a failed append: the file is cut to its size before it (a write that failed
   * partway may have landed some bytes) and index entries for the lost offsets dropped.
   * The cut is fsynced: unsynced, a power loss could keep the failed write's bytes and drop
   * the cut, and whole batches of an append that failed would come back after a restart.
   */
  undoAppend(sizeBefore: number, nextOffsetBefore: number): void {
    this.file.truncate(sizeBefore)
    this.file.sync()
    this.offsetIndex.truncateTo(nextOffsetBefore)
    this.timeIndex.truncateTo(nextOffsetBefore)
    this.loadTail()
  }

  /** Writes pending index entries and fsyncs the log and both indexes. */
  flush(): void {
    this.file.sync()
    this.offsetIndex.sync()
    this.timeIndex.sync()
  }

  close(): void {
    this.offsetIndex.close()
    this.timeIndex.close()
    this.file.close()
  }

  /** Closes and removes the segment's files. */
  delete(): void {
    this.close()
    for (const suffix of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]) this.storage.remove(this.path(suffix))
  }
}

function allocUnsafe(n: number): Uint8Array {
  // Buffer.allocUnsafe skips zero-filling (bytes are overwritten by the read at once);
  // it exists on Node, Deno and Bun.
  return Buffer.allocUnsafe(n)
}
