/**
 * Consumer group members driven at the protocol level (FindCoordinator, JoinGroup, SyncGroup,
 * Heartbeat, OffsetCommit, LeaveGroup over the generated codecs), for the group fault tests.
 *
 * A ProtocolMember does one request per call (`join`, `sync`, `heartbeat`, `commit`, `leave`),
 * or, after `follow()`, behaves as a well-behaved consumer in the background: it joins (KIP-394
 * two-step), syncs (as leader it deals the group's partitions round-robin over the joined
 * members), heartbeats every `heartbeatIntervalMs`, and rejoins on REBALANCE_IN_PROGRESS,
 * ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID or a failed SyncGroup, as Kafka's AbstractCoordinator
 * does. It fails the ways a real member does: `kill()` drops its connection with no LeaveGroup,
 * `silence()` stops every request while the connection stays open, and `holdRebalance()` keeps
 * heartbeating but never rejoins, or never syncs. Every answer it gets is kept in `log`, so a test asserts what
 * the member saw.
 *
 * `describeGroup` and `waitConverged` read the group as a tool does (DescribeGroups with the
 * consumer protocol's assignments decoded).
 */
import { decodeAssignment, encodeAssignment, encodeSubscription } from '../../src/client/consumer-protocol.ts'
import type { TopicPartition } from '../../src/client/list-offsets.ts'
import { ErrorCode, errorName } from '../../src/protocol/kafka/error-codes.ts'
import { ApiKey } from '../../src/protocol/kafka/generated/index.ts'
import { TestClient } from './kafka-test-client.ts'

/** How long FindCoordinator is retried while `__consumer_offsets` is created or loaded. */
const FIND_COORDINATOR_WAIT_MS = 10_000
const RETRY_BACKOFF_MS = 50
/** How long a following member lives at most: the loop ends by itself even if a test forgets it. */
const FOLLOW_LIFETIME_MAX_MS = 120_000
/** Entries kept in a member's log; older ones are dropped. */
const LOG_ENTRIES_MAX = 10_000

export type Op = 'join' | 'sync' | 'heartbeat' | 'commit' | 'leave'

export interface LogEntry {
  op: Op
  generationId: number
  errorCode: number
}

export interface MemberOptions {
  /** The group's partitions: what the member subscribes to and, as leader, deals out. */
  partitions: readonly TopicPartition[]
  sessionTimeoutMs?: number
  rebalanceTimeoutMs?: number
  heartbeatIntervalMs?: number
  groupInstanceId?: string | null
  protocolType?: string
  /** Default: one protocol, 'range', with the consumer protocol subscription of the partitions' topics. */
  protocols?: { name: string; metadata: Uint8Array }[]
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms))
const tpKey = (tp: TopicPartition) => `${tp.topic}-${tp.partition}`

/** Asks FindCoordinator until the group has one (bounded). */
export async function findCoordinator(client: TestClient, groupId: string): Promise<void> {
  const deadline = Date.now() + FIND_COORDINATOR_WAIT_MS
  for (;;) {
    const r = await client.request(ApiKey.FindCoordinator, 1, { key: groupId, keyType: 0 })
    if (r.errorCode === ErrorCode.NONE) return
    if (Date.now() >= deadline) throw new Error(`FindCoordinator of '${groupId}' kept failing with ${errorName(r.errorCode)}`)
    await sleep(RETRY_BACKOFF_MS)
  }
}

export class ProtocolMember {
  memberId = ''
  generationId = -1
  leaderId = ''
  /** What the last successful SyncGroup gave this member. */
  assignment: TopicPartition[] = []
  /** The generation of that SyncGroup (-1: none yet). */
  syncedGeneration = -1
  readonly log: LogEntry[] = []
  private members: string[] = []
  private following: Promise<void> | null = null
  private stopped = false
  /** What the member holds back while following: null (nothing), its rejoin, or (as leader) its SyncGroup. */
  private holding: 'rejoin' | 'sync' | null = null
  private readonly options: Required<Omit<MemberOptions, 'groupInstanceId'>> & { groupInstanceId: string | null }

  private constructor(
    readonly client: TestClient,
    readonly groupId: string,
    options: MemberOptions,
  ) {
    const topics = [...new Set(options.partitions.map((p) => p.topic))]
    this.options = {
      partitions: options.partitions,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 2_000,
      rebalanceTimeoutMs: options.rebalanceTimeoutMs ?? 3_000,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 100,
      groupInstanceId: options.groupInstanceId ?? null,
      protocolType: options.protocolType ?? 'consumer',
      protocols: options.protocols ?? [{ name: 'range', metadata: encodeSubscription({ topics, userData: null, ownedPartitions: [], generationId: -1, rackId: null }) }],
    }
  }

  static async connect(port: number, groupId: string, options: MemberOptions): Promise<ProtocolMember> {
    const client = await TestClient.connect(port)
    try {
      await findCoordinator(client, groupId)
    } catch (e) {
      client.close()
      throw e
    }
    return new ProtocolMember(client, groupId, options)
  }

  get groupInstanceId(): string | null {
    return this.options.groupInstanceId
  }

  get isLeader(): boolean {
    return this.memberId !== '' && this.leaderId === this.memberId
  }

  private record(op: Op, generationId: number, errorCode: number): void {
    this.log.push({ op, generationId, errorCode })
    if (this.log.length > LOG_ENTRIES_MAX) this.log.splice(0, this.log.length - LOG_ENTRIES_MAX)
  }

  /** The log's entries from index `from` on that are not NONE, as `op:ERROR_NAME` for a readable assertion. */
  errorsSince(from: number, ops: readonly Op[] = ['join', 'sync', 'heartbeat', 'commit', 'leave']): string[] {
    return this.log
      .slice(from)
      .filter((e) => e.errorCode !== ErrorCode.NONE && ops.includes(e.op))
      .map((e) => `${e.op}:${errorName(e.errorCode)}`)
  }

  /** One JoinGroup (and the KIP-394 second one when the broker asks for it). */
  async join(): Promise<number> {
    const send = () =>
      this.client.request(ApiKey.JoinGroup, 5, {
        groupId: this.groupId,
        sessionTimeoutMs: this.options.sessionTimeoutMs,
        rebalanceTimeoutMs: this.options.rebalanceTimeoutMs,
        memberId: this.memberId,
        groupInstanceId: this.options.groupInstanceId,
        protocolType: this.options.protocolType,
        protocols: this.options.protocols,
      })
    let r = await send()
    if (r.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
      this.record('join', r.generationId, r.errorCode)
      this.memberId = r.memberId
      r = await send()
    }
    this.record('join', r.generationId, r.errorCode)
    if (r.errorCode === ErrorCode.NONE) {
      this.memberId = r.memberId
      this.generationId = r.generationId
      this.leaderId = r.leader
      this.members = r.members.map((m) => m.memberId)
    }
    return r.errorCode
  }

  /** One SyncGroup for the current generation; as leader it sends the round-robin assignment. */
  async sync(generationId = this.generationId): Promise<number> {
    const assignments = this.isLeader ? this.deal() : []
    const r = await this.client.request(ApiKey.SyncGroup, 3, {
      groupId: this.groupId,
      generationId,
      memberId: this.memberId,
      groupInstanceId: this.options.groupInstanceId,
      assignments,
    })
    this.record('sync', generationId, r.errorCode)
    if (r.errorCode === ErrorCode.NONE) {
      this.assignment = r.assignment.length === 0 ? [] : decodeAssignment(r.assignment).partitions
      this.syncedGeneration = generationId
    }
    return r.errorCode
  }

  private deal(): { memberId: string; assignment: Uint8Array }[] {
    const ids = [...this.members].sort()
    const given = new Map<string, TopicPartition[]>(ids.map((id) => [id, []]))
    this.options.partitions.forEach((tp, i) => given.get(ids[i % ids.length]!)!.push(tp))
    return ids.map((memberId) => ({ memberId, assignment: encodeAssignment({ partitions: given.get(memberId)!, userData: null }) }))
  }

  async heartbeat(generationId = this.generationId, memberId = this.memberId): Promise<number> {
    const r = await this.client.request(ApiKey.Heartbeat, 3, { groupId: this.groupId, generationId, memberId, groupInstanceId: this.options.groupInstanceId })
    this.record('heartbeat', generationId, r.errorCode)
    return r.errorCode
  }

  /** OffsetCommit v7 in this member's generation; the error of each partition, keyed `topic-partition`. */
  async commit(offsets: readonly (TopicPartition & { offset: number; metadata?: string | null })[]): Promise<Map<string, number>> {
    const byTopic = new Map<string, { partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; committedMetadata: string | null }[]>()
    for (const o of offsets) {
      let ps = byTopic.get(o.topic)
      if (!ps) byTopic.set(o.topic, (ps = []))
      ps.push({ partitionIndex: o.partition, committedOffset: BigInt(o.offset), committedLeaderEpoch: -1, committedMetadata: o.metadata ?? null })
    }
    const r = await this.client.request(ApiKey.OffsetCommit, 7, {
      groupId: this.groupId,
      generationIdOrMemberEpoch: this.generationId,
      memberId: this.memberId,
      groupInstanceId: this.options.groupInstanceId,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    })
    const out = new Map<string, number>()
    for (const t of r.topics) for (const p of t.partitions) out.set(`${t.name}-${p.partitionIndex}`, p.errorCode)
    const worst = [...out.values()].find((c) => c !== ErrorCode.NONE) ?? ErrorCode.NONE
    this.record('commit', this.generationId, worst)
    return out
  }

  /** Commits offset `offset` for every partition this member owns; true when all succeeded. */
  async commitOwned(offset: number): Promise<boolean> {
    if (this.assignment.length === 0) return true
    const r = await this.commit(this.assignment.map((tp) => ({ ...tp, offset })))
    return [...r.values()].every((c) => c === ErrorCode.NONE)
  }

  /** LeaveGroup (and stops following): a request of the loop still in flight is answered first. */
  async leave(): Promise<number> {
    this.stopped = true
    const r = await this.client.request(ApiKey.LeaveGroup, 3, { groupId: this.groupId, members: [{ memberId: this.memberId, groupInstanceId: this.options.groupInstanceId }] })
    const errorCode = r.errorCode !== ErrorCode.NONE ? r.errorCode : (r.members[0]?.errorCode ?? ErrorCode.NONE)
    this.record('leave', this.generationId, errorCode)
    return errorCode
  }

  /** Follows the group in the background until stopped (see the header). */
  follow(): void {
    if (this.following) throw new Error('already following')
    this.following = this.loop().catch(() => {
      // The connection closed (killed, or the broker stopped): the member is gone.
    })
  }

  private async loop(): Promise<void> {
    const deadline = Date.now() + FOLLOW_LIFETIME_MAX_MS
    while (!this.stopped && Date.now() < deadline) {
      const joined = await this.join()
      if (this.stopped) return
      if (joined === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = ''
      if (joined === ErrorCode.FENCED_INSTANCE_ID) return
      if (joined !== ErrorCode.NONE) {
        await sleep(RETRY_BACKOFF_MS)
        continue
      }
      const synced = this.holding === 'sync' ? ErrorCode.NONE : await this.sync()
      if (this.stopped) return
      if (synced === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = ''
      if (synced === ErrorCode.FENCED_INSTANCE_ID) return
      if (synced !== ErrorCode.NONE) continue
      // Heartbeats until the group says to rejoin.
      while (!this.stopped && Date.now() < deadline) {
        await sleep(this.options.heartbeatIntervalMs)
        if (this.stopped) return
        const hb = await this.heartbeat()
        if (hb === ErrorCode.NONE) continue
        // Holding: stays in the rebalance it holds open (as the generation it never synced).
        if (this.holding === 'rejoin' || (this.holding === 'sync' && this.syncedGeneration !== this.generationId)) continue
        if (hb === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = ''
        if (hb === ErrorCode.FENCED_INSTANCE_ID) return
        if (hb === ErrorCode.REBALANCE_IN_PROGRESS || hb === ErrorCode.ILLEGAL_GENERATION || hb === ErrorCode.UNKNOWN_MEMBER_ID) break
      }
    }
  }

  /**
   * From now on the member holds the next rebalance open and only heartbeats: 'rejoin' never
   * rejoins (the group stays PreparingRebalance until this member's rebalance timeout), 'sync'
   * rejoins but never sends SyncGroup (as leader: the group stays CompletingRebalance).
   */
  holdRebalance(what: 'rejoin' | 'sync'): void {
    this.holding = what
  }

  /** Stops sending anything (no heartbeats, no LeaveGroup); the connection stays open. */
  silence(): void {
    this.stopped = true
  }

  /** Drops the connection at once: no LeaveGroup, a request in flight is never answered. */
  kill(): void {
    this.stopped = true
    this.client.close()
  }
}

export interface DescribedMember {
  memberId: string
  groupInstanceId: string | null
  partitions: TopicPartition[]
}

export interface DescribedGroup {
  errorCode: number
  state: string
  protocolType: string
  protocol: string
  members: DescribedMember[]
}

/** DescribeGroups v4 of one group, each member's assignment decoded (empty bytes: no partitions). */
export async function describeGroup(client: TestClient, groupId: string): Promise<DescribedGroup> {
  const r = await client.request(ApiKey.DescribeGroups, 4, { groups: [groupId], includeAuthorizedOperations: false })
  const g = r.groups[0]!
  return {
    errorCode: g.errorCode,
    state: g.groupState,
    protocolType: g.protocolType,
    protocol: g.protocolData,
    members: g.members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      partitions: m.memberAssignment.length === 0 ? [] : decodeAssignment(m.memberAssignment).partitions,
    })),
  }
}

/**
 * What is wrong with the group as a converged one: not Stable, not exactly `members` (when
 * given), or a partition of `partitions` owned by no member or by more than one (or a partition
 * owned that is not in `partitions`). null when it is converged.
 */
export function convergenceProblem(g: DescribedGroup, partitions: readonly TopicPartition[], members?: readonly string[]): string | null {
  if (g.errorCode !== ErrorCode.NONE) return `DescribeGroups failed with ${errorName(g.errorCode)}`
  if (g.state !== 'Stable') return `state ${g.state}`
  if (members !== undefined) {
    const have = g.members.map((m) => m.memberId).sort()
    const want = [...members].sort()
    if (have.join(' ') !== want.join(' ')) return `members [${have.join(', ')}], expected [${want.join(', ')}]`
  }
  const owners = new Map<string, string[]>()
  for (const m of g.members) for (const tp of m.partitions) owners.set(tpKey(tp), [...(owners.get(tpKey(tp)) ?? []), m.memberId])
  const expected = new Set(partitions.map(tpKey))
  for (const key of expected) {
    const o = owners.get(key) ?? []
    if (o.length !== 1) return `${key} owned by ${o.length} members`
  }
  for (const key of owners.keys()) if (!expected.has(key)) return `${key} is not a partition of the group's topics`
  return null
}

/**
 * Reads the group every `intervalMs` until it is converged (convergenceProblem is null) or
 * `boundMs` passes; resolves with the last problem (null: converged) and the last description.
 */
export async function waitConverged(
  client: TestClient,
  groupId: string,
  partitions: readonly TopicPartition[],
  options: { members?: () => readonly string[]; boundMs: number; intervalMs?: number },
): Promise<{ problem: string | null; group: DescribedGroup }> {
  const deadline = Date.now() + options.boundMs
  for (;;) {
    const group = await describeGroup(client, groupId)
    const problem = convergenceProblem(group, partitions, options.members?.())
    if (problem === null || Date.now() >= deadline) return { problem, group }
    await sleep(options.intervalMs ?? 50)
  }
}
