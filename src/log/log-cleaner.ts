/**
 * Log cleaner — compaction for `cleanup.policy=compact` (Kafka's LogCleaner, first version:
 * one synchronous pass over the log, no cleaner checkpoint, no dirty-ratio scheduling).
 *
 * Contract of `cleanLog(log, { now })`:
 * - Does nothing unless cleanup.policy includes compact. Cleanable range: the longest prefix
 *   of non-active segments each wholly below the high watermark and whose largest timestamp
 *   is ≤ now - min.compaction.lag.ms.
 * - Offset map: key bytes → latest offset, over the cleanable range from its first segment,
 *   at most `offsetMapKeysMax` keys. When it fills, only segments starting below the map's
 *   end are cleaned, and every record at or past that end is kept (as Kafka does; with no
 *   checkpoint, a log with more distinct keys than that is only ever cleaned up to there).
 * - A record is kept when its key is null, its offset is past the map's end, or it is the
 *   latest for its key; but such a tombstone (null value) goes once the segment it is read
 *   from has a largest timestamp < now - delete.retention.ms (the simple rule, not KIP-534's
 *   delete horizon; merging segments can only make a tombstone look younger). Control batches
 *   are kept whole. Offsets never change. A corrupt batch throws (CorruptRecordError).
 * - Segments are cleaned in groups (consecutive, total size ≤ segment.bytes, offsets within
 *   int32 of the base, index entries within segment.index.bytes), oldest first; each group
 *   becomes one segment written as `<base>.log.cleaned` (+ indexes), fsynced, then installed
 *   by `log.replaceSegments` (atomic: a crash leaves the old or the new group). A fully kept
 *   batch is copied byte for byte; a partly kept one is rebuilt with its baseOffset, last
 *   offset, producer fields, attributes and codec; an emptied one is dropped. A group of one
 *   segment in which nothing changes is not rewritten.
 * - Groups install in offset order, so a tombstone leaves the disk only after every older
 *   value of its key has.
 * - zstd: the caller need not load the encoder. A zstd batch that needs recompressing while
 *   it is not loaded (`loadCodec(Compression.zstd)`) is kept whole, and then no tombstone is
 *   dropped for the rest of the run (the batch may hold values a tombstone hides).
 */
import { Buffer } from 'node:buffer'
import { BATCH_HEADER_SIZE, BatchHeader } from '../record/batch-header.ts'
import { isCodecLoaded } from '../record/compression/index.ts'
import type { Record } from '../record/record.ts'
import { buildRecordBatch, decodeRecordBatch, TimestampType } from '../record/record-batch.ts'
import { type Logger, silentLogger } from '../runtime/logger.ts'
import { compacts } from './log-config.ts'
import type { PartitionLog } from './partition-log.ts'
import { type BatchLocation, LOG_SUFFIX, INDEX_SUFFIX, Segment, TIME_INDEX_SUFFIX } from './segment.ts'

/** Default bound of the offset map, in distinct keys (Kafka bounds its map by bytes of hashes; we keep whole keys). */
export const DEFAULT_OFFSET_MAP_KEYS_MAX = 1_000_000
/** The cleaned segment is written in appends of about this many bytes. */
const WRITE_CHUNK_BYTES = 1024 * 1024
const INT32_MAX = 0x7fffffff
/** Bytes of one time index entry: the smaller of the two index capacities. */
const TIME_INDEX_ENTRY_BYTES = 12
export const CLEANED_SUFFIX = '.cleaned'

export interface CleanOptions {
  /** The clock reading the lag and tombstone rules compare with. */
  now: number
  logger?: Logger
  /** At most this many distinct keys in the offset map (default DEFAULT_OFFSET_MAP_KEYS_MAX). */
  offsetMapKeysMax?: number
}

export interface CleanResult {
  /** Old segments replaced, and the cleaned segments that replaced them. */
  segmentsCleaned: number
  groupsCleaned: number
  /** Records and bytes of the replaced segments, and of their replacements. */
  recordsBefore: number
  recordsAfter: number
  bytesBefore: number
  bytesAfter: number
  /** Offsets below this were in scope: the end of the cleanable range, or of the offset map when it filled. */
  endOffset: number
  /** The offset map filled before the end of the cleanable range. */
  mapFull: boolean
  /** zstd batches kept whole because the zstd encoder was not loaded. */
  zstdBatchesKeptWhole: number
}

interface RunState {
  log: PartitionLog
  now: number
  map: Map<string, number>
  mapEnd: number
  /** Set once a batch holding superseded records was kept whole: no tombstone may be dropped after it. */
  keptStale: boolean
  zstdKeptWhole: number
}

/** What becomes of one batch; `before` and `kept` count its records. */
type Outcome = { kind: 'copy' | 'drop'; before: number; kept: number } | { kind: 'rebuild'; before: number; kept: number; bytes: Uint8Array }

export function cleanLog(log: PartitionLog, options: CleanOptions): CleanResult {
  const logger = options.logger ?? silentLogger
  const keysMax = options.offsetMapKeysMax ?? DEFAULT_OFFSET_MAP_KEYS_MAX
  if (!Number.isSafeInteger(keysMax) || keysMax < 1) throw new RangeError(`offsetMapKeysMax must be a positive integer, got ${keysMax}`)
  const all = [...log.segments]
  const result: CleanResult = {
    segmentsCleaned: 0,
    groupsCleaned: 0,
    recordsBefore: 0,
    recordsAfter: 0,
    bytesBefore: 0,
    bytesAfter: 0,
    endOffset: all[0]!.baseOffset,
    mapFull: false,
    zstdBatchesKeptWhole: 0,
  }
  if (!compacts(log.config)) return result

  const config = log.config
  const cleanable: Segment[] = []
  for (const seg of all.slice(0, -1)) {
    if (seg.nextOffset > log.highWatermark || seg.maxTimestampSoFar > options.now - config['min.compaction.lag.ms']) break
    cleanable.push(seg)
  }
  if (cleanable.length === 0) return result
  result.endOffset = cleanable[cleanable.length - 1]!.nextOffset

  const { map, end } = buildOffsetMap(cleanable, keysMax)
  if (end !== null) {
    result.mapFull = true
    result.endOffset = end
  }
  const state: RunState = { log, now: options.now, map, mapEnd: result.endOffset, keptStale: false, zstdKeptWhole: 0 }
  const inScope = cleanable.filter((s) => s.baseOffset < result.endOffset)
  for (const group of groupSegments(inScope, config['segment.bytes'], config['segment.index.bytes'], config['index.interval.bytes'])) {
    const stats = cleanGroup(state, group)
    if (!stats) continue
    result.segmentsCleaned += group.length
    result.groupsCleaned++
    result.recordsBefore += stats.recordsBefore
    result.recordsAfter += stats.recordsAfter
    result.bytesBefore += stats.bytesBefore
    result.bytesAfter += stats.bytesAfter
    logger.info(
      `${log.dir}: cleaned segment${group.length > 1 ? 's' : ''} ${group.map((s) => s.baseOffset).join(', ')} into ${group[0]!.baseOffset}: ` +
        `${stats.recordsBefore} → ${stats.recordsAfter} records, ${stats.bytesBefore} → ${stats.bytesAfter} bytes`,
    )
  }
  result.zstdBatchesKeptWhole = state.zstdKeptWhole
  if (state.zstdKeptWhole > 0) {
    logger.warn(`${log.dir}: kept ${state.zstdKeptWhole} zstd batch(es) whole and every tombstone after them: the zstd encoder is not loaded (await loadCodec(Compression.zstd))`)
  }
  return result
}

/** Map keys are the key bytes as a latin1 string: one char per byte, so equal strings are equal bytes. */
function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')
}

/** Latest offset per key; `end` is the offset of the first record whose key did not fit (null when all did). */
function buildOffsetMap(segments: readonly Segment[], keysMax: number): { map: Map<string, number>; end: number | null } {
  const map = new Map<string, number>()
  let end: number | null = null
  for (const seg of segments) {
    seg.walk(0, seg.size, (loc) => {
      const batch = decodeRecordBatch(seg.readBytes(loc.position, loc.size))
      if (batch.isControl) return true
      for (const r of batch.records) {
        if (r.key === null) continue
        const k = keyString(r.key)
        if (map.size >= keysMax && !map.has(k)) {
          end = r.offset
          return false
        }
        map.set(k, r.offset)
      }
      return true
    })
    if (end !== null) break
  }
  return { map, end }
}

/**
 * Consecutive segments whose cleaned form fits one segment: total size ≤ segment.bytes,
 * last offset within int32 of the first base offset, and index entries within
 * segment.index.bytes. Entries are bounded without reading the segments: one is written per
 * more than index.interval.bytes, and per batch at most (a batch is at least a header).
 */
function groupSegments(segments: readonly Segment[], maxBytes: number, maxIndexBytes: number, indexIntervalBytes: number): Segment[][] {
  const bytesPerEntry = Math.max(BATCH_HEADER_SIZE, indexIntervalBytes + 1)
  const maxEntries = Math.floor(maxIndexBytes / TIME_INDEX_ENTRY_BYTES)
  const groups: Segment[][] = []
  let i = 0
  while (i < segments.length) {
    const group = [segments[i]!]
    let size = segments[i]!.size
    i++
    while (i < segments.length) {
      const next = segments[i]!
      const fits =
        size + next.size <= maxBytes &&
        next.nextOffset - 1 - group[0]!.baseOffset <= INT32_MAX &&
        Math.floor((size + next.size) / bytesPerEntry) <= maxEntries
      if (!fits) break
      group.push(next)
      size += next.size
      i++
    }
    groups.push(group)
  }
  return groups
}

interface GroupStats {
  recordsBefore: number
  recordsAfter: number
  bytesBefore: number
  bytesAfter: number
}

/** Writes and installs the cleaned form of `group`; null when it is one segment and nothing in it changes. */
function cleanGroup(state: RunState, group: Segment[]): GroupStats | null {
  const { log } = state
  const base = group[0]!.baseOffset
  const stats: GroupStats = { recordsBefore: 0, recordsAfter: 0, bytesBefore: 0, bytesAfter: 0 }
  const w: { out: CleanedSegmentWriter | null } = { out: null }
  try {
    for (const seg of group) {
      stats.bytesBefore += seg.size
      const tombstonesExpired = seg.maxTimestampSoFar < state.now - log.config['delete.retention.ms']
      // In a group of one segment, the batches before the first change are written only once one comes.
      const unchanged: BatchLocation[] = []
      seg.walk(0, seg.size, (loc) => {
        const bytes = seg.readBytes(loc.position, loc.size)
        const outcome = filterBatch(state, bytes, tombstonesExpired)
        stats.recordsBefore += outcome.before
        stats.recordsAfter += outcome.kept
        if (w.out === null) {
          if (group.length === 1 && outcome.kind === 'copy') {
            unchanged.push(loc)
            return true
          }
          w.out = new CleanedSegmentWriter(log, base, state.now)
          for (const u of unchanged) w.out.add(seg.readBytes(u.position, u.size), u)
        }
        if (outcome.kind === 'copy') w.out.add(bytes, loc)
        else if (outcome.kind === 'rebuild') w.out.add(outcome.bytes, locationOf(outcome.bytes))
        return true
      })
    }
    if (w.out === null) return null
    stats.bytesAfter = w.out.finish()
  } catch (err) {
    w.out?.abort()
    throw err
  }
  log.replaceSegments(group, base)
  return stats
}

function filterBatch(state: RunState, bytes: Uint8Array, tombstonesExpired: boolean): Outcome {
  const batch = decodeRecordBatch(bytes)
  const before = batch.recordsCount
  if (batch.isControl) return { kind: 'copy', before, kept: before }
  const kept = batch.records.filter((r) => retains(state, r, tombstonesExpired))
  if (kept.length === before) return { kind: 'copy', before, kept: before }
  if (kept.length === 0) return { kind: 'drop', before, kept: 0 }
  if (!isCodecLoaded(batch.compression)) {
    state.keptStale = true
    state.zstdKeptWhole++
    return { kind: 'copy', before, kept: before }
  }
  const logAppend = batch.timestampType === TimestampType.LogAppendTime
  const rebuilt = buildRecordBatch(
    kept.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp, offset: r.offset })),
    {
      baseOffset: batch.baseOffset,
      lastOffsetDelta: batch.lastOffsetDelta,
      partitionLeaderEpoch: batch.partitionLeaderEpoch,
      producerId: batch.producerId,
      producerEpoch: batch.producerEpoch,
      baseSequence: batch.baseSequence,
      isTransactional: batch.isTransactional,
      compression: batch.compression,
      timestampType: batch.timestampType,
      ...(logAppend ? { logAppendTime: batch.maxTimestamp } : {}),
      ...(batch.deleteHorizonMs !== null ? { deleteHorizonMs: batch.deleteHorizonMs } : {}),
    },
  )
  return { kind: 'rebuild', before, kept: kept.length, bytes: rebuilt }
}

function retains(state: RunState, r: Record, tombstonesExpired: boolean): boolean {
  if (r.key === null || r.offset >= state.mapEnd) return true
  // Every keyed record below the map's end is in the map, so the key is there.
  if (r.offset < state.map.get(keyString(r.key))!) return false
  return r.value !== null || !tombstonesExpired || state.keptStale
}

function locationOf(bytes: Uint8Array): BatchLocation {
  const h = new BatchHeader(bytes)
  return { position: 0, baseOffset: h.baseOffset, lastOffset: h.lastOffset, maxTimestamp: h.maxTimestamp, size: bytes.length, partitionLeaderEpoch: h.partitionLeaderEpoch }
}

/** The `.cleaned` segment being written: batches are buffered into appends of about WRITE_CHUNK_BYTES. */
class CleanedSegmentWriter {
  private readonly segment: Segment
  private readonly log: PartitionLog
  private chunks: Uint8Array[] = []
  private locations: BatchLocation[] = []
  private pendingBytes = 0

  constructor(log: PartitionLog, base: number, now: number) {
    this.log = log
    const settings = { indexIntervalBytes: log.config['index.interval.bytes'], maxIndexBytes: log.config['segment.index.bytes'] }
    this.segment = Segment.create(log.storage, log.dir, base, settings, now, CLEANED_SUFFIX)
  }

  add(bytes: Uint8Array, loc: BatchLocation): void {
    this.locations.push({ ...loc, position: this.pendingBytes, size: bytes.length })
    this.chunks.push(bytes)
    this.pendingBytes += bytes.length
    if (this.pendingBytes >= WRITE_CHUNK_BYTES) this.writePending()
  }

  private writePending(): void {
    if (this.chunks.length === 0) return
    const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)
    this.segment.append(buf, this.locations)
    this.chunks = []
    this.locations = []
    this.pendingBytes = 0
  }

  /** Writes what is pending, fsyncs the log and both indexes, closes them; returns the log file's size. */
  finish(): number {
    this.writePending()
    this.segment.flush()
    const size = this.segment.size
    this.segment.close()
    return size
  }

  /** Best effort after a failure: close and remove the `.cleaned` files (a reopen of the log removes any left). */
  abort(): void {
    const storage = this.log.storage
    try {
      this.segment.close()
    } catch {
      // The storage failed; the files go below if they can, else on the next open.
    }
    for (const suffix of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
      try {
        storage.remove(this.segment.path(suffix))
      } catch {
        // As above.
      }
    }
  }
}
