/**
 * PeerNode — a broker node's side of the cluster: the shell around the membership state
 * machine (membership.ts). It owns the node's transports (TCP, hyperswarm, both; the simulated
 * network in tests), accepts their streams and dials what the membership says, runs the
 * authentication handshake on every stream (PeerConnection), reduces two links to one node to
 * one (dedupe.ts's LinkTable), and spawns a peer-link actor per kept link. Nothing from a peer
 * reaches an actor before its handshake proved the cluster secret: a stream is a
 * PeerConnection until then, and PeerConnection delivers nothing before `start()`, which only
 * the actor calls.
 *
 *   const node = new PeerNode({ nodeId: 1, clusterName, secret, transports: [new TcpTransport({ port: 9093 })] })
 *   await node.start()
 *   node.members()   // the view, this node included
 *   await node.stop() // goodbye to every peer, then the transports close
 *
 * Inputs to the membership are applied one at a time, in order (re-entrant calls queue). Time
 * comes from the injected clock and timers, so that on the simulated network (SimClock) a run
 * replays: give `challenge` a seeded source too, since the dedupe rule reads the session ids.
 *
 * Bounds: handshakesPendingMax (streams not yet authenticated; more are refused at once, so a
 * flood of connections cannot make the node hold state for each), stopWaitMaxMs (how long
 * stop() waits for the peers to answer the goodbye before the transports close), and the
 * membership's (peerTimingDefaults).
 */
import { randomBytes } from 'node:crypto'
import { start as startActorSystem, stop as stopActor, type Ref } from 'nact'
import { type PeerLink, type PeerLinkHost, spawnPeerLink } from '../../actors/peer-link/actor.ts'
import { deriveAuthKey } from '../protocol/peer/auth.ts'
import { LinkTable } from '../protocol/peer/dedupe.ts'
import {
  CHALLENGE_BYTES,
  listensMax,
  type MemberListen,
  type OneWayMessage,
  type RequestBody,
  type RequestKind,
  type ResponseBody,
  TRANSPORT_NAMES,
  type TransportName,
} from '../protocol/peer/messages.ts'
import { PeerConnection, type PeerConnectionOptions, PeerError } from '../protocol/peer/peer-connection.ts'
import { type Clock, systemClock } from '../runtime/clock.ts'
import { type Logger, silentLogger } from '../runtime/logger.ts'
import { runtime as currentRuntime, type RuntimeName } from '../runtime/platform.ts'
import type { TimerHandle, Timers } from '../sim/sim-clock.ts'
import { formatHostPort, parseHostPort } from '../transport/tcp-transport.ts'
import type { PeerStream, StreamInfo, Transport } from '../transport/transport.ts'
import {
  initialMembership,
  type MemberView,
  type MembershipEffect,
  type MembershipInput,
  type MembershipState,
  type PeerTiming,
  step,
  view,
} from './membership.ts'

/** The connection settings a peer node may tune (the rest are its own). */
export type PeerConnectionTuning = Omit<PeerConnectionOptions, 'nodeId' | 'clusterName' | 'authKey' | 'logger' | 'clock' | 'timers' | 'challenge'>

export interface PeerNodeOptions {
  nodeId: number
  clusterName: string
  /** The cluster secret (the secret file's bytes). */
  secret: Uint8Array
  /** Each is listened on by start() and closed by stop(); the node owns them. */
  transports: readonly Transport[]
  /** Addresses dialled with the first transport that dials (tcp, or sim in tests). */
  seeds?: readonly string[]
  /** host:port of this node's Kafka listener, as clients reach it. */
  kafkaListener?: string | null
  /** Default: the runtime running this. */
  runtime?: RuntimeName
  /** Advertised instead of 0.0.0.0 / :: for a TCP transport bound to every interface. */
  advertisedHost?: string
  timing?: Partial<PeerTiming>
  connection?: PeerConnectionTuning
  clock?: Clock
  timers?: Timers
  /** CHALLENGE_BYTES fresh bytes per handshake (default: crypto). */
  challenge?: () => Uint8Array
  logger?: Logger
  handshakesPendingMax?: number
  stopWaitMaxMs?: number
  /** Every message from a peer that reached a peer-link actor (tests check what did not). */
  observe?: (fromNodeId: number, message: OneWayMessage | RequestBody) => void
}

export const peerNodeDefaults = {
  handshakesPendingMax: 64,
  stopWaitMaxMs: 3_000,
}

/**
 * The goodbye detail of a node that stops, which its peers take as "it left". A goodbye's
 * reason is `shutdown` both for that and for a link the peer dropped (session timeout), so the
 * detail tells them apart.
 */
export const LEAVING_DETAIL = 'the node is stopping'

/** The membership ticks (ages members, dials what is due) at least this often. */
const membershipTickMaxMs = 250

/** Transports that dial addresses; hyperswarm finds its peers by the topic. */
const DIALLING: readonly TransportName[] = ['tcp', 'sim']

let systemTimerIds = 0
/** The system's timers, unref'd: a peer node alone never keeps a process alive. */
const systemTimers: Timers = {
  setTimeout(callback, ms) {
    const handle = setTimeout(callback, ms)
    handle.unref?.()
    return { id: ++systemTimerIds, handle } as TimerHandle
  },
  clearTimeout(h) {
    clearTimeout((h as TimerHandle & { handle: ReturnType<typeof setTimeout> }).handle)
  },
}

interface LinkEntry {
  readonly connection: PeerConnection
  readonly remoteNodeId: number
  readonly initiator: boolean
  readonly sessionId: string
  link: PeerLink | null
  close(detail: string, reason: 'duplicate-connection'): void
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e))

function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === ''
}

export class PeerNode {
  readonly nodeId: number
  readonly clusterName: string
  private readonly options: PeerNodeOptions
  private readonly clock: Clock
  private readonly timers: Timers
  private readonly logger: Logger
  private readonly authKey: Uint8Array
  private readonly timing: PeerTiming
  private readonly byName = new Map<string, Transport>()
  private readonly table: LinkTable<LinkEntry>
  private readonly handshakes = new Set<PeerConnection>()
  private readonly listeners = new Set<(members: MemberView[]) => void>()
  private readonly system: Ref<any>
  private state: MembershipState
  private readonly queue: MembershipInput[] = []
  private applying = false
  private tickTimer: TimerHandle | null = null
  private started = false
  private stopping: Promise<void> | null = null
  private linkSeq = 0

  constructor(options: PeerNodeOptions) {
    this.options = options
    this.nodeId = options.nodeId
    this.clusterName = options.clusterName
    this.clock = options.clock ?? systemClock
    this.timers = options.timers ?? systemTimers
    this.logger = options.logger ?? silentLogger
    this.authKey = deriveAuthKey(options.secret)
    for (const t of options.transports) {
      if (!(TRANSPORT_NAMES as readonly string[]).includes(t.name)) throw new Error(`peer node: unknown transport '${t.name}'`)
      if (this.byName.has(t.name)) throw new Error(`peer node: two ${t.name} transports`)
      this.byName.set(t.name, t)
    }
    const dialable = DIALLING.filter((name) => this.byName.has(name))
    const seeds = options.seeds ?? []
    if (seeds.length > 0 && dialable.length === 0) throw new Error('peer node: seeds need a transport that dials (tcp)')
    this.table = new LinkTable<LinkEntry>(options.nodeId)
    this.state = initialMembership({
      self: { nodeId: options.nodeId, kafkaListener: options.kafkaListener ?? null, runtime: options.runtime ?? currentRuntime().name, listens: [] },
      dialable,
      seeds: seeds.map((address) => ({ transport: dialable[0]!, address })),
      ...(options.timing === undefined ? {} : { timing: options.timing }),
      now: this.clock.now(),
    })
    this.timing = this.state.timing
    this.system = startActorSystem()
  }

  /** Listens on every transport, then starts gossiping and dialling. */
  async start(): Promise<void> {
    if (this.started) throw new Error('peer node: already started')
    this.started = true
    try {
      for (const t of this.options.transports) {
        await t.listen((stream, info) => this.handshake(stream, info, null))
      }
    } catch (err) {
      await this.stop()
      throw err
    }
    const listens = this.listens()
    this.apply({ type: 'listens', listens })
    this.logger.info(`peer node ${this.nodeId} in cluster '${this.clusterName}': ${listens.map((l) => `${l.transport} ${l.address}`).join(', ') || 'no listen address'}`)
    this.scheduleTick()
  }

  /** Where peers reach this node, per transport. */
  listens(): MemberListen[] {
    const out: MemberListen[] = []
    for (const t of this.options.transports) {
      let address = t.address()
      if (address === null) continue
      if (t.name === 'tcp') {
        const { host, port } = parseHostPort(address)
        if (isUnspecified(host)) address = formatHostPort(this.options.advertisedHost ?? '127.0.0.1', port)
      }
      out.push({ transport: t.name as TransportName, address })
    }
    return out.slice(0, listensMax)
  }

  /** The membership view, this node included, by node id. */
  members(): MemberView[] {
    return view(this.state, this.clock.now())
  }

  /** Calls `listener` with the view after each change; returns the unsubscribe. */
  onChange(listener: (members: MemberView[]) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Node ids with a link now. */
  linked(): number[] {
    return this.members().filter((m) => m.link !== null).map((m) => m.nodeId)
  }

  /** A request to a linked node. */
  request<K extends RequestKind>(nodeId: number, body: RequestBody<K>, timeoutMs?: number): Promise<ResponseBody<K>> {
    const entry = this.table.get(nodeId)
    if (entry === undefined || entry.link === null) return Promise.reject(new PeerError('not-open', `no link to node ${nodeId}`))
    return entry.connection.request(body, timeoutMs)
  }

  /** Says goodbye to every peer, waits (at most stopWaitMaxMs) for them, closes the transports. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.tickTimer !== null) this.timers.clearTimeout(this.tickTimer)
      this.tickTimer = null
      const conns = [...this.handshakes]
      for (const m of this.members()) {
        const entry = this.table.get(m.nodeId)
        if (entry !== undefined) conns.push(entry.connection)
      }
      for (const c of conns) c.close(LEAVING_DETAIL)
      const waitMs = this.options.stopWaitMaxMs ?? peerNodeDefaults.stopWaitMaxMs
      await this.within(Promise.all(conns.map((c) => c.closed)), waitMs)
      await Promise.all(this.options.transports.map((t) => t.close().catch((err: unknown) => this.logger.warn(`closing the ${t.name} transport: ${errorText(err)}`))))
      stopActor(this.system)
      this.logger.info(`peer node ${this.nodeId} stopped`)
    })()
    return this.stopping
  }

  // ------------------------------------------------------------------ the membership

  private apply(input: MembershipInput): void {
    this.queue.push(input)
    if (this.applying) return
    this.applying = true
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
        const r = step(this.state, next, this.clock.now())
        this.state = r.state
        for (const e of r.effects) this.execute(e)
      }
    } finally {
      this.applying = false
    }
  }

  private execute(e: MembershipEffect): void {
    switch (e.type) {
      case 'dial':
        this.dial(e.target, e.transport, e.address)
        return
      case 'gossip':
        if (e.to === 'all') {
          for (const m of this.state.members.values()) this.table.get(m.nodeId)?.link?.send(e.message)
        } else {
          this.table.get(e.to)?.link?.send(e.message)
        }
        return
      case 'log':
        this.logger[e.level](e.message)
        return
      case 'changed': {
        if (this.listeners.size === 0) return
        const members = this.members()
        for (const l of this.listeners) {
          try {
            l(members)
          } catch (err) {
            this.logger.error(`a membership listener failed: ${errorText(err)}`)
          }
        }
        return
      }
      default: {
        const _: never = e
        throw new Error(`peer node: unknown effect ${JSON.stringify(_)}`)
      }
    }
  }

  private scheduleTick(): void {
    const everyMs = Math.max(1, Math.min(membershipTickMaxMs, Math.floor(this.timing.peerHeartbeatIntervalMs / 2)))
    this.tickTimer = this.timers.setTimeout(() => {
      this.tickTimer = null
      if (this.stopping !== null) return
      this.apply({ type: 'tick' })
      this.scheduleTick()
    }, everyMs)
  }

  // ------------------------------------------------------------------ streams and links

  private dial(target: string, transportName: TransportName, address: string): void {
    const transport = this.byName.get(transportName)
    const failed = (reason: string, detail: string): void => {
      if (this.stopping === null) this.apply({ type: 'dial-failed', target, reason, detail })
    }
    if (transport === undefined) {
      failed('no-transport', `this node has no ${transportName} transport`)
      return
    }
    transport.connect(address).then(
      ({ stream, info }) => this.handshake(stream, info, target),
      (err: unknown) => failed((err as { code?: string }).code ?? 'connect-failed', errorText(err)),
    )
  }

  /** Authenticates a new stream; `target` is the dial it answers, if this node dialled. */
  private handshake(stream: PeerStream, info: StreamInfo, target: string | null): void {
    const failed = (reason: string, detail: string): void => {
      if (target !== null && this.stopping === null) this.apply({ type: 'dial-failed', target, reason, detail })
    }
    if (this.stopping !== null) {
      stream.destroy()
      return
    }
    const max = this.options.handshakesPendingMax ?? peerNodeDefaults.handshakesPendingMax
    if (this.handshakes.size >= max) {
      this.logger.warn(`refused a ${info.transport} stream from ${info.remote}: ${this.handshakes.size} handshakes pending, the most allowed`)
      stream.destroy()
      failed('handshakes-pending', 'too many handshakes pending')
      return
    }
    const connection = new PeerConnection(stream, info, {
      ...this.options.connection,
      nodeId: this.nodeId,
      clusterName: this.clusterName,
      authKey: this.authKey,
      logger: this.logger,
      clock: this.clock,
      timers: this.timers,
      challenge: this.options.challenge ?? (() => new Uint8Array(randomBytes(CHALLENGE_BYTES))),
    })
    this.handshakes.add(connection)
    connection.authenticated.then(
      () => {
        this.handshakes.delete(connection)
        this.authenticated(connection, target)
      },
      (err: unknown) => {
        this.handshakes.delete(connection)
        const close = err instanceof PeerError ? err.close : null
        failed(close?.reason ?? 'handshake-failed', close?.detail ?? errorText(err))
      },
    )
  }

  private authenticated(connection: PeerConnection, target: string | null): void {
    if (this.stopping !== null) {
      connection.close(LEAVING_DETAIL)
      return
    }
    const remoteNodeId = connection.remoteNodeId
    if (target !== null) this.apply({ type: 'dial-done', target, nodeId: remoteNodeId })
    const entry: LinkEntry = {
      connection,
      remoteNodeId,
      initiator: connection.initiator,
      sessionId: connection.sessionId,
      link: null,
      close: (detail, reason) => connection.close(detail, reason),
    }
    if (!this.table.offer(entry)) return
    const host: PeerLinkHost = {
      heard: () => this.apply({ type: 'heard', nodeId: remoteNodeId }),
      gossip: (_link, message) => this.apply({ type: 'gossip', from: remoteNodeId, members: message.members }),
      request: (_link, body) => this.answer(remoteNodeId, body),
      closed: (_link, info) => {
        const current = this.table.get(remoteNodeId) === entry
        this.table.remove(entry)
        const left = info.by === 'remote' && info.reason === 'shutdown' && info.detail.endsWith(LEAVING_DETAIL)
        if (current && this.stopping === null) this.apply({ type: 'link-down', nodeId: remoteNodeId, reason: info.reason, by: info.by, left })
      },
      ...(this.options.observe === undefined ? {} : { observe: (_link, message) => this.options.observe!(remoteNodeId, message) }),
    }
    entry.link = spawnPeerLink(this.system, `peer-link-${remoteNodeId}-${++this.linkSeq}`, {
      connection,
      host,
      timing: this.timing,
      clock: this.clock,
      timers: this.timers,
      logger: this.logger,
    })
    this.apply({ type: 'link-up', nodeId: remoteNodeId, transport: connection.info.transport, remote: connection.info.remote })
  }

  /** Requests from peers: the kinds this layer answers itself. */
  private answer(_from: number, body: RequestBody): ResponseBody {
    switch (body.kind) {
      case 'ping':
        return { kind: 'ping', data: body.data }
      default: {
        const _: never = body.kind
        throw new Error(`peer node: no handler for ${JSON.stringify(_)} requests`)
      }
    }
  }

  /** True when `promise` settles within `ms` of the node's timers. */
  private within(promise: Promise<unknown>, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = this.timers.setTimeout(() => resolve(false), ms)
      promise.then(
        () => {
          this.timers.clearTimeout(timer)
          resolve(true)
        },
        () => {
          this.timers.clearTimeout(timer)
          resolve(true)
        },
      )
    })
  }
}

