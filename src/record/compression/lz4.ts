/**
 * lz4 (Kafka compression type 3): the LZ4 *frame* format (KIP-57; lz4 Frame format
 * spec 1.6), around LZ4 blocks.
 *
 *   frame :=
 *     magic: uint32 LE 0x184D2204
 *     FLG: uint8   bits 7-6 version (01), 5 block independence, 4 block checksum,
 *                  3 content size, 2 content checksum, 1 reserved (0), 0 dictionary id
 *     BD: uint8    bits 6-4 block maximum size: 4 = 64 KiB, 5 = 256 KiB, 6 = 1 MiB, 7 = 4 MiB
 *     contentSize: uint64 LE               if FLG.3
 *     dictId: uint32 LE                    if FLG.0 (not supported: Kafka never sets it)
 *     HC: uint8    (xxh32(FLG .. last descriptor byte) >> 8) & 0xFF
 *     block* :=
 *       size: uint32 LE                    bit 31 set: the data is stored uncompressed
 *       data: byte[size]
 *       checksum: uint32 LE xxh32(data)    if FLG.4
 *     endMark: uint32 0
 *     contentChecksum: uint32 LE xxh32(content)  if FLG.2
 *
 *   block := sequence*, each:
 *     token: uint8     high nibble literal length, low nibble match length - 4
 *                      (a nibble of 15: more length bytes follow, 255* then one < 255)
 *     literals
 *     offset: uint16 LE (1..65535), match length bytes   -- absent in the last sequence
 *   rules: the last 5 bytes of a block are literals; the last match starts at least 12
 *   bytes before the block's end.
 *
 * compress() writes what Kafka's Java producer writes (Lz4BlockOutputStream): FLG 0x60
 * (independent blocks, no checksums, no content size), BD 0x40 (64 KiB blocks), and an
 * incompressible block stored raw. decompress() reads any v1 frame: dependent or
 * independent blocks, with or without block/content checksums and content size (each
 * checksum present is verified), concatenated frames, and the header checksum that
 * Kafka's magic-0 clients computed over the magic too.
 *
 * Our own code rather than lz4js (the one pure-JS frame codec on npm): lz4js writes
 * FLG 0x40 (dependent blocks), which Kafka's Java consumer rejects ("Dependent block
 * stream is unsupported"); its block encoder lets the last match start 10 bytes before
 * the end, which liblz4 (librdkafka, lz4-java's JNI) rejects on a full block; its decoder
 * has no bounds checks; and it has not been released since 2017.
 */
import { CorruptRecordError } from '../errors.ts'
import { xxhash32 } from './xxhash32.ts'

const MAGIC = 0x184d2204
const SKIPPABLE_MAGIC_MASK = 0xfffffff0
const SKIPPABLE_MAGIC = 0x184d2a50

const FLG_VERSION_1 = 0x40
const FLG_BLOCK_INDEPENDENCE = 0x20
const FLG_BLOCK_CHECKSUM = 0x10
const FLG_CONTENT_SIZE = 0x08
const FLG_CONTENT_CHECKSUM = 0x04
const FLG_RESERVED = 0x02
const FLG_DICT_ID = 0x01
const BD_64KB = 0x40
const BD_RESERVED = 0x8f
const STORED_BLOCK = 0x80000000

/** Kafka's producer block size (Lz4BlockOutputStream.BLOCKSIZE_64KB). */
export const LZ4_BLOCK_SIZE = 64 * 1024

const MIN_MATCH = 4
const LAST_LITERALS = 5
const MF_LIMIT = 12
const MAX_OFFSET = 65535
// 4096 entries, the reference encoder's default (LZ4_MEMORY_USAGE 14).
const HASH_LOG = 12
const SKIP_TRIGGER = 6

function lz4CompressBound(n: number): number {
  return n + ((n / 255) | 0) + 16
}

const hashTable = new Int32Array(1 << HASH_LOG)
let scratch: Uint8Array | null = null

function read32(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)
}

function readU32LE(b: Uint8Array, i: number): number {
  return read32(b, i) >>> 0
}

function writeU32LE(b: Uint8Array, i: number, v: number): void {
  b[i] = v
  b[i + 1] = v >>> 8
  b[i + 2] = v >>> 16
  b[i + 3] = v >>> 24
}

function hash4(seq: number): number {
  return Math.imul(seq, 2654435761) >>> (32 - HASH_LOG)
}

function copyBytes(src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): number {
  const n = to - from
  if (n > 16) dst.set(src.subarray(from, to), at)
  else for (let i = 0; i < n; i++) dst[at + i] = src[from + i]!
  return at + n
}

function writeLengthBytes(dst: Uint8Array, op: number, n: number): number {
  while (n >= 255) {
    dst[op++] = 255
    n -= 255
  }
  dst[op++] = n
  return op
}

/** Writes literals src[anchor, matchStart) and a match; returns the output position after it. */
function writeSequence(src: Uint8Array, anchor: number, matchStart: number, offset: number, matchLength: number, dst: Uint8Array, op: number): number {
  const literals = matchStart - anchor
  const tokenAt = op++
  let token: number
  if (literals >= 15) {
    token = 0xf0
    op = writeLengthBytes(dst, op, literals - 15)
  } else token = literals << 4
  op = copyBytes(src, anchor, matchStart, dst, op)
  dst[op++] = offset & 0xff
  dst[op++] = offset >>> 8
  const ml = matchLength - MIN_MATCH
  if (ml >= 15) {
    token |= 15
    op = writeLengthBytes(dst, op, ml - 15)
  } else token |= ml
  dst[tokenAt] = token
  return op
}

/**
 * Compresses src[start, end) as one independent LZ4 block into dst (sized by
 * lz4CompressBound) and returns the compressed length. Greedy single-probe hash
 * matching with the reference encoder's skip acceleration over incompressible runs.
 */
function compressBlock(src: Uint8Array, start: number, end: number, dst: Uint8Array): number {
  let op = 0
  let anchor = start
  if (end - start > MF_LIMIT) {
    const table = hashTable
    table.fill(0) // independent blocks: nothing may point before this block
    const matchStartLimit = end - MF_LIMIT
    const matchEndLimit = end - LAST_LITERALS
    let ip = start
    let misses = 1 << SKIP_TRIGGER
    while (ip <= matchStartLimit) {
      const seq = read32(src, ip)
      const h = hash4(seq)
      // Entries hold position - start + 1, so 0 (empty) maps below `start`.
      const ref = table[h]! - 1 + start
      table[h] = ip - start + 1
      if (ref < start || ip - ref > MAX_OFFSET || read32(src, ref) !== seq) {
        ip += misses++ >> SKIP_TRIGGER
        continue
      }
      misses = 1 << SKIP_TRIGGER
      let matchStart = ip
      let back = ref
      while (matchStart > anchor && back > start && src[matchStart - 1] === src[back - 1]) {
        matchStart--
        back--
      }
      let matchEnd = ip + MIN_MATCH
      let fwd = ref + MIN_MATCH
      while (matchEnd < matchEndLimit && src[matchEnd] === src[fwd]) {
        matchEnd++
        fwd++
      }
      op = writeSequence(src, anchor, matchStart, ip - ref, matchEnd - matchStart, dst, op)
      ip = matchEnd
      anchor = ip
      // Like the reference encoder, remember a position inside the match just written.
      table[hash4(read32(src, ip - 2))] = ip - 2 - start + 1
    }
  }
  const literals = end - anchor
  if (literals >= 15) {
    dst[op++] = 0xf0
    op = writeLengthBytes(dst, op, literals - 15)
  } else dst[op++] = literals << 4
  return copyBytes(src, anchor, end, dst, op)
}

function corrupt(message: string): never {
  throw new CorruptRecordError(`lz4: ${message}`)
}

/**
 * Decodes one LZ4 block src[sp, send) into dst at dp, never writing at or past `dend`
 * nor copying from before `windowStart`; returns the output position after the block.
 */
function decompressBlock(src: Uint8Array, sp: number, send: number, dst: Uint8Array, dp: number, dend: number, windowStart: number): number {
  for (;;) {
    if (sp >= send) corrupt('block ends inside a sequence')
    const token = src[sp++]!
    let literals = token >>> 4
    if (literals === 15) {
      let b: number
      do {
        if (sp >= send) corrupt('block ends inside a literal length')
        b = src[sp++]!
        literals += b
      } while (b === 255)
    }
    if (literals > send - sp) corrupt('literals run past the end of the block')
    if (literals > dend - dp) corrupt('block decompresses past its maximum size')
    dp = copyBytes(src, sp, sp + literals, dst, dp)
    sp += literals
    if (sp === send) return dp
    if (send - sp < 2) corrupt('block ends inside a match offset')
    const offset = src[sp]! | (src[sp + 1]! << 8)
    sp += 2
    if (offset === 0 || offset > dp - windowStart) corrupt(`match offset ${offset} points outside the window`)
    let length = token & 15
    if (length === 15) {
      let b: number
      do {
        if (sp >= send) corrupt('block ends inside a match length')
        b = src[sp++]!
        length += b
      } while (b === 255)
    }
    length += MIN_MATCH
    if (length > dend - dp) corrupt('block decompresses past its maximum size')
    let m = dp - offset
    if (offset >= length && length > 16) {
      dst.copyWithin(dp, m, m + length)
      dp += length
    } else {
      // Overlapping copy (offset < length) repeats the last `offset` bytes, byte by byte.
      for (const e = dp + length; dp < e; ) dst[dp++] = dst[m++]!
    }
  }
}

export function lz4Compress(bytes: Uint8Array): Uint8Array {
  const n = bytes.length
  const blocks = Math.ceil(n / LZ4_BLOCK_SIZE)
  // Each block costs at most its size + 4: one that does not shrink is stored raw.
  const out = new Uint8Array(7 + n + 4 * blocks + 4)
  writeU32LE(out, 0, MAGIC)
  out[4] = FLG_VERSION_1 | FLG_BLOCK_INDEPENDENCE
  out[5] = BD_64KB
  out[6] = (xxhash32(out, 4, 6) >>> 8) & 0xff
  let op = 7
  const tmp = (scratch ??= new Uint8Array(lz4CompressBound(LZ4_BLOCK_SIZE)))
  for (let at = 0; at < n; at += LZ4_BLOCK_SIZE) {
    const end = Math.min(n, at + LZ4_BLOCK_SIZE)
    const size = compressBlock(bytes, at, end, tmp)
    if (size < end - at) {
      writeU32LE(out, op, size)
      op = copyBytes(tmp, 0, size, out, op + 4)
    } else {
      writeU32LE(out, op, (end - at) | STORED_BLOCK)
      op = copyBytes(bytes, at, end, out, op + 4)
    }
  }
  writeU32LE(out, op, 0)
  return out.subarray(0, op + 4)
}

export function lz4Decompress(bytes: Uint8Array): Uint8Array {
  const len = bytes.length
  let out = new Uint8Array(Math.max(64, len * 4))
  let dp = 0
  const ensure = (n: number): void => {
    if (dp + n <= out.length) return
    const grown = new Uint8Array(Math.max(out.length * 2, dp + n))
    grown.set(out.subarray(0, dp))
    out = grown
  }
  let sp = 0
  do {
    if (len - sp < 4) corrupt('frame is cut short before its magic number')
    const magic = readU32LE(bytes, sp)
    if (((magic & SKIPPABLE_MAGIC_MASK) >>> 0) === SKIPPABLE_MAGIC) {
      if (len - sp < 8) corrupt('skippable frame is cut short')
      const size = readU32LE(bytes, sp + 4)
      if (size > len - sp - 8) corrupt('skippable frame is cut short')
      sp += 8 + size
      continue
    }
    if (magic !== MAGIC) corrupt(`bad magic number 0x${magic.toString(16)}`)
    if (len - sp < 7) corrupt('frame descriptor is cut short')
    const flg = bytes[sp + 4]!
    const bd = bytes[sp + 5]!
    if ((flg & 0xc0) !== FLG_VERSION_1) corrupt(`unsupported frame version ${flg >>> 6}`)
    if (flg & FLG_RESERVED) corrupt('reserved FLG bit is set')
    if (flg & FLG_DICT_ID) corrupt('frames with a dictionary id are not supported')
    if (bd & BD_RESERVED) corrupt('reserved BD bits are set')
    const blockSizeId = (bd >>> 4) & 7
    if (blockSizeId < 4) corrupt(`invalid block maximum size id ${blockSizeId}`)
    const maxBlockSize = 1 << (2 * blockSizeId + 8)
    const independent = (flg & FLG_BLOCK_INDEPENDENCE) !== 0
    const blockChecksum = (flg & FLG_BLOCK_CHECKSUM) !== 0
    const descriptorEnd = sp + 6 + (flg & FLG_CONTENT_SIZE ? 8 : 0)
    if (len - descriptorEnd < 1) corrupt('frame descriptor is cut short')
    let contentSize = -1
    if (flg & FLG_CONTENT_SIZE) {
      contentSize = readU32LE(bytes, sp + 6) + readU32LE(bytes, sp + 10) * 4294967296
      // No block expands more than ~255 times: a larger claim is corruption, not a reason to allocate.
      if (contentSize > len * 255) corrupt(`implausible content size ${contentSize}`)
      ensure(contentSize)
    }
    const hc = bytes[descriptorEnd]!
    if (hc !== ((xxhash32(bytes, sp + 4, descriptorEnd) >>> 8) & 0xff) && hc !== ((xxhash32(bytes, sp, descriptorEnd) >>> 8) & 0xff)) {
      corrupt('frame descriptor checksum mismatch')
    }
    sp = descriptorEnd + 1
    const frameStart = dp
    for (;;) {
      if (len - sp < 4) corrupt('frame is cut short before its end mark')
      const word = readU32LE(bytes, sp)
      sp += 4
      if (word === 0) break
      const size = word & 0x7fffffff
      if (size > maxBlockSize) corrupt(`block of ${size} bytes exceeds the frame's maximum ${maxBlockSize}`)
      if (len - sp < size + (blockChecksum ? 4 : 0)) corrupt('block is cut short')
      if (blockChecksum && xxhash32(bytes, sp, sp + size) !== readU32LE(bytes, sp + size)) corrupt('block checksum mismatch')
      if (word & STORED_BLOCK) {
        ensure(size)
        dp = copyBytes(bytes, sp, sp + size, out, dp)
      } else {
        // An LZ4 block expands at most ~255 times; reserve no more than that.
        const bound = Math.min(maxBlockSize, size * 255 + 16)
        ensure(bound)
        dp = decompressBlock(bytes, sp, sp + size, out, dp, dp + bound, independent ? dp : frameStart)
      }
      sp += size + (blockChecksum ? 4 : 0)
    }
    if (flg & FLG_CONTENT_CHECKSUM) {
      if (len - sp < 4) corrupt('content checksum is cut short')
      if (xxhash32(out, frameStart, dp) !== readU32LE(bytes, sp)) corrupt('content checksum mismatch')
      sp += 4
    }
    if (contentSize >= 0 && dp - frameStart !== contentSize) {
      corrupt(`frame declares ${contentSize} bytes of content but holds ${dp - frameStart}`)
    }
  } while (sp < len)
  return out.subarray(0, dp)
}
