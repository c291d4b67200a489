/**
 * snappy (Kafka compression type 2). Two framings reach a broker:
 *
 *   xerial (Java client, snappy-java's SnappyOutputStream), what compress() writes:
 *     magic: 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00
 *     version: int32 BE (1)
 *     compatibleVersion: int32 BE (1)
 *     chunk* := length: int32 BE, raw snappy block of `length` bytes
 *                (each block holds at most 32 KiB of input)
 *   raw: one snappy block, no framing (librdkafka, some other clients).
 *
 * decompress() takes either, like Java's SnappyInputStream: input that does not start
 * with the 8-byte magic is a raw block. Every client reads xerial, hence writing it.
 * The raw snappy codec itself is snappyjs (pure JS).
 */
import SnappyJS from 'snappyjs'
import { CorruptRecordError } from '../errors.ts'

const XERIAL_MAGIC = [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00] as const
const XERIAL_HEADER_SIZE = 16
const XERIAL_VERSION = 1
const XERIAL_COMPATIBLE_VERSION = 1
/** snappy-java's default block size, which Kafka's producer uses. */
export const XERIAL_BLOCK_SIZE = 32 * 1024

function isXerial(bytes: Uint8Array): boolean {
  if (bytes.length < XERIAL_MAGIC.length) return false
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (bytes[i] !== XERIAL_MAGIC[i]) return false
  return true
}

export function snappyCompress(bytes: Uint8Array): Uint8Array {
  const chunks: Uint8Array[] = []
  let size = XERIAL_HEADER_SIZE
  for (let at = 0; at < bytes.length; at += XERIAL_BLOCK_SIZE) {
    const chunk = SnappyJS.compress(bytes.subarray(at, Math.min(bytes.length, at + XERIAL_BLOCK_SIZE)))
    chunks.push(chunk)
    size += 4 + chunk.length
  }
  const out = new Uint8Array(size)
  const dv = new DataView(out.buffer)
  out.set(XERIAL_MAGIC, 0)
  dv.setInt32(8, XERIAL_VERSION)
  dv.setInt32(12, XERIAL_COMPATIBLE_VERSION)
  let at = XERIAL_HEADER_SIZE
  for (const chunk of chunks) {
    dv.setInt32(at, chunk.length)
    out.set(chunk, at + 4)
    at += 4 + chunk.length
  }
  return out
}

export function snappyDecompress(bytes: Uint8Array): Uint8Array {
  if (!isXerial(bytes)) return SnappyJS.uncompress(bytes)
  if (bytes.length < XERIAL_HEADER_SIZE) throw new CorruptRecordError('xerial snappy header is cut short')
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const blocks: Uint8Array[] = []
  let total = 0
  let at = XERIAL_HEADER_SIZE
  while (at < bytes.length) {
    if (at + 4 > bytes.length) throw new CorruptRecordError(`xerial snappy chunk length at byte ${at} is cut short`)
    const length = dv.getInt32(at)
    if (length < 0 || at + 4 + length > bytes.length) {
      throw new CorruptRecordError(`xerial snappy chunk at byte ${at} claims ${length} bytes, ${bytes.length - at - 4} remain`)
    }
    const block = SnappyJS.uncompress(bytes.subarray(at + 4, at + 4 + length))
    blocks.push(block)
    total += block.length
    at += 4 + length
  }
  // One chunk (any batch under 32 KiB): hand it over without another copy.
  if (blocks.length === 1) return blocks[0]!
  const out = new Uint8Array(total)
  let pos = 0
  for (const block of blocks) {
    out.set(block, pos)
    pos += block.length
  }
  return out
}
