/**
 * A persistent hash map for string and number keys: `set` and `delete` return a new map and
 * leave the old one as it was, in O(log32 n) time and space (a hash array mapped trie: each
 * node has 32 slots indexed by 5 bits of the key's hash, low bits first; an update copies the
 * nodes on one path). Reads are those of a ReadonlyMap, with SameValueZero keys as Map has.
 *
 * Iteration follows the trie (by hash), not insertion order; it is the same for the same keys
 * whatever the history (deletions collapse nodes back), except between keys of equal hash.
 * Integer keys hash to themselves, so keys 0..n-1 (partitions, write ids) never collide.
 *
 * Batch building (`EditToken`): `set`/`delete` given a token change in place the maps and
 * nodes that calls with the same token created. Whoever holds a token must not let anyone see
 * a map made with it before it has made its last change with it (then it drops the token).
 */

const BITS = 5
const WIDTH = 1 << BITS
const MASK = WIDTH - 1

/** Identity only: the permission to change in place what was made with it. */
export class EditToken {
  private readonly brand: undefined
}

class Leaf<K, V> {
  constructor(
    readonly hash: number,
    readonly key: K,
    readonly value: V,
  ) {}
}

/** Keys whose 32-bit hashes are equal. */
class Collision<K, V> {
  constructor(
    readonly owner: EditToken | null,
    readonly hash: number,
    public leaves: Leaf<K, V>[],
  ) {}
}

class Branch<K, V> {
  constructor(
    readonly owner: EditToken | null,
    readonly slots: (Node<K, V> | undefined)[],
    /** Slots in use. */
    public count: number,
  ) {}
}

type Node<K, V> = Leaf<K, V> | Collision<K, V> | Branch<K, V>

function sameKey(a: unknown, b: unknown): boolean {
  return a === b || (a !== a && b !== b) // SameValueZero: NaN is itself
}

function hashString(s: string): number {
  let h = 0x811c9dc5 // FNV-1a
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h | 0
}

/** The 32-bit hash a key is placed by (exported for tests that need keys of equal hash). */
export function hashOf(key: string | number): number {
  if (typeof key === 'string') return hashString(key)
  return Number.isInteger(key) && key >= -0x80000000 && key <= 0x7fffffff ? key | 0 : hashString(String(key))
}

/** What the last assoc/dissoc did to the count of keys (one thread: no allocation for it). */
let sizeDelta = 0

function editableBranch<K, V>(b: Branch<K, V>, edit: EditToken | null): Branch<K, V> {
  return edit !== null && b.owner === edit ? b : new Branch(edit, b.slots.slice(), b.count)
}

/** A branch at `shift` holding `a` and `b`, whose hashes differ. */
function split<K, V>(a: Leaf<K, V> | Collision<K, V>, b: Leaf<K, V>, shift: number, edit: EditToken | null): Branch<K, V> {
  // Hashes that differ differ in some bit below 32: some shift up to 30 tells them apart.
  const slots = new Array<Node<K, V> | undefined>(WIDTH).fill(undefined)
  const ia = (a.hash >>> shift) & MASK
  const ib = (b.hash >>> shift) & MASK
  if (ia === ib) {
    slots[ia] = split(a, b, shift + BITS, edit)
    return new Branch(edit, slots, 1)
  }
  slots[ia] = a
  slots[ib] = b
  return new Branch(edit, slots, 2)
}

function assoc<K, V>(node: Node<K, V> | undefined, shift: number, hash: number, key: K, value: V, edit: EditToken | null): Node<K, V> {
  if (node === undefined) {
    sizeDelta = 1
    return new Leaf(hash, key, value)
  }
  if (node instanceof Branch) {
    const i = (hash >>> shift) & MASK
    const child = node.slots[i]
    const next = assoc(child, shift + BITS, hash, key, value, edit)
    if (next === child) return node
    const b = editableBranch(node, edit)
    if (child === undefined) b.count++
    b.slots[i] = next
    return b
  }
  if (node instanceof Leaf) {
    if (sameKey(node.key, key)) return node.value === value ? node : new Leaf(hash, key, value)
    sizeDelta = 1
    if (node.hash === hash) return new Collision(edit, hash, [node, new Leaf(hash, key, value)])
    return split(node, new Leaf(hash, key, value), shift, edit)
  }
  if (node.hash !== hash) {
    sizeDelta = 1
    return split(node, new Leaf(hash, key, value), shift, edit)
  }
  const i = node.leaves.findIndex((l) => sameKey(l.key, key))
  if (i >= 0 && node.leaves[i]!.value === value) return node
  const c = edit !== null && node.owner === edit ? node : new Collision(edit, hash, node.leaves.slice())
  if (i >= 0) {
    c.leaves[i] = new Leaf(hash, key, value)
  } else {
    c.leaves.push(new Leaf(hash, key, value))
    sizeDelta = 1
  }
  return c
}

function dissoc<K, V>(node: Node<K, V> | undefined, shift: number, hash: number, key: K, edit: EditToken | null): Node<K, V> | undefined {
  if (node === undefined) return undefined
  if (node instanceof Branch) {
    const i = (hash >>> shift) & MASK
    const child = node.slots[i]
    const next = dissoc(child, shift + BITS, hash, key, edit)
    if (next === child) return node
    const count = next === undefined ? node.count - 1 : node.count
    if (count === 0) return undefined
    if (count === 1) {
      // A branch left with one leaf (or collision) gives way to it, so that a branch holds at
      // least two keys and the trie's shape depends on its keys only.
      const only = next ?? node.slots.find((s, j) => j !== i && s !== undefined)!
      if (!(only instanceof Branch)) return only
    }
    const b = editableBranch(node, edit)
    if (next === undefined) b.count--
    b.slots[i] = next
    return b
  }
  if (node instanceof Leaf) {
    if (!sameKey(node.key, key)) return node
    sizeDelta = -1
    return undefined
  }
  if (node.hash !== hash) return node
  const i = node.leaves.findIndex((l) => sameKey(l.key, key))
  if (i < 0) return node
  sizeDelta = -1
  if (node.leaves.length === 2) return node.leaves[1 - i]
  const c = edit !== null && node.owner === edit ? node : new Collision(edit, hash, node.leaves.slice())
  c.leaves.splice(i, 1)
  return c
}

function forEachLeaf<K, V>(node: Node<K, V> | undefined, f: (leaf: Leaf<K, V>) => void): void {
  if (node === undefined) return
  if (node instanceof Leaf) f(node)
  else if (node instanceof Collision) for (const l of node.leaves) f(l)
  else for (const s of node.slots) forEachLeaf(s, f)
}

function* leaves<K, V>(node: Node<K, V> | undefined): Generator<Leaf<K, V>, undefined, unknown> {
  if (node === undefined) return
  if (node instanceof Leaf) yield node
  else if (node instanceof Collision) yield* node.leaves
  else for (const s of node.slots) yield* leaves(s)
  return undefined
}

export class PersistentMap<K extends string | number, V> implements ReadonlyMap<K, V> {
  private static readonly EMPTY = new PersistentMap<never, never>(undefined, 0, null)

  static empty<K extends string | number, V>(): PersistentMap<K, V> {
    return PersistentMap.EMPTY as PersistentMap<K, V>
  }

  static from<K extends string | number, V>(entries: Iterable<readonly [K, V]>): PersistentMap<K, V> {
    const edit = new EditToken()
    let m = PersistentMap.empty<K, V>()
    for (const [k, v] of entries) m = m.set(k, v, edit)
    return m
  }

  private constructor(
    private root: Node<K, V> | undefined,
    private count: number,
    private readonly owner: EditToken | null,
  ) {}

  get size(): number {
    return this.count
  }

  get(key: K): V | undefined {
    const hash = hashOf(key)
    let node = this.root
    for (let shift = 0; node !== undefined; shift += BITS) {
      if (node instanceof Branch) {
        node = node.slots[(hash >>> shift) & MASK]
        continue
      }
      if (node instanceof Leaf) return sameKey(node.key, key) ? node.value : undefined
      if (node.hash !== hash) return undefined
      return node.leaves.find((l) => sameKey(l.key, key))?.value
    }
    return undefined
  }

  has(key: K): boolean {
    const hash = hashOf(key)
    let node = this.root
    for (let shift = 0; node !== undefined; shift += BITS) {
      if (node instanceof Branch) {
        node = node.slots[(hash >>> shift) & MASK]
        continue
      }
      if (node instanceof Leaf) return sameKey(node.key, key)
      return node.hash === hash && node.leaves.some((l) => sameKey(l.key, key))
    }
    return false
  }

  /** The map with `key` set to `value` (this map when it already was). */
  set(key: K, value: V, edit: EditToken | null = null): PersistentMap<K, V> {
    sizeDelta = 0
    const root = assoc(this.root, 0, hashOf(key), key, value, edit)
    return this.with(root, edit)
  }

  /** The map without `key` (this map when it had none). */
  delete(key: K, edit: EditToken | null = null): PersistentMap<K, V> {
    sizeDelta = 0
    const root = dissoc(this.root, 0, hashOf(key), key, edit)
    return this.with(root, edit)
  }

  private with(root: Node<K, V> | undefined, edit: EditToken | null): PersistentMap<K, V> {
    if (edit !== null && this.owner === edit) {
      // Changed in place or not, the same root may come back: the count says what changed.
      this.root = root
      this.count += sizeDelta
      return root === undefined ? PersistentMap.empty() : this
    }
    if (root === this.root) return this
    if (root === undefined) return PersistentMap.empty()
    return new PersistentMap(root, this.count + sizeDelta, edit)
  }

  forEach(f: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    forEachLeaf(this.root, (l) => f.call(thisArg, l.value, l.key, this))
  }

  *entries(): MapIterator<[K, V]> {
    for (const l of leaves(this.root)) yield [l.key, l.value]
    return undefined
  }

  *keys(): MapIterator<K> {
    for (const l of leaves(this.root)) yield l.key
    return undefined
  }

  *values(): MapIterator<V> {
    for (const l of leaves(this.root)) yield l.value
    return undefined
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries()
  }

  get [Symbol.toStringTag](): string {
    return 'PersistentMap'
  }
}
