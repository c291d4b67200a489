import t from 'tap'
import {
  decodeFrameBody,
  encodeFrame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameError,
  framedBytes,
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

t.test('small frames are written as one chunk, large ones as header and body without joining them', async (t) => {
  const small = encodeFrame(ping(new Uint8Array(100)))
  t.equal(small.length, 1)
  const big = encodeFrame(ping(new Uint8Array(1 << 20).fill(9)))
  t.ok(big.length <= 2)
  if (big.length === 2) t.equal(big[0]!.byteLength, FRAME_HEADER_BYTES)
  const d = new FrameDecoder(4 << 20)
  for (const c of big) d.push(c)
  const decoded = decodeFrameBody(d.next()!) as ReturnType<typeof ping>
  t.equal(decoded.body.data.byteLength, 1 << 20)
  t.ok(decoded.body.data.every((b) => b === 9))
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
