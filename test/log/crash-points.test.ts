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
// CRASH_SEED alone runs every crash point of that seed (exhaustively); CRASH_SEEDS and
// CRASH_POINTS_PER_SEED widen the default sample.
//
// The second half injects disk faults (ENOSPC, EIO, plain and partial writes) into appends,
// rolls and checkpoint writes, and checks that the append fails with a KafkaStorageError and
// that nothing partial shows after a restart.
import t, { type Test } from 'tap'
import { KafkaStorageError } from '../../src/log/errors.ts'
import { type LogConfig, logConfig } from '../../src/log/log-config.ts'
import { LogManager } from '../../src/log/log-manager.ts'
import type { PartitionLog } from '../../src/log/partition-log.ts'
import { StorageError } from '../../src/log/storage.ts'
import { iterateRecordBatches, type RecordBatch } from '../../src/record/record-batch.ts'
import { buildRecordBatch } from '../../src/record/record-batch.ts'
import type { RecordInput } from '../../src/record/record.ts'
import { ManualClock } from '../../src/runtime/clock.ts'
import { SeededRandom } from '../../src/sim/random.ts'
import { type CrashMode, type Fault, SimStorage, SimulatedCrash } from '../../src/sim/sim-storage.ts'

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
  value: Uint8Array
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
}

interface Settings {
  seed: number
  config: LogConfig
  steps: number
}

function settingsFor(seed: number): Settings {
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
  })
  return { seed, config, steps: 90 + rng.int(40) }
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

function makeRecords(rng: SeededRandom, clock: ManualClock, count: number): RecordInput[] {
  const out: RecordInput[] = []
  for (let i = 0; i < count; i++) {
    const len = 8 + rng.int(160)
    const value = rng.bytes(len)
    const key = rng.int(3) === 0 ? null : enc.encode(`k${rng.int(12)}`)
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
    const r = rng.next()
    if (r < 0.55) {
      if (rng.int(25) === 0) model.leaderEpoch += 1 + rng.int(2)
      const nBatches = rng.int(5) === 0 ? 2 + rng.int(3) : 1
      const parts: Uint8Array[] = []
      const recs: Rec[] = []
      for (let b = 0; b < nBatches; b++) {
        const inputs = makeRecords(rng, clock, 1 + rng.int(5))
        parts.push(buildRecordBatch(inputs, {}))
        for (const x of inputs) recs.push({ key: x.key ?? null, value: x.value!, timestamp: logAppendTime ? clock.now() : x.timestamp! })
      }
      const bytes = Buffer.concat(parts)
      const base = log.logEndOffset
      record('append', `append ${recs.length} records in ${nBatches} batches to partition ${p} at offset ${base}, epoch ${model.leaderEpoch}`)
      // In the model before the call: a crash inside the append may or may not keep them.
      model.history.length = base
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
    } else if (r < 0.86) {
      const low = Math.max(log.logStartOffset, log.logEndOffset - 20)
      const to = low + rng.int(log.logEndOffset - low + 1)
      record('truncate', `truncateTo(${to}) on partition ${p} (log end ${log.logEndOffset})`)
      state.previousHistory = new Map([...models].map(([q, m]) => [q, [...m.history]]))
      log.truncateTo(to)
      model.history.length = Math.min(model.history.length, to)
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

  for (let i = 0; i < steps.length; i++) {
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
function scanLog(log: PartitionLog, where: string): Scan {
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
        if (!(batch.baseOffset <= lso && lso <= batch.lastOffset)) fail(`${where}: the first batch ${batch.baseOffset}..${batch.lastOffset} does not hold the log start offset ${lso}`)
        first = false
      } else if (batch.baseOffset !== next) {
        fail(`${where}: batch ${batch.baseOffset}..${batch.lastOffset} follows offset ${next - 1}: ${batch.baseOffset > next ? 'a gap' : 'an overlap'}`)
      }
      if (batch.recordsCount !== batch.lastOffsetDelta + 1) fail(`${where}: batch ${batch.baseOffset} holds ${batch.recordsCount} records for ${batch.lastOffsetDelta + 1} offsets`)
      batch.records.forEach((rec, i) => {
        if (rec.offset !== batch.baseOffset + i) fail(`${where}: record ${i} of batch ${batch.baseOffset} has offset ${rec.offset}`)
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

/** The first record mismatch against `history`, or null when every record matches. */
function mismatch(scan: Scan, history: readonly Rec[]): string | null {
  for (const rec of scan.records) {
    const want = history[rec.offset]
    if (!want) return `offset ${rec.offset} was never appended (history ends at ${history.length})`
    if (!bytesEqual(rec.value, want.value)) return `offset ${rec.offset} holds another value (${rec.value?.length} bytes, appended ${want.value.length})`
    if (!bytesEqual(rec.key, want.key)) return `offset ${rec.offset} holds another key`
    if (rec.timestamp !== want.timestamp) return `offset ${rec.offset} has timestamp ${rec.timestamp}, appended ${want.timestamp}`
  }
  return null
}

/** Index lookups (read at an offset, offsetForTimestamp, the offset index per batch, max timestamp) agree with the scan. */
function checkLookups(log: PartitionLog, scan: Scan, rng: SeededRandom, where: string): void {
  const lso = log.logStartOffset
  const leo = log.logEndOffset
  const live = scan.records.filter((r) => r.offset >= lso)
  if (leo > lso) {
    const byOffset = (o: number) => {
      let lo = 0
      let hi = scan.batches.length - 1
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1
        if (scan.batches[mid]!.baseOffset <= o) lo = mid
        else hi = mid - 1
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
        if (b.baseOffset !== expectNext) fail(`${where}: read(${o}) returned non-consecutive batches`)
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
    const scan = scanLog(log, where)
    const histories = [model.history]
    const previous = state.previousHistory?.get(p)
    if (previous) histories.push(previous)
    const problems = histories.map((h) => mismatch(scan, h))
    if (problems.every((x) => x !== null)) fail(`${where}: the log is not what was appended: ${problems[0]}`)
    if (leo < durable) fail(`${where}: log end offset ${leo} after the crash, but offsets below ${durable} were fsynced (log start ${lso})`)
    if (lso > lsoCeiling) fail(`${where}: log start offset ${lso} after the crash, above any it had (${lsoCeiling})`)
    const lsoFloor = Math.min(model.checkpointedLso, leo)
    if (lso < lsoFloor) fail(`${where}: log start offset ${lso} after the crash, below the checkpointed ${model.checkpointedLso}`)
    checkLookups(log, scan, rng, where)
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
    const scan = scanLog(log, where)
    const problem = mismatch(scan, expectedAfter.get(p)!)
    if (problem) fail(`${where}: ${problem}`)
    checkLookups(log, scan, rng, where)
  }
  again.manager.close()
}

// ------------------------------------------------------------------------------- crash points

function referenceRun(seed: number): Trace {
  const storage = newDisk()
  const trace: Trace = { steps: [], after: [], ops: 0 }
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
    const scan = scanLog(log, `seed ${seed} partition ${p} (no crash)`)
    const problem = mismatch(scan, model.history)
    if (problem) throw new Error(`seed ${seed} partition ${p} (no crash): ${problem}`)
    if (log.logEndOffset !== model.history.length) throw new Error(`seed ${seed} partition ${p} (no crash): log end ${log.logEndOffset}, appended ${model.history.length}`)
    checkLookups(log, scan, rng, `seed ${seed} partition ${p} (no crash)`)
  }
  live.manager.close()
  return trace
}

/** Crash points for a seed: stratified over the run so that every phase gets some. */
function crashPointsFor(seed: number, ops: number, count: number): number[] {
  if (count >= ops) return Array.from({ length: ops }, (_, i) => i + 1)
  const rng = new SeededRandom(seed ^ 0xc4a5)
  const points = new Set<number>()
  for (let i = 0; i < count; i++) points.add(1 + Math.min(ops - 1, Math.floor(((i + rng.next()) / count) * ops)))
  return [...points].sort((a, b) => a - b)
}

const onlySeed = envInt('CRASH_SEED')
const onlyPoint = envInt('CRASH_POINT')
const seedCount = envInt('CRASH_SEEDS') ?? 16
const pointsPerSeed = envInt('CRASH_POINTS_PER_SEED') ?? 70

t.test('crash points', async (t) => {
  const seeds = onlySeed !== null ? [onlySeed] : Array.from({ length: seedCount }, (_, i) => i + 1)
  let exercised = 0
  let failed = 0
  const started = Date.now()
  for (const seed of seeds) {
    const trace = referenceRun(seed)
    const points = onlyPoint !== null ? [onlyPoint] : onlySeed !== null ? crashPointsFor(seed, trace.ops, Infinity) : crashPointsFor(seed, trace.ops, pointsPerSeed)
    const kinds = new Map<string, number>()
    let seedFailures = 0
    for (const point of points) {
      const c: CrashCase = { seed, point, mode: modeFor(seed, point) }
      const problem = runCrashCase(c, trace)
      exercised++
      if (problem !== null) {
        failed++
        seedFailures++
        // Every failure is reported (with its replay command), but at most 5 per seed in full.
        if (seedFailures <= 5) t.fail(`seed ${seed} crash point ${point} (${c.mode}): ${problem}\n  replay: ${replayCommand(seed, point)}`)
      }
    }
    for (const s of trace.steps) kinds.set(s.kind, (kinds.get(s.kind) ?? 0) + 1)
    if (seedFailures > 5) t.fail(`seed ${seed}: ${seedFailures - 5} more failing crash points (CRASH_SEED=${seed} runs them all)`)
    t.comment(`seed ${seed}: ${points.length} crash points over ${trace.ops} storage calls, ${trace.steps.length} steps (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')})`)
  }
  if (onlySeed === null) t.ok(exercised >= 1000, `at least 1,000 crash points (ran ${exercised})`)
  t.equal(failed, 0, `${exercised} crash points, ${failed} failed, in ${Date.now() - started} ms`)
})
