/**
 * The peer-link actor shell: one per connected, authenticated peer, around state.ts. It
 * starts the PeerConnection (framing, correlation and backpressure are the connection's),
 * ticks on the injected timers (heartbeats, session timeout), hands what the peer sends to
 * the peer node (its host) and closes the link when told or when the peer goes silent.
 *
 * Backpressure reaches the peer: a one-way message holds its delivery slot on the connection
 * until the actor has handled it, and a request until the node has answered it, so the
 * actor's mailbox holds at most the connection's deliveriesPendingMax messages from the peer
 * (plus its own ticks and the node's sends).
 *
 * When the link closes (any side, any reason) the actor tells the host once, clears its
 * timer and stops.
 */
import { dispatch, type Ref, spawn, stop as stopActor } from 'nact'
import type { Membership, OneWayMessage, RequestBody, ResponseBody } from '../../src/protocol/peer/messages.ts'
import { PeerError, type PeerCloseInfo, type PeerConnection } from '../../src/protocol/peer/peer-connection.ts'
import type { Clock } from '../../src/runtime/clock.ts'
import type { Logger } from '../../src/runtime/logger.ts'
import type { TimerHandle, Timers } from '../../src/sim/sim-clock.ts'
import type { PeerLinkMessage } from './messages.ts'
import { initialPeerLinkState, type PeerLinkEffect, type PeerLinkState, type PeerLinkTiming, step } from './state.ts'

/** What the actor reports to (the peer node). */
export interface PeerLinkHost {
  heard(link: PeerLink): void
  gossip(link: PeerLink, message: Membership): void
  request(link: PeerLink, body: RequestBody): ResponseBody | Promise<ResponseBody>
  closed(link: PeerLink, info: PeerCloseInfo): void
  /** Every message from the peer that reached the actor (tests check what did and did not). */
  observe?(link: PeerLink, message: OneWayMessage | RequestBody): void
}

export interface PeerLinkOptions {
  /** Authenticated and not started: the actor starts it. */
  connection: PeerConnection
  host: PeerLinkHost
  timing: PeerLinkTiming
  clock: Clock
  timers: Timers
  logger: Logger
}

export interface PeerLink {
  readonly ref: Ref<PeerLinkMessage>
  readonly connection: PeerConnection
  readonly remoteNodeId: number
  /** Sends a one-way message to the peer (dropped once the link is closing). */
  send(message: OneWayMessage): void
  /** Says goodbye (`shutdown`) and closes. */
  close(detail: string): void
}

/** How often the actor ticks, from the heartbeat interval: session timeouts are seen within this. */
export function tickIntervalMs(timing: PeerLinkTiming): number {
  return Math.max(1, Math.floor(timing.peerHeartbeatIntervalMs / 2))
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e))

export function spawnPeerLink(parent: Ref<any>, name: string, options: PeerLinkOptions): PeerLink {
  const { connection, host, timing, clock, timers, logger } = options
  const remoteNodeId = connection.remoteNodeId
  const label = `peer link to node ${remoteNodeId} (${connection.info.transport} ${connection.info.remote})`
  let timer: TimerHandle | null = null
  let stopped = false

  const execute = (e: PeerLinkEffect): void => {
    switch (e.type) {
      case 'send':
        connection.send(e.message).catch((err: unknown) => {
          // send-queue-full drops it (gossip and heartbeats are periodic); a closed link says so by itself.
          if (!(err instanceof PeerError && err.code === 'link-closed')) logger.debug(`${label}: ${e.message.type} not sent: ${errorText(err)}`)
        })
        return
      case 'close':
        connection.close(e.detail)
        return
      case 'heard':
        host.heard(link)
        return
      case 'deliver':
        if (e.message.type === 'membership') host.gossip(link, e.message)
        return
      case 'done':
        e.done()
        return
      case 'handle-request': {
        let answer: ResponseBody | Promise<ResponseBody>
        try {
          answer = host.request(link, e.body)
        } catch (err) {
          e.fail(err as Error)
          return
        }
        Promise.resolve(answer).then(e.reply, e.fail)
        return
      }
      case 'refuse-request':
        e.fail(new Error(e.reason))
        return
      case 'closed':
        stopped = true
        if (timer !== null) timers.clearTimeout(timer)
        timer = null
        host.closed(link, e.info)
        stopActor(ref)
        return
      case 'log':
        logger[e.level](`${label}: ${e.message}`)
        return
      default: {
        const _: never = e
        throw new Error(`peer link: unknown effect ${JSON.stringify(_)}`)
      }
    }
  }

  const ref = spawn(
    parent,
    (state: PeerLinkState, msg: PeerLinkMessage) => {
      if (host.observe !== undefined && (msg.type === 'received' || msg.type === 'request')) {
        host.observe(link, msg.type === 'received' ? msg.message : msg.body)
      }
      let r
      try {
        r = step(state, msg, clock.now())
      } catch (err) {
        // A broken invariant: this link cannot be trusted; the node redials.
        logger.error(`${label}: ${errorText(err)}; closing the link`)
        if (msg.type === 'received') msg.done()
        if (msg.type === 'request') msg.fail(err as Error)
        connection.close('internal error')
        return state
      }
      for (const e of r.effects) execute(e)
      return r.state
    },
    name,
    { initialState: initialPeerLinkState(remoteNodeId, timing, clock.now()) },
  ) as Ref<PeerLinkMessage>

  const link: PeerLink = {
    ref,
    connection,
    remoteNodeId,
    send: (message) => dispatch(ref, { type: 'send', message }),
    close: (detail) => dispatch(ref, { type: 'close', detail }),
  }

  const everyMs = tickIntervalMs(timing)
  const tick = (): void => {
    timer = null
    if (stopped) return
    dispatch(ref, { type: 'tick', lastReceivedMs: connection.lastReceivedMs })
    timer = timers.setTimeout(tick, everyMs)
  }
  timer = timers.setTimeout(tick, everyMs)

  connection.start({
    onMessage: (message) => new Promise<void>((done) => dispatch(ref, { type: 'received', message, done })),
    onRequest: (body) => new Promise<ResponseBody>((reply, fail) => dispatch(ref, { type: 'request', body, reply, fail })),
  })
  void connection.closed.then((info) => dispatch(ref, { type: 'closed', info }))
  return link
}
