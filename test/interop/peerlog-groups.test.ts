// peerlog's own client in consumer groups, with each assignor: three consumers split a
// 6-partition topic (every partition owned once, as the consumers and DescribeGroups see it),
// one leaves midway and the other two take over, and across the group every record is read
// exactly once (a graceful leave commits first: no loss and no duplicate). A consumer in another
// group reads every record too: groups are independent (broadcast between groups, unicast within).
import t, { type Test } from 'tap'
import { Admin } from '../../src/client/admin.ts'
import { ASSIGNOR_NAMES } from '../../src/client/assignors/index.ts'
import { Consumer, type TopicPartition } from '../../src/client/consumer.ts'
import { Producer } from '../../src/client/producer.ts'
import { inProcessBroker } from './harness.ts'

const PARTITIONS = 6
const RECORDS = 3_000
/** The bound of each wait for the group (a rebalance, reading a half). */
const WAIT_BOUND_MS = 15_000
/** How long the consumers go on polling once everything was read, for duplicates to show. */
const SETTLE_MS = 500
/** The leaving member leaves once it has read this many records (of the 1,000 its partitions get). */
const LEAVE_AFTER_RECORDS = 100

const broker = await inProcessBroker(t, { 'group.initial.rebalance.delay.ms': 0, 'offsets.topic.num.partitions': 3, 'group.min.session.timeout.ms': 500 })
const dec = new TextDecoder()
const tpName = (p: TopicPartition) => `${p.topic}-${p.partition}`

/** Records `from` .. `to - 1`, values `r<i>`, spread over the partitions in turn. */
async function produce(topic: string, from: number, to: number): Promise<void> {
  const producer = new Producer({ 'bootstrap.servers': broker.address, 'linger.ms': 5 })
  try {
    await Promise.all(Array.from({ length: to - from }, (_, i) => producer.send({ topic, partition: (from + i) % PARTITIONS, value: `r${from + i}` })))
  } finally {
    await producer.close()
  }
}

interface Reader {
  c: Consumer
  values: string[]
}

function reader(t: Test, group: string, topic: string, strategy: string): Reader {
  const c = new Consumer({
    'bootstrap.servers': broker.address,
    'group.id': group,
    'partition.assignment.strategy': strategy,
    'auto.offset.reset': 'earliest',
    'max.poll.records': 50,
    'fetch.max.wait.ms': 50,
    'heartbeat.interval.ms': 100,
    'session.timeout.ms': 6000,
    'retry.backoff.ms': 20,
  })
  t.teardown(() => c.close(2000))
  c.subscribe([topic])
  return { c, values: [] }
}

/** Polls every reader concurrently until `done()` (checked between polls) or the bound; true when done. */
async function pollUntil(readers: Reader[], done: () => boolean, boundMs = WAIT_BOUND_MS): Promise<boolean> {
  const deadline = Date.now() + boundMs
  let finished = done()
  await Promise.all(
    readers.map(async (r) => {
      while (!finished && Date.now() < deadline) {
        for (const record of await r.c.poll(50)) r.values.push(dec.decode(record.value!))
        if (done()) finished = true
      }
    }),
  )
  return finished
}

/** Every partition of the topic owned by exactly one of `readers`, `each` partitions apiece. */
const split = (readers: Reader[], topic: string, each: number) => {
  const owned = readers.flatMap((r) => r.c.assignment().map(tpName))
  return readers.every((r) => r.c.assignment().length === each) && owned.length === PARTITIONS && new Set(owned).size === PARTITIONS && owned.every((p) => p.startsWith(`${topic}-`))
}

for (const strategy of ASSIGNOR_NAMES) {
  t.test(`${strategy}: three consumers share six partitions, one leaves midway, every record is read once; another group reads them all`, async (t) => {
    const topic = `groups-${strategy}`
    const group = `readers-${strategy}`
    const admin = new Admin({ 'bootstrap.servers': broker.address })
    t.teardown(() => admin.close())
    await admin.createTopics([{ topic, numPartitions: PARTITIONS }])
    await produce(topic, 0, RECORDS / 2)

    const members = [0, 1, 2].map(() => reader(t, group, topic, strategy))
    const other = reader(t, `elsewhere-${strategy}`, topic, strategy)
    const read = () => members.flatMap((m) => m.values)
    const [stay1, stay2, leaving] = members as [Reader, Reader, Reader]
    t.ok(await pollUntil([...members, other], () => split(members, topic, 2) && leaving.values.length >= LEAVE_AFTER_RECORDS), 'three members, two partitions each')
    const described = (await admin.describeGroups([group]))[0]!
    t.equal(described.state, 'Stable')
    t.equal(described.partitionAssignor, strategy)
    t.same(
      described.members.map((m) => m.assignment.map(tpName).sort()).sort(),
      members.map((m) => m.c.assignment().map(tpName).sort()).sort(),
      'DescribeGroups shows what each consumer holds',
    )

    // One member leaves midway (it commits what it read and sends LeaveGroup); the rest take over its partitions.
    await leaving.c.close()
    await produce(topic, RECORDS / 2, RECORDS)
    t.ok(await pollUntil([stay1, stay2, other], () => split([stay1, stay2], topic, 3) && read().length >= RECORDS && other.values.length >= RECORDS), 'two members, three partitions each, everything read')
    // A little longer: a duplicate would show up now.
    await pollUntil([stay1, stay2, other], () => false, SETTLE_MS)

    const values = read()
    t.equal(new Set(values).size, RECORDS, 'no record lost')
    t.equal(values.length, RECORDS, 'no record read twice (the member left gracefully)')
    t.ok(leaving.values.length > 0 && stay1.values.length > 0 && stay2.values.length > 0, `each member read some (${members.map((m) => m.values.length).join(', ')})`)
    t.equal(new Set(other.values).size, RECORDS, 'the consumer of another group read every record')
    t.equal(other.values.length, RECORDS, 'once')
  })
}
