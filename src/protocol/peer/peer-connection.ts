/**
 * PeerConnection — one authenticated link to one peer over a PeerStream: the handshake
 * (auth.ts), framing (frame-codec.ts), validation (messages.ts), request/response correlation,
 * timeouts and backpressure. The peer-link actor owns one per connected peer.
 *
 * Life: `PeerConnection.establish(stream, info, options)` resolves once the peer proved it knows
 * the cluster secret (or rejects, the link closed with a goodbye saying why). Nothing the peer
 * sends is decoded past the handshake until `start(handler)`: dedupe.ts decides first which of
 * two links to the same node to keep. Then one-way messages go to `handler.onMessage` in order,
 * requests to `handler.onRequest`, whose result is the response.
 *
 * Bounds (options; defaults in `peerConnectionDefaults`):
 *   - requestsInFlightMax: requests the peer may have outstanding with this node, announced in
 *     hello. One more is a flood and closes the link. This node's own outstanding requests are
 *     capped by it and by the peer's announcement: beyond that `request` rejects at once
 *     (`too-many-requests`). A request that timed out keeps its slot until its answer comes
 *     (the peer answers every request), so both sides count alike.
 *   - deliveriesPendingMax: handler calls not yet settled (requests being handled, one-way
 *     messages whose handler returned a promise). At the bound, decoding stops and the stream
 *     is paused: the peer's writes back up into its own send queue.
 *   - sendQueueMaxBytes: encoded frames waiting for the stream to drain (after `write` returned
 *     false; a frame is queued whole even past the bound when the queue is empty, so the queue
 *     holds at most max(bound, one frame)). Past it, `send`/`request` reject with
 *     `send-queue-full` and the link stays up; a response that does not fit closes the link
 *     (`send-queue-full`), since dropping it would leave the peer's request slot taken forever.
 *   - frameMaxBytes (announced in hello; handshakeFrameMaxBytes before authentication),
 *     readBufferMaxBytes (bytes received and not yet decoded; the stream is paused long before,
 *     so only a peer or transport ignoring flow control reaches it).
 *   - authTimeoutMs, requestTimeoutMs (per request, overridable), closeGraceMs (after the
 *     goodbye and end, the stream is destroyed if it has not closed).
 * Malformed input (bad lengths, bad CBOR, a message outside the union, a response nobody asked
 * for, a flood) closes the link with a logged `protocol-violation`; nothing after it is
 * delivered. Errors never escape to the caller's stack: they become closes and rejections.
 */
import type { Clock } from '../../runtime/clock.ts'
import { systemClock } from '../../runtime/clock.ts'
import { silentLogger, type Logger } from '../../runtime/logger.ts'
import type { TimerHandle, Timers } from '../../sim/sim-clock.ts'
import type { PeerStream, StreamInfo } from '../../transport/transport.ts'
import { randomBytes } from 'node:crypto'
import { type HandshakeState, type HandshakeStep, type RemotePeer, startHandshake, stepHandshake } from './auth.ts'
import { decodeFrameBody, encodeFrame, FRAME_HEADER_BYTES, FrameError, FrameDecoder, frameMaxBytesDefault, framedBytes } from './frame-codec.ts'
import {
  bodyValidators,
  CHALLENGE_BYTES,
  clipDetail,
  type GoodbyeReason,
  type OneWayMessage,
  type ParseResult,
  parsePeerMessage,
  type PeerMessage,
  type RequestBody,
  type RequestErrorCode,
  type RequestKind,
  type ResponseBody,
} from './messages.ts'

export interface PeerHandler {
  /** A heartbeat or membership message, in arrival order. A returned promise holds a delivery slot until it settles. */
  onMessage(message: OneWayMessage, link: PeerConnection): void | Promise<void>
  /** A request; what it returns (a body of the request's kind) is the response. A throw answers `handler-failed`. */
  onRequest(body: RequestBody, link: PeerConnection): ResponseBody | Promise<ResponseBody>
}

export interface PeerConnectionOptions {
  nodeId: number
  clusterName: string
  /** deriveAuthKey(secret), auth.ts. */
  authKey: Uint8Array
  logger?: Logger
  clock?: Clock
  timers?: Timers
  /** CHALLENGE_BYTES fresh random bytes per call (crypto.randomBytes; a seeded source under simulation). */
  challenge?: () => Uint8Array
  authTimeoutMs?: number
  requestTimeoutMs?: number
  requestsInFlightMax?: number
  deliveriesPendingMax?: number
  sendQueueMaxBytes?: number
  frameMaxBytes?: number
  handshakeFrameMaxBytes?: number
  readBufferMaxBytes?: number
  closeGraceMs?: number
}

export const peerConnectionDefaults = {
  authTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  requestsInFlightMax: 64,
  deliveriesPendingMax: 64,
  sendQueueMaxBytes: 32 * 1024 * 1024,
  frameMaxBytes: frameMaxBytesDefault,
  handshakeFrameMaxBytes: 8 * 1024,
  closeGraceMs: 2_000,
} as const

/** Why a link closed: a goodbye reason (sent or received), or the stream going away. */
export type CloseReason = GoodbyeReason | 'stream-ended' | 'stream-error'

export interface PeerCloseInfo {
  reason: CloseReason
  detail: string
  /** Who decided: this node, or the peer (its goodbye, or its end of the stream). */
  by: 'local' | 'remote'
}

export type PeerErrorCode =
  | RequestErrorCode
  | 'timeout'
  | 'link-closed'
  | 'not-open'
  | 'too-many-requests'
  | 'send-queue-full'
  | 'frame-too-large'

export class PeerError extends Error {
  override readonly name = 'PeerError'
  constructor(
    readonly code: PeerErrorCode,
    message: string,
    /** Set when the link closed: why. */
    readonly close: PeerCloseInfo | null = null,
  ) {
    super(message)
  }
}

type Phase = 'handshake' | 'authenticated' | 'open' | 'closing' | 'closed'

interface PendingRequest {
  kind: RequestKind
  resolve: (body: ResponseBody) => void
  reject: (e: Error) => void
  timer: TimerHandle | null
  timedOut: boolean
}

interface QueuedFrame {
  chunks: Uint8Array[]
  bytes: number
  resolve: () => void
  reject: (e: Error) => void
}

interface Corkable {
  cork?: () => void
  uncork?: () => void
}

let systemTimerIds = 0
const systemTimers: Timers = {
  setTimeout(callback, ms) {
    return { id: ++systemTimerIds, handle: setTimeout(callback, ms) } as TimerHandle
  },
  clearTimeout(h) {
    clearTimeout((h as TimerHandle & { handle: ReturnType<typeof setTimeout> }).handle)
  },
}

const RESOLVED: Promise<void> = Promise.resolve()
const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e))

export class PeerConnection {
  readonly info: StreamInfo
  /** Resolves once the peer proved itself; rejects (PeerError 'link-closed') if the link closes first. */
  readonly authenticated: Promise<RemotePeer>
  /** Resolves once the link is closed for good, with why. */
  readonly closed: Promise<PeerCloseInfo>
  /** clock.now() when the last frame came in (any frame: a busy link needs no heartbeats to look alive). */
  lastReceivedMs: number

  private readonly stream: PeerStream
  private readonly logger: Logger
  private readonly clock: Clock
  private readonly timers: Timers
  private readonly requestTimeoutMs: number
  private readonly requestsInFlightMax: number
  private readonly deliveriesPendingMax: number
  private readonly sendQueueMaxBytes: number
  private readonly frameMaxBytes: number
  private readonly handshakeFrameMaxBytes: number
  private readonly readBufferMaxBytes: number
  private readonly closeGraceMs: number

  private phase: Phase = 'handshake'
  private hs: HandshakeState
  private remotePeer: RemotePeer | null = null
  private handler: PeerHandler | null = null
  private closeInfo: PeerCloseInfo | null = null
  private resolveAuthenticated!: (r: RemotePeer) => void
  private rejectAuthenticated!: (e: Error) => void
  private resolveClosed!: (c: PeerCloseInfo) => void
  private authTimer: TimerHandle | null = null
  private graceTimer: TimerHandle | null = null

  // reading
  private readonly decoder: FrameDecoder
  private pausedByUs = false
  private pumping = false
  private ended = false
  private deliveriesPending = 0
  private incomingOutstanding = 0

  // writing: a queue with a head index, so that many small frames do not make shifting quadratic
  private draining = false
  private sendQueue: QueuedFrame[] = []
  private sendQueueHead = 0
  private queued = 0

  // requests
  private nextRequestId = 0
  private readonly pending = new Map<number, PendingRequest>()

  /** Authenticates over `stream`; resolves with the link once the peer proved itself. */
  static establish(stream: PeerStream, info: StreamInfo, options: PeerConnectionOptions): Promise<PeerConnection> {
    const link = new PeerConnection(stream, info, options)
    return link.authenticated.then(() => link)
  }

  constructor(stream: PeerStream, info: StreamInfo, options: PeerConnectionOptions) {
    const d = peerConnectionDefaults
    this.stream = stream
    this.info = info
    this.logger = options.logger ?? silentLogger
    this.clock = options.clock ?? systemClock
    this.timers = options.timers ?? systemTimers
    this.requestTimeoutMs = options.requestTimeoutMs ?? d.requestTimeoutMs
    this.requestsInFlightMax = options.requestsInFlightMax ?? d.requestsInFlightMax
    this.deliveriesPendingMax = options.deliveriesPendingMax ?? d.deliveriesPendingMax
    this.sendQueueMaxBytes = options.sendQueueMaxBytes ?? d.sendQueueMaxBytes
    this.frameMaxBytes = options.frameMaxBytes ?? d.frameMaxBytes
    this.handshakeFrameMaxBytes = options.handshakeFrameMaxBytes ?? d.handshakeFrameMaxBytes
    this.readBufferMaxBytes = options.readBufferMaxBytes ?? 2 * this.frameMaxBytes + 64 * 1024
    this.closeGraceMs = options.closeGraceMs ?? d.closeGraceMs
    if (this.deliveriesPendingMax < 1 || this.requestsInFlightMax < 1) throw new Error('deliveriesPendingMax and requestsInFlightMax are at least 1')
    if (this.readBufferMaxBytes < this.frameMaxBytes) throw new Error('readBufferMaxBytes must hold a whole frame')
    this.lastReceivedMs = this.clock.now()
    this.decoder = new FrameDecoder(this.handshakeFrameMaxBytes)

    this.authenticated = new Promise((resolve, reject) => {
      this.resolveAuthenticated = resolve
      this.rejectAuthenticated = reject
    })
    this.authenticated.catch(() => {}) // the caller of establish() sees it; a bare constructor's user may not listen
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve))

    stream.on('data', (chunk) => this.onData(chunk))
    stream.on('drain', () => this.onDrain())
    stream.on('end', () => {
      this.ended = true
      this.pump()
    })
    stream.on('error', (e) => this.closeWith('stream-error', errorText(e), 'local', false))
    stream.on('close', () => this.onStreamClosed())

    const challenge = (options.challenge ?? (() => new Uint8Array(randomBytes(CHALLENGE_BYTES))))()
    const start = startHandshake({
      nodeId: options.nodeId,
      clusterName: options.clusterName,
      authKey: options.authKey,
      challenge,
      localPublicKey: info.localPublicKey,
      remotePublicKey: info.remotePublicKey,
      requestsInFlightMax: this.requestsInFlightMax,
      frameMaxBytes: this.frameMaxBytes,
    })
    this.hs = start.state
    if (stream.destroyed) {
      this.closeWith('stream-ended', 'the stream was closed before the handshake', 'remote', false)
      this.finish()
      return
    }
    this.authTimer = this.timers.setTimeout(() => {
      this.authTimer = null
      if (this.phase === 'handshake') this.applyHandshake(stepHandshake(this.hs, { type: 'timeout' }))
    }, options.authTimeoutMs ?? d.authTimeoutMs)
    this.applyHandshake(start)
  }

  /** The peer as the handshake told it (null before authentication). */
  get remote(): RemotePeer | null {
    return this.remotePeer
  }

  get remoteNodeId(): number {
    if (this.remotePeer === null) throw new Error('the link is not authenticated yet')
    return this.remotePeer.nodeId
  }

  /** True when this side dialled. */
  get initiator(): boolean {
    return this.info.initiator
  }

  /** A name of this link both sides compute alike (dedupe.ts). */
  get sessionId(): string {
    if (this.remotePeer === null) throw new Error('the link is not authenticated yet')
    return this.remotePeer.sessionId
  }

  get isOpen(): boolean {
    return this.phase === 'open' || this.phase === 'authenticated'
  }

  /** Why the link closed, once it is closing. */
  get closeReason(): PeerCloseInfo | null {
    return this.closeInfo
  }

  /** Bytes of frames waiting for the stream to drain. */
  get queuedBytes(): number {
    return this.queued
  }

  /** Requests sent and not answered yet (timed-out ones included, see the header). */
  get requestsInFlight(): number {
    return this.pending.size
  }

  /** Starts delivering the peer's messages to `handler`. A link that closed meanwhile stays closed. */
  start(handler: PeerHandler): void {
    if (this.phase === 'closing' || this.phase === 'closed') return
    if (this.phase !== 'authenticated') throw new Error(`start() on a link in phase ${this.phase}`)
    this.handler = handler
    this.phase = 'open'
    this.pump()
  }

  /** Sends a one-way message; resolves once the stream took it (waits while the stream drains). */
  send(message: OneWayMessage): Promise<void> {
    if (!this.isOpen) return Promise.reject(this.notOpen())
    let frame: Uint8Array[]
    try {
      frame = this.encodeForPeer(message)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.sendFrame(frame, 'app')
  }

  /**
   * Sends a request; resolves with the response body, rejects with a PeerError. A large byte
   * string last in the body (a ping's data, record batches) is written from the caller's
   * memory, not copied (frame-codec.ts): it must not change after this call.
   */
  request<K extends RequestKind>(body: RequestBody<K>, timeoutMs: number = this.requestTimeoutMs): Promise<ResponseBody<K>> {
    if (!this.isOpen || this.remotePeer === null) return Promise.reject(this.notOpen())
    const limit = Math.min(this.requestsInFlightMax, this.remotePeer.requestsInFlightMax)
    if (this.pending.size >= limit) {
      return Promise.reject(new PeerError('too-many-requests', `${this.pending.size} requests in flight to ${this.label()}, the most allowed`))
    }
    const id = this.nextRequestId++
    let frame: Uint8Array[]
    try {
      frame = this.encodeForPeer({ type: 'request', id, body })
    } catch (e) {
      return Promise.reject(e)
    }
    return new Promise<ResponseBody<K>>((resolve, reject) => {
      const entry: PendingRequest = { kind: body.kind, resolve: resolve as (b: ResponseBody) => void, reject, timer: null, timedOut: false }
      this.pending.set(id, entry)
      if (timeoutMs > 0) {
        entry.timer = this.timers.setTimeout(() => {
          entry.timer = null
          entry.timedOut = true
          reject(new PeerError('timeout', `${body.kind} request ${id} to ${this.label()}: no response in ${timeoutMs} ms`))
        }, timeoutMs)
      }
      this.sendFrame(frame, 'app').catch((e: Error) => {
        if (this.pending.get(id) !== entry) return
        this.pending.delete(id)
        if (entry.timer !== null) this.timers.clearTimeout(entry.timer)
        reject(e)
      })
    })
  }

  /** Says goodbye and closes. */
  close(detail = 'shutting down', reason: 'shutdown' | 'duplicate-connection' = 'shutdown'): void {
    this.closeWith(reason, detail, 'local', true)
  }

  // ------------------------------------------------------------------ reading

  private onData(chunk: Uint8Array): void {
    if (this.phase === 'closing' || this.phase === 'closed') return
    this.decoder.push(chunk)
    this.pump()
    if (this.decoder.bufferedBytes > this.readBufferMaxBytes && this.isReading()) {
      this.violation(`${this.decoder.bufferedBytes} bytes received and not yet read, over the ${this.readBufferMaxBytes}-byte bound: the peer ignores flow control`)
    }
  }

  private isReading(): boolean {
    return this.phase === 'handshake' || this.phase === 'authenticated' || this.phase === 'open'
  }

  /** Decodes and dispatches frames while the application can take them. */
  private pump(): void {
    if (this.pumping) return
    this.pumping = true
    try {
      while (this.isReading()) {
        if (this.phase === 'authenticated' || this.deliveriesPending >= this.deliveriesPendingMax) {
          this.pauseReading()
          return
        }
        let frame: Uint8Array | null
        let value: unknown
        try {
          frame = this.decoder.next()
          if (frame !== null) value = decodeFrameBody(frame)
        } catch (e) {
          if (!(e instanceof FrameError)) throw e
          this.violation(e.message)
          return
        }
        if (frame === null) {
          if (this.ended) {
            const detail = this.decoder.midFrame ? `the peer ended the stream mid-frame (${this.decoder.bufferedBytes} bytes of a frame read)` : 'the peer ended the stream'
            this.closeWith('stream-ended', detail, 'remote', false)
            return
          }
          this.resumeReading()
          return
        }
        this.lastReceivedMs = this.clock.now()
        const parsed = parsePeerMessage(value)
        if (this.phase === 'handshake') this.handleHandshake(parsed)
        else this.handleOpen(parsed)
      }
    } finally {
      this.pumping = false
    }
  }

  private pauseReading(): void {
    if (this.pausedByUs) return
    this.pausedByUs = true
    this.stream.pause()
  }

  private resumeReading(): void {
    if (!this.pausedByUs) return
    this.pausedByUs = false
    this.stream.resume()
  }

  private handleHandshake(parsed: ParseResult): void {
    if (parsed.ok === true) this.applyHandshake(stepHandshake(this.hs, parsed.message))
    else if (parsed.ok === false) this.closeWith(parsed.reason, parsed.detail, 'local', true)
    else this.violation(`a ${parsed.kind} request before the handshake finished`)
  }

  private applyHandshake(step: HandshakeStep): void {
    this.hs = step.state
    for (const effect of step.effects) {
      switch (effect.type) {
        case 'send':
          this.writeChunks(encodeFrame(effect.message))
          break
        case 'authenticated':
          this.remotePeer = effect.remote
          this.phase = 'authenticated'
          this.decoder.frameMaxBytes = this.frameMaxBytes
          this.clearAuthTimer()
          this.logger.debug(`peer link ${this.label()}: authenticated`)
          this.resolveAuthenticated(effect.remote)
          break
        case 'failed':
          this.closeWith(effect.reason, effect.detail, effect.sendGoodbye ? 'local' : 'remote', effect.sendGoodbye)
          break
        default: {
          const _: never = effect
          throw new Error(`unhandled handshake effect ${JSON.stringify(_)}`)
        }
      }
    }
  }

  private handleOpen(parsed: ParseResult): void {
    if (parsed.ok === false) {
      this.violation(parsed.detail)
      return
    }
    if (parsed.ok === 'unsupported-request') {
      this.answerError(parsed.id, 'unsupported-request', `this node does not know ${JSON.stringify(parsed.kind)} requests`)
      return
    }
    const msg = parsed.message
    switch (msg.type) {
      case 'heartbeat':
      case 'membership':
        this.deliver(msg)
        return
      case 'request':
        this.onRequest(msg.id, msg.body)
        return
      case 'response':
        this.settle(msg.id, (entry) => {
          if (msg.body.kind !== entry.kind) return `a ${msg.body.kind} response to ${entry.kind} request ${msg.id}`
          entry.resolve(msg.body)
          return null
        })
        return
      case 'error':
        this.settle(msg.id, (entry) => {
          entry.reject(new PeerError(msg.code, `${entry.kind} request ${msg.id} to ${this.label()}: ${msg.message}`))
          return null
        })
        return
      case 'goodbye':
        this.closeWith(msg.reason, `the peer said goodbye: ${msg.detail}`, 'remote', false)
        return
      case 'hello':
      case 'auth-response':
        this.violation(`a ${msg.type} message after the handshake`)
        return
      default: {
        const _: never = msg
        throw new Error(`unhandled peer message ${JSON.stringify(_)}`)
      }
    }
  }

  private deliver(msg: OneWayMessage): void {
    let result: void | Promise<void>
    try {
      result = this.handler!.onMessage(msg, this)
    } catch (e) {
      this.logger.error(`peer link ${this.label()}: the ${msg.type} handler failed: ${errorText(e)}`)
      return
    }
    if (result === undefined || typeof (result as Promise<void>).then !== 'function') return
    this.deliveriesPending++
    Promise.resolve(result).then(
      () => {},
      (e: unknown) => this.logger.error(`peer link ${this.label()}: the ${msg.type} handler failed: ${errorText(e)}`),
    ).finally(() => {
      this.deliveriesPending--
      this.pump()
    })
  }

  private onRequest(id: number, body: RequestBody): void {
    if (this.incomingOutstanding >= this.requestsInFlightMax) {
      this.violation(`request flood: request ${id} while ${this.incomingOutstanding} are in flight, the most this node allows`)
      return
    }
    this.incomingOutstanding++
    this.deliveriesPending++
    let result: ResponseBody | Promise<ResponseBody>
    try {
      result = this.handler!.onRequest(body, this)
    } catch (e) {
      result = Promise.reject(e)
    }
    // Both settle paths free the slot before the answer goes out: once the peer reads the
    // answer it may send the next request, and that one must find the slot free.
    Promise.resolve(result).then(
      (response) => {
        this.incomingOutstanding--
        this.deliveriesPending--
        this.answer(id, body.kind, response)
        this.pump()
      },
      (e: unknown) => {
        this.incomingOutstanding--
        this.deliveriesPending--
        this.logger.error(`peer link ${this.label()}: the ${body.kind} request handler failed: ${errorText(e)}`)
        this.answerError(id, 'handler-failed', errorText(e))
        this.pump()
      },
    )
  }

  /** Matches an answer to its request; `check` returns a violation or null. */
  private settle(id: number, check: (entry: PendingRequest) => string | null): void {
    const entry = this.pending.get(id)
    if (entry === undefined) {
      this.violation(`an answer to request ${id}, which is not in flight`)
      return
    }
    this.pending.delete(id)
    if (entry.timer !== null) this.timers.clearTimeout(entry.timer)
    if (entry.timedOut) return // its caller was told already; the slot is free again
    const err = check(entry)
    if (err !== null) {
      entry.reject(new PeerError('link-closed', err))
      this.violation(err)
    }
  }

  // ------------------------------------------------------------------ writing

  private answer(id: number, kind: RequestKind, response: ResponseBody): void {
    if (!this.isOpen) return
    const bad = typeof response !== 'object' || response === null || response.kind !== kind
      ? `expected a ${kind} response body`
      : bodyValidators[kind].response(response, 'response.body')
    if (bad !== null) {
      this.logger.error(`peer link ${this.label()}: the ${kind} request handler returned a bad response: ${bad}`)
      this.answerError(id, 'handler-failed', 'the handler returned a bad response')
      return
    }
    const frame = encodeFrame({ type: 'response', id, body: response })
    if (framedBytes(frame) - FRAME_HEADER_BYTES > this.remotePeer!.frameMaxBytes) {
      this.answerError(id, 'response-too-large', `a ${framedBytes(frame)}-byte response is over the requester's ${this.remotePeer!.frameMaxBytes}-byte frame maximum`)
      return
    }
    this.sendAnswer(frame)
  }

  private answerError(id: number, code: RequestErrorCode, message: string): void {
    if (!this.isOpen) return
    this.sendAnswer(encodeFrame({ type: 'error', id, code, message: clipDetail(message) }))
  }

  private sendAnswer(frame: Uint8Array[]): void {
    this.sendFrame(frame, 'answer').catch(() => {}) // a failure closed the link, which says why
  }

  private encodeForPeer(message: PeerMessage): Uint8Array[] {
    const frame = encodeFrame(message)
    const max = this.remotePeer?.frameMaxBytes ?? this.handshakeFrameMaxBytes
    const size = framedBytes(frame) - FRAME_HEADER_BYTES
    if (size > max) throw new PeerError('frame-too-large', `a ${size}-byte ${message.type} is over ${this.label()}'s ${max}-byte frame maximum`)
    return frame
  }

  /** Hands a frame to the stream now, or queues it until the stream drains. */
  private sendFrame(chunks: Uint8Array[], kind: 'app' | 'answer'): Promise<void> {
    if (!this.isOpen) return Promise.reject(this.notOpen())
    if (!this.draining && this.sendQueueHead === this.sendQueue.length) {
      this.writeChunks(chunks)
      return RESOLVED
    }
    const bytes = framedBytes(chunks)
    if (this.queued > 0 && this.queued + bytes > this.sendQueueMaxBytes) {
      const detail = `${this.queued} bytes wait for ${this.label()} to read, the bound is ${this.sendQueueMaxBytes}`
      if (kind === 'answer') {
        this.closeWith('send-queue-full', `a response does not fit: ${detail}`, 'local', true)
        return Promise.reject(this.notOpen())
      }
      return Promise.reject(new PeerError('send-queue-full', detail))
    }
    return new Promise((resolve, reject) => {
      this.sendQueue.push({ chunks, bytes, resolve, reject })
      this.queued += bytes
    })
  }

  private onDrain(): void {
    this.draining = false
    while (!this.draining && this.sendQueueHead < this.sendQueue.length && this.isOpen) {
      const f = this.sendQueue[this.sendQueueHead]!
      this.sendQueue[this.sendQueueHead++] = undefined as unknown as QueuedFrame
      this.queued -= f.bytes
      this.writeChunks(f.chunks)
      f.resolve()
    }
    if (this.sendQueueHead === this.sendQueue.length) {
      this.sendQueue = []
      this.sendQueueHead = 0
    } else if (this.sendQueueHead >= 1024 && this.sendQueueHead * 2 >= this.sendQueue.length) {
      this.sendQueue = this.sendQueue.slice(this.sendQueueHead)
      this.sendQueueHead = 0
    }
  }

  private writeChunks(chunks: Uint8Array[]): void {
    if (this.stream.destroyed) return
    const s = this.stream as PeerStream & Corkable
    const cork = chunks.length > 1 && typeof s.cork === 'function' && typeof s.uncork === 'function'
    if (cork) s.cork!()
    let ok = true
    for (const c of chunks) ok = s.write(c)
    if (cork) s.uncork!()
    if (!ok) this.draining = true
  }

  // ------------------------------------------------------------------ closing

  private violation(detail: string): void {
    this.closeWith('protocol-violation', detail, 'local', true)
  }

  private closeWith(reason: CloseReason, detail: string, by: 'local' | 'remote', sendGoodbye: boolean): void {
    if (this.phase === 'closing' || this.phase === 'closed') return
    const wasHandshake = this.phase === 'handshake'
    this.phase = 'closing'
    this.closeInfo = { reason, detail, by }
    const quiet = reason === 'shutdown' || reason === 'duplicate-connection' || (reason === 'stream-ended' && !wasHandshake)
    const line = `peer link ${this.label()} closed${by === 'remote' ? ' by the peer' : ''}: ${reason}: ${detail}`
    if (quiet) this.logger.info(line)
    else this.logger.warn(line)
    this.clearAuthTimer()
    const error = this.notOpen()
    for (const [, entry] of this.pending) {
      if (entry.timer !== null) this.timers.clearTimeout(entry.timer)
      if (!entry.timedOut) entry.reject(error)
    }
    this.pending.clear()
    for (let i = this.sendQueueHead; i < this.sendQueue.length; i++) this.sendQueue[i]!.reject(error)
    this.sendQueue = []
    this.sendQueueHead = 0
    this.queued = 0
    this.rejectAuthenticated(error)
    if (!this.stream.destroyed) {
      if (sendGoodbye && reason !== 'stream-ended' && reason !== 'stream-error') {
        this.writeChunks(encodeFrame({ type: 'goodbye', reason, detail: clipDetail(detail) }))
      }
      if (reason === 'stream-error') this.stream.destroy()
      else this.stream.end()
      this.resumeReading() // an ended stream closes only once its readable side is drained too
    }
    this.graceTimer = this.timers.setTimeout(() => {
      this.graceTimer = null
      if (!this.stream.destroyed) this.stream.destroy()
      this.finish()
    }, this.closeGraceMs)
  }

  private onStreamClosed(): void {
    if (this.phase === 'closed') return
    if (this.phase !== 'closing') this.closeWith('stream-ended', 'the stream closed', 'remote', false)
    this.finish()
  }

  private finish(): void {
    if (this.phase === 'closed') return
    this.phase = 'closed'
    if (this.graceTimer !== null) {
      this.timers.clearTimeout(this.graceTimer)
      this.graceTimer = null
    }
    this.resolveClosed(this.closeInfo!)
  }

  private clearAuthTimer(): void {
    if (this.authTimer === null) return
    this.timers.clearTimeout(this.authTimer)
    this.authTimer = null
  }

  private notOpen(): PeerError {
    const c = this.closeInfo
    return c === null
      ? new PeerError('not-open', `the link to ${this.label()} is not open yet (${this.phase})`)
      : new PeerError('link-closed', `the link to ${this.label()} closed: ${c.reason}: ${c.detail}`, c)
  }

  private label(): string {
    const where = `${this.info.transport} ${this.info.remote}`
    return this.remotePeer === null ? where : `node ${this.remotePeer.nodeId} (${where})`
  }
}
