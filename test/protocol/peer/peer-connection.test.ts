import t from 'tap'
import { authProof, deriveAuthKey } from '../../../src/protocol/peer/auth.ts'
import type { Membership, OneWayMessage, RequestBody, ResponseBody } from '../../../src/protocol/peer/messages.ts'
import { PROTOCOL_VERSION_MAJOR } from '../../../src/protocol/peer/messages.ts'
import { FRAME_HEADER_BYTES } from '../../../src/protocol/peer/frame-codec.ts'
import { PeerConnection, PeerError, type PeerHandler } from '../../../src/protocol/peer/peer-connection.ts'
import { RecordingLogger } from '../../../src/runtime/logger.ts'
import { SimClock } from '../../../src/sim/sim-clock.ts'
import { CLUSTER, duplexPair, KEY, linkPair, options, RawPeer, RecordingHandler, settle, streamInfo, within } from './helpers.ts'

interface Deferred<T> {
  promise: Promise<T>
  resolve: (v: T) => void
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

const bytes = (...b: number[]) => new Uint8Array(b)
const ping = (...b: number[]): RequestBody => ({ kind: 'ping', data: bytes(...b) })

/** The PeerError a promise rejects with (fails the test if it resolves). */
async function peerError(p: Promise<unknown>): Promise<PeerError> {
  try {
    await within(p, 5_000, 'waiting for a rejection')
  } catch (e) {
    if (e instanceof PeerError) return e
    throw e
  }
  throw new Error('expected a PeerError, got a result')
}

function membership(n: number, tag: number): Membership {
  return {
    type: 'membership',
    members: Array.from({ length: n }, (_, i) => ({
      nodeId: tag,
      kafkaListener: `host-${i}.example:9092`,
      runtime: 'node' as const,
      listens: [{ transport: 'tcp' as const, address: `10.0.${i & 0xff}.1:7000` }],
      heardAgoMs: i,
    })),
  }
}

t.test('two nodes with the same secret authenticate, learn each other and agree on the session', async (t) => {
  const { a, b } = await linkPair()
  t.equal(a.remote?.nodeId, 2)
  t.equal(b.remote?.nodeId, 1)
  t.equal(a.sessionId, b.sessionId)
  t.equal(a.initiator, true)
  t.equal(b.initiator, false)
  a.close()
  b.close()
})

t.test('requests get their responses, also when answered out of order', async (t) => {
  const { a, b } = await linkPair()
  const held: Deferred<ResponseBody>[] = []
  const handler: PeerHandler = {
    onMessage() {},
    onRequest(body) {
      const d = deferred<ResponseBody>()
      held.push(d)
      void body
      return d.promise
    },
  }
  b.start(handler)
  a.start(new RecordingHandler())
  const replies = [a.request(ping(1)), a.request(ping(2)), a.request(ping(3))]
  await settle(() => held.length === 3)
  t.equal(held.length, 3)
  for (let i = 2; i >= 0; i--) held[i]!.resolve({ kind: 'ping', data: bytes(10 + i) })
  const got = await within(Promise.all(replies), 2_000, 'replies')
  t.same(got.map((r) => Array.from(r.data)), [[10], [11], [12]])
  t.equal(a.requestsInFlight, 0)
  a.close()
})

t.test('one-way messages reach the handler in the order they were sent', async (t) => {
  const { a, b } = await linkPair()
  const h = new RecordingHandler()
  b.start(h)
  a.start(new RecordingHandler())
  const sent: OneWayMessage[] = [{ type: 'heartbeat' }, membership(2, 1), { type: 'heartbeat' }, membership(1, 9)]
  for (const m of sent) await a.send(m)
  await settle(() => h.messages.length === 4)
  t.same(h.messages, sent)
  a.close()
})

t.test('record bytes are copied at most once between the sender\'s array and the receiving handler', async (t) => {
  const { a, b, ends } = await linkPair()
  const chunks: Uint8Array[] = []
  ends[1].on('data', (c: Uint8Array) => chunks.push(c))
  const h = new RecordingHandler()
  b.start(h)
  a.start(new RecordingHandler())
  const data = new Uint8Array(10_000).fill(0xab)
  await within(a.request({ kind: 'ping', data }), 2_000, 'ping')
  const got = h.requests[0]!.data
  t.equal(got.byteLength, 10_000)
  t.ok(got.every((x) => x === 0xab))
  t.ok(chunks.some((c) => c.buffer === data.buffer), 'the sender wrote its own array to the stream, not a copy')
  const frameBodyBytes = chunks.reduce((n, c) => n + c.byteLength, 0) - FRAME_HEADER_BYTES
  t.ok(
    chunks.some((c) => c.buffer === got.buffer) || (got.buffer !== data.buffer && got.buffer.byteLength >= frameBodyBytes && got.buffer.byteLength < frameBodyBytes + 64),
    'the handler got a view of a received chunk, or of the frame assembled once from its chunks',
  )
  a.close()
})

t.test('a wrong secret on either side disconnects both, with authentication-failed', async (t) => {
  const ends = duplexPair()
  const la = new RecordingLogger()
  const lb = new RecordingLogger()
  const results = await Promise.allSettled([
    PeerConnection.establish(ends[0], streamInfo(true), options(1, { logger: la })),
    PeerConnection.establish(ends[1], streamInfo(false), options(2, { logger: lb, authKey: deriveAuthKey(new TextEncoder().encode('wrong')) })),
  ])
  for (const r of results) {
    t.equal(r.status, 'rejected')
    if (r.status === 'rejected') {
      t.equal((r.reason as PeerError).code, 'link-closed')
      t.equal((r.reason as PeerError).close?.reason, 'authentication-failed')
    }
  }
  t.match(la.text(), /authentication-failed: the peer's proof does not match/)
  t.match(lb.text(), /authentication-failed/)
  await settle(() => ends[0].destroyed && ends[1].destroyed)
  t.ok(ends[0].destroyed && ends[1].destroyed, 'both streams closed')
})

t.test('a peer with the wrong secret: what it sends after its proof never reaches the application', async (t) => {
  const [mine, theirs] = duplexPair()
  const raw = new RawPeer(theirs)
  const link = new PeerConnection(mine, streamInfo(false), options(1))
  let reached = 0
  link.authenticated.then(
    () => {
      reached++
      link.start({ onMessage: () => void reached++, onRequest: () => (reached++, { kind: 'ping', data: bytes() }) })
    },
    () => {},
  )
  await raw.authenticate(7, deriveAuthKey(new TextEncoder().encode('guess')))
  raw.send({ type: 'heartbeat' })
  raw.send({ type: 'request', id: 0, body: ping(1) })
  const close = await within(link.closed, 2_000, 'close')
  t.equal(close.reason, 'authentication-failed')
  t.match(await raw.next('goodbye'), { reason: 'authentication-failed' })
  await settle()
  t.equal(reached, 0)
})

t.test('a proof replayed from an earlier session is rejected', async (t) => {
  const challenge = new Uint8Array(32).fill(5)
  // session 1: node 5 authenticates for real; an eavesdropper keeps its hello and proof
  const [m1, t1] = duplexPair()
  const raw1 = new RawPeer(t1)
  const link1 = PeerConnection.establish(m1, streamInfo(false), options(1))
  const theirHello = await raw1.authenticate(5, KEY, challenge)
  const recorded = authProof(KEY, CLUSTER, { nodeId: 5, challenge, publicKey: null }, { nodeId: 1, challenge: theirHello.challenge, publicKey: null })
  const l1 = await within(link1, 2_000, 'session 1')
  t.equal(l1.remote?.nodeId, 5)
  // session 2: the same hello and proof, against a fresh challenge
  const [m2, t2] = duplexPair()
  const raw2 = new RawPeer(t2)
  const link2 = PeerConnection.establish(m2, streamInfo(false), options(1))
  raw2.send(raw2.hello(5, challenge))
  raw2.send({ type: 'auth-response', proof: recorded })
  const e = await peerError(link2)
  t.equal(e.close?.reason, 'authentication-failed')
  l1.close()
})

t.test('a forged proof is rejected', async (t) => {
  const [m, p] = duplexPair()
  const raw = new RawPeer(p)
  const link = PeerConnection.establish(m, streamInfo(false), options(1))
  raw.send(raw.hello(5, new Uint8Array(32).fill(1)))
  raw.send({ type: 'auth-response', proof: new Uint8Array(32).fill(0x42) })
  t.equal((await peerError(link)).close?.reason, 'authentication-failed')
})

t.test('a hello reflected back is refused before a proof is given', async (t) => {
  for (const [change, reason] of [[{}, 'duplicate-node-id'], [{ nodeId: 99 }, 'authentication-failed']] as const) {
    const [m, p] = duplexPair()
    const raw = new RawPeer(p)
    const link = PeerConnection.establish(m, streamInfo(false), options(1))
    const theirs = await raw.next('hello')
    raw.send({ ...theirs, ...change })
    t.equal((await peerError(link)).close?.reason, reason)
    t.notOk(raw.received.some((x) => x.type === 'auth-response'), `${reason}: no proof was sent`)
  }
})

t.test('a peer of another major version gets a goodbye that says why', async (t) => {
  const [m, p] = duplexPair()
  const raw = new RawPeer(p)
  const link = PeerConnection.establish(m, streamInfo(false), options(1))
  raw.send({ type: 'hello', versionMajor: PROTOCOL_VERSION_MAJOR + 1, versionMinor: 0, whatever: true })
  t.equal((await peerError(link)).close?.reason, 'unsupported-version')
  const bye = await raw.next('goodbye')
  t.match(bye, { reason: 'unsupported-version', detail: `the peer speaks peer protocol ${PROTOCOL_VERSION_MAJOR + 1}.x; this node speaks ${PROTOCOL_VERSION_MAJOR}.x` })
})

t.test('a peer of another cluster is refused', async (t) => {
  const results = await Promise.allSettled((() => {
    const ends = duplexPair()
    return [
      PeerConnection.establish(ends[0], streamInfo(true), options(1)),
      PeerConnection.establish(ends[1], streamInfo(false), options(2, { clusterName: 'elsewhere' })),
    ]
  })())
  t.same(results.map((r) => r.status === 'rejected' && (r.reason as PeerError).close?.reason), ['cluster-mismatch', 'cluster-mismatch'])
})

t.test('a peer that does not finish the handshake is dropped after the auth timeout', async (t) => {
  const clock = new SimClock()
  const [m, p] = duplexPair()
  const raw = new RawPeer(p)
  const link = PeerConnection.establish(m, streamInfo(false), options(1, { clock, timers: clock, authTimeoutMs: 5_000 }))
  raw.send(raw.hello(5, new Uint8Array(32).fill(1)))
  await settle(() => raw.received.length >= 2)
  clock.advance(4_999)
  await settle()
  clock.advance(1)
  t.equal((await peerError(link)).close?.reason, 'authentication-timeout')
  t.match(await raw.next('goodbye'), { reason: 'authentication-timeout' })
})

t.test('a request without an answer times out, its late answer is dropped, and the link carries on', async (t) => {
  const clock = new SimClock()
  const { a, b } = await linkPair({ clock, timers: clock })
  const held = deferred<ResponseBody>()
  b.start({
    onMessage() {},
    onRequest: (body) => (body.data[0] === 0 ? held.promise : { kind: 'ping', data: body.data }),
  })
  a.start(new RecordingHandler())
  const slow = a.request(ping(0), 100)
  await settle()
  clock.advance(100)
  const e = await peerError(slow)
  t.equal(e.code, 'timeout')
  t.equal(a.requestsInFlight, 1, 'the timed-out request keeps its slot until its answer comes')
  const fast = await within(a.request(ping(7), 100), 2_000, 'second request')
  t.same(Array.from(fast.data), [7])
  held.resolve({ kind: 'ping', data: bytes(0) })
  await settle(() => a.requestsInFlight === 0)
  t.equal(a.requestsInFlight, 0)
  t.ok(a.isOpen && b.isOpen)
  a.close()
})

t.test('requests past the in-flight bound are refused at once with too-many-requests', async (t) => {
  const { a, b } = await linkPair({ requestsInFlightMax: 2 })
  const held = deferred<ResponseBody>()
  b.start({ onMessage() {}, onRequest: () => held.promise })
  a.start(new RecordingHandler())
  const first = [a.request(ping(1)), a.request(ping(2))]
  const e = await peerError(a.request(ping(3)))
  t.equal(e.code, 'too-many-requests')
  held.resolve({ kind: 'ping', data: bytes() })
  await within(Promise.all(first), 2_000, 'first two')
  a.close()
})

t.test('the peer\'s smaller in-flight bound caps this side\'s requests', async (t) => {
  const { a, b } = await linkPair({}, { requestsInFlightMax: 1 })
  const held = deferred<ResponseBody>()
  b.start({ onMessage() {}, onRequest: () => held.promise })
  a.start(new RecordingHandler())
  const first = a.request(ping(1))
  t.equal((await peerError(a.request(ping(2)))).code, 'too-many-requests')
  held.resolve({ kind: 'ping', data: bytes() })
  await within(first, 2_000, 'first')
  a.close()
})

t.test('a failing handler answers handler-failed and the link stays open', async (t) => {
  const { a, b } = await linkPair()
  b.start({
    onMessage() {},
    onRequest(body) {
      if (body.data[0] === 1) throw new Error('disk on fire')
      if (body.data[0] === 2) return Promise.reject(new Error('later fire'))
      return { kind: 'wrong' } as unknown as ResponseBody
    },
  })
  a.start(new RecordingHandler())
  const e1 = await peerError(a.request(ping(1)))
  t.equal(e1.code, 'handler-failed')
  t.match(e1.message, /disk on fire/)
  t.equal((await peerError(a.request(ping(2)))).code, 'handler-failed')
  t.equal((await peerError(a.request(ping(3)))).code, 'handler-failed', 'a response of the wrong shape is not sent')
  t.ok(a.isOpen && b.isOpen)
  a.close()
})

t.test('a request of an unknown kind is answered unsupported-request and the link stays open', async (t) => {
  const [m, p] = duplexPair()
  const raw = new RawPeer(p)
  const link = PeerConnection.establish(m, streamInfo(false), options(1))
  await raw.authenticate(5)
  const l = await within(link, 2_000, 'auth')
  const h = new RecordingHandler()
  l.start(h)
  raw.send({ type: 'request', id: 0, body: { kind: 'fetch', partitions: [] } })
  t.match(await raw.next('error'), { type: 'error', id: 0, code: 'unsupported-request' })
  t.equal(h.requests.length, 0)
  t.ok(l.isOpen)
  l.close()
})

t.test('frames over the peer\'s maximum are refused on this side, without closing the link', async (t) => {
  const { a, b } = await linkPair({ frameMaxBytes: 4096 }, { frameMaxBytes: 4096 })
  b.start({ onMessage() {}, onRequest: (body) => ({ kind: 'ping', data: new Uint8Array(body.data[0]! * 1000) }) })
  a.start(new RecordingHandler())
  t.equal((await peerError(a.request({ kind: 'ping', data: new Uint8Array(5000) }))).code, 'frame-too-large')
  t.equal((await peerError(a.request(ping(9)))).code, 'response-too-large')
  const ok = await within(a.request(ping(2)), 2_000, 'a fitting request')
  t.equal(ok.data.byteLength, 2000)
  t.ok(a.isOpen && b.isOpen)
  a.close()
})

t.test('reading pauses while the handler\'s queue is full, and resumes as it empties', async (t) => {
  const { a, b } = await linkPair({}, { deliveriesPendingMax: 3 })
  const held: Deferred<void>[] = []
  b.start({
    onMessage() {
      const d = deferred<void>()
      held.push(d)
      return d.promise
    },
    onRequest: () => ({ kind: 'ping', data: bytes() }),
  })
  a.start(new RecordingHandler())
  for (let i = 0; i < 10; i++) void a.send({ type: 'heartbeat' })
  await settle(() => held.length >= 3)
  await settle(() => held.length > 3, 20)
  t.equal(held.length, 3, 'three in the handler, the rest wait in the stream')
  held[0]!.resolve()
  await settle(() => held.length >= 4)
  t.equal(held.length, 4)
  for (let i = 0; i < 10 && held.length < 10; i++) {
    for (const d of held) d.resolve()
    await settle(() => held.length === 10, 50)
  }
  t.equal(held.length, 10)
  a.close()
})

t.test('a reader that stops reading makes the writer wait, and the bytes queued stay bounded', async (t) => {
  const sendQueueMaxBytes = 64 * 1024
  const { a, b } = await linkPair({ sendQueueMaxBytes }, { deliveriesPendingMax: 1 }, 8 * 1024)
  const gate = deferred<void>()
  const h = new RecordingHandler()
  b.start({
    onMessage(m) {
      h.messages.push(m)
      return gate.promise
    },
    onRequest: () => ({ kind: 'ping', data: bytes() }),
  })
  a.start(new RecordingHandler())
  const message = membership(40, 1) // ~2 KiB
  // a writer that waits for each send: it stalls
  let written = 0
  let maxQueued = 0
  const writer = (async () => {
    for (let i = 0; i < 500; i++) {
      await a.send(message)
      written++
      maxQueued = Math.max(maxQueued, a.queuedBytes)
    }
  })()
  await settle(() => false, 100)
  t.ok(written < 500, `the writer waits (${written} of 500 sent)`)
  // a writer that does not wait: it is refused past the bound
  const refused: PeerError[] = []
  for (let i = 0; i < 200; i++) {
    a.send(message).catch((e: PeerError) => refused.push(e))
    maxQueued = Math.max(maxQueued, a.queuedBytes)
  }
  await settle()
  t.ok(refused.length > 0 && refused.every((e) => e.code === 'send-queue-full'), 'sends past the bound are refused')
  t.ok(maxQueued <= sendQueueMaxBytes, `queued bytes stayed within the bound (max ${maxQueued})`)
  t.equal(h.messages.length, 1, 'the reader took one message')
  gate.resolve()
  await within(writer, 10_000, 'the writer finishes once the reader reads')
  t.equal(written, 500)
  await settle(() => h.messages.length === 500 + 200 - refused.length)
  t.equal(h.messages.length, 500 + 200 - refused.length, 'every accepted message arrived')
  t.ok(a.isOpen && b.isOpen)
  a.close()
})

t.test('a goodbye closes both sides with its reason, and what waited on the link fails', async (t) => {
  const { a, b } = await linkPair()
  const held = deferred<ResponseBody>()
  a.start({ onMessage() {}, onRequest: () => held.promise })
  b.start(new RecordingHandler())
  const waiting = b.request(ping(1))
  await settle()
  a.close('going home')
  const [ca, cb] = await within(Promise.all([a.closed, b.closed]), 5_000, 'both closed')
  t.same(ca, { reason: 'shutdown', detail: 'going home', by: 'local' })
  t.same(cb, { reason: 'shutdown', detail: 'the peer said goodbye: going home', by: 'remote' })
  const e = await peerError(waiting)
  t.equal(e.code, 'link-closed')
  t.equal(e.close?.reason, 'shutdown')
  t.equal((await peerError(b.send({ type: 'heartbeat' }))).code, 'link-closed')
  t.equal((await peerError(a.request(ping(1)))).code, 'link-closed')
  held.resolve({ kind: 'ping', data: bytes() })
})

t.test('a stream that goes away closes the link with stream-ended', async (t) => {
  const { a, b, ends } = await linkPair()
  a.start(new RecordingHandler())
  b.start(new RecordingHandler())
  ends[0].destroy()
  const [ca, cb] = await within(Promise.all([a.closed, b.closed]), 5_000, 'both closed')
  t.equal(cb.reason, 'stream-ended')
  t.ok(ca.reason === 'stream-ended' || ca.reason === 'stream-error')
})

t.test('the proofs are bound to the transport keys: a relay between two sessions fails', async (t) => {
  const ka = new Uint8Array(32).fill(0xa)
  const kb = new Uint8Array(32).fill(0xb)
  const same = duplexPair()
  const ok = await within(Promise.all([
    PeerConnection.establish(same[0], streamInfo(true, { local: ka, remote: kb }), options(1)),
    PeerConnection.establish(same[1], streamInfo(false, { local: kb, remote: ka }), options(2)),
  ]), 2_000, 'matching keys')
  t.equal(ok[0].remote?.nodeId, 2)
  ok[0].close()
  // each side sees a different key for the other, as through a relay holding its own Noise keys
  const relayed = duplexPair()
  const results = await Promise.allSettled([
    PeerConnection.establish(relayed[0], streamInfo(true, { local: ka, remote: new Uint8Array(32).fill(0xc) }), options(1)),
    PeerConnection.establish(relayed[1], streamInfo(false, { local: kb, remote: ka }), options(2)),
  ])
  t.same(results.map((r) => r.status === 'rejected' && (r.reason as PeerError).close?.reason), ['authentication-failed', 'authentication-failed'])
})

t.test('before authentication, a frame over the handshake maximum is refused without waiting for its body', async (t) => {
  const [m, p] = duplexPair()
  const raw = new RawPeer(p)
  const logger = new RecordingLogger()
  const link = PeerConnection.establish(m, streamInfo(false), options(1, { logger }))
  raw.write(new Uint8Array([0, 1, 0, 0])) // 64 KiB announced
  const e = await peerError(link)
  t.equal(e.close?.reason, 'protocol-violation')
  t.match(e.close?.detail, /frame of 65536 bytes is over the 8192-byte maximum/)
  t.match(logger.text(), /warn peer link sim test:a closed: protocol-violation/)
})
