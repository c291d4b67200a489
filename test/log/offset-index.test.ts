// What is the OffsetIndex's own: its entry layout, append rules, lookups, truncation points,
// sanity checks and fullness. The file life it shares with the TimeIndex (buffering, reload,
// torn entries, reset, close, delete, open's checks) is tested in index-file.test.ts.
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { FsStorage } from '../../src/log/fs-storage.ts'
import { OffsetIndex } from '../../src/log/offset-index.ts'

const storage = new FsStorage()
const BASE = 1000

function entryBytes(...entries: [number, number][]): Uint8Array {
  const bytes = new Uint8Array(entries.length * 8)
  const view = new DataView(bytes.buffer)
  entries.forEach(([relative, position], i) => {
    view.setInt32(i * 8, relative)
    view.setInt32(i * 8 + 4, position)
  })
  return bytes
}

function openIn(t: Test, maxIndexBytes = 1024, base = BASE, content?: Uint8Array) {
  const dir = t.testdir(content ? { '00000000000000001000.index': Buffer.from(content) } : {})
  const path = `${dir}/00000000000000001000.index`
  return { path, index: OffsetIndex.open(storage, path, base, maxIndexBytes) }
}

t.test('an empty index', async (t) => {
  const { index } = openIn(t)
  t.equal(index.lastOffset, BASE, 'lastOffset is the base offset when empty')
  t.same(index.lookup(BASE + 50), { offset: BASE, position: 0 })
  t.same(index.lookup(0), { offset: BASE, position: 0 })
  index.close()
})

t.test('lookups at, between, before and after entries', async (t) => {
  const { index } = openIn(t)
  index.append(1010, 400)
  index.append(1020, 800)
  index.append(1035, 1500)
  t.equal(index.entries, 3)
  t.equal(index.lastOffset, 1035)
  t.equal(index.sizeInBytes, 24)
  t.same(index.lookup(999), { offset: BASE, position: 0 }, 'below the base offset')
  t.same(index.lookup(1000), { offset: BASE, position: 0 }, 'at the base offset')
  t.same(index.lookup(1009), { offset: BASE, position: 0 }, 'before the first entry')
  t.same(index.lookup(1010), { offset: 1010, position: 400 }, 'at the first entry')
  t.same(index.lookup(1015), { offset: 1010, position: 400 }, 'between entries')
  t.same(index.lookup(1020), { offset: 1020, position: 800 }, 'at a middle entry')
  t.same(index.lookup(1034), { offset: 1020, position: 800 })
  t.same(index.lookup(1035), { offset: 1035, position: 1500 }, 'at the last entry')
  t.same(index.lookup(1_000_000_000_000), { offset: 1035, position: 1500 }, 'far after the last entry')
  index.close()
})

t.test('lookups agree with a linear scan over many entries (the arrays grow)', async (t) => {
  const { index } = openIn(t, 8 * 20_000)
  const offsets: number[] = []
  let offset = BASE
  for (let i = 0; i < 10_000; i++) {
    offset += 1 + ((i * 7919) % 13)
    index.append(offset, (i + 1) * 100)
    offsets.push(offset)
  }
  t.equal(index.entries, 10_000)
  // Targets rise, so the expected entry is found by a sweep.
  let mismatches = 0
  let next = 0
  for (let target = BASE - 2; target <= offset + 2; target++) {
    while (next < offsets.length && offsets[next]! <= target) next++
    const expected = next === 0 ? { offset: BASE, position: 0 } : { offset: offsets[next - 1]!, position: next * 100 }
    const got = index.lookup(target)
    if (got.offset !== expected.offset || got.position !== expected.position) mismatches++
  }
  t.equal(mismatches, 0)
  t.same(index.lookup(offset), { offset, position: 1_000_000 })
  index.close()
})

t.test('append enforces its invariants', async (t) => {
  const { index } = openIn(t)
  index.append(BASE, 0)
  t.same(index.lookup(BASE), { offset: BASE, position: 0 }, 'an entry at the base offset and position 0 is allowed first')
  index.append(1010, 400)
  t.throws(() => index.append(1010, 500), /not larger than the last offset 1010/, 'same offset')
  t.throws(() => index.append(1005, 500), /not larger than the last offset/, 'smaller offset')
  t.throws(() => index.append(1011, 400), /position 400 .* not larger than the last position 400/, 'same position')
  t.throws(() => index.append(1011, 300), /not larger than the last position/, 'smaller position')
  t.throws(() => index.append(999, 500), /offset 999 cannot be indexed/, 'below the base offset')
  t.throws(() => index.append(BASE + 0x80000000, 500), /cannot be indexed/, 'relative offset beyond int32')
  t.throws(() => index.append(1011.5, 500), /cannot be indexed/, 'not an integer')
  t.throws(() => index.append(1011, -1), /position -1 cannot be indexed/)
  t.throws(() => index.append(1011, 0x80000000), /cannot be indexed/, 'position beyond int32')
  t.throws(() => index.append(1011, 500.5), /cannot be indexed/)
  t.equal(index.entries, 2, 'refused appends left nothing behind')
  index.append(BASE + 0x7fffffff, 0x7fffffff)
  t.same(index.lookup(Number.MAX_SAFE_INTEGER), { offset: BASE + 0x7fffffff, position: 0x7fffffff }, 'int32 limits fit')
  index.close()
})

t.test('the file holds big-endian relativeOffset/position pairs', async (t) => {
  const { path, index } = openIn(t)
  index.append(1001, 10)
  index.append(1000 + 0x01020304, 0x0a0b0c0d)
  index.flush()
  t.same([...readFileSync(path)], [0, 0, 0, 1, 0, 0, 0, 10, 1, 2, 3, 4, 10, 11, 12, 13])
  index.close()
  const again = OffsetIndex.open(storage, path, BASE, 1024)
  t.same(again.lookup(1000 + 0x01020304), { offset: 1000 + 0x01020304, position: 0x0a0b0c0d }, 'and reads them back')
  again.close()
})

t.test('sanityCheck explains what is wrong with a garbled index', async (t) => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['offsets not increasing', entryBytes([10, 400], [10, 800]), /entry 1: offset 1010 does not increase \(previous 1010\)/],
    ['offsets decreasing', entryBytes([10, 400], [20, 800], [15, 900]), /entry 2: offset 1015 does not increase/],
    ['positions not increasing', entryBytes([10, 400], [20, 400]), /entry 1: position 400 does not increase/],
    ['negative relative offset', entryBytes([-5, 400]), /entry 0 has a negative relative offset -5 \(offset 995 is below the base offset 1000\)/],
    ['negative position', entryBytes([5, -4]), /entry 0 has a negative position -4/],
    ['a preallocated, zero-filled tail', entryBytes([10, 400], [0, 0], [0, 0]), /entry 1: offset 1000 does not increase/],
  ]
  for (const [name, bytes, reason] of cases) {
    const { index } = openIn(t, 1024, BASE, bytes)
    t.match(index.sanityCheck(), reason, name)
    index.close()
  }
})

t.test('truncateTo removes entries at and after an offset', async (t) => {
  const { index } = openIn(t)
  const fill = () => {
    index.reset()
    for (const [o, p] of [[1010, 100], [1020, 200], [1030, 300], [1040, 400]] as const) index.append(o, p)
  }
  fill()
  index.truncateTo(1030)
  t.equal(index.entries, 2, 'at an entry: that entry goes')
  t.equal(index.lastOffset, 1020)
  fill()
  index.truncateTo(1025)
  t.equal(index.entries, 2, 'between entries')
  t.same(index.lookup(2000), { offset: 1020, position: 200 })
  fill()
  index.truncateTo(1041)
  t.equal(index.entries, 4, 'after the last entry: nothing goes')
  index.truncateTo(1010)
  t.equal(index.entries, 0, 'at the first entry: everything goes')
  t.equal(index.lastOffset, BASE)
  fill()
  index.truncateTo(500)
  t.equal(index.entries, 0, 'below the base offset')
  fill()
  index.flush()
  index.truncateTo(1020)
  index.append(1015, 150)
  t.same(index.lookup(2000), { offset: 1015, position: 150 }, 'a truncated index takes smaller offsets and positions again')
  index.close()
})

t.test('a full index refuses appends', async (t) => {
  const { index } = openIn(t, 24)
  index.append(1001, 1)
  index.append(1002, 2)
  t.equal(index.isFull(), false)
  index.append(1003, 3)
  t.equal(index.isFull(), true)
  t.throws(() => index.append(1004, 4), /full index/)
  index.truncateTo(1003)
  t.equal(index.isFull(), false)
  index.close()

  const odd = openIn(t, 20)
  odd.index.append(1001, 1)
  odd.index.append(1002, 2)
  t.equal(odd.index.isFull(), true, 'the size rounds down to whole entries')
  odd.index.close()

  const none = openIn(t, 0)
  t.equal(none.index.isFull(), true, 'a zero-sized index is always full')
  t.throws(() => none.index.append(1001, 1), /full index/)
  none.index.close()
})
