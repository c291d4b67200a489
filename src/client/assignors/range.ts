/**
 * range (Kafka's RangeAssignor, its default before 3.0): topic by topic, the members subscribed
 * to the topic in Java's MemberInfo order (static members by group.instance.id, then dynamic
 * ones by member id) take consecutive ranges of its partitions; with n partitions and m
 * members each gets floor(n / m), and the first n % m one more. Members subscribed to the
 * same topics thus get the same partition numbers of every topic (co-partitioning), at the
 * cost of balance across topics. Rack-aware placement (KIP-881) is not done: peerlog does not
 * pass replica racks to the assignor.
 */
import type { TopicPartition } from '../list-offsets.ts'
import { orderedMembers, compareTopicPartitions, emptyAssignment, subscribedTopics, type MemberSubscription, type PartitionAssignor, type SubscriptionState } from './assignor.ts'

export class RangeAssignor implements PartitionAssignor {
  readonly name = 'range'
  readonly supportedProtocols = ['EAGER'] as const

  subscriptionUserData(_state: SubscriptionState): Uint8Array | null {
    return null
  }

  assign(partitionsPerTopic: ReadonlyMap<string, number>, subscriptions: ReadonlyMap<string, MemberSubscription>): Map<string, TopicPartition[]> {
    const out = emptyAssignment(subscriptions)
    const members = orderedMembers(subscriptions)
    for (const [topic, n] of subscribedTopics(partitionsPerTopic, subscriptions)) {
      const takers = members.filter((m) => m.topics.has(topic))
      const per = Math.floor(n / takers.length)
      const extra = n % takers.length
      takers.forEach((m, i) => {
        const start = per * i + Math.min(i, extra)
        const length = per + (i < extra ? 1 : 0)
        const mine = out.get(m.memberId)!
        for (let p = start; p < start + length; p++) mine.push({ topic, partition: p })
      })
    }
    for (const list of out.values()) list.sort(compareTopicPartitions)
    return out
  }
}
