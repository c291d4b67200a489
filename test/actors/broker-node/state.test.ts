import t from 'tap'
import { initialState, step } from '../../../actors/broker-node/state.ts'
import type { MetadataImage, TopicImage } from '../../../src/cluster/metadata.ts'

function topic(name: string, topicId: string, partitions: number, replicas = [1], configs: Record<string, string> = {}): TopicImage {
  return { name, topicId, internal: false, configs, partitions: Array.from({ length: partitions }, (_, i) => ({ partition: i, replicas, isr: replicas, leader: replicas[0]!, leaderEpoch: 0, partitionEpoch: 0 })) }
}
function image(offset: number, ...topics: TopicImage[]): MetadataImage {
  return { clusterId: 'c', controllerId: 1, offset, brokers: new Map(), topics: new Map(topics.map((t) => [t.name, t])), topicsById: new Map(topics.map((t) => [t.topicId, t])) }
}
const types = (effects: { type: string }[]) => effects.map((e) => e.type)

t.test('spawns a replica per hosted partition, adds partitions, updates, deletes', async (t) => {
  let s = initialState(1)
  let r = step(s, { type: 'metadata', image: image(1, topic('a', 'A', 2), topic('other', 'O', 1, [2])) }, 0)
  t.same(types(r.effects), ['spawn-replica', 'spawn-replica', 'log'])
  s = r.state
  t.equal(s.hosted.size, 2)
  r = step(s, { type: 'metadata', image: image(2, topic('a', 'A', 3)) }, 0)
  t.same(types(r.effects), ['spawn-replica', 'log'])
  t.match(r.effects[1], { message: /1 partitions added/ })
  s = r.state
  r = step(s, { type: 'metadata', image: image(3, topic('a', 'A', 3, [1], { 'retention.ms': '5' })) }, 0)
  t.same(types(r.effects), ['update-replica', 'update-replica', 'update-replica'])
  t.match(r.effects[0], { configsChanged: true })
  s = r.state
  t.equal(step(s, { type: 'metadata', image: image(1) }, 0).state, s, 'an older image is ignored')
  r = step(s, { type: 'metadata', image: image(4, topic('a', 'A2', 1)) }, 0)
  t.same(types(r.effects), ['stop-replica', 'delete-log', 'log', 'stop-replica', 'delete-log', 'stop-replica', 'delete-log', 'spawn-replica', 'log'], 'recreated under a new id: old logs deleted, fresh replica')
  r = step(r.state, { type: 'metadata', image: image(5) }, 0)
  t.same(types(r.effects), ['stop-replica', 'delete-log', 'log'])
  t.equal(r.state.hosted.size, 0)
})

t.test('timers run until stopped; stop stops every replica', async (t) => {
  let s = step(initialState(1), { type: 'metadata', image: image(1, topic('a', 'A', 2)) }, 0).state
  t.same(step(s, { type: 'timer', timer: 'retention' }, 0).effects, [{ type: 'run', timer: 'retention' }])
  const r = step(s, { type: 'stop', replyTo: null as never }, 0)
  t.same(types(r.effects), ['stop-replica', 'stop-replica', 'stopped'])
  s = r.state
  t.same(step(s, { type: 'timer', timer: 'flush' }, 0).effects, [])
  t.equal(step(s, { type: 'metadata', image: image(9, topic('b', 'B', 1)) }, 0).state.hosted.size, 0)
})

t.test('a change of the dynamic broker configs for this node updates every replica with its configs', async (t) => {
  const withBroker = (offset: number, configs: [string, Record<string, string>][]): MetadataImage => ({ ...image(offset, topic('a', 'A', 2)), brokerConfigs: new Map(configs) })
  let s = step(initialState(1), { type: 'metadata', image: withBroker(1, []) }, 0).state
  let r = step(s, { type: 'metadata', image: withBroker(2, [['', { 'log.retention.ms': '5' }]]) }, 0)
  t.same(types(r.effects), ['update-replica', 'update-replica'])
  t.match(r.effects[0], { configsChanged: true, metadata: { offset: 2 } })
  s = r.state
  r = step(s, { type: 'metadata', image: withBroker(3, [['', { 'log.retention.ms': '5' }], ['2', { 'log.retention.ms': '9' }]]) }, 0)
  t.same(r.effects, [], "another node's overrides change nothing here")
  s = r.state
  r = step(s, { type: 'metadata', image: withBroker(4, [['', { 'log.retention.ms': '5' }], ['1', { 'log.retention.ms': '9' }]]) }, 0)
  t.same(types(r.effects), ['update-replica', 'update-replica'])
  r = step(r.state, { type: 'metadata', image: withBroker(5, []) }, 0)
  t.same(types(r.effects), ['update-replica', 'update-replica'], 'overrides removed')
})
