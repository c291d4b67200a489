/**
 * xxHash32 (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md), which the
 * LZ4 frame format uses for its header, block and content checksums.
 *
 *   acc1..4 := seed + P1 + P2, seed + P2, seed, seed - P1     (inputs of >= 16 bytes)
 *   per 16-byte stripe, lane i: acc_i = rotl(acc_i + lane_i * P2, 13) * P1
 *   h := rotl(acc1,1) + rotl(acc2,7) + rotl(acc3,12) + rotl(acc4,18)   (else seed + P5)
 *   h += length; then each remaining 4-byte word, then each byte; then the avalanche
 *
 * All words little-endian, all arithmetic modulo 2^32 (Math.imul).
 */

const P1 = 0x9e3779b1
const P2 = 0x85ebca77
const P3 = 0xc2b2ae3d
const P4 = 0x27d4eb2f
const P5 = 0x165667b1

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r))
}

function read32(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)
}

function round(acc: number, lane: number): number {
  return Math.imul(rotl((acc + Math.imul(lane, P2)) | 0, 13), P1)
}

/** xxHash32 of `buf[start, end)`; an unsigned 32-bit value. */
export function xxhash32(buf: Uint8Array, start = 0, end = buf.length, seed = 0): number {
  const length = end - start
  let i = start
  let h: number
  if (length >= 16) {
    let a1 = (seed + P1 + P2) | 0
    let a2 = (seed + P2) | 0
    let a3 = seed | 0
    let a4 = (seed - P1) | 0
    const limit = end - 16
    while (i <= limit) {
      a1 = round(a1, read32(buf, i))
      a2 = round(a2, read32(buf, i + 4))
      a3 = round(a3, read32(buf, i + 8))
      a4 = round(a4, read32(buf, i + 12))
      i += 16
    }
    h = (rotl(a1, 1) + rotl(a2, 7) + rotl(a3, 12) + rotl(a4, 18)) | 0
  } else {
    h = (seed + P5) | 0
  }
  h = (h + length) | 0
  while (i + 4 <= end) {
    h = Math.imul(rotl((h + Math.imul(read32(buf, i), P3)) | 0, 17), P4)
    i += 4
  }
  while (i < end) {
    h = Math.imul(rotl((h + Math.imul(buf[i]!, P5)) | 0, 11), P1)
    i++
  }
  h = Math.imul(h ^ (h >>> 15), P2)
  h = Math.imul(h ^ (h >>> 13), P3)
  return (h ^ (h >>> 16)) >>> 0
}
