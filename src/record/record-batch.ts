/**
 * RecordBatch v2 (magic 2), built and read whole, byte for byte as Kafka writes it
 * (DefaultRecordBatch, MemoryRecordsBuilder):
 *
 *   batch :=
 *     baseOffset: int64              outside the CRC: the broker assigns it
 *     batchLength: int32             bytes after this field
 *     partitionLeaderEpoch: int32    outside the CRC: the broker stamps it
 *     magic: int8                    2
 *     crc: uint32                    CRC-32C of attributes .. end of batch
 *     attributes: int16              bits 0-2 compression, 3 timestamp type (1 = LogAppendTime),
 *                                    4 isTransactional, 5 isControl, 6 hasDeleteHorizonMs
 *     lastOffsetDelta: int32         offset delta of the last record
 *     baseTimestamp: int64           the first record's timestamp; the delete horizon when bit 6 is set
 *     maxTimestamp: int64            the largest record timestamp; the broker's time for LogAppendTime
 *     producerId: int64              -1 unless idempotent or transactional
 *     producerEpoch: int16
 *     baseSequence: int32
 *     recordsCount: int32
 *     records: record[recordsCount]  (record.ts); compressed as one block when bits 0-2 != 0
 *
 * Header offsets and constants are batch-header.ts's. Building sizes everything first
 * and encodes into one buffer (plus one for the compressed section); decoding returns
 * records whose keys and values are views into the batch (or into its decompressed
 * records section), not copies.
 */
import {
  ATTRIBUTES,
  BASE_OFFSET,
  BASE_SEQUENCE,
  BASE_TIMESTAMP,
  BATCH_HEADER_SIZE,
  BATCH_LENGTH,
  BatchHeader,
  COMPRESSION_MASK,
  CONTROL_FLAG,
  CRC,
  DELETE_HORIZON_FLAG,
  describeBatchProblem,
  LAST_OFFSET_DELTA,
  LOG_OVERHEAD,
  MAGIC,
  MAGIC_V2,
  MAX_TIMESTAMP,
  NO_PARTITION_LEADER_EPOCH,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  NO_TIMESTAMP,
  PARTITION_LEADER_EPOCH,
  PRODUCER_EPOCH,
  PRODUCER_ID,
  RECORDS_COUNT,
  scanBatches,
  TIMESTAMP_TYPE_LOG_APPEND,
  TRANSACTIONAL_FLAG,
} from './batch-header.ts'
import { Compression, compress, decompress, isCompression } from './compression/index.ts'
import { crc32c } from './crc32c.ts'
import { CorruptRecordError } from './errors.ts'
import { readRecord, sizeOfRecordBody, writeRecord, type Record, type RecordInput } from './record.ts'
import { readVarint, readVarlong, sizeOfVarint, type Cursor } from './varint.ts'

/** Attribute bit 3, by Kafka's `message.timestamp.type` names. */
export const TimestampType = {
  CreateTime: 0,
  LogAppendTime: 1,
} as const
export type TimestampType = (typeof TimestampType)[keyof typeof TimestampType]

export interface RecordBatchOptions {
  /** Default 0; the broker overwrites it on append. */
  baseOffset?: number
  /** Default -1; the leader stamps its epoch on append. */
  partitionLeaderEpoch?: number
  /** Default -1 (no producer id). */
  producerId?: number
  /** Default -1. */
  producerEpoch?: number
  /** Default -1 (no sequence). */
  baseSequence?: number
  isTransactional?: boolean
  isControl?: boolean
  /** Default none. zstd needs `await loadCodec(Compression.zstd)` first. */
  compression?: Compression
  /** gzip and zstd level, as Kafka's compression.<codec>.level. */
  compressionLevel?: number
  /** Default CreateTime. */
  timestampType?: TimestampType
  /** The broker's time, written as maxTimestamp of a LogAppendTime batch; required for one. */
  logAppendTime?: number
  /**
   * Timestamp of the records that carry none: the caller's Clock reading (this module
   * reads no clock). Without it such records get NO_TIMESTAMP (-1).
   */
  timestamp?: number
  /** Sets attribute bit 6 and makes this the baseTimestamp (KIP-534, written by the log cleaner). */
  deleteHorizonMs?: number
  /**
   * Overrides lastOffsetDelta, which is otherwise the last record's offset delta (0 for
   * no records): the log cleaner keeps a batch's last offset when it drops its last
   * records, or keeps an empty batch to preserve a producer's state.
   */
  lastOffsetDelta?: number
}

/** A batch read back: every header field plus its records. */
export interface RecordBatch {
  baseOffset: number
  batchLength: number
  /** batchLength + 12: the whole batch. */
  sizeInBytes: number
  partitionLeaderEpoch: number
  magic: number
  crc: number
  attributes: number
  compression: Compression
  timestampType: TimestampType
  isTransactional: boolean
  isControl: boolean
  /** baseTimestamp when attribute bit 6 is set, else null. */
  deleteHorizonMs: number | null
  lastOffsetDelta: number
  lastOffset: number
  nextOffset: number
  baseTimestamp: number
  maxTimestamp: number
  producerId: number
  producerEpoch: number
  baseSequence: number
  recordsCount: number
  records: Record[]
}

export interface DecodeOptions {
  /** Skip the CRC check (bytes already checked, e.g. read back from a verified segment). */
  skipCrc?: boolean
}

export interface IterateOptions extends DecodeOptions {
  /**
   * End quietly at a batch cut short by the end of the range instead of throwing: a
   * Fetch response may end with a partial batch, which consumers ignore.
   */
  stopAtPartialBatch?: boolean
}

const TWO_POW_32 = 4294967296
const INT32_MAX = 0x7fffffff
/** A record's minimum size (length, attributes, deltas, key, value, header count: a byte each). */
const MIN_RECORD_SIZE = 7

function writeInt64(dv: DataView, at: number, v: number): void {
  dv.setInt32(at, Math.floor(v / TWO_POW_32))
  dv.setUint32(at + 4, v >>> 0)
}

function readInt64(dv: DataView, at: number): number {
  return dv.getInt32(at) * TWO_POW_32 + dv.getUint32(at + 4)
}

function nextOffsetDelta(r: RecordInput, previous: number, baseOffset: number): number {
  return r.offset === undefined ? previous + 1 : r.offset - baseOffset
}

/** Builds one complete v2 batch, CRC included. Records get offsets baseOffset + 0, 1, 2... unless they carry their own. */
export function buildRecordBatch(records: readonly RecordInput[], options: RecordBatchOptions = {}): Uint8Array {
  const n = records.length
  const baseOffset = options.baseOffset ?? 0
  const defaultTimestamp = options.timestamp ?? NO_TIMESTAMP
  const compression = options.compression ?? Compression.none
  if (!isCompression(compression)) throw new RangeError(`unknown compression type id ${compression}`)
  const logAppend = options.timestampType === TimestampType.LogAppendTime
  if (logAppend && options.logAppendTime === undefined) throw new TypeError('a LogAppendTime batch needs options.logAppendTime')
  const deleteHorizon = options.deleteHorizonMs !== undefined

  // Like MemoryRecordsBuilder: the first record's timestamp, not the smallest (later deltas may be negative).
  const baseTimestamp = deleteHorizon ? options.deleteHorizonMs! : n > 0 ? (records[0]!.timestamp ?? defaultTimestamp) : NO_TIMESTAMP
  let maxTimestamp = NO_TIMESTAMP

  // Pass 1: sizes, and the checks that must fail before anything is written.
  const bodySizes = new Int32Array(n)
  let recordsSize = 0
  let offsetDelta = -1
  for (let i = 0; i < n; i++) {
    const r = records[i]!
    const next = nextOffsetDelta(r, offsetDelta, baseOffset)
    if (!(next > offsetDelta && next <= INT32_MAX && Number.isInteger(next))) {
      throw new RangeError(`record ${i}: offset ${baseOffset + next} must exceed the previous one and stay within 2^31-1 of baseOffset ${baseOffset}`)
    }
    offsetDelta = next
    const ts = r.timestamp ?? defaultTimestamp
    if (!Number.isSafeInteger(ts)) throw new RangeError(`record ${i}: timestamp ${ts} is not an integer number of milliseconds`)
    if (ts > maxTimestamp) maxTimestamp = ts
    const body = sizeOfRecordBody(offsetDelta, ts - baseTimestamp, r.key, r.value, r.headers)
    bodySizes[i] = body
    recordsSize += sizeOfVarint(body) + body
  }
  let lastOffsetDelta = n > 0 ? offsetDelta : 0
  if (options.lastOffsetDelta !== undefined) {
    if (options.lastOffsetDelta < lastOffsetDelta || options.lastOffsetDelta > INT32_MAX) {
      throw new RangeError(`lastOffsetDelta ${options.lastOffsetDelta} must lie between the last record's offset delta ${lastOffsetDelta} and 2^31-1`)
    }
    lastOffsetDelta = options.lastOffsetDelta
  }
  if (logAppend) maxTimestamp = options.logAppendTime!

  // Pass 2: the records, straight into the batch when uncompressed.
  const writeRecords = (target: Uint8Array, at: number): void => {
    let delta = -1
    for (let i = 0; i < n; i++) {
      const r = records[i]!
      delta = nextOffsetDelta(r, delta, baseOffset)
      at = writeRecord(target, at, bodySizes[i]!, delta, (r.timestamp ?? defaultTimestamp) - baseTimestamp, r.key, r.value, r.headers)
    }
  }
  let buf: Uint8Array
  if (compression === Compression.none) {
    buf = new Uint8Array(BATCH_HEADER_SIZE + recordsSize)
    writeRecords(buf, BATCH_HEADER_SIZE)
  } else {
    const section = new Uint8Array(recordsSize)
    writeRecords(section, 0)
    const compressed = compress(compression, section, options.compressionLevel)
    buf = new Uint8Array(BATCH_HEADER_SIZE + compressed.length)
    buf.set(compressed, BATCH_HEADER_SIZE)
  }

  const attributes =
    compression |
    (logAppend ? TIMESTAMP_TYPE_LOG_APPEND : 0) |
    (options.isTransactional ? TRANSACTIONAL_FLAG : 0) |
    (options.isControl ? CONTROL_FLAG : 0) |
    (deleteHorizon ? DELETE_HORIZON_FLAG : 0)
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  writeInt64(dv, BASE_OFFSET, baseOffset)
  dv.setInt32(BATCH_LENGTH, buf.length - LOG_OVERHEAD)
  dv.setInt32(PARTITION_LEADER_EPOCH, options.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH)
  dv.setInt8(MAGIC, MAGIC_V2)
  dv.setInt16(ATTRIBUTES, attributes)
  dv.setInt32(LAST_OFFSET_DELTA, lastOffsetDelta)
  writeInt64(dv, BASE_TIMESTAMP, baseTimestamp)
  writeInt64(dv, MAX_TIMESTAMP, maxTimestamp)
  writeInt64(dv, PRODUCER_ID, options.producerId ?? NO_PRODUCER_ID)
  dv.setInt16(PRODUCER_EPOCH, options.producerEpoch ?? NO_PRODUCER_EPOCH)
  dv.setInt32(BASE_SEQUENCE, options.baseSequence ?? NO_SEQUENCE)
  dv.setInt32(RECORDS_COUNT, n)
  dv.setUint32(CRC, crc32c(buf, ATTRIBUTES, buf.length))
  return buf
}

/**
 * Checks the batch at `at` (length, magic, CRC unless skipped, offsets) within
 * buf[at, end) and returns its size; throws CorruptRecordError with the reason.
 */
function checkBatch(buf: Uint8Array, at: number, end: number, skipCrc: boolean): number {
  let limit = end
  if (end - at >= LOG_OVERHEAD) {
    const size = new BatchHeader(buf, at).sizeInBytes
    // A plausible, complete batch is scanned alone; otherwise scanning to `end` names the problem.
    if (size >= BATCH_HEADER_SIZE && size <= end - at) limit = at + size
  }
  const { validEnd, problem } = scanBatches(buf, at, limit, { skipCrc })
  if (problem !== null) throw new CorruptRecordError(describeBatchProblem(problem))
  return validEnd - at
}

/** Header fields at `at` and the (decompressed) records section, its records not yet read. */
function openBatch(buf: Uint8Array, at: number, size: number): { dv: DataView; attributes: number; count: number; section: Uint8Array } {
  const dv = new DataView(buf.buffer, buf.byteOffset + at, size)
  const attributes = dv.getInt16(ATTRIBUTES)
  const count = dv.getInt32(RECORDS_COUNT)
  const codec = attributes & COMPRESSION_MASK
  if (!isCompression(codec)) throw new CorruptRecordError(`batch at byte ${at} names unknown compression type id ${codec}`)
  const section = decompress(codec, buf.subarray(at + BATCH_HEADER_SIZE, at + size))
  if (count < 0 || count > section.length / MIN_RECORD_SIZE) {
    throw new CorruptRecordError(`batch at byte ${at} claims ${count} records in ${section.length} bytes`)
  }
  return { dv, attributes, count, section }
}

function checkFullyRead(cur: Cursor, section: Uint8Array, at: number): void {
  if (cur.pos !== section.length) {
    throw new CorruptRecordError(`batch at byte ${at} has ${section.length - cur.pos} bytes after its last record`)
  }
}

/** Decodes the batch at `at`: header fields and records (decompressed as needed). */
export function decodeRecordBatch(buf: Uint8Array, at = 0, options: DecodeOptions = {}): RecordBatch {
  const size = checkBatch(buf, at, buf.length, options.skipCrc ?? false)
  return decodeChecked(buf, at, size)
}

function decodeChecked(buf: Uint8Array, at: number, size: number): RecordBatch {
  const { dv, attributes, count, section } = openBatch(buf, at, size)
  const baseOffset = readInt64(dv, BASE_OFFSET)
  const baseTimestamp = readInt64(dv, BASE_TIMESTAMP)
  const maxTimestamp = readInt64(dv, MAX_TIMESTAMP)
  const logAppend = (attributes & TIMESTAMP_TYPE_LOG_APPEND) !== 0
  const lastOffsetDelta = dv.getInt32(LAST_OFFSET_DELTA)
  const records: Record[] = new Array(count)
  const cur: Cursor = { pos: 0 }
  const logAppendTime = logAppend ? maxTimestamp : null
  for (let i = 0; i < count; i++) records[i] = readRecord(section, cur, baseOffset, baseTimestamp, logAppendTime)
  checkFullyRead(cur, section, at)
  return {
    baseOffset,
    batchLength: size - LOG_OVERHEAD,
    sizeInBytes: size,
    partitionLeaderEpoch: dv.getInt32(PARTITION_LEADER_EPOCH),
    magic: dv.getInt8(MAGIC),
    crc: dv.getUint32(CRC),
    attributes,
    compression: (attributes & COMPRESSION_MASK) as Compression,
    timestampType: logAppend ? TimestampType.LogAppendTime : TimestampType.CreateTime,
    isTransactional: (attributes & TRANSACTIONAL_FLAG) !== 0,
    isControl: (attributes & CONTROL_FLAG) !== 0,
    deleteHorizonMs: (attributes & DELETE_HORIZON_FLAG) !== 0 ? baseTimestamp : null,
    lastOffsetDelta,
    lastOffset: baseOffset + lastOffsetDelta,
    nextOffset: baseOffset + lastOffsetDelta + 1,
    baseTimestamp,
    maxTimestamp,
    producerId: readInt64(dv, PRODUCER_ID),
    producerEpoch: dv.getInt16(PRODUCER_EPOCH),
    baseSequence: dv.getInt32(BASE_SEQUENCE),
    recordsCount: count,
    records,
  }
}

/**
 * Decodes the batches in buf[start, end) one at a time, lazily. Throws CorruptRecordError
 * at the first bad batch (after yielding the good ones before it).
 */
export function* iterateRecordBatches(buf: Uint8Array, start = 0, end = buf.length, options: IterateOptions = {}): Generator<RecordBatch, void, undefined> {
  if (end > buf.length) end = buf.length
  const skipCrc = options.skipCrc ?? false
  let at = start
  while (at < end) {
    if (options.stopAtPartialBatch) {
      if (end - at < LOG_OVERHEAD) return
      const size = new BatchHeader(buf, at).sizeInBytes
      if (size >= BATCH_HEADER_SIZE && size > end - at) return
    }
    // Bounded by `end`, not buf.length: a batch must lie inside the range it was found in.
    const size = checkBatch(buf, at, end, skipCrc)
    yield decodeChecked(buf, at, size)
    at += size
  }
}

/**
 * Offsets and timestamps of the records of the batch at `at`, without materialising
 * keys, values or headers (ListOffsets by timestamp walks these). The batch is assumed
 * already verified: its CRC is not checked again, its structure is.
 */
export function batchRecordTimestamps(buf: Uint8Array, at = 0): { offset: number; timestamp: number }[] {
  const size = checkBatch(buf, at, buf.length, true)
  const { dv, attributes, count, section } = openBatch(buf, at, size)
  const baseOffset = readInt64(dv, BASE_OFFSET)
  const baseTimestamp = readInt64(dv, BASE_TIMESTAMP)
  const logAppendTime = (attributes & TIMESTAMP_TYPE_LOG_APPEND) !== 0 ? readInt64(dv, MAX_TIMESTAMP) : null
  const out: { offset: number; timestamp: number }[] = new Array(count)
  const cur: Cursor = { pos: 0 }
  for (let i = 0; i < count; i++) {
    const bodySize = readVarint(section, cur)
    const recordEnd = cur.pos + bodySize
    if (bodySize < 0 || recordEnd > section.length) throw new CorruptRecordError(`record at byte ${cur.pos} claims ${bodySize} bytes`)
    cur.pos++ // attributes
    const timestampDelta = readVarlong(section, cur)
    const offsetDelta = readVarint(section, cur)
    out[i] = { offset: baseOffset + offsetDelta, timestamp: logAppendTime ?? baseTimestamp + timestampDelta }
    cur.pos = recordEnd
  }
  checkFullyRead(cur, section, at)
  return out
}
