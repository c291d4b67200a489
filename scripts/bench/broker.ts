/**
 * `npm run bench:broker` — a single-node broker under load, from one run on this machine:
 *
 * - producer throughput, acks=1, 100-byte and 1 KiB records: kcat (librdkafka) from a
 *   pre-generated file (`kcat -P -l`, linger.ms=5, batch.num.messages=10000), and peerlog's
 *   own client;
 * - consumer throughput from the beginning of the 100-byte topic: `kcat -C -e` and peerlog's
 *   client (assign, poll);
 * - end-to-end latency p50/p99/p99.9 at a steady 10,000 records/s for a bounded time:
 *   peerlog's producer (acks=1, linger.ms=0) writes its send time into each record, peerlog's
 *   consumer (another process) subtracts it from the time it got the record;
 * - broker RSS idle and under load (VmRSS / VmHWM from /proc), and its CPU time per phase.
 *
 * The broker runs from the bundle (dist/peerlog.mjs, built first if missing) as its own
 * process; every load generator is its own process too (kcat, or this script re-run with
 * `--child`). Every figure is printed only after its count is verified (the topic's end
 * offsets, or the records the consumer counted).
 *
 * Options: --quick (smaller volumes), --profile (also run the kcat 100-byte produce against a
 * broker under `node --cpu-prof` and print its top self-time functions), --dir DIR.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Consumer } from '../../src/client/consumer.ts'
import { Producer } from '../../src/client/producer.ts'
import * as harness from './harness.ts'
import { buildBundle, childProduce, fmt, haveKcat as kcatRuns, now, phase, printProfile, procStats, start, writeLines, type CpuProfile } from './harness.ts'

const args = process.argv.slice(2)

// ---------------------------------------------------------------------------------------------
// Child processes: load generators (this script, re-run with --child).
if (args[0] === '--child') {
  const [, mode, address, topic, ...rest] = args as [string, string, string, string, ...string[]]
  const out = (o: object) => process.stdout.write(JSON.stringify(o) + '\n')
  if (mode === 'produce') {
    const [count, size] = rest.map(Number) as [number, number]
    await childProduce(address, topic, count, size)
  } else if (mode === 'consume') {
    const [partitions, count] = rest.map(Number) as [number, number]
    const consumer = new Consumer({ 'bootstrap.servers': address, 'auto.offset.reset': 'earliest', 'max.poll.records': 100_000, 'fetch.max.bytes': 50 << 20, 'max.partition.fetch.bytes': 8 << 20 })
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })))
    const t0 = now()
    let got = 0
    let bytes = 0
    while (got < count) {
      const rs = await consumer.poll(5_000)
      if (rs.length === 0) break
      got += rs.length
      for (const r of rs) bytes += r.value?.length ?? 0
    }
    const ms = now() - t0
    await consumer.close()
    out({ ms, count: got, bytes })
  } else if (mode === 'e2e-produce') {
    const [rate, seconds] = rest.map(Number) as [number, number]
    const producer = new Producer({ 'bootstrap.servers': address, acks: '1', 'linger.ms': 0 })
    await producer.partitionsFor(topic)
    const total = rate * seconds
    const t0 = now()
    let sent = 0
    let failed = 0
    const pending: Promise<unknown>[] = []
    // Send in 1 ms ticks, each catching up to where the steady rate should be.
    while (sent < total) {
      const due = Math.min(total, Math.floor(((now() - t0) / 1000) * rate))
      for (; sent < due; sent++) {
        const v = new Uint8Array(100)
        new DataView(v.buffer).setFloat64(0, now())
        pending.push(producer.send({ topic, value: v }).catch(() => void failed++))
      }
      await new Promise((r) => setTimeout(r, 1))
    }
    await Promise.all(pending)
    await producer.close()
    out({ sent, failed, ms: now() - t0 })
  } else if (mode === 'e2e-consume') {
    const [partitions, count] = rest.map(Number) as [number, number]
    const consumer = new Consumer({ 'bootstrap.servers': address, 'auto.offset.reset': 'latest', 'fetch.max.wait.ms': 500 })
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })))
    for (let p = 0; p < partitions; p++) await consumer.position({ topic, partition: p })
    process.stdout.write('ready\n')
    const lat: number[] = []
    let idle = 0
    while (lat.length < count && idle < 10) {
      const rs = await consumer.poll(1_000)
      const t = now()
      idle = rs.length === 0 ? idle + 1 : 0
      for (const r of rs) lat.push(t - new DataView(r.value!.buffer, r.value!.byteOffset).getFloat64(0))
    }
    await consumer.close()
    lat.sort((a, b) => a - b)
    const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN
    out({ count: lat.length, p50: q(0.5), p99: q(0.99), p999: q(0.999), max: lat[lat.length - 1] ?? NaN })
  }
  process.exit(0)
}

// ---------------------------------------------------------------------------------------------
// The parent.
const quick = args.includes('--quick')
const profile = args.includes('--profile')
const dirArg = args.indexOf('--dir')
const base = mkdtempSync(join(dirArg >= 0 ? args[dirArg + 1]! : tmpdir(), 'peerlog-bench-broker-'))
process.on('exit', () => rmSync(base, { recursive: true, force: true }))
const N100 = quick ? 200_000 : 1_000_000
const N1K = quick ? 50_000 : 300_000
const NCLIENT100 = quick ? 100_000 : 500_000
const NCLIENT1K = quick ? 30_000 : 150_000
const E2E_RATE = 10_000
const E2E_SECONDS = quick ? 5 : 15
const PARTITIONS = 3
const self = fileURLToPath(import.meta.url)

const runChild = <T>(what: string, argv: string[], timeoutMs?: number) => harness.runChild<T>(self, what, argv, timeoutMs)
const startBrokerProcess = (name: string, port: number, nodeArgs: string[] = []) => harness.startBrokerProcess(base, name, port, nodeArgs)
const endOffsets = (address: string, topic: string, partitions = PARTITIONS) => harness.endOffsets(address, topic, partitions)
const createTopics = (address: string, names: string[]) => harness.createTopics(address, names, PARTITIONS)
const kcatProduce = (address: string, topic: string, file: string, count: number) => harness.kcatProduce(address, topic, file, count, PARTITIONS)

interface Row {
  what: string
  records: number
  ms: number
  bytes: number
  brokerCpu?: number
  brokerHwm?: number
}
const rows: Row[] = []

async function main() {
  // The bundle of the sources as they are now.
  await buildBundle()
  const haveKcat = await kcatRuns()
  console.log(`peerlog bench:broker — node ${process.version}, ${(await import('node:os')).cpus().length} CPUs; ${quick ? 'quick run' : 'full run'}; topics of ${PARTITIONS} partitions; broker: node dist/peerlog.mjs (its own process)`)

  const port = 19_000 + Math.floor(Math.random() * 20_000)
  const address = `127.0.0.1:${port}`
  const broker = await startBrokerProcess('main', port)
  await new Promise((r) => setTimeout(r, 2_000))
  const idle = procStats(broker.pid)
  await createTopics(address, ['kcat-100', 'kcat-1k', 'client-100', 'client-1k', 'e2e'])

  // Producers.
  if (haveKcat) {
    for (const [topic, count, size] of [['kcat-100', N100, 100], ['kcat-1k', N1K, 1024]] as const) {
      const file = join(base, `${topic}.txt`)
      await writeLines(file, count, size)
      const { result: ms, cpu, peak } = await phase(broker, () => kcatProduce(address, topic, file, count))
      rows.push({ what: `produce ${size === 100 ? '100 B' : '1 KiB'}, kcat (librdkafka)`, records: count, ms, bytes: count * size, brokerCpu: cpu, brokerHwm: peak })
      rmSync(file)
    }
  } else console.log('kcat not found: its rows are skipped (apt-get install kcat)')
  for (const [topic, count, size] of [['client-100', NCLIENT100, 100], ['client-1k', NCLIENT1K, 1024]] as const) {
    const { result, cpu, peak } = await phase(broker, () => runChild<{ ms: number; count: number; failed: number }>('peerlog producer', ['produce', address, topic, String(count), String(size)]))
    const end = await endOffsets(address, topic)
    if (result.failed || end !== count) throw new Error(`peerlog producer: ${result.failed} failed sends; the topic holds ${end} of ${count}`)
    rows.push({ what: `produce ${size === 100 ? '100 B' : '1 KiB'}, peerlog client`, records: count, ms: result.ms, bytes: count * size, brokerCpu: cpu, brokerHwm: peak })
  }

  // Consumers, from the beginning of the 100-byte topic.
  const source = haveKcat ? 'kcat-100' : 'client-100'
  const sourceCount = haveKcat ? N100 : NCLIENT100
  if (haveKcat) {
    const { result, cpu, peak } = await phase(broker, async () => {
      const t0 = now()
      // librdkafka's default fetch sizes (larger ones made it slower and erratic here); a short
      // fetch.wait.max.ms so that -e does not sit out a 500 ms long poll at the end of the log.
      const p = start('kcat', ['-C', '-b', address, '-t', source, '-o', 'beginning', '-e', '-q', '-f', '%o\n', '-X', 'fetch.wait.max.ms=10'], { countLines: true })
      const code = await p.exited
      if (code !== 0) throw new Error(`kcat -C exited ${code}: ${p.stderr()}`)
      return { ms: now() - t0, count: p.lines() }
    })
    if (result.count !== sourceCount) throw new Error(`kcat -C read ${result.count} of ${sourceCount}`)
    rows.push({ what: 'consume 100 B, kcat -C -e', records: result.count, ms: result.ms, bytes: result.count * 100, brokerCpu: cpu, brokerHwm: peak })
  }
  {
    const { result, cpu, peak } = await phase(broker, () => runChild<{ ms: number; count: number; bytes: number }>('peerlog consumer', ['consume', address, source, String(PARTITIONS), String(sourceCount)]))
    if (result.count !== sourceCount) throw new Error(`peerlog consumer read ${result.count} of ${sourceCount}`)
    rows.push({ what: 'consume 100 B, peerlog client', records: result.count, ms: result.ms, bytes: result.bytes, brokerCpu: cpu, brokerHwm: peak })
  }

  // End-to-end latency at a steady rate.
  const e2eCount = E2E_RATE * E2E_SECONDS
  const consumer = start(process.execPath, [self, '--child', 'e2e-consume', address, 'e2e', String(PARTITIONS), String(e2eCount)])
  while (!consumer.stdout().includes('ready')) {
    if ((await Promise.race([consumer.exited, new Promise((r) => setTimeout(() => r('wait'), 50))])) !== 'wait') throw new Error(`e2e consumer: ${consumer.stderr()}`)
  }
  const { result: e2eProduced, cpu: e2eCpu, peak: e2ePeak } = await phase(broker, () => runChild<{ sent: number; failed: number; ms: number }>('e2e producer', ['e2e-produce', address, 'e2e', String(E2E_RATE), String(E2E_SECONDS)]))
  await consumer.exited
  const e2e = JSON.parse(consumer.stdout().trim().split('\n').pop()!) as { count: number; p50: number; p99: number; p999: number; max: number }
  if (e2eProduced.failed || e2e.count !== e2eCount) throw new Error(`e2e: ${e2eProduced.failed} failed sends; consumed ${e2e.count} of ${e2eCount}`)
  const loaded = procStats(broker.pid)

  // The table.
  console.log('')
  console.log(['phase'.padEnd(36), 'records'.padStart(11), 'seconds'.padStart(8), 'records/s'.padStart(11), 'MB/s'.padStart(8), 'broker CPU s'.padStart(13), 'broker RSS MB'.padStart(14)].join(' '))
  for (const r of rows) {
    const s = r.ms / 1000
    console.log([r.what.padEnd(36), fmt(r.records).padStart(11), fmt(s, 2).padStart(8), fmt(r.records / s).padStart(11), fmt(r.bytes / s / 1e6, 1).padStart(8), fmt(r.brokerCpu ?? NaN, 2).padStart(13), fmt(r.brokerHwm ?? NaN).padStart(14)].join(' '))
  }
  console.log(`${'e2e latency, 10,000 records/s'.padEnd(36)} ${fmt(e2e.count).padStart(11)} ${fmt(e2eProduced.ms / 1000, 2).padStart(8)}   p50 ${fmt(e2e.p50, 2)} ms, p99 ${fmt(e2e.p99, 2)} ms, p99.9 ${fmt(e2e.p999, 2)} ms, max ${fmt(e2e.max, 1)} ms; broker CPU ${fmt(e2eCpu, 2)} s, RSS ${fmt(e2ePeak)} MB`)
  console.log(`broker RSS: idle ${fmt(idle.rss, 1)} MB; under load peak (VmHWM) ${fmt(loaded.hwm, 1)} MB; now ${fmt(loaded.rss, 1)} MB`)

  const in100 = rows.filter((r) => r.what.startsWith('produce 100 B')).reduce((m, r) => Math.max(m, r.records / (r.ms / 1000)), 0)
  const out100 = rows.filter((r) => r.what.startsWith('consume')).reduce((m, r) => Math.max(m, r.records / (r.ms / 1000)), 0)
  const check = (ok: boolean) => (ok ? 'met' : 'MISSED')
  console.log('')
  console.log(
    `summary: produce 100 B ${fmt(in100)} rec/s (target ≥ 400,000: ${check(in100 >= 400_000)}); consume ${fmt(out100)} rec/s (≥ 600,000: ${check(out100 >= 600_000)}); ` +
      `e2e p99 ${fmt(e2e.p99, 2)} ms at 10,000 rec/s (≤ 5 ms: ${check(e2e.p99 <= 5)}); idle RSS ${fmt(idle.rss, 1)} MB (≤ 80 MB: ${check(idle.rss <= 80)})`,
  )

  broker.kill('SIGTERM')
  await broker.exited

  if (profile && haveKcat) {
    const profDir = join(base, 'prof')
    const p2 = port + 1
    const b2 = await startBrokerProcess('prof', p2, ['--cpu-prof', '--cpu-prof-dir', profDir])
    await createTopics(`127.0.0.1:${p2}`, ['prof'])
    const file = join(base, 'prof.txt')
    await writeLines(file, N100, 100)
    await kcatProduce(`127.0.0.1:${p2}`, 'prof', file, N100)
    b2.kill('SIGTERM')
    await b2.exited
    const f = readdirSync(profDir).find((x) => x.endsWith('.cpuprofile'))
    if (!f) throw new Error('no CPU profile written')
    printProfile(JSON.parse(readFileSync(join(profDir, f), 'utf8')) as CpuProfile, 'the kcat 100 B produce load')
  }
}

await main().catch((e: Error) => {
  console.error(`bench:broker failed: ${e.message}`)
  process.exitCode = 1
})
