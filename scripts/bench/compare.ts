/**
 * `npm run bench:compare` — peerlog side by side with NATS JetStream and Redis Streams, the same
 * workloads on each, in one run on this machine (issue 6):
 *
 *   1. one producer, 100-byte records, as fast as the system takes them
 *   2. the same with 1 KiB records
 *   3. one consumer reading a backlog of 100-byte records from its start
 *   4. a consumer group of 4 members reading that backlog
 *   5. end-to-end latency at a steady 10,000 records/s for 30 s: p50, p99, p99.9
 *   6. cost: broker CPU seconds per million records (workloads 1 + 3), idle and peak RSS
 *
 * Systems (compare/*.ts, one module each behind the interface of compare/system.ts): peerlog
 * from the bundle on Node, Bun and Deno (acks=1, default flush) and on Node with an fsync per
 * batch (flush.messages=1); `nats-server -js` (file storage, default sync); `redis-server`
 * (AOF, appendfsync everysec). Each server is started here on a free loopback port with its
 * data in a temp directory, and stopped (SIGTERM, then SIGKILL) afterwards, also on failure.
 * Clients: each system's Node client, and the native tool where there is one (kcat for
 * peerlog, redis-benchmark for XADD); every load generator is its own process.
 *
 * A trial is one fresh server per system running every workload once; there are 3 rounds
 * (1 with --quick), the systems in turn within a round, so that a change in the machine's
 * background load falls on every system alike. A figure is the median of the rounds, with
 * the spread (max − min) / median. No figure is printed for a trial whose counts and
 * checksums (compare/records.ts) do not show every record produced consumed exactly once.
 *
 * Output: the table, ending with the summary line; bench/results/compare-<time>.json and .svg
 * (…-quick.* for --quick or --only runs, which .gitignore leaves out); a full run also writes
 * bench/compare.svg, the chart the README shows.
 *
 * Options: --quick (short runs, 1 round), --only <system|variant|workload> (repeatable:
 * peerlog, jetstream, redis, peerlog-node, peerlog-node-fsync, peerlog-bun, peerlog-deno;
 * produce-100, produce-1k, consume, group, latency), --profile <workload> (peerlog on Node
 * under --cpu-prof for that workload, 1 trial, its top self-time functions), --dir DIR.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { barChart, type Bar, type Panel } from './chart.ts'
import { jetstreamDriver } from './compare/jetstream.ts'
import { runLoad } from './compare/load.ts'
import { peerlogDriver } from './compare/peerlog.ts'
import { writeRecordLines } from './compare/records.ts'
import { redisDriver } from './compare/redis.ts'
import type { Running, SystemDriver, SystemId, Variant } from './compare/system.ts'
import * as W from './compare/workloads.ts'
import { buildBundle, fmt, freePort, printProfile, procStats, root, type CpuProfile } from './harness.ts'

const args = process.argv.slice(2)
if (args[0] === '--child') {
  await runLoad(args.slice(1))
  process.exit(0)
}

// ---------------------------------------------------------------------------------------------
// Settings.
const quick = args.includes('--quick')
const optionValues = (name: string) => args.flatMap((a, i) => (args[i - 1] === name ? [a] : []))
const only = new Set(optionValues('--only'))
const profileWorkload = optionValues('--profile')[0]
const dirArg = optionValues('--dir')[0]
const ROUNDS = quick || profileWorkload ? 1 : 3
/** A broker settles this long after starting before its idle RSS is read. */
const IDLE_SETTLE_MS = 2_000

const S: W.Settings = {
  self: fileURLToPath(import.meta.url),
  maxRecords: quick ? 200_000 : 2_000_000,
  produceMaxMs: quick ? 3_000 : 20_000,
  backlogRecords: quick ? 200_000 : 2_000_000,
  fillMaxMs: quick ? 60_000 : 300_000,
  partitions: 4,
  groupMembers: 4,
  latencyRate: 10_000,
  latencySeconds: quick ? 5 : 30,
  idleMaxMs: 15_000,
  childMaxMs: 600_000,
}

const WORKLOADS = ['produce-100', 'produce-1k', 'consume', 'group', 'latency'] as const
type Workload = (typeof WORKLOADS)[number]

const VARIANTS: Variant[] = [
  { key: 'peerlog-node', system: 'peerlog', label: 'peerlog (Node)', runtime: 'node', durability: 'acks=1, default flush (no fsync of its own)' },
  { key: 'peerlog-node-fsync', system: 'peerlog', label: 'peerlog (Node, fsync/batch)', runtime: 'node', fsyncPerBatch: true, durability: 'acks=1, fsync per batch (flush.messages=1)' },
  { key: 'peerlog-bun', system: 'peerlog', label: 'peerlog (Bun)', runtime: 'bun', durability: 'acks=1, default flush' },
  { key: 'peerlog-deno', system: 'peerlog', label: 'peerlog (Deno)', runtime: 'deno', durability: 'acks=1, default flush' },
  { key: 'jetstream', system: 'jetstream', label: 'NATS JetStream', durability: 'file storage, default sync (every 2 min)' },
  { key: 'redis', system: 'redis', label: 'Redis Streams', durability: 'AOF, appendfsync everysec' },
]
const DRIVERS: Record<SystemId, SystemDriver> = { peerlog: peerlogDriver, jetstream: jetstreamDriver, redis: redisDriver }
/** The peerlog configuration the targets and the summary line are about. */
const PRIMARY = 'peerlog-node'
const PEERS = ['jetstream', 'redis']

const variantFilters = [...only].filter((o) => VARIANTS.some((v) => v.key === o || v.system === o))
const workloadFilters = [...only].filter((o) => (WORKLOADS as readonly string[]).includes(o))
const unknown = [...only].filter((o) => !variantFilters.includes(o) && !workloadFilters.includes(o))
if (unknown.length) throw new Error(`--only: unknown ${unknown.join(', ')} (systems: peerlog, jetstream, redis, ${VARIANTS.map((v) => v.key).join(', ')}; workloads: ${WORKLOADS.join(', ')})`)
if (profileWorkload !== undefined && !(WORKLOADS as readonly string[]).includes(profileWorkload)) throw new Error(`--profile takes one of ${WORKLOADS.join(', ')}`)
const runsWorkload = (w: Workload) => (profileWorkload ? w === profileWorkload : workloadFilters.length === 0 || workloadFilters.includes(w))
const partial = quick || only.size > 0

// ---------------------------------------------------------------------------------------------
// Cleanup: every server and its data go, however the run ends.
const base = mkdtempSync(join(dirArg ?? tmpdir(), 'peerlog-bench-compare-'))
const live = new Set<Running>()
process.on('exit', () => {
  for (const r of live) r.proc.kill('SIGKILL')
  rmSync(base, { recursive: true, force: true })
})
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    console.error(`bench:compare: ${sig}, stopping the servers`)
    process.exit(130)
  })
}

// ---------------------------------------------------------------------------------------------
// Results: per variant, per measure, one value per round.
type Measure = `${Workload}/${'node' | 'native'}`
interface VariantResults {
  variant: Variant
  version: string
  throughput: Partial<Record<Measure, W.Throughput[]>>
  latency: W.Latency[]
  idleRss: number[]
  peakRss: number[]
  /** Which native tool produced the native rows. */
  nativeProduceTool?: string
  nativeProduceSettings?: string
  notes: string[]
  /** Trials that failed their check or did not finish: reported, not counted. */
  failures: string[]
}
const results = new Map<string, VariantResults>()
const notes: string[] = []

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
const spread = (xs: number[]) => (xs.length < 2 ? 0 : (Math.max(...xs) - Math.min(...xs)) / median(xs))

function have(cmd: string, versionArg = '--version'): boolean {
  return spawnSync(cmd, [versionArg], { stdio: 'ignore' }).status === 0
}

/** The record files kcat reads (one per record size), made once per run. */
const lineFiles = new Map<number, Promise<string>>()
function linesFile(size: number): Promise<string> {
  let f = lineFiles.get(size)
  if (!f) {
    const file = join(base, `records-${size}.txt`)
    f = writeRecordLines(file, S.backlogRecords, size).then(() => file)
    lineFiles.set(size, f)
  }
  return f
}

/** One fresh server of `v` running every selected workload once. */
async function session(round: number, v: Variant, runtimeArgs: string[] = []): Promise<void> {
  const driver = DRIVERS[v.system]
  const dir = mkdtempSync(join(base, `${v.key}-`))
  const port = await freePort()
  const r = await driver.start(v, dir, port, { runtimeArgs })
  live.add(r)
  const res = results.get(v.key) ?? { variant: v, version: r.version, throughput: {}, latency: [], idleRss: [], peakRss: [], notes: [], failures: [] }
  results.set(v.key, res)
  const put = (m: Measure, t: W.Throughput) => (res.throughput[m] ??= []).push(t)
  // A failed trial (a lost record, a client error, a timeout) is reported, never counted; the
  // session goes on with the next workload (a dead server fails those too).
  const trial = async (what: string, fn: () => Promise<unknown>) => {
    process.stdout.write(`  ${v.label}: ${what}\n`)
    try {
      await fn()
    } catch (e) {
      const msg = `round ${round + 1}, ${what}: ${(e as Error).message.split('\n').slice(0, 3).join(' ').slice(0, 400)}`
      process.stdout.write(`    FAILED: ${msg}\n`)
      res.failures.push(msg)
    }
  }
  try {
    await new Promise((ok) => setTimeout(ok, IDLE_SETTLE_MS))
    res.idleRss.push(procStats(r.proc.pid).rss)
    for (const [w, size] of [['produce-100', 100], ['produce-1k', 1024]] as const) {
      if (!runsWorkload(w)) continue
      await trial(`${w}, Node client`, async () => put(`${w}/node`, await W.produce(S, r, `${w}-${round}`, size)))
      const native = r.nativeProduce
      if (native && !profileWorkload) {
        res.nativeProduceTool = native.tool
        res.nativeProduceSettings = native.settings
        await trial(`${w}, ${native.tool}`, async () => put(`${w}/native`, await W.produceNative(S, r, `${w}-native-${round}`, size, () => linesFile(size))))
      }
    }
    if (runsWorkload('consume') || runsWorkload('group')) {
      let n = 0
      await trial(`filling the backlog (${fmt(S.backlogRecords)} records of 100 B, Node client, untimed)`, async () => {
        n = await W.fillBacklog(S, r, 'backlog', 100)
        if (n < S.backlogRecords) res.notes.push(`round ${round + 1}: its backlog holds ${fmt(n)} records: the fill stopped at ${S.fillMaxMs / 1000} s`)
      })
      if (n > 0) {
        if (runsWorkload('consume')) {
          await trial('consume, Node client', async () => put('consume/node', await W.consume(S, r, 'backlog', 100, n)))
          if (r.nativeConsume && !profileWorkload) await trial('consume, native', async () => put('consume/native', await W.consumeNative(r, 'backlog', n)))
        }
        if (runsWorkload('group')) await trial(`group of ${S.groupMembers}, Node client`, async () => put('group/node', await W.group(S, r, 'backlog', 100, n, `group-${round}`)))
        await r.drop('backlog').catch(() => undefined)
      }
    }
    if (runsWorkload('latency')) {
      await trial(`latency at ${fmt(S.latencyRate)} records/s for ${S.latencySeconds} s`, async () => void res.latency.push(await W.latency(S, r, `latency-${round}`)))
    }
    res.peakRss.push(procStats(r.proc.pid).hwm)
  } finally {
    await r.stop()
    live.delete(r)
    rmSync(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------
// Output.
const rate = (x: number) => (x >= 1e6 ? `${fmt(x / 1e6, 2)} M/s` : `${fmt(x / 1e3, 0)} k/s`)
const pct = (x: number) => `${fmt(100 * x, 0)}%`
const ms = (x: number) => (x < 10 ? fmt(x, 2) : fmt(x, 1))

function thr(v: VariantResults, m: Measure): { rate: number; spread: number; cpuPerM: number; clientCpuPerM: number; records: number; trials: number } | null {
  const ts = v.throughput[m]
  if (!ts?.length) return null
  return { trials: ts.length, clientCpuPerM: median(ts.map((t) => ((t.clientCpu ?? NaN) / t.records) * 1e6)), rate: median(ts.map((t) => t.rate)), spread: spread(ts.map((t) => t.rate)), cpuPerM: median(ts.map((t) => (t.brokerCpu / t.records) * 1e6)), records: median(ts.map((t) => t.records)) }
}

function lat(v: VariantResults) {
  if (!v.latency.length) return null
  const l = v.latency
  return { p50: median(l.map((x) => x.p50)), p99: median(l.map((x) => x.p99)), p999: median(l.map((x) => x.p999)), max: median(l.map((x) => x.max)), spread99: spread(l.map((x) => x.p99)), cpuPerM: median(l.map((x) => (x.brokerCpu / x.count) * 1e6)) }
}

/** Broker CPU s per million records produced (Node client, 100 B) and consumed once (Node client). */
function cost(v: VariantResults): number | null {
  const p = thr(v, 'produce-100/node')
  const c = thr(v, 'consume/node')
  return p && c ? p.cpuPerM + c.cpuPerM : null
}

const WORKLOAD_TITLES: Record<Workload, string> = {
  'produce-100': '1. produce, 100 B records',
  'produce-1k': '2. produce, 1 KiB records',
  consume: '3. consume the backlog from the start',
  group: '4. consumer group of 4',
  latency: '5. end-to-end latency at 10,000 records/s',
}

function nativeTool(v: VariantResults, w: Workload): string {
  if (w === 'consume') return v.variant.system === 'peerlog' ? 'kcat -C' : 'native'
  return v.nativeProduceTool ?? 'native'
}

/**
 * peerlog on Node (default flush) against the better of the peers, per target; the summary
 * line's ratios: throughput, the lowest over workloads 1–4 (Node clients); p99 and CPU per
 * million records, peerlog's over the better peer's.
 */
function targetsAndSummary(): { targets: string[]; summary: string; against: string } {
  const primary = results.get(PRIMARY)
  const peers = PEERS.map((k) => results.get(k)).filter((x): x is VariantResults => x !== undefined)
  const targets: string[] = []
  let thrRatio = NaN
  let p99Ratio = NaN
  let cpuRatio = NaN
  const met = (ok: boolean) => (ok ? 'met' : 'MISSED')
  if (primary && peers.length) {
    const ratios: number[] = []
    for (const w of ['produce-100', 'produce-1k', 'consume', 'group'] as const) {
      const mine = thr(primary, `${w}/node`)
      const best = peers.map((p) => ({ p, t: thr(p, `${w}/node`) })).filter((x) => x.t).sort((a, b) => b.t!.rate - a.t!.rate)[0]
      if (!mine || !best) continue
      const ratio = mine.rate / best.t!.rate
      ratios.push(ratio)
      // The best clients: each system's faster of its Node client and its native tool.
      const bestOf = (v: VariantResults) => Math.max(thr(v, `${w}/node`)?.rate ?? 0, thr(v, `${w}/native`)?.rate ?? 0)
      const nativeRatio = bestOf(primary) / Math.max(...peers.map(bestOf))
      targets.push(
        `${WORKLOAD_TITLES[w]}: Node clients ${fmt(ratio, 2)}× ${best.p.variant.label} (≥ 1.5×: ${met(ratio >= 1.5)}); best clients ${fmt(nativeRatio, 2)}× (≥ 1.0×: ${met(nativeRatio >= 1)})`,
      )
    }
    thrRatio = ratios.length ? Math.min(...ratios) : NaN
    const myLat = lat(primary)
    const bestLat = peers.map((p) => ({ p, l: lat(p) })).filter((x) => x.l).sort((a, b) => a.l!.p99 - b.l!.p99)[0]
    if (myLat && bestLat) {
      p99Ratio = myLat.p99 / bestLat.l!.p99
      targets.push(`${WORKLOAD_TITLES.latency}: p99 ${ms(myLat.p99)} ms = ${fmt(p99Ratio, 2)}× ${bestLat.p.variant.label}'s ${ms(bestLat.l!.p99)} ms (≤ 1.0×: ${met(p99Ratio <= 1)})`)
    }
    const myCost = cost(primary)
    const bestCost = peers.map((p) => ({ p, c: cost(p) })).filter((x) => x.c !== null).sort((a, b) => a.c! - b.c!)[0]
    if (myCost !== null && bestCost) {
      cpuRatio = myCost / bestCost.c!
      targets.push(`6. cost: ${fmt(myCost, 2)} broker CPU s per M records = ${fmt(cpuRatio, 2)}× ${bestCost.p.variant.label}'s ${fmt(bestCost.c!, 2)} (≤ 1.0×: ${met(cpuRatio <= 1)})`)
    }
    const idle = median(primary.idleRss)
    targets.push(`6. cost: idle RSS ${fmt(idle, 1)} MB (≤ 80 MB: ${met(idle <= 80)})`)
  }
  const x = (r: number) => (Number.isFinite(r) ? `${fmt(r, 2)}×` : 'n/a')
  const summary = `summary: throughput ${x(thrRatio)} best peer (node clients), p99 ${x(p99Ratio)} best peer, cpu ${x(cpuRatio)} best peer`
  return { targets, summary, against: `${primary?.variant.label} against the better of ${peers.map((p) => p.variant.label).join(' and ')}` }
}

function printTable(machine: string[]): void {
  const vs = [...results.values()]
  console.log('')
  for (const l of machine) console.log(l)
  console.log('')
  const head = ['system'.padEnd(28), 'client'.padEnd(16), 'median'.padStart(12), 'spread'.padStart(7), 'trials'.padStart(6), 'MB/s'.padStart(8), 'broker CPU s/M rec'.padStart(19), 'client CPU s/M'.padStart(15), '  durability'].join(' ')
  for (const w of WORKLOADS) {
    if (w === 'latency' || !vs.some((v) => v.throughput[`${w}/node`])) continue
    console.log(WORKLOAD_TITLES[w])
    console.log(`  ${head}`)
    const size = w === 'produce-1k' ? 1024 : 100
    for (const v of vs) {
      for (const kind of ['node', 'native'] as const) {
        const t = thr(v, `${w}/${kind}`)
        if (!t) continue
        console.log(`  ${[v.variant.label.padEnd(28), (kind === 'node' ? 'Node client' : nativeTool(v, w)).padEnd(16), rate(t.rate).padStart(12), pct(t.spread).padStart(7), `${t.trials}/${ROUNDS}`.padStart(6), fmt((t.rate * size) / 1e6, 1).padStart(8), fmt(t.cpuPerM, 2).padStart(19), (Number.isFinite(t.clientCpuPerM) ? fmt(t.clientCpuPerM, 2) : '').padStart(15), `  ${v.variant.durability}`].join(' ')}`)
      }
    }
  }
  if (vs.some((v) => v.latency.length)) {
    console.log(WORKLOAD_TITLES.latency)
    console.log(`  ${['system'.padEnd(28), 'p50 ms'.padStart(8), 'p99 ms'.padStart(8), 'p99.9 ms'.padStart(9), 'max ms'.padStart(8), 'p99 spread'.padStart(11), 'trials'.padStart(6), 'broker CPU s/M rec'.padStart(19)].join(' ')}`)
    for (const v of vs) {
      const l = lat(v)
      if (l) console.log(`  ${[v.variant.label.padEnd(28), ms(l.p50).padStart(8), ms(l.p99).padStart(8), ms(l.p999).padStart(9), ms(l.max).padStart(8), pct(l.spread99).padStart(11), `${v.latency.length}/${ROUNDS}`.padStart(6), fmt(l.cpuPerM, 2).padStart(19)].join(' ')}`)
    }
  }
  console.log('6. cost')
  console.log(`  ${['system'.padEnd(28), 'CPU s per M records (1 + 3)'.padStart(28), 'idle RSS MB'.padStart(12), 'peak RSS MB'.padStart(12)].join(' ')}`)
  for (const v of vs) {
    const c = cost(v)
    console.log(`  ${[v.variant.label.padEnd(28), (c === null ? '—' : fmt(c, 2)).padStart(28), fmt(median(v.idleRss), 1).padStart(12), fmt(median(v.peakRss), 0).padStart(12)].join(' ')}`)
  }
  for (const v of vs) for (const n of v.notes) console.log(`note: ${v.variant.label}: ${n}`)
  for (const v of vs) for (const f of v.failures) console.log(`FAILED: ${v.variant.label}: ${f}`)
  for (const n of notes) console.log(`note: ${n}`)

  const { targets, summary, against } = targetsAndSummary()
  if (targets.length) {
    console.log('')
    console.log(`targets (${against}):`)
    for (const t of targets) console.log(`  ${t}`)
  }
  console.log('')
  console.log(summary)
}

const COLORS: Record<string, string> = {
  'peerlog-node': '#1f5fa8',
  'peerlog-node-fsync': '#5b8fd0',
  'peerlog-bun': '#2c9c9c',
  'peerlog-deno': '#6a4fb0',
  jetstream: '#2f9e44',
  redis: '#c92a2a',
}

function chart(machine: string[], versions: string[], date: string): string {
  const vs = [...results.values()]
  const panels: Panel[] = []
  for (const w of ['produce-100', 'produce-1k', 'consume', 'group'] as const) {
    const bars: Bar[] = []
    for (const v of vs) {
      for (const kind of ['node', 'native'] as const) {
        const t = thr(v, `${w}/${kind}`)
        if (!t) continue
        bars.push({ label: kind === 'node' ? v.variant.label : `${v.variant.label} + ${nativeTool(v, w)}`, value: t.rate, text: `${rate(t.rate)} ±${pct(t.spread / 2)}`, color: kind === 'node' ? COLORS[v.variant.key]! : shade(COLORS[v.variant.key]!) })
      }
    }
    if (bars.length) panels.push({ title: `${WORKLOAD_TITLES[w]}, records/s`, better: 'higher', bars })
  }
  const latBars = vs.flatMap((v) => {
    const l = lat(v)
    return l ? [{ label: v.variant.label, value: l.p99, text: `p99 ${ms(l.p99)} ms (p50 ${ms(l.p50)}, p99.9 ${ms(l.p999)})`, color: COLORS[v.variant.key]! }] : []
  })
  if (latBars.length) panels.push({ title: '5. end-to-end latency at 10,000 records/s: p99 (ms)', better: 'lower', bars: latBars })
  const costBars = vs.flatMap((v) => {
    const c = cost(v)
    return c === null ? [] : [{ label: v.variant.label, value: c, text: `${fmt(c, 2)} s`, color: COLORS[v.variant.key]! }]
  })
  if (costBars.length) panels.push({ title: '6. broker CPU seconds per million records (1 + 3)', better: 'lower', bars: costBars })
  panels.push({ title: '6. broker RSS, idle (MB)', better: 'lower', bars: vs.map((v) => ({ label: v.variant.label, value: median(v.idleRss), text: `${fmt(median(v.idleRss), 1)} MB`, color: COLORS[v.variant.key]! })) })
  panels.push({ title: '6. broker RSS, peak over the run (MB)', better: 'lower', bars: vs.map((v) => ({ label: v.variant.label, value: median(v.peakRss), text: `${fmt(median(v.peakRss), 0)} MB`, color: COLORS[v.variant.key]! })) })
  return barChart({
    title: `peerlog vs NATS JetStream vs Redis Streams — bench:compare, ${date}`,
    lines: [
      `Medians of ${ROUNDS} round${ROUNDS === 1 ? '' : 's'} (± half the spread); every record produced was consumed exactly once (count and checksum) before a figure counted.`,
      'Bars without a tool named: Node clients (peerlog client, nats.js, ioredis), load generators in their own processes; lighter bars: native tools.',
      ...vs.map((v) => `${v.variant.label}: ${v.variant.durability}`),
    ],
    footer: [...machine, ...versions],
    panels,
  })
}

/** A lighter shade of a #rrggbb colour (the native tools' bars). */
function shade(hex: string): string {
  const n = parseInt(hex.slice(1), 16)
  const mixc = (c: number) => Math.round(c + (255 - c) * 0.45)
  return `#${[(n >> 16) & 255, (n >> 8) & 255, n & 255].map((c) => mixc(c).toString(16).padStart(2, '0')).join('')}`
}

// ---------------------------------------------------------------------------------------------
async function main() {
  await buildBundle()
  const want = VARIANTS.filter((v) => (profileWorkload ? v.key === PRIMARY : variantFilters.length === 0 || variantFilters.includes(v.key) || variantFilters.includes(v.system)))
  const missing = (v: Variant) => {
    if (v.system === 'jetstream' && !have('nats-server')) return 'nats-server'
    if (v.system === 'redis' && !(have('redis-server') && have('redis-benchmark'))) return 'redis-server, redis-benchmark'
    if (v.system === 'peerlog' && !have('kcat', '-V')) return 'kcat'
    return null
  }
  const variants = want.filter((v) => {
    const m = missing(v)
    if (m) notes.push(`${v.label} skipped: ${m} not found (apt-get install -y nats-server redis-server redis-tools kcat)`)
    return !m
  })
  const cpuList = cpus()
  const date = new Date().toISOString().slice(0, 10)
  const loadStart = loadavg()
  const machineLine = () => `machine: ${cpuList.length} cores, ${cpuList[0]?.model ?? '?'}, ${fmt(totalmem() / 2 ** 30, 0)} GiB, Linux ${release()}; load average at start ${loadStart.map((x) => fmt(x, 2)).join(' ')}, at end ${loadavg().map((x) => fmt(x, 2)).join(' ')}; ${date}`
  console.log(`peerlog bench:compare — ${quick ? 'quick run' : 'full run'}${only.size ? ` (--only ${[...only].join(' ')})` : ''}; ${ROUNDS} round${ROUNDS === 1 ? '' : 's'}; ${cpuList.length} cores, ${cpuList[0]?.model ?? '?'}; load average ${loadStart.map((x) => fmt(x, 2)).join(' ')}`)
  console.log(`  per trial: produce up to ${fmt(S.maxRecords)} records or ${S.produceMaxMs / 1000} s (native tools: ${fmt(S.backlogRecords)} records); backlog ${fmt(S.backlogRecords)} records of 100 B; group of ${S.groupMembers}; latency ${fmt(S.latencyRate)} records/s for ${S.latencySeconds} s; peerlog topics of ${S.partitions} partitions`)

  if (profileWorkload) {
    const v = variants[0]
    if (!v) throw new Error('peerlog cannot run here')
    const profDir = join(base, 'prof')
    await session(0, v, ['--cpu-prof', '--cpu-prof-dir', profDir])
    const f = readdirSync(profDir).find((x) => x.endsWith('.cpuprofile'))
    if (!f) throw new Error('no CPU profile written')
    printTable([machineLine()])
    printProfile(JSON.parse(readFileSync(join(profDir, f), 'utf8')) as CpuProfile, `the ${profileWorkload} workload (${v.label})`)
    return
  }

  for (let round = 0; round < ROUNDS; round++) {
    console.log(`round ${round + 1} of ${ROUNDS} (load average ${loadavg().map((x) => fmt(x, 2)).join(' ')})`)
    for (const v of variants) await session(round, v)
  }

  const toolVersion = (cmd: string, a: string[], pick: (s: string) => string) => {
    const r = spawnSync(cmd, a, { encoding: 'utf8' })
    return r.status === 0 ? pick(r.stdout + r.stderr) : '?'
  }
  const versions = [
    `servers: ${[...results.values()].map((v) => v.version).filter((x, i, a) => a.indexOf(x) === i).join('; ')}`,
    `clients: ${[peerlogDriver, jetstreamDriver, redisDriver].map((d) => d.clientVersion()).join(', ')} on Node ${process.version}; ${toolVersion('kcat', ['-V'], (s) => `kcat ${/Version (\S+)/.exec(s)?.[1] ?? '?'} (librdkafka ${/librdkafka (\S+)/.exec(s)?.[1] ?? '?'})`)}; ${toolVersion('redis-benchmark', ['--version'], (s) => s.trim())}`,
  ]
  const machine = [machineLine()]
  const { summary, targets } = targetsAndSummary()

  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const name = `compare-${stamp}${partial ? '-quick' : ''}`
  const outDir = join(root, 'bench', 'results')
  mkdirSync(outDir, { recursive: true })
  const json = {
    date: new Date().toISOString(),
    run: { quick, only: [...only], rounds: ROUNDS },
    machine: { cores: cpuList.length, model: cpuList[0]?.model, memoryGiB: totalmem() / 2 ** 30, kernel: release(), loadAverageStart: loadStart, loadAverageEnd: loadavg() },
    versions,
    settings: {
      ...S,
      self: undefined,
      clients: Object.fromEntries(Object.entries(DRIVERS).map(([k, d]) => [k, d.settings])),
      native: Object.fromEntries([...results.values()].filter((v) => v.nativeProduceSettings).map((v) => [v.variant.key, v.nativeProduceSettings])),
    },
    systems: [...results.values()].map((v) => ({
      key: v.variant.key,
      label: v.variant.label,
      durability: v.variant.durability,
      version: v.version,
      throughput: Object.fromEntries(Object.entries(v.throughput).map(([m, ts]) => [m, { median: thr(v, m as Measure), trials: ts }])),
      latency: { median: lat(v), trials: v.latency },
      costCpuSecondsPerMillion: cost(v),
      idleRssMB: v.idleRss,
      peakRssMB: v.peakRss,
      notes: v.notes,
      failures: v.failures,
    })),
    targets,
    notes,
    summary,
  }
  writeFileSync(join(outDir, `${name}.json`), JSON.stringify(json, null, 2) + '\n')
  const svg = chart(machine, versions, date)
  writeFileSync(join(outDir, `${name}.svg`), svg)
  if (!partial) writeFileSync(join(root, 'bench', 'compare.svg'), svg)
  console.log(`results: bench/results/${name}.json and .svg${partial ? '' : '; chart: bench/compare.svg'}`)
  printTable([...machine, ...versions])
}

await main().catch((e: Error) => {
  console.error(`bench:compare failed: ${e.stack ?? e.message}`)
  process.exitCode = 1
})
