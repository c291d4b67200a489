/** Helpers for the assignor tests: building subscriptions and checking assignments. */
import type { MemberSubscription } from '../../../src/client/assignors/assignor.ts'
import type { TopicPartition } from '../../../src/client/list-offsets.ts'

export const tp = (topic: string, partition: number): TopicPartition => ({ topic, partition })

/** `t0p1`-style names for partitions, sorted: easy to read in a failed assertion. */
export function names(list: readonly TopicPartition[] | undefined): string[] {
  return (list ?? []).map((x) => `${x.topic}-${x.partition}`).sort()
}

export function member(
  memberId: string,
  topics: string[],
  opts: { groupInstanceId?: string | null; owned?: TopicPartition[]; generationId?: number; userData?: Uint8Array | null } = {},
): [string, MemberSubscription] {
  return [
    memberId,
    {
      memberId,
      groupInstanceId: opts.groupInstanceId ?? null,
      topics,
      userData: opts.userData ?? null,
      ownedPartitions: opts.owned ?? [],
      generationId: opts.generationId ?? -1,
      rackId: null,
    },
  ]
}

export const group = (...members: [string, MemberSubscription][]): Map<string, MemberSubscription> => new Map(members)
export const topics = (entries: Record<string, number>): Map<string, number> => new Map(Object.entries(entries))

/** The assignment as member → sorted partition names. */
export function byName(assignment: ReadonlyMap<string, readonly TopicPartition[]>): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const [id, list] of assignment) out[id] = names(list)
  return out
}

/** Problems with the assignment: a partition given twice, to a member not subscribed, or that does not exist; or (when `complete`) one left out. */
export function problems(
  assignment: ReadonlyMap<string, readonly TopicPartition[]>,
  partitionsPerTopic: ReadonlyMap<string, number>,
  subscriptions: ReadonlyMap<string, MemberSubscription>,
  complete = true,
): string[] {
  const out: string[] = []
  const seen = new Map<string, string>()
  for (const id of subscriptions.keys()) if (!assignment.has(id)) out.push(`member ${id} missing`)
  for (const [id, list] of assignment) {
    const s = subscriptions.get(id)
    if (s === undefined) out.push(`unknown member ${id}`)
    for (const { topic, partition } of list) {
      const k = `${topic}-${partition}`
      if (seen.has(k)) out.push(`${k} given to ${seen.get(k)} and ${id}`)
      seen.set(k, id)
      if (s !== undefined && !s.topics.includes(topic)) out.push(`${k} given to ${id}, not subscribed`)
      const n = partitionsPerTopic.get(topic)
      if (n === undefined || partition < 0 || partition >= n) out.push(`${k} does not exist`)
    }
  }
  if (complete) {
    for (const [topic, n] of partitionsPerTopic) {
      if (![...subscriptions.values()].some((s) => s.topics.includes(topic))) continue
      for (let p = 0; p < n; p++) if (!seen.has(`${topic}-${p}`)) out.push(`${topic}-${p} unassigned`)
    }
  }
  return out
}

/**
 * Kafka's "balanced" (AbstractStickyAssignor.isBalanced): no member could take a partition of a
 * topic it subscribes to from a member holding 2 or more partitions more than it. Returns the
 * first such move, or null.
 */
export function improvingMove(assignment: ReadonlyMap<string, readonly TopicPartition[]>, subscriptions: ReadonlyMap<string, MemberSubscription>): string | null {
  const count = new Map([...assignment].map(([id, l]) => [id, l.length]))
  for (const [from, list] of assignment) {
    for (const { topic, partition } of list) {
      for (const [to, s] of subscriptions) {
        if (to !== from && s.topics.includes(topic) && count.get(from)! > count.get(to)! + 1) return `${topic}-${partition}: ${from} (${count.get(from)}) -> ${to} (${count.get(to)})`
      }
    }
  }
  return null
}

export function spread(assignment: ReadonlyMap<string, readonly TopicPartition[]>): number {
  const counts = [...assignment.values()].map((l) => l.length)
  return counts.length === 0 ? 0 : Math.max(...counts) - Math.min(...counts)
}

/**
 * The fewest partitions that must leave the members that hold them for the assignment to be
 * balanced, when every member subscribes to every topic: each member keeps at most its quota
 * (floor or ceil of P/n), and only P % n members may keep the larger one.
 */
export function minimalMoves(ownedCounts: readonly number[], total: number): number {
  const n = ownedCounts.length
  if (n === 0) return 0
  const minQ = Math.floor(total / n)
  const maxQ = Math.ceil(total / n)
  let kept = 0
  for (const c of ownedCounts) kept += Math.min(c, minQ)
  if (maxQ > minQ) kept += Math.min(total % n, ownedCounts.filter((c) => c >= maxQ).length)
  return ownedCounts.reduce((a, b) => a + b, 0) - kept
}

/** Partitions whose holder in `before` is still a member and holds them no more in `after`. */
export function moved(before: ReadonlyMap<string, readonly TopicPartition[]>, after: ReadonlyMap<string, readonly TopicPartition[]>): number {
  const holder = new Map<string, string>()
  for (const [id, list] of after) for (const x of list) holder.set(`${x.topic}-${x.partition}`, id)
  let n = 0
  for (const [id, list] of before) {
    if (!after.has(id)) continue
    for (const x of list) if (holder.get(`${x.topic}-${x.partition}`) !== id) n++
  }
  return n
}
