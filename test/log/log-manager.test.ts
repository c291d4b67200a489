import * as fs from 'node:fs'
import t from 'tap'
import { FsStorage } from '../../src/log/fs-storage.ts'
import { logConfig } from '../../src/log/log-config.ts'
import { CLEAN_SHUTDOWN_MARKER, LogManager, parsePartitionDirName } from '../../src/log/log-manager.ts'
import { segmentFileName } from '../../src/log/segment.ts'
import { BatchHeader } from '../../src/record/batch-header.ts'
import { buildRecordBatch, iterateRecordBatches } from '../../src/record/record-batch.ts'
import { ManualClock } from '../../src/runtime/clock.ts'
import { RecordingLogger } from '../../src/runtime/logger.ts'
import { SeededRandom } from '../../src/sim/random.ts'
import { SimStorage } from '../../src/sim/sim-storage.ts'

const enc = new TextEncoder()
const dec = new TextDecoder()
const config = logConfig({ 'segment.bytes': 2000, 'index.interval.bytes': 200 })

function batch(i: number): Uint8Array {
  return buildRecordBatch([0, 1, 2].map((j) => ({ key: enc.encode(`k${j}`), value: enc.encode(`b${i}-${j}`), timestamp: 10_000 + i * 10 + j })))
}

/** A data dir with topic `t`, partition 0, holding 40 batches (120 records) over several segments. */
function populate(storage: FsStorage | SimStorage, dataDir: string, clean: boolean) {
  const clock = new ManualClock()
  const manager = LogManager.open({ storage, dataDir, clock, defaultConfig: config })
  const log = manager.getOrCreate('t', 0)
  for (let i = 0; i < 40; i++) log.append(batch(i), { leaderEpoch: 1 })
  log.updateHighWatermark(120)
  if (clean) manager.close()
  else {
    log.flush()
    manager.checkpoint()
    // An unclean stop: files closed behind the manager's back, no marker written.
    for (const seg of log.segments) seg.close()
  }
  return log.segments.map((s) => s.baseOffset)
}

/** Every record, checking every batch's CRC: a corrupt batch must never be served. */
function readAllChecked(manager: LogManager): string[] {
  const log = manager.get('t', 0)!
  const out: string[] = []
  let next = log.logStartOffset
  while (next < log.logEndOffset) {
    const got = log.read(next, 1 << 20)
    for (const b of iterateRecordBatches(got.records)) for (const r of b.records) out.push(dec.decode(r.value!))
    next = got.nextOffset
  }
  return out
}

function reopen(storage: FsStorage | SimStorage, dataDir: string) {
  const logger = new RecordingLogger()
  const manager = LogManager.open({ storage, dataDir, clock: new ManualClock(), logger, defaultConfig: config })
  return { manager, logger, warnings: logger.lines.filter((l) => l.level === 'warn').map((l) => l.message) }
}

const expected = Array.from({ length: 40 }, (_, i) => [0, 1, 2].map((j) => `b${i}-${j}`)).flat()

t.test('partition directory names', async (t) => {
  t.same(parsePartitionDirName('orders-3'), { topic: 'orders', partition: 3 })
  t.same(parsePartitionDirName('my-topic-12'), { topic: 'my-topic', partition: 12 })
  t.equal(parsePartitionDirName('recovery-point-offset-checkpoint'), null)
})

t.test('a clean stop leaves the marker; the next start skips the scan and removes it', async (t) => {
  const dataDir = t.testdir()
  const storage = new FsStorage()
  populate(storage, dataDir, true)
  t.ok(fs.existsSync(`${dataDir}/${CLEAN_SHUTDOWN_MARKER}`))
  for (const f of ['recovery-point-offset-checkpoint', 'log-start-offset-checkpoint', 'replication-offset-checkpoint']) t.ok(fs.existsSync(`${dataDir}/${f}`), f)
  t.match(fs.readFileSync(`${dataDir}/replication-offset-checkpoint`, 'utf8'), /^0\n1\nt 0 120\n$/)
  const { manager, warnings } = reopen(storage, dataDir)
  t.ok(manager.wasCleanShutdown)
  t.notOk(fs.existsSync(`${dataDir}/${CLEAN_SHUTDOWN_MARKER}`), 'a crash from now on is seen as unclean')
  t.same(warnings, [])
  t.same(readAllChecked(manager), expected)
  t.equal(manager.get('t', 0)!.highWatermark, 120)
  manager.close()
})

t.test('a torn last batch is cut off; everything before it is kept', async (t) => {
  const dataDir = t.testdir()
  const storage = new FsStorage()
  const bases = populate(storage, dataDir, false)
  const tail = `${dataDir}/t-0/${segmentFileName(bases.at(-1)!, '.log')}`
  fs.truncateSync(tail, fs.statSync(tail).size - 7)
  const { manager, warnings } = reopen(storage, dataDir)
  t.notOk(manager.wasCleanShutdown)
  t.equal(warnings.length, 1, 'one line says what recovery did')
  t.match(warnings[0], /recovery truncated segment \d+ to \d+ bytes \(\d+ bytes dropped\): batch at byte \d+ is cut short/)
  t.same(readAllChecked(manager), expected.slice(0, 117))
  t.equal(manager.get('t', 0)!.logEndOffset, 117)
  t.equal(manager.get('t', 0)!.append(batch(99)).firstOffset, 117, 'appends continue after the cut')
  manager.close()
})

t.test('a flipped bit in the tail segment: the corrupt batch and what follows go', async (t) => {
  const dataDir = t.testdir()
  const storage = new FsStorage()
  const bases = populate(storage, dataDir, false)
  const tail = `${dataDir}/t-0/${segmentFileName(bases.at(-1)!, '.log')}`
  const bytes = fs.readFileSync(tail)
  const second = new BatchHeader(bytes).sizeInBytes
  bytes[second + 70] ^= 0x10 // inside the second batch's records
  fs.writeFileSync(tail, bytes)
  const { manager, warnings } = reopen(storage, dataDir)
  t.equal(warnings.length, 1)
  t.match(warnings[0], /fails its CRC/)
  const firstOfTail = bases.at(-1)!
  t.same(readAllChecked(manager), expected.slice(0, firstOfTail + 3))
  manager.close()
})

t.test('a flipped bit after a clean stop is still caught in the active segment\'s tail', async (t) => {
  const dataDir = t.testdir()
  const storage = new FsStorage()
  const bases = populate(storage, dataDir, true)
  const tail = `${dataDir}/t-0/${segmentFileName(bases.at(-1)!, '.log')}`
  const bytes = fs.readFileSync(tail)
  bytes[bytes.length - 3] ^= 0x01
  fs.writeFileSync(tail, bytes)
  const { manager, warnings } = reopen(storage, dataDir)
  t.equal(warnings.length, 2)
  t.match(warnings[0], /fails its CRC; rebuilding it from its batches/)
  t.match(warnings[1], /recovery truncated segment/)
  t.same(readAllChecked(manager), expected.slice(0, 117))
  manager.close()
})

t.test('a truncated .index is rebuilt', async (t) => {
  const dataDir = t.testdir()
  const storage = new FsStorage()
  const bases = populate(storage, dataDir, true)
  const index = `${dataDir}/t-0/${segmentFileName(bases[0]!, '.index')}`
  t.ok(fs.statSync(index).size >= 16)
  fs.truncateSync(index, fs.statSync(index).size - 3)
  const { manager, warnings } = reopen(storage, dataDir)
  t.equal(warnings.length, 1)
  t.match(warnings[0], /segment 0: .*\.index: .*; rebuilding it from its batches/)
  t.same(readAllChecked(manager), expected)
  const seg = manager.get('t', 0)!.segments[0]!
  t.equal(seg.sanityCheck(), null)
  t.ok(seg.offsetIndex.entries > 0, 'the index has its entries again')
  manager.close()
})

t.test('a missing .timeindex is rebuilt and lookups by time work', async (t) => {
  const dataDir = t.testdir()
  const storage = new FsStorage()
  const bases = populate(storage, dataDir, true)
  fs.rmSync(`${dataDir}/t-0/${segmentFileName(bases[1]!, '.timeindex')}`)
  const { manager, warnings } = reopen(storage, dataDir)
  t.equal(warnings.length, 1)
  t.match(warnings[0], new RegExp(`segment ${bases[1]}: index files missing; rebuilding it`))
  t.same(readAllChecked(manager), expected)
  const log = manager.get('t', 0)!
  for (const i of [0, 5, 17, 39]) t.same(log.offsetForTimestamp(10_000 + i * 10 + 1), { offset: i * 3 + 1, timestamp: 10_000 + i * 10 + 1 })
  manager.close()
})

t.test('garbage in a checkpoint file: logged, ignored, and the logs recover from scratch', async (t) => {
  const dataDir = t.testdir()
  const storage = new FsStorage()
  populate(storage, dataDir, false)
  fs.writeFileSync(`${dataDir}/recovery-point-offset-checkpoint`, 'not a checkpoint\x00\x01')
  fs.writeFileSync(`${dataDir}/replication-offset-checkpoint`, '0\n7\nt 0 zz\n')
  const { manager, warnings } = reopen(storage, dataDir)
  t.equal(warnings.length, 2)
  t.match(warnings[0], /recovery-point-offset-checkpoint unreadable .*; ignoring it/)
  t.match(warnings[1], /replication-offset-checkpoint unreadable .*; ignoring it/)
  t.same(readAllChecked(manager), expected)
  t.equal(manager.get('t', 0)!.highWatermark, 0, 'an unreadable high watermark starts from zero')
  manager.close()
})

t.test('garbage in leader-epoch-checkpoint is rebuilt from the batches', async (t) => {
  const dataDir = t.testdir()
  const storage = new FsStorage()
  populate(storage, dataDir, false)
  fs.writeFileSync(`${dataDir}/t-0/leader-epoch-checkpoint`, 'garbage')
  const { manager, warnings } = reopen(storage, dataDir)
  t.match(warnings[0], /leader-epoch-checkpoint unreadable/)
  t.same(manager.get('t', 0)!.leaderEpochCache.entries(), [{ epoch: 1, startOffset: 0 }])
  manager.close()
})

t.test('leftovers of interrupted operations are cleaned up at start', async (t) => {
  const dataDir = t.testdir()
  const storage = new FsStorage()
  populate(storage, dataDir, true)
  fs.writeFileSync(`${dataDir}/t-0/00000000000000000000.log.cleaned`, 'half-written')
  fs.writeFileSync(`${dataDir}/t-0/00000000000000000999.index`, 'orphan')
  fs.mkdirSync(`${dataDir}/gone-0.abc123-delete`)
  const { manager, logger } = reopen(storage, dataDir)
  t.notOk(fs.existsSync(`${dataDir}/t-0/00000000000000000000.log.cleaned`))
  t.notOk(fs.existsSync(`${dataDir}/t-0/00000000000000000999.index`))
  t.notOk(fs.existsSync(`${dataDir}/gone-0.abc123-delete`))
  t.equal(logger.lines.filter((l) => /removed/.test(l.message)).length, 3)
  t.same(readAllChecked(manager), expected)
  manager.close()
})

t.test('logs are created, listed, deleted, flushed and retained through the manager', async (t) => {
  const storage = new SimStorage()
  const clock = new ManualClock(1_000_000)
  const manager = LogManager.open({ storage, dataDir: '/data', clock, defaultConfig: logConfig({ 'segment.bytes': 300, 'retention.ms': 1000, 'flush.ms': 500 }) })
  const a = manager.getOrCreate('a', 0)
  t.equal(manager.getOrCreate('a', 0), a)
  manager.getOrCreate('b', 1, logConfig({ 'cleanup.policy': 'compact' }))
  t.same(manager.all().map((e) => `${e.topic}-${e.partition}`).sort(), ['a-0', 'b-1'])
  for (let i = 0; i < 10; i++) a.append(buildRecordBatch([{ value: enc.encode(`x${i}`), timestamp: clock.now() }]))
  a.updateHighWatermark(a.logEndOffset)
  t.equal(manager.flushDirtyLogs(), 0)
  clock.advance(600)
  t.equal(manager.flushDirtyLogs(), 1)
  clock.advance(5000)
  t.ok(manager.cleanupLogs() > 0, 'retention ran over the logs')
  t.ok(manager.delete('b', 1))
  t.notOk(manager.delete('b', 1))
  t.notOk(storage.exists('/data/b-1'))
  manager.close()
  manager.close()
  t.throws(() => manager.getOrCreate('c', 0), /closed/)
  // Simulated power loss after the clean close: everything the close wrote is durable.
  storage.crash(new SeededRandom(1), 'lose-unsynced')
  const again = LogManager.open({ storage, dataDir: '/data', clock, defaultConfig: logConfig({ 'segment.bytes': 300 }) })
  t.ok(again.wasCleanShutdown)
  t.equal(again.get('a', 0)!.logEndOffset, 10)
  t.equal(again.get('b', 1), undefined)
})

t.test('an offline log keeps the clean-shutdown marker from being written', async (t) => {
  const storage = new SimStorage()
  const manager = LogManager.open({ storage, dataDir: '/data', clock: new ManualClock() })
  const log = manager.getOrCreate('a', 0)
  log.append(buildRecordBatch([{ value: enc.encode('x') }]))
  storage.injectFault({ op: 'append', path: /\.log$/, code: 'EIO', partial: true, times: 1 })
  storage.injectFault({ op: 'truncate', path: /\.log$/, code: 'EIO', times: 1 })
  t.throws(() => log.append(buildRecordBatch([{ value: enc.encode('y') }])))
  t.ok(log.offline)
  manager.close()
  t.notOk(storage.exists(`/data/${CLEAN_SHUTDOWN_MARKER}`), 'the next start scans')
})

t.test('a crash between DeleteRecords and the checkpoint: the epoch cache is rebuilt', async (t) => {
  const storage = new SimStorage()
  const clock = new ManualClock()
  const cfg = logConfig({ 'segment.bytes': 200 })
  const manager = LogManager.open({ storage, dataDir: '/data', clock, defaultConfig: cfg })
  const log = manager.getOrCreate('t', 0)
  for (let i = 0; i < 4; i++) log.append(buildRecordBatch([0, 1, 2, 3, 4].map((j) => ({ value: enc.encode(`${i}-${j}`) }))), { leaderEpoch: 0 })
  log.flush()
  log.updateHighWatermark(log.logEndOffset)
  manager.checkpoint()
  const secondBase = log.segments[1]!.baseOffset
  log.deleteRecordsBefore(secondBase + 2)
  t.same(log.leaderEpochCache.entries(), [{ epoch: 0, startOffset: secondBase + 2 }])
  storage.restart() // the log start offset checkpoint still says 0
  const logger = new RecordingLogger()
  const again = LogManager.open({ storage, dataDir: '/data', clock, logger, defaultConfig: cfg })
  const reopened = again.get('t', 0)!
  t.ok(reopened.logStartOffset < secondBase + 2)
  t.equal(reopened.leaderEpochCache.epochForOffset(reopened.logStartOffset), 0)
  t.match(logger.text(), /starts at \d+, past the log start offset \d+; rebuilding it/)
})

t.test('a checkpoint that cannot be written says which file', async (t) => {
  const storage = new SimStorage()
  const manager = LogManager.open({ storage, dataDir: '/data', clock: new ManualClock() })
  manager.getOrCreate('a', 0)
  storage.injectFault({ op: 'rename', path: /log-start-offset-checkpoint/, code: 'EIO', times: 1 })
  t.throws(() => manager.checkpoint(), { name: 'KafkaStorageError', message: /writing log-start-offset-checkpoint failed: EIO/ })
  manager.checkpoint()
})

t.test('compaction runs over the compacted logs only', async (t) => {
  const storage = new SimStorage()
  const clock = new ManualClock(1_000_000)
  const manager = LogManager.open({ storage, dataDir: '/data', clock })
  const compacted = manager.getOrCreate('c', 0, logConfig({ 'cleanup.policy': 'compact', 'segment.bytes': 200 }))
  const plain = manager.getOrCreate('p', 0, logConfig({ 'segment.bytes': 200 }))
  for (const log of [compacted, plain]) {
    for (let i = 0; i < 12; i++) log.append(buildRecordBatch([{ key: enc.encode('same'), value: enc.encode(`v${i}`), timestamp: clock.now() }]))
    log.updateHighWatermark(log.logEndOffset)
  }
  const plainSize = plain.size
  t.ok(manager.compactLogs() > 0)
  t.equal(plain.size, plainSize, 'a delete-policy log is not compacted')
  const values: string[] = []
  let next = compacted.logStartOffset
  while (next < compacted.logEndOffset) {
    const got = compacted.read(next, 1 << 20)
    for (const b of iterateRecordBatches(got.records)) for (const r of b.records) values.push(dec.decode(r.value!))
    next = got.nextOffset
  }
  t.ok(values.length < 12, 'older values of the key are gone')
  t.equal(values.at(-1), 'v11', 'the latest value stays')
})
