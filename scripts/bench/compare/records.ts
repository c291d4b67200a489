/**
 * The records every system carries, and their checksum.
 *
 * A record of `size` bytes is its sequence number as 16 ASCII digits, then 'x' to the size:
 * `0000000000000042xxxx…`. Printable, so kcat can produce it from a file of lines and Redis can
 * hold it as a string. A latency record (100 bytes) also carries its send time, in ms with
 * three decimals, as 20 ASCII characters from byte 16.
 *
 * The checksum of a set of records is the sum, mod 2^32, of a well-mixed hash of each one's
 * sequence number; with the count it shows that each record was read exactly once, in any
 * order (a group's members add theirs). A tool that cannot number its records (redis-benchmark)
 * writes the constant record, sequence number 0, so its checksum is count × mix(0): such a run
 * is checked by its count and each record's length only.
 */
import { createWriteStream } from 'node:fs'
import { now } from '../harness.ts'

export const SEQ_DIGITS = 16
const X = 0x78
const ZERO = 0x30

/** A well-mixed 32-bit hash of a sequence number. */
export function mix(seq: number): number {
  // The constant keeps mix(0) from being 0, which would leave record 0 out of every checksum.
  let h = Math.imul(seq ^ Math.floor(seq / 0x100000000) ^ 0x6a09e667, 0x9e3779b1)
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** The checksum of records 0..count-1. */
export function expectedSum(count: number): number {
  let s = 0
  for (let i = 0; i < count; i++) s = (s + mix(i)) >>> 0
  return s
}

/** The checksum of `count` constant records. */
export function constantSum(count: number): number {
  return Number((BigInt(count) * BigInt(mix(0))) % 0x100000000n)
}

/** Writes record `seq` of `size` bytes into `buf` (which holds 'x' past the digits). */
export function writeSeq(buf: Uint8Array, seq: number): void {
  let n = seq
  for (let i = SEQ_DIGITS - 1; i >= 0; i--) {
    buf[i] = ZERO + (n % 10)
    n = Math.floor(n / 10)
  }
}

/** A fresh record `seq` of `size` bytes. */
export function makeRecord(seq: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size)
  b.fill(X, SEQ_DIGITS)
  writeSeq(b, seq)
  return b
}

/** Record 0 of `size` bytes, as a string (what redis-benchmark writes). */
export function constantRecord(size: number): string {
  return '0'.repeat(SEQ_DIGITS) + 'x'.repeat(size - SEQ_DIGITS)
}

export function readSeq(v: Uint8Array): number {
  let n = 0
  for (let i = 0; i < SEQ_DIGITS; i++) n = n * 10 + (v[i]! - ZERO)
  return n
}

/** A 100-byte latency record: sequence number, then the send time. */
export function latencyRecord(seq: number, sentAtMs: number): Buffer {
  const b = makeRecord(seq, 100)
  b.write(sentAtMs.toFixed(3).padStart(20, '0'), SEQ_DIGITS, 'latin1')
  return b
}

export function readSentAt(v: Uint8Array): number {
  return Number(Buffer.from(v.buffer, v.byteOffset + SEQ_DIGITS, 20).toString('latin1'))
}

/** Counts records and adds up their checksum. */
export class Tally {
  count = 0
  sum = 0
  badLength = 0
  lastAt = 0
  constructor(readonly size: number) {}
  add(v: Uint8Array | null | undefined, at: number): void {
    this.count++
    this.lastAt = at
    if (!v || v.length !== this.size) {
      this.badLength++
      return
    }
    this.sum = (this.sum + mix(readSeq(v))) >>> 0
  }
}

/**
 * Bounds the sends a client has unacknowledged. A producer loop sends while `full` is false
 * and awaits `room()` only when it is true, so that it sends in bursts without yielding
 * between sends (a client that batches per turn of the event loop gets whole bursts);
 * `drain()` resolves once nothing is pending. The first failure is kept and thrown by `room()`,
 * `drain()` and `check()`, so a producer never reports a count that includes a lost record.
 */
export class Window {
  private inFlight = 0
  private waiter: (() => void) | null = null
  private failure: Error | null = null
  constructor(readonly maxInFlight: number) {}
  get full(): boolean {
    return this.inFlight >= this.maxInFlight
  }
  track(p: Promise<unknown>): void {
    this.inFlight++
    p.then(
      () => this.settle(),
      (e: Error) => {
        this.failure ??= e
        this.settle()
      },
    )
  }
  private settle() {
    this.inFlight--
    // Wake the sender at half the window, so that it refills in bulk rather than one by one.
    if (this.waiter && (this.inFlight <= this.maxInFlight >> 1 || this.inFlight === 0)) {
      const w = this.waiter
      this.waiter = null
      w()
    }
  }
  check(): void {
    if (this.failure) throw this.failure
  }
  async room(): Promise<void> {
    while (this.full) await new Promise<void>((r) => (this.waiter = r))
    this.check()
  }
  async drain(): Promise<void> {
    while (this.inFlight > 0) await new Promise<void>((r) => (this.waiter = r))
    this.check()
  }
}

/**
 * The producer loop of workloads 1 and 2, one for every client: sends records 0, 1, … of
 * `size` bytes through `send` until `maxRecords` or `maxMs` (the clock is read every 1,024
 * sends), at most `maxInFlight` unacknowledged; then `flush` (for a client that lingers) and
 * every ack. The time runs from the first send to the last ack; a failed send is thrown.
 */
export async function sendAll(
  a: { size: number; maxRecords: number; maxMs: number },
  maxInFlight: number,
  send: (record: Buffer) => Promise<unknown>,
  flush?: () => Promise<void>,
): Promise<{ records: number; ms: number }> {
  const w = new Window(maxInFlight)
  const t0 = now()
  const deadline = t0 + a.maxMs
  let seq = 0
  while (seq < a.maxRecords && (seq % 1024 !== 0 || now() < deadline)) {
    if (w.full) await w.room()
    w.track(send(makeRecord(seq, a.size)))
    seq++
  }
  await flush?.()
  await w.drain()
  return { records: seq, ms: now() - t0 }
}

/** Writes records 0..count-1 of `size` bytes as lines (kcat -P -l). */
export function writeRecordLines(file: string, count: number, size: number): Promise<void> {
  const perChunk = Math.max(1, Math.floor((1 << 20) / (size + 1)))
  const chunk = Buffer.alloc(perChunk * (size + 1), X)
  for (let i = 0; i < perChunk; i++) chunk[i * (size + 1) + size] = 10
  return new Promise((resolveWrite, reject) => {
    const ws = createWriteStream(file)
    ws.on('error', reject)
    let next = 0
    const write = () => {
      while (next < count) {
        const n = Math.min(perChunk, count - next)
        const c = Buffer.from(chunk.subarray(0, n * (size + 1)))
        for (let i = 0; i < n; i++) writeSeq(c.subarray(i * (size + 1)), next + i)
        next += n
        if (!ws.write(c)) return void ws.once('drain', write)
      }
      ws.end(() => resolveWrite())
    }
    write()
  })
}

/** Nearest-rank percentile of sorted `xs`. */
export function percentileSorted(xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  return xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(p * xs.length) - 1))]!
}
