import { connect, type Socket } from 'node:net'
import t from 'tap'
import { startKafkaListener } from '../../../src/protocol/kafka/listener.ts'
import type { Outcome, Router } from '../../../src/protocol/kafka/router.ts'
import { RecordingLogger } from '../../../src/runtime/logger.ts'

/** A router for framing tests: frame = [delay ms, tag...]; answers [tag...] after the delay; 0xff closes; 0xfe answers nothing. */
function fakeRouter(calls: Uint8Array[], gate?: { open: boolean; waiters: (() => void)[] }): Router {
  return {
    handle(frame: Uint8Array): Outcome | Promise<Outcome> {
      const copy = Uint8Array.from(frame)
      calls.push(copy)
      if (copy[0] === 0xff) return { kind: 'close', reason: 'test' }
      if (copy[0] === 0xfe) return { kind: 'none' }
      const body = copy.subarray(1)
      const out = new Uint8Array(4 + body.length)
      new DataView(out.buffer).setInt32(0, body.length)
      out.set(body, 4)
      const answer = (): Outcome => ({ kind: 'respond', chunks: [out.subarray(0, 2), out.subarray(2)] })
      if (gate && !gate.open) return new Promise((r) => gate.waiters.push(() => r(answer())))
      return copy[0] === 0 ? answer() : new Promise((r) => setTimeout(() => r(answer()), copy[0]))
    },
  } as unknown as Router
}

function frame(delay: number, ...tag: number[]): Buffer {
  const b = Buffer.alloc(4 + 1 + tag.length)
  b.writeInt32BE(1 + tag.length, 0)
  b[4] = delay
  Buffer.from(tag).copy(b, 5)
  return b
}

async function client(port: number): Promise<{ socket: Socket; frames: number[][]; closed: Promise<void> }> {
  const socket = await new Promise<Socket>((resolve) => {
    const s = connect(port, '127.0.0.1', () => resolve(s))
  })
  const frames: number[][] = []
  let buf = Buffer.alloc(0)
  socket.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c])
    while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
      const n = buf.readInt32BE(0)
      frames.push([...buf.subarray(4, 4 + n)])
      buf = buf.subarray(4 + n)
    }
  })
  socket.on('error', () => {})
  const closed = new Promise<void>((r) => socket.on('close', () => r()))
  return { socket, frames, closed }
}

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 5))
  }
}

const limits = { maxRequestBytes: 1000, maxInFlightRequests: 100, idleMs: 60_000 }

t.test('frames split anywhere are reassembled; responses keep request order under concurrency', async (t) => {
  const calls: Uint8Array[] = []
  const l = await startKafkaListener({ host: '127.0.0.1', port: 0, router: fakeRouter(calls), logger: new RecordingLogger(), ...limits })
  t.teardown(() => l.close())
  const c = await client(l.port)
  const bytes = Buffer.concat([frame(40, 1), frame(0, 2), frame(20, 3, 3), frame(0xfe), frame(5, 4)])
  for (let i = 0; i < bytes.length; i++) c.socket.write(bytes.subarray(i, i + 1))
  await until(() => c.frames.length === 4)
  t.same(c.frames, [[1], [2], [3, 3], [4]], 'in request order; the no-response request is skipped')
  // Many frames in one write.
  c.socket.write(Buffer.concat(Array.from({ length: 50 }, (_, i) => frame(i % 3, i))))
  await until(() => c.frames.length === 54)
  t.same(c.frames.slice(4).map((f) => f[0]), Array.from({ length: 50 }, (_, i) => i))
  c.socket.destroy()
})

t.test('an oversize or negative size closes that connection only; a close outcome waits for earlier answers', async (t) => {
  const calls: Uint8Array[] = []
  const logger = new RecordingLogger()
  const l = await startKafkaListener({ host: '127.0.0.1', port: 0, router: fakeRouter(calls), logger, ...limits })
  t.teardown(() => l.close())
  const bad = await client(l.port)
  const good = await client(l.port)
  const big = Buffer.alloc(4)
  big.writeInt32BE(1001, 0)
  bad.socket.write(big)
  await bad.closed
  t.match(logger.text(), /exceeds socket.request.max.bytes 1000/)
  const neg = await client(l.port)
  neg.socket.write(Buffer.from([0xff, 0xff, 0xff, 0xfe]))
  await neg.closed
  good.socket.write(Buffer.concat([frame(30, 7), frame(0xff), frame(0, 8)]))
  await good.closed
  t.same(good.frames, [[7]], 'the answer before the bad request went out, nothing after it')
  const again = await client(l.port)
  again.socket.write(frame(0, 9))
  await until(() => again.frames.length === 1)
  again.socket.destroy()
})

t.test('at most maxInFlightRequests are handled at once; reading resumes as answers go out', async (t) => {
  const calls: Uint8Array[] = []
  const gate = { open: false, waiters: [] as (() => void)[] }
  const l = await startKafkaListener({ host: '127.0.0.1', port: 0, router: fakeRouter(calls, gate), logger: new RecordingLogger(), ...limits, maxInFlightRequests: 3 })
  t.teardown(() => l.close())
  const c = await client(l.port)
  c.socket.write(Buffer.concat(Array.from({ length: 10 }, (_, i) => frame(1, i))))
  await until(() => calls.length === 3)
  await new Promise((r) => setTimeout(r, 50))
  t.equal(calls.length, 3, 'the fourth waits')
  gate.open = true
  for (const w of gate.waiters.splice(0)) w()
  await until(() => c.frames.length === 10)
  t.same(c.frames.map((f) => f[0]), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  c.socket.destroy()
})

t.test('idle connections are reaped; busy ones are not', async (t) => {
  const calls: Uint8Array[] = []
  const l = await startKafkaListener({ host: '127.0.0.1', port: 0, router: fakeRouter(calls), logger: new RecordingLogger(), ...limits, idleMs: 150 })
  t.teardown(() => l.close())
  const c = await client(l.port)
  const started = Date.now()
  await c.closed
  t.ok(Date.now() - started >= 100, 'closed after the idle time')
  const busy = await client(l.port)
  busy.socket.write(frame(250, 1))
  await until(() => busy.frames.length === 1)
  t.notOk(busy.socket.destroyed, 'a request in flight longer than the idle time keeps it open')
  busy.socket.destroy()
})

t.test('without a router, connections wait unread until serve()', async (t) => {
  const calls: Uint8Array[] = []
  const l = await startKafkaListener({ host: '127.0.0.1', port: 0, logger: new RecordingLogger(), ...limits })
  t.teardown(() => l.close())
  const c = await client(l.port)
  c.socket.write(frame(0, 5))
  await new Promise((r) => setTimeout(r, 50))
  t.equal(calls.length, 0)
  l.serve(fakeRouter(calls))
  await until(() => c.frames.length === 1)
  t.same(c.frames, [[5]])
  c.socket.destroy()
})
