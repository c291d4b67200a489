/**
 * Malformed input over an authenticated link: whatever arrives, the link ends closed with a
 * logged reason, nothing invalid reaches the handler, nothing is thrown out of the link, and
 * the node's other links carry on.
 */
import t from 'tap'
import { encodeFrame, framedBytes } from '../../../src/protocol/peer/frame-codec.ts'
import { parsePeerMessage, type ResponseBody } from '../../../src/protocol/peer/messages.ts'
import { PeerConnection, type PeerCloseInfo } from '../../../src/protocol/peer/peer-connection.ts'
import { RecordingLogger } from '../../../src/runtime/logger.ts'
import { SeededRandom } from '../../../src/sim/random.ts'
import { duplexPair, linkPair, options, RawPeer, RecordingHandler, streamInfo, within } from './helpers.ts'

const frameOf = (value: unknown): Uint8Array => {
  const chunks = encodeFrame(value)
  const out = new Uint8Array(framedBytes(chunks))
  let o = 0
  for (const c of chunks) {
    out.set(c, o)
    o += c.byteLength
  }
  return out
}

const header = (length: number): Uint8Array => {
  const h = new Uint8Array(4)
  new DataView(h.buffer).setUint32(0, length)
  return h
}

const withHeader = (body: number[] | Uint8Array): Uint8Array => {
  const b = body instanceof Uint8Array ? body : new Uint8Array(body)
  const out = new Uint8Array(4 + b.byteLength)
  out.set(header(b.byteLength))
  out.set(b, 4)
  return out
}

/** A link of node 1 to a raw peer (node 5) that authenticated for real. */
async function fuzzedLink(logger = new RecordingLogger(), handler = new RecordingHandler(), over = {}) {
  const [mine, theirs] = duplexPair()
  const raw = new RawPeer(theirs)
  const pending = PeerConnection.establish(mine, streamInfo(false), options(1, { logger, frameMaxBytes: 1 << 20, ...over }))
  await raw.authenticate(5)
  const link = await within(pending, 2_000, 'handshake')
  link.start(handler)
  return { link, raw, handler, logger }
}

/** Sends `bytes`, then ends the raw side; resolves with how the link closed. */
async function feed(raw: RawPeer, link: PeerConnection, bytes: Uint8Array[]): Promise<PeerCloseInfo> {
  for (const b of bytes) raw.write(b)
  raw.end.end()
  return within(link.closed, 5_000, 'the link closes')
}

const valid = [
  { type: 'heartbeat' },
  { type: 'request', id: 0, body: { kind: 'ping', data: new Uint8Array([1, 2, 3]) } },
  { type: 'membership', members: [{ nodeId: 3, kafkaListener: 'h:9092', runtime: 'bun', listens: [{ transport: 'tcp', address: 'h:7000' }], heardAgoMs: 10 }] },
]

t.test('each kind of malformed frame closes the link as a protocol violation, with the reason logged', async (t) => {
  const deep = new Uint8Array(100_001).fill(0x81)
  deep[100_000] = 0x00
  const cases: [string, Uint8Array[], RegExp][] = [
    ['bad CBOR', [withHeader([0xff])], /bad CBOR/],
    ['reserved CBOR', [withHeader([0x1c])], /bad CBOR/],
    ['trailing bytes after the item', [withHeader([0xa0, 0x00])], /bad CBOR/],
    ['a length shorter than the item', [header(3), frameOf({ type: 'heartbeat' }).subarray(4)], /bad CBOR|message/],
    ['an oversize length', [header(0xffffffff)], /over the 1048576-byte maximum/],
    ['a zero length', [header(0)], /empty frame/],
    ['a byte string longer than its frame', [withHeader([0x5a, 0x7f, 0xff, 0xff, 0xff, 1, 2])], /bad CBOR/],
    ['an array claiming 2^40 items', [withHeader([0x9b, 0, 0, 1, 0, 0, 0, 0, 0])], /bad CBOR/],
    ['nesting 100,000 deep', [withHeader(deep)], /bad CBOR/],
    ['a number', [frameOf(42)], /expected a map, got number/],
    ['a string', [frameOf('heartbeat')], /expected a map, got string/],
    ['an array', [frameOf([{ type: 'heartbeat' }])], /expected a map, got an array/],
    ['an unknown type', [frameOf({ type: 'shell', cmd: 'rm' })], /message.type: unknown "shell"/],
    ['a negative request id', [frameOf({ type: 'request', id: -1, body: { kind: 'ping', data: new Uint8Array() } })], /request.id/],
    ['text where bytes belong', [frameOf({ type: 'request', id: 1, body: { kind: 'ping', data: 'abc' } })], /request.body.data: expected bytes/],
    ['a response nobody asked for', [frameOf({ type: 'response', id: 123, body: { kind: 'ping', data: new Uint8Array() } })], /not in flight/],
    ['an error for no request', [frameOf({ type: 'error', id: 0, code: 'handler-failed', message: '' })], /not in flight/],
    ['a hello after the handshake', [frameOf({ type: 'hello' })], /hello/],
    ['membership that is not a list', [frameOf({ type: 'membership', members: 'all of them' })], /membership.members: expected an array/],
  ]
  for (const [name, bytes, detail] of cases) {
    const { link, raw, handler, logger } = await fuzzedLink()
    const close = await feed(raw, link, [...bytes, frameOf({ type: 'heartbeat' })])
    t.equal(close.reason, 'protocol-violation', name)
    t.match(close.detail, detail, name)
    t.match(logger.text(), new RegExp(`warn peer link node 5 .* closed: protocol-violation`), `${name}: logged`)
    t.equal(handler.messages.length + handler.requests.length, 0, `${name}: nothing reached the handler, not even the heartbeat after it`)
    t.match(raw.received.at(-1), { type: 'goodbye', reason: 'protocol-violation' }, `${name}: the peer was told`)
  }
})

t.test('a length that promises more than ever comes ends the link when the stream ends', async (t) => {
  for (const bytes of [[header(1000), new Uint8Array(20)], [frameOf({ type: 'heartbeat' }).subarray(0, 3)]]) {
    const { link, raw, handler } = await fuzzedLink()
    const close = await feed(raw, link, bytes)
    t.equal(close.reason, 'stream-ended')
    t.match(close.detail, /mid-frame/)
    t.equal(handler.messages.length, 0)
  }
})

t.test('more requests than the announced in-flight bound is a flood that closes the link', async (t) => {
  const hold = new Promise<ResponseBody>(() => {})
  const handler = new RecordingHandler()
  handler.onRequest = (body) => {
    handler.requests.push(body)
    return hold
  }
  const { link, raw } = await fuzzedLink(new RecordingLogger(), handler, { requestsInFlightMax: 4, deliveriesPendingMax: 100 })
  const flood = Array.from({ length: 5 }, (_, id) => frameOf({ type: 'request', id, body: { kind: 'ping', data: new Uint8Array(1) } }))
  const close = await feed(raw, link, flood)
  t.equal(close.reason, 'protocol-violation')
  t.match(close.detail, /request flood/)
  t.equal(handler.requests.length, 4, 'the requests within the bound were handled, the fifth was not')
})

t.test('seeded random garbage always ends in a closed link with a reason, and the node\'s other links carry on', async (t) => {
  const logger = new RecordingLogger()
  // node 1's healthy link to node 2
  const healthy = await linkPair({ logger })
  healthy.a.start(new RecordingHandler())
  healthy.b.start(new RecordingHandler())
  const reasons = new Map<string, number>()
  const runs = 300
  for (let seed = 1; seed <= runs; seed++) {
    const rng = new SeededRandom(seed)
    const { link, raw, handler } = await fuzzedLink(logger)
    const base = frameOf(valid[rng.int(valid.length)])
    let bytes: Uint8Array
    switch (rng.int(5)) {
      case 0: // noise
        bytes = rng.bytes(1 + rng.int(2000))
        break
      case 1: { // a valid frame with a few bytes flipped
        bytes = base.slice()
        for (let i = 0, n = 1 + rng.int(4); i < n; i++) bytes[rng.int(bytes.length)] ^= 1 + rng.int(255)
        break
      }
      case 2: // a valid frame cut short
        bytes = base.subarray(0, rng.int(base.length))
        break
      case 3: { // a valid body under a lying length
        bytes = base.slice()
        new DataView(bytes.buffer).setUint32(0, rng.int(2) === 0 ? rng.int(base.length * 2) : rng.nextUint32())
        break
      }
      default: // a right length over random bytes
        bytes = withHeader(rng.bytes(1 + rng.int(300)))
    }
    // delivered in random pieces
    const pieces: Uint8Array[] = []
    for (let o = 0; o < bytes.length;) {
      const n = 1 + rng.int(64)
      pieces.push(bytes.subarray(o, o + n))
      o += n
    }
    const close = await feed(raw, link, pieces)
    t.ok(close.detail.length > 0, `seed ${seed}: a reason is given`)
    reasons.set(close.reason, (reasons.get(close.reason) ?? 0) + 1)
    for (const m of [...handler.messages, ...handler.requests.map((body) => ({ type: 'request', id: 0, body }))]) {
      if (parsePeerMessage(m).ok !== true) t.fail(`seed ${seed}: an invalid message reached the handler`)
    }
  }
  t.ok((reasons.get('protocol-violation') ?? 0) > runs / 3, `mostly protocol violations: ${JSON.stringify([...reasons])}`)
  t.equal(logger.lines.filter((l) => /closed: protocol-violation/.test(l.message)).length, reasons.get('protocol-violation'), 'each violation was logged')
  const reply = await within(healthy.b.request({ kind: 'ping', data: new Uint8Array([42]) }), 2_000, 'the healthy link')
  t.same(Array.from(reply.data), [42])
  t.ok(healthy.a.isOpen && healthy.b.isOpen)
  healthy.a.close()
})
