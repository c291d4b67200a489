import t, { type Test } from 'tap'
import { BatchHeader, CRC, RECORDS_COUNT, ATTRIBUTES, LAST_OFFSET_DELTA, scanBatches, NO_TIMESTAMP } from '../../src/record/batch-header.ts'
import { Compression, loadCodec } from '../../src/record/compression/index.ts'
import { CorruptRecordError } from '../../src/record/errors.ts'
import {
  batchRecordTimestamps,
  buildRecordBatch,
  decodeRecordBatch,
  iterateRecordBatches,
  TimestampType,
  type RecordBatch,
} from '../../src/record/record-batch.ts'
import type { RecordInput } from '../../src/record/record.ts'

await loadCodec(Compression.zstd)

/** Hex with `//` comments and whitespace ignored. */
function hex(text: string): Uint8Array {
  const digits = text.replace(/\/\/.*$/gm, '').replace(/\s+/g, '')
  return Uint8Array.from(digits.match(/../g) ?? [], (x) => parseInt(x, 16))
}
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
const utf8 = (s: string) => new TextEncoder().encode(s)

/** Bit-at-a-time CRC-32C, independent of the table-driven one under test. */
function crc32cBitwise(buf: Uint8Array): number {
  let c = 0xffffffff
  for (const b of buf) {
    c ^= b
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
  }
  return ~c >>> 0
}

// Worked out by hand from the v2 spec; CRC computed over bytes 21.. with a bitwise CRC-32C.
const GOLDEN = hex(`
  0000000000000005   // baseOffset 5
  0000004e           // batchLength 78: 90 bytes - 12
  00000007           // partitionLeaderEpoch 7
  02                 // magic
  2147d0c4           // crc
  0000               // attributes: none, CreateTime, not transactional, not control
  00000001           // lastOffsetDelta
  0000018bcfe56800   // baseTimestamp 1700000000000 (the first record's)
  0000018bcfe56805   // maxTimestamp 1700000000005
  00000000000003e8   // producerId 1000
  0002               // producerEpoch 2
  0000000a           // baseSequence 10
  00000002           // recordsCount
  // record 0: length 10, attributes, timestampDelta 0, offsetDelta 0, key "k0", value "v0", no headers
  14 00 00 00 04 6b30 04 7630 00
  // record 1: length 17, attributes, timestampDelta 5, offsetDelta 1, null key, value "value-1",
  // 1 header "h" = "x"
  22 00 0a 02 01 0e 76616c75652d31 02 02 68 02 78
`)

const GOLDEN_RECORDS: RecordInput[] = [
  { key: utf8('k0'), value: utf8('v0'), timestamp: 1_700_000_000_000 },
  { key: null, value: utf8('value-1'), timestamp: 1_700_000_000_005, headers: [{ key: 'h', value: utf8('x') }] },
]
const GOLDEN_OPTIONS = { baseOffset: 5, partitionLeaderEpoch: 7, producerId: 1000, producerEpoch: 2, baseSequence: 10 }

t.test('golden batch: built byte for byte', async (t) => {
  t.equal(GOLDEN.length, 90)
  t.equal(crc32cBitwise(GOLDEN.subarray(21)), 0x2147d0c4, 'the hand-written CRC is the CRC-32C of attributes..end')
  t.equal(toHex(buildRecordBatch(GOLDEN_RECORDS, GOLDEN_OPTIONS)), toHex(GOLDEN))
})

t.test('golden batch: decoded', async (t) => {
  const b = decodeRecordBatch(GOLDEN)
  t.match(b, {
    baseOffset: 5,
    batchLength: 78,
    sizeInBytes: 90,
    partitionLeaderEpoch: 7,
    magic: 2,
    crc: 0x2147d0c4,
    attributes: 0,
    compression: Compression.none,
    timestampType: TimestampType.CreateTime,
    isTransactional: false,
    isControl: false,
    deleteHorizonMs: null,
    lastOffsetDelta: 1,
    lastOffset: 6,
    nextOffset: 7,
    baseTimestamp: 1_700_000_000_000,
    maxTimestamp: 1_700_000_000_005,
    producerId: 1000,
    producerEpoch: 2,
    baseSequence: 10,
    recordsCount: 2,
  })
  t.same(b.records, [
    { offset: 5, timestamp: 1_700_000_000_000, key: utf8('k0'), value: utf8('v0'), headers: [] },
    { offset: 6, timestamp: 1_700_000_000_005, key: null, value: utf8('value-1'), headers: [{ key: 'h', value: utf8('x') }] },
  ])
  t.equal(b.records[0]!.value!.buffer, GOLDEN.buffer, 'uncompressed values are views into the batch')
})

t.test('the broker patches baseOffset and partitionLeaderEpoch without touching the CRC', async (t) => {
  const buf = GOLDEN.slice()
  const h = new BatchHeader(buf)
  h.baseOffset = 2 ** 40
  h.partitionLeaderEpoch = 12
  t.equal(h.crc, 0x2147d0c4)
  t.ok(h.isCrcValid(), 'both fields lie outside the CRC')
  const b = decodeRecordBatch(buf)
  t.equal(b.baseOffset, 2 ** 40)
  t.equal(b.partitionLeaderEpoch, 12)
  t.same(b.records.map((r) => r.offset), [2 ** 40, 2 ** 40 + 1])
})

t.test('a batch inside a larger buffer', async (t) => {
  const buf = new Uint8Array(200)
  buf.set(GOLDEN, 37)
  const b = decodeRecordBatch(buf, 37)
  t.equal(b.records.length, 2)
  t.equal(b.records[1]!.offset, 6)
  t.same(b.records[1]!.value, utf8('value-1'))
})

const CODECS = [Compression.none, Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd]

function sampleRecords(n: number, base = 1_700_000_000_000): RecordInput[] {
  return Array.from({ length: n }, (_, i) => ({
    key: i % 5 === 0 ? null : i % 7 === 0 ? new Uint8Array(0) : utf8(`key-${i % 13}`),
    value: i % 11 === 0 ? null : utf8(`{"n":${i},"text":"${'lorem ipsum '.repeat(i % 4)}"}`),
    // Out of order on purpose: deltas from the first record's timestamp go negative.
    timestamp: base + ((i * 37) % 101) - 50,
    headers: i % 3 === 0 ? [{ key: 'trace', value: utf8(String(i)) }, { key: 'nullable', value: null }] : [],
  }))
}

function expectRecords(t: Test, batch: RecordBatch, input: RecordInput[], baseOffset: number, logAppendTime?: number): void {
  t.equal(batch.records.length, input.length)
  let bad = 0
  batch.records.forEach((r, i) => {
    const want = input[i]!
    const ok =
      r.offset === baseOffset + i &&
      r.timestamp === (logAppendTime ?? want.timestamp) &&
      toHex(r.key ?? utf8('<null>')) === toHex(want.key ?? utf8('<null>')) &&
      (r.key === null) === (want.key === null) &&
      (r.value === null) === (want.value === null) &&
      toHex(r.value ?? new Uint8Array(0)) === toHex(want.value ?? new Uint8Array(0)) &&
      JSON.stringify(r.headers.map((h) => [h.key, h.value && toHex(h.value)])) === JSON.stringify((want.headers ?? []).map((h) => [h.key, h.value && toHex(h.value)]))
    if (!ok) bad++
  })
  t.equal(bad, 0, 'every record comes back as written')
}

t.test('round trip: every codec and every attribute combination', async (t) => {
  const records = sampleRecords(40)
  const maxTs = Math.max(...records.map((r) => r.timestamp!))
  let combos = 0
  for (const compression of CODECS) {
    for (const logAppend of [false, true]) {
      for (const isTransactional of [false, true]) {
        for (const isControl of [false, true]) {
          for (const deleteHorizon of [false, true]) {
            const options = {
              baseOffset: 1234,
              partitionLeaderEpoch: 3,
              producerId: isTransactional ? 77 : -1,
              producerEpoch: isTransactional ? 4 : -1,
              baseSequence: isTransactional ? 500 : -1,
              isTransactional,
              isControl,
              compression,
              timestampType: logAppend ? TimestampType.LogAppendTime : TimestampType.CreateTime,
              logAppendTime: logAppend ? 1_800_000_000_000 : undefined,
              deleteHorizonMs: deleteHorizon ? 1_600_000_000_000 : undefined,
            }
            const buf = buildRecordBatch(records, options)
            const name = `codec ${compression} logAppend ${logAppend} txn ${isTransactional} control ${isControl} horizon ${deleteHorizon}`
            const { problem } = scanBatches(buf, 0, buf.length, {})
            if (problem) t.fail(`${name}: ${JSON.stringify(problem)}`)
            const b = decodeRecordBatch(buf)
            const attributes = compression | (logAppend ? 8 : 0) | (isTransactional ? 0x10 : 0) | (isControl ? 0x20 : 0) | (deleteHorizon ? 0x40 : 0)
            const header = {
              attributes,
              compression,
              timestampType: options.timestampType,
              isTransactional,
              isControl,
              deleteHorizonMs: deleteHorizon ? 1_600_000_000_000 : null,
              baseTimestamp: deleteHorizon ? 1_600_000_000_000 : records[0]!.timestamp,
              maxTimestamp: logAppend ? 1_800_000_000_000 : maxTs,
              producerId: options.producerId,
              producerEpoch: options.producerEpoch,
              baseSequence: options.baseSequence,
              baseOffset: 1234,
              lastOffset: 1234 + 39,
              partitionLeaderEpoch: 3,
              recordsCount: 40,
            }
            const got = Object.fromEntries(Object.keys(header).map((k) => [k, b[k as keyof RecordBatch]]))
            if (JSON.stringify(got) !== JSON.stringify(header)) t.same(got, header, name)
            expectRecords(t, b, records, 1234, logAppend ? 1_800_000_000_000 : undefined)
            combos++
          }
        }
      }
    }
  }
  t.equal(combos, 80)
})

t.test('round trip: large batches through every codec', async (t) => {
  const records = sampleRecords(5000)
  records.push({ key: utf8('big'), value: new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff), timestamp: 1 })
  const plain = buildRecordBatch(records, { compression: Compression.none, baseOffset: 9 })
  for (const compression of CODECS) {
    const buf = buildRecordBatch(records, { compression, baseOffset: 9 })
    if (compression !== Compression.none) t.ok(buf.length < plain.length, `codec ${compression} shrinks ${plain.length} bytes to ${buf.length}`)
    expectRecords(t, decodeRecordBatch(buf), records, 9)
  }
})

t.test('compression level is passed to gzip and zstd', async (t) => {
  const records = sampleRecords(500)
  for (const compression of [Compression.gzip, Compression.zstd]) {
    const fast = buildRecordBatch(records, { compression, compressionLevel: 1 })
    const best = buildRecordBatch(records, { compression, compressionLevel: compression === Compression.gzip ? 9 : 19 })
    t.ok(best.length <= fast.length, `codec ${compression}: level 1 ${fast.length} bytes, max ${best.length}`)
    expectRecords(t, decodeRecordBatch(best), records, 0)
  }
})

t.test('defaults', async (t) => {
  const b = decodeRecordBatch(buildRecordBatch([{ value: utf8('a') }, { key: utf8('k') }]))
  t.match(b, {
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    producerId: -1,
    producerEpoch: -1,
    baseSequence: -1,
    attributes: 0,
    baseTimestamp: NO_TIMESTAMP,
    maxTimestamp: NO_TIMESTAMP,
  })
  t.same(b.records.map((r) => [r.offset, r.timestamp, r.key, r.value, r.headers]), [
    [0, -1, null, utf8('a'), []],
    [1, -1, utf8('k'), null, []],
  ])
  const stamped = decodeRecordBatch(buildRecordBatch([{ value: utf8('a') }, { value: utf8('b'), timestamp: 7 }], { timestamp: 1000 }))
  t.equal(stamped.baseTimestamp, 1000, 'options.timestamp stands in for a missing record timestamp')
  t.equal(stamped.maxTimestamp, 1000)
  t.same(stamped.records.map((r) => r.timestamp), [1000, 7])
})

t.test('explicit offsets: gaps as compaction leaves them', async (t) => {
  const buf = buildRecordBatch(
    [
      { offset: 100, value: utf8('a'), timestamp: 1 },
      { offset: 103, value: utf8('b'), timestamp: 2 },
      { value: utf8('c'), timestamp: 3 }, // follows the previous one
      { offset: 110, value: utf8('d'), timestamp: 4 },
    ],
    { baseOffset: 100, lastOffsetDelta: 12 },
  )
  const b = decodeRecordBatch(buf)
  t.same(b.records.map((r) => r.offset), [100, 103, 104, 110])
  t.equal(b.lastOffsetDelta, 12, 'the cleaner keeps the original last offset')
  t.equal(b.nextOffset, 113)
  t.same(batchRecordTimestamps(buf), [
    { offset: 100, timestamp: 1 },
    { offset: 103, timestamp: 2 },
    { offset: 104, timestamp: 3 },
    { offset: 110, timestamp: 4 },
  ])
})

t.test('an empty batch keeps producer state', async (t) => {
  const buf = buildRecordBatch([], { baseOffset: 50, lastOffsetDelta: 4, producerId: 9, producerEpoch: 1, baseSequence: 20 })
  t.equal(buf.length, 61)
  const b = decodeRecordBatch(buf)
  t.match(b, { recordsCount: 0, lastOffset: 54, producerId: 9, baseSequence: 20, baseTimestamp: -1, maxTimestamp: -1 })
  t.same(b.records, [])
  t.equal(decodeRecordBatch(buildRecordBatch([])).lastOffsetDelta, 0)
  for (const compression of CODECS) t.same(decodeRecordBatch(buildRecordBatch([], { compression })).records, [], `empty, codec ${compression}`)
})

t.test('building rejects what Kafka would not write', async (t) => {
  t.throws(() => buildRecordBatch([{ offset: 5 }, { offset: 5 }], { baseOffset: 0 }), RangeError, 'repeated offset')
  t.throws(() => buildRecordBatch([{ offset: 5 }, { offset: 4 }], { baseOffset: 0 }), RangeError, 'decreasing offset')
  t.throws(() => buildRecordBatch([{ offset: 4 }], { baseOffset: 5 }), RangeError, 'offset below baseOffset')
  t.throws(() => buildRecordBatch([{ offset: 2 ** 31 }], { baseOffset: 0 }), RangeError, 'offset delta beyond int32')
  t.throws(() => buildRecordBatch([{ offset: 1.5 }], { baseOffset: 0 }), RangeError, 'fractional offset')
  t.throws(() => buildRecordBatch([{ timestamp: 1.5 }]), RangeError, 'fractional timestamp')
  t.throws(() => buildRecordBatch([{ offset: 3 }], { lastOffsetDelta: 2 }), RangeError, 'lastOffsetDelta below the last record')
  t.throws(() => buildRecordBatch([], { lastOffsetDelta: 2 ** 31 }), RangeError, 'lastOffsetDelta beyond int32')
  t.throws(() => buildRecordBatch([{}], { timestampType: TimestampType.LogAppendTime }), TypeError, 'LogAppendTime without a time')
  t.throws(() => buildRecordBatch([{}], { compression: 6 as Compression }), RangeError, 'unknown codec')
})

t.test('LogAppendTime: every record reads the batch maxTimestamp', async (t) => {
  const buf = buildRecordBatch(
    [{ value: utf8('a'), timestamp: 10 }, { value: utf8('b'), timestamp: 20 }],
    { timestampType: TimestampType.LogAppendTime, logAppendTime: 999, compression: Compression.lz4 },
  )
  const b = decodeRecordBatch(buf)
  t.equal(b.maxTimestamp, 999)
  t.equal(b.baseTimestamp, 10, 'the create times stay in the bytes')
  t.same(b.records.map((r) => r.timestamp), [999, 999])
  t.same(batchRecordTimestamps(buf).map((r) => r.timestamp), [999, 999])
})

/** A copy of `buf` changed by `edit`, with its CRC recomputed so that only the edit is wrong. */
function tamper(buf: Uint8Array, edit: (dv: DataView, buf: Uint8Array) => void): Uint8Array {
  const copy = buf.slice()
  edit(new DataView(copy.buffer), copy)
  new BatchHeader(copy).updateCrc()
  return copy
}

t.test('decoding rejects corrupt batches', async (t) => {
  const gz = buildRecordBatch(sampleRecords(20), { compression: Compression.gzip })
  const cases: [string, Uint8Array, RegExp][] = [
    ['fewer than 12 bytes', GOLDEN.subarray(0, 10), /cut short \(10 of 12 bytes\)/],
    ['cut short', GOLDEN.subarray(0, 89), /cut short \(89 of 90 bytes\)/],
    ['length below the header size', tamper(GOLDEN, (dv) => dv.setInt32(8, 40)), /impossible length 40/],
    ['bad magic', tamper(GOLDEN, (dv) => dv.setInt8(16, 1)), /magic 1/],
    ['bad CRC', (() => { const b = GOLDEN.slice(); b[80]! ^= 1; return b })(), /fails its CRC/],
    ['negative lastOffsetDelta', tamper(GOLDEN, (dv) => dv.setInt32(LAST_OFFSET_DELTA, -1)), /bad offsets/],
    ['unknown codec', tamper(GOLDEN, (dv) => dv.setInt16(ATTRIBUTES, 5)), /unknown compression type id 5/],
    ['negative record count', tamper(GOLDEN, (dv) => dv.setInt32(RECORDS_COUNT, -1)), /claims -1 records/],
    ['record count beyond the bytes', tamper(GOLDEN, (dv) => dv.setInt32(RECORDS_COUNT, 5)), /claims 5 records in 29 bytes/],
    ['record count too small', tamper(GOLDEN, (dv) => dv.setInt32(RECORDS_COUNT, 1)), /18 bytes after its last record/],
    ['a record cut by the batch end', tamper(GOLDEN, (_, b) => (b[61 + 11] = 0x24)), /claims 18 bytes/],
    ['corrupt gzip payload', tamper(gz, (_, b) => b.fill(0x55, 70, 90)), /gzip decompression failed/],
  ]
  for (const [what, buf, message] of cases) {
    t.throws(() => decodeRecordBatch(buf), { name: 'CorruptRecordError', message }, what)
  }
  const badCrc = GOLDEN.slice()
  badCrc[CRC]! ^= 0xff
  t.throws(() => decodeRecordBatch(badCrc), CorruptRecordError)
  t.equal(decodeRecordBatch(badCrc, 0, { skipCrc: true }).records.length, 2, 'skipCrc reads it anyway')
})

t.test('batchRecordTimestamps checks structure', async (t) => {
  t.same(batchRecordTimestamps(GOLDEN), [
    { offset: 5, timestamp: 1_700_000_000_000 },
    { offset: 6, timestamp: 1_700_000_000_005 },
  ])
  const inside = new Uint8Array(100)
  inside.set(GOLDEN, 10)
  t.same(batchRecordTimestamps(inside, 10).map((r) => r.offset), [5, 6])
  t.throws(() => batchRecordTimestamps(tamper(GOLDEN, (_, b) => (b[61 + 11] = 0x24))), { message: /claims 18 bytes/ })
  t.throws(() => batchRecordTimestamps(tamper(GOLDEN, (_, b) => (b[61 + 11] = 0x01))), { message: /claims -1 bytes/ })
  t.throws(() => batchRecordTimestamps(tamper(GOLDEN, (dv) => dv.setInt32(RECORDS_COUNT, 1))), { message: /after its last record/ })
  const badCrc = GOLDEN.slice()
  badCrc[CRC]! ^= 0xff
  t.equal(batchRecordTimestamps(badCrc).length, 2, 'a verified batch is not CRC-checked again')
})

t.test('iterating the batches of a byte range', async (t) => {
  const second = buildRecordBatch(sampleRecords(3), { baseOffset: 7, compression: Compression.snappy })
  const third = buildRecordBatch([{ value: utf8('z'), timestamp: 5 }], { baseOffset: 10 })
  const all = new Uint8Array(5 + GOLDEN.length + second.length + third.length)
  all.set(GOLDEN, 5)
  all.set(second, 5 + GOLDEN.length)
  all.set(third, 5 + GOLDEN.length + second.length)
  const offsets = (it: Iterable<RecordBatch>) => [...it].map((b) => b.baseOffset)

  t.same(offsets(iterateRecordBatches(all, 5)), [5, 7, 10])
  t.same(offsets(iterateRecordBatches(all, 5, all.length + 100)), [5, 7, 10], 'an end past the buffer is clamped')
  t.same(offsets(iterateRecordBatches(all, 5 + GOLDEN.length)), [7, 10])
  t.same(offsets(iterateRecordBatches(all, 5, 5)), [])

  const cut = all.length - 3
  t.throws(() => offsets(iterateRecordBatches(all, 5, cut)), { name: 'CorruptRecordError', message: /cut short/ }, 'a partial last batch')
  t.same(offsets(iterateRecordBatches(all, 5, cut, { stopAtPartialBatch: true })), [5, 7], 'a fetch response may end in a partial batch')
  t.same(offsets(iterateRecordBatches(all, 5, all.length - third.length + 6, { stopAtPartialBatch: true })), [5, 7], 'less than a length field left')

  const seen: number[] = []
  const broken = all.slice()
  broken[5 + GOLDEN.length + 30]! ^= 1
  t.throws(() => {
    for (const b of iterateRecordBatches(broken, 5)) seen.push(b.baseOffset)
  }, { message: /fails its CRC/ })
  t.same(seen, [5], 'the batches before a bad one are delivered')
  t.same(offsets(iterateRecordBatches(broken, 5, broken.length, { skipCrc: true })), [5, 7, 10])

  const badLength = tamper(GOLDEN, (dv) => dv.setInt32(8, 3))
  t.throws(() => offsets(iterateRecordBatches(badLength, 0, badLength.length, { stopAtPartialBatch: true })), { message: /impossible length/ }, 'an impossible length is corruption, not a partial batch')
})
