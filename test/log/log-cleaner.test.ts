import t, { type Test } from 'tap'
import { FsStorage } from '../../src/log/fs-storage.ts'
import { cleanLog, type CleanResult, DEFAULT_OFFSET_MAP_KEYS_MAX } from '../../src/log/log-cleaner.ts'
import { logConfig, type LogConfig } from '../../src/log/log-config.ts'
import { PartitionLog, type PartitionLogOptions } from '../../src/log/partition-log.ts'
import type { Storage } from '../../src/log/storage.ts'
import { ATTRIBUTES, BATCH_HEADER_SIZE, BatchHeader, COMPRESSION_MASK, LOG_OVERHEAD } from '../../src/record/batch-header.ts'
import { Compression, isCodecLoaded, loadCodec } from '../../src/record/compression/index.ts'
import { buildEndTransactionMarkerBatch, ControlRecordType } from '../../src/record/control-record.ts'
import { buildRecordBatch, decodeRecordBatch, type RecordBatch, type RecordBatchOptions, TimestampType } from '../../src/record/record-batch.ts'
import { ManualClock } from '../../src/runtime/clock.ts'
import { RecordingLogger } from '../../src/runtime/logger.ts'
import { type CrashMode, SimStorage } from '../../src/sim/sim-storage.ts'
import { SeededRandom } from '../../src/sim/random.ts'

const enc = new TextEncoder()
const dec = new TextDecoder()
const T0 = 1_700_000_000_000
const DIR = '/data/t-0'

type Config = Partial<Record<keyof LogConfig, number | string>>
/** A record to append: [key, value]; null key or null value (a tombstone) allowed. */
type Rec = [string | null, string | null]

interface Row {
  offset: number
  key: string | null
  value: string | null
  timestamp: number
}

function str(b: Uint8Array | null): string | null {
  return b === null ? null : dec.decode(b)
}

function batchOf(recs: Rec[], ts: number, options: RecordBatchOptions = {}): Uint8Array {
  return buildRecordBatch(
    recs.map(([k, v], i) => ({ key: k === null ? null : enc.encode(k), value: v === null ? null : enc.encode(v), timestamp: ts + i })),
    options,
  )
}

function openLog(storage: Storage, clock: ManualClock, config: Config = {}, extra: Partial<PartitionLogOptions> = {}): PartitionLog {
  const log = PartitionLog.open({ storage, dir: DIR, clock, config: logConfig({ 'cleanup.policy': 'compact', ...config }), ...extra })
  // The log manager's job: the partition directory itself must survive a crash.
  storage.syncDir('/')
  storage.syncDir('/data')
  return log
}

/** Every batch of the log (from the log start), as stored, with its decoded form. */
function batches(log: PartitionLog): { bytes: Uint8Array; batch: RecordBatch }[] {
  const out: { bytes: Uint8Array; batch: RecordBatch }[] = []
  let next = log.logStartOffset
  while (next < log.logEndOffset) {
    const got = log.read(next, 1 << 30)
    if (got.records.length === 0) break
    let at = 0
    while (at < got.records.length) {
      const size = new BatchHeader(got.records, at).sizeInBytes
      const bytes = got.records.slice(at, at + size)
      const batch = decodeRecordBatch(bytes)
      if (batch.lastOffset >= next) out.push({ bytes, batch })
      next = Math.max(next, batch.lastOffset + 1)
      at += size
    }
  }
  return out
}

function rows(log: PartitionLog): Row[] {
  return batches(log).flatMap(({ batch }) => batch.records.map((r) => ({ offset: r.offset, key: str(r.key), value: str(r.value), timestamp: r.timestamp })))
}

/** "offset:key=value" lines, for readable comparisons. */
function show(rs: readonly Row[]): string[] {
  return rs.map((r) => `${r.offset}:${r.key ?? '∅'}=${r.value ?? '✝'}`)
}

function bytesByBase(log: PartitionLog): Map<number, Uint8Array> {
  return new Map(batches(log).map(({ bytes, batch }) => [batch.baseOffset, bytes]))
}

function commit(log: PartitionLog): void {
  log.updateHighWatermark(log.logEndOffset)
  log.flush()
}

/**
 * Checks every segment's offset index, every read, and the time index against a header scan:
 * returns the mismatches (none expected).
 */
function indexProblems(log: PartitionLog): string[] {
  const problems: string[] = []
  const all: { baseOffset: number; lastOffset: number }[] = []
  for (const seg of log.segments) {
    const locs: { position: number; baseOffset: number; lastOffset: number }[] = []
    seg.walk(0, seg.size, (b) => {
      locs.push(b)
      return true
    })
    all.push(...locs)
    if (problems.length === 0 && seg.sanityCheck() !== null) problems.push(`segment ${seg.baseOffset}: ${seg.sanityCheck()}`)
    for (let o = seg.baseOffset; o < seg.nextOffset; o++) {
      const want = locs.find((l) => l.lastOffset >= o) ?? null
      const got = seg.translateOffset(o)
      if ((got?.position ?? null) !== (want?.position ?? null)) problems.push(`segment ${seg.baseOffset}: offset ${o} translates to ${got?.position} not ${want?.position}`)
      const entry = seg.offsetIndex.lookup(o)
      const at = locs.find((l) => l.position === entry.position)
      if (entry.position !== 0 && (!at || at.lastOffset !== entry.offset || entry.offset > o)) problems.push(`segment ${seg.baseOffset}: index entry ${JSON.stringify(entry)} for ${o}`)
    }
  }
  for (let o = log.logStartOffset; o < log.logEndOffset; o++) {
    const want = all.find((b) => b.lastOffset >= o)
    const got = log.read(o, 1)
    if (got.firstBatchOffset !== (want?.baseOffset ?? -1)) problems.push(`read(${o}) starts at ${got.firstBatchOffset}, not ${want?.baseOffset}`)
  }
  const rs = rows(log)
  for (const ts of new Set(rs.map((r) => r.timestamp))) {
    const want = rs.find((r) => r.timestamp >= ts)
    const got = log.offsetForTimestamp(ts)
    if (got?.offset !== want?.offset) problems.push(`offsetForTimestamp(${ts}) = ${got?.offset}, not ${want?.offset}`)
  }
  return problems
}

const ZERO: Omit<CleanResult, 'endOffset'> = {
  segmentsCleaned: 0,
  groupsCleaned: 0,
  recordsBefore: 0,
  recordsAfter: 0,
  bytesBefore: 0,
  bytesAfter: 0,
  mapFull: false,
  zstdBatchesKeptWhole: 0,
}

/** seg 0: a b c, a d | seg 3→5: b a | active: c. */
function basicLog(storage: Storage, clock: ManualClock, config: Config = {}): PartitionLog {
  const log = openLog(storage, clock, { 'index.interval.bytes': 0, ...config })
  log.append(batchOf([['a', 'a1'], ['b', 'b1'], ['c', 'c1']], T0))
  log.append(batchOf([['a', 'a2'], ['d', 'd1']], T0 + 10))
  log.roll()
  log.append(batchOf([['b', 'b2'], ['a', 'a3']], T0 + 20))
  log.roll()
  log.append(batchOf([['c', 'c2']], T0 + 30))
  commit(log)
  return log
}

t.test('only a compacted log is cleaned', async (t) => {
  for (const policy of ['delete', 'compact', 'compact,delete']) {
    const clock = new ManualClock(T0)
    const log = basicLog(new SimStorage(), clock, { 'cleanup.policy': policy })
    const before = show(rows(log))
    const result = cleanLog(log, { now: T0 + 1000 })
    if (policy === 'delete') {
      t.same(result, { ...ZERO, endOffset: 0 }, 'delete: nothing done')
      t.same(show(rows(log)), before)
    } else {
      t.equal(result.segmentsCleaned, 2, policy)
    }
  }
})

t.test('the latest value per key survives at its offset; older ones go', async (t) => {
  const clock = new ManualClock(T0)
  const logger = new RecordingLogger()
  const log = basicLog(new SimStorage(), clock)
  const beforeBytes = bytesByBase(log)
  const activeBefore = log.activeSegment
  t.same(show(rows(log)), ['0:a=a1', '1:b=b1', '2:c=c1', '3:a=a2', '4:d=d1', '5:b=b2', '6:a=a3', '7:c=c2'])
  const result = cleanLog(log, { now: T0 + 1000, logger })
  t.same(result, { segmentsCleaned: 2, groupsCleaned: 1, recordsBefore: 7, recordsAfter: 4, bytesBefore: result.bytesBefore, bytesAfter: result.bytesAfter, endOffset: 7, mapFull: false, zstdBatchesKeptWhole: 0 })
  t.ok(result.bytesAfter < result.bytesBefore)
  // c1 stays: its newer value is in the active segment, outside the cleanable range.
  t.same(show(rows(log)), ['2:c=c1', '4:d=d1', '5:b=b2', '6:a=a3', '7:c=c2'])
  t.same(log.segments.map((s) => s.baseOffset), [0, 7], 'the two cleaned segments became one')
  t.equal(log.activeSegment, activeBefore, 'the active segment is the same object')
  const after = batches(log)
  t.same(after.map(({ batch }) => [batch.baseOffset, batch.lastOffset]), [[0, 2], [3, 4], [5, 6], [7, 7]], 'every batch keeps its first and last offset')
  t.same(after[2]!.bytes, beforeBytes.get(5), 'a fully kept batch is copied byte for byte')
  t.same(after[3]!.bytes, beforeBytes.get(7))
  t.same(indexProblems(log), [])
  t.same(logger.lines, [{ level: 'info', message: `${DIR}: cleaned segments 0, 5 into 0: 7 → 4 records, ${result.bytesBefore} → ${result.bytesAfter} bytes` }])
  t.equal(log.logStartOffset, 0)
  t.equal(log.logEndOffset, 8)
  // Appends go on as before.
  log.append(batchOf([['e', 'e1']], T0 + 40))
  t.same(show(rows(log)).slice(-1), ['8:e=e1'])

  // A second run finds nothing to change in the single cleaned segment and leaves it alone.
  const seg0 = log.segments[0]
  const again = cleanLog(log, { now: T0 + 1000, logger })
  t.same(again, { ...ZERO, endOffset: 7 })
  t.equal(log.segments[0], seg0, 'not rewritten')
  t.equal(logger.lines.length, 1, 'nothing logged')
})

t.test('tombstones stay until delete.retention.ms has passed, then go', async (t) => {
  const clock = new ManualClock(T0)
  const storage = new SimStorage()
  const log = openLog(storage, clock, { 'delete.retention.ms': 5_000 })
  log.append(batchOf([['a', 'a1'], ['b', 'b1'], ['c', 'c1']], T0))
  log.append(batchOf([['a', null], ['c', null]], T0 + 10)) // a deleted; c deleted, then written again
  log.roll()
  log.append(batchOf([['c', 'c2'], ['x', 'x1']], T0 + 20))
  log.roll()
  commit(log)
  const young = cleanLog(log, { now: T0 + 1_000 })
  t.equal(young.segmentsCleaned, 2)
  t.same(show(rows(log)), ['1:b=b1', '3:a=✝', '5:c=c2', '6:x=x1'], 'the latest tombstone stays, the superseded one goes')
  // The cleaned segment's largest timestamp is now x1's, T0+21.
  t.same(cleanLog(log, { now: T0 + 5_021 }), { ...ZERO, endOffset: 7 }, 'not yet: the segment is exactly delete.retention.ms old')
  const old = cleanLog(log, { now: T0 + 5_022 })
  t.equal(old.segmentsCleaned, 1)
  t.same(show(rows(log)), ['1:b=b1', '5:c=c2', '6:x=x1'], 'the tombstone is gone, and the older values of a with it long ago')
  t.same(indexProblems(log), [])
})

t.test('a tombstone younger than delete.retention.ms in its own segment outlives an old one in an older segment', async (t) => {
  const clock = new ManualClock(T0)
  const log = openLog(new SimStorage(), clock, { 'delete.retention.ms': 1_000 })
  log.append(batchOf([['a', 'a1'], ['a', null]], T0))
  log.roll()
  log.append(batchOf([['b', 'b1'], ['b', null]], T0 + 5_000))
  log.roll()
  commit(log)
  cleanLog(log, { now: T0 + 5_500 })
  t.same(show(rows(log)), ['3:b=✝'])
  t.same(batches(log).map(({ batch }) => [batch.baseOffset, batch.lastOffset]), [[2, 3]], 'the emptied batch is gone, the other keeps its last offset')
})

t.test('the active segment and everything from the high watermark on are never touched', async (t) => {
  const clock = new ManualClock(T0)
  const log = openLog(new SimStorage(), clock)
  log.append(batchOf([['a', 'a1'], ['a', 'a2']], T0)) // 0-1
  log.roll()
  log.append(batchOf([['a', 'a3'], ['a', 'a4']], T0)) // 2-3
  log.roll()
  log.append(batchOf([['a', 'a5'], ['a', 'a6']], T0)) // 4-5
  log.roll()
  log.append(batchOf([['a', 'a7'], ['a', 'a8']], T0)) // 6-7, active
  log.flush()
  log.updateHighWatermark(3) // inside segment 2
  const r1 = cleanLog(log, { now: T0 + 100 })
  t.same(r1, { ...r1, segmentsCleaned: 1, endOffset: 2 }, 'segment 0 alone is below the high watermark')
  t.same(show(rows(log)), ['1:a=a2', '2:a=a3', '3:a=a4', '4:a=a5', '5:a=a6', '6:a=a7', '7:a=a8'])
  log.updateHighWatermark(8)
  const active = log.activeSegment
  const activeBytes = active.readBytes(0, active.size)
  cleanLog(log, { now: T0 + 100 })
  t.same(show(rows(log)), ['5:a=a6', '6:a=a7', '7:a=a8'], 'the active segment keeps even superseded records')
  t.equal(log.activeSegment, active)
  t.same(active.readBytes(0, active.size), activeBytes)
})

t.test('min.compaction.lag.ms keeps recent segments out of the cleanable range', async (t) => {
  const clock = new ManualClock(T0)
  const log = openLog(new SimStorage(), clock, { 'min.compaction.lag.ms': 1_000 })
  log.append(batchOf([['a', 'a1'], ['a', 'a2']], T0))
  log.roll()
  log.append(batchOf([['a', 'a3'], ['a', 'a4']], T0 + 500))
  log.roll()
  commit(log)
  t.same(cleanLog(log, { now: T0 + 1_000 }), { ...ZERO, endOffset: 0 }, 'no segment is old enough')
  const r = cleanLog(log, { now: T0 + 1_001 })
  t.equal(r.endOffset, 2, 'the first is (its largest timestamp is T0+1)')
  t.same(show(rows(log)), ['1:a=a2', '2:a=a3', '3:a=a4'])
  cleanLog(log, { now: T0 + 1_501 })
  t.same(show(rows(log)), ['3:a=a4'])
})

t.test('compressed batches are rewritten with their own codec', async (t) => {
  for (const codec of [Compression.gzip, Compression.snappy, Compression.lz4]) {
    const clock = new ManualClock(T0)
    const log = openLog(new SimStorage(), clock)
    log.append(batchOf([['a', 'a1'], ['b', 'b1'], ['c', 'c1']], T0, { compression: codec }))
    log.append(batchOf([['a', 'a2'], ['b', 'b2']], T0, { compression: codec }))
    log.roll()
    commit(log)
    const kept = bytesByBase(log).get(3)
    cleanLog(log, { now: T0 + 100 })
    const after = batches(log)
    t.same(show(rows(log)), ['2:c=c1', '3:a=a2', '4:b=b2'], `codec ${codec}`)
    t.equal(after[0]!.batch.compression, codec, `codec ${codec}: rebuilt with the same codec`)
    t.same([after[0]!.batch.baseOffset, after[0]!.batch.lastOffset], [0, 2])
    t.same(after[1]!.bytes, kept, `codec ${codec}: the untouched batch is byte-identical`)
  }
})

t.test('a rebuilt batch keeps its header: offsets, producer, epoch, transactional, timestamp type, delete horizon', async (t) => {
  const clock = new ManualClock(T0)
  const log = openLog(new SimStorage(), clock, { 'message.timestamp.type': 'LogAppendTime' })
  const producer = { producerId: 42, producerEpoch: 3, baseSequence: 17, isTransactional: true }
  log.append(batchOf([['a', 'a1'], ['b', 'b1'], ['a', 'a2'], ['b', 'b2']], T0 - 50, producer), { leaderEpoch: 9 })
  clock.advance(5)
  log.append(batchOf([['b', 'b3']], T0), { leaderEpoch: 9 })
  log.roll()
  commit(log)
  const [before] = batches(log)
  cleanLog(log, { now: clock.now() })
  const [after] = batches(log)
  const a = after!.batch
  const b = before!.batch
  t.same(show(rows(log)), ['2:a=a2', '4:b=b3'])
  t.same(
    [a.baseOffset, a.lastOffsetDelta, a.partitionLeaderEpoch, a.producerId, a.producerEpoch, a.baseSequence, a.isTransactional, a.timestampType, a.maxTimestamp],
    [b.baseOffset, b.lastOffsetDelta, b.partitionLeaderEpoch, 42, 3, 17, true, TimestampType.LogAppendTime, T0],
  )
  t.same(a.records.map((r) => r.timestamp), [T0], 'LogAppendTime records read the append time')
  t.equal(a.deleteHorizonMs, null)

  // A batch that carries a delete horizon (KIP-534, written by another cleaner) keeps it.
  const log2 = openLog(new SimStorage(), new ManualClock(T0), {}, { dir: '/data/t-1' })
  log2.append(batchOf([['a', 'a1'], ['b', 'b1']], T0, { deleteHorizonMs: T0 + 99 }))
  log2.append(batchOf([['a', 'a2']], T0))
  log2.roll()
  commit(log2)
  cleanLog(log2, { now: T0 + 100 })
  const [h] = batches(log2)
  t.equal(h!.batch.deleteHorizonMs, T0 + 99)
  t.same(h!.batch.records.map((r) => [r.offset, str(r.key), r.timestamp]), [[1, 'b', T0 + 1]])
})

t.test('control batches and records without a key are kept as they are', async (t) => {
  const clock = new ManualClock(T0)
  const log = openLog(new SimStorage(), clock)
  const txn = { producerId: 5, producerEpoch: 0, isTransactional: true }
  log.append(batchOf([['a', 'a1'], [null, 'n1'], ['a', 'a2']], T0, txn))
  log.append(buildEndTransactionMarkerBatch({ timestamp: T0, producerId: 5, producerEpoch: 0, marker: { type: ControlRecordType.COMMIT, coordinatorEpoch: 1 } }))
  log.append(batchOf([[null, 'n2'], [null, null]], T0))
  log.roll()
  commit(log)
  const before = bytesByBase(log)
  const r = cleanLog(log, { now: T0 + 100 })
  t.same(r, { ...r, recordsBefore: 6, recordsAfter: 5 })
  const after = bytesByBase(log)
  t.same(after.get(3), before.get(3), 'the commit marker')
  t.same(after.get(4), before.get(4), 'null keys, even with a null value')
  t.same(show(rows(log)).filter((l) => !l.startsWith('3:')), ['1:∅=n1', '2:a=a2', '4:∅=n2', '5:∅=✝'])
  t.ok(batches(log)[1]!.batch.isControl)
})

t.test('the offset map is bounded: only what it covers is cleaned', async (t) => {
  t.throws(() => cleanLog(basicLog(new SimStorage(), new ManualClock(T0)), { now: T0 + 100, offsetMapKeysMax: 0 }), RangeError)
  t.throws(() => cleanLog(basicLog(new SimStorage(), new ManualClock(T0)), { now: T0 + 100, offsetMapKeysMax: 1.5 }), RangeError)
  t.equal(DEFAULT_OFFSET_MAP_KEYS_MAX, 1_000_000)

  const build = () => {
    const log = openLog(new SimStorage(), new ManualClock(T0))
    log.append(batchOf([['a', 'a1'], ['b', 'b1'], ['a', 'a2']], T0)) // 0-2
    log.roll()
    log.append(batchOf([['b', 'b2'], ['c', 'c1'], ['a', 'a3']], T0)) // 3-5
    log.roll()
    log.append(batchOf([['a', 'a4'], ['b', 'b3']], T0)) // 6-7
    log.roll()
    commit(log)
    return log
  }
  // Two keys: the map ends at offset 4 (c does not fit), inside segment 3.
  const log = build()
  const r = cleanLog(log, { now: T0 + 100, offsetMapKeysMax: 2 })
  t.same(r, { ...r, mapFull: true, endOffset: 4, segmentsCleaned: 2 })
  t.same(show(rows(log)), ['2:a=a2', '3:b=b2', '4:c=c1', '5:a=a3', '6:a=a4', '7:b=b3'], 'from offset 4 on everything is kept; segment 6 untouched')
  t.same(indexProblems(log), [])

  // A map that fills exactly at a segment's first record leaves that segment out.
  const log2 = openLog(new SimStorage(), new ManualClock(T0), {}, { dir: '/data/t-2' })
  log2.append(batchOf([['a', 'a1'], ['a', 'a2']], T0))
  log2.roll()
  log2.append(batchOf([['b', 'b1'], ['b', 'b2']], T0))
  log2.roll()
  commit(log2)
  const r2 = cleanLog(log2, { now: T0 + 100, offsetMapKeysMax: 1 })
  t.same(r2, { ...r2, mapFull: true, endOffset: 2, segmentsCleaned: 1 })
  t.same(show(rows(log2)), ['1:a=a2', '2:b=b1', '3:b=b2'])

  // Enough room: the whole cleanable range.
  const log3 = build()
  t.same(cleanLog(log3, { now: T0 + 100, offsetMapKeysMax: 3 }).mapFull, false)
  t.same(show(rows(log3)), ['4:c=c1', '6:a=a4', '7:b=b3'])
})

t.test('segments are grouped within segment.bytes, segment.index.bytes and int32 offsets', async (t) => {
  const build = (config: Config) => {
    const logger = new RecordingLogger()
    const log = openLog(new SimStorage(), new ManualClock(T0), { 'index.interval.bytes': 0, ...config }, { logger })
    for (let i = 0; i < 4; i++) {
      log.append(batchOf([['k', `v${i}`], [`u${i}`, 'x']], T0)) // one batch per segment, about 100 bytes
      log.roll()
    }
    commit(log)
    return log
  }
  const segSize = build({}).segments[0]!.size
  const bySize = build({ 'segment.bytes': segSize * 2 })
  const logger = new RecordingLogger()
  const r = cleanLog(bySize, { now: T0 + 100, logger })
  t.same([r.segmentsCleaned, r.groupsCleaned], [4, 2])
  t.same(bySize.segments.map((s) => s.baseOffset), [0, 4, 8])
  t.equal(logger.lines.length, 2, 'one line per cleaned group')
  t.match(logger.lines[1]!.message, /cleaned segments 4, 6 into 4/)
  t.same(show(rows(bySize)), ['1:u0=x', '3:u1=x', '5:u2=x', '6:k=v3', '7:u3=x'])
  t.same(indexProblems(bySize), [])

  // With index.interval.bytes 0 each ~100-byte segment may need an index entry per 61 bytes.
  const byIndex = build({ 'segment.index.bytes': 12 * Math.floor((segSize * 2) / BATCH_HEADER_SIZE) })
  const r2 = cleanLog(byIndex, { now: T0 + 100 })
  t.same([r2.segmentsCleaned, r2.groupsCleaned], [4, 2])
  t.same(indexProblems(byIndex), [])

  // Offsets more than 2^31-1 apart cannot share an index (a follower's append keeps the leader's offsets).
  const far = openLog(new SimStorage(), new ManualClock(T0))
  far.append(batchOf([['k', 'v0'], ['k', 'v1']], T0))
  far.roll()
  const farOffset = 0x80000000
  far.append(batchOf([['k', 'v2'], ['j', 'w']], T0, { baseOffset: farOffset }), { assignOffsets: false })
  far.roll()
  commit(far)
  const r3 = cleanLog(far, { now: T0 + 100 })
  t.same([r3.segmentsCleaned, r3.groupsCleaned], [1, 1], 'segment 0 alone changes; the far one is a group of its own, unchanged')
  t.same(show(rows(far)), [`${farOffset}:k=v2`, `${farOffset + 1}:j=w`])
})

t.test('a group whose records all go leaves an empty segment, and reads skip it', async (t) => {
  const clock = new ManualClock(T0)
  const storage = new SimStorage()
  const log = openLog(storage, clock, { 'segment.bytes': 120 })
  log.append(batchOf([['a', 'a1']], T0))
  log.roll()
  log.append(batchOf([['a', 'a2']], T0))
  log.roll()
  log.append(batchOf([['a', 'a3']], T0))
  log.roll()
  commit(log)
  cleanLog(log, { now: T0 + 100 })
  t.same(log.segments.map((s) => [s.baseOffset, s.size]), [[0, 0], [1, 0], [2, log.segments[2]!.size], [3, 0]])
  t.same(show(rows(log)), ['2:a=a3'])
  t.same(indexProblems(log), [])
  log.close()
  const reopened = openLog(storage, clock, { 'segment.bytes': 120 }, { recoveryPoint: 0 })
  t.same(show(rows(reopened)), ['2:a=a3'])
  t.equal(reopened.logEndOffset, 3)
})

t.test('a reopen after cleaning (on the real file system) sees the same log', async (t) => {
  const root = t.testdir()
  const storage = new FsStorage()
  const dir = `${root}/t-0`
  const clock = new ManualClock(T0)
  const config = logConfig({ 'cleanup.policy': 'compact', 'index.interval.bytes': 0, 'segment.bytes': 1000 })
  const log = PartitionLog.open({ storage, dir, clock, config })
  for (let i = 0; i < 30; i++) {
    log.append(batchOf([[`k${i % 7}`, `v${i}`], [`k${(i * 3) % 7}`, i % 5 === 0 ? null : `w${i}`]], T0 + i, { compression: i % 2 ? Compression.gzip : Compression.none }))
  }
  log.roll()
  commit(log)
  const before = rows(log)
  const r = cleanLog(log, { now: T0 + 100 })
  t.ok(r.groupsCleaned >= 2, `${r.groupsCleaned} groups`)
  const after = rows(log)
  const latest = new Map(before.map((row) => [row.key, row]))
  t.same(show(after), show([...latest.values()].sort((x, y) => x.offset - y.offset)), 'exactly the latest record of each key (tombstones are young)')
  t.same(indexProblems(log), [])
  const names = storage.list(dir)
  t.notOk(names.some((n) => n.endsWith('.cleaned') || n.endsWith('.swap')), 'no temporary file is left')
  log.close()
  for (const extra of [{ cleanShutdown: true }, { recoveryPoint: 0 }]) {
    const again = PartitionLog.open({ storage, dir, clock, config, ...extra, highWatermark: log.logEndOffset })
    t.same(show(rows(again)), show(after), JSON.stringify(extra))
    t.same(indexProblems(again), [])
    again.close()
  }
})

t.test('a large cleaned segment is written in several appends', async (t) => {
  const storage = new SimStorage()
  const log = openLog(storage, new ManualClock(T0))
  const big = 'x'.repeat(400_000)
  for (let i = 0; i < 5; i++) log.append(batchOf([[`k${i % 4}`, `${i}${big}`], [`u${i}`, 'u']], T0))
  log.roll()
  commit(log)
  const before = bytesByBase(log)
  const r = cleanLog(log, { now: T0 + 100 })
  t.same([r.recordsBefore, r.recordsAfter], [10, 9])
  t.same(show(rows(log)).map((l) => l.slice(0, 7)), ['1:u0=u', '2:k1=1x', '3:u1=u', '4:k2=2x', '5:u2=u', '6:k3=3x', '7:u3=u', '8:k0=4x', '9:u4=u'])
  t.ok(r.bytesAfter > 1024 * 1024)
  t.same(bytesByBase(log).get(8), before.get(8))
  t.same(indexProblems(log), [])
})

/** Re-frames an uncompressed batch's records section as a zstd frame of one raw block (no encoder needed). */
function asRawZstd(batch: Uint8Array): Uint8Array {
  const section = batch.subarray(BATCH_HEADER_SIZE)
  const frame = new Uint8Array(4 + 1 + 4 + 3 + section.length)
  const dv = new DataView(frame.buffer)
  dv.setUint32(0, 0xfd2fb528, true)
  frame[4] = 0xa0 // single segment, 4-byte frame content size
  dv.setUint32(5, section.length, true)
  const blockHeader = 1 | (section.length << 3) // last block, raw
  frame[9] = blockHeader & 0xff
  frame[10] = (blockHeader >> 8) & 0xff
  frame[11] = (blockHeader >> 16) & 0xff
  frame.set(section, 12)
  const out = new Uint8Array(BATCH_HEADER_SIZE + frame.length)
  out.set(batch.subarray(0, BATCH_HEADER_SIZE))
  out.set(frame, BATCH_HEADER_SIZE)
  const odv = new DataView(out.buffer)
  odv.setInt32(8, out.length - LOG_OVERHEAD)
  odv.setInt16(ATTRIBUTES, (odv.getInt16(ATTRIBUTES) & ~COMPRESSION_MASK) | Compression.zstd)
  new BatchHeader(out).updateCrc()
  return out
}

// Last of the in-process tests that use zstd: it loads the encoder.
t.test('zstd batches: kept whole (and every later tombstone with them) until the encoder is loaded', async (t) => {
  t.equal(isCodecLoaded(Compression.zstd), false, 'this test starts without the zstd encoder')
  const clock = new ManualClock(T0)
  const log = openLog(new SimStorage(), clock, { 'delete.retention.ms': 10 })
  const zstd = asRawZstd(batchOf([['a', 'a1'], ['d', 'd1']], T0))
  t.same(decodeRecordBatch(zstd).records.map((r) => str(r.value)), ['a1', 'd1'])
  log.append(batchOf([['c', 'c1'], ['c', null]], T0)) // before the zstd batch: its tombstone may go
  log.append(zstd)
  log.append(batchOf([['a', null], ['b', 'b2']], T0)) // a's tombstone must stay while a1 does
  log.roll()
  commit(log)
  const logger = new RecordingLogger()
  const r = cleanLog(log, { now: T0 + 1_000, logger })
  t.equal(r.zstdBatchesKeptWhole, 1)
  t.same(show(rows(log)), ['2:a=a1', '3:d=d1', '4:a=✝', '5:b=b2'], 'c goes entirely; a1 must stay, so its tombstone too')
  t.match(logger.lines.map((l) => `${l.level} ${l.message}`), [/^info .*cleaned segment 0 into 0/, /^warn .*kept 1 zstd batch\(es\) whole/])

  await loadCodec(Compression.zstd)
  const r2 = cleanLog(log, { now: T0 + 1_000 })
  t.equal(r2.zstdBatchesKeptWhole, 0)
  t.same(show(rows(log)), ['3:d=d1', '5:b=b2'], 'a1 goes, then the expired tombstone')
  const [first] = batches(log)
  t.equal(first!.batch.compression, Compression.zstd, 'recompressed with zstd')
  t.same([first!.batch.baseOffset, first!.batch.lastOffset], [2, 3])
})

t.test('a failure while writing the cleaned segment leaves the log as it was, without .cleaned files', async (t) => {
  const clock = new ManualClock(T0)
  const storage = new SimStorage()
  const log = basicLog(storage, clock)
  const before = show(rows(log))
  storage.injectFault({ op: 'sync', path: /\.log\.cleaned$/, code: 'EIO', times: 1 })
  t.throws(() => cleanLog(log, { now: T0 + 100 }), { code: 'EIO' })
  t.same(storage.list(DIR).filter((n) => n.includes('.cleaned')), [])
  t.same(show(rows(log)), before)
  t.equal(log.offline, null)
  cleanLog(log, { now: T0 + 100 })
  t.same(show(rows(log)), ['2:c=c1', '4:d=d1', '5:b=b2', '6:a=a3', '7:c=c2'], 'the next run succeeds')

  // When the removal fails too, the next open removes what is left.
  const storage2 = new SimStorage()
  const log2 = basicLog(storage2, clock)
  // The six creating calls succeed (three removes of stale files, three creates); the append fails, then every removal.
  storage2.injectFault({ op: 'any-write', path: /\.cleaned$/, code: 'EIO', after: 6 })
  t.throws(() => cleanLog(log2, { now: T0 + 100 }), { code: 'EIO' })
  t.ok(storage2.list(DIR).some((n) => n.endsWith('.cleaned')))
  storage2.clearFaults()
  log2.close()
  const reopened = openLog(storage2, clock, { 'index.interval.bytes': 0 }, { cleanShutdown: true })
  t.same(storage2.list(DIR).filter((n) => n.includes('.cleaned')), [])
  t.same(show(rows(reopened)), before)
})

t.test('a corrupt batch stops the run with CorruptRecordError, before anything of its group is installed', async (t) => {
  const storage = new SimStorage()
  const log = basicLog(storage, new ManualClock(T0))
  const file = storage.open(`${DIR}/${'0'.padStart(20, '0')}.log`)
  file.writeAt(new Uint8Array([0xff]), BATCH_HEADER_SIZE + 2) // inside the first batch's records
  file.close()
  t.throws(() => cleanLog(log, { now: T0 + 1000 }), { name: 'CorruptRecordError' })
  t.same(log.segments.map((s) => s.baseOffset), [0, 5, 7])
  t.same(storage.list(DIR).filter((n) => n.includes('.cleaned')), [])
  t.equal(log.offline, null)
})

// ---------------------------------------------------------------- crashes

const CRASH_CONFIG: Config = { 'index.interval.bytes': 0, 'segment.bytes': 700, 'delete.retention.ms': 2_000 }

/** Builds a log (the same one every call) on `storage`, flushed and all below the high watermark, and the time to clean it at. */
type Scenario = (storage: SimStorage) => { log: PartitionLog; clock: ManualClock; now: number }

/** Six segments of overwritten keys and tombstones, some compressed, and an active segment. */
const randomScenario: Scenario = (storage) => {
  const clock = new ManualClock(T0)
  const log = openLog(storage, clock, CRASH_CONFIG)
  const random = new SeededRandom(7)
  let n = 0
  for (let s = 0; s < 6; s++) {
    for (let b = 0; b < 3; b++) {
      const recs: Rec[] = []
      for (let i = 0; i < 3; i++) {
        const key = `k${random.int(6)}`
        recs.push([key, random.int(5) === 0 ? null : `v${n++}`])
      }
      const codec = [Compression.none, Compression.gzip, Compression.lz4][b]!
      log.append(batchOf(recs, T0 + s * 1_000, { compression: codec }))
    }
    log.roll()
  }
  log.append(batchOf([['k0', 'active']], T0 + 6_000))
  commit(log)
  // Tombstones in the first segments are past delete.retention.ms; the later ones are not.
  return { log, clock, now: T0 + 5_000 }
}

/** One group whose last segment is emptied: the cleaned segment ends before that segment's base offset. */
const emptiedTailScenario: Scenario = (storage) => {
  const clock = new ManualClock(T0)
  const log = openLog(storage, clock, CRASH_CONFIG)
  log.append(batchOf([['a', 'a1'], ['x', 'x1']], T0))
  log.roll()
  log.append(batchOf([['a', null]], T0))
  log.roll()
  log.append(batchOf([['k0', 'active']], T0))
  commit(log)
  return { log, clock, now: T0 + 5_000 }
}

function reopenAfterCrash(storage: SimStorage, clock: ManualClock, recoveryPoint: number, hw: number): PartitionLog {
  return PartitionLog.open({ storage, dir: DIR, clock, config: logConfig({ 'cleanup.policy': 'compact', ...CRASH_CONFIG }), recoveryPoint, highWatermark: hw })
}

/** Why `got` is not the cleaned log up to some segment boundary and the original log after it; null when it is. */
function crashProblem(got: Row[], before: Row[], after: Row[], boundaries: number[]): string | null {
  for (let i = 1; i < got.length; i++) if (got[i]!.offset <= got[i - 1]!.offset) return `offsets not strictly increasing at ${got[i]!.offset}`
  const original = new Map(before.map((r) => [r.offset, r]))
  for (const r of got) {
    const o = original.get(r.offset)
    if (!o || o.key !== r.key || o.value !== r.value) return `record ${show([r])} was never appended`
  }
  const latest = new Map(before.map((r) => [r.key, r]))
  for (const r of latest.values()) {
    if (r.value !== null && !got.some((g) => g.offset === r.offset)) return `latest value ${show([r])} is missing`
  }
  const g = show(got).join(' ')
  for (const b of boundaries) {
    if (show([...after.filter((r) => r.offset < b), ...before.filter((r) => r.offset >= b)]).join(' ') === g) return null
  }
  return `not the cleaned log up to a segment boundary then the original: ${g}`
}

async function crashAtEveryOp(t: Test, scenario: Scenario, minGroups: number): Promise<void> {
  const reference = new SimStorage()
  const ref = scenario(reference)
  const before = rows(ref.log)
  const boundaries = [...ref.log.segments.map((s) => s.baseOffset), ref.log.logEndOffset]
  const leo = ref.log.logEndOffset
  const opsBefore = reference.opsCount
  const result = cleanLog(ref.log, { now: ref.now })
  const ops = reference.opsCount - opsBefore
  const after = rows(ref.log)
  t.ok(result.groupsCleaned >= minGroups, `${result.groupsCleaned} groups, ${ops} storage ops`)
  t.equal(crashProblem(after, before, after, [leo]), null)

  const modes: (CrashMode | 'restart')[] = ['lose-unsynced', 'torn', 'random', 'restart']
  let runs = 0
  for (let point = 1; point <= ops; point++) {
    for (const mode of modes) {
      // Two seeds: their parity also picks the recovery point of the reopen (the log end, or 0: a full scan).
      for (const seed of [point * 31 + 1, point * 31 + 2]) {
        const storage = new SimStorage()
        const { log, clock, now } = scenario(storage)
        storage.setCrashPoint(point)
        const what = `crash point ${point}/${ops}, mode ${mode}, seed ${seed}`
        let threw = false
        try {
          cleanLog(log, { now })
        } catch {
          threw = true
        }
        if (!threw) {
          t.fail(`${what}: the run did not reach its crash point`)
          continue
        }
        if (mode === 'restart') storage.restart()
        else storage.crash(new SeededRandom(seed), mode)
        let problem: string | null
        try {
          const reopened = reopenAfterCrash(storage, clock, seed % 2 ? leo : 0, leo)
          const got = rows(reopened)
          problem = crashProblem(got, before, after, boundaries)
          if (!problem && reopened.logEndOffset !== leo) problem = `log end offset ${reopened.logEndOffset}, expected ${leo}`
          if (!problem) {
            const idx = indexProblems(reopened)
            if (idx.length > 0) problem = `indexes: ${idx[0]}`
          }
          if (!problem) {
            cleanLog(reopened, { now })
            const again = show(rows(reopened)).join(' ')
            if (again !== show(after).join(' ')) problem = `cleaning again gives ${again}`
          }
        } catch (err) {
          problem = `reopen failed: ${err instanceof Error ? err.stack : String(err)}`
        }
        if (problem !== null) t.fail(`${what}: ${problem}`)
        runs++
      }
    }
  }
  t.equal(runs, ops * modes.length * 2, `${runs} crashes recovered`)
}

t.test('a crash at any storage op of a cleaning run leaves the old or the cleaned content, per group', async (t) => {
  const { log } = randomScenario(new SimStorage())
  const before = rows(log)
  cleanLog(log, { now: T0 + 5_000 })
  const after = rows(log)
  const tombstones = (rs: Row[]) => rs.filter((r) => r.value === null).length
  t.ok(tombstones(after) > 0 && tombstones(after) < tombstones(before), 'the scenario drops some tombstones and keeps others')
  await crashAtEveryOp(t, randomScenario, 2)
})

t.test('a crash while installing a group whose last segment was emptied', async (t) => {
  const { log } = emptiedTailScenario(new SimStorage())
  cleanLog(log, { now: T0 + 5_000 })
  t.same(show(rows(log)), ['1:x=x1', '3:k0=active'])
  t.same(log.segments.map((s) => [s.baseOffset, s.nextOffset]), [[0, 2], [3, 4]], 'the cleaned segment ends at 2, before the emptied segment 2 began')
  await crashAtEveryOp(t, emptiedTailScenario, 1)
})
