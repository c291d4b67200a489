// What is the TimeIndex's own: its entry layout, maybeAppend rules, lookups, truncation points,
// sanity checks and its early isFull. The file life it shares with the OffsetIndex (buffering,
// reload, torn entries, reset, close, delete, open's checks) is tested in index-file.test.ts.
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { FsStorage } from '../../src/log/fs-storage.ts'
import { TimeIndex } from '../../src/log/time-index.ts'

const storage = new FsStorage()
const BASE = 1000
const T0 = 1_700_000_000_000

function entryBytes(...entries: [bigint | number, number][]): Uint8Array {
  const bytes = new Uint8Array(entries.length * 12)
  const view = new DataView(bytes.buffer)
  entries.forEach(([timestamp, relative], i) => {
    view.setBigInt64(i * 12, BigInt(timestamp))
    view.setInt32(i * 12 + 8, relative)
  })
  return bytes
}

function openIn(t: Test, maxIndexBytes = 1200, content?: Uint8Array) {
  const dir = t.testdir(content ? { '00000000000000001000.timeindex': Buffer.from(content) } : {})
  const path = `${dir}/00000000000000001000.timeindex`
  return { path, index: TimeIndex.open(storage, path, BASE, maxIndexBytes) }
}

t.test('an empty time index', async (t) => {
  const { index } = openIn(t)
  t.same(index.lastEntry, { timestamp: -1, offset: BASE })
  t.same(index.lookup(T0), { timestamp: -1, offset: BASE })
  index.maybeAppend(-1, -1)
  t.equal(index.entries, 0, 'a segment with no timestamp yet appends (NO_TIMESTAMP, -1): nothing lands')
  index.close()
})

t.test('lookups at, between, before and after entries', async (t) => {
  const { index } = openIn(t)
  index.maybeAppend(T0 + 100, 1010)
  index.maybeAppend(T0 + 200, 1020)
  index.maybeAppend(T0 + 300, 1030)
  t.equal(index.entries, 3)
  t.equal(index.sizeInBytes, 36)
  t.same(index.lastEntry, { timestamp: T0 + 300, offset: 1030 })
  t.same(index.lookup(0), { timestamp: -1, offset: BASE }, 'before every entry')
  t.same(index.lookup(T0 + 99), { timestamp: -1, offset: BASE })
  t.same(index.lookup(T0 + 100), { timestamp: T0 + 100, offset: 1010 }, 'at the first entry')
  t.same(index.lookup(T0 + 250), { timestamp: T0 + 200, offset: 1020 }, 'between entries')
  t.same(index.lookup(T0 + 200), { timestamp: T0 + 200, offset: 1020 }, 'at a middle entry')
  t.same(index.lookup(T0 + 300), { timestamp: T0 + 300, offset: 1030 }, 'at the last entry')
  t.same(index.lookup(Number.MAX_SAFE_INTEGER), { timestamp: T0 + 300, offset: 1030 }, 'after the last entry')
  index.close()
})

t.test('maybeAppend keeps timestamps increasing and offsets from going back', async (t) => {
  const { index } = openIn(t)
  index.maybeAppend(T0 + 100, 1010)
  index.maybeAppend(T0 + 100, 1020)
  t.equal(index.entries, 1, 'an equal timestamp adds nothing')
  index.maybeAppend(T0 + 50, 1030)
  t.equal(index.entries, 1, 'a smaller timestamp adds nothing')
  t.same(index.lastEntry, { timestamp: T0 + 100, offset: 1010 })
  index.maybeAppend(T0 + 150, 1010)
  t.equal(index.entries, 2, 'the same offset with a larger timestamp lands (as Kafka, on roll)')
  t.throws(() => index.maybeAppend(T0 + 200, 1009), /offset 1009 .* goes back from the last offset 1010/)
  t.throws(() => index.maybeAppend(T0 + 10, 1005), /goes back/, 'checked even when the timestamp would be skipped')
  t.throws(() => index.maybeAppend(T0 + 200.5, 1020), /invalid timestamp/)
  t.throws(() => index.maybeAppend(2 ** 60, 1020), /invalid timestamp/)
  t.throws(() => index.maybeAppend(T0 + 200, 1020.5), /invalid offset/)
  t.throws(() => index.maybeAppend(T0 + 200, BASE + 0x80000000), /cannot be indexed/)
  t.equal(index.entries, 2)
  index.maybeAppend(T0 + 200, BASE + 0x7fffffff)
  t.same(index.lastEntry, { timestamp: T0 + 200, offset: BASE + 0x7fffffff })
  index.close()

  const empty = openIn(t).index
  t.throws(() => empty.maybeAppend(T0, 999), /offset 999 cannot be indexed/, 'below the base offset')
  empty.maybeAppend(0, BASE)
  t.same(empty.lastEntry, { timestamp: 0, offset: BASE }, 'timestamp 0 at the base offset is a valid first entry')
  empty.close()
})

t.test('the file holds big-endian int64 timestamp / int32 relative offset', async (t) => {
  const { path, index } = openIn(t)
  index.maybeAppend(0x01020304050607, 1000 + 0x0a0b0c0d)
  index.flush()
  t.same([...readFileSync(path)], [0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13])
  index.close()
  const again = TimeIndex.open(storage, path, BASE, 1200)
  t.same(again.lastEntry, { timestamp: 0x01020304050607, offset: 1000 + 0x0a0b0c0d }, 'and reads it back')
  again.close()
})

t.test('lookups over many entries (the arrays grow)', async (t) => {
  const { index } = openIn(t, 12 * 5000)
  for (let i = 0; i < 4000; i++) index.maybeAppend(T0 + i * 10, BASE + i * 3)
  t.equal(index.entries, 4000)
  let mismatches = 0
  for (let ts = T0 - 5; ts < T0 + 40_005; ts += 7) {
    const i = Math.min(Math.floor((ts - T0) / 10), 3999)
    const expected = ts < T0 ? { timestamp: -1, offset: BASE } : { timestamp: T0 + i * 10, offset: BASE + i * 3 }
    const got = index.lookup(ts)
    if (got.timestamp !== expected.timestamp || got.offset !== expected.offset) mismatches++
  }
  t.equal(mismatches, 0)
  index.close()
})

t.test('the reloaded last entry still guards monotonicity', async (t) => {
  const { path, index } = openIn(t)
  index.maybeAppend(T0 + 100, 1010)
  index.maybeAppend(T0 + 200, 1020)
  index.close()
  const again = TimeIndex.open(storage, path, BASE, 1200)
  t.same(again.lastEntry, { timestamp: T0 + 200, offset: 1020 })
  again.maybeAppend(T0 + 150, 1030)
  t.equal(again.entries, 2, 'a smaller timestamp adds nothing')
  t.throws(() => again.maybeAppend(T0 + 300, 1019), /goes back/)
  again.close()
})

t.test('sanityCheck explains what is wrong with a garbled time index', async (t) => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['timestamps equal', entryBytes([T0, 10], [T0, 20]), /entry 1: timestamp \d+ does not increase/],
    ['timestamps decreasing', entryBytes([T0, 10], [T0 - 1, 20]), /entry 1: timestamp \d+ does not increase/],
    ['offsets going back', entryBytes([T0, 10], [T0 + 1, 5]), /entry 1: offset 1005 goes backwards \(previous 1010\)/],
    ['negative relative offset', entryBytes([T0, -3]), /entry 0 has a negative relative offset -3 \(offset 997 is below the base offset 1000\)/],
    ['negative timestamp', entryBytes([-1, 3]), /entry 0 has an invalid timestamp -1/],
    ['timestamp beyond 2^53', entryBytes([2n ** 62n, 3]), /entry 0 has an invalid timestamp/],
    ['a preallocated, zero-filled tail', entryBytes([T0, 10], [0, 0]), /entry 1: timestamp 0 does not increase/],
  ]
  for (const [name, bytes, reason] of cases) {
    const { index } = openIn(t, 1200, bytes)
    t.match(index.sanityCheck(), reason, name)
    index.close()
  }
})

t.test('truncateTo removes entries at and after an offset', async (t) => {
  const { index } = openIn(t)
  const fill = () => {
    index.reset()
    index.maybeAppend(T0 + 100, 1010)
    index.maybeAppend(T0 + 200, 1020)
    index.maybeAppend(T0 + 300, 1020)
    index.maybeAppend(T0 + 400, 1030)
  }
  fill()
  index.truncateTo(1030)
  t.equal(index.entries, 3, 'at an entry: that entry goes')
  t.same(index.lastEntry, { timestamp: T0 + 300, offset: 1020 })
  fill()
  index.truncateTo(1020)
  t.equal(index.entries, 1, 'every entry of a repeated offset goes')
  t.same(index.lastEntry, { timestamp: T0 + 100, offset: 1010 })
  fill()
  index.truncateTo(1015)
  t.equal(index.entries, 1, 'between entries')
  fill()
  index.truncateTo(1031)
  t.equal(index.entries, 4, 'after the last entry: nothing goes')
  index.truncateTo(1010)
  t.equal(index.entries, 0, 'at the first entry: everything goes')
  t.same(index.lastEntry, { timestamp: -1, offset: BASE })
  fill()
  index.truncateTo(0)
  t.equal(index.entries, 0, 'below the base offset')
  fill()
  index.flush()
  index.truncateTo(1020)
  index.maybeAppend(T0 + 150, 1015)
  t.same(index.lastEntry, { timestamp: T0 + 150, offset: 1015 }, 'a truncated index takes smaller timestamps again')
  index.close()
})

t.test('isFull keeps the last slot for the entry appended on roll (as Kafka)', async (t) => {
  const { index } = openIn(t, 36)
  index.maybeAppend(T0 + 1, 1001)
  t.equal(index.isFull(), false)
  index.maybeAppend(T0 + 2, 1002)
  t.equal(index.isFull(), true, 'two of three slots used: the segment should roll')
  index.maybeAppend(T0 + 3, 1003)
  t.equal(index.entries, 3, 'the roll entry still fits')
  t.throws(() => index.maybeAppend(T0 + 4, 1004), /full time index/)
  index.maybeAppend(T0 + 3, 1004)
  t.equal(index.entries, 3, 'a skipped entry does not need room')
  index.close()

  const none = openIn(t, 11)
  t.equal(none.index.isFull(), true, 'no room for a single entry')
  t.throws(() => none.index.maybeAppend(T0, 1001), /full time index/)
  none.index.close()
})
