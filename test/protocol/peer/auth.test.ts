import t from 'tap'
import {
  type AuthParty,
  authProof,
  deriveAuthKey,
  type HandshakeConfig,
  type HandshakeStep,
  sessionId,
  startHandshake,
  stepHandshake,
  verifyAuthProof,
} from '../../../src/protocol/peer/auth.ts'
import type { PeerMessage } from '../../../src/protocol/peer/messages.ts'
import { SeededRandom } from '../../../src/sim/random.ts'

const enc = (s: string) => new TextEncoder().encode(s)
const rnd = new SeededRandom(42)
const KEY = deriveAuthKey(enc('secret'))
const a: AuthParty = { nodeId: 1, challenge: rnd.bytes(32), publicKey: null }
const b: AuthParty = { nodeId: 2, challenge: rnd.bytes(32), publicKey: null }

t.test('the auth key is derived from the secret, never the secret itself', async (t) => {
  t.equal(KEY.byteLength, 32)
  t.same(deriveAuthKey(enc('secret')), KEY)
  t.notSame(deriveAuthKey(enc('secret2')), KEY)
  t.throws(() => deriveAuthKey(new Uint8Array(0)), /empty/)
})

t.test('a proof checks out for the same transcript only', async (t) => {
  const p = authProof(KEY, 'c', a, b)
  t.ok(verifyAuthProof(KEY, 'c', a, b, p))
  t.notOk(verifyAuthProof(deriveAuthKey(enc('other')), 'c', a, b, p), 'another secret')
  t.notOk(verifyAuthProof(KEY, 'c2', a, b, p), 'another cluster name')
  t.notOk(verifyAuthProof(KEY, 'c', b, a, p), 'a side\'s own proof is not the other side\'s')
  t.notOk(verifyAuthProof(KEY, 'c', a, { ...b, challenge: rnd.bytes(32) }, p), 'replayed against a fresh challenge')
  t.notOk(verifyAuthProof(KEY, 'c', { ...a, nodeId: 3 }, b, p), 'another node id')
  t.notOk(verifyAuthProof(KEY, 'c', a, b, p.subarray(0, 16)), 'a short proof')
  t.notOk(verifyAuthProof(KEY, 'c', a, b, new Uint8Array(32)), 'a forged proof')
})

t.test('a proof is bound to the transport keys when the stream has them', async (t) => {
  const ka = rnd.bytes(32)
  const kb = rnd.bytes(32)
  const p = authProof(KEY, 'c', { ...a, publicKey: ka }, { ...b, publicKey: kb })
  t.ok(verifyAuthProof(KEY, 'c', { ...a, publicKey: ka }, { ...b, publicKey: kb }, p))
  t.notOk(verifyAuthProof(KEY, 'c', { ...a, publicKey: rnd.bytes(32) }, { ...b, publicKey: kb }, p), 'relayed from another Noise session')
  t.notOk(verifyAuthProof(KEY, 'c', a, b, p), 'stripped of keys')
})

t.test('both sides compute the same session id', async (t) => {
  t.equal(sessionId(a.challenge, b.challenge), sessionId(b.challenge, a.challenge))
  t.not(sessionId(a.challenge, b.challenge), sessionId(a.challenge, rnd.bytes(32)))
})

const config = (party: AuthParty, over: Partial<HandshakeConfig> = {}): HandshakeConfig => ({
  nodeId: party.nodeId,
  clusterName: 'c',
  authKey: KEY,
  challenge: party.challenge,
  localPublicKey: null,
  remotePublicKey: null,
  requestsInFlightMax: 8,
  frameMaxBytes: 1 << 20,
  ...over,
})

const sent = (s: HandshakeStep): PeerMessage[] => s.effects.flatMap((e) => (e.type === 'send' ? [e.message] : []))

/** Runs two handshakes against each other, message by message; returns each side's last step. */
function run(ca: HandshakeConfig, cb: HandshakeConfig): [HandshakeStep, HandshakeStep] {
  let sa = startHandshake(ca)
  let sb = startHandshake(cb)
  const toB = sent(sa)
  const toA = sent(sb)
  for (let round = 0; round < 4 && (toA.length > 0 || toB.length > 0); round++) {
    const ma = toA.shift()
    if (ma && sa.state.phase !== 'failed' && sa.state.phase !== 'authenticated') {
      sa = stepHandshake(sa.state, ma)
      toB.push(...sent(sa))
    }
    const mb = toB.shift()
    if (mb && sb.state.phase !== 'failed' && sb.state.phase !== 'authenticated') {
      sb = stepHandshake(sb.state, mb)
      toA.push(...sent(sb))
    }
  }
  return [sa, sb]
}

t.test('two sides with the same secret authenticate each other and agree on the session', async (t) => {
  const [sa, sb] = run(config(a), config(b))
  t.equal(sa.state.phase, 'authenticated')
  t.equal(sb.state.phase, 'authenticated')
  if (sa.state.phase === 'authenticated' && sb.state.phase === 'authenticated') {
    t.equal(sa.state.remote.nodeId, 2)
    t.equal(sb.state.remote.nodeId, 1)
    t.equal(sa.state.remote.sessionId, sb.state.remote.sessionId)
    t.equal(sa.state.remote.requestsInFlightMax, 8)
  }
})

t.test('a wrong secret on either side fails both with authentication-failed', async (t) => {
  const [sa, sb] = run(config(a), config(b, { authKey: deriveAuthKey(enc('wrong')) }))
  t.match(sa.effects, [{ type: 'failed', reason: 'authentication-failed', sendGoodbye: true }])
  t.match(sb.effects, [{ type: 'failed', reason: 'authentication-failed', sendGoodbye: true }])
})

t.test('mismatched transport keys fail the handshake', async (t) => {
  const ka = rnd.bytes(32)
  const kb = rnd.bytes(32)
  const [sa, sb] = run(config(a, { localPublicKey: ka, remotePublicKey: kb }), config(b, { localPublicKey: kb, remotePublicKey: rnd.bytes(32) }))
  t.equal(sa.state.phase, 'failed')
  t.equal(sb.state.phase, 'failed')
})

t.test('a hello is refused before any proof is sent when it claims our id, echoes our challenge, or names another cluster', async (t) => {
  const start = startHandshake(config(a))
  const ourHello = sent(start)[0]!
  const cases: [PeerMessage, string][] = [
    [ourHello, 'duplicate-node-id'],
    [{ ...ourHello, nodeId: 9 } as PeerMessage, 'authentication-failed'],
    [{ ...ourHello, nodeId: 9, challenge: b.challenge, clusterName: 'other' } as PeerMessage, 'cluster-mismatch'],
  ]
  for (const [input, reason] of cases) {
    const s = stepHandshake(start.state, input)
    t.equal(sent(s).length, 0, `${reason}: no proof goes out`)
    t.match(s.effects, [{ type: 'failed', reason }])
  }
})

t.test('anything but hello, then auth-response, fails the handshake; a goodbye ends it without answering', async (t) => {
  const start = startHandshake(config(a))
  t.match(stepHandshake(start.state, { type: 'heartbeat' }).effects, [{ type: 'failed', reason: 'protocol-violation' }])
  t.match(stepHandshake(start.state, { type: 'auth-response', proof: new Uint8Array(32) }).effects, [{ type: 'failed', reason: 'protocol-violation' }])
  t.match(stepHandshake(start.state, { type: 'goodbye', reason: 'shutdown', detail: 'x' }).effects, [{ type: 'failed', reason: 'shutdown', sendGoodbye: false }])
  t.match(stepHandshake(start.state, { type: 'timeout' }).effects, [{ type: 'failed', reason: 'authentication-timeout' }])
  const helloB = sent(startHandshake(config(b)))[0]!
  const afterHello = stepHandshake(start.state, helloB)
  t.match(stepHandshake(afterHello.state, helloB).effects, [{ type: 'failed', reason: 'protocol-violation' }], 'a second hello')
  t.throws(() => stepHandshake(stepHandshake(afterHello.state, { type: 'timeout' }).state, { type: 'timeout' }), /over/)
})
