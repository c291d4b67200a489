/**
 * The peer-link state machine: pure and synchronous. It keeps the link's liveness (a
 * heartbeat every peerHeartbeatIntervalMs; nothing received for peerSessionTimeoutMs closes
 * the link) and decides where each message goes. Once the link is closing nothing the peer
 * sent is handed on: a link that closed never speaks for its peer again.
 *
 * Phases only move forward: open → closing → closed (asserted).
 */
import type { OneWayMessage, RequestBody, ResponseBody } from '../../src/protocol/peer/messages.ts'
import type { PeerCloseInfo } from '../../src/protocol/peer/peer-connection.ts'
import type { PeerLinkMessage } from './messages.ts'

export interface PeerLinkTiming {
  peerHeartbeatIntervalMs: number
  peerSessionTimeoutMs: number
}

export type PeerLinkPhase = 'open' | 'closing' | 'closed'

const PHASE_ORDER: Readonly<Record<PeerLinkPhase, number>> = { open: 0, closing: 1, closed: 2 }

export interface PeerLinkState {
  readonly remoteNodeId: number
  readonly phase: PeerLinkPhase
  /** When the connection last received a frame, as the last tick said. */
  readonly lastReceivedMs: number
  readonly lastHeartbeatMs: number
  readonly timing: PeerLinkTiming
}

export type PeerLinkEffect =
  | { type: 'send'; message: OneWayMessage }
  | { type: 'close'; detail: string }
  /** The peer is alive (something came in). */
  | { type: 'heard' }
  /** A one-way message for the node (gossip); heartbeats stop at `heard`. */
  | { type: 'deliver'; message: OneWayMessage }
  | { type: 'done'; done: () => void }
  | { type: 'handle-request'; body: RequestBody; reply: (body: ResponseBody) => void; fail: (error: Error) => void }
  | { type: 'refuse-request'; fail: (error: Error) => void; reason: string }
  /** Tell the node the link is gone, then stop the actor. */
  | { type: 'closed'; info: PeerCloseInfo }
  | { type: 'log'; level: 'debug' | 'info' | 'warn'; message: string }

export interface PeerLinkStep {
  state: PeerLinkState
  effects: PeerLinkEffect[]
}

export function initialPeerLinkState(remoteNodeId: number, timing: PeerLinkTiming, now: number): PeerLinkState {
  if (!(timing.peerHeartbeatIntervalMs > 0 && timing.peerHeartbeatIntervalMs < timing.peerSessionTimeoutMs)) {
    throw new Error(`peer link: expected 0 < peerHeartbeatIntervalMs < peerSessionTimeoutMs (${timing.peerHeartbeatIntervalMs}, ${timing.peerSessionTimeoutMs})`)
  }
  // The handshake just came in, and the peer hears from us at once (the node sends its view).
  return { remoteNodeId, phase: 'open', lastReceivedMs: now, lastHeartbeatMs: now, timing }
}

function moveTo(state: PeerLinkState, phase: PeerLinkPhase): PeerLinkState {
  if (PHASE_ORDER[phase] < PHASE_ORDER[state.phase]) throw new Error(`peer link to node ${state.remoteNodeId}: ${state.phase} → ${phase}`)
  return { ...state, phase }
}

export function step(state: PeerLinkState, msg: PeerLinkMessage, now: number): PeerLinkStep {
  switch (msg.type) {
    case 'tick': {
      if (state.phase !== 'open') return { state, effects: [] }
      const effects: PeerLinkEffect[] = []
      let next = state
      if (msg.lastReceivedMs > state.lastReceivedMs) {
        next = { ...next, lastReceivedMs: msg.lastReceivedMs }
        effects.push({ type: 'heard' })
      }
      const silentMs = now - next.lastReceivedMs
      if (silentMs > state.timing.peerSessionTimeoutMs) {
        const detail = `nothing from node ${state.remoteNodeId} in ${silentMs} ms (peerSessionTimeoutMs ${state.timing.peerSessionTimeoutMs})`
        return { state: moveTo(next, 'closing'), effects: [...effects, { type: 'log', level: 'warn', message: `closing the link: ${detail}` }, { type: 'close', detail }] }
      }
      if (now - next.lastHeartbeatMs >= state.timing.peerHeartbeatIntervalMs) {
        next = { ...next, lastHeartbeatMs: now }
        effects.push({ type: 'send', message: { type: 'heartbeat' } })
      }
      return { state: next, effects }
    }
    case 'received': {
      if (state.phase !== 'open') return { state, effects: [{ type: 'done', done: msg.done }] }
      const effects: PeerLinkEffect[] = [{ type: 'heard' }]
      switch (msg.message.type) {
        case 'heartbeat':
          break
        case 'membership':
          effects.push({ type: 'deliver', message: msg.message })
          break
        default: {
          const _: never = msg.message
          throw new Error(`peer link: unknown one-way message ${JSON.stringify(_)}`)
        }
      }
      effects.push({ type: 'done', done: msg.done })
      return { state: { ...state, lastReceivedMs: Math.max(state.lastReceivedMs, now) }, effects }
    }
    case 'request':
      if (state.phase !== 'open') return { state, effects: [{ type: 'refuse-request', fail: msg.fail, reason: `the link is ${state.phase}` }] }
      return { state: { ...state, lastReceivedMs: Math.max(state.lastReceivedMs, now) }, effects: [{ type: 'heard' }, { type: 'handle-request', body: msg.body, reply: msg.reply, fail: msg.fail }] }
    case 'send':
      if (state.phase !== 'open') return { state, effects: [] }
      return { state, effects: [{ type: 'send', message: msg.message }] }
    case 'close':
      if (state.phase !== 'open') return { state, effects: [] }
      return { state: moveTo(state, 'closing'), effects: [{ type: 'close', detail: msg.detail }] }
    case 'closed':
      if (state.phase === 'closed') return { state, effects: [] }
      return { state: moveTo(state, 'closed'), effects: [{ type: 'closed', info: msg.info }] }
    default: {
      const _: never = msg
      throw new Error(`peer link: unknown message ${JSON.stringify(_)}`)
    }
  }
}
