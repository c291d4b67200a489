/**
 * One record inside a RecordBatch v2 (Kafka's DefaultRecord), encoded and decoded:
 *
 *   record :=
 *     length: varint              bytes that follow this field
 *     attributes: int8            unused, written as 0
 *     timestampDelta: varlong     timestamp - batch baseTimestamp (may be negative)
 *     offsetDelta: varint         offset - batch baseOffset
 *     keyLength: varint           -1 for a null key
 *     key: byte[keyLength]
 *     valueLength: varint         -1 for a null value (a tombstone)
 *     value: byte[valueLength]
 *     headersCount: varint
 *     header[headersCount] :=
 *       headerKeyLength: varint   never null
 *       headerKey: UTF-8 bytes
 *       headerValueLength: varint -1 for a null value
 *       headerValue: byte[headerValueLength]
 *
 * Offsets and timestamps are absolute in the user-facing Record; the deltas exist only
 * in the bytes, relative to the batch header. Decoded keys and values (and header
 * values) are views into the buffer being decoded, not copies: a caller that keeps
 * records beyond the life of that buffer (or reuses it) must copy them.
 */
import { CorruptRecordError } from './errors.ts'
import { readVarint, readVarlong, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong, type Cursor } from './varint.ts'

export interface RecordHeader {
  key: string
  value: Uint8Array | null
}

/** A record as read from a batch. */
export interface Record {
  offset: number
  /** Epoch milliseconds: the producer's create time, or the batch's log-append time. */
  timestamp: number
  key: Uint8Array | null
  value: Uint8Array | null
  headers: RecordHeader[]
}

/** A record to be written into a batch; see buildRecordBatch for the defaults. */
export interface RecordInput {
  key?: Uint8Array | null
  value?: Uint8Array | null
  headers?: readonly RecordHeader[]
  timestamp?: number
  /** Absolute offset; defaults to the batch's baseOffset + the record's index. */
  offset?: number
}

const NO_HEADERS: readonly RecordHeader[] = Object.freeze([])

const utf8Encoder = new TextEncoder()
// Not fatal: Kafka decodes header keys with `new String(bytes, UTF_8)`, which replaces bad sequences.
const utf8Decoder = new TextDecoder()

/** UTF-8 length of `s` as TextEncoder writes it (a lone surrogate becomes U+FFFD, 3 bytes). */
export function utf8Length(s: string): number {
  const n = s.length
  let bytes = n
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) bytes += 1
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // A surrogate pair: two UTF-16 units, four bytes.
      bytes += 2
      i++
    } else bytes += 2
  }
  return bytes
}

function writeUtf8(buf: Uint8Array, at: number, s: string, byteLength: number): number {
  if (byteLength === s.length) {
    // ASCII, the usual case for header keys: no encoder call, no subarray.
    for (let i = 0; i < byteLength; i++) buf[at + i] = s.charCodeAt(i)
  } else {
    utf8Encoder.encodeInto(s, buf.subarray(at, at + byteLength))
  }
  return at + byteLength
}

function readUtf8(buf: Uint8Array, start: number, length: number): string {
  if (length <= 32) {
    let s = ''
    for (let i = start; i < start + length; i++) {
      const b = buf[i]!
      if (b >= 0x80) return utf8Decoder.decode(buf.subarray(start, start + length))
      s += String.fromCharCode(b)
    }
    return s
  }
  return utf8Decoder.decode(buf.subarray(start, start + length))
}

function sizeOfBytes(b: Uint8Array | null | undefined): number {
  return b == null ? 1 : sizeOfVarint(b.length) + b.length
}

function writeBytes(buf: Uint8Array, at: number, b: Uint8Array | null | undefined): number {
  if (b == null) return writeVarint(buf, at, -1)
  at = writeVarint(buf, at, b.length)
  buf.set(b, at)
  return at + b.length
}

/** Size of a record without its leading length varint. */
export function sizeOfRecordBody(
  offsetDelta: number,
  timestampDelta: number,
  key: Uint8Array | null | undefined,
  value: Uint8Array | null | undefined,
  headers: readonly RecordHeader[] = NO_HEADERS,
): number {
  let size = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta) + sizeOfBytes(key) + sizeOfBytes(value)
  size += sizeOfVarint(headers.length)
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!
    const keyBytes = utf8Length(h.key)
    size += sizeOfVarint(keyBytes) + keyBytes + sizeOfBytes(h.value)
  }
  return size
}

/** Size of a whole record, length varint included. */
export function sizeOfRecord(
  offsetDelta: number,
  timestampDelta: number,
  key: Uint8Array | null | undefined,
  value: Uint8Array | null | undefined,
  headers: readonly RecordHeader[] = NO_HEADERS,
): number {
  const body = sizeOfRecordBody(offsetDelta, timestampDelta, key, value, headers)
  return sizeOfVarint(body) + body
}

/**
 * Writes one record at `at` and returns the position after it. `bodySize` is
 * sizeOfRecordBody(...) of the same arguments (the caller computed it to size the buffer).
 */
export function writeRecord(
  buf: Uint8Array,
  at: number,
  bodySize: number,
  offsetDelta: number,
  timestampDelta: number,
  key: Uint8Array | null | undefined,
  value: Uint8Array | null | undefined,
  headers: readonly RecordHeader[] = NO_HEADERS,
): number {
  at = writeVarint(buf, at, bodySize)
  buf[at++] = 0
  at = writeVarlong(buf, at, timestampDelta)
  at = writeVarint(buf, at, offsetDelta)
  at = writeBytes(buf, at, key)
  at = writeBytes(buf, at, value)
  at = writeVarint(buf, at, headers.length)
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!
    const keyBytes = utf8Length(h.key)
    at = writeVarint(buf, at, keyBytes)
    at = writeUtf8(buf, at, h.key, keyBytes)
    at = writeBytes(buf, at, h.value)
  }
  return at
}

function readBytes(buf: Uint8Array, cur: Cursor, end: number, what: string): Uint8Array | null {
  const length = readVarint(buf, cur)
  if (length < 0) {
    if (length === -1) return null
    throw new CorruptRecordError(`${what} has negative length ${length}`)
  }
  const start = cur.pos
  if (start + length > end) throw new CorruptRecordError(`${what} of ${length} bytes runs past the end of its record`)
  cur.pos = start + length
  return buf.subarray(start, start + length)
}

/**
 * Reads one record at `cur.pos` and advances the cursor past it. `logAppendTime`, when
 * not null, replaces every record's timestamp (a LogAppendTime batch: the broker's
 * time, held in the batch's maxTimestamp).
 */
export function readRecord(
  buf: Uint8Array,
  cur: Cursor,
  baseOffset: number,
  baseTimestamp: number,
  logAppendTime: number | null = null,
): Record {
  const bodySize = readVarint(buf, cur)
  const start = cur.pos
  const end = start + bodySize
  if (bodySize < 0 || end > buf.length) {
    throw new CorruptRecordError(`record at byte ${start} claims ${bodySize} bytes, ${buf.length - start} remain`)
  }
  cur.pos = start + 1 // attributes: unused by every version so far
  const timestampDelta = readVarlong(buf, cur)
  const offsetDelta = readVarint(buf, cur)
  const key = readBytes(buf, cur, end, 'record key')
  const value = readBytes(buf, cur, end, 'record value')
  const headersCount = readVarint(buf, cur)
  if (cur.pos > end) throw new CorruptRecordError(`record at byte ${start} has fields past its declared ${bodySize} bytes`)
  // Each header takes at least two bytes: a bound that stops a corrupt count from looping long.
  if (headersCount < 0 || headersCount > (end - cur.pos) >> 1) {
    throw new CorruptRecordError(`record at byte ${start} has an invalid header count ${headersCount}`)
  }
  const headers: RecordHeader[] = []
  for (let i = 0; i < headersCount; i++) {
    const keyLength = readVarint(buf, cur)
    const keyStart = cur.pos
    if (keyLength < 0 || keyStart + keyLength > end) {
      throw new CorruptRecordError(`record at byte ${start} has a header key of invalid length ${keyLength}`)
    }
    cur.pos = keyStart + keyLength
    const hKey = readUtf8(buf, keyStart, keyLength)
    headers.push({ key: hKey, value: readBytes(buf, cur, end, 'header value') })
  }
  if (cur.pos !== end) {
    throw new CorruptRecordError(`record at byte ${start} should be ${bodySize} bytes but its fields took ${cur.pos - start}`)
  }
  return {
    offset: baseOffset + offsetDelta,
    timestamp: logAppendTime ?? baseTimestamp + timestampDelta,
    key,
    value,
    headers,
  }
}

/** Encodes one record on its own (offset and timestamp as deltas): for tests and tools. */
export function encodeRecord(
  offsetDelta: number,
  timestampDelta: number,
  key: Uint8Array | null | undefined,
  value: Uint8Array | null | undefined,
  headers: readonly RecordHeader[] = NO_HEADERS,
): Uint8Array {
  const body = sizeOfRecordBody(offsetDelta, timestampDelta, key, value, headers)
  const buf = new Uint8Array(sizeOfVarint(body) + body)
  writeRecord(buf, 0, body, offsetDelta, timestampDelta, key, value, headers)
  return buf
}

/** Decodes a buffer holding exactly one record. */
export function decodeRecord(buf: Uint8Array, baseOffset = 0, baseTimestamp = 0): Record {
  const cur = { pos: 0 }
  const record = readRecord(buf, cur, baseOffset, baseTimestamp)
  if (cur.pos !== buf.length) throw new CorruptRecordError(`${buf.length - cur.pos} bytes follow the record`)
  return record
}
