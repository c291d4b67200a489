/**
 * The latency workload's two halves, shared by every system's load generator: a sender that
 * keeps a steady rate, and the receiver's tally of latencies (receive time minus the send time
 * the record carries, records.ts), with the count and checksum of what it received.
 */
import { now } from '../harness.ts'
import { mix, percentileSorted, readSentAt, readSeq } from './records.ts'
import type { LatencyResult } from './system.ts'

/**
 * Calls `send(seq)` at a steady `rate` per second for `seconds`: in 1 ms ticks, each catching
 * up to where the rate says the count should be.
 */
export async function steadyRate(rate: number, seconds: number, send: (seq: number) => void): Promise<{ sent: number; ms: number }> {
  const total = Math.round(rate * seconds)
  const t0 = now()
  let sent = 0
  while (sent < total) {
    const due = Math.min(total, Math.floor(((now() - t0) / 1000) * rate))
    for (; sent < due; sent++) send(sent)
    await new Promise((r) => setTimeout(r, 1))
  }
  return { sent, ms: now() - t0 }
}

/** Latencies of received latency records, with their count and checksum. */
export class Latencies {
  private readonly ms: number[] = []
  private sum = 0
  get count() {
    return this.ms.length
  }
  add(v: Uint8Array, at: number) {
    this.ms.push(at - readSentAt(v))
    this.sum = (this.sum + mix(readSeq(v))) >>> 0
  }
  result(): LatencyResult {
    const s = Float64Array.from(this.ms).sort()
    const xs = Array.from(s)
    return { count: xs.length, sum: this.sum, p50: percentileSorted(xs, 0.5), p99: percentileSorted(xs, 0.99), p999: percentileSorted(xs, 0.999), max: xs[xs.length - 1] ?? NaN }
  }
}
