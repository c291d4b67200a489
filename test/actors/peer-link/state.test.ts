// The peer-link state machine: heartbeats, the session timeout, where messages go, and that a
// closing link hands nothing on.
import t from 'tap'
import { initialPeerLinkState, type PeerLinkEffect, type PeerLinkState, step } from '../../../actors/peer-link/state.ts'
import type { PeerLinkMessage } from '../../../actors/peer-link/messages.ts'

const timing = { peerHeartbeatIntervalMs: 1_000, peerSessionTimeoutMs: 6_000 }
const START = 5_000_000
const noop = (): void => {}

function run(state: PeerLinkState, msg: PeerLinkMessage, now: number): { state: PeerLinkState; types: string[]; effects: PeerLinkEffect[] } {
  const r = step(state, msg, now)
  return { state: r.state, types: r.effects.map((e) => (e.type === 'send' ? `send ${e.message.type}` : e.type)), effects: r.effects }
}

t.test('a heartbeat goes out once per interval, not more often', async (t) => {
  let s = initialPeerLinkState(2, timing, START)
  const sent: number[] = []
  for (let now = START; now <= START + 3_000; now += 250) {
    const r = run(s, { type: 'tick', lastReceivedMs: now }, now)
    s = r.state
    if (r.types.includes('send heartbeat')) sent.push(now - START)
  }
  t.same(sent, [1_000, 2_000, 3_000])
})

t.test('a peer silent for longer than the session timeout: the link closes, once, and says why', async (t) => {
  let s = initialPeerLinkState(2, timing, START)
  let r = run(s, { type: 'tick', lastReceivedMs: START }, START + 6_000)
  t.notOk(r.types.includes('close'), 'at the timeout itself it is still open')
  r = run(r.state, { type: 'tick', lastReceivedMs: START }, START + 6_001)
  t.same(r.types, ['log', 'close'])
  const close = r.effects.find((e) => e.type === 'close')
  t.same(close, { type: 'close', detail: 'nothing from node 2 in 6001 ms (peerSessionTimeoutMs 6000)' })
  s = r.state
  t.equal(s.phase, 'closing')
  t.same(run(s, { type: 'tick', lastReceivedMs: START }, START + 9_000).types, [], 'no heartbeats, no second close')
  t.same(run(s, { type: 'send', message: { type: 'heartbeat' } }, START + 9_000).types, [], 'nothing more is sent')
})

t.test('anything received counts: a tick that sees newer traffic reports the peer heard', async (t) => {
  const s = initialPeerLinkState(2, timing, START)
  const r = run(s, { type: 'tick', lastReceivedMs: START + 5_000 }, START + 9_000)
  t.same(r.types, ['heard', 'send heartbeat'], 'alive: heard 4 s ago, within the timeout')
})

t.test('gossip goes to the node, heartbeats stop at "heard"; each frees its delivery slot', async (t) => {
  const s = initialPeerLinkState(2, timing, START)
  const membership = { type: 'membership' as const, members: [] }
  t.same(run(s, { type: 'received', message: membership, done: noop }, START).types, ['heard', 'deliver', 'done'])
  t.same(run(s, { type: 'received', message: { type: 'heartbeat' }, done: noop }, START).types, ['heard', 'done'])
  t.same(run(s, { type: 'request', body: { kind: 'ping', data: new Uint8Array(1) }, reply: noop, fail: noop }, START).types, ['heard', 'handle-request'])
})

t.test('once closing, nothing the peer sent is handed on and requests are refused', async (t) => {
  let s = initialPeerLinkState(2, timing, START)
  s = run(s, { type: 'close', detail: 'shutting down' }, START).state
  t.same(run(s, { type: 'received', message: { type: 'membership', members: [] }, done: noop }, START).types, ['done'])
  t.same(run(s, { type: 'request', body: { kind: 'ping', data: new Uint8Array(1) }, reply: noop, fail: noop }, START).types, ['refuse-request'])
  const closed = run(s, { type: 'closed', info: { reason: 'shutdown', detail: 'x', by: 'local' } }, START)
  t.same(closed.types, ['closed'])
  t.same(run(closed.state, { type: 'closed', info: { reason: 'shutdown', detail: 'x', by: 'local' } }, START).types, [], 'told once')
  t.same(run(closed.state, { type: 'close', detail: 'again' }, START).types, [])
})

t.test('timing that cannot work is refused', async (t) => {
  t.throws(() => initialPeerLinkState(2, { peerHeartbeatIntervalMs: 6_000, peerSessionTimeoutMs: 6_000 }, 0), /peerHeartbeatIntervalMs < peerSessionTimeoutMs/)
})
