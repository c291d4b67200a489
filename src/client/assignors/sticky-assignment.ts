/**
 * The sticky assignment shared by `sticky` and `cooperative-sticky` (Kafka's
 * AbstractStickyAssignor): balanced first, then sticky — every member keeps as many of the
 * partitions it owned as balance allows.
 *
 * Previous ownership is generation-aware (KIP-341, KIP-792): of the members claiming a
 * partition, the one with the highest generation owns it; when several claim it at that same
 * generation nobody keeps it ("contested"). A claim on a topic the member no longer subscribes
 * to, or on a partition that no longer exists, is not kept.
 *
 * Two algorithms, chosen as Kafka chooses them:
 * - every member subscribes to the same topics (Kafka's constrained assignment): with P
 *   partitions and M members each gets floor(P/M) or ceil(P/M), exactly P % M get the larger
 *   quota. Members are visited in member id order; each keeps its owned partitions up to its
 *   quota (taken in partition-then-topic order, to spread topics), and the rest are dealt round
 *   robin (sorted by topic, partition) to the members under quota, sorted by member id.
 * - otherwise (Kafka's general assignment): owned partitions are kept, the others go one by one
 *   (topics with fewest potential members first) to the least loaded member subscribed to the
 *   topic, and then partitions move while some member subscribed to a partition's topic has at
 *   least 2 fewer partitions than the one holding it: newly placed partitions first, then owned
 *   ones, preferring to move a partition back to the member that held it in an older
 *   generation. Each move lowers the sum of squared loads, so this ends, and the result is
 *   Kafka's "balanced": no single move makes it more even. (Like Kafka's, it is not a global
 *   optimum for every unequal subscription.)
 *
 * `transferring` lists, per member, the partitions it is given that another member owns now
 * (or that were contested): under the cooperative protocol those must wait for a later round.
 * Rack-aware placement (KIP-881) is not done: peerlog does not pass replica racks.
 */
import type { TopicPartition } from '../list-offsets.ts'
import { compareStrings } from './assignor.ts'

export interface StickyMember {
  topics: readonly string[]
  /** The partitions the member says it owns. */
  owned: readonly TopicPartition[]
  /** The generation `owned` is from; -1 when unknown. */
  generation: number
}

export interface StickyResult {
  /** Every member, in member id order, with its partitions sorted by topic, then partition. */
  assignment: Map<string, TopicPartition[]>
  /** Per member (only those with some), partitions given to it that another member owns now. */
  transferring: Map<string, TopicPartition[]>
}

const NONE = -1
const CONTESTED = -2
/** Below every real generation (-1 is a real claim: "generation unknown"). */
const NO_CLAIM = -0x80000000

export function stickyAssignment(partitionsPerTopic: ReadonlyMap<string, number>, members: ReadonlyMap<string, StickyMember>): StickyResult {
  const ids = [...members.keys()].sort(compareStrings)
  const m = ids.length
  const memberTopics = ids.map((id) => new Set(members.get(id)!.topics))

  // Topics some member subscribes to that exist, sorted by name; partition g is global index base[t] + p.
  const topics = [...new Set(memberTopics.flatMap((s) => [...s]))].filter((t) => partitionsPerTopic.has(t)).sort(compareStrings)
  const topicIndex = new Map(topics.map((t, i) => [t, i]))
  const base = new Int32Array(topics.length + 1)
  topics.forEach((t, i) => {
    const n = partitionsPerTopic.get(t)!
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`topic '${t}' has ${n} partitions`)
    base[i + 1] = base[i]! + n
  })
  const total = base[topics.length]!
  const topicOf = new Int32Array(total)
  for (let t = 0; t < topics.length; t++) topicOf.fill(t, base[t]!, base[t + 1]!)
  const partitionOf = (g: number): number => g - base[topicOf[g]!]!
  const subscribed = ids.map((_, i) => {
    const s = new Uint8Array(topics.length)
    for (const t of memberTopics[i]!) {
      const ti = topicIndex.get(t)
      if (ti !== undefined) s[ti] = 1
    }
    return s
  })

  // Generation-aware previous ownership: owner (or CONTESTED), and the best older claimer.
  const owner = new Int32Array(total).fill(NONE)
  const ownerGen = new Int32Array(total).fill(NO_CLAIM)
  const prev = new Int32Array(total).fill(NONE)
  const prevGen = new Int32Array(total).fill(NO_CLAIM)
  ids.forEach((id, i) => {
    const { owned, generation } = members.get(id)!
    const seen = new Set<number>()
    for (const { topic, partition } of owned) {
      const ti = topicIndex.get(topic)
      if (ti === undefined || !Number.isInteger(partition) || partition < 0 || partition >= base[ti + 1]! - base[ti]!) continue
      const g = base[ti]! + partition
      if (seen.has(g)) continue
      seen.add(g)
      if (generation > ownerGen[g]!) {
        if (owner[g]! >= 0) {
          prev[g] = owner[g]!
          prevGen[g] = ownerGen[g]!
        }
        owner[g] = i
        ownerGen[g] = generation
      } else if (generation === ownerGen[g]) {
        owner[g] = CONTESTED
      } else if (generation > prevGen[g]!) {
        prev[g] = i
        prevGen[g] = generation
      }
    }
  })
  // What each member keeps a claim on: it owns it and still subscribes to its topic.
  const initial = new Int32Array(total).fill(NONE)
  for (let g = 0; g < total; g++) {
    const o = owner[g]!
    if (o >= 0 && subscribed[o]![topicOf[g]!] === 1) initial[g] = o
  }

  const holder = allSubscriptionsEqual(memberTopics)
    ? constrained(m, total, topicOf, partitionOf, initial)
    : general(m, topics.length, base, topicOf, subscribed, initial, prev)

  const lists = ids.map((): TopicPartition[] => [])
  for (let g = 0; g < total; g++) {
    const h = holder[g]!
    if (h >= 0) lists[h]!.push({ topic: topics[topicOf[g]!]!, partition: partitionOf(g) })
  }
  const assignment = new Map<string, TopicPartition[]>()
  const transferring = new Map<string, TopicPartition[]>()
  ids.forEach((id, i) => assignment.set(id, lists[i]!))
  for (let g = 0; g < total; g++) {
    const h = holder[g]!
    const o = owner[g]!
    if (h < 0 || o === h || o === NONE) continue
    let list = transferring.get(ids[h]!)
    if (list === undefined) transferring.set(ids[h]!, (list = []))
    list.push({ topic: topics[topicOf[g]!]!, partition: partitionOf(g) })
  }
  return { assignment, transferring }
}

/** Kafka compares the subscribed topic lists as sets (topics that do not exist included). */
function allSubscriptionsEqual(memberTopics: readonly Set<string>[]): boolean {
  const first = memberTopics[0]
  if (first === undefined) return true
  return memberTopics.every((s) => s.size === first.size && [...s].every((t) => first.has(t)))
}

/** Kafka's constrained assignment (all members subscribe to every topic). Returns the holder of each partition. */
function constrained(m: number, total: number, topicOf: Int32Array, partitionOf: (g: number) => number, initial: Int32Array): Int32Array {
  const holder = new Int32Array(total).fill(NONE)
  if (m === 0) return holder
  const minQuota = Math.floor(total / m)
  const maxQuota = Math.ceil(total / m)
  const expectedOverMin = total % m
  let overMin = 0
  const count = new Int32Array(m)

  const ownedBy: number[][] = Array.from({ length: m }, () => [])
  for (let g = 0; g < total; g++) if (initial[g]! >= 0) ownedBy[initial[g]!]!.push(g)
  const underMin: number[] = []
  let atMin: number[] = []
  for (let i = 0; i < m; i++) {
    // Partition-then-topic order: what a member keeps spreads over the topics.
    const owned = ownedBy[i]!.sort((a, b) => partitionOf(a) - partitionOf(b) || topicOf[a]! - topicOf[b]!)
    let keep: number
    if (owned.length < minQuota) {
      keep = owned.length
      underMin.push(i)
    } else if (owned.length >= maxQuota && overMin < expectedOverMin) {
      keep = maxQuota
      if (++overMin === expectedOverMin) atMin = []
    } else {
      keep = minQuota
      if (overMin < expectedOverMin) atMin.push(i)
    }
    for (let k = 0; k < keep; k++) holder[owned[k]!] = i
    count[i] = keep
  }

  // The rest, by topic then partition, round robin over the members under quota (member id order).
  let next = 0
  for (let g = 0; g < total; g++) {
    if (holder[g]! >= 0) continue
    let i: number
    let fromUnderMin = true
    if (next < underMin.length) i = underMin[next]!
    else if (underMin.length > 0) i = underMin[(next = 0)]!
    else if (atMin.length > 0) {
      i = atMin.shift()!
      fromUnderMin = false
    } else throw new Error(`sticky assignment: no member can take ${g}; quotas ${minQuota}..${maxQuota}`)
    holder[g] = i
    const c = ++count[i]!
    if (fromUnderMin && c === minQuota) {
      underMin.splice(next, 1)
      atMin.push(i)
    } else {
      if (fromUnderMin) next++
      if (c === maxQuota) overMin++
    }
  }

  let atMax = 0
  for (let i = 0; i < m; i++) {
    if (count[i] !== minQuota && count[i] !== maxQuota) throw new Error(`sticky assignment: member ${i} got ${count[i]} partitions, quotas ${minQuota}..${maxQuota}`)
    if (count[i] === maxQuota) atMax++
  }
  if (maxQuota > minQuota && atMax !== expectedOverMin) throw new Error(`sticky assignment: ${atMax} members at ${maxQuota}, expected ${expectedOverMin}`)
  return holder
}

/** Kafka's general assignment (unequal subscriptions). Returns the holder of each partition. */
function general(
  m: number,
  topicCount: number,
  base: Int32Array,
  topicOf: Int32Array,
  subscribed: readonly Uint8Array[],
  initial: Int32Array,
  prev: Int32Array,
): Int32Array {
  const total = base[topicCount]!
  const holder = initial.slice()
  const count = new Int32Array(m)
  const consumers: number[][] = Array.from({ length: topicCount }, () => [])
  for (let i = 0; i < m; i++) for (let t = 0; t < topicCount; t++) if (subscribed[i]![t] === 1) consumers[t]!.push(i)
  // held[i][t]: the partitions of topic t member i holds, to pick which one moves.
  const held: Set<number>[][] = Array.from({ length: m }, () => Array.from({ length: topicCount }, () => new Set<number>()))
  for (let g = 0; g < total; g++) {
    const h = holder[g]!
    if (h >= 0) {
      count[h]!++
      held[h]![topicOf[g]!]!.add(g)
    }
  }
  const move = (g: number, from: number, to: number): void => {
    const t = topicOf[g]!
    holder[g] = to
    count[from]!--
    count[to]!++
    held[from]![t]!.delete(g)
    held[to]![t]!.add(g)
  }
  /** The least loaded member subscribed to topic t, other than `except` (member id order breaks ties). */
  const leastLoaded = (t: number, except: number): number => {
    let best = NONE
    for (const i of consumers[t]!) if (i !== except && (best === NONE || count[i]! < count[best]!)) best = i
    return best
  }

  // Topics with fewest potential members first: they have the least choice.
  const order = Array.from({ length: topicCount }, (_, t) => t).sort((a, b) => consumers[a]!.length - consumers[b]!.length || a - b)
  const placed: number[] = []
  for (const t of order) {
    if (consumers[t]!.length === 0) continue
    for (let g = base[t]!; g < base[t + 1]!; g++) {
      if (holder[g]! >= 0) continue
      const i = leastLoaded(t, NONE)
      holder[g] = i
      count[i]!++
      held[i]![t]!.add(g)
      placed.push(g)
    }
  }

  const reassignable = (g: number): boolean => consumers[topicOf[g]!]!.length >= 2
  /** Moves a partition of g's topic off g's holder when some member can take it for a more even load. */
  const evenOut = (g: number): boolean => {
    const t = topicOf[g]!
    const from = holder[g]!
    const p = prev[g]!
    let to: number
    if (p >= 0 && p !== from && subscribed[p]![t] === 1 && count[from]! > count[p]! + 1) to = p
    else {
      to = leastLoaded(t, from)
      if (to === NONE || count[from]! <= count[to]! + 1) return false
    }
    // Rather than a partition `from` owned before this round, move one `to` owned, or one new to `from`.
    let victim = g
    if (initial[g] === from) {
      for (const x of held[from]![t]!) {
        if (initial[x] === to) {
          victim = x
          break
        }
        if (victim === g && initial[x] !== from) victim = x
      }
    }
    move(victim, from, to)
    return true
  }
  const settle = (partitions: readonly number[]): void => {
    for (let moved = true; moved; ) {
      moved = false
      for (const g of partitions) if (evenOut(g)) moved = true
    }
  }
  settle(placed.filter(reassignable))
  const all: number[] = []
  for (const t of order) if (consumers[t]!.length >= 2) for (let g = base[t]!; g < base[t + 1]!; g++) all.push(g)
  settle(all)
  return holder
}
