/**
 * sticky (Kafka's StickyAssignor, EAGER): the sticky assignment (sticky-assignment.ts) where a
 * member's previous partitions come from its subscription's userData, because under the eager
 * protocol a member revokes everything before it joins and its ownedPartitions is empty. The
 * userData is Java's format, which librdkafka's sticky assignor writes too:
 *
 *   StickyAssignorUserData v1 => previous_assignment:[topic:STRING partitions:[INT32]] generation:INT32
 *   (v0: previous_assignment only; generation then counts as -1)
 *
 * null before the member's first assignment. userData that does not parse counts as no previous
 * assignment (Java's rule); a member without userData falls back to its subscription's
 * ownedPartitions and generationId (v1/v2), which some clients fill in.
 */
import type { TopicPartition } from '../list-offsets.ts'
import { ProtocolDecodeError, Reader, Writer } from '../../protocol/kafka/primitives.ts'
import { compareTopicPartitions, type MemberSubscription, type PartitionAssignor, type SubscriptionState } from './assignor.ts'
import { stickyAssignment, type StickyMember } from './sticky-assignment.ts'

export interface StickyUserData {
  partitions: TopicPartition[]
  /** -1 when absent (v0). */
  generation: number
}

export function encodeStickyUserData(partitions: readonly TopicPartition[], generation: number): Uint8Array {
  const groups = new Map<string, number[]>()
  for (const { topic, partition } of [...partitions].sort(compareTopicPartitions)) {
    let g = groups.get(topic)
    if (g === undefined) groups.set(topic, (g = []))
    g.push(partition)
  }
  const w = new Writer(64)
  w.arrayLength(groups.size)
  for (const [topic, ps] of groups) {
    w.string(topic)
    w.arrayLength(ps.length)
    for (const p of ps) w.int32(p)
  }
  return w.int32(generation).finish()
}

/** The previous assignment in `userData`; null when there is none or it does not parse. */
export function decodeStickyUserData(userData: Uint8Array | null): StickyUserData | null {
  if (userData === null || userData.length === 0) return null
  const r = new Reader(userData)
  try {
    const partitions: TopicPartition[] = []
    const n = r.arrayLength(6, false, 'previous_assignment')
    for (let i = 0; i < n; i++) {
      const topic = r.string('topic')
      const m = r.arrayLength(4, false, 'partitions')
      for (let j = 0; j < m; j++) partitions.push({ topic, partition: r.int32('partition') })
    }
    return { partitions, generation: r.remaining >= 4 ? r.int32('generation') : -1 }
  } catch (e) {
    if (e instanceof ProtocolDecodeError) return null
    throw e
  }
}

export class StickyAssignor implements PartitionAssignor {
  readonly name = 'sticky'
  readonly supportedProtocols = ['EAGER'] as const

  subscriptionUserData(state: SubscriptionState): Uint8Array | null {
    if (state.generationId < 0 && state.ownedPartitions.length === 0) return null
    return encodeStickyUserData(state.ownedPartitions, state.generationId)
  }

  assign(partitionsPerTopic: ReadonlyMap<string, number>, subscriptions: ReadonlyMap<string, MemberSubscription>): Map<string, TopicPartition[]> {
    const members = new Map<string, StickyMember>()
    for (const [id, s] of subscriptions) {
      const previous = decodeStickyUserData(s.userData)
      members.set(id, previous === null ? { topics: s.topics, owned: s.ownedPartitions, generation: s.generationId } : { topics: s.topics, owned: previous.partitions, generation: previous.generation })
    }
    return stickyAssignment(partitionsPerTopic, members).assignment
  }
}
