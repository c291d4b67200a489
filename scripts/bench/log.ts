/**
 * `npm run bench:log` — the partition log against the machine's own ceiling, side by side
 * in one run (each figure the median of `TRIALS`, the ceiling and the log alternating so that
 * both see the same disk and page-cache weather):
 *
 * - append: MB/s and batches/s through PartitionLog.append, for 16 KiB and 1 MiB batches of
 *   100-byte and 1 KiB records, against plain sequential fs.writeSync of the same bytes into
 *   one file. Two log figures: with the log checking each batch's CRC, and with the CRC
 *   already checked upstream (the Kafka listener checks it while parsing a produce request,
 *   so the broker's append path does it once, not twice).
 * - sequential read of the whole log through PartitionLog.read against plain 1 MiB reads of
 *   the same segment files.
 * - random offset lookups (index search + positioning + reading the batch) on 20 segments.
 * - recovery scan speed after an unclean stop, and CRC-32C throughput.
 *
 * Options: --quick (smaller volumes, for a smoke run), --dir DIR (default: the OS temp dir).
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { FsStorage } from '../../src/log/fs-storage.ts'
import { logConfig } from '../../src/log/log-config.ts'
import { LogManager } from '../../src/log/log-manager.ts'
import { PartitionLog } from '../../src/log/partition-log.ts'
import { buildRecordBatch } from '../../src/record/record-batch.ts'
import { systemClock } from '../../src/runtime/clock.ts'
import { benchCrc32c } from './crc32c.ts'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const dirArg = args.indexOf('--dir')
const baseDir = fs.mkdtempSync(path.join(dirArg >= 0 ? args[dirArg + 1]! : os.tmpdir(), 'peerlog-bench-'))
const TRIALS = 3
const VOLUME_BYTES = quick ? 64 << 20 : 512 << 20
const MB = 1e6

const storage = new FsStorage()

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

function spread(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b)
  return `${fmt(s[0]!)}–${fmt(s[s.length - 1]!)}`
}

function fmt(n: number): string {
  return n >= 100 ? n.toFixed(0) : n.toFixed(1)
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9
}

/** One batch of about `batchBytes`, of `recordBytes`-byte values with 8-byte keys. */
function templateBatch(batchBytes: number, recordBytes: number): Uint8Array {
  const value = new Uint8Array(recordBytes)
  for (let i = 0; i < recordBytes; i++) value[i] = (i * 31) & 0xff
  const perRecord = recordBytes + 8 + 12
  const n = Math.max(1, Math.floor((batchBytes - 61) / perRecord))
  const now = Date.now()
  const records = Array.from({ length: n }, (_, i) => ({ key: new TextEncoder().encode(String(i).padStart(8, '0')), value, timestamp: now + i }))
  return buildRecordBatch(records)
}

function ceilingWrite(batch: Uint8Array, count: number): number {
  const file = path.join(baseDir, 'ceiling.bin')
  const fd = fs.openSync(file, 'w')
  const t0 = process.hrtime.bigint()
  let pos = 0
  for (let i = 0; i < count; i++) {
    let done = 0
    while (done < batch.length) done += fs.writeSync(fd, batch, done, batch.length - done, pos + done)
    pos += batch.length
  }
  const s = seconds(t0)
  fs.closeSync(fd)
  fs.rmSync(file)
  return s
}

function openLog(name: string, extra: Parameters<typeof logConfig>[0] = {}): PartitionLog {
  return PartitionLog.open({ storage, dir: path.join(baseDir, name), clock: systemClock, config: logConfig(extra) })
}

function logAppend(batch: Uint8Array, count: number, crcVerified: boolean): number {
  const log = openLog('append-0')
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < count; i++) log.append(batch, { crcVerified })
  const s = seconds(t0)
  log.close()
  log.delete()
  return s
}

interface Row { name: string; ceiling: number[]; logCrc: number[]; logNoCrc: number[]; batches: number; bytes: number }

function benchAppend(batchBytes: number, recordBytes: number): Row {
  const batch = templateBatch(batchBytes, recordBytes)
  const count = Math.max(1, Math.floor(VOLUME_BYTES / batch.length))
  const row: Row = { name: `${batchBytes >= 1 << 20 ? '1 MiB' : '16 KiB'} batches of ${recordBytes >= 1024 ? '1 KiB' : '100 B'} records`, ceiling: [], logCrc: [], logNoCrc: [], batches: count, bytes: count * batch.length }
  for (let trial = 0; trial < TRIALS; trial++) {
    row.ceiling.push(row.bytes / ceilingWrite(batch, count) / MB)
    row.logCrc.push(row.bytes / logAppend(batch, count, false) / MB)
    row.logNoCrc.push(row.bytes / logAppend(batch, count, true) / MB)
  }
  return row
}

function benchRead(): { log: number[]; plain: number[]; bytes: number } {
  const batch = templateBatch(16 << 10, 100)
  const log = openLog('read-0', { 'segment.bytes': 64 << 20 })
  const count = Math.floor(VOLUME_BYTES / batch.length)
  for (let i = 0; i < count; i++) log.append(batch, { crcVerified: true })
  log.flush()
  const files = log.segments.map((s) => s.path('.log'))
  const bytes = log.size
  const out = { log: [] as number[], plain: [] as number[], bytes }
  const buf = Buffer.allocUnsafe(1 << 20)
  for (let trial = 0; trial < TRIALS; trial++) {
    let t0 = process.hrtime.bigint()
    let total = 0
    for (const f of files) {
      const fd = fs.openSync(f, 'r')
      let pos = 0
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, pos)
        if (n === 0) break
        pos += n
        total += n
      }
      fs.closeSync(fd)
    }
    out.plain.push(total / seconds(t0) / MB)
    t0 = process.hrtime.bigint()
    total = 0
    let next = log.logStartOffset
    while (next < log.logEndOffset) {
      const got = log.read(next, 1 << 20, { buffer: buf })
      total += got.records.length
      next = got.nextOffset
    }
    if (total !== bytes) throw new Error(`read ${total} bytes of ${bytes}`)
    out.log.push(total / seconds(t0) / MB)
  }
  log.close()
  log.delete()
  return out
}

function percentiles(times: Float64Array): { p50: number; p99: number; p999: number } {
  times.sort()
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(times.length * q))]!
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999) }
}

/** Random offsets on a 20-segment log: the lookup alone (index search + positioning), and a read of the batch found. */
function benchLookups(): { position: ReturnType<typeof percentiles>; read: ReturnType<typeof percentiles>; segments: number; lookups: number } {
  const batch = templateBatch(16 << 10, 100)
  const segmentBytes = quick ? 2 << 20 : 16 << 20
  const log = openLog('lookup-0', { 'segment.bytes': segmentBytes })
  while (log.segments.length < 20) log.append(batch, { crcVerified: true })
  const leo = log.logEndOffset
  const lookups = quick ? 20_000 : 100_000
  const position = new Float64Array(lookups)
  const read = new Float64Array(lookups)
  const buffer = Buffer.allocUnsafe(64 << 10)
  let seed = 12345
  for (let i = 0; i < lookups; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0
    const offset = seed % leo
    let t0 = process.hrtime.bigint()
    const at = log.offsetMetadata(offset)
    position[i] = Number(process.hrtime.bigint() - t0) / 1000
    t0 = process.hrtime.bigint()
    const got = log.read(offset, 1, { buffer })
    read[i] = Number(process.hrtime.bigint() - t0) / 1000
    if (!at || got.records.length === 0) throw new Error(`lookup of ${offset} found nothing`)
  }
  const segments = log.segments.length
  log.close()
  log.delete()
  return { position: percentiles(position), read: percentiles(read), segments, lookups }
}

function benchRecovery(): { mbPerSec: number[]; bytes: number } {
  const dataDir = path.join(baseDir, 'recovery')
  const manager = LogManager.open({ storage, dataDir, clock: systemClock, defaultConfig: logConfig({ 'segment.bytes': 64 << 20 }) })
  const log = manager.getOrCreate('recover', 0)
  const batch = templateBatch(16 << 10, 100)
  const count = Math.floor(VOLUME_BYTES / 2 / batch.length)
  for (let i = 0; i < count; i++) log.append(batch, { crcVerified: true })
  log.flush()
  const bytes = log.size
  // An unclean stop: no checkpoints, no clean-shutdown marker; every segment is scanned.
  for (const seg of log.segments) seg.close()
  const out: number[] = []
  for (let trial = 0; trial < TRIALS; trial++) {
    const t0 = process.hrtime.bigint()
    const again = LogManager.open({ storage, dataDir, clock: systemClock })
    const s = seconds(t0)
    const recovered = again.get('recover', 0)!
    if (recovered.logEndOffset !== log.logEndOffset) throw new Error('recovery lost data')
    for (const seg of recovered.segments) seg.close()
    out.push(bytes / s / MB)
  }
  return { mbPerSec: out, bytes }
}

function pct(a: number, b: number): string {
  return `${((a / b) * 100).toFixed(0)}%`
}

console.log(`peerlog bench:log — ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? '?'}, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`)
console.log(`data in ${baseDir}; ${VOLUME_BYTES >> 20} MiB per trial, median of ${TRIALS} (range)\n`)

try {
  console.log('append (MB/s)                         ceiling writeSync   log (CRC in log)      log (CRC upstream)    batches/s   vs ceiling (CRC in log / upstream)')
  const rows: Row[] = []
  for (const [batchBytes, recordBytes] of [[16 << 10, 100], [16 << 10, 1024], [1 << 20, 100], [1 << 20, 1024]] as const) {
    const r = benchAppend(batchBytes, recordBytes)
    rows.push(r)
    const c = median(r.ceiling)
    const a = median(r.logCrc)
    const b = median(r.logNoCrc)
    const bps = (b * MB) / (r.bytes / r.batches)
    console.log(`  ${r.name.padEnd(36)}${fmt(c).padStart(7)} (${spread(r.ceiling)})`.padEnd(62) + `${fmt(a).padStart(6)} (${spread(r.logCrc)})`.padEnd(22) + `${fmt(b).padStart(6)} (${spread(r.logNoCrc)})`.padEnd(22) + `${fmt(bps).padStart(9)}   ${pct(a, c)} / ${pct(b, c)}`)
  }

  const read = benchRead()
  console.log(`\nsequential read (MB/s)                plain 1 MiB reads ${fmt(median(read.plain))} (${spread(read.plain)})   PartitionLog.read ${fmt(median(read.log))} (${spread(read.log)})   ${pct(median(read.log), median(read.plain))} of plain, ${(read.bytes / 2 ** 20).toFixed(0)} MiB`)

  const look = benchLookups()
  const us = (p: { p50: number; p99: number; p999: number }) => `p50 ${p.p50.toFixed(1)} µs, p99 ${p.p99.toFixed(1)} µs, p99.9 ${p.p999.toFixed(1)} µs`
  console.log(`random offset lookups                 ${look.lookups} on ${look.segments} segments: index + position ${us(look.position)}; reading the batch found ${us(look.read)}`)

  const rec = benchRecovery()
  console.log(`recovery scan after an unclean stop   ${fmt(median(rec.mbPerSec))} MB/s (${spread(rec.mbPerSec)}), ${(rec.bytes / 2 ** 20).toFixed(0)} MiB checked batch by batch`)

  const crc = benchCrc32c()
  console.log(`CRC-32C                               ${fmt(crc.mbPerSec)} MB/s`)

  const big = rows.filter((r) => r.name.startsWith('1 MiB')).map((r) => median(r.logNoCrc) / median(r.ceiling))
  const small = rows.filter((r) => r.name.startsWith('16 KiB')).map((r) => median(r.logNoCrc) / median(r.ceiling))
  console.log(
    `\nsummary: append ${pct(Math.min(...big), 1)} of ceiling with 1 MiB batches (target ≥ 85%), ${pct(Math.min(...small), 1)} with 16 KiB (target ≥ 60%); ` +
      `read ${pct(median(read.log), median(read.plain))} of plain (target ≥ 85%); lookup p99 ${look.position.p99.toFixed(1)} µs (target ≤ 50 µs), with the batch read ${look.read.p99.toFixed(1)} µs`,
  )
} finally {
  fs.rmSync(baseDir, { recursive: true, force: true })
}
