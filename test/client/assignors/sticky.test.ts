import t, { type Test } from 'tap'
import type { MemberSubscription } from '../../../src/client/assignors/assignor.ts'
import { decodeStickyUserData, encodeStickyUserData, StickyAssignor } from '../../../src/client/assignors/sticky.ts'
import { decodeSubscription, encodeSubscription } from '../../../src/client/consumer-protocol.ts'
import type { TopicPartition } from '../../../src/client/list-offsets.ts'
import { SeededRandom } from '../../../src/sim/random.ts'
import { byName, group, improvingMove, member, minimalMoves, moved, names, problems, spread, topics, tp } from './fixtures.ts'

const sticky = new StickyAssignor()
const hex = (b: Uint8Array | null): string => (b === null ? 'null' : Buffer.from(b).toString('hex'))

/** A member that had `previous` at `generation`, as a Java or librdkafka sticky member reports it: in userData. */
const was = (id: string, subscribed: string[], previous: TopicPartition[], generation: number) =>
  member(id, subscribed, { userData: sticky.subscriptionUserData({ topics: subscribed, ownedPartitions: previous, generationId: generation }) })

t.test("userData is Java StickyAssignor's v1: previous assignment by topic, then the generation", async (t) => {
  // [1] "t" [2] 0 2 | generation 7
  t.equal(hex(encodeStickyUserData([tp('t', 2), tp('t', 0)], 7)), '00000001' + '000174' + '00000002' + '00000000' + '00000002' + '00000007')
  t.same(decodeStickyUserData(Buffer.from('00000001000174000000020000000000000002' + '00000007', 'hex')), { partitions: [tp('t', 0), tp('t', 2)], generation: 7 })
  // v0 (no generation) reads as generation -1.
  t.same(decodeStickyUserData(Buffer.from('0000000100017400000001' + '00000003', 'hex')), { partitions: [tp('t', 3)], generation: -1 })
  t.equal(decodeStickyUserData(null), null)
  t.equal(decodeStickyUserData(new Uint8Array(0)), null)
  t.equal(decodeStickyUserData(Uint8Array.of(0, 0, 0, 9, 1)), null, 'garbage counts as no previous assignment')
})

t.test('a member writes no userData before its first assignment, and its last one after', async (t) => {
  t.equal(sticky.subscriptionUserData({ topics: ['t'], ownedPartitions: [], generationId: -1 }), null)
  t.same(decodeStickyUserData(sticky.subscriptionUserData({ topics: ['t'], ownedPartitions: [tp('t', 1)], generationId: 4 })), { partitions: [tp('t', 1)], generation: 4 })
  t.same(decodeStickyUserData(sticky.subscriptionUserData({ topics: ['t'], ownedPartitions: [], generationId: 4 })), { partitions: [], generation: 4 })
  t.same(sticky.supportedProtocols, ['EAGER'])
})

t.test('a fresh group is dealt round robin: two members, two topics of 3', async (t) => {
  const subs = group(member('consumer1', ['topic1', 'topic2']), member('consumer2', ['topic1', 'topic2']))
  t.same(byName(sticky.assign(topics({ topic1: 3, topic2: 3 }), subs)), {
    consumer1: ['topic1-0', 'topic1-2', 'topic2-1'],
    consumer2: ['topic1-1', 'topic2-0', 'topic2-2'],
  })
})

t.test('a member joins and takes only its share; the member that leaves gives only its own', async (t) => {
  const ppt = topics({ topic: 3 })
  const one = sticky.assign(ppt, group(member('consumer1', ['topic'])))
  t.same(byName(one), { consumer1: ['topic-0', 'topic-1', 'topic-2'] })
  const two = sticky.assign(ppt, group(was('consumer1', ['topic'], one.get('consumer1')!, 1), member('consumer2', ['topic'])))
  t.same(byName(two), { consumer1: ['topic-0', 'topic-1'], consumer2: ['topic-2'] })
  const three = sticky.assign(ppt, group(was('consumer2', ['topic'], two.get('consumer2')!, 2)))
  t.same(byName(three), { consumer2: ['topic-0', 'topic-1', 'topic-2'] })
})

t.test('javadoc example 1: when C1 leaves, C0 and C2 keep everything they had', async (t) => {
  const all = ['t0', 't1', 't2', 't3']
  const ppt = topics({ t0: 2, t1: 2, t2: 2, t3: 2 })
  const first = sticky.assign(ppt, group(...['C0', 'C1', 'C2'].map((id) => member(id, all))))
  t.same(byName(first), { C0: ['t0-0', 't1-1', 't3-0'], C1: ['t0-1', 't2-0', 't3-1'], C2: ['t1-0', 't2-1'] })
  const second = sticky.assign(ppt, group(was('C0', all, first.get('C0')!, 1), was('C2', all, first.get('C2')!, 1)))
  t.equal(spread(second), 0)
  for (const id of ['C0', 'C2']) for (const p of names(first.get(id))) t.ok(names(second.get(id)).includes(p), `${id} keeps ${p}`)
  t.same(problems(second, ppt, group(member('C0', all), member('C2', all))), [])
})

t.test('javadoc example 2: unequal subscriptions are balanced, and stay put when C0 leaves', async (t) => {
  const ppt = topics({ t0: 1, t1: 2, t2: 3 })
  const first = sticky.assign(ppt, group(member('C0', ['t0']), member('C1', ['t0', 't1']), member('C2', ['t0', 't1', 't2'])))
  t.same(byName(first), { C0: ['t0-0'], C1: ['t1-0', 't1-1'], C2: ['t2-0', 't2-1', 't2-2'] })
  const second = sticky.assign(ppt, group(was('C1', ['t0', 't1'], first.get('C1')!, 1), was('C2', ['t0', 't1', 't2'], first.get('C2')!, 1)))
  t.same(byName(second), { C1: ['t0-0', 't1-0', 't1-1'], C2: ['t2-0', 't2-1', 't2-2'] })
})

t.test('of two members claiming a partition, the one with the higher generation keeps it', async (t) => {
  const ppt = topics({ t: 2 })
  for (const [genA, genB, winner] of [[3, 5, 'b'], [5, 3, 'a']] as const) {
    const a = sticky.assign(ppt, group(was('a', ['t'], [tp('t', 1)], genA), was('b', ['t'], [tp('t', 1)], genB)))
    t.same(names(a.get(winner)), ['t-1'], `generations ${genA} / ${genB}`)
  }
})

t.test('a member that stops subscribing to a topic loses its partitions of it; balance comes before stickiness', async (t) => {
  const ppt = topics({ a: 2, b: 2 })
  const out = sticky.assign(ppt, group(was('m1', ['a'], [tp('a', 0), tp('b', 0), tp('b', 1)], 1), was('m2', ['a', 'b'], [tp('a', 1)], 1)))
  // b-0 and b-1 can only go to m2, so m2 gives up a-1 to even the load.
  t.same(byName(out), { m1: ['a-0', 'a-1'], m2: ['b-0', 'b-1'] })
})

t.test('previous partitions of topics or partitions that are gone are ignored', async (t) => {
  const ppt = topics({ a: 2 })
  const out = sticky.assign(ppt, group(was('m1', ['a', 'gone'], [tp('a', 1), tp('a', 7), tp('gone', 0)], 1), member('m2', ['a', 'gone'])))
  t.same(byName(out), { m1: ['a-1'], m2: ['a-0'] })
})

t.test('a member without userData but with owned partitions (v1+) is sticky too', async (t) => {
  const out = sticky.assign(topics({ t: 4 }), group(member('a', ['t']), member('b', ['t'], { owned: [tp('t', 0), tp('t', 1)], generationId: 2 })))
  t.same(byName(out), { a: ['t-2', 't-3'], b: ['t-0', 't-1'] })
})

t.test('topics nobody subscribes to are not assigned', async (t) => {
  const out = sticky.assign(topics({ a: 2, nobody: 5 }), group(member('m1', ['a']), member('m2', ['a'])))
  t.same(byName(out), { m1: ['a-0'], m2: ['a-1'] })
})

interface Sim {
  ppt: Map<string, number>
  members: Map<string, string[]>
  last: Map<string, TopicPartition[]>
  generation: number
}

/** One eager sticky rebalance, the subscriptions going through the wire format as a Java member sends them. */
function rebalance(sim: Sim): { subs: Map<string, MemberSubscription>; out: Map<string, TopicPartition[]> } {
  const subs = new Map<string, MemberSubscription>()
  for (const [id, subscribed] of sim.members) {
    const userData = sticky.subscriptionUserData({ topics: subscribed, ownedPartitions: sim.last.get(id) ?? [], generationId: sim.last.has(id) ? sim.generation : -1 })
    const wire = decodeSubscription(encodeSubscription({ topics: subscribed, userData, ownedPartitions: [], generationId: sim.generation, rackId: null }))
    subs.set(id, { memberId: id, groupInstanceId: null, ...wire })
  }
  const out = sticky.assign(sim.ppt, subs)
  sim.generation++
  sim.last = out
  return { subs, out }
}

function runSimulation(t: Test, seed: number, equalSubscriptions: boolean): void {
  const rnd = new SeededRandom(seed)
  const allTopics = ['a', 'b', 'c', 'd']
  const sim: Sim = { ppt: new Map(allTopics.map((x) => [x, 1 + rnd.int(12)])), members: new Map(), last: new Map(), generation: 1 }
  const pick = (): string[] => (equalSubscriptions ? allTopics : allTopics.filter(() => rnd.next() < 0.5).concat(allTopics[rnd.int(4)]!).filter((x, i, a) => a.indexOf(x) === i))
  let nextId = 0
  const join = () => sim.members.set(`m${(rnd.int(1000) * 1000 + nextId++).toString(36)}`, pick())
  for (let i = 0; i < 3; i++) join()
  rebalance(sim)
  for (let step = 0; step < 40; step++) {
    const before = sim.last
    const r = rnd.next()
    let change: 'join' | 'leave' | 'grow' | 'none'
    if (r < 0.35 || sim.members.size < 2) (change = 'join'), join()
    else if (r < 0.7) {
      change = 'leave'
      const ids = [...sim.members.keys()]
      sim.members.delete(ids[rnd.int(ids.length)]!)
    } else if (r < 0.85) {
      change = 'grow'
      const topic = allTopics[rnd.int(4)]!
      sim.ppt.set(topic, sim.ppt.get(topic)! + 1 + rnd.int(3))
    } else change = 'none'
    const { subs, out } = rebalance(sim)
    const what = `seed ${seed} step ${step} (${change})`
    const bad = problems(out, sim.ppt, subs)
    if (bad.length > 0) t.fail(`${what}: ${bad.join('; ')}`)
    if (equalSubscriptions) {
      if (spread(out) > 1) t.fail(`${what}: spread ${spread(out)}`)
      const total = [...sim.ppt.values()].reduce((a, b) => a + b, 0)
      const owned = [...sim.members.keys()].map((id) => before.get(id)?.length ?? 0)
      const n = moved(before, out)
      if (n !== minimalMoves(owned, total)) t.fail(`${what}: ${n} partitions moved, ${minimalMoves(owned, total)} had to`)
      if (change === 'join' && n > Math.ceil(total / sim.members.size)) t.fail(`${what}: a join moved ${n} of ${total}`)
    } else {
      const move = improvingMove(out, subs)
      if (move !== null) t.fail(`${what}: not balanced, ${move} would even it out`)
    }
    if ((change === 'leave' || change === 'none') && equalSubscriptions && moved(before, out) !== 0) t.fail(`${what}: partitions of members that stayed moved`)
    if (change === 'none' && moved(before, out) !== 0) t.fail(`${what}: nothing changed, yet partitions moved`)
  }
  t.pass(`seed ${seed}: 40 rebalances`)
}

t.test('random joins, leaves and new partitions, all subscribed alike: complete, balanced, minimal moves', async (t) => {
  for (let seed = 1; seed <= 25; seed++) runSimulation(t, seed, true)
})

t.test('random joins, leaves and new partitions, unequal subscriptions: complete and balanced as Kafka defines it', async (t) => {
  for (let seed = 101; seed <= 125; seed++) runSimulation(t, seed, false)
})

t.test('100 members and 1,000 partitions are assigned, fresh and again after a member leaves', async (t) => {
  const ppt = new Map(Array.from({ length: 10 }, (_, i) => [`topic-${i}`, 100]))
  const all = [...ppt.keys()]
  const subs = group(...Array.from({ length: 100 }, (_, i) => member(`member-${String(i).padStart(3, '0')}`, all)))
  const first = sticky.assign(ppt, subs)
  t.same(problems(first, ppt, subs), [])
  t.equal(spread(first), 0)
  const after = group(...[...first].filter(([id]) => id !== 'member-050').map(([id, list]) => was(id, all, list, 1)))
  const second = sticky.assign(ppt, after)
  t.same(problems(second, ppt, after), [])
  t.equal(moved(first, second), 0, 'only the leaver\'s partitions moved')
  // Unequal subscriptions take the general algorithm.
  const unequal = group(...Array.from({ length: 100 }, (_, i) => member(`member-${i}`, all.filter((_, k) => (i + k) % 3 !== 0))))
  const third = sticky.assign(ppt, unequal)
  t.same(problems(third, ppt, unequal), [])
  t.equal(improvingMove(third, unequal), null)
})
