import t, { type Test } from 'tap'
import {
  fieldNotInVersion,
  inContext,
  MAX_STRING_LENGTH,
  notNull,
  ProtocolDecodeError,
  ProtocolEncodeError,
  Reader,
  sizeOfUnsignedVarint,
  utf8Length,
  uuidFromString,
  uuidToString,
  Writer,
  ZERO_UUID,
} from '../../../src/protocol/kafka/primitives.ts'

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'))
const written = (f: (w: Writer) => void) => {
  const w = new Writer(16)
  f(w)
  return hex(w.finish())
}
const reader = (h: string) => new Reader(bytes(h))

/** `f` throws a ProtocolDecodeError whose message matches. */
function throwsDecode(t: Test, f: () => unknown, message: RegExp, what: string) {
  try {
    f()
    t.fail(`${what}: did not throw`)
  } catch (e) {
    t.ok(e instanceof ProtocolDecodeError, `${what}: a ProtocolDecodeError`)
    t.match((e as Error).message, message, what)
  }
}

t.test('fixed-width integers, big-endian', async (t) => {
  t.equal(written((w) => w.int8(-1).int8(127).int8(-128)), 'ff7f80')
  t.equal(written((w) => w.int16(-2).int16(0x1234)), 'fffe1234')
  t.equal(written((w) => w.uint16(65535)), 'ffff')
  t.equal(written((w) => w.int32(-2147483648).int32(1)), '8000000000000001')
  t.equal(written((w) => w.uint32(4294967295)), 'ffffffff')
  t.equal(written((w) => w.bool(true).bool(false)), '0100')
  t.equal(written((w) => w.float64(1.5)), '3ff8000000000000')
  const r = reader('ff7f80 fffe1234 ffff 8000000000000001 ffffffff 0100 02 3ff8000000000000')
  t.same([r.int8(), r.int8(), r.int8()], [-1, 127, -128])
  t.same([r.int16(), r.int16(), r.uint16()], [-2, 0x1234, 65535])
  t.same([r.int32(), r.int32(), r.uint32()], [-2147483648, 1, 4294967295])
  t.same([r.bool(), r.bool(), r.bool()], [true, false, true], 'any non-zero byte is true, as in Kafka')
  t.equal(r.float64(), 1.5)
  t.equal(r.remaining, 0)
  for (const [f, v] of [
    [(w: Writer) => w.int8(128), 128],
    [(w: Writer) => w.int16(-32769), -32769],
    [(w: Writer) => w.uint16(-1), -1],
    [(w: Writer) => w.int32(2 ** 31), 2 ** 31],
    [(w: Writer) => w.uint32(2 ** 32), 2 ** 32],
    [(w: Writer) => w.int32(1.5), 1.5],
    [(w: Writer) => w.int32(NaN), NaN],
  ] as const) {
    t.throws(() => f(new Writer()), ProtocolEncodeError, `${v} out of range`)
  }
})

t.test('int64 as bigint and as number', async (t) => {
  const cases: [bigint, string][] = [
    [0n, '0000000000000000'],
    [-1n, 'ffffffffffffffff'],
    [9223372036854775807n, '7fffffffffffffff'],
    [-9223372036854775808n, '8000000000000000'],
    [1700000000000n, '0000018bcfe56800'],
  ]
  for (const [v, h] of cases) {
    t.equal(written((w) => w.int64(v)), h, `bigint ${v}`)
    t.equal(reader(h).int64(), v)
    if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) {
      t.equal(written((w) => w.int64(Number(v))), h, `number ${v}`)
      t.equal(reader(h).int64Number(), Number(v))
    }
  }
  for (const v of [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, -2, -4294967296, 4294967297]) {
    t.equal(reader(written((w) => w.int64(v))).int64Number(), v, `safe ${v}`)
    t.equal(reader(written((w) => w.int64(v))).int64(), BigInt(v))
  }
  throwsDecode(t, () => reader('7fffffffffffffff').int64Number('offset'), /offset: int64 9223372036854775807 is not a safe integer at offset 0/, 'unsafe int64 as a number')
  throwsDecode(t, () => reader('ffe0000000000000').int64Number(), /not a safe integer/, 'below -2^53')
  t.throws(() => new Writer().int64(2 ** 53), ProtocolEncodeError)
  t.throws(() => new Writer().int64(0.5), ProtocolEncodeError)
  t.throws(() => new Writer().int64(2n ** 63n), ProtocolEncodeError)
  t.throws(() => new Writer().int64(-(2n ** 63n) - 1n), ProtocolEncodeError)
})

t.test('unsigned varints, varints, varlongs', async (t) => {
  const uv: [number, string][] = [
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8001'],
    [300, 'ac02'],
    [16383, 'ff7f'],
    [16384, '808001'],
    [2 ** 21, '80808001'],
    [2 ** 28, '8080808001'],
    [4294967295, 'ffffffff0f'],
  ]
  for (const [v, h] of uv) {
    t.equal(written((w) => w.uvarint(v)), h, `uvarint ${v}`)
    t.equal(reader(h).uvarint(), v)
    t.equal(sizeOfUnsignedVarint(v), h.length / 2)
  }
  throwsDecode(t, () => reader('ffffffff10').uvarint(), /longer than 5 bytes or above 2\^32-1/, 'a 5th byte above 0x0f')
  throwsDecode(t, () => reader('ffffffffff01').uvarint(), /longer than 5 bytes/, '6 bytes')
  throwsDecode(t, () => reader('ff').uvarint('n'), /n: unsigned varint runs past the end at offset 1/, 'truncated')
  t.throws(() => new Writer().uvarint(-1), ProtocolEncodeError)
  t.throws(() => new Writer().uvarint(2 ** 32), ProtocolEncodeError)

  const zz: [number, string][] = [
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [-64, '7f'],
    [64, '8001'],
    [2147483647, 'feffffff0f'],
    [-2147483648, 'ffffffff0f'],
  ]
  for (const [v, h] of zz) {
    t.equal(written((w) => w.varint(v)), h, `varint ${v}`)
    t.equal(reader(h).varint(), v)
  }
  t.throws(() => new Writer().varint(2 ** 31), ProtocolEncodeError)

  const vl: [bigint, string][] = [
    [0n, '00'],
    [-1n, '01'],
    [1n, '02'],
    [9223372036854775807n, 'feffffffffffffffff01'],
    [-9223372036854775808n, 'ffffffffffffffffff01'],
  ]
  for (const [v, h] of vl) {
    t.equal(written((w) => w.varlong(v)), h, `varlong ${v}`)
    t.equal(reader(h).varlong(), v)
  }
  t.equal(written((w) => w.varlong(-3)), '05', 'a number')
  t.throws(() => new Writer().varlong(2n ** 63n), ProtocolEncodeError)
  t.throws(() => new Writer().varlong(2 ** 60), ProtocolEncodeError, 'an unsafe number')
  throwsDecode(t, () => reader('ffffffffffffffffff02').varlong(), /longer than 10 bytes or above 64 bits/, '10th byte above 1')
  throwsDecode(t, () => reader('8080').varlong(), /varlong runs past the end/, 'truncated')
})

t.test('uuid as base64url', async (t) => {
  const raw = bytes('000102030405060708090a0b0c0d0e0f')
  t.equal(uuidToString(raw), 'AAECAwQFBgcICQoLDA0ODw')
  t.same(uuidFromString('AAECAwQFBgcICQoLDA0ODw'), raw)
  t.equal(uuidToString(new Uint8Array(16)), ZERO_UUID)
  const ff = new Uint8Array(16).fill(0xff)
  t.equal(uuidToString(ff), '_____________________w', 'the url-safe alphabet')
  t.same(uuidFromString('_____________________w'), ff)
  t.equal(uuidFromString('AAECAwQFBgcICQoLDA0ODx'), null, 'non-zero unused bits: not canonical')
  t.equal(uuidFromString('AAECAwQFBgcICQoLDA0OD'), null, '21 characters')
  t.equal(uuidFromString('AAECAwQFBgcICQoLDA0OD+'), null, 'the + of plain base64')
  t.equal(uuidFromString('AAECAwQFBgcICQoLDA0OD\u00e9'), null, 'not ASCII')
  t.throws(() => uuidToString(new Uint8Array(15)), RangeError)
  t.equal(written((w) => w.uuid('AAECAwQFBgcICQoLDA0ODw')), hex(raw))
  t.equal(reader(hex(raw)).uuid(), 'AAECAwQFBgcICQoLDA0ODw')
  t.throws(() => new Writer().uuid('not a uuid'), ProtocolEncodeError)
  throwsDecode(t, () => reader('0001').uuid('topicId'), /topicId: uuid needs 16 bytes but 2 remain at offset 0/, 'truncated')
  // Every 16-byte value round trips.
  for (let i = 0; i < 200; i++) {
    const b = new Uint8Array(16).map(() => (Math.random() * 256) | 0)
    t.same(uuidFromString(uuidToString(b)), b)
  }
})

t.test('strings: classic, compact, nullable', async (t) => {
  t.equal(written((w) => w.string('abc')), '0003616263')
  t.equal(written((w) => w.string('')), '0000')
  t.equal(written((w) => w.nullableString(null)), 'ffff')
  t.equal(written((w) => w.nullableString('é')), '0002c3a9')
  t.equal(written((w) => w.compactString('abc')), '04616263')
  t.equal(written((w) => w.compactString('')), '01')
  t.equal(written((w) => w.compactNullableString(null)), '00')
  t.equal(written((w) => w.compactNullableString('🦊')), '05f09fa68a')
  const r = reader('0003616263 0000 ffff 0002c3a9 04616263 01 00 05f09fa68a')
  t.same([r.string(), r.string(), r.nullableString(), r.nullableString()], ['abc', '', null, 'é'])
  t.same([r.compactString(), r.compactString(), r.compactNullableString(), r.compactNullableString()], ['abc', '', null, '🦊'])
  t.equal(r.remaining, 0)
  t.equal(reader('0002ff41').string(), '\ufffdA', 'malformed UTF-8 is replaced, as Kafka does')

  throwsDecode(t, () => reader('ffff').string('name'), /name: null in a non-nullable string/, 'null in STRING')
  throwsDecode(t, () => reader('fffe').string(), /negative string length -2/, 'negative length')
  throwsDecode(t, () => reader('fffe').nullableString(), /negative string length -2/, 'negative nullable length')
  throwsDecode(t, () => reader('00').compactString(), /null in a non-nullable compact string/, 'null in COMPACT_STRING')
  throwsDecode(t, () => reader('7fff41').string(), /string of length 32767 needs 32767 bytes but 1 remain at offset 2/, 'lying length')
  throwsDecode(t, () => reader('ffffffff0f').compactNullableString(), /string length 4294967294 is above 32767/, 'huge compact length')
  throwsDecode(t, () => reader('00').string(), /int16 needs 2 bytes but 1 remain/, 'truncated length')

  const long = 'x'.repeat(MAX_STRING_LENGTH)
  t.equal(new Reader(new Writer().string(long).finish()).string(), long, 'the longest string')
  t.equal(new Reader(new Writer().compactString(long).finish()).compactString(), long)
  t.throws(() => new Writer().string(long + 'x'), ProtocolEncodeError, 'one byte too long')
  t.throws(() => new Writer().compactString('é'.repeat(16384)), ProtocolEncodeError, 'too long in UTF-8 bytes')
  t.throws(() => new Writer().string(null as unknown as string), ProtocolEncodeError)
  t.throws(() => new Writer().compactString(1 as unknown as string), ProtocolEncodeError)

  // utf8Length agrees with TextEncoder, lone surrogates included.
  for (const s of ['', 'a', 'é', '€', '🦊', 'a\ud800b', '\udc00', '\ud800', 'x🦊y€z']) {
    t.equal(utf8Length(s), new TextEncoder().encode(s).length, JSON.stringify(s))
    t.equal(new Reader(new Writer().string(s).finish()).string(), new TextDecoder().decode(new TextEncoder().encode(s)))
  }
})

t.test('bytes and records are views, not copies', async (t) => {
  t.equal(written((w) => w.bytes(bytes('0102'))), '000000020102')
  t.equal(written((w) => w.nullableBytes(null)), 'ffffffff')
  t.equal(written((w) => w.compactBytes(bytes('0102'))), '030102')
  t.equal(written((w) => w.compactNullableBytes(null)), '00')
  t.equal(written((w) => w.compactNullableBytes(new Uint8Array(0))), '01')
  const src = bytes('000000020102 ffffffff 030102 00 01 aa')
  const r = new Reader(src)
  const b = r.bytes()
  t.same([...b], [1, 2])
  t.equal(b.buffer, src.buffer, 'a view of the source')
  t.equal(b.byteOffset, src.byteOffset + 4)
  t.equal(r.nullableBytes(), null)
  t.same([...r.compactBytes()], [1, 2])
  t.equal(r.compactNullableBytes(), null)
  t.same([...r.compactNullableBytes()!], [])
  t.same([...r.raw(1)], [0xaa])
  throwsDecode(t, () => reader('ffffffff').bytes('key'), /key: null in non-nullable bytes/, 'null BYTES')
  throwsDecode(t, () => reader('fffffffe').bytes(), /negative bytes length -2/, 'negative')
  throwsDecode(t, () => reader('fffffffe').nullableBytes(), /negative bytes length -2/, 'negative nullable')
  throwsDecode(t, () => reader('00').compactBytes(), /null in non-nullable compact bytes/, 'null COMPACT_BYTES')
  throwsDecode(t, () => reader('7fffffff00').nullableBytes('records'), /records: 2147483647 bytes needs 2147483647 bytes but 1 remain at offset 4/, 'a lying length allocates nothing')
  throwsDecode(t, () => reader('ffffffff0f').compactNullableBytes(), /4294967294 bytes needs/, 'a lying compact length')
  t.throws(() => new Writer().bytes(null as unknown as Uint8Array), ProtocolEncodeError)
  t.throws(() => new Writer().compactBytes('x' as unknown as Uint8Array), ProtocolEncodeError)
})

t.test('arrays: counts checked against the bytes left before allocating', async (t) => {
  t.equal(written((w) => w.arrayLength(2).int32(1).int32(2)), '000000020000000100000002')
  t.equal(written((w) => w.arrayLength(null)), 'ffffffff')
  t.equal(written((w) => w.compactArrayLength(2)), '03')
  t.equal(written((w) => w.compactArrayLength(null)), '00')
  t.equal(
    written((w) => w.array([1, 2], false, (w, v) => w.int16(v))),
    '0000000200010002',
  )
  t.equal(
    written((w) => w.array(null, true, (w, v: number) => w.int16(v))),
    '00',
  )
  t.equal(
    written((w) => w.array(['a'], true, (w, v) => w.compactString(v))),
    '020261',
  )
  t.same(reader('0000000200010002').array(false, 2, (r) => r.int16()), [1, 2])
  t.same(reader('ffffffff').array(false, 2, (r) => r.int16()), null)
  t.same(reader('0301020304').array(true, 2, (r) => r.int16()), [0x0102, 0x0304])
  t.same(reader('00').array(true, 2, (r) => r.int16()), null)
  t.equal(reader('00000000').arrayLength(4, false), 0)
  t.equal(reader('ffffffff').arrayLength(4, true), -1)
  t.equal(reader('00').compactArrayLength(4, true), -1)
  throwsDecode(t, () => reader('ffffffff').arrayLength(4, false, 'topics'), /topics: null in a non-nullable array/, 'null ARRAY')
  throwsDecode(t, () => reader('fffffffe').arrayLength(4, true), /negative array length -2/, 'negative')
  throwsDecode(t, () => reader('00').compactArrayLength(4, false), /null in a non-nullable compact array/, 'null COMPACT_ARRAY')
  // 1000 elements of at least 4 bytes cannot fit in 8 bytes: refused up front.
  throwsDecode(t, () => reader('000003e8 0000000000000000').arrayLength(4, false), /array of 1000 elements needs at least 4000 bytes but 8 remain/, 'lying count')
  throwsDecode(t, () => reader('7fffffff').arrayLength(0, false), /array of 2147483647 elements needs at least 2147483647 bytes but 0 remain/, 'min element size is at least 1')
  throwsDecode(t, () => reader('ffffffff0f').compactArrayLength(1, false), /4294967294 elements/, 'lying compact count')
})

t.test('tagged fields', async (t) => {
  const w = new Writer()
  w.taggedFields([
    [0, (w) => w.int32(7)],
    [5, (w) => w.compactString('hi')],
  ])
  t.equal(hex(w.finish()), '02' + '00' + '04' + '00000007' + '05' + '03' + '036869')
  t.equal(written((w) => w.taggedFields([])), '00')
  t.throws(() => new Writer().taggedFields([[1, () => {}], [1, () => {}]]), ProtocolEncodeError, 'tags ascending')
  const seen: [number, unknown][] = []
  const r = new Reader(w.finish())
  r.taggedFields((tag, tr) => {
    if (tag === 0) seen.push([tag, tr.int32()])
  })
  t.same(seen, [[0, 7]], 'the unknown tag 5 is skipped')
  t.equal(r.remaining, 0)
  // A known field that a newer writer extended: the extra bytes are skipped.
  const r2 = reader('01 00 06 00000007 ffff 2a')
  let v = 0
  r2.taggedFields((tag, tr) => {
    v = tr.int32()
  })
  t.equal(v, 7)
  t.equal(r2.int8(), 0x2a)
  reader('00').taggedFields()
  const r3 = reader('02 00 01 aa 07 00 2b')
  r3.skipTaggedFields()
  t.equal(r3.int8(), 0x2b, 'skipTaggedFields')
  throwsDecode(t, () => reader('0a 00 00').taggedFieldCount('header'), /header: array of 10 elements needs at least 20 bytes but 2 remain/, 'lying count')
  throwsDecode(t, () => reader('01 00 05 aa').taggedFields(), /5 bytes needs 5 bytes but 1 remain/, 'lying size')
  throwsDecode(t, () => reader('01 00 01').skipTaggedFields(), /1 bytes needs 1 bytes but 0 remain/, 'lying size when skipping')
  // A known field read past its own size fails even when the message has more bytes.
  throwsDecode(
    t,
    () => reader('01 00 02 0000 00000000').taggedFields((_, tr) => tr.int32('x')),
    /x: int32 needs 4 bytes but 2 remain at offset 3/,
    'bounded to the field',
  )
})

t.test('Reader bounds and sub-readers', async (t) => {
  const src = bytes('0102030405')
  t.throws(() => new Reader(src, 3, 2), RangeError)
  t.throws(() => new Reader(src, -1), RangeError)
  t.throws(() => new Reader(src, 0, 6), RangeError)
  const r = new Reader(src, 1, 4)
  t.equal(r.offset, 1)
  t.equal(r.remaining, 3)
  const sub = r.sub(2)
  t.equal(sub.int16(), 0x0203)
  throwsDecode(t, () => sub.int8(), /int8 needs 1 bytes but 0 remain at offset 3/, 'the sub-reader ends at its bound')
  t.equal(r.int8(), 4)
  throwsDecode(t, () => r.int8(), /at offset 4/, 'the reader ends at its bound, not the array')
  throwsDecode(t, () => r.sub(1), /1 bytes needs 1 bytes but 0 remain/, 'sub past the end')
  throwsDecode(t, () => r.skip(1), /1 bytes needs 1 bytes/, 'skip past the end')
  throwsDecode(t, () => reader('').bool('flag'), /flag: bool needs 1 bytes but 0 remain at offset 0/, 'bool')
  for (const m of ['int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'uuid'] as const) {
    t.throws(() => reader('')[m](), ProtocolDecodeError, `empty ${m}`)
  }
  // A subarray of a larger buffer: offsets count from the subarray's start.
  const big = bytes('ffff00010002ffff')
  const view = big.subarray(2, 6)
  const rv = new Reader(view)
  t.same([rv.int16(), rv.int16()], [1, 2])
  t.equal(rv.remaining, 0)
  const e = (() => {
    try {
      rv.int8()
    } catch (e) {
      return e as ProtocolDecodeError
    }
    return undefined
  })()
  t.equal(e?.offset, 4)
  t.equal(e?.name, 'ProtocolDecodeError')
})

t.test('Writer growth, zero-copy chunks, reserved sizes', async (t) => {
  const w = new Writer(1)
  for (let i = 0; i < 1000; i++) w.int32(i)
  t.equal(w.length, 4000)
  const r = new Reader(w.finish())
  for (let i = 0; i < 1000; i++) if (r.int32() !== i) t.fail(`int ${i}`)
  t.equal(r.remaining, 0)

  const big = new Uint8Array(5000).fill(7)
  const z = new Writer()
  const at = z.reserveInt32()
  z.int8(1).raw(big).int8(2)
  z.patchInt32(at, z.length - 4)
  const chunks = z.chunks()
  t.equal(chunks.length, 3, 'the large array is its own chunk')
  t.equal(chunks[1], big, 'by reference')
  const all = z.finish()
  t.equal(all.length, 4 + 1 + 5000 + 1)
  t.equal(new Reader(all).int32(), 5002, 'the size patched in a sealed chunk')
  t.equal(all[5], 7)
  t.equal(all[5005], 2)

  // A size reserved between two large arrays sits in the third chunk.
  const g = new Writer()
  g.int8(1).raw(big)
  const mid = g.reserveInt32()
  g.raw(big).patchInt32(mid, 77)
  t.equal(g.chunks().length, 4)
  t.equal(new Reader(g.finish(), mid).int32(), 77)

  const y = new Writer()
  y.raw(big)
  t.same(y.chunks(), [big], 'nothing before or after it')
  t.equal(y.finish(), big)
  const x = new Writer()
  const pos = x.reserveInt32()
  x.patchInt32(pos, -1)
  t.equal(hex(x.finish()), 'ffffffff', 'patched in the current chunk')
  t.throws(() => x.patchInt32(0, 2 ** 31), ProtocolEncodeError)

  const outer = new Writer()
  const inner = new Writer()
  inner.int16(5).raw(big)
  outer.int8(1).writer(inner)
  t.equal(outer.length, 1 + 2 + 5000)
  t.equal(new Reader(outer.finish()).int8(), 1)
  t.equal(hex(new Writer().finish()), '', 'empty')
})

t.test('error helpers', async (t) => {
  t.equal(notNull('a', 'f'), 'a')
  t.throws(() => notNull(null, 'topics'), { name: 'ProtocolEncodeError', message: 'topics is null, which this version does not allow' })
  t.match(fieldNotInVersion('sessionId').message, /sessionId is not in this version/)
  const d = inContext(new ProtocolDecodeError('boom', 7), 'FetchRequest v4') as ProtocolDecodeError
  t.equal(d.message, 'FetchRequest v4: boom')
  t.equal(d.offset, 7)
  t.equal((inContext(new ProtocolEncodeError('bad'), 'X v1') as Error).message, 'X v1: bad')
  const other = new TypeError('x')
  t.equal(inContext(other, 'X'), other, 'other errors pass through')
})
