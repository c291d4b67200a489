import t from 'tap'
import { RangeAssignor } from '../../../src/client/assignors/range.ts'
import { byName, group, member, problems, topics } from './fixtures.ts'

// Cases from Kafka's RangeAssignorTest.
const range = new RangeAssignor()

t.test('a member subscribed to nothing, or to a topic that does not exist, gets nothing', async (t) => {
  t.same(byName(range.assign(topics({}), group(member('consumer', [])))), { consumer: [] })
  t.same(byName(range.assign(topics({}), group(member('consumer', ['topic'])))), { consumer: [] })
})

t.test('one member gets every partition of its topic, and only of the topics it subscribes to', async (t) => {
  t.same(byName(range.assign(topics({ topic: 3 }), group(member('consumer', ['topic'])))), { consumer: ['topic-0', 'topic-1', 'topic-2'] })
  t.same(byName(range.assign(topics({ topic: 3, otherTopic: 3 }), group(member('consumer', ['topic'])))), { consumer: ['topic-0', 'topic-1', 'topic-2'] })
  t.same(byName(range.assign(topics({ topic1: 1, topic2: 2 }), group(member('consumer', ['topic1', 'topic2'])))), { consumer: ['topic1-0', 'topic2-0', 'topic2-1'] })
})

t.test('two members of a one-partition topic: the first by member id gets it', async (t) => {
  t.same(byName(range.assign(topics({ topic: 1 }), group(member('consumer2', ['topic']), member('consumer1', ['topic'])))), { consumer1: ['topic-0'], consumer2: [] })
  t.same(byName(range.assign(topics({ topic: 2 }), group(member('consumer1', ['topic']), member('consumer2', ['topic'])))), { consumer1: ['topic-0'], consumer2: ['topic-1'] })
})

t.test('mixed subscriptions: each topic is ranged over its own members', async (t) => {
  const subs = group(member('consumer1', ['topic1']), member('consumer2', ['topic1', 'topic2']), member('consumer3', ['topic1']))
  t.same(byName(range.assign(topics({ topic1: 3, topic2: 2 }), subs)), {
    consumer1: ['topic1-0'],
    consumer2: ['topic1-1', 'topic2-0', 'topic2-1'],
    consumer3: ['topic1-2'],
  })
})

t.test('two members, two topics of 3: the first member gets the extra partition of each', async (t) => {
  const subs = group(member('consumer1', ['topic1', 'topic2']), member('consumer2', ['topic1', 'topic2']))
  t.same(byName(range.assign(topics({ topic1: 3, topic2: 3 }), subs)), {
    consumer1: ['topic1-0', 'topic1-1', 'topic2-0', 'topic2-1'],
    consumer2: ['topic1-2', 'topic2-2'],
  })
})

t.test('n partitions over m members: floor(n/m) each, the first n % m one more, consecutive', async (t) => {
  const subs = group(...['a', 'b', 'c', 'd'].map((id) => member(id, ['t'])))
  t.same(byName(range.assign(topics({ t: 10 }), subs)), {
    a: ['t-0', 't-1', 't-2'],
    b: ['t-3', 't-4', 't-5'],
    c: ['t-6', 't-7'],
    d: ['t-8', 't-9'],
  })
})

t.test('static members come first, ordered by group.instance.id, and keep their partitions under a new member id', async (t) => {
  const before = group(
    member('consumer-z', ['t'], { groupInstanceId: 'instance-1' }),
    member('consumer-a', ['t'], { groupInstanceId: 'instance-2' }),
    member('consumer-0', ['t']),
  )
  t.same(byName(range.assign(topics({ t: 3 }), before)), { 'consumer-0': ['t-2'], 'consumer-a': ['t-1'], 'consumer-z': ['t-0'] })
  // instance-1 restarts and gets a new member id (KIP-345).
  const after = group(
    member('consumer-y', ['t'], { groupInstanceId: 'instance-1' }),
    member('consumer-a', ['t'], { groupInstanceId: 'instance-2' }),
    member('consumer-0', ['t']),
  )
  t.same(byName(range.assign(topics({ t: 3 }), after)), { 'consumer-0': ['t-2'], 'consumer-a': ['t-1'], 'consumer-y': ['t-0'] })
})

t.test('the result does not depend on the order of the maps', async (t) => {
  const subs = [member('m1', ['a', 'b']), member('m2', ['b']), member('m3', ['a', 'c'])]
  const one = range.assign(topics({ a: 5, b: 4, c: 1 }), group(...subs))
  const two = range.assign(new Map([['c', 1], ['b', 4], ['a', 5]]), group(...subs.reverse()))
  t.same(byName(one), byName(two))
  t.same([...one.keys()], ['m1', 'm2', 'm3'])
  t.same(problems(one, topics({ a: 5, b: 4, c: 1 }), group(...subs)), [])
})

t.test('range keeps no user data and supports only the eager protocol', async (t) => {
  t.equal(range.subscriptionUserData({ topics: ['t'], ownedPartitions: [{ topic: 't', partition: 0 }], generationId: 3 }), null)
  t.same(range.supportedProtocols, ['EAGER'])
})
