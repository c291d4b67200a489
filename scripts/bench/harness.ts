/**
 * What the broker benchmarks share: child processes (load generators, a broker from the bundle),
 * the broker's RSS and CPU from /proc, topics and end offsets through the peerlog Admin, kcat
 * produce, and number formatting. Contract: every wait here is bounded (a child by its timeout,
 * a broker start by `brokerStartMaxMs`); a helper that counts (kcatProduce) throws unless the
 * count is what was asked for, so a figure is only ever printed for verified work.
 */
import { spawn } from 'node:child_process'
import { createWriteStream, readFileSync } from 'node:fs'
import { connect, createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { Admin } from '../../src/client/admin.ts'
import { Producer } from '../../src/client/producer.ts'

/** The repository (npm runs scripts there). */
export const root = process.cwd()
/** Wall-clock milliseconds, comparable between processes on one machine. */
export const now = () => performance.timeOrigin + performance.now()
export const brokerStartMaxMs = 30_000

export interface Proc {
  pid: number
  exited: Promise<number | null>
  stdout(): string
  stderr(): string
  kill(signal?: NodeJS.Signals): void
}

export function start(cmd: string, argv: string[], opts: { stdoutFile?: string; countLines?: boolean } = {}): Proc & { lines: () => number } {
  const child = spawn(cmd, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  let lines = 0
  child.stdout.on('data', (c: Buffer) => {
    if (opts.countLines) {
      for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) lines++
    } else out += c.toString()
  })
  child.stderr.on('data', (c: Buffer) => (err += c.toString()))
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)))
  return { pid: child.pid!, exited, stdout: () => out, stderr: () => err, kill: (s) => child.kill(s), lines: () => lines }
}

/** Runs `self --child ...argv` (the calling script as a load generator); its last stdout line, as JSON. */
export async function runChild<T>(self: string, what: string, argv: string[], timeoutMs = 300_000): Promise<T> {
  const p = start(process.execPath, [self, '--child', ...argv])
  const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs)
  const code = await p.exited
  clearTimeout(timer)
  if (code !== 0) throw new Error(`${what} exited ${code}: ${p.stderr().slice(-2000)}`)
  return JSON.parse(p.stdout().trim().split('\n').pop()!) as T
}

/**
 * VmRSS and VmHWM of a process, in MiB; its CPU time (user + system, all threads), in seconds;
 * `childCpu`: that of its children it has waited for (Redis's AOF rewrite runs in a fork).
 */
export function procStats(pid: number): { rss: number; hwm: number; cpu: number; childCpu: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN) / 1024
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const cpu = (Number(fields[11]) + Number(fields[12])) / 100 // utime + stime, in clock ticks (100/s)
  const childCpu = (Number(fields[13]) + Number(fields[14])) / 100 // cutime + cstime
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), cpu, childCpu }
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => (s.destroy(), r(true)))
    s.once('error', () => r(false))
  })
}

/** Builds dist/ from the sources as they are now (the bundle the broker runs from). */
export async function buildBundle(): Promise<void> {
  const b = start(process.execPath, [join(root, 'scripts/build.mjs'), '--skip-types', '--quiet'])
  if ((await b.exited) !== 0) throw new Error(`build failed: ${b.stderr()}`)
}

export type BrokerRuntime = 'node' | 'bun' | 'deno'

/** The command that runs a script on `runtime` (Bun and Deno: the npm-installed binaries). */
export function runtimeCommand(runtime: BrokerRuntime, runtimeArgs: string[] = []): [string, string[]] {
  switch (runtime) {
    case 'node':
      return [process.execPath, runtimeArgs]
    case 'bun':
      return [join(root, 'node_modules', '.bin', 'bun'), runtimeArgs]
    case 'deno':
      return [join(root, 'node_modules', '.bin', 'deno'), ['run', '-A', ...runtimeArgs]]
    default: {
      const _: never = runtime
      throw new Error(`unknown runtime ${String(_)}`)
    }
  }
}

/**
 * `node dist/peerlog.mjs broker start` (or on Bun or Deno) in its own process, data under
 * `base/name`; resolves once it accepts connections. `runtimeArgs` go to the runtime
 * (e.g. Node's --cpu-prof).
 */
export async function startBrokerProcess(base: string, name: string, port: number, runtimeArgs: string[] = [], brokerArgs: string[] = [], runtime: BrokerRuntime = 'node'): Promise<Proc> {
  const bundle = join(root, 'dist', 'peerlog.mjs')
  const [cmd, pre] = runtimeCommand(runtime, runtimeArgs)
  const p = start(cmd, [...pre, bundle, 'broker', 'start', '--data-dir', join(base, name), '--listen', `127.0.0.1:${port}`, '--log-level', 'warn', ...brokerArgs])
  await waitForPort(p, port, 'the broker')
  return p
}

/** Resolves once `port` accepts connections; throws if `p` exits first or after brokerStartMaxMs. */
export async function waitForPort(p: Proc, port: number, what: string): Promise<void> {
  let exited = false
  void p.exited.then(() => (exited = true))
  const deadline = Date.now() + brokerStartMaxMs
  while (!(await canConnect(port))) {
    if (exited) throw new Error(`${what} exited at start: ${p.stderr().slice(-2000)}${p.stdout().slice(-2000)}`)
    if (Date.now() > deadline) throw new Error(`${what} did not start: ${p.stderr().slice(-2000)}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** A loopback TCP port that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as AddressInfo).port
      srv.close(() => resolvePort(port))
    })
  })
}

/** The sum of the latest offsets of partitions 0..partitions-1. */
export async function endOffsets(address: string, topic: string, partitions: number): Promise<number> {
  return (await endOffsetsEach(address, topic, partitions)).reduce((n, x) => n + x, 0)
}

/** The latest offset of each of partitions 0..partitions-1. */
export async function endOffsetsEach(address: string, topic: string, partitions: number): Promise<number[]> {
  const admin = new Admin({ 'bootstrap.servers': address })
  try {
    const r = await admin.listOffsets(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, spec: 'latest' as const })))
    const out = new Array<number>(partitions).fill(0)
    for (const x of r) out[x.partition] = x.offset
    return out
  } finally {
    await admin.close()
  }
}

export async function createTopics(address: string, names: string[], partitions: number) {
  const admin = new Admin({ 'bootstrap.servers': address })
  await admin.createTopics(names.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })))
  await admin.close()
}

/** A file of `count` lines of `size` 'x' bytes (kcat -P -l input). */
export function writeLines(file: string, count: number, size: number): Promise<void> {
  const line = Buffer.alloc(size + 1, 'x')
  line[size] = 10
  const chunk = Buffer.concat(Array.from({ length: 1000 }, () => line))
  return new Promise((resolveWrite, reject) => {
    const ws = createWriteStream(file)
    ws.on('error', reject)
    let left = count
    const write = () => {
      while (left > 0) {
        const n = Math.min(1000, left)
        left -= n
        if (!ws.write(n === 1000 ? chunk : chunk.subarray(0, n * (size + 1)))) return void ws.once('drain', write)
      }
      ws.end(() => resolveWrite())
    }
    write()
  })
}

export const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })

/** Runs a load phase, sampling the broker's RSS; returns its CPU seconds and peak RSS. */
export async function phase<T>(broker: Proc, fn: () => Promise<T>): Promise<{ result: T; cpu: number; peak: number }> {
  const before = procStats(broker.pid)
  let peak = before.rss
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, procStats(broker.pid).rss)
    } catch {
      // the broker exited; reported by the caller
    }
  }, 100)
  try {
    const result = await fn()
    return { result, cpu: procStats(broker.pid).cpu - before.cpu, peak }
  } finally {
    clearInterval(sampler)
  }
}

/** `kcat -P -l file` (acks=1, linger.ms=5); throws unless the topic then holds exactly `count` records. */
export async function kcatProduce(address: string, topic: string, file: string, count: number, partitions: number): Promise<number> {
  const t0 = now()
  const p = start('kcat', ['-P', '-b', address, '-t', topic, '-X', 'acks=1', '-X', 'linger.ms=5', '-X', 'batch.num.messages=10000', '-X', 'queue.buffering.max.messages=2000000', '-X', 'queue.buffering.max.kbytes=1048576', '-l', file])
  const code = await p.exited
  const ms = now() - t0
  if (code !== 0) throw new Error(`kcat -P exited ${code}: ${p.stderr().slice(-2000)}`)
  const end = await endOffsets(address, topic, partitions)
  if (end !== count) throw new Error(`kcat -P: the topic holds ${end} records, ${count} were produced`)
  return ms
}

/** Whether `kcat` runs on this machine. */
export async function haveKcat(): Promise<boolean> {
  return (await start('kcat', ['-V']).exited.catch(() => 1)) === 0
}

/**
 * The child side of a peerlog-producer load: `count` records of `size` bytes to `topic`
 * (acks=1, linger.ms=5); its result as one JSON line: { ms, count, failed }.
 */
export async function childProduce(address: string, topic: string, count: number, size: number): Promise<void> {
  const producer = new Producer({ 'bootstrap.servers': address, acks: '1', 'linger.ms': 5, 'batch.size': 1 << 20, 'buffer.memory': 256 << 20, 'max.in.flight.requests.per.connection': 5 })
  await producer.partitionsFor(topic)
  const value = new Uint8Array(size).fill(120)
  const t0 = now()
  let failed = 0
  let pending: Promise<unknown>[] = []
  for (let i = 0; i < count; i++) {
    pending.push(producer.send({ topic, value }).catch(() => void failed++))
    if (pending.length >= 50_000) {
      await Promise.all(pending)
      pending = []
    }
  }
  await Promise.all(pending)
  await producer.flush()
  const ms = now() - t0
  await producer.close()
  process.stdout.write(JSON.stringify({ ms, count, failed }) + '\n')
}

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[]
  samples: number[]
  timeDeltas: number[]
}

/** Top self-time functions of a .cpuprofile (idle and program time shown apart). */
export function printProfile(prof: CpuProfile, under: string) {
  const byId = new Map(prof.nodes.map((n) => [n.id, n]))
  const self = new Map<string, number>()
  let total = 0
  for (let i = 0; i < prof.samples.length; i++) {
    const n = byId.get(prof.samples[i]!)!
    const dt = prof.timeDeltas[i] ?? 0
    total += dt
    const cf = n.callFrame
    const name = `${cf.functionName || '(anonymous)'} ${cf.url ? `${cf.url.split('/').slice(-1)[0]}:${cf.lineNumber + 1}` : ''}`.trim()
    self.set(name, (self.get(name) ?? 0) + dt)
  }
  console.log('')
  console.log(`broker CPU profile under ${under} (${fmt(total / 1000)} ms sampled), top self time:`)
  for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${fmt((100 * us) / total, 1).padStart(5)}%  ${name}`)
}
