/**
 * Kafka's variable-length integers (the protobuf encoding), used inside records and by
 * the flexible versions of the wire protocol:
 *
 *   unsigned varint := 1..5 bytes, 7 bits each, least significant group first;
 *                      the high bit of a byte is set when another byte follows
 *   varint          := unsigned varint of zigzag32(v), v an int32
 *   varlong         := 1..10 bytes, the same of zigzag64(v), v an int64
 *   zigzag(v)       := (v << 1) ^ (v >> (bits - 1))      0,-1,1,-2.. -> 0,1,2,3..
 *
 * Like Kafka (ByteUtils.readVarint/readVarlong), a varint whose 5th byte (a varlong's
 * 10th) still has the continuation bit is rejected, and bits beyond the type's width
 * in that last byte are ignored.
 *
 * Varlongs come in two flavours: `number` for the values Kafka actually puts in them
 * (timestamp deltas; any safe integer, |v| < 2^53), and `bigint` for the full int64
 * range. Both go through the same 32-bit halves, so the number path is exact up to
 * 2^53 without touching BigInt (whose allocation would be per record on the hot path).
 *
 * Writers take (buf, at, v) and return the position after what they wrote; the caller
 * sized `buf` with the sizeOf* functions. Readers take a Cursor and advance it; they
 * throw CorruptRecordError instead of reading past `buf.length`, so callers bound a
 * read by passing a subarray.
 */
import { CorruptRecordError } from './errors.ts'

/** A read position inside a buffer, advanced by the readers. */
export interface Cursor {
  pos: number
}

const TWO_POW_32 = 4294967296

function truncated(what: string): never {
  throw new CorruptRecordError(`${what} runs past the end of the buffer`)
}

function bitsToBytes(bits: number): number {
  return bits === 0 ? 1 : ((bits + 6) / 7) | 0
}

// ---- unsigned varint (uint32) ----

export function sizeOfUnsignedVarint(v: number): number {
  return bitsToBytes(32 - Math.clz32(v))
}

export function writeUnsignedVarint(buf: Uint8Array, at: number, v: number): number {
  let u = v >>> 0
  while (u >= 0x80) {
    buf[at++] = (u & 0x7f) | 0x80
    u >>>= 7
  }
  buf[at++] = u
  return at
}

export function readUnsignedVarint(buf: Uint8Array, cur: Cursor): number {
  let pos = cur.pos
  const end = buf.length
  if (pos >= end) truncated('varint')
  let b = buf[pos++]!
  if (b < 0x80) {
    cur.pos = pos
    return b
  }
  let v = b & 0x7f
  for (let shift = 7; ; shift += 7) {
    if (pos >= end) truncated('varint')
    b = buf[pos++]!
    if (shift === 28) {
      if (b >= 0x80) throw new CorruptRecordError('varint is longer than 5 bytes')
      v |= b << 28
      break
    }
    v |= (b & 0x7f) << shift
    if (b < 0x80) break
  }
  cur.pos = pos
  return v >>> 0
}

// ---- varint (zigzag int32) ----

export function sizeOfVarint(v: number): number {
  return sizeOfUnsignedVarint((v << 1) ^ (v >> 31))
}

export function writeVarint(buf: Uint8Array, at: number, v: number): number {
  return writeUnsignedVarint(buf, at, (v << 1) ^ (v >> 31))
}

export function readVarint(buf: Uint8Array, cur: Cursor): number {
  const u = readUnsignedVarint(buf, cur)
  return (u >>> 1) ^ -(u & 1)
}

// ---- varlong (zigzag int64) ----
// The zigzagged value is carried as two uint32 halves, `hi` and `lo`.

/** Zigzagged halves of the last value split by zigzag64(); module state avoids allocating a pair. */
let zzHi = 0
let zzLo = 0

/** Splits the two's-complement int64 (hi, lo) into zzHi/zzLo, zigzagged. */
function zigzag64(hi: number, lo: number): void {
  const sign = hi >> 31
  zzHi = (((hi << 1) | (lo >>> 31)) ^ sign) >>> 0
  zzLo = ((lo << 1) ^ sign) >>> 0
}

function splitNumber(v: number): void {
  if (!Number.isSafeInteger(v)) throw new RangeError(`varlong ${v} is not a safe integer; pass a bigint`)
  // ToUint32 is modulo 2^32, which is the low half of the two's complement for negatives too.
  zigzag64(Math.floor(v / TWO_POW_32) | 0, v >>> 0)
}

function splitBigInt(v: bigint): void {
  if (BigInt.asIntN(64, v) !== v) throw new RangeError(`varlong ${v} is outside the int64 range`)
  const u = BigInt.asUintN(64, v)
  zigzag64(Number(u >> 32n) | 0, Number(u & 0xffffffffn))
}

function sizeOfZigzag(): number {
  return bitsToBytes(zzHi !== 0 ? 64 - Math.clz32(zzHi) : 32 - Math.clz32(zzLo))
}

function writeZigzag(buf: Uint8Array, at: number): number {
  let hi = zzHi
  let lo = zzLo
  while (hi !== 0 || lo >= 0x80) {
    buf[at++] = (lo & 0x7f) | 0x80
    lo = ((lo >>> 7) | (hi << 25)) >>> 0
    hi >>>= 7
  }
  buf[at++] = lo
  return at
}

/** Reads the raw (still zigzagged) 64-bit value into zzHi/zzLo. */
function readZigzag(buf: Uint8Array, cur: Cursor): void {
  let pos = cur.pos
  const end = buf.length
  let lo = 0
  let hi = 0
  let b = 0
  // Bytes 0..3 fill lo bits 0..27, byte 4 straddles (lo 28..31, hi 0..2), bytes 5..9 fill hi.
  for (let i = 0; ; i++) {
    if (pos >= end) truncated('varlong')
    b = buf[pos++]!
    if (i < 4) lo |= (b & 0x7f) << (7 * i)
    else if (i === 4) {
      lo |= (b & 0x0f) << 28
      hi = (b & 0x7f) >>> 4
    } else if (i < 9) hi |= (b & 0x7f) << (7 * i - 32)
    else {
      if (b >= 0x80) throw new CorruptRecordError('varlong is longer than 10 bytes')
      hi |= b << 31
    }
    if (b < 0x80) break
  }
  cur.pos = pos
  zzHi = hi >>> 0
  zzLo = lo >>> 0
}

export function sizeOfVarlong(v: number): number {
  if (v >= -0x40000000 && v < 0x40000000) return sizeOfVarint(v)
  splitNumber(v)
  return sizeOfZigzag()
}

export function writeVarlong(buf: Uint8Array, at: number, v: number): number {
  // Most deltas are small: those zigzag within 31 bits and take the int32 path.
  if (v >= -0x40000000 && v < 0x40000000) return writeVarint(buf, at, v)
  splitNumber(v)
  return writeZigzag(buf, at)
}

/** Reads a varlong as a number; throws RangeError when the value is beyond ±(2^53 - 1) (use readVarlongBig). */
export function readVarlong(buf: Uint8Array, cur: Cursor): number {
  const pos = cur.pos
  if (pos < buf.length) {
    const b = buf[pos]!
    if (b < 0x80) {
      cur.pos = pos + 1
      return (b >>> 1) ^ -(b & 1)
    }
  }
  readZigzag(buf, cur)
  const sign = -(zzLo & 1)
  const lo = (((zzLo >>> 1) | (zzHi << 31)) ^ sign) >>> 0
  const hi = ((zzHi >>> 1) ^ sign) | 0
  const v = hi * TWO_POW_32 + lo
  // Rounding is monotonic, so a value outside the safe range never lands inside it.
  if (!Number.isSafeInteger(v)) throw new RangeError(`varlong at ${pos} does not fit a safe integer; read it with readVarlongBig`)
  return v
}

export function sizeOfVarlongBig(v: bigint): number {
  splitBigInt(v)
  return sizeOfZigzag()
}

export function writeVarlongBig(buf: Uint8Array, at: number, v: bigint): number {
  splitBigInt(v)
  return writeZigzag(buf, at)
}

export function readVarlongBig(buf: Uint8Array, cur: Cursor): bigint {
  readZigzag(buf, cur)
  const u = (BigInt(zzHi) << 32n) | BigInt(zzLo)
  return (u >> 1n) ^ -(u & 1n)
}
