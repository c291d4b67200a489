import t from 'tap'
import { FsStorage } from '../../src/log/fs-storage.ts'
import { type Storage, StorageError, type StorageFile, writeFileAtomic } from '../../src/log/storage.ts'
import { SeededRandom } from '../../src/sim/random.ts'
import { type CrashMode, SimStorage, SimulatedCrash } from '../../src/sim/sim-storage.ts'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (b: Uint8Array | null): string | null => (b === null ? null : new TextDecoder().decode(b))
const MODES: CrashMode[] = ['lose-unsynced', 'torn', 'random']

type Result = { ok: unknown } | { err: string }

/** The outcome of a call as plain data. */
function attempt(fn: () => unknown): Result {
  try {
    const v = fn()
    return { ok: v instanceof Uint8Array ? text(v) : v === undefined ? null : v }
  } catch (e) {
    if (e instanceof StorageError) return { err: e.code }
    throw e
  }
}

/** Every file under `dir` as text, directories as nested objects. */
function dump(s: Storage, dir: string): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const name of [...s.list(dir)].sort()) {
    const p = `${dir}/${name}`
    const r = attempt(() => s.readFile(p))
    out[name] = 'ok' in r ? r.ok : dump(s, p)
  }
  return out
}

function newSim(setup?: (s: SimStorage) => void): SimStorage {
  const s = new SimStorage()
  s.mkdirp('/data')
  s.syncDir('/')
  setup?.(s)
  return s
}

/** A file created, filled, synced, and named durably. */
function durableFile(s: Storage, path: string, content: string): void {
  const f = s.open(path, { create: true })
  f.append(enc(content))
  f.sync()
  f.close()
  s.syncDir(path.slice(0, path.lastIndexOf('/')) || '/')
}

// ---------------------------------------------------------------- conformance

/** One fixed sequence of calls, run against both implementations; the outcomes must agree. */
function script(s: Storage, root: string): Result[] {
  const out: Result[] = []
  const r = (fn: () => unknown): void => {
    out.push(attempt(fn))
  }
  const p = (rel: string): string => `${root}/${rel}`
  const ls = (dir: string): string[] => [...s.list(dir)].sort() // readdir order is the file system's
  let f!: StorageFile
  let g!: StorageFile
  r(() => ls(root))
  r(() => s.open(p('missing')))
  r(() => s.open(p('nodir/x'), { create: true }))
  r(() => {
    f = s.open(p('a'), { create: true })
    return f.size()
  })
  r(() => f.append(enc('hello')))
  r(() => f.append(enc(' world')))
  r(() => f.append(new Uint8Array(0)))
  r(() => f.size())
  r(() => f.writeAt(enc('HE'), 0))
  r(() => f.writeAt(enc('!'), 14)) // a hole of zeros before it
  r(() => f.size())
  r(() => {
    const b = new Uint8Array(20).fill(7)
    return [f.readInto(b, 2, 18, 0), Array.from(b)]
  })
  r(() => {
    const b = new Uint8Array(4)
    return [f.readInto(b, 0, 4, 100), f.readInto(b, 0, 4, 13)]
  })
  r(() => f.writeAt(enc('x'), -1))
  r(() => f.readInto(new Uint8Array(1), 0, 1, -1))
  r(() => f.truncate(-1))
  r(() => f.truncate(3))
  r(() => f.truncate(6)) // extends with zeros
  r(() => Array.from(s.readFile(p('a'))!))
  r(() => f.sync())
  r(() => {
    g = s.open(p('a'), { create: true }) // an existing file is not truncated
    return g.size()
  })
  r(() => g.append(enc('xy')))
  r(() => f.size()) // a handle's size follows its own writes only (FsFile caches it)
  r(() => s.readFile(p('a'))?.length)
  r(() => g.close())
  r(() => g.close()) // closing twice is harmless
  r(() => g.append(enc('x')))
  r(() => g.writeAt(enc('x'), 0))
  r(() => g.readInto(new Uint8Array(1), 0, 1, 0))
  r(() => g.truncate(0))
  r(() => g.sync())
  r(() => s.exists(p('a')))
  r(() => s.exists(p('a/x')))
  r(() => s.exists(p('zz')))
  r(() => s.mkdirp(p('d/e/f')))
  r(() => s.mkdirp(p('d/e')))
  r(() => s.mkdirp(p('a')))
  r(() => s.mkdirp(p('a/x/y')))
  r(() => ls(p('d')))
  r(() => ls(p('a')))
  r(() => ls(p('a/x')))
  r(() => ls(p('nope/x')))
  r(() => s.open(p('d')))
  r(() => s.open(p('d'), { create: true }))
  r(() => s.open(p('a/x'), { create: true }))
  r(() => s.readFile(p('zz')))
  r(() => s.readFile(p('d')))
  r(() => s.readFile(p('a/x')))
  r(() => s.syncDir(p('d')))
  r(() => s.syncDir(p('nope')))
  r(() => s.syncDir(p('a/x')))
  r(() => durableFile(s, p('b'), 'bee'))
  r(() => s.rename(p('b'), p('c')))
  r(() => [s.exists(p('b')), text(s.readFile(p('c')))])
  r(() => s.rename(p('c'), p('a'))) // replaces a; f still reads the old inode
  r(() => text(s.readFile(p('a'))))
  r(() => {
    const b = new Uint8Array(3)
    return [f.readInto(b, 0, 3, 0), Array.from(b), f.size()]
  })
  r(() => f.append(enc('zz'))) // writes to the unlinked inode work
  r(() => text(s.readFile(p('a'))))
  r(() => f.close())
  r(() => s.rename(p('missing'), p('x')))
  r(() => s.rename(p('a'), p('nodir/a')))
  r(() => s.rename(p('a'), p('a/b')))
  r(() => s.rename(p('a/x'), p('b')))
  r(() => s.rename(p('a'), p('d')))
  r(() => s.rename(p('d'), p('a')))
  r(() => s.mkdirp(p('full/x')))
  r(() => s.rename(p('d'), p('full')))
  r(() => s.rename(p('d'), p('d/e/g')))
  r(() => s.rename(p('d'), p('d')))
  r(() => s.rename(p('d/e/f'), p('d')))
  r(() => s.rename(p('d/e'), p('d')))
  r(() => s.rename(p('a'), p('a')))
  r(() => s.mkdirp(p('empty')))
  r(() => s.rename(p('d'), p('empty')))
  r(() => ls(root))
  r(() => ls(p('empty')))
  r(() => s.rename(p('empty/e'), p('e2')))
  r(() => s.remove(p('a')))
  r(() => s.remove(p('a')))
  r(() => s.remove(p('nope/a')))
  r(() => s.remove(p('c/x')))
  r(() => s.remove(p('empty')))
  r(() => durableFile(s, p('g'), 'g'))
  r(() => s.removeDir(p('g')))
  r(() => s.removeDir(p('empty')))
  r(() => s.removeDir(p('nope')))
  r(() => durableFile(s, p('h'), 'h'))
  r(() => s.removeDir(p('h/x')))
  r(() => ls(root))
  return out
}

t.test('conformance: a fixed script gives the same outcomes on FsStorage and SimStorage', (t) => {
  const dir = t.testdir()
  const fs = script(new FsStorage(), dir)
  const sim = script(newSim(), '/data')
  t.same(sim, fs)
  t.ok(fs.some((r) => 'err' in r), 'the script exercises errors')
  t.end()
})

/** A seeded random sequence of calls over a small namespace, so that names collide often. */
function randomRun(seed: number, steps: number, s: Storage, root: string, after?: () => void): Array<Result & { call?: string }> {
  const rnd = new SeededRandom(seed)
  const names = ['a', 'b', 'd']
  let last: string[] = []
  const path = (): string => {
    const parts: string[] = []
    for (let i = rnd.int(3); i >= 0; i--) parts.push(names[rnd.int(names.length)]!)
    last.push(`${root}/${parts.join('/')}`)
    return last[last.length - 1]!
  }
  const bytes = (): Uint8Array => {
    const b = new Uint8Array(rnd.int(6))
    for (let i = 0; i < b.length; i++) b[i] = 97 + rnd.int(26)
    return b
  }
  const handles: StorageFile[] = []
  const handle = (): StorageFile | null => (handles.length ? handles[rnd.int(handles.length)]! : null)
  const out: Array<Result & { call?: string }> = []
  const rel = (p: string): string => p.slice(root.length)
  for (let i = 0; i < steps; i++) {
    const op = rnd.int(17)
    const h = handle()
    const at = out.length
    switch (op) {
      case 0:
      case 1: {
        const p = path()
        const create = rnd.int(3) > 0
        out.push(attempt(() => (handles.length < 6 ? (handles.push(s.open(p, { create })), 'opened') : 'skip')))
        break
      }
      case 2:
      case 3: {
        const b = bytes()
        out.push(attempt(() => h?.append(b)))
        break
      }
      case 4: {
        const b = bytes()
        const pos = rnd.int(12)
        out.push(attempt(() => h?.writeAt(b, pos)))
        break
      }
      case 5: {
        const size = rnd.int(12)
        out.push(attempt(() => h?.truncate(size)))
        break
      }
      case 6: {
        const pos = rnd.int(12)
        const len = rnd.int(8)
        out.push(attempt(() => {
          if (!h) return null
          const b = new Uint8Array(len)
          return [h.readInto(b, 0, len, pos), Array.from(b), h.size()]
        }))
        break
      }
      case 7:
        out.push(attempt(() => h?.sync()))
        break
      case 8:
        out.push(attempt(() => {
          if (!h) return null
          handles.splice(handles.indexOf(h), 1)
          h.close()
          return 'closed'
        }))
        break
      case 9: {
        const a = path()
        const b = path()
        out.push(attempt(() => s.rename(a, b)))
        break
      }
      case 10: {
        const p = path()
        out.push(attempt(() => s.remove(p)))
        break
      }
      case 11: {
        const p = path()
        out.push(attempt(() => (rnd.int(4) === 0 ? s.removeDir(p) : 'skip')))
        break
      }
      case 12: {
        const p = path()
        out.push(attempt(() => s.mkdirp(p)))
        break
      }
      case 13: {
        const p = path()
        out.push(attempt(() => s.readFile(p)))
        break
      }
      case 14: {
        const p = path()
        out.push(attempt(() => [s.exists(p), s.list(p).sort()]))
        break
      }
      case 15: {
        const p = path()
        // FsStorage fsyncs a file given to syncDir; SimStorage refuses (ENOTDIR) on purpose.
        out.push(attempt(() => (s.readFile(p) === null ? s.syncDir(p) : 'skip')))
        break
      }
      default:
        out.push(attempt(() => h?.size()))
    }
    for (const r of out.slice(at)) r.call = `${op}:${last.map(rel).join(',')}`
    last = []
    after?.()
  }
  for (const h of handles) h.close()
  out.push({ ok: dump(s, root) })
  return out
}

t.test('conformance: random call sequences give the same outcomes on both', (t) => {
  for (let seed = 1; seed <= 25; seed++) {
    const dir = t.testdir()
    const fs = randomRun(seed, 250, new FsStorage(), dir)
    const sim = newSim()
    const got = randomRun(seed, 250, sim, '/data', () => sim.audit())
    const firstDiff = got.findIndex((r, i) => JSON.stringify(r) !== JSON.stringify(fs[i]))
    t.equal(firstDiff, -1, `seed ${seed}: first divergence at step ${firstDiff}: sim ${JSON.stringify(got[firstDiff])} fs ${JSON.stringify(fs[firstDiff])}`)
  }
  t.end()
})

t.test('where SimStorage is stricter than FsStorage', (t) => {
  const s = newSim()
  durableFile(s, '/data/f', 'x')
  t.throws(() => s.syncDir('/data/f'), { code: 'ENOTDIR' }, 'syncDir of a file is a caller bug')
  t.throws(() => s.remove('/data'), { code: 'EISDIR' })
  const f = s.open('/data/f')
  t.throws(() => f.writeAt(enc('a'), -1), { code: 'EINVAL' })
  t.throws(() => f.writeAt(enc('a'), 1.5), { code: 'EINVAL' })
  t.throws(() => f.truncate(-1), { code: 'EINVAL' })
  t.throws(() => f.readInto(new Uint8Array(2), 0, 5, 0), { code: 'EINVAL' })
  t.throws(() => f.readInto(new Uint8Array(2), -1, 1, 0), { code: 'EINVAL' })
  t.throws(() => f.readInto(new Uint8Array(2), 0, -1, 0), { code: 'EINVAL' })
  t.throws(() => f.readInto(new Uint8Array(2), 0, 1, -1), { code: 'EINVAL' })
  f.close()
  t.throws(() => f.size(), { code: 'EBADF' })
  t.throws(() => f.append(enc('a')), { code: 'EBADF' })
  f.close()
  t.end()
})

t.test('paths: root, relative paths, "." and ".."', (t) => {
  const s = new SimStorage()
  t.equal(s.exists('/'), true)
  t.same(s.list('/'), [])
  t.throws(() => s.open('/'), { code: 'EISDIR' })
  t.throws(() => s.removeDir('/'), { code: 'EBUSY' })
  t.throws(() => s.rename('/', '/x'), { code: 'EBUSY' })
  s.mkdirp('a/./b')
  t.throws(() => s.rename('/a', '/'), { code: 'EBUSY' })
  durableFile(s, 'a/b/../c', 'c')
  t.equal(text(s.readFile('/a/c')), 'c')
  t.same(s.list('a'), ['b', 'c'])
  s.mkdirp('/')
  t.end()
})

// ---------------------------------------------------------------- durability and crashes

t.test('crash: unsynced bytes are lost, synced bytes kept', (t) => {
  const s = newSim()
  const f = s.open('/data/f', { create: true })
  s.syncDir('/data')
  f.append(enc('one'))
  f.sync()
  f.append(enc('two'))
  t.equal(text(s.readFile('/data/f')), 'onetwo')
  s.crash(new SeededRandom(1))
  t.equal(text(s.readFile('/data/f')), 'one')
  t.throws(() => f.append(enc('x')), { code: 'EIO' }, 'handles from before the crash are dead')
  t.throws(() => f.size(), { code: 'EIO' })
  t.throws(() => f.close(), { code: 'EIO' })
  const g = s.open('/data/f')
  t.equal(g.append(enc('3')), 3)
  g.sync()
  g.close()
  s.crash(new SeededRandom(1), 'torn')
  t.equal(text(s.readFile('/data/f')), 'one3')
  s.audit()
  t.end()
})

t.test('crash: a created file exists only after syncDir; its bytes only after sync', (t) => {
  const s = newSim()
  durableFile(s, '/data/kept', 'k')
  const f = s.open('/data/new', { create: true })
  f.append(enc('abc'))
  f.sync()
  f.close()
  s.crash(new SeededRandom(1))
  t.same(s.list('/data'), ['kept'], 'a synced file whose name was never synced is gone')
  const g = s.open('/data/empty', { create: true })
  s.syncDir('/data')
  g.append(enc('abc'))
  s.crash(new SeededRandom(1))
  t.equal(text(s.readFile('/data/empty')), '', 'a durable name with unsynced bytes comes back empty')
  t.end()
})

t.test('crash: unsynced rename, remove, mkdirp and removeDir are reverted', (t) => {
  const s = newSim()
  durableFile(s, '/data/a', 'A')
  durableFile(s, '/data/b', 'B')
  s.rename('/data/a', '/data/x')
  s.remove('/data/b')
  s.mkdirp('/data/sub/deeper')
  s.crash(new SeededRandom(1))
  t.same(dump(s, '/data'), { a: 'A', b: 'B' })

  s.rename('/data/a', '/data/x')
  s.syncDir('/data')
  s.crash(new SeededRandom(1))
  t.same(dump(s, '/data'), { b: 'B', x: 'A' }, 'a rename is durable after syncDir')

  s.mkdirp('/data/sub/deeper')
  s.syncDir('/data')
  durableFile(s, '/data/sub/deeper/f', 'F') // syncs deeper, not sub
  s.crash(new SeededRandom(1))
  t.same(dump(s, '/data'), { b: 'B', sub: {}, x: 'A' }, 'each directory level needs its own syncDir')

  s.mkdirp('/data/sub/deeper')
  s.syncDir('/data/sub')
  durableFile(s, '/data/sub/deeper/f', 'F')
  s.removeDir('/data/sub')
  t.equal(s.exists('/data/sub'), false)
  s.crash(new SeededRandom(1))
  t.same(dump(s, '/data'), { b: 'B', sub: { deeper: { f: 'F' } }, x: 'A' }, 'an unsynced removeDir comes back whole')
  s.removeDir('/data/sub')
  s.syncDir('/data')
  s.crash(new SeededRandom(1))
  t.same(dump(s, '/data'), { b: 'B', x: 'A' })
  s.audit()
  t.end()
})

t.test('crash: a rename across directories synced on one side only', (t) => {
  const s = newSim()
  s.mkdirp('/data/a/x')
  s.mkdirp('/data/b')
  s.syncDir('/data')
  s.syncDir('/data/a')
  durableFile(s, '/data/a/f', 'F')
  s.rename('/data/a/f', '/data/b/f')
  s.rename('/data/a/x', '/data/b/x')
  s.syncDir('/data/b')
  const c = s.clone()
  s.crash(new SeededRandom(1))
  // Both names of f survive (like a hard link); directory x keeps one name so the tree stays a tree.
  t.same(dump(s, '/data'), { a: { f: 'F', x: {} }, b: { f: 'F' } })
  const f = s.open('/data/a/f')
  f.append(enc('!'))
  t.equal(text(s.readFile('/data/b/f')), 'F!', 'one inode, two names')
  s.rename('/data/a/f', '/data/b/f') // same inode: nothing happens
  t.same(s.list('/data/a'), ['f', 'x'])
  s.remove('/data/a/f')
  t.equal(text(s.readFile('/data/b/f')), 'F!')
  f.close()
  s.audit()

  c.syncDir('/data/a') // the other side only, on a copy taken before the crash
  c.rename('/data/b/f', '/data/b/g')
  c.crash(new SeededRandom(1))
  t.same(dump(c, '/data'), { a: {}, b: { f: 'F', x: {} } })
  t.end()
})

t.test('crash: open but unlinked files, and restart', (t) => {
  const s = newSim()
  durableFile(s, '/data/f', 'F')
  const f = s.open('/data/f')
  f.append(enc('1'))
  s.remove('/data/f')
  f.append(enc('2'))
  t.equal(s.usedBytes(), 3, 'an open unlinked file still takes space')
  s.restart()
  t.equal(s.usedBytes(), 0, 'and frees it when its process dies')
  t.throws(() => f.size(), { code: 'EIO' })
  t.equal(s.exists('/data/f'), false)
  s.crash(new SeededRandom(1))
  t.equal(text(s.readFile('/data/f')), 'F', 'the remove was never synced')

  const g = s.open('/data/f')
  g.append(enc('unsynced'))
  s.restart()
  t.equal(text(s.readFile('/data/f')), 'Funsynced', 'a process crash keeps the page cache')
  s.crash(new SeededRandom(1))
  t.equal(text(s.readFile('/data/f')), 'F', 'but the bytes were never synced')
  s.audit()
  t.end()
})

/** Every state a torn crash may leave: k whole ops applied, maybe part of op k. */
function tornStates(durable: string, ops: Array<(b: string) => string[]>): Set<string> {
  const states = new Set<string>([durable])
  let cur = [durable]
  for (const op of ops) {
    const next: string[] = []
    for (const c of cur) {
      const all = op(c)
      for (const x of all) states.add(x)
      next.push(all[all.length - 1]!)
    }
    cur = next
  }
  return states
}

t.test('crash: torn mode keeps a prefix of the ops since the last sync, the last maybe cut', (t) => {
  const seen = new Set<string>()
  const setup = (): [SimStorage, StorageFile] => {
    const s = newSim()
    durableFile(s, '/data/f', 'base')
    const f = s.open('/data/f')
    f.append(enc('AAAA'))
    f.writeAt(enc('xy'), 1)
    f.truncate(6)
    f.append(enc('BBBB'))
    return [s, f]
  }
  // All states reachable: each write applied up to some byte count, the truncate whole.
  const write = (pos: number, w: string) => (c: string): string[] => {
    const out: string[] = []
    for (let n = 1; n <= w.length; n++) {
      const padded = c.length < pos ? c + '\0'.repeat(pos - c.length) : c
      out.push(padded.slice(0, pos) + w.slice(0, n) + padded.slice(pos + n))
    }
    return out
  }
  const allowed = tornStates('base', [
    write(4, 'AAAA'),
    write(1, 'xy'),
    (c) => [c.length >= 6 ? c.slice(0, 6) : c + '\0'.repeat(6 - c.length)],
    write(6, 'BBBB'),
  ])
  for (let seed = 0; seed < 300; seed++) {
    const [s] = setup()
    s.crash(new SeededRandom(seed), 'torn')
    const got = text(s.readFile('/data/f'))!
    t.ok(allowed.has(got), `seed ${seed}: ${JSON.stringify(got)} is a torn state`)
    seen.add(got)
    s.audit()
  }
  t.ok(seen.has('base'), 'sometimes nothing survives')
  t.ok(seen.has('bxyeAA' + 'BBBB'), 'sometimes everything survives')
  t.ok(seen.has('baseAA'), 'sometimes a write is torn in the middle')
  t.ok(seen.size > 6)

  const [s] = setup()
  s.crash(new SeededRandom(1), 'lose-unsynced')
  t.equal(text(s.readFile('/data/f')), 'base')
  t.end()
})

t.test('crash: random mode mixes losing, keeping and tearing per file', (t) => {
  const seen = new Set<string>()
  for (let seed = 0; seed < 200; seed++) {
    const s = newSim()
    durableFile(s, '/data/f', '')
    const f = s.open('/data/f')
    f.append(enc('1234'))
    f.append(enc('5678'))
    s.crash(new SeededRandom(seed), 'random')
    const got = text(s.readFile('/data/f'))!
    t.ok('12345678'.startsWith(got))
    seen.add(got)
  }
  t.ok(seen.has(''))
  t.ok(seen.has('12345678'))
  t.ok([...seen].some((x) => x.length % 4 !== 0), 'some writes are torn')
  t.end()
})

t.test('writeFileAtomic leaves the old or the new content after a crash at every op', (t) => {
  const path = '/data/checkpoint'
  const run = (s: SimStorage, content: string): void => writeFileAtomic(s, path, enc(content))
  for (const old of [null, 'old content']) {
    const counter = newSim((s) => old !== null && run(s, old))
    const base = counter.opsCount
    run(counter, 'NEW')
    const n = counter.opsCount - base
    t.ok(n >= 5, `${n} ops`)
    for (let k = 1; k <= n + 1; k++) {
      for (const mode of MODES) {
        for (let seed = 0; seed < 5; seed++) {
          const s = newSim((s) => old !== null && run(s, old))
          s.setCrashPoint(k)
          let crashed = false
          try {
            run(s, 'NEW')
          } catch (e) {
            if (!(e instanceof SimulatedCrash)) throw e
            crashed = true
          }
          t.equal(crashed, k <= n)
          s.crash(new SeededRandom(seed), mode)
          const got = text(s.readFile(path))
          if (k > n) t.equal(got, 'NEW', 'a completed write survives')
          else t.ok(got === old || got === 'NEW', `crash at ${k}/${n} (${mode}, seed ${seed}): ${JSON.stringify(got)}`)
          s.audit()
        }
      }
    }
  }
  t.end()
})

// ---------------------------------------------------------------- crash points

t.test('crash points: the n-th mutating call crashes, then everything does until crash()', (t) => {
  const s = newSim()
  durableFile(s, '/data/f', 'F')
  const f = s.open('/data/f')
  t.equal(s.isDown, false)
  s.setCrashPoint(2)
  f.append(enc('1'))
  t.throws(() => f.append(enc('2')), SimulatedCrash)
  t.equal(s.isDown, true)
  const down = [
    () => f.size(), () => f.append(enc('x')), () => f.writeAt(enc('x'), 0), () => f.readInto(new Uint8Array(1), 0, 1, 0),
    () => f.truncate(0), () => f.sync(), () => f.close(), () => s.open('/data/f'), () => s.exists('/'), () => s.list('/'),
    () => s.mkdirp('/x'), () => s.rename('/data/f', '/data/g'), () => s.remove('/data/f'), () => s.removeDir('/data'),
    () => s.readFile('/data/f'), () => s.syncDir('/data'),
  ]
  for (const call of down) t.throws(call, { name: 'SimulatedCrash', op: 'append', path: '/data/f' })
  const ops = s.opsCount
  s.restart()
  t.equal(s.opsCount, ops, 'calls while down are not counted')
  t.equal(s.isDown, false)
  t.equal(text(s.readFile('/data/f')), 'F12', 'the crashing append was applied (unsynced)')
  t.throws(() => f.size(), { code: 'EIO' })
  s.crash(new SeededRandom(3))
  t.equal(text(s.readFile('/data/f')), 'F')
  t.end()
})

t.test('crash points: which calls count, and what the crashing call leaves', (t) => {
  const s = newSim()
  const counts: Array<[string, () => unknown, number]> = []
  const f = s.open('/data/f', { create: true })
  const step = (name: string, call: () => unknown, delta: number): void => {
    const before = s.opsCount
    try {
      call()
    } catch (e) {
      if (!(e instanceof StorageError)) throw e
    }
    counts.push([name, call, s.opsCount - before - delta])
  }
  step('append', () => f.append(enc('a')), 1)
  step('writeAt', () => f.writeAt(enc('a'), 0), 1)
  step('truncate', () => f.truncate(1), 1)
  step('sync', () => f.sync(), 1)
  step('size', () => f.size(), 0)
  step('readInto', () => f.readInto(new Uint8Array(1), 0, 1, 0), 0)
  step('open existing', () => s.open('/data/f', { create: true }).close(), 0)
  step('open creating', () => s.open('/data/g', { create: true }).close(), 1)
  step('close', () => f.close(), 0)
  step('rename', () => s.rename('/data/g', '/data/h'), 1)
  step('failing rename', () => s.rename('/data/nope', '/data/h'), 1)
  step('remove', () => s.remove('/data/h'), 1)
  step('removeDir', () => s.removeDir('/data/nope'), 1)
  step('mkdirp', () => s.mkdirp('/data/d'), 1)
  step('syncDir', () => s.syncDir('/data'), 1)
  step('reads', () => [s.exists('/data'), s.list('/data'), s.readFile('/data/f')], 0)
  t.same(counts.filter(([, , off]) => off !== 0).map(([n]) => n), [])

  const crashAt = (setup: (s: SimStorage) => () => void): SimStorage => {
    const s = newSim()
    const call = setup(s)
    s.setCrashPoint(1)
    t.throws(call, SimulatedCrash)
    s.restart()
    return s
  }
  t.equal(crashAt((s) => () => s.open('/data/n', { create: true })).exists('/data/n'), false, 'a crashing create creates nothing')
  t.equal(crashAt((s) => () => s.mkdirp('/data/n')).exists('/data/n'), false)
  const r = crashAt((s) => {
    durableFile(s, '/data/a', 'a')
    return () => s.rename('/data/a', '/data/b')
  })
  t.same(r.list('/data'), ['a'], 'a crashing rename renames nothing')
  const tr = crashAt((s) => {
    durableFile(s, '/data/a', 'abc')
    const f = s.open('/data/a')
    return () => f.truncate(1)
  })
  t.equal(text(tr.readFile('/data/a')), 'a', 'a crashing truncate is applied, unsynced')
  const sy = crashAt((s) => {
    durableFile(s, '/data/a', 'abc')
    const f = s.open('/data/a')
    f.append(enc('d'))
    return () => f.sync()
  })
  sy.crash(new SeededRandom(1))
  t.equal(text(sy.readFile('/data/a')), 'abc', 'a crashing sync syncs nothing')
  t.end()
})

t.test('crash points: arming, disarming and validation', (t) => {
  const s = newSim()
  t.throws(() => s.setCrashPoint(0), RangeError)
  t.throws(() => s.setCrashPoint(1.5), RangeError)
  s.setCrashPoint(1)
  s.setCrashPoint(null)
  s.mkdirp('/a')
  s.setCrashPoint(2)
  s.crash(new SeededRandom(1))
  s.mkdirp('/a')
  s.mkdirp('/a')
  t.equal(s.isDown, false, 'crash() disarms a crash point')
  s.setCrashPoint(1)
  const next = s.opsCount + 1
  t.throws(() => s.mkdirp('/b'), { name: 'SimulatedCrash', opIndex: next })
  t.match(new SimulatedCrash('sync', '/x', 7).message, /op 7 \(sync \/x\)/)
  t.end()
})

/** A tiny log: fixed-size records appended, synced every third, a checkpoint of the synced count written atomically. */
function logScenario(s: Storage, records: number): void {
  s.mkdirp('/log')
  s.syncDir('/')
  const f = s.open('/log/seg', { create: true })
  s.syncDir('/log')
  for (let i = 0; i < records; i++) {
    f.append(enc(`r${String(i).padStart(6, '0')};`))
    if (i % 3 === 2) {
      f.sync()
      writeFileAtomic(s, '/log/checkpoint', enc(String(i + 1)))
    }
  }
  f.close()
}

function logOutcome(s: SimStorage): { seg: string; checkpoint: number } {
  const seg = text(s.readFile('/log/seg')) ?? ''
  return { seg, checkpoint: Number(text(s.readFile('/log/checkpoint')) ?? '0') }
}

t.test('crash points: 1,000 random crashes of a small log keep every checkpointed record', (t) => {
  const counter = new SimStorage()
  logScenario(counter, 12)
  const total = counter.opsCount
  const full = logOutcome(counter).seg
  t.equal(full.length, 12 * 8)
  const pick = new SeededRandom(2024)
  let violations = 0
  let checkpointed = 0
  let torn = 0
  for (let i = 0; i < 1000; i++) {
    const k = 1 + pick.int(total)
    const mode = MODES[pick.int(3)]!
    const seed = pick.nextUint32()
    const s = new SimStorage()
    s.setCrashPoint(k)
    t.throws(() => logScenario(s, 12), SimulatedCrash)
    s.crash(new SeededRandom(seed), mode)
    const { seg, checkpoint } = logOutcome(s)
    if (!full.startsWith(seg) || seg.length < checkpoint * 8 || !Number.isInteger(checkpoint)) {
      violations++
      t.fail(`crash at ${k} (${mode}, seed ${seed}): checkpoint ${checkpoint}, ${seg.length} bytes`)
    }
    if (checkpoint > 0) checkpointed++
    if (seg.length % 8 !== 0) torn++
    s.audit()
  }
  t.equal(violations, 0)
  t.ok(checkpointed > 100 && torn > 10, `the sweep reaches checkpoints (${checkpointed}) and torn tails (${torn})`)
  t.end()
})

t.test('crash points: the sweep catches an atomic write that skips its sync or its syncDir', (t) => {
  const noSync = (s: Storage, path: string, data: Uint8Array): void => {
    const f = s.open(`${path}.tmp`, { create: true })
    f.truncate(0)
    f.append(data)
    f.close()
    s.rename(`${path}.tmp`, path)
    s.syncDir('/data')
  }
  const noSyncDir = (s: Storage, path: string, data: Uint8Array): void => {
    const f = s.open(`${path}.tmp`, { create: true })
    f.append(data)
    f.sync()
    f.close()
    s.rename(`${path}.tmp`, path)
  }
  for (const [name, write] of [['no sync', noSync], ['no syncDir', noSyncDir]] as const) {
    const bad = new Set<string>()
    for (let k = 1; k <= 8; k++) {
      for (let seed = 0; seed < 4; seed++) {
        const s = newSim((s) => writeFileAtomic(s, '/data/c', enc('old')))
        s.setCrashPoint(k)
        try {
          write(s, '/data/c', enc('new!'))
        } catch (e) {
          if (!(e instanceof SimulatedCrash)) throw e
        }
        const completed = !s.isDown
        s.crash(new SeededRandom(seed), 'torn')
        const got = text(s.readFile('/data/c'))
        if (got !== 'old' && got !== 'new!') bad.add(`torn: ${JSON.stringify(got)}`)
        if (completed && got !== 'new!') bad.add('a completed write was lost')
      }
    }
    t.ok(bad.size > 0, `${name}: ${[...bad].join('; ')}`)
  }
  t.end()
})

t.test('determinism: the same seed gives the same disk, other seeds other disks', (t) => {
  const outcome = (k: number, seed: number): string => {
    const s = new SimStorage()
    s.setCrashPoint(k)
    try {
      logScenario(s, 12)
    } catch (e) {
      if (!(e instanceof SimulatedCrash)) throw e
    }
    s.crash(new SeededRandom(seed), 'random')
    return JSON.stringify([s.opsCount, s.usedBytes(), dump(s, '/')])
  }
  const outcomes = new Set<string>()
  for (const k of [8, 23, 40]) {
    for (let seed = 0; seed < 10; seed++) {
      const a = outcome(k, seed)
      t.equal(outcome(k, seed), a, `crash at ${k}, seed ${seed} replays`)
      outcomes.add(a)
    }
  }
  t.ok(outcomes.size > 1, 'seeds matter')
  t.end()
})

// ---------------------------------------------------------------- faults

t.test('faults: ENOSPC and EIO on appends, whole or partial', (t) => {
  const s = newSim()
  const f = s.open('/data/f', { create: true })
  s.injectFault({ op: 'append', code: 'ENOSPC', times: 1 })
  t.throws(() => f.append(enc('abcd')), { code: 'ENOSPC', path: '/data/f' })
  t.equal(f.size(), 0, 'nothing written')
  t.equal(f.append(enc('ok')), 0, 'times: 1 fails once')
  s.injectFault({ op: 'append', code: 'EIO', partial: true, times: 1 })
  t.throws(() => f.append(enc('abcde')), { code: 'EIO' })
  t.equal(text(s.readFile('/data/f')), 'okab', 'half the bytes reached the file')
  t.equal(f.size(), 2, 'but the handle, like FsFile, still counts only what succeeded')
  t.equal(f.append(enc('cd')), 2, 'so the next append writes over the torn prefix')
  s.injectFault({ op: 'any-write', code: 'ENOSPC', partial: 3, times: 1 })
  t.throws(() => f.writeAt(enc('WXYZ'), 2), { code: 'ENOSPC' })
  t.equal(text(s.readFile('/data/f')), 'okWXY')
  s.injectFault({ op: 'writeAt', code: 'EIO', partial: 99, times: 1 })
  t.throws(() => f.writeAt(enc('12'), 0), { code: 'EIO' })
  t.equal(text(s.readFile('/data/f')), '12WXY', 'a partial count above the length writes it all, still failing')
  s.audit()
  t.end()
})

t.test('faults: after, times, path matching and clearFaults', (t) => {
  const s = newSim()
  s.injectFault({ op: 'open', path: /\/b$/g, code: 'EIO', after: 2, times: 2 })
  const outcomes: string[] = []
  for (let i = 0; i < 6; i++) {
    const r = attempt(() => s.open('/data/b', { create: true }).close())
    outcomes.push('err' in r ? r.err : 'ok')
  }
  t.same(outcomes, ['ok', 'ok', 'EIO', 'EIO', 'ok', 'ok'])
  s.open('/data/a', { create: true }).close()

  s.injectFault({ op: 'rename', path: 'data//c', code: 'EIO' })
  s.rename('/data/a', '/data/x')
  t.throws(() => s.rename('/data/x', '/data/c'), { code: 'EIO', path: '/data/x' }, 'either rename path matches')
  t.throws(() => s.rename('/data/c', '/data/x'), { code: 'EIO' })
  s.clearFaults()
  s.rename('/data/x', '/data/c')

  s.injectFault({ op: 'remove', path: '/data/c', code: 'EIO', times: 1 })
  s.injectFault({ op: 'remove', code: 'ENOSPC', times: 1 })
  t.throws(() => s.remove('/data/c'), { code: 'EIO' }, 'the first matching fault wins')
  t.throws(() => s.removeDir('/data/c'), { code: 'ENOSPC' })
  s.remove('/data/c')

  const f = s.open('/data/b')
  const each: Array<[Parameters<SimStorage['injectFault']>[0]['op'], () => unknown]> = [
    ['truncate', () => f.truncate(0)],
    ['sync', () => f.sync()],
    ['syncDir', () => s.syncDir('/data')],
    ['mkdirp', () => s.mkdirp('/data/m')],
    ['read', () => f.readInto(new Uint8Array(1), 0, 1, 0)],
    ['read', () => s.readFile('/data/b')],
    ['any', () => s.readFile('/data/b')],
    ['any-write', () => s.open('/data/new', { create: true })],
  ]
  for (const [op, call] of each) {
    s.injectFault({ op, code: 'EIO', times: 1 })
    t.throws(call, { code: 'EIO' }, op)
    call()
  }
  s.injectFault({ op: 'any-write', code: 'EIO' })
  t.ok(s.open('/data/b'), 'a non-creating open is not a write')
  t.same(s.list('/data'), ['b', 'm', 'new'], 'listing never fails')
  s.clearFaults()
  t.throws(() => s.injectFault({ op: 'any', code: 'EIO', after: -1 }), RangeError)
  t.throws(() => s.injectFault({ op: 'any', code: 'EIO', times: -1 }), RangeError)
  t.end()
})

t.test('faults: a failed sync makes nothing durable; faults survive a crash', (t) => {
  const s = newSim()
  durableFile(s, '/data/f', 'F')
  const f = s.open('/data/f')
  f.append(enc('more'))
  s.injectFault({ op: 'sync', code: 'EIO', path: '/data/f' })
  t.throws(() => f.sync(), { code: 'EIO' })
  s.crash(new SeededRandom(1))
  t.equal(text(s.readFile('/data/f')), 'F')
  t.throws(() => s.open('/data/f').sync(), { code: 'EIO' })
  t.end()
})

t.test('capacity: ENOSPC when the files would outgrow the disk', (t) => {
  const s = new SimStorage({ capacityBytes: 10 })
  t.equal(s.capacityBytes, 10)
  const f = s.open('/f', { create: true })
  f.append(enc('12345678'))
  t.throws(() => f.append(enc('abc')), { code: 'ENOSPC' })
  t.equal(f.size(), 8, 'a write that does not fit writes nothing')
  f.writeAt(enc('ABCDEFGH'), 0)
  t.equal(s.usedBytes(), 8, 'overwriting takes no space')
  t.throws(() => f.truncate(11), { code: 'ENOSPC' })
  f.truncate(10)
  t.equal(s.usedBytes(), 10)
  const g = s.open('/g', { create: true })
  t.throws(() => g.append(enc('x')), { code: 'ENOSPC' })
  s.remove('/f')
  t.equal(s.usedBytes(), 10, 'an open file keeps its space')
  f.close()
  t.equal(s.usedBytes(), 0)
  g.append(enc('x'))
  const h = s.open('/h', { create: true })
  h.append(enc('123'))
  h.close()
  s.rename('/h', '/g')
  t.equal(s.usedBytes(), 4, 'the replaced file is still open')
  g.close()
  t.equal(s.usedBytes(), 3)
  s.audit()
  t.throws(() => new SimStorage({ capacityBytes: -1 }), RangeError)
  t.throws(() => new SimStorage({ capacityBytes: Number.NaN }), RangeError)
  t.end()
})

t.test('capacity: partialWrites writes the prefix that fits', (t) => {
  const s = new SimStorage({ capacityBytes: 6, partialWrites: true })
  const f = s.open('/f', { create: true })
  f.append(enc('1234'))
  t.throws(() => f.append(enc('abcd')), { code: 'ENOSPC' })
  t.equal(text(s.readFile('/f')), '1234ab')
  t.throws(() => f.writeAt(enc('XYZ'), 5), { code: 'ENOSPC' })
  t.equal(text(s.readFile('/f')), '1234aX', 'bytes over existing ones fit')
  t.throws(() => f.writeAt(enc('far'), 9), { code: 'ENOSPC' })
  t.equal(s.readFile('/f')!.length, 6, 'nothing fits past a hole that does not')
  f.truncate(2)
  s.injectFault({ op: 'append', code: 'EIO', partial: 4, times: 1 })
  t.throws(() => f.append(enc('abcdef')), { code: 'EIO' }, 'the injected fault is what the caller sees')
  t.equal(text(s.readFile('/f')), '12abcd')
  const g = s.open('/f')
  s.setCrashPoint(1)
  t.throws(() => g.append(enc('zz')), SimulatedCrash)
  s.restart()
  t.equal(text(s.readFile('/f')), '12abcd', 'a crashing write is still bound by the capacity')
  const h = s.open('/f')
  s.setCrashPoint(1)
  t.throws(() => h.truncate(100), SimulatedCrash)
  s.restart()
  t.equal(s.readFile('/f')!.length, 6)
  s.audit()
  t.end()
})

// ---------------------------------------------------------------- clone and audit

t.test('clone: an independent copy without the open handles', (t) => {
  const s = newSim()
  durableFile(s, '/data/f', 'F')
  const f = s.open('/data/f')
  f.append(enc('unsynced'))
  const g = s.open('/data/gone', { create: true })
  g.append(enc('123'))
  s.remove('/data/gone')
  s.injectFault({ op: 'mkdirp', code: 'EIO', after: 1 })
  const c = s.clone()
  t.equal(c.usedBytes(), 9, 'the unlinked open file is not carried over')
  t.equal(s.usedBytes(), 12)
  c.audit()
  c.mkdirp('/x')
  t.throws(() => c.mkdirp('/y'), { code: 'EIO' }, 'faults are copied with their counters')
  s.mkdirp('/x')
  c.crash(new SeededRandom(1))
  t.equal(text(c.readFile('/data/f')), 'F')
  t.equal(text(s.readFile('/data/f')), 'Funsynced', 'the original is untouched')
  f.sync()
  s.crash(new SeededRandom(1))
  t.equal(text(s.readFile('/data/f')), 'Funsynced')

  s.setCrashPoint(1)
  t.throws(() => s.mkdirp('/z'), SimulatedCrash)
  const down = s.clone()
  t.equal(down.isDown, true, 'a clone of a crashed disk is crashed too')
  t.equal(down.opsCount, s.opsCount)
  down.crash(new SeededRandom(2), 'torn')
  t.equal(s.isDown, true)
  t.end()
})

t.test('audit: detects broken bookkeeping', (t) => {
  const s = newSim()
  durableFile(s, '/data/f', 'F')
  s.audit()
  const inner = s as unknown as {
    used: number
    root: { entries: Map<string, { entries: Map<string, { data: { length: number; buf: Uint8Array }; links: number }> }> }
  }
  inner.used++
  t.throws(() => s.audit(), /invariant broken: used/)
  inner.used--
  const file = inner.root.entries.get('data')!.entries.get('f')!
  file.links++
  t.throws(() => s.audit(), /links/)
  file.links--
  file.data.buf[0] = 0x47
  t.throws(() => s.audit(), /durable bytes/, 'a byte differs')
  file.data.buf[0] = 0x46
  s.audit()
  file.data.length = 0
  inner.used--
  t.throws(() => s.audit(), /durable bytes/, 'the length differs')
  t.end()
})
