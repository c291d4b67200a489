import t from 'tap'
import { BatchHeader } from '../../src/record/batch-header.ts'
import {
  buildEndTransactionMarkerBatch,
  CONTROL_RECORD_KEY_SIZE,
  ControlRecordType,
  decodeControlRecordKey,
  decodeEndTransactionMarker,
  encodeControlRecordKey,
  encodeEndTransactionMarkerValue,
  END_TXN_MARKER_VALUE_SIZE,
  isEndTransactionMarkerType,
  type EndTransactionMarker,
} from '../../src/record/control-record.ts'
import { CorruptRecordError } from '../../src/record/errors.ts'
import { decodeRecordBatch } from '../../src/record/record-batch.ts'

function hex(text: string): Uint8Array {
  const digits = text.replace(/\/\/.*$/gm, '').replace(/\s+/g, '')
  return Uint8Array.from(digits.match(/../g) ?? [], (x) => parseInt(x, 16))
}
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')

function crc32cBitwise(buf: Uint8Array): number {
  let c = 0xffffffff
  for (const b of buf) {
    c ^= b
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
  }
  return ~c >>> 0
}

// A COMMIT marker as MemoryRecords.withEndTransactionMarker writes it: 78 bytes, the
// size every Kafka transaction marker has on disk. Derived by hand from the spec.
const COMMIT_MARKER_BATCH = hex(`
  0000000000000064   // baseOffset 100
  00000042           // batchLength 66
  00000003           // partitionLeaderEpoch 3
  02                 // magic
  666330a0           // crc
  0030               // attributes: transactional (0x10) | control (0x20)
  00000000           // lastOffsetDelta
  0000018bcfe56800   // baseTimestamp 1700000000000
  0000018bcfe56800   // maxTimestamp
  000000000000002a   // producerId 42
  0001               // producerEpoch 1
  ffffffff           // baseSequence -1
  00000001           // recordsCount
  20                 // record length 16
  00 00 00           // attributes, timestampDelta 0, offsetDelta 0
  08 0000 0001       // key: 4 bytes, version 0, type 1 (COMMIT)
  0c 0000 00000009   // value: 6 bytes, version 0, coordinatorEpoch 9
  00                 // no headers
`)

t.test('golden: a COMMIT marker batch', async (t) => {
  t.equal(COMMIT_MARKER_BATCH.length, 78)
  t.equal(crc32cBitwise(COMMIT_MARKER_BATCH.subarray(21)), 0x666330a0)
  const built = buildEndTransactionMarkerBatch({
    baseOffset: 100,
    timestamp: 1_700_000_000_000,
    partitionLeaderEpoch: 3,
    producerId: 42,
    producerEpoch: 1,
    marker: { type: ControlRecordType.COMMIT, coordinatorEpoch: 9 },
  })
  t.equal(toHex(built), toHex(COMMIT_MARKER_BATCH))
  const b = decodeRecordBatch(built)
  t.match(b, { isControl: true, isTransactional: true, baseSequence: -1, producerId: 42, producerEpoch: 1, recordsCount: 1 })
  t.same(decodeEndTransactionMarker(b.records[0]!), { type: ControlRecordType.COMMIT, coordinatorEpoch: 9 })
})

t.test('an ABORT marker, defaults', async (t) => {
  const buf = buildEndTransactionMarkerBatch({ timestamp: 5, producerId: 1, producerEpoch: 0, marker: { type: ControlRecordType.ABORT, coordinatorEpoch: -1 } })
  const h = new BatchHeader(buf)
  t.equal(h.baseOffset, 0)
  t.equal(h.partitionLeaderEpoch, -1)
  t.ok(h.isControl && h.isTransactional)
  t.equal(h.compression, 0)
  const b = decodeRecordBatch(buf)
  t.same(decodeControlRecordKey(b.records[0]!.key), { version: 0, type: ControlRecordType.ABORT })
  t.same(decodeEndTransactionMarker(b.records[0]!), { type: ControlRecordType.ABORT, coordinatorEpoch: -1 })
  t.equal(b.records[0]!.timestamp, 5)
  t.throws(
    () => buildEndTransactionMarkerBatch({ timestamp: 5, producerId: 1, producerEpoch: 0, marker: { type: ControlRecordType.LEADER_CHANGE, coordinatorEpoch: 0 } as unknown as EndTransactionMarker }),
    RangeError,
  )
})

t.test('control record keys', async (t) => {
  t.equal(toHex(encodeControlRecordKey(ControlRecordType.ABORT)), '00000000')
  t.equal(toHex(encodeControlRecordKey(ControlRecordType.COMMIT)), '00000001')
  t.equal(toHex(encodeControlRecordKey(ControlRecordType.LEADER_CHANGE)), '00000002')
  t.equal(toHex(encodeControlRecordKey(ControlRecordType.KRAFT_VOTERS)), '00000006')
  t.equal(CONTROL_RECORD_KEY_SIZE, 4)
  t.same(decodeControlRecordKey(hex('0000 0004')), { version: 0, type: ControlRecordType.SNAPSHOT_FOOTER })
  t.same(decodeControlRecordKey(hex('0001 0001 ffff')), { version: 1, type: 1 }, 'a newer key version is read as version 0')
  t.same(decodeControlRecordKey(hex('0000 0063')), { version: 0, type: 99 }, 'an unknown type is returned for the caller to skip')
  t.throws(() => decodeControlRecordKey(null), { name: 'CorruptRecordError', message: /none \(null\)/ })
  t.throws(() => decodeControlRecordKey(hex('000000')), { message: /needs 4 bytes, has 3/ })
  t.throws(() => decodeControlRecordKey(hex('ffff 0000')), { message: /invalid version -1/ })
  t.ok(isEndTransactionMarkerType(0) && isEndTransactionMarkerType(1))
  t.notOk(isEndTransactionMarkerType(2))
})

t.test('end-transaction marker values', async (t) => {
  t.equal(toHex(encodeEndTransactionMarkerValue(9)), '000000000009')
  t.equal(toHex(encodeEndTransactionMarkerValue(-2)), '0000fffffffe')
  t.equal(END_TXN_MARKER_VALUE_SIZE, 6)
  const key = encodeControlRecordKey(ControlRecordType.COMMIT)
  t.same(decodeEndTransactionMarker({ key, value: hex('0001 00000007 abcd') }), { type: 1, coordinatorEpoch: 7 }, 'a newer value version is read as version 0')
  t.throws(() => decodeEndTransactionMarker({ key, value: null }), { name: 'CorruptRecordError', message: /none \(null\)/ })
  t.throws(() => decodeEndTransactionMarker({ key, value: hex('0000 000000') }), { message: /needs 6 bytes, has 5/ })
  t.throws(() => decodeEndTransactionMarker({ key, value: hex('8000 00000000') }), { message: /invalid version -32768/ })
  t.throws(() => decodeEndTransactionMarker({ key: encodeControlRecordKey(ControlRecordType.LEADER_CHANGE), value: hex('000000000000') }), CorruptRecordError)
})
