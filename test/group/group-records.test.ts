// The records of __consumer_offsets in Kafka's formats: what peerlog writes, every version it reads, and where a group lives.
import t from 'tap'
import {
  decodeGroupRecord,
  encodeGroupRecord,
  GroupRecordDecodeError,
  groupOfKey,
  partitionForGroup,
  type GroupMetadataRecordValue,
  type GroupRecord,
} from '../../src/group/group-records.ts'
import { Writer } from '../../src/protocol/kafka/primitives.ts'

const hex = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString('hex'))
const bytes = (...v: number[]) => new Uint8Array(v)

const roundTrip = (r: GroupRecord) => {
  const e = encodeGroupRecord(r)
  return decodeGroupRecord(e.key, e.value)
}

const metadataValue: GroupMetadataRecordValue = {
  protocolType: 'consumer',
  generation: 7,
  protocol: 'range',
  leader: 'c-1',
  currentStateTimestamp: 1_700_000_000_123,
  members: [
    { memberId: 'c-1', groupInstanceId: null, clientId: 'c', clientHost: '/10.0.0.1', rebalanceTimeoutMs: 30000, sessionTimeoutMs: 10000, subscription: bytes(0, 1, 2), assignment: bytes(9) },
    { memberId: 'i-2', groupInstanceId: 'i', clientId: 'c2', clientHost: '/10.0.0.2', rebalanceTimeoutMs: 60000, sessionTimeoutMs: 45000, subscription: bytes(), assignment: bytes() },
  ],
}

t.test('an offset commit is written as OffsetCommitKey v1 and OffsetCommitValue v3, as Kafka writes it', async (t) => {
  const r: GroupRecord = { type: 'offset-commit', group: 'g', topic: 't', partition: 3, value: { offset: 42, leaderEpoch: 5, metadata: 'm', commitTimestamp: 1000, expireTimestamp: -1 } }
  const e = encodeGroupRecord(r)
  t.equal(hex(e.key), '0001' + '000167' + '000174' + '00000003')
  t.equal(hex(e.value), '0003' + '000000000000002a' + '00000005' + '00016d' + '00000000000003e8')
  t.same(roundTrip(r), r)
})

t.test('a commit with its own retention is written as OffsetCommitValue v1, which has no leader epoch', async (t) => {
  const r: GroupRecord = { type: 'offset-commit', group: 'g', topic: 't', partition: 0, value: { offset: 1, leaderEpoch: -1, metadata: '', commitTimestamp: 1000, expireTimestamp: 5000 } }
  const e = encodeGroupRecord(r)
  t.equal(hex(e.value), '0001' + '0000000000000001' + '0000' + '00000000000003e8' + '0000000000001388')
  t.same(roundTrip(r), r)
})

t.test('group metadata is written as GroupMetadataKey v2 and GroupMetadataValue v3', async (t) => {
  const r: GroupRecord = { type: 'group-metadata', group: 'g', value: metadataValue }
  const e = encodeGroupRecord(r)
  t.equal(hex(e.key), '0002000167')
  t.equal(hex(e.value)!.slice(0, 4), '0003')
  t.same(roundTrip(r), r)
  const empty: GroupRecord = { type: 'group-metadata', group: 'g', value: { protocolType: '', generation: 2, protocol: null, leader: null, currentStateTimestamp: -1, members: [] } }
  t.same(roundTrip(empty), empty)
})

t.test('tombstones: a null value deletes an offset or the whole group', async (t) => {
  const offset: GroupRecord = { type: 'offset-commit', group: 'g', topic: 't', partition: 1, value: null }
  const group: GroupRecord = { type: 'group-metadata', group: 'g', value: null }
  t.equal(encodeGroupRecord(offset).value, null)
  t.same(roundTrip(offset), offset)
  t.same(roundTrip(group), group)
})

t.test('every OffsetCommitValue version 0–4 reads', async (t) => {
  const key = encodeGroupRecord({ type: 'offset-commit', group: 'g', topic: 't', partition: 0, value: null }).key
  const v0 = new Writer().int16(0).int64(10).string('a').int64(100).finish()
  const v1 = new Writer().int16(1).int64(11).string('b').int64(101).int64(999).finish()
  const v2 = new Writer().int16(2).int64(12).string('c').int64(102).finish()
  const v3 = new Writer().int16(3).int64(13).int32(4).string('d').int64(103).finish()
  // v4 is flexible: compact string, and a tagged-field buffer (here with an unknown tag, skipped).
  const v4 = new Writer().int16(4).int64(14).int32(5).compactString('e').int64(104).taggedFields([[7, (w) => w.int32(1)]]).finish()
  const read = (v: Uint8Array) => (decodeGroupRecord(key, v) as Extract<GroupRecord, { type: 'offset-commit' }>).value
  t.same(read(v0), { offset: 10, leaderEpoch: -1, metadata: 'a', commitTimestamp: 100, expireTimestamp: -1 })
  t.same(read(v1), { offset: 11, leaderEpoch: -1, metadata: 'b', commitTimestamp: 101, expireTimestamp: 999 })
  t.same(read(v2), { offset: 12, leaderEpoch: -1, metadata: 'c', commitTimestamp: 102, expireTimestamp: -1 })
  t.same(read(v3), { offset: 13, leaderEpoch: 4, metadata: 'd', commitTimestamp: 103, expireTimestamp: -1 })
  t.same(read(v4), { offset: 14, leaderEpoch: 5, metadata: 'e', commitTimestamp: 104, expireTimestamp: -1 })
  // OffsetCommitKey v0 has the same fields as v1.
  const key0 = new Writer().int16(0).string('g').string('t').int32(2).finish()
  t.match(decodeGroupRecord(key0, v3), { type: 'offset-commit', group: 'g', topic: 't', partition: 2 })
})

t.test('every GroupMetadataValue version 0–4 reads', async (t) => {
  const key = encodeGroupRecord({ type: 'group-metadata', group: 'g', value: null }).key
  const m = metadataValue.members[1]!
  const classic = (version: number) => {
    const w = new Writer().int16(version).string('consumer').int32(3).nullableString('rr').nullableString(m.memberId)
    if (version >= 2) w.int64(555)
    w.arrayLength(1).string(m.memberId)
    if (version >= 3) w.nullableString(m.groupInstanceId)
    w.string(m.clientId).string(m.clientHost)
    if (version >= 1) w.int32(m.rebalanceTimeoutMs)
    w.int32(m.sessionTimeoutMs).bytes(bytes(1, 2)).bytes(bytes(3))
    return w.finish()
  }
  const flexible = new Writer()
    .int16(4)
    .compactString('consumer')
    .int32(3)
    .compactNullableString('rr')
    .compactNullableString(m.memberId)
    .int64(555)
    .compactArrayLength(1)
    .compactString(m.memberId)
    .compactNullableString(m.groupInstanceId)
    .compactString(m.clientId)
    .compactString(m.clientHost)
    .int32(m.rebalanceTimeoutMs)
    .int32(m.sessionTimeoutMs)
    .compactBytes(bytes(1, 2))
    .compactBytes(bytes(3))
    .taggedFields([])
    .taggedFields([[0, (w) => w.compactString('future')]])
    .finish()
  const read = (v: Uint8Array) => (decodeGroupRecord(key, v) as Extract<GroupRecord, { type: 'group-metadata' }>).value!
  for (const version of [0, 1, 2, 3]) {
    const v = read(classic(version))
    t.match(v, { protocolType: 'consumer', generation: 3, protocol: 'rr', leader: m.memberId }, `v${version}`)
    t.equal(v.currentStateTimestamp, version >= 2 ? 555 : -1, `v${version} currentStateTimestamp`)
    t.same(v.members[0], {
      memberId: m.memberId,
      groupInstanceId: version >= 3 ? 'i' : null,
      clientId: m.clientId,
      clientHost: m.clientHost,
      rebalanceTimeoutMs: version >= 1 ? m.rebalanceTimeoutMs : -1,
      sessionTimeoutMs: m.sessionTimeoutMs,
      subscription: bytes(1, 2),
      assignment: bytes(3),
    })
  }
  t.same(read(flexible), { ...read(classic(3)) }, 'v4 (flexible) reads the same as v3')
})

t.test('decoded bytes are copies: the buffer they came from may be reused', async (t) => {
  const e = encodeGroupRecord({ type: 'group-metadata', group: 'g', value: metadataValue })
  const value = e.value!.slice()
  const r = decodeGroupRecord(e.key, value) as Extract<GroupRecord, { type: 'group-metadata' }>
  value.fill(0)
  t.same(r.value!.members[0]!.subscription, bytes(0, 1, 2))
})

t.test('bytes that are not a record of __consumer_offsets fail with GroupRecordDecodeError', async (t) => {
  const key = encodeGroupRecord({ type: 'offset-commit', group: 'g', topic: 't', partition: 0, value: null }).key
  // Kafka 3.7+'s new consumer-group records use key versions 3 and up.
  t.throws(() => decodeGroupRecord(new Writer().int16(3).string('g').finish(), null), GroupRecordDecodeError)
  t.throws(() => decodeGroupRecord(key.subarray(0, 5), null), GroupRecordDecodeError, 'truncated key')
  t.throws(() => decodeGroupRecord(key, bytes(0, 3, 0, 0)), GroupRecordDecodeError, 'truncated value')
  t.throws(() => decodeGroupRecord(key, new Writer().int16(5).int64(1).finish()), GroupRecordDecodeError, 'unknown value version')
  const gkey = encodeGroupRecord({ type: 'group-metadata', group: 'g', value: null }).key
  t.throws(() => decodeGroupRecord(gkey, new Writer().int16(3).string('consumer').int32(1).int16(-1).int16(-1).int64(0).int32(1000).finish()), GroupRecordDecodeError, 'a member count the bytes cannot hold')
  t.throws(() => groupOfKey(bytes(0)), GroupRecordDecodeError)
  t.throws(() => groupOfKey(new Writer().int16(9).string('g').finish()), GroupRecordDecodeError)
})

t.test('groupOfKey reads the group from either key', async (t) => {
  t.equal(groupOfKey(encodeGroupRecord({ type: 'offset-commit', group: 'orders', topic: 't', partition: 0, value: null }).key), 'orders')
  t.equal(groupOfKey(encodeGroupRecord({ type: 'group-metadata', group: 'émile', value: null }).key), 'émile')
})

t.test("partitionForGroup is Kafka's Utils.abs(groupId.hashCode) % partitions", async (t) => {
  t.equal(partitionForGroup('hello', 50), 99162322 % 50, 'String.hashCode of "hello" is 99162322')
  t.equal(partitionForGroup('my-group', 50), 12, 'a negative hash: |-1906497762| % 50')
  t.equal(partitionForGroup('polygenelubricants', 50), 0, 'a hash of Integer.MIN_VALUE: Utils.abs gives 0')
  t.equal(partitionForGroup('é', 50), 233 % 50, 'UTF-16 code units, not UTF-8 bytes')
  t.equal(partitionForGroup('😀', 50), (0xd83d * 31 + 0xde00) % 50, 'a surrogate pair counts as two units')
  t.equal(partitionForGroup('', 7), 0)
  t.equal(partitionForGroup('anything', 1), 0)
  t.throws(() => partitionForGroup('g', 0), RangeError)
})
