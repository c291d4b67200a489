/**
 * One consumer's membership of its group, as Kafka's AbstractCoordinator/ConsumerCoordinator
 * decide it: pure and synchronous. `step(state, msg, now)` returns the next state and the
 * effects the shell (consumer-coordinator.ts) carries out; results come back as messages.
 *
 *   UNJOINED ─poll→ PREPARING (revoke/lose callbacks) ─prepared→ JOINING ─join ok→ SYNCING
 *     ─sync ok→ SYNCED ─poll→ ASSIGNING (callbacks) ─assigned→ STABLE ─rejoin needed, poll→ PREPARING …
 *
 * Callback effects (`revoke`, `lose`, `assign`) come only from `poll`, `leave` and `prepared`,
 * so that the application's listener runs inside poll()/close()/unsubscribe(), as in Kafka.
 * I/O effects (`join`, `sync`, `heartbeat`, ...) come from any message.
 *
 * Rebalance protocols: EAGER revokes every owned partition before each JoinGroup; COOPERATIVE
 * (KIP-429) keeps them, revokes after SyncGroup only those missing from the new assignment and
 * then rejoins at once so that they can move. Whichever, a member whose generation was reset
 * (kicked out: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, poll timeout) loses its partitions:
 * `lose`, never `revoke`, and no commit of them.
 *
 * Timers (`tick`): a heartbeat every heartbeat.interval.ms while in the group; no answer for
 * session.timeout.ms marks the coordinator unknown; no poll for max.poll.interval.ms leaves the
 * group (LeaveGroup only for a dynamic member, as Kafka) and the next poll rejoins.
 *
 * Invariants (asserted): the generation of a member only grows while it keeps its member id;
 * an effect needing the coordinator is only emitted while it is known.
 */
import { ErrorCode, errorName } from '../protocol/kafka/error-codes.ts'
import type { RebalanceProtocol } from './assignors/assignor.ts'
import type { TopicPartition } from './list-offsets.ts'

export interface MembershipConfig {
  groupInstanceId: string | null
  sessionTimeoutMs: number
  heartbeatIntervalMs: number
  maxPollIntervalMs: number
  /** After a failed JoinGroup/SyncGroup/heartbeat/FindCoordinator. */
  retryBackoffMs: number
  /** The protocol all configured assignors support (the highest), as Kafka's ConsumerCoordinator. */
  protocol: RebalanceProtocol
  /** internal.leave.group.on.close */
  leaveGroupOnClose: boolean
}

export type Phase = 'UNJOINED' | 'PREPARING' | 'JOINING' | 'SYNCING' | 'SYNCED' | 'ASSIGNING' | 'STABLE' | 'FENCED' | 'CLOSED'

export type CoordinatorStatus = 'UNKNOWN' | 'FINDING' | 'KNOWN'

export interface JoinedMember {
  memberId: string
  groupInstanceId: string | null
  metadata: Uint8Array
}

export interface MembershipState {
  readonly config: MembershipConfig
  readonly phase: Phase
  readonly memberId: string
  /** -1: no generation (never joined, or reset). */
  readonly generationId: number
  /** The assignor the group chose at the last join. */
  readonly protocolName: string | null
  readonly leaderId: string
  readonly coordinator: CoordinatorStatus
  /** Why the member must rejoin; null when it need not (beyond a subscription change). */
  readonly rejoinReason: string | null
  /** Whether the prepare callbacks of the coming join ran (Kafka's !needsJoinPrepare). */
  readonly prepared: boolean
  /** The topics subscribed to; null without a subscription (manual assignment, or none). */
  readonly subscription: readonly string[] | null
  /** The subscription sent in the last JoinGroup. */
  readonly joinedSubscription: readonly string[]
  /** The partitions this member owns. */
  readonly owned: readonly TopicPartition[]
  /** The last assignment received and its generation (sticky's userData keeps it even once revoked). */
  readonly lastAssignment: readonly TopicPartition[]
  readonly lastAssignmentGenerationId: number
  /** From SyncGroup, applied by the next poll. */
  readonly pendingAssignment: readonly TopicPartition[] | null
  readonly backoffUntilMs: number
  readonly lastPollMs: number
  readonly heartbeatInFlight: boolean
  readonly nextHeartbeatMs: number
  readonly lastHeartbeatReceivedMs: number
  /** What the next poll throws (once), e.g. a fatal JoinGroup error. */
  readonly pollError: { code: number; message: string } | null
}

export type MembershipMsg =
  | { type: 'poll' }
  | { type: 'tick' }
  | { type: 'subscribe'; topics: readonly string[] }
  | { type: 'rejoin'; reason: string }
  /** A commit or an offset fetch needs the coordinator (also without a subscription). */
  | { type: 'coordinator-needed' }
  | { type: 'coordinator-found' }
  | { type: 'coordinator-failed'; errorCode: number; message: string }
  /** A coordinator error or a lost connection on any request: look it up again. */
  | { type: 'coordinator-lost'; reason: string }
  | { type: 'prepared' }
  | { type: 'join-response'; errorCode: number; memberId: string; generationId: number; protocolName: string | null; leaderId: string; members: readonly JoinedMember[] }
  | { type: 'join-failed'; reason: string }
  /** `assignment` null when errorCode is not NONE. */
  | { type: 'sync-response'; generationId: number; errorCode: number; assignment: readonly TopicPartition[] | null; message?: string }
  | { type: 'sync-failed'; generationId: number; reason: string }
  | { type: 'assigned' }
  | { type: 'heartbeat-response'; generationId: number; errorCode: number }
  | { type: 'heartbeat-failed'; reason: string }
  /** A group error in an OffsetCommit answer (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS, FENCED_INSTANCE_ID). */
  | { type: 'commit-error'; generationId: number; errorCode: number }
  /** close() (`final`) or unsubscribe(): give up the partitions and leave. */
  | { type: 'leave'; reason: string; final: boolean }

export type MembershipEffect =
  | { type: 'find-coordinator' }
  /** onPartitionsRevoked(partitions), after committing the consumed positions first when `commit` (and auto-commit is on); then own `remaining`. */
  | { type: 'revoke'; partitions: TopicPartition[]; remaining: TopicPartition[]; commit: boolean }
  /** onPartitionsLost(partitions) (no commit); then own `remaining`. */
  | { type: 'lose'; partitions: TopicPartition[]; remaining: TopicPartition[] }
  | {
      type: 'join'
      memberId: string
      generationId: number
      topics: string[]
      owned: TopicPartition[]
      lastAssignment: TopicPartition[]
      lastAssignmentGenerationId: number
      reason: string
    }
  /** As leader: run the assignor over `members` and send the assignment in SyncGroup. */
  | { type: 'sync'; memberId: string; generationId: number; protocolName: string; leader: boolean; members: readonly JoinedMember[] }
  /** onPartitionsRevoked(revoked) (cooperative), own `assigned`, onPartitionsAssigned(added). */
  | { type: 'assign'; assigned: TopicPartition[]; added: TopicPartition[]; revoked: TopicPartition[] }
  | { type: 'heartbeat'; memberId: string; generationId: number }
  | { type: 'leave-group'; memberId: string; reason: string }

export interface StepResult {
  state: MembershipState
  effects: MembershipEffect[]
}

export function initialMembership(config: MembershipConfig, now: number): MembershipState {
  return {
    config,
    phase: 'UNJOINED',
    memberId: '',
    generationId: -1,
    protocolName: null,
    leaderId: '',
    coordinator: 'UNKNOWN',
    rejoinReason: null,
    prepared: false,
    subscription: null,
    joinedSubscription: [],
    owned: [],
    lastAssignment: [],
    lastAssignmentGenerationId: -1,
    pendingAssignment: null,
    backoffUntilMs: 0,
    lastPollMs: now,
    heartbeatInFlight: false,
    nextHeartbeatMs: Infinity,
    lastHeartbeatReceivedMs: now,
    pollError: null,
  }
}

/** Errors after which a request goes to a newly found coordinator. */
const COORDINATOR_MOVED: ReadonlySet<number> = new Set([ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.NOT_COORDINATOR])

const key = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`
export const sortPartitions = (tps: Iterable<TopicPartition>): TopicPartition[] =>
  [...tps].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
const minus = (a: readonly TopicPartition[], b: readonly TopicPartition[]): TopicPartition[] => {
  const drop = new Set(b.map(key))
  return sortPartitions(a.filter((tp) => !drop.has(key(tp))))
}
const sameTopics = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((t, i) => t === b[i])

/** Whether the member holds a generation (it may commit and heartbeat with it). */
export function hasGeneration(s: MembershipState): boolean {
  return s.generationId >= 0 && s.memberId !== ''
}

/** Whether a JoinGroup or SyncGroup is under way (Kafka's rebalanceInProgress). */
export function rebalanceInProgress(s: MembershipState): boolean {
  return s.phase === 'JOINING' || s.phase === 'SYNCING'
}

/** Whether the next poll must (re)join: no generation, a rejoin asked for, or a changed subscription. */
export function needsJoin(s: MembershipState): boolean {
  if (s.subscription === null || s.phase === 'FENCED' || s.phase === 'CLOSED') return false
  return !hasGeneration(s) || s.rejoinReason !== null || !sameTopics(s.subscription, s.joinedSubscription) || s.phase !== 'STABLE'
}

/**
 * The generation an OffsetCommit carries: -1/'' without a subscription (a manual assignment),
 * the current one while it is valid, else null with the reason (rebalancing, or not in the group).
 */
export function commitGeneration(s: MembershipState): { generationId: number; memberId: string } | { error: number } {
  if (s.subscription === null) return { generationId: -1, memberId: '' }
  if (rebalanceInProgress(s)) return { error: ErrorCode.REBALANCE_IN_PROGRESS }
  if (!hasGeneration(s) || s.phase === 'UNJOINED') return { error: ErrorCode.ILLEGAL_GENERATION }
  return { generationId: s.generationId, memberId: s.memberId }
}

/** Whether the member is in the group as far as heartbeats go (Kafka: neither UNJOINED nor PREPARING_REBALANCE). */
function heartbeating(s: MembershipState): boolean {
  return hasGeneration(s) && (s.phase === 'PREPARING' || s.phase === 'SYNCING' || s.phase === 'SYNCED' || s.phase === 'ASSIGNING' || s.phase === 'STABLE')
}

/** When the shell's timer must next deliver `tick` (Infinity: no timer needed). */
export function nextTickMs(s: MembershipState): number {
  if (!heartbeating(s) || s.subscription === null) return Infinity
  const pollExpiry = s.lastPollMs + s.config.maxPollIntervalMs + 1
  if (s.coordinator !== 'KNOWN') return pollExpiry
  const sessionExpiry = s.lastHeartbeatReceivedMs + s.config.sessionTimeoutMs + 1
  return Math.min(pollExpiry, sessionExpiry, s.heartbeatInFlight ? Infinity : s.nextHeartbeatMs)
}

export function step(s: MembershipState, msg: MembershipMsg, now: number): StepResult {
  const r = handle(s, msg, now)
  assertInvariants(s, r)
  return r
}

function handle(s: MembershipState, msg: MembershipMsg, now: number): StepResult {
  const none = (state: MembershipState = s): StepResult => ({ state, effects: [] })
  if (s.phase === 'CLOSED') return none()
  switch (msg.type) {
    case 'poll':
      return onPoll({ ...s, lastPollMs: now }, now)
    case 'tick':
      return onTick(s, now)
    case 'subscribe':
      return none({ ...s, subscription: [...new Set(msg.topics)].sort() })
    case 'rejoin':
      return none({ ...s, rejoinReason: s.rejoinReason ?? msg.reason })
    case 'coordinator-needed':
      if (s.coordinator !== 'UNKNOWN' || now < s.backoffUntilMs) return none()
      return { state: { ...s, coordinator: 'FINDING' }, effects: [{ type: 'find-coordinator' }] }
    case 'coordinator-found':
      return none({ ...s, coordinator: 'KNOWN', lastHeartbeatReceivedMs: now, nextHeartbeatMs: Math.min(s.nextHeartbeatMs, now) })
    case 'coordinator-failed': {
      const retriable = msg.errorCode === ErrorCode.NONE || isRetriableGroupError(msg.errorCode)
      return none({
        ...s,
        coordinator: 'UNKNOWN',
        backoffUntilMs: now + s.config.retryBackoffMs,
        pollError: retriable ? s.pollError : { code: msg.errorCode, message: msg.message },
      })
    }
    case 'coordinator-lost':
      return none(lostCoordinator(s, now))
    case 'prepared': {
      if (s.phase !== 'PREPARING') return none()
      return sendJoin(s, s.rejoinReason ?? 'joining the group')
    }
    case 'join-response':
      if (s.phase !== 'JOINING') return none()
      return onJoinResponse(s, msg, now)
    case 'join-failed':
      if (s.phase !== 'JOINING') return none()
      return none({ ...lostCoordinator(s, now), phase: 'UNJOINED' })
    case 'sync-response':
      if (s.phase !== 'SYNCING' || msg.generationId !== s.generationId) return none()
      return onSyncResponse(s, msg, now)
    case 'sync-failed':
      if (s.phase !== 'SYNCING' || msg.generationId !== s.generationId) return none()
      return none({ ...lostCoordinator(s, now), phase: 'UNJOINED', rejoinReason: s.rejoinReason ?? `SyncGroup failed: ${msg.reason}` })
    case 'assigned':
      if (s.phase !== 'ASSIGNING') return none()
      return none({ ...s, phase: 'STABLE' })
    case 'heartbeat-response':
      return onHeartbeatResponse({ ...s, heartbeatInFlight: false }, msg, now)
    case 'heartbeat-failed':
      return none({ ...lostCoordinator(s, now), heartbeatInFlight: false })
    case 'commit-error':
      return onGroupError(s, msg.errorCode, msg.generationId, 'OffsetCommit', now)
    case 'leave':
      return onLeave(s, msg.reason, msg.final)
    default: {
      const _: never = msg
      throw new Error(`unknown message ${JSON.stringify(_)}`)
    }
  }
}

function isRetriableGroupError(code: number): boolean {
  return COORDINATOR_MOVED.has(code) || code === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS || code === ErrorCode.NETWORK_EXCEPTION || code === ErrorCode.REQUEST_TIMED_OUT
}

function lostCoordinator(s: MembershipState, now: number): MembershipState {
  return { ...s, coordinator: 'UNKNOWN', backoffUntilMs: Math.max(s.backoffUntilMs, now + s.config.retryBackoffMs) }
}

/** Kafka's resetStateAndGeneration: the owned partitions will be lost at the next poll. */
function resetGeneration(s: MembershipState, reason: string, resetMemberId: boolean): MembershipState {
  return {
    ...s,
    phase: 'UNJOINED',
    generationId: -1,
    memberId: resetMemberId ? '' : s.memberId,
    rejoinReason: s.rejoinReason ?? reason,
    pendingAssignment: null,
    heartbeatInFlight: false,
    nextHeartbeatMs: Infinity,
  }
}

function onPoll(s: MembershipState, now: number): StepResult {
  if (s.phase === 'FENCED' || s.subscription === null) return { state: s, effects: [] }
  if (s.phase === 'SYNCED') return applyAssignment(s)
  if (s.phase === 'PREPARING' || s.phase === 'JOINING' || s.phase === 'SYNCING' || s.phase === 'ASSIGNING') return { state: s, effects: [] }
  if (!needsJoin(s)) return { state: s, effects: [] }
  // Kicked out: the partitions are lost whatever the state of the coordinator (KIP-429).
  if (!hasGeneration(s) && s.owned.length > 0) {
    return { state: { ...s, owned: [], prepared: false }, effects: [{ type: 'lose', partitions: sortPartitions(s.owned), remaining: [] }] }
  }
  if (s.coordinator === 'UNKNOWN') {
    if (now < s.backoffUntilMs) return { state: s, effects: [] }
    return { state: { ...s, coordinator: 'FINDING' }, effects: [{ type: 'find-coordinator' }] }
  }
  if (s.coordinator === 'FINDING' || now < s.backoffUntilMs) return { state: s, effects: [] }
  const reason = s.rejoinReason ?? (hasGeneration(s) ? 'the subscription changed' : 'joining the group')
  if (!s.prepared && hasGeneration(s)) {
    // Kafka's onJoinPrepare: eager gives up everything; cooperative only what is no longer subscribed.
    const revoked = s.config.protocol === 'EAGER' ? sortPartitions(s.owned) : s.owned.filter((tp) => !s.subscription!.includes(tp.topic))
    if (s.config.protocol === 'EAGER' || revoked.length > 0) {
      const remaining = minus(s.owned, revoked)
      return { state: { ...s, phase: 'PREPARING', prepared: true, owned: remaining }, effects: [{ type: 'revoke', partitions: revoked, remaining, commit: true }] }
    }
  }
  return sendJoin({ ...s, prepared: true }, reason)
}

function sendJoin(s: MembershipState, reason: string): StepResult {
  if (s.coordinator !== 'KNOWN') return { state: { ...s, phase: 'UNJOINED' }, effects: [] }
  const topics = [...s.subscription!]
  return {
    state: { ...s, phase: 'JOINING', joinedSubscription: topics, rejoinReason: null, heartbeatInFlight: false },
    effects: [
      {
        type: 'join',
        memberId: s.memberId,
        generationId: s.generationId,
        topics,
        owned: sortPartitions(s.owned),
        lastAssignment: [...s.lastAssignment],
        lastAssignmentGenerationId: s.lastAssignmentGenerationId,
        reason,
      },
    ],
  }
}

function onJoinResponse(s: MembershipState, msg: Extract<MembershipMsg, { type: 'join-response' }>, now: number): StepResult {
  const retry = (state: MembershipState, backoff: boolean): StepResult => ({
    state: { ...state, phase: 'UNJOINED', rejoinReason: state.rejoinReason ?? `JoinGroup: ${errorName(msg.errorCode)}`, backoffUntilMs: backoff ? now + s.config.retryBackoffMs : state.backoffUntilMs },
    effects: [],
  })
  switch (msg.errorCode) {
    case ErrorCode.NONE: {
      // No check that the generation grew: a coordinator that restarted mid-rebalance has only
      // the last stored generation and hands its number out again, and a static member that
      // rejoins a Stable group gets the current one back (KIP-345). Kafka's clients accept both.
      if (msg.protocolName === null) throw new Error('JoinGroup succeeded without a protocol name')
      const leader = msg.leaderId === msg.memberId
      const state: MembershipState = {
        ...s,
        phase: 'SYNCING',
        memberId: msg.memberId,
        generationId: msg.generationId,
        protocolName: msg.protocolName,
        leaderId: msg.leaderId,
        lastHeartbeatReceivedMs: now,
        nextHeartbeatMs: now + s.config.heartbeatIntervalMs,
        heartbeatInFlight: false,
      }
      return { state, effects: [{ type: 'sync', memberId: msg.memberId, generationId: msg.generationId, protocolName: msg.protocolName, leader, members: leader ? msg.members : [] }] }
    }
    case ErrorCode.MEMBER_ID_REQUIRED:
      // KIP-394: join again at once, with the member id the coordinator gave.
      return sendJoin({ ...s, memberId: msg.memberId }, 'rejoining with the member id the coordinator gave (KIP-394)')
    case ErrorCode.UNKNOWN_MEMBER_ID:
      return retry(resetGeneration(s, 'JoinGroup: UNKNOWN_MEMBER_ID', true), false)
    case ErrorCode.ILLEGAL_GENERATION:
      return retry(resetGeneration(s, 'JoinGroup: ILLEGAL_GENERATION', false), false)
    case ErrorCode.REBALANCE_IN_PROGRESS:
      return retry(s, false)
    case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
      return retry(s, true)
    case ErrorCode.COORDINATOR_NOT_AVAILABLE:
    case ErrorCode.NOT_COORDINATOR:
      return retry(lostCoordinator(s, now), true)
    case ErrorCode.FENCED_INSTANCE_ID:
      return fenced(s, 'JoinGroup')
    default:
      // INCONSISTENT_GROUP_PROTOCOL, INVALID_SESSION_TIMEOUT, INVALID_GROUP_ID, GROUP_AUTHORIZATION_FAILED,
      // GROUP_MAX_SIZE_REACHED, UNSUPPORTED_VERSION ...: the application sees it; a later poll tries again.
      return {
        state: { ...s, phase: 'UNJOINED', backoffUntilMs: now + s.config.retryBackoffMs, pollError: { code: msg.errorCode, message: `JoinGroup failed: ${errorName(msg.errorCode)}` } },
        effects: [],
      }
  }
}

function fenced(s: MembershipState, where: string): StepResult {
  return {
    state: {
      ...s,
      phase: 'FENCED',
      heartbeatInFlight: false,
      nextHeartbeatMs: Infinity,
      pollError: {
        code: ErrorCode.FENCED_INSTANCE_ID,
        message: `${where}: FENCED_INSTANCE_ID: another consumer with group.instance.id '${s.config.groupInstanceId}' joined the group; this one is fenced and must be closed`,
      },
    },
    effects: [],
  }
}

function onSyncResponse(s: MembershipState, msg: Extract<MembershipMsg, { type: 'sync-response' }>, now: number): StepResult {
  switch (msg.errorCode) {
    case ErrorCode.NONE:
      if (msg.assignment === null) throw new Error('SyncGroup succeeded without an assignment')
      return { state: { ...s, phase: 'SYNCED', pendingAssignment: sortPartitions(msg.assignment), prepared: false, lastHeartbeatReceivedMs: now }, effects: [] }
    case ErrorCode.REBALANCE_IN_PROGRESS:
      return { state: { ...s, phase: 'UNJOINED', rejoinReason: 'SyncGroup: the group is rebalancing again' }, effects: [] }
    case ErrorCode.UNKNOWN_MEMBER_ID:
    case ErrorCode.ILLEGAL_GENERATION:
      return { state: resetGeneration(s, `SyncGroup: ${errorName(msg.errorCode)}`, msg.errorCode === ErrorCode.UNKNOWN_MEMBER_ID), effects: [] }
    case ErrorCode.COORDINATOR_NOT_AVAILABLE:
    case ErrorCode.NOT_COORDINATOR:
      return { state: { ...lostCoordinator(s, now), phase: 'UNJOINED', rejoinReason: `SyncGroup: ${errorName(msg.errorCode)}` }, effects: [] }
    case ErrorCode.FENCED_INSTANCE_ID:
      return fenced(s, 'SyncGroup')
    default:
      return {
        state: {
          ...s,
          phase: 'UNJOINED',
          rejoinReason: `SyncGroup: ${errorName(msg.errorCode)}`,
          backoffUntilMs: now + s.config.retryBackoffMs,
          pollError: { code: msg.errorCode, message: msg.message ?? `SyncGroup failed: ${errorName(msg.errorCode)}` },
        },
        effects: [],
      }
  }
}

/** Kafka's onJoinComplete, run by the poll after SyncGroup. */
function applyAssignment(s: MembershipState): StepResult {
  const assigned = s.pendingAssignment!
  const subscribed = new Set(s.subscription)
  if (assigned.some((tp) => !subscribed.has(tp.topic))) {
    // The subscription changed since the join: join again with the current one; keep what is owned.
    return { state: { ...s, phase: 'STABLE', pendingAssignment: null, rejoinReason: 'the assignment does not match the subscription' }, effects: [] }
  }
  const added = minus(assigned, s.owned)
  const revoked = s.config.protocol === 'COOPERATIVE' ? minus(s.owned, assigned) : []
  return {
    state: {
      ...s,
      phase: 'ASSIGNING',
      owned: [...assigned],
      lastAssignment: [...assigned],
      lastAssignmentGenerationId: s.generationId,
      pendingAssignment: null,
      // KIP-429: what was revoked can move only in a follow-up rebalance.
      rejoinReason: revoked.length > 0 ? s.rejoinReason ?? 'partitions were revoked: a follow-up rebalance lets them move (KIP-429)' : s.rejoinReason,
    },
    effects: [{ type: 'assign', assigned: [...assigned], added, revoked }],
  }
}

function onTick(s: MembershipState, now: number): StepResult {
  if (!heartbeating(s) || s.subscription === null) return { state: s, effects: [] }
  if (now - s.lastPollMs > s.config.maxPollIntervalMs) {
    const reason = `consumer poll timeout has expired: the time between polls exceeded max.poll.interval.ms (${s.config.maxPollIntervalMs} ms)`
    const effects: MembershipEffect[] = s.config.groupInstanceId === null && s.coordinator === 'KNOWN' ? [{ type: 'leave-group', memberId: s.memberId, reason }] : []
    return { state: { ...resetGeneration(s, reason, true), prepared: false }, effects }
  }
  if (s.coordinator === 'UNKNOWN') {
    if (now < s.backoffUntilMs) return { state: s, effects: [] }
    return { state: { ...s, coordinator: 'FINDING' }, effects: [{ type: 'find-coordinator' }] }
  }
  if (s.coordinator === 'FINDING') return { state: s, effects: [] }
  if (now - s.lastHeartbeatReceivedMs > s.config.sessionTimeoutMs) {
    // Kafka: no heartbeat answer within the session: consider the coordinator dead.
    return { state: { ...s, coordinator: 'FINDING', heartbeatInFlight: false }, effects: [{ type: 'find-coordinator' }] }
  }
  if (s.heartbeatInFlight || now < s.nextHeartbeatMs) return { state: s, effects: [] }
  return {
    state: { ...s, heartbeatInFlight: true, nextHeartbeatMs: now + s.config.heartbeatIntervalMs },
    effects: [{ type: 'heartbeat', memberId: s.memberId, generationId: s.generationId }],
  }
}

function onHeartbeatResponse(s: MembershipState, msg: Extract<MembershipMsg, { type: 'heartbeat-response' }>, now: number): StepResult {
  if (msg.errorCode === ErrorCode.NONE) return { state: { ...s, lastHeartbeatReceivedMs: now }, effects: [] }
  if (msg.errorCode === ErrorCode.REBALANCE_IN_PROGRESS) {
    // Only a stable member learns of a rebalance this way; during one the error is expected.
    const state = { ...s, lastHeartbeatReceivedMs: now }
    return { state: s.phase === 'STABLE' || s.phase === 'ASSIGNING' || s.phase === 'SYNCED' ? { ...state, rejoinReason: state.rejoinReason ?? 'the group is rebalancing' } : state, effects: [] }
  }
  const backoff = { ...s, nextHeartbeatMs: now + s.config.retryBackoffMs }
  if (COORDINATOR_MOVED.has(msg.errorCode)) return { state: lostCoordinator(backoff, now), effects: [] }
  if (msg.errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) return { state: backoff, effects: [] }
  return onGroupError(backoff, msg.errorCode, msg.generationId, 'Heartbeat', now)
}

/** UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID, REBALANCE_IN_PROGRESS from a heartbeat or commit. */
function onGroupError(s: MembershipState, code: number, generationId: number, where: string, now: number): StepResult {
  // An answer for an older generation says nothing about the current one.
  const current = generationId === s.generationId && hasGeneration(s)
  switch (code) {
    case ErrorCode.UNKNOWN_MEMBER_ID:
    case ErrorCode.ILLEGAL_GENERATION:
      if (!current || s.phase === 'JOINING') return { state: s, effects: [] }
      return { state: resetGeneration(s, `${where}: ${errorName(code)}`, code === ErrorCode.UNKNOWN_MEMBER_ID), effects: [] }
    case ErrorCode.FENCED_INSTANCE_ID:
      return current ? fenced(s, where) : { state: s, effects: [] }
    case ErrorCode.REBALANCE_IN_PROGRESS:
      return { state: { ...s, rejoinReason: s.rejoinReason ?? `${where}: the group is rebalancing` }, effects: [] }
    case ErrorCode.COORDINATOR_NOT_AVAILABLE:
    case ErrorCode.NOT_COORDINATOR:
      return { state: lostCoordinator(s, now), effects: [] }
    default:
      return { state: s, effects: [] }
  }
}

/** Kafka's onLeavePrepare and maybeLeaveGroup (close or unsubscribe). */
function onLeave(s: MembershipState, reason: string, final: boolean): StepResult {
  const effects: MembershipEffect[] = []
  if (s.owned.length > 0) {
    // Kafka: lost when the generation is gone or a rebalance is under way, else revoked.
    const lost = !hasGeneration(s) || rebalanceInProgress(s)
    const partitions = sortPartitions(s.owned)
    // close() commits before it leaves; unsubscribe() does not (as Kafka).
    effects.push(lost ? { type: 'lose', partitions, remaining: [] } : { type: 'revoke', partitions, remaining: [], commit: false })
  }
  const dynamic = s.config.groupInstanceId === null
  const inGroup = hasGeneration(s) || (s.memberId !== '' && rebalanceInProgress(s))
  if (dynamic && inGroup && s.coordinator === 'KNOWN' && (!final || s.config.leaveGroupOnClose)) effects.push({ type: 'leave-group', memberId: s.memberId, reason })
  const base = resetGeneration({ ...s, owned: [] }, reason, true)
  return {
    state: final ? { ...base, phase: 'CLOSED', subscription: null } : { ...base, subscription: null, joinedSubscription: [], rejoinReason: null, prepared: false, protocolName: null },
    effects,
  }
}

function assertInvariants(before: MembershipState, r: StepResult): void {
  const after = r.state
  // (A member's generation may go back: a coordinator that restarted mid-rebalance hands out the
  // last stored one again. The coordinator asserts that its own generations only grow.)
  for (const e of r.effects) {
    if ((e.type === 'join' || e.type === 'sync' || e.type === 'heartbeat') && after.coordinator !== 'KNOWN') {
      throw new Error(`${e.type} emitted while the coordinator is ${after.coordinator}`)
    }
  }
}
