/**
 * What the interop tests share: finding the third-party clients (and skipping, or failing in
 * CI, when one is missing), running a client process bounded in time, and starting a broker
 * either in this process (startBroker) or from the bundle under node, deno or bun.
 *
 * Every child process here is spawned asynchronously: an in-process broker shares this
 * event loop, so a spawnSync would block the broker the child talks to.
 */
import type { Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createServer, connect } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startBroker, type RunningBroker } from '../../src/broker/start-broker.ts'
import type { BrokerConfig } from '../../src/broker/broker-config.ts'

export const root = fileURLToPath(new URL('../../', import.meta.url))
/** Debian's own interpreter: the only one that sees python3-confluent-kafka and python3-kafka. */
export const PYTHON = '/usr/bin/python3'
export const bin = (name: string) => join(root, 'node_modules', '.bin', name)

type Tap = Test

function works(cmd: string, args: string[]): boolean {
  try {
    const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 20_000 })
    return r.status === 0
  } catch {
    return false
  }
}

const cache = new Map<string, boolean>()
const probe = (key: string, cmd: string, args: string[]) => {
  if (!cache.has(key)) cache.set(key, works(cmd, args))
  return cache.get(key)!
}

export const tools = {
  kcat: () => probe('kcat', 'kcat', ['-V']),
  confluentKafka: () => probe('confluent_kafka', PYTHON, ['-c', 'import confluent_kafka']),
  kafkaPython: () => probe('kafka', PYTHON, ['-c', 'import kafka']),
  deno: () => probe('deno', bin('deno'), ['--version']),
  bun: () => probe('bun', bin('bun'), ['--version']),
}

/**
 * True when the tool is there. Otherwise: in CI (process.env.CI) the test fails, since .ci/run
 * installs it; on a developer machine it is skipped with the way to get it.
 */
export function requireTool(t: Tap, name: keyof typeof tools, install: string): boolean {
  if (tools[name]()) return true
  const message = `${name} is not available (${install})`
  if (process.env.CI) t.fail(`${message}: CI must run this test`)
  else t.plan(0, `${message}; skipped outside CI`)
  return false
}

export const APT_HINT = 'apt-get install kcat python3-confluent-kafka python3-kafka, as .ci/run does'

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: Buffer
  stderr: string
  timedOut: boolean
  ms: number
}

export interface RunOptions {
  input?: Buffer | string
  timeoutMs: number
  env?: NodeJS.ProcessEnv
  cwd?: string
}

/** Runs a process to its end, killing it (SIGKILL) after timeoutMs. Never rejects for a non-zero exit. */
export function run(cmd: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd ?? root, env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let err = ''
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, options.timeoutMs)
    child.stdout.on('data', (c: Buffer) => out.push(c))
    child.stderr.on('data', (c: Buffer) => (err += c.toString()))
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err, timedOut, ms: Date.now() - started })
    })
    child.stdin.on('error', () => {})
    if (options.input !== undefined) child.stdin.end(options.input)
    else child.stdin.end()
  })
}

/** A one-line description of a failed run, for assertion messages. */
export function describeRun(what: string, r: RunResult): string {
  const how = r.timedOut ? 'timed out (killed)' : r.signal ? `killed by ${r.signal}` : `exited ${r.code}`
  return `${what} ${how} after ${r.ms} ms${r.stderr ? `; stderr: ${r.stderr.slice(-2000)}` : ''}`
}

const testdirs = new WeakMap<object, string>()
/**
 * A fresh directory `name` inside the test's directory. (tap's t.testdir() empties the
 * directory on every call, so it is called once per test here and the rest are subdirectories.)
 */
export function scratch(t: Tap, name: string): string {
  let dir = testdirs.get(t)
  if (dir === undefined) testdirs.set(t, (dir = t.testdir()))
  const sub = join(dir, name)
  mkdirSync(sub, { recursive: true })
  return sub
}

let brokers = 0
/** A broker in this process, on a free loopback port, in the test's directory; stopped at teardown. */
export async function inProcessBroker(t: Tap, config: Partial<BrokerConfig> = {}): Promise<RunningBroker> {
  const broker = await startBroker({ dataDir: scratch(t, `broker-${++brokers}`), port: 0, host: '127.0.0.1', config })
  t.teardown(() => broker.stop())
  return broker
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      s.close(() => resolve(port))
    })
  })
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

/** The newest modification time under a directory (sources), in ms. */
function newest(dir: string): number {
  let max = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    max = Math.max(max, e.isDirectory() ? newest(p) : statSync(p).mtimeMs)
  }
  return max
}

let bundlePromise: Promise<string> | null = null
/**
 * The CLI bundle: dist/peerlog.mjs when it is there and newer than the sources (CI runs
 * `npm run build` before the tests), else one built now into a temporary directory.
 */
export function cliBundle(t: Tap): Promise<string> {
  return (bundlePromise ??= (async () => {
    const dist = join(root, 'dist', 'peerlog.mjs')
    if (existsSync(dist) && statSync(dist).mtimeMs >= Math.max(newest(join(root, 'src')), newest(join(root, 'actors')))) return dist
    const outdir = mkdtempSync(join(tmpdir(), 'peerlog-bundle-'))
    process.on('exit', () => rmSync(outdir, { recursive: true, force: true }))
    const r = await run(process.execPath, [join(root, 'scripts/build.mjs'), '--outdir', outdir, '--skip-types', '--quiet'], { timeoutMs: 120_000 })
    if (r.code !== 0) throw new Error(describeRun('the build', r))
    t.comment(`dist/peerlog.mjs is missing or older than the sources: built ${outdir}/peerlog.mjs`)
    return join(outdir, 'peerlog.mjs')
  })())
}

export type Runtime = 'node' | 'deno' | 'bun'

export function runtimeCommand(runtime: Runtime, script: string): [string, string[]] {
  if (runtime === 'node') return [process.execPath, [script]]
  if (runtime === 'deno') return [bin('deno'), ['run', '-A', script]]
  return [bin('bun'), [script]]
}

export interface BundleBroker {
  address: string
  port: number
  pid: number
  log(): string
  /** SIGTERM, then SIGKILL after 10 s; resolves to the exit code (null when killed). */
  stop(): Promise<number | null>
}

/**
 * `peerlog broker start` from the bundle under node, deno or bun, as a separate process on a
 * free port; resolves once the port accepts connections. Stopped (SIGTERM) at teardown.
 */
export async function bundleBroker(t: Tap, runtime: Runtime, bundle: string, extra: string[] = [], dataDir = scratch(t, `broker-${runtime}-${++brokers}`)): Promise<BundleBroker> {
  const port = await freePort()
  const [cmd, args] = runtimeCommand(runtime, bundle)
  const child = spawn(cmd, [...args, 'broker', 'start', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, ...extra], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let log = ''
  child.stdout.on('data', (c: Buffer) => (log += c.toString()))
  child.stderr.on('data', (c: Buffer) => (log += c.toString()))
  let exitCode: number | null | undefined
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exitCode = code
      resolve(code)
    }),
  )
  const stop = async () => {
    if (exitCode !== undefined) return exitCode
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    const code = await exited
    clearTimeout(timer)
    return code
  }
  t.teardown(stop)
  const deadline = Date.now() + 30_000
  while (!(await canConnect(port))) {
    if (exitCode !== undefined) throw new Error(`${runtime} broker exited with ${exitCode} before listening:\n${log}`)
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`${runtime} broker did not listen on ${port} within 30 s:\n${log}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  return { address: `127.0.0.1:${port}`, port, pid: child.pid!, log: () => log, stop }
}

/** A long-running client process whose output is read as it comes (a group member, a tail). */
export interface LiveProcess {
  /** Complete stdout lines so far. */
  readonly lines: string[]
  /** Complete stderr lines so far. */
  readonly errors: string[]
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>
  /** Sends the signal (default SIGTERM); SIGKILL leaves no chance to say goodbye (no LeaveGroup). */
  kill(signal?: NodeJS.Signals): void
}

/** Spawns `cmd` and collects its output line by line; killed (SIGKILL) at teardown or after maxMs. */
export function spawnLive(t: Tap, cmd: string, args: readonly string[], options: { maxMs: number; env?: NodeJS.ProcessEnv }): LiveProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env })
  const lines: string[] = []
  const errors: string[] = []
  const collect = (into: string[]) => {
    let rest = ''
    return (chunk: Buffer) => {
      const parts = (rest + chunk.toString('utf8')).split('\n')
      rest = parts.pop()!
      into.push(...parts)
    }
  }
  child.stdout!.on('data', collect(lines))
  child.stderr!.on('data', collect(errors))
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(-1))
    child.once('close', (code) => resolve(code))
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), options.maxMs)
  void exited.then(() => clearTimeout(timer))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  return { lines, errors, exited, kill: (signal = 'SIGTERM') => void child.kill(signal) }
}

/** Polls `check` every intervalMs until it returns a value other than undefined, or fails after timeoutMs with `what`. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}
