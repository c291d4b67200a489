import t from 'tap'
import { CorruptRecordError } from '../../src/record/errors.ts'
import {
  readUnsignedVarint,
  readVarint,
  readVarlong,
  readVarlongBig,
  sizeOfUnsignedVarint,
  sizeOfVarint,
  sizeOfVarlong,
  sizeOfVarlongBig,
  writeUnsignedVarint,
  writeVarint,
  writeVarlong,
  writeVarlongBig,
} from '../../src/record/varint.ts'

const hex = (h: string) => Uint8Array.from((h.replace(/\s+/g, '').match(/../g) ?? []).map((x) => parseInt(x, 16)))
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')

function encodeWith(size: number, write: (buf: Uint8Array, at: number) => number): Uint8Array {
  const buf = new Uint8Array(size + 2)
  const end = write(buf, 1)
  return buf.subarray(1, end)
}

// Expected bytes worked out by hand from the grammar (7-bit groups, least significant first).
const VARINTS: [number, string][] = [
  [0, '00'],
  [-1, '01'],
  [1, '02'],
  [-2, '03'],
  [63, '7e'],
  [-64, '7f'],
  [64, '8001'],
  [-65, '8101'],
  [300, 'd804'],
  [2147483647, 'feffffff0f'],
  [-2147483648, 'ffffffff0f'],
]

const UNSIGNED_VARINTS: [number, string][] = [
  [0, '00'],
  [127, '7f'],
  [128, '8001'],
  [300, 'ac02'],
  [16383, 'ff7f'],
  [16384, '808001'],
  [0xffffffff, 'ffffffff0f'],
]

const VARLONGS: [number, string][] = [
  [0, '00'],
  [-1, '01'],
  [5, '0a'],
  [-5, '09'],
  [0x3fffffff, 'feffffff07'], // the last value of the int32 fast path
  [0x40000000, '8080808008'], // zigzag 2^31: the first of the split path
  [-0x40000000, 'ffffffff07'],
  [-0x40000001, '8180808008'],
  [2 ** 31, '8080808010'],
  [2 ** 32, '8080808020'], // zigzag 2^33: bit 33 is bit 5 of the fifth group
  [1700000000000, '80a0abfef962'], // an epoch-ms timestamp
  [-1700000000000, 'ff9fabfef962'],
  [Number.MAX_SAFE_INTEGER, 'feffffffffffff1f'], // zigzag 2^54 - 2
  [-Number.MAX_SAFE_INTEGER, 'fdffffffffffff1f'], // zigzag 2^54 - 3
]

t.test('varint (zigzag int32): known encodings', async (t) => {
  for (const [v, h] of VARINTS) {
    t.equal(toHex(encodeWith(5, (b, at) => writeVarint(b, at, v))), h, `write ${v}`)
    t.equal(sizeOfVarint(v), h.length / 2, `size of ${v}`)
    const cur = { pos: 0 }
    t.equal(readVarint(hex(h), cur), v, `read ${h}`)
    t.equal(cur.pos, h.length / 2)
  }
})

t.test('unsigned varint: known encodings', async (t) => {
  for (const [v, h] of UNSIGNED_VARINTS) {
    t.equal(toHex(encodeWith(5, (b, at) => writeUnsignedVarint(b, at, v))), h, `write ${v}`)
    t.equal(sizeOfUnsignedVarint(v), h.length / 2, `size of ${v}`)
    t.equal(readUnsignedVarint(hex(h), { pos: 0 }), v, `read ${h}`)
  }
})

t.test('varlong (zigzag int64) as numbers: known encodings', async (t) => {
  for (const [v, h] of VARLONGS) {
    t.equal(toHex(encodeWith(10, (b, at) => writeVarlong(b, at, v))), h, `write ${v}`)
    t.equal(sizeOfVarlong(v), h.length / 2, `size of ${v}`)
    const cur = { pos: 0 }
    t.equal(readVarlong(hex(h), cur), v, `read ${h}`)
    t.equal(cur.pos, h.length / 2)
    t.equal(toHex(encodeWith(10, (b, at) => writeVarlongBig(b, at, BigInt(v)))), h, `the bigint path writes ${v} alike`)
    t.equal(readVarlongBig(hex(h), { pos: 0 }), BigInt(v))
  }
})

t.test('varlong as bigints: the full int64 range', async (t) => {
  const cases: [bigint, string][] = [
    [9223372036854775807n, 'feffffffffffffffff01'],
    [-9223372036854775808n, 'ffffffffffffffffff01'],
    [2n ** 53n, '8080808080808020'],
    [-(2n ** 62n), 'ffffffffffffffff7f'],
    [0n, '00'],
  ]
  for (const [v, h] of cases) {
    t.equal(toHex(encodeWith(10, (b, at) => writeVarlongBig(b, at, v))), h, `write ${v}`)
    t.equal(sizeOfVarlongBig(v), h.length / 2, `size of ${v}`)
    t.equal(readVarlongBig(hex(h), { pos: 0 }), v, `read ${h}`)
  }
  t.throws(() => writeVarlongBig(new Uint8Array(10), 0, 2n ** 63n), RangeError, 'beyond int64')
  t.throws(() => sizeOfVarlongBig(-(2n ** 63n) - 1n), RangeError)
})

t.test('numbers and bigints agree across the safe range', async (t) => {
  let x = 0x2545f491
  let checked = 0
  for (let i = 0; i < 2000; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    const magnitude = 2 ** ((x >>> 0) % 54)
    const v = Math.floor(((x >>> 0) / 2 ** 32) * magnitude) * (i % 2 ? -1 : 1)
    const a = encodeWith(10, (b, at) => writeVarlong(b, at, v))
    const b = encodeWith(10, (b, at) => writeVarlongBig(b, at, BigInt(v)))
    if (toHex(a) !== toHex(b) || readVarlong(a, { pos: 0 }) !== v || sizeOfVarlong(v) !== a.length) t.fail(`value ${v}`)
    checked++
  }
  t.equal(checked, 2000)
})

t.test('a varlong beyond the safe integers', async (t) => {
  t.throws(() => writeVarlong(new Uint8Array(10), 0, 2 ** 53), RangeError, 'writing an unsafe number')
  t.throws(() => sizeOfVarlong(-(2 ** 60)), RangeError)
  t.throws(() => writeVarlong(new Uint8Array(10), 0, 2 ** 40 + 0.5), RangeError, 'a fraction outside the int32 path')
  t.throws(() => readVarlong(hex('8080808080808020'), { pos: 0 }), RangeError, '2^53 does not read as a number')
  t.throws(() => readVarlong(hex('ffffffffffffffffff01'), { pos: 0 }), RangeError, 'int64 min')
  t.equal(readVarlong(hex('fdffffffffffff1f'), { pos: 0 }), -Number.MAX_SAFE_INTEGER)
})

t.test('reads continue from the cursor', async (t) => {
  const buf = hex('02 d804 feffffff0f 80a0abfef962')
  const cur = { pos: 0 }
  t.equal(readVarint(buf, cur), 1)
  t.equal(readVarint(buf, cur), 300)
  t.equal(readVarint(buf, cur), 2147483647)
  t.equal(readVarlong(buf, cur), 1700000000000)
  t.equal(cur.pos, buf.length)
})

t.test('malformed input', async (t) => {
  t.throws(() => readVarint(new Uint8Array(0), { pos: 0 }), CorruptRecordError, 'nothing to read')
  t.throws(() => readVarint(hex('80'), { pos: 0 }), CorruptRecordError, 'cut after a continuation byte')
  t.throws(() => readVarint(hex('8080'), { pos: 0 }), CorruptRecordError)
  t.throws(() => readVarint(hex('8080808080'), { pos: 0 }), { message: /longer than 5 bytes/ }, 'a sixth byte announced')
  t.throws(() => readVarlong(hex('80'), { pos: 0 }), CorruptRecordError, 'varlong cut short')
  t.throws(() => readVarlong(new Uint8Array(0), { pos: 0 }), CorruptRecordError, 'varlong: nothing to read')
  t.throws(() => readVarlongBig(hex('80808080808080808080'), { pos: 0 }), { message: /longer than 10 bytes/ })
  // As in Kafka, bits beyond the type's width in the last byte are dropped, not rejected.
  t.equal(readUnsignedVarint(hex('ffffffff7f'), { pos: 0 }), 0xffffffff)
  t.equal(readVarlongBig(hex('ffffffffffffffffff7f'), { pos: 0 }), -9223372036854775808n)
  const err = (() => {
    try {
      readVarint(hex('80'), { pos: 0 })
    } catch (e) {
      return e as CorruptRecordError
    }
  })()
  t.equal(err?.name, 'CorruptRecordError')
  t.equal(err?.errorCode, 2, 'CORRUPT_MESSAGE')
  t.equal(err?.retriable, true)
})
