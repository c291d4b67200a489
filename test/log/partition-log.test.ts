import t from 'tap'
import { KafkaStorageError, CorruptRecordError, InvalidRecordError, OffsetOutOfRangeError, RecordTooLargeError, UnexpectedAppendOffsetError } from '../../src/log/errors.ts'
import { FsStorage } from '../../src/log/fs-storage.ts'
import { logConfig, type LogConfig } from '../../src/log/log-config.ts'
import { PartitionLog } from '../../src/log/partition-log.ts'
import { segmentFileName } from '../../src/log/segment.ts'
import { BatchHeader } from '../../src/record/batch-header.ts'
import { Compression } from '../../src/record/compression/index.ts'
import { buildRecordBatch, iterateRecordBatches } from '../../src/record/record-batch.ts'
import { ManualClock } from '../../src/runtime/clock.ts'
import { RecordingLogger } from '../../src/runtime/logger.ts'
import { SimStorage } from '../../src/sim/sim-storage.ts'

const enc = new TextEncoder()
const dec = new TextDecoder()

/** A batch of `n` records "<prefix>-<i>" with timestamps from `ts`, offsets relative 0..n-1. */
function batch(n: number, prefix = 'v', ts = 1_000, options: Parameters<typeof buildRecordBatch>[1] = {}): Uint8Array {
  const records = Array.from({ length: n }, (_, i) => ({ key: enc.encode(`k${i}`), value: enc.encode(`${prefix}-${i}`), timestamp: ts + i }))
  return buildRecordBatch(records, options)
}

/** Every record in the bytes, as "offset:value". */
function values(bytes: Uint8Array): string[] {
  const out: string[] = []
  for (const b of iterateRecordBatches(bytes)) for (const r of b.records) out.push(`${r.offset}:${r.value ? dec.decode(r.value) : 'null'}`)
  return out
}

function readAll(log: PartitionLog, from = log.logStartOffset): string[] {
  const out: string[] = []
  let next = from
  while (next < log.logEndOffset) {
    const got = log.read(next, 1 << 20)
    const vals = values(got.records)
    if (vals.length === 0) break
    for (const v of vals) {
      const offset = Number(v.split(':')[0])
      if (offset >= next) out.push(v)
    }
    let last = next
    for (const b of iterateRecordBatches(got.records)) last = b.lastOffset
    if (got.nextOffset !== last + 1) throw new Error(`nextOffset ${got.nextOffset} but the last batch ends at ${last}`)
    next = got.nextOffset
  }
  return out
}

function open(storage: SimStorage | FsStorage, dir: string, clock: ManualClock, config: Partial<Record<keyof LogConfig, number | string>> = {}, extra: Partial<Parameters<typeof PartitionLog.open>[0]> = {}) {
  return PartitionLog.open({ storage, dir, clock, config: logConfig(config), ...extra })
}

t.test('append assigns offsets from the log end offset and reads back whole batches', async (t) => {
  const storage = new SimStorage()
  const clock = new ManualClock()
  const log = open(storage, '/d/t-0', clock)
  t.equal(log.logEndOffset, 0)
  const a = log.append(batch(3, 'a'), { leaderEpoch: 5 })
  t.match(a, { firstOffset: 0, lastOffset: 2, batches: 1, records: 3, logAppendTime: -1, maxTimestamp: 1002, offsetOfMaxTimestamp: 2, logStartOffset: 0 })
  const b = log.append(batch(2, 'b', 2_000), { leaderEpoch: 5 })
  t.match(b, { firstOffset: 3, lastOffset: 4 })
  t.equal(log.logEndOffset, 5)
  t.same(readAll(log), ['0:a-0', '1:a-1', '2:a-2', '3:b-0', '4:b-1'])
  // A read from inside a batch starts with the batch that holds the offset.
  const mid = log.read(4, 1 << 20)
  t.equal(mid.firstBatchOffset, 3)
  t.same(values(mid.records), ['3:b-0', '4:b-1'])
  const h = new BatchHeader(mid.records)
  t.equal(h.partitionLeaderEpoch, 5, 'leader epoch stamped')
  t.ok(h.isCrcValid(), 'the CRC still holds: offsets and epoch are outside it')
  t.same(log.leaderEpochCache.entries(), [{ epoch: 5, startOffset: 0 }])
  log.append(batch(1, 'c'), { leaderEpoch: 7 })
  t.same(log.leaderEpochCache.entries(), [{ epoch: 5, startOffset: 0 }, { epoch: 7, startOffset: 5 }])
  // At the log end: nothing, no error.
  t.equal(log.read(6, 100).records.length, 0)
  t.equal(log.read(6, 100).firstBatchOffset, -1)
  log.close()
})

t.test('several batches in one append are stored as sent and get consecutive offsets', async (t) => {
  const log = open(new SimStorage(), '/d/t-0', new ManualClock())
  const one = batch(2, 'x')
  const two = batch(3, 'y')
  const both = new Uint8Array(one.length + two.length)
  both.set(one)
  both.set(two, one.length)
  const info = log.append(both)
  t.match(info, { firstOffset: 0, lastOffset: 4, batches: 2, records: 5, bytes: both.length })
  const got = log.read(0, 1 << 20).records
  t.same(values(got), ['0:x-0', '1:x-1', '2:y-0', '3:y-1', '4:y-2'])
  // Byte for byte what the producer sent, but for baseOffset (bytes 0..7 of each batch).
  t.same(Buffer.from(got.subarray(8, one.length)), Buffer.from(one.subarray(8)))
  t.same(Buffer.from(got.subarray(one.length + 8)), Buffer.from(two.subarray(8)))
})

t.test('maxBytes, minOneBatch and maxOffset bound a read to whole batches', async (t) => {
  const log = open(new SimStorage(), '/d/t-0', new ManualClock())
  for (let i = 0; i < 5; i++) log.append(batch(2, `b${i}`))
  const size = batch(2, 'b0').length
  t.equal(log.read(0, size * 2 + 5).records.length, size * 2, 'only whole batches fit')
  t.equal(log.read(0, 10).records.length, size, 'at least one batch, as Kafka does')
  t.equal(log.read(0, 10, { minOneBatch: false }).records.length, 0)
  t.same(values(log.read(0, 1 << 20, { maxOffset: 4 }).records), ['0:b0-0', '1:b0-1', '2:b1-0', '3:b1-1'], 'nothing at or past maxOffset')
  t.equal(log.read(4, 1 << 20, { maxOffset: 4 }).records.length, 0)
  t.throws(() => log.read(11, 10), OffsetOutOfRangeError)
  t.throws(() => log.read(-1, 10), OffsetOutOfRangeError)
})

t.test('bad batches are refused and nothing is appended', async (t) => {
  const log = open(new SimStorage(), '/d/t-0', new ManualClock(), { 'max.message.bytes': 200 })
  log.append(batch(1))
  const corrupt = batch(2)
  corrupt[corrupt.length - 1] ^= 0xff
  t.throws(() => log.append(corrupt), CorruptRecordError)
  t.throws(() => log.append(corrupt), { errorCode: 2, message: /fails its CRC/ })
  const torn = batch(2).subarray(0, 40)
  t.throws(() => log.append(torn), { errorCode: 2, message: /cut short/ })
  t.throws(() => log.append(new Uint8Array(0)), { errorCode: 2, message: /no batches/ })
  t.throws(() => log.append(batch(20, 'a-long-value-to-pass-two-hundred-bytes')), RecordTooLargeError)
  const lying = buildRecordBatch([{ value: enc.encode('x') }], { lastOffsetDelta: 3 })
  t.throws(() => log.append(lying), InvalidRecordError)
  t.equal(log.logEndOffset, 1, 'no offset was used by a refused append')
  t.same(readAll(log), ['0:v-0'])
})

t.test('a follower append keeps the leader\'s offsets and refuses a gap backwards', async (t) => {
  const log = open(new SimStorage(), '/d/t-0', new ManualClock())
  log.append(batch(2, 'f', 1000, { baseOffset: 0, partitionLeaderEpoch: 3 }), { assignOffsets: false })
  log.append(batch(2, 'g', 1000, { baseOffset: 10, partitionLeaderEpoch: 4 }), { assignOffsets: false })
  t.equal(log.logEndOffset, 12)
  t.same(log.leaderEpochCache.entries(), [{ epoch: 3, startOffset: 0 }, { epoch: 4, startOffset: 10 }])
  t.throws(() => log.append(batch(1, 'h', 1000, { baseOffset: 11 }), { assignOffsets: false }), UnexpectedAppendOffsetError)
  t.same(values(log.read(5, 1000).records), ['10:g-0', '11:g-1'], 'a read in a gap finds the next batch')
})

t.test('LogAppendTime stamps the broker\'s clock and keeps the CRC valid', async (t) => {
  const clock = new ManualClock(5_000_000)
  const log = open(new SimStorage(), '/d/t-0', clock, { 'message.timestamp.type': 'LogAppendTime' })
  const info = log.append(batch(2))
  t.equal(info.logAppendTime, 5_000_000)
  const got = log.read(0, 1000).records
  t.ok(new BatchHeader(got).isCrcValid())
  t.ok(new BatchHeader(got).timestampIsLogAppend)
  t.same([...iterateRecordBatches(got)][0]!.records.map((r) => r.timestamp), [5_000_000, 5_000_000])
})

t.test('segments roll on segment.bytes, segment.ms and a full index, named by base offset', async (t) => {
  const storage = new SimStorage()
  const clock = new ManualClock()
  const size = batch(4, 'r0').length
  const log = open(storage, '/d/t-0', clock, { 'segment.bytes': size * 3 })
  for (let i = 0; i < 7; i++) log.append(batch(4, `r${i}`))
  t.same(log.segments.map((s) => s.baseOffset), [0, 12, 24])
  t.ok(storage.exists(`/d/t-0/${segmentFileName(12, '.log')}`))
  t.equal(segmentFileName(12, '.log'), '00000000000000000012.log')
  t.equal(readAll(log).length, 28)
  t.same(values(log.read(13, size).records), ['12:r3-0', '13:r3-1', '14:r3-2', '15:r3-3'])

  const timed = open(new SimStorage(), '/d/t-1', clock, { 'segment.ms': 1000 })
  timed.append(batch(1, 'a', 10_000))
  timed.append(batch(1, 'b', 10_500))
  timed.append(batch(1, 'c', 11_001)) // more than segment.ms after the first batch's timestamp
  t.same(timed.segments.map((s) => s.baseOffset), [0, 2])

  const indexed = open(new SimStorage(), '/d/t-2', clock, { 'segment.index.bytes': 32, 'index.interval.bytes': 0 })
  for (let i = 0; i < 12; i++) indexed.append(batch(1, `i${i}`))
  t.ok(indexed.segments.length > 1, 'a full index rolls the segment')
  t.equal(readAll(indexed).length, 12)
})

t.test('sparse index: random reads agree with a full scan', async (t) => {
  const log = open(new SimStorage(), '/d/t-0', new ManualClock(), { 'segment.bytes': 10_000, 'index.interval.bytes': 256 })
  let offset = 0
  for (let i = 0; i < 300; i++) {
    const n = 1 + (i % 5)
    log.append(batch(n, `s${i}`))
    offset += n
  }
  t.equal(log.logEndOffset, offset)
  t.ok(log.segments.length > 3)
  t.ok(log.segments[0]!.offsetIndex.entries > 5)
  const all = readAll(log)
  t.equal(all.length, offset)
  for (let target = 0; target < offset; target += 7) {
    const got = values(log.read(target, 1).records)
    t.ok(got.includes(all[target]!), `read(${target}) returns the batch holding it`)
  }
})

t.test('offsetForTimestamp finds the first record at or after a time', async (t) => {
  const log = open(new SimStorage(), '/d/t-0', new ManualClock(), { 'segment.bytes': 400, 'index.interval.bytes': 64 })
  for (let i = 0; i < 50; i++) log.append(batch(2, `t${i}`, 10_000 + i * 10)) // record timestamps 10000+10i, +1
  t.same(log.offsetForTimestamp(0), { offset: 0, timestamp: 10_000 })
  t.same(log.offsetForTimestamp(10_001), { offset: 1, timestamp: 10_001 })
  t.same(log.offsetForTimestamp(10_002), { offset: 2, timestamp: 10_010 })
  t.same(log.offsetForTimestamp(10_255), { offset: 52, timestamp: 10_260 })
  t.same(log.offsetForTimestamp(10_491), { offset: 99, timestamp: 10_491 })
  t.equal(log.offsetForTimestamp(10_492), null)
  t.same(log.maxTimestampAndOffset(), { offset: 99, timestamp: 10_491 })
  log.updateHighWatermark(60)
  log.deleteRecordsBefore(55)
  t.same(log.offsetForTimestamp(0), { offset: 55, timestamp: 10_271 }, 'never below the log start offset')
  const empty = open(new SimStorage(), '/d/t-1', new ManualClock())
  t.equal(empty.maxTimestampAndOffset(), null)
})

t.test('truncateTo removes whole batches from the end, across segments', async (t) => {
  const storage = new SimStorage()
  const log = open(storage, '/d/t-0', new ManualClock(), { 'segment.bytes': 300 })
  for (let i = 0; i < 10; i++) log.append(batch(3, `x${i}`), { leaderEpoch: i < 5 ? 1 : 2 })
  log.updateHighWatermark(30)
  const segs = log.segments.length
  t.ok(segs > 2)
  log.truncateTo(16) // inside the batch 15..17: it goes whole
  t.equal(log.logEndOffset, 15)
  t.equal(log.highWatermark, 15)
  t.equal(readAll(log).length, 15)
  t.same(log.leaderEpochCache.entries(), [{ epoch: 1, startOffset: 0 }, { epoch: 2, startOffset: 15 }].filter((e) => e.startOffset < 15))
  t.ok(log.segments.length < segs)
  log.truncateTo(100) // past the end: nothing to do
  t.equal(log.logEndOffset, 15)
  const again = log.append(batch(1, 'after'))
  t.equal(again.firstOffset, 15)
  log.close()
  const reopened = open(storage, '/d/t-0', new ManualClock(), { 'segment.bytes': 300 })
  t.equal(reopened.logEndOffset, 16)
  t.equal(readAll(reopened).at(-1), '15:after-0')
})

t.test('truncateFullyAndStartAt empties the log and restarts it at an offset', async (t) => {
  const storage = new SimStorage()
  const log = open(storage, '/d/t-0', new ManualClock(), { 'segment.bytes': 300 })
  for (let i = 0; i < 6; i++) log.append(batch(3), { leaderEpoch: 1 })
  log.truncateFullyAndStartAt(1000)
  t.equal(log.logStartOffset, 1000)
  t.equal(log.logEndOffset, 1000)
  t.equal(log.segments.length, 1)
  t.same(log.leaderEpochCache.entries(), [])
  t.equal(log.append(batch(1)).firstOffset, 1000)
  t.same(storage.list('/d/t-0').filter((n) => n.endsWith('.log')), [segmentFileName(1000, '.log')])
  // A truncation below the first segment does the same.
  log.truncateTo(10)
  t.equal(log.logStartOffset, 10)
  t.equal(log.logEndOffset, 10)
})

t.test('deleteRecordsBefore moves the log start offset, never past the high watermark', async (t) => {
  const log = open(new SimStorage(), '/d/t-0', new ManualClock(), { 'segment.bytes': 300 })
  for (let i = 0; i < 10; i++) log.append(batch(3))
  t.throws(() => log.deleteRecordsBefore(5), OffsetOutOfRangeError, 'high watermark is still 0')
  log.updateHighWatermark(30)
  const segs = log.segments.length
  t.equal(log.deleteRecordsBefore(13), 13)
  t.equal(log.logStartOffset, 13)
  t.ok(log.segments.length < segs, 'segments wholly below the start are deleted')
  t.throws(() => log.read(12, 100), OffsetOutOfRangeError)
  t.equal(log.read(13, 100).firstBatchOffset, 12, 'the batch holding the start offset is served whole')
  t.equal(log.deleteRecordsBefore(4), 13, 'the start offset never goes back')
  t.throws(() => log.deleteRecordsBefore(31), OffsetOutOfRangeError)
})

t.test('retention deletes whole old segments by time and by size, never the active one', async (t) => {
  const clock = new ManualClock(100_000)
  const log = open(new SimStorage(), '/d/t-0', clock, { 'segment.bytes': 300, 'retention.ms': 10_000 })
  for (let i = 0; i < 10; i++) log.append(batch(3, `r${i}`, 100_000 + i * 1000))
  t.equal(log.deleteOldSegments(), 0, 'nothing is above the high watermark yet... nor old')
  log.updateHighWatermark(log.logEndOffset)
  clock.set(100_000 + 10_000 + 4_500)
  const before = log.segments.length
  const deleted = log.deleteOldSegments()
  t.ok(deleted > 0 && deleted < before)
  for (const seg of log.segments.slice(0, -1)) t.ok(seg.maxTimestampSoFar >= clock.now() - 10_000 || seg === log.segments.at(-1))
  t.equal(log.logStartOffset, log.segments[0]!.baseOffset)
  clock.set(10_000_000)
  log.deleteOldSegments()
  t.equal(log.segments.length, 1, 'the active segment stays even when expired')

  const bySize = open(new SimStorage(), '/d/t-1', clock, { 'segment.bytes': 300, 'retention.bytes': 700 })
  for (let i = 0; i < 10; i++) bySize.append(batch(3, `s${i}`, clock.now()))
  bySize.updateHighWatermark(bySize.logEndOffset)
  bySize.deleteOldSegments()
  t.ok(bySize.size <= 700 + 300, `size ${bySize.size} within retention.bytes plus one segment`)
  t.ok(bySize.size > 700 - 300)

  const compacted = open(new SimStorage(), '/d/t-2', clock, { 'segment.bytes': 300, 'retention.bytes': 0, 'cleanup.policy': 'compact' })
  for (let i = 0; i < 5; i++) compacted.append(batch(3))
  compacted.updateHighWatermark(compacted.logEndOffset)
  t.equal(compacted.deleteOldSegments(), 0, 'compact-only topics are not deleted by retention')
  t.ok(compacted.compacted)
})

t.test('flush.messages and flush.ms advance the recovery point', async (t) => {
  const clock = new ManualClock()
  const log = open(new SimStorage(), '/d/t-0', clock, { 'flush.messages': 5, 'flush.ms': 1000 })
  log.append(batch(3))
  t.equal(log.recoveryPoint, 0)
  log.append(batch(3))
  t.equal(log.recoveryPoint, 6, 'six unflushed messages ≥ flush.messages')
  log.append(batch(1))
  t.notOk(log.maybeFlush())
  clock.advance(1000)
  t.ok(log.maybeFlush())
  t.equal(log.recoveryPoint, 7)
  t.notOk(log.maybeFlush(), 'nothing new to flush')
})

t.test('a clean close and reopen keep everything without a scan', async (t) => {
  const storage = new SimStorage()
  const clock = new ManualClock()
  const log = open(storage, '/d/t-0', clock, { 'segment.bytes': 300, 'index.interval.bytes': 50 })
  for (let i = 0; i < 20; i++) log.append(batch(3, `c${i}`, 1000 + i), { leaderEpoch: 2 })
  log.updateHighWatermark(45)
  const before = readAll(log)
  log.close()
  t.throws(() => log.read(0, 10), KafkaStorageError)
  const logger = new RecordingLogger()
  const again = open(storage, '/d/t-0', clock, { 'segment.bytes': 300, 'index.interval.bytes': 50 }, { cleanShutdown: true, highWatermark: 45, logger })
  t.same(readAll(again), before)
  t.equal(again.logEndOffset, 60)
  t.equal(again.highWatermark, 45)
  t.same(again.leaderEpochCache.entries(), [{ epoch: 2, startOffset: 0 }])
  t.same(again.offsetForTimestamp(1010), { offset: 26, timestamp: 1010 })
  t.equal(logger.lines.filter((l) => l.level !== 'debug').length, 0, 'nothing to say after a clean stop')
  t.equal(again.append(batch(1)).firstOffset, 60)
})

t.test('a crash loses only what was not fsynced, and recovery says what it cut', async (t) => {
  const { SeededRandom } = await import('../../src/sim/random.ts')
  const storage = new SimStorage()
  const clock = new ManualClock()
  const cfg = { 'segment.bytes': 400 }
  const log = open(storage, '/d/t-0', clock, cfg)
  for (let i = 0; i < 8; i++) log.append(batch(3, `d${i}`))
  log.flush()
  const durable = readAll(log)
  for (let i = 0; i < 3; i++) log.append(batch(3, `u${i}`))
  storage.crash(new SeededRandom(7), 'torn')
  const logger = new RecordingLogger()
  const recovered = open(storage, '/d/t-0', clock, cfg, { recoveryPoint: 24, logger })
  const after = readAll(recovered)
  t.same(after.slice(0, durable.length), durable, 'everything fsynced is there')
  t.ok(after.length >= durable.length)
  t.ok(recovered.logEndOffset >= 24)
  t.equal(recovered.append(batch(1, 'new')).firstOffset, recovered.logEndOffset - 1)
})

t.test('disk full during append: a clear error, and nothing partial after a restart', async (t) => {
  const storage = new SimStorage()
  const clock = new ManualClock()
  const log = open(storage, '/d/t-0', clock)
  log.append(batch(2, 'ok'))
  storage.injectFault({ op: 'append', path: /\.log$/, code: 'ENOSPC', partial: true, times: 1 })
  t.throws(() => log.append(batch(2, 'lost')), { name: 'KafkaStorageError', errorCode: 56, message: /append failed: ENOSPC/ })
  t.equal(log.logEndOffset, 2)
  t.equal(log.append(batch(1, 'later')).firstOffset, 2, 'the log takes appends again once there is room')
  log.flush()
  storage.restart()
  const again = open(storage, '/d/t-0', clock, {}, { recoveryPoint: 0 })
  t.same(readAll(again), ['0:ok-0', '1:ok-1', '2:later-0'])
})

t.test('an append whose undo also fails takes the log offline', async (t) => {
  const storage = new SimStorage()
  const log = open(storage, '/d/t-0', new ManualClock())
  log.append(batch(1))
  storage.injectFault({ op: 'append', path: /\.log$/, code: 'EIO', partial: true, times: 1 })
  storage.injectFault({ op: 'truncate', path: /\.log$/, code: 'EIO', times: 1 })
  t.throws(() => log.append(batch(1)), KafkaStorageError)
  t.match(log.offline, /could not be undone/)
  t.throws(() => log.append(batch(1)), { message: /log offline/ })
  log.close()
})

t.test('compressed batches are stored and served without being decompressed', async (t) => {
  const log = open(new SimStorage(), '/d/t-0', new ManualClock())
  const gz = batch(50, 'z', 1000, { compression: Compression.gzip })
  log.append(gz)
  const got = log.read(0, 1 << 20).records
  t.same(Buffer.from(got.subarray(8)), Buffer.from(gz.subarray(8)))
  t.equal(values(got).length, 50)
  t.same(log.offsetForTimestamp(1025), { offset: 25, timestamp: 1025 })
})

t.test('works on the real file system with Kafka\'s layout', async (t) => {
  const dir = t.testdir()
  const storage = new FsStorage()
  const log = open(storage, `${dir}/orders-3`, new ManualClock(), { 'segment.bytes': 300 })
  for (let i = 0; i < 6; i++) log.append(batch(3), { leaderEpoch: 0 })
  log.close()
  const names = storage.list(`${dir}/orders-3`)
  t.ok(names.includes('00000000000000000000.log'))
  t.ok(names.includes('00000000000000000000.index'))
  t.ok(names.includes('00000000000000000000.timeindex'))
  t.ok(names.includes('leader-epoch-checkpoint'))
  t.equal(dec.decode(storage.readFile(`${dir}/orders-3/leader-epoch-checkpoint`)!), '0\n1\n0 0\n')
})

t.test('a follower batch far past the log end starts a segment of its own', async (t) => {
  const storage = new SimStorage()
  const log = open(storage, '/d/t-0', new ManualClock())
  log.append(batch(1, 'a', 1000, { baseOffset: 0 }), { assignOffsets: false })
  const far = 0x90000000
  log.append(batch(2, 'far', 1000, { baseOffset: far }), { assignOffsets: false })
  t.equal(log.logEndOffset, far + 2)
  t.same(log.segments.map((s) => s.baseOffset), [0, far])
  t.same(values(log.read(far, 1000).records), [`${far}:far-0`, `${far + 1}:far-1`])
  log.flush()
  storage.restart()
  const again = open(storage, '/d/t-0', new ManualClock(), {}, { recoveryPoint: 0 })
  t.equal(again.logEndOffset, far + 2, 'recovery keeps it')
  // An empty active segment is replaced, not left behind.
  const fresh = open(new SimStorage(), '/d/t-1', new ManualClock())
  fresh.append(batch(1, 'x', 1000, { baseOffset: far }), { assignOffsets: false })
  t.same(fresh.segments.map((s) => s.baseOffset), [far])
})

t.test('defaults, config changes and the offset metadata of a position', async (t) => {
  const log = PartitionLog.open({ storage: new SimStorage(), dir: '/d/t-0', clock: new ManualClock() })
  t.equal(log.config['segment.bytes'], 1 << 30, 'Kafka\'s defaults without a config')
  log.setConfig(logConfig({ 'segment.bytes': 300 }))
  t.equal(log.config['segment.bytes'], 300)
  for (let i = 0; i < 6; i++) log.append(batch(3))
  const second = log.segments[1]!
  t.same(log.offsetMetadata(second.baseOffset + 1), { segmentBaseOffset: second.baseOffset, position: 0 })
  t.same(log.offsetMetadata(0), { segmentBaseOffset: 0, position: 0 })
  t.equal(log.offsetMetadata(18), null, 'at the log end: nowhere yet')
  log.updateHighWatermark(18)
  log.deleteRecordsBefore(4)
  t.throws(() => log.offsetMetadata(3), OffsetOutOfRangeError)
  log.close()
  log.close()
})

t.test('a read bounded by the high watermark across a gap in offsets', async (t) => {
  const log = open(new SimStorage(), '/d/t-0', new ManualClock(), { 'segment.bytes': 100 })
  log.append(batch(2, 'a', 1000, { baseOffset: 0 }), { assignOffsets: false })
  log.append(batch(2, 'b', 1000, { baseOffset: 10 }), { assignOffsets: false })
  log.append(batch(2, 'c', 1000, { baseOffset: 12 }), { assignOffsets: false })
  t.same(log.segments.map((s) => s.baseOffset), [0, 2, 12], 'a roll starts at the log end; the gap lies inside segment 2')
  t.equal(log.read(5, 1000, { maxOffset: 10 }).records.length, 0, 'nothing below the bound after the gap')
  t.equal(log.read(5, 1000, { maxOffset: 12 }).records.length, batch(2, 'b').length)
  t.same(values(log.read(5, 1000).records), ['10:b-0', '11:b-1'], 'a read ends at its segment\'s end, as in Kafka')
})

t.test('a middle segment found corrupt in a full scan drops what follows it', async (t) => {
  const storage = new SimStorage()
  const cfg = { 'segment.bytes': 300 }
  const log = open(storage, '/d/t-0', new ManualClock(), cfg)
  for (let i = 0; i < 10; i++) log.append(batch(3, `m${i}`))
  log.close()
  const bases = log.segments.map((s) => s.baseOffset)
  t.ok(bases.length >= 4)
  // Flip a byte inside the second segment's first batch.
  const file = storage.open(`/d/t-0/${segmentFileName(bases[1]!, '.log')}`)
  const b = new Uint8Array(1)
  file.readInto(b, 0, 1, 70)
  b[0]! ^= 0xff
  file.writeAt(b, 70)
  file.close()
  const logger = new RecordingLogger()
  const again = open(storage, '/d/t-0', new ManualClock(), cfg, { recoveryPoint: 0, logger })
  t.equal(again.logEndOffset, bases[1])
  t.same(readAll(again), readAll(again).slice(0, bases[1]))
  const warnings = logger.lines.filter((l) => l.level === 'warn').map((l) => l.message)
  t.match(warnings[0], /recovery truncated segment/)
  t.equal(warnings.filter((w) => /recovery deleted segment/.test(w)).length, bases.length - 2)
})

t.test('storage failures in roll and full truncation', async (t) => {
  const storage = new SimStorage()
  const log = open(storage, '/d/t-0', new ManualClock(), { 'segment.bytes': 100 })
  log.append(batch(2))
  storage.injectFault({ op: 'open', path: /\.log$/, code: 'EIO', times: 1 })
  t.throws(() => log.append(batch(2)), { name: 'KafkaStorageError', message: /roll failed: EIO/ })
  t.equal(log.offline, null, 'the old active segment is still there')
  t.equal(log.append(batch(2)).firstOffset, 2)

  // Rolling away from an empty active segment deletes it first: if the new one then
  // cannot be created, no active segment is left and the log goes offline.
  const empty = open(new SimStorage(), '/d/t-1', new ManualClock())
  const emptyStorage = (empty as unknown as { storage: SimStorage }).storage
  emptyStorage.injectFault({ op: 'open', path: /\.log$/, code: 'EIO', times: 1 })
  t.throws(() => empty.append(batch(1, 'x', 1000, { baseOffset: 0x90000000 }), { assignOffsets: false }), KafkaStorageError)
  t.match(empty.offline, /no active segment left/)

  const full = open(new SimStorage(), '/d/t-2', new ManualClock())
  full.append(batch(2))
  const fullStorage = (full as unknown as { storage: SimStorage }).storage
  fullStorage.injectFault({ op: 'open', code: 'ENOSPC', times: 1 })
  t.throws(() => full.truncateFullyAndStartAt(100), { name: 'KafkaStorageError', message: /truncation to start at 100 failed/ })
  t.match(full.offline, /full truncation failed/)
})

t.test('replacing segments checks they are consecutive and not active', async (t) => {
  const log = open(new SimStorage(), '/d/t-0', new ManualClock(), { 'segment.bytes': 100 })
  for (let i = 0; i < 4; i++) log.append(batch(2))
  const [a, , c] = log.segments
  t.throws(() => log.replaceSegments([a!, c!], a!.baseOffset), /consecutive/)
  t.throws(() => log.replaceSegments([log.activeSegment], log.activeSegment.baseOffset), /not the active segment/)
})

t.test('invariants fail loudly', async (t) => {
  const log = open(new SimStorage(), '/d/t-0', new ManualClock())
  log.append(batch(2))
  const inner = log as unknown as { hw: number; leo: number; checkInvariants(): void }
  inner.hw = 5
  t.throws(() => inner.checkInvariants(), /invariant: log start offset 0 ≤ high watermark 5 ≤ log end offset 2/)
  inner.hw = 0
  inner.leo = 1
  t.throws(() => inner.checkInvariants(), /invariant: active segment ends at 2, log end offset is 1/)
  inner.leo = 2
  // An empty active segment ahead of the log end is allowed: a follower's roll to a far batch.
  log.roll(100)
  t.doesNotThrow(() => inner.checkInvariants())
})

t.test('an error that is not an Error is still described', async (t) => {
  const storage = new SimStorage()
  const log = open(storage, '/d/t-0', new ManualClock())
  const realOpen = storage.open.bind(storage)
  storage.open = (path, options) => {
    if (path.endsWith('.log')) throw 'disk on fire' // eslint-disable-line no-throw-literal
    return realOpen(path, options)
  }
  t.throws(() => log.truncateFullyAndStartAt(5), { message: /disk on fire/ })
})
