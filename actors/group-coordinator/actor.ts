/**
 * The group-coordinator actor shell: one nact actor per consumer group, wrapping the pure
 * state machine (state.ts) and carrying out its effects:
 *   reply   call the callback;
 *   write   encode the records and `produce` them (acks -1) to the group's `__consumer_offsets`
 *           replica; the result comes back later as `written`, for each write in the order
 *           asked for. The write does not block the mailbox. At most PRODUCES_IN_FLIGHT_MAX
 *           produces of a group are in flight; writes asked for meanwhile wait and then go
 *           together, in order, as one RecordBatch (up to WRITE_BATCH_MAX_BYTES): under load a
 *           group appends one batch per round trip to its replica, not one per commit. A
 *           write's held replies are released only by the result of the batch holding its
 *           records; a failed batch fails each write in it (the state puts back what each
 *           replaced), none of another batch. A write larger than the cap goes alone, and a
 *           batch of several that the log refuses as too large is sent again one write per
 *           batch, so one oversized write fails alone. Produces are dispatched in the order
 *           asked for (the replica's mailbox keeps that order in the log);
 *   timer   the group's one wake-up (`tick`), replacing the previous one (left alone when the
 *           time asked for is the one already set);
 *   log     the logger;
 *   removed forget the group (the service) and stop.
 *
 * Supervision: a write whose failure may mean the partition is lost (the state ends `failed`:
 * NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR) or a step that throws (a bug) makes the shell
 * answer what waits, drop the writes not yet sent (their replies were answered), wait for the
 * produces in flight to settle, and reload the group from its partition (the replay path, as
 * at start-up). While it reloads its requests get COORDINATOR_LOAD_IN_PROGRESS; results of the
 * previous incarnation are ignored. The reloaded group never goes below the generation it had
 * (the log may lack the last ones): see GroupState.generationFloor. Other failed writes are the
 * state's to handle, as Kafka does; the group goes on.
 * After `unload` it answers NOT_COORDINATOR; after `removed` it hands requests that were
 * already queued back to the service, which routes them to a fresh actor.
 */
import { dispatch, query, type Ref, spawn, stop as stopActor } from 'nact'
import { encodeGroupRecord, type EncodedGroupRecord } from '../../src/group/group-records.ts'
import { errorMessage } from '../../src/log/errors.ts'
import { ErrorCode, errorName } from '../../src/protocol/kafka/error-codes.ts'
import { buildRecordBatch } from '../../src/record/record-batch.ts'
import type { Clock } from '../../src/runtime/clock.ts'
import type { Logger } from '../../src/runtime/logger.ts'
import type { ProduceReply, ReplicaMessage } from '../partition-replica/messages.ts'
import type { GroupEffect, GroupMessage, GroupRequest } from './messages.ts'
import { activate, type GroupConfig, type GroupState, step } from './state.ts'

/** How much longer than offsets.commit.timeout.ms a write waits for its replica's answer (a stopped replica never answers). */
export const WRITE_REPLY_SLACK_MS = 5_000
/** After a reload that failed (the partition could not be read), the next attempt waits this long. */
export const RELOAD_RETRY_BACKOFF_MS = 1_000
/**
 * Produces of one group in flight at once; writes asked for beyond it wait and go together.
 * One: a group's produces complete in order anyway, so a second in flight would only split
 * the next batch.
 */
export const PRODUCES_IN_FLIGHT_MAX = 1
/**
 * Largest batch that writes waiting for a produce are merged into (keys and values, plus
 * RECORD_OVERHEAD_BYTES each), well below max.message.bytes (1 MiB by default), so that merging
 * never makes a write fail that would have been appended alone. A larger write goes alone.
 */
export const WRITE_BATCH_MAX_BYTES = 64 * 1024
/** What a record adds to a batch besides its key and value (its length, attributes, deltas, header count), at most. */
const RECORD_OVERHEAD_BYTES = 24
/** Timers longer than this do not fit setTimeout: they are re-armed until their time comes. */
const MAX_TIMER_DELAY_MS = 0x7fffffff

/** The seam for the group's wake-up: fire at clock time `at`; returns a cancel function. */
export interface GroupTimers {
  schedule(at: number, fire: () => void): () => void
}

/** Real timers against a clock: fires once clock.now() ≥ at. */
export function clockTimers(clock: Clock): GroupTimers {
  return {
    schedule(at, fire) {
      let handle: ReturnType<typeof setTimeout> | undefined
      let cancelled = false
      const arm = () => {
        const delay = Math.min(Math.max(0, at - clock.now()), MAX_TIMER_DELAY_MS)
        handle = setTimeout(() => {
          if (cancelled) return
          if (clock.now() >= at) fire()
          else arm()
        }, delay)
        handle.unref?.()
      }
      arm()
      return () => {
        cancelled = true
        clearTimeout(handle)
      }
    },
  }
}

export interface GroupActorDeps {
  groupId: string
  config: GroupConfig
  clock: Clock
  timers: GroupTimers
  logger: Logger
  /** offsets.commit.timeout.ms: how long a write may wait for the in-sync replicas. */
  commitTimeoutMs: number
  /** The replica actor of the group's `__consumer_offsets` partition; undefined when it is not hosted here. */
  replica(): Ref<ReplicaMessage> | undefined
  /** Reads the group back from its partition (the replay path); rejects when the partition cannot be read. */
  load(): Promise<GroupState>
  /** The state removed the group: forget this actor. */
  onRemoved(): void
  /** A request that reached this actor after it was removed: route it again. */
  reroute(msg: GroupRequest): void
  /** The actor stopped (after unload or removal). */
  onStopped?(): void
}

/** What the shell accepts: the group's messages, plus its own bookkeeping (from itself and its spawner). */
export type GroupActorMessage =
  | GroupMessage
  /** The first message after spawn: the state was loaded (or is new); `activate` it. */
  | { type: 'activate' }
  /** The produce of these writes (in the order asked for, one batch) returned. */
  | { type: 'write-result'; incarnation: number; writes: readonly QueuedWrite[]; errorCode: number }
  | { type: 'timer-fired'; incarnation: number; timerSeq: number }
  | { type: 'reload'; incarnation: number }
  | { type: 'reloaded'; incarnation: number; state: GroupState | null; error: string | null }
  /** Sent to itself after unload or removal: the messages queued before it have been answered. */
  | { type: 'retire' }

export type GroupActorMode = 'active' | 'reloading' | 'unloaded' | 'removed' | 'stopped'

/** A write the state asked for, encoded, waiting for a produce. */
export interface QueuedWrite {
  readonly writeId: number
  readonly records: readonly EncodedGroupRecord[]
  readonly bytes: number
  /** Sent in a batch of its own (it was refused as too large in a batch with others). */
  readonly alone: boolean
}

export interface GroupActorState {
  mode: GroupActorMode
  group: GroupState
  /** Bumped on every reload: results of writes and timers of an older incarnation are ignored. */
  incarnation: number
  /** Produces dispatched and not yet answered, of any incarnation: a reload reads only after they settle. */
  inFlight: number
  /**
   * Writes waiting for a produce, in the order asked for. Owned by the actor (its one live state
   * changes it in place). Bounded by the writes the state holds, hence by the requests the
   * service lets wait (PENDING_CALLS_MAX_COUNT).
   */
  queued: QueuedWrite[]
  /** Set while reloading once the read has started. */
  reading: boolean
  timerSeq: number
  cancelTimer: (() => void) | null
  /** When the group's timer (`cancelTimer`) fires; null for none, or the reload's backoff. */
  timerAt: number | null
  /** The highest generation the group had before its last reload: the reloaded one goes on from there. */
  generationFloor: number
}

/** What the step needs of the actor it runs in. */
export interface GroupActorIo {
  self(msg: GroupActorMessage): void
  stop(): void
}

export function initialActorState(group: GroupState): GroupActorState {
  return { mode: 'active', group, incarnation: 0, inFlight: 0, queued: [], reading: false, timerSeq: 0, cancelTimer: null, timerAt: null, generationFloor: 0 }
}

export function isGroupRequest(msg: GroupActorMessage): msg is GroupRequest {
  switch (msg.type) {
    case 'join':
    case 'sync':
    case 'heartbeat':
    case 'leave':
    case 'commit':
    case 'fetch-offsets':
    case 'describe':
    case 'list':
    case 'delete-group':
    case 'delete-offsets':
      return true
    default:
      return false
  }
}

/** Answers a request with a group-level error, in the shape its reply has (list: not listed). */
export function answerWithError(msg: GroupRequest, errorCode: number, groupId: string): void {
  switch (msg.type) {
    case 'join':
      msg.reply({ errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId: msg.input.memberId, members: [] })
      return
    case 'sync':
      msg.reply({ errorCode, protocolType: null, protocolName: null, assignment: new Uint8Array(0) })
      return
    case 'heartbeat':
      msg.reply({ errorCode })
      return
    case 'leave':
      msg.reply({ errorCode, members: [] })
      return
    case 'commit':
      msg.reply({ topics: msg.input.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode })) })) })
      return
    case 'fetch-offsets':
      // OffsetFetch v0–1 carry the error per partition, v2+ at the top: both are filled.
      msg.reply({
        errorCode,
        topics: (msg.input.topics ?? []).map((t) => ({ name: t.name, partitions: t.partitions.map((partition) => ({ partition, offset: -1, leaderEpoch: -1, metadata: '', errorCode })) })),
      })
      return
    case 'describe':
      msg.reply({ errorCode, groupId, state: 'Dead', protocolType: '', protocolData: '', members: [] })
      return
    case 'list':
      msg.reply(null)
      return
    case 'delete-group':
      msg.reply({ errorCode })
      return
    case 'delete-offsets':
      msg.reply({ errorCode, topics: [] })
      return
    default: {
      const never: never = msg
      throw new Error(`unknown group request ${JSON.stringify(never)}`)
    }
  }
}

/** Handles one message: the actor's whole behaviour, exported for tests that skip nact. */
export function groupActorStep(deps: GroupActorDeps, s: GroupActorState, msg: GroupActorMessage, io: GroupActorIo): GroupActorState {
  if (s.mode === 'stopped') return s
  switch (msg.type) {
    case 'activate':
      if (s.mode !== 'active') return s
      return run(deps, s, io, msg, () => activate(s.group, deps.clock.now(), deps.config))
    case 'write-result': {
      let next = { ...s, inFlight: s.inFlight - 1 }
      if (next.inFlight < 0) throw new Error(`invariant: group ${deps.groupId} has a negative count of writes in flight`)
      if (msg.incarnation !== s.incarnation || s.mode !== 'active') return maybeStartReading(deps, next, io)
      if (msg.writes.length > 1 && next.inFlight === 0 && (msg.errorCode === ErrorCode.MESSAGE_TOO_LARGE || msg.errorCode === ErrorCode.RECORD_LIST_TOO_LARGE)) {
        // Merging must not fail a write that fits alone: each goes again, alone, before those queued after them.
        deps.logger.warn(`group ${deps.groupId}: a batch of ${msg.writes.length} writes is too large for __consumer_offsets (${errorName(msg.errorCode)}); sending them one by one`)
        next.queued.unshift(...msg.writes.map((w) => ({ ...w, alone: true })))
        return sendQueued(deps, next, io)
      }
      for (const w of msg.writes) {
        const written: GroupMessage = { type: 'written', writeId: w.writeId, errorCode: msg.errorCode }
        const group = next.group
        next = run(deps, next, io, written, () => step(group, written, deps.clock.now(), deps.config))
        if (next.mode !== 'active') return next
        // The partition may be lost: the state answered every write it holds, the rest is the reload's.
        if (next.group.ended === 'failed') return beginReload(deps, next, io, `writing to __consumer_offsets failed with ${errorName(msg.errorCode)}`)
      }
      return next
    }
    case 'timer-fired': {
      if (msg.incarnation !== s.incarnation || msg.timerSeq !== s.timerSeq || s.mode !== 'active') return s
      const tick: GroupMessage = { type: 'tick' }
      return run(deps, { ...s, cancelTimer: null, timerAt: null }, io, tick, () => step(s.group, tick, deps.clock.now(), deps.config))
    }
    case 'reload':
      if (msg.incarnation !== s.incarnation || s.mode !== 'reloading') return s
      return maybeStartReading(deps, { ...s, reading: false }, io)
    case 'reloaded': {
      if (msg.incarnation !== s.incarnation || s.mode !== 'reloading') return s
      if (msg.state === null) {
        deps.logger.warn(`group ${deps.groupId}: reloading from __consumer_offsets failed (${msg.error}); retrying in ${RELOAD_RETRY_BACKOFF_MS} ms`)
        const incarnation = s.incarnation
        const cancel = deps.timers.schedule(deps.clock.now() + RELOAD_RETRY_BACKOFF_MS, () => io.self({ type: 'reload', incarnation }))
        return { ...s, reading: false, cancelTimer: cancel, timerAt: null }
      }
      deps.logger.info(`group ${deps.groupId}: reloaded from __consumer_offsets`)
      const loaded = msg.state
      const floor = s.generationFloor
      return run(deps, { ...s, mode: 'active', reading: false, group: loaded }, io, { type: 'activate' }, () => activate(loaded, deps.clock.now(), deps.config, floor))
    }
    case 'unload': {
      let next = s
      if (s.mode === 'active') next = run(deps, s, io, msg, () => step(s.group, msg, deps.clock.now(), deps.config), true)
      if (next.mode === 'stopped') return next
      next = cancelTimer(next)
      if (next.mode !== 'removed') io.self({ type: 'retire' })
      return { ...next, mode: 'unloaded', queued: [] }
    }
    case 'retire': {
      const next = cancelTimer(s)
      io.stop()
      deps.onStopped?.()
      return { ...next, mode: 'stopped' }
    }
    case 'tick':
    case 'written':
      if (s.mode !== 'active') return s
      return run(deps, s, io, msg, () => step(s.group, msg, deps.clock.now(), deps.config))
    default: {
      if (!isGroupRequest(msg)) {
        const never: never = msg
        throw new Error(`unknown group actor message ${JSON.stringify(never)}`)
      }
      switch (s.mode) {
        case 'active':
          return run(deps, s, io, msg, () => step(s.group, msg, deps.clock.now(), deps.config))
        case 'reloading':
          answerWithError(msg, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, deps.groupId)
          return s
        case 'unloaded':
          answerWithError(msg, ErrorCode.NOT_COORDINATOR, deps.groupId)
          return s
        case 'removed':
          deps.reroute(msg)
          return s
        default: {
          const never: never = s.mode
          throw new Error(`unknown group actor mode ${String(never)}`)
        }
      }
    }
  }
}

/**
 * Runs one state step and its effects. A throw (a bug in the state machine or in encoding its
 * records) answers the message with COORDINATOR_NOT_AVAILABLE and reloads the group, unless
 * `unloading` (then the group is being dropped anyway).
 */
function run(
  deps: GroupActorDeps,
  s: GroupActorState,
  io: GroupActorIo,
  msg: GroupMessage | { type: 'activate' },
  stepFn: () => { state: GroupState; effects: GroupEffect[] },
  unloading = false,
): GroupActorState {
  let next = s
  try {
    const r = stepFn()
    next = { ...next, group: r.state }
    let removed = false
    for (const e of r.effects) {
      const after = execute(deps, next, io, e)
      next = after.state
      removed ||= after.removed
    }
    if (removed && !unloading) {
      next = cancelTimer({ ...next, mode: 'removed' })
      deps.onRemoved()
      io.self({ type: 'retire' })
    }
    // A group that ended answered what its writes held: those not yet sent are dropped.
    if (r.state.ended !== null) return { ...next, queued: [] }
    return unloading || next.mode !== 'active' ? next : sendQueued(deps, next, io)
  } catch (err) {
    deps.logger.error(`group ${deps.groupId}: handling ${msg.type} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    if (msg.type !== 'activate' && isGroupRequest(msg)) {
      try {
        answerWithError(msg, ErrorCode.COORDINATOR_NOT_AVAILABLE, deps.groupId)
      } catch {
        // The callback itself threw: nothing more to tell that caller.
      }
    }
    if (unloading) return next
    return beginReload(deps, next, io, 'a bug in the group state machine')
  }
}

function execute(deps: GroupActorDeps, s: GroupActorState, io: GroupActorIo, e: GroupEffect): { state: GroupActorState; removed: boolean } {
  switch (e.type) {
    case 'reply':
      try {
        e.to(e.value)
      } catch (err) {
        deps.logger.warn(`group ${deps.groupId}: a reply callback threw: ${errorMessage(err)}`)
      }
      return { state: s, removed: false }
    case 'write': {
      const records = e.records.map((r) => encodeGroupRecord(r))
      let bytes = 0
      for (const r of records) bytes += r.key.length + (r.value?.length ?? 0) + RECORD_OVERHEAD_BYTES
      s.queued.push({ writeId: e.writeId, records, bytes, alone: false })
      return { state: s, removed: false }
    }
    case 'timer': {
      // Most steps ask for the deadline already set (a commit moves none): no timer churn then.
      if (e.at !== null && e.at === s.timerAt && s.cancelTimer !== null) return { state: s, removed: false }
      let next = cancelTimer(s)
      if (e.at !== null) {
        const timerSeq = next.timerSeq + 1
        const incarnation = next.incarnation
        const cancel = deps.timers.schedule(e.at, () => io.self({ type: 'timer-fired', incarnation, timerSeq }))
        next = { ...next, timerSeq, cancelTimer: cancel, timerAt: e.at }
      }
      return { state: next, removed: false }
    }
    case 'log':
      deps.logger[e.level](`group ${deps.groupId}: ${e.message}`)
      return { state: s, removed: false }
    case 'removed':
      return { state: s, removed: true }
    default: {
      const never: never = e
      throw new Error(`unknown group effect ${JSON.stringify(never)}`)
    }
  }
}

/** Sends the writes that wait, in order, as far as produces may be in flight: each produce one batch of as many as fit. */
function sendQueued(deps: GroupActorDeps, s: GroupActorState, io: GroupActorIo): GroupActorState {
  let inFlight = s.inFlight
  while (inFlight < PRODUCES_IN_FLIGHT_MAX && s.queued.length > 0) {
    let n = 1
    let bytes = s.queued[0]!.bytes
    if (!s.queued[0]!.alone) {
      while (n < s.queued.length && !s.queued[n]!.alone && bytes + s.queued[n]!.bytes <= WRITE_BATCH_MAX_BYTES) bytes += s.queued[n++]!.bytes
    }
    const writes = s.queued.splice(0, n)
    produce(deps, s, io, writes, writes.length === 1 ? writes[0]!.records : writes.flatMap((w) => w.records))
    inFlight++
  }
  return inFlight === s.inFlight ? s : { ...s, inFlight }
}

/** Dispatches the produce now (so writes reach the replica in order); its answer, exactly one, comes back as `write-result`. */
function produce(deps: GroupActorDeps, s: GroupActorState, io: GroupActorIo, writes: readonly QueuedWrite[], records: readonly EncodedGroupRecord[]): void {
  const { incarnation } = s
  const done = (errorCode: number) => io.self({ type: 'write-result', incarnation, writes, errorCode })
  let batch: Uint8Array
  try {
    batch = buildRecordBatch(records, { timestamp: deps.clock.now() })
  } catch (err) {
    deps.logger.error(`group ${deps.groupId}: building the batch of writes ${writes.map((w) => w.writeId).join(', ')} failed: ${errorMessage(err)}`)
    queueMicrotask(() => done(ErrorCode.UNKNOWN_SERVER_ERROR))
    return
  }
  const replica = deps.replica()
  if (!replica) {
    queueMicrotask(() => done(ErrorCode.NOT_LEADER_OR_FOLLOWER))
    return
  }
  const timeoutMs = deps.commitTimeoutMs
  let answer: Promise<ProduceReply>
  try {
    answer = query(replica, (replyTo: Ref<ProduceReply>) => ({ type: 'produce', records: batch, acks: -1, crcVerified: true, timeoutMs, replyTo }) as ReplicaMessage, timeoutMs + WRITE_REPLY_SLACK_MS) as Promise<ProduceReply>
  } catch {
    answer = Promise.reject(new Error('the replica stopped'))
  }
  answer.then(
    (r) => done(r.errorCode),
    () => done(ErrorCode.REQUEST_TIMED_OUT),
  )
}

function cancelTimer(s: GroupActorState): GroupActorState {
  if (!s.cancelTimer) return s
  s.cancelTimer()
  return { ...s, cancelTimer: null, timerAt: null }
}

/** Drops the state (its waiters get NOT_COORDINATOR: clients find the coordinator again and retry) and reloads it once the writes in flight settle. */
function beginReload(deps: GroupActorDeps, s: GroupActorState, io: GroupActorIo, why: string): GroupActorState {
  deps.logger.warn(`group ${deps.groupId}: ${why}; reloading it from __consumer_offsets`)
  let next = cancelTimer(s)
  try {
    const r = step(next.group, { type: 'unload' }, deps.clock.now(), deps.config)
    for (const e of r.effects) {
      if (e.type === 'reply' || e.type === 'log') next = execute(deps, next, io, e).state
    }
  } catch (err) {
    deps.logger.error(`group ${deps.groupId}: unloading failed too, its waiters are left to time out: ${errorMessage(err)}`)
  }
  // The writes not yet sent go with the state they were replayed into (unload answered what they held).
  // `group` is null only in tests that stand a broken state for a bug.
  const generationFloor = Math.max(next.generationFloor, next.group?.generationFloor ?? 0, next.group?.group?.generationId ?? 0)
  return maybeStartReading(deps, { ...next, mode: 'reloading', reading: false, incarnation: next.incarnation + 1, queued: [], generationFloor }, io)
}

function maybeStartReading(deps: GroupActorDeps, s: GroupActorState, io: GroupActorIo): GroupActorState {
  if (s.mode !== 'reloading' || s.reading || s.inFlight > 0) return s
  const { incarnation } = s
  let loading: Promise<GroupState>
  try {
    loading = deps.load()
  } catch (err) {
    loading = Promise.reject(err)
  }
  loading.then(
    (state) => io.self({ type: 'reloaded', incarnation, state, error: null }),
    (err: unknown) => io.self({ type: 'reloaded', incarnation, state: null, error: errorMessage(err) }),
  )
  return { ...cancelTimer(s), reading: true }
}

/**
 * Spawns the actor of one group under `parent`, with its loaded (or new) state; the first
 * message it handles is `activate`.
 */
export function spawnGroupActor(parent: Ref<unknown>, name: string, deps: GroupActorDeps, initial: GroupState): Ref<GroupActorMessage> {
  const ref = spawn(
    parent as Ref<never>,
    (s: GroupActorState, msg: GroupActorMessage, ctx) =>
      groupActorStep(deps, s, msg, {
        self: (m) => dispatch(ctx.self, m),
        stop: () => stopActor(ctx.self),
      }),
    name,
    {
      initialState: initialActorState(initial),
      onCrash: (msg, err, ctx) => {
        // Only the shell's own bookkeeping can get here (the state's faults are caught): keep going.
        deps.logger.error(`group ${deps.groupId}: the actor failed on ${msg?.type ?? 'start'}: ${errorMessage(err)}`)
        if (msg && isGroupRequest(msg)) {
          try {
            answerWithError(msg, ErrorCode.COORDINATOR_NOT_AVAILABLE, deps.groupId)
          } catch {
            // nothing more to tell that caller
          }
        }
        return ctx.resume
      },
    },
  ) as Ref<GroupActorMessage>
  dispatch(ref, { type: 'activate' })
  return ref
}
