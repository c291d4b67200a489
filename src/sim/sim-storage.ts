/**
 * SimStorage — an in-memory Storage whose disk can lose power, for crash-point tests.
 *
 * Model (the Storage contract, taken pessimistically):
 * - The tree is made of inodes. A directory has two maps name→inode: `entries` (what the
 *   running system sees) and `durable` (what survives power loss). create, rename, remove,
 *   removeDir and mkdirp change `entries` only; `syncDir(d)` copies d's entries to its
 *   durable map. A rename across two directories needs a syncDir of both.
 * - A file has its current bytes, its durable bytes and the log of data ops (write at a
 *   position, truncate) since its last sync; `sync()` replays that log onto the durable bytes.
 * - crash(random, mode): the tree becomes what is reachable from the root through durable
 *   maps; each surviving file gets its durable bytes ('lose-unsynced'), or its durable bytes
 *   plus a random prefix of its op log whose last op may be cut short ('torn'), or per file
 *   one of lose / keep all / torn ('random'). Handles opened before throw EIO.
 *   restart() is a process crash without power loss: handles die, bytes stay (still unsynced).
 * - setCrashPoint(n): the n-th mutating call from now throws SimulatedCrash. A data op
 *   (append, writeAt, truncate) is applied first as an unsynced op, so that a torn crash may
 *   keep a prefix of it; other ops are not applied. Until crash()/restart(), every call
 *   throws SimulatedCrash. Mutating calls are the ones `opsCount` counts: append, writeAt,
 *   truncate, sync, open that creates, rename, remove, removeDir, mkdirp, syncDir.
 * - Paths are '/'-separated, resolved from the root ('.' and empty segments ignored, '..'
 *   lexical). Every random choice comes from the Random passed to crash().
 * Errors match FsStorage's (the test runs both on the same calls), except where the simulator
 * is stricter: syncDir() on a file throws ENOTDIR (fs fsyncs the file), size() on a closed
 * handle throws EBADF (FsFile answers from its cache), readInto() checks offset and length
 * (EINVAL; Node throws ERR_OUT_OF_RANGE). Like FsFile, a handle's size() is its own cached
 * view (see SimFile.length).
 */
import { type OpenOptions, type Storage, StorageError, type StorageFile } from '../log/storage.ts'
import type { Random } from './random.ts'

export type CrashMode = 'lose-unsynced' | 'torn' | 'random'

export interface SimStorageOptions {
  /** Disk size: a call that would make the files' total current bytes exceed it throws ENOSPC. */
  capacityBytes?: number
  /** A write that does not fit writes the prefix that fits before throwing ENOSPC (as disks do). */
  partialWrites?: boolean
}

/**
 * Which calls a fault matches. 'remove' covers remove and removeDir; 'read' covers readInto
 * and readFile; 'any-write' every mutating call (those opsCount counts); 'any' every call
 * that can fail with a fault (exists, list and size never do).
 */
export type FaultOp =
  | 'append' | 'writeAt' | 'truncate' | 'sync' | 'syncDir' | 'open' | 'rename' | 'remove' | 'mkdirp'
  | 'read' | 'any-write' | 'any'

export interface Fault {
  op: FaultOp
  /** A string matches the path exactly (after normalisation); for rename, either path may match. */
  path?: RegExp | string
  code: 'ENOSPC' | 'EIO'
  /** Succeed this many matching calls first (default 0). */
  after?: number
  /** An append/writeAt writes a prefix before failing: true = half its bytes, a number = that many. */
  partial?: boolean | number
  /** How many matching calls fail (default: every one until clearFaults()). */
  times?: number
}

/** Thrown by every call from a crash point until crash() or restart(). Not a StorageError, so that code handling disk errors does not swallow it. */
export class SimulatedCrash extends Error {
  readonly op: string
  readonly path: string
  /** The opsCount of the call that crashed. */
  readonly opIndex: number
  constructor(op: string, path: string, opIndex: number) {
    super(`simulated crash at storage op ${opIndex} (${op} ${path})`)
    this.name = 'SimulatedCrash'
    this.op = op
    this.path = path
    this.opIndex = opIndex
  }
}

type Op = 'append' | 'writeAt' | 'truncate' | 'sync' | 'syncDir' | 'open' | 'create' | 'rename' | 'remove' | 'removeDir' | 'mkdirp' | 'read'
const MUTATING: ReadonlySet<Op> = new Set<Op>(['append', 'writeAt', 'truncate', 'sync', 'syncDir', 'create', 'rename', 'remove', 'removeDir', 'mkdirp'])

function matchesOp(f: FaultOp, op: Op): boolean {
  switch (f) {
    case 'any': return true
    case 'any-write': return MUTATING.has(op)
    case 'open': return op === 'open' || op === 'create'
    case 'remove': return op === 'remove' || op === 'removeDir'
    default: return f === op
  }
}

function invariant(cond: boolean, what: string): asserts cond {
  if (!cond) throw new Error(`SimStorage invariant broken: ${what}`)
}

/** A growable byte buffer. Bytes past `length` are kept zero, so that extending a file (by truncate or by writing past its end) reads as zeros. */
class Bytes {
  private buf: Uint8Array
  length: number

  constructor(content: Uint8Array = new Uint8Array(0)) {
    this.buf = content
    this.length = content.length
  }

  write(pos: number, src: Uint8Array): void {
    const end = pos + src.length
    this.reserve(end)
    this.buf.set(src, pos)
    if (end > this.length) this.length = end
  }

  truncate(size: number): void {
    if (size < this.length) this.buf.fill(0, size, this.length)
    else this.reserve(size)
    this.length = size
  }

  read(into: Uint8Array, offset: number, length: number, pos: number): number {
    const n = Math.max(0, Math.min(length, this.length - pos))
    into.set(this.buf.subarray(pos, pos + n), offset)
    return n
  }

  copy(): Bytes {
    return new Bytes(this.toArray())
  }

  toArray(): Uint8Array {
    return this.buf.slice(0, this.length)
  }

  equals(other: Bytes): boolean {
    if (other.length !== this.length) return false
    for (let i = 0; i < this.length; i++) if (this.buf[i] !== other.buf[i]) return false
    return true
  }

  private reserve(n: number): void {
    if (n <= this.buf.length) return
    const next = new Uint8Array(Math.max(n, this.buf.length * 2, 64))
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
  }
}

type DataOp = { kind: 'write'; pos: number; bytes: Uint8Array } | { kind: 'truncate'; size: number }

function applyOp(to: Bytes, op: DataOp, limit = Infinity): void {
  if (op.kind === 'truncate') to.truncate(op.size)
  else to.write(op.pos, limit < op.bytes.length ? op.bytes.subarray(0, limit) : op.bytes)
}

class FileNode {
  readonly kind = 'file'
  data: Bytes
  durable: Bytes
  /** Data ops since the last sync: durable + these = data. */
  pending: DataOp[]
  /** Entries pointing here in the current tree. */
  links = 0
  /** Open handles of the current boot. */
  handles = 0
  constructor(data = new Bytes(), durable = new Bytes(), pending: DataOp[] = []) {
    this.data = data
    this.durable = durable
    this.pending = pending
  }
}

class DirNode {
  readonly kind = 'dir'
  entries = new Map<string, Node>()
  durable = new Map<string, Node>()
}

type Node = FileNode | DirNode

function segments(path: string): string[] {
  const out: string[] = []
  for (const s of path.split('/')) {
    if (s === '' || s === '.') continue
    if (s === '..') out.pop()
    else out.push(s)
  }
  return out
}

type Lookup = { node: Node; chain: DirNode[] } | { error: 'ENOENT' | 'ENOTDIR' }

/** What a SimFile may ask of its disk (kept off SimStorage's public surface). */
interface FileIO {
  guard(): void
  boot(): number
  write(path: string, node: FileNode, op: 'append' | 'writeAt', data: Uint8Array, pos: number): void
  truncate(path: string, node: FileNode, size: number): void
  sync(path: string, node: FileNode): void
  read(path: string): void
  close(node: FileNode): void
}

interface FaultState {
  spec: Fault
  path: RegExp | string | undefined
  after: number
  times: number
  partial: boolean | number
  seen: number
  fired: number
}

export class SimStorage implements Storage {
  readonly capacityBytes: number
  readonly partialWrites: boolean
  private root = new DirNode()
  /** Handles remember the boot they were opened in; a crash or restart starts a new one. */
  private boot = 0
  private ops = 0
  private crashAt: number | null = null
  private down: SimulatedCrash | null = null
  private faults: FaultState[] = []
  /** Total current bytes of live files (linked in the current tree, or open). */
  private used = 0
  private opened = new Set<FileNode>()
  private readonly io: FileIO = {
    guard: () => this.guard(),
    boot: () => this.boot,
    write: (path, node, op, data, pos) => this.write(path, node, op, data, pos),
    truncate: (path, node, size) => this.truncateFile(path, node, size),
    sync: (path, node) => this.syncFile(path, node),
    read: (path) => this.fault('read', path),
    close: (node) => this.closeFile(node),
  }

  constructor(options: SimStorageOptions = {}) {
    this.capacityBytes = options.capacityBytes ?? Infinity
    this.partialWrites = options.partialWrites ?? false
    if (!(this.capacityBytes >= 0)) throw new RangeError(`capacityBytes must be >= 0, got ${this.capacityBytes}`)
  }

  // ---- the Storage seam ----

  open(path: string, options: OpenOptions = {}): StorageFile {
    this.guard()
    const { dir, name } = this.parent(path)
    if (name === null) throw new StorageError('EISDIR', path, 'is a directory')
    let node = dir.entries.get(name)
    if (node?.kind === 'dir') throw new StorageError('EISDIR', path, 'is a directory')
    if (!node && !options.create) throw new StorageError('ENOENT', path, 'no such file')
    const creating = !node
    if (creating) this.tick('create', path)
    this.fault(creating ? 'create' : 'open', path)
    if (!node) {
      node = new FileNode()
      dir.entries.set(name, node)
      this.link(node)
    }
    node.handles++
    this.opened.add(node)
    return new SimFile(this.io, node, path, this.boot)
  }

  exists(path: string): boolean {
    this.guard()
    return 'node' in this.lookup(segments(path))
  }

  list(dir: string): string[] {
    this.guard()
    const r = this.lookup(segments(dir))
    if ('error' in r) {
      if (r.error === 'ENOENT') return []
      throw new StorageError(r.error, dir, 'not a directory')
    }
    if (r.node.kind === 'file') throw new StorageError('ENOTDIR', dir, 'not a directory')
    return [...r.node.entries.keys()].sort()
  }

  mkdirp(dir: string): void {
    this.guard()
    this.tick('mkdirp', dir)
    this.fault('mkdirp', dir)
    const segs = segments(dir)
    let cur = this.root
    for (let i = 0; i < segs.length; i++) {
      const next = cur.entries.get(segs[i]!)
      if (next === undefined) {
        const made = new DirNode()
        cur.entries.set(segs[i]!, made)
        cur = made
      } else if (next.kind === 'file') {
        throw new StorageError(i === segs.length - 1 ? 'EEXIST' : 'ENOTDIR', dir, 'a file is in the way')
      } else {
        cur = next
      }
    }
  }

  rename(from: string, to: string): void {
    this.guard()
    this.tick('rename', from)
    this.fault('rename', from, to)
    // Errors name `from`, as FsStorage's do.
    const src = this.parent(from, from)
    const dst = this.parent(to, from)
    if (src.name === null || dst.name === null) throw new StorageError('EBUSY', from, 'cannot rename the root')
    const node = src.dir.entries.get(src.name)
    if (!node) throw new StorageError('ENOENT', from, 'no such file or directory')
    const target = dst.dir.entries.get(dst.name)
    if (target === node) return // POSIX: renaming a file onto itself (or a hard link of it) does nothing
    // Linux checks ancestry before types: source above target is EINVAL, target above source ENOTEMPTY.
    if (node.kind === 'dir' && dst.chain.includes(node)) throw new StorageError('EINVAL', from, 'cannot move a directory into itself')
    if (target?.kind === 'dir' && src.chain.includes(target)) throw new StorageError('ENOTEMPTY', from, 'target is an ancestor of the source')
    if (node.kind === 'file') {
      if (target?.kind === 'dir') throw new StorageError('EISDIR', from, 'target is a directory')
    } else {
      if (target?.kind === 'file') throw new StorageError('ENOTDIR', from, 'target is not a directory')
      if (target && target.entries.size > 0) throw new StorageError('ENOTEMPTY', from, 'target directory not empty')
    }
    src.dir.entries.delete(src.name)
    if (target) this.unlink(target)
    dst.dir.entries.set(dst.name, node)
  }

  remove(path: string): void {
    this.guard()
    this.tick('remove', path)
    this.fault('remove', path)
    const segs = segments(path)
    const r = this.lookup(segs)
    if ('error' in r) {
      if (r.error === 'ENOENT') return
      throw new StorageError(r.error, path, 'not a directory')
    }
    if (r.node.kind === 'dir') throw new StorageError('EISDIR', path, 'is a directory')
    this.detach(r.chain[r.chain.length - 1]!, segs[segs.length - 1]!)
  }

  removeDir(dir: string): void {
    this.guard()
    this.tick('removeDir', dir)
    this.fault('removeDir', dir)
    const segs = segments(dir)
    if (segs.length === 0) throw new StorageError('EBUSY', dir, 'cannot remove the root')
    const r = this.lookup(segs)
    if ('error' in r) {
      if (r.error === 'ENOENT') return
      throw new StorageError(r.error, dir, 'not a directory')
    }
    this.detach(r.chain[r.chain.length - 1]!, segs[segs.length - 1]!)
  }

  readFile(path: string): Uint8Array | null {
    this.guard()
    this.fault('read', path)
    const r = this.lookup(segments(path))
    if ('error' in r) {
      if (r.error === 'ENOENT') return null
      throw new StorageError(r.error, path, 'not a directory')
    }
    if (r.node.kind === 'dir') throw new StorageError('EISDIR', path, 'is a directory')
    return r.node.data.toArray()
  }

  syncDir(dir: string): void {
    this.guard()
    this.tick('syncDir', dir)
    this.fault('syncDir', dir)
    const r = this.lookup(segments(dir))
    if ('error' in r) throw new StorageError(r.error, dir, 'cannot sync directory')
    if (r.node.kind === 'file') throw new StorageError('ENOTDIR', dir, 'not a directory')
    r.node.durable = new Map(r.node.entries)
  }

  // ---- simulation controls ----

  /** Mutating calls so far (see the header for which count), crashed ones included. */
  get opsCount(): number {
    return this.ops
  }

  /** True from a crash point until crash() or restart(). */
  get isDown(): boolean {
    return this.down !== null
  }

  /** Total current bytes of the files that exist or are open. */
  usedBytes(): number {
    return this.used
  }

  /** Makes the n-th mutating call from now (n >= 1) crash; null disarms. */
  setCrashPoint(n: number | null): void {
    if (n === null) {
      this.crashAt = null
      return
    }
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`crash point must be an integer >= 1, got ${n}`)
    this.crashAt = this.ops + n
  }

  /** Power loss: see the header. Also disarms the crash point; faults stay. */
  crash(random: Random, mode: CrashMode = 'lose-unsynced'): void {
    const dirs = new Set<DirNode>([this.root])
    const files = new Set<FileNode>()
    const queue: DirNode[] = [this.root]
    for (let i = 0; i < queue.length; i++) {
      const dir = queue[i]!
      const kept = new Map<string, Node>()
      // Sorted so that the draws below do not depend on the order entries were made in.
      for (const name of [...dir.durable.keys()].sort()) {
        const node = dir.durable.get(name)!
        if (node.kind === 'dir') {
          // Directories synced at different times can name one directory twice (a rename
          // synced on one side only); the tree keeps its first name so that it stays a tree.
          if (dirs.has(node)) continue
          dirs.add(node)
          queue.push(node)
        } else if (!files.has(node)) {
          files.add(node)
          this.recover(node, random, mode)
        }
        kept.set(name, node)
      }
      dir.entries = kept
      dir.durable = new Map(kept)
    }
    this.opened.clear()
    for (const f of files) f.handles = 0
    this.reboot()
  }

  /** Process crash without power loss: open handles die (EIO), unsynced bytes stay in the page cache. */
  restart(): void {
    for (const f of this.opened) f.handles = 0
    this.opened.clear()
    this.reboot()
  }

  injectFault(f: Fault): void {
    const after = f.after ?? 0
    const times = f.times ?? Infinity
    if (!Number.isInteger(after) || after < 0) throw new RangeError(`fault.after must be an integer >= 0, got ${after}`)
    if (!(times >= 0)) throw new RangeError(`fault.times must be >= 0, got ${times}`)
    const path = typeof f.path === 'string' ? '/' + segments(f.path).join('/') : f.path
    this.faults.push({ spec: f, path, after, times, partial: f.partial ?? false, seen: 0, fired: 0 })
  }

  clearFaults(): void {
    this.faults = []
  }

  /** An independent copy (current and durable state, faults, crash point, down state) without the open handles: to crash one state several ways. */
  clone(): SimStorage {
    const copy = new SimStorage({ capacityBytes: this.capacityBytes, partialWrites: this.partialWrites })
    const map = new Map<Node, Node>()
    const dup = (n: Node): Node => {
      const seen = map.get(n)
      if (seen) return seen
      if (n.kind === 'file') {
        const f = new FileNode(n.data.copy(), n.durable.copy(), [...n.pending])
        map.set(n, f)
        return f
      }
      const d = new DirNode()
      map.set(n, d) // before recursing: durable maps may form a cycle
      for (const [k, v] of n.entries) d.entries.set(k, dup(v))
      for (const [k, v] of n.durable) d.durable.set(k, dup(v))
      return d
    }
    copy.root = dup(this.root) as DirNode
    copy.ops = this.ops
    copy.crashAt = this.crashAt
    copy.down = this.down
    copy.faults = this.faults.map((f) => ({ ...f }))
    const census = copy.census()
    for (const [f, n] of census.links) f.links = n
    copy.used = census.used
    return copy
  }

  /** Checks the bookkeeping against the tree (for tests): link counts, used bytes, durable + pending = current. */
  audit(): void {
    const census = this.census()
    invariant(census.used === this.used, `used ${this.used} but files hold ${census.used}`)
    for (const f of new Set([...census.links.keys(), ...this.opened])) {
      const n = census.links.get(f) ?? 0
      invariant(f.links === n, `a file has ${f.links} links but ${n} entries point at it`)
      const replayed = f.durable.copy()
      for (const op of f.pending) applyOp(replayed, op)
      invariant(replayed.equals(f.data), 'durable bytes + pending ops differ from current bytes')
      invariant(!this.opened.has(f) || f.handles > 0, 'an opened file has no handles')
    }
  }

  // ---- private ----

  private guard(): void {
    if (this.down) throw new SimulatedCrash(this.down.op, this.down.path, this.down.opIndex)
  }

  /** Counts a mutating call; at the crash point, marks the disk down and returns true. */
  private tick(op: Op, path: string, data = false): boolean {
    this.ops++
    if (this.crashAt !== this.ops) return false
    this.crashAt = null
    this.down = new SimulatedCrash(op, path, this.ops)
    // A data op is applied by its caller before throwing; anything else dies here.
    if (!data) this.guard()
    return true
  }

  /** Throws the first matching fault (or returns it for the caller to write a prefix when it is partial). */
  private fault(op: Op, path: string, path2?: string, data = false): FaultState | null {
    for (const f of this.faults) {
      if (!matchesOp(f.spec.op, op) || !(this.matchesPath(f.path, path) || (path2 !== undefined && this.matchesPath(f.path, path2)))) continue
      if (f.seen < f.after) {
        f.seen++
        continue
      }
      if (f.fired >= f.times) continue
      f.fired++
      if (data) return f
      throw new StorageError(f.spec.code, path, 'injected fault')
    }
    return null
  }

  /** Writes as much of `data` at `pos` as faults and capacity allow; throws what stopped it. */
  private write(path: string, node: FileNode, op: 'append' | 'writeAt', data: Uint8Array, pos: number): void {
    const crashing = this.tick(op, path, true)
    const fault = crashing ? null : this.fault(op, path, undefined, true)
    let n = data.length
    let error: StorageError | null = null
    if (fault) {
      const p = fault.partial
      n = p === true ? Math.floor(n / 2) : p === false ? 0 : Math.max(0, Math.min(p, n))
      error = new StorageError(fault.spec.code, path, 'injected fault')
    }
    const room = this.capacityBytes - this.used
    if (Math.max(0, pos + n - node.data.length) > room) {
      n = this.partialWrites ? Math.max(0, Math.min(n, node.data.length + room - pos)) : 0
      error ??= new StorageError('ENOSPC', path, 'no space left on device')
    }
    if (n > 0) {
      invariant(node.handles > 0, 'a write through a dead handle')
      const bytes = data.slice(0, n) // the caller may reuse its buffer
      const before = node.data.length
      node.data.write(pos, bytes)
      node.pending.push({ kind: 'write', pos, bytes })
      this.used += node.data.length - before
    }
    this.guard() // at a crash point, after the bytes went in
    if (error) throw error
  }

  private truncateFile(path: string, node: FileNode, size: number): void {
    const crashing = this.tick('truncate', path, true)
    if (!crashing) this.fault('truncate', path)
    if (size - node.data.length > this.capacityBytes - this.used) {
      this.guard()
      throw new StorageError('ENOSPC', path, 'no space left on device')
    }
    this.used += size - node.data.length
    node.data.truncate(size)
    node.pending.push({ kind: 'truncate', size })
    this.guard()
  }

  private syncFile(path: string, node: FileNode): void {
    this.tick('sync', path)
    // A failed fsync makes nothing durable: the ops stay pending (and may still be lost).
    this.fault('sync', path)
    for (const op of node.pending) applyOp(node.durable, op)
    node.pending = []
    invariant(node.durable.length === node.data.length, 'a synced file differs from its durable bytes')
  }

  private closeFile(node: FileNode): void {
    invariant(node.handles > 0, 'closing a file with no handles')
    node.handles--
    if (node.handles > 0) return
    this.opened.delete(node)
    if (node.links === 0) this.used -= node.data.length
  }

  private matchesPath(want: RegExp | string | undefined, path: string): boolean {
    if (want === undefined) return true
    if (typeof want === 'string') return want === '/' + segments(path).join('/')
    return path.search(want) >= 0 // search() ignores lastIndex, so /g patterns behave
  }

  private lookup(segs: string[]): Lookup {
    const chain: DirNode[] = []
    let node: Node = this.root
    for (const s of segs) {
      if (node.kind === 'file') return { error: 'ENOTDIR' }
      chain.push(node)
      const next: Node | undefined = node.entries.get(s)
      if (next === undefined) return { error: 'ENOENT' }
      node = next
    }
    return { node, chain }
  }

  /** The directory holding `path` (name null for the root); throws when that directory is missing or a file is in the way. */
  private parent(path: string, errorPath = path): { dir: DirNode; name: string | null; chain: DirNode[] } {
    const segs = segments(path)
    if (segs.length === 0) return { dir: this.root, name: null, chain: [] }
    const r = this.lookup(segs.slice(0, -1))
    if ('error' in r) throw new StorageError(r.error, errorPath, 'no such directory')
    if (r.node.kind === 'file') throw new StorageError('ENOTDIR', errorPath, 'not a directory')
    return { dir: r.node, name: segs[segs.length - 1]!, chain: [...r.chain, r.node] }
  }

  private detach(dir: DirNode, name: string): void {
    const node = dir.entries.get(name)!
    dir.entries.delete(name)
    this.unlink(node)
  }

  private link(node: FileNode): void {
    if (node.links === 0 && node.handles === 0) this.used += node.data.length
    node.links++
  }

  /** An entry pointing at `node` left the current tree; a directory takes its whole subtree along (as rm -r does). */
  private unlink(node: Node): void {
    if (node.kind === 'dir') {
      for (const child of node.entries.values()) this.unlink(child)
      node.entries = new Map()
      return
    }
    invariant(node.links > 0, 'unlinking a file with no links')
    node.links--
    if (node.links === 0 && node.handles === 0) this.used -= node.data.length
  }

  private recover(file: FileNode, random: Random, mode: CrashMode): void {
    const ops = file.pending
    const out = file.durable
    if (ops.length > 0) {
      const how = mode === 'random' ? (['lose-unsynced', 'keep', 'torn'] as const)[random.int(3)]! : mode
      if (how === 'keep') {
        for (const op of ops) applyOp(out, op)
      } else if (how === 'torn') {
        // Writes reach the platter in order; power fails after `k` whole ops, maybe in the middle of op k.
        const k = random.int(ops.length + 1)
        for (let i = 0; i < k; i++) applyOp(out, ops[i]!)
        const next = ops[k]
        if (next?.kind === 'write') applyOp(out, next, random.int(next.bytes.length))
      }
    }
    file.data = out
    file.durable = out.copy()
    file.pending = []
  }

  private reboot(): void {
    this.boot++
    this.down = null
    this.crashAt = null
    const census = this.census()
    for (const [f, n] of census.links) f.links = n
    this.used = census.used
  }

  /** Link counts and used bytes recomputed from the current tree and the open files. */
  private census(): { links: Map<FileNode, number>; used: number } {
    const links = new Map<FileNode, number>()
    const walk = (dir: DirNode): void => {
      for (const n of dir.entries.values()) {
        if (n.kind === 'dir') walk(n)
        else links.set(n, (links.get(n) ?? 0) + 1)
      }
    }
    walk(this.root)
    let used = 0
    for (const f of new Set([...links.keys(), ...this.opened])) used += f.data.length
    return { links, used }
  }
}

class SimFile implements StorageFile {
  readonly path: string
  private readonly disk: FileIO
  private readonly node: FileNode
  private readonly boot: number
  private closed = false
  /**
   * The size as this handle knows it, as FsFile caches it: it follows this handle's own
   * successful writes and truncates, not other handles' writes nor the prefix a failed
   * write left (the next append then writes over that prefix, as on the real disk).
   */
  private length: number

  constructor(disk: FileIO, node: FileNode, path: string, boot: number) {
    this.disk = disk
    this.node = node
    this.path = path
    this.boot = boot
    this.length = node.data.length
  }

  size(): number {
    this.check()
    return this.length
  }

  append(data: Uint8Array): number {
    this.check()
    const at = this.length
    this.disk.write(this.path, this.node, 'append', data, at)
    this.length = Math.max(this.length, at + data.length)
    return at
  }

  writeAt(data: Uint8Array, position: number): void {
    this.check()
    this.nonNegative(position, 'position')
    this.disk.write(this.path, this.node, 'writeAt', data, position)
    this.length = Math.max(this.length, position + data.length)
  }

  readInto(into: Uint8Array, offset: number, length: number, position: number): number {
    this.check()
    this.nonNegative(offset, 'offset')
    this.nonNegative(length, 'length')
    this.nonNegative(position, 'position')
    if (offset + length > into.length) throw new StorageError('EINVAL', this.path, `offset + length ${offset + length} > buffer ${into.length}`)
    this.disk.read(this.path)
    return this.node.data.read(into, offset, length, position)
  }

  truncate(size: number): void {
    this.check()
    this.nonNegative(size, 'size')
    this.disk.truncate(this.path, this.node, size)
    this.length = size
  }

  sync(): void {
    this.check()
    this.disk.sync(this.path, this.node)
  }

  close(): void {
    this.disk.guard()
    this.checkBoot()
    if (this.closed) return
    this.closed = true
    this.disk.close(this.node)
  }

  private check(): void {
    this.disk.guard()
    this.checkBoot()
    if (this.closed) throw new StorageError('EBADF', this.path, 'file is closed')
  }

  private checkBoot(): void {
    if (this.boot !== this.disk.boot()) throw new StorageError('EIO', this.path, 'handle opened before a crash')
  }

  private nonNegative(n: number, what: string): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new StorageError('EINVAL', this.path, `${what} must be a non-negative integer, got ${n}`)
  }
}
