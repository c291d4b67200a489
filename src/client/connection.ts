/**
 * One TCP connection to one broker: request framing, correlation ids, the in-flight bound,
 * the request timeout, and responses matched to requests in order (a Kafka broker answers a
 * connection's requests in the order they came, so the answer at the head of the stream is
 * always for the oldest request still waiting).
 *
 * Bounds: `maxInFlightRequestsCount` requests written and awaiting their response (Kafka's
 * max.in.flight.requests.per.connection); `maxQueuedRequestsCount` more waiting for a slot
 * (beyond that `request` rejects at once); `maxResponseBytes` per response frame (a larger
 * size prefix closes the connection); `requestTimeoutMs` from the call to the response.
 *
 * A request that times out while queued is dropped from the queue; one that times out in
 * flight closes the connection, as Kafka's NetworkClient does, since the answers behind it
 * could no longer be matched: it rejects with REQUEST_TIMED_OUT and the others in flight
 * with NETWORK_EXCEPTION. Both are retriable.
 */
import { connect as netConnect, type Socket } from 'node:net'
import { decodeResponseFrame, encodeRequestFrame } from '../protocol/kafka/headers.ts'
import { ErrorCode } from '../protocol/kafka/error-codes.ts'
import type { ApiMessages } from '../protocol/kafka/generated/index.ts'
import { apiInfo } from '../protocol/kafka/generated/index.ts'
import { silentLogger, type Logger } from '../runtime/logger.ts'
import { KafkaError, networkError, timeoutError } from './errors.ts'

export type ApiKeyOf = keyof ApiMessages

export interface ConnectionOptions {
  host: string
  port: number
  clientId: string | null
  /** From `request()` to its response; 0 for none. */
  requestTimeoutMs: number
  /** From `connect()` to the TCP connection being up (socket.connection.setup.timeout.ms). */
  connectTimeoutMs: number
  /** Requests written and not yet answered. */
  maxInFlightRequestsCount: number
  /** Requests waiting for an in-flight slot. */
  maxQueuedRequestsCount?: number
  /** The largest response frame accepted. */
  maxResponseBytes?: number
  logger?: Logger
}

export const DEFAULT_MAX_QUEUED_REQUESTS_COUNT = 10_000
export const DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024

interface Pending {
  apiKey: number
  apiVersion: number
  correlationId: number
  bytes: Uint8Array[]
  expectResponse: boolean
  resolve: (frame: Uint8Array | null) => void
  reject: (e: Error) => void
  timer: ReturnType<typeof setTimeout> | null
  state: 'queued' | 'in-flight' | 'done'
}

export class Connection {
  readonly host: string
  readonly port: number
  private readonly options: ConnectionOptions
  private readonly logger: Logger
  private readonly socket: Socket
  private nextCorrelationId = 0
  private readonly inFlight: Pending[] = []
  private readonly queued: Pending[] = []
  private readonly chunks: Buffer[] = []
  private buffered = 0
  private frameSize = -1
  private closedWith: Error | null = null
  private readonly closeListeners: ((error: Error) => void)[] = []

  private constructor(socket: Socket, options: ConnectionOptions) {
    this.socket = socket
    this.options = options
    this.host = options.host
    this.port = options.port
    this.logger = options.logger ?? silentLogger
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (e) => this.fail(networkError(`connection to ${this.address} failed: ${e.message}`, e)))
    socket.on('close', () => this.fail(networkError(`connection to ${this.address} closed`)))
  }

  /** Opens a TCP connection; rejects with NETWORK_EXCEPTION when it cannot within connectTimeoutMs. */
  static connect(options: ConnectionOptions): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: options.host, port: options.port })
      socket.setNoDelay(true)
      const address = `${options.host}:${options.port}`
      const timer =
        options.connectTimeoutMs > 0
          ? setTimeout(() => {
              socket.destroy()
              reject(networkError(`connecting to ${address} timed out after ${options.connectTimeoutMs} ms`))
            }, options.connectTimeoutMs)
          : null
      const onError = (e: Error) => {
        if (timer) clearTimeout(timer)
        reject(networkError(`cannot connect to ${address}: ${e.message}`, e))
      }
      socket.once('error', onError)
      socket.once('connect', () => {
        if (timer) clearTimeout(timer)
        socket.off('error', onError)
        resolve(new Connection(socket, options))
      })
    })
  }

  get address(): string {
    return `${this.host}:${this.port}`
  }

  get closed(): boolean {
    return this.closedWith !== null
  }

  /** Requests written and awaiting an answer. */
  get inFlightCount(): number {
    return this.inFlight.length
  }

  /** Called once, with the reason, when the connection closes for any cause. */
  onClose(listener: (error: Error) => void): void {
    if (this.closedWith) listener(this.closedWith)
    else this.closeListeners.push(listener)
  }

  /** Sends a request and decodes its response. */
  async request<K extends ApiKeyOf>(apiKey: K, apiVersion: number, data: ApiMessages[K]['requestInput'], timeoutMs?: number): Promise<ApiMessages[K]['response']> {
    const frame = (await this.requestFrame(apiKey, apiVersion, data, true, timeoutMs))!
    try {
      return decodeResponseFrame(apiKey, apiVersion, frame).body
    } catch (e) {
      const name = apiInfo(apiKey)?.name ?? `API ${apiKey}`
      throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `cannot decode the ${name} v${apiVersion} response from ${this.address}: ${(e as Error).message}`, { cause: e })
    }
  }

  /**
   * Sends a request and resolves to its response frame (after the size: header, then body),
   * or to null once written when no response is expected (Produce with acks=0).
   */
  requestFrame<K extends ApiKeyOf>(
    apiKey: K,
    apiVersion: number,
    data: ApiMessages[K]['requestInput'],
    expectResponse = true,
    timeoutMs = this.options.requestTimeoutMs,
  ): Promise<Uint8Array | null> {
    if (this.closedWith) return Promise.reject(this.closedWith)
    const maxQueued = this.options.maxQueuedRequestsCount ?? DEFAULT_MAX_QUEUED_REQUESTS_COUNT
    if (this.queued.length >= maxQueued) {
      return Promise.reject(new KafkaError(ErrorCode.REQUEST_TIMED_OUT, `more than ${maxQueued} requests queued for ${this.address}`))
    }
    const correlationId = this.nextCorrelationId
    this.nextCorrelationId = (this.nextCorrelationId + 1) & 0x7fffffff
    const bytes = encodeRequestFrame(apiKey, apiVersion, correlationId, this.options.clientId, data).chunks()
    return new Promise((resolve, reject) => {
      const p: Pending = { apiKey, apiVersion, correlationId, bytes, expectResponse, resolve, reject, timer: null, state: 'queued' }
      if (timeoutMs > 0) p.timer = setTimeout(() => this.onTimeout(p, timeoutMs), timeoutMs)
      this.queued.push(p)
      this.pump()
    })
  }

  /** Closes the connection; everything waiting rejects with NETWORK_EXCEPTION. */
  close(): void {
    this.fail(networkError(`connection to ${this.address} closed by the client`))
  }

  private pump(): void {
    while (this.queued.length > 0 && this.inFlight.length < this.options.maxInFlightRequestsCount && !this.closedWith) {
      const p = this.queued.shift()!
      p.state = 'in-flight'
      if (p.expectResponse) this.inFlight.push(p)
      this.socket.cork()
      for (const b of p.bytes) this.socket.write(b)
      this.socket.uncork()
      if (!p.expectResponse) this.settle(p, null)
    }
  }

  private onTimeout(p: Pending, timeoutMs: number): void {
    const name = apiInfo(p.apiKey)?.name ?? `API ${p.apiKey}`
    const error = timeoutError(`${name} request to ${this.address} timed out after ${timeoutMs} ms`)
    if (p.state === 'queued') {
      this.queued.splice(this.queued.indexOf(p), 1)
      this.settle(p, error)
    } else if (p.state === 'in-flight') {
      this.settle(p, error)
      this.fail(networkError(`connection to ${this.address} closed: a request timed out`))
    }
  }

  private settle(p: Pending, result: Uint8Array | null | Error): void {
    if (p.state === 'done') return
    p.state = 'done'
    if (p.timer) clearTimeout(p.timer)
    if (result instanceof Error) p.reject(result)
    else p.resolve(result)
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    for (;;) {
      if (this.frameSize < 0) {
        if (this.buffered < 4) return
        const size = this.take(4).readInt32BE(0)
        const max = this.options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES
        if (size < 4 || size > max) {
          this.fail(new KafkaError(ErrorCode.CORRUPT_MESSAGE, `a response frame of ${size} bytes from ${this.address} (limit ${max})`))
          return
        }
        this.frameSize = size
      }
      if (this.buffered < this.frameSize) return
      const frame = this.take(this.frameSize)
      this.frameSize = -1
      this.onFrame(frame)
      if (this.closedWith) return
    }
  }

  /** The next n buffered bytes (n <= buffered), without a copy when one chunk holds them. */
  private take(n: number): Buffer {
    const first = this.chunks[0]!
    let out: Buffer
    if (first.length >= n) {
      out = first.subarray(0, n)
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
    } else {
      out = Buffer.allocUnsafe(n)
      let at = 0
      while (at < n) {
        const c = this.chunks[0]!
        const k = Math.min(c.length, n - at)
        c.copy(out, at, 0, k)
        at += k
        if (k === c.length) this.chunks.shift()
        else this.chunks[0] = c.subarray(k)
      }
    }
    this.buffered -= n
    return out
  }

  private onFrame(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0)
    const head = this.inFlight.shift()
    if (head === undefined || head.correlationId !== correlationId) {
      const expected = head === undefined ? 'none was expected' : `expected ${head.correlationId}`
      if (head) this.inFlight.unshift(head)
      this.fail(new KafkaError(ErrorCode.CORRUPT_MESSAGE, `response with correlation id ${correlationId} from ${this.address}: ${expected}`, { retriable: true }))
      return
    }
    this.settle(head, frame)
    this.pump()
  }

  private fail(error: Error): void {
    if (this.closedWith) return
    this.closedWith = error
    this.logger.debug(error.message)
    this.socket.destroy()
    for (const p of this.inFlight.splice(0)) this.settle(p, error)
    for (const p of this.queued.splice(0)) this.settle(p, error)
    for (const l of this.closeListeners.splice(0)) l(error)
  }
}
