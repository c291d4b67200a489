/**
 * The workload interface every compared system implements, in two halves:
 *
 * - `SystemDriver` (the parent process): starts the system's server on loopback in a temp
 *   directory, creates, counts and drops streams (a peerlog topic, a JetStream stream, a Redis
 *   stream key), prepares a consumer group, runs its native tools, and stops the server.
 * - `LoadGenerator` (a child process, compare/load.ts): the system's Node client producing,
 *   consuming, consuming as one member of a group, and the two ends of the latency workload.
 *
 * Every result that counts records also carries their checksum (records.ts), so that the
 * parent can check that what was produced is what was consumed before it prints a figure.
 * Every wait is bounded: a producer by `maxMs`, a consumer by `idleMaxMs` without progress,
 * a group member by the parent's deadline.
 */
import type { Proc } from '../harness.ts'

/** A server gets this long to exit after SIGTERM before SIGKILL. */
const serverStopMaxMs = 10_000

/**
 * The `stop` of a Running: closes the harness's own connection (`disconnect`), then SIGTERM,
 * SIGKILL after `serverStopMaxMs`; resolves once the process exited. Idempotent.
 */
export function serverStopper(proc: Proc, disconnect: () => unknown = () => undefined): () => Promise<void> {
  let stopped: Promise<void> | null = null
  return () =>
    (stopped ??= (async () => {
      await disconnect()
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), serverStopMaxMs)
      await proc.exited
      clearTimeout(timer)
    })())
}

export type SystemId = 'peerlog' | 'jetstream' | 'redis'
export type Runtime = 'node' | 'bun' | 'deno'

/** One configuration of a system under test (a bar in the chart). */
export interface Variant {
  /** Unique, short: 'peerlog-node', 'peerlog-node-fsync', 'jetstream', 'redis'. */
  key: string
  system: SystemId
  /** As shown: 'peerlog (Node)', 'NATS JetStream'. */
  label: string
  /** peerlog only: the runtime that runs the bundle. */
  runtime?: Runtime
  /** peerlog only: fsync after every appended batch (topic config flush.messages=1). */
  fsyncPerBatch?: boolean
  /** The durability setting, as stated next to the figures. */
  durability: string
}

/** A server the parent started. */
export interface Running {
  variant: Variant
  proc: Proc
  /** host:port */
  address: string
  /** The server's version, as it reports it. */
  version: string
  /** Creates an empty stream (peerlog: a topic of `partitions` partitions). */
  create(stream: string, partitions: number): Promise<void>
  /** How many records the server says the stream holds. */
  stored(stream: string, partitions: number): Promise<number>
  /** Deletes the stream and its data. */
  drop(stream: string): Promise<void>
  /** Makes the group `group` on `stream`, reading from its start (JetStream: a durable pull consumer; Redis: XGROUP CREATE). */
  prepareGroup(stream: string, group: string): Promise<void>
  /** The fastest native producer here, if there is one; `file` holds one record per line. */
  nativeProduce?: NativeProduce
  /** The fastest native consumer here, if there is one: reads the stream from its start to its end. */
  nativeConsume?: (stream: string) => Promise<{ ms: number; count: number; sum: number }>
  /** Stops the server (SIGTERM, then SIGKILL after a bound); idempotent. */
  stop(): Promise<void>
}

export interface NativeProduce {
  /** As shown: 'kcat', 'redis-benchmark'. */
  tool: string
  /**
   * Produces `count` records of `size` bytes. `file` (made on demand by `lines()`) holds them
   * as lines, sequence-numbered; a tool that cannot read a file writes the constant record
   * (records.ts `constantRecord`), and says so in `sequenced`.
   */
  run(stream: string, partitions: number, count: number, size: number, lines: () => Promise<string>): Promise<{ ms: number }>
  sequenced: boolean
  /** The tool's settings, as stated in the output. */
  settings: string
}

export interface SystemDriver {
  id: SystemId
  /** Starts the server on 127.0.0.1:`port`, its data under `dir`; `runtimeArgs`: peerlog on Node only (--cpu-prof). */
  start(variant: Variant, dir: string, port: number, opts?: { runtimeArgs?: string[] }): Promise<Running>
  /** What the Node client is, with its version (for the output). */
  clientVersion(): string
  /** The client settings of each workload, as stated in the output. */
  settings: { produce: string; consume: string; group: string; latency: string }
}

// ---------------------------------------------------------------------------------------------
// Child side.

export interface ProduceArgs {
  address: string
  stream: string
  size: number
  /** Records 0..n-1 are sent in order until either bound is reached. */
  maxRecords: number
  maxMs: number
}
export interface ProduceResult {
  /** Every one of them acknowledged (a failed send fails the child). */
  records: number
  ms: number
  /** Client CPU seconds. */
  cpu: number
}

export interface ConsumeArgs {
  address: string
  stream: string
  partitions: number
  /** Stops when this many were read, or after `idleMaxMs` without a record. */
  count: number
  size: number
  idleMaxMs: number
}
export interface ConsumeResult {
  count: number
  sum: number
  /** Records whose length was not `size`. */
  badLength: number
  /** From the first read sent to the last record received. */
  ms: number
}

export interface GroupArgs {
  address: string
  stream: string
  group: string
  member: number
  size: number
  /** The member fails after this long. */
  maxMs: number
}
/**
 * The group protocol between the parent and a member: the member calls `ready()` once it can
 * start (peerlog: it holds its assignment, paused), then waits for `go`; while consuming it
 * calls `progress(count)`; it stops when `stopped()` is true and returns its tally.
 */
export interface GroupControl {
  ready(detail: object): void
  go: Promise<void>
  progress(count: number): void
  stopped(): boolean
  deadline: number
}
export interface GroupResult {
  count: number
  sum: number
  badLength: number
  goAt: number
  /** When its last record arrived (0 if none). */
  lastAt: number
  /** peerlog: the generation it consumed in (must not change after go). */
  generation?: number
}

export interface LatencyProduceArgs {
  address: string
  stream: string
  rate: number
  seconds: number
}
export interface LatencyConsumeArgs {
  address: string
  stream: string
  partitions: number
  count: number
  idleMaxMs: number
}
/** Latencies in ms (receive time minus the send time written in the record). */
export interface LatencyResult {
  count: number
  sum: number
  p50: number
  p99: number
  p999: number
  max: number
}

export interface LoadGenerator {
  produce(a: ProduceArgs): Promise<ProduceResult>
  consume(a: ConsumeArgs): Promise<ConsumeResult>
  groupMember(a: GroupArgs, ctl: GroupControl): Promise<GroupResult>
  latencyProduce(a: LatencyProduceArgs): Promise<{ sent: number; ms: number }>
  latencyConsume(a: LatencyConsumeArgs, ready: () => void): Promise<LatencyResult>
}
