/**
 * The consumer's partition assignors (Kafka's ConsumerPartitionAssignor): the group leader runs
 * the one the group agreed on over every member's subscription and sends each member its
 * partitions in SyncGroup. Names are Kafka's (`partition.assignment.strategy`), so a group may
 * mix peerlog, Java, librdkafka and KafkaJS consumers.
 *
 *   range               per topic, consecutive ranges to members sorted by id (Kafka's default before 3.0)
 *   roundrobin          all partitions over all members, in turn
 *   sticky              balanced, and keeps each member's previous partitions where it can (eager)
 *   cooperative-sticky  sticky, but a partition moves only after its owner revoked it (KIP-429)
 */
import type { TopicPartition } from '../list-offsets.ts'

/** EAGER: every member gives up everything at each rebalance. COOPERATIVE: only what moves (KIP-429). */
export type RebalanceProtocol = 'EAGER' | 'COOPERATIVE'

export type AssignorName = 'range' | 'roundrobin' | 'sticky' | 'cooperative-sticky'

/** One member's subscription as the leader sees it (decoded ConsumerProtocolSubscription). */
export interface MemberSubscription {
  memberId: string
  groupInstanceId: string | null
  topics: string[]
  userData: Uint8Array | null
  /** The partitions the member owns now (subscription v1+); [] when it sent none. */
  ownedPartitions: TopicPartition[]
  /** The generation its owned partitions are from (subscription v2+); -1 when unknown. */
  generationId: number
  rackId: string | null
}

/** What a member knows when it builds its subscription (see `subscriptionUserData`). */
export interface SubscriptionState {
  topics: readonly string[]
  ownedPartitions: readonly TopicPartition[]
  generationId: number
}

export interface PartitionAssignor {
  readonly name: AssignorName
  /** The protocols it supports, preferred first. */
  readonly supportedProtocols: readonly RebalanceProtocol[]
  /**
   * The userData this member puts in its subscription. `ownedPartitions` is the member's last
   * assignment and `generationId` the generation it came with ([] and -1 before the first);
   * under EAGER pass the last assignment even though it was just revoked: `sticky` writes it
   * into userData (Java StickyAssignor's format), which is how it stays sticky.
   * `cooperative-sticky` writes the generation (int32); range and roundrobin write null.
   */
  subscriptionUserData(state: SubscriptionState): Uint8Array | null
  /**
   * The assignment: member id → its partitions (every member present, [] when it gets none;
   * each list sorted by topic, then partition). `partitionsPerTopic` holds the partition count
   * of every topic some member subscribes to (topics missing from it do not exist and are
   * skipped; topics nobody subscribes to are ignored). Deterministic: the same input gives the
   * same output, whatever the order of the maps.
   */
  assign(partitionsPerTopic: ReadonlyMap<string, number>, subscriptions: ReadonlyMap<string, MemberSubscription>): Map<string, TopicPartition[]>
}

/** Java's String.compareTo: UTF-16 code units, not locale order. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * The member order of range and roundrobin (Java's MemberInfo, KIP-345): static members first,
 * by group.instance.id, so their partitions survive a restart under a new member id; then the
 * dynamic ones by member id.
 */
export function compareMembers(a: Pick<MemberSubscription, 'memberId' | 'groupInstanceId'>, b: Pick<MemberSubscription, 'memberId' | 'groupInstanceId'>): number {
  if (a.groupInstanceId !== null && b.groupInstanceId !== null) return compareStrings(a.groupInstanceId, b.groupInstanceId)
  if (a.groupInstanceId !== null) return -1
  if (b.groupInstanceId !== null) return 1
  return compareStrings(a.memberId, b.memberId)
}

/** The members in Kafka's order (static members by instance id first, then by member id), each with its topics as a set. */
export function orderedMembers(subscriptions: ReadonlyMap<string, MemberSubscription>): { memberId: string; groupInstanceId: string | null; topics: Set<string> }[] {
  return [...subscriptions].map(([memberId, s]) => ({ memberId, groupInstanceId: s.groupInstanceId, topics: new Set(s.topics) })).sort(compareMembers)
}

export function compareTopicPartitions(a: TopicPartition, b: TopicPartition): number {
  return compareStrings(a.topic, b.topic) || a.partition - b.partition
}

/** The topics some member subscribes to that exist, sorted, with their partition counts. */
export function subscribedTopics(partitionsPerTopic: ReadonlyMap<string, number>, subscriptions: ReadonlyMap<string, MemberSubscription>): Map<string, number> {
  const names = new Set<string>()
  for (const s of subscriptions.values()) for (const t of s.topics) if (partitionsPerTopic.has(t)) names.add(t)
  const out = new Map<string, number>()
  for (const t of [...names].sort(compareStrings)) {
    const n = partitionsPerTopic.get(t)!
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`topic '${t}' has ${n} partitions`)
    out.set(t, n)
  }
  return out
}

/** An empty assignment for every member, in member id order. */
export function emptyAssignment(subscriptions: ReadonlyMap<string, MemberSubscription>): Map<string, TopicPartition[]> {
  const out = new Map<string, TopicPartition[]>()
  for (const id of [...subscriptions.keys()].sort(compareStrings)) out.set(id, [])
  return out
}
