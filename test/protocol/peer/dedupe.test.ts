import t from 'tap'
import { type DedupeLink, keeps, LinkTable } from '../../../src/protocol/peer/dedupe.ts'
import { PeerConnection } from '../../../src/protocol/peer/peer-connection.ts'
import { SeededRandom } from '../../../src/sim/random.ts'
import { duplexPair, options, RecordingHandler, streamInfo, within } from './helpers.ts'

/** One link as both of its sides see it. */
interface Link {
  dialler: number
  sessionId: string
}
const view = (link: Link, local: number) => ({ initiator: link.dialler === local, sessionId: link.sessionId })

t.test('both sides of a pair keep the same link, whoever dialled which and in any order', async (t) => {
  const rng = new SeededRandom(7)
  for (let round = 0; round < 500; round++) {
    const x = rng.int(100)
    const y = x + 1 + rng.int(100)
    const [lo, hi] = rng.int(2) === 0 ? [x, y] : [y, x]
    const l1: Link = { dialler: rng.int(2) === 0 ? lo : hi, sessionId: rng.nextUint32().toString(16) }
    const l2: Link = { dialler: rng.int(2) === 0 ? lo : hi, sessionId: rng.nextUint32().toString(16) }
    if (l1.sessionId === l2.sessionId) continue
    const keptByLo = keeps(lo, hi, view(l1, lo), view(l2, lo)) ? l1 : l2
    const keptByHi = keeps(hi, lo, view(l2, hi), view(l1, hi)) ? l2 : l1
    if (keptByLo !== keptByHi) {
      t.fail(`round ${round}: the sides disagree`)
      return
    }
    if (l1.dialler !== l2.dialler && keptByLo.dialler !== Math.min(lo, hi)) {
      t.fail(`round ${round}: the link dialled by the lower id was not kept`)
      return
    }
  }
  t.pass('always the same choice')
})

t.test('the link dialled by the lower node id is kept', async (t) => {
  const fromLow = { dialler: 1, sessionId: 'ff' }
  const fromHigh = { dialler: 2, sessionId: '00' }
  t.ok(keeps(1, 2, view(fromLow, 1), view(fromHigh, 1)))
  t.ok(keeps(2, 1, view(fromLow, 2), view(fromHigh, 2)))
  t.notOk(keeps(2, 1, view(fromHigh, 2), view(fromLow, 2)))
  t.throws(() => keeps(1, 1, view(fromLow, 1), view(fromHigh, 1)), /itself/)
})

class FakeLink implements DedupeLink {
  closedWith: string | null = null
  constructor(readonly remoteNodeId: number, readonly initiator: boolean, readonly sessionId: string) {}
  close(_detail: string, reason: 'duplicate-connection'): void {
    this.closedWith = reason
  }
}

t.test('the link table keeps one link per node and closes the other as a duplicate', async (t) => {
  const table = new LinkTable<FakeLink>(1)
  const dialledByPeer = new FakeLink(2, false, 'aa')
  const dialledByUs = new FakeLink(2, true, 'bb')
  t.ok(table.offer(dialledByPeer))
  t.ok(table.offer(dialledByUs), 'the link this lower-id node dialled replaces the other')
  t.equal(dialledByPeer.closedWith, 'duplicate-connection')
  t.equal(table.get(2), dialledByUs)
  const another = new FakeLink(2, false, '00')
  t.notOk(table.offer(another))
  t.equal(another.closedWith, 'duplicate-connection')
  t.ok(table.offer(dialledByUs), 'offering the kept link again changes nothing')
  table.remove(another)
  t.equal(table.size, 1)
  table.remove(dialledByUs)
  t.equal(table.get(2), undefined)
})

t.test('two real links between two nodes: both keep the same one and the other closes with a goodbye', async (t) => {
  const one = new LinkTable<PeerConnection>(1)
  const two = new LinkTable<PeerConnection>(2)
  const p1 = duplexPair() // node 1 dials node 2
  const p2 = duplexPair() // node 2 dials node 1
  const [l12, l21, m21, m12] = await within(
    Promise.all([
      PeerConnection.establish(p1[0], streamInfo(true), options(1)),
      PeerConnection.establish(p1[1], streamInfo(false), options(2)),
      PeerConnection.establish(p2[0], streamInfo(true), options(2)),
      PeerConnection.establish(p2[1], streamInfo(false), options(1)),
    ]),
    5_000,
    'handshakes',
  )
  // each side sees the links in a different order
  const keptByOne = [l12, m12].filter((l) => one.offer(l))
  const keptByTwo = [m21, l21].filter((l) => two.offer(l))
  t.equal(one.get(2), l12, 'node 1 keeps the link it dialled (lower id)')
  t.equal(two.get(1), l21, 'node 2 keeps the same link')
  t.equal(keptByOne.length >= 1 && keptByTwo.length >= 1, true)
  const [c1, c2] = await within(Promise.all([m12.closed, m21.closed]), 5_000, 'the duplicate closes')
  t.equal(c1.reason, 'duplicate-connection')
  t.equal(c2.reason, 'duplicate-connection')
  l12.start(new RecordingHandler())
  l21.start(new RecordingHandler())
  const reply = await within(l12.request({ kind: 'ping', data: new Uint8Array([1]) }), 2_000, 'the kept link works')
  t.same(Array.from(reply.data), [1])
  l12.close()
})
