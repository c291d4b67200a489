/**
 * Test helpers for the peer protocol: an in-memory duplex pair with real backpressure (a side
 * that stops reading stalls the other's writes once both high-water marks are full), links
 * authenticated over it, and a raw peer that speaks frames by hand (for forged and malformed
 * input). Every wait is bounded.
 */
import { Duplex } from 'node:stream'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { RecordingLogger } from '../../../src/runtime/logger.ts'
import { authProof, deriveAuthKey } from '../../../src/protocol/peer/auth.ts'
import { decodeFrameBody, encodeFrame, FrameDecoder } from '../../../src/protocol/peer/frame-codec.ts'
import { type Hello, parsePeerMessage, type PeerMessage, PROTOCOL_VERSION_MAJOR, PROTOCOL_VERSION_MINOR } from '../../../src/protocol/peer/messages.ts'
import {
  PeerConnection,
  type PeerConnectionOptions,
  type PeerHandler,
} from '../../../src/protocol/peer/peer-connection.ts'
import type { StreamInfo } from '../../../src/transport/transport.ts'
import type { OneWayMessage, RequestBody, ResponseBody } from '../../../src/protocol/peer/messages.ts'

export const CLUSTER = 'test-cluster'
export const SECRET = new TextEncoder().encode('the cluster secret')
export const KEY = deriveAuthKey(SECRET)

/** One end of an in-memory pipe; writes become the other end's reads, in order. */
class PipeEnd extends Duplex {
  other!: PipeEnd
  /** The other end's write callback, held while this end's read buffer is full. */
  private heldWrite: (() => void) | null = null

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (e?: Error | null) => void): void {
    if (this.other.destroyed) return callback()
    if (this.other.push(chunk)) callback()
    else this.other.heldWrite = () => callback()
  }

  override _read(): void {
    const held = this.heldWrite
    this.heldWrite = null
    held?.()
  }

  override _final(callback: (e?: Error | null) => void): void {
    if (!this.other.destroyed) this.other.push(null)
    callback()
  }

  override _destroy(error: Error | null, callback: (e?: Error | null) => void): void {
    const held = this.heldWrite
    this.heldWrite = null
    held?.()
    // as a reset TCP connection: the other end goes away too
    if (!this.other.destroyed) queueMicrotask(() => this.other.destroy())
    callback(error)
  }
}

/** Two connected ends; `highWaterMark` bytes on each side of each end. */
export function duplexPair(highWaterMark = 16 * 1024): [PipeEnd, PipeEnd] {
  const a = new PipeEnd({ highWaterMark, allowHalfOpen: false })
  const b = new PipeEnd({ highWaterMark, allowHalfOpen: false })
  a.other = b
  b.other = a
  return [a, b]
}

export function streamInfo(initiator: boolean, keys?: { local: Uint8Array; remote: Uint8Array }): StreamInfo {
  return {
    transport: 'sim',
    remote: initiator ? 'test:b' : 'test:a',
    initiator,
    localPublicKey: keys?.local ?? null,
    remotePublicKey: keys?.remote ?? null,
  }
}

export function options(nodeId: number, over: Partial<PeerConnectionOptions> = {}): PeerConnectionOptions {
  return { nodeId, clusterName: CLUSTER, authKey: KEY, logger: new RecordingLogger(), ...over }
}

/** Resolves with `p`, or rejects when it takes longer than `ms` (so that a test never hangs). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

/** Lets I/O and promise continuations run until `done()` holds, at most `turnsMax` event-loop turns. */
export async function settle(done: () => boolean = () => false, turnsMax = 200): Promise<boolean> {
  for (let i = 0; i < turnsMax; i++) {
    if (done()) return true
    await nextTurn()
  }
  return done()
}

/** A handler that records what it gets and echoes pings. */
export class RecordingHandler implements PeerHandler {
  readonly messages: OneWayMessage[] = []
  readonly requests: RequestBody[] = []
  onMessage(message: OneWayMessage): void {
    this.messages.push(message)
  }
  onRequest(body: RequestBody): ResponseBody | Promise<ResponseBody> {
    this.requests.push(body)
    return { kind: 'ping', data: body.data }
  }
}

/** Two links authenticated to each other over a duplex pair (node 1 dials node 2). */
export async function linkPair(
  a: Partial<PeerConnectionOptions> = {},
  b: Partial<PeerConnectionOptions> = {},
  highWaterMark?: number,
): Promise<{ a: PeerConnection; b: PeerConnection; ends: [PipeEnd, PipeEnd] }> {
  const ends = duplexPair(highWaterMark)
  const [la, lb] = await within(
    Promise.all([
      PeerConnection.establish(ends[0], streamInfo(true), options(1, a)),
      PeerConnection.establish(ends[1], streamInfo(false), options(2, b)),
    ]),
    5_000,
    'handshake',
  )
  return { a: la, b: lb, ends }
}

/** The peer side done by hand: reads frames, writes whatever the test says. */
export class RawPeer {
  readonly received: PeerMessage[] = []
  readonly decoder = new FrameDecoder(1 << 30)
  ended = false
  constructor(readonly end: PipeEnd) {
    end.on('data', (chunk: Uint8Array) => {
      this.decoder.push(chunk)
      for (let f = this.decoder.next(); f !== null; f = this.decoder.next()) {
        const parsed = parsePeerMessage(decodeFrameBody(f))
        if (parsed.ok !== true) throw new Error(`the link sent something outside the union: ${JSON.stringify(parsed)}`)
        this.received.push(parsed.message)
      }
    })
    end.on('end', () => (this.ended = true))
    end.on('error', () => {})
  }

  send(message: unknown): void {
    for (const c of encodeFrame(message)) this.end.write(c)
  }

  write(bytes: Uint8Array): void {
    this.end.write(bytes)
  }

  async next(type: PeerMessage['type'], ms = 2_000): Promise<PeerMessage> {
    const found = (): PeerMessage | undefined => this.received.find((m) => m.type === type)
    await within((async () => { while (!found()) await nextTurn() })(), ms, `waiting for ${type}`)
    return found()!
  }

  /** A hello as node `nodeId` would send it. */
  hello(nodeId: number, challenge: Uint8Array, over: Partial<Hello> = {}): Hello {
    return {
      type: 'hello',
      versionMajor: PROTOCOL_VERSION_MAJOR,
      versionMinor: PROTOCOL_VERSION_MINOR,
      nodeId,
      clusterName: CLUSTER,
      challenge,
      requestsInFlightMax: 64,
      frameMaxBytes: 16 * 1024 * 1024,
      ...over,
    }
  }

  /** Completes the handshake as node `nodeId` knowing `key`; resolves with the link's hello. */
  async authenticate(nodeId: number, key: Uint8Array = KEY, challenge = new Uint8Array(32).fill(nodeId)): Promise<Hello> {
    this.send(this.hello(nodeId, challenge))
    const theirs = (await this.next('hello')) as Hello
    const proof = authProof(key, CLUSTER, { nodeId, challenge, publicKey: null }, { nodeId: theirs.nodeId, challenge: theirs.challenge, publicKey: null })
    this.send({ type: 'auth-response', proof })
    return theirs
  }
}
