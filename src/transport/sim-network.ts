/**
 * SimNetwork — an in-memory, seeded network of nodes with per-link faults; `transport(address)`
 * gives a node its Transport. Everything is scheduled on an injected SimClock and every random
 * choice comes from one SeededRandom, so the same seed and the same calls replay the same
 * delivery schedule (compare `traceHash()` of two runs).
 *
 * Model (TCP, as a stopped or cut-off process would see it):
 *   - A stream is two flows, one per direction. A write is copied, cut into segments of at
 *     most `segmentMaxBytes`, and queued in the writer's send buffer (`write` returns false at
 *     `streamHighWaterMarkBytes`; 'drain' when it empties). Segments go onto the wire while the
 *     receiver's window (`receiveWindowBytes`: on the wire + received and not yet read) has
 *     room, so a reader that does not read slows its writer.
 *   - A segment arrives after the link's delay, plus a jitter drawn from the seed, plus the
 *     time the link's bandwidth takes to carry it (shared by the link's streams); never before
 *     the segment written before it on the same stream: delivery within a stream is in order.
 *   - A partition a→b: nothing of a reaches b; segments on the wire fall back into the send
 *     buffer (lost, to be retransmitted) and flow again on heal. Streams stay open, as TCP's do
 *     until someone times out. Connects need both directions: a SYN or its answer that is lost
 *     is retried every `synRetryMs` until `connectTimeoutMs` (ETIMEDOUT). A node that exists
 *     but does not listen answers ECONNREFUSED; an address nobody has times out.
 *   - pause(node) stops the node's process, not its kernel: nothing it writes leaves, it is
 *     told of nothing (data, accepts, connects, 'end', 'close', errors wait); segments already
 *     on the wire still arrive, and connects to it still complete. On resume everything held
 *     is delivered in order and its buffers flow.
 *   - drop(a, b) resets every stream between a and b: both sides get ECONNRESET, then 'close'.
 *   - end() sends a FIN after the data; the other side gets 'end' and ends too (a net.Socket
 *     with allowHalfOpen false); each side gets 'close' once it has both sent and read a FIN.
 *     destroy() discards what was not yet sent and sends a FIN.
 *   - Every event a node's code sees runs from a clock timer, never inside the call that
 *     caused it.
 */
import { EventEmitter } from 'node:events'
import type { Clock } from '../runtime/clock.ts'
import type { TimerHandle, Timers } from '../sim/sim-clock.ts'
import { SeededRandom } from '../sim/random.ts'
import type { PeerStream, StreamInfo, Transport } from './transport.ts'

export interface SimNetworkOptions {
  seed: number
  /** A SimClock, for a run that replays. */
  clock: Clock & Timers
  /** One-way delay of a link with no delay() set. */
  defaultDelayMs?: number
  connectTimeoutMs?: number
  synRetryMs?: number
  streamHighWaterMarkBytes?: number
  receiveWindowBytes?: number
  segmentMaxBytes?: number
  /** trace() keeps the last this many lines; traceHash() covers every line. */
  traceEntriesMax?: number
}

export interface LinkDelay {
  ms: number
  jitterMs?: number
  /** Only a→b (default: both directions). */
  oneWay?: boolean
}

/** A Node-style network error: `code` is ECONNREFUSED, ETIMEDOUT, ECONNRESET, ... */
export interface NetError extends Error {
  code: string
}

export function netError(code: string, message: string): NetError {
  const error = new Error(message) as NetError
  error.code = code
  return error
}

type Segment = { readonly kind: 'data'; readonly bytes: Uint8Array } | { readonly kind: 'fin' }

interface InFlight {
  readonly segment: Segment
  readonly deliverAtMs: number
}

interface Link {
  partitioned: boolean
  delayMs: number
  jitterMs: number
  bytesPerSecond: number | null
  /** When the link has finished sending what was put on it (bandwidth). */
  wireFreeAtMs: number
}

interface SimNode {
  readonly address: string
  paused: boolean
  transport: SimTransport | null
  /** What the node's code was to be told while it was paused, in order. */
  readonly held: (() => void)[]
}

/** One direction of a stream. */
interface Flow {
  readonly id: number
  readonly from: SimNode
  readonly to: SimNode
  readonly sendQueue: Segment[]
  sendQueuedBytes: number
  readonly inFlight: InFlight[]
  inFlightBytes: number
  readonly recvQueue: Segment[]
  recvQueuedBytes: number
  lastDeliverAtMs: number
  timer: TimerHandle | null
  finDelivered: boolean
  /** Reset by drop(): nothing moves any more. */
  broken: boolean
  writer: SimStream | null
  reader: SimStream | null
}

interface ConnectAttempt {
  readonly transport: SimTransport
  readonly from: SimNode
  readonly to: string
  settled: boolean
  timeout: TimerHandle | null
  retry: TimerHandle | null
  readonly resolve: (value: { stream: PeerStream; info: StreamInfo }) => void
  readonly reject: (error: Error) => void
}

const defaults = {
  defaultDelayMs: 1,
  connectTimeoutMs: 10_000,
  synRetryMs: 1_000,
  streamHighWaterMarkBytes: 64 * 1024,
  receiveWindowBytes: 256 * 1024,
  segmentMaxBytes: 64 * 1024,
  traceEntriesMax: 100_000,
}

export class SimNetwork {
  readonly clock: Clock & Timers
  readonly random: SeededRandom
  readonly connectTimeoutMs: number
  readonly synRetryMs: number
  readonly streamHighWaterMarkBytes: number
  readonly receiveWindowBytes: number
  readonly segmentMaxBytes: number
  readonly traceEntriesMax: number
  private readonly defaultDelayMs: number
  private readonly startMs: number
  private readonly nodes = new Map<string, SimNode>()
  private readonly links = new Map<string, Link>()
  /** Flows that may still carry something: from creation until their FIN arrives or drop() breaks them. */
  private readonly flows = new Set<Flow>()
  private nextId = 1
  private readonly traceLines: string[] = []
  private traceCount = 0
  private hashA = 0xdeadbeef
  private hashB = 0x41c6ce57

  constructor(options: SimNetworkOptions) {
    const o = { ...defaults, ...options }
    this.clock = o.clock
    this.random = new SeededRandom(o.seed)
    this.defaultDelayMs = o.defaultDelayMs
    this.connectTimeoutMs = o.connectTimeoutMs
    this.synRetryMs = o.synRetryMs
    this.streamHighWaterMarkBytes = o.streamHighWaterMarkBytes
    this.receiveWindowBytes = o.receiveWindowBytes
    this.segmentMaxBytes = o.segmentMaxBytes
    this.traceEntriesMax = o.traceEntriesMax
    this.startMs = o.clock.now()
    if (!(this.segmentMaxBytes > 0)) throw new Error(`segmentMaxBytes must be > 0 (${this.segmentMaxBytes})`)
  }

  /** The Transport of the node at `address`; a node whose transport was closed may get a new one (a restart). */
  transport(address: string): SimTransport {
    const node = this.node(address)
    if (node.transport !== null && !node.transport.closed) {
      throw new Error(`sim network: ${address} already has an open transport`)
    }
    node.transport = new SimTransport(this, node)
    return node.transport
  }

  // ------------------------------------------------------------------ faults

  partition(a: string, b: string, options: { oneWay?: boolean } = {}): void {
    this.record(`partition ${a} ${options.oneWay ? '->' : '<->'} ${b}`)
    for (const [from, to] of this.directions(a, b, options.oneWay ?? false)) {
      this.link(from, to).partitioned = true
      for (const flow of this.flowsBetween(from, to)) this.retract(flow)
    }
  }

  /** Heals both directions between a and b. */
  heal(a: string, b: string): void {
    this.record(`heal ${a} <-> ${b}`)
    for (const [from, to] of this.directions(a, b, false)) {
      this.link(from, to).partitioned = false
      for (const flow of this.flowsBetween(from, to)) this.pump(flow)
    }
  }

  delay(a: string, b: string, delay: LinkDelay): void {
    if (!(delay.ms >= 0) || !((delay.jitterMs ?? 0) >= 0)) throw new Error(`sim network: bad delay ${JSON.stringify(delay)}`)
    this.record(`delay ${a} ${delay.oneWay ? '->' : '<->'} ${b} ${delay.ms}+${delay.jitterMs ?? 0}ms`)
    for (const [from, to] of this.directions(a, b, delay.oneWay ?? false)) {
      const link = this.link(from, to)
      link.delayMs = delay.ms
      link.jitterMs = delay.jitterMs ?? 0
    }
  }

  /** Caps what the link carries (null: no cap). */
  bandwidth(a: string, b: string, bytesPerSecond: number | null, options: { oneWay?: boolean } = {}): void {
    if (bytesPerSecond !== null && !(bytesPerSecond > 0)) throw new Error(`sim network: bad bandwidth ${bytesPerSecond}`)
    this.record(`bandwidth ${a} ${options.oneWay ? '->' : '<->'} ${b} ${bytesPerSecond ?? 'unlimited'}`)
    for (const [from, to] of this.directions(a, b, options.oneWay ?? false)) {
      this.link(from, to).bytesPerSecond = bytesPerSecond
    }
  }

  /** Resets every stream between a and b (both sides: ECONNRESET, then 'close'). */
  drop(a: string, b: string): void {
    this.record(`drop ${a} <-> ${b}`)
    for (const flow of [...this.flows]) {
      const { from, to } = flow
      if ((from.address === a && to.address === b) || (from.address === b && to.address === a)) {
        this.breakFlow(flow)
        flow.writer?.reset(netError('ECONNRESET', `connection between ${a} and ${b} was reset`))
        flow.reader?.reset(netError('ECONNRESET', `connection between ${a} and ${b} was reset`))
      }
    }
  }

  pause(address: string): void {
    this.record(`pause ${address}`)
    this.node(address).paused = true
  }

  resume(address: string): void {
    const node = this.node(address)
    if (!node.paused) return
    this.record(`resume ${address}`)
    node.paused = false
    for (const fn of node.held.splice(0)) this.post(node, fn)
    for (const flow of [...this.flows]) if (flow.from === node) this.pump(flow)
  }

  // ------------------------------------------------------------------ trace

  /** The last `traceEntriesMax` delivered events and faults, one line each, time relative to the start. */
  trace(): readonly string[] {
    return this.traceLines
  }

  /** A hash of every trace line so far: equal for two runs with the same seed and calls. */
  traceHash(): string {
    return `${(this.hashA >>> 0).toString(16).padStart(8, '0')}${(this.hashB >>> 0).toString(16).padStart(8, '0')}:${this.traceCount}`
  }

  /** @internal */
  record(line: string): void {
    const entry = `${+(this.clock.now() - this.startMs).toFixed(3)} ${line}`
    this.traceCount++
    this.traceLines.push(entry)
    if (this.traceLines.length > this.traceEntriesMax) this.traceLines.shift()
    for (let i = 0; i < entry.length; i++) {
      const c = entry.charCodeAt(i)
      this.hashA = Math.imul(this.hashA ^ c, 2654435761)
      this.hashB = Math.imul(this.hashB ^ c, 1597334677)
    }
    this.hashA = Math.imul(this.hashA ^ (this.hashA >>> 16), 2246822507) ^ Math.imul(this.hashB ^ (this.hashB >>> 13), 3266489909)
    this.hashB = Math.imul(this.hashB ^ (this.hashB >>> 16), 2246822507) ^ Math.imul(this.hashA ^ (this.hashA >>> 13), 3266489909)
  }

  // ------------------------------------------------------------------ internals

  /** @internal Runs `fn` as an event of `node`'s code: from a timer, and only while it is not paused. */
  post(node: SimNode, fn: () => void): void {
    this.clock.setTimeout(() => {
      if (node.paused) node.held.push(fn)
      else fn()
    }, 0)
  }

  /** @internal */
  connect(transport: SimTransport, to: string): Promise<{ stream: PeerStream; info: StreamInfo }> {
    return new Promise((resolve, reject) => {
      const attempt: ConnectAttempt = {
        transport, from: transport.node, to, settled: false, timeout: null, retry: null, resolve, reject,
      }
      transport.attempts.add(attempt)
      attempt.timeout = this.clock.setTimeout(() => {
        this.record(`timeout ${attempt.from.address} -> ${to}`)
        this.failAttempt(attempt, netError('ETIMEDOUT', `connect to ${to} timed out after ${this.connectTimeoutMs} ms`))
      }, this.connectTimeoutMs)
      this.sendSyn(attempt)
    })
  }

  /** @internal Settles a pending connect with an error (told to the dialling node's code). */
  failAttempt(attempt: ConnectAttempt, error: Error): void {
    if (attempt.settled) return
    this.settle(attempt)
    this.post(attempt.from, () => attempt.reject(error))
  }

  /** @internal */
  closeTransport(transport: SimTransport): void {
    this.record(`close ${transport.node.address}`)
    for (const attempt of [...transport.attempts]) {
      this.failAttempt(attempt, netError('ECONNABORTED', `sim transport of ${transport.node.address} closed`))
    }
    for (const stream of [...transport.streams]) stream.destroy()
  }

  /** @internal Moves segments from the send buffer onto the wire while the link and the window allow. */
  pump(flow: Flow): void {
    if (flow.broken || flow.from.paused) return
    const link = this.link(flow.from.address, flow.to.address)
    if (link.partitioned) return
    const now = this.clock.now()
    while (flow.sendQueue.length > 0) {
      const segment = flow.sendQueue[0]!
      const size = segment.kind === 'data' ? segment.bytes.length : 0
      const used = flow.inFlightBytes + flow.recvQueuedBytes
      if (size > 0 && used > 0 && used + size > this.receiveWindowBytes) break
      flow.sendQueue.shift()
      flow.sendQueuedBytes -= size
      const startMs = Math.max(now, link.wireFreeAtMs)
      link.wireFreeAtMs = startMs + (link.bytesPerSecond === null ? 0 : (size * 1000) / link.bytesPerSecond)
      const jitterMs = link.jitterMs > 0 ? this.random.int(link.jitterMs + 1) : 0
      const deliverAtMs = Math.max(link.wireFreeAtMs + link.delayMs + jitterMs, flow.lastDeliverAtMs)
      flow.lastDeliverAtMs = deliverAtMs
      flow.inFlight.push({ segment, deliverAtMs })
      flow.inFlightBytes += size
    }
    this.schedule(flow)
    this.check(flow)
    const writer = flow.writer
    if (writer !== null && writer.needDrain && flow.sendQueuedBytes === 0) {
      writer.needDrain = false
      this.post(flow.from, () => {
        if (!writer.destroyed) writer.emit('drain')
      })
    }
  }

  private newFlow(from: SimNode, to: SimNode): Flow {
    const flow: Flow = {
      id: this.nextId++, from, to, sendQueue: [], sendQueuedBytes: 0, inFlight: [], inFlightBytes: 0,
      recvQueue: [], recvQueuedBytes: 0, lastDeliverAtMs: 0, timer: null, finDelivered: false, broken: false,
      writer: null, reader: null,
    }
    this.flows.add(flow)
    return flow
  }

  private node(address: string): SimNode {
    let node = this.nodes.get(address)
    if (node === undefined) {
      node = { address, paused: false, transport: null, held: [] }
      this.nodes.set(address, node)
    }
    return node
  }

  private link(from: string, to: string): Link {
    const key = `${from}\u0000${to}`
    let link = this.links.get(key)
    if (link === undefined) {
      link = { partitioned: false, delayMs: this.defaultDelayMs, jitterMs: 0, bytesPerSecond: null, wireFreeAtMs: 0 }
      this.links.set(key, link)
    }
    return link
  }

  private directions(a: string, b: string, oneWay: boolean): [string, string][] {
    return oneWay || a === b ? [[a, b]] : [[a, b], [b, a]]
  }

  private flowsBetween(from: string, to: string): Flow[] {
    return [...this.flows].filter((flow) => flow.from.address === from && flow.to.address === to)
  }

  /** The delay of one packet (SYN, answer) on a link, jitter included. */
  private packetDelayMs(from: string, to: string): number {
    const link = this.link(from, to)
    return link.delayMs + (link.jitterMs > 0 ? this.random.int(link.jitterMs + 1) : 0)
  }

  private schedule(flow: Flow): void {
    const head = flow.inFlight[0]
    if (flow.timer !== null || head === undefined) return
    flow.timer = this.clock.setTimeout(() => {
      flow.timer = null
      this.deliver(flow)
    }, head.deliverAtMs - this.clock.now())
  }

  private deliver(flow: Flow): void {
    const now = this.clock.now()
    while (flow.inFlight.length > 0 && flow.inFlight[0]!.deliverAtMs <= now) {
      const { segment } = flow.inFlight.shift()!
      const size = segment.kind === 'data' ? segment.bytes.length : 0
      flow.inFlightBytes -= size
      flow.recvQueue.push(segment)
      flow.recvQueuedBytes += size
      if (segment.kind === 'fin') {
        flow.finDelivered = true
        this.flows.delete(flow)
        flow.writer?.maybeClose()
      }
    }
    this.schedule(flow)
    this.check(flow)
    if (flow.reader !== null) flow.reader.scheduleRead()
  }

  private check(flow: Flow): void {
    if (flow.sendQueuedBytes < 0 || flow.inFlightBytes < 0 || flow.recvQueuedBytes < 0) {
      throw new Error(`sim network: flow ${flow.id} counts went negative (${flow.sendQueuedBytes}/${flow.inFlightBytes}/${flow.recvQueuedBytes})`)
    }
  }

  /** Segments on the wire of a cut link are lost: they go back to the send buffer, in order. */
  private retract(flow: Flow): void {
    if (flow.timer !== null) this.clock.clearTimeout(flow.timer)
    flow.timer = null
    const segments = flow.inFlight.splice(0).map((f) => f.segment)
    flow.sendQueue.unshift(...segments)
    flow.sendQueuedBytes += flow.inFlightBytes
    flow.inFlightBytes = 0
    flow.lastDeliverAtMs = this.clock.now()
  }

  private breakFlow(flow: Flow): void {
    if (flow.timer !== null) this.clock.clearTimeout(flow.timer)
    flow.timer = null
    flow.broken = true
    this.flows.delete(flow)
    flow.sendQueue.length = 0
    flow.inFlight.length = 0
    flow.recvQueue.length = 0
    flow.sendQueuedBytes = flow.inFlightBytes = flow.recvQueuedBytes = 0
  }

  private settle(attempt: ConnectAttempt): void {
    attempt.settled = true
    attempt.transport.attempts.delete(attempt)
    if (attempt.timeout !== null) this.clock.clearTimeout(attempt.timeout)
    if (attempt.retry !== null) this.clock.clearTimeout(attempt.retry)
    attempt.timeout = attempt.retry = null
  }

  private retrySyn(attempt: ConnectAttempt): void {
    attempt.retry = this.clock.setTimeout(() => {
      attempt.retry = null
      this.sendSyn(attempt)
    }, this.synRetryMs)
  }

  private sendSyn(attempt: ConnectAttempt): void {
    if (attempt.settled) return
    const from = attempt.from
    if (from.paused || !this.nodes.has(attempt.to) || this.link(from.address, attempt.to).partitioned) {
      this.retrySyn(attempt)
      return
    }
    this.clock.setTimeout(() => this.synArrived(attempt), this.packetDelayMs(from.address, attempt.to))
  }

  private synArrived(attempt: ConnectAttempt): void {
    if (attempt.settled) return
    const from = attempt.from
    const to = this.node(attempt.to)
    if (this.link(to.address, from.address).partitioned) {
      this.retrySyn(attempt)
      return
    }
    const listener = to.transport !== null && !to.transport.closed && to.transport.listening ? to.transport : null
    this.clock.setTimeout(() => {
      if (attempt.settled) return
      if (listener === null || listener.closed) {
        this.record(`refused ${from.address} -> ${to.address}`)
        this.failAttempt(attempt, netError('ECONNREFUSED', `connect to ${to.address} refused: nothing listens there`))
      } else {
        this.settle(attempt)
        this.establish(attempt, listener)
      }
    }, this.packetDelayMs(to.address, from.address))
  }

  private establish(attempt: ConnectAttempt, listener: SimTransport): void {
    const a = attempt.from
    const b = listener.node
    const ab = this.newFlow(a, b)
    const ba = this.newFlow(b, a)
    const id = this.nextId++
    const dialer = new SimStream(this, attempt.transport, id, ab, ba)
    const acceptor = new SimStream(this, listener, id, ba, ab)
    this.record(`connect ${a.address} -> ${b.address} #${id}`)
    this.post(a, () => {
      if (attempt.transport.closed) {
        dialer.destroy()
        attempt.reject(netError('ECONNABORTED', `sim transport of ${a.address} closed`))
        return
      }
      attempt.resolve({ stream: dialer, info: simInfo(b.address, true) })
    })
    this.post(b, () => {
      if (listener.closed || listener.onStream === null) {
        acceptor.destroy()
        return
      }
      this.record(`accept ${b.address} <- ${a.address} #${id}`)
      listener.onStream(acceptor, simInfo(a.address, false))
    })
  }
}

function simInfo(remote: string, initiator: boolean): StreamInfo {
  return { transport: 'sim', remote, initiator, remotePublicKey: null, localPublicKey: null }
}

/** One end of a simulated stream: a PeerStream with node:net's event order. */
export class SimStream extends EventEmitter implements PeerStream {
  readonly id: number
  /** @internal */ readonly outFlow: Flow
  /** @internal */ readonly inFlow: Flow
  /** @internal */ needDrain = false
  private readonly network: SimNetwork
  private readonly transport: SimTransport
  private flowing: boolean | null = null
  private readScheduled = false
  private writableEnded = false
  private readableEnded = false
  private closeEmitted = false
  private isDestroyed = false

  constructor(network: SimNetwork, transport: SimTransport, id: number, outFlow: Flow, inFlow: Flow) {
    super()
    this.network = network
    this.transport = transport
    this.id = id
    this.outFlow = outFlow
    this.inFlow = inFlow
    outFlow.writer = this
    inFlow.reader = this
    // Errors are also told by 'close' and kept in the trace; a stream whose owner has not
    // attached an 'error' listener yet must not throw.
    this.on('error', () => {})
    transport.streams.add(this)
  }

  get destroyed(): boolean {
    return this.isDestroyed
  }

  private get local(): SimNode {
    return this.outFlow.from
  }

  private get tag(): string {
    return `${this.outFlow.to.address} -> ${this.local.address} #${this.id}`
  }

  write(chunk: Uint8Array): boolean {
    if (this.isDestroyed) return false
    if (this.writableEnded) {
      const error = netError('ERR_STREAM_WRITE_AFTER_END', 'write after end')
      this.network.post(this.local, () => this.destroy(error))
      return false
    }
    const copy = new Uint8Array(chunk)
    const max = this.network.segmentMaxBytes
    for (let at = 0; at < copy.length; at += max) {
      const bytes = copy.subarray(at, Math.min(at + max, copy.length))
      this.outFlow.sendQueue.push({ kind: 'data', bytes })
      this.outFlow.sendQueuedBytes += bytes.length
    }
    this.network.pump(this.outFlow)
    const ok = this.outFlow.sendQueuedBytes < this.network.streamHighWaterMarkBytes
    if (!ok) this.needDrain = true
    return ok
  }

  end(): void {
    if (this.writableEnded || this.isDestroyed) return
    this.writableEnded = true
    this.outFlow.sendQueue.push({ kind: 'fin' })
    this.network.pump(this.outFlow)
  }

  destroy(error?: Error): void {
    if (this.isDestroyed) return
    this.isDestroyed = true
    const flow = this.outFlow
    if (!flow.broken) {
      flow.sendQueue.length = 0
      flow.sendQueuedBytes = 0
      if (!this.writableEnded) {
        this.writableEnded = true
        flow.sendQueue.push({ kind: 'fin' })
        this.network.pump(flow)
      }
    }
    this.discardReceived()
    this.network.post(this.local, () => {
      if (error !== undefined) {
        this.network.record(`error ${this.tag} ${(error as Partial<NetError>).code ?? error.message}`)
        this.emit('error', error)
      }
      this.emitClose()
    })
  }

  pause(): this {
    this.flowing = false
    return this
  }

  resume(): this {
    this.flowing = true
    this.scheduleRead()
    return this
  }

  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    super.on(event, listener)
    if (event === 'data' && this.flowing !== false) this.resume()
    return this
  }

  override addListener(event: string | symbol, listener: (...args: any[]) => void): this {
    return this.on(event, listener)
  }

  /** @internal drop(): the connection is gone; tell the owner once. */
  reset(error: NetError): void {
    if (this.isDestroyed) return
    this.isDestroyed = true
    this.network.post(this.local, () => {
      this.network.record(`error ${this.tag} ${error.code}`)
      this.emit('error', error)
      this.emitClose()
    })
  }

  /** @internal */
  scheduleRead(): void {
    if (this.readScheduled) return
    this.readScheduled = true
    this.network.post(this.local, () => {
      this.readScheduled = false
      this.read()
    })
  }

  /** @internal 'close' once this side has read the other's FIN and its own FIN has arrived. */
  maybeClose(): void {
    if (this.readableEnded && this.outFlow.finDelivered && !this.isDestroyed) {
      this.isDestroyed = true
      this.network.post(this.local, () => this.emitClose())
    }
  }

  private read(): void {
    const flow = this.inFlow
    if (this.isDestroyed) {
      this.discardReceived()
      return
    }
    while (this.flowing === true && flow.recvQueue.length > 0 && !this.isDestroyed) {
      const segment = flow.recvQueue.shift()!
      if (segment.kind === 'data') {
        flow.recvQueuedBytes -= segment.bytes.length
        this.network.record(`data ${this.tag} ${segment.bytes.length}`)
        this.emit('data', segment.bytes)
      } else {
        this.readableEnded = true
        this.network.record(`end ${this.tag}`)
        this.emit('end')
        this.end()
        this.maybeClose()
      }
    }
    this.network.pump(flow)
  }

  /** Data that reached a destroyed stream is dropped, which frees the sender's window. */
  private discardReceived(): void {
    const flow = this.inFlow
    flow.recvQueue.length = 0
    flow.recvQueuedBytes = 0
    this.network.pump(flow)
  }

  private emitClose(): void {
    if (this.closeEmitted) return
    this.closeEmitted = true
    this.transport.streams.delete(this)
    this.network.record(`close ${this.tag}`)
    this.emit('close')
  }
}

/** A node's Transport on a SimNetwork. */
export class SimTransport implements Transport {
  readonly name = 'sim'
  /** @internal */ readonly node: SimNode
  /** @internal */ readonly streams = new Set<SimStream>()
  /** @internal */ readonly attempts = new Set<ConnectAttempt>()
  /** @internal */ onStream: ((stream: PeerStream, info: StreamInfo) => void) | null = null
  /** @internal */ listening = false
  /** @internal */ closed = false
  private readonly network: SimNetwork

  constructor(network: SimNetwork, node: SimNode) {
    this.network = network
    this.node = node
  }

  async listen(onStream: (stream: PeerStream, info: StreamInfo) => void): Promise<void> {
    if (this.closed) throw new Error(`sim transport of ${this.node.address} is closed`)
    if (this.listening) throw new Error(`sim transport of ${this.node.address} is already listening`)
    this.onStream = onStream
    this.listening = true
  }

  connect(address: string): Promise<{ stream: PeerStream; info: StreamInfo }> {
    if (this.closed) return Promise.reject(new Error(`sim transport of ${this.node.address} is closed`))
    return this.network.connect(this, address)
  }

  address(): string | null {
    return this.listening && !this.closed ? this.node.address : null
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.listening = false
    this.onStream = null
    this.network.closeTransport(this)
  }
}
