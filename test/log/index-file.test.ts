// The file life both indexes share (IndexFile): buffering and flushing, reload, torn entries,
// truncation of the file, reset, close and delete, open's checks. Each test runs against the
// OffsetIndex and the TimeIndex; what differs between them (entry rules, lookups, isFull) is
// tested in offset-index.test.ts and time-index.test.ts.
import t, { type Test } from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { FsStorage } from '../../src/log/fs-storage.ts'
import { OffsetIndex } from '../../src/log/offset-index.ts'
import type { Storage, StorageFile } from '../../src/log/storage.ts'
import { StorageError } from '../../src/log/storage.ts'
import { TimeIndex } from '../../src/log/time-index.ts'

const storage = new FsStorage()
const BASE = 1000
const T0 = 1_700_000_000_000

type AnyIndex = OffsetIndex | TimeIndex

/**
 * One index kind, driven through a sequence of entries both accept: entry i (i >= 1) is at offset
 * BASE + 10i, with position 100i (OffsetIndex) or timestamp T0 + i (TimeIndex).
 */
interface Kind<I extends AnyIndex> {
  name: string
  /** What the index is called in its messages. */
  label: string
  suffix: string
  entrySize: number
  open(storage: Storage, path: string, baseOffset: number, maxIndexBytes: number): I
  append(index: I, i: number): void
  /** Offset of the last entry (the base offset when empty). */
  lastOffset(index: I): number
  /** What a lookup of entry i's key finds. */
  lookup(index: I, i: number): object
  /** What it should find. */
  entry(i: number): object
  /** The file bytes of entries `is`. */
  bytes(...is: number[]): Uint8Array
}

const offsetKind: Kind<OffsetIndex> = {
  name: 'OffsetIndex',
  label: 'index',
  suffix: 'index',
  entrySize: 8,
  open: (storage, path, baseOffset, maxIndexBytes) => OffsetIndex.open(storage, path, baseOffset, maxIndexBytes),
  append: (index, i) => index.append(BASE + 10 * i, 100 * i),
  lastOffset: (index) => index.lastOffset,
  lookup: (index, i) => index.lookup(BASE + 10 * i),
  entry: (i) => ({ offset: BASE + 10 * i, position: 100 * i }),
  bytes: (...is) => {
    const bytes = new Uint8Array(is.length * 8)
    const view = new DataView(bytes.buffer)
    is.forEach((i, n) => {
      view.setInt32(n * 8, 10 * i)
      view.setInt32(n * 8 + 4, 100 * i)
    })
    return bytes
  },
}

const timeKind: Kind<TimeIndex> = {
  name: 'TimeIndex',
  label: 'time index',
  suffix: 'timeindex',
  entrySize: 12,
  open: (storage, path, baseOffset, maxIndexBytes) => TimeIndex.open(storage, path, baseOffset, maxIndexBytes),
  append: (index, i) => index.maybeAppend(T0 + i, BASE + 10 * i),
  lastOffset: (index) => index.lastEntry.offset,
  lookup: (index, i) => index.lookup(T0 + i),
  entry: (i) => ({ timestamp: T0 + i, offset: BASE + 10 * i }),
  bytes: (...is) => {
    const bytes = new Uint8Array(is.length * 12)
    const view = new DataView(bytes.buffer)
    is.forEach((i, n) => {
      view.setBigInt64(n * 12, BigInt(T0 + i))
      view.setInt32(n * 12 + 8, 10 * i)
    })
    return bytes
  },
}

function forEachKind(name: string, body: <I extends AnyIndex>(t: Test, kind: Kind<I>) => Promise<void>): void {
  t.test(name, async (t) => {
    await t.test(offsetKind.name, (t) => body(t, offsetKind))
    await t.test(timeKind.name, (t) => body(t, timeKind))
  })
}

function openIn<I extends AnyIndex>(t: Test, kind: Kind<I>, maxIndexBytes = 100 * kind.entrySize, content?: Uint8Array) {
  const name = `00000000000000001000.${kind.suffix}`
  const dir = t.testdir(content ? { [name]: Buffer.from(content) } : {})
  const path = `${dir}/${name}`
  return { path, index: kind.open(storage, path, BASE, maxIndexBytes) }
}

forEachKind('an empty index', async (t, kind) => {
  const { path, index } = openIn(t, kind)
  t.equal(index.entries, 0)
  t.equal(index.baseOffset, BASE)
  t.equal(kind.lastOffset(index), BASE)
  t.equal(index.sizeInBytes, 0)
  t.equal(index.isFull(), false)
  t.equal(index.sanityCheck(), null)
  t.equal(index.path, path)
  t.equal(readFileSync(path).length, 0, 'open creates the file')
  index.close()
})

forEachKind('appends are buffered until flush; sync flushes', async (t, kind) => {
  const { path, index } = openIn(t, kind)
  kind.append(index, 1)
  kind.append(index, 2)
  t.equal(index.entries, 2)
  t.equal(index.sizeInBytes, 2 * kind.entrySize, 'sizeInBytes counts pending entries')
  t.equal(readFileSync(path).length, 0, 'appends are buffered')
  index.flush()
  t.same([...readFileSync(path)], [...kind.bytes(1, 2)])
  index.flush()
  t.equal(readFileSync(path).length, 2 * kind.entrySize, 'a second flush writes nothing more')
  kind.append(index, 3)
  index.sync()
  t.same([...readFileSync(path)], [...kind.bytes(1, 2, 3)], 'sync flushes')
  index.close()
})

forEachKind('appends reach the file once 4 KiB are pending', async (t, kind) => {
  const { path, index } = openIn(t, kind, 1 << 20)
  const batch = Math.ceil(4096 / kind.entrySize)
  for (let i = 1; i < batch; i++) kind.append(index, i)
  t.equal(readFileSync(path).length, 0)
  kind.append(index, batch)
  t.equal(readFileSync(path).length, batch * kind.entrySize, `${batch} entries written at once`)
  kind.append(index, batch + 1)
  index.close()
  t.equal(readFileSync(path).length, (batch + 1) * kind.entrySize, 'close flushes the rest')
})

forEachKind('the arrays grow past their initial capacity, and the entries survive', async (t, kind) => {
  const { path, index } = openIn(t, kind, 1000 * kind.entrySize)
  for (let i = 1; i <= 300; i++) kind.append(index, i)
  t.equal(index.entries, 300)
  let wrong = 0
  for (let i = 1; i <= 300; i++) if (JSON.stringify(kind.lookup(index, i)) !== JSON.stringify(kind.entry(i))) wrong++
  t.equal(wrong, 0, 'every entry is found')
  index.close()
  const all = Array.from({ length: 300 }, (_, n) => n + 1)
  t.same([...readFileSync(path)], [...kind.bytes(...all)])
})

forEachKind('reload from disk', async (t, kind) => {
  const { path, index } = openIn(t, kind)
  kind.append(index, 1)
  kind.append(index, 2)
  index.close()
  index.close()
  const again = kind.open(storage, path, BASE, 100 * kind.entrySize)
  t.equal(again.entries, 2)
  t.equal(kind.lastOffset(again), BASE + 20)
  t.equal(again.sanityCheck(), null)
  t.same(kind.lookup(again, 1), kind.entry(1))
  t.same(kind.lookup(again, 2), kind.entry(2))
  kind.append(again, 3)
  again.close()
  const third = kind.open(storage, path, BASE, 100 * kind.entrySize)
  t.same(kind.lookup(third, 3), kind.entry(3))
  t.equal(third.entries, 3)
  t.same([...readFileSync(path)], [...kind.bytes(1, 2, 3)])
  third.close()
})

forEachKind('a torn last entry is left out and reported, then trimmed by a flush', async (t, kind) => {
  const size = 2 * kind.entrySize + 4
  const { path, index } = openIn(t, kind, undefined, kind.bytes(1, 2, 3).subarray(0, size))
  t.equal(index.entries, 2, 'the partial third entry is dropped')
  t.equal(kind.lastOffset(index), BASE + 20)
  t.same(kind.lookup(index, 3), kind.entry(2), 'the torn entry is not found')
  t.equal(index.sanityCheck(), `${kind.label} file size ${size} is not a multiple of ${kind.entrySize} (torn last entry)`)
  index.flush()
  t.equal(readFileSync(path).length, 2 * kind.entrySize, 'flush trims the torn bytes')
  t.equal(index.sanityCheck(), null)
  index.close()
})

forEachKind('a torn entry is overwritten by the next appends and trimmed on close', async (t, kind) => {
  const first = openIn(t, kind, undefined, kind.bytes(1, 2).subarray(0, kind.entrySize + 4))
  t.equal(first.index.entries, 1)
  kind.append(first.index, 2)
  first.index.close()
  t.same([...readFileSync(first.path)], [...kind.bytes(1, 2)])
  const dir = t.testdir({ [`x.${kind.suffix}`]: Buffer.from(kind.bytes(1).subarray(0, 5)) })
  const second = kind.open(storage, `${dir}/x.${kind.suffix}`, BASE, 100 * kind.entrySize)
  t.equal(second.entries, 0)
  second.close()
  t.equal(readFileSync(`${dir}/x.${kind.suffix}`).length, 0, 'close trims like Kafka trimToValidSize')
})

forEachKind('reset empties the index and its file, even a garbled one', async (t, kind) => {
  const { path, index } = openIn(t, kind, undefined, kind.bytes(2, 1))
  t.type(index.sanityCheck(), 'string', 'entries out of order')
  kind.append(index, 3)
  index.reset()
  t.equal(index.entries, 0)
  t.equal(index.sizeInBytes, 0)
  t.equal(kind.lastOffset(index), BASE)
  t.equal(index.sanityCheck(), null, 'reset gives a sound, empty index')
  t.equal(readFileSync(path).length, 0)
  kind.append(index, 1)
  index.close()
  t.same([...readFileSync(path)], [...kind.bytes(1)], 'pending entries dropped by reset are not written')
})

forEachKind('truncateTo cuts the file only where entries were flushed', async (t, kind) => {
  const { path, index } = openIn(t, kind)
  for (let i = 1; i <= 5; i++) kind.append(index, i)
  index.truncateTo(BASE + 45)
  t.equal(index.entries, 4)
  t.equal(index.sizeInBytes, 4 * kind.entrySize)
  t.equal(readFileSync(path).length, 0, 'truncating pending entries touches no file')
  index.flush()
  t.equal(readFileSync(path).length, 4 * kind.entrySize)
  index.truncateTo(BASE + 20)
  t.equal(index.entries, 1)
  t.equal(readFileSync(path).length, kind.entrySize, 'truncating flushed entries cuts the file')
  index.truncateTo(BASE + 20)
  t.equal(index.entries, 1, 'truncating after the last entry changes nothing')
  kind.append(index, 2)
  kind.append(index, 3)
  index.flush()
  kind.append(index, 4)
  index.truncateTo(BASE + 40)
  t.equal(readFileSync(path).length, 3 * kind.entrySize, 'a pending tail goes, the flushed entries stay')
  kind.append(index, 4)
  index.close()
  const again = kind.open(storage, path, BASE, 100 * kind.entrySize)
  t.equal(again.entries, 4)
  t.same([...readFileSync(path)], [...kind.bytes(1, 2, 3, 4)])
  again.close()
})

forEachKind('an index file larger than maxIndexBytes loads whole and is full', async (t, kind) => {
  const { index } = openIn(t, kind, 2 * kind.entrySize, kind.bytes(1, 2, 3))
  t.equal(index.entries, 3)
  t.equal(index.isFull(), true)
  t.same(kind.lookup(index, 2), kind.entry(2))
  t.throws(() => kind.append(index, 4), new RegExp(`attempt to append to a full ${kind.label} .* \\(3 entries\\)`))
  index.close()
})

forEachKind('a closed index refuses changes; delete removes the file', async (t, kind) => {
  const { path, index } = openIn(t, kind)
  kind.append(index, 1)
  index.close()
  t.same(kind.lookup(index, 1), kind.entry(1), 'lookups are served from memory')
  const closed = new RegExp(`^${kind.label} .* is closed$`)
  t.throws(() => kind.append(index, 2), closed)
  t.throws(() => index.flush(), closed)
  t.throws(() => index.sync(), closed)
  t.throws(() => index.truncateTo(BASE), closed)
  t.throws(() => index.reset(), closed)
  t.throws(() => index.sanityCheck(), closed)
  index.delete()
  t.equal(storage.exists(path), false, 'delete after close removes the file')

  const open = openIn(t, kind)
  kind.append(open.index, 1)
  open.index.delete()
  t.equal(storage.exists(open.path), false, 'delete of an open index closes and removes it')
  open.index.delete()
})

forEachKind('open validates its arguments and closes the file when loading fails', async (t, kind) => {
  const dir = t.testdir()
  const path = `${dir}/a.${kind.suffix}`
  t.throws(() => kind.open(storage, path, -1, 1024), new RegExp(`^invalid base offset -1 for ${kind.label} `))
  t.throws(() => kind.open(storage, path, 1.5, 1024), /invalid base offset/)
  t.throws(() => kind.open(storage, path, 0, -kind.entrySize), new RegExp(`^invalid max index size -${kind.entrySize} for ${kind.label} `))
  t.throws(() => kind.open(storage, path, 0, 10.5), /invalid max index size/)
  t.equal(storage.exists(path), false, 'no file is created for bad arguments')

  let closed = 0
  const failing: Storage = Object.create(storage, {
    open: {
      value: (path: string): StorageFile => {
        const file = storage.open(path, { create: true })
        return {
          path,
          size: () => kind.entrySize,
          append: (d) => file.append(d),
          writeAt: (d, p) => file.writeAt(d, p),
          readInto: () => {
            throw new StorageError('EIO', path, 'read failed')
          },
          truncate: (s) => file.truncate(s),
          sync: () => file.sync(),
          close: () => {
            closed++
            file.close()
          },
        }
      },
    },
  })
  t.throws(() => kind.open(failing, `${dir}/b.${kind.suffix}`, 0, 1024), { code: 'EIO' })
  t.equal(closed, 1, 'the file was closed')
})

forEachKind('garbage written by another tool over a reopened file', async (t, kind) => {
  const { path, index } = openIn(t, kind)
  kind.append(index, 1)
  index.close()
  writeFileSync(path, Buffer.from('not an index at all!!'))
  const again = kind.open(storage, path, BASE, 100 * kind.entrySize)
  t.type(again.sanityCheck(), 'string')
  again.close()
})
