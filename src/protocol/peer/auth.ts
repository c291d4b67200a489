/**
 * Peer authentication: each side proves it knows the cluster secret, bound to this very link.
 *
 * Exchange (symmetric; both sides send at once, neither waits for the other to start):
 *   1. each sends `hello` with a fresh random challenge (CHALLENGE_BYTES);
 *   2. on the other's hello, each checks version, cluster name and node id, then sends
 *      `auth-response` with proof = HMAC-SHA256(authKey, transcript(prover = itself));
 *   3. on the other's proof, each recomputes it and compares in constant time.
 * A side is authenticated when the peer's proof checked out; nothing the peer sent reaches the
 * application before that (the link shell holds the frames), and any other message, a bad
 * proof, or the auth timeout ends the link with a `goodbye` that says why.
 *
 * authKey = HMAC-SHA256(secret, "peerlog peer-auth key v1"): never the secret itself, and not
 * the hyperswarm topic (a hash of the secret that the DHT sees), from which it cannot be told.
 *
 * transcript(prover, verifier) = label, cluster name, then for the prover and then the
 * verifier: node id, challenge, transport public key (empty when the transport has none), each
 * length-prefixed. The prover comes first, so a side's own proof is never a valid answer to
 * itself; the verifier's fresh challenge makes an old proof useless (no replay); the public
 * keys bind the proof to the Noise session on hyperswarm, so a relay between two Noise sessions
 * cannot pass proofs through. A hello that claims this node's own id or echoes its challenge is
 * refused before any proof is sent (otherwise the proof would answer a reflected challenge).
 *
 * The state machine is pure: `step(state, input) -> { state, effects }`; the link shell
 * (peer-connection.ts) does the sending, the timer and the closing.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import {
  CHALLENGE_BYTES,
  type GoodbyeReason,
  type Hello,
  type PeerMessage,
  PROTOCOL_VERSION_MAJOR,
  PROTOCOL_VERSION_MINOR,
} from './messages.ts'

const KEY_LABEL = 'peerlog peer-auth key v1'
const TRANSCRIPT_LABEL = 'peerlog peer-auth transcript v1'
const SESSION_LABEL = 'peerlog peer session v1'
const utf8 = new TextEncoder()

/** The key proofs are made with, from the cluster secret (the secret file's bytes). */
export function deriveAuthKey(secret: Uint8Array): Uint8Array {
  if (secret.byteLength === 0) throw new Error('the cluster secret is empty')
  return new Uint8Array(createHmac('sha256', secret).update(KEY_LABEL).digest())
}

/** One side of a handshake as both sides see it. */
export interface AuthParty {
  nodeId: number
  challenge: Uint8Array
  /** The side's transport key (StreamInfo.localPublicKey / remotePublicKey), or null. */
  publicKey: Uint8Array | null
}

function lengthPrefixed(hmac: ReturnType<typeof createHmac>, bytes: Uint8Array): void {
  const n = new Uint8Array(4)
  new DataView(n.buffer).setUint32(0, bytes.byteLength)
  hmac.update(n).update(bytes)
}

function party(hmac: ReturnType<typeof createHmac>, p: AuthParty): void {
  const id = new Uint8Array(4)
  new DataView(id.buffer).setUint32(0, p.nodeId)
  hmac.update(id)
  lengthPrefixed(hmac, p.challenge)
  lengthPrefixed(hmac, p.publicKey ?? new Uint8Array(0))
}

/** The proof `prover` sends to `verifier`. */
export function authProof(authKey: Uint8Array, clusterName: string, prover: AuthParty, verifier: AuthParty): Uint8Array {
  const hmac = createHmac('sha256', authKey)
  lengthPrefixed(hmac, utf8.encode(TRANSCRIPT_LABEL))
  lengthPrefixed(hmac, utf8.encode(clusterName))
  party(hmac, prover)
  party(hmac, verifier)
  return new Uint8Array(hmac.digest())
}

/** True when `proof` is the one `prover` must send; compared in constant time. */
export function verifyAuthProof(authKey: Uint8Array, clusterName: string, prover: AuthParty, verifier: AuthParty, proof: Uint8Array): boolean {
  const expected = authProof(authKey, clusterName, prover, verifier)
  return proof.byteLength === expected.byteLength && timingSafeEqual(proof, expected)
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.byteLength, b.byteLength)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.byteLength - b.byteLength
}

/** A name of the link both sides compute alike (from both challenges, in either order). */
export function sessionId(a: Uint8Array, b: Uint8Array): string {
  const [first, second] = compareBytes(a, b) <= 0 ? [a, b] : [b, a]
  return createHash('sha256').update(SESSION_LABEL).update(first).update(second).digest('hex')
}

// ------------------------------------------------------------------ the handshake state machine

export interface HandshakeConfig {
  nodeId: number
  clusterName: string
  authKey: Uint8Array
  /** This side's challenge: CHALLENGE_BYTES random bytes. */
  challenge: Uint8Array
  localPublicKey: Uint8Array | null
  remotePublicKey: Uint8Array | null
  /** Announced in hello: requests the peer may have outstanding with this node. */
  requestsInFlightMax: number
  /** Announced in hello: the largest frame this node accepts. */
  frameMaxBytes: number
}

/** What the handshake learnt of the peer. */
export interface RemotePeer {
  nodeId: number
  clusterName: string
  versionMinor: number
  requestsInFlightMax: number
  frameMaxBytes: number
  /** sessionId() of the two challenges. */
  sessionId: string
}

export type HandshakeState =
  | { phase: 'awaiting-hello'; config: HandshakeConfig }
  | { phase: 'awaiting-proof'; config: HandshakeConfig; hello: Hello }
  | { phase: 'authenticated'; config: HandshakeConfig; remote: RemotePeer }
  | { phase: 'failed'; config: HandshakeConfig; reason: GoodbyeReason; detail: string }

export type HandshakeInput = PeerMessage | { type: 'timeout' }

export type HandshakeEffect =
  | { type: 'send'; message: PeerMessage }
  | { type: 'authenticated'; remote: RemotePeer }
  /** `sendGoodbye` is false when the peer said goodbye itself. */
  | { type: 'failed'; reason: GoodbyeReason; detail: string; sendGoodbye: boolean }

export interface HandshakeStep {
  state: HandshakeState
  effects: HandshakeEffect[]
}

export function startHandshake(config: HandshakeConfig): HandshakeStep {
  if (config.challenge.byteLength !== CHALLENGE_BYTES) {
    throw new Error(`a challenge is ${CHALLENGE_BYTES} bytes, got ${config.challenge.byteLength}`)
  }
  const hello: Hello = {
    type: 'hello',
    versionMajor: PROTOCOL_VERSION_MAJOR,
    versionMinor: PROTOCOL_VERSION_MINOR,
    nodeId: config.nodeId,
    clusterName: config.clusterName,
    challenge: config.challenge,
    requestsInFlightMax: config.requestsInFlightMax,
    frameMaxBytes: config.frameMaxBytes,
  }
  return { state: { phase: 'awaiting-hello', config }, effects: [{ type: 'send', message: hello }] }
}

const fail = (config: HandshakeConfig, reason: GoodbyeReason, detail: string, sendGoodbye = true): HandshakeStep => ({
  state: { phase: 'failed', config, reason, detail },
  effects: [{ type: 'failed', reason, detail, sendGoodbye }],
})

const self = (c: HandshakeConfig): AuthParty => ({ nodeId: c.nodeId, challenge: c.challenge, publicKey: c.localPublicKey })
const peer = (c: HandshakeConfig, h: Hello): AuthParty => ({ nodeId: h.nodeId, challenge: h.challenge, publicKey: c.remotePublicKey })

export function stepHandshake(state: HandshakeState, input: HandshakeInput): HandshakeStep {
  const config = state.config
  if (state.phase === 'authenticated' || state.phase === 'failed') {
    throw new Error(`the handshake is over (${state.phase}); got ${input.type}`)
  }
  switch (input.type) {
    case 'timeout':
      return fail(config, 'authentication-timeout', `the peer did not finish the handshake in time (${state.phase})`)
    case 'goodbye':
      return fail(config, input.reason, `the peer said goodbye during the handshake: ${input.detail}`, false)
    case 'hello': {
      if (state.phase !== 'awaiting-hello') return fail(config, 'protocol-violation', 'a second hello')
      if (input.clusterName !== config.clusterName) {
        return fail(config, 'cluster-mismatch', `the peer is in cluster ${JSON.stringify(input.clusterName)}, this node in ${JSON.stringify(config.clusterName)}`)
      }
      if (input.nodeId === config.nodeId) {
        return fail(config, 'duplicate-node-id', `the peer claims this node's id ${config.nodeId}`)
      }
      if (timingSafeEqual(input.challenge, config.challenge)) {
        return fail(config, 'authentication-failed', "the peer echoed this node's challenge")
      }
      const proof = authProof(config.authKey, config.clusterName, self(config), peer(config, input))
      return {
        state: { phase: 'awaiting-proof', config, hello: input },
        effects: [{ type: 'send', message: { type: 'auth-response', proof } }],
      }
    }
    case 'auth-response': {
      if (state.phase !== 'awaiting-proof') return fail(config, 'protocol-violation', 'an auth-response before the hello')
      const hello = state.hello
      if (!verifyAuthProof(config.authKey, config.clusterName, peer(config, hello), self(config), input.proof)) {
        return fail(config, 'authentication-failed', "the peer's proof does not match: it does not know this cluster's secret")
      }
      const remote: RemotePeer = {
        nodeId: hello.nodeId,
        clusterName: hello.clusterName,
        versionMinor: hello.versionMinor,
        requestsInFlightMax: hello.requestsInFlightMax,
        frameMaxBytes: hello.frameMaxBytes,
        sessionId: sessionId(config.challenge, hello.challenge),
      }
      return { state: { phase: 'authenticated', config, remote }, effects: [{ type: 'authenticated', remote }] }
    }
    case 'heartbeat':
    case 'membership':
    case 'request':
    case 'response':
    case 'error':
      return fail(config, 'protocol-violation', `a ${input.type} message before the handshake finished`)
    default: {
      const _: never = input
      throw new Error(`unhandled handshake input ${JSON.stringify(_)}`)
    }
  }
}
