/**
 * roundrobin (Kafka's RoundRobinAssignor): every subscribed partition, sorted by topic then
 * partition, is dealt in turn over the members in Java's MemberInfo order (static members by
 * group.instance.id, then dynamic ones by member id); a member not subscribed to the
 * partition's topic is skipped and the deal goes on from the next one. Balanced when all
 * members subscribe to the same topics; with unequal subscriptions it can be far from it
 * (sticky does better there).
 */
import type { TopicPartition } from '../list-offsets.ts'
import { orderedMembers, emptyAssignment, subscribedTopics, type MemberSubscription, type PartitionAssignor, type SubscriptionState } from './assignor.ts'

export class RoundRobinAssignor implements PartitionAssignor {
  readonly name = 'roundrobin'
  readonly supportedProtocols = ['EAGER'] as const

  subscriptionUserData(_state: SubscriptionState): Uint8Array | null {
    return null
  }

  assign(partitionsPerTopic: ReadonlyMap<string, number>, subscriptions: ReadonlyMap<string, MemberSubscription>): Map<string, TopicPartition[]> {
    const out = emptyAssignment(subscriptions)
    const members = orderedMembers(subscriptions)
    let next = 0
    for (const [topic, n] of subscribedTopics(partitionsPerTopic, subscriptions)) {
      for (let partition = 0; partition < n; partition++) {
        // Some member subscribes to the topic (subscribedTopics), so this ends within one turn.
        while (!members[next]!.topics.has(topic)) next = (next + 1) % members.length
        out.get(members[next]!.memberId)!.push({ topic, partition })
        next = (next + 1) % members.length
      }
    }
    return out
  }
}
