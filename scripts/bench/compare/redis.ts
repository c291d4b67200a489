/**
 * Redis Streams in the comparison: `redis-server` (the Debian package) with AOF on,
 * appendfsync everysec, RDB snapshots off; one stream key per workload, each record one
 * entry with one field `v`; ioredis as the Node client (auto-pipelining on), redis-benchmark
 * as the native producer (XADD, pipelined).
 *
 * Workloads: XADD (many in flight); XRANGE in pages from the start; for the group, XREADGROUP
 * with 4 consumers of one group, each acknowledging every page it read with one XACK (sent
 * without waiting, pipelined with its next read); for latency, XADD and a blocking XREAD.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { now, root, start, waitForPort } from '../harness.ts'
import { Latencies, steadyRate } from './latency.ts'
import { constantRecord, latencyRecord, Tally, Window, sendAll } from './records.ts'
import { serverStopper } from './system.ts'
import type { ConsumeArgs, ConsumeResult, GroupArgs, GroupControl, GroupResult, LatencyConsumeArgs, LatencyProduceArgs, LatencyResult, LoadGenerator, ProduceArgs, ProduceResult, Running, SystemDriver } from './system.ts'

/** XADDs a producer may have unanswered. */
const xaddInFlightMax = 1_000
/** Entries per XRANGE / XREADGROUP / XREAD. */
const readPageEntries = 10_000
/** A blocking read waits at most this long (so a reader notices its stop). */
const blockMs = 100
/** redis-benchmark's connections and pipeline depth. */
const benchmarkClients = 50
const benchmarkPipeline = 100

type Entry = [id: Buffer, fields: Buffer[] | null]

function clientPackageVersion(): string {
  return (JSON.parse(readFileSync(join(root, 'node_modules', 'ioredis', 'package.json'), 'utf8')) as { version: string }).version
}

function client(address: string): Redis {
  const i = address.lastIndexOf(':')
  return new Redis({ host: address.slice(0, i), port: Number(address.slice(i + 1)), enableAutoPipelining: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
}

/** A command's Buffer form, untyped: ioredis types XREAD/XREADGROUP by overloads this code does not fit (and `callBuffer` loses its command name under auto-pipelining). */
type Untyped = (...args: (string | number)[]) => Promise<unknown>
const xreadgroup = (r: Redis) => r.xreadgroupBuffer.bind(r) as unknown as Untyped
const xread = (r: Redis) => r.xreadBuffer.bind(r) as unknown as Untyped

/** The value of an entry's field `v` (the only field). */
const valueOf = (e: Entry): Buffer | null => e[1]?.[1] ?? null

export const redisDriver: SystemDriver = {
  id: 'redis',
  clientVersion: () => `ioredis ${clientPackageVersion()}`,
  settings: {
    produce: `ioredis XADD (auto-pipelining), ≤ ${xaddInFlightMax.toLocaleString('en-US')} unanswered`,
    consume: `ioredis XRANGE, ${readPageEntries.toLocaleString('en-US')} entries per call`,
    group: `ioredis XREADGROUP COUNT ${readPageEntries}, one XACK per page read (pipelined with the next read)`,
    latency: `ioredis XADD; XREAD BLOCK ${blockMs} from the last id`,
  },
  async start(variant, dir, port) {
    const proc = start('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--daemonize', 'no', '--logfile', ''])
    await waitForPort(proc, port, 'redis-server')
    const address = `127.0.0.1:${port}`
    const r = client(address)
    const info = String(await r.info('server'))
    const version = `redis-server ${/redis_version:(\S+)/.exec(info)?.[1] ?? '?'}`
    const running: Running = {
      variant,
      proc,
      address,
      version,
      async create(stream) {
        // A stream key exists from its first entry; an existing one would be a leftover.
        if ((await r.exists(stream)) !== 0) throw new Error(`the stream ${stream} exists already`)
      },
      stored: async (stream) => r.xlen(stream),
      async drop(stream) {
        await r.del(stream)
      },
      async prepareGroup(stream, group) {
        await r.xgroup('CREATE', stream, group, '0')
      },
      nativeProduce: {
        tool: 'redis-benchmark',
        sequenced: false,
        settings: `redis-benchmark -c ${benchmarkClients} -P ${benchmarkPipeline} XADD <key> * v <record>`,
        async run(stream, _partitions, count, size) {
          const t0 = now()
          const p = start('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '-c', String(benchmarkClients), '-P', String(benchmarkPipeline), '-n', String(count), '-q', 'XADD', stream, '*', 'v', constantRecord(size)])
          const code = await p.exited
          const ms = now() - t0
          if (code !== 0) throw new Error(`redis-benchmark exited ${code}: ${p.stderr().slice(-2000)}`)
          return { ms }
        },
      },
      stop: serverStopper(proc, () => r.disconnect()),
    }
    return running
  },
}

export const redisLoad: LoadGenerator = {
  async produce(a: ProduceArgs): Promise<ProduceResult> {
    const r = client(a.address)
    const { records, ms } = await sendAll(a, xaddInFlightMax, (record) => r.xadd(a.stream, '*', 'v', record))
    r.disconnect()
    const cpu = process.cpuUsage()
    return { records, ms, cpu: (cpu.user + cpu.system) / 1e6 }
  },

  async consume(a: ConsumeArgs): Promise<ConsumeResult> {
    const r = client(a.address)
    await r.ping()
    const tally = new Tally(a.size)
    const t0 = now()
    let lastProgress = t0
    let from = '-'
    while (tally.count < a.count && now() - lastProgress < a.idleMaxMs) {
      const page = (await r.xrangeBuffer(a.stream, from, '+', 'COUNT', readPageEntries)) as Entry[]
      const t = now()
      if (page.length === 0) {
        await new Promise((res) => setTimeout(res, 10))
        continue
      }
      lastProgress = t
      for (const e of page) tally.add(valueOf(e), t)
      from = `(${page[page.length - 1]![0].toString()}`
    }
    r.disconnect()
    return { count: tally.count, sum: tally.sum, badLength: tally.badLength, ms: tally.lastAt - t0 }
  },

  async groupMember(a: GroupArgs, ctl: GroupControl): Promise<GroupResult> {
    const r = client(a.address)
    await r.ping()
    const tally = new Tally(a.size)
    const acks = new Window(Number.MAX_SAFE_INTEGER)
    ctl.ready({})
    await ctl.go
    const goAt = now()
    const name = `c${a.member}`
    const read = xreadgroup(r)
    while (!ctl.stopped()) {
      if (now() > ctl.deadline) throw new Error('the group member did not finish in time')
      const reply = (await read('GROUP', a.group, name, 'COUNT', readPageEntries, 'BLOCK', blockMs, 'STREAMS', a.stream, '>')) as [Buffer, Entry[]][] | null
      const page = reply?.[0]?.[1] ?? []
      if (page.length === 0) continue
      const t = now()
      for (const e of page) tally.add(valueOf(e), t)
      acks.track(r.xack(a.stream, a.group, ...page.map((e) => e[0])))
      ctl.progress(tally.count)
    }
    await acks.drain()
    r.disconnect()
    return { count: tally.count, sum: tally.sum, badLength: tally.badLength, goAt, lastAt: tally.lastAt }
  },

  async latencyProduce(a: LatencyProduceArgs) {
    const r = client(a.address)
    await r.ping()
    const w = new Window(Number.MAX_SAFE_INTEGER)
    const sent = await steadyRate(a.rate, a.seconds, (seq) => w.track(r.xadd(a.stream, '*', 'v', latencyRecord(seq, now()))))
    await w.drain()
    r.disconnect()
    return sent
  },

  async latencyConsume(a: LatencyConsumeArgs, ready: () => void): Promise<LatencyResult> {
    const r = client(a.address)
    await r.ping()
    const lat = new Latencies()
    // From the start of the (empty) stream, so that no record can be missed.
    let from = '0-0'
    const read = xread(r)
    ready()
    let lastProgress = now()
    while (lat.count < a.count && now() - lastProgress < a.idleMaxMs) {
      const reply = (await read('COUNT', readPageEntries, 'BLOCK', blockMs, 'STREAMS', a.stream, from)) as [Buffer, Entry[]][] | null
      const page = reply?.[0]?.[1] ?? []
      if (page.length === 0) continue
      const t = now()
      lastProgress = t
      for (const e of page) lat.add(valueOf(e)!, t)
      from = page[page.length - 1]![0].toString()
    }
    r.disconnect()
    return lat.result()
  },
}
