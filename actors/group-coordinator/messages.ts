/**
 * What a group-coordinator actor (one per consumer group) accepts: one discriminated union.
 *
 * Requests are the classic group protocol in domain terms (the Kafka handlers translate the
 * wire versions to and from these). Each carries `reply`, called exactly once: at once, or
 * later (a JoinGroup waits for the rebalance to complete, a follower's SyncGroup for the
 * leader's, an OffsetCommit for its records to be written to `__consumer_offsets`).
 *
 * `tick`, `written` and `unload` come from the actor shell and the coordinator service, not
 * from clients: the one timer of the group fired, a write the state asked for finished, the
 * broker stopped coordinating the group's `__consumer_offsets` partition.
 */
import type { GroupRecord } from '../../src/group/group-records.ts'

/** A reply callback: the state machine holds these (opaque to it) and hands them back in `reply` effects. */
export type ReplyTo<R> = (reply: R) => void

export interface JoinGroupProtocol {
  name: string
  metadata: Uint8Array
}

export interface JoinGroupInput {
  groupId: string
  /** '' for a member joining the first time. */
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  sessionTimeoutMs: number
  /** JoinGroup v0 has none: the handler passes sessionTimeoutMs, as Kafka does. */
  rebalanceTimeoutMs: number
  protocolType: string
  protocols: JoinGroupProtocol[]
  /** JoinGroup v4+ (KIP-394): a dynamic member joining with '' gets MEMBER_ID_REQUIRED and its id, and must join again with it. */
  requireKnownMemberId: boolean
}

export interface JoinGroupMember {
  memberId: string
  groupInstanceId: string | null
  metadata: Uint8Array
}

export interface JoinGroupResult {
  errorCode: number
  generationId: number
  protocolType: string | null
  protocolName: string | null
  leader: string
  memberId: string
  /** The members and their metadata for the chosen protocol: filled for the leader only. */
  members: JoinGroupMember[]
}

export interface SyncGroupInput {
  groupId: string
  generationId: number
  memberId: string
  groupInstanceId: string | null
  /** SyncGroup v5+ sends them; null when the request version has none (never checked then). */
  protocolType: string | null
  protocolName: string | null
  /** The leader's assignment, one entry per member; empty from followers. */
  assignments: { memberId: string; assignment: Uint8Array }[]
}

export interface SyncGroupResult {
  errorCode: number
  protocolType: string | null
  protocolName: string | null
  assignment: Uint8Array
}

export interface HeartbeatInput {
  groupId: string
  generationId: number
  memberId: string
  groupInstanceId: string | null
}

export interface LeaveGroupInput {
  groupId: string
  /** LeaveGroup v0–2 name one member by id; v3+ (KIP-345) a batch, static members by instance id. */
  members: { memberId: string; groupInstanceId: string | null }[]
}

export interface LeaveGroupResult {
  /** Group-level error (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, ...); NONE when the members' own codes tell. */
  errorCode: number
  members: { memberId: string; groupInstanceId: string | null; errorCode: number }[]
}

export interface CommitPartition {
  partition: number
  offset: number
  /** -1 when the client does not know it (OffsetCommit < v6). */
  leaderEpoch: number
  metadata: string | null
}

export interface OffsetCommitInput {
  groupId: string
  /** -1 with memberId '' for a commit from outside the group protocol (admin tools, assign()-only consumers). */
  generationId: number
  memberId: string
  groupInstanceId: string | null
  /** OffsetCommit v2–4 retention_time_ms; -1 for the broker's offsets.retention.minutes. */
  retentionTimeMs: number
  /** Only topics and partitions that exist: the handler answers UNKNOWN_TOPIC_OR_PARTITION for the rest itself. */
  topics: { name: string; partitions: CommitPartition[] }[]
}

export interface PartitionErrors {
  topics: { name: string; partitions: { partition: number; errorCode: number }[] }[]
}

export interface OffsetFetchInput {
  groupId: string
  /** null: every partition the group has an offset for (OffsetFetch v2+). */
  topics: { name: string; partitions: number[] }[] | null
}

export interface FetchedOffset {
  partition: number
  /** -1 when the group has none for the partition. */
  offset: number
  leaderEpoch: number
  metadata: string | null
  errorCode: number
}

export interface OffsetFetchResult {
  errorCode: number
  topics: { name: string; partitions: FetchedOffset[] }[]
}

/** Kafka's names for the classic group states, as DescribeGroups and ListGroups show them. */
export type GroupStateName = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead'

export interface DescribedMember {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  /** The member's metadata for the group's chosen protocol (empty unless Stable or CompletingRebalance). */
  metadata: Uint8Array
  /** Its assignment (empty unless Stable). */
  assignment: Uint8Array
}

export interface DescribeGroupResult {
  errorCode: number
  groupId: string
  state: GroupStateName
  protocolType: string
  /** The chosen protocol's name (the assignor), '' while none is chosen. */
  protocolData: string
  members: DescribedMember[]
}

export interface ListedGroup {
  groupId: string
  protocolType: string
  state: GroupStateName
}

export interface OffsetDeleteInput {
  groupId: string
  topics: { name: string; partitions: number[] }[]
}

export interface OffsetDeleteResult extends PartitionErrors {
  errorCode: number
}

export type GroupRequest =
  | { type: 'join'; input: JoinGroupInput; reply: ReplyTo<JoinGroupResult> }
  | { type: 'sync'; input: SyncGroupInput; reply: ReplyTo<SyncGroupResult> }
  | { type: 'heartbeat'; input: HeartbeatInput; reply: ReplyTo<{ errorCode: number }> }
  | { type: 'leave'; input: LeaveGroupInput; reply: ReplyTo<LeaveGroupResult> }
  | { type: 'commit'; input: OffsetCommitInput; reply: ReplyTo<PartitionErrors> }
  | { type: 'fetch-offsets'; input: OffsetFetchInput; reply: ReplyTo<OffsetFetchResult> }
  | { type: 'describe'; reply: ReplyTo<DescribeGroupResult> }
  | { type: 'list'; reply: ReplyTo<ListedGroup | null> }
  /** DeleteGroups: NON_EMPTY_GROUP while it has members; else tombstones for every offset and the group. */
  | { type: 'delete-group'; reply: ReplyTo<{ errorCode: number }> }
  | { type: 'delete-offsets'; input: OffsetDeleteInput; reply: ReplyTo<OffsetDeleteResult> }

export type GroupMessage =
  | GroupRequest
  /** The group's one timer fired (the state asked for it with a `timer` effect). */
  | { type: 'tick' }
  /** A `write` effect finished: its records are in `__consumer_offsets` (ok) or not (errorCode, e.g. NOT_COORDINATOR, REQUEST_TIMED_OUT). */
  | { type: 'written'; writeId: number; errorCode: number }
  /** The broker no longer coordinates this group: answer what waits with NOT_COORDINATOR and stop. */
  | { type: 'unload' }

/** What a step asks the actor shell to do, in order. */
export type GroupEffect =
  | { type: 'reply'; to: ReplyTo<any>; value: unknown }
  /**
   * Append these records (one batch) to the group's `__consumer_offsets` partition, then send
   * `written` with this id. The state has already replayed them (what it answers is held until
   * `written`); a failed write answers them with Kafka's mapped error and puts back what its
   * records replaced (NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR: the group is reloaded from the log).
   */
  | { type: 'write'; writeId: number; records: GroupRecord[] }
  /** The one wake-up the group needs: at this clock time send `tick` (null: none). Replaces the previous one. */
  | { type: 'timer'; at: number | null }
  | { type: 'log'; level: 'info' | 'warn' | 'debug'; message: string }
  /** The group is gone (deleted, or expired and empty with no offsets): stop the actor and forget it. */
  | { type: 'removed' }
