import t from 'tap'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { posix } from 'node:path'
import { FsStorage } from '../../src/log/fs-storage.ts'
import type { Storage, StorageFile } from '../../src/log/storage.ts'
import { dirname, joinPath, StorageError, writeFileAtomic } from '../../src/log/storage.ts'

const storage = new FsStorage()
const bytes = (...values: number[]) => new Uint8Array(values)

t.test('StorageError carries a POSIX code and the path', async (t) => {
  const err = new StorageError('ENOSPC', '/data/x.log', 'no space left on device')
  t.equal(err.name, 'StorageError')
  t.equal(err.code, 'ENOSPC')
  t.equal(err.path, '/data/x.log')
  t.equal(err.message, 'ENOSPC: no space left on device, /data/x.log')
  t.equal(new StorageError('EIO', '/p').message, 'EIO: storage error, /p')
  t.ok(err instanceof Error)
})

t.test('open: a missing file throws ENOENT unless create is asked', async (t) => {
  const dir = t.testdir({ existing: 'hello' })
  t.throws(() => storage.open(`${dir}/missing`), { name: 'StorageError', code: 'ENOENT', path: `${dir}/missing` })
  t.throws(() => storage.open(`${dir}/missing`, {}), { code: 'ENOENT' })
  t.equal(storage.exists(`${dir}/missing`), false)
  const created = storage.open(`${dir}/new`, { create: true })
  t.equal(created.path, `${dir}/new`)
  t.equal(created.size(), 0)
  created.close()
  t.equal(storage.exists(`${dir}/new`), true)
  const existing = storage.open(`${dir}/existing`, { create: true })
  t.equal(existing.size(), 5, 'create keeps the content of an existing file')
  existing.close()
  t.equal(readFileSync(`${dir}/existing`, 'utf8'), 'hello')
  t.throws(() => storage.open(`${dir}/no-dir/file`, { create: true }), { code: 'ENOENT' })
  t.throws(() => storage.open(dir), StorageError, 'a directory is not a file')
})

t.test('append, writeAt, readInto, truncate, sync', async (t) => {
  const dir = t.testdir()
  const file = storage.open(`${dir}/f`, { create: true })
  t.equal(file.append(bytes(1, 2, 3)), 0)
  t.equal(file.append(bytes(4, 5)), 3, 'append returns where it wrote')
  t.equal(file.size(), 5)
  file.writeAt(bytes(9), 1)
  t.equal(file.size(), 5, 'writing inside the file does not grow it')
  file.writeAt(bytes(7, 7), 8)
  t.equal(file.size(), 10, 'writing past the end grows it (with a hole)')
  t.equal(file.append(bytes(8)), 10)
  file.sync()
  t.same([...readFileSync(`${dir}/f`)], [1, 9, 3, 4, 5, 0, 0, 0, 7, 7, 8])

  const into = new Uint8Array(8).fill(0xff)
  t.equal(file.readInto(into, 2, 4, 1), 4)
  t.same([...into], [0xff, 0xff, 9, 3, 4, 5, 0xff, 0xff])
  t.equal(file.readInto(into, 0, 8, 7), 4, 'short at the end of the file')
  t.same([...into.subarray(0, 4)], [0, 7, 7, 8])
  t.equal(file.readInto(into, 0, 8, 100), 0, 'nothing past the end')
  t.equal(file.readInto(into, 0, 0, 0), 0)

  file.truncate(2)
  t.equal(file.size(), 2)
  t.equal(file.append(bytes(6)), 2, 'append continues at the new end')
  t.same([...readFileSync(`${dir}/f`)], [1, 9, 6])
  file.truncate(0)
  t.equal(readFileSync(`${dir}/f`).length, 0)
  file.close()
})

t.test('a large write and read go through whole', async (t) => {
  const dir = t.testdir()
  const file = storage.open(`${dir}/big`, { create: true })
  const data = new Uint8Array(3 * 1024 * 1024).map((_, i) => i * 31)
  file.append(data)
  const back = new Uint8Array(data.length)
  t.equal(file.readInto(back, 0, back.length, 0), data.length)
  t.ok(back.every((b, i) => b === data[i]))
  file.close()
})

t.test('a closed file refuses I/O with EBADF; close is idempotent', async (t) => {
  const dir = t.testdir()
  const file = storage.open(`${dir}/f`, { create: true })
  file.append(bytes(1))
  file.close()
  file.close()
  const ebadf = { name: 'StorageError', code: 'EBADF', path: `${dir}/f` }
  t.throws(() => file.append(bytes(1)), ebadf)
  t.throws(() => file.writeAt(bytes(1), 0), ebadf)
  t.throws(() => file.readInto(new Uint8Array(1), 0, 1, 0), ebadf)
  t.throws(() => file.truncate(0), ebadf)
  t.throws(() => file.sync(), ebadf)
  t.equal(file.size(), 1, 'size is still known')
})

t.test('errors that are not from the file system pass through untouched', async (t) => {
  const dir = t.testdir()
  const file = storage.open(`${dir}/f`, { create: true })
  const boom = new Error('boom')
  const throwing = (value: unknown) => Object.defineProperty({}, 'length', { get: () => { throw value } }) as Uint8Array
  t.throws(() => file.writeAt(throwing(boom), 0), boom)
  try {
    file.writeAt(throwing(undefined), 0)
    t.fail('should throw')
  } catch (err) {
    t.equal(err, undefined, 'even a thrown undefined')
  }
  t.throws(() => file.readInto(new Uint8Array(1), 0, 10, 0), { name: 'StorageError', code: 'ERR_OUT_OF_RANGE' }, 'Node argument errors carry a code and become StorageErrors')
  file.close()
})

t.test('positions and sizes must be non-negative integers (node:fs would misplace them silently)', async (t) => {
  const dir = t.testdir()
  const file = storage.open(`${dir}/f`, { create: true })
  file.append(bytes(1, 2, 3))
  const einval = { name: 'StorageError', code: 'EINVAL' }
  t.throws(() => file.writeAt(bytes(9), -5), einval)
  t.throws(() => file.writeAt(bytes(9), 1.5), einval)
  t.throws(() => file.readInto(new Uint8Array(1), 0, 1, -1), einval)
  t.throws(() => file.truncate(-1), einval)
  t.throws(() => file.truncate(NaN), einval)
  t.same([...readFileSync(`${dir}/f`)], [1, 2, 3], 'nothing was written or cut')
  t.equal(file.size(), 3)
  file.close()
})

t.test('exists, list, mkdirp', async (t) => {
  const dir = t.testdir({ 'b.log': '', 'a.index': '', sub: { 'c.log': '' } })
  t.equal(storage.exists(`${dir}/b.log`), true)
  t.equal(storage.exists(`${dir}/sub`), true)
  t.equal(storage.exists(`${dir}/nope`), false)
  t.same(storage.list(dir), ['a.index', 'b.log', 'sub'], 'names, sorted')
  t.same(storage.list(`${dir}/nope`), [], 'a missing directory lists as empty')
  t.throws(() => storage.list(`${dir}/b.log`), { name: 'StorageError', code: 'ENOTDIR' })
  storage.mkdirp(`${dir}/x/y/z`)
  storage.mkdirp(`${dir}/x/y/z`)
  t.equal(storage.exists(`${dir}/x/y/z`), true, 'creates parents; no error if it exists')
  t.throws(() => storage.mkdirp(`${dir}/b.log/z`), StorageError)
})

t.test('rename, remove, removeDir', async (t) => {
  const dir = t.testdir({ from: 'new', to: 'old', sub: { deep: { f: 'x' } } })
  storage.rename(`${dir}/from`, `${dir}/to`)
  t.equal(readFileSync(`${dir}/to`, 'utf8'), 'new', 'rename replaces the target')
  t.equal(storage.exists(`${dir}/from`), false)
  t.throws(() => storage.rename(`${dir}/from`, `${dir}/to`), { code: 'ENOENT', path: `${dir}/from` })

  storage.remove(`${dir}/to`)
  t.equal(storage.exists(`${dir}/to`), false)
  storage.remove(`${dir}/to`)
  t.pass('removing a missing file is no error')
  t.throws(() => storage.remove(`${dir}/sub`), StorageError, 'remove does not remove directories')
  t.equal(storage.exists(`${dir}/sub`), true)

  storage.removeDir(`${dir}/sub`)
  t.equal(storage.exists(`${dir}/sub`), false, 'removeDir removes everything in it')
  storage.removeDir(`${dir}/sub`)
  t.pass('removing a missing directory is no error')
})

t.test('readFile', async (t) => {
  const dir = t.testdir({ f: Buffer.from([1, 2, 3]), sub: {} })
  const data = storage.readFile(`${dir}/f`)
  t.same(data && [...data], [1, 2, 3])
  t.equal(Object.getPrototypeOf(data), Uint8Array.prototype, 'a plain Uint8Array, not a Buffer')
  const copy = data!.slice(0, 2)
  copy[0] = 99
  t.equal(data![0], 1, 'slice copies, as Uint8Array does')
  t.equal(storage.readFile(`${dir}/missing`), null)
  t.throws(() => storage.readFile(`${dir}/sub`), { name: 'StorageError', code: 'EISDIR' })
})

t.test('syncDir', async (t) => {
  const dir = t.testdir()
  storage.syncDir(dir)
  t.pass('a directory can be synced')
  t.throws(() => storage.syncDir(`${dir}/missing`), { code: 'ENOENT' })
})

t.test('writeFileAtomic replaces a file through a synced temporary file', async (t) => {
  const dir = t.testdir({ 'cp': 'old', 'cp.tmp': 'stale leftover from a crash, longer than the new content' })
  writeFileAtomic(storage, `${dir}/cp`, new TextEncoder().encode('new'))
  t.equal(readFileSync(`${dir}/cp`, 'utf8'), 'new')
  t.same(readdirSync(dir), ['cp'], 'the temporary file became the file')
  writeFileAtomic(storage, `${dir}/fresh`, bytes(1, 2))
  t.same([...readFileSync(`${dir}/fresh`)], [1, 2])

  const calls: string[] = []
  const recording: Storage = Object.create(storage, {
    open: { value: (p: string, o?: { create?: boolean }) => (calls.push(`open ${p} ${JSON.stringify(o)}`), storage.open(p, o)) },
    rename: { value: (a: string, b: string) => (calls.push(`rename ${a} ${b}`), storage.rename(a, b)) },
    syncDir: { value: (d: string) => (calls.push(`syncDir ${d}`), storage.syncDir(d)) },
  })
  writeFileAtomic(recording, `${dir}/cp`, bytes(1))
  t.same(calls, [`open ${dir}/cp.tmp {"create":true}`, `rename ${dir}/cp.tmp ${dir}/cp`, `syncDir ${dir}`])
})

t.test('writeFileAtomic leaves the old file when the write fails', async (t) => {
  const dir = t.testdir({ cp: 'old' })
  let closed = false
  const failing: Storage = Object.create(storage, {
    open: {
      value: (p: string, o?: { create?: boolean }): StorageFile => {
        const file = storage.open(p, o)
        return Object.assign(Object.create(file) as StorageFile, {
          append: () => {
            throw new StorageError('ENOSPC', p, 'no space left on device')
          },
          close: () => {
            closed = true
            file.close()
          },
        })
      },
    },
  })
  t.throws(() => writeFileAtomic(failing, `${dir}/cp`, bytes(1)), { code: 'ENOSPC' })
  t.equal(closed, true, 'the temporary file was closed')
  t.equal(readFileSync(`${dir}/cp`, 'utf8'), 'old')
})

t.test('dirname follows POSIX', async (t) => {
  for (const path of ['/a/b/c', 'a/b', 'a', '/a', '/', '', 'a/b/', '/a/b//', './a', '../a/b', 'a/', '//']) {
    t.equal(dirname(path), posix.dirname(path), JSON.stringify(path))
  }
  // Node's posix.dirname keeps a slash here ('a/'); POSIX dirname(1) does not.
  t.equal(dirname('a//b'), 'a')
  t.equal(dirname('/a//b'), '/a')
  t.equal(dirname('/data/orders-0/00000000000000000000.log'), '/data/orders-0')
})

t.test('joinPath', async (t) => {
  t.equal(joinPath('/data', 'orders-0', 'leader-epoch-checkpoint'), '/data/orders-0/leader-epoch-checkpoint')
  t.equal(joinPath('/data/', '/orders-0'), '/data/orders-0', 'repeated slashes collapse')
  t.equal(joinPath('data', 'x'), 'data/x')
  t.equal(joinPath('', 'x'), 'x', 'an empty part does not make the path absolute')
  t.equal(joinPath('/', 'x'), '/x')
  t.equal(joinPath('a', '', 'b'), 'a/b')
  t.equal(joinPath('a'), 'a')
  t.equal(joinPath(), '')
})

t.test('the file system state matches what FsStorage reported (smoke across a reopen)', async (t) => {
  const dir = t.testdir()
  mkdirSync(`${dir}/p`)
  const file = storage.open(`${dir}/p/f`, { create: true })
  file.append(bytes(1, 2, 3, 4))
  file.close()
  writeFileSync(`${dir}/p/g`, 'x')
  const again = storage.open(`${dir}/p/f`)
  t.equal(again.size(), 4)
  t.equal(again.append(bytes(5)), 4)
  again.close()
  t.same(storage.list(`${dir}/p`), ['f', 'g'])
})
