// The persistent map behind a group's committed offsets and writes: a Map's answers, and older versions that never change.
import t from 'tap'
import { EditToken, hashOf, PersistentMap } from '../../../actors/group-coordinator/persistent-map.ts'
import { SeededRandom } from '../../../src/sim/random.ts'

function sorted<K extends string | number, V>(m: ReadonlyMap<K, V>): [K, V][] {
  return [...m].sort(([a], [b]) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0))
}

/** A string and an integer key whose hashes are equal (integers hash to themselves). */
function collidingKeys(n: number): (string | number)[] {
  return Array.from({ length: n }, (_, i) => `k${i}`).flatMap((s) => [s, hashOf(s)])
}

t.test('answers as a Map does after random sets and deletes, and every older version keeps its contents', async (t) => {
  for (const seed of [1, 2, 3]) {
    const rnd = new SeededRandom(seed)
    const keys: (string | number)[] = [...Array.from({ length: 300 }, (_, i) => i), ...Array.from({ length: 100 }, (_, i) => `topic-${i}`), -1, -0x80000000, 2 ** 40, 1.5, ...collidingKeys(20)]
    let m = PersistentMap.empty<string | number, number>()
    const model = new Map<string | number, number>()
    const versions: { map: PersistentMap<string | number, number>; contents: [string | number, number][] }[] = []
    for (let i = 0; i < 5000; i++) {
      const key = keys[rnd.int(keys.length)]!
      if (rnd.int(3) === 0) {
        m = m.delete(key)
        model.delete(key)
      } else {
        m = m.set(key, i)
        model.set(key, i)
      }
      if (i % 250 === 0) versions.push({ map: m, contents: sorted(model) })
    }
    t.equal(m.size, model.size, `seed ${seed}: the size`)
    t.same(sorted(m), sorted(model), `seed ${seed}: the entries`)
    t.ok(keys.every((k) => m.get(k) === model.get(k) && m.has(k) === model.has(k)), `seed ${seed}: get and has of every key`)
    t.ok(
      versions.every((v) => v.map.size === v.contents.length && t.same(sorted(v.map), v.contents) !== false),
      `seed ${seed}: each older version still holds what it held`,
    )
  }
})

t.test('changes made with an edit token answer as a Map does, and leave the map they started from as it was', async (t) => {
  const rnd = new SeededRandom(7)
  const start = PersistentMap.from(Array.from({ length: 500 }, (_, i) => [i, -i] as const))
  const before = sorted(start)
  const model = new Map(start)
  const edit = new EditToken()
  let m = start
  for (let i = 0; i < 5000; i++) {
    const key = rnd.int(1500)
    if (rnd.int(2) === 0) {
      m = m.delete(key, edit)
      model.delete(key)
    } else {
      m = m.set(key, i, edit)
      model.set(key, i)
    }
  }
  t.same(sorted(m), sorted(model))
  t.equal(m.size, model.size)
  t.same(sorted(start), before, 'the map the edit started from')
  const after = m.set(2000, 1)
  t.notOk(m.has(2000), 'a change without the token copies')
  t.ok(after.has(2000))
})

t.test('keys of equal hash are kept apart, and found after the others are deleted', async (t) => {
  const [s, n] = collidingKeys(1) as [string, number]
  t.equal(hashOf(s), hashOf(n), 'the keys collide')
  const m = PersistentMap.empty<string | number, string>().set(s, 'string').set(n, 'number').set(n + 32, 'neighbour')
  t.equal(m.get(s), 'string')
  t.equal(m.get(n), 'number')
  t.equal(m.size, 3)
  const less = m.delete(n + 32).delete(s)
  t.same([...less], [[n, 'number']])
  t.equal(m.size, 3, 'the older map is unchanged')
})

t.test('the same keys iterate in the same order whatever the history', async (t) => {
  const a = PersistentMap.from(Array.from({ length: 200 }, (_, i) => [i, i] as const))
  let b = PersistentMap.empty<number, number>()
  for (let i = 999; i >= 0; i--) b = b.set(i, i)
  for (let i = 200; i < 1000; i++) b = b.delete(i)
  t.same([...b.keys()], [...a.keys()])
  t.equal(b.delete(5).delete(7).set(7, 7).set(5, 5).get(5), 5)
})

t.test('an edit token changes in place only what was made with it', async (t) => {
  const base = PersistentMap.from<number, string>([[1, 'a'], [2, 'b']])
  const edit = new EditToken()
  const first = base.set(3, 'c', edit)
  const second = first.set(4, 'd', edit)
  t.equal(second, first, 'a map made with the token is changed in place')
  t.same(sorted(base), [[1, 'a'], [2, 'b']], 'the map it started from is not')
  const other = second.set(5, 'e', new EditToken())
  t.not(other, second, 'another token copies')
  t.equal(second.size, 4)
  t.equal(base.delete(9), base, 'deleting an absent key gives the same map')
  t.equal(base.set(1, 'a'), base, 'setting the same value gives the same map')
  t.equal(base.delete(1).delete(2), PersistentMap.empty(), 'deleting every key gives the empty map')
})

t.test('reads as a ReadonlyMap: forEach, keys, values, entries', async (t) => {
  const m = PersistentMap.from<string, number>([['x', 1], ['y', 2]])
  const seen: [string, number][] = []
  m.forEach((v, k) => seen.push([k, v]))
  t.same(seen.sort(), [['x', 1], ['y', 2]])
  t.same([...m.keys()].sort(), ['x', 'y'])
  t.same([...m.values()].sort(), [1, 2])
  t.same(new Map(m.entries()), new Map([['x', 1], ['y', 2]]))
  t.equal(Object.prototype.toString.call(m), '[object PersistentMap]')
})
