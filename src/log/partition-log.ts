/**
 * PartitionLog — one topic-partition's log on disk: a directory `<topic>-<partition>` of
 * segments (see segment.ts) and its `leader-epoch-checkpoint`. Kafka's UnifiedLog, minus
 * producer state (which the partition-replica actor keeps).
 *
 * Contract:
 * - Offsets only grow; log start offset ≤ high watermark ≤ log end offset (asserted).
 * - `append` stores the batches' bytes as given; a leader append patches baseOffset and
 *   the partition leader epoch (both outside the CRC) and, under LogAppendTime, the
 *   timestamp (then the CRC is recomputed — never the records re-encoded).
 * - `read` returns whole batches, the first one holding `fromOffset` (or the next one).
 * - Everything up to the recovery point has been fsynced; on open after an unclean stop,
 *   segments holding anything past the recovery point are scanned and a torn or corrupt
 *   tail is cut off. Every recovery action is logged in one line.
 * - Retention, DeleteRecords and truncation remove whole segments or whole batches.
 */
import { ATTRIBUTES, BatchHeader, describeBatchProblem, MAX_TIMESTAMP, scanBatches, TIMESTAMP_TYPE_LOG_APPEND } from '../record/batch-header.ts'
import { batchRecordTimestamps } from '../record/record-batch.ts'
import type { Clock } from '../runtime/clock.ts'
import { type Logger, silentLogger } from '../runtime/logger.ts'
import { CorruptRecordError, errorMessage, InvalidRecordError, KafkaStorageError, OffsetOutOfRangeError, RecordTooLargeError, UnexpectedAppendOffsetError } from './errors.ts'
import { LEADER_EPOCH_CHECKPOINT, LeaderEpochCache } from './leader-epoch-cache.ts'
import { compacts, DEFAULT_LOG_CONFIG, deletes, type LogConfig } from './log-config.ts'
import { type BatchLocation, INDEX_SUFFIX, LOG_SUFFIX, parseSegmentFileName, Segment, type SegmentSettings, TIME_INDEX_SUFFIX } from './segment.ts'
import type { Storage } from './storage.ts'
import { joinPath, mkdirpDurable } from './storage.ts'

/** Suffixes of files that only exist while an operation is under way; a crash leaves them behind. */
export const TEMP_SUFFIXES = ['.tmp', '.cleaned', '.deleted'] as const
export const SWAP_SUFFIX = '.swap'

export interface PartitionLogOptions {
  storage: Storage
  /** The partition's directory, `<data-dir>/<topic>-<partition>`. */
  dir: string
  config?: LogConfig
  clock: Clock
  logger?: Logger
  /** Offsets below this were fsynced before the last stop (`recovery-point-offset-checkpoint`). */
  recoveryPoint?: number
  /** From `log-start-offset-checkpoint`; at least the first segment's base offset. */
  logStartOffset?: number
  /** From `replication-offset-checkpoint`. */
  highWatermark?: number
  /** The data directory was closed cleanly: no scan, only an index sanity check. */
  cleanShutdown?: boolean
}

export interface AppendOptions {
  /**
   * true (a leader's append): offsets are assigned from the log end offset and the leader
   * epoch stamped. false (a follower's append): the leader's offsets are kept and must
   * continue this log.
   */
  assignOffsets?: boolean
  /** Stamped into each batch's partitionLeaderEpoch on a leader append. */
  leaderEpoch?: number
  /**
   * The caller has already checked every batch's CRC (the Kafka listener does while parsing
   * a produce request, to answer CORRUPT_MESSAGE per partition): skip checking it again.
   * Lengths, magic and offsets are still checked.
   */
  crcVerified?: boolean
}

export interface AppendInfo {
  firstOffset: number
  lastOffset: number
  /** The broker's append time under LogAppendTime, else -1 (Kafka's NO_TIMESTAMP). */
  logAppendTime: number
  maxTimestamp: number
  offsetOfMaxTimestamp: number
  batches: number
  records: number
  bytes: number
  logStartOffset: number
}

export interface ReadOptions {
  /** Exclusive upper bound: nothing at or past this offset is returned (the high watermark for consumers). */
  maxOffset?: number
  /** Return the first batch even when it alone is larger than maxBytes (default true, as Kafka). */
  minOneBatch?: boolean
  /**
   * A buffer to read into (at least maxBytes long to be used): the records returned are then
   * a view of it, valid until the caller reuses it. Saves allocating (and page-faulting) a
   * fresh buffer per read, as a fetch loop with one buffer per connection does.
   */
  buffer?: Uint8Array
}

export interface ReadResult {
  /** Whole batches, as stored. Empty when nothing qualifies. */
  records: Uint8Array
  /** Base offset of the first batch returned, or -1. */
  firstBatchOffset: number
  /** The offset after the last batch returned (where the next read starts); fromOffset when nothing was returned. */
  nextOffset: number
  logStartOffset: number
  logEndOffset: number
  highWatermark: number
}

function settingsOf(config: LogConfig): SegmentSettings {
  return { indexIntervalBytes: config['index.interval.bytes'], maxIndexBytes: config['segment.index.bytes'] }
}

export class PartitionLog {
  readonly dir: string
  /** The seam every file of this log goes through (the log cleaner writes its `.cleaned` segments with it). */
  readonly storage: Storage
  private readonly clock: Clock
  private readonly logger: Logger
  private cfg: LogConfig
  /** Segments by ascending base offset; the last is the active one. */
  private segs: Segment[] = []
  private epochs: LeaderEpochCache
  private leo = 0
  private lso = 0
  private hw = 0
  private recovery = 0
  private unflushedMessages = 0
  private lastFlushMs: number
  private offlineReason: string | null = null
  private closed = false
  private epochsUnreadable = false

  private constructor(options: PartitionLogOptions) {
    this.dir = options.dir
    this.storage = options.storage
    this.clock = options.clock
    this.logger = options.logger ?? silentLogger
    this.cfg = options.config ?? { ...DEFAULT_LOG_CONFIG }
    this.lastFlushMs = this.clock.now()
    const loaded = LeaderEpochCache.load(this.storage, joinPath(this.dir, LEADER_EPOCH_CHECKPOINT))
    if (loaded.problem) this.logger.warn(`${this.dir}: ${LEADER_EPOCH_CHECKPOINT} unreadable (${loaded.problem}); rebuilding it from the batches`)
    this.epochs = loaded.cache
    this.epochsUnreadable = loaded.problem !== null
  }

  /** Opens (creating if needed) and, after an unclean stop, recovers the log in `options.dir`. */
  static open(options: PartitionLogOptions): PartitionLog {
    mkdirpDurable(options.storage, options.dir)
    const log = new PartitionLog(options)
    log.load(options)
    return log
  }

  get config(): LogConfig { return this.cfg }
  get logEndOffset(): number { return this.leo }
  get logStartOffset(): number { return this.lso }
  get highWatermark(): number { return this.hw }
  get recoveryPoint(): number { return this.recovery }
  get segments(): readonly Segment[] { return this.segs }
  get leaderEpochCache(): LeaderEpochCache { return this.epochs }
  get activeSegment(): Segment { return this.segs[this.segs.length - 1]! }
  /** Total bytes of all segment files. */
  get size(): number {
    let n = 0
    for (const s of this.segs) n += s.size
    return n
  }

  setConfig(config: LogConfig): void {
    this.cfg = config
  }

  /** A follower or the leader moves the high watermark; it never passes the log end offset. */
  updateHighWatermark(offset: number): void {
    const next = Math.min(Math.max(offset, this.lso), this.leo)
    this.hw = next
    this.checkInvariants()
  }

  // ---------------------------------------------------------------- loading and recovery

  private load(options: PartitionLogOptions): void {
    const now = this.clock.now()
    const names = this.storage.list(this.dir)
    for (const name of names) {
      if (TEMP_SUFFIXES.some((s) => name.endsWith(s))) {
        this.storage.remove(joinPath(this.dir, name))
        this.logger.info(`${this.dir}: removed ${name}, left by an operation a stop interrupted`)
      }
    }
    this.completeSwaps(names.filter((n) => n.endsWith(SWAP_SUFFIX)))
    const present = this.storage.list(this.dir)
    const bases = present.map((n) => parseSegmentFileName(n, LOG_SUFFIX)).filter((b): b is number => b !== null).sort((a, b) => a - b)
    const baseSet = new Set(bases)
    for (const name of present) {
      const base = parseSegmentFileName(name, INDEX_SUFFIX) ?? parseSegmentFileName(name, TIME_INDEX_SUFFIX)
      if (base !== null && !baseSet.has(base)) {
        this.storage.remove(joinPath(this.dir, name))
        this.logger.info(`${this.dir}: removed ${name}, an index without its log segment`)
      }
    }

    const recoveryPoint = options.cleanShutdown ? Number.MAX_SAFE_INTEGER : (options.recoveryPoint ?? 0)
    let recoveredAny = false
    for (let i = 0; i < bases.length; i++) {
      const base = bases[i]!
      const nextBase = bases[i + 1]
      const hasIndexes = present.includes(namesOf(base, INDEX_SUFFIX)) && present.includes(namesOf(base, TIME_INDEX_SUFFIX))
      const seg = Segment.open(this.storage, this.dir, base, settingsOf(this.cfg), now)
      const prevEnd = this.segs.length > 0 ? this.activeSegment.nextOffset : base
      if (base < prevEnd) {
        // Only an interrupted compaction leaves a segment inside its predecessor's range: the
        // compacted segment before it already holds what survives of it.
        seg.delete()
        this.logger.info(`${this.dir}: deleted segment ${base}, replaced by the compacted segment before it`)
        continue
      }
      // A segment may hold unflushed data when any of its offsets lies at or past the recovery point.
      const unflushed = !options.cleanShutdown && (nextBase === undefined || nextBase > recoveryPoint)
      let reason: string | null = null
      if (!unflushed) {
        reason = !hasIndexes && seg.size > 0 ? 'index files missing' : seg.sanityCheck()
        if (!reason) reason = this.tryLoadTail(seg, nextBase === undefined)
        if (reason) this.logger.warn(`${this.dir}: segment ${base}: ${reason}; rebuilding it from its batches`)
      }
      if (!unflushed && !reason) {
        this.segs.push(seg)
        continue
      }
      // The batches are the truth for what this segment holds: re-derive its epochs from them.
      this.epochs.truncateFromEnd(Math.max(prevEnd, base))
      const result = seg.recover(prevEnd)
      recoveredAny = true
      for (const e of result.epochStarts) this.noteEpoch(e.epoch, e.startOffset)
      seg.flush()
      this.segs.push(seg)
      if (result.problem) {
        this.logger.warn(`${this.dir}: recovery truncated segment ${base} to ${result.validBytes} bytes (${result.truncatedBytes} bytes dropped): ${describeBatchProblem(result.problem)}`)
        for (const later of bases.slice(i + 1)) {
          Segment.open(this.storage, this.dir, later, settingsOf(this.cfg), now).delete()
          this.logger.warn(`${this.dir}: recovery deleted segment ${later}, which followed the corrupt tail`)
        }
        break
      }
    }
    if (recoveredAny) this.storage.syncDir(this.dir)

    if (this.segs.length === 0) {
      const start = options.logStartOffset ?? 0
      this.segs.push(Segment.create(this.storage, this.dir, start, settingsOf(this.cfg), now))
      this.storage.syncDir(this.dir)
    }
    this.leo = this.activeSegment.nextOffset
    this.lso = Math.min(Math.max(options.logStartOffset ?? 0, this.segs[0]!.baseOffset), this.leo)
    // The cache is truncated from the start at once on DeleteRecords, the log start offset
    // checkpoint only later: after a crash in between, the cache may start past the log start.
    const earliest = this.epochs.earliestEntry()
    if (!this.epochsUnreadable && earliest && earliest.startOffset > this.lso && this.lso < this.leo) {
      this.logger.warn(`${this.dir}: ${LEADER_EPOCH_CHECKPOINT} starts at ${earliest.startOffset}, past the log start offset ${this.lso}; rebuilding it from the batches`)
      this.epochsUnreadable = true
    }
    if (this.epochsUnreadable) this.rebuildEpochs()
    this.epochs.truncateFromEnd(this.leo)
    this.epochs.truncateFromStart(this.lso)
    this.hw = Math.min(Math.max(options.highWatermark ?? 0, this.lso), this.leo)
    this.recovery = this.leo
    this.checkInvariants()
  }

  /** A batch of `epoch` starts at `startOffset`: a newer epoch starts there (-1, no epoch, and older ones are ignored). */
  private noteEpoch(epoch: number, startOffset: number): void {
    const latest = this.epochs.latestEpoch()
    if (epoch >= 0 && (latest === null || epoch > latest)) this.epochs.assign(epoch, startOffset)
  }

  /** The epoch cache from the batches' headers alone (a header walk, no CRC): for an unreadable checkpoint. */
  private rebuildEpochs(): void {
    this.epochs.clear()
    for (const seg of this.segs) {
      seg.walk(0, seg.size, (b) => {
        this.noteEpoch(b.partitionLeaderEpoch, b.baseOffset)
        return true
      })
    }
  }

  /**
   * Loads a segment closed cleanly without scanning it; the active segment's tail (the
   * batches after its last index entry) is CRC-checked all the same, since that is where a
   * crash after the marker was written would show. Returns why the segment needs a scan, or null.
   */
  private tryLoadTail(seg: Segment, active: boolean): string | null {
    try {
      seg.loadTail(active)
      return null
    } catch (err) {
      return errorMessage(err)
    }
  }

  /**
   * A `<base>.log.swap` is a compacted segment whose install was committed (the cleaner
   * renames the indexes to `.swap` first and the log last, then syncs the directory):
   * finish installing it. Index `.swap` files without their log were not committed and go.
   * The old segments it replaces are found by their overlap and deleted in load().
   */
  private completeSwaps(swaps: string[]): void {
    const committed = new Set<number>()
    for (const name of swaps) {
      const base = parseSegmentFileName(name.slice(0, -SWAP_SUFFIX.length), LOG_SUFFIX)
      if (base !== null) committed.add(base)
    }
    for (const base of committed) {
      for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
        const real = joinPath(this.dir, namesOf(base, suffix))
        if (swaps.includes(namesOf(base, suffix) + SWAP_SUFFIX)) this.storage.rename(real + SWAP_SUFFIX, real)
        else this.storage.remove(real) // the old segment's index: stale for the compacted log, rebuilt on open
      }
      const log = joinPath(this.dir, namesOf(base, LOG_SUFFIX))
      this.storage.rename(log + SWAP_SUFFIX, log)
      this.logger.info(`${this.dir}: completed installing compacted segment ${base}`)
    }
    for (const name of swaps) {
      const real = name.slice(0, -SWAP_SUFFIX.length)
      const base = parseSegmentFileName(real, INDEX_SUFFIX) ?? parseSegmentFileName(real, TIME_INDEX_SUFFIX)
      if (base === null || !committed.has(base)) {
        if (this.storage.exists(joinPath(this.dir, name))) this.storage.remove(joinPath(this.dir, name))
      }
    }
    if (swaps.length > 0) this.storage.syncDir(this.dir)
  }

  // ---------------------------------------------------------------- append

  /**
   * Appends one or more whole batches (a produce request's records for this partition,
   * or a follower's fetched batches). Validates each batch's length, magic and CRC before
   * anything is written; a failed write leaves nothing behind.
   */
  append(records: Uint8Array, options: AppendOptions = {}): AppendInfo {
    this.ensureWritable()
    const assignOffsets = options.assignOffsets ?? true
    const maxBytes = this.cfg['max.message.bytes']
    const now = this.clock.now()
    const logAppendTime = this.cfg['message.timestamp.type'] === 'LogAppendTime'
    const batches: BatchLocation[] = []
    let next = this.leo
    let records_ = 0
    let maxTimestamp = -1
    let offsetOfMaxTimestamp = -1
    const scan = scanBatches(records, 0, records.length, { skipCrc: options.crcVerified ?? false }, (at, h) => {
      const size = h.sizeInBytes
      const count = h.recordsCount
      const delta = h.lastOffsetDelta
      if (assignOffsets) {
        if (count <= 0 || count !== delta + 1) throw new InvalidRecordError(`batch at byte ${at} holds ${count} records but its offsets span ${delta + 1}`)
        h.baseOffset = next
        if (options.leaderEpoch !== undefined) h.partitionLeaderEpoch = options.leaderEpoch
        if (logAppendTime) stampLogAppendTime(records, at, now)
      } else if (h.baseOffset < next) {
        throw new UnexpectedAppendOffsetError(`${this.dir}: batch ${h.baseOffset}..${h.lastOffset} does not continue the log at ${next}`)
      }
      if (size > maxBytes) throw new RecordTooLargeError(`batch of ${size} bytes exceeds max.message.bytes ${maxBytes}`)
      const lastOffset = h.lastOffset
      const ts = h.maxTimestamp
      if (ts > maxTimestamp) {
        maxTimestamp = ts
        offsetOfMaxTimestamp = lastOffset
      }
      batches.push({ position: at, baseOffset: h.baseOffset, lastOffset, maxTimestamp: ts, size, partitionLeaderEpoch: h.partitionLeaderEpoch })
      records_ += count
      next = lastOffset + 1
    })
    if (scan.problem) {
      throw new CorruptRecordError(`${this.dir}: ${describeBatchProblem(scan.problem)}`)
    }
    if (batches.length === 0) throw new CorruptRecordError(`${this.dir}: append of no batches`)
    const firstOffset = batches[0]!.baseOffset
    const lastOffset = next - 1

    const segment = this.maybeRoll(records.length, maxTimestamp, firstOffset, lastOffset, now)
    const sizeBefore = segment.size
    const nextBefore = segment.nextOffset
    try {
      segment.append(records, batches)
      // Inside the try: a failed leader-epoch-checkpoint write takes the batches back too.
      for (const b of batches) this.noteEpoch(b.partitionLeaderEpoch, b.baseOffset)
    } catch (err) {
      this.undoAppend(segment, sizeBefore, nextBefore, err)
    }
    this.leo = next
    this.unflushedMessages += lastOffset - firstOffset + 1
    if (this.unflushedMessages >= this.cfg['flush.messages']) {
      try {
        this.flush()
      } catch (err) {
        // The batches are in the log but the caller is told the append failed: no more appends
        // (a retry would duplicate them), as Kafka takes the log directory offline.
        this.offlineReason = `flush after an append failed (${errorMessage(err)})`
        this.logger.error(`${this.dir}: log offline: ${this.offlineReason}`)
        throw err
      }
    }
    this.checkInvariants()
    return {
      firstOffset,
      lastOffset,
      logAppendTime: logAppendTime ? now : -1,
      maxTimestamp,
      offsetOfMaxTimestamp,
      batches: batches.length,
      records: records_,
      bytes: records.length,
      logStartOffset: this.lso,
    }
  }

  /** A failed write is cut off the file so that nothing partial survives; if even that fails, the log goes offline. */
  private undoAppend(segment: Segment, sizeBefore: number, nextBefore: number, err: unknown): never {
    try {
      segment.undoAppend(sizeBefore, nextBefore)
      this.epochs.truncateFromEnd(nextBefore)
    } catch (undoErr) {
      this.offlineReason = `append failed (${errorMessage(err)}) and could not be undone (${errorMessage(undoErr)})`
      this.logger.error(`${this.dir}: log offline: ${this.offlineReason}`)
    }
    throw new KafkaStorageError(`${this.dir}: append failed: ${errorMessage(err)}`, err)
  }

  private maybeRoll(bytes: number, maxTimestamp: number, firstOffset: number, lastOffset: number, now: number): Segment {
    const active = this.activeSegment
    const size = active.size
    const full = size > 0 && size + bytes > this.cfg['segment.bytes']
    const old = size > 0 && active.timeWaitedForRoll(now, maxTimestamp) > this.cfg['segment.ms']
    const indexFull = active.offsetIndex.isFull() || active.timeIndex.isFull()
    // A follower's batch may start far past our end (the leader's log was compacted): a
    // segment based at the log end could not index it, so the new one starts at the batch.
    if (active.cannotHold(lastOffset)) return this.roll(firstOffset)
    if (full || old || indexFull) return this.roll()
    return active
  }

  /**
   * Closes the active segment to appends (fsyncing it, as Kafka does on roll) and starts a new
   * one at `baseOffset` (the log end offset unless a follower's batch starts past it). An
   * empty active segment is replaced rather than kept.
   */
  roll(baseOffset = this.leo): Segment {
    this.ensureWritable()
    const active = this.activeSegment
    if (active.size === 0 && active.baseOffset === baseOffset) return active
    if (active.size > 0) {
      try {
        active.flush()
      } catch (err) {
        // A failed fsync may have dropped dirty pages that a retry would call durable
        // ("fsyncgate"): take the log offline, as Kafka takes the log directory offline.
        this.offlineReason = `fsync on roll failed (${errorMessage(err)})`
        this.logger.error(`${this.dir}: log offline: ${this.offlineReason}`)
        throw new KafkaStorageError(`${this.dir}: roll failed: ${errorMessage(err)}`, err)
      }
      // Every earlier segment was fsynced when it rolled: all of the log is durable now.
      this.recovery = this.leo
      this.unflushedMessages = 0
    }
    try {
      if (active.size === 0) {
        this.segs.pop()
        active.delete()
      }
      const seg = Segment.create(this.storage, this.dir, baseOffset, settingsOf(this.cfg), this.clock.now())
      this.storage.syncDir(this.dir)
      this.segs.push(seg)
      this.logger.debug(`${this.dir}: rolled new segment ${baseOffset}`)
      return seg
    } catch (err) {
      if (this.segs.at(-1) !== active) {
        this.offlineReason = `roll failed with no active segment left (${errorMessage(err)})`
        this.logger.error(`${this.dir}: log offline: ${this.offlineReason}`)
      }
      throw new KafkaStorageError(`${this.dir}: roll failed: ${errorMessage(err)}`, err)
    }
  }


  // ---------------------------------------------------------------- read

  /**
   * Whole batches from `fromOffset` on, at most `maxBytes` of them (but at least one batch
   * when `minOneBatch`), never reaching `maxOffset`. Throws OffsetOutOfRangeError outside
   * [log start offset, log end offset].
   */
  read(fromOffset: number, maxBytes: number, options: ReadOptions = {}): ReadResult {
    this.ensureOpen()
    if (fromOffset < this.lso || fromOffset > this.leo) {
      throw new OffsetOutOfRangeError(`${this.dir}: offset ${fromOffset} is outside [${this.lso}, ${this.leo}]`)
    }
    const maxOffset = Math.min(options.maxOffset ?? this.leo, this.leo)
    const minOneBatch = options.minOneBatch ?? true
    const empty = { records: new Uint8Array(0), firstBatchOffset: -1, nextOffset: fromOffset, logStartOffset: this.lso, logEndOffset: this.leo, highWatermark: this.hw }
    if (fromOffset >= maxOffset) return empty
    for (let i = this.segmentIndexFor(fromOffset); i < this.segs.length; i++) {
      const seg = this.segs[i]!
      if (seg.baseOffset >= maxOffset) break
      // maxOffset falls inside this segment only at a batch boundary (a high watermark always does).
      const maxPosition = seg.nextOffset <= maxOffset ? seg.size : seg.translateOffset(maxOffset)!.position
      const got = seg.read(fromOffset, maxBytes, maxPosition, minOneBatch, options.buffer)
      if (got) {
        if (got.bytes.length === 0) return empty
        return { ...empty, records: got.bytes, firstBatchOffset: got.first.baseOffset, nextOffset: got.nextOffset }
      }
    }
    return empty
  }

  /**
   * Where `offset` sits on disk (Kafka's LogOffsetMetadata): the segment and the file position
   * of the batch holding it, found by the sparse index and a short header walk. Null at or
   * past the log end offset.
   */
  offsetMetadata(offset: number): { segmentBaseOffset: number; position: number } | null {
    this.ensureOpen()
    if (offset < this.lso) throw new OffsetOutOfRangeError(`${this.dir}: offset ${offset} is below the log start offset ${this.lso}`)
    for (let i = this.segmentIndexFor(offset); i < this.segs.length; i++) {
      const seg = this.segs[i]!
      const at = seg.translateOffset(offset)
      if (at) return { segmentBaseOffset: seg.baseOffset, position: at.position }
    }
    return null
  }

  /** Index of the last segment whose base offset is ≤ offset (0 when offset is below all). */
  private segmentIndexFor(offset: number): number {
    let lo = 0
    let hi = this.segs.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (this.segs[mid]!.baseOffset <= offset) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  /**
   * ListOffsets by timestamp: the first offset (≥ log start offset) whose record timestamp is
   * ≥ `timestamp`, with that timestamp; null when every record is older.
   */
  offsetForTimestamp(timestamp: number): { offset: number; timestamp: number } | null {
    this.ensureOpen()
    for (const seg of this.segs) {
      if (seg.maxTimestampSoFar < timestamp) continue
      const entry = seg.timeIndex.lookup(timestamp)
      const startPosition = seg.offsetIndex.lookup(Math.max(entry.offset, this.lso)).position
      let found: { offset: number; timestamp: number } | null = null
      seg.walk(startPosition, seg.size, (b) => {
        if (b.maxTimestamp < timestamp || b.lastOffset < this.lso) return true
        const bytes = seg.readBytes(b.position, b.size)
        for (const r of batchRecordTimestamps(bytes)) {
          if (r.offset >= this.lso && r.timestamp >= timestamp) {
            found = r
            return false
          }
        }
        return true
      })
      if (found) return found
    }
    return null
  }

  /** ListOffsets MAX_TIMESTAMP: the largest timestamp and the last offset of the batch holding it; null for an empty log. */
  maxTimestampAndOffset(): { offset: number; timestamp: number } | null {
    let best: { offset: number; timestamp: number } | null = null
    for (const seg of this.segs) {
      if (seg.maxTimestampSoFar >= 0 && (best === null || seg.maxTimestampSoFar > best.timestamp)) best = { offset: seg.offsetOfMaxTimestampSoFar, timestamp: seg.maxTimestampSoFar }
    }
    return best
  }

  // ---------------------------------------------------------------- truncation (followers)

  /** Removes every batch at or past `offset` (whole batches), as a follower does before fetching from a new leader. */
  truncateTo(offset: number): void {
    this.ensureWritable()
    if (offset >= this.leo) {
      this.epochs.truncateFromEnd(offset)
      return
    }
    if (offset < this.segs[0]!.baseOffset) {
      this.truncateFullyAndStartAt(offset)
      return
    }
    try {
      const segmentsBefore = this.segs.length
      while (this.segs.length > 1 && this.activeSegment.baseOffset >= offset) {
        this.segs.pop()!.delete()
      }
      // The removals are made durable before the truncation: a crash that kept the truncated
      // segment but brought back the segments after it would leave a gap in the offsets.
      if (this.segs.length < segmentsBefore) this.storage.syncDir(this.dir)
      this.activeSegment.truncateTo(offset)
      this.activeSegment.flush()
      this.storage.syncDir(this.dir)
    } catch (err) {
      this.offlineReason = `truncation failed (${errorMessage(err)})`
      throw new KafkaStorageError(`${this.dir}: truncation to ${offset} failed: ${errorMessage(err)}`, err)
    }
    this.leo = this.activeSegment.nextOffset
    this.epochs.truncateFromEnd(this.leo)
    this.hw = Math.min(this.hw, this.leo)
    this.lso = Math.min(this.lso, this.leo)
    this.recovery = Math.min(this.recovery, this.leo)
    this.logger.info(`${this.dir}: truncated to offset ${this.leo}`)
    this.checkInvariants()
  }

  /** Drops the whole log and starts it empty at `offset` (a follower far behind a leader's log start offset). */
  truncateFullyAndStartAt(offset: number): void {
    this.ensureWritable()
    try {
      for (const seg of this.segs.splice(0)) seg.delete()
      this.segs.push(Segment.create(this.storage, this.dir, offset, settingsOf(this.cfg), this.clock.now()))
      this.storage.syncDir(this.dir)
    } catch (err) {
      this.offlineReason = `full truncation failed (${errorMessage(err)})`
      throw new KafkaStorageError(`${this.dir}: truncation to start at ${offset} failed: ${errorMessage(err)}`, err)
    }
    this.epochs.clear()
    this.leo = this.lso = this.hw = this.recovery = offset
    this.unflushedMessages = 0
    this.logger.info(`${this.dir}: emptied and restarted at offset ${offset}`)
    this.checkInvariants()
  }

  // ---------------------------------------------------------------- log start offset and retention

  /** DeleteRecords: moves the log start offset up to `offset` (≤ high watermark) and drops segments wholly below it. */
  deleteRecordsBefore(offset: number): number {
    this.ensureWritable()
    if (offset > this.hw) throw new OffsetOutOfRangeError(`${this.dir}: cannot delete records before ${offset}, past the high watermark ${this.hw}`)
    if (offset > this.lso) {
      this.lso = offset
      this.epochs.truncateFromStart(offset)
      this.deleteSegmentsWhile((seg, next) => next !== undefined && next.baseOffset <= this.lso, 'below the log start offset')
    }
    return this.lso
  }

  /**
   * Applies `retention.ms` and `retention.bytes` (when `cleanup.policy` includes delete) and
   * the log start offset, oldest segment first; never the active segment, never past the
   * high watermark. Returns the number of segments deleted.
   */
  deleteOldSegments(): number {
    this.ensureWritable()
    const now = this.clock.now()
    let deleted = this.deleteSegmentsWhile((_seg, next) => next !== undefined && next.baseOffset <= this.lso, 'below the log start offset')
    if (!deletes(this.cfg)) return deleted
    const retentionMs = this.cfg['retention.ms']
    if (retentionMs >= 0) deleted += this.deleteSegmentsWhile((seg) => now - seg.largestTimestamp(now) > retentionMs, `older than retention.ms ${retentionMs}`)
    const retentionBytes = this.cfg['retention.bytes']
    if (retentionBytes >= 0) {
      let excess = this.size - retentionBytes
      deleted += this.deleteSegmentsWhile((seg) => {
        if (excess - seg.size < 0) return false
        excess -= seg.size
        return true
      }, `beyond retention.bytes ${retentionBytes}`)
    }
    return deleted
  }

  private deleteSegmentsWhile(predicate: (seg: Segment, next: Segment | undefined) => boolean, why: string): number {
    let n = 0
    while (this.segs.length > 1) {
      const seg = this.segs[0]!
      const next = this.segs[1]!
      // Only data every in-sync replica has may go: never past the high watermark.
      if (next.baseOffset > this.hw || !predicate(seg, next)) break
      try {
        seg.delete()
      } catch (err) {
        throw new KafkaStorageError(`${this.dir}: deleting segment ${seg.baseOffset} failed: ${errorMessage(err)}`, err)
      }
      this.segs.shift()
      n++
      this.logger.info(`${this.dir}: deleted segment ${seg.baseOffset} (${why})`)
    }
    if (n > 0) {
      this.storage.syncDir(this.dir)
      if (this.segs[0]!.baseOffset > this.lso) {
        this.lso = this.segs[0]!.baseOffset
        this.epochs.truncateFromStart(this.lso)
      }
      this.checkInvariants()
    }
    return n
  }

  /** Whether `cleanup.policy` asks for compaction (the cleaner, log-cleaner.ts, does it). */
  get compacted(): boolean {
    return compacts(this.cfg)
  }

  /**
   * Installs a compacted replacement for `old` (consecutive segments, never the active one):
   * the cleaner wrote it as `<base>.log.cleaned` (+ indexes), synced. The rename to `.swap`
   * is the commit point; a crash after it finishes the swap on open, before it drops the
   * `.cleaned` files.
   */
  replaceSegments(old: readonly Segment[], cleanedBase: number): Segment {
    this.ensureWritable()
    const first = this.segs.indexOf(old[0]!)
    if (first < 0 || old.some((s, i) => this.segs[first + i] !== s) || first + old.length >= this.segs.length) {
      throw new Error(`invariant: segments to replace must be consecutive and not the active segment`)
    }
    // The log file is renamed last: its `.swap` is the commit point (see completeSwaps).
    const suffixes = [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX]
    const path = (base: number, suffix: string) => joinPath(this.dir, namesOf(base, suffix))
    try {
      for (const s of suffixes) this.storage.rename(path(cleanedBase, s) + '.cleaned', path(cleanedBase, s) + SWAP_SUFFIX)
      this.storage.syncDir(this.dir)
      for (const seg of old) {
        if (seg.baseOffset === cleanedBase) seg.close()
        else seg.delete()
      }
      for (const s of suffixes) this.storage.rename(path(cleanedBase, s) + SWAP_SUFFIX, path(cleanedBase, s))
      this.storage.syncDir(this.dir)
    } catch (err) {
      this.offlineReason = `installing a compacted segment failed (${errorMessage(err)})`
      throw new KafkaStorageError(`${this.dir}: installing compacted segment ${cleanedBase} failed: ${errorMessage(err)}`, err)
    }
    const seg = Segment.open(this.storage, this.dir, cleanedBase, settingsOf(this.cfg), this.clock.now())
    seg.loadTail()
    this.segs.splice(first, old.length, seg)
    return seg
  }

  // ---------------------------------------------------------------- flush and close

  /** fsyncs every segment holding data past the recovery point; the recovery point becomes the log end offset. */
  flush(): void {
    this.ensureOpen()
    try {
      for (let i = this.segmentIndexFor(this.recovery); i < this.segs.length; i++) this.segs[i]!.flush()
    } catch (err) {
      throw new KafkaStorageError(`${this.dir}: flush failed: ${errorMessage(err)}`, err)
    }
    this.recovery = this.leo
    this.unflushedMessages = 0
    this.lastFlushMs = this.clock.now()
  }

  /** Flushes when `flush.ms` has passed since the last flush (the log manager's timer calls this). */
  maybeFlush(): boolean {
    if (this.closed || this.offlineReason || this.recovery === this.leo) return false
    if (this.clock.now() - this.lastFlushMs < this.cfg['flush.ms']) return false
    this.flush()
    return true
  }

  /** Flushes and closes every file. */
  close(): void {
    if (this.closed) return
    if (!this.offlineReason) this.flush()
    for (const seg of this.segs) seg.close()
    this.closed = true
  }

  /** Closes and removes the partition's directory (topic deletion). */
  delete(): void {
    if (!this.closed) {
      for (const seg of this.segs) seg.close()
      this.closed = true
    }
    this.storage.removeDir(this.dir)
  }

  get offline(): string | null {
    return this.offlineReason
  }

  private ensureOpen(): void {
    if (this.closed) throw new KafkaStorageError(`${this.dir}: log is closed`)
  }

  private ensureWritable(): void {
    this.ensureOpen()
    if (this.offlineReason) throw new KafkaStorageError(`${this.dir}: log offline: ${this.offlineReason}`)
  }

  private checkInvariants(): void {
    if (!(this.lso <= this.hw && this.hw <= this.leo)) {
      throw new Error(`invariant: log start offset ${this.lso} ≤ high watermark ${this.hw} ≤ log end offset ${this.leo} broken in ${this.dir}`)
    }
    // An empty active segment may start past the log end: a follower rolled to a batch far
    // ahead, and that batch's append failed; the follower's retry appends it there.
    const active = this.activeSegment
    if (active.nextOffset !== this.leo && !(active.size === 0 && active.baseOffset > this.leo)) {
      throw new Error(`invariant: active segment ends at ${this.activeSegment.nextOffset}, log end offset is ${this.leo} in ${this.dir}`)
    }
  }
}

function namesOf(base: number, suffix: string): string {
  return String(base).padStart(20, '0') + suffix
}

/** LogAppendTime: the broker's clock becomes the batch's max timestamp; attributes and maxTimestamp are inside the CRC, so it is recomputed. */
function stampLogAppendTime(buf: Uint8Array, at: number, now: number): void {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  dv.setInt16(at + ATTRIBUTES, dv.getInt16(at + ATTRIBUTES) | TIMESTAMP_TYPE_LOG_APPEND)
  dv.setBigInt64(at + MAX_TIMESTAMP, BigInt(now))
  new BatchHeader(buf, at).updateCrc()
}

