/**
 * cooperative-sticky (Kafka's CooperativeStickyAssignor, KIP-429): the sticky assignment
 * (sticky-assignment.ts) over what each member owns now — its subscription's ownedPartitions,
 * at its generationId (v2+), or, from a v0/v1 subscription, at the generation its userData
 * holds: Java writes it there as one int32, which this assignor writes too.
 *
 * Cooperative rule, applied HERE, in the assignor (as Java's CooperativeStickyAssignor does):
 * a partition that moves from one member to another is left out of the new owner's assignment
 * in this round. The group consumer then does, as Java's ConsumerCoordinator does:
 * - leader: send the assignment as it is (`assertCooperativeAssignment` checks any assignor's
 *   output for the rule);
 * - every member, on its assignment: revoke owned − assigned (onPartitionsRevoked), add
 *   assigned − owned (onPartitionsAssigned), keep fetching the rest; if it revoked anything,
 *   rejoin at once, sending ownedPartitions = its new assignment — that follow-up rebalance
 *   gives the withheld partitions to their new owners.
 */
import type { TopicPartition } from '../list-offsets.ts'
import { Writer } from '../../protocol/kafka/primitives.ts'
import { compareStrings, type MemberSubscription, type PartitionAssignor, type SubscriptionState } from './assignor.ts'
import { stickyAssignment, type StickyMember } from './sticky-assignment.ts'
import { decodeStickyUserData } from './sticky.ts'

const key = (tp: TopicPartition): string => `${tp.partition}\u0000${tp.topic}`

/** The generation in a cooperative-sticky userData; -1 when there is none. */
export function cooperativeUserDataGeneration(userData: Uint8Array | null): number {
  if (userData === null || userData.length < 4) return -1
  const view = new DataView(userData.buffer, userData.byteOffset, userData.byteLength)
  // librdkafka's cooperative-sticky writes the sticky format (previous assignment, generation).
  if (userData.length > 4) {
    const sticky = decodeStickyUserData(userData)
    if (sticky !== null) return sticky.generation
  }
  return view.getInt32(0)
}

/**
 * Throws when `assignment` gives a member a partition that another member owns and is losing in
 * the same round (Java's ConsumerCoordinator.validateCooperativeAssignment).
 */
export function assertCooperativeAssignment(assignment: ReadonlyMap<string, readonly TopicPartition[]>, subscriptions: ReadonlyMap<string, MemberSubscription>): void {
  const revoked = new Map<string, string>()
  const added: [string, TopicPartition][] = []
  for (const [id, s] of subscriptions) {
    const assigned = new Set((assignment.get(id) ?? []).map(key))
    const owned = new Set(s.ownedPartitions.map(key))
    for (const tp of s.ownedPartitions) if (!assigned.has(key(tp))) revoked.set(key(tp), id)
    for (const tp of assignment.get(id) ?? []) if (!owned.has(key(tp))) added.push([id, tp])
  }
  for (const [id, tp] of added) {
    const from = revoked.get(key(tp))
    if (from !== undefined) throw new Error(`cooperative assignment gives ${tp.topic}-${tp.partition} to ${id} in the same round as ${from} revokes it`)
  }
}

export class CooperativeStickyAssignor implements PartitionAssignor {
  readonly name = 'cooperative-sticky'
  readonly supportedProtocols = ['COOPERATIVE', 'EAGER'] as const

  subscriptionUserData(state: SubscriptionState): Uint8Array | null {
    return new Writer(4).int32(state.generationId).finish()
  }

  assign(partitionsPerTopic: ReadonlyMap<string, number>, subscriptions: ReadonlyMap<string, MemberSubscription>): Map<string, TopicPartition[]> {
    const members = new Map<string, StickyMember>()
    for (const [id, s] of subscriptions) {
      const generation = s.generationId >= 0 ? s.generationId : cooperativeUserDataGeneration(s.userData)
      members.set(id, { topics: s.topics, owned: s.ownedPartitions, generation })
    }
    const { assignment, transferring } = stickyAssignment(partitionsPerTopic, members)
    for (const id of [...transferring.keys()].sort(compareStrings)) {
      const withheld = new Set(transferring.get(id)!.map(key))
      assignment.set(
        id,
        assignment.get(id)!.filter((tp) => !withheld.has(key(tp))),
      )
    }
    return assignment
  }
}
