import t from 'tap'
import { parsePeerMessage, type PeerMessage, PROTOCOL_VERSION_MAJOR } from '../../../src/protocol/peer/messages.ts'

const hello = {
  type: 'hello',
  versionMajor: PROTOCOL_VERSION_MAJOR,
  versionMinor: 0,
  nodeId: 3,
  clusterName: 'c',
  challenge: new Uint8Array(32),
  requestsInFlightMax: 64,
  frameMaxBytes: 1 << 24,
}

const valid: PeerMessage[] = [
  hello as PeerMessage,
  { type: 'auth-response', proof: new Uint8Array(32) },
  { type: 'heartbeat' },
  {
    type: 'membership',
    members: [
      { nodeId: 1, kafkaListener: '10.0.0.1:9092', runtime: 'node', listens: [{ transport: 'tcp', address: '10.0.0.1:7000' }, { transport: 'hyperswarm', address: 'ab'.repeat(32) }], heardAgoMs: 0 },
      { nodeId: 2, kafkaListener: null, runtime: 'deno', listens: [], heardAgoMs: 1500 },
    ],
  },
  { type: 'request', id: 0, body: { kind: 'ping', data: new Uint8Array(3) } },
  { type: 'response', id: 2 ** 40, body: { kind: 'ping', data: new Uint8Array(0) } },
  { type: 'error', id: 5, code: 'handler-failed', message: 'boom' },
  { type: 'goodbye', reason: 'duplicate-connection', detail: '' },
]

t.test('every message of the union passes validation unchanged', async (t) => {
  for (const m of valid) {
    const r = parsePeerMessage(m)
    t.same(r, { ok: true, message: m }, m.type)
  }
})

t.test('fields a later minor version adds are tolerated', async (t) => {
  t.equal(parsePeerMessage({ type: 'heartbeat', load: 0.5 }).ok, true)
  t.equal(parsePeerMessage({ ...hello, features: ['x'] }).ok, true)
})

t.test('a hello of another major version is refused with a reason that names both versions', async (t) => {
  const r = parsePeerMessage({ type: 'hello', versionMajor: PROTOCOL_VERSION_MAJOR + 1, somethingElse: true })
  t.same(r, {
    ok: false,
    reason: 'unsupported-version',
    detail: `the peer speaks peer protocol ${PROTOCOL_VERSION_MAJOR + 1}.x; this node speaks ${PROTOCOL_VERSION_MAJOR}.x`,
  })
})

t.test('a request of an unknown kind is told apart from a malformed one', async (t) => {
  t.same(parsePeerMessage({ type: 'request', id: 9, body: { kind: 'fetch', x: 1 } }), { ok: 'unsupported-request', id: 9, kind: 'fetch' })
  t.equal(parsePeerMessage({ type: 'response', id: 9, body: { kind: 'fetch' } }).ok, false, 'a response of an unknown kind answers nothing we asked')
  t.equal(parsePeerMessage({ type: 'request', id: 9, body: { kind: 7 } }).ok, false)
})

t.test('wrong types and shapes are protocol violations that say where', async (t) => {
  const cases: [unknown, RegExp][] = [
    [null, /message: expected a map, got null/],
    [[1, 2], /expected a map, got an array/],
    ['hello', /expected a map, got string/],
    [new Uint8Array(4), /expected a map, got bytes/],
    [{}, /message.type: unknown/],
    [{ type: 'nonsense' }, /message.type: unknown "nonsense"/],
    [{ type: 'toString' }, /message.type: unknown/],
    [{ type: '__proto__' }, /message.type: unknown/],
    [{ ...hello, nodeId: -1 }, /hello.nodeId/],
    [{ ...hello, nodeId: 2 ** 31 }, /hello.nodeId/],
    [{ ...hello, nodeId: 1.5 }, /hello.nodeId/],
    [{ ...hello, challenge: new Uint8Array(31) }, /hello.challenge: expected 32 bytes, got 31/],
    [{ ...hello, challenge: 'x'.repeat(32) }, /hello.challenge: expected bytes/],
    [{ ...hello, clusterName: 'c'.repeat(256) }, /hello.clusterName: longer than 255/],
    [{ ...hello, requestsInFlightMax: 0 }, /hello.requestsInFlightMax/],
    [{ ...hello, versionMinor: 'one' }, /hello.versionMinor/],
    [{ type: 'auth-response', proof: new Uint8Array(16) }, /auth-response.proof/],
    [{ type: 'request', id: -3, body: { kind: 'ping', data: new Uint8Array(0) } }, /request.id/],
    [{ type: 'request', id: 2 ** 60, body: { kind: 'ping', data: new Uint8Array(0) } }, /request.id/],
    [{ type: 'request', id: 1n, body: { kind: 'ping', data: new Uint8Array(0) } }, /request.id/],
    [{ type: 'request', id: 1, body: [] }, /request.body: expected a map/],
    [{ type: 'request', id: 1, body: { kind: 'ping', data: 'bytes?' } }, /request.body.data: expected bytes, got string/],
    [{ type: 'request', id: 1, body: { kind: 'ping', data: new Uint16Array(2) } }, /request.body.data: expected bytes/],
    [{ type: 'response', id: 1, body: { kind: 'ping' } }, /response.body.data: expected bytes, got undefined/],
    [{ type: 'error', id: 1, code: 'oops', message: '' }, /error.code: expected one of/],
    [{ type: 'error', id: 1, code: 'handler-failed', message: 'm'.repeat(1025) }, /error.message: longer than 1024/],
    [{ type: 'goodbye', reason: 'because', detail: '' }, /goodbye.reason/],
    [{ type: 'membership', members: {} }, /membership.members: expected an array/],
    [{ type: 'membership', members: new Array(4097).fill(null) }, /more than 4096 items/],
    [{ type: 'membership', members: [{ nodeId: 1, kafkaListener: 5, runtime: 'node', listens: [], heardAgoMs: 0 }] }, /members\[0\].kafkaListener/],
    [{ type: 'membership', members: [{ nodeId: 1, kafkaListener: null, runtime: 'jvm', listens: [], heardAgoMs: 0 }] }, /members\[0\].runtime: expected one of node, deno, bun/],
    [{ type: 'membership', members: [{ nodeId: 1, kafkaListener: null, runtime: 'bun', listens: [{ transport: 'udp', address: '' }], heardAgoMs: 0 }] }, /listens\[0\].transport/],
    [{ type: 'membership', members: [{ nodeId: 1, kafkaListener: null, runtime: 'bun', listens: [], heardAgoMs: -5 }] }, /heardAgoMs/],
  ]
  for (const [value, expected] of cases) {
    const r = parsePeerMessage(value)
    if (r.ok !== false) {
      t.fail(`accepted ${String(value)}`)
      continue
    }
    t.equal(r.reason, 'protocol-violation')
    t.match(r.detail, expected)
  }
})
