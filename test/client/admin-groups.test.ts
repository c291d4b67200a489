// The admin's group operations against the real broker: list, describe, delete groups, and
// list, alter, delete their committed offsets.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Admin, AdminError } from '../../src/client/admin.ts'
import { Producer } from '../../src/client/producer.ts'
import { startBroker } from '../../src/broker/start-broker.ts'
import { joinMember } from './fixtures/group-member.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'peerlog-admin-groups-'))
const broker = await startBroker({ dataDir, port: 0, config: { 'group.initial.rebalance.delay.ms': 0, 'offsets.topic.num.partitions': 3 } })
t.teardown(async () => {
  await broker.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

const admin = new Admin({ 'bootstrap.servers': broker.address, 'default.api.timeout.ms': 20_000 })
t.teardown(() => admin.close())
await admin.createTopics([{ topic: 'ag', numPartitions: 2 }])
const producer = new Producer({ 'bootstrap.servers': broker.address, 'linger.ms': 0 })
for (let i = 0; i < 5; i++) await producer.send({ topic: 'ag', partition: 0, value: `${i}` })
await producer.close()

t.test('a group with only committed offsets: alter, list, describe, fetch, delete offsets, delete', async (t) => {
  await admin.alterConsumerGroupOffsets('offsets-only', [
    { topic: 'ag', partition: 0, offset: 3, metadata: 'by a test' },
    { topic: 'ag', partition: 1, offset: 0 },
  ])
  const listed = (await admin.listGroups()).find((g) => g.groupId === 'offsets-only')
  t.ok(listed, 'listed')
  t.equal(listed!.protocolType, '', 'no protocol: a group that only holds offsets')
  t.ok(listed!.state === null || listed!.state === 'Empty', `state ${listed!.state}`)

  const [d] = await admin.describeGroups(['offsets-only'])
  t.match(d, { groupId: 'offsets-only', state: 'Empty', protocolType: '', partitionAssignor: '', members: [] })
  t.equal(d!.coordinator.nodeId, broker.nodeId)
  t.equal(d!.coordinator.port, broker.port)

  t.same(await admin.listConsumerGroupOffsets('offsets-only'), [
    { topic: 'ag', partition: 0, offset: 3, leaderEpoch: null, metadata: 'by a test' },
    { topic: 'ag', partition: 1, offset: 0, leaderEpoch: null, metadata: '' },
  ])
  t.same(
    (await admin.listConsumerGroupOffsets('offsets-only', [{ topic: 'ag', partition: 1 }])).map((o) => o.offset),
    [0],
    'only the partitions asked',
  )
  t.same(await admin.listConsumerGroupOffsets('never-seen'), [], 'a group that does not exist has no offsets')

  await admin.deleteConsumerGroupOffsets('offsets-only', [{ topic: 'ag', partition: 1 }])
  t.same((await admin.listConsumerGroupOffsets('offsets-only')).map((o) => `${o.topic}-${o.partition}`), ['ag-0'])

  await admin.deleteGroups(['offsets-only'])
  t.equal((await admin.describeGroups(['offsets-only']))[0]!.state, 'Dead', 'gone')
  t.same(await admin.listConsumerGroupOffsets('offsets-only'), [], 'with its offsets')
  t.notOk((await admin.listGroups()).some((g) => g.groupId === 'offsets-only'))
})

t.test('deleting groups reports each group that could not be deleted', async (t) => {
  await admin.alterConsumerGroupOffsets('doomed', [{ topic: 'ag', partition: 0, offset: 1 }])
  const err = await admin.deleteGroups(['doomed', 'not-a-group']).catch((e: unknown) => e)
  t.ok(err instanceof AdminError)
  t.equal((err as AdminError).name, 'GROUP_ID_NOT_FOUND')
  t.same(Object.keys((err as AdminError).errors), ['not-a-group'])
  t.equal((await admin.describeGroups(['doomed']))[0]!.state, 'Dead', 'the other group was deleted')
})

t.test('a group with a member: its partitions are described; deleting it or altering its offsets is refused', async (t) => {
  const member = await joinMember(broker.port, 'busy', [{ topic: 'ag', partition: 1 }, { topic: 'ag', partition: 0 }])
  t.teardown(() => member.leave())
  const [d] = await admin.describeGroups(['busy'])
  t.match(d, { groupId: 'busy', state: 'Stable', protocolType: 'consumer', partitionAssignor: 'range' })
  t.equal(d!.members.length, 1)
  t.match(d!.members[0], { memberId: member.memberId, groupInstanceId: null, clientId: 'test-client', host: /127\.0\.0\.1/ })
  t.same(d!.members[0]!.assignment, [{ topic: 'ag', partition: 0 }, { topic: 'ag', partition: 1 }], 'decoded from its assignment')
  t.match(await admin.listGroups(), [{ groupId: 'busy', protocolType: 'consumer' }])

  const del = await admin.deleteGroups(['busy']).catch((e: unknown) => e)
  t.ok(del instanceof AdminError)
  t.equal((del as AdminError).name, 'NON_EMPTY_GROUP')
  t.same(Object.keys((del as AdminError).errors), ['busy'])

  await t.rejects(admin.alterConsumerGroupOffsets('busy', [{ topic: 'ag', partition: 0, offset: 1 }]), {
    name: 'UNKNOWN_MEMBER_ID',
    message: /the group has active members: its offsets can be altered only while it is empty/,
  })

  await member.leave()
  t.equal((await admin.describeGroups(['busy']))[0]!.state, 'Empty', 'empty once its member left')
  await admin.alterConsumerGroupOffsets('busy', [{ topic: 'ag', partition: 0, offset: 2 }])
  t.same((await admin.listConsumerGroupOffsets('busy')).map((o) => o.offset), [2], 'and then its offsets can be altered')
})

t.test('a static member shows its group.instance.id', async (t) => {
  const member = await joinMember(broker.port, 'static', [{ topic: 'ag', partition: 0 }], { groupInstanceId: 'instance-1' })
  t.teardown(() => member.leave())
  const [d] = await admin.describeGroups(['static'])
  t.equal(d!.members[0]!.groupInstanceId, 'instance-1')
})

t.test('offsets of a topic that does not exist are refused per partition', async (t) => {
  const err = await admin.alterConsumerGroupOffsets('g-unknown-topic', [{ topic: 'no-such-topic', partition: 0, offset: 1 }]).catch((e: unknown) => e)
  t.ok(err instanceof AdminError)
  t.equal((err as AdminError).name, 'UNKNOWN_TOPIC_OR_PARTITION')
  t.same(Object.keys((err as AdminError).errors), ['no-such-topic-0'])
  await t.rejects(admin.alterConsumerGroupOffsets('g', [{ topic: 'ag', partition: 0, offset: -1 }]), RangeError)
})
