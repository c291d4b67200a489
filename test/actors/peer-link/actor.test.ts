// The peer-link actor over a real PeerConnection pair (in memory): heartbeats keep a quiet link
// up, gossip and requests reach the host, a silent peer is dropped after the session timeout,
// and the host hears of every close exactly once.
import { start, stop } from 'nact'
import t, { type Test as Tap } from 'tap'
import { type PeerLink, type PeerLinkHost, spawnPeerLink } from '../../../actors/peer-link/actor.ts'
import type { Membership, OneWayMessage, RequestBody } from '../../../src/protocol/peer/messages.ts'
import type { PeerCloseInfo, PeerConnection } from '../../../src/protocol/peer/peer-connection.ts'
import { systemClock } from '../../../src/runtime/clock.ts'
import { RecordingLogger } from '../../../src/runtime/logger.ts'
import type { TimerHandle, Timers } from '../../../src/sim/sim-clock.ts'
import { linkPair, RecordingHandler, settle, within } from '../../protocol/peer/helpers.ts'

const timing = { peerHeartbeatIntervalMs: 20, peerSessionTimeoutMs: 150 }

const timers: Timers = {
  setTimeout: (cb, ms) => ({ id: 0, h: setTimeout(cb, ms) }) as unknown as TimerHandle,
  clearTimeout: (h) => clearTimeout((h as unknown as { h: ReturnType<typeof setTimeout> }).h),
}

class Host implements PeerLinkHost {
  heardCount = 0
  readonly gossips: Membership[] = []
  readonly observed: (OneWayMessage | RequestBody)[] = []
  readonly closes: PeerCloseInfo[] = []
  heard(): void { this.heardCount++ }
  gossip(_l: PeerLink, m: Membership): void { this.gossips.push(m) }
  request(_l: PeerLink, body: RequestBody) { return { kind: 'ping' as const, data: body.data.map((b) => b + 1) } }
  closed(_l: PeerLink, info: PeerCloseInfo): void { this.closes.push(info) }
  observe(_l: PeerLink, m: OneWayMessage | RequestBody): void { this.observed.push(m) }
}

async function setup(t: Tap) {
  const system = start()
  const { a, b } = await linkPair({ closeGraceMs: 100 }, { closeGraceMs: 100 })
  const host = new Host()
  const logger = new RecordingLogger()
  const link = spawnPeerLink(system, 'peer-link-2', { connection: a, host, timing, clock: systemClock, timers, logger })
  t.teardown(() => {
    a.close()
    b.close()
    stop(system)
  })
  return { a, b, host, link, logger }
}

/** Starts `b` with a handler, so that it answers (and heartbeats come back from a second actor if wanted). */
function answer(b: PeerConnection): RecordingHandler {
  const handler = new RecordingHandler()
  b.start(handler)
  return handler
}

t.test('a quiet link stays up on heartbeats; gossip and requests reach the host', async (t) => {
  const { b, host, link } = await setup(t)
  const other = answer(b)
  // b says nothing on its own but heartbeats: send some by hand, as b's own actor would.
  const beat = setInterval(() => void b.send({ type: 'heartbeat' }).catch(() => {}), 20)
  t.teardown(() => clearInterval(beat))
  await new Promise((r) => setTimeout(r, 400))
  t.equal(host.closes.length, 0, 'still open after more than twice the session timeout')
  t.ok(other.messages.filter((m) => m.type === 'heartbeat').length >= 5, 'the actor sent heartbeats')
  t.ok(host.heardCount > 0, 'the host heard the peer')

  const gossip: Membership = { type: 'membership', members: [{ nodeId: 2, kafkaListener: null, runtime: 'bun', listens: [], heardAgoMs: 0 }] }
  await b.send(gossip)
  await settle(() => host.gossips.length === 1)
  t.same(host.gossips, [gossip])
  const reply = await within(b.request({ kind: 'ping', data: new Uint8Array([1, 2]) }), 2_000, 'the request')
  t.same([...reply.data], [2, 3], 'answered by the host')
  t.ok(host.observed.some((m) => 'kind' in m && m.kind === 'ping'), 'the request reached the actor')

  link.close('done here')
  await settle(() => host.closes.length === 1)
  t.same(host.closes, [{ reason: 'shutdown', detail: 'done here', by: 'local' }])
})

t.test('a peer that goes silent is dropped after the session timeout, and the host is told once', async (t) => {
  const { host, logger } = await setup(t)
  // b is never started: it reads nothing and sends nothing.
  await within((async () => { while (host.closes.length === 0) await new Promise((r) => setTimeout(r, 10)) })(), 3_000, 'the close')
  t.equal(host.closes.length, 1)
  t.match(host.closes[0], { reason: 'shutdown', by: 'local', detail: /^nothing from node 2 in \d+ ms \(peerSessionTimeoutMs 150\)$/ })
  t.match(logger.text(), /warn peer link to node 2 \(sim test:b\): closing the link: nothing from node 2/)
  await new Promise((r) => setTimeout(r, 100))
  t.equal(host.closes.length, 1, 'once')
})

t.test('when the peer says goodbye, the host is told and later sends go nowhere', async (t) => {
  const { b, host, link } = await setup(t)
  answer(b)
  b.close('bye')
  await within((async () => { while (host.closes.length === 0) await new Promise((r) => setTimeout(r, 5)) })(), 3_000, 'the close')
  t.same(host.closes, [{ reason: 'shutdown', detail: 'the peer said goodbye: bye', by: 'remote' }])
  t.doesNotThrow(() => link.send({ type: 'heartbeat' }), 'a stopped actor takes sends and drops them')
  t.doesNotThrow(() => link.close('again'))
})
