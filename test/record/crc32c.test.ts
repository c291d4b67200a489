import t from 'tap'
import { crc32c } from '../../src/record/crc32c.ts'

const ascii = (s: string) => new TextEncoder().encode(s)

/** Bit-at-a-time CRC-32C, straight from the definition: the reference the tables must match. */
function crc32cBitwise(buf: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0
  for (const b of buf) {
    c ^= b
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
  }
  return ~c >>> 0
}

function pseudoRandomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

t.test('known vectors', async (t) => {
  t.equal(crc32c(ascii('123456789')), 0xe3069283, 'the CRC catalogue check value')
  t.equal(crc32c(new Uint8Array(0)), 0, 'empty input')
  // RFC 3720 (iSCSI) appendix B.4
  t.equal(crc32c(new Uint8Array(32)), 0x8a9136aa, '32 bytes of zeros')
  t.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43, '32 bytes of 0xff')
  t.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e, '32 incrementing bytes')
  t.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c, '32 decrementing bytes')
  t.equal(crc32cBitwise(ascii('123456789')), 0xe3069283, 'the bitwise reference agrees with the vector')
})

t.test('agrees with the bitwise definition at every length around the word-path threshold', async (t) => {
  const data = pseudoRandomBytes(300, 7)
  let mismatches = 0
  for (let len = 0; len <= 300; len++) {
    if (crc32c(data, 0, len) !== crc32cBitwise(data.subarray(0, len))) mismatches++
  }
  t.equal(mismatches, 0)
})

t.test('any alignment of the input (subarrays and pooled Buffers)', async (t) => {
  const data = pseudoRandomBytes(4096 + 8, 99)
  for (let offset = 0; offset < 8; offset++) {
    for (const len of [63, 64, 65, 100, 1000, 4096]) {
      const view = data.subarray(offset, offset + len)
      t.equal(crc32c(view), crc32cBitwise(view), `offset ${offset}, ${len} bytes`)
      t.equal(crc32c(data, offset, offset + len), crc32cBitwise(view), `range [${offset}, ${offset + len})`)
    }
  }
  const pooled = Buffer.from('kafka'.repeat(40)).subarray(3)
  t.equal(crc32c(pooled), crc32cBitwise(pooled), 'a Buffer at an odd byteOffset in the pool')
})

t.test('continues a checksum across pieces', async (t) => {
  const data = pseudoRandomBytes(10_000, 3)
  const whole = crc32c(data)
  for (const cut of [0, 1, 7, 64, 1000, 9999, 10_000]) {
    t.equal(crc32c(data, cut, data.length, crc32c(data, 0, cut)), whole, `split at ${cut}`)
  }
  t.equal(crc32c(ascii('56789'), 0, 5, crc32c(ascii('1234'))), 0xe3069283)
})

t.test('a large buffer', async (t) => {
  const data = pseudoRandomBytes(1 << 20, 11)
  t.equal(crc32c(data), crc32cBitwise(data))
})
