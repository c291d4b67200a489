/**
 * Peer messages — the one discriminated union (on `type`) that broker nodes exchange, and the
 * validator every decoded frame passes before anything reaches the application.
 *
 * A link starts with the handshake: each side sends `hello` (protocol version, node id,
 * cluster name, the limits it enforces, and a random challenge: `hello` doubles as the auth
 * challenge), then `auth-response` (its proof over both hellos, src/protocol/peer/auth.ts).
 * After it: `heartbeat` and `membership` are one-way; `request`/`response`/`error` carry a
 * request id chosen by the requester (responses may come out of order); `goodbye` says why a
 * side closes the link.
 *
 * Requests are typed by kind: `RequestKinds` maps each kind to its request and response body.
 * A new kind (the controller quorum's votes and metadata fetches, the replicas' fetches) is a
 * new entry there plus its validators in `bodyValidators` (the compiler demands both); an
 * unknown kind is answered with an `unsupported-request` error, so a newer minor version can
 * add kinds without breaking older peers. A new major version may change anything, except
 * that `hello` keeps `type`, `versionMajor` and `versionMinor`, so that the mismatch can be
 * told.
 *
 * Validation is strict on the fields named here (type, range, size) and tolerant of fields it
 * does not know (a later minor version may add them). Byte strings are `Uint8Array` views into
 * the received frame (src/protocol/peer/frame-codec.ts): an application that keeps one for
 * long should copy it, or it keeps the whole received chunk alive.
 */
import type { RuntimeName } from '../../runtime/platform.ts'

export const PROTOCOL_VERSION_MAJOR = 1
export const PROTOCOL_VERSION_MINOR = 0

/** Bytes of the random challenge in `hello`. */
export const CHALLENGE_BYTES = 32
/** Bytes of an HMAC-SHA256 proof. */
export const PROOF_BYTES = 32
/** Longest cluster name, in UTF-16 code units. */
export const clusterNameMaxChars = 255
/** Longest free-text field (goodbye detail, error message); senders truncate to it. */
export const detailMaxChars = 1024
/** Longest address (host:port, or a hyperswarm public key in hex). */
export const addressMaxChars = 512
/** Members in one membership message. */
export const membersMax = 4096
/** Transports one member advertises. */
export const listensMax = 8

export type TransportName = 'tcp' | 'hyperswarm' | 'sim'
export const TRANSPORT_NAMES: readonly TransportName[] = ['tcp', 'hyperswarm', 'sim']
export const RUNTIME_NAMES: readonly RuntimeName[] = ['node', 'deno', 'bun']

export interface Hello {
  type: 'hello'
  versionMajor: number
  versionMinor: number
  nodeId: number
  clusterName: string
  /** CHALLENGE_BYTES random bytes; the peer's proof must cover them. */
  challenge: Uint8Array
  /** Requests the sender of this hello accepts outstanding from the other side at once. */
  requestsInFlightMax: number
  /** The largest frame the sender of this hello accepts. */
  frameMaxBytes: number
}

export interface AuthResponse {
  type: 'auth-response'
  /** HMAC-SHA256 over the handshake transcript, with the key derived from the cluster secret. */
  proof: Uint8Array
}

export interface Heartbeat {
  type: 'heartbeat'
}

export interface MemberListen {
  transport: TransportName
  address: string
}

export interface MemberInfo {
  nodeId: number
  /** host:port of its Kafka listener, as clients dial it; null when it has none. */
  kafkaListener: string | null
  runtime: RuntimeName
  /** Where peers reach it. */
  listens: MemberListen[]
  /**
   * How long before this message was sent the sender last heard from the member (0 for the
   * sender itself): an age, not a timestamp, since nodes' clocks disagree.
   */
  heardAgoMs: number
}

export interface Membership {
  type: 'membership'
  members: MemberInfo[]
}

/** Request kinds, each with its request and response body (both carry `kind`). */
export interface RequestKinds {
  /** A round trip: the link's liveness probe; `data` lets benchmarks size it. */
  ping: {
    request: { kind: 'ping'; data: Uint8Array }
    response: { kind: 'ping'; data: Uint8Array }
  }
}
export type RequestKind = keyof RequestKinds
export type RequestBody<K extends RequestKind = RequestKind> = RequestKinds[K]['request']
export type ResponseBody<K extends RequestKind = RequestKind> = RequestKinds[K]['response']

export interface Request {
  type: 'request'
  id: number
  body: RequestBody
}

export interface Response {
  type: 'response'
  id: number
  body: ResponseBody
}

/** Why a request got no response. */
export type RequestErrorCode =
  /** The receiver does not know the request's kind (an older minor version). */
  | 'unsupported-request'
  /** The receiver's handler failed. */
  | 'handler-failed'
  /** The response would not fit in the requester's frame maximum. */
  | 'response-too-large'
export const REQUEST_ERROR_CODES: readonly RequestErrorCode[] = ['unsupported-request', 'handler-failed', 'response-too-large']

export interface RequestError {
  type: 'error'
  /** The request this answers. */
  id: number
  code: RequestErrorCode
  message: string
}

export type GoodbyeReason =
  | 'shutdown'
  | 'duplicate-connection'
  | 'unsupported-version'
  | 'cluster-mismatch'
  | 'duplicate-node-id'
  | 'authentication-failed'
  | 'authentication-timeout'
  | 'protocol-violation'
  | 'send-queue-full'
export const GOODBYE_REASONS: readonly GoodbyeReason[] = [
  'shutdown', 'duplicate-connection', 'unsupported-version', 'cluster-mismatch', 'duplicate-node-id',
  'authentication-failed', 'authentication-timeout', 'protocol-violation', 'send-queue-full',
]

export interface Goodbye {
  type: 'goodbye'
  reason: GoodbyeReason
  detail: string
}

export type PeerMessage = Hello | AuthResponse | Heartbeat | Membership | Request | Response | RequestError | Goodbye
/** Messages handed to the application as they come (no answer). */
export type OneWayMessage = Heartbeat | Membership

/** The outcome of validating one decoded frame. */
export type ParseResult =
  | { ok: true; message: PeerMessage }
  /** A well-formed request of a kind this node does not know: answered, not fatal. */
  | { ok: 'unsupported-request'; id: number; kind: string }
  | { ok: false; reason: 'protocol-violation' | 'unsupported-version'; detail: string }

type Check = (v: unknown, path: string) => string | null

// ------------------------------------------------------------------ field checks

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)

const describe = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'an array' : v instanceof Uint8Array ? 'bytes' : typeof v

const nonNegativeInt = (max: number): Check => (v, path) =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max ? null : `${path}: expected an integer in [0, ${max}], got ${typeof v === 'number' ? v : describe(v)}`

const INT32_MAX = 0x7fffffff
const nodeIdCheck = nonNegativeInt(INT32_MAX)
const requestIdCheck = nonNegativeInt(Number.MAX_SAFE_INTEGER)
const positiveLimit: Check = (v, path) =>
  typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 0xffffffff ? null : `${path}: expected an integer in [1, 2^32), got ${typeof v === 'number' ? v : describe(v)}`

const text = (maxChars: number): Check => (v, path) =>
  typeof v !== 'string' ? `${path}: expected a string, got ${describe(v)}` : v.length > maxChars ? `${path}: longer than ${maxChars} characters` : null

const bytes = (exactLength?: number): Check => (v, path) =>
  !(v instanceof Uint8Array) ? `${path}: expected bytes, got ${describe(v)}`
    : exactLength !== undefined && v.length !== exactLength ? `${path}: expected ${exactLength} bytes, got ${v.length}` : null

const oneOf = <T>(values: readonly T[]): Check => (v, path) =>
  values.includes(v as T) ? null : `${path}: expected one of ${values.join(', ')}, got ${typeof v === 'string' ? JSON.stringify(v.slice(0, 64)) : describe(v)}`

/** The first failing check of an object's fields, or null. */
function fields(v: unknown, path: string, checks: Record<string, Check>): string | null {
  if (!isRecord(v)) return `${path}: expected a map, got ${describe(v)}`
  for (const key in checks) {
    const err = checks[key]!(v[key], `${path}.${key}`)
    if (err !== null) return err
  }
  return null
}

const listen: Check = (v, path) => fields(v, path, { transport: oneOf(TRANSPORT_NAMES), address: text(addressMaxChars) })

const arrayOf = (maxItems: number, item: Check): Check => (v, path) => {
  if (!Array.isArray(v)) return `${path}: expected an array, got ${describe(v)}`
  if (v.length > maxItems) return `${path}: more than ${maxItems} items`
  for (let i = 0; i < v.length; i++) {
    const err = item(v[i], `${path}[${i}]`)
    if (err !== null) return err
  }
  return null
}

const member: Check = (v, path) => fields(v, path, {
  nodeId: nodeIdCheck,
  kafkaListener: (l, p) => (l === null ? null : text(addressMaxChars)(l, p)),
  runtime: oneOf(RUNTIME_NAMES),
  listens: arrayOf(listensMax, listen),
  heardAgoMs: nonNegativeInt(Number.MAX_SAFE_INTEGER),
})

// ------------------------------------------------------------------ bodies

/** Checks of each kind's bodies; `kind` itself is checked before these run. */
export const bodyValidators: { [K in RequestKind]: { request: Check; response: Check } } = {
  ping: {
    request: (v, path) => fields(v, path, { data: bytes() }),
    response: (v, path) => fields(v, path, { data: bytes() }),
  },
}

const isKnownKind = (kind: unknown): kind is RequestKind =>
  typeof kind === 'string' && Object.prototype.hasOwnProperty.call(bodyValidators, kind)

// ------------------------------------------------------------------ messages

const messageChecks: { [T in PeerMessage['type']]: Record<string, Check> } = {
  hello: {
    versionMajor: nonNegativeInt(0xffff),
    versionMinor: nonNegativeInt(0xffff),
    nodeId: nodeIdCheck,
    clusterName: text(clusterNameMaxChars),
    challenge: bytes(CHALLENGE_BYTES),
    requestsInFlightMax: positiveLimit,
    frameMaxBytes: positiveLimit,
  },
  'auth-response': { proof: bytes(PROOF_BYTES) },
  heartbeat: {},
  membership: { members: arrayOf(membersMax, member) },
  request: { id: requestIdCheck, body: (v, p) => (isRecord(v) ? null : `${p}: expected a map, got ${describe(v)}`) },
  response: { id: requestIdCheck, body: (v, p) => (isRecord(v) ? null : `${p}: expected a map, got ${describe(v)}`) },
  error: { id: requestIdCheck, code: oneOf(REQUEST_ERROR_CODES), message: text(detailMaxChars) },
  goodbye: { reason: oneOf(GOODBYE_REASONS), detail: text(detailMaxChars) },
}

const violation = (detail: string): ParseResult => ({ ok: false, reason: 'protocol-violation', detail })

/** Checks one decoded CBOR value against the union. */
export function parsePeerMessage(value: unknown): ParseResult {
  if (!isRecord(value)) return violation(`message: expected a map, got ${describe(value)}`)
  const type = value.type
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(messageChecks, type)) {
    return violation(`message.type: unknown ${typeof type === 'string' ? JSON.stringify(type.slice(0, 64)) : describe(type)}`)
  }
  const t = type as PeerMessage['type']
  // The version comes first: a peer of another major version may shape its hello differently.
  if (t === 'hello' && typeof value.versionMajor === 'number' && value.versionMajor !== PROTOCOL_VERSION_MAJOR) {
    return {
      ok: false,
      reason: 'unsupported-version',
      detail: `the peer speaks peer protocol ${value.versionMajor}.x; this node speaks ${PROTOCOL_VERSION_MAJOR}.x`,
    }
  }
  const err = fields(value, t, messageChecks[t])
  if (err !== null) return violation(err)
  if (t === 'request' || t === 'response') {
    const body = value.body as Record<string, unknown>
    if (!isKnownKind(body.kind)) {
      if (t === 'request' && typeof body.kind === 'string' && body.kind.length <= 64) {
        return { ok: 'unsupported-request', id: value.id as number, kind: body.kind }
      }
      return violation(`${t}.body.kind: unknown ${typeof body.kind === 'string' ? JSON.stringify(body.kind.slice(0, 64)) : describe(body.kind)}`)
    }
    const bodyErr = bodyValidators[body.kind][t](body, `${t}.body`)
    if (bodyErr !== null) return violation(bodyErr)
  }
  return { ok: true, message: value as unknown as PeerMessage }
}

/** Cuts a free-text field to what the peer accepts. */
export const clipDetail = (s: string): string => (s.length > detailMaxChars ? s.slice(0, detailMaxChars - 1) + '…' : s)
