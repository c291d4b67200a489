import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import {
  constantRecord,
  constantSum,
  expectedSum,
  latencyRecord,
  makeRecord,
  mix,
  percentileSorted,
  readSentAt,
  readSeq,
  sendAll,
  SEQ_DIGITS,
  Tally,
  Window,
  writeRecordLines,
} from '../../../../scripts/bench/compare/records.ts'

// The harness prints a figure only when count and checksum match: these are the checks that
// make a lossy or duplicating run fail, so each is shown to fail on the run it must catch.

function tallyOf(seqs: number[], size: number): Tally {
  const t = new Tally(size)
  for (const s of seqs) t.add(makeRecord(s, size), 0)
  return t
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

t.test('a record is its sequence number in ASCII digits, then x to its size', async (t) => {
  const r = makeRecord(42, 32)
  t.equal(r.length, 32)
  t.equal(r.toString('latin1'), '0000000000000042' + 'x'.repeat(32 - SEQ_DIGITS))
  t.equal(readSeq(makeRecord(9_007_199_254_740, 100)), 9_007_199_254_740)
  t.equal(constantRecord(20), '0000000000000000xxxx')
})

t.test('a latency record carries its send time', async (t) => {
  const r = latencyRecord(7, 1_764_000_000_123.456)
  t.equal(r.length, 100)
  t.equal(readSeq(r), 7)
  t.equal(readSentAt(r), 1_764_000_000_123.456)
})

t.test('every record read once, in any order, matches the expected checksum', async (t) => {
  const seqs = range(10_000).reverse()
  const tally = tallyOf(seqs, 100)
  t.equal(tally.count, 10_000)
  t.equal(tally.sum, expectedSum(10_000))
  t.equal(tally.badLength, 0)
})

t.test('a lost record fails the count; a duplicate in place of a lost one fails the checksum', async (t) => {
  const lost = tallyOf(range(1000).filter((s) => s !== 500), 100)
  t.not(lost.count, 1000)
  const duplicated = tallyOf([...range(1000).filter((s) => s !== 500), 499], 100)
  t.equal(duplicated.count, 1000, 'the count alone would pass')
  t.not(duplicated.sum, expectedSum(1000), 'the checksum does not')
  // Members of a group add their tallies: split reads add up; an overlap does not.
  const a = tallyOf(range(600), 100)
  const b = tallyOf(range(1000).slice(600), 100)
  t.equal((a.sum + b.sum) >>> 0, expectedSum(1000))
  const overlap = tallyOf(range(1000).slice(599, 999), 100)
  t.not((a.sum + overlap.sum) >>> 0, expectedSum(1000))
})

t.test('a record of the wrong size or with no value is counted as bad', async (t) => {
  const tally = new Tally(100)
  tally.add(makeRecord(0, 99), 1)
  tally.add(null, 2)
  tally.add(makeRecord(1, 100), 3)
  t.equal(tally.count, 3)
  t.equal(tally.badLength, 2)
  t.equal(tally.lastAt, 3)
})

t.test('the checksum of constant records (redis-benchmark) is count × mix(0) mod 2^32', async (t) => {
  const tally = new Tally(50)
  for (let i = 0; i < 5000; i++) tally.add(Buffer.from(constantRecord(50), 'latin1'), 0)
  t.equal(tally.sum, constantSum(5000))
  t.not(mix(0), 0, 'record 0 counts in a checksum')
  t.not(constantSum(5000), constantSum(4999))
})

t.test('mix spreads neighbouring sequence numbers, also past 2^32', async (t) => {
  const seen = new Set<number>()
  for (let i = 0; i < 100_000; i++) seen.add(mix(i))
  t.equal(seen.size, 100_000, 'no collision among the first 100,000')
  t.not(mix(2 ** 32), mix(0))
  t.not(mix(2 ** 32 + 1), mix(1))
})

t.test('the record lines file kcat reads holds each record once, in order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peerlog-records-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'lines.txt')
  // More than one chunk (1 MiB) of 1 KiB lines.
  await writeRecordLines(file, 2500, 1024)
  const lines = readFileSync(file, 'latin1').split('\n')
  t.equal(lines.pop(), '', 'ends with a newline')
  t.equal(lines.length, 2500)
  t.ok(lines.every((l, i) => l.length === 1024 && readSeq(Buffer.from(l, 'latin1')) === i && l.endsWith('x')))
})

t.test('percentiles are nearest-rank', async (t) => {
  const xs = range(100).map((i) => i + 1)
  t.equal(percentileSorted(xs, 0.5), 50)
  t.equal(percentileSorted(xs, 0.99), 99)
  t.equal(percentileSorted(xs, 0.999), 100)
  t.equal(percentileSorted([5], 0.99), 5)
  t.ok(Number.isNaN(percentileSorted([], 0.5)))
})

t.test('Window: bounds what is in flight and refills at half the window', async (t) => {
  const w = new Window(4)
  const resolvers: (() => void)[] = []
  const send = () => w.track(new Promise<void>((r) => resolvers.push(r)))
  for (let i = 0; i < 4; i++) send()
  t.equal(w.full, true)
  let roomAt = -1
  const room = w.room().then(() => (roomAt = resolvers.length))
  resolvers[0]!()
  await new Promise((r) => setImmediate(r))
  t.equal(roomAt, -1, 'one settled of four: still waiting')
  resolvers[1]!()
  await room
  t.equal(w.full, false, 'two settled: room again')
  resolvers[2]!()
  resolvers[3]!()
  await w.drain()
})

t.test('Window: a failed send is thrown by room(), drain() and check(), so no count includes it', async (t) => {
  const w = new Window(2)
  let fail!: (e: Error) => void
  w.track(new Promise((_, reject) => (fail = reject)))
  w.track(Promise.resolve())
  fail(new Error('NOT_ENOUGH_REPLICAS'))
  await t.rejects(w.drain(), /NOT_ENOUGH_REPLICAS/)
  t.throws(() => w.check(), /NOT_ENOUGH_REPLICAS/)
  await t.rejects(w.room(), /NOT_ENOUGH_REPLICAS/)
})

t.test('sendAll: records 0..n-1 in order, never more unacknowledged than the window, every ack awaited', async (t) => {
  const sent: number[] = []
  let open = 0
  let openMax = 0
  let flushed = false
  const r = await sendAll(
    { size: 100, maxRecords: 5000, maxMs: 60_000 },
    64,
    (record) => {
      sent.push(readSeq(record))
      openMax = Math.max(openMax, ++open)
      return new Promise<void>((ok) => setImmediate(() => (open--, ok())))
    },
    async () => void (flushed = true),
  )
  t.equal(r.records, 5000)
  t.same(sent, range(5000))
  t.equal(openMax, 64)
  t.equal(open, 0, 'returns after the last ack')
  t.ok(flushed)
})

t.test('sendAll: stops at maxMs, at a multiple of 1,024 sends', async (t) => {
  const r = await sendAll({ size: 20, maxRecords: Number.MAX_SAFE_INTEGER, maxMs: 50 }, 1000, () => new Promise((ok) => setTimeout(ok, 1)))
  t.ok(r.records > 0 && r.records % 1024 === 0, `${r.records} records`)
  t.ok(r.ms >= 50)
})

t.test('sendAll: a failed send is thrown, not counted', async (t) => {
  await t.rejects(
    sendAll({ size: 20, maxRecords: 100, maxMs: 60_000 }, 10, (record) => (readSeq(record) === 42 ? Promise.reject(new Error('MESSAGE_TOO_LARGE')) : Promise.resolve())),
    /MESSAGE_TOO_LARGE/,
  )
})
