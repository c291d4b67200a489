// The copy-on-write Map and Set a state step works on: the wrapped collection never changes, and is copied only when needed.
import t from 'tap'
import { CowMap, CowSet } from '../../../actors/group-coordinator/copy-on-write.ts'

t.test('a CowMap that is only read hands back the map it wraps', async (t) => {
  const original = new Map([['a', 1]])
  const m = new CowMap(original)
  t.equal(m.get('a'), 1)
  t.notOk(m.delete('zz'), 'deleting an absent key changes nothing')
  t.equal(m.snapshot(), original)
})

t.test('a CowMap copies on its first change, keeps the order, and copies again after a snapshot', async (t) => {
  const original = new Map([['a', 1], ['b', 2]])
  const m = new CowMap(original)
  m.set('a', 10).set('c', 3)
  m.delete('b')
  t.same([...original], [['a', 1], ['b', 2]], 'the wrapped map is unchanged')
  const first = m.snapshot()
  t.same([...first], [['a', 10], ['c', 3]], 'the changes, in insertion order')
  m.set('d', 4)
  t.same([...first], [['a', 10], ['c', 3]], 'a change after the snapshot does not reach it')
  t.same([...m.keys()], ['a', 'c', 'd'])
  m.clear()
  t.equal(m.size, 0)
  t.equal(first.size, 2)
})

t.test('a CowSet copies on its first change and leaves the set it wraps as it was', async (t) => {
  const original = new Set(['x', 'y'])
  const s = new CowSet(original)
  s.add('x')
  t.equal(s.snapshot(), original, 'adding a member already there changes nothing')
  s.add('z')
  s.delete('x')
  t.same([...original], ['x', 'y'])
  t.same([...s], ['y', 'z'])
  const snap = s.snapshot()
  s.clear()
  t.same([...snap], ['y', 'z'])
  t.equal(s.size, 0)
})
