/**
 * Membership — the cluster as one node sees it, as a pure state machine:
 * `step(state, input, now) -> { state, effects }`. The peer node (peer-node.ts) feeds it what
 * its links report and executes what it decides (dial, gossip, log); it never does I/O.
 *
 * The view holds, per other node: node id, advertised Kafka listener, runtime, the addresses
 * peers reach it at (`listens`), when this node last heard of it, its status, and the link to
 * it if there is one. This node itself is always in the view, alive.
 *
 * Liveness (failure detection by heartbeat timeout, gossip-style): a member's `lastHeardMs` is
 * the freshest of what this node heard itself (any message on the link: heartbeats every
 * peerHeartbeatIntervalMs) and what gossip says (`now - heardAgoMs`: ages, not timestamps,
 * since clocks disagree). Not heard for peerSessionTimeoutMs → suspect; for
 * peerDeadTimeoutMs → dead; dead for peerRemoveAfterMs → removed. A member that says it is
 * stopping (its goodbye on stop) is dead at once: it left. Fresher news of a suspect, dead or removed member
 * makes it alive again (a node that comes back is re-added). Two nodes cut from each other
 * but not from a third stay alive in each other's view: the third keeps hearing both.
 *
 * Gossip: every peerGossipIntervalMs, and at once when the view gained a member or a member's
 * info changed, the view (this node, and every member not dead whose info is known) goes to
 * every linked node; a new link gets it at once. So a TCP node needs one seed: it learns the
 * rest from the seed's view, and they learn it.
 *
 * Who dials whom (TCP and the simulated network; hyperswarm connects by itself): of two nodes
 * that know each other, the lower node id dials, so that a pair connects once. The higher one
 * dials too when the member is not alive (it may have restarted knowing nobody) or has not
 * dialled within peerDialFallbackMs (it may not reach us: NAT, firewall). Seeds (node unknown
 * until one answers) are dialled until a link to their node exists; a seed that answers with
 * this node's own id is this node and is dropped. Two links between one pair that happen
 * anyway (both dialled, or hyperswarm and TCP) are reduced to one by the link table
 * (src/protocol/peer/dedupe.ts), outside this machine. Failed dials back off exponentially
 * from peerDialBackoffMinMs to peerDialBackoffMaxMs; at most dialsInFlightMax at once.
 */
import { type MemberInfo, type MemberListen, type Membership, membersMax, type TransportName } from '../protocol/peer/messages.ts'
import type { RuntimeName } from '../runtime/platform.ts'

export interface PeerTiming {
  /** A link sends a heartbeat this often. */
  peerHeartbeatIntervalMs: number
  /** Nothing heard for this long: the link is closed and the member is suspect. */
  peerSessionTimeoutMs: number
  /** Nothing heard for this long: the member is dead. */
  peerDeadTimeoutMs: number
  /** Dead for this long: the member leaves the view. */
  peerRemoveAfterMs: number
  /** The view goes to every linked node this often (and at once on news). */
  peerGossipIntervalMs: number
  /** Waits between dials of one address, doubling per failure from min to max. */
  peerDialBackoffMinMs: number
  peerDialBackoffMaxMs: number
  /** A lower node id that has not dialled us in this long is dialled by us. */
  peerDialFallbackMs: number
  /** Dials in flight at once. */
  dialsInFlightMax: number
  /** Members the view holds (other nodes); news of more is dropped. */
  membersMax: number
}

export const peerTimingDefaults: Readonly<PeerTiming> = Object.freeze({
  peerHeartbeatIntervalMs: 1_000,
  peerSessionTimeoutMs: 6_000,
  peerDeadTimeoutMs: 15_000,
  peerRemoveAfterMs: 60_000,
  peerGossipIntervalMs: 1_000,
  peerDialBackoffMinMs: 250,
  peerDialBackoffMaxMs: 5_000,
  peerDialFallbackMs: 5_000,
  dialsInFlightMax: 16,
  membersMax: membersMax - 1,
})

export function checkTiming(t: PeerTiming): PeerTiming {
  const positive = Object.entries(t).filter(([, v]) => !(Number.isInteger(v) && v > 0))
  if (positive.length > 0) throw new Error(`peer timing: ${positive.map(([k, v]) => `${k}=${v}`).join(', ')} must be positive integers`)
  if (!(t.peerHeartbeatIntervalMs < t.peerSessionTimeoutMs && t.peerSessionTimeoutMs < t.peerDeadTimeoutMs)) {
    throw new Error(`peer timing: expected peerHeartbeatIntervalMs < peerSessionTimeoutMs < peerDeadTimeoutMs (${t.peerHeartbeatIntervalMs}, ${t.peerSessionTimeoutMs}, ${t.peerDeadTimeoutMs})`)
  }
  if (t.peerDialBackoffMinMs > t.peerDialBackoffMaxMs) throw new Error('peer timing: peerDialBackoffMinMs > peerDialBackoffMaxMs')
  if (t.membersMax >= membersMax) throw new Error(`peer timing: membersMax must be below ${membersMax} (one membership message holds this node too)`)
  return t
}

export type MemberStatus = 'alive' | 'suspect' | 'dead'

/** How statuses may change: by age forward, by fresh news back to alive. */
const STATUS_ORDER: Readonly<Record<MemberStatus, number>> = { alive: 0, suspect: 1, dead: 2 }

export interface LinkInfo {
  /** The transport the link runs on ('tcp', 'hyperswarm', 'sim'). */
  readonly transport: string
  /** The remote address as the transport knows it. */
  readonly remote: string
}

export interface Member {
  readonly nodeId: number
  readonly kafkaListener: string | null
  /** Null until the member's own view (or a gossip about it) told it. */
  readonly runtime: RuntimeName | null
  readonly listens: readonly MemberListen[]
  readonly lastHeardMs: number
  readonly status: MemberStatus
  readonly statusSinceMs: number
  readonly link: LinkInfo | null
  /** Since when it has had no link (for the dial fallback). */
  readonly unlinkedSinceMs: number
}

export interface DialTarget {
  readonly key: string
  readonly transport: TransportName
  readonly address: string
  readonly seed: boolean
  /** The node that answered there (or is known to listen there); null until then. */
  readonly nodeId: number | null
  /** A seed that turned out to be this node: never dialled. */
  readonly isSelf: boolean
  readonly inFlight: boolean
  readonly failures: number
  readonly nextAttemptMs: number
}

export interface SelfInfo {
  readonly nodeId: number
  readonly kafkaListener: string | null
  readonly runtime: RuntimeName
  readonly listens: readonly MemberListen[]
}

export interface MembershipState {
  readonly self: SelfInfo
  /** Transports this node dials with ('tcp', 'sim'); hyperswarm finds peers by itself. */
  readonly dialable: readonly TransportName[]
  readonly timing: PeerTiming
  readonly members: ReadonlyMap<number, Member>
  /** By key (`transport address`): seeds, and the addresses of members. */
  readonly targets: ReadonlyMap<string, DialTarget>
  readonly lastGossipMs: number
}

export type MembershipInput =
  /** Time passes: failure detection, periodic gossip, dials due. */
  | { type: 'tick' }
  /** This node's own listen addresses, once its transports listen. */
  | { type: 'listens'; listens: readonly MemberListen[] }
  /** An authenticated link to `nodeId` was kept (it may replace another one to the same node). */
  | { type: 'link-up'; nodeId: number; transport: string; remote: string }
  /** The kept link to `nodeId` closed; `reason`/`by` as the link tells them; `left` when the node said it is stopping. */
  | { type: 'link-down'; nodeId: number; reason: string; by: 'local' | 'remote'; left: boolean }
  /** Something came in on the link to `nodeId`. */
  | { type: 'heard'; nodeId: number }
  /** `from` sent its view. */
  | { type: 'gossip'; from: number; members: readonly MemberInfo[] }
  /** A dial of `target` authenticated `nodeId`. */
  | { type: 'dial-done'; target: string; nodeId: number }
  /** A dial of `target` failed; `reason` is the link's close reason or a network error code. */
  | { type: 'dial-failed'; target: string; reason: string; detail: string }

export type MembershipEffect =
  | { type: 'dial'; target: string; transport: TransportName; address: string }
  | { type: 'gossip'; to: number | 'all'; message: Membership }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string }
  /** The view changed (members, statuses, links or info): listeners are told. */
  | { type: 'changed' }

export interface MembershipStep {
  state: MembershipState
  effects: MembershipEffect[]
}

export function targetKey(transport: string, address: string): string {
  return `${transport} ${address}`
}

export function initialMembership(options: {
  self: SelfInfo
  dialable: readonly TransportName[]
  seeds?: readonly { transport: TransportName; address: string }[]
  timing?: Partial<PeerTiming>
  now: number
}): MembershipState {
  const timing = checkTiming({ ...peerTimingDefaults, ...options.timing })
  const targets = new Map<string, DialTarget>()
  for (const seed of options.seeds ?? []) {
    const key = targetKey(seed.transport, seed.address)
    targets.set(key, { key, ...seed, seed: true, nodeId: null, isSelf: false, inFlight: false, failures: 0, nextAttemptMs: options.now })
  }
  const state: MembershipState = {
    self: options.self,
    dialable: options.dialable,
    timing,
    members: new Map(),
    targets: markSelfSeeds(targets, options.self.listens),
    // The first gossip goes out one interval in; new links get the view at once anyway.
    lastGossipMs: options.now,
  }
  return state
}

/** Seeds whose address is one of this node's own listen addresses. */
function markSelfSeeds(targets: Map<string, DialTarget>, listens: readonly MemberListen[]): Map<string, DialTarget> {
  for (const l of listens) {
    const t = targets.get(targetKey(l.transport, l.address))
    if (t !== undefined && t.seed) targets.set(t.key, { ...t, isSelf: true })
  }
  return targets
}

/** A working copy of the state for one step. */
class Work {
  readonly members: Map<number, Member>
  readonly targets: Map<string, DialTarget>
  self: SelfInfo
  lastGossipMs: number
  readonly effects: MembershipEffect[] = []
  changed = false
  /** News that other nodes should hear now rather than at the next interval. */
  push = false

  constructor(readonly state: MembershipState, readonly now: number) {
    this.members = new Map(state.members)
    this.targets = new Map(state.targets)
    this.self = state.self
    this.lastGossipMs = state.lastGossipMs
  }

  get timing(): PeerTiming {
    return this.state.timing
  }

  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void {
    this.effects.push({ type: 'log', level, message })
  }

  setMember(m: Member): void {
    if (m.nodeId === this.self.nodeId) throw new Error(`membership: node ${m.nodeId} is this node`)
    const old = this.members.get(m.nodeId)
    if (old !== undefined && STATUS_ORDER[m.status] < STATUS_ORDER[old.status] && m.lastHeardMs <= old.lastHeardMs && m.link === old.link) {
      throw new Error(`membership: node ${m.nodeId} went from ${old.status} back to ${m.status} without news`)
    }
    if (old === undefined || !sameMember(old, m)) this.changed = true
    this.members.set(m.nodeId, m)
  }

  result(): MembershipStep {
    if (this.changed) this.effects.push({ type: 'changed' })
    return {
      state: { ...this.state, self: this.self, members: this.members, targets: this.targets, lastGossipMs: this.lastGossipMs },
      effects: this.effects,
    }
  }
}

function sameListens(a: readonly MemberListen[], b: readonly MemberListen[]): boolean {
  return a.length === b.length && a.every((l, i) => l.transport === b[i]!.transport && l.address === b[i]!.address)
}

function sameInfo(a: Member, b: { kafkaListener: string | null; runtime: RuntimeName | null; listens: readonly MemberListen[] }): boolean {
  return a.kafkaListener === b.kafkaListener && a.runtime === b.runtime && sameListens(a.listens, b.listens)
}

function sameMember(a: Member, b: Member): boolean {
  return sameInfo(a, b) && a.status === b.status && a.link?.transport === b.link?.transport && a.link?.remote === b.link?.remote
}

/** The status an age calls for. */
function statusForAge(ageMs: number, timing: PeerTiming): MemberStatus {
  return ageMs > timing.peerDeadTimeoutMs ? 'dead' : ageMs > timing.peerSessionTimeoutMs ? 'suspect' : 'alive'
}

export function step(state: MembershipState, input: MembershipInput, now: number): MembershipStep {
  const w = new Work(state, now)
  switch (input.type) {
    case 'tick':
      age(w)
      if (now - w.lastGossipMs >= w.timing.peerGossipIntervalMs) w.push = true
      break
    case 'listens':
      w.self = { ...w.self, listens: input.listens }
      markSelfSeeds(w.targets, input.listens)
      w.changed = true
      w.push = true
      break
    case 'link-up':
      linkUp(w, input.nodeId, { transport: input.transport, remote: input.remote })
      break
    case 'link-down':
      linkDown(w, input.nodeId, input.reason, input.by, input.left)
      break
    case 'heard':
      heard(w, input.nodeId, now)
      break
    case 'gossip':
      merge(w, input.from, input.members)
      break
    case 'dial-done':
      dialDone(w, input.target, input.nodeId)
      break
    case 'dial-failed':
      dialFailed(w, input.target, input.reason, input.detail)
      break
    default: {
      const _: never = input
      throw new Error(`membership: unknown input ${JSON.stringify(_)}`)
    }
  }
  if (w.push) {
    w.effects.push({ type: 'gossip', to: 'all', message: gossipMessage(w, now) })
    w.lastGossipMs = now
  }
  planDials(w)
  return w.result()
}

function describeListens(listens: readonly MemberListen[]): string {
  return listens.length === 0 ? 'no listen address' : listens.map((l) => `${l.transport} ${l.address}`).join(', ')
}

function age(w: Work): void {
  const { now, timing } = w
  for (const m of [...w.members.values()]) {
    const ageMs = now - m.lastHeardMs
    if (m.status === 'dead') {
      if (m.link === null && now - m.statusSinceMs > timing.peerRemoveAfterMs) {
        w.members.delete(m.nodeId)
        w.changed = true
        w.log('info', `node ${m.nodeId} removed from the membership view: dead for ${now - m.statusSinceMs} ms`)
      }
      continue
    }
    const next = statusForAge(ageMs, timing)
    if (STATUS_ORDER[next] > STATUS_ORDER[m.status]) {
      w.setMember({ ...m, status: next, statusSinceMs: now })
      if (next === 'suspect') w.log('info', `node ${m.nodeId} is suspect: not heard from in ${ageMs} ms`)
      else w.log('warn', `node ${m.nodeId} is dead: not heard from in ${ageMs} ms`)
    }
  }
}

function placeholder(nodeId: number, now: number): Member {
  return { nodeId, kafkaListener: null, runtime: null, listens: [], lastHeardMs: now, status: 'alive', statusSinceMs: now, link: null, unlinkedSinceMs: now }
}

function linkUp(w: Work, nodeId: number, link: LinkInfo): void {
  const { now } = w
  const old = w.members.get(nodeId)
  if (old === undefined) {
    w.setMember({ ...placeholder(nodeId, now), link })
    w.log('info', `node ${nodeId} linked (${link.transport} ${link.remote})`)
  } else {
    if (old.status !== 'alive') w.log('info', `node ${nodeId} is back (${link.transport} ${link.remote})`)
    else if (old.link === null) w.log('info', `node ${nodeId} linked (${link.transport} ${link.remote})`)
    w.setMember({ ...old, link, lastHeardMs: now, status: 'alive', statusSinceMs: old.status === 'alive' ? old.statusSinceMs : now })
  }
  // The new peer gets the whole view at once rather than at the next interval.
  w.effects.push({ type: 'gossip', to: nodeId, message: gossipMessage(w, now) })
}

function linkDown(w: Work, nodeId: number, reason: string, by: 'local' | 'remote', left: boolean): void {
  const { now } = w
  const old = w.members.get(nodeId)
  if (old === undefined || old.link === null) return
  // When the dial succeeded but the link then died, the address may be dialled again soon.
  for (const t of w.targets.values()) {
    if (t.nodeId === nodeId && !t.inFlight) w.targets.set(t.key, { ...t, nextAttemptMs: Math.max(t.nextAttemptMs, now + w.timing.peerDialBackoffMinMs) })
  }
  if (left) {
    w.setMember({ ...old, link: null, unlinkedSinceMs: now, status: 'dead', statusSinceMs: now, lastHeardMs: Math.max(old.lastHeardMs, now) })
    w.log('info', `node ${nodeId} left (it shut down)`)
    return
  }
  w.setMember({ ...old, link: null, unlinkedSinceMs: now })
  w.log('info', `link to node ${nodeId} closed (${by === 'remote' ? 'by the peer: ' : ''}${reason})`)
}

function heard(w: Work, nodeId: number, at: number): void {
  const old = w.members.get(nodeId)
  if (old === undefined || at <= old.lastHeardMs) return
  if (old.status !== 'alive') w.log('info', `node ${nodeId} is back`)
  w.setMember({ ...old, lastHeardMs: at, status: 'alive', statusSinceMs: old.status === 'alive' ? old.statusSinceMs : at })
}

function merge(w: Work, from: number, entries: readonly MemberInfo[]): void {
  const { now, timing } = w
  for (const e of entries) {
    if (e.nodeId === w.self.nodeId) {
      if (e.nodeId === from) throw new Error(`membership: gossip from this node's own id ${from}`)
      continue
    }
    const heardAt = e.nodeId === from ? now : now - e.heardAgoMs
    const info = { kafkaListener: e.kafkaListener, runtime: e.runtime, listens: e.listens.slice() }
    const old = w.members.get(e.nodeId)
    if (old === undefined) {
      const status = statusForAge(now - heardAt, timing)
      if (status === 'dead') continue
      if (w.members.size >= timing.membersMax) {
        w.log('warn', `node ${e.nodeId} not added to the membership view: it holds ${w.members.size} members, the most allowed`)
        continue
      }
      w.setMember({ nodeId: e.nodeId, ...info, lastHeardMs: heardAt, status, statusSinceMs: now, link: null, unlinkedSinceMs: now })
      w.log('info', `node ${e.nodeId} joined the view (${e.runtime}, ${describeListens(e.listens)}; heard of through node ${from})`)
      w.push = true
      continue
    }
    // Same age, new info: the member's own first view after the link came up in the same ms.
    if (heardAt < old.lastHeardMs || (heardAt === old.lastHeardMs && sameInfo(old, info))) continue
    const status = statusForAge(now - heardAt, timing)
    const revived = heardAt > old.lastHeardMs && STATUS_ORDER[status] < STATUS_ORDER[old.status]
    if (revived) w.log('info', `node ${e.nodeId} is back (heard of through node ${from})`)
    if (!sameInfo(old, info)) {
      if (old.runtime !== null) w.log('info', `node ${e.nodeId} now advertises ${describeListens(e.listens)} (Kafka ${e.kafkaListener ?? 'none'})`)
      w.push = true
    }
    if (revived) w.push = true
    w.setMember({
      ...old,
      ...info,
      lastHeardMs: heardAt,
      status: revived ? status : old.status,
      statusSinceMs: revived ? now : old.statusSinceMs,
    })
  }
}

function backoffMs(failures: number, timing: PeerTiming): number {
  return Math.min(timing.peerDialBackoffMaxMs, timing.peerDialBackoffMinMs * 2 ** Math.min(failures - 1, 30))
}

function dialDone(w: Work, key: string, nodeId: number): void {
  const t = w.targets.get(key)
  if (t === undefined) return
  w.targets.set(key, { ...t, inFlight: false, failures: 0, nodeId, nextAttemptMs: w.now + w.timing.peerDialBackoffMinMs })
}

function dialFailed(w: Work, key: string, reason: string, detail: string): void {
  const t = w.targets.get(key)
  if (t === undefined) return
  const failures = t.failures + 1
  const isSelf = t.isSelf || (t.seed && reason === 'duplicate-node-id')
  w.targets.set(key, { ...t, inFlight: false, failures, isSelf, nextAttemptMs: w.now + backoffMs(failures, w.timing) })
  if (isSelf && !t.isSelf) {
    w.log('warn', `seed ${t.address} answered with this node's id ${w.self.nodeId}: it is this node (or another node has the same --node-id); not dialled again`)
  } else if (t.seed && failures === 1) {
    w.log('warn', `cannot reach seed ${t.address}: ${reason}: ${detail} (retrying)`)
  } else {
    w.log('debug', `dial ${t.transport} ${t.address} failed (${failures}): ${reason}: ${detail}`)
  }
}

function gossipMessage(w: Work, now: number): Membership {
  const s = w.self
  const members: MemberInfo[] = [{ nodeId: s.nodeId, kafkaListener: s.kafkaListener, runtime: s.runtime, listens: s.listens.slice(), heardAgoMs: 0 }]
  for (const m of w.members.values()) {
    if (m.status === 'dead' || m.runtime === null) continue
    members.push({ nodeId: m.nodeId, kafkaListener: m.kafkaListener, runtime: m.runtime, listens: m.listens.slice(), heardAgoMs: Math.max(0, now - m.lastHeardMs) })
  }
  return { type: 'membership', members }
}

/** Whether this node should dial `m` now (it has no link), by the rule in the header. */
function shouldDial(w: Work, m: Member): boolean {
  return w.self.nodeId < m.nodeId || m.status !== 'alive' || w.now - m.unlinkedSinceMs >= w.timing.peerDialFallbackMs
}

function planDials(w: Work): void {
  const { now, timing } = w
  let inFlight = 0
  for (const t of w.targets.values()) if (t.inFlight) inFlight++
  const referenced = new Set<string>()
  const due: DialTarget[] = []
  const byAddress = new Map<string, number>()
  for (const m of w.members.values()) {
    const listen = m.listens.find((l) => w.state.dialable.includes(l.transport))
    for (const l of m.listens) byAddress.set(targetKey(l.transport, l.address), m.nodeId)
    if (listen === undefined) continue
    const key = targetKey(listen.transport, listen.address)
    referenced.add(key)
    let t = w.targets.get(key)
    if (t === undefined) {
      t = { key, transport: listen.transport, address: listen.address, seed: false, nodeId: m.nodeId, isSelf: false, inFlight: false, failures: 0, nextAttemptMs: now }
      w.targets.set(key, t)
    }
    if (m.link === null && !t.inFlight && !t.isSelf && now >= t.nextAttemptMs && shouldDial(w, m)) due.push(t)
  }
  for (const t of w.targets.values()) {
    if (!t.seed || t.isSelf || t.inFlight || now < t.nextAttemptMs || referenced.has(t.key)) continue
    const nodeId = t.nodeId ?? byAddress.get(t.key) ?? null
    const m = nodeId === null ? undefined : w.members.get(nodeId)
    // A seed whose node is in the view is dialled by the member rule, at the address it advertises.
    if (m !== undefined && (m.link !== null || m.listens.some((l) => w.state.dialable.includes(l.transport)))) continue
    due.push(t)
  }
  for (const t of [...w.targets.values()]) {
    if (!t.seed && !t.inFlight && !referenced.has(t.key)) w.targets.delete(t.key)
  }
  for (const t of due) {
    if (inFlight >= timing.dialsInFlightMax) break
    inFlight++
    w.targets.set(t.key, { ...t, inFlight: true })
    w.effects.push({ type: 'dial', target: t.key, transport: t.transport, address: t.address })
  }
}

/** One row of the view, as `members()` and `peerlog cluster status` show it. */
export interface MemberView {
  readonly nodeId: number
  readonly self: boolean
  readonly status: MemberStatus
  readonly runtime: RuntimeName | null
  readonly kafkaListener: string | null
  readonly listens: readonly MemberListen[]
  /** The link this node has to it (null for itself, or when there is none). */
  readonly link: LinkInfo | null
  /** How long ago this node last heard of it (0 for itself). */
  readonly lastHeardAgoMs: number
}

/** The view, this node included, by node id. */
export function view(state: MembershipState, now: number): MemberView[] {
  const s = state.self
  const rows: MemberView[] = [
    { nodeId: s.nodeId, self: true, status: 'alive', runtime: s.runtime, kafkaListener: s.kafkaListener, listens: s.listens, link: null, lastHeardAgoMs: 0 },
  ]
  for (const m of state.members.values()) {
    rows.push({
      nodeId: m.nodeId,
      self: false,
      status: m.status,
      runtime: m.runtime,
      kafkaListener: m.kafkaListener,
      listens: m.listens,
      link: m.link,
      lastHeardAgoMs: Math.max(0, now - m.lastHeardMs),
    })
  }
  return rows.sort((a, b) => a.nodeId - b.nodeId)
}
