import t from 'tap'
import { CorruptRecordError } from '../../src/record/errors.ts'
import {
  decodeRecord,
  encodeRecord,
  readRecord,
  sizeOfRecord,
  sizeOfRecordBody,
  utf8Length,
  writeRecord,
  type RecordHeader,
} from '../../src/record/record.ts'

const hex = (h: string) => Uint8Array.from((h.replace(/\s+/g, '').match(/../g) ?? []).map((x) => parseInt(x, 16)))
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
const utf8 = (s: string) => new TextEncoder().encode(s)

t.test('golden: key and value, no headers', async (t) => {
  // length 8 (zigzag 0x10), attributes 0, timestampDelta 0, offsetDelta 0,
  // key "k" (length 1 -> 0x02, 0x6b), value "v" (0x02, 0x76), 0 headers
  const bytes = encodeRecord(0, 0, utf8('k'), utf8('v'))
  t.equal(toHex(bytes), '10' + '00' + '00' + '00' + '026b' + '0276' + '00')
  t.equal(sizeOfRecord(0, 0, utf8('k'), utf8('v')), bytes.length)
  const r = decodeRecord(bytes, 100, 1_700_000_000_000)
  t.equal(r.offset, 100)
  t.equal(r.timestamp, 1_700_000_000_000)
  t.same(r.key, utf8('k'))
  t.same(r.value, utf8('v'))
  t.same(r.headers, [])
})

t.test('golden: null key, a header, deltas', async (t) => {
  // offsetDelta 1 (0x02), timestampDelta 5 (0x0a), key null (-1: 0x01), value "value-1"
  // (7: 0x0e), 1 header (0x02): key "h" (0x02 0x68), value "x" (0x02 0x78); 17 bytes (0x22)
  const bytes = encodeRecord(1, 5, null, utf8('value-1'), [{ key: 'h', value: utf8('x') }])
  t.equal(toHex(bytes), '22' + '00' + '0a' + '02' + '01' + '0e' + toHex(utf8('value-1')) + '02' + '0268' + '0278')
  const r = decodeRecord(bytes, 10, 1000)
  t.equal(r.offset, 11)
  t.equal(r.timestamp, 1005)
  t.equal(r.key, null)
  t.same(r.headers, [{ key: 'h', value: utf8('x') }])
})

t.test('null versus empty keys, values and header values', async (t) => {
  const cases: [Uint8Array | null, Uint8Array | null, string][] = [
    [null, null, '01 01'],
    [new Uint8Array(0), new Uint8Array(0), '00 00'],
    [null, new Uint8Array(0), '01 00'],
    [new Uint8Array(0), null, '00 01'],
  ]
  for (const [key, value, kv] of cases) {
    const bytes = encodeRecord(0, 0, key, value)
    t.equal(toHex(bytes), '0c' + '000000' + kv.replace(' ', '') + '00', `key ${key && 'empty'}, value ${value && 'empty'}`)
    const r = decodeRecord(bytes)
    t.same(r.key, key)
    t.same(r.value, value)
    if (key !== null) t.ok(r.key instanceof Uint8Array && r.key.length === 0, 'an empty key stays empty, not null')
  }
  t.equal(toHex(encodeRecord(0, 0, undefined, undefined)), '0c00000001' + '0100', 'undefined is written as null')
  const headers: RecordHeader[] = [
    { key: 'null', value: null },
    { key: 'empty', value: new Uint8Array(0) },
    { key: '', value: utf8('empty key') },
  ]
  const r = decodeRecord(encodeRecord(0, 0, null, null, headers))
  t.same(r.headers, headers)
  t.equal(r.headers[0]!.value, null)
})

t.test('header keys in UTF-8', async (t) => {
  const keys = ['trace-id', 'é', '日本語', '😀 emoji', 'x'.repeat(40), 'ü'.repeat(40), 'lone \ud800 surrogate', 'swapped \udc00\ud800']
  for (const key of keys) {
    t.equal(utf8Length(key), utf8(key).length, `utf8Length of ${JSON.stringify(key)}`)
  }
  const headers = keys.map((key, i) => ({ key, value: i % 2 ? null : utf8(`v${i}`) }))
  const bytes = encodeRecord(3, -7, utf8('key'), utf8('value'), headers)
  t.equal(bytes.length, sizeOfRecord(3, -7, utf8('key'), utf8('value'), headers))
  const r = decodeRecord(bytes, 0, 0)
  // Lone surrogates cannot be encoded; like every UTF-8 encoder, we write U+FFFD for them.
  const roundTripped = keys.map((k) => new TextDecoder().decode(utf8(k)))
  t.same(r.headers.map((h) => h.key), roundTripped)
  t.equal(r.headers[6]!.key, 'lone \ufffd surrogate')
  t.equal(r.timestamp, -7)
  t.equal(r.offset, 3)
})

t.test('a header key that is not valid UTF-8 decodes with replacement characters, as in Java', async (t) => {
  // 1 header, key of 2 bytes 0xff 0x41, null value
  const body = hex('00 00 00 01 01 02 04 ff41 01')
  const bytes = new Uint8Array([body.length * 2, ...body])
  t.equal(decodeRecord(bytes).headers[0]!.key, '\ufffdA')
  const long = new Uint8Array(40).fill(0x41)
  long[39] = 0xc3
  const bytes2 = encodeRecord(0, 0, null, null, [{ key: 'A'.repeat(40), value: null }])
  bytes2.set(long, bytes2.length - 41)
  t.equal(decodeRecord(bytes2).headers[0]!.key, 'A'.repeat(39) + '\ufffd')
})

t.test('negative and large timestamp deltas', async (t) => {
  for (const delta of [-1, -5000, -(2 ** 31), 2 ** 31, 2 ** 45, -(2 ** 45), Number.MAX_SAFE_INTEGER]) {
    const bytes = encodeRecord(0, delta, null, utf8('v'))
    t.equal(decodeRecord(bytes, 0, 0).timestamp, delta, `delta ${delta}`)
    t.equal(bytes.length, sizeOfRecord(0, delta, null, utf8('v')))
  }
  t.equal(decodeRecord(encodeRecord(0, -100, null, null), 0, 1_700_000_000_000).timestamp, 1_699_999_999_900)
})

t.test('large offset deltas and big values', async (t) => {
  const value = new Uint8Array(100_000).map((_, i) => i & 0xff)
  const bytes = encodeRecord(2 ** 31 - 1, 0, utf8('k'), value)
  const r = decodeRecord(bytes, 10, 0)
  t.equal(r.offset, 10 + 2 ** 31 - 1)
  t.same(r.value, value)
})

t.test('decoded keys and values are views into the buffer, not copies', async (t) => {
  const bytes = encodeRecord(0, 0, utf8('kk'), utf8('vv'), [{ key: 'h', value: utf8('hv') }])
  const r = decodeRecord(bytes)
  t.equal(r.key!.buffer, bytes.buffer)
  t.equal(r.value!.buffer, bytes.buffer)
  t.equal(r.headers[0]!.value!.buffer, bytes.buffer)
})

t.test('writeRecord and readRecord in a larger buffer', async (t) => {
  const records = [
    { od: 0, td: 0, key: utf8('a'), value: utf8('1') },
    { od: 1, td: -3, key: null, value: null },
    { od: 5, td: 1000, key: utf8('c'), value: utf8('3'.repeat(300)) },
  ]
  const sizes = records.map((r) => sizeOfRecordBody(r.od, r.td, r.key, r.value))
  const buf = new Uint8Array(3 + records.reduce((n, r) => n + sizeOfRecord(r.od, r.td, r.key, r.value), 0))
  let at = 3
  records.forEach((r, i) => (at = writeRecord(buf, at, sizes[i]!, r.od, r.td, r.key, r.value)))
  t.equal(at, buf.length)
  const cur = { pos: 3 }
  const back = records.map(() => readRecord(buf, cur, 1000, 50))
  t.same(back.map((r) => [r.offset, r.timestamp, r.key, r.value]), records.map((r) => [1000 + r.od, 50 + r.td, r.key, r.value]))
  t.equal(cur.pos, buf.length)
})

t.test('a LogAppendTime override replaces the timestamp', async (t) => {
  const bytes = encodeRecord(0, 42, null, null)
  t.equal(readRecord(bytes, { pos: 0 }, 0, 1000, 5555).timestamp, 5555)
  t.equal(readRecord(bytes, { pos: 0 }, 0, 1000, null).timestamp, 1042)
})

t.test('malformed records', async (t) => {
  const good = encodeRecord(0, 0, utf8('k'), utf8('v'), [{ key: 'h', value: utf8('x') }])
  const bad = (h: string) => hex(h)
  const cases: [string, Uint8Array, RegExp][] = [
    ['negative length', bad('01'), /claims -1 bytes/],
    ['length past the end', bad('20 00 00 00'), /claims 16 bytes/],
    ['cut short', good.subarray(0, good.length - 1), /claims/],
    ['key longer than the record', bad('0a 00 00 00 10 00'), /record key of 8 bytes runs past/],
    ['key length -2', bad('0a 00 00 00 03 01'), /record key has negative length -2/],
    ['value longer than the record', bad('0c 00 00 00 01 10 00'), /record value of 8 bytes runs past/],
    ['negative header count', bad('0c 00 00 00 01 01 01'), /invalid header count -1/],
    ['header count beyond the bytes', bad('0c 00 00 00 01 01 0a'), /invalid header count 5/],
    ['negative header key length', bad('12 00 00 00 01 01 02 01 01 00'), /header key of invalid length -1/],
    ['header key past the record', bad('12 00 00 00 01 01 02 08 01 00'), /header key of invalid length 4/],
    ['header value past the record', bad('12 00 00 00 01 01 02 00 08 00'), /header value of 4 bytes runs past/],
    ['declared length larger than the fields', bad('0e 00 00 00 01 01 00 00'), /should be 7 bytes but its fields took 6/],
    ['fields longer than the declared length', bad('0a 00 00 00 01 01 00 00'), /fields past its declared 5 bytes/],
    ['bytes after the record', new Uint8Array([...good, 0]), /1 bytes follow the record/],
  ]
  for (const [what, bytes, message] of cases) {
    t.throws(() => decodeRecord(bytes), { name: 'CorruptRecordError', message }, what)
  }
  t.throws(() => decodeRecord(new Uint8Array(0)), CorruptRecordError, 'nothing at all')
})
