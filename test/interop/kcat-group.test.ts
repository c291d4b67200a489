// kcat -G (librdkafka's balanced consumer) in a group of three against a broker in this process.
import t from 'tap'
import { Admin } from '../../src/client/admin.ts'
import { decodeAssignment } from '../../src/client/consumer-protocol.ts'
import { Producer } from '../../src/client/producer.ts'
import type { RunningBroker } from '../../src/broker/start-broker.ts'
import { APT_HINT, inProcessBroker, requireTool, spawnLive, waitFor, type LiveProcess } from './harness.ts'

const TOPIC = 'kcat-group'
const GROUP = 'kcat-g'
const PARTITIONS = 6
/** Records produced before, during and after the kill. */
const PER_ROUND = 600
const SESSION_TIMEOUT_MS = 6000

/** member client id → its partitions, once the group is Stable with `members` members; else undefined. */
async function stableSplit(broker: RunningBroker, members: number): Promise<Map<string, number[]> | undefined> {
  const d = await broker.groups.describeGroup(GROUP)
  if (d.state !== 'Stable' || d.members.length !== members) return undefined
  const split = new Map<string, number[]>()
  for (const m of d.members) {
    if (m.assignment.length === 0) return undefined
    const parts = decodeAssignment(m.assignment).partitions.filter((p) => p.topic === TOPIC).map((p) => p.partition)
    split.set(m.memberId, parts.sort((a, b) => a - b))
  }
  return split
}

async function produce(producer: Producer, round: number): Promise<void> {
  const sends: Promise<unknown>[] = []
  for (let i = 0; i < PER_ROUND; i++) sends.push(producer.send({ topic: TOPIC, partition: i % PARTITIONS, value: `r${round}-${i}` }))
  await Promise.all(sends)
}

/** Every `partition:offset` line any member printed. */
function consumed(members: LiveProcess[]): Set<string> {
  const seen = new Set<string>()
  for (const m of members) for (const l of m.lines) if (/^\d+:\d+$/.test(l)) seen.add(l)
  return seen
}

t.test('kcat -G: three members split 6 partitions two each; a killed member\'s partitions move to the others after the session timeout; nothing is lost', async (t) => {
  if (!requireTool(t, 'kcat', APT_HINT)) return
  const broker = await inProcessBroker(t, { 'group.initial.rebalance.delay.ms': 0, 'offsets.topic.num.partitions': 3, 'group.min.session.timeout.ms': 1000 })
  const admin = new Admin({ 'bootstrap.servers': broker.address })
  t.teardown(() => admin.close())
  await admin.createTopics([{ topic: TOPIC, numPartitions: PARTITIONS }])
  const producer = new Producer({ 'bootstrap.servers': broker.address, 'linger.ms': 5 })
  t.teardown(() => producer.close())
  await produce(producer, 0)

  const member = (n: number) =>
    spawnLive(
      t,
      'kcat',
      [
        '-b', broker.address, '-G', GROUP, TOPIC,
        '-q', '-f', '%p:%o\n', '-u',
        '-X', `client.id=member-${n}`,
        '-X', `session.timeout.ms=${SESSION_TIMEOUT_MS}`,
        '-X', 'heartbeat.interval.ms=500',
        '-X', 'auto.offset.reset=earliest',
        '-X', 'enable.auto.commit=true',
        '-X', 'auto.commit.interval.ms=200',
        '-X', 'partition.assignment.strategy=range',
      ],
      { maxMs: 110_000 },
    )
  const members = [member(1), member(2), member(3)]

  const three = await waitFor('three members holding two partitions each', async () => {
    const s = await stableSplit(broker, 3)
    return s && [...s.values()].every((p) => p.length === 2) ? s : undefined
  }, 45_000, 200)
  t.same([...three.values()].flat().sort((a, b) => a - b), [0, 1, 2, 3, 4, 5], 'each partition is owned by exactly one member')

  await waitFor('the first round consumed', () => (consumed(members).size >= PER_ROUND ? true : undefined), 30_000)
  // SIGKILL: no LeaveGroup, so the broker learns of it only when its session times out.
  members[0]!.kill('SIGKILL')
  await members[0]!.exited
  await produce(producer, 1)

  const two = await waitFor('two members holding three partitions each', async () => {
    const s = await stableSplit(broker, 2)
    return s && [...s.values()].every((p) => p.length === 3) ? s : undefined
  }, SESSION_TIMEOUT_MS + 30_000, 200)
  t.same([...two.values()].flat().sort((a, b) => a - b), [0, 1, 2, 3, 4, 5], 'the survivors own every partition')

  await produce(producer, 2)
  const total = PER_ROUND * 3
  await waitFor(`all ${total} records consumed`, () => (consumed(members).size >= total ? true : undefined), 30_000)
  t.equal(consumed(members).size, total, 'every record produced was consumed (at least once) by the group')

  // The survivors' commits reach the end of every partition.
  const ends = await waitFor('committed offsets at the log end', async () => {
    const r = await broker.groups.fetchOffsets({ groupId: GROUP, topics: [{ name: TOPIC, partitions: [0, 1, 2, 3, 4, 5] }] })
    const offs = r.topics[0]!.partitions.map((p) => p.offset)
    return offs.every((o) => o === total / PARTITIONS) ? offs : undefined
  }, 20_000, 200)
  t.same(ends, Array(PARTITIONS).fill(total / PARTITIONS), 'committed offsets are the log end offsets')

  for (const m of members.slice(1)) m.kill('SIGTERM')
  await Promise.all(members.map((m) => m.exited))
})
