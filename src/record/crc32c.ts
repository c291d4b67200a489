/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as Kafka uses for
 * RecordBatch v2. Slicing-by-8 in plain JS so it runs unchanged on Node, Deno and Bun.
 */

const POLY = 0x82f63b78

// 8 tables of 256 entries: T[k][b] is the CRC of byte b followed by k zero bytes.
const TABLES = (() => {
  const t = new Int32Array(8 * 256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1
    t[n] = c
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8)
      t[k * 256 + n] = c
    }
  }
  return t
})()

/** CRC-32C of `buf[start, end)`, continuing from `crc` (0 for a fresh checksum). Returns an unsigned 32-bit value. */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length, crc = 0): number {
  const T = TABLES
  let c = ~crc
  let i = start
  // Align nothing: typed-array byte reads are as fast as aligned word reads in JS.
  const end8 = end - ((end - i) & 7)
  while (i < end8) {
    const lo = c ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24))
    c =
      T[7 * 256 + (lo & 0xff)]! ^
      T[6 * 256 + ((lo >>> 8) & 0xff)]! ^
      T[5 * 256 + ((lo >>> 16) & 0xff)]! ^
      T[4 * 256 + (lo >>> 24)]! ^
      T[3 * 256 + buf[i + 4]!]! ^
      T[2 * 256 + buf[i + 5]!]! ^
      T[1 * 256 + buf[i + 6]!]! ^
      T[buf[i + 7]!]!
    i += 8
  }
  while (i < end) c = T[(c ^ buf[i++]!) & 0xff]! ^ (c >>> 8)
  return ~c >>> 0
}
