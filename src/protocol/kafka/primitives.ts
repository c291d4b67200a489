/**
 * The primitive types of the Kafka wire protocol, and the Writer and Reader the codecs
 * (src/protocol/kafka/generated) are built on.
 *
 * Grammar (big-endian throughout; "flexible" versions of a message use the compact forms
 * and end every struct with a tagged-field buffer):
 *
 *   BOOLEAN            := int8, 0 = false, anything else = true
 *   INT8/16/32/64      := two's complement, 1/2/4/8 bytes
 *   UINT16 / UINT32    := unsigned, 2/4 bytes
 *   FLOAT64            := IEEE 754 double, 8 bytes
 *   UUID               := 16 bytes
 *   UNSIGNED_VARINT    := 1..5 bytes, 7 bits each, least significant group first, the high
 *                         bit set when another byte follows (a uint32)
 *   VARINT / VARLONG   := zigzag of an int32 / int64 as an unsigned varint (1..5 / 1..10 bytes)
 *   STRING             := int16 N, then N bytes of UTF-8            (N in 0..32767)
 *   NULLABLE_STRING    := int16 N, -1 = null, then N bytes of UTF-8
 *   COMPACT_STRING     := UNSIGNED_VARINT N+1, then N bytes          (N in 0..32767)
 *   COMPACT_NULLABLE_STRING := UNSIGNED_VARINT N+1, 0 = null, then N bytes
 *   BYTES              := int32 N, then N bytes; NULLABLE_BYTES: N = -1 is null
 *   COMPACT_BYTES      := UNSIGNED_VARINT N+1, then N bytes; COMPACT_NULLABLE_BYTES: 0 = null
 *   RECORDS            := NULLABLE_BYTES (COMPACT_RECORDS := COMPACT_NULLABLE_BYTES) holding
 *                         RecordBatches, kept here as an undecoded view
 *   ARRAY[T]           := int32 N, -1 = null, then N times T
 *   COMPACT_ARRAY[T]   := UNSIGNED_VARINT N+1, 0 = null, then N times T
 *   NULLABLE STRUCT    := int8 -1 (null) or 1, then the struct
 *   TAG_BUFFER         := UNSIGNED_VARINT count, then count times:
 *                           UNSIGNED_VARINT tag, UNSIGNED_VARINT size, size bytes of the field
 *                         (tags in ascending order when written; unknown tags are skipped)
 *
 * Representations chosen here:
 * - int64 is a `bigint` in decoded data (exact over the whole range: Kafka uses sentinels
 *   such as -1 and Long.MAX_VALUE); `Writer.int64` also takes a safe-integer `number`,
 *   and `Reader.int64Number` reads one when the caller knows the value is small.
 * - UUID is the base64url text of its 16 bytes, without padding (22 characters), which is
 *   how Kafka prints topic ids (`Uuid.toString()`, `kafka-topics --describe`); the zero
 *   UUID is `ZERO_UUID` ("AAAAAAAAAAAAAAAAAAAAAA").
 * - BYTES and RECORDS decode to views (`subarray`) of the buffer being read: no copy. A
 *   decoded message therefore borrows its frame buffer, which must not be reused while the
 *   message is alive. Strings are decoded as Kafka does (malformed UTF-8 is replaced, not
 *   rejected).
 *
 * Safety: every Reader method is bounds-checked and throws ProtocolDecodeError (never a
 * RangeError or a short read) when the bytes end early or hold an impossible value; every
 * declared length and element count is checked against the bytes that remain *before*
 * anything is allocated, so a lying length costs nothing. The Writer validates ranges and
 * throws ProtocolEncodeError for a value its type cannot carry.
 */

/** Bytes that do not parse as the message they should hold. `offset` is where it failed. */
export class ProtocolDecodeError extends Error {
  override readonly name = 'ProtocolDecodeError'
  constructor(
    message: string,
    readonly offset = -1,
  ) {
    super(message)
  }
}

/**
 * A value that cannot be written at the requested version: out of its type's range, null
 * where the version does not allow null, a non-default value in a field the version does
 * not have (Kafka's UnsupportedVersionException), or an unsupported version.
 */
export class ProtocolEncodeError extends Error {
  override readonly name = 'ProtocolEncodeError'
}

/** The all-zero UUID, Kafka's `Uuid.ZERO_UUID`, as base64url. */
export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA'

/** Kafka's limit for a string length, in bytes (int16 in classic versions, kept in compact ones). */
export const MAX_STRING_LENGTH = 0x7fff

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const B64URL_INDEX = new Int8Array(128).fill(-1)
for (let i = 0; i < 64; i++) B64URL_INDEX[B64URL.charCodeAt(i)] = i

/** The 16 bytes of a UUID as base64url without padding (22 characters). */
export function uuidToString(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError(`a UUID has 16 bytes, not ${bytes.length}`)
  let s = ''
  for (let i = 0; i < 15; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    s += B64URL[n >>> 18]! + B64URL[(n >>> 12) & 63]! + B64URL[(n >>> 6) & 63]! + B64URL[n & 63]!
  }
  const last = bytes[15]!
  return s + B64URL[last >>> 2]! + B64URL[(last & 3) << 4]!
}

/**
 * The 16 bytes of a UUID given as base64url (22 characters, no padding, canonical: the
 * unused low 4 bits of the last character are zero). Returns null for anything else.
 */
export function uuidFromString(s: string): Uint8Array | null {
  if (s.length !== 22) return null
  const out = new Uint8Array(16)
  let bits = 0
  let acc = 0
  let o = 0
  for (let i = 0; i < 22; i++) {
    const c = s.charCodeAt(i)
    const v = c < 128 ? B64URL_INDEX[c]! : -1
    if (v < 0) return null
    acc = (acc << 6) | v
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >>> bits) & 0xff
      acc &= (1 << bits) - 1
    }
  }
  if (acc !== 0) return null // 4 leftover bits must be zero
  return out
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8')

/** The UTF-8 length of a JS string (lone surrogates count as U+FFFD, 3 bytes, as TextEncoder writes them). */
export function utf8Length(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4
        i++
      } else n += 3
    } else n += 3
  }
  return n
}

/** The length of `v` as an unsigned varint. */
export function sizeOfUnsignedVarint(v: number): number {
  const u = v >>> 0
  return u < 0x80 ? 1 : u < 0x4000 ? 2 : u < 0x200000 ? 3 : u < 0x10000000 ? 4 : 5
}

const TWO_POW_32 = 4294967296
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

function checkInt(v: number, min: number, max: number, type: string): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new ProtocolEncodeError(`${v} is not a valid ${type}`)
}

/** Above this size, `Writer.raw` (and BYTES, RECORDS) keeps a reference instead of copying. */
const ZERO_COPY_THRESHOLD = 4096

/**
 * A growable output buffer. Writes go to a current chunk that doubles as needed; byte
 * arrays of 4 KiB and more (record batches) are kept by reference, not copied, so
 * `chunks()` hands a gather list to a socket write and `finish()` joins them only when
 * needed. A referenced array must not change before the output is sent.
 */
export class Writer {
  private done: Uint8Array[] = []
  private doneLength = 0
  private buf: Uint8Array
  private view: DataView
  private pos = 0

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity))
    this.view = new DataView(this.buf.buffer)
  }

  /** Bytes written so far. */
  get length(): number {
    return this.doneLength + this.pos
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let cap = this.buf.length * 2
    while (cap < this.pos + n) cap *= 2
    const next = new Uint8Array(cap)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  bool(v: boolean): this {
    this.ensure(1)
    this.buf[this.pos++] = v ? 1 : 0
    return this
  }

  int8(v: number): this {
    checkInt(v, -0x80, 0x7f, 'int8')
    this.ensure(1)
    this.view.setInt8(this.pos, v)
    this.pos += 1
    return this
  }

  int16(v: number): this {
    checkInt(v, -0x8000, 0x7fff, 'int16')
    this.ensure(2)
    this.view.setInt16(this.pos, v)
    this.pos += 2
    return this
  }

  uint16(v: number): this {
    checkInt(v, 0, 0xffff, 'uint16')
    this.ensure(2)
    this.view.setUint16(this.pos, v)
    this.pos += 2
    return this
  }

  int32(v: number): this {
    checkInt(v, -0x80000000, 0x7fffffff, 'int32')
    this.ensure(4)
    this.view.setInt32(this.pos, v)
    this.pos += 4
    return this
  }

  uint32(v: number): this {
    checkInt(v, 0, 0xffffffff, 'uint32')
    this.ensure(4)
    this.view.setUint32(this.pos, v)
    this.pos += 4
    return this
  }

  /** An int64, from a bigint or a safe-integer number. */
  int64(v: bigint | number): this {
    this.ensure(8)
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new ProtocolEncodeError(`${v} is not a safe integer for an int64`)
      // Two 32-bit halves: exact for safe integers, and no BigInt allocation.
      const hi = Math.floor(v / TWO_POW_32)
      this.view.setInt32(this.pos, hi)
      this.view.setUint32(this.pos + 4, v - hi * TWO_POW_32)
    } else {
      if (v < INT64_MIN || v > INT64_MAX) throw new ProtocolEncodeError(`${v} is not a valid int64`)
      this.view.setBigInt64(this.pos, v)
    }
    this.pos += 8
    return this
  }

  float64(v: number): this {
    this.ensure(8)
    this.view.setFloat64(this.pos, v)
    this.pos += 8
    return this
  }

  /** An unsigned varint holding a uint32. */
  uvarint(v: number): this {
    checkInt(v, 0, 0xffffffff, 'unsigned varint')
    this.ensure(5)
    let u = v >>> 0
    while (u >= 0x80) {
      this.buf[this.pos++] = (u & 0x7f) | 0x80
      u >>>= 7
    }
    this.buf[this.pos++] = u
    return this
  }

  /** A zigzag varint holding an int32. */
  varint(v: number): this {
    checkInt(v, -0x80000000, 0x7fffffff, 'varint')
    return this.uvarint(((v << 1) ^ (v >> 31)) >>> 0)
  }

  /** A zigzag varlong holding an int64. */
  varlong(v: bigint | number): this {
    if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new ProtocolEncodeError(`${v} is not a safe integer for an int64`)
    const b = BigInt(v)
    if (b < INT64_MIN || b > INT64_MAX) throw new ProtocolEncodeError(`${v} is not a valid int64`)
    let u = b >= 0n ? b << 1n : (-b << 1n) - 1n
    this.ensure(10)
    while (u >= 0x80n) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80
      u >>= 7n
    }
    this.buf[this.pos++] = Number(u)
    return this
  }

  /** A UUID given as base64url (see `uuidFromString`). */
  uuid(v: string): this {
    const bytes = uuidFromString(v)
    if (bytes === null) throw new ProtocolEncodeError(`${JSON.stringify(v)} is not a UUID in base64url (22 characters)`)
    this.ensure(16)
    this.buf.set(bytes, this.pos)
    this.pos += 16
    return this
  }

  private utf8(v: string, compact: boolean): void {
    const n = utf8Length(v)
    if (n > MAX_STRING_LENGTH) throw new ProtocolEncodeError(`a string of ${n} bytes is longer than ${MAX_STRING_LENGTH}`)
    if (compact) this.uvarint(n + 1)
    else this.int16(n)
    this.ensure(n)
    const { written } = encoder.encodeInto(v, this.buf.subarray(this.pos, this.pos + n))
    this.pos += written
  }

  /** STRING (int16 length). */
  string(v: string): this {
    if (typeof v !== 'string') throw new ProtocolEncodeError(`expected a string, got ${v === null ? 'null' : typeof v}`)
    this.utf8(v, false)
    return this
  }

  /** NULLABLE_STRING (int16 length, -1 = null). */
  nullableString(v: string | null): this {
    if (v === null) return this.int16(-1)
    return this.string(v)
  }

  /** COMPACT_STRING (unsigned varint length + 1). */
  compactString(v: string): this {
    if (typeof v !== 'string') throw new ProtocolEncodeError(`expected a string, got ${v === null ? 'null' : typeof v}`)
    this.utf8(v, true)
    return this
  }

  /** COMPACT_NULLABLE_STRING (unsigned varint length + 1, 0 = null). */
  compactNullableString(v: string | null): this {
    if (v === null) return this.uvarint(0)
    return this.compactString(v)
  }

  /** Appends bytes as they are (large arrays by reference, see the class comment). */
  raw(v: Uint8Array): this {
    if (v.length >= ZERO_COPY_THRESHOLD) {
      this.seal()
      this.done.push(v)
      this.doneLength += v.length
      return this
    }
    this.ensure(v.length)
    this.buf.set(v, this.pos)
    this.pos += v.length
    return this
  }

  private seal(): void {
    if (this.pos === 0) return
    this.done.push(this.buf.subarray(0, this.pos))
    this.doneLength += this.pos
    this.buf = new Uint8Array(Math.max(256, this.buf.length - this.pos))
    this.view = new DataView(this.buf.buffer)
    this.pos = 0
  }

  private checkBytes(v: Uint8Array): void {
    if (!(v instanceof Uint8Array)) throw new ProtocolEncodeError(`expected a Uint8Array, got ${v === null ? 'null' : typeof v}`)
  }

  /** BYTES (int32 length). */
  bytes(v: Uint8Array): this {
    this.checkBytes(v)
    return this.int32(v.length).raw(v)
  }

  /** NULLABLE_BYTES (int32 length, -1 = null); also RECORDS. */
  nullableBytes(v: Uint8Array | null): this {
    return v === null ? this.int32(-1) : this.bytes(v)
  }

  /** COMPACT_BYTES (unsigned varint length + 1). */
  compactBytes(v: Uint8Array): this {
    this.checkBytes(v)
    return this.uvarint(v.length + 1).raw(v)
  }

  /** COMPACT_NULLABLE_BYTES (0 = null); also COMPACT_RECORDS. */
  compactNullableBytes(v: Uint8Array | null): this {
    return v === null ? this.uvarint(0) : this.compactBytes(v)
  }

  /** The element count of an ARRAY (int32, null = -1); the caller writes the elements. */
  arrayLength(n: number | null): this {
    return this.int32(n === null ? -1 : n)
  }

  /** The element count of a COMPACT_ARRAY (unsigned varint N+1, null = 0). */
  compactArrayLength(n: number | null): this {
    return this.uvarint(n === null ? 0 : n + 1)
  }

  /** An ARRAY or COMPACT_ARRAY of `items`, each written by `item`. */
  array<T>(items: readonly T[] | null, compact: boolean, item: (w: this, v: T) => void): this {
    if (compact) this.compactArrayLength(items === null ? null : items.length)
    else this.arrayLength(items === null ? null : items.length)
    if (items !== null) for (const v of items) item(this, v)
    return this
  }

  /**
   * A TAG_BUFFER: `fields` in ascending tag order, each a tag and the function writing its
   * value. `taggedFields([])` writes the empty buffer, a single 0 byte.
   */
  taggedFields(fields: readonly (readonly [tag: number, write: (w: Writer) => void])[]): this {
    this.uvarint(fields.length)
    let last = -1
    for (const [tag, write] of fields) {
      if (tag <= last) throw new ProtocolEncodeError(`tagged fields must be in ascending tag order (${tag} after ${last})`)
      last = tag
      const sub = new Writer(64)
      write(sub)
      this.uvarint(tag).uvarint(sub.length).writer(sub)
    }
    return this
  }

  /** Appends what another Writer holds. */
  writer(other: Writer): this {
    for (const c of other.chunks()) this.raw(c)
    return this
  }

  /** Reserves 4 bytes (a size prefix, say) to fill in later with `patchInt32`; returns their position. */
  reserveInt32(): number {
    const at = this.length
    this.ensure(4)
    this.pos += 4
    return at
  }

  /** Writes an int32 at a position returned by `reserveInt32`. */
  patchInt32(at: number, v: number): this {
    checkInt(v, -0x80000000, 0x7fffffff, 'int32')
    if (at >= this.doneLength) {
      this.view.setInt32(at - this.doneLength, v)
      return this
    }
    // In a sealed chunk: reserveInt32 never splits its 4 bytes across chunks.
    let base = 0
    let i = 0
    while (at >= base + this.done[i]!.length) base += this.done[i++]!.length
    const c = this.done[i]!
    new DataView(c.buffer, c.byteOffset, c.byteLength).setInt32(at - base, v)
    return this
  }

  /** The output as a list of byte arrays, in order (for a gathering socket write). */
  chunks(): Uint8Array[] {
    return this.pos === 0 ? this.done.slice() : [...this.done, this.buf.subarray(0, this.pos)]
  }

  /** The output as one byte array (a view of the internal buffer when it is in one piece). */
  finish(): Uint8Array {
    const chunks = this.chunks()
    if (chunks.length === 1) return chunks[0]!
    const out = new Uint8Array(this.length)
    let at = 0
    for (const c of chunks) {
      out.set(c, at)
      at += c.length
    }
    return out
  }
}

/**
 * A bounds-checked cursor over a byte array. Every method that runs past the end, or meets
 * a length or count that the remaining bytes cannot hold, throws ProtocolDecodeError. The
 * optional `field` argument only names the field in error messages.
 */
export class Reader {
  private readonly view: DataView
  private pos: number
  private readonly end: number

  /** Reads `source[start, end)`. Offsets (`offset`, and in errors) count from `source[0]`. */
  constructor(
    readonly source: Uint8Array,
    start = 0,
    end = source.length,
  ) {
    if (start < 0 || end > source.length || start > end) throw new RangeError(`bad bounds [${start}, ${end}) for ${source.length} bytes`)
    this.view = new DataView(source.buffer, source.byteOffset, source.byteLength)
    this.pos = start
    this.end = end
  }

  /** The position of the next byte to read. */
  get offset(): number {
    return this.pos
  }

  /** Bytes left before the end of this reader. */
  get remaining(): number {
    return this.end - this.pos
  }

  private fail(message: string, field?: string): never {
    throw new ProtocolDecodeError(`${field === undefined ? '' : `${field}: `}${message} at offset ${this.pos}`, this.pos)
  }

  private need(n: number, what: string, field?: string): number {
    if (this.end - this.pos < n) this.fail(`${what} needs ${n} bytes but ${this.end - this.pos} remain`, field)
    const at = this.pos
    this.pos += n
    return at
  }

  bool(field?: string): boolean {
    return this.view.getInt8(this.need(1, 'bool', field)) !== 0
  }

  int8(field?: string): number {
    return this.view.getInt8(this.need(1, 'int8', field))
  }

  int16(field?: string): number {
    return this.view.getInt16(this.need(2, 'int16', field))
  }

  uint16(field?: string): number {
    return this.view.getUint16(this.need(2, 'uint16', field))
  }

  int32(field?: string): number {
    return this.view.getInt32(this.need(4, 'int32', field))
  }

  uint32(field?: string): number {
    return this.view.getUint32(this.need(4, 'uint32', field))
  }

  int64(field?: string): bigint {
    return this.view.getBigInt64(this.need(8, 'int64', field))
  }

  /** An int64 that must be a safe integer (|v| < 2^53), as a number. */
  int64Number(field?: string): number {
    const at = this.need(8, 'int64', field)
    const hi = this.view.getInt32(at)
    const lo = this.view.getUint32(at + 4)
    // Within these bounds of the high half the sum is exact; -2^53 itself is not safe.
    const v = hi * TWO_POW_32 + lo
    if (hi > 0x1fffff || hi < -0x200000 || !Number.isSafeInteger(v)) {
      this.pos = at
      this.fail(`int64 ${this.view.getBigInt64(at)} is not a safe integer`, field)
    }
    return v
  }

  float64(field?: string): number {
    return this.view.getFloat64(this.need(8, 'float64', field))
  }

  /** An unsigned varint (at most 5 bytes, a uint32). */
  uvarint(field?: string): number {
    let v = 0
    for (let shift = 0; ; shift += 7) {
      if (this.pos >= this.end) this.fail('unsigned varint runs past the end', field)
      const b = this.source[this.pos++]!
      if (shift === 28) {
        if (b > 0x0f) this.fail('unsigned varint is longer than 5 bytes or above 2^32-1', field)
        return (v | (b << 28)) >>> 0
      }
      v |= (b & 0x7f) << shift
      if (b < 0x80) return v >>> 0
    }
  }

  /** A zigzag varint (int32). */
  varint(field?: string): number {
    const u = this.uvarint(field)
    return (u >>> 1) ^ -(u & 1)
  }

  /** A zigzag varlong (int64, at most 10 bytes). */
  varlong(field?: string): bigint {
    let u = 0n
    for (let shift = 0n; ; shift += 7n) {
      if (this.pos >= this.end) this.fail('varlong runs past the end', field)
      const b = this.source[this.pos++]!
      // The 10th byte holds the 64th bit only, so it ends the varlong.
      if (shift === 63n && b > 1) this.fail('varlong is longer than 10 bytes or above 64 bits', field)
      u |= BigInt(b & 0x7f) << shift
      if (b < 0x80) return (u >> 1n) ^ -(u & 1n)
    }
  }

  uuid(field?: string): string {
    const at = this.need(16, 'uuid', field)
    return uuidToString(this.source.subarray(at, at + 16))
  }

  private text(n: number, field?: string): string {
    if (n > MAX_STRING_LENGTH) this.fail(`string length ${n} is above ${MAX_STRING_LENGTH}`, field)
    const at = this.need(n, `string of length ${n}`, field)
    return decoder.decode(this.source.subarray(at, at + n))
  }

  /** STRING; a null (-1) fails. */
  string(field?: string): string {
    const n = this.int16(field)
    if (n < 0) this.fail(n === -1 ? 'null in a non-nullable string' : `negative string length ${n}`, field)
    return this.text(n, field)
  }

  /** NULLABLE_STRING. */
  nullableString(field?: string): string | null {
    const n = this.int16(field)
    if (n === -1) return null
    if (n < 0) this.fail(`negative string length ${n}`, field)
    return this.text(n, field)
  }

  /** COMPACT_STRING; a null (0) fails. */
  compactString(field?: string): string {
    const n = this.uvarint(field)
    if (n === 0) this.fail('null in a non-nullable compact string', field)
    return this.text(n - 1, field)
  }

  /** COMPACT_NULLABLE_STRING. */
  compactNullableString(field?: string): string | null {
    const n = this.uvarint(field)
    return n === 0 ? null : this.text(n - 1, field)
  }

  /** `n` bytes as a view (no copy). */
  raw(n: number, field?: string): Uint8Array {
    const at = this.need(n, `${n} bytes`, field)
    return this.source.subarray(at, at + n)
  }

  /** BYTES, as a view; a null (-1) fails. */
  bytes(field?: string): Uint8Array {
    const n = this.int32(field)
    if (n < 0) this.fail(n === -1 ? 'null in non-nullable bytes' : `negative bytes length ${n}`, field)
    return this.raw(n, field)
  }

  /** NULLABLE_BYTES (and RECORDS), as a view. */
  nullableBytes(field?: string): Uint8Array | null {
    const n = this.int32(field)
    if (n === -1) return null
    if (n < 0) this.fail(`negative bytes length ${n}`, field)
    return this.raw(n, field)
  }

  /** COMPACT_BYTES, as a view; a null (0) fails. */
  compactBytes(field?: string): Uint8Array {
    const n = this.uvarint(field)
    if (n === 0) this.fail('null in non-nullable compact bytes', field)
    return this.raw(n - 1, field)
  }

  /** COMPACT_NULLABLE_BYTES (and COMPACT_RECORDS), as a view. */
  compactNullableBytes(field?: string): Uint8Array | null {
    const n = this.uvarint(field)
    return n === 0 ? null : this.raw(n - 1, field)
  }

  private count(n: number, minElementSize: number, field?: string): number {
    // Every element takes at least minElementSize (>= 1 is enforced) bytes: a count that
    // the remaining bytes cannot hold is rejected before the caller allocates anything.
    const min = Math.max(1, minElementSize)
    if (n * min > this.end - this.pos) {
      this.fail(`array of ${n} elements needs at least ${n * min} bytes but ${this.end - this.pos} remain`, field)
    }
    return n
  }

  /** The count of an ARRAY: -1 for null (allowed only when `nullable`), else a count the bytes can hold. */
  arrayLength(minElementSize: number, nullable: boolean, field?: string): number {
    const n = this.int32(field)
    if (n === -1 && nullable) return -1
    if (n < 0) this.fail(n === -1 ? 'null in a non-nullable array' : `negative array length ${n}`, field)
    return this.count(n, minElementSize, field)
  }

  /** The count of a COMPACT_ARRAY: -1 for null (allowed only when `nullable`). */
  compactArrayLength(minElementSize: number, nullable: boolean, field?: string): number {
    const n = this.uvarint(field)
    if (n === 0) {
      if (nullable) return -1
      this.fail('null in a non-nullable compact array', field)
    }
    return this.count(n - 1, minElementSize, field)
  }

  /** An ARRAY or COMPACT_ARRAY of elements read by `item` (null when the array is null). */
  array<T>(compact: boolean, minElementSize: number, item: (r: Reader) => T, field?: string): T[] | null {
    const n = compact ? this.compactArrayLength(minElementSize, true, field) : this.arrayLength(minElementSize, true, field)
    if (n < 0) return null
    const out: T[] = []
    for (let i = 0; i < n; i++) out.push(item(this))
    return out
  }

  /** A reader over the next `n` bytes, which this one skips. */
  sub(n: number, field?: string): Reader {
    const at = this.need(n, `${n} bytes`, field)
    return new Reader(this.source, at, at + n)
  }

  /** Skips `n` bytes. */
  skip(n: number, field?: string): void {
    this.need(n, `${n} bytes`, field)
  }

  /** The count of a TAG_BUFFER (each field is then a tag, a size and `size` bytes: see `taggedFields`). */
  taggedFieldCount(field?: string): number {
    // A tagged field takes at least 2 bytes (tag, size).
    return this.count(this.uvarint(field), 2, field)
  }

  /** Skips a whole TAG_BUFFER (a struct without known tagged fields). */
  skipTaggedFields(field?: string): void {
    for (let n = this.taggedFieldCount(field); n > 0; n--) {
      this.uvarint(field)
      this.skip(this.uvarint(field), field)
    }
  }

  /**
   * Reads a TAG_BUFFER, calling `field(tag, reader)` with a reader bounded to each field's
   * bytes; the callback ignores the tags it does not know, which are thereby skipped. Bytes
   * a known field leaves unread are skipped too (a newer writer may have extended it).
   */
  taggedFields(known: (tag: number, r: Reader) => void = () => {}, field?: string): void {
    const n = this.taggedFieldCount(field)
    for (let i = 0; i < n; i++) {
      const tag = this.uvarint(field)
      const size = this.uvarint(field)
      known(tag, this.sub(size, field))
    }
  }
}

/** `v`, or a ProtocolEncodeError when it is null (at a version where `field` is not nullable). */
export function notNull<T>(v: T | null, field: string): T {
  if (v === null) throw new ProtocolEncodeError(`${field} is null, which this version does not allow`)
  return v
}

/** The error for a non-default value in a non-ignorable field that the version being written lacks. */
export function fieldNotInVersion(field: string): ProtocolEncodeError {
  return new ProtocolEncodeError(`${field} is not in this version, and its value is not the default: it would be lost`)
}

/**
 * `e` with `context` (the message and version) before its message, when it is a
 * ProtocolDecodeError or ProtocolEncodeError; anything else is returned as it is.
 */
export function inContext(e: unknown, context: string): unknown {
  if (e instanceof ProtocolDecodeError) return new ProtocolDecodeError(`${context}: ${e.message}`, e.offset)
  if (e instanceof ProtocolEncodeError) return new ProtocolEncodeError(`${context}: ${e.message}`)
  return e
}
