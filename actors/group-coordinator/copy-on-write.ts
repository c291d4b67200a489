/**
 * A Map and a Set that copy what they wrap on their first change: a step of the group's state
 * machine works on its group's collections through these, so a step that changes none of them
 * (most: a commit, a written write, a fetch) copies none, and the state it began from never
 * sees a change. `snapshot()` hands out the result (the original when unchanged); a later change
 * copies again.
 */

export class CowMap<K, V> implements ReadonlyMap<K, V> {
  private owned: boolean

  /** `owned`: `map` is this wrapper's own (made for it), changes need no copy. */
  constructor(
    private map: ReadonlyMap<K, V>,
    owned = false,
  ) {
    this.owned = owned
  }

  private writable(): Map<K, V> {
    if (!this.owned) {
      this.map = new Map(this.map)
      this.owned = true
    }
    return this.map as Map<K, V>
  }

  /** The map as it is now, for the next state; changes after this do not reach it. */
  snapshot(): ReadonlyMap<K, V> {
    this.owned = false
    return this.map
  }

  set(key: K, value: V): this {
    this.writable().set(key, value)
    return this
  }

  delete(key: K): boolean {
    if (!this.map.has(key)) return false
    return this.writable().delete(key)
  }

  clear(): void {
    if (this.map.size === 0) return
    this.map = new Map()
    this.owned = true
  }

  get size(): number {
    return this.map.size
  }

  get(key: K): V | undefined {
    return this.map.get(key)
  }

  has(key: K): boolean {
    return this.map.has(key)
  }

  forEach(f: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    this.map.forEach((v, k) => f.call(thisArg, v, k, this))
  }

  entries(): MapIterator<[K, V]> {
    return this.map.entries()
  }

  keys(): MapIterator<K> {
    return this.map.keys()
  }

  values(): MapIterator<V> {
    return this.map.values()
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.map.entries()
  }

  get [Symbol.toStringTag](): string {
    return 'CowMap'
  }
}

export class CowSet<T> implements ReadonlySet<T> {
  private owned: boolean

  /** `owned`: `set` is this wrapper's own (made for it), changes need no copy. */
  constructor(
    private set: ReadonlySet<T>,
    owned = false,
  ) {
    this.owned = owned
  }

  private writable(): Set<T> {
    if (!this.owned) {
      this.set = new Set(this.set)
      this.owned = true
    }
    return this.set as Set<T>
  }

  /** The set as it is now, for the next state; changes after this do not reach it. */
  snapshot(): ReadonlySet<T> {
    this.owned = false
    return this.set
  }

  add(value: T): this {
    if (!this.set.has(value)) this.writable().add(value)
    return this
  }

  delete(value: T): boolean {
    if (!this.set.has(value)) return false
    return this.writable().delete(value)
  }

  clear(): void {
    if (this.set.size === 0) return
    this.set = new Set()
    this.owned = true
  }

  get size(): number {
    return this.set.size
  }

  has(value: T): boolean {
    return this.set.has(value)
  }

  forEach(f: (value: T, value2: T, set: ReadonlySet<T>) => void, thisArg?: unknown): void {
    this.set.forEach((v) => f.call(thisArg, v, v, this))
  }

  entries(): SetIterator<[T, T]> {
    return this.set.entries()
  }

  keys(): SetIterator<T> {
    return this.set.keys()
  }

  values(): SetIterator<T> {
    return this.set.values()
  }

  [Symbol.iterator](): SetIterator<T> {
    return this.set.values()
  }

  get [Symbol.toStringTag](): string {
    return 'CowSet'
  }
}
