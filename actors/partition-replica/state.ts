/**
 * The partition-replica state machine: pure and synchronous. `step(state, msg, now)` returns
 * the next state and the effects the shell (actor.ts) carries out — log I/O, replies, wake-ups.
 * Log I/O results come back as messages (`appended`, `append-failed`, `log-start-moved`,
 * `log-offsets`) in the same turn.
 *
 * The state already carries what replication needs (leader epoch, ISR, the other replicas'
 * log end offsets, acks=all waiting on the high watermark); with one node the ISR is this
 * node alone, so the high watermark is the log end offset after every append.
 *
 * Invariants (asserted after every step): logStartOffset ≤ highWatermark ≤ logEndOffset;
 * waiters ≤ MAX_FETCH_WAITERS_COUNT; pending acks ≤ MAX_PENDING_ACKS_COUNT; the leader epoch
 * never goes down.
 */
import type { Ref } from 'nact'
import type { PartitionImage } from '../../src/cluster/metadata.ts'
import { ErrorCode } from '../../src/protocol/kafka/error-codes.ts'
import {
  type Acks,
  type DeleteRecordsReply,
  type DescribeReply,
  EARLIEST_TIMESTAMP,
  LATEST_TIMESTAMP,
  type ListOffsetReply,
  type ProduceReply,
  type ReadReply,
  type ReplicaMessage,
  type WakeReply,
} from './messages.ts'

/** Long-poll fetches waiting on one partition; past it a watch is woken at once (the fetch answers with what it has). */
export const MAX_FETCH_WAITERS_COUNT = 1024
/** acks=all produces waiting for the in-sync replicas; past it a produce is refused (retriable). */
export const MAX_PENDING_ACKS_COUNT = 10_000

export interface Waiter {
  readonly id: number
  readonly fetchOffset: number
  readonly deadline: number
  readonly replyTo: Ref<WakeReply>
}

export interface PendingAck {
  /** The produce is answered once the high watermark passes this. */
  readonly lastOffset: number
  readonly deadline: number
  readonly reply: ProduceReply
  readonly replyTo: Ref<ProduceReply>
}

export interface ReplicaState {
  readonly topic: string
  readonly partition: number
  readonly nodeId: number
  readonly leader: number
  readonly leaderEpoch: number
  readonly replicas: readonly number[]
  readonly isr: readonly number[]
  readonly minInsyncReplicas: number
  readonly logStartOffset: number
  readonly highWatermark: number
  readonly logEndOffset: number
  /** Log end offsets of the other replicas, as their fetches report them (empty on one node). */
  readonly replicaEndOffsets: ReadonlyMap<number, number>
  readonly waiters: readonly Waiter[]
  readonly pendingAcks: readonly PendingAck[]
}

export type ReplicaEffect =
  | { type: 'reply'; to: Ref<unknown>; value: unknown }
  | { type: 'append'; records: Uint8Array; crcVerified: boolean; leaderEpoch: number; acks: Acks; deadline: number; replyTo: Ref<ProduceReply> }
  | { type: 'read'; fetchOffset: number; maxBytes: number; maxOffset: number; minOneBatch: boolean; replyTo: Ref<ReadReply> }
  /** Timestamp ≥ 0: the first offset at or after it; MAX_TIMESTAMP (-3): the largest timestamp. Offsets ≥ maxOffset do not count. */
  | { type: 'lookup-offset'; timestamp: number; maxOffset: number; leaderEpoch: number; replyTo: Ref<ListOffsetReply> }
  | { type: 'delete-records'; offset: number; replyTo: Ref<DeleteRecordsReply> }
  | { type: 'set-high-watermark'; offset: number }
  | { type: 'wake'; to: Ref<WakeReply>; reason: WakeReply['reason'] }

export interface StepResult {
  state: ReplicaState
  effects: ReplicaEffect[]
}

export interface ReplicaInit {
  topic: string
  partition: number
  nodeId: number
  image: PartitionImage
  minInsyncReplicas: number
  logStartOffset: number
  highWatermark: number
  logEndOffset: number
}

export function initialState(init: ReplicaInit): ReplicaState {
  const state: ReplicaState = {
    topic: init.topic,
    partition: init.partition,
    nodeId: init.nodeId,
    leader: init.image.leader,
    leaderEpoch: init.image.leaderEpoch,
    replicas: init.image.replicas,
    isr: init.image.isr,
    minInsyncReplicas: init.minInsyncReplicas,
    logStartOffset: init.logStartOffset,
    highWatermark: init.highWatermark,
    logEndOffset: init.logEndOffset,
    replicaEndOffsets: new Map(),
    waiters: [],
    pendingAcks: [],
  }
  // A leader starts with the high watermark its ISR allows (Kafka's maybeIncrementLeaderHW on
  // becoming leader): after an unclean stop the checkpointed one may lag the log end, and a
  // leader alone in its ISR would otherwise hide its tail until the next append.
  const started = isLeader(state) ? { ...state, highWatermark: computeHighWatermark(state) } : state
  checkInvariants(started)
  return started
}

export function reply<T>(to: Ref<T>, value: T): ReplicaEffect {
  return { type: 'reply', to: to as Ref<unknown>, value }
}

export function isLeader(state: ReplicaState): boolean {
  return state.leader === state.nodeId
}

/** Why this replica cannot serve a leader request, or null. */
function leaderError(state: ReplicaState): number | null {
  if (state.leader === -1) return ErrorCode.LEADER_NOT_AVAILABLE
  return isLeader(state) ? null : ErrorCode.NOT_LEADER_OR_FOLLOWER
}

/** KIP-320: a client that knows a newer epoch than ours must wait; one that knows an older one must refresh. */
function epochError(state: ReplicaState, currentLeaderEpoch: number): number | null {
  if (currentLeaderEpoch < 0 || currentLeaderEpoch === state.leaderEpoch) return null
  return currentLeaderEpoch > state.leaderEpoch ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH
}

/** The high watermark: the smallest log end offset among the in-sync replicas. */
export function computeHighWatermark(state: ReplicaState): number {
  let hw = state.logEndOffset
  for (const id of state.isr) {
    if (id === state.nodeId) continue
    hw = Math.min(hw, state.replicaEndOffsets.get(id) ?? state.highWatermark)
  }
  return Math.max(state.logStartOffset, Math.max(state.highWatermark, hw))
}

function produceError(errorCode: number, errorMessage: string, state: ReplicaState): ProduceReply {
  return { errorCode, errorMessage, baseOffset: -1, logAppendTime: -1, logStartOffset: state.logStartOffset }
}

function readError(errorCode: number, errorMessage: string | null, state: ReplicaState, fetchOffset: number): ReadReply {
  return {
    errorCode,
    errorMessage,
    records: new Uint8Array(0),
    nextOffset: fetchOffset,
    highWatermark: state.highWatermark,
    lastStableOffset: state.highWatermark,
    logStartOffset: state.logStartOffset,
    logEndOffset: state.logEndOffset,
  }
}

/** Drops the waiters and pending acks whose deadline passed (their requests answered on their own by then). */
function expire(state: ReplicaState, now: number, effects: ReplicaEffect[]): ReplicaState {
  let waiters = state.waiters
  if (waiters.some((w) => w.deadline < now)) waiters = waiters.filter((w) => w.deadline >= now)
  let pendingAcks = state.pendingAcks
  if (pendingAcks.some((p) => p.deadline < now)) {
    const kept: PendingAck[] = []
    for (const p of pendingAcks) {
      if (p.deadline >= now) kept.push(p)
      else effects.push(reply(p.replyTo, { ...p.reply, errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: `the in-sync replicas did not reach offset ${p.lastOffset} in time`, baseOffset: -1 }))
    }
    pendingAcks = kept
  }
  return waiters === state.waiters && pendingAcks === state.pendingAcks ? state : { ...state, waiters, pendingAcks }
}

/** Moves the high watermark to what the ISR allows, waking long polls and answering acks=all produces it now covers. */
function advanceHighWatermark(state: ReplicaState, effects: ReplicaEffect[]): ReplicaState {
  const hw = computeHighWatermark(state)
  if (hw === state.highWatermark) return state
  effects.push({ type: 'set-high-watermark', offset: hw })
  const waiters: Waiter[] = []
  for (const w of state.waiters) {
    if (hw > w.fetchOffset) effects.push({ type: 'wake', to: w.replyTo, reason: 'data' })
    else waiters.push(w)
  }
  const pendingAcks: PendingAck[] = []
  for (const p of state.pendingAcks) {
    if (hw > p.lastOffset) effects.push(reply(p.replyTo, p.reply))
    else pendingAcks.push(p)
  }
  return { ...state, highWatermark: hw, waiters, pendingAcks }
}

function wakeAll(state: ReplicaState, effects: ReplicaEffect[]): ReplicaState {
  for (const w of state.waiters) effects.push({ type: 'wake', to: w.replyTo, reason: 'changed' })
  return state.waiters.length === 0 ? state : { ...state, waiters: [] }
}

export function step(state0: ReplicaState, msg: ReplicaMessage, now: number): StepResult {
  const effects: ReplicaEffect[] = []
  const state = expire(state0, now, effects)
  const next = handle(state, msg, now, effects)
  checkInvariants(next)
  return { state: next, effects }
}

function handle(state: ReplicaState, msg: ReplicaMessage, now: number, effects: ReplicaEffect[]): ReplicaState {
  switch (msg.type) {
    case 'produce': {
      const notLeader = leaderError(state)
      if (notLeader !== null) {
        effects.push(reply(msg.replyTo, produceError(notLeader, `node ${state.nodeId} is not the leader of ${state.topic}-${state.partition}`, state)))
        return state
      }
      if (msg.acks === -1 && state.isr.length < state.minInsyncReplicas) {
        effects.push(reply(msg.replyTo, produceError(ErrorCode.NOT_ENOUGH_REPLICAS, `${state.isr.length} in-sync replicas, min.insync.replicas is ${state.minInsyncReplicas}`, state)))
        return state
      }
      if (msg.acks === -1 && state.pendingAcks.length >= MAX_PENDING_ACKS_COUNT) {
        effects.push(reply(msg.replyTo, produceError(ErrorCode.REQUEST_TIMED_OUT, `${MAX_PENDING_ACKS_COUNT} produces already wait for the in-sync replicas`, state)))
        return state
      }
      effects.push({ type: 'append', records: msg.records, crcVerified: msg.crcVerified, leaderEpoch: state.leaderEpoch, acks: msg.acks, deadline: now + msg.timeoutMs, replyTo: msg.replyTo })
      return state
    }
    case 'appended': {
      if (msg.firstOffset !== state.logEndOffset) throw new Error(`invariant: ${state.topic}-${state.partition} appended at ${msg.firstOffset}, log end offset was ${state.logEndOffset}`)
      const answer: ProduceReply = { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset: msg.firstOffset, logAppendTime: msg.logAppendTime, logStartOffset: msg.logStartOffset }
      let next: ReplicaState = { ...state, logEndOffset: msg.logEndOffset, logStartOffset: msg.logStartOffset }
      if (msg.acks === -1) next = { ...next, pendingAcks: [...next.pendingAcks, { lastOffset: msg.lastOffset, deadline: msg.deadline, reply: answer, replyTo: msg.replyTo }] }
      else effects.push(reply(msg.replyTo, answer))
      return advanceHighWatermark(next, effects)
    }
    case 'append-failed': {
      effects.push(reply(msg.replyTo, produceError(msg.errorCode, msg.errorMessage, state)))
      return msg.logEndOffset === state.logEndOffset ? state : { ...state, logEndOffset: msg.logEndOffset }
    }
    case 'read': {
      const problem = leaderError(state) ?? epochError(state, msg.currentLeaderEpoch)
      if (problem !== null) {
        effects.push(reply(msg.replyTo, readError(problem, null, state, msg.fetchOffset)))
        return state
      }
      if (msg.fetchOffset < state.logStartOffset || msg.fetchOffset > state.logEndOffset) {
        effects.push(reply(msg.replyTo, readError(ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${msg.fetchOffset} is outside [${state.logStartOffset}, ${state.logEndOffset}]`, state, msg.fetchOffset)))
        return state
      }
      if (msg.fetchOffset >= state.highWatermark || msg.maxBytes <= 0) {
        effects.push(reply(msg.replyTo, readError(ErrorCode.NONE, null, state, msg.fetchOffset)))
        return state
      }
      effects.push({ type: 'read', fetchOffset: msg.fetchOffset, maxBytes: msg.maxBytes, maxOffset: state.highWatermark, minOneBatch: msg.minOneBatch, replyTo: msg.replyTo })
      return state
    }
    case 'watch': {
      if (state.highWatermark > msg.fetchOffset || !isLeader(state)) {
        effects.push({ type: 'wake', to: msg.replyTo, reason: isLeader(state) ? 'data' : 'changed' })
        return state
      }
      if (state.waiters.length >= MAX_FETCH_WAITERS_COUNT) {
        effects.push({ type: 'wake', to: msg.replyTo, reason: 'full' })
        return state
      }
      return { ...state, waiters: [...state.waiters, { id: msg.id, fetchOffset: msg.fetchOffset, deadline: msg.deadline, replyTo: msg.replyTo }] }
    }
    case 'unwatch': {
      // The waiter is answered so that its asker's query (and timer) ends now, not at its deadline.
      const gone = state.waiters.find((w) => w.id === msg.id)
      if (!gone) return state
      effects.push({ type: 'wake', to: gone.replyTo, reason: 'cancelled' })
      return { ...state, waiters: state.waiters.filter((w) => w !== gone) }
    }
    case 'list-offsets': {
      const problem = leaderError(state) ?? epochError(state, msg.currentLeaderEpoch)
      if (problem !== null) {
        effects.push(reply(msg.replyTo, { errorCode: problem, offset: -1, timestamp: -1, leaderEpoch: -1 }))
        return state
      }
      if (msg.timestamp === LATEST_TIMESTAMP) {
        effects.push(reply(msg.replyTo, { errorCode: ErrorCode.NONE, offset: state.highWatermark, timestamp: -1, leaderEpoch: state.leaderEpoch }))
      } else if (msg.timestamp === EARLIEST_TIMESTAMP) {
        effects.push(reply(msg.replyTo, { errorCode: ErrorCode.NONE, offset: state.logStartOffset, timestamp: -1, leaderEpoch: state.leaderEpoch }))
      } else if (msg.timestamp < 0 && msg.timestamp !== -3) {
        effects.push(reply(msg.replyTo, { errorCode: ErrorCode.INVALID_REQUEST, offset: -1, timestamp: -1, leaderEpoch: -1 }))
      } else {
        effects.push({ type: 'lookup-offset', timestamp: msg.timestamp, maxOffset: state.highWatermark, leaderEpoch: state.leaderEpoch, replyTo: msg.replyTo })
      }
      return state
    }
    case 'delete-records': {
      const problem = leaderError(state)
      if (problem !== null) {
        effects.push(reply(msg.replyTo, { errorCode: problem, lowWatermark: -1 }))
        return state
      }
      // -1: up to the high watermark (Kafka's DeleteRecordsRequest.HIGH_WATERMARK).
      const offset = msg.offset === -1 ? state.highWatermark : msg.offset
      if (offset < 0 || offset > state.highWatermark) {
        effects.push(reply(msg.replyTo, { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, lowWatermark: state.logStartOffset }))
        return state
      }
      if (offset <= state.logStartOffset) {
        effects.push(reply(msg.replyTo, { errorCode: ErrorCode.NONE, lowWatermark: state.logStartOffset }))
        return state
      }
      effects.push({ type: 'delete-records', offset, replyTo: msg.replyTo })
      return state
    }
    case 'log-start-moved': {
      if (msg.replyTo) effects.push(reply(msg.replyTo, { errorCode: ErrorCode.NONE, lowWatermark: msg.logStartOffset }))
      return msg.logStartOffset <= state.logStartOffset ? state : { ...state, logStartOffset: msg.logStartOffset }
    }
    case 'describe': {
      const value: DescribeReply = {
        errorCode: ErrorCode.NONE,
        leaderEpoch: state.leaderEpoch,
        leader: state.leader,
        isr: state.isr,
        logStartOffset: state.logStartOffset,
        highWatermark: state.highWatermark,
        lastStableOffset: state.highWatermark,
        logEndOffset: state.logEndOffset,
        waiters: state.waiters.length,
      }
      effects.push(reply(msg.replyTo, value))
      return state
    }
    case 'update': {
      const p = msg.partition
      if (p.leaderEpoch < state.leaderEpoch) return state // a stale image: ignore
      const changed = p.leader !== state.leader || p.leaderEpoch !== state.leaderEpoch
      let next: ReplicaState = { ...state, leader: p.leader, leaderEpoch: p.leaderEpoch, replicas: p.replicas, isr: p.isr, minInsyncReplicas: msg.minInsyncReplicas }
      if (changed) next = wakeAll(next, effects)
      return isLeader(next) ? advanceHighWatermark(next, effects) : next
    }
    case 'refresh':
      return state // the shell turns it into log-offsets
    case 'log-offsets': {
      const next = { ...state, logStartOffset: msg.logStartOffset, highWatermark: msg.highWatermark, logEndOffset: msg.logEndOffset }
      return isLeader(next) ? advanceHighWatermark(next, effects) : next
    }
    case 'crash':
      return state // the shell throws before it gets here
    default: {
      const never: never = msg
      throw new Error(`unknown partition-replica message ${JSON.stringify(never)}`)
    }
  }
}

export function checkInvariants(state: ReplicaState): void {
  if (!(state.logStartOffset <= state.highWatermark && state.highWatermark <= state.logEndOffset)) {
    throw new Error(`invariant: ${state.topic}-${state.partition}: log start ${state.logStartOffset} ≤ high watermark ${state.highWatermark} ≤ log end ${state.logEndOffset} broken`)
  }
  if (state.waiters.length > MAX_FETCH_WAITERS_COUNT) throw new Error(`invariant: ${state.waiters.length} fetch waiters > ${MAX_FETCH_WAITERS_COUNT}`)
  if (state.pendingAcks.length > MAX_PENDING_ACKS_COUNT) throw new Error(`invariant: ${state.pendingAcks.length} pending acks > ${MAX_PENDING_ACKS_COUNT}`)
}
