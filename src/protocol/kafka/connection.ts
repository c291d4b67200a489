/**
 * One client connection: request framing (a 4-byte big-endian size, then the request),
 * responses strictly in request order even though requests are handled concurrently, and the
 * bounds that protect the broker:
 * - a frame larger than `socket.request.max.bytes` (or a negative size) closes the connection,
 *   as Kafka does;
 * - at most `queued.max.requests` requests in flight: beyond, reading pauses until responses
 *   go out; reading also pauses while the socket's write buffer is full (a client that does
 *   not read its responses);
 * - idle for `connections.max.idle.ms` with nothing in flight: closed.
 * A frame is a view of the socket's chunk when it lies inside one (no copy), else it is
 * assembled once into a buffer of its exact size. Responses go out as a gathering write.
 */
import type { Socket } from 'node:net'
import type { Logger } from '../../runtime/logger.ts'
import type { ConnectionContext } from './handlers/context.ts'
import type { Outcome, Router } from './router.ts'

export interface ConnectionLimits {
  maxRequestBytes: number
  maxInFlightRequests: number
  idleMs: number
}

/** After closing our side, how long the peer gets to close before the socket is destroyed. */
export const CLOSE_LINGER_MS = 1_000

interface Slot {
  outcome: Outcome | null
}

export class KafkaConnection implements ConnectionContext {
  readonly remote: string
  produceBarrier: Promise<void> | null = null
  private readonly closedController = new AbortController()
  private readonly queue: Slot[] = []
  /** Bytes received but not yet parsed (only when a frame was left unparsed: paused, or cut). */
  private pendingChunks: Buffer[] = []
  private pendingBytes = 0
  /** The frame being assembled across chunks. */
  private frame: Buffer | null = null
  private frameFilled = 0
  private closing = false
  private closed = false
  private writeBlocked = false
  private paused = false

  constructor(
    readonly id: number,
    private readonly socket: Socket,
    private readonly router: Router,
    private readonly limits: ConnectionLimits,
    private readonly logger: Logger,
    private readonly onClose: (c: KafkaConnection) => void,
  ) {
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`
    socket.setNoDelay(true)
    if (limits.idleMs > 0 && limits.idleMs <= 0x7fffffff) {
      socket.setTimeout(limits.idleMs)
      socket.on('timeout', () => {
        if (this.queue.length === 0) {
          this.logger.debug(`${this.remote}: idle for ${limits.idleMs} ms; closing the connection`)
          this.destroy()
        }
      })
    }
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('drain', () => {
      this.writeBlocked = false
      this.updateFlow()
    })
    socket.on('error', (err) => this.logger.debug(`${this.remote}: ${err.message}`))
    socket.on('close', () => {
      this.closed = true
      this.queue.length = 0
      this.closedController.abort()
      this.onClose(this)
    })
  }

  get closedSignal(): AbortSignal {
    return this.closedController.signal
  }

  get inFlight(): number {
    return this.queue.length
  }

  destroy(): void {
    if (this.closed) return
    this.closing = true
    this.socket.destroy()
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return
    this.pendingChunks.push(chunk)
    this.pendingBytes += chunk.length
    this.parse()
  }

  /** Parses whole frames from the pending bytes while requests may be taken. */
  private parse(): void {
    while (!this.closing && this.queue.length < this.limits.maxInFlightRequests) {
      if (this.frame) {
        if (!this.fillFrame()) break
        const frame = this.frame
        this.frame = null
        this.dispatch(frame)
        continue
      }
      if (this.pendingBytes < 4) break
      const size = this.readSize()
      if (size < 0 || size > this.limits.maxRequestBytes) {
        this.logger.warn(`${this.remote}: request of ${size} bytes exceeds socket.request.max.bytes ${this.limits.maxRequestBytes}; closing the connection`)
        this.closing = true
        this.queue.push({ outcome: { kind: 'close', reason: 'oversize request' } })
        this.flush()
        return
      }
      const head = this.pendingChunks[0]
      if (head && head.length >= size) {
        // The whole frame lies in one chunk: a view, no copy.
        const frame = head.subarray(0, size)
        this.consume(size)
        this.dispatch(frame)
        continue
      }
      this.frame = Buffer.allocUnsafe(size)
      this.frameFilled = 0
    }
    this.updateFlow()
  }

  private readSize(): number {
    let head = this.pendingChunks[0]!
    if (head.length < 4) {
      const joined = Buffer.concat(this.pendingChunks)
      this.pendingChunks = [joined]
      head = joined
    }
    const size = head.readInt32BE(0)
    this.consume(4)
    return size
  }

  /** Drops `n` bytes from the front of the pending chunks. */
  private consume(n: number): void {
    this.pendingBytes -= n
    while (n > 0) {
      const head = this.pendingChunks[0]!
      if (head.length <= n) {
        this.pendingChunks.shift()
        n -= head.length
      } else {
        this.pendingChunks[0] = head.subarray(n)
        n = 0
      }
    }
  }

  /** Copies pending bytes into the frame being assembled; true when it is complete. */
  private fillFrame(): boolean {
    const frame = this.frame!
    while (this.frameFilled < frame.length && this.pendingChunks.length > 0) {
      const head = this.pendingChunks[0]!
      const n = Math.min(head.length, frame.length - this.frameFilled)
      head.copy(frame, this.frameFilled, 0, n)
      this.frameFilled += n
      this.consume(n)
    }
    return this.frameFilled === frame.length
  }

  private dispatch(frame: Uint8Array): void {
    const slot: Slot = { outcome: null }
    this.queue.push(slot)
    const out = this.router.handle(frame, this)
    if (out instanceof Promise) {
      out.then((o) => {
        slot.outcome = o
        this.flush()
      })
    } else {
      slot.outcome = out
      this.flush()
    }
  }

  /** Writes the responses at the head of the queue that are ready, in request order. */
  private flush(): void {
    if (this.closed) return
    let wrote = false
    while (this.queue.length > 0 && this.queue[0]!.outcome !== null) {
      const outcome = this.queue.shift()!.outcome!
      if (outcome.kind === 'close') {
        if (wrote) this.socket.uncork()
        this.closing = true
        this.socket.end()
        setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS).unref()
        this.queue.length = 0
        return
      }
      if (outcome.kind === 'respond') {
        if (!wrote) this.socket.cork()
        wrote = true
        for (const c of outcome.chunks) if (!this.socket.write(c)) this.writeBlocked = true
      }
    }
    if (wrote) this.socket.uncork()
    if (!this.closing) this.parse()
  }

  private updateFlow(): void {
    if (this.closed) return
    const full = this.queue.length >= this.limits.maxInFlightRequests || this.writeBlocked
    if (full && !this.paused) {
      this.paused = true
      this.socket.pause()
    } else if (!full && this.paused) {
      this.paused = false
      this.socket.resume()
    }
  }
}
