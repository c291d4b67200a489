/**
 * `npm run bench:peer` — the peer protocol (src/protocol/peer) against its transports' own
 * ceilings, side by side in one run: each figure the median of `TRIALS`, a trial being
 * `SLICES` turns of the ceiling and the measured link alternating (who goes first swapping),
 * so that both see the same machine, which other work shares.
 *
 * Four links, each with both of its ends in this one process (a figure is the CPU of both ends
 * on one event loop, which is what the ratios compare):
 *   - raw TCP: a node:net socket pair (NODELAY) speaking a minimal length-prefixed protocol,
 *     [u32 length][payload], each payload answered by an 8-byte ack — the ceiling of
 *   - TCP transport + PeerConnection: TcpTransport streams, authenticated; the payload is a
 *     `ping` request's data, the ack its response's;
 *   - raw hyperswarm: the same minimal protocol over a hyperswarm (Noise over UDX) stream, on
 *     hyperdht's local testnet on 127.0.0.1 (never the public DHT) — the ceiling of
 *   - hyperswarm + PeerConnection.
 * Measured: round trip p50/p99, one request at a time (16 B, and a batch-sized 64 KiB, each
 * answered by 8 bytes); bulk throughput one way of 64 KiB and 1 MiB messages, the sender
 * keeping `windowFor(size)` unacknowledged (a replica fetching batches does likewise), so the
 * receiver's acks and the links' backpressure pace it.
 *
 * Verified before a figure is printed: each payload carries its sequence number at both ends;
 * the receiver checks order and length, and every `contentCheckEvery`-th payload's contents in
 * full; the sender checks each ack (sequence number, length); after each trial the receiver's
 * message and byte counts must equal the sender's.
 *
 * Options: --quick (smaller volumes), --only tcp|hyperswarm. To profile a reduced run:
 * `node --cpu-prof --cpu-prof-dir=DIR scripts/run-ts.mjs scripts/bench/peer.ts --quick --only tcp`.
 */
import { Buffer } from 'node:buffer'
import net from 'node:net'
import os from 'node:os'
import createTestnet from 'hyperdht/testnet.js'
import { deriveAuthKey } from '../../src/protocol/peer/auth.ts'
import { PeerConnection } from '../../src/protocol/peer/peer-connection.ts'
import { HyperswarmTransport } from '../../src/transport/hyperswarm-transport.ts'
import { TcpTransport } from '../../src/transport/tcp-transport.ts'
import { clusterTopic } from '../../src/transport/topic.ts'
import type { PeerStream, StreamInfo } from '../../src/transport/transport.ts'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const onlyArg = args.indexOf('--only')
const only = onlyArg >= 0 ? args[onlyArg + 1] : undefined
if (only !== undefined && only !== 'tcp' && only !== 'hyperswarm') throw new Error(`--only tcp|hyperswarm, not ${only}`)

const TRIALS = 3
/** Turns each link takes within a trial. */
const SLICES = 4
const KiB = 1024
const MiB = 1024 * 1024
const MB = 1e6
const RTT_SIZES = [16, 64 * KiB]
const BULK_SIZES = [64 * KiB, MiB]
const roundTripsMax = quick ? 1_000 : 5_000
const roundTripTrialMaxMs = 5_000
const bulkVolumeBytes = quick ? 128 * MiB : 1024 * MiB
const bulkTrialMaxMs = quick ? 2_000 : 8_000
const warmUpRoundTrips = 1_000
const warmUpBulkBytes = 64 * MiB
/** Unacknowledged bytes a bulk sender keeps at most (and at most 64 messages, PeerConnection's default bound). */
const bulkWindowBytes = 8 * MiB
const bulkWindowMessagesMax = 64
const contentCheckEvery = 16
/** A payload below this is written with its header as one chunk (the raw protocol's small-write path). */
const rawCopyBelowBytes = 16 * KiB
const discoveryWaitMaxMs = 30_000
const closeWaitMaxMs = 10_000
/** The whole run; past it the process exits with an error rather than hang. */
const runMaxMs = quick ? 5 * 60_000 : 15 * 60_000
const STAMP = 0x5bd1e995

const windowFor = (size: number): number => Math.max(1, Math.min(bulkWindowMessagesMax, Math.floor(bulkWindowBytes / size)))

const watchdog = setTimeout(() => {
  console.error(`bench:peer: not done within ${runMaxMs} ms; giving up`)
  process.exit(1)
}, runMaxMs)
watchdog.unref()

// ------------------------------------------------------------------ payloads and their checks

/** The bytes every payload is made of (the first `size` of them), its ends stamped per message. */
const template = Buffer.alloc(MiB)
for (let i = 0; i < template.length; i++) template[i] = (i * 31 + 7) & 0xff

/** `count` distinct payloads of `size` bytes: a payload is not restamped while a write may still hold it. */
function payloadPool(size: number, count: number): Buffer[] {
  return Array.from({ length: count }, () => Buffer.from(template.subarray(0, size)))
}

function stamp(payload: Buffer, seq: number): void {
  payload.writeUInt32BE(seq, 0)
  payload.writeUInt32BE((seq ^ STAMP) >>> 0, payload.length - 4)
}

const u32 = (b: Uint8Array, at: number): number => ((b[at]! << 24) >>> 0) + (b[at + 1]! << 16) + (b[at + 2]! << 8) + b[at + 3]!

/** The receiving end: checks what arrives, counts it, and makes the ack. */
class Receiver {
  messages = 0
  bytes = 0
  private nextSeq = 0

  take(payload: Uint8Array): Uint8Array {
    const n = payload.byteLength
    const seq = u32(payload, 0)
    if (n < 8 || seq !== this.nextSeq || u32(payload, n - 4) !== (seq ^ STAMP) >>> 0) {
      throw new Error(`payload ${this.nextSeq} arrived wrong: ${n} bytes, stamped ${n >= 8 ? `${seq}/${u32(payload, n - 4)}` : '-'}`)
    }
    if (seq % contentCheckEvery === 0 && Buffer.compare(payload.subarray(4, n - 4), template.subarray(4, n - 4)) !== 0) {
      throw new Error(`payload ${seq} (${n} bytes): its contents differ from what was sent`)
    }
    this.nextSeq++
    this.messages++
    this.bytes += n
    const ack = Buffer.allocUnsafe(8)
    ack.writeUInt32BE(seq, 0)
    ack.writeUInt32BE(n, 4)
    return ack
  }
}

function checkAck(ack: Uint8Array, seq: number, size: number): void {
  if (ack.byteLength !== 8 || u32(ack, 0) !== seq || u32(ack, 4) !== size) {
    throw new Error(`the ack of payload ${seq} (${size} bytes) is wrong: ${Buffer.from(ack).toString('hex')}`)
  }
}

// ------------------------------------------------------------------ links

interface Link {
  name: string
  /** Sends one payload; resolves with its ack. */
  call(payload: Buffer): Promise<Uint8Array>
  receiver: Receiver
  /** Sequence number of the next payload. */
  seq: number
  close(): void
}

/** Length-prefixed frames out of a byte stream: a view when a frame lies in one chunk, else one copy. */
class RawFrames {
  private chunks: Buffer[] = []
  private buffered = 0
  push(chunk: Uint8Array): void {
    this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
    this.buffered += chunk.byteLength
  }
  next(): Buffer | null {
    if (this.buffered < 4) return null
    let head = this.chunks[0]!
    if (head.length < 4) head = this.join(4)
    const n = head.readUInt32BE(0)
    if (this.buffered < 4 + n) return null
    if (head.length < 4 + n) head = this.join(4 + n)
    const frame = head.subarray(4, 4 + n)
    if (head.length === 4 + n) this.chunks.shift()
    else this.chunks[0] = head.subarray(4 + n)
    this.buffered -= 4 + n
    return frame
  }
  /** Makes the first chunk at least `bytes` long, copying the chunks it takes once. */
  private join(bytes: number): Buffer {
    let have = 0
    let i = 0
    while (have < bytes) have += this.chunks[i++]!.length
    const joined = Buffer.concat(this.chunks.slice(0, i), have)
    this.chunks.splice(0, i, joined)
    return joined
  }
}

function writeRaw(stream: PeerStream & { cork?: () => void; uncork?: () => void }, payload: Uint8Array): void {
  if (payload.byteLength < rawCopyBelowBytes) {
    const frame = Buffer.allocUnsafe(4 + payload.byteLength)
    frame.writeUInt32BE(payload.byteLength, 0)
    frame.set(payload, 4)
    stream.write(frame)
    return
  }
  const header = Buffer.allocUnsafe(4)
  header.writeUInt32BE(payload.byteLength, 0)
  stream.cork?.()
  stream.write(header)
  stream.write(payload)
  stream.uncork?.()
}

/** The minimal protocol: the server end acks each payload in order; the client matches acks FIFO. */
function rawLink(name: string, client: PeerStream, server: PeerStream): Link {
  const receiver = new Receiver()
  const inbound = new RawFrames()
  server.on('data', (chunk) => {
    inbound.push(chunk)
    try {
      for (let f = inbound.next(); f !== null; f = inbound.next()) writeRaw(server, receiver.take(f))
    } catch (e) {
      server.destroy(e as Error)
    }
  })
  server.on('error', () => {})
  const waiting: { resolve: (ack: Uint8Array) => void; reject: (e: Error) => void }[] = []
  let closed: Error | null = null
  const acks = new RawFrames()
  client.on('data', (chunk) => {
    acks.push(chunk)
    for (let f = acks.next(); f !== null; f = acks.next()) waiting.shift()?.resolve(f)
  })
  client.on('error', (e) => (closed ??= e))
  client.on('close', () => {
    closed ??= new Error(`${name}: the stream closed`)
    for (const w of waiting.splice(0)) w.reject(closed)
  })
  return {
    name,
    receiver,
    seq: 0,
    call(payload) {
      if (closed !== null) return Promise.reject(closed)
      writeRaw(client, payload)
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }))
    },
    close: () => (client.destroy(), server.destroy()),
  }
}

const authKey = deriveAuthKey(new TextEncoder().encode('bench:peer secret'))
const linkOptions = (nodeId: number) => ({ nodeId, clusterName: 'bench', authKey })

/** PeerConnection on both ends of a stream pair: the payload a ping request's data, the ack the response's. */
async function peerLink(name: string, client: { stream: PeerStream; info: StreamInfo }, server: { stream: PeerStream; info: StreamInfo }): Promise<Link> {
  const receiver = new Receiver()
  const [a, b] = await bounded(
    Promise.all([PeerConnection.establish(client.stream, client.info, linkOptions(1)), PeerConnection.establish(server.stream, server.info, linkOptions(2))]),
    discoveryWaitMaxMs,
    `${name}: the handshake`,
  )
  b.start({ onMessage() {}, onRequest: (body) => ({ kind: 'ping', data: receiver.take(body.data) }) })
  a.start({
    onMessage() {},
    onRequest() {
      throw new Error('the sending end takes no requests')
    },
  })
  return {
    name,
    receiver,
    seq: 0,
    call: (payload) => a.request({ kind: 'ping', data: payload }).then((r) => r.data),
    close: () => (a.close(), b.close()),
  }
}

function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms)))
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
}

async function waitFor(what: string, done: () => boolean, ms = discoveryWaitMaxMs): Promise<void> {
  const deadline = performance.now() + ms
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`gave up waiting for ${what} after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

// ------------------------------------------------------------------ setting up the four links

async function tcpLinks(cleanup: (() => Promise<unknown>)[]): Promise<[Link, Link]> {
  // raw: plain node:net
  const accepted: net.Socket[] = []
  const server = net.createServer((s) => {
    s.setNoDelay(true)
    accepted.push(s)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  cleanup.push(() => new Promise((r) => server.close(r)))
  const socket = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', noDelay: true })
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  await waitFor('the raw TCP accept', () => accepted.length === 1)
  const raw = rawLink('raw socket', socket, accepted[0]!)

  // the TCP transport
  const listener = new TcpTransport()
  const dialer = new TcpTransport()
  cleanup.push(() => listener.close(), () => dialer.close())
  let inbound: { stream: PeerStream; info: StreamInfo } | null = null
  await listener.listen((stream, info) => (inbound ??= { stream, info }))
  const outbound = await dialer.connect(listener.address()!)
  await waitFor('the TCP transport accept', () => inbound !== null)
  const peer = await peerLink('TCP transport + PeerConnection', outbound, inbound!)
  return [raw, peer]
}

interface SwarmEnd {
  transport: HyperswarmTransport
  streams: { stream: PeerStream; info: StreamInfo }[]
}

async function swarmPair(testnet: { createNode(): unknown }, secret: string, cleanup: (() => Promise<unknown>)[]): Promise<[SwarmEnd, SwarmEnd]> {
  const topic = clusterTopic(secret)
  const ends: SwarmEnd[] = []
  for (let i = 0; i < 2; i++) {
    const end: SwarmEnd = { transport: new HyperswarmTransport({ topic, dht: testnet.createNode() }), streams: [] }
    cleanup.push(() => end.transport.close())
    await end.transport.listen((stream, info) => {
      end.streams.push({ stream, info })
      stream.on('close', () => {
        const at = end.streams.findIndex((s) => s.stream === stream)
        if (at >= 0) end.streams.splice(at, 1)
      })
    })
    ends.push(end)
  }
  const live = () => ends.every((e) => e.streams.length === 1 && !e.streams[0]!.stream.destroyed)
  await waitFor(`the hyperswarm pair ${secret} to connect`, live)
  // hyperswarm may dial both ways at first and drop one: take the stream that stays.
  await new Promise((r) => setTimeout(r, 500))
  await waitFor(`the hyperswarm pair ${secret} to settle on one stream`, live)
  return [ends[0]!, ends[1]!]
}

async function swarmLinks(cleanup: (() => Promise<unknown>)[]): Promise<[Link, Link]> {
  const testnet = (await createTestnet(3, { host: '127.0.0.1' })) as { createNode(): unknown; destroy(): Promise<void> }
  cleanup.push(() => testnet.destroy())
  const [r1, r2] = await swarmPair(testnet, 'bench:peer raw', cleanup)
  const raw = rawLink('raw hyperswarm stream', r1.streams[0]!.stream, r2.streams[0]!.stream)
  const [p1, p2] = await swarmPair(testnet, 'bench:peer links', cleanup)
  const peer = await peerLink('hyperswarm + PeerConnection', p1.streams[0]!, p2.streams[0]!)
  return [raw, peer]
}

// ------------------------------------------------------------------ the measurements

/** Round trips one at a time; their times in µs. */
async function roundTrips(link: Link, size: number, count: number, maxMs: number): Promise<Float64Array> {
  const pool = payloadPool(size, 2)
  const times = new Float64Array(count)
  const t0 = performance.now()
  let n = 0
  const before = link.receiver.messages
  for (; n < count && performance.now() - t0 < maxMs; n++) {
    const seq = link.seq++
    const p = pool[n & 1]!
    stamp(p, seq)
    const start = performance.now()
    const ack = await bounded(link.call(p), roundTripTrialMaxMs, `${link.name}: a round trip`)
    times[n] = (performance.now() - start) * 1000
    checkAck(ack, seq, size)
  }
  if (link.receiver.messages - before !== n) throw new Error(`${link.name}: ${n} round trips, the receiver counted ${link.receiver.messages - before}`)
  return times.subarray(0, n)
}

interface BulkResult {
  messages: number
  bytes: number
  ms: number
}

/** Payloads of `size` one way, `windowFor(size)` unacknowledged at most, until the volume is sent or the trial's time is up. */
function bulk(link: Link, size: number, volumeBytes: number, maxMs: number): Promise<BulkResult> {
  const window = windowFor(size)
  const pool = payloadPool(size, 2 * window + 2)
  const count = Math.max(1, Math.floor(volumeBytes / size))
  const before = { messages: link.receiver.messages, bytes: link.receiver.bytes }
  const run = new Promise<BulkResult>((resolve, reject) => {
    let sent = 0
    let acked = 0
    let failed = false
    const t0 = performance.now()
    const pump = (): void => {
      while (!failed && sent - acked < window && sent < count && performance.now() - t0 < maxMs) {
        const seq = link.seq++
        const p = pool[sent % pool.length]!
        stamp(p, seq)
        sent++
        link.call(p).then(
          (ack) => {
            try {
              checkAck(ack, seq, size)
            } catch (e) {
              failed = true
              reject(e)
              return
            }
            acked++
            pump()
          },
          (e: Error) => {
            failed = true
            reject(e)
          },
        )
      }
      if (!failed && acked === sent) resolve({ messages: acked, bytes: acked * size, ms: performance.now() - t0 })
    }
    pump()
  })
  return bounded(run, maxMs + 30_000, `${link.name}: bulk ${size} B`).then((r) => {
    const got = { messages: link.receiver.messages - before.messages, bytes: link.receiver.bytes - before.bytes }
    if (got.messages !== r.messages || got.bytes !== r.bytes) {
      throw new Error(`${link.name}: sent ${r.messages} messages (${r.bytes} B), the receiver counted ${got.messages} (${got.bytes} B)`)
    }
    return r
  })
}

// ------------------------------------------------------------------ figures

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!
}

const fmt = (n: number, d = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
const pct = (a: number, b: number): string => `${fmt((100 * a) / b)}%`
const sizeName = (n: number): string => (n >= MiB ? `${n / MiB} MiB` : n >= KiB ? `${n / KiB} KiB` : `${n} B`)

/** Per link and scenario, one figure per trial. */
type Figures = Map<string, { p50: number[]; p99: number[]; mbs: number[]; messages: number; bytes: number }>

function record(figures: Figures, key: string): { p50: number[]; p99: number[]; mbs: number[]; messages: number; bytes: number } {
  let f = figures.get(key)
  if (f === undefined) figures.set(key, (f = { p50: [], p99: [], mbs: [], messages: 0, bytes: 0 }))
  return f
}

async function main(): Promise<void> {
  const cpus = os.cpus()
  console.log(`peerlog bench:peer — ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${cpus.length} cores (${cpus[0]?.model ?? '?'}), load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  console.log(
    `${quick ? 'quick run' : 'full run'}; median of ${TRIALS} trials, each ${SLICES} turns of the ceiling and the link alternating; both ends of every link in this process; ` +
      `round trips: up to ${fmt(roundTripsMax)} per trial; bulk: ${bulkVolumeBytes / MiB} MiB per trial (at most ${bulkTrialMaxMs / 1000} s), ` +
      `${BULK_SIZES.map((s) => `${sizeName(s)} × ${windowFor(s)}`).join(', ')} unacknowledged; hyperswarm on hyperdht's local testnet (127.0.0.1)`,
  )

  const cleanup: (() => Promise<unknown>)[] = []
  const groups: { transport: string; raw: Link; peer: Link }[] = []
  try {
    if (only !== 'hyperswarm') {
      const [raw, peer] = await tcpLinks(cleanup)
      groups.push({ transport: 'TCP', raw, peer })
    }
    if (only !== 'tcp') {
      const [raw, peer] = await swarmLinks(cleanup)
      groups.push({ transport: 'hyperswarm', raw, peer })
    }

    // Warm-up (not counted): the JIT, the streams' buffers.
    for (const g of groups) {
      for (const link of [g.raw, g.peer]) {
        for (const size of RTT_SIZES) await roundTrips(link, size, warmUpRoundTrips, roundTripTrialMaxMs)
        for (const size of BULK_SIZES) await bulk(link, size, warmUpBulkBytes, bulkTrialMaxMs)
      }
    }

    const figures: Figures = new Map()
    for (let trial = 0; trial < TRIALS; trial++) {
      for (const g of groups) {
        // A trial is `SLICES` turns of each link, alternating (and swapping who goes first), so
        // that the two see the same machine even when other work comes and goes within a trial.
        const order = (slice: number) => ((trial + slice) % 2 === 0 ? [g.raw, g.peer] : [g.peer, g.raw])
        for (const size of RTT_SIZES) {
          const times = new Map<Link, Float64Array[]>([[g.raw, []], [g.peer, []]])
          for (let slice = 0; slice < SLICES; slice++) {
            for (const link of order(slice)) times.get(link)!.push(await roundTrips(link, size, roundTripsMax / SLICES, roundTripTrialMaxMs / SLICES))
          }
          for (const [link, parts] of times) {
            const all = Float64Array.from(parts.flatMap((p) => Array.from(p))).sort()
            const f = record(figures, `${link.name}|rtt ${size}`)
            f.p50.push(quantile(all, 0.5))
            f.p99.push(quantile(all, 0.99))
            f.messages += all.length
          }
        }
        for (const size of BULK_SIZES) {
          const sum = new Map<Link, BulkResult>([[g.raw, { messages: 0, bytes: 0, ms: 0 }], [g.peer, { messages: 0, bytes: 0, ms: 0 }]])
          for (let slice = 0; slice < SLICES; slice++) {
            for (const link of order(slice)) {
              const r = await bulk(link, size, bulkVolumeBytes / SLICES, bulkTrialMaxMs / SLICES)
              const t = sum.get(link)!
              t.messages += r.messages
              t.bytes += r.bytes
              t.ms += r.ms
            }
          }
          for (const [link, t] of sum) {
            const f = record(figures, `${link.name}|bulk ${size}`)
            f.mbs.push(t.bytes / MB / (t.ms / 1000))
            f.messages += t.messages
            f.bytes += t.bytes
          }
        }
      }
    }
    report(groups, figures)
  } finally {
    for (const g of groups) {
      g.raw.close()
      g.peer.close()
    }
    for (const c of cleanup.reverse()) await bounded(c(), closeWaitMaxMs, 'closing').catch((e: Error) => console.error(`bench:peer: ${e.message}`))
  }
}

function report(groups: { transport: string; raw: Link; peer: Link }[], figures: Figures): void {
  const get = (link: Link, what: string) => figures.get(`${link.name}|${what}`)!
  const spread = (xs: number[]) => `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`
  const col = 34
  for (const g of groups) {
    console.log('')
    console.log(`${g.transport.padEnd(24)}${g.raw.name.padEnd(col)}${g.peer.name.padEnd(col)}link / ceiling`)
    for (const size of RTT_SIZES) {
      const r = get(g.raw, `rtt ${size}`)
      const p = get(g.peer, `rtt ${size}`)
      const cell = (f: typeof r) => `p50 ${fmt(median(f.p50))} / p99 ${fmt(median(f.p99))} µs`
      console.log(`${`round trip ${sizeName(size)}`.padEnd(24)}${cell(r).padEnd(col)}${cell(p).padEnd(col)}p50 ×${fmt(median(p.p50) / median(r.p50), 2)}, p99 ×${fmt(median(p.p99) / median(r.p99), 2)}`)
    }
    for (const size of BULK_SIZES) {
      const r = get(g.raw, `bulk ${size}`)
      const p = get(g.peer, `bulk ${size}`)
      const cell = (f: typeof r) => `${fmt(median(f.mbs))} MB/s (${spread(f.mbs)})`
      console.log(`${`bulk ${sizeName(size)}, one way`.padEnd(24)}${cell(r).padEnd(col)}${cell(p).padEnd(col)}${pct(median(p.mbs), median(r.mbs))}`)
    }
  }
  let messages = 0
  let bytes = 0
  for (const f of figures.values()) {
    messages += f.messages
    bytes += f.bytes
  }
  console.log(`\nverified: ${fmt(messages)} payloads (${fmt(bytes / MiB)} MiB of bulk) arrived in order and whole, every ${contentCheckEvery}th compared byte for byte, every ack matched; load average now ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`)

  const check = (ok: boolean) => (ok ? 'met' : 'MISSED')
  const parts: string[] = []
  const tcp = groups.find((g) => g.transport === 'TCP')
  if (tcp !== undefined) {
    const ratio = median(get(tcp.peer, `bulk ${MiB}`).mbs) / median(get(tcp.raw, `bulk ${MiB}`).mbs)
    const p99 = median(get(tcp.peer, `rtt ${RTT_SIZES[0]}`).p99) / 1000
    parts.push(`TCP transport 1 MiB ${pct(ratio, 1)} of the raw socket (target ≥ 70%: ${check(ratio >= 0.7)})`)
    parts.push(`TCP round trip p99 ${fmt(p99, 3)} ms (≤ 1 ms: ${check(p99 <= 1)})`)
  }
  const swarm = groups.find((g) => g.transport === 'hyperswarm')
  if (swarm !== undefined) {
    const ratio = median(get(swarm.peer, `bulk ${MiB}`).mbs) / median(get(swarm.raw, `bulk ${MiB}`).mbs)
    parts.push(`hyperswarm 1 MiB ${pct(ratio, 1)} of the raw stream (target ≥ 80%: ${check(ratio >= 0.8)})`)
  }
  console.log(`summary: ${parts.join('; ')}`)
}

await main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`bench:peer failed: ${e.stack ?? e.message}`)
    process.exit(1)
  },
)
