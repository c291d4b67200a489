import { Encoder } from 'cbor-x/encode'
import t from 'tap'
import {
  decodeFrameBody,
  encodeFrame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameError,
  framedBytes,
  spliceMinBytes,
} from '../../../src/protocol/peer/frame-codec.ts'

const concat = (chunks: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(framedBytes(chunks))
  let o = 0
  for (const c of chunks) {
    out.set(c, o)
    o += c.byteLength
  }
  return out
}

/** JSON that shows bytes alike whether they came as Buffer or Uint8Array. */
const plain = (_key: string, v: unknown): unknown =>
  v instanceof Uint8Array ? Array.from(v) : (v as { type?: string; data?: unknown })?.type === 'Buffer' && Array.isArray((v as { data?: unknown }).data) ? (v as { data: unknown }).data : v

const ping = (data: Uint8Array) => ({ type: 'request', id: 7, body: { kind: 'ping', data } })

t.test('a frame is a uint32 length then one CBOR item, and decodes back to the same value', async (t) => {
  const value = { type: 'goodbye', reason: 'shutdown', detail: 'bye' }
  const frame = concat(encodeFrame(value))
  const length = new DataView(frame.buffer, frame.byteOffset).getUint32(0)
  t.equal(length, frame.byteLength - FRAME_HEADER_BYTES)
  const d = new FrameDecoder(1024)
  d.push(frame)
  t.same(decodeFrameBody(d.next()!), value)
  t.equal(d.next(), null)
  t.equal(d.bufferedBytes, 0)
})

t.test('small frames are written as one chunk; a large trailing byte string is its own chunk, the caller\'s bytes themselves', async (t) => {
  const small = encodeFrame(ping(new Uint8Array(100)))
  t.equal(small.length, 1)
  const data = new Uint8Array(1 << 20).fill(9)
  const big = encodeFrame(ping(data))
  t.equal(big.length, 2)
  t.equal(big[1], data, 'the payload chunk is the very array given: not copied')
  const d = new FrameDecoder(4 << 20)
  for (const c of big) d.push(c)
  const decoded = decodeFrameBody(d.next()!) as ReturnType<typeof ping>
  t.equal(decoded.body.data.byteLength, 1 << 20)
  t.ok(decoded.body.data.every((b) => b === 9))
})

t.test('a frame with a spliced byte string holds exactly the bytes cbor-x encodes for the message', async (t) => {
  const reference = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false, copyBuffers: false })
  const expected = (v: unknown): Uint8Array => {
    const body = reference.encode(v)
    const out = new Uint8Array(FRAME_HEADER_BYTES + body.byteLength)
    new DataView(out.buffer).setUint32(0, body.byteLength)
    out.set(body, FRAME_HEADER_BYTES)
    return out
  }
  const bytes = (n: number) => {
    const b = new Uint8Array(n)
    for (let i = 0; i < n; i++) b[i] = (i * 7 + n) & 0xff
    return b
  }
  const cases: [string, unknown, number][] = []
  for (const n of [spliceMinBytes - 1, spliceMinBytes, 0xffff, 0x10000, 3 << 20]) {
    cases.push([`a ping request of ${n} bytes`, ping(bytes(n)), n >= spliceMinBytes ? 2 : 1])
    cases.push([`a ping response of ${n} bytes, as a Buffer`, { type: 'response', id: 2 ** 40, body: { kind: 'ping', data: Buffer.from(bytes(n)) } }, n >= spliceMinBytes ? 2 : 1])
  }
  cases.push(['bare bytes', bytes(70_000), 2])
  cases.push(['bytes not last in their map (copied)', { type: 'request', id: 1, body: { data: bytes(70_000), kind: 'ping' } }, 2])
  cases.push(['bytes deeper than the splice looks (copied)', { a: { b: { c: { d: bytes(50_000) } } } }, 2])
  cases.push(['bytes in an array (copied)', { type: 'x', list: [bytes(50_000)] }, 2])
  cases.push(['two large byte strings, the last one spliced', { type: 'x', first: bytes(50_000), body: { more: 'é', data: bytes(60_000) } }, 2])
  for (const [what, value, chunks] of cases) {
    const frame = encodeFrame(value)
    t.ok(Buffer.from(concat(frame)).equals(expected(value)), `${what}: the same bytes`)
    t.ok(frame.length <= chunks, `${what}: ${frame.length} chunks`)
  }
  const data = bytes(50_000)
  t.equal(encodeFrame({ type: 'x', first: bytes(50_000), body: { more: 'é', data } })[1], data, 'the last byte string is the one not copied')
})

t.test('frames encoded one after another stay intact (no frame is written over by the next)', async (t) => {
  const frames = Array.from({ length: 500 }, (_, i) => encodeFrame({ type: 'request', id: i, body: { kind: 'ping', data: new Uint8Array(i * 37).fill(i & 0xff) } }))
  const d = new FrameDecoder(1 << 20)
  for (const f of frames) for (const c of f) d.push(c)
  for (let i = 0; i < frames.length; i++) {
    const m = decodeFrameBody(d.next()!) as { id: number; body: { data: Uint8Array } }
    t.equal(m.id, i)
    if (!m.body.data.every((b) => b === (i & 0xff)) || m.body.data.byteLength !== i * 37) t.fail(`frame ${i} changed`)
  }
})

t.test('byte strings decode as views of the received chunk, not copies', async (t) => {
  const data = new Uint8Array(5000).fill(3)
  const chunk = concat(encodeFrame(ping(data)))
  const d = new FrameDecoder(1 << 20)
  d.push(chunk)
  const m = decodeFrameBody(d.next()!) as ReturnType<typeof ping>
  t.equal(m.body.data.buffer, chunk.buffer, 'same ArrayBuffer as the chunk')
  t.ok(m.body.data.byteOffset > chunk.byteOffset && m.body.data.byteOffset + 5000 <= chunk.byteOffset + chunk.byteLength)
})

t.test('a frame split over chunks is assembled once and its bytes are views of that assembly', async (t) => {
  const data = new Uint8Array(3000).map((_, i) => i & 0xff)
  const whole = concat(encodeFrame(ping(data)))
  const d = new FrameDecoder(1 << 20)
  for (let i = 0; i < whole.byteLength; i += 100) {
    d.push(whole.slice(i, i + 100))
    if (i + 100 < whole.byteLength) t.equal(d.next(), null)
  }
  const frame = d.next()!
  t.equal(frame.byteLength, whole.byteLength - FRAME_HEADER_BYTES)
  const m = decodeFrameBody(frame) as ReturnType<typeof ping>
  t.equal(m.body.data.buffer, frame.buffer)
  t.same(Array.from(m.body.data.subarray(0, 300)), Array.from(data.subarray(0, 300)))
})

t.test('a frame assembled from chunks keeps the offset its first byte had within a cache line', async (t) => {
  const data = new Uint8Array(100_000).fill(5)
  const frame = concat(encodeFrame(ping(data)))
  for (const lead of [0, 1, 13, 60]) {
    const first = new Uint8Array(lead + 50_000)
    first.set(frame.subarray(0, 50_000), lead)
    const d = new FrameDecoder(1 << 20)
    d.push(first.subarray(lead))
    d.push(frame.slice(50_000))
    const body = d.next()!
    t.equal(body.byteLength, frame.byteLength - FRAME_HEADER_BYTES)
    t.equal(body.byteOffset % 64, (lead + FRAME_HEADER_BYTES) % 64, `a frame starting ${lead} bytes into its chunk`)
    t.ok(Buffer.from(body).equals(frame.subarray(FRAME_HEADER_BYTES)), 'and holds the frame\'s bytes')
  }
})

t.test('frames split at every byte boundary decode alike', async (t) => {
  const values = [
    { type: 'heartbeat' },
    ping(new Uint8Array([1, 2, 3])),
    { type: 'goodbye', reason: 'shutdown', detail: 'é' },
  ]
  const stream = concat(values.flatMap((v) => encodeFrame(v)))
  for (let cut = 0; cut <= stream.byteLength; cut++) {
    for (const step of [1, 3, 7]) {
      const d = new FrameDecoder(1024)
      const got: unknown[] = []
      const pieces = [stream.subarray(0, cut), ...Array.from({ length: Math.ceil((stream.byteLength - cut) / step) }, (_, i) => stream.subarray(cut + i * step, cut + (i + 1) * step))]
      for (const p of pieces) {
        d.push(p)
        for (let f = d.next(); f !== null; f = d.next()) got.push(decodeFrameBody(f))
      }
      if (JSON.stringify(got, plain) !== JSON.stringify(values, plain)) {
        t.fail(`cut ${cut} step ${step}`)
        return
      }
    }
  }
  t.pass('every split decodes')
})

t.test('a length over the maximum fails before the body arrives', async (t) => {
  const d = new FrameDecoder(1000)
  d.push(new Uint8Array([0, 0, 0x03, 0xe9]))
  t.throws(() => d.next(), FrameError)
  const d2 = new FrameDecoder(1000)
  d2.push(new Uint8Array([0xff, 0xff, 0xff, 0xff]))
  t.throws(() => d2.next(), /over the 1000-byte maximum/)
})

t.test('a zero length fails', async (t) => {
  const d = new FrameDecoder(1000)
  d.push(new Uint8Array([0, 0, 0, 0]))
  t.throws(() => d.next(), /empty frame/)
})

t.test('bad CBOR and trailing bytes fail as FrameError', async (t) => {
  for (const bad of [[0xff], [0x1c], [0x5a, 0xff, 0xff, 0xff, 0xff], [0x01, 0x02], [0xbf, 0x61], [0x9f]]) {
    t.throws(() => decodeFrameBody(new Uint8Array(bad)), FrameError, `bytes ${bad}`)
  }
})

t.test('the maximum can be raised after the handshake', async (t) => {
  const frame = concat(encodeFrame(ping(new Uint8Array(2000))))
  const d = new FrameDecoder(100)
  d.frameMaxBytes = 4096
  d.push(frame)
  t.ok(d.next())
})

t.test('many small chunks do not pile up in the decoder', async (t) => {
  const frame = concat(encodeFrame(ping(new Uint8Array(200_000))))
  const d = new FrameDecoder(1 << 20)
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < frame.byteLength; i += 10) d.push(frame.subarray(i, i + 10))
    t.ok(d.next())
    t.equal(d.bufferedBytes, 0)
    t.notOk(d.midFrame)
  }
})
