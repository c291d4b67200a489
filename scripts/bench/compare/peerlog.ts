/**
 * peerlog in the comparison: the broker from the bundle (dist/peerlog.mjs) on Node, Bun or
 * Deno, its own client (src/client) as the Node client, kcat (librdkafka) as the native one.
 *
 * Durability: acks=1 with the default flush policy (no fsync of its own; the OS writes the
 * page cache back), or acks=1 with an fsync after every appended batch (the topic config
 * flush.messages=1). The group workload is a group of peerlog consumers (subscribe, range
 * assignor), each committing what it read after every poll (commitAsync), so that the group
 * remembers its progress as the peers' server-side cursors do.
 */
import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync, readSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Admin } from '../../../src/client/admin.ts'
import { Consumer } from '../../../src/client/consumer.ts'
import { Producer } from '../../../src/client/producer.ts'
import { consoleLogger } from '../../../src/runtime/logger.ts'
import { endOffsets, kcatProduce, now, root, startBrokerProcess, start } from '../harness.ts'
import { Latencies, steadyRate } from './latency.ts'
import { latencyRecord, mix, readSeq, SEQ_DIGITS, Tally, Window, sendAll } from './records.ts'
import { serverStopper } from './system.ts'
import type { ConsumeArgs, ConsumeResult, GroupArgs, GroupControl, GroupResult, LatencyConsumeArgs, LatencyProduceArgs, LatencyResult, LoadGenerator, ProduceArgs, ProduceResult, Running, SystemDriver, Variant } from './system.ts'

/** Sends a producer may have unacknowledged (records; the producer batches them). */
const produceInFlightMax = 5_000
/** kcat -C's output file is read back in pieces of this many bytes. */
const readBackChunkBytes = 4 << 20

const producerConfig = { acks: '1', 'linger.ms': 5, 'batch.size': 1 << 20, 'buffer.memory': 256 << 20, 'max.in.flight.requests.per.connection': 5 } as const
const consumerConfig = { 'auto.offset.reset': 'earliest', 'max.poll.records': 100_000, 'fetch.max.bytes': 50 << 20, 'max.partition.fetch.bytes': 8 << 20 } as const

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version
}

async function runtimeVersion(v: Variant): Promise<string> {
  switch (v.runtime ?? 'node') {
    case 'node':
      return `Node ${process.version}`
    case 'bun': {
      const p = start(join(root, 'node_modules', '.bin', 'bun'), ['--version'])
      await p.exited
      return `Bun ${p.stdout().trim()}`
    }
    case 'deno': {
      const p = start(join(root, 'node_modules', '.bin', 'deno'), ['--version'])
      await p.exited
      return p.stdout().split('\n')[0]!.split(' (')[0]!.replace('deno', 'Deno')
    }
  }
}

export const peerlogDriver: SystemDriver = {
  id: 'peerlog',
  clientVersion: () => `peerlog client ${packageVersion()}`,
  settings: {
    produce: `peerlog Producer acks=1, linger.ms=${producerConfig['linger.ms']}, batch.size=1 MiB, max.in.flight=5, ≤ ${produceInFlightMax.toLocaleString('en-US')} sends unacknowledged`,
    consume: `peerlog Consumer assign() on every partition, max.poll.records=100000, fetch.max.bytes=50 MiB, max.partition.fetch.bytes=8 MiB`,
    group: 'peerlog Consumer subscribe() (range assignor), same fetch settings, commitAsync() after every poll',
    latency: 'peerlog Producer acks=1, linger.ms=0; Consumer assign(), fetch.max.wait.ms=500',
  },
  async start(variant, dir, port, opts = {}) {
    const proc = await startBrokerProcess(dir, 'peerlog', port, opts.runtimeArgs ?? [], [], variant.runtime ?? 'node')
    const address = `127.0.0.1:${port}`
    const version = `peerlog ${packageVersion()} on ${await runtimeVersion(variant)}`
    const admin = () => new Admin({ 'bootstrap.servers': address })
    const running: Running = {
      variant,
      proc,
      address,
      version,
      async create(stream, partitions) {
        const a = admin()
        try {
          await a.createTopics([{ topic: stream, numPartitions: partitions, replicationFactor: 1, configs: variant.fsyncPerBatch ? { 'flush.messages': '1' } : {} }])
        } finally {
          await a.close()
        }
      },
      stored: (stream, partitions) => endOffsets(address, stream, partitions),
      async drop(stream) {
        const a = admin()
        try {
          await a.deleteTopics([stream])
        } finally {
          await a.close()
        }
      },
      async prepareGroup() {
        // A Kafka group forms when its members join.
      },
      nativeProduce: {
        tool: 'kcat',
        sequenced: true,
        settings: 'kcat -P -l FILE, acks=1, linger.ms=5, batch.num.messages=10000',
        async run(stream, partitions, count, _size, lines) {
          const file = await lines()
          // Throws unless the topic then holds `count` records.
          return { ms: await kcatProduce(address, stream, file, count, partitions) }
        },
      },
      nativeConsume: (stream) => kcatConsume(address, stream, dir),
      stop: serverStopper(proc),
    }
    return running
  },
}

/**
 * `kcat -C -e` from the beginning, its output (one record per line) to a file, read back
 * afterwards for the count and checksum, so that checking costs nothing while it is timed.
 */
async function kcatConsume(address: string, topic: string, dir: string): Promise<{ ms: number; count: number; sum: number }> {
  const file = join(dir, `kcat-consume-${topic}.out`)
  const fd = openSync(file, 'w')
  const t0 = now()
  // librdkafka's default fetch sizes (as bench:broker); a short fetch.wait.max.ms so that -e
  // does not sit out a long poll at the end of the log.
  const child = spawn('kcat', ['-C', '-b', address, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%s\n', '-X', 'fetch.wait.max.ms=10'], { cwd: root, stdio: ['ignore', fd, 'pipe'] })
  let err = ''
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()))
  const code = await new Promise<number | null>((r) => child.on('close', r))
  const ms = now() - t0
  closeSync(fd)
  if (code !== 0) throw new Error(`kcat -C exited ${code}: ${err.slice(-2000)}`)
  let got = 0
  let sum = 0
  const rd = openSync(file, 'r')
  try {
    const buf = Buffer.allocUnsafe(readBackChunkBytes)
    let carry = 0
    for (;;) {
      const n = readSync(rd, buf, carry, buf.length - carry, null)
      const end = carry + n
      let start = 0
      for (let nl = buf.indexOf(10, start); nl !== -1 && nl < end; nl = buf.indexOf(10, start)) {
        if (nl - start >= SEQ_DIGITS) sum = (sum + mix(readSeq(buf.subarray(start)))) >>> 0
        got++
        start = nl + 1
      }
      if (n === 0) break
      buf.copy(buf, 0, start, end)
      carry = end - start
    }
  } finally {
    closeSync(rd)
    rmSync(file, { force: true })
  }
  return { ms, count: got, sum }
}

// ---------------------------------------------------------------------------------------------
// The load generator (child processes).

export const peerlogLoad: LoadGenerator = {
  async produce(a: ProduceArgs): Promise<ProduceResult> {
    const producer = new Producer({ 'bootstrap.servers': a.address, ...producerConfig })
    await producer.partitionsFor(a.stream)
    const { records, ms } = await sendAll(a, produceInFlightMax, (value) => producer.send({ topic: a.stream, value }), () => producer.flush())
    await producer.close()
    const cpu = process.cpuUsage()
    return { records, ms, cpu: (cpu.user + cpu.system) / 1e6 }
  },

  async consume(a: ConsumeArgs): Promise<ConsumeResult> {
    const consumer = new Consumer({ 'bootstrap.servers': a.address, ...consumerConfig })
    const tps = Array.from({ length: a.partitions }, (_, partition) => ({ topic: a.stream, partition }))
    consumer.assign(tps)
    for (const tp of tps) await consumer.position(tp)
    const tally = new Tally(a.size)
    const t0 = now()
    let lastProgress = t0
    while (tally.count < a.count && now() - lastProgress < a.idleMaxMs) {
      const rs = await consumer.poll(1_000)
      const t = now()
      if (rs.length > 0) lastProgress = t
      for (const r of rs) tally.add(r.value, t)
    }
    await consumer.close()
    return { count: tally.count, sum: tally.sum, badLength: tally.badLength, ms: tally.lastAt - t0 }
  },

  async groupMember(a: GroupArgs, ctl: GroupControl): Promise<GroupResult> {
    // Its membership events (joins and why, assignments) go to stderr, which the parent shows
    // when a trial fails (a rebalance while reading).
    const consumer = new Consumer({ 'bootstrap.servers': a.address, ...consumerConfig, 'group.id': a.group, 'enable.auto.commit': false, 'partition.assignment.strategy': 'range' }, { logger: consoleLogger('info', `member ${a.member}`) })
    let go = false
    void ctl.go.then(() => {
      go = true
      consumer.resume(consumer.assignment())
    })
    // Paused until go, so that no member starts before the group is Stable and all start at once.
    consumer.subscribe([a.stream], { onPartitionsAssigned: (tps) => (go ? undefined : consumer.pause(tps)) })
    const tally = new Tally(a.size)
    let goAt = 0
    let reported = ''
    let generation = -1
    while (!ctl.stopped()) {
      if (now() > ctl.deadline) throw new Error('the group member did not finish in time')
      const rs = await consumer.poll(go ? 200 : 10)
      if (go && goAt === 0) goAt = now()
      const t = now()
      for (const r of rs) tally.add(r.value, t)
      if (rs.length > 0) {
        consumer.commitAsync()
        ctl.progress(tally.count)
        // The generation the records were read in: once every record is read the parent stops
        // the members one by one, and a member still polling then takes part in the
        // rebalance the first one's LeaveGroup starts — not a rebalance while reading.
        generation = consumer.groupMetadata().generationId
      }
      if (!go) {
        generation = consumer.groupMetadata().generationId
        const assigned = consumer.assignment().map((tp) => tp.partition).sort((x, y) => x - y)
        const key = `${generation}:${assigned.join(',')}`
        if (assigned.length > 0 && key !== reported) {
          for (const partition of assigned) await consumer.position({ topic: a.stream, partition })
          reported = key
          ctl.ready({ generation, partitions: assigned })
        }
      }
    }
    await consumer.close()
    return { count: tally.count, sum: tally.sum, badLength: tally.badLength, goAt, lastAt: tally.lastAt, generation }
  },

  async latencyProduce(a: LatencyProduceArgs) {
    const producer = new Producer({ 'bootstrap.servers': a.address, acks: '1', 'linger.ms': 0 })
    await producer.partitionsFor(a.stream)
    const w = new Window(Number.MAX_SAFE_INTEGER)
    const sent = await steadyRate(a.rate, a.seconds, (seq) => w.track(producer.send({ topic: a.stream, value: latencyRecord(seq, now()) })))
    await producer.flush()
    await w.drain()
    await producer.close()
    return sent
  },

  async latencyConsume(a: LatencyConsumeArgs, ready: () => void): Promise<LatencyResult> {
    // From the start of the (empty) topic, so that no record can be missed.
    const consumer = new Consumer({ 'bootstrap.servers': a.address, 'auto.offset.reset': 'earliest', 'fetch.max.wait.ms': 500 })
    const tps = Array.from({ length: a.partitions }, (_, partition) => ({ topic: a.stream, partition }))
    consumer.assign(tps)
    for (const tp of tps) await consumer.position(tp)
    ready()
    const lat = new Latencies()
    let lastProgress = now()
    while (lat.count < a.count && now() - lastProgress < a.idleMaxMs) {
      const rs = await consumer.poll(1_000)
      const t = now()
      if (rs.length > 0) lastProgress = t
      for (const r of rs) lat.add(r.value!, t)
    }
    await consumer.close()
    return lat.result()
  },
}
