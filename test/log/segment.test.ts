import * as fs from 'node:fs'
import t from 'tap'
import { FsStorage } from '../../src/log/fs-storage.ts'
import { parseSegmentFileName, Segment, segmentFileName } from '../../src/log/segment.ts'
import { buildRecordBatch } from '../../src/record/record-batch.ts'
import { SimStorage } from '../../src/sim/sim-storage.ts'

const enc = new TextEncoder()
const settings = { indexIntervalBytes: 100, maxIndexBytes: 1024 }

function batchAt(baseOffset: number, n = 2, valueBytes = 10, ts = 1000): Uint8Array {
  return buildRecordBatch(Array.from({ length: n }, (_, i) => ({ value: new Uint8Array(valueBytes).fill(65 + i), timestamp: ts + i })), { baseOffset })
}

function appendAt(seg: Segment, baseOffset: number, n = 2, valueBytes = 10, ts = 1000): void {
  const bytes = batchAt(baseOffset, n, valueBytes, ts)
  seg.append(bytes, [{ position: 0, baseOffset, lastOffset: baseOffset + n - 1, maxTimestamp: ts + n - 1, size: bytes.length, partitionLeaderEpoch: -1 }])
}

t.test('file names are the base offset in 20 digits', async (t) => {
  t.equal(segmentFileName(42, '.log'), '00000000000000000042.log')
  t.equal(parseSegmentFileName('00000000000000000042.log', '.log'), 42)
  t.equal(parseSegmentFileName('42.log', '.log'), null)
  t.equal(parseSegmentFileName('00000000000000000042.index', '.log'), null)
})

t.test('an empty segment counts as new for retention', async (t) => {
  const seg = Segment.create(new SimStorage(), '/', 0, settings, 5000)
  t.equal(seg.largestTimestamp(9999), 9999)
  t.equal(seg.timeWaitedForRoll(7000, 123), 2000, 'no first batch yet: time since creation')
  appendAt(seg, 0, 2, 10, 3000)
  t.equal(seg.largestTimestamp(9999), 3001)
  t.equal(seg.timeWaitedForRoll(7000, 4001), 1000, 'from the first batch\'s max timestamp')
})

t.test('appending offsets that go backwards is an invariant violation', async (t) => {
  const seg = Segment.create(new SimStorage(), '/', 0, settings, 0)
  appendAt(seg, 0, 3)
  t.throws(() => appendAt(seg, 1, 1), /invariant: offsets only grow/)
})

t.test('reads: large batches, small buffers, sparse indexes', async (t) => {
  const storage = new SimStorage()
  const seg = Segment.create(storage, '/', 0, { indexIntervalBytes: 1 << 20, maxIndexBytes: 1024 }, 0)
  // No index entries at all (interval 1 MiB): every read walks from position 0.
  for (let i = 0; i < 200; i++) appendAt(seg, i * 2, 2, 40)
  t.equal(seg.offsetIndex.entries, 0)
  const far = seg.read(300, 500, seg.size, true)!
  t.equal(far.first.baseOffset, 300, 'a target past the first read is found by reading on')
  t.ok(far.bytes.length <= 500)
  t.equal(far.nextOffset, 300 + (far.bytes.length / batchAt(0, 2, 40).length) * 2)
  t.equal(seg.read(400, 500, seg.size, true), null, 'past the end: nothing')
  const small = new Uint8Array(10)
  const viaSmall = seg.read(0, 200, seg.size, true, small)!
  t.not(viaSmall.bytes.buffer, small.buffer, 'a buffer too small is not used')
  const big = new Uint8Array(64 << 10)
  const viaBig = seg.read(0, 200, seg.size, true, big)!
  t.equal(viaBig.bytes.buffer, big.buffer, 'a buffer large enough is read into')

  storage.mkdirp('/h')
  const huge = Segment.create(storage, '/h', 0, settings, 0)
  appendAt(huge, 0, 2, 20_000) // a 40 KB batch: larger than one header-walk read
  appendAt(huge, 2, 1, 10)
  const first = huge.read(0, 100, huge.size, true)!
  t.equal(first.bytes.length, batchAt(0, 2, 20_000).length, 'the whole first batch although larger than maxBytes')
  t.equal(first.nextOffset, 2)
  t.same(huge.read(0, 100, huge.size, false)!.bytes.length, 0, 'nothing when one batch is not allowed')
  const withBuffer = huge.read(0, 100, huge.size, true, new Uint8Array(100_000))!
  t.equal(withBuffer.bytes.length, first.bytes.length)
  t.equal(huge.read(2, 100, huge.size, true)!.first.baseOffset, 2, 'a read past a huge batch')
})

t.test('sanity checks name the broken index', async (t) => {
  const dir = t.testdir()
  const storage = new FsStorage()
  const seg = Segment.create(storage, dir, 0, { indexIntervalBytes: 10, maxIndexBytes: 1024 }, 0)
  for (let i = 0; i < 10; i++) appendAt(seg, i * 2)
  seg.close()
  t.equal(Segment.open(storage, dir, 0, settings, 0).sanityCheck(), null)
  // The log cut short behind the indexes' back: an index entry points past its end.
  const log = `${dir}/${segmentFileName(0, '.log')}`
  fs.truncateSync(log, 100)
  const cut = Segment.open(storage, dir, 0, settings, 0)
  t.match(cut.sanityCheck(), /\.index: points past the end of the log file/)
  cut.close()
  fs.writeFileSync(`${dir}/${segmentFileName(0, '.timeindex')}`, Buffer.alloc(24, 0xff))
  const badTime = Segment.open(storage, dir, 0, settings, 0)
  t.match(badTime.sanityCheck(), /\.timeindex: /)
  badTime.close()
})

t.test('a short read of a batch the index promised is an invariant violation', async (t) => {
  const dir = t.testdir()
  const storage = new FsStorage()
  const seg = Segment.create(storage, dir, 0, settings, 0)
  appendAt(seg, 0, 2, 50)
  fs.truncateSync(`${dir}/${segmentFileName(0, '.log')}`, 30)
  t.throws(() => seg.readBytes(0, 100), /invariant: short read/)
  t.throws(() => seg.loadTail(), /ends inside a batch header/)
  seg.close()
})

t.test('walking garbage stops with the position', async (t) => {
  const storage = new SimStorage()
  const seg = Segment.create(storage, '/', 0, settings, 0)
  appendAt(seg, 0)
  const file = storage.open(`/${segmentFileName(0, '.log')}`)
  file.append(new Uint8Array(80).fill(7))
  file.close()
  const again = Segment.open(storage, '/', 0, settings, 0)
  t.throws(() => again.loadTail(), /holds no whole batch at byte \d+/)
})

t.test('recovery: offsets that go backwards end the valid part', async (t) => {
  const storage = new SimStorage()
  const seg = Segment.create(storage, '/', 10, settings, 0)
  appendAt(seg, 10)
  appendAt(seg, 12)
  const file = storage.open(`/${segmentFileName(10, '.log')}`)
  const dup = batchAt(11)
  file.append(dup)
  file.append(batchAt(20))
  file.close()
  const again = Segment.open(storage, '/', 10, settings, 0)
  const result = again.recover(10)
  t.equal(result.problem?.kind, 'bad-offsets')
  t.match(result.problem, { detail: /batch 11..12 does not follow 13/ })
  t.equal(result.validBytes, batchAt(10).length * 2)
  t.equal(again.nextOffset, 14)
  const below = Segment.open(storage, '/', 10, settings, 0)
  t.equal(below.recover(100).problem?.kind, 'bad-offsets', 'a segment must continue its predecessor')
})

t.test('recovery reads a batch larger than its chunk on its own', async (t) => {
  const storage = new SimStorage()
  const seg = Segment.create(storage, '/', 0, settings, 0)
  appendAt(seg, 0, 1, 5 << 20) // 5 MiB: larger than recovery's 4 MiB chunk
  appendAt(seg, 1, 2, 10)
  seg.close()
  const again = Segment.open(storage, '/', 0, settings, 0)
  const result = again.recover(0)
  t.equal(result.problem, null)
  t.equal(again.nextOffset, 3)
  // A torn tail whose length field promises more than the file holds.
  const file = storage.open(`/${segmentFileName(0, '.log')}`)
  const torn = batchAt(3, 1, 5 << 20).subarray(0, 100)
  file.append(torn)
  file.close()
  const tornSeg = Segment.open(storage, '/', 0, settings, 0)
  const tornResult = tornSeg.recover(0)
  t.equal(tornResult.problem?.kind, 'truncated')
  t.equal(tornResult.truncatedBytes, 100)
  t.equal(tornSeg.nextOffset, 3)
})

t.test('a failed append is taken back', async (t) => {
  const storage = new SimStorage()
  const seg = Segment.create(storage, '/', 0, settings, 0)
  appendAt(seg, 0)
  const size = seg.size
  appendAt(seg, 2)
  seg.undoAppend(size, 2)
  t.equal(seg.size, size)
  t.equal(seg.nextOffset, 2)
  t.equal(enc.encode('x').length, 1)
})
