/**
 * CRC-32C throughput: one 1 MiB buffer checksummed repeatedly; five samples of
 * ~200 ms each after a warm-up (so ~1 s of measuring), median reported in MB/s
 * (10^6 bytes per second). Run directly to print the figure:
 *
 *   node --experimental-strip-types scripts/bench/crc32c.ts   (Node >= 22.6)
 *   deno run -A scripts/bench/crc32c.ts
 *   bun scripts/bench/crc32c.ts
 */
import { crc32c } from '../../src/record/crc32c.ts'

export interface CrcBenchResult {
  mbPerSec: number
  /** The five samples, sorted, in MB/s. */
  samples: number[]
  bytes: number
}

export interface CrcBenchOptions {
  /** Buffer size in bytes (default 1 MiB). */
  size?: number
  /** Length of each of the five samples in ms (default 200). */
  sampleMs?: number
}

export function benchCrc32c(options: CrcBenchOptions = {}): CrcBenchResult {
  const size = options.size ?? 1 << 20
  const sampleMs = options.sampleMs ?? 200
  const buf = new Uint8Array(size)
  // Fixed pseudo-random content: the table lookups then hit all entries, as real data does.
  let x = 0x9e3779b9
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    buf[i] = x & 0xff
  }
  let sink = 0
  const warmUntil = performance.now() + sampleMs
  while (performance.now() < warmUntil) sink ^= crc32c(buf)
  const samples: number[] = []
  for (let s = 0; s < 5; s++) {
    const t0 = performance.now()
    let n = 0
    let t1 = t0
    do {
      sink ^= crc32c(buf)
      n++
      t1 = performance.now()
    } while (t1 - t0 < sampleMs)
    samples.push((n * size) / 1e6 / ((t1 - t0) / 1000))
  }
  samples.sort((a, b) => a - b)
  // Keeps the JIT from discarding the loop.
  if (sink === 0.5) console.log(sink)
  return { mbPerSec: samples[2]!, samples, bytes: size }
}

function runtimeName(): string {
  const g = globalThis as { Deno?: unknown; Bun?: unknown }
  return g.Deno !== undefined ? 'deno' : g.Bun !== undefined ? 'bun' : 'node'
}

function isMain(): boolean {
  const meta = import.meta as ImportMeta & { main?: boolean }
  if (typeof meta.main === 'boolean') return meta.main
  const entry = process.argv[1]
  return entry !== undefined && import.meta.url.endsWith(entry.replace(/\\/g, '/'))
}

if (isMain()) {
  const r = benchCrc32c()
  console.log(`crc32c ${runtimeName()}: ${r.mbPerSec.toFixed(0)} MB/s (samples ${r.samples.map((s) => s.toFixed(0)).join(', ')})`)
}
