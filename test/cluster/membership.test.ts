// The membership state machine, driven by hand: joins, gossip spread, the dial rule, failure
// detection, leaving and coming back. A small in-memory "cluster" routes the effects of
// several machines to each other, so that what one decides reaches the others as inputs.
import t from 'tap'
import {
  initialMembership,
  type MembershipEffect,
  type MembershipInput,
  type MembershipState,
  peerTimingDefaults,
  step,
  targetKey,
  view,
} from '../../src/cluster/membership.ts'
import type { MemberInfo, Membership } from '../../src/protocol/peer/messages.ts'

const T = peerTimingDefaults
const START = 1_000_000

const addr = (id: number): string => `10.0.0.${id}:9093`

function node(id: number, seeds: number[] = [], now = START): MembershipState {
  return initialMembership({
    self: { nodeId: id, kafkaListener: `10.0.0.${id}:9092`, runtime: 'node', listens: [{ transport: 'tcp', address: addr(id) }] },
    dialable: ['tcp'],
    seeds: seeds.map((s) => ({ transport: 'tcp' as const, address: addr(s) })),
    now,
  })
}

const info = (id: number, heardAgoMs = 0, runtime: MemberInfo['runtime'] = 'node'): MemberInfo => ({
  nodeId: id,
  kafkaListener: `10.0.0.${id}:9092`,
  runtime,
  listens: [{ transport: 'tcp', address: addr(id) }],
  heardAgoMs,
})

const of = <T extends MembershipEffect['type']>(effects: MembershipEffect[], type: T) =>
  effects.filter((e): e is Extract<MembershipEffect, { type: T }> => e.type === type)

const logs = (effects: MembershipEffect[]): string[] => of(effects, 'log').map((e) => `${e.level} ${e.message}`)

/** Several machines and the links between them; dials succeed when the target exists and is up. */
class Cluster {
  readonly states = new Map<number, MembershipState>()
  readonly down = new Set<number>()
  /** Pairs that cannot reach each other (dials between them fail). */
  readonly blocked = new Set<string>()
  readonly links = new Set<string>()
  readonly dials: [number, number][] = []
  readonly log: string[] = []
  now = START
  private readonly inbox: [number, MembershipInput][] = []

  add(id: number, seeds: number[] = []): void {
    this.states.set(id, node(id, seeds, this.now))
    this.send(id, { type: 'tick' })
  }

  send(to: number, input: MembershipInput): void {
    this.inbox.push([to, input])
  }

  /** Handles inputs until none is left (at most `max`, so a loop would fail the test). */
  settle(max = 10_000): void {
    for (let i = 0; i < max; i++) {
      const next = this.inbox.shift()
      if (next === undefined) return
      const [id, input] = next
      if (this.down.has(id)) continue
      const r = step(this.states.get(id)!, input, this.now)
      this.states.set(id, r.state)
      for (const e of r.effects) this.execute(id, e)
    }
    throw new Error('the cluster did not settle')
  }

  private execute(id: number, e: MembershipEffect): void {
    switch (e.type) {
      case 'dial': {
        const to = Number(/10\.0\.0\.(\d+):/.exec(e.address)![1])
        this.dials.push([id, to])
        if (!this.states.has(to) || this.down.has(to) || this.blocked.has(key(id, to))) {
          this.send(id, { type: 'dial-failed', target: e.target, reason: 'ECONNREFUSED', detail: 'refused' })
          return
        }
        this.send(id, { type: 'dial-done', target: e.target, nodeId: to })
        this.link(id, to)
        return
      }
      case 'gossip':
        for (const to of e.to === 'all' ? this.linkedTo(id) : [e.to]) {
          if (this.links.has(key(id, to))) this.send(to, { type: 'gossip', from: id, members: (e.message as Membership).members })
        }
        return
      case 'log':
        this.log.push(`${id}: ${e.level} ${e.message}`)
        return
      case 'changed':
        return
    }
  }

  link(a: number, b: number): void {
    if (this.links.has(key(a, b))) return
    this.links.add(key(a, b))
    this.send(a, { type: 'link-up', nodeId: b, transport: 'tcp', remote: addr(b) })
    this.send(b, { type: 'link-up', nodeId: a, transport: 'tcp', remote: addr(a) })
  }

  cut(a: number, b: number, reason = 'stream-ended'): void {
    if (!this.links.delete(key(a, b))) return
    this.send(a, { type: 'link-down', nodeId: b, reason, by: 'local', left: false })
    this.send(b, { type: 'link-down', nodeId: a, reason, by: 'remote', left: false })
  }

  linkedTo(id: number): number[] {
    return [...this.links].map((k) => k.split('-').map(Number)).filter((p) => p.includes(id)).map((p) => (p[0] === id ? p[1]! : p[0]!))
  }

  /** Time passes in steps of `stepMs`: every machine ticks, links carry heartbeats. */
  run(ms: number, stepMs = 250): void {
    for (let done = 0; done < ms; done += stepMs) {
      this.now += stepMs
      for (const [a, b] of [...this.links].map((k) => k.split('-').map(Number) as [number, number])) {
        this.send(a, { type: 'heard', nodeId: b })
        this.send(b, { type: 'heard', nodeId: a })
      }
      for (const id of this.states.keys()) this.send(id, { type: 'tick' })
      this.settle()
    }
  }

  viewOf(id: number): string[] {
    return view(this.states.get(id)!, this.now).map((m) => `${m.nodeId}:${m.status}${m.link ? '+' : ''}`)
  }
}

const key = (a: number, b: number): string => (a < b ? `${a}-${b}` : `${b}-${a}`)

t.test('a link brings a node into the view, and the new peer gets the whole view at once', async (t) => {
  let s = node(1)
  const r = step(s, { type: 'link-up', nodeId: 2, transport: 'tcp', remote: '10.0.0.2:40000' }, START + 10)
  s = r.state
  t.same(of(r.effects, 'gossip').map((g) => g.to), [2])
  t.same(of(r.effects, 'gossip')[0]!.message.members.map((m) => m.nodeId), [1], 'its view: itself (node 2 has no info yet)')
  t.equal(of(r.effects, 'changed').length, 1)
  const g = step(s, { type: 'gossip', from: 2, members: [info(2, 0, 'deno'), info(3, 500)] }, START + 20)
  const rows = view(g.state, START + 20)
  t.same(rows.map((m) => [m.nodeId, m.self, m.status, m.runtime, m.link?.transport ?? null, m.lastHeardAgoMs]), [
    [1, true, 'alive', 'node', null, 0],
    [2, false, 'alive', 'deno', 'tcp', 0],
    [3, false, 'alive', 'node', null, 500],
  ])
  t.same(logs(g.effects).filter((l) => l.startsWith('info')), ['info node 3 joined the view (node, tcp 10.0.0.3:9093; heard of through node 2)'])
  t.same(of(g.effects, 'gossip').map((e) => e.to), ['all'], 'news goes out at once')
})

t.test('gossip spreads: with one seed each, chained, every node learns and links every other', async (t) => {
  const c = new Cluster()
  c.add(1)
  c.add(2, [1])
  c.add(3, [2])
  c.settle()
  c.run(3_000)
  for (const id of [1, 2, 3]) t.same(c.viewOf(id), ['1:alive', '2:alive', '3:alive'].map((v) => (v.startsWith(`${id}:`) ? v : `${v}+`)), `node ${id}'s view`)
  t.same([...c.links].sort(), ['1-2', '1-3', '2-3'])
  const pair13 = c.dials.filter(([a, b]) => key(a, b) === '1-3')
  t.same(pair13, [[1, 3]], 'the pair 1-3 was dialled once, by the lower id')
})

t.test('failure detection: not heard from → suspect → dead → removed, each logged once', async (t) => {
  const c = new Cluster()
  c.add(1)
  c.add(2, [1])
  c.settle()
  c.run(1_000)
  c.down.add(2)
  c.cut(1, 2)
  c.log.length = 0
  c.run(T.peerSessionTimeoutMs + 250)
  t.same(c.viewOf(1), ['1:alive', '2:suspect'])
  c.run(T.peerDeadTimeoutMs - T.peerSessionTimeoutMs)
  t.same(c.viewOf(1), ['1:alive', '2:dead'])
  c.run(T.peerRemoveAfterMs + 250)
  t.same(c.viewOf(1), ['1:alive'])
  t.same(c.log.filter((l) => l.startsWith('1:') && !l.includes('debug')).map((l) => l.replace(/\d+ ms/, 'N ms')), [
    '1: info link to node 2 closed (stream-ended)',
    '1: info node 2 is suspect: not heard from in N ms',
    '1: warn node 2 is dead: not heard from in N ms',
    '1: info node 2 removed from the membership view: dead for N ms',
  ])
})

t.test('a node that comes back is re-added: dead or removed, fresh news makes it alive', async (t) => {
  const c = new Cluster()
  c.add(1)
  c.add(2, [1])
  c.add(3, [1])
  c.settle()
  c.run(2_000)
  // Node 3 is cut from everyone and stops.
  c.down.add(3)
  c.cut(1, 3)
  c.cut(2, 3)
  c.run(T.peerDeadTimeoutMs + 500)
  t.same(c.viewOf(1), ['1:alive', '2:alive+', '3:dead'])
  t.same(c.viewOf(2), ['1:alive+', '2:alive', '3:dead'])
  // It restarts knowing only its seed; the others redial it (it is not alive to them) and it is back.
  c.down.delete(3)
  c.states.set(3, node(3, [1], c.now))
  c.run(T.peerDialBackoffMaxMs + 1_000)
  for (const id of [1, 2, 3]) t.same(c.viewOf(id).map((v) => v.replace('+', '')), ['1:alive', '2:alive', '3:alive'], `node ${id}'s view`)
  t.ok(c.log.some((l) => l === '1: info node 3 is back (tcp 10.0.0.3:9093)'), 'logged as back')

  // Removed altogether, then back: re-added.
  c.down.add(3)
  c.cut(1, 3)
  c.cut(2, 3)
  c.run(T.peerDeadTimeoutMs + T.peerRemoveAfterMs + 1_000)
  t.same(c.viewOf(1), ['1:alive', '2:alive+'])
  c.down.delete(3)
  c.states.set(3, node(3, [2], c.now))
  c.run(3_000)
  for (const id of [1, 2, 3]) t.same(c.viewOf(id).map((v) => v.replace('+', '')), ['1:alive', '2:alive', '3:alive'], `node ${id}'s view after removal`)
})

t.test('two nodes cut from each other stay alive in each other\'s view through a third', async (t) => {
  const c = new Cluster()
  c.add(1)
  c.add(2, [1])
  c.add(3, [1])
  c.settle()
  c.run(2_000)
  c.blocked.add('1-3')
  c.cut(1, 3)
  c.run(T.peerDeadTimeoutMs + 1_000)
  t.notOk(c.links.has('1-3'), 'no link between 1 and 3')
  t.same(c.viewOf(1), ['1:alive', '2:alive+', '3:alive'])
  t.same(c.viewOf(3), ['1:alive', '2:alive+', '3:alive'])
  t.notOk(c.log.some((l) => /^[13]: .*node [13] is (suspect|dead)/.test(l)), 'neither suspected the other')
  c.blocked.delete('1-3')
  c.run(T.peerDialBackoffMaxMs + 500)
  t.ok(c.links.has('1-3'), 'linked again once they reach each other')
})

t.test('the higher id waits for the lower one to dial, then dials itself after peerDialFallbackMs', async (t) => {
  let s = node(5)
  // Node 2 is learnt through node 4; node 5 has the higher id and does not dial it at once.
  s = step(s, { type: 'link-up', nodeId: 4, transport: 'tcp', remote: addr(4) }, START).state
  let r = step(s, { type: 'gossip', from: 4, members: [info(4), info(2, 100)] }, START)
  t.same(of(r.effects, 'dial').map((d) => d.address), [], 'node 2 is lower: it dials')
  s = r.state
  r = step(s, { type: 'tick' }, START + T.peerDialFallbackMs - 1)
  t.same(of(r.effects, 'dial'), [], 'not yet')
  // Node 2 is heard of through node 4 all the while, alive.
  s = step(r.state, { type: 'gossip', from: 4, members: [info(4), info(2, 100)] }, START + T.peerDialFallbackMs - 1).state
  r = step(s, { type: 'tick' }, START + T.peerDialFallbackMs)
  t.same(of(r.effects, 'dial').map((d) => d.address), [addr(2)], 'it did not: node 5 dials')
})

t.test('a seed that answers with this node\'s id is this node: never dialled again', async (t) => {
  // The seed list names this very node under another address (e.g. localhost vs 127.0.0.1).
  let s = initialMembership({
    self: { nodeId: 1, kafkaListener: null, runtime: 'node', listens: [{ transport: 'tcp', address: '127.0.0.1:9093' }] },
    dialable: ['tcp'],
    seeds: [{ transport: 'tcp', address: 'localhost:9093' }, { transport: 'tcp', address: '127.0.0.1:9093' }],
    now: START,
  })
  let r = step(s, { type: 'tick' }, START)
  t.same(of(r.effects, 'dial').map((d) => d.address), ['localhost:9093'], 'its own listen address is not dialled')
  r = step(r.state, { type: 'dial-failed', target: targetKey('tcp', 'localhost:9093'), reason: 'duplicate-node-id', detail: "the peer claims this node's id 1" }, START + 1)
  t.match(logs(r.effects), [/^warn seed localhost:9093 answered with this node's id 1: it is this node/])
  s = r.state
  r = step(s, { type: 'tick' }, START + 60_000)
  t.same(of(r.effects, 'dial'), [])
})

t.test('failed dials back off, doubling up to peerDialBackoffMaxMs; one in flight per address', async (t) => {
  let s = node(1, [2])
  let now = START
  const attempts: number[] = []
  for (let i = 0; i < 10; i++) {
    let r = step(s, { type: 'tick' }, now)
    s = r.state
    const dials = of(r.effects, 'dial')
    if (dials.length > 0) {
      attempts.push(now - START)
      t.same(of(step(s, { type: 'tick' }, now).effects, 'dial'), [], 'not dialled again while in flight')
      r = step(s, { type: 'dial-failed', target: dials[0]!.target, reason: 'ECONNREFUSED', detail: 'refused' }, now)
      s = r.state
    }
    now += T.peerDialBackoffMaxMs
  }
  t.equal(attempts.length, 10, 'retried every time the backoff allowed')
  let probe = node(1, [2])
  const gaps: number[] = []
  let at = START
  for (let i = 0; i < 7; i++) {
    const r = step(probe, { type: 'tick' }, at)
    const d = of(r.effects, 'dial')[0]!
    probe = step(r.state, { type: 'dial-failed', target: d.target, reason: 'ETIMEDOUT', detail: 'x' }, at).state
    const next = probe.targets.get(d.target)!.nextAttemptMs
    gaps.push(next - at)
    at = next
  }
  t.same(gaps, [250, 500, 1_000, 2_000, 4_000, 5_000, 5_000])
})

t.test('a node that says it is stopping is dead at once; older news of it does not revive it', async (t) => {
  let s = node(1)
  s = step(s, { type: 'link-up', nodeId: 2, transport: 'tcp', remote: addr(2) }, START).state
  s = step(s, { type: 'gossip', from: 2, members: [info(2)] }, START).state
  s = step(s, { type: 'link-up', nodeId: 3, transport: 'tcp', remote: addr(3) }, START).state
  s = step(s, { type: 'gossip', from: 3, members: [info(3), info(2, 10)] }, START).state
  const r = step(s, { type: 'link-down', nodeId: 2, reason: 'shutdown', by: 'remote', left: true }, START + 1_000)
  t.same(logs(r.effects), ['info node 2 left (it shut down)'])
  s = r.state
  t.equal(view(s, START + 1_000).find((m) => m.nodeId === 2)!.status, 'dead')
  // Node 3 last heard of 2 before it left.
  s = step(s, { type: 'gossip', from: 3, members: [info(3), info(2, 200)] }, START + 1_100).state
  t.equal(view(s, START + 1_100).find((m) => m.nodeId === 2)!.status, 'dead', 'still dead')
  const g = step(s, { type: 'tick' }, START + 1_000 + T.peerGossipIntervalMs)
  t.notOk(of(g.effects, 'gossip')[0]!.message.members.some((m) => m.nodeId === 2), 'dead members are not gossiped')
})

t.test('a peer that dropped the link (its session timeout) has not left: the member stays alive', async (t) => {
  let s = node(1)
  s = step(s, { type: 'link-up', nodeId: 2, transport: 'tcp', remote: addr(2) }, START).state
  s = step(s, { type: 'gossip', from: 2, members: [info(2)] }, START).state
  const r = step(s, { type: 'link-down', nodeId: 2, reason: 'shutdown', by: 'remote', left: false }, START + 10)
  t.same(logs(r.effects), ['info link to node 2 closed (by the peer: shutdown)'])
  t.same(view(r.state, START + 10).map((m) => [m.nodeId, m.status, m.link]), [[1, 'alive', null], [2, 'alive', null]])
  t.same(of(r.effects, 'dial').map((d) => d.address), [], 'redialled after a short wait, not at once')
  t.same(of(step(r.state, { type: 'tick' }, START + 10 + T.peerDialBackoffMinMs).effects, 'dial').map((d) => d.address), [addr(2)])
})

t.test('bad timing is refused', async (t) => {
  const self = { nodeId: 1, kafkaListener: null, runtime: 'node' as const, listens: [] }
  t.throws(() => initialMembership({ self, dialable: [], now: 0, timing: { peerHeartbeatIntervalMs: 7_000 } }), /peerHeartbeatIntervalMs < peerSessionTimeoutMs/)
  t.throws(() => initialMembership({ self, dialable: [], now: 0, timing: { dialsInFlightMax: 0 } }), /dialsInFlightMax=0 must be positive/)
  t.throws(() => step(initialMembership({ self, dialable: [], now: 0 }), { type: 'link-up', nodeId: 1, transport: 'tcp', remote: 'x' }, 0), /node 1 is this node/)
})
