// Crash points: a power loss (SimStorage.crash) at any storage call during append, roll,
// retention, DeleteRecords, truncation, flush, a checkpoint write, close or a recovery,
// then a restart. After it the log must be a prefix of what was appended, hold everything
// that was fsynced (below the recovery point, and not deleted), answer index lookups as a
// full scan does, and take new appends.
//
// How: a deterministic scenario (SeededRandom over a LogManager on SimStorage with a
// ManualClock and tiny segments and indexes) runs once without a crash to count its
// storage calls and record, per step, each log's state after it. Then, for each
// (seed, crash point), it runs again with setCrashPoint(n); at the SimulatedCrash the
// disk loses power in one of three ways, the data directory is reopened and checked
// against the scenario's history. Every failure names its seed and crash point and the
// command that replays only that case:
//   CRASH_SEED=<s> CRASH_POINT=<n> npx tap --allow-incomplete-coverage test/log/crash-points.test.ts
// CRASH_SEED alone runs every crash point of that seed (exhaustively); CRASH_SEEDS,
// CRASH_COMPACTION_SEEDS and CRASH_POINTS_PER_SEED widen the default sample (20 + 6 seeds,
// 75 points each). Seeds from 1000 on run a compacted topic with cleanLog steps (half of
// their points fall inside cleanLog). CRASH_DEBUG=1 prints what the reopened data directory
// holds; CRASH_TRACE=1 prints each step of the crash-free run.
//
// The second half injects disk faults (ENOSPC, EIO, plain and partial writes) into appends,
// rolls and checkpoint writes, and checks that the append fails with a KafkaStorageError and
// that nothing partial shows after a restart.
import t, { type Test } from 'tap'
import { KafkaStorageError } from '../../src/log/errors.ts'
import { type LogConfig, logConfig } from '../../src/log/log-config.ts'
import { cleanLog } from '../../src/log/log-cleaner.ts'
import { LogManager } from '../../src/log/log-manager.ts'
import type { PartitionLog } from '../../src/log/partition-log.ts'
import { StorageError } from '../../src/log/storage.ts'
import { buildRecordBatch, iterateRecordBatches, type RecordBatch } from '../../src/record/record-batch.ts'
import type { RecordInput } from '../../src/record/record.ts'
import { ManualClock } from '../../src/runtime/clock.ts'
import { RecordingLogger } from '../../src/runtime/logger.ts'
import { SeededRandom } from '../../src/sim/random.ts'
import { type CrashMode, type Fault, SimStorage, type SimStorageOptions, SimulatedCrash } from '../../src/sim/sim-storage.ts'

const DATA = '/data'
const TOPIC = 't'
const PARTITIONS = [0, 1] as const
const MODES: readonly CrashMode[] = ['lose-unsynced', 'torn', 'random']
const FILE = 'test/log/crash-points.test.ts'

const envInt = (name: string): number | null => {
  const v = process.env[name]
  if (v === undefined || v === '') return null
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${v}`)
  return n
}

function replayCommand(seed: number, point: number): string {
  return `CRASH_SEED=${seed} CRASH_POINT=${point} npx tap --allow-incomplete-coverage ${FILE}`
}

/** What a check found wrong (as opposed to a crash or a bug in the test). */
class Problem extends Error {
  override name = 'Problem'
}

function fail(message: string): never {
  throw new Problem(message)
}

// ------------------------------------------------------------------------------- the model

/** One appended record as the log must return it. */
interface Rec {
  key: Uint8Array | null
  /** null: a tombstone (compacted topics). */
  value: Uint8Array | null
  timestamp: number
}

/** What one partition was given, offset by offset (a truncation rewrites the tail). */
class PartitionModel {
  /** history[offset]: dense from offset 0. */
  history: Rec[] = []
  leaderEpoch = 0
  /** Log start offset in the last checkpoint that completed (a restart never goes below it, or the log end). */
  checkpointedLso = 0
}

/** A log's state between two steps. */
interface LogState {
  lso: number
  recovery: number
  leo: number
}

const NO_LOG: LogState = { lso: 0, recovery: 0, leo: 0 }

type Snapshot = Map<number, LogState>

interface StepInfo {
  kind: string
  detail: string
}

/** The crash-free run: per step, what it did and each log's state after it. */
interface Trace {
  steps: StepInfo[]
  after: Snapshot[]
  ops: number
  /** Segments cleanLog replaced (compacted topics). */
  cleaned: number
  /** Storage calls made before each step (from the start of the run). */
  stepStart: number[]
}

interface Settings {
  seed: number
  config: LogConfig
  steps: number
  /** A compacted topic: keyed records, tombstones, cleanLog steps, no truncation. */
  compact: boolean
}

/** Seeds from COMPACTION_SEEDS on run a compacted topic. */
const COMPACTION_SEEDS = 1000

function settingsFor(seed: number): Settings {
  const compact = seed >= COMPACTION_SEEDS
  const rng = new SeededRandom(seed ^ 0x5eed)
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!
  const config = logConfig({
    'segment.bytes': 1024 + rng.int(3072),
    'index.interval.bytes': pick([0, 64, 128, 300]),
    // 6 to 20 offset-index entries, 3 to 12 time-index entries: index-full rolls happen.
    'segment.index.bytes': 48 + 8 * rng.int(18),
    'flush.messages': pick([3, 10, 25, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]),
    'flush.ms': pick([5_000, 30_000, Number.MAX_SAFE_INTEGER]),
    'retention.bytes': pick([-1, 4_000, 8_000]),
    'retention.ms': pick([-1, 40_000, 120_000]),
    'segment.ms': pick([7 * 24 * 3600 * 1000, 15_000]),
    'message.timestamp.type': pick(['CreateTime', 'CreateTime', 'LogAppendTime']),
    'cleanup.policy': compact ? pick(['compact', 'compact,delete']) : 'delete',
    'delete.retention.ms': pick([2_000, 20_000]),
    'min.compaction.lag.ms': pick([0, 0, 5_000]),
  })
  return { seed, config, steps: 90 + rng.int(40), compact }
}

// ------------------------------------------------------------------------------- the scenario

interface Live {
  manager: LogManager
  logs: Map<number, PartitionLog>
}

/** Where a run stands: the model, and the step under way when it stopped. */
interface RunState {
  settings: Settings
  models: Map<number, PartitionModel>
  step: number
  before: Snapshot
  /** History before the step, for the step that truncates (a crash may leave either). */
  previousHistory: Map<number, Rec[]> | null
  crashed: SimulatedCrash | null
  live: Live | null
  clock: ManualClock
}

function snapshot(live: Live | null): Snapshot {
  const out: Snapshot = new Map()
  if (!live) return out
  for (const [p, log] of live.logs) out.set(p, { lso: log.logStartOffset, recovery: log.recoveryPoint, leo: log.logEndOffset })
  return out
}

function openManager(storage: SimStorage, clock: ManualClock, config: LogConfig): Live {
  const manager = LogManager.open({ storage, dataDir: DATA, clock, defaultConfig: config })
  const logs = new Map<number, PartitionLog>()
  for (const p of PARTITIONS) {
    const log = manager.get(TOPIC, p)
    if (log) logs.set(p, log)
  }
  return { manager, logs }
}

function newDisk(): SimStorage {
  const storage = new SimStorage()
  // The data directory exists (and is durable) before the broker first starts.
  storage.mkdirp(DATA)
  storage.syncDir('/')
  storage.syncDir(DATA)
  return storage
}

const enc = new TextEncoder()

function makeRecords(rng: SeededRandom, clock: ManualClock, count: number, compact = false): RecordInput[] {
  const out: RecordInput[] = []
  for (let i = 0; i < count; i++) {
    const len = 8 + rng.int(160)
    // A compacted topic: few keys, so that most records are superseded, and some tombstones.
    const value = compact && rng.int(7) === 0 ? null : rng.bytes(len)
    const key = rng.int(compact ? 12 : 3) === 0 ? null : enc.encode(`k${rng.int(compact ? 6 : 12)}`)
    // Mostly increasing, sometimes out of order, as producers' clocks are.
    const timestamp = clock.now() - rng.int(3) * rng.int(4000)
    out.push({ key, value, timestamp })
  }
  return out
}

/**
 * Runs the scenario on `storage`. With a crash point armed, it stops at the SimulatedCrash
 * (possibly wrapped in a KafkaStorageError) and reports the step under way. Anything else
 * thrown is a bug and propagates.
 */
function runScenario(storage: SimStorage, settings: Settings, trace: Trace | null, crashAtOp: number | null = null): RunState {
  const rng = new SeededRandom(settings.seed)
  const clock = new ManualClock(1_700_000_000_000)
  const config = settings.config
  const models = new Map<number, PartitionModel>(PARTITIONS.map((p) => [p, new PartitionModel()]))
  const state: RunState = { settings, models, step: 0, before: new Map(), previousHistory: null, crashed: null, live: null, clock }
  const logAppendTime = config['message.timestamp.type'] === 'LogAppendTime'

  const record = (kind: string, detail: string) => {
    if (trace) trace.steps.push({ kind, detail })
  }

  const steps: (() => void)[] = []
  // Step 0: the broker starts and creates both partitions.
  steps.push(() => {
    record('create', 'open the log manager, create both partitions')
    const live = openManager(storage, clock, config)
    state.live = live
    for (const p of PARTITIONS) live.logs.set(p, live.manager.getOrCreate(TOPIC, p, config))
  })

  const stepOnce = () => {
    const live = state.live!
    clock.advance(50 + rng.int(1500))
    const p = rng.int(4) === 0 ? 1 : 0
    const log = live.logs.get(p)!
    const model = models.get(p)!
    if (settings.compact && rng.int(8) === 0) {
      record('clean', `cleanLog on partition ${p} (${log.segments.length} segments, high watermark ${log.highWatermark})`)
      const result = cleanLog(log, { now: clock.now() })
      if (trace) trace.steps[trace.steps.length - 1]!.detail += `: ${result.segmentsCleaned} segments cleaned, ${result.recordsBefore} -> ${result.recordsAfter} records`
      if (trace) trace.cleaned += result.segmentsCleaned
      return
    }
    const r = rng.next()
    if (r < 0.55) {
      if (rng.int(25) === 0) model.leaderEpoch += 1 + rng.int(2)
      const nBatches = rng.int(5) === 0 ? 2 + rng.int(3) : 1
      const parts: Uint8Array[] = []
      const recs: Rec[] = []
      for (let b = 0; b < nBatches; b++) {
        const inputs = makeRecords(rng, clock, 1 + rng.int(5), settings.compact)
        parts.push(buildRecordBatch(inputs, {}))
        for (const x of inputs) recs.push({ key: x.key ?? null, value: x.value ?? null, timestamp: logAppendTime ? clock.now() : x.timestamp! })
      }
      const bytes = Buffer.concat(parts)
      const base = log.logEndOffset
      record('append', `append ${recs.length} records in ${nBatches} batches to partition ${p} at offset ${base}, epoch ${model.leaderEpoch}`)
      // In the model before the call: a crash inside the append may or may not keep them.
      if (model.history.length !== base) throw new Error(`partition ${p}: the log ends at ${base}, the model at ${model.history.length}`)
      model.history.push(...recs)
      const info = log.append(bytes, { leaderEpoch: model.leaderEpoch })
      if (info.firstOffset !== base || info.lastOffset !== base + recs.length - 1) {
        throw new Error(`append assigned ${info.firstOffset}..${info.lastOffset}, expected ${base}..${base + recs.length - 1}`)
      }
      if (rng.int(10) < 7) log.updateHighWatermark(log.logEndOffset)
    } else if (r < 0.6) {
      record('roll', `roll partition ${p} at ${log.logEndOffset}`)
      log.roll()
    } else if (r < 0.67) {
      record('flush', `flush partition ${p} (recovery point ${log.recoveryPoint} -> ${log.logEndOffset})`)
      log.flush()
    } else if (r < 0.74) {
      record('checkpoint', 'write the three checkpoint files')
      live.manager.checkpoint()
      for (const [q, l] of live.logs) models.get(q)!.checkpointedLso = l.logStartOffset
    } else if (r < 0.79) {
      record('retention', `retention over both partitions (sizes ${[...live.logs.values()].map((l) => l.size).join(', ')})`)
      live.manager.cleanupLogs()
    } else if (r < 0.83) {
      const to = log.logStartOffset + rng.int(log.highWatermark - log.logStartOffset + 1)
      record('deleteRecords', `deleteRecordsBefore(${to}) on partition ${p} (log start ${log.logStartOffset}, high watermark ${log.highWatermark})`)
      log.deleteRecordsBefore(to)
    } else if (r < 0.86 && !settings.compact) {
      const low = Math.max(log.logStartOffset, log.logEndOffset - 20)
      const to = low + rng.int(log.logEndOffset - low + 1)
      record('truncate', `truncateTo(${to}) on partition ${p} (log end ${log.logEndOffset})`)
      state.previousHistory = new Map([...models].map(([q, m]) => [q, [...m.history]]))
      // Whole batches go: the log ends where the batch holding `to` starts.
      const newEnd = to < log.logEndOffset ? Math.min(to, log.read(to, 1).firstBatchOffset) : to
      log.truncateTo(to)
      model.history.length = Math.min(model.history.length, newEnd)
      if (log.logEndOffset !== newEnd) throw new Error(`truncateTo(${to}) left the log end at ${log.logEndOffset}, expected ${newEnd}`)
    } else if (r < 0.89) {
      record('flushDirty', 'flushDirtyLogs (flush.ms)')
      live.manager.flushDirtyLogs()
    } else if (r < 0.92) {
      const hw = log.highWatermark + rng.int(log.logEndOffset - log.highWatermark + 1)
      record('highWatermark', `high watermark of partition ${p} to ${hw}`)
      log.updateHighWatermark(hw)
    } else if (r < 0.96) {
      record('cleanRestart', 'close the log manager cleanly and open it again')
      live.manager.close()
      for (const [q, l] of live.logs) models.get(q)!.checkpointedLso = l.logStartOffset
      state.live = null
      state.live = openManager(storage, clock, config)
    } else {
      record('processRestart', 'process crash (unsynced bytes stay in the page cache) and open again')
      storage.restart()
      // restart() disarms the crash point: arm it again.
      if (crashAtOp !== null && crashAtOp > storage.opsCount) storage.setCrashPoint(crashAtOp - storage.opsCount)
      state.live = null
      state.live = openManager(storage, clock, config)
    }
  }
  for (let i = 0; i < settings.steps; i++) steps.push(stepOnce)
  // Last step: a clean stop, so that close() and the clean-shutdown marker see crash points too.
  steps.push(() => {
    record('close', 'close the log manager cleanly')
    state.live!.manager.close()
    for (const [q, l] of state.live!.logs) models.get(q)!.checkpointedLso = l.logStartOffset
  })

  const opsBefore = storage.opsCount
  for (let i = 0; i < steps.length; i++) {
    if (trace) trace.stepStart.push(storage.opsCount - opsBefore)
    state.step = i
    state.before = snapshot(state.live)
    state.previousHistory = null
    try {
      steps[i]!()
    } catch (err) {
      if (storage.isDown) {
        state.crashed = crashOf(err)
        return state
      }
      throw err
    }
    if (storage.isDown) {
      // A crash some code swallowed: the run is over all the same.
      state.crashed = new SimulatedCrash('unknown', 'unknown', storage.opsCount)
      return state
    }
    if (trace) trace.after.push(snapshot(state.live))
    if (trace && process.env.CRASH_TRACE) {
      const logs = [...(state.live?.logs ?? [])].map(([p, l]) => `p${p} ${l.logStartOffset}..${l.logEndOffset} rp ${l.recoveryPoint} epochs ${JSON.stringify(l.leaderEpochCache.entries())}`)
      console.error(`step ${i} ${trace.steps[i]?.detail}: ${logs.join('; ')}`)
    }
  }
  if (trace) trace.ops = storage.opsCount
  return state
}

function crashOf(err: unknown): SimulatedCrash {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if (e instanceof SimulatedCrash) return e
  }
  return new SimulatedCrash('unknown (wrapped)', String(err), -1)
}

// ------------------------------------------------------------------------------- checks

interface ScannedRecord {
  offset: number
  timestamp: number
  key: Uint8Array | null
  value: Uint8Array | null
}

interface ScannedBatch {
  baseOffset: number
  lastOffset: number
  crc: number
  size: number
  partitionLeaderEpoch: number
  maxTimestamp: number
}

interface Scan {
  batches: ScannedBatch[]
  records: ScannedRecord[]
}

const bytesEqual = (a: Uint8Array | null, b: Uint8Array | null): boolean =>
  a === null || b === null ? a === b : a.length === b.length && Buffer.compare(a, b) === 0

/** Reads the whole log from its start offset: whole batches, CRC-checked, offsets without a gap. */
/** `gaps`: a compacted log, whose batches may skip offsets (removed records) but never overlap. */
function scanLog(log: PartitionLog, where: string, gaps = false): Scan {
  const batches: ScannedBatch[] = []
  const records: ScannedRecord[] = []
  const lso = log.logStartOffset
  const leo = log.logEndOffset
  let next = lso
  let first = true
  while (next < leo) {
    const r = log.read(next, 1 + ((next * 7919) % 9000))
    if (r.records.length === 0) fail(`${where}: read(${next}) returned nothing below the log end offset ${leo}`)
    let batch: RecordBatch
    for (batch of iterateRecordBatches(r.records)) {
      if (first) {
        if (!((gaps || batch.baseOffset <= lso) && lso <= batch.lastOffset)) fail(`${where}: the first batch ${batch.baseOffset}..${batch.lastOffset} does not hold the log start offset ${lso}`)
        first = false
      } else if (batch.baseOffset !== next && !(gaps && batch.baseOffset > next)) {
        fail(`${where}: batch ${batch.baseOffset}..${batch.lastOffset} follows offset ${next - 1}: ${batch.baseOffset > next ? 'a gap' : 'an overlap'}`)
      }
      if (!gaps && batch.recordsCount !== batch.lastOffsetDelta + 1) fail(`${where}: batch ${batch.baseOffset} holds ${batch.recordsCount} records for ${batch.lastOffsetDelta + 1} offsets`)
      let previous = batch.baseOffset - 1
      batch.records.forEach((rec, i) => {
        if (gaps ? !(rec.offset > previous && rec.offset <= batch.lastOffset) : rec.offset !== batch.baseOffset + i) fail(`${where}: record ${i} of batch ${batch.baseOffset}..${batch.lastOffset} has offset ${rec.offset}`)
        previous = rec.offset
        records.push({ offset: rec.offset, timestamp: rec.timestamp, key: rec.key, value: rec.value })
      })
      batches.push({
        baseOffset: batch.baseOffset,
        lastOffset: batch.lastOffset,
        crc: batch.crc,
        size: batch.sizeInBytes,
        partitionLeaderEpoch: batch.partitionLeaderEpoch,
        maxTimestamp: batch.maxTimestamp,
      })
      next = batch.lastOffset + 1
    }
  }
  if (next !== leo && leo > lso) fail(`${where}: the batches end at ${next}, the log end offset is ${leo}`)
  return { batches, records }
}

/**
 * The first record mismatch against `history`, or null when every record matches. With
 * `compacted` = [lso, leo], an offset in that range may be missing only when compaction may
 * remove it: a tombstone, or a keyed record superseded by a later one of its key below leo.
 */
function mismatch(scan: Scan, history: readonly Rec[], compacted: [number, number] | null = null): string | null {
  if (compacted) {
    const [lso, leo] = compacted
    if (leo > history.length) return `the log ends at ${leo}, the history at ${history.length}`
    const hex = (k: Uint8Array) => Buffer.from(k).toString('hex')
    const lastOfKey = new Map<string, number>()
    for (let o = 0; o < leo; o++) if (history[o]!.key !== null) lastOfKey.set(hex(history[o]!.key!), o)
    const present = new Set(scan.records.map((r) => r.offset))
    for (let o = lso; o < leo; o++) {
      if (present.has(o)) continue
      const h = history[o]!
      if (h.value === null) continue
      if (h.key !== null && lastOfKey.get(hex(h.key))! > o) continue
      return `offset ${o} is missing, but compaction may not remove it (${h.key === null ? 'no key' : `the latest value of key ${new TextDecoder().decode(h.key)} below ${leo}`})`
    }
  }
  for (const rec of scan.records) {
    const want = history[rec.offset]
    if (!want) return `offset ${rec.offset} was never appended (history ends at ${history.length})`
    if (!bytesEqual(rec.value, want.value)) return `offset ${rec.offset} holds another value (${rec.value?.length ?? 'null'} bytes, appended ${want.value?.length ?? 'null'})`
    if (!bytesEqual(rec.key, want.key)) return `offset ${rec.offset} holds another key`
    if (rec.timestamp !== want.timestamp) return `offset ${rec.offset} has timestamp ${rec.timestamp}, appended ${want.timestamp}`
  }
  return null
}

/** Index lookups (read at an offset, offsetForTimestamp, the offset index per batch, max timestamp) agree with the scan. */
function checkLookups(log: PartitionLog, scan: Scan, rng: SeededRandom, where: string, gaps = false): void {
  const lso = log.logStartOffset
  const leo = log.logEndOffset
  const live = scan.records.filter((r) => r.offset >= lso)
  if (leo > lso) {
    // The batch read(o) must start with: the first whose last offset is >= o.
    const byOffset = (o: number) => {
      let lo = 0
      let hi = scan.batches.length - 1
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (scan.batches[mid]!.lastOffset >= o) hi = mid
        else lo = mid + 1
      }
      return scan.batches[lo]!
    }
    const probes = [lso, leo - 1]
    for (let i = 0; i < 10; i++) probes.push(lso + rng.int(leo - lso))
    for (const o of probes) {
      const want = byOffset(o)
      const maxBytes = rng.int(2) === 0 ? 1 : 1 + rng.int(6000)
      const r = log.read(o, maxBytes)
      const got = [...iterateRecordBatches(r.records)]
      if (got.length === 0) fail(`${where}: read(${o}, ${maxBytes}) returned no batch`)
      const g = got[0]!
      if (g.baseOffset !== want.baseOffset || g.crc !== want.crc || g.sizeInBytes !== want.size) {
        fail(`${where}: read(${o}) starts at batch ${g.baseOffset}..${g.lastOffset}, a full scan finds ${want.baseOffset}..${want.lastOffset}`)
      }
      if (r.firstBatchOffset !== want.baseOffset) fail(`${where}: read(${o}) reports firstBatchOffset ${r.firstBatchOffset}, expected ${want.baseOffset}`)
      let size = 0
      let expectNext = g.baseOffset
      for (const b of got) {
        if (gaps ? b.baseOffset < expectNext : b.baseOffset !== expectNext) fail(`${where}: read(${o}) returned non-consecutive batches`)
        expectNext = b.lastOffset + 1
        size += b.sizeInBytes
      }
      if (got.length > 1 && size > maxBytes) fail(`${where}: read(${o}, ${maxBytes}) returned ${size} bytes`)
    }
    if (!(log.read(leo, 1000).records.length === 0)) fail(`${where}: read at the log end offset returned data`)
  }
  // offsetForTimestamp: the first record at or past the log start offset with a timestamp >= t.
  const stamps = live.map((r) => r.timestamp)
  const targets: number[] = [0, Number.MAX_SAFE_INTEGER]
  if (stamps.length > 0) {
    for (let i = 0; i < 8; i++) {
      const s = stamps[rng.int(stamps.length)]!
      targets.push(s, s + 1, s - 1)
    }
  }
  for (const ts of targets) {
    const hit = live.find((r) => r.timestamp >= ts)
    const want = hit ? { offset: hit.offset, timestamp: hit.timestamp } : null
    const got = log.offsetForTimestamp(ts)
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      fail(`${where}: offsetForTimestamp(${ts}) = ${JSON.stringify(got)}, a full scan finds ${JSON.stringify(want)}`)
    }
  }
  // Every offset-index entry points at the start of a batch that ends at the entry's offset.
  for (const seg of log.segments) {
    const starts = new Map<number, number>()
    let maxTs = -1
    let offsetOfMax = -1
    seg.walk(0, seg.size, (b) => {
      starts.set(b.position, b.lastOffset)
      if (b.maxTimestamp > maxTs) {
        maxTs = b.maxTimestamp
        offsetOfMax = b.lastOffset
      }
      return true
    })
    for (const lastOffset of starts.values()) {
      const e = seg.offsetIndex.lookup(lastOffset)
      if (e.position === 0 && e.offset === seg.baseOffset) continue
      if (starts.get(e.position) !== e.offset) fail(`${where}: segment ${seg.baseOffset}: offset index entry ${e.offset} -> ${e.position} is not a batch ending at ${e.offset}`)
    }
    if (seg.maxTimestampSoFar !== maxTs || (maxTs >= 0 && seg.offsetOfMaxTimestampSoFar !== offsetOfMax)) {
      fail(`${where}: segment ${seg.baseOffset} knows max timestamp ${seg.maxTimestampSoFar} at ${seg.offsetOfMaxTimestampSoFar}, its batches say ${maxTs} at ${offsetOfMax}`)
    }
  }
  // The leader epoch cache ends with the epoch of the last batch.
  const last = scan.batches[scan.batches.length - 1]
  if (last && last.partitionLeaderEpoch >= 0 && log.leaderEpochCache.latestEpoch() !== last.partitionLeaderEpoch) {
    fail(`${where}: latest leader epoch ${log.leaderEpochCache.latestEpoch()}, the last batch was written in epoch ${last.partitionLeaderEpoch}`)
  }
}

/** Appends a few batches after recovery and reads them back. */
function checkAppendsAfter(log: PartitionLog, rng: SeededRandom, clock: ManualClock, where: string): Rec[] {
  const added: Rec[] = []
  const logAppendTime = log.config['message.timestamp.type'] === 'LogAppendTime'
  for (let i = 0; i < 3; i++) {
    clock.advance(1000)
    const inputs = makeRecords(rng, clock, 1 + rng.int(4))
    const base = log.logEndOffset
    const epoch = Math.max(0, log.leaderEpochCache.latestEpoch() ?? 0) + (i === 2 ? 1 : 0)
    const info = log.append(buildRecordBatch(inputs), { leaderEpoch: epoch })
    if (info.firstOffset !== base) fail(`${where}: an append after recovery got offset ${info.firstOffset}, the log end was ${base}`)
    const got = [...iterateRecordBatches(log.read(base, 1 << 20).records)].flatMap((b) => b.records)
    if (got.length !== inputs.length) fail(`${where}: an append after recovery read back ${got.length} records of ${inputs.length}`)
    inputs.forEach((x, j) => {
      const want: Rec = { key: x.key ?? null, value: x.value!, timestamp: logAppendTime ? clock.now() : x.timestamp! }
      const g = got[j]!
      if (g.offset !== base + j || !bytesEqual(g.value, want.value) || g.timestamp !== want.timestamp) fail(`${where}: an append after recovery read back another record at ${base + j}`)
      added.push(want)
    })
  }
  return added
}

interface CrashCase {
  seed: number
  point: number
  mode: CrashMode
}

function modeFor(seed: number, point: number): CrashMode {
  return MODES[(seed + point) % MODES.length]!
}

/**
 * Runs one crash case; returns null when everything holds, else what went wrong. The
 * reference trace is the crash-free run of the same seed.
 */
function runCrashCase(c: CrashCase, trace: Trace): string | null {
  const settings = settingsFor(c.seed)
  const storage = newDisk()
  storage.setCrashPoint(c.point)
  let state: RunState
  try {
    state = runScenario(storage, settings, null, storage.opsCount + c.point)
  } catch (err) {
    return `the scenario threw before/without a crash: ${(err as Error).stack ?? err}`
  }
  if (!state.crashed) return `no crash happened (the crash-free run made ${trace.ops} storage calls)`
  const step = trace.steps[state.step]
  const context = `crashed at ${state.crashed.op} ${state.crashed.path} during step ${state.step} (${step?.kind}: ${step?.detail}), then ${c.mode}`
  try {
    storage.crash(new SeededRandom((c.seed * 1_000_003 + c.point) >>> 0), c.mode)
    storage.audit()
    verifyAfterCrash(storage, state, trace, c)
  } catch (err) {
    if (err instanceof Problem) return `${err.message} [${context}]`
    return `${(err as Error)?.stack ?? String(err)} [${context}]`
  }
  return null
}

function verifyAfterCrash(storage: SimStorage, state: RunState, trace: Trace, c: CrashCase): void {
  const { settings, clock } = state
  const after = trace.after[state.step] ?? new Map<number, LogState>()
  let live: Live
  try {
    live = openManager(storage, clock, settings.config)
  } catch (err) {
    fail(`reopening after the crash failed: ${(err as Error).message}`)
  }
  if (process.env.CRASH_DEBUG) debugDump(storage, live, state)
  const rng = new SeededRandom((c.seed * 31 + c.point) >>> 0)
  const expectedAfter = new Map<number, Rec[]>()
  for (const p of PARTITIONS) {
    const model = state.models.get(p)!
    const before = state.before.get(p) ?? NO_LOG
    const afterStep = after.get(p) ?? before
    const where = `partition ${p}`
    // Durable at the crash: below the recovery point both before and after the step under way.
    const durable = Math.min(before.recovery, afterStep.recovery)
    const lsoCeiling = Math.max(before.lso, afterStep.lso)
    let log = live.logs.get(p)
    if (!log) {
      if (durable > 0) fail(`${where}: the partition is gone after the crash, but offsets below ${durable} were fsynced`)
      if (state.step > 0) fail(`${where}: the partition directory is gone after the crash, though its creation completed`)
      log = live.manager.getOrCreate(TOPIC, p, settings.config)
      live.logs.set(p, log)
    }
    const lso = log.logStartOffset
    const leo = log.logEndOffset
    if (!(lso <= log.highWatermark && log.highWatermark <= leo)) fail(`${where}: log start ${lso}, high watermark ${log.highWatermark}, log end ${leo} out of order`)
    const scan = scanLog(log, where, settings.compact)
    const histories = [model.history]
    const previous = state.previousHistory?.get(p)
    if (previous) histories.push(previous)
    const problems = histories.map((h) => mismatch(scan, h, settings.compact ? [lso, leo] : null))
    if (problems.every((x) => x !== null)) fail(`${where}: the log is not what was appended: ${problems[0]}`)
    if (leo < durable) fail(`${where}: log end offset ${leo} after the crash, but offsets below ${durable} were fsynced (log start ${lso})`)
    if (lso > lsoCeiling) fail(`${where}: log start offset ${lso} after the crash, above any it had (${lsoCeiling})`)
    const lsoFloor = Math.min(model.checkpointedLso, leo)
    if (lso < lsoFloor) fail(`${where}: log start offset ${lso} after the crash, below the checkpointed ${model.checkpointedLso}`)
    checkLookups(log, scan, rng, where, settings.compact)
    // (d) new appends after recovery, and a clean restart over them.
    const added = checkAppendsAfter(log, rng, clock, where)
    const matched = histories[problems.findIndex((x) => x === null)]!
    const expected = [...matched.slice(0, leo), ...added]
    log.updateHighWatermark(log.logEndOffset)
    expectedAfter.set(p, expected)
  }
  live.manager.close()
  const again = openManager(storage, clock, settings.config)
  if (!again.manager.wasCleanShutdown) fail('a clean close after recovery was not seen as clean')
  for (const p of PARTITIONS) {
    const where = `partition ${p} after a clean restart following recovery`
    const log = again.logs.get(p)
    if (!log) fail(`${where}: gone`)
    const scan = scanLog(log, where, settings.compact)
    const problem = mismatch(scan, expectedAfter.get(p)!, settings.compact ? [log.logStartOffset, log.logEndOffset] : null)
    if (problem) fail(`${where}: ${problem}`)
    checkLookups(log, scan, rng, where, settings.compact)
  }
  again.manager.close()
}

/** CRASH_DEBUG=1: what the reopened data directory holds, for a replayed case. */
function debugDump(storage: SimStorage, live: Live, state: RunState): void {
  const text = (path: string) => {
    const b = storage.readFile(path)
    return b === null ? '(none)' : new TextDecoder().decode(b).trim().replace(/\n/g, ' | ')
  }
  const lines = [`crashed during step ${state.step}; before it: ${JSON.stringify([...state.before])}`]
  for (const name of ['recovery-point-offset-checkpoint', 'log-start-offset-checkpoint', 'replication-offset-checkpoint']) lines.push(`${name}: ${text(`${DATA}/${name}`)}`)
  for (const [p, log] of live.logs) {
    lines.push(`partition ${p}: log start ${log.logStartOffset}, hw ${log.highWatermark}, log end ${log.logEndOffset}, files ${storage.list(log.dir).join(' ')}`)
    lines.push(`  segments ${log.segments.map((s) => `${s.baseOffset}..${s.nextOffset} (${s.size} B)`).join(', ')}`)
    lines.push(`  epochs ${JSON.stringify(log.leaderEpochCache.entries())}, file: ${text(`${log.dir}/leader-epoch-checkpoint`)}`)
  }
  console.error(lines.join('\n'))
}

// ------------------------------------------------------------------------------- crash points

function referenceRun(seed: number): Trace {
  const storage = newDisk()
  const trace: Trace = { steps: [], after: [], ops: 0, cleaned: 0, stepStart: [] }
  const start = storage.opsCount
  const state = runScenario(storage, settingsFor(seed), trace)
  trace.ops = storage.opsCount - start
  // Without a crash: a clean restart gives back exactly the history.
  const live = openManager(storage, state.clock, state.settings.config)
  const rng = new SeededRandom(seed)
  for (const p of PARTITIONS) {
    const log = live.logs.get(p)
    if (!log) throw new Error(`seed ${seed}: partition ${p} missing after a clean run`)
    const model = state.models.get(p)!
    const compact = state.settings.compact
    const scan = scanLog(log, `seed ${seed} partition ${p} (no crash)`, compact)
    const problem = mismatch(scan, model.history, compact ? [log.logStartOffset, log.logEndOffset] : null)
    if (problem) throw new Error(`seed ${seed} partition ${p} (no crash): ${problem}`)
    if (log.logEndOffset !== model.history.length) throw new Error(`seed ${seed} partition ${p} (no crash): log end ${log.logEndOffset}, appended ${model.history.length}`)
    checkLookups(log, scan, rng, `seed ${seed} partition ${p} (no crash)`, compact)
  }
  live.manager.close()
  return trace
}

/**
 * Crash points for a seed: stratified over the run so that every phase gets some. On a
 * compacted topic half of them fall inside the cleanLog steps that replaced segments.
 */
function crashPointsFor(seed: number, trace: Trace, count: number): number[] {
  const ops = trace.ops
  if (count >= ops) return Array.from({ length: ops }, (_, i) => i + 1)
  const rng = new SeededRandom(seed ^ 0xc4a5)
  const points = new Set<number>()
  const stratified = (within: number[], n: number) => {
    for (let i = 0; i < n && within.length > 0; i++) points.add(within[Math.min(within.length - 1, Math.floor(((i + rng.next()) / n) * within.length))]!)
  }
  const cleaning: number[] = []
  trace.steps.forEach((step, i) => {
    if (step.kind !== 'clean' || !/: [1-9]\d* segments cleaned/.test(step.detail)) return
    const end = trace.stepStart[i + 1] ?? ops
    for (let op = trace.stepStart[i]! + 1; op <= end; op++) cleaning.push(op)
  })
  stratified(cleaning, Math.floor(count / 2))
  stratified(Array.from({ length: ops }, (_, i) => i + 1), count - points.size)
  return [...points].sort((a, b) => a - b)
}

const onlySeed = envInt('CRASH_SEED')
const onlyPoint = envInt('CRASH_POINT')
const seedCount = envInt('CRASH_SEEDS') ?? 20
const pointsPerSeed = envInt('CRASH_POINTS_PER_SEED') ?? 75

/** Runs the crash points of `seeds`; every failure names its seed, point and replay command. */
async function crashPoints(t: Test, seeds: number[]): Promise<number> {
  let exercised = 0
  let failed = 0
  let cleaned = 0
  const started = Date.now()
  for (const seed of seeds) {
    let trace: Trace
    try {
      trace = referenceRun(seed)
    } catch (err) {
      t.fail(`seed ${seed}: the crash-free run failed: ${(err as Error).stack}\n  replay: ${replayCommand(seed, 1)}`)
      continue
    }
    cleaned += trace.cleaned
    const points = onlyPoint !== null ? [onlyPoint] : onlySeed !== null ? crashPointsFor(seed, trace, Infinity) : crashPointsFor(seed, trace, pointsPerSeed)
    const kinds = new Map<string, number>()
    let seedFailures = 0
    for (const point of points) {
      const c: CrashCase = { seed, point, mode: modeFor(seed, point) }
      const problem = runCrashCase(c, trace)
      exercised++
      if (problem !== null) {
        failed++
        seedFailures++
        // Every failing point is counted, and the first 5 of a seed reported in full.
        if (seedFailures <= 5) t.fail(`seed ${seed} crash point ${point} (${c.mode}): ${problem}\n  replay: ${replayCommand(seed, point)}`)
      }
    }
    for (const s of trace.steps) kinds.set(s.kind, (kinds.get(s.kind) ?? 0) + 1)
    if (seedFailures > 5) t.fail(`seed ${seed}: ${seedFailures - 5} more failing crash points (CRASH_SEED=${seed} runs them all)`)
    t.comment(`seed ${seed}: ${points.length} crash points over ${trace.ops} storage calls, ${trace.steps.length} steps (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')})`)
  }
  if (seeds[0]! >= COMPACTION_SEEDS && onlySeed === null) t.ok(cleaned > 0, `compaction replaced segments in the crash-free runs (${cleaned})`)
  t.equal(failed, 0, `${exercised} crash points, ${failed} failed, in ${Date.now() - started} ms`)
  return exercised
}

const seedsFrom = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i)
const compactionSeedCount = envInt('CRASH_COMPACTION_SEEDS') ?? 6
let totalPoints = 0

if (onlySeed === null || onlySeed < COMPACTION_SEEDS) {
  t.test('crash points during append, roll, retention, DeleteRecords, truncation, flush, checkpoints, close and recovery', async (t) => {
    totalPoints += await crashPoints(t, onlySeed !== null ? [onlySeed] : seedsFrom(1, seedCount))
  })
}

if (onlySeed === null || onlySeed >= COMPACTION_SEEDS) {
  t.test('crash points during compaction (cleanLog) on a compacted topic', async (t) => {
    totalPoints += await crashPoints(t, onlySeed !== null ? [onlySeed] : seedsFrom(COMPACTION_SEEDS + 1, compactionSeedCount))
  })
}

if (onlySeed === null) {
  t.test('crash points in all', async (t) => {
    t.ok(totalPoints >= 1000, `at least 1,000 random crash points (ran ${totalPoints})`)
  })
}

// ------------------------------------------------------------------------------- disk faults

const FAULT_DIR = `${DATA}/f-0`

interface Rig {
  storage: SimStorage
  clock: ManualClock
  manager: LogManager
  log: PartitionLog
  /** Records of the appends that succeeded, by offset. */
  acked: Rec[]
  rng: SeededRandom
  logger: RecordingLogger
}

function rig(options: SimStorageOptions = {}, overrides: Partial<Record<keyof LogConfig, number | string>> = {}): Rig {
  const storage = new SimStorage(options)
  storage.mkdirp(DATA)
  storage.syncDir('/')
  storage.syncDir(DATA)
  const clock = new ManualClock()
  const logger = new RecordingLogger()
  const config = logConfig({ 'segment.bytes': 2048, 'index.interval.bytes': 128, 'segment.index.bytes': 1024, ...overrides })
  const manager = LogManager.open({ storage, dataDir: DATA, clock, logger, defaultConfig: config })
  const log = manager.getOrCreate('f', 0)
  return { storage, clock, manager, log, acked: [], rng: new SeededRandom(42), logger }
}

/** `batches` batches of 1-4 records back to back, and the records as the log will return them. */
function batches(r: Rig, count: number): { bytes: Uint8Array; recs: Rec[]; sizes: number[] } {
  const parts: Uint8Array[] = []
  const recs: Rec[] = []
  r.clock.advance(100)
  for (let i = 0; i < count; i++) {
    const inputs = makeRecords(r.rng, r.clock, 1 + r.rng.int(4))
    parts.push(buildRecordBatch(inputs))
    for (const x of inputs) recs.push({ key: x.key ?? null, value: x.value!, timestamp: x.timestamp! })
  }
  return { bytes: Buffer.concat(parts), recs, sizes: parts.map((p) => p.length) }
}

function appendAcked(r: Rig, count = 1, leaderEpoch = 0): void {
  const b = batches(r, count)
  r.log.append(b.bytes, { leaderEpoch })
  r.acked.push(...b.recs)
  r.log.updateHighWatermark(r.log.logEndOffset)
}

/** Appends that are expected to fail: returns the error, and the records that must not show. */
function appendFailing(t: Test, r: Rig, count: number, code: RegExp, leaderEpoch = 0): KafkaStorageError | null {
  const b = batches(r, count)
  const leo = r.log.logEndOffset
  try {
    r.log.append(b.bytes, { leaderEpoch })
  } catch (err) {
    t.type(err, KafkaStorageError, 'the append fails with a KafkaStorageError')
    const e = err as KafkaStorageError
    t.equal(e.errorCode, 56, 'KAFKA_STORAGE_ERROR')
    t.match(e.message, code, `a message that says what happened: ${e.message}`)
    t.match(e.message, FAULT_DIR, 'and names the partition directory')
    t.equal(r.log.logEndOffset, leo, 'the log end offset did not move')
    return e
  }
  t.fail('the append succeeded')
  return null
}

/** The log holds exactly `recs` (all CRC-checked), and its lookups agree with a scan. */
function holdsExactly(t: Test, log: PartitionLog, recs: readonly Rec[], what: string): void {
  try {
    const scan = scanLog(log, what)
    const problem = mismatch(scan, recs)
    t.equal(problem, null, `${what}: every record is one that was appended`)
    t.equal(log.logEndOffset, recs.length, `${what}: ${recs.length} records, nothing more`)
    checkLookups(log, scan, new SeededRandom(7), what)
  } catch (err) {
    t.fail(`${what}: ${(err as Error).message}`)
  }
}

/**
 * Restarts a copy of the disk, after a process crash and after each kind of power loss, and
 * checks that the log holds a prefix of the acknowledged records (all of them after a process
 * crash, at least the fsynced ones after a power loss), CRC-valid, and takes appends.
 */
function checkRestarts(t: Test, r: Rig, label: string, options: { appendAfter?: boolean } = {}): void {
  const durable = r.log.offline ? 0 : r.log.recoveryPoint
  const ways: ('process' | CrashMode)[] = ['process', ...MODES]
  for (const how of ways) {
    for (let seed = 1; seed <= (how === 'process' ? 1 : 6); seed++) {
      const what = `${label}, then ${how === 'process' ? 'a process crash' : `a power loss (${how}, seed ${seed})`}`
      const disk = r.storage.clone()
      disk.clearFaults()
      if (how === 'process') disk.restart()
      else disk.crash(new SeededRandom(seed), how)
      const clock = new ManualClock(r.clock.now() + 1000)
      try {
        const manager = LogManager.open({ storage: disk, dataDir: DATA, clock, defaultConfig: r.log.config })
        const log = manager.get('f', 0)
        if (!log) {
          t.fail(`${what}: the partition is gone`)
          continue
        }
        const scan = scanLog(log, what)
        const problem = mismatch(scan, r.acked)
        if (problem !== null) t.fail(`${what}: ${problem}`)
        if (how === 'process' && log.logEndOffset !== r.acked.length) t.fail(`${what}: log end ${log.logEndOffset}, ${r.acked.length} records were acknowledged`)
        if (log.logEndOffset < durable) t.fail(`${what}: log end ${log.logEndOffset}, but offsets below ${durable} were fsynced`)
        checkLookups(log, scan, new SeededRandom(seed), what)
        // On a full disk the log cannot take more, nor the manager write its checkpoints.
        if (options.appendAfter ?? true) {
          checkAppendsAfter(log, new SeededRandom(seed), clock, what)
          manager.close()
        }
      } catch (err) {
        t.fail(`${what}: ${(err as Error).stack}`)
      }
    }
  }
  t.pass(`${label}: after a process crash and after power losses the log holds a prefix of the acknowledged records`)
}

t.test('disk full (ENOSPC) during an append', async (t) => {
  for (const partialWrites of [false, true]) {
    for (const perAppend of [1, 3]) {
      await t.test(`${partialWrites ? 'partial' : 'no'} writes, ${perAppend} batch(es) per append`, async (t) => {
        const r = rig({ capacityBytes: 9_000, partialWrites })
        let failure: KafkaStorageError | null = null
        for (let i = 0; i < 500 && !failure; i++) {
          const b = batches(r, perAppend)
          try {
            r.log.append(b.bytes, { leaderEpoch: 0 })
            r.acked.push(...b.recs)
            r.log.updateHighWatermark(r.log.logEndOffset)
            if (i % 7 === 6) r.log.flush()
          } catch (err) {
            failure = err as KafkaStorageError
          }
        }
        t.type(failure, KafkaStorageError, 'the append that does not fit fails with a KafkaStorageError')
        t.match(failure?.message, /ENOSPC/, `saying so: ${failure?.message}`)
        t.equal(failure?.errorCode, 56)
        holdsExactly(t, r.log, r.acked, 'the running log')
        checkRestarts(t, r, 'disk full', { appendAfter: false })
        // The log is still usable: once retention frees space, appends go through.
        t.equal(r.log.offline, null, 'the log stays online (the failed write was taken back)')
        const segments = r.log.segments.length
        r.log.deleteRecordsBefore(r.log.highWatermark)
        t.ok(r.log.segments.length < segments, 'DeleteRecords up to the high watermark drops old segments')
        appendAcked(r, perAppend)
        holdsExactly(t, r.log, r.acked, 'after freeing space')
      })
    }
  }
})

t.test('EIO during an append', async (t) => {
  const cases: { name: string; partial: boolean | 'first-batch'; count: number }[] = [
    { name: 'nothing written', partial: false, count: 1 },
    { name: 'half the bytes written', partial: true, count: 1 },
    { name: 'half of three batches written', partial: true, count: 3 },
    { name: 'exactly the first of three batches written', partial: 'first-batch', count: 3 },
  ]
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const r = rig()
      for (let i = 0; i < 12; i++) appendAcked(r, 1 + (i % 2))
      r.log.flush()
      for (let i = 0; i < 3; i++) appendAcked(r)
      const probe = batches(r, c.count)
      const partial = c.partial === 'first-batch' ? probe.sizes[0]! : c.partial
      r.storage.injectFault({ op: 'append', path: /\.log$/, code: 'EIO', times: 1, partial })
      const e = (() => {
        try {
          r.log.append(probe.bytes, { leaderEpoch: 0 })
        } catch (err) {
          return err
        }
        t.fail('the append succeeded')
        return null
      })()
      t.type(e, KafkaStorageError, 'the append fails with a KafkaStorageError')
      t.match((e as Error).message, /append failed: EIO/, `with a message that says so: ${(e as Error).message}`)
      t.match((e as Error).message, FAULT_DIR)
      t.equal(r.log.offline, null, 'the log stays online: the partial write was taken back')
      holdsExactly(t, r.log, r.acked, 'after the failed append')
      checkRestarts(t, r, `EIO (${c.name})`)
      appendAcked(r, 2)
      holdsExactly(t, r.log, r.acked, 'the next append reuses the offsets')
      checkRestarts(t, r, `EIO (${c.name}) and one more append`)
    })
  }

  await t.test('the undo fails too: the log goes offline, cleanly', async (t) => {
    const r = rig()
    for (let i = 0; i < 10; i++) appendAcked(r)
    r.log.flush()
    appendAcked(r)
    r.storage.injectFault({ op: 'append', path: /\.log$/, code: 'EIO', times: 1, partial: true })
    r.storage.injectFault({ op: 'truncate', path: /\.log$/, code: 'EIO', times: 1 })
    appendFailing(t, r, 2, /append failed: EIO/)
    t.match(r.log.offline, /could not be undone/, `the log is offline: ${r.log.offline}`)
    t.match(r.logger.text(), /log offline/, 'and says so in the log')
    appendFailing(t, r, 1, /offline/)
    t.throws(() => r.log.roll(), KafkaStorageError, 'no roll on an offline log')
    holdsExactly(t, r.log, r.acked, 'reads still answer with the acknowledged records')
    checkRestarts(t, r, 'an append and its undo both failed')
    r.manager.close()
    t.notOk(r.storage.exists(`${DATA}/.kafka_cleanshutdown`), 'a close with an offline log writes no clean-shutdown marker')
    const again = LogManager.open({ storage: r.storage, dataDir: DATA, clock: r.clock, defaultConfig: r.log.config })
    t.notOk(again.wasCleanShutdown, 'so the next start recovers')
    holdsExactly(t, again.get('f', 0)!, r.acked, 'after the restart')
    again.close()
  })
})

/** Appends until the next append of `count` batches would roll the segment; returns it built. */
function fillUntilRoll(r: Rig): { bytes: Uint8Array; recs: Rec[] } {
  for (let i = 0; i < 100; i++) {
    const b = batches(r, 1)
    if (r.log.activeSegment.size + b.bytes.length > r.log.config['segment.bytes']) return b
    r.log.append(b.bytes, { leaderEpoch: 0 })
    r.acked.push(...b.recs)
    r.log.updateHighWatermark(r.log.logEndOffset)
  }
  throw new Error('the segment never filled up')
}

t.test('faults while rolling a segment', async (t) => {
  const faults: { name: string; fault: Fault; offline?: boolean }[] = [
    { name: 'ENOSPC creating the new .log', fault: { op: 'open', path: /\.log$/, code: 'ENOSPC', times: 1 } },
    { name: 'EIO creating the new .index', fault: { op: 'open', path: /\.index$/, code: 'EIO', times: 1 } },
    { name: 'EIO creating the new .timeindex', fault: { op: 'open', path: /\.timeindex$/, code: 'EIO', times: 1 } },
    { name: 'EIO fsyncing the old segment', fault: { op: 'sync', path: /\.log$/, code: 'EIO', times: 1 }, offline: true },
    { name: 'EIO syncing the directory', fault: { op: 'syncDir', path: FAULT_DIR, code: 'EIO', times: 1 } },
  ]
  for (const { name, fault, offline } of faults) {
    await t.test(name, async (t) => {
      const r = rig()
      const first = fillUntilRoll(r)
      r.log.append(first.bytes, { leaderEpoch: 0 })
      r.acked.push(...first.recs)
      const next = fillUntilRoll(r)
      const segments = r.log.segments.length
      r.storage.injectFault(fault)
      let error: unknown = null
      try {
        r.log.append(next.bytes, { leaderEpoch: 0 })
      } catch (err) {
        error = err
      }
      t.type(error, KafkaStorageError, 'the append fails with a KafkaStorageError')
      t.match((error as Error)?.message, new RegExp(`roll failed: ${fault.code}`), `saying so: ${(error as Error)?.message}`)
      t.equal(r.log.segments.length, segments, 'no new segment')
      holdsExactly(t, r.log, r.acked, 'after the failed roll')
      if (offline) {
        // A failed fsync is not retried ("fsyncgate"): the log stays offline until a restart.
        t.match(r.log.offline, /fsync on roll failed/)
        t.throws(() => r.log.append(next.bytes, { leaderEpoch: 0 }), /log offline/)
        checkRestarts(t, r, `a failed roll (${name})`)
        return
      }
      checkRestarts(t, r, `a failed roll (${name})`)
      r.log.append(next.bytes, { leaderEpoch: 0 })
      r.acked.push(...next.recs)
      t.equal(r.log.segments.length, segments + 1, 'the next append rolls')
      holdsExactly(t, r.log, r.acked, 'after the next append')
      checkRestarts(t, r, `a failed roll (${name}), then a good one`)
    })
  }
})

t.test('faults while writing checkpoints', async (t) => {
  const faults: { name: string; fault: Fault }[] = [
    { name: 'ENOSPC writing a checkpoint', fault: { op: 'append', path: /checkpoint\.tmp$/, code: 'ENOSPC', times: 1 } },
    { name: 'ENOSPC writing half a checkpoint', fault: { op: 'append', path: /log-start-offset-checkpoint\.tmp$/, code: 'ENOSPC', times: 1, partial: true } },
    { name: 'EIO fsyncing a checkpoint', fault: { op: 'sync', path: /replication-offset-checkpoint\.tmp$/, code: 'EIO', times: 1 } },
    { name: 'EIO renaming a checkpoint into place', fault: { op: 'rename', path: /recovery-point-offset-checkpoint\.tmp$/, code: 'EIO', times: 1 } },
    { name: 'EIO syncing the data directory', fault: { op: 'syncDir', path: DATA, code: 'EIO', times: 1 } },
  ]
  for (const { name, fault } of faults) {
    await t.test(name, async (t) => {
      const r = rig()
      for (let i = 0; i < 30; i++) appendAcked(r)
      r.log.deleteRecordsBefore(7)
      r.manager.checkpoint()
      for (let i = 0; i < 10; i++) appendAcked(r)
      r.log.flush()
      r.log.deleteRecordsBefore(12)
      r.storage.injectFault(fault)
      const err = t.throws(() => r.manager.checkpoint(), `the checkpoint write fails (${name})`) as Error
      t.ok(err instanceof StorageError || err instanceof KafkaStorageError, `with a storage error (${err?.name})`)
      t.match(err?.message, new RegExp(fault.code), `saying so: ${err?.message}`)
      t.match(err?.message, fault.op === 'syncDir' ? DATA : /checkpoint/, 'and naming the file (or the directory)')
      t.equal(r.log.offline, null, 'the log stays online')
      appendAcked(r)
      holdsExactly(t, r.log, r.acked, 'appends go on')
      // Whatever the crash keeps, the checkpoint files read back whole (old or new).
      for (const mode of MODES) {
        for (let seed = 1; seed <= 4; seed++) {
          const disk = r.storage.clone()
          disk.clearFaults()
          disk.crash(new SeededRandom(seed), mode)
          const logger = new RecordingLogger()
          const manager = LogManager.open({ storage: disk, dataDir: DATA, clock: r.clock, logger, defaultConfig: r.log.config })
          t.notMatch(logger.text(), /unreadable/, `no torn checkpoint file after ${mode} (seed ${seed})`)
          const log = manager.get('f', 0)!
          t.ok(log.logStartOffset === 7 || log.logStartOffset === 12, `log start offset from the old or the new checkpoint: ${log.logStartOffset}`)
          t.equal(mismatch(scanLog(log, name), r.acked), null, 'a prefix of what was appended')
          manager.close()
        }
      }
      checkRestarts(t, r, `a failed checkpoint write (${name})`)
      r.storage.clearFaults()
      r.manager.checkpoint()
      t.pass('the next checkpoint goes through')
    })
  }
})

t.test('a fault writing the leader-epoch checkpoint during an append (new epoch)', async (t) => {
  for (const code of ['EIO', 'ENOSPC'] as const) {
    await t.test(code, async (t) => {
      const r = rig()
      for (let i = 0; i < 8; i++) appendAcked(r, 1, 3)
      r.storage.injectFault({ op: 'append', path: /leader-epoch-checkpoint\.tmp$/, code, times: 1 })
      const e = appendFailing(t, r, 2, new RegExp(`append failed: ${code}.*leader-epoch-checkpoint`), 4)
      t.ok(e, 'the append in a new leader epoch fails')
      t.equal(r.log.offline, null, 'the log stays online: the batches were taken back')
      t.equal(r.log.leaderEpochCache.latestEpoch(), 3, 'the epoch cache is as before')
      holdsExactly(t, r.log, r.acked, 'after the failed append')
      checkRestarts(t, r, `${code} writing the leader-epoch checkpoint`)
      appendAcked(r, 2, 4)
      t.equal(r.log.leaderEpochCache.latestEpoch(), 4, 'the next append starts the new epoch')
      holdsExactly(t, r.log, r.acked, 'after the next append')
      checkRestarts(t, r, `${code} writing the leader-epoch checkpoint, then a good append`)
    })
  }
})

t.test('a fault in the flush an append triggers (flush.messages)', async (t) => {
  const r = rig({}, { 'flush.messages': 4, 'segment.bytes': 1 << 20 })
  for (let i = 0; i < 3; i++) appendAcked(r)
  r.log.flush()
  for (let i = 0; i < 2; i++) appendAcked(r)
  r.storage.injectFault({ op: 'sync', path: /\.log$/, code: 'EIO', times: 1 })
  const before = r.log.logEndOffset
  const b = batches(r, 3)
  const error = t.throws(() => r.log.append(b.bytes, { leaderEpoch: 0 }), KafkaStorageError, 'the append fails with a KafkaStorageError') as Error
  t.match(error?.message, /flush failed: EIO/, `saying so: ${error?.message}`)
  t.match(r.log.offline, /flush after an append failed/, `the log goes offline: ${r.log.offline}`)
  t.equal(r.log.logEndOffset, before + b.recs.length, 'the batches were written (whole) before the flush failed')
  appendFailing(t, r, 1, /offline/)
  // After a restart the failed append is there whole or not at all (it was written, not fsynced).
  const acked = r.acked
  r.acked = [...acked, ...b.recs]
  checkRestarts(t, r, 'a failed flush after an append')
  r.acked = acked
  const disk = r.storage.clone()
  disk.restart()
  const manager = LogManager.open({ storage: disk, dataDir: DATA, clock: r.clock, defaultConfig: r.log.config })
  t.ok([acked.length, acked.length + b.recs.length].includes(manager.get('f', 0)!.logEndOffset), 'never a part of it')
  manager.close()
})
