import t from 'tap'
import { RoundRobinAssignor } from '../../../src/client/assignors/round-robin.ts'
import { byName, group, member, problems, topics } from './fixtures.ts'

// Cases from Kafka's RoundRobinAssignorTest and the examples in StickyAssignor's javadoc.
const rr = new RoundRobinAssignor()

t.test('a member subscribed to nothing, or to a topic that does not exist, gets nothing', async (t) => {
  t.same(byName(rr.assign(topics({}), group(member('consumer', [])))), { consumer: [] })
  t.same(byName(rr.assign(topics({}), group(member('consumer', ['topic'])))), { consumer: [] })
  t.same(byName(rr.assign(topics({ topic: 3, otherTopic: 3 }), group(member('consumer', ['topic'])))), { consumer: ['topic-0', 'topic-1', 'topic-2'] })
})

t.test('two members of one topic take turns', async (t) => {
  t.same(byName(rr.assign(topics({ topic: 1 }), group(member('consumer1', ['topic']), member('consumer2', ['topic'])))), { consumer1: ['topic-0'], consumer2: [] })
  t.same(byName(rr.assign(topics({ topic: 2 }), group(member('consumer1', ['topic']), member('consumer2', ['topic'])))), { consumer1: ['topic-0'], consumer2: ['topic-1'] })
})

t.test('mixed subscriptions: a member not subscribed to a topic is skipped', async (t) => {
  const subs = group(member('consumer1', ['topic1']), member('consumer2', ['topic1', 'topic2']), member('consumer3', ['topic1']))
  t.same(byName(rr.assign(topics({ topic1: 3, topic2: 2 }), subs)), {
    consumer1: ['topic1-0'],
    consumer2: ['topic1-1', 'topic2-0', 'topic2-1'],
    consumer3: ['topic1-2'],
  })
})

t.test('two dynamic members, two topics of 3: the deal runs on across topics', async (t) => {
  const subs = group(member('consumer1', ['topic1', 'topic2']), member('consumer2', ['topic1', 'topic2']))
  t.same(byName(rr.assign(topics({ topic1: 3, topic2: 3 }), subs)), {
    consumer1: ['topic1-0', 'topic1-2', 'topic2-1'],
    consumer2: ['topic1-1', 'topic2-0', 'topic2-2'],
  })
})

t.test('static members are dealt first, by group.instance.id', async (t) => {
  const twoStatic = group(member('consumer1', ['topic1', 'topic2'], { groupInstanceId: 'instance1' }), member('consumer2', ['topic1', 'topic2'], { groupInstanceId: 'instance2' }))
  t.same(byName(rr.assign(topics({ topic1: 3, topic2: 3 }), twoStatic)), {
    consumer1: ['topic1-0', 'topic1-2', 'topic2-1'],
    consumer2: ['topic1-1', 'topic2-0', 'topic2-2'],
  })
  // The static member comes first although its member id sorts last.
  const mixed = group(member('consumer1', ['topic1', 'topic2']), member('consumer2', ['topic1', 'topic2'], { groupInstanceId: 'instance1' }))
  t.same(byName(rr.assign(topics({ topic1: 3, topic2: 3 }), mixed)), {
    consumer1: ['topic1-1', 'topic2-0', 'topic2-2'],
    consumer2: ['topic1-0', 'topic1-2', 'topic2-1'],
  })
  // Instance ids decide, member ids do not.
  const renamed = group(member('z', ['t'], { groupInstanceId: 'a' }), member('y', ['t'], { groupInstanceId: 'b' }), member('x', ['t'], { groupInstanceId: 'c' }))
  t.same(byName(rr.assign(topics({ t: 3 }), renamed)), { x: ['t-2'], y: ['t-1'], z: ['t-0'] })
})

t.test("StickyAssignor javadoc example 1: three members, four topics of 2", async (t) => {
  const subs = group(...['C0', 'C1', 'C2'].map((id) => member(id, ['t0', 't1', 't2', 't3'])))
  t.same(byName(rr.assign(topics({ t0: 2, t1: 2, t2: 2, t3: 2 }), subs)), {
    C0: ['t0-0', 't1-1', 't3-0'],
    C1: ['t0-1', 't2-0', 't3-1'],
    C2: ['t1-0', 't2-1'],
  })
})

t.test('StickyAssignor javadoc example 2: unequal subscriptions can leave round robin unbalanced', async (t) => {
  const subs = group(member('C0', ['t0']), member('C1', ['t0', 't1']), member('C2', ['t0', 't1', 't2']))
  const a = rr.assign(topics({ t0: 1, t1: 2, t2: 3 }), subs)
  t.same(byName(a), { C0: ['t0-0'], C1: ['t1-0'], C2: ['t1-1', 't2-0', 't2-1', 't2-2'] })
  t.same(problems(a, topics({ t0: 1, t1: 2, t2: 3 }), subs), [])
})

t.test('roundrobin keeps no user data and supports only the eager protocol', async (t) => {
  t.equal(rr.subscriptionUserData({ topics: ['t'], ownedPartitions: [{ topic: 't', partition: 0 }], generationId: 3 }), null)
  t.same(rr.supportedProtocols, ['EAGER'])
})
