// confluent-kafka (Python over librdkafka) consumers with partition.assignment.strategy=
// cooperative-sticky: a third member joins while two consume, and only the partitions that
// move to it are revoked (KIP-429); the other partitions stay with their owners throughout.
import { join } from 'node:path'
import t from 'tap'
import { Admin } from '../../src/client/admin.ts'
import { Producer } from '../../src/client/producer.ts'
import { APT_HINT, PYTHON, inProcessBroker, requireTool, root, spawnLive, waitFor, type LiveProcess } from './harness.ts'

const TOPIC = 'ck-coop'
const GROUP = 'ck-coop-g'
const PARTITIONS = 6

interface Event {
  event: 'assigned' | 'revoked' | 'lost' | 'record' | 'closed'
  partitions?: number[]
  p?: number
  o?: number
}

const events = (m: LiveProcess): Event[] => m.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Event)

/** What a member owns now: its incremental assigned/revoked events folded. */
function owned(m: LiveProcess): number[] {
  const s = new Set<number>()
  for (const e of events(m)) {
    if (e.event === 'assigned') for (const p of e.partitions!) s.add(p)
    if (e.event === 'revoked' || e.event === 'lost') for (const p of e.partitions!) s.delete(p)
  }
  return [...s].sort((a, b) => a - b)
}

t.test('confluent-kafka cooperative-sticky: a third member joins; only the moved partitions are revoked', async (t) => {
  if (!requireTool(t, 'confluentKafka', APT_HINT)) return
  const broker = await inProcessBroker(t, { 'group.initial.rebalance.delay.ms': 0, 'offsets.topic.num.partitions': 3, 'group.min.session.timeout.ms': 1000 })
  const admin = new Admin({ 'bootstrap.servers': broker.address })
  t.teardown(() => admin.close())
  await admin.createTopics([{ topic: TOPIC, numPartitions: PARTITIONS }])
  const producer = new Producer({ 'bootstrap.servers': broker.address, 'linger.ms': 5 })
  t.teardown(() => producer.close())
  const produce = (n: number, tag: string) => Promise.all(Array.from({ length: n }, (_, i) => producer.send({ topic: TOPIC, partition: i % PARTITIONS, value: `${tag}-${i}` })))
  await produce(600, 'a')

  const script = join(root, 'test/interop/py/confluent_group_member.py')
  const member = (name: string) => spawnLive(t, PYTHON, [script, broker.address, GROUP, TOPIC, name, 'cooperative-sticky'], { maxMs: 110_000 })
  const m1 = member('m1')
  const m2 = member('m2')
  const split2 = await waitFor('two members owning three partitions each', () => {
    const a = owned(m1)
    const b = owned(m2)
    return a.length === 3 && b.length === 3 ? { a, b } : undefined
  }, 45_000, 200)
  t.same([...split2.a, ...split2.b].sort(), [0, 1, 2, 3, 4, 5], 'the two members own every partition once')
  const revokedBefore = [m1, m2].map((m) => events(m).filter((e) => e.event === 'revoked').length)

  const m3 = member('m3')
  await produce(600, 'b')
  const split3 = await waitFor('three members owning two partitions each', () => {
    const all = [owned(m1), owned(m2), owned(m3)]
    return all.every((p) => p.length === 2) ? all : undefined
  }, 45_000, 200)
  t.same(split3.flat().sort(), [0, 1, 2, 3, 4, 5], 'the three members own every partition once')

  for (const [i, m] of [m1, m2].entries()) {
    const before = i === 0 ? split2.a : split2.b
    const revoked = events(m).filter((e) => e.event === 'revoked').slice(revokedBefore[i]).flatMap((e) => e.partitions!)
    const kept = before.filter((p) => split3[i]!.includes(p))
    t.same(revoked.sort(), before.filter((p) => !kept.includes(p)).sort(), `m${i + 1} revoked only the partitions it gave up (${revoked.join(',')})`)
    t.equal(kept.length, 2, `m${i + 1} kept two of its partitions throughout`)
    t.notOk(events(m).some((e) => e.event === 'lost'), `m${i + 1} lost nothing`)
  }
  t.same(events(m3).filter((e) => e.event === 'assigned').flatMap((e) => e.partitions!).sort(), split3[2], 'm3 got exactly what the others gave up')

  // Everything produced is read by somebody.
  await waitFor('all 1,200 records consumed', () => {
    const seen = new Set(
      [m1, m2, m3].flatMap((m) => events(m).filter((e) => e.event === 'record').map((e) => `${e.p}:${e.o}`)),
    )
    return seen.size >= 1200 ? true : undefined
  }, 30_000, 200)
  for (const m of [m1, m2, m3]) m.kill('SIGTERM')
  await Promise.all([m1, m2, m3].map((m) => m.exited))
  t.ok([m1, m2, m3].every((m) => events(m).some((e) => e.event === 'closed')), 'every member closed cleanly')
})
