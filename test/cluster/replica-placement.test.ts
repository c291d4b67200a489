import t from 'tap'
import { initialLeadership, placeReplicas, PlacementError } from '../../src/cluster/replica-placement.ts'
import { SeededRandom } from '../../src/sim/random.ts'

const brokers = (...ids: number[]) => ids.map((nodeId) => ({ nodeId, fenced: false }))

t.test('one broker: every partition on it', async (t) => {
  t.same(placeReplicas(brokers(4), 3, 1, new SeededRandom(1)), [[4], [4], [4]])
  t.throws(() => placeReplicas(brokers(4), 1, 2, new SeededRandom(1)), { name: 'PlacementError', message: /replication factor of 2 cannot be reached because only 1 broker\(s\) are registered/ })
  t.throws(() => placeReplicas(brokers(4), 1, 0, new SeededRandom(1)), PlacementError)
})

t.test("many brokers: Kafka's rack-unaware spread", async (t) => {
  // Kafka's AdminUtils example: 5 brokers, 10 partitions, RF 3, start index 0, shift 0
  const placed = placeReplicas(brokers(4, 0, 1, 3, 2), 10, 3, new SeededRandom(1), { startIndex: 0, replicaShift: 0 })
  t.same(placed, [
    [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 0], [4, 0, 1],
    [0, 2, 3], [1, 3, 4], [2, 4, 0], [3, 0, 1], [4, 1, 2],
  ])
  // fenced brokers get nothing; leaders spread evenly
  const live = placeReplicas([...brokers(1, 2, 3), { nodeId: 9, fenced: true }], 30, 2, new SeededRandom(5))
  const leaders = new Map<number, number>()
  for (const r of live) {
    t.equal(new Set(r).size, 2)
    t.notOk(r.includes(9))
    leaders.set(r[0]!, (leaders.get(r[0]!) ?? 0) + 1)
  }
  t.same([...leaders.values()], [10, 10, 10])
  // continuing a topic
  t.same(placeReplicas(brokers(1, 2), 2, 1, new SeededRandom(1), { firstPartition: 3, startIndex: 0, replicaShift: 0 }), [[2], [1]])
})

t.test('initial leadership', async (t) => {
  t.same(initialLeadership([3, 1, 2], (id) => id !== 3), { leader: 1, isr: [1, 2] })
  t.same(initialLeadership([3], () => false), { leader: -1, isr: [] })
})
