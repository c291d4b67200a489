/**
 * The workloads, run the same way against any system (its Running, system.ts), one trial at a
 * time; each returns a figure only after checking that what was produced is what was consumed:
 *
 *   produce   one producer (the Node client, or the native tool), until `maxRecords` or
 *             `maxMs`; then the server's count must equal what was acknowledged, and a
 *             consumer reading the stream back must get that many records with their checksum.
 *   consume   one consumer reading a backlog from its start (count and checksum).
 *   group     `members` consumers of one group reading the backlog (their counts and checksums
 *             add up to the backlog's); time from the go signal to the last record received.
 *   latency   a steady rate for a while; every record received once (count and checksum).
 *
 * The broker's CPU seconds (its process, all threads, and the children it reaped) are taken
 * around each timed part. Every child process is killed at its bound.
 */
import { now, procStats, start, type Proc } from '../harness.ts'
import { constantSum, expectedSum } from './records.ts'
import type { ConsumeResult, GroupResult, LatencyResult, ProduceResult, Running, SystemId } from './system.ts'

export interface Settings {
  /** This script (the bundle run-ts made), re-run with --child for a load generator. */
  self: string
  /** Per produce trial: records … */
  maxRecords: number
  /** … or this long, whichever comes first. */
  produceMaxMs: number
  /** Records per native produce trial and in the consume backlog. */
  backlogRecords: number
  /** The backlog fill (Node client) stops here if not done. */
  fillMaxMs: number
  partitions: number
  groupMembers: number
  latencyRate: number
  latencySeconds: number
  /** A consumer gives up after this long without a record. */
  idleMaxMs: number
  /** Every child process is killed after this long. */
  childMaxMs: number
}

export interface Throughput {
  records: number
  ms: number
  /** records per second */
  rate: number
  brokerCpu: number
  /** The Node client's CPU seconds (its whole process), where known. */
  clientCpu?: number
}

export interface Latency extends LatencyResult {
  brokerCpu: number
}

/** The broker's CPU seconds so far (its threads, and the children it waited for). */
function brokerCpu(r: Running): number {
  const s = procStats(r.proc.pid)
  return s.cpu + s.childCpu
}

const sumCache = new Map<number, number>()
function seqSum(n: number): number {
  let s = sumCache.get(n)
  if (s === undefined) sumCache.set(n, (s = expectedSum(n)))
  return s
}

/** Runs a load generator of `system` to its end; its `result` line. */
async function child<T>(s: Settings, system: SystemId, mode: string, args: object): Promise<T> {
  const p = spawnChild(s, system, mode, args)
  const timer = setTimeout(() => p.kill('SIGKILL'), s.childMaxMs)
  const code = await p.exited
  clearTimeout(timer)
  if (code !== 0) throw new Error(`${system} ${mode} exited ${code}: ${p.stderr().slice(-2000)}`)
  const r = lastResult<T>(p)
  if (r === undefined) throw new Error(`${system} ${mode} printed no result: ${p.stdout().slice(-500)}`)
  return r
}

function spawnChild(s: Settings, system: SystemId, mode: string, args: object): Proc {
  return start(process.execPath, [s.self, '--child', system, mode, JSON.stringify(args)])
}

function jsonLines(p: Proc): Record<string, unknown>[] {
  return p
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

function lastResult<T>(p: Proc): T | undefined {
  return jsonLines(p).find((l) => 'result' in l)?.result as T | undefined
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Throws unless a read-back got exactly `count` records of the right size with checksum `sum`. */
function check(what: string, got: { count: number; sum: number; badLength?: number }, count: number, sum: number): void {
  if (got.count !== count || got.sum !== sum || (got.badLength ?? 0) !== 0) {
    throw new Error(`${what}: read ${got.count} records of ${count} (checksum ${got.sum}, expected ${sum}${got.badLength ? `; ${got.badLength} of the wrong length` : ''})`)
  }
}

/** Reads `stream` back with the Node client; throws unless it holds `count` records with checksum `sum`. */
async function readBack(s: Settings, r: Running, stream: string, size: number, count: number, sum: number): Promise<ConsumeResult> {
  const got = await child<ConsumeResult>(s, r.variant.system, 'consume', { address: r.address, stream, partitions: s.partitions, count, size, idleMaxMs: s.idleMaxMs })
  check(`${r.variant.label}: reading ${stream} back`, got, count, sum)
  return got
}

async function checkStored(r: Running, s: Settings, stream: string, count: number): Promise<void> {
  const stored = await r.stored(stream, s.partitions)
  if (stored !== count) throw new Error(`${r.variant.label}: ${stream} holds ${stored} records, ${count} were acknowledged`)
}

/** One producer trial with the Node client; the stream is dropped afterwards. */
export async function produce(s: Settings, r: Running, stream: string, size: number): Promise<Throughput> {
  await r.create(stream, s.partitions)
  const cpu0 = brokerCpu(r)
  const p = await child<ProduceResult>(s, r.variant.system, 'produce', { address: r.address, stream, size, maxRecords: s.maxRecords, maxMs: s.produceMaxMs })
  const cpu = brokerCpu(r) - cpu0
  await checkStored(r, s, stream, p.records)
  await readBack(s, r, stream, size, p.records, seqSum(p.records))
  await r.drop(stream)
  return { records: p.records, ms: p.ms, rate: p.records / (p.ms / 1000), brokerCpu: cpu, clientCpu: p.cpu }
}

/** One producer trial with the system's native tool; `lines` makes the file of records on demand. */
export async function produceNative(s: Settings, r: Running, stream: string, size: number, lines: () => Promise<string>): Promise<Throughput> {
  const native = r.nativeProduce!
  const count = s.backlogRecords
  await r.create(stream, s.partitions)
  const cpu0 = brokerCpu(r)
  const { ms } = await native.run(stream, s.partitions, count, size, lines)
  const cpu = brokerCpu(r) - cpu0
  await checkStored(r, s, stream, count)
  await readBack(s, r, stream, size, count, native.sequenced ? seqSum(count) : constantSum(count))
  await r.drop(stream)
  return { records: count, ms, rate: count / (ms / 1000), brokerCpu: cpu }
}

/** Fills the consume backlog with the Node client (untimed); returns its record count, checked. */
export async function fillBacklog(s: Settings, r: Running, stream: string, size: number): Promise<number> {
  await r.create(stream, s.partitions)
  const p = await child<ProduceResult>(s, r.variant.system, 'produce', { address: r.address, stream, size, maxRecords: s.backlogRecords, maxMs: s.fillMaxMs })
  await checkStored(r, s, stream, p.records)
  return p.records
}

/** One consumer reading the backlog of `count` records from its start. */
export async function consume(s: Settings, r: Running, stream: string, size: number, count: number): Promise<Throughput> {
  const cpu0 = brokerCpu(r)
  const got = await child<ConsumeResult>(s, r.variant.system, 'consume', { address: r.address, stream, partitions: s.partitions, count, size, idleMaxMs: s.idleMaxMs })
  const cpu = brokerCpu(r) - cpu0
  check(`${r.variant.label}: the consumer`, got, count, seqSum(count))
  return { records: count, ms: got.ms, rate: count / (got.ms / 1000), brokerCpu: cpu }
}

/** The native consumer reading the backlog from its start. */
export async function consumeNative(r: Running, stream: string, count: number): Promise<Throughput> {
  const cpu0 = brokerCpu(r)
  const got = await r.nativeConsume!(stream)
  const cpu = brokerCpu(r) - cpu0
  check(`${r.variant.label}: the native consumer`, got, count, seqSum(count))
  return { records: count, ms: got.ms, rate: count / (got.ms / 1000), brokerCpu: cpu }
}

/**
 * A group of `s.groupMembers` consumers (each its own process) reading the backlog: once all
 * are ready (peerlog: the group Stable, one generation, every partition assigned), all get
 * the go signal; once their counts add up to the backlog, the stop signal.
 */
export async function group(s: Settings, r: Running, stream: string, size: number, count: number, groupId: string): Promise<Throughput> {
  await r.prepareGroup(stream, groupId)
  const args = (member: number) => ({ address: r.address, stream, group: groupId, member, size, maxMs: s.childMaxMs })
  const procs = Array.from({ length: s.groupMembers }, (_, i) => spawnChild(s, r.variant.system, 'group', args(i)))
  const killer = setTimeout(() => procs.forEach((p) => p.kill('SIGKILL')), s.childMaxMs)
  let exited = false
  const exits = Promise.all(procs.map((p) => p.exited)).finally(() => (exited = true))
  const lines = () => procs.map(jsonLines)
  const failIfExited = async (what: string) => {
    for (const p of procs) if ((await Promise.race([p.exited, sleep(0).then(() => 'running')])) !== 'running') throw new Error(`${r.variant.label}: a group member exited ${what}: ${p.stderr().slice(-2000)}`)
  }
  try {
    type Ready = { generation?: number; partitions?: number[] }
    const readyMax = now() + 60_000
    let ready: Ready[] = []
    for (;;) {
      const rs = lines().map((ls) => ls.filter((l) => l.ready).map((l) => l.ready as Ready).pop())
      if (rs.every((x) => x !== undefined)) {
        ready = rs as Ready[]
        const gens = new Set(ready.map((x) => x.generation))
        const owned = ready.flatMap((x) => x.partitions ?? []).sort((a, b) => a - b)
        const complete = r.variant.system !== 'peerlog' || (gens.size === 1 && owned.join(',') === Array.from({ length: s.partitions }, (_, p) => p).join(','))
        if (complete) break
      }
      await failIfExited('before it was ready')
      if (now() > readyMax) throw new Error(`${r.variant.label}: the group was not ready in time: ${procs.map((p) => p.stdout().trim().split('\n').pop()).join(' | ')}`)
      await sleep(20)
    }
    const cpu0 = brokerCpu(r)
    for (const p of procs) p.kill('SIGUSR2')
    const doneMax = now() + s.childMaxMs
    for (;;) {
      const read = lines().reduce((n, ls) => n + ((ls.filter((l) => 'progress' in l).pop()?.progress as number | undefined) ?? 0), 0)
      if (read >= count) break
      await failIfExited('while reading')
      if (now() > doneMax) throw new Error(`${r.variant.label}: the group read ${read} of ${count} in time`)
      await sleep(10)
    }
    const cpu = brokerCpu(r) - cpu0
    for (const p of procs) p.kill('SIGUSR2')
    const codes = await exits
    codes.forEach((code, i) => {
      if (code !== 0) throw new Error(`${r.variant.label}: a group member exited ${code}: ${procs[i]!.stderr().slice(-2000)}`)
    })
    const results = procs.map((p) => lastResult<GroupResult>(p)!)
    results.forEach((g, i) => {
      if (g.generation !== undefined && ready[i]!.generation !== undefined && g.generation !== ready[i]!.generation) {
        const why = procs.flatMap((p) => p.stderr().split('\n').filter((l) => l.includes('joining') || l.includes('leaving') || l.includes('failed')))
        throw new Error(`${r.variant.label}: the group rebalanced while reading (generation ${ready[i]!.generation} → ${g.generation}); the members said: ${why.join(' | ')}`)
      }
    })
    const total = results.reduce((a, g) => ({ count: a.count + g.count, sum: (a.sum + g.sum) >>> 0, badLength: a.badLength + g.badLength }), { count: 0, sum: 0, badLength: 0 })
    check(`${r.variant.label}: the group of ${s.groupMembers}`, total, count, seqSum(count))
    const ms = Math.max(...results.map((g) => g.lastAt)) - Math.min(...results.map((g) => g.goAt))
    return { records: count, ms, rate: count / (ms / 1000), brokerCpu: cpu }
  } finally {
    clearTimeout(killer)
    if (!exited) procs.forEach((p) => p.kill('SIGKILL'))
  }
}

/** End-to-end latency at a steady rate; the stream is dropped afterwards. */
export async function latency(s: Settings, r: Running, stream: string): Promise<Latency> {
  await r.create(stream, s.partitions)
  const count = s.latencyRate * s.latencySeconds
  const consumer = spawnChild(s, r.variant.system, 'latency-consume', { address: r.address, stream, partitions: s.partitions, count, idleMaxMs: s.idleMaxMs })
  const killer = setTimeout(() => consumer.kill('SIGKILL'), s.childMaxMs)
  try {
    for (const readyMax = now() + 60_000; !jsonLines(consumer).some((l) => l.ready); ) {
      if ((await Promise.race([consumer.exited, sleep(20).then(() => 'wait')])) !== 'wait') throw new Error(`${r.variant.label}: the latency consumer exited: ${consumer.stderr().slice(-2000)}`)
      if (now() > readyMax) throw new Error(`${r.variant.label}: the latency consumer was not ready in time`)
    }
    const cpu0 = brokerCpu(r)
    const sent = await child<{ sent: number; ms: number }>(s, r.variant.system, 'latency-produce', { address: r.address, stream, rate: s.latencyRate, seconds: s.latencySeconds })
    const code = await consumer.exited
    const cpu = brokerCpu(r) - cpu0
    if (code !== 0) throw new Error(`${r.variant.label}: the latency consumer exited ${code}: ${consumer.stderr().slice(-2000)}`)
    const got = lastResult<LatencyResult>(consumer)!
    check(`${r.variant.label}: the latency consumer`, got, sent.sent, seqSum(sent.sent))
    await r.drop(stream)
    return { ...got, brokerCpu: cpu }
  } finally {
    clearTimeout(killer)
    consumer.kill('SIGKILL')
  }
}
