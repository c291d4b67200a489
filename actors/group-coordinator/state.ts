/**
 * The state machine of one consumer group: Kafka's classic group coordinator (GroupCoordinator /
 * GroupMetadata of Kafka 3.x), pure and synchronous.
 *
 *   replay(state, record)             → state                the only way the persistent part changes
 *                                                            (replayAll, GroupReplay: many records, one pass)
 *   activate(state, now, config)      → { state, effects }   after loading: members get fresh sessions
 *   step(state, msg, now, config)     → { state, effects }   one request, `tick`, `written` or `unload`
 *
 * Persistent part (as `__consumer_offsets` holds it): the committed offsets and the last
 * GroupMetadataValue. A step that writes builds the records, replays them itself and returns a
 * `write` effect with a fresh writeId; what must wait for the write (OffsetCommit, the SyncGroup
 * answers after the leader's assignment, a static member's rejoin, DeleteGroups, OffsetDelete)
 * is held until `written`. A failed write answers the replies it held with the error mapped as
 * Kafka's storeOffsets/storeGroup do and puts back what it replaced (the entries the log still
 * holds), unless a later write in flight replaced them again; the live group goes on as Kafka's
 * does (a failed assignment: the waiting SyncGroups get the error and the group rebalances, to a
 * higher generation). Only NOT_LEADER_OR_FOLLOWER and KAFKA_STORAGE_ERROR (this broker may no
 * longer lead the partition, or its log is broken: Kafka unloads the group) answer everything with
 * NOT_COORDINATOR and leave the group ended `failed`: the actor shell reloads it from the log.
 * Results of writes come in the order the writes were asked for (the shell sends them so).
 *
 * Transient part (memory only, as in Kafka): the live group — state (Empty, PreparingRebalance,
 * CompletingRebalance, Stable, Dead; transitions checked against Kafka's table of valid previous
 * states), generation, members with their protocols, held JoinGroup/SyncGroup replies and
 * session deadlines, KIP-394 pending member ids, the rebalance and pending-sync deadlines.
 * `group: null` is a group Kafka does not have (never created, or deleted).
 *
 * One timer: every step ends with a `timer` effect at the earliest deadline (a member's session,
 * a pending member id, the rebalance or initial delay, the pending-sync timeout, the next offset
 * expiry, the removal of an empty group without offsets); `tick` handles all that is due.
 *
 * Cost of a step, for a group with n committed offsets and w writes in flight: O(log n + log w)
 * per record written or settled, plus O(members), never O(n) (a commit is one of these steps,
 * its `written` another):
 * - the offsets and the writes are persistent maps (persistent-map.ts): a change copies one path
 *   of a trie. A step changes in place only nodes it made itself (with an edit token it drops
 *   at its end), so no older state value ever sees a later change;
 * - the group's member collections are copied only when the step changes them (copy-on-write.ts);
 * - the next offset expiry is not scanned for: the state keeps a lower bound of it
 *   (`offsetExpiry`) for the group's present expiry mode (KIP-211/496: see ExpiryMode). A write
 *   lowers it to each new offset's expiry; nothing else can make the true next expiry earlier
 *   (an overwrite or a tombstone only makes it later). It is computed afresh (one scan) when the
 *   mode changes (the group turns Empty or Stable, its subscriptions change) and when a tick
 *   reaches it; so the timer may fire early for offsets, and that tick sets it right. A group
 *   whose offsets cannot expire in its present state costs nothing here.
 *
 * Member ids are `${clientId}-${uuid}` (`${groupInstanceId}-${uuid}` for static members), the uuid
 * derived deterministically from the group id, the clock and a counter in the state (checked
 * unique against the group's members and pending ids): no randomness to inject.
 */
import type { BrokerConfig } from '../../src/broker/broker-config.ts'
import type { GroupMemberRecord, GroupMetadataRecordValue, GroupRecord, OffsetCommitRecordValue } from '../../src/group/group-records.ts'
import { ErrorCode, errorName } from '../../src/protocol/kafka/error-codes.ts'
import { ProtocolDecodeError, Reader } from '../../src/protocol/kafka/primitives.ts'
import type {
  DescribeGroupResult,
  GroupEffect,
  GroupMessage,
  GroupStateName,
  HeartbeatInput,
  JoinGroupInput,
  JoinGroupProtocol,
  JoinGroupResult,
  LeaveGroupInput,
  LeaveGroupResult,
  OffsetCommitInput,
  OffsetDeleteInput,
  OffsetDeleteResult,
  OffsetFetchResult,
  PartitionErrors,
  ReplyTo,
  SyncGroupInput,
  SyncGroupResult,
} from './messages.ts'
import { CowMap, CowSet } from './copy-on-write.ts'
import { EditToken, PersistentMap } from './persistent-map.ts'

/** Kafka's NewMemberJoinTimeoutMs: a new member's JoinGroup waits at most this long for the rebalance. */
export const NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000
/** KIP-394 member ids handed out and not yet used, per group; beyond it a join gets GROUP_MAX_SIZE_REACHED. */
export const PENDING_MEMBERS_MAX = 10_000
/**
 * Rounds of one `tick` over what is due (one round can make more due at once: a 0 ms initial delay
 * re-armed, a rebalance completing with a 0 ms rebalance timeout); what is left waits for the next tick.
 */
export const TICK_ROUNDS_MAX = 16
/** Kafka's default offsets.retention.check.interval.ms, when the config does not say. */
const DEFAULT_RETENTION_CHECK_INTERVAL_MS = 600_000
const CONSUMER_PROTOCOL_TYPE = 'consumer'
const EMPTY_BYTES = new Uint8Array(0)

export interface GroupConfig {
  /** group.min.session.timeout.ms */
  minSessionTimeoutMs: number
  /** group.max.session.timeout.ms */
  maxSessionTimeoutMs: number
  /** group.initial.rebalance.delay.ms */
  initialRebalanceDelayMs: number
  /** group.max.size */
  maxSize: number
  /** offsets.retention.minutes * 60000 */
  offsetsRetentionMs: number
  /** offset.metadata.max.bytes (Kafka compares the metadata's length in UTF-16 units) */
  offsetMetadataMaxBytes: number
  /** offsets.retention.check.interval.ms: how long an empty group without offsets lingers before it is removed. */
  offsetsRetentionCheckIntervalMs?: number
}

export function groupConfigFrom(config: BrokerConfig): GroupConfig {
  return {
    minSessionTimeoutMs: config['group.min.session.timeout.ms'],
    maxSessionTimeoutMs: config['group.max.session.timeout.ms'],
    initialRebalanceDelayMs: config['group.initial.rebalance.delay.ms'],
    maxSize: config['group.max.size'],
    offsetsRetentionMs: config['offsets.retention.minutes'] * 60_000,
    offsetMetadataMaxBytes: config['offset.metadata.max.bytes'],
    offsetsRetentionCheckIntervalMs: config['offsets.retention.check.interval.ms'],
  }
}

export interface GroupMember {
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly clientId: string
  readonly clientHost: string
  readonly rebalanceTimeoutMs: number
  readonly sessionTimeoutMs: number
  readonly protocolType: string
  readonly protocols: readonly JoinGroupProtocol[]
  readonly assignment: Uint8Array
  /** Its JoinGroup, held until the rebalance completes (or a static rejoin is written). */
  readonly awaitingJoin: ReplyTo<JoinGroupResult> | null
  /** Its SyncGroup, held until the leader's assignment is written. */
  readonly awaitingSync: ReplyTo<SyncGroupResult> | null
  /** Joined and not yet through a rebalance: its session deadline is NEW_MEMBER_JOIN_TIMEOUT_MS even while it waits. */
  readonly isNew: boolean
  readonly sessionDeadline: number
}

/** The in-memory group (Kafka's GroupMetadata). */
export interface LiveGroup {
  readonly state: GroupStateName
  /** When the group last changed state; null when unknown (a group loaded from an old record). */
  readonly currentStateTimestamp: number | null
  readonly generationId: number
  readonly protocolType: string | null
  readonly protocolName: string | null
  readonly leaderId: string | null
  /** In join order. */
  readonly members: ReadonlyMap<string, GroupMember>
  /** groupInstanceId → memberId */
  readonly staticMembers: ReadonlyMap<string, string>
  /** KIP-394 ids handed out with MEMBER_ID_REQUIRED → when they lapse. */
  readonly pendingMembers: ReadonlyMap<string, number>
  /** Members that must still send SyncGroup for this generation, and by when. */
  readonly pendingSyncMembers: ReadonlySet<string>
  readonly syncDeadline: number | null
  /** The rebalance in PreparingRebalance: when it completes at the latest; `initial` for Kafka's InitialDelayedJoin. */
  readonly join: { readonly deadline: number; readonly initial: { readonly delayMs: number; readonly remainingMs: number } | null } | null
  readonly newMemberAdded: boolean
  /** The topics a consumer group's members subscribe to; null when unknown (KIP-496). */
  readonly subscribedTopics: ReadonlySet<string> | null
  /**
   * When the group was created or loaded here, or its removal failed to be written (an empty group
   * without offsets is removed a check interval later).
   */
  readonly since: number
}

type HeldReply =
  | { readonly type: 'commit'; readonly to: ReplyTo<PartitionErrors>; readonly result: PartitionErrors }
  | { readonly type: 'delete-group'; readonly to: ReplyTo<{ errorCode: number }> }
  | { readonly type: 'delete-offsets'; readonly to: ReplyTo<OffsetDeleteResult>; readonly result: OffsetDeleteResult }

interface PendingWrite {
  /**
   * Which of Kafka's mappings turns a failed append into the error the held replies get (`expiry`:
   * tombstones of expired offsets, nothing held; on failure they are retried at the next check).
   */
  readonly kind: 'offsets' | 'group' | 'expiry'
  /** As replayed: what a failure puts back, or a success confirms, is found by their keys. */
  readonly records: readonly GroupRecord[]
  readonly held: readonly HeldReply[]
  /**
   * The group as it was before this write's deletion made it Dead (DeleteGroups, or its last
   * offsets removed): a failure brings it back (nothing changes a Dead group meanwhile).
   */
  readonly revive: LiveGroup | null
  /** A leader's SyncGroup: the assignment every member gets once written. */
  readonly assignment: { readonly generationId: number; readonly assignments: ReadonlyMap<string, Uint8Array> } | null
  /**
   * A static member that rejoined a Stable group: its JoinGroup is answered once written (with the
   * leader id of before); a failure gives the instance back to its old member id, as it was.
   */
  readonly staticJoin: StaticJoin | null
}

interface StaticJoin {
  readonly memberId: string
  readonly leaderId: string | null
  readonly old: { readonly memberId: string; readonly protocols: readonly JoinGroupProtocol[]; readonly rebalanceTimeoutMs: number; readonly sessionTimeoutMs: number }
}

/**
 * A key that writes in flight changed: what `__consumer_offsets` holds for it (null: nothing), and
 * the last of those writes. A failure of that last write puts `stored` back; a success of an
 * earlier one makes its value the stored one.
 */
interface Unconfirmed<V> {
  readonly stored: V | null
  readonly lastWriteId: number
}

/** topic → partition → the last replayed commit (a topic without offsets is absent). */
export type CommittedOffsets = PersistentMap<string, PersistentMap<number, OffsetCommitRecordValue>>
/** topic → partition → the offset as stored, for the partitions that writes in flight changed. */
type UnconfirmedOffsets = PersistentMap<string, PersistentMap<number, Unconfirmed<OffsetCommitRecordValue>>>

/**
 * Which committed offsets expire in the group's present state (Kafka's removeExpiredOffsets):
 * `empty` a group with a protocol type that is Empty, from when it became so (KIP-211);
 * `unsubscribed` a Stable consumer group, the topics it does not consume, from each commit
 * (KIP-496); `standalone` a group without protocol type, from each commit; `never` otherwise.
 * An explicit expire timestamp (OffsetCommit v1–4 retention) always wins.
 */
type ExpiryMode =
  | { readonly kind: 'never' }
  | { readonly kind: 'empty'; readonly since: number | null }
  | { readonly kind: 'unsubscribed'; readonly subscribed: ReadonlySet<string> }
  | { readonly kind: 'standalone' }

/** No offset expires before `at` in `mode` with `retentionMs` (null: none ever does, as things stand). */
interface OffsetExpiryBound {
  readonly mode: ExpiryMode
  readonly retentionMs: number
  readonly at: number | null
}

export interface GroupState {
  readonly groupId: string
  readonly offsets: CommittedOffsets
  /** The last replayed GroupMetadataValue (null: none, or a tombstone). */
  readonly metadata: GroupMetadataRecordValue | null
  /** Some record was replayed (the group was read from the log). */
  readonly loaded: boolean
  readonly activated: boolean
  readonly group: LiveGroup | null
  /** How the group ended: removed (deleted or expired), unloaded, or failed (the partition may be lost: reload it). */
  readonly ended: 'removed' | 'unloaded' | 'failed' | null
  readonly writes: PersistentMap<number, PendingWrite>
  /** What the log holds where writes in flight replayed something else (empty when none is in flight). */
  readonly unconfirmedOffsets: UnconfirmedOffsets
  readonly unconfirmedMetadata: Unconfirmed<GroupMetadataRecordValue> | null
  /**
   * The generation the group had when the coordinator reloaded it (0: never reloaded). The log may
   * lack the last generations (their writes failed): a loaded one below it is raised to it and
   * rebalanced, so the next generation handed out is above every one handed out before.
   */
  readonly generationFloor: number
  readonly nextWriteId: number
  readonly memberIdSeq: number
  /** A lower bound of the next offset expiry; null: not known (computed when needed). */
  readonly offsetExpiry: OffsetExpiryBound | null
}

export function emptyGroup(groupId: string): GroupState {
  return {
    groupId,
    offsets: PersistentMap.empty(),
    metadata: null,
    loaded: false,
    activated: false,
    group: null,
    ended: null,
    writes: PersistentMap.empty(),
    unconfirmedOffsets: PersistentMap.empty(),
    unconfirmedMetadata: null,
    generationFloor: 0,
    nextWriteId: 1,
    memberIdSeq: 0,
    offsetExpiry: null,
  }
}

export function stateName(state: GroupState): GroupStateName {
  return state.group === null ? 'Dead' : state.group.state
}

// ---------------------------------------------------------------- replay

/** What records change: the persistent part of a group. */
interface Replayed {
  offsets: CommittedOffsets
  metadata: GroupMetadataRecordValue | null
}

/**
 * Applies one record of the group onto `into` (loading, and live writes: one code path). Checks
 * before it changes anything, so a record it refuses leaves `into` as it was. With `edit`, maps
 * made under that token are changed in place.
 */
function applyRecord(groupId: string, into: Replayed, record: GroupRecord, edit: EditToken | null): void {
  if (record.group !== groupId) throw new Error(`invariant: a record of group ${JSON.stringify(record.group)} replayed onto group ${JSON.stringify(groupId)}`)
  switch (record.type) {
    case 'offset-commit': {
      const partitions = into.offsets.get(record.topic)
      if (record.value === null) {
        if (partitions === undefined) return
        const left = partitions.delete(record.partition, edit)
        into.offsets = left.size === 0 ? into.offsets.delete(record.topic, edit) : into.offsets.set(record.topic, left, edit)
      } else {
        into.offsets = into.offsets.set(record.topic, (partitions ?? PersistentMap.empty()).set(record.partition, record.value, edit), edit)
      }
      return
    }
    case 'group-metadata':
      if (record.value !== null && into.metadata !== null && record.value.generation < into.metadata.generation) {
        throw new Error(`invariant: group ${groupId} generation went back from ${into.metadata.generation} to ${record.value.generation}`)
      }
      into.metadata = record.value
      return
    default: {
      const never: never = record
      throw new Error(`unknown group record ${JSON.stringify(never)}`)
    }
  }
}

/**
 * Folds records of one group in log order (loading): `add` each, then `state()`. The same as
 * one `replay` after another, without a copy per record. A record `add` refuses (an invariant
 * it asserts) throws and changes nothing.
 */
export class GroupReplay {
  private readonly into: Replayed
  private loaded: boolean
  private edit = new EditToken()

  constructor(private readonly base: GroupState) {
    this.into = { offsets: base.offsets, metadata: base.metadata }
    this.loaded = base.loaded
  }

  add(record: GroupRecord): void {
    applyRecord(this.base.groupId, this.into, record, this.edit)
    this.loaded = true
  }

  /** The group as replayed so far; adding more after this does not change it. */
  state(): GroupState {
    this.edit = new EditToken() // what was made with the old token is handed out now
    return { ...this.base, offsets: this.into.offsets, metadata: this.into.metadata, loaded: this.loaded, offsetExpiry: null }
  }
}

/** Applies one record of the group (loading). */
export function replay(state: GroupState, record: GroupRecord): GroupState {
  return replayAll(state, [record])
}

/** Replays records in log order (loading). */
export function replayAll(state: GroupState, records: Iterable<GroupRecord>): GroupState {
  const r = new GroupReplay(state)
  for (const record of records) r.add(record)
  return r.state()
}

// ---------------------------------------------------------------- the working copy of one step

interface WGroup {
  state: GroupStateName
  currentStateTimestamp: number | null
  generationId: number
  protocolType: string | null
  protocolName: string | null
  leaderId: string | null
  /** Copied on their first change in the step (most steps change none). */
  members: CowMap<string, GroupMember>
  staticMembers: CowMap<string, string>
  pendingMembers: CowMap<string, number>
  pendingSyncMembers: CowSet<string>
  syncDeadline: number | null
  join: LiveGroup['join']
  newMemberAdded: boolean
  subscribedTopics: ReadonlySet<string> | null
  since: number
}

interface Ctx extends Replayed {
  readonly groupId: string
  readonly now: number
  readonly config: GroupConfig
  /** This step's: the maps it makes are changed in place by its later changes, never those of the state it began from. */
  readonly edit: EditToken
  loaded: boolean
  g: WGroup | null
  ended: GroupState['ended']
  writes: PersistentMap<number, PendingWrite>
  unconfirmedOffsets: UnconfirmedOffsets
  unconfirmedMetadata: Unconfirmed<GroupMetadataRecordValue> | null
  readonly generationFloor: number
  nextWriteId: number
  memberIdSeq: number
  offsetExpiry: OffsetExpiryBound | null
  effects: GroupEffect[]
}

function begin(state: GroupState, now: number, config: GroupConfig, generationFloor = state.generationFloor): Ctx {
  const g = state.group
  return {
    groupId: state.groupId,
    now,
    config,
    edit: new EditToken(),
    offsets: state.offsets,
    metadata: state.metadata,
    loaded: state.loaded,
    ended: state.ended,
    writes: state.writes,
    unconfirmedOffsets: state.unconfirmedOffsets,
    unconfirmedMetadata: state.unconfirmedMetadata,
    generationFloor,
    nextWriteId: state.nextWriteId,
    memberIdSeq: state.memberIdSeq,
    offsetExpiry: state.offsetExpiry,
    effects: [],
    g: g === null ? null : workingGroup(g),
  }
}

// Both spelled out field by field (not spread): one object shape each, made fast on every step.

function workingGroup(g: LiveGroup): WGroup {
  return {
    state: g.state,
    currentStateTimestamp: g.currentStateTimestamp,
    generationId: g.generationId,
    protocolType: g.protocolType,
    protocolName: g.protocolName,
    leaderId: g.leaderId,
    members: new CowMap(g.members),
    staticMembers: new CowMap(g.staticMembers),
    pendingMembers: new CowMap(g.pendingMembers),
    pendingSyncMembers: new CowSet(g.pendingSyncMembers),
    syncDeadline: g.syncDeadline,
    join: g.join,
    newMemberAdded: g.newMemberAdded,
    subscribedTopics: g.subscribedTopics,
    since: g.since,
  }
}

function liveGroup(g: WGroup): LiveGroup {
  return {
    state: g.state,
    currentStateTimestamp: g.currentStateTimestamp,
    generationId: g.generationId,
    protocolType: g.protocolType,
    protocolName: g.protocolName,
    leaderId: g.leaderId,
    members: g.members.snapshot(),
    staticMembers: g.staticMembers.snapshot(),
    pendingMembers: g.pendingMembers.snapshot(),
    pendingSyncMembers: g.pendingSyncMembers.snapshot(),
    syncDeadline: g.syncDeadline,
    join: g.join,
    newMemberAdded: g.newMemberAdded,
    subscribedTopics: g.subscribedTopics,
    since: g.since,
  }
}

function finish(ctx: Ctx, before: GroupState): { state: GroupState; effects: GroupEffect[] } {
  const g = ctx.g
  // A deleted or expired group goes once nothing it wrote is still in flight.
  if (ctx.ended === null && ctx.writes.size === 0 && g !== null && g.state === 'Dead') {
    ctx.ended = 'removed'
    ctx.effects.push({ type: 'removed' })
  }
  // Before the state is made: it may compute the offset expiry bound the state keeps.
  const timerAt = g === null || ctx.ended !== null ? null : nextDeadline(ctx, g)
  const state: GroupState = {
    groupId: ctx.groupId,
    offsets: ctx.offsets,
    metadata: ctx.metadata,
    loaded: ctx.loaded,
    activated: true,
    group: g === null ? null : liveGroup(g),
    ended: ctx.ended,
    writes: ctx.writes,
    unconfirmedOffsets: ctx.unconfirmedOffsets,
    unconfirmedMetadata: ctx.unconfirmedMetadata,
    generationFloor: ctx.generationFloor,
    nextWriteId: ctx.nextWriteId,
    memberIdSeq: ctx.memberIdSeq,
    offsetExpiry: ctx.offsetExpiry,
  }
  assertInvariants(before, state)
  ctx.effects.push({ type: 'timer', at: timerAt })
  return { state, effects: ctx.effects }
}

function reply<R>(ctx: Ctx, to: ReplyTo<R>, value: R): void {
  ctx.effects.push({ type: 'reply', to, value })
}

function log(ctx: Ctx, level: 'info' | 'warn' | 'debug', message: string): void {
  ctx.effects.push({ type: 'log', level, message })
}

/** What a write is for, besides its records and held replies. */
type WritePurpose = Omit<PendingWrite, 'held' | 'records'>

/** Appends records: replays them now, holds what must wait for them. */
function write(ctx: Ctx, records: GroupRecord[], pending: WritePurpose & { held?: readonly HeldReply[] }): number {
  const writeId = ctx.nextWriteId++
  if (ctx.writes.has(writeId)) throw new Error(`invariant: write id ${writeId} is taken`)
  for (const r of records) {
    noteUnconfirmed(ctx, r, writeId)
    applyRecord(ctx.groupId, ctx, r, ctx.edit)
    if (r.type === 'offset-commit' && r.value !== null) lowerOffsetExpiry(ctx, r.topic, r.value)
  }
  ctx.writes = ctx.writes.set(writeId, { held: [], ...pending, records }, ctx.edit)
  ctx.effects.push({ type: 'write', writeId, records })
  return writeId
}

/** Before `record` of write `writeId` is replayed: keeps what the log holds for its key, unless already kept. */
function noteUnconfirmed(ctx: Ctx, record: GroupRecord, writeId: number): void {
  switch (record.type) {
    case 'offset-commit': {
      const partitions = ctx.unconfirmedOffsets.get(record.topic)
      const known = partitions?.get(record.partition)
      const stored = known !== undefined ? known.stored : (ctx.offsets.get(record.topic)?.get(record.partition) ?? null)
      const entry: Unconfirmed<OffsetCommitRecordValue> = { stored, lastWriteId: writeId }
      ctx.unconfirmedOffsets = ctx.unconfirmedOffsets.set(record.topic, (partitions ?? PersistentMap.empty()).set(record.partition, entry, ctx.edit), ctx.edit)
      return
    }
    case 'group-metadata':
      ctx.unconfirmedMetadata = { stored: ctx.unconfirmedMetadata === null ? ctx.metadata : ctx.unconfirmedMetadata.stored, lastWriteId: writeId }
      return
    default: {
      const never: never = record
      throw new Error(`unknown group record ${JSON.stringify(never)}`)
    }
  }
}

/**
 * Write `writeId` finished: for each key it wrote, a success makes its value the stored one, a
 * failure puts the stored value back, unless a later write in flight wrote the key again (that
 * one's value stays; the stored value is what its own failure would put back). Returns whether
 * the group metadata is back to what the log holds.
 */
function settleUnconfirmed(ctx: Ctx, writeId: number, records: readonly GroupRecord[], ok: boolean, lowerExpiry: boolean): boolean {
  let metadataRestored = false
  for (const r of records) {
    switch (r.type) {
      case 'offset-commit': {
        const partitions = ctx.unconfirmedOffsets.get(r.topic)
        const u = partitions?.get(r.partition)
        if (partitions === undefined || u === undefined) break // a key the write had twice, settled already
        if (u.lastWriteId === writeId) {
          if (!ok) restoreOffset(ctx, r.topic, r.partition, u.stored, lowerExpiry)
          const left = partitions.delete(r.partition, ctx.edit)
          ctx.unconfirmedOffsets = left.size === 0 ? ctx.unconfirmedOffsets.delete(r.topic, ctx.edit) : ctx.unconfirmedOffsets.set(r.topic, left, ctx.edit)
        } else if (ok) {
          ctx.unconfirmedOffsets = ctx.unconfirmedOffsets.set(r.topic, partitions.set(r.partition, { ...u, stored: r.value }, ctx.edit), ctx.edit)
        }
        break
      }
      case 'group-metadata': {
        const u = ctx.unconfirmedMetadata
        if (u === null) break
        if (u.lastWriteId === writeId) {
          if (!ok) {
            ctx.metadata = u.stored
            metadataRestored = true
          }
          ctx.unconfirmedMetadata = null
        } else if (ok) {
          ctx.unconfirmedMetadata = { ...u, stored: r.value }
        }
        break
      }
      default: {
        const never: never = r
        throw new Error(`unknown group record ${JSON.stringify(never)}`)
      }
    }
  }
  return metadataRestored
}

/** Puts an offset back as the log holds it. */
function restoreOffset(ctx: Ctx, topic: string, partition: number, stored: OffsetCommitRecordValue | null, lowerExpiry: boolean): void {
  const partitions = ctx.offsets.get(topic)
  if (stored === null) {
    if (partitions === undefined) return
    const left = partitions.delete(partition, ctx.edit)
    ctx.offsets = left.size === 0 ? ctx.offsets.delete(topic, ctx.edit) : ctx.offsets.set(topic, left, ctx.edit)
    return
  }
  ctx.offsets = ctx.offsets.set(topic, (partitions ?? PersistentMap.empty()).set(partition, stored, ctx.edit), ctx.edit)
  // A bound computed while the write's value stood may be past this one's expiry.
  if (lowerExpiry) lowerOffsetExpiry(ctx, topic, stored)
}

// ---------------------------------------------------------------- states and transitions

/** Kafka's GroupState.validPreviousStates. */
const VALID_PREVIOUS_STATES: Readonly<Record<GroupStateName, readonly GroupStateName[]>> = {
  PreparingRebalance: ['Stable', 'CompletingRebalance', 'Empty'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Stable', 'PreparingRebalance', 'CompletingRebalance', 'Empty', 'Dead'],
  Empty: ['PreparingRebalance'],
}

function transitionTo(ctx: Ctx, g: WGroup, to: GroupStateName): void {
  if (!VALID_PREVIOUS_STATES[to].includes(g.state)) {
    throw new Error(`invariant: group ${ctx.groupId} should be in one of ${VALID_PREVIOUS_STATES[to].join(', ')} before moving to ${to}, not ${g.state}`)
  }
  g.state = to
  g.currentStateTimestamp = ctx.now
}

/** A group Kafka creates on a first JoinGroup or a standalone commit. */
function createGroup(ctx: Ctx): WGroup {
  const g: WGroup = {
    state: 'Empty',
    currentStateTimestamp: ctx.now,
    generationId: ctx.generationFloor,
    protocolType: null,
    protocolName: null,
    leaderId: null,
    members: new CowMap(new Map(), true),
    staticMembers: new CowMap(new Map(), true),
    pendingMembers: new CowMap(new Map(), true),
    pendingSyncMembers: new CowSet(new Set(), true),
    syncDeadline: null,
    join: null,
    newMemberAdded: false,
    subscribedTopics: null,
    since: ctx.now,
  }
  ctx.g = g
  return g
}

// ---------------------------------------------------------------- activate

/**
 * After loading from the log: members restored from a GroupMetadataValue get fresh session
 * deadlines; returns the first timer effect. `generationFloor`: after a reload, the generation the
 * group had before it (see GroupState.generationFloor).
 */
export function activate(state: GroupState, now: number, config: GroupConfig, generationFloor = state.generationFloor): { state: GroupState; effects: GroupEffect[] } {
  if (generationFloor < state.generationFloor) throw new Error(`invariant: group ${state.groupId}: the generation floor went back from ${state.generationFloor} to ${generationFloor}`)
  const ctx = begin(state, now, config, generationFloor)
  if (!state.activated && state.ended === null) activateInto(ctx)
  const absentAfterLoad = ctx.g === null && ctx.loaded && ctx.writes.size === 0 && ctx.ended === null
  if (absentAfterLoad) {
    // Deleted in the log (a tombstone not yet compacted away): nothing to keep an actor for.
    ctx.ended = 'removed'
    ctx.effects.push({ type: 'removed' })
  }
  return finish(ctx, state)
}

function activateInto(ctx: Ctx): void {
  const m = ctx.metadata
  if (m === null && ctx.offsets.size === 0) return
  const g = createGroup(ctx)
  if (m === null) return // offsets only: a standalone consumer's group, Empty
  g.generationId = m.generation
  g.protocolType = m.protocolType === '' ? null : m.protocolType
  g.protocolName = m.protocol
  g.leaderId = m.leader
  g.currentStateTimestamp = m.currentStateTimestamp < 0 ? null : m.currentStateTimestamp
  for (const r of m.members) {
    const member: GroupMember = {
      memberId: r.memberId,
      groupInstanceId: r.groupInstanceId,
      clientId: r.clientId,
      clientHost: r.clientHost,
      rebalanceTimeoutMs: r.rebalanceTimeoutMs < 0 ? r.sessionTimeoutMs : r.rebalanceTimeoutMs,
      sessionTimeoutMs: r.sessionTimeoutMs,
      protocolType: g.protocolType ?? '',
      protocols: [{ name: m.protocol ?? '', metadata: r.subscription }],
      assignment: r.assignment,
      awaitingJoin: null,
      awaitingSync: null,
      isNew: false,
      sessionDeadline: ctx.now + r.sessionTimeoutMs,
    }
    g.members.set(member.memberId, member)
    if (member.groupInstanceId !== null) g.staticMembers.set(member.groupInstanceId, member.memberId)
  }
  if (g.members.size > 0) {
    g.state = 'Stable' // loading is not a transition: Kafka builds the group in this state
    if (g.leaderId === null || !g.members.has(g.leaderId)) g.leaderId = g.members.keys().next().value ?? null
    if (g.protocolName === null) g.protocolName = ''
  } else {
    g.leaderId = null
  }
  g.subscribedTopics = computeSubscribedTopics(g)
  log(ctx, 'info', `loaded with generation ${g.generationId} in state ${g.state} with ${g.members.size} members`)
  if (g.generationId < ctx.generationFloor) {
    // The log lacks generations handed out before the reload: none of them is handed out again.
    const loaded = g.generationId
    g.generationId = ctx.generationFloor
    if (g.members.size > 0) prepareRebalance(ctx, g, `the loaded generation ${loaded} is older than generation ${ctx.generationFloor}, handed out before the reload`)
  } else if (g.members.size > ctx.config.maxSize) {
    prepareRebalance(ctx, g, `freshly-loaded group is over capacity (${ctx.config.maxSize}), rebalancing to give its members a chance to commit offsets`)
  }
}

// ---------------------------------------------------------------- step

export function step(state: GroupState, msg: GroupMessage, now: number, config: GroupConfig): { state: GroupState; effects: GroupEffect[] } {
  const ctx = begin(state, now, config)
  if (!state.activated && state.ended === null) activateInto(ctx)
  switch (msg.type) {
    case 'join':
      handleJoin(ctx, msg.input, msg.reply)
      break
    case 'sync':
      handleSync(ctx, msg.input, msg.reply)
      break
    case 'heartbeat':
      reply(ctx, msg.reply, { errorCode: handleHeartbeat(ctx, msg.input) })
      break
    case 'leave':
      reply(ctx, msg.reply, handleLeave(ctx, msg.input))
      break
    case 'commit':
      handleCommit(ctx, msg.input, msg.reply)
      break
    case 'fetch-offsets':
      reply(ctx, msg.reply, fetchOffsets(ctx, msg.input.topics))
      break
    case 'describe':
      reply(ctx, msg.reply, describe(ctx))
      break
    case 'list': {
      const g = ctx.g
      reply(ctx, msg.reply, g === null || g.state === 'Dead' ? null : { groupId: ctx.groupId, protocolType: g.protocolType ?? '', state: g.state })
      break
    }
    case 'delete-group':
      handleDeleteGroup(ctx, msg.reply)
      break
    case 'delete-offsets':
      handleDeleteOffsets(ctx, msg.input, msg.reply)
      break
    case 'tick':
      tick(ctx)
      break
    case 'written':
      handleWritten(ctx, msg.writeId, msg.errorCode)
      break
    case 'unload':
      if (ctx.ended === null) {
        endGroup(ctx, ErrorCode.NOT_COORDINATOR)
        ctx.ended = 'unloaded'
        log(ctx, 'info', 'unloaded')
      }
      break
    default: {
      const never: never = msg
      throw new Error(`unknown group message ${JSON.stringify(never)}`)
    }
  }
  // A request about a group that does not exist leaves nothing behind.
  if (ctx.g === null && ctx.ended === null && ctx.writes.size === 0 && msg.type !== 'tick' && msg.type !== 'written') {
    ctx.ended = 'removed'
    ctx.effects.push({ type: 'removed' })
  }
  return finish(ctx, state)
}

/** The group is a ghost from here on (ended): what it holds gets `errorCode`, it turns Dead. */
function endGroup(ctx: Ctx, errorCode: number): void {
  const g = ctx.g
  if (g !== null) {
    for (const m of g.members.values()) {
      if (m.awaitingJoin) reply(ctx, m.awaitingJoin, joinError(m.memberId, errorCode))
      if (m.awaitingSync) reply(ctx, m.awaitingSync, syncError(errorCode))
      if (m.awaitingJoin || m.awaitingSync) g.members.set(m.memberId, { ...m, awaitingJoin: null, awaitingSync: null })
    }
    g.join = null
    g.syncDeadline = null
    if (g.state !== 'Dead') transitionTo(ctx, g, 'Dead')
  }
  // In the order they were asked for (the map's order is its hash's).
  for (const id of [...ctx.writes.keys()].sort((a, b) => a - b)) answerHeld(ctx, ctx.writes.get(id)!.held, errorCode)
  ctx.writes = PersistentMap.empty()
  ctx.unconfirmedOffsets = PersistentMap.empty()
  ctx.unconfirmedMetadata = null
}

// ---------------------------------------------------------------- results

function joinError(memberId: string, errorCode: number): JoinGroupResult {
  return { errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [] }
}

function syncError(errorCode: number): SyncGroupResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY_BYTES }
}

function joinResult(g: WGroup, memberId: string, withMembers: boolean, leaderId: string | null = g.leaderId): JoinGroupResult {
  return {
    errorCode: ErrorCode.NONE,
    generationId: g.generationId,
    protocolType: g.protocolType,
    protocolName: g.protocolName,
    leader: leaderId ?? '',
    memberId,
    members: withMembers ? currentMemberMetadata(g) : [],
  }
}

function currentMemberMetadata(g: WGroup): JoinGroupResult['members'] {
  return [...g.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: metadataFor(m, g.protocolName) }))
}

function metadataFor(m: GroupMember, protocolName: string | null): Uint8Array {
  return m.protocols.find((p) => p.name === protocolName)?.metadata ?? EMPTY_BYTES
}

function describe(ctx: Ctx): DescribeGroupResult {
  const g = ctx.g
  if (g === null) return { errorCode: ErrorCode.NONE, groupId: ctx.groupId, state: 'Dead', protocolType: '', protocolData: '', members: [] }
  const stable = g.state === 'Stable'
  return {
    errorCode: ErrorCode.NONE,
    groupId: ctx.groupId,
    state: g.state,
    protocolType: g.protocolType ?? '',
    protocolData: stable ? (g.protocolName ?? '') : '',
    members: [...g.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      metadata: stable ? metadataFor(m, g.protocolName) : EMPTY_BYTES,
      assignment: stable ? m.assignment : EMPTY_BYTES,
    })),
  }
}

// ---------------------------------------------------------------- members

function setMember(g: WGroup, m: GroupMember): GroupMember {
  g.members.set(m.memberId, m)
  return m
}

function heartbeatOf(ctx: Ctx, g: WGroup, memberId: string): void {
  const m = g.members.get(memberId)
  // Several commits and heartbeats of a member within a millisecond: nothing to copy for the later ones.
  if (m && m.sessionDeadline !== ctx.now + m.sessionTimeoutMs) setMember(g, { ...m, sessionDeadline: ctx.now + m.sessionTimeoutMs })
}

function addMember(g: WGroup, m: GroupMember): void {
  if (m.groupInstanceId !== null) {
    if (g.staticMembers.has(m.groupInstanceId)) throw new Error(`invariant: static member ${m.groupInstanceId} added twice`)
    g.staticMembers.set(m.groupInstanceId, m.memberId)
  }
  if (g.members.size === 0) g.protocolType = m.protocolType
  if (g.leaderId === null) g.leaderId = m.memberId
  g.members.set(m.memberId, m)
  g.pendingMembers.delete(m.memberId)
}

/** Kafka's group.remove; a reply the member still waits for is answered (UNKNOWN_MEMBER_ID): it is gone. */
function removeMember(ctx: Ctx, g: WGroup, memberId: string): void {
  const m = g.members.get(memberId)
  if (m) {
    if (m.awaitingJoin) reply(ctx, m.awaitingJoin, joinError('', ErrorCode.UNKNOWN_MEMBER_ID))
    if (m.awaitingSync) reply(ctx, m.awaitingSync, syncError(ErrorCode.UNKNOWN_MEMBER_ID))
    g.members.delete(memberId)
    if (m.groupInstanceId !== null && g.staticMembers.get(m.groupInstanceId) === memberId) g.staticMembers.delete(m.groupInstanceId)
  }
  if (g.leaderId === memberId) g.leaderId = g.members.keys().next().value ?? null
  g.pendingMembers.delete(memberId)
  g.pendingSyncMembers.delete(memberId)
}

function removeMemberAndUpdateGroup(ctx: Ctx, g: WGroup, memberId: string, reason: string): void {
  removeMember(ctx, g, memberId)
  log(ctx, 'info', `member ${memberId} removed: ${reason}`)
  switch (g.state) {
    case 'Dead':
    case 'Empty':
      break
    case 'Stable':
    case 'CompletingRebalance':
      maybePrepareRebalance(ctx, g, reason)
      break
    case 'PreparingRebalance':
      maybeCompleteJoin(ctx, g)
      break
    default: {
      const never: never = g.state
      throw new Error(`unknown group state ${String(never)}`)
    }
  }
}

function removePendingMemberAndUpdateGroup(ctx: Ctx, g: WGroup, memberId: string): void {
  g.pendingMembers.delete(memberId)
  if (g.state === 'PreparingRebalance') maybeCompleteJoin(ctx, g)
}

/** A member waiting for a reply that a newer request of the same member replaces: the old one is answered. */
function supersedeJoin(ctx: Ctx, m: GroupMember): void {
  if (m.awaitingJoin) reply(ctx, m.awaitingJoin, joinError(m.memberId, ErrorCode.REBALANCE_IN_PROGRESS))
}

function updateMember(ctx: Ctx, g: WGroup, m: GroupMember, input: JoinGroupInput, to: ReplyTo<JoinGroupResult>): GroupMember {
  supersedeJoin(ctx, m)
  return setMember(g, {
    ...m,
    protocols: input.protocols,
    rebalanceTimeoutMs: input.rebalanceTimeoutMs,
    sessionTimeoutMs: input.sessionTimeoutMs,
    awaitingJoin: to,
  })
}

function matches(m: GroupMember, protocols: readonly JoinGroupProtocol[]): boolean {
  if (m.protocols.length !== protocols.length) return false
  return m.protocols.every((p, i) => p.name === protocols[i]!.name && bytesEqual(p.metadata, protocols[i]!.metadata))
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function rebalanceTimeoutMs(g: WGroup): number {
  let t = 0
  for (const m of g.members.values()) t = Math.max(t, m.rebalanceTimeoutMs)
  return t
}

function supportsProtocols(g: WGroup, protocolType: string, protocols: readonly JoinGroupProtocol[]): boolean {
  if (g.state === 'Empty') return protocolType !== '' && protocols.length > 0
  if (g.protocolType !== protocolType) return false
  const candidates = candidateProtocols(g)
  return protocols.some((p) => candidates.has(p.name))
}

/** The protocols every member supports. */
function candidateProtocols(g: WGroup): Set<string> {
  const counts = new Map<string, number>()
  for (const m of g.members.values()) for (const name of new Set(m.protocols.map((p) => p.name))) counts.set(name, (counts.get(name) ?? 0) + 1)
  return new Set([...counts].filter(([, n]) => n === g.members.size).map(([name]) => name))
}

/** Each member votes for its first protocol that all support; the most votes win (ties: the one voted first). */
function selectProtocol(g: WGroup): string {
  if (g.members.size === 0) throw new Error('invariant: cannot select a protocol for an empty group')
  const candidates = candidateProtocols(g)
  const votes = new Map<string, number>()
  for (const m of g.members.values()) {
    const vote = m.protocols.find((p) => candidates.has(p.name))
    if (!vote) throw new Error(`invariant: member ${m.memberId} supports none of the group's common protocols`)
    votes.set(vote.name, (votes.get(vote.name) ?? 0) + 1)
  }
  let best = ''
  let bestVotes = -1
  for (const [name, n] of votes) {
    if (n > bestVotes) {
      best = name
      bestVotes = n
    }
  }
  return best
}

/**
 * The topics of a consumer group's members (KIP-496), from each member's ConsumerProtocolSubscription
 * read as its v0 prefix (int16 version, [string] topics, nullable bytes user data), as Kafka does;
 * null when unknown (not a consumer group, no protocol yet, or metadata that does not parse).
 */
function computeSubscribedTopics(g: WGroup): ReadonlySet<string> | null {
  if (g.protocolType !== CONSUMER_PROTOCOL_TYPE) return null
  if (g.members.size === 0) return new Set()
  if (g.protocolName === null) return null
  const topics = new Set<string>()
  try {
    for (const m of g.members.values()) {
      const r = new Reader(metadataFor(m, g.protocolName))
      if (r.int16('version') < 0) return null
      const n = r.arrayLength(2, false, 'topics')
      for (let i = 0; i < n; i++) topics.add(r.string('topic'))
      r.nullableBytes('user data')
    }
  } catch (e) {
    if (e instanceof ProtocolDecodeError) return null
    throw e
  }
  return topics
}

function generateMemberId(ctx: Ctx, g: WGroup, prefix: string): string {
  for (let attempt = 0; attempt < 64; attempt++) {
    const id = `${prefix}-${uuidFrom(`${ctx.groupId}\u0000${ctx.now}\u0000${ctx.memberIdSeq++}`)}`
    if (!g.members.has(id) && !g.pendingMembers.has(id)) return id
  }
  throw new Error(`invariant: no unused member id for group ${ctx.groupId}`)
}

/** A version-4-shaped UUID string derived from `seed` (FNV-1a with four bases, then murmur3's finalizer). */
function uuidFrom(seed: string): string {
  const words: number[] = []
  for (const basis of [0x811c9dc5, 0x050c5d1f, 0x1b873593, 0xcc9e2d51]) {
    let h = basis
    for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193)
    h ^= h >>> 16
    h = Math.imul(h, 0x85ebca6b)
    h ^= h >>> 13
    h = Math.imul(h, 0xc2b2ae35)
    h ^= h >>> 16
    words.push(h >>> 0)
  }
  words[1] = ((words[1]! & 0xffff0fff) | 0x4000) >>> 0
  words[2] = ((words[2]! & 0x3fffffff) | 0x80000000) >>> 0
  const hex = words.map((w) => w.toString(16).padStart(8, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** Kafka's validateCurrentMember: the instance id (when given) maps to this member id, and the member exists. */
function validateCurrentMember(g: WGroup, memberId: string, groupInstanceId: string | null): number | null {
  if (groupInstanceId !== null) {
    const current = g.staticMembers.get(groupInstanceId)
    if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
    if (current !== memberId) return ErrorCode.FENCED_INSTANCE_ID
    return null
  }
  return g.members.has(memberId) ? null : ErrorCode.UNKNOWN_MEMBER_ID
}

// ---------------------------------------------------------------- JoinGroup

function handleJoin(ctx: Ctx, input: JoinGroupInput, to: ReplyTo<JoinGroupResult>): void {
  if (input.sessionTimeoutMs < ctx.config.minSessionTimeoutMs || input.sessionTimeoutMs > ctx.config.maxSessionTimeoutMs) {
    reply(ctx, to, joinError(input.memberId, ErrorCode.INVALID_SESSION_TIMEOUT))
    return
  }
  const isUnknownMember = input.memberId === ''
  let g = ctx.g
  if (g === null) {
    if (!isUnknownMember) {
      reply(ctx, to, joinError(input.memberId, ErrorCode.UNKNOWN_MEMBER_ID))
      return
    }
    g = createGroup(ctx)
  }
  if (!acceptJoiningMember(ctx, g, input.memberId)) {
    removeMember(ctx, g, input.memberId)
    reply(ctx, to, joinError('', ErrorCode.GROUP_MAX_SIZE_REACHED))
  } else if (isUnknownMember) {
    doNewMemberJoin(ctx, g, input, to)
  } else {
    doCurrentMemberJoin(ctx, g, input, to)
  }
  if (g.state === 'PreparingRebalance') maybeCompleteJoin(ctx, g)
}

/** Kafka's acceptJoiningMember: room for a new member, by group.max.size. */
function acceptJoiningMember(ctx: Ctx, g: WGroup, memberId: string): boolean {
  const max = ctx.config.maxSize
  switch (g.state) {
    case 'Empty':
    case 'Dead':
      return true
    case 'PreparingRebalance': {
      // Counting the members that rejoined sheds the last rejoining ones when the limit was lowered.
      const m = g.members.get(memberId)
      return (m !== undefined && m.awaitingJoin !== null) || numAwaiting(g) < max
    }
    case 'CompletingRebalance':
    case 'Stable':
      return g.members.has(memberId) || g.members.size < max
    default: {
      const never: never = g.state
      throw new Error(`unknown group state ${String(never)}`)
    }
  }
}

function numAwaiting(g: WGroup): number {
  let n = 0
  for (const m of g.members.values()) if (m.awaitingJoin) n++
  return n
}

function doNewMemberJoin(ctx: Ctx, g: WGroup, input: JoinGroupInput, to: ReplyTo<JoinGroupResult>): void {
  if (g.state === 'Dead') {
    reply(ctx, to, joinError('', ErrorCode.COORDINATOR_NOT_AVAILABLE))
    return
  }
  if (!supportsProtocols(g, input.protocolType, input.protocols)) {
    reply(ctx, to, joinError('', ErrorCode.INCONSISTENT_GROUP_PROTOCOL))
    return
  }
  if (input.groupInstanceId !== null) {
    const newMemberId = generateMemberId(ctx, g, input.groupInstanceId)
    const oldMemberId = g.staticMembers.get(input.groupInstanceId)
    if (oldMemberId !== undefined) {
      log(ctx, 'info', `static member ${input.groupInstanceId} rejoins with an unknown member id in state ${g.state}: ${newMemberId} replaces ${oldMemberId}`)
      updateStaticMemberAndRebalance(ctx, g, oldMemberId, newMemberId, input, to)
    } else {
      addMemberAndRebalance(ctx, g, input, newMemberId, to)
    }
    return
  }
  if (input.requireKnownMemberId) {
    if (g.pendingMembers.size >= PENDING_MEMBERS_MAX) {
      reply(ctx, to, joinError('', ErrorCode.GROUP_MAX_SIZE_REACHED))
      return
    }
    const newMemberId = generateMemberId(ctx, g, input.clientId)
    g.pendingMembers.set(newMemberId, ctx.now + input.sessionTimeoutMs)
    reply(ctx, to, joinError(newMemberId, ErrorCode.MEMBER_ID_REQUIRED))
    return
  }
  addMemberAndRebalance(ctx, g, input, generateMemberId(ctx, g, input.clientId), to)
}

function doCurrentMemberJoin(ctx: Ctx, g: WGroup, input: JoinGroupInput, to: ReplyTo<JoinGroupResult>): void {
  const memberId = input.memberId
  if (g.state === 'Dead') {
    reply(ctx, to, joinError(memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE))
    return
  }
  if (!supportsProtocols(g, input.protocolType, input.protocols)) {
    reply(ctx, to, joinError(memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL))
    return
  }
  if (g.pendingMembers.has(memberId)) {
    if (input.groupInstanceId !== null) {
      // Kafka throws here (a pending id is never a static member's): the client sees UNKNOWN_SERVER_ERROR.
      reply(ctx, to, joinError(memberId, ErrorCode.UNKNOWN_SERVER_ERROR))
      return
    }
    addMemberAndRebalance(ctx, g, input, memberId, to)
    return
  }
  const error = validateCurrentMember(g, memberId, input.groupInstanceId)
  if (error !== null) {
    reply(ctx, to, joinError(memberId, error))
    return
  }
  const member = g.members.get(memberId)!
  switch (g.state) {
    case 'PreparingRebalance':
      updateMemberAndRebalance(ctx, g, member, input, to, `member ${memberId} joining during PreparingRebalance`)
      return
    case 'CompletingRebalance':
      if (matches(member, input.protocols)) {
        // It missed its JoinGroup answer: the same again, for the current generation.
        reply(ctx, to, joinResult(g, memberId, g.leaderId === memberId))
      } else {
        updateMemberAndRebalance(ctx, g, member, input, to, `member ${memberId} changed its metadata during CompletingRebalance`)
      }
      return
    case 'Stable':
      if (g.leaderId === memberId) {
        // The leader rejoins to rebalance for changes the metadata does not show (topic metadata).
        updateMemberAndRebalance(ctx, g, member, input, to, `leader ${memberId} rejoining during Stable`)
      } else if (!matches(member, input.protocols)) {
        updateMemberAndRebalance(ctx, g, member, input, to, `member ${memberId} changed its metadata during Stable`)
      } else {
        reply(ctx, to, joinResult(g, memberId, false))
      }
      return
    case 'Empty':
      reply(ctx, to, joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID))
      return
    default: {
      const never: never = g.state
      throw new Error(`unknown group state ${String(never)}`)
    }
  }
}

function addMemberAndRebalance(ctx: Ctx, g: WGroup, input: JoinGroupInput, memberId: string, to: ReplyTo<JoinGroupResult>): void {
  const member: GroupMember = {
    memberId,
    groupInstanceId: input.groupInstanceId,
    clientId: input.clientId,
    clientHost: input.clientHost,
    rebalanceTimeoutMs: input.rebalanceTimeoutMs,
    sessionTimeoutMs: input.sessionTimeoutMs,
    protocolType: input.protocolType,
    protocols: input.protocols,
    assignment: EMPTY_BYTES,
    awaitingJoin: to,
    awaitingSync: null,
    isNew: true,
    // Its socket is muted while it waits, so a vanished new member is only noticed by this timeout.
    sessionDeadline: ctx.now + NEW_MEMBER_JOIN_TIMEOUT_MS,
  }
  if (g.state === 'PreparingRebalance' && g.generationId === 0) g.newMemberAdded = true
  addMember(g, member)
  maybePrepareRebalance(ctx, g, `adding new member ${memberId} with group instance id ${input.groupInstanceId ?? 'none'}`)
}

function updateMemberAndRebalance(ctx: Ctx, g: WGroup, member: GroupMember, input: JoinGroupInput, to: ReplyTo<JoinGroupResult>, reason: string): void {
  updateMember(ctx, g, member, input, to)
  maybePrepareRebalance(ctx, g, reason)
}

/** KIP-345: a known group.instance.id joins with no member id: the new id replaces the old one, which is fenced from now on. */
function updateStaticMemberAndRebalance(ctx: Ctx, g: WGroup, oldMemberId: string, newMemberId: string, input: JoinGroupInput, to: ReplyTo<JoinGroupResult>): void {
  const currentLeader = g.leaderId
  const old = g.members.get(oldMemberId)
  if (!old) throw new Error(`invariant: static member ${input.groupInstanceId} maps to ${oldMemberId}, which is not a member`)
  if (old.awaitingJoin) reply(ctx, old.awaitingJoin, joinError(oldMemberId, ErrorCode.FENCED_INSTANCE_ID))
  if (old.awaitingSync) reply(ctx, old.awaitingSync, syncError(ErrorCode.FENCED_INSTANCE_ID))
  renameMember(g, oldMemberId, { ...old, memberId: newMemberId, awaitingJoin: null, awaitingSync: null, sessionDeadline: ctx.now + old.sessionTimeoutMs })
  const member = updateMember(ctx, g, g.members.get(newMemberId)!, input, to)
  switch (g.state) {
    case 'Stable': {
      // Same protocol for the next generation: persist the new member id, no rebalance.
      if (g.protocolName === selectProtocol(g)) {
        const assignments = new Map([...g.members.values()].map((m) => [m.memberId, m.assignment]))
        // JoinGroup < v9 cannot skip the assignment: the answer names the leader of before, so a
        // static leader coming back does not think it leads and assign (a Stable group would not pass it on).
        const previous = { memberId: oldMemberId, protocols: old.protocols, rebalanceTimeoutMs: old.rebalanceTimeoutMs, sessionTimeoutMs: old.sessionTimeoutMs }
        storeGroup(ctx, g, assignments, { kind: 'group', revive: null, assignment: null, staticJoin: { memberId: member.memberId, leaderId: currentLeader, old: previous } })
      } else {
        maybePrepareRebalance(ctx, g, `static member ${newMemberId} (instance ${input.groupInstanceId}) joined with a change of protocol`)
      }
      return
    }
    case 'CompletingRebalance':
      // The leader may already have assigned to the old id: rebalance, so the new id gets its share.
      prepareRebalance(ctx, g, `static member ${newMemberId} (instance ${input.groupInstanceId}) rejoined during CompletingRebalance`)
      return
    case 'PreparingRebalance':
      return
    case 'Empty':
    case 'Dead':
      throw new Error(`invariant: group ${ctx.groupId} in ${g.state} has a static member ${input.groupInstanceId}`)
    default: {
      const never: never = g.state
      throw new Error(`unknown group state ${String(never)}`)
    }
  }
}

/**
 * Re-keys a member in place as `to` (it keeps its position, the join order, and what `to` does
 * not change); the leader, the pending SyncGroups and its instance follow the new id.
 */
function renameMember(g: WGroup, fromId: string, to: GroupMember): void {
  const replaced = new Map<string, GroupMember>()
  for (const [id, m] of g.members) {
    if (id === fromId) replaced.set(to.memberId, to)
    else replaced.set(id, m)
  }
  g.members = new CowMap(replaced, true)
  if (g.leaderId === fromId) g.leaderId = to.memberId
  if (g.pendingSyncMembers.delete(fromId)) g.pendingSyncMembers.add(to.memberId)
  if (to.groupInstanceId !== null) g.staticMembers.set(to.groupInstanceId, to.memberId)
}

/**
 * The write of a static member's new id failed (Kafka's updateStaticMemberAndRebalance): its
 * JoinGroup gets the error with no member id, and, when the group metadata is back to what the
 * log holds, the instance goes back to its old member id, as it was (a later write in flight
 * carries the new id otherwise: it stays).
 */
function failStaticJoin(ctx: Ctx, g: WGroup, staticJoin: StaticJoin, errorCode: number, metadataRestored: boolean): void {
  const m = g.members.get(staticJoin.memberId)
  if (!m?.awaitingJoin) return // a rebalance answered it meanwhile: the new id is the member's now
  reply(ctx, m.awaitingJoin, {
    ...joinError('', errorCode),
    generationId: g.generationId,
    protocolType: g.protocolType,
    protocolName: g.protocolName,
    leader: staticJoin.leaderId ?? '',
  })
  const old = staticJoin.old
  const revert = metadataRestored && m.groupInstanceId !== null && g.staticMembers.get(m.groupInstanceId) === m.memberId && !g.members.has(old.memberId)
  if (!revert) {
    setMember(g, { ...m, awaitingJoin: null })
    return
  }
  log(ctx, 'info', `static member ${m.groupInstanceId} goes back to member id ${old.memberId}: the write of ${m.memberId} failed`)
  renameMember(g, m.memberId, {
    ...m,
    memberId: old.memberId,
    protocols: old.protocols,
    rebalanceTimeoutMs: old.rebalanceTimeoutMs,
    sessionTimeoutMs: old.sessionTimeoutMs,
    awaitingJoin: null,
    sessionDeadline: ctx.now + old.sessionTimeoutMs,
  })
}

// ---------------------------------------------------------------- rebalance

function maybePrepareRebalance(ctx: Ctx, g: WGroup, reason: string): void {
  if (VALID_PREVIOUS_STATES.PreparingRebalance.includes(g.state)) prepareRebalance(ctx, g, reason)
}

function prepareRebalance(ctx: Ctx, g: WGroup, reason: string): void {
  if (g.state === 'CompletingRebalance') resetAndPropagateAssignmentError(ctx, g, ErrorCode.REBALANCE_IN_PROGRESS)
  g.pendingSyncMembers.clear()
  g.syncDeadline = null
  const timeout = rebalanceTimeoutMs(g)
  const delayMs = ctx.config.initialRebalanceDelayMs
  g.join =
    g.state === 'Empty'
      ? { deadline: ctx.now + delayMs, initial: { delayMs, remainingMs: Math.max(timeout - delayMs, 0) } }
      : { deadline: ctx.now + timeout, initial: null }
  const from = g.state
  transitionTo(ctx, g, 'PreparingRebalance')
  log(ctx, 'info', `preparing to rebalance in state ${from} with old generation ${g.generationId} (reason: ${reason})`)
  maybeCompleteJoin(ctx, g)
}

/** Completes the rebalance once every member rejoined and no KIP-394 id is outstanding (never early for the initial delay). */
function maybeCompleteJoin(ctx: Ctx, g: WGroup): void {
  if (g.state !== 'PreparingRebalance' || g.join === null || g.join.initial !== null) return
  if (g.pendingMembers.size > 0) return
  for (const m of g.members.values()) if (!m.awaitingJoin) return
  onCompleteJoin(ctx, g)
}

function onCompleteJoin(ctx: Ctx, g: WGroup): void {
  g.join = null
  for (const m of [...g.members.values()]) {
    // Dynamic members that did not rejoin are gone; static ones stay until their session expires.
    if (!m.awaitingJoin && m.groupInstanceId === null) {
      removeMember(ctx, g, m.memberId)
      log(ctx, 'info', `member ${m.memberId} removed: it did not rejoin before the rebalance timeout`)
    }
  }
  if (!maybeElectNewJoinedLeader(g) && g.members.size > 0) {
    log(ctx, 'warn', 'could not complete the rebalance because no member rejoined; waiting for their sessions to expire')
    g.join = { deadline: ctx.now + rebalanceTimeoutMs(g), initial: null }
    return
  }
  initNextGeneration(ctx, g)
  if (g.state === 'Empty') {
    log(ctx, 'info', `generation ${g.generationId} is now empty`)
    storeGroup(ctx, g, new Map(), { kind: 'group', revive: null, assignment: null, staticJoin: null })
    return
  }
  log(ctx, 'info', `stabilized generation ${g.generationId} with ${g.members.size} members, protocol ${g.protocolName}`)
  for (const m of [...g.members.values()]) {
    if (m.awaitingJoin) reply(ctx, m.awaitingJoin, joinResult(g, m.memberId, g.leaderId === m.memberId))
    setMember(g, { ...m, awaitingJoin: null, isNew: false, sessionDeadline: ctx.now + m.sessionTimeoutMs })
    g.pendingSyncMembers.add(m.memberId)
  }
  g.syncDeadline = ctx.now + rebalanceTimeoutMs(g)
}

/** The leader, if it did not rejoin, is replaced by a member that did; false when none did. */
function maybeElectNewJoinedLeader(g: WGroup): boolean {
  if (g.leaderId === null) return false
  const leader = g.members.get(g.leaderId)
  if (leader?.awaitingJoin) return true
  for (const m of g.members.values()) {
    if (m.awaitingJoin) {
      g.leaderId = m.memberId
      return true
    }
  }
  return false
}

function initNextGeneration(ctx: Ctx, g: WGroup): void {
  g.generationId += 1
  if (g.members.size > 0) {
    g.protocolName = selectProtocol(g)
    g.subscribedTopics = computeSubscribedTopics(g)
    transitionTo(ctx, g, 'CompletingRebalance')
  } else {
    g.protocolName = null
    g.subscribedTopics = computeSubscribedTopics(g)
    transitionTo(ctx, g, 'Empty')
  }
  g.pendingSyncMembers.clear()
}

function resetAndPropagateAssignmentError(ctx: Ctx, g: WGroup, errorCode: number): void {
  if (g.state !== 'CompletingRebalance') throw new Error(`invariant: assignment error propagated in ${g.state}`)
  for (const m of [...g.members.values()]) setMember(g, { ...m, assignment: EMPTY_BYTES })
  propagateAssignment(ctx, g, errorCode)
}

function propagateAssignment(ctx: Ctx, g: WGroup, errorCode: number): void {
  const ok = errorCode === ErrorCode.NONE
  for (const m of [...g.members.values()]) {
    if (!m.awaitingSync) continue
    reply(ctx, m.awaitingSync, { errorCode, protocolType: ok ? g.protocolType : null, protocolName: ok ? g.protocolName : null, assignment: m.assignment })
    // Its session may have lapsed while it waited for the leader or the write: a fresh one.
    setMember(g, { ...m, awaitingSync: null, sessionDeadline: ctx.now + m.sessionTimeoutMs })
  }
}

/** Writes the group's GroupMetadataValue (Kafka's storeGroup): each member's metadata for the chosen protocol and its assignment. */
function storeGroup(ctx: Ctx, g: WGroup, assignments: ReadonlyMap<string, Uint8Array>, pending: WritePurpose): number {
  const members: GroupMemberRecord[] = [...g.members.values()].map((m) => ({
    memberId: m.memberId,
    groupInstanceId: m.groupInstanceId,
    clientId: m.clientId,
    clientHost: m.clientHost,
    rebalanceTimeoutMs: m.rebalanceTimeoutMs,
    sessionTimeoutMs: m.sessionTimeoutMs,
    subscription: metadataFor(m, g.protocolName),
    assignment: assignments.get(m.memberId) ?? EMPTY_BYTES,
  }))
  const value: GroupMetadataRecordValue = {
    protocolType: g.protocolType ?? '',
    generation: g.generationId,
    protocol: g.protocolName,
    leader: g.leaderId,
    currentStateTimestamp: g.currentStateTimestamp ?? -1,
    members,
  }
  return write(ctx, [{ type: 'group-metadata', group: ctx.groupId, value }], pending)
}

// ---------------------------------------------------------------- SyncGroup

function handleSync(ctx: Ctx, input: SyncGroupInput, to: ReplyTo<SyncGroupResult>): void {
  const g = ctx.g
  if (g === null) {
    reply(ctx, to, syncError(ErrorCode.UNKNOWN_MEMBER_ID))
    return
  }
  const error = validateSync(g, input)
  if (error !== null) {
    reply(ctx, to, syncError(error))
    return
  }
  switch (g.state) {
    case 'Empty':
      reply(ctx, to, syncError(ErrorCode.UNKNOWN_MEMBER_ID))
      return
    case 'PreparingRebalance':
      reply(ctx, to, syncError(ErrorCode.REBALANCE_IN_PROGRESS))
      return
    case 'CompletingRebalance': {
      const m = g.members.get(input.memberId)!
      if (m.awaitingSync) reply(ctx, m.awaitingSync, syncError(ErrorCode.REBALANCE_IN_PROGRESS))
      setMember(g, { ...m, awaitingSync: to })
      g.pendingSyncMembers.delete(input.memberId)
      if (g.pendingSyncMembers.size === 0) g.syncDeadline = null
      if (g.leaderId !== input.memberId) return
      if ([...ctx.writes.values()].some((w) => w.assignment?.generationId === g.generationId)) return // already being written
      log(ctx, 'info', `assignment received from leader ${input.memberId} for generation ${g.generationId}`)
      // Members the leader left out get an empty assignment; ids that are not members are ignored.
      const given = new Map(input.assignments.map((a) => [a.memberId, a.assignment]))
      const assignments = new Map([...g.members.keys()].map((id) => [id, given.get(id) ?? EMPTY_BYTES]))
      storeGroup(ctx, g, assignments, { kind: 'group', revive: null, assignment: { generationId: g.generationId, assignments }, staticJoin: null })
      return
    }
    case 'Stable': {
      g.pendingSyncMembers.delete(input.memberId)
      if (g.pendingSyncMembers.size === 0) g.syncDeadline = null
      const m = g.members.get(input.memberId)!
      reply(ctx, to, { errorCode: ErrorCode.NONE, protocolType: g.protocolType, protocolName: g.protocolName, assignment: m.assignment })
      heartbeatOf(ctx, g, input.memberId)
      return
    }
    case 'Dead':
      reply(ctx, to, syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE))
      return
    default: {
      const never: never = g.state
      throw new Error(`unknown group state ${String(never)}`)
    }
  }
}

function validateSync(g: WGroup, input: SyncGroupInput): number | null {
  if (g.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE
  const memberError = validateCurrentMember(g, input.memberId, input.groupInstanceId)
  if (memberError !== null) return memberError
  if (input.generationId !== g.generationId) return ErrorCode.ILLEGAL_GENERATION
  if (input.protocolType !== null && input.protocolType !== g.protocolType) return ErrorCode.INCONSISTENT_GROUP_PROTOCOL
  if (input.protocolName !== null && input.protocolName !== g.protocolName) return ErrorCode.INCONSISTENT_GROUP_PROTOCOL
  return null
}

// ---------------------------------------------------------------- Heartbeat, LeaveGroup

function handleHeartbeat(ctx: Ctx, input: HeartbeatInput): number {
  const g = ctx.g
  if (g === null) return ErrorCode.UNKNOWN_MEMBER_ID
  if (g.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE
  const memberError = validateCurrentMember(g, input.memberId, input.groupInstanceId)
  if (memberError !== null) return memberError
  if (input.generationId !== g.generationId) return ErrorCode.ILLEGAL_GENERATION
  switch (g.state) {
    case 'Empty':
      return ErrorCode.UNKNOWN_MEMBER_ID
    case 'CompletingRebalance':
    case 'Stable':
      heartbeatOf(ctx, g, input.memberId)
      return ErrorCode.NONE
    case 'PreparingRebalance':
      heartbeatOf(ctx, g, input.memberId)
      return ErrorCode.REBALANCE_IN_PROGRESS
    default: {
      const never: never = g.state
      throw new Error(`unknown group state ${String(never)}`)
    }
  }
}

function handleLeave(ctx: Ctx, input: LeaveGroupInput): LeaveGroupResult {
  const g = ctx.g
  if (g === null) {
    return { errorCode: ErrorCode.NONE, members: input.members.map((m) => ({ ...m, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })) }
  }
  if (g.state === 'Dead') return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] }
  const members = input.members.map(({ memberId, groupInstanceId }) => {
    let errorCode: number = ErrorCode.NONE
    if (memberId === '') {
      // KIP-345: an admin removes a static member by its instance id alone.
      const current = groupInstanceId === null ? undefined : g.staticMembers.get(groupInstanceId)
      if (current === undefined) errorCode = ErrorCode.UNKNOWN_MEMBER_ID
      else removeMemberAndUpdateGroup(ctx, g, current, `instance ${groupInstanceId} removed by LeaveGroup`)
    } else if (g.pendingMembers.has(memberId)) {
      removePendingMemberAndUpdateGroup(ctx, g, memberId)
      log(ctx, 'info', `pending member ${memberId} left by LeaveGroup`)
    } else {
      const error = validateCurrentMember(g, memberId, groupInstanceId)
      if (error !== null) errorCode = error
      else removeMemberAndUpdateGroup(ctx, g, memberId, 'it left by LeaveGroup')
    }
    return { memberId, groupInstanceId, errorCode }
  })
  return { errorCode: ErrorCode.NONE, members }
}

// ---------------------------------------------------------------- offsets

function handleCommit(ctx: Ctx, input: OffsetCommitInput, to: ReplyTo<PartitionErrors>): void {
  const all = (errorCode: number): PartitionErrors => ({
    topics: input.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode })) })),
  })
  let g = ctx.g
  if (g === null) {
    if (input.generationId >= 0) {
      // A member of a generation this coordinator never saw.
      reply(ctx, to, all(ErrorCode.ILLEGAL_GENERATION))
      return
    }
    g = createGroup(ctx) // a standalone consumer that only stores offsets here
  }
  const error = validateOffsetCommit(g, input)
  if (error !== null) {
    reply(ctx, to, all(error))
    return
  }
  switch (g.state) {
    case 'Empty':
      storeOffsets(ctx, input, to)
      return
    case 'Stable':
    case 'PreparingRebalance':
      // Allowed while preparing: the heartbeat answer tells the member about the rebalance.
      heartbeatOf(ctx, g, input.memberId)
      storeOffsets(ctx, input, to)
      return
    case 'CompletingRebalance':
      reply(ctx, to, all(ErrorCode.REBALANCE_IN_PROGRESS))
      return
    case 'Dead':
      reply(ctx, to, all(ErrorCode.COORDINATOR_NOT_AVAILABLE))
      return
    default: {
      const never: never = g.state
      throw new Error(`unknown group state ${String(never)}`)
    }
  }
}

function validateOffsetCommit(g: WGroup, input: OffsetCommitInput): number | null {
  if (g.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE
  if (input.generationId >= 0 || input.memberId !== '' || input.groupInstanceId !== null) {
    const memberError = validateCurrentMember(g, input.memberId, input.groupInstanceId)
    if (memberError !== null) return memberError
    return input.generationId === g.generationId ? null : ErrorCode.ILLEGAL_GENERATION
  }
  // Without a member id only a group with no members takes commits.
  return g.state === 'Empty' ? null : ErrorCode.UNKNOWN_MEMBER_ID
}

function storeOffsets(ctx: Ctx, input: OffsetCommitInput, to: ReplyTo<PartitionErrors>): void {
  const records: GroupRecord[] = []
  const expireTimestamp = input.retentionTimeMs === -1 ? -1 : ctx.now + input.retentionTimeMs
  const result: PartitionErrors = {
    topics: input.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        const metadata = p.metadata ?? ''
        if (metadata.length > ctx.config.offsetMetadataMaxBytes) return { partition: p.partition, errorCode: ErrorCode.OFFSET_METADATA_TOO_LARGE }
        records.push({
          type: 'offset-commit',
          group: ctx.groupId,
          topic: t.name,
          partition: p.partition,
          // A record with an expire timestamp is written as v1, which has no leader epoch.
          value: { offset: p.offset, leaderEpoch: expireTimestamp === -1 ? p.leaderEpoch : -1, metadata, commitTimestamp: ctx.now, expireTimestamp },
        })
        return { partition: p.partition, errorCode: ErrorCode.NONE }
      }),
    })),
  }
  if (records.length === 0) {
    reply(ctx, to, result)
    return
  }
  write(ctx, records, { kind: 'offsets', held: [{ type: 'commit', to, result }], revive: null, assignment: null, staticJoin: null })
}

function fetchOffsets(ctx: Ctx, topics: { name: string; partitions: number[] }[] | null): OffsetFetchResult {
  const g = ctx.g
  const gone = g === null || g.state === 'Dead'
  const none = (partition: number) => ({ partition, offset: -1, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE })
  if (topics === null) {
    if (gone) return { errorCode: ErrorCode.NONE, topics: [] }
    // Sorted: the maps' own order is their hashes'.
    return {
      errorCode: ErrorCode.NONE,
      topics: [...ctx.offsets]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([name, partitions]) => ({
          name,
          partitions: [...partitions]
            .sort(([a], [b]) => a - b)
            .map(([partition, v]) => ({ partition, offset: v.offset, leaderEpoch: v.leaderEpoch, metadata: v.metadata, errorCode: ErrorCode.NONE })),
        })),
    }
  }
  return {
    errorCode: ErrorCode.NONE,
    topics: topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((partition) => {
        const v = gone ? undefined : ctx.offsets.get(t.name)?.get(partition)
        return v === undefined ? none(partition) : { partition, offset: v.offset, leaderEpoch: v.leaderEpoch, metadata: v.metadata, errorCode: ErrorCode.NONE }
      }),
    })),
  }
}

// ---------------------------------------------------------------- deletion and expiry

type PartitionKey = readonly [topic: string, partition: number]

/**
 * Kafka's cleanupGroupMetadata: tombstones for the removed offsets; an Empty group left with no
 * offsets turns Dead (and gets a GroupMetadata tombstone when it ever had a generation).
 */
function cleanup(ctx: Ctx, g: WGroup, removed: readonly PartitionKey[], held: HeldReply | null, revive: LiveGroup | null = null): void {
  const records: GroupRecord[] = []
  for (const [topic, partition] of removed) {
    if (ctx.offsets.get(topic)?.has(partition)) records.push({ type: 'offset-commit', group: ctx.groupId, topic, partition, value: null })
  }
  const offsetsLeft = countOffsets(ctx.offsets) - records.length
  if (g.state === 'Empty' && offsetsLeft === 0) {
    revive = liveGroup(g)
    transitionTo(ctx, g, 'Dead')
    log(ctx, 'info', `transitioned to Dead in generation ${g.generationId}`)
  }
  // A group that never had a generation only stored offsets: there is no metadata to delete.
  if (g.state === 'Dead' && g.generationId > 0) records.push({ type: 'group-metadata', group: ctx.groupId, value: null })
  if (records.length === 0) {
    if (held) answerHeld(ctx, [held], ErrorCode.NONE)
    return
  }
  write(ctx, records, { kind: held === null ? 'expiry' : 'offsets', held: held ? [held] : [], revive, assignment: null, staticJoin: null })
}

function countOffsets(offsets: GroupState['offsets']): number {
  let n = 0
  for (const p of offsets.values()) n += p.size
  return n
}

function handleDeleteGroup(ctx: Ctx, to: ReplyTo<{ errorCode: number }>): void {
  const g = ctx.g
  if (g === null) {
    reply(ctx, to, { errorCode: ErrorCode.GROUP_ID_NOT_FOUND })
    return
  }
  switch (g.state) {
    case 'Dead':
      reply(ctx, to, { errorCode: ErrorCode.GROUP_ID_NOT_FOUND })
      return
    case 'Empty': {
      const before = liveGroup(g)
      transitionTo(ctx, g, 'Dead')
      const all: PartitionKey[] = []
      for (const [topic, partitions] of ctx.offsets) for (const p of partitions.keys()) all.push([topic, p])
      log(ctx, 'info', `deleted, with ${all.length} offsets`)
      cleanup(ctx, g, all, { type: 'delete-group', to }, before)
      return
    }
    case 'PreparingRebalance':
    case 'CompletingRebalance':
    case 'Stable':
      reply(ctx, to, { errorCode: ErrorCode.NON_EMPTY_GROUP })
      return
    default: {
      const never: never = g.state
      throw new Error(`unknown group state ${String(never)}`)
    }
  }
}

function handleDeleteOffsets(ctx: Ctx, input: OffsetDeleteInput, to: ReplyTo<OffsetDeleteResult>): void {
  const g = ctx.g
  if (g === null || g.state === 'Dead') {
    reply(ctx, to, { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, topics: [] })
    return
  }
  let subscribed: (topic: string) => boolean
  if (g.state === 'Empty') {
    subscribed = () => false
  } else if (g.protocolType === CONSUMER_PROTOCOL_TYPE) {
    const topics = g.subscribedTopics
    // Not knowing the subscriptions (undecodable metadata) protects every topic, as in Kafka.
    subscribed = (topic) => topics === null || topics.has(topic)
  } else {
    reply(ctx, to, { errorCode: ErrorCode.NON_EMPTY_GROUP, topics: [] })
    return
  }
  const eligible: PartitionKey[] = []
  const result: OffsetDeleteResult = {
    errorCode: ErrorCode.NONE,
    topics: input.topics.map((t) => {
      const isSubscribed = subscribed(t.name)
      return {
        name: t.name,
        partitions: t.partitions.map((partition) => {
          if (isSubscribed) return { partition, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC }
          eligible.push([t.name, partition])
          return { partition, errorCode: ErrorCode.NONE }
        }),
      }
    }),
  }
  if (eligible.length === 0) {
    reply(ctx, to, result)
    return
  }
  cleanup(ctx, g, eligible, { type: 'delete-offsets', to, result })
}

const NEVER: ExpiryMode = { kind: 'never' }
const STANDALONE: ExpiryMode = { kind: 'standalone' }

/** The group's expiry mode, in the order of Kafka's match on protocol type and state. */
function expiryMode(g: WGroup): ExpiryMode {
  if (g.state === 'Dead') return NEVER
  if (g.protocolType !== null && g.state === 'Empty') return { kind: 'empty', since: g.currentStateTimestamp }
  if (g.protocolType === CONSUMER_PROTOCOL_TYPE && g.subscribedTopics !== null && g.state === 'Stable') return { kind: 'unsubscribed', subscribed: g.subscribedTopics }
  if (g.protocolType === null) return STANDALONE
  return NEVER
}

function sameMode(a: ExpiryMode, b: ExpiryMode): boolean {
  switch (a.kind) {
    case 'never':
    case 'standalone':
      return b.kind === a.kind
    case 'empty':
      return b.kind === 'empty' && b.since === a.since
    case 'unsubscribed':
      return b.kind === 'unsubscribed' && b.subscribed === a.subscribed
    default: {
      const never: never = a
      throw new Error(`unknown expiry mode ${JSON.stringify(never)}`)
    }
  }
}

/** When an offset expires (KIP-211), or null when it does not in `mode`. */
function offsetExpiry(mode: ExpiryMode, topic: string, v: OffsetCommitRecordValue, retentionMs: number): number | null {
  let base: number
  switch (mode.kind) {
    case 'never':
      return null
    case 'empty':
      // Retention runs from when the group became empty (from the commit for records without that time).
      base = mode.since ?? v.commitTimestamp
      break
    case 'unsubscribed':
      if (mode.subscribed.has(topic)) return null
      base = v.commitTimestamp
      break
    case 'standalone':
      base = v.commitTimestamp
      break
    default: {
      const never: never = mode
      throw new Error(`unknown expiry mode ${JSON.stringify(never)}`)
    }
  }
  return v.expireTimestamp !== -1 ? v.expireTimestamp : base + retentionMs
}

/** The offsets due at `now` in `mode`, and the earliest expiry of the others. */
function scanOffsetExpiry(offsets: CommittedOffsets, mode: ExpiryMode, retentionMs: number, now: number): { due: PartitionKey[]; next: number | null } {
  const due: PartitionKey[] = []
  let next: number | null = null
  if (mode.kind === 'never') return { due, next }
  for (const [topic, partitions] of offsets) {
    if (mode.kind === 'unsubscribed' && mode.subscribed.has(topic)) continue
    for (const [partition, v] of partitions) {
      const at = offsetExpiry(mode, topic, v, retentionMs)
      if (at === null) continue
      if (at <= now) due.push([topic, partition])
      else if (next === null || at < next) next = at
    }
  }
  return { due, next }
}

/** No offset expires before this (null: none can, as things stand); scans only when the group's expiry mode changed. */
function offsetExpiryBound(ctx: Ctx, g: WGroup): number | null {
  const mode = expiryMode(g)
  const retentionMs = ctx.config.offsetsRetentionMs
  const known = ctx.offsetExpiry
  if (known !== null && known.retentionMs === retentionMs && sameMode(known.mode, mode)) return known.at
  const at = scanOffsetExpiry(ctx.offsets, mode, retentionMs, -Infinity).next
  ctx.offsetExpiry = { mode, retentionMs, at }
  return at
}

/** A new offset: the bound comes down to its expiry if that is earlier. */
function lowerOffsetExpiry(ctx: Ctx, topic: string, v: OffsetCommitRecordValue): void {
  const known = ctx.offsetExpiry
  if (known === null) return
  const at = offsetExpiry(known.mode, topic, v, known.retentionMs)
  if (at !== null && (known.at === null || at < known.at)) ctx.offsetExpiry = { ...known, at }
}

/** An empty group with no offsets (nor anything pending) is removed by the next retention check. */
function emptyRemovalAt(ctx: Ctx, g: WGroup): number | null {
  if (g.state !== 'Empty' || ctx.offsets.size > 0 || g.pendingMembers.size > 0 || ctx.writes.size > 0) return null
  return Math.max(g.currentStateTimestamp ?? g.since, g.since) + retentionCheckIntervalMs(ctx)
}

function retentionCheckIntervalMs(ctx: Ctx): number {
  return ctx.config.offsetsRetentionCheckIntervalMs ?? DEFAULT_RETENTION_CHECK_INTERVAL_MS
}

/** Tombstones for the offsets due; the bound becomes exact again (the earliest expiry of those left). */
function expireOffsets(ctx: Ctx, g: WGroup): void {
  const mode = expiryMode(g)
  const retentionMs = ctx.config.offsetsRetentionMs
  const { due, next } = scanOffsetExpiry(ctx.offsets, mode, retentionMs, ctx.now)
  ctx.offsetExpiry = { mode, retentionMs, at: next }
  if (due.length > 0) log(ctx, 'info', `expired ${due.length} offsets`)
  cleanup(ctx, g, due, null)
}

// ---------------------------------------------------------------- tick, written

/** Whether the member's session can lapse now: one waiting for a rebalance is exempt, unless it is new. */
function sessionCounts(m: GroupMember): boolean {
  return m.isNew || (!m.awaitingJoin && !m.awaitingSync)
}

function tick(ctx: Ctx): void {
  for (let round = 0; round < TICK_ROUNDS_MAX; round++) {
    const g = ctx.g
    if (g === null || ctx.ended !== null) return
    const due = nextDeadline(ctx, g)
    if (due === null || due > ctx.now) return
    tickRound(ctx, g)
  }
}

/** Handles everything due at `now`, once. */
function tickRound(ctx: Ctx, g: WGroup): void {
  const now = ctx.now
  for (const [id, at] of [...g.pendingMembers]) {
    if (at <= now && g.pendingMembers.has(id)) {
      log(ctx, 'info', `pending member ${id} removed: its session timed out before it joined`)
      removePendingMemberAndUpdateGroup(ctx, g, id)
    }
  }
  for (const id of [...g.members.keys()]) {
    const m = g.members.get(id)
    if (m && m.sessionDeadline <= now && sessionCounts(m)) removeMemberAndUpdateGroup(ctx, g, id, 'its session expired')
  }
  if (g.state === 'PreparingRebalance' && g.join !== null && g.join.deadline <= now) {
    const initial = g.join.initial
    if (initial !== null && g.newMemberAdded && initial.remainingMs !== 0) {
      // Kafka's InitialDelayedJoin: each new member buys another delay, up to the rebalance timeout.
      g.newMemberAdded = false
      const delayMs = Math.min(ctx.config.initialRebalanceDelayMs, initial.remainingMs)
      g.join = { deadline: now + delayMs, initial: { delayMs, remainingMs: Math.max(initial.remainingMs - initial.delayMs, 0) } }
    } else {
      onCompleteJoin(ctx, g)
    }
  }
  if ((g.state === 'CompletingRebalance' || g.state === 'Stable') && g.syncDeadline !== null && g.syncDeadline <= now) {
    g.syncDeadline = null
    if (g.pendingSyncMembers.size > 0) {
      const late = [...g.pendingSyncMembers]
      for (const id of late) removeMember(ctx, g, id)
      log(ctx, 'info', `members ${late.join(', ')} removed: they did not send SyncGroup in time`)
      prepareRebalance(ctx, g, `removing ${late.join(', ')} on pending sync request expiration`)
    }
  }
  const expiry = offsetExpiryBound(ctx, g)
  const removal = emptyRemovalAt(ctx, g)
  if ((expiry !== null && expiry <= now) || (removal !== null && removal <= now)) expireOffsets(ctx, g)
}

/** Kafka's storeOffsets mapping of a failed append to the commit's error. */
function commitWriteError(errorCode: number): number {
  switch (errorCode) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
    case ErrorCode.INVALID_FETCH_SIZE:
      return ErrorCode.INVALID_COMMIT_OFFSET_SIZE
    default:
      return errorCode
  }
}

/** Kafka's storeGroup mapping of a failed append to the SyncGroup/JoinGroup error. */
function groupWriteError(errorCode: number): number {
  switch (errorCode) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR
    case ErrorCode.REQUEST_TIMED_OUT:
      return ErrorCode.REBALANCE_IN_PROGRESS
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
    case ErrorCode.INVALID_FETCH_SIZE:
      return ErrorCode.UNKNOWN_SERVER_ERROR
    default:
      return errorCode
  }
}

/** Answers held replies: NONE gives each its prepared result, an error replaces what was written. */
function answerHeld(ctx: Ctx, held: readonly HeldReply[], errorCode: number): void {
  for (const h of held) {
    switch (h.type) {
      case 'commit': {
        const value: PartitionErrors =
          errorCode === ErrorCode.NONE
            ? h.result
            : {
                topics: h.result.topics.map((t) => ({
                  name: t.name,
                  partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: p.errorCode === ErrorCode.NONE ? errorCode : p.errorCode })),
                })),
              }
        reply(ctx, h.to, value)
        break
      }
      case 'delete-group':
        reply(ctx, h.to, { errorCode })
        break
      case 'delete-offsets':
        reply(ctx, h.to, errorCode === ErrorCode.NONE ? h.result : { errorCode, topics: [] })
        break
      default: {
        const never: never = h
        throw new Error(`unknown held reply ${JSON.stringify(never)}`)
      }
    }
  }
}

function handleWritten(ctx: Ctx, writeId: number, errorCode: number): void {
  if (writeId >= ctx.nextWriteId) throw new Error(`invariant: written ${writeId} was never asked for (next ${ctx.nextWriteId})`)
  const w = ctx.writes.get(writeId)
  if (w === undefined) {
    log(ctx, 'debug', `write ${writeId} finished after the group stopped waiting for it`)
    return
  }
  ctx.writes = ctx.writes.delete(writeId, ctx.edit)
  if (errorCode === ErrorCode.NONE) {
    settleUnconfirmed(ctx, writeId, w.records, true, false)
    writeSucceeded(ctx, w)
    return
  }
  const mapped = w.kind === 'group' ? groupWriteError(errorCode) : commitWriteError(errorCode)
  if (errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER || errorCode === ErrorCode.KAFKA_STORAGE_ERROR) {
    // This broker may no longer lead the partition, or its log is broken: Kafka unloads the group.
    // What the log holds is not known here: this state is done, the shell reloads the group.
    log(ctx, 'warn', `write ${writeId} failed with ${errorName(errorCode)}; answering with ${errorName(mapped)}, the group must be reloaded`)
    answerHeld(ctx, w.held, mapped)
    endGroup(ctx, ErrorCode.NOT_COORDINATOR)
    ctx.ended = 'failed'
    return
  }
  log(ctx, 'warn', `write ${writeId} failed with ${errorName(errorCode)}; answering with ${errorName(mapped)}, what it replaced stays`)
  const metadataRestored = settleUnconfirmed(ctx, writeId, w.records, false, w.kind !== 'expiry')
  answerHeld(ctx, w.held, mapped)
  let g = ctx.g
  if (g === null) return
  if (w.revive !== null && g.state === 'Dead') {
    g = ctx.g = workingGroup(w.revive)
    log(ctx, 'info', `back in ${g.state} in generation ${g.generationId}: its deletion was not written`)
  }
  if (w.assignment !== null && g.state === 'CompletingRebalance' && g.generationId === w.assignment.generationId) {
    // Kafka's doSyncGroup: the waiting members get the error, and the group rebalances (to the next generation).
    resetAndPropagateAssignmentError(ctx, g, mapped)
    maybePrepareRebalance(ctx, g, `error when storing group assignment during SyncGroup (member: ${g.leaderId})`)
  }
  if (w.staticJoin !== null) failStaticJoin(ctx, g, w.staticJoin, mapped, metadataRestored)
  if (w.kind === 'expiry' && g.state !== 'Dead') {
    // As Kafka's periodic check: tried again a retention check interval later, not at once.
    const retryAt = ctx.now + retentionCheckIntervalMs(ctx)
    ctx.offsetExpiry = { mode: expiryMode(g), retentionMs: ctx.config.offsetsRetentionMs, at: retryAt }
    if (w.revive !== null) g.since = ctx.now
  }
}

function writeSucceeded(ctx: Ctx, w: PendingWrite): void {
  answerHeld(ctx, w.held, ErrorCode.NONE)
  const g = ctx.g
  if (g === null) return
  if (w.assignment !== null && g.state === 'CompletingRebalance' && g.generationId === w.assignment.generationId) {
    for (const m of [...g.members.values()]) setMember(g, { ...m, assignment: w.assignment.assignments.get(m.memberId) ?? EMPTY_BYTES })
    propagateAssignment(ctx, g, ErrorCode.NONE)
    transitionTo(ctx, g, 'Stable')
  }
  if (w.staticJoin !== null) {
    const m = g.members.get(w.staticJoin.memberId)
    if (m?.awaitingJoin) {
      reply(ctx, m.awaitingJoin, joinResult(g, m.memberId, false, w.staticJoin.leaderId))
      setMember(g, { ...m, awaitingJoin: null, sessionDeadline: ctx.now + m.sessionTimeoutMs })
    }
  }
}

// ---------------------------------------------------------------- timer and invariants

function nextDeadline(ctx: Ctx, g: WGroup): number | null {
  if (g.state === 'Dead') return null
  let next: number | null = null
  const consider = (at: number | null) => {
    if (at !== null && (next === null || at < next)) next = at
  }
  for (const at of g.pendingMembers.values()) consider(at)
  for (const m of g.members.values()) if (sessionCounts(m)) consider(m.sessionDeadline)
  if (g.state === 'PreparingRebalance') consider(g.join?.deadline ?? null)
  if (g.state === 'CompletingRebalance' || g.state === 'Stable') consider(g.syncDeadline)
  consider(offsetExpiryBound(ctx, g))
  consider(emptyRemovalAt(ctx, g))
  return next
}

function assertInvariants(before: GroupState, after: GroupState): void {
  const fail = (what: string) => {
    throw new Error(`invariant: group ${after.groupId}: ${what}`)
  }
  // Each write takes the next id and checks it is free (write()): ids stay below nextWriteId.
  if (after.nextWriteId < before.nextWriteId) fail(`write ids went back from ${before.nextWriteId} to ${after.nextWriteId}`)
  if (after.writes.size === 0 && (after.unconfirmedOffsets.size > 0 || after.unconfirmedMetadata !== null)) fail('offsets or metadata wait for a write that is not in flight')
  const g = after.group
  if (g === null) return
  if (before.group !== null && g.generationId < before.group.generationId) fail(`generation went back from ${before.group.generationId} to ${g.generationId}`)
  if (g.generationId < after.generationFloor) fail(`generation ${g.generationId} is below ${after.generationFloor}, handed out before the reload`)
  if (after.ended !== null && after.writes.size > 0) fail('an ended group still holds writes')
  if (g.members.size > 0 && (g.leaderId === null || !g.members.has(g.leaderId))) fail(`leader ${g.leaderId} is not a member`)
  if (g.members.size === 0 && g.leaderId !== null) fail(`leader ${g.leaderId} of a group without members`)
  if (g.state === 'Empty' && g.members.size > 0) fail('an Empty group has members')
  if ((g.state === 'Stable' || g.state === 'CompletingRebalance') && g.protocolName === null) fail(`${g.state} without a protocol`)
  for (const [instance, id] of g.staticMembers) if (g.members.get(id)?.groupInstanceId !== instance) fail(`static member ${instance} maps to ${id}, which is not it`)
  for (const id of g.pendingSyncMembers) if (!g.members.has(id)) fail(`pending sync member ${id} is not a member`)
  // Looked for only when some member waits for its JoinGroup outside a rebalance (not per commit).
  let staticJoins: Set<string> | null = null
  const staticJoinWritten = (memberId: string) => {
    staticJoins ??= new Set([...after.writes.values()].flatMap((w) => (w.staticJoin === null ? [] : [w.staticJoin.memberId])))
    return staticJoins.has(memberId)
  }
  for (const m of g.members.values()) {
    if (m.awaitingSync && g.state !== 'CompletingRebalance') fail(`member ${m.memberId} waits for SyncGroup in ${g.state}`)
    if (m.awaitingJoin && g.state !== 'PreparingRebalance' && !(g.state === 'Stable' && staticJoinWritten(m.memberId))) {
      fail(`member ${m.memberId} waits for JoinGroup in ${g.state}`)
    }
    if (after.ended !== null && (m.awaitingJoin || m.awaitingSync)) fail(`member ${m.memberId} of an ended group still waits`)
  }
}
