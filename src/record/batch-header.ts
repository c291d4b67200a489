/**
 * The 61-byte RecordBatch v2 header, read and patched in place.
 *
 *   baseOffset: int64            @0   (outside the CRC: the broker patches it)
 *   batchLength: int32           @8   (bytes after this field)
 *   partitionLeaderEpoch: int32  @12  (outside the CRC: the broker patches it)
 *   magic: int8 (= 2)            @16
 *   crc: uint32                  @17  (CRC-32C of attributes .. end of batch)
 *   attributes: int16            @21
 *   lastOffsetDelta: int32       @23
 *   baseTimestamp: int64         @27
 *   maxTimestamp: int64          @35
 *   producerId: int64            @43
 *   producerEpoch: int16         @51
 *   baseSequence: int32          @53
 *   recordsCount: int32          @57
 *   records                      @61
 *
 * All integers big-endian. Offsets and timestamps are JS numbers: Kafka offsets
 * and epoch-millisecond timestamps stay far below 2^53.
 */
import { crc32c } from './crc32c.ts'

export const BATCH_HEADER_SIZE = 61
/** baseOffset + batchLength: the bytes not counted by batchLength. */
export const LOG_OVERHEAD = 12
export const MAGIC_V2 = 2

export const BASE_OFFSET = 0
export const BATCH_LENGTH = 8
export const PARTITION_LEADER_EPOCH = 12
export const MAGIC = 16
export const CRC = 17
export const ATTRIBUTES = 21
export const LAST_OFFSET_DELTA = 23
export const BASE_TIMESTAMP = 27
export const MAX_TIMESTAMP = 35
export const PRODUCER_ID = 43
export const PRODUCER_EPOCH = 51
export const BASE_SEQUENCE = 53
export const RECORDS_COUNT = 57

export const COMPRESSION_MASK = 0x07
export const TIMESTAMP_TYPE_LOG_APPEND = 0x08
export const TRANSACTIONAL_FLAG = 0x10
export const CONTROL_FLAG = 0x20
export const DELETE_HORIZON_FLAG = 0x40

export const NO_PRODUCER_ID = -1
export const NO_PARTITION_LEADER_EPOCH = -1
export const NO_PRODUCER_EPOCH = -1
/** baseSequence of a batch from a producer that is not idempotent (and of control batches). */
export const NO_SEQUENCE = -1
/** A record or batch without a timestamp (Kafka's RecordBatch.NO_TIMESTAMP). */
export const NO_TIMESTAMP = -1

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
}

function readInt64(dv: DataView, at: number): number {
  return Number(dv.getBigInt64(at))
}

/** A view of one batch's header inside a larger buffer, starting at `at`. */
export class BatchHeader {
  private readonly dv: DataView
  private readonly at: number

  constructor(buf: Uint8Array, at = 0) {
    this.dv = view(buf)
    this.at = at
  }

  get baseOffset(): number { return readInt64(this.dv, this.at + BASE_OFFSET) }
  set baseOffset(v: number) { this.dv.setBigInt64(this.at + BASE_OFFSET, BigInt(v)) }
  get batchLength(): number { return this.dv.getInt32(this.at + BATCH_LENGTH) }
  /** Size of the whole batch on disk and on the wire. */
  get sizeInBytes(): number { return this.batchLength + LOG_OVERHEAD }
  get partitionLeaderEpoch(): number { return this.dv.getInt32(this.at + PARTITION_LEADER_EPOCH) }
  set partitionLeaderEpoch(v: number) { this.dv.setInt32(this.at + PARTITION_LEADER_EPOCH, v) }
  get magic(): number { return this.dv.getInt8(this.at + MAGIC) }
  get crc(): number { return this.dv.getUint32(this.at + CRC) }
  get attributes(): number { return this.dv.getInt16(this.at + ATTRIBUTES) }
  get compression(): number { return this.attributes & COMPRESSION_MASK }
  get isTransactional(): boolean { return (this.attributes & TRANSACTIONAL_FLAG) !== 0 }
  get isControl(): boolean { return (this.attributes & CONTROL_FLAG) !== 0 }
  get timestampIsLogAppend(): boolean { return (this.attributes & TIMESTAMP_TYPE_LOG_APPEND) !== 0 }
  get lastOffsetDelta(): number { return this.dv.getInt32(this.at + LAST_OFFSET_DELTA) }
  get lastOffset(): number { return this.baseOffset + this.lastOffsetDelta }
  get nextOffset(): number { return this.lastOffset + 1 }
  get baseTimestamp(): number { return readInt64(this.dv, this.at + BASE_TIMESTAMP) }
  get maxTimestamp(): number { return readInt64(this.dv, this.at + MAX_TIMESTAMP) }
  get producerId(): number { return readInt64(this.dv, this.at + PRODUCER_ID) }
  get producerEpoch(): number { return this.dv.getInt16(this.at + PRODUCER_EPOCH) }
  get baseSequence(): number { return this.dv.getInt32(this.at + BASE_SEQUENCE) }
  get recordsCount(): number { return this.dv.getInt32(this.at + RECORDS_COUNT) }

  /** CRC-32C computed over attributes .. end of batch. */
  computeCrc(): number {
    const u8 = new Uint8Array(this.dv.buffer, this.dv.byteOffset, this.dv.byteLength)
    return crc32c(u8, this.at + ATTRIBUTES, this.at + this.sizeInBytes)
  }

  /** Writes the CRC field from the current content (after changing bytes inside the CRC). */
  updateCrc(): void {
    this.dv.setUint32(this.at + CRC, this.computeCrc())
  }

  isCrcValid(): boolean {
    return this.computeCrc() === this.crc
  }
}

/** Why a byte range is not a sequence of whole, valid v2 batches; null when it is. */
export type BatchProblem =
  | { kind: 'truncated'; at: number; needed: number; have: number }
  | { kind: 'bad-length'; at: number; batchLength: number }
  | { kind: 'bad-magic'; at: number; magic: number }
  | { kind: 'bad-crc'; at: number; expected: number; actual: number }
  | { kind: 'bad-offsets'; at: number; detail: string }

export interface ValidateOptions {
  /** Largest batch accepted, in bytes (Kafka's `message.max.bytes`). */
  maxBatchBytes?: number
  /** Skip the CRC check (for bytes already checked once, e.g. re-reading a verified segment). */
  skipCrc?: boolean
}

/**
 * Walks `buf[start, end)` batch by batch, checking each header's length, magic and CRC.
 * Calls `onBatch(at, header)` for each valid batch and returns the position after the last
 * valid one together with the first problem found (null when the range is clean).
 */
export function scanBatches(
  buf: Uint8Array,
  start: number,
  end: number,
  options: ValidateOptions,
  onBatch?: (at: number, header: BatchHeader) => void,
): { validEnd: number; problem: BatchProblem | null } {
  const maxBatchBytes = options.maxBatchBytes ?? 0x7fffffff
  let at = start
  while (at < end) {
    if (end - at < LOG_OVERHEAD) return { validEnd: at, problem: { kind: 'truncated', at, needed: LOG_OVERHEAD, have: end - at } }
    const h = new BatchHeader(buf, at)
    const batchLength = h.batchLength
    const size = batchLength + LOG_OVERHEAD
    if (size < BATCH_HEADER_SIZE || size > maxBatchBytes) return { validEnd: at, problem: { kind: 'bad-length', at, batchLength } }
    if (end - at < size) return { validEnd: at, problem: { kind: 'truncated', at, needed: size, have: end - at } }
    if (h.magic !== MAGIC_V2) return { validEnd: at, problem: { kind: 'bad-magic', at, magic: h.magic } }
    if (!options.skipCrc) {
      const actual = h.computeCrc()
      if (actual !== h.crc) return { validEnd: at, problem: { kind: 'bad-crc', at, expected: h.crc, actual } }
    }
    if (h.lastOffsetDelta < 0) return { validEnd: at, problem: { kind: 'bad-offsets', at, detail: `lastOffsetDelta ${h.lastOffsetDelta}` } }
    onBatch?.(at, h)
    at += size
  }
  return { validEnd: at, problem: null }
}

export function describeBatchProblem(p: BatchProblem): string {
  switch (p.kind) {
    case 'truncated': return `batch at byte ${p.at} is cut short (${p.have} of ${p.needed} bytes)`
    case 'bad-length': return `batch at byte ${p.at} has an impossible length ${p.batchLength}`
    case 'bad-magic': return `batch at byte ${p.at} has magic ${p.magic}, expected ${MAGIC_V2}`
    case 'bad-crc': return `batch at byte ${p.at} fails its CRC (stored ${p.expected}, computed ${p.actual})`
    case 'bad-offsets': return `batch at byte ${p.at} has bad offsets (${p.detail})`
    default: {
      const never: never = p
      throw new Error(`unknown batch problem ${String(never)}`)
    }
  }
}
