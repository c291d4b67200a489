/**
 * Peer frames: a big-endian uint32 length, then that many bytes holding exactly one CBOR item
 * (cbor-x). Lengths of 0 or above the receiver's maximum are errors: the link closes before the
 * body is read, so a lying length cannot make the receiver allocate.
 *
 * Copies, for record batch bytes (CBOR byte strings):
 *   - sending: a byte string of at least `spliceMinBytes` that comes last in its message (the
 *     last value of the last key, descending through plain objects: a request's or response's
 *     `body.data`) is not copied at all. The message is encoded with an empty byte string in
 *     its place, whose one-byte encoding (0x40) is then the last byte; the frame is two chunks,
 *     [length, that encoding without its last byte, the byte string's header] and the caller's
 *     bytes themselves. The bytes on the wire are exactly cbor-x's encoding of the message.
 *     Such bytes are written from the caller's memory, so they must not change once sent
 *     (record batches never do). Any other byte string is copied once into cbor-x's output
 *     buffer, the length header just before the body in that same buffer when cbor-x continues
 *     there (one chunk), else a separate chunk: [header, body], never joined by a copy.
 *   - receiving: a frame that arrived within one chunk is a view of that chunk; one spread over
 *     several chunks is copied once into a buffer of its size (plus under 64 bytes, to keep
 *     the source's alignment) when its last byte arrives (so no byte is copied twice and no
 *     growing buffer is re-copied). Byte strings decode as views (subarrays) of the frame.
 * cbor-x's output buffer grows to up to four times the largest message and is kept for the
 * following messages (its memory is not shared with other code; frames already written are
 * never written over).
 *
 * cbor-x comes through its `cbor-x/encode` entry: on Node that is the package's pure-JS
 * `index.js`, elsewhere `encode.js`; neither loads the native add-on (cbor-extract), which
 * kills Deno and breaks decoding on Bun (DESIGN.md, Runtime portability).
 */
import { Encoder } from 'cbor-x/encode'

export const FRAME_HEADER_BYTES = 4
/** Default largest frame a node accepts (a fetch response of several partitions fits). */
export const frameMaxBytesDefault = 16 * 1024 * 1024

const cbor = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  // Plain byte strings (major type 2), not tag 64: what any CBOR reader takes as bytes.
  tagUint8Array: false,
  // Views into the frame, not copies.
  copyBuffers: false,
})

/** A byte string of 3 bytes encodes to exactly FRAME_HEADER_BYTES: room for the length. */
const HEADER_PLACEHOLDER = new Uint8Array(FRAME_HEADER_BYTES - 1)

export class FrameError extends Error {
  override readonly name = 'FrameError'
}

function writeUint32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value >>> 24
  target[offset + 1] = (value >>> 16) & 0xff
  target[offset + 2] = (value >>> 8) & 0xff
  target[offset + 3] = value & 0xff
}

/** A trailing byte string this long or longer is written as its own chunk, not copied. */
export const spliceMinBytes = 4 * 1024
/** How deep encodeFrame looks for a trailing byte string (message, body, data). */
const spliceDepthMax = 3
const EMPTY_BYTES_CBOR = 0x40

/** The chunks of one frame holding `value`, to be written in order. */
export function encodeFrame(value: unknown): Uint8Array[] {
  return encodeSpliced(value) ?? encodeCopied(value)
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && (v as object).constructor === Object

/**
 * `value` with its trailing byte string (see the header) replaced by an empty one, and that
 * byte string; null when it has none of at least spliceMinBytes. Copies only the objects on
 * the way down, keeping their key order (cbor-x writes keys in for-in order).
 */
function withoutTrailingBytes(value: unknown, depth: number): { stand: unknown; bytes: Uint8Array } | null {
  if (value instanceof Uint8Array) return value.byteLength >= spliceMinBytes ? { stand: EMPTY, bytes: value } : null
  if (depth >= spliceDepthMax || !isPlainObject(value)) return null
  let last: string | undefined
  for (const key in value) if (Object.prototype.hasOwnProperty.call(value, key)) last = key
  if (last === undefined) return null
  const inner = withoutTrailingBytes(value[last], depth + 1)
  if (inner === null) return null
  const copy = { ...value }
  copy[last] = inner.stand
  return { stand: copy, bytes: inner.bytes }
}

function encodeSpliced(value: unknown): Uint8Array[] | null {
  const found = withoutTrailingBytes(value, 0)
  if (found === null) return null
  const rest = cbor.encode(found.stand)
  // The empty byte string was the last thing written; anything else means cbor-x did not
  // write what this function expects (a future option or version): copy instead.
  if (rest[rest.byteLength - 1] !== EMPTY_BYTES_CBOR) return null
  const n = found.bytes.byteLength
  const stringHeader = n < 0x10000 ? 3 : 5 // n >= spliceMinBytes >= 256
  const prefix = rest.byteLength - 1
  const length = prefix + stringHeader + n
  if (length > 0xffffffff) throw new FrameError(`a frame of ${length} bytes does not fit a uint32 length`)
  const head = allocate(FRAME_HEADER_BYTES + prefix + stringHeader)
  writeUint32(head, 0, length)
  head.set(rest.subarray(0, prefix), FRAME_HEADER_BYTES)
  const at = FRAME_HEADER_BYTES + prefix
  if (stringHeader === 3) {
    head[at] = 0x59
    head[at + 1] = n >>> 8
    head[at + 2] = n & 0xff
  } else {
    head[at] = 0x5a
    writeUint32(head, at + 1, n)
  }
  return [head, found.bytes]
}

function encodeCopied(value: unknown): Uint8Array[] {
  const placeholder = cbor.encode(HEADER_PLACEHOLDER)
  const body = cbor.encode(value)
  const length = body.byteLength
  if (length > 0xffffffff) throw new FrameError(`a frame of ${length} bytes does not fit a uint32 length`)
  if (placeholder.buffer === body.buffer && placeholder.byteOffset + FRAME_HEADER_BYTES === body.byteOffset) {
    const frame = new Uint8Array(body.buffer, placeholder.byteOffset, FRAME_HEADER_BYTES + length)
    writeUint32(frame, 0, length)
    return [frame]
  }
  const header = new Uint8Array(FRAME_HEADER_BYTES)
  writeUint32(header, 0, length)
  return [header, body]
}

/** Total bytes of a frame's chunks. */
export function framedBytes(chunks: readonly Uint8Array[]): number {
  let n = 0
  for (const c of chunks) n += c.byteLength
  return n
}

/** Decodes one frame's body (exactly one CBOR item). Throws FrameError on bad CBOR. */
export function decodeFrameBody(body: Uint8Array): unknown {
  try {
    return cbor.decode(body)
  } catch (e) {
    throw new FrameError(`bad CBOR: ${e instanceof Error ? e.message : String(e)}`)
  }
}

/**
 * Splits a byte stream into frame bodies. `push` the chunks as they come, then call `next`
 * until it returns null. Holds what it was given until a whole frame is there; the caller
 * bounds that by pausing its stream (`bufferedBytes`).
 */
export class FrameDecoder {
  /** The largest frame accepted; may be raised after the handshake. */
  frameMaxBytes: number
  private chunks: Uint8Array[] = []
  /** Index in `chunks` of the first chunk still holding unread bytes. */
  private head = 0
  /** Bytes of chunks[head] already read. */
  private offset = 0
  private buffered = 0
  /** Length of the frame whose header was read, or -1 between frames. */
  private frameLength = -1

  constructor(frameMaxBytes: number) {
    this.frameMaxBytes = frameMaxBytes
  }

  /** Bytes received and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered
  }

  /** True when part of a frame is buffered (a stream ending now ends mid-frame). */
  get midFrame(): boolean {
    return this.buffered > 0 || this.frameLength >= 0
  }

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return
    this.chunks.push(chunk)
    this.buffered += chunk.byteLength
  }

  /** The next whole frame's body, or null until more bytes come. Throws FrameError on a bad length. */
  next(): Uint8Array | null {
    if (this.frameLength < 0) {
      if (this.buffered < FRAME_HEADER_BYTES) return null
      const h = this.take(FRAME_HEADER_BYTES)
      const length = ((h[0]! << 24) >>> 0) + (h[1]! << 16) + (h[2]! << 8) + h[3]!
      if (length === 0) throw new FrameError('empty frame (length 0)')
      if (length > this.frameMaxBytes) {
        throw new FrameError(`frame of ${length} bytes is over the ${this.frameMaxBytes}-byte maximum`)
      }
      this.frameLength = length
    }
    if (this.buffered < this.frameLength) return null
    const frame = this.take(this.frameLength)
    this.frameLength = -1
    return frame
  }

  /** `n` buffered bytes (n <= buffered): a view when they lie in one chunk, else one copy. */
  private take(n: number): Uint8Array {
    if (n > this.buffered) throw new Error(`FrameDecoder.take(${n}) with ${this.buffered} bytes buffered`)
    const first = this.chunks[this.head]!
    const available = first.byteLength - this.offset
    let out: Uint8Array
    if (available >= n) {
      out = first.subarray(this.offset, this.offset + n)
      this.offset += n
      if (this.offset === first.byteLength) this.dropHead()
    } else {
      // The copy lands at the same offset modulo copyAlignBytes as its source in the first
      // chunk: memcpy between buffers aligned differently ran at a third of the speed here
      // (x86 `rep movsb`), which was most of a 64 KiB round trip's cost.
      const skew = (first.byteOffset + this.offset) & (copyAlignBytes - 1)
      out = allocate(n + skew).subarray(skew)
      let filled = 0
      while (filled < n) {
        const chunk = this.chunks[this.head]!
        const count = Math.min(chunk.byteLength - this.offset, n - filled)
        out.set(new Uint8Array(chunk.buffer, chunk.byteOffset + this.offset, count), filled)
        filled += count
        this.offset += count
        if (this.offset === chunk.byteLength) this.dropHead()
      }
    }
    this.buffered -= n
    return out
  }

  private dropHead(): void {
    this.chunks[this.head] = EMPTY
    this.head++
    this.offset = 0
    if (this.head === this.chunks.length) {
      this.chunks = []
      this.head = 0
    } else if (this.head >= 64 && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head)
      this.head = 0
    }
  }
}

const EMPTY = new Uint8Array(0)
/** A cache line: a frame assembled from chunks keeps its source's offset within one. */
const copyAlignBytes = 64

/** Uninitialised memory where the runtime has Node's Buffer (every byte is written before use). */
const NodeBuffer = (globalThis as { Buffer?: { allocUnsafe(n: number): Uint8Array } }).Buffer
const allocate = (n: number): Uint8Array => (NodeBuffer !== undefined ? NodeBuffer.allocUnsafe(n) : new Uint8Array(n))
