// One storage scenario, run unchanged by `node` (from the esbuild bundle), `deno run -A` and
// `bun` (from the bundle and from these sources): see runtime-matrix.test.ts.
//
//   <runtime> storage-scenario.(ts|mjs) [data-dir]     (or PEERLOG_SCENARIO_DIR=<dir>)
//
// On FsStorage it appends 10,000 batches over several segments in three phases: a clean stop,
// then an unclean one (the manager is dropped without closing and a torn half batch is left at
// the end of the active segment), then a clean stop again. It reopens, reads everything back
// checking every record, looks up random offsets (read) and timestamps (offsetForTimestamp)
// against what was appended, checks the leader epochs, and prints one JSON line: counts, a
// SHA-256 over every record (equal on every runtime), the lookups done. Exit 0; on any
// mismatch, exit 1 with one line on stderr. Without a data dir it uses a temporary one.
//
// Only node: built-ins and the project's sources: the same file runs everywhere.
import { Buffer } from 'node:buffer'
import { createHash } from 'node:crypto'
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { FsStorage } from '../../src/log/fs-storage.ts'
import { logConfig } from '../../src/log/log-config.ts'
import { LogManager } from '../../src/log/log-manager.ts'
import type { PartitionLog } from '../../src/log/partition-log.ts'
import { buildRecordBatch, iterateRecordBatches } from '../../src/record/record-batch.ts'
import { ManualClock } from '../../src/runtime/clock.ts'
import { RecordingLogger } from '../../src/runtime/logger.ts'
import { runtime } from '../../src/runtime/platform.ts'
import { SeededRandom } from '../../src/sim/random.ts'

const BATCHES = 10_000
/** Batches appended before the clean stop, and before the unclean one. */
const PHASES = [4_000, 7_000, BATCHES] as const
const TOPIC = 'scenario'
const OFFSET_LOOKUPS = 1_000
const TIMESTAMP_LOOKUPS = 500

class Mismatch extends Error {}

function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new Mismatch(message)
}

interface Rec {
  key: Uint8Array
  value: Uint8Array
  timestamp: number
}

const enc = new TextEncoder()
const hex = '0123456789abcdef'

function main(): void {
  const started = Date.now()
  const given = process.argv[2] ?? process.env.PEERLOG_SCENARIO_DIR
  const dataDir = given ?? mkdtempSync(join(tmpdir(), 'peerlog-scenario-'))
  try {
    const result = run(dataDir)
    process.stdout.write(`${JSON.stringify({ ...result, runtime: runtime().name, version: runtime().version, ms: Date.now() - started })}\n`)
  } finally {
    if (given === undefined) rmSync(dataDir, { recursive: true, force: true })
  }
}

function run(dataDir: string) {
  const storage = new FsStorage()
  const clock = new ManualClock(1_700_000_000_000)
  const config = logConfig({ 'segment.bytes': 256 * 1024, 'index.interval.bytes': 4096, 'retention.ms': -1 })
  const rng = new SeededRandom(20_240_601)
  const appended: Rec[] = []
  const open = (logger = new RecordingLogger()) => {
    const manager = LogManager.open({ storage, dataDir, clock, logger, defaultConfig: config })
    return { manager, log: manager.getOrCreate(TOPIC, 0), logger }
  }

  // The batches: 1-5 records, keys from a small set, values of 20-200 bytes, timestamps
  // mostly increasing with some jitter (as producers' clocks are).
  const appendBatches = (log: PartitionLog, from: number, to: number, epoch: number) => {
    for (let b = from; b < to; b++) {
      clock.advance(1 + rng.int(20))
      const count = 1 + rng.int(5)
      const recs: Rec[] = []
      for (let i = 0; i < count; i++) {
        let text = `batch ${b} record ${i} `
        const len = 20 + rng.int(180)
        while (text.length < len) text += hex[rng.int(16)]
        recs.push({ key: enc.encode(`key-${rng.int(100)}`), value: enc.encode(text), timestamp: clock.now() - rng.int(50) })
      }
      const info = log.append(buildRecordBatch(recs), { leaderEpoch: epoch })
      check(info.firstOffset === appended.length, `batch ${b} got offset ${info.firstOffset}, expected ${appended.length}`)
      appended.push(...recs)
      log.updateHighWatermark(log.logEndOffset)
      if (b % 1000 === 999) log.flush()
    }
  }

  // Phase 1: a fresh data dir, then a clean stop.
  let s = open()
  check(!s.manager.wasCleanShutdown, 'a fresh data dir is not a clean restart')
  appendBatches(s.log, 0, PHASES[0], 0)
  s.manager.close()

  // Phase 2: a clean start, appends, then an unclean stop with a torn half batch at the tail.
  s = open()
  check(s.manager.wasCleanShutdown, 'the clean stop was not seen as clean')
  check(s.log.logEndOffset === appended.length, `after a clean restart the log ends at ${s.log.logEndOffset}, expected ${appended.length}`)
  appendBatches(s.log, PHASES[0], PHASES[1], 1)
  const active = join(s.log.dir, readdirSync(s.log.dir).filter((n) => n.endsWith('.log')).sort().pop()!)
  const torn = buildRecordBatch([{ key: enc.encode('torn'), value: enc.encode('never acknowledged'), timestamp: clock.now() }], { baseOffset: appended.length })
  appendFileSync(active, Buffer.from(torn.subarray(0, torn.length >> 1)))
  // The manager is dropped without closing: no checkpoints, no clean-shutdown marker.

  // Phase 3: recovery cuts the torn tail; appends; a clean stop.
  s = open()
  check(!s.manager.wasCleanShutdown, 'an unclean stop was seen as clean')
  check(s.log.logEndOffset === appended.length, `after recovery the log ends at ${s.log.logEndOffset}, expected ${appended.length}`)
  const truncated = /recovery truncated segment/.test(s.logger.text())
  check(truncated, `recovery did not report cutting the torn tail: ${s.logger.text()}`)
  appendBatches(s.log, PHASES[1], PHASES[2], 2)
  s.manager.close()

  // Read back after a clean restart.
  s = open()
  const log = s.log
  check(s.manager.wasCleanShutdown, 'the last stop was not seen as clean')
  check(log.logStartOffset === 0 && log.logEndOffset === appended.length, `the log spans ${log.logStartOffset}..${log.logEndOffset}, expected 0..${appended.length}`)
  const hash = createHash('sha256')
  const batchStarts: number[] = []
  let next = 0
  let batches = 0
  while (next < log.logEndOffset) {
    const r = log.read(next, 1 << 20)
    check(r.records.length > 0, `read(${next}) returned nothing`)
    for (const batch of iterateRecordBatches(r.records)) {
      check(batch.baseOffset === next, `batch ${batch.baseOffset} follows offset ${next - 1}`)
      batchStarts.push(batch.baseOffset)
      batches++
      for (const rec of batch.records) {
        const want = appended[rec.offset]
        check(want !== undefined && rec.offset === next, `record at offset ${rec.offset}, expected ${next}`)
        check(Buffer.compare(rec.value!, want.value) === 0 && Buffer.compare(rec.key!, want.key) === 0, `offset ${rec.offset} holds another record`)
        check(rec.timestamp === want.timestamp, `offset ${rec.offset} has timestamp ${rec.timestamp}, appended ${want.timestamp}`)
        const head = Buffer.alloc(16)
        head.writeDoubleBE(rec.offset, 0)
        head.writeDoubleBE(rec.timestamp, 8)
        hash.update(head).update(rec.key!).update(rec.value!)
        next++
      }
    }
  }
  check(batches === BATCHES, `read back ${batches} batches, appended ${BATCHES}`)

  // Lookups by offset: read(o) starts with the batch holding o.
  const probe = new SeededRandom(7)
  for (let i = 0; i < OFFSET_LOOKUPS; i++) {
    const o = probe.int(appended.length)
    const first = iterateRecordBatches(log.read(o, 1).records).next()
    check(!first.done, `read(${o}) returned no batch`)
    const b = first.value
    check(b.baseOffset <= o && o <= b.lastOffset, `read(${o}) starts with batch ${b.baseOffset}..${b.lastOffset}`)
    check(Buffer.compare(b.records[o - b.baseOffset]!.value!, appended[o]!.value) === 0, `read(${o}) holds another record at ${o}`)
  }
  // Lookups by time: the first offset whose timestamp is >= t.
  for (let i = 0; i < TIMESTAMP_LOOKUPS; i++) {
    const pick = appended[probe.int(appended.length)]!.timestamp
    const t = pick + probe.int(3) - 1
    const want = appended.findIndex((r) => r.timestamp >= t)
    const got = log.offsetForTimestamp(t)
    check(got !== null && got.offset === want && got.timestamp === appended[want]!.timestamp, `offsetForTimestamp(${t}) = ${JSON.stringify(got)}, expected offset ${want}`)
  }
  check(log.offsetForTimestamp(clock.now() + 1) === null, 'offsetForTimestamp past every record is not null')
  const epochs = log.leaderEpochCache.entries().map((e) => [e.epoch, e.startOffset])
  const epochStarts = [0, batchStarts[PHASES[0]], batchStarts[PHASES[1]]]
  check(JSON.stringify(epochs) === JSON.stringify(epochStarts.map((o, e) => [e, o])), `leader epochs ${JSON.stringify(epochs)}, expected starts ${epochStarts}`)
  const segments = log.segments.length
  check(segments >= 5, `only ${segments} segments`)
  s.manager.close()
  return {
    batches,
    records: appended.length,
    segments,
    logEndOffset: log.logEndOffset,
    checksum: hash.digest('hex'),
    offsetLookups: OFFSET_LOOKUPS,
    timestampLookups: TIMESTAMP_LOOKUPS,
    tornTailCut: truncated,
  }
}

try {
  main()
} catch (err) {
  process.stderr.write(`storage scenario failed: ${err instanceof Mismatch ? err.message : (err as Error)?.stack ?? String(err)}\n`)
  process.exit(1)
}
