import t from 'tap'
import {
  BATCH_HEADER_SIZE,
  BatchHeader,
  describeBatchProblem,
  LOG_OVERHEAD,
  scanBatches,
  type BatchProblem,
} from '../../src/record/batch-header.ts'
import { Compression } from '../../src/record/compression/index.ts'
import { buildRecordBatch, TimestampType } from '../../src/record/record-batch.ts'

const utf8 = (s: string) => new TextEncoder().encode(s)

const A = buildRecordBatch([{ value: utf8('a'), timestamp: 10 }, { value: utf8('b'), timestamp: 30 }], {
  baseOffset: 100,
  partitionLeaderEpoch: 4,
  producerId: 7,
  producerEpoch: 2,
  baseSequence: 11,
  isTransactional: true,
  compression: Compression.gzip,
})
const B = buildRecordBatch([{ value: utf8('c'), timestamp: 40 }], {
  baseOffset: 102,
  isControl: true,
  timestampType: TimestampType.LogAppendTime,
  logAppendTime: 50,
})

t.test('header fields', async (t) => {
  const h = new BatchHeader(A)
  t.match(h, {
    baseOffset: 100,
    batchLength: A.length - LOG_OVERHEAD,
    sizeInBytes: A.length,
    partitionLeaderEpoch: 4,
    magic: 2,
    compression: Compression.gzip,
    isTransactional: true,
    isControl: false,
    timestampIsLogAppend: false,
    lastOffsetDelta: 1,
    lastOffset: 101,
    nextOffset: 102,
    baseTimestamp: 10,
    maxTimestamp: 30,
    producerId: 7,
    producerEpoch: 2,
    baseSequence: 11,
    recordsCount: 2,
  })
  t.equal(h.attributes, 0x11)
  t.ok(h.isCrcValid())
  const hb = new BatchHeader(B)
  t.ok(hb.isControl)
  t.ok(hb.timestampIsLogAppend)
  t.equal(hb.maxTimestamp, 50)
})

t.test('patching and CRC', async (t) => {
  const buf = A.slice()
  const h = new BatchHeader(buf)
  h.baseOffset = 5000
  h.partitionLeaderEpoch = 9
  t.ok(h.isCrcValid(), 'baseOffset and partitionLeaderEpoch are outside the CRC')
  buf[30]! ^= 1
  t.notOk(h.isCrcValid())
  h.updateCrc()
  t.ok(h.isCrcValid())
})

t.test('scanning a range of batches', async (t) => {
  const all = new Uint8Array(3 + A.length + B.length)
  all.set(A, 3)
  all.set(B, 3 + A.length)
  const seen: [number, number][] = []
  t.same(scanBatches(all, 3, all.length, {}, (at, h) => seen.push([at, h.baseOffset])), { validEnd: all.length, problem: null })
  t.same(seen, [[3, 100], [3 + A.length, 102]])
  t.same(scanBatches(all, 3, all.length, {}), { validEnd: all.length, problem: null }, 'without a callback')

  const problems: [string, Uint8Array, Partial<BatchProblem>][] = [
    ['short of a length field', all.subarray(0, 3 + A.length + 5), { kind: 'truncated', needed: LOG_OVERHEAD, have: 5 }],
    ['cut short', all.subarray(0, all.length - 1), { kind: 'truncated', needed: B.length, have: B.length - 1 }],
  ]
  for (const [what, buf, problem] of problems) {
    const r = scanBatches(buf, 3, buf.length, {})
    t.equal(r.validEnd, 3 + A.length, what)
    t.match(r.problem, problem, what)
  }
  const bad = all.slice()
  new DataView(bad.buffer).setInt32(3 + A.length + 8, 10)
  t.match(scanBatches(bad, 3, bad.length, {}).problem, { kind: 'bad-length', batchLength: 10 })
  t.match(scanBatches(all, 3, all.length, { maxBatchBytes: A.length - 1 }).problem, { kind: 'bad-length', at: 3 }, 'larger than message.max.bytes')
  const magic = all.slice()
  magic[3 + 16] = 1
  t.match(scanBatches(magic, 3, magic.length, {}).problem, { kind: 'bad-magic', magic: 1 })
  const crc = all.slice()
  crc[3 + A.length + 40]! ^= 1
  t.match(scanBatches(crc, 3, crc.length, {}).problem, { kind: 'bad-crc', at: 3 + A.length })
  t.equal(scanBatches(crc, 3, crc.length, { skipCrc: true }).problem, null)
  const offsets = all.slice()
  new DataView(offsets.buffer).setInt32(3 + 23, -1)
  t.match(scanBatches(offsets, 3, offsets.length, { skipCrc: true }).problem, { kind: 'bad-offsets', detail: 'lastOffsetDelta -1' })
  t.equal(BATCH_HEADER_SIZE, 61)
})

t.test('describing problems', async (t) => {
  t.match(describeBatchProblem({ kind: 'truncated', at: 5, needed: 61, have: 20 }), /byte 5 is cut short \(20 of 61 bytes\)/)
  t.match(describeBatchProblem({ kind: 'bad-length', at: 5, batchLength: -3 }), /impossible length -3/)
  t.match(describeBatchProblem({ kind: 'bad-magic', at: 5, magic: 1 }), /magic 1, expected 2/)
  t.match(describeBatchProblem({ kind: 'bad-crc', at: 5, expected: 1, actual: 2 }), /fails its CRC \(stored 1, computed 2\)/)
  t.match(describeBatchProblem({ kind: 'bad-offsets', at: 5, detail: 'x' }), /bad offsets \(x\)/)
  t.throws(() => describeBatchProblem({ kind: 'nonsense' } as unknown as BatchProblem), /unknown batch problem/)
})
