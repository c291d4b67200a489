import t, { type Test } from 'tap'
import type { MemberSubscription } from '../../../src/client/assignors/assignor.ts'
import { assertCooperativeAssignment, cooperativeUserDataGeneration, CooperativeStickyAssignor } from '../../../src/client/assignors/cooperative-sticky.ts'
import { encodeStickyUserData } from '../../../src/client/assignors/sticky.ts'
import { decodeSubscription, encodeSubscription } from '../../../src/client/consumer-protocol.ts'
import type { TopicPartition } from '../../../src/client/list-offsets.ts'
import { SeededRandom } from '../../../src/sim/random.ts'
import { byName, group, improvingMove, member, minimalMoves, moved, problems, spread, topics, tp } from './fixtures.ts'

const coop = new CooperativeStickyAssignor()
const owns = (id: string, subscribed: string[], owned: TopicPartition[], generationId: number) => member(id, subscribed, { owned, generationId })

t.test('userData is the generation as an int32, as Java writes it', async (t) => {
  t.equal(Buffer.from(coop.subscriptionUserData({ topics: ['t'], ownedPartitions: [], generationId: 5 })!).toString('hex'), '00000005')
  t.equal(cooperativeUserDataGeneration(Uint8Array.of(0, 0, 1, 0)), 256)
  t.equal(cooperativeUserDataGeneration(null), -1)
  t.equal(cooperativeUserDataGeneration(Uint8Array.of(1)), -1)
  t.equal(cooperativeUserDataGeneration(encodeStickyUserData([tp('t', 0)], 9)), 9, "librdkafka's sticky-format userData")
  t.same(coop.supportedProtocols, ['COOPERATIVE', 'EAGER'])
})

t.test('a joining member gets a moving partition only in the follow-up rebalance', async (t) => {
  const ppt = topics({ topic: 3 })
  const first = coop.assign(ppt, group(owns('consumer1', ['topic'], [], -1)))
  t.same(byName(first), { consumer1: ['topic-0', 'topic-1', 'topic-2'] })
  const second = coop.assign(ppt, group(owns('consumer1', ['topic'], first.get('consumer1')!, 1), owns('consumer2', ['topic'], [], -1)))
  t.same(byName(second), { consumer1: ['topic-0', 'topic-1'], consumer2: [] }, 'consumer1 revokes topic-2 first')
  const third = coop.assign(ppt, group(owns('consumer1', ['topic'], second.get('consumer1')!, 2), owns('consumer2', ['topic'], [], 2)))
  t.same(byName(third), { consumer1: ['topic-0', 'topic-1'], consumer2: ['topic-2'] })
})

t.test("a leaving member's partitions go to the others at once: nobody has to revoke them", async (t) => {
  const ppt = topics({ t: 4 })
  const out = coop.assign(ppt, group(owns('a', ['t'], [tp('t', 0), tp('t', 1)], 3)))
  t.same(byName(out), { a: ['t-0', 't-1', 't-2', 't-3'] })
})

t.test('of two members claiming a partition, the higher generation keeps it (from the v2 field or from userData)', async (t) => {
  const ppt = topics({ t: 2 })
  const v2 = coop.assign(ppt, group(owns('a', ['t'], [tp('t', 1)], 3), owns('b', ['t'], [tp('t', 1)], 5)))
  t.same(byName(v2), { a: ['t-0'], b: ['t-1'] })
  // A v1 subscription has no generationId: the generation comes from the cooperative userData.
  const v1 = (id: string, generation: number) => {
    const wire = encodeSubscription({ topics: ['t'], userData: coop.subscriptionUserData({ topics: ['t'], ownedPartitions: [], generationId: generation }), ownedPartitions: [tp('t', 1)], generationId: generation, rackId: null }, 1)
    return [id, { memberId: id, groupInstanceId: null, ...decodeSubscription(wire) }] as [string, MemberSubscription]
  }
  t.same(byName(coop.assign(ppt, group(v1('a', 7), v1('b', 2)))), { a: ['t-1'], b: ['t-0'] })
  t.same(byName(coop.assign(ppt, group(v1('a', 2), v1('b', 7)))), { a: ['t-0'], b: ['t-1'] })
})

t.test('a partition claimed by two members of the same generation is given to nobody until both revoked it', async (t) => {
  const ppt = topics({ topic: 3 })
  const subs = group(owns('c1', ['topic'], [tp('topic', 0), tp('topic', 1)], 1), owns('c2', ['topic'], [tp('topic', 0), tp('topic', 2)], 1), owns('c3', ['topic'], [], 1))
  t.same(byName(coop.assign(ppt, subs)), { c1: ['topic-1'], c2: ['topic-2'], c3: [] })
  const next = group(owns('c1', ['topic'], [tp('topic', 1)], 2), owns('c2', ['topic'], [tp('topic', 2)], 2), owns('c3', ['topic'], [], 2))
  t.same(byName(coop.assign(ppt, next)), { c1: ['topic-1'], c2: ['topic-2'], c3: ['topic-0'] })
})

t.test('assertCooperativeAssignment rejects a partition moved directly from one member to another', async (t) => {
  const subs = group(owns('a', ['t'], [tp('t', 0), tp('t', 1)], 1), owns('b', ['t'], [], 1))
  t.throws(() => assertCooperativeAssignment(new Map([['a', [tp('t', 0)]], ['b', [tp('t', 1)]]]), subs), /t-1 to b .* a revokes it/)
  t.doesNotThrow(() => assertCooperativeAssignment(coop.assign(topics({ t: 2 }), subs), subs))
})

interface Sim {
  ppt: Map<string, number>
  members: Map<string, string[]>
  owned: Map<string, TopicPartition[]>
  generation: number
}

/** One cooperative rebalance; members send what they own through the wire format (v3, or v1 with the generation in userData). */
function rebalance(t: Test, sim: Sim, what: string, version: number): { subs: Map<string, MemberSubscription>; out: Map<string, TopicPartition[]>; revoked: number } {
  const subs = new Map<string, MemberSubscription>()
  for (const [id, subscribed] of sim.members) {
    const generationId = sim.owned.has(id) ? sim.generation : -1
    const userData = coop.subscriptionUserData({ topics: subscribed, ownedPartitions: sim.owned.get(id) ?? [], generationId })
    const wire = decodeSubscription(encodeSubscription({ topics: subscribed, userData, ownedPartitions: sim.owned.get(id) ?? [], generationId, rackId: null }, version))
    subs.set(id, { memberId: id, groupInstanceId: null, ...wire })
  }
  const out = coop.assign(sim.ppt, subs)
  const bad = problems(out, sim.ppt, subs, false)
  if (bad.length > 0) t.fail(`${what}: ${bad.join('; ')}`)
  const ownerNow = new Map<string, string>()
  for (const [id, list] of sim.owned) if (sim.members.has(id)) for (const x of list) ownerNow.set(`${x.topic}-${x.partition}`, id)
  for (const [id, list] of out) {
    for (const x of list) {
      const o = ownerNow.get(`${x.topic}-${x.partition}`)
      if (o !== undefined && o !== id) t.fail(`${what}: ${x.topic}-${x.partition} given to ${id} while ${o} still owns it`)
    }
  }
  try {
    assertCooperativeAssignment(out, subs)
  } catch (e) {
    t.fail(`${what}: ${(e as Error).message}`)
  }
  let revoked = 0
  for (const [id, list] of sim.owned) {
    if (!sim.members.has(id)) continue
    const kept = new Set(out.get(id)!.map((x) => `${x.topic}-${x.partition}`))
    revoked += list.filter((x) => !kept.has(`${x.topic}-${x.partition}`)).length
  }
  sim.generation++
  sim.owned = out
  return { subs, out, revoked }
}

function runSimulation(t: Test, seed: number, equalSubscriptions: boolean): void {
  const rnd = new SeededRandom(seed)
  const allTopics = ['a', 'b', 'c', 'd']
  const sim: Sim = { ppt: new Map(allTopics.map((x) => [x, 1 + rnd.int(12)])), members: new Map(), owned: new Map(), generation: 1 }
  const pick = (): string[] => (equalSubscriptions ? allTopics : allTopics.filter(() => rnd.next() < 0.5).concat(allTopics[rnd.int(4)]!).filter((x, i, a) => a.indexOf(x) === i))
  let nextId = 0
  const join = () => sim.members.set(`m${(rnd.int(1000) * 1000 + nextId++).toString(36)}`, pick())
  for (let i = 0; i < 3; i++) join()
  rebalance(t, sim, `seed ${seed} start`, 3)
  for (let step = 0; step < 40; step++) {
    const before = sim.owned
    const r = rnd.next()
    let change: string
    if (r < 0.4 || sim.members.size < 2) (change = 'join'), join()
    else if (r < 0.75) {
      change = 'leave'
      const ids = [...sim.members.keys()]
      sim.members.delete(ids[rnd.int(ids.length)]!)
    } else if (r < 0.9) {
      change = 'grow'
      const topic = allTopics[rnd.int(4)]!
      sim.ppt.set(topic, sim.ppt.get(topic)! + 1 + rnd.int(3))
    } else change = 'none'
    const what = `seed ${seed} step ${step} (${change})`
    const version = step % 2 === 0 ? 3 : 1
    let round = rebalance(t, sim, what, version)
    // A member that revoked something rejoins at once: the follow-up rebalance (bounded here).
    let followUps = 0
    while (round.revoked > 0 && followUps < 3) {
      followUps++
      round = rebalance(t, sim, `${what} follow-up ${followUps}`, version)
    }
    const { subs, out } = round
    if (round.revoked > 0) t.fail(`${what}: still revoking after ${followUps} follow-up rebalances`)
    const bad = problems(out, sim.ppt, subs)
    if (bad.length > 0) t.fail(`${what}: after ${followUps} follow-ups: ${bad.join('; ')}`)
    if (equalSubscriptions) {
      if (followUps > 1) t.fail(`${what}: ${followUps} follow-up rebalances`)
      if (spread(out) > 1) t.fail(`${what}: spread ${spread(out)}`)
      const total = [...sim.ppt.values()].reduce((a, b) => a + b, 0)
      const owned = [...sim.members.keys()].map((id) => before.get(id)?.length ?? 0)
      if (moved(before, out) !== minimalMoves(owned, total)) t.fail(`${what}: ${moved(before, out)} partitions moved, ${minimalMoves(owned, total)} had to`)
    } else {
      const move = improvingMove(out, subs)
      if (move !== null) t.fail(`${what}: not balanced, ${move} would even it out`)
    }
    if (change === 'none' && (followUps > 0 || moved(before, out) !== 0)) t.fail(`${what}: nothing changed, yet partitions moved`)
  }
  t.pass(`seed ${seed}: 40 changes`)
}

t.test('random joins, leaves and new partitions, all subscribed alike: never two owners, balanced after one follow-up, minimal moves', async (t) => {
  for (let seed = 1; seed <= 25; seed++) runSimulation(t, seed, true)
})

t.test('random joins, leaves and new partitions, unequal subscriptions: never two owners, then complete and balanced', async (t) => {
  for (let seed = 201; seed <= 225; seed++) runSimulation(t, seed, false)
})

t.test('100 members and 1,000 partitions: a new member waits one rebalance for its share', async (t) => {
  const ppt = new Map(Array.from({ length: 10 }, (_, i) => [`topic-${i}`, 100]))
  const all = [...ppt.keys()]
  const ids = Array.from({ length: 100 }, (_, i) => `member-${String(i).padStart(3, '0')}`)
  const first = coop.assign(ppt, group(...ids.map((id) => owns(id, all, [], -1))))
  t.equal(spread(first), 0)
  const joined = group(...ids.map((id) => owns(id, all, first.get(id)!, 1)), owns('member-new', all, [], -1))
  const second = coop.assign(ppt, joined)
  t.same(second.get('member-new'), [])
  t.same(problems(second, ppt, joined, false), [])
  const settled = group(...[...second].map(([id, list]) => owns(id, all, list, 2)))
  const third = coop.assign(ppt, settled)
  t.same(problems(third, ppt, settled), [])
  t.equal(third.get('member-new')!.length, 9)
  t.ok(spread(third) <= 1)
})
