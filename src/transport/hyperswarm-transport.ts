/// <reference path="./hyperswarm-modules.d.ts" />
/**
 * HyperswarmTransport — peers found by the cluster's topic on a hyperswarm DHT (Node only):
 * NAT traversal and Noise encryption come with it. listen() joins the topic as server and
 * client; every connection hyperswarm makes becomes a stream, with both Noise public keys in
 * its StreamInfo. There is no dialling by address (connect() rejects): discovery is by topic.
 *
 * hyperswarm and hyperdht are imported lazily, by listen() and startDhtBootstrap() only, so
 * that Deno and Bun (whose runtimes cannot load their UDP add-on) never load them; the bundle
 * keeps them external (scripts/build.mjs). hyperdht is pinned at 6.32.0 (DESIGN.md: 6.34's
 * first connection on a local testnet takes ~36 s).
 *
 * The DHT is always named: a `dht` node (tests: hyperdht's testnet.createNode()), `bootstrap`
 * nodes of a private DHT, or `publicDht: true`; without one the constructor throws, so that
 * nothing reaches the public DHT by accident. The transport owns the DHT node it is given or
 * makes: close() destroys it.
 */
import { Buffer } from 'node:buffer'
import { createSocket } from 'node:dgram'
import { type Logger, silentLogger } from '../runtime/logger.ts'
import { runtime } from '../runtime/platform.ts'
import { topicBytes } from './topic.ts'
import type { PeerStream, StreamInfo, Transport } from './transport.ts'

export interface DhtAddress {
  host: string
  port: number
}

export interface KeyPair {
  publicKey: Uint8Array
  secretKey: Uint8Array
}

export interface HyperswarmTransportOptions {
  /** 32 bytes: clusterTopic(secret). */
  topic: Uint8Array
  /** Bootstrap nodes of a private DHT (`peerlog dht-bootstrap`). */
  bootstrap?: DhtAddress[]
  /** A HyperDHT node to run on (taken over: close() destroys it). */
  dht?: unknown
  /** Allows the public DHT when neither `bootstrap` nor `dht` is given. */
  publicDht?: boolean
  /** The node's Noise key pair (default: a new random one). */
  keyPair?: KeyPair
  /**
   * UDP host the DHT node made for `bootstrap` binds to. Default: 127.0.0.1 when every
   * bootstrap node is on loopback (bound to 0.0.0.0, a loopback DHT's first connection times
   * out: DESIGN.md), else 0.0.0.0.
   */
  dhtHost?: string
  /** Connections hyperswarm keeps at most (its maxPeers). */
  peersMax?: number
  /**
   * How long listen() waits for the first announce on the DHT. Past it, listen() resolves with
   * a warning and the swarm keeps trying (a DHT that is down now may be up later).
   */
  announceWaitMaxMs?: number
  /**
   * How long close() waits for a graceful leave (unannounce, servers closed) before it tears
   * the swarm down without one; a DHT that does not answer would hold it for several seconds.
   */
  closeWaitMaxMs?: number
  logger?: Logger
}

export const hyperswarmDefaults = {
  peersMax: 64,
  announceWaitMaxMs: 30_000,
  closeWaitMaxMs: 2_000,
}

/** The part of a hyperswarm connection (a @hyperswarm/secret-stream NoiseSecretStream) used here. */
interface SwarmConnection extends PeerStream {
  readonly remotePublicKey: Uint8Array
  readonly publicKey: Uint8Array
  readonly isInitiator: boolean
  once(event: 'close', listener: () => void): this
}

interface Swarm {
  readonly keyPair: KeyPair
  on(event: 'connection', listener: (connection: SwarmConnection) => void): void
  join(topic: Uint8Array, options: { server: boolean; client: boolean }): { flushed(): Promise<void> }
  readonly dht: { destroy(options: { force: boolean }): Promise<void> }
  destroy(options?: { force?: boolean }): Promise<void>
}

type SwarmConstructor = new (options: Record<string, unknown>) => Swarm

interface DhtNode {
  ready(): Promise<void>
  address(): { host: string; port: number } | null
  destroy(): Promise<void>
}

interface DhtConstructor {
  new (options: Record<string, unknown>): DhtNode
  bootstrapper(port: number, host: string, options: Record<string, unknown>): DhtNode
}

function requireNode(what: string): void {
  const name = runtime().name
  if (name !== 'node') {
    throw new Error(`${what} runs on Node only (hyperswarm's UDP add-on does not load on ${name}); use the tcp transport`)
  }
}

async function loadSwarm(): Promise<SwarmConstructor> {
  return (await import('hyperswarm')).default as SwarmConstructor
}

async function loadDht(): Promise<DhtConstructor> {
  return (await import('hyperdht')).default as DhtConstructor
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.')
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

export class HyperswarmTransport implements Transport {
  readonly name = 'hyperswarm'
  private readonly options: HyperswarmTransportOptions
  private readonly logger: Logger
  private swarm: Swarm | null = null
  private started = false
  private closed = false
  private closing: Promise<void> | null = null
  private readonly streams = new Set<SwarmConnection>()

  constructor(options: HyperswarmTransportOptions) {
    if (!(options.topic instanceof Uint8Array) || options.topic.length !== topicBytes) {
      throw new Error(`hyperswarm transport: the topic must be ${topicBytes} bytes`)
    }
    const hasBootstrap = options.bootstrap !== undefined && options.bootstrap.length > 0
    if (!hasBootstrap && options.dht === undefined && options.publicDht !== true) {
      throw new Error('hyperswarm transport: no DHT named; give `bootstrap` nodes or a `dht` node, or `publicDht: true` to use the public DHT')
    }
    this.options = options
    this.logger = options.logger ?? silentLogger
  }

  /** Joins the topic; resolves once this node is announced (others can find it), or after announceWaitMaxMs. */
  async listen(onStream: (stream: PeerStream, info: StreamInfo) => void): Promise<void> {
    if (this.closed) throw new Error('hyperswarm transport is closed')
    if (this.started) throw new Error('hyperswarm transport is already listening')
    requireNode('the hyperswarm transport')
    this.started = true
    const Hyperswarm = await loadSwarm()
    let dht = this.options.dht
    const bootstrap = this.options.bootstrap ?? []
    if (dht === undefined && bootstrap.length > 0) {
      const HyperDHT = await loadDht()
      const host = this.options.dhtHost ?? (bootstrap.every((b) => isLoopback(b.host)) ? '127.0.0.1' : '0.0.0.0')
      dht = new HyperDHT({ bootstrap, host })
    }
    if (this.closed) {
      if (dht !== undefined) await (dht as DhtNode).destroy()
      throw new Error('hyperswarm transport was closed while starting')
    }
    const swarm = new Hyperswarm({
      ...(dht === undefined ? {} : { dht }),
      ...(this.options.keyPair === undefined ? {} : { keyPair: this.options.keyPair }),
      maxPeers: this.options.peersMax ?? hyperswarmDefaults.peersMax,
    })
    this.swarm = swarm
    swarm.on('connection', (connection) => this.accept(connection, onStream))
    const announced = swarm.join(this.options.topic, { server: true, client: true }).flushed()
    const waitMs = this.options.announceWaitMaxMs ?? hyperswarmDefaults.announceWaitMaxMs
    const inTime = await within(announced, waitMs)
    if (this.closed) throw new Error('hyperswarm transport was closed while starting')
    if (inTime) this.logger.debug(`hyperswarm joined the topic as ${this.address()}`)
    else this.logger.warn(`hyperswarm: not announced on the DHT after ${waitMs} ms; still trying`)
  }

  connect(_address: string): Promise<{ stream: PeerStream; info: StreamInfo }> {
    return Promise.reject(new Error('the hyperswarm transport does not dial addresses: its peers are found by the cluster topic'))
  }

  /** This node's Noise public key in hex, once listening. */
  address(): string | null {
    return this.swarm !== null && !this.closed ? hex(this.swarm.keyPair.publicKey) : null
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true
      for (const stream of this.streams) stream.destroy()
      const swarm = this.swarm
      if (swarm === null) return
      const waitMs = this.options.closeWaitMaxMs ?? hyperswarmDefaults.closeWaitMaxMs
      if (!(await within(swarm.destroy(), waitMs))) {
        this.logger.debug(`hyperswarm: no graceful leave within ${waitMs} ms; tearing down`)
        // The DHT first: its pending queries fail at once, which is what a leave waits for.
        await swarm.dht.destroy({ force: true })
        await swarm.destroy({ force: true })
      }
    })()
    return this.closing
  }

  private accept(connection: SwarmConnection, onStream: (stream: PeerStream, info: StreamInfo) => void): void {
    const remote = hex(connection.remotePublicKey)
    connection.on('error', (error) => this.logger.debug(`hyperswarm ${remote}: ${error.message}`))
    if (this.closed) {
      connection.destroy()
      return
    }
    this.streams.add(connection)
    connection.once('close', () => this.streams.delete(connection))
    onStream(connection, {
      transport: 'hyperswarm',
      remote,
      initiator: connection.isInitiator,
      remotePublicKey: connection.remotePublicKey,
      localPublicKey: connection.publicKey,
    })
  }
}

/** True when `promise` settles within `ms` (its rejection counts: the caller only waits). */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const settled = promise.then(() => true, () => true)
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
  const inTime = await Promise.race([settled, late])
  clearTimeout(timer)
  return inTime
}

export interface DhtBootstrapNode {
  readonly host: string
  readonly port: number
  close(): Promise<void>
}

/**
 * Runs a DHT bootstrap node on host:port (UDP) for a private DHT: swarms given it as
 * `bootstrap` find each other without the public DHT. Port 0 takes a free port. The host must
 * be the IPv4 address the other nodes reach it at (not 0.0.0.0).
 */
export async function startDhtBootstrap(options: { host: string; port: number }): Promise<DhtBootstrapNode> {
  requireNode('a DHT bootstrap node')
  const HyperDHT = await loadDht()
  const port = options.port === 0 ? await freeUdpPort(options.host) : options.port
  const node = HyperDHT.bootstrapper(port, options.host, { host: options.host })
  try {
    await node.ready()
  } catch (error) {
    await node.destroy()
    throw new Error(`cannot start a DHT bootstrap node on ${options.host}:${port}: ${(error as Error).message}`, { cause: error })
  }
  return { host: options.host, port: node.address()?.port ?? port, close: () => node.destroy() }
}

/** A UDP port free at the time of asking (hyperdht's bootstrapper wants a fixed one). */
function freeUdpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4')
    socket.once('error', reject)
    socket.bind(0, host, () => {
      const { port } = socket.address()
      socket.close(() => resolve(port))
    })
  })
}
