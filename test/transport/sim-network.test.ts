import t from 'tap'
import { SimClock } from '../../src/sim/sim-clock.ts'
import { type NetError, SimNetwork, type SimNetworkOptions, type SimTransport } from '../../src/transport/sim-network.ts'
import type { PeerStream, StreamInfo } from '../../src/transport/transport.ts'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

interface Seen {
  text: string
  bytes: number
  events: string[]
}

/** What a stream tells its owner, as a user of it would record it. */
function watch(stream: PeerStream): Seen {
  const seen: Seen = { text: '', bytes: 0, events: [] }
  const dec = new TextDecoder()
  stream.on('data', (chunk) => {
    seen.text += dec.decode(chunk, { stream: true })
    seen.bytes += chunk.length
  })
  stream.on('end', () => seen.events.push('end'))
  stream.on('close', () => seen.events.push('close'))
  stream.on('error', (e) => seen.events.push(`error ${(e as NetError).code ?? e.message}`))
  return seen
}

function world(options: Partial<SimNetworkOptions> = {}) {
  const clock = new SimClock()
  const network = new SimNetwork({ seed: 1, clock, ...options })
  return { clock, network }
}

interface Node {
  transport: SimTransport
  accepted: { stream: PeerStream; info: StreamInfo }[]
}

async function node(network: SimNetwork, address: string): Promise<Node> {
  const n: Node = { transport: network.transport(address), accepted: [] }
  await n.transport.listen((stream, info) => n.accepted.push({ stream, info }))
  return n
}

/** a dials b; returns both ends once the clock has run the handshake. */
async function pair(clock: SimClock, a: Node, b: Node): Promise<{ ab: PeerStream; ba: PeerStream }> {
  const before = b.accepted.length
  const dialled = a.transport.connect(b.transport.address()!)
  await clock.runUntilIdleAsync()
  const { stream } = await dialled
  const accepted = b.accepted[before]
  if (accepted === undefined) throw new Error('no stream was accepted')
  return { ab: stream, ba: accepted.stream }
}

async function outcome<T>(promise: Promise<T>): Promise<string> {
  return promise.then(
    () => 'ok',
    (e: NetError) => e.code,
  )
}

t.test('a dial reaches a listening node; bytes go both ways; info names the other side', async (t) => {
  const { clock, network } = world()
  const a = network.transport('a')
  t.equal(a.address(), null, 'a node that does not listen has no address')
  const b = await node(network, 'b')
  t.equal(b.transport.address(), 'b')
  const dialled = a.connect('b')
  await clock.runUntilIdleAsync()
  const { stream, info } = await dialled
  t.same(info, { transport: 'sim', remote: 'b', initiator: true, remotePublicKey: null, localPublicKey: null })
  t.same(b.accepted[0]!.info, { transport: 'sim', remote: 'a', initiator: false, remotePublicKey: null, localPublicKey: null })
  const atB = watch(b.accepted[0]!.stream)
  const atA = watch(stream)
  stream.write(enc('hello b'))
  b.accepted[0]!.stream.write(enc('hello a'))
  await clock.runUntilIdleAsync()
  t.equal(atB.text, 'hello b')
  t.equal(atA.text, 'hello a')
})

t.test('within a stream, bytes arrive in order under jitter', async (t) => {
  const { clock, network } = world()
  const a = await node(network, 'a')
  const b = await node(network, 'b')
  network.delay('a', 'b', { ms: 5, jitterMs: 50 })
  const { ab, ba } = await pair(clock, a, b)
  const seen = watch(ba)
  let expected = ''
  for (let i = 0; i < 300; i++) {
    ab.write(enc(`${i},`))
    expected += `${i},`
    await clock.runFor(i % 7)
  }
  await clock.runUntilIdleAsync()
  t.equal(seen.text, expected)
  const times = new Set(network.trace().filter((l) => / data b <- a|data a -> b/.test(l)).map((l) => l.split(' ')[0]))
  t.ok(times.size > 1, 'deliveries were spread over time')
})

t.test('a two-way partition stops existing streams both ways and makes dials time out; heal lets the held bytes through', async (t) => {
  const { clock, network } = world()
  const a = await node(network, 'a')
  const b = await node(network, 'b')
  const { ab, ba } = await pair(clock, a, b)
  const atA = watch(ab)
  const atB = watch(ba)
  network.partition('a', 'b')
  ab.write(enc('from a'))
  ba.write(enc('from b'))
  const dialled = outcome(a.transport.connect('b'))
  const reverse = outcome(b.transport.connect('a'))
  await clock.runFor(60_000)
  t.equal(atA.text, '', 'nothing reaches a')
  t.equal(atB.text, '', 'nothing reaches b')
  t.same(atA.events, [], 'the streams stay open')
  t.equal(await dialled, 'ETIMEDOUT', 'a dial across the partition times out')
  t.equal(await reverse, 'ETIMEDOUT', 'both ways')

  network.heal('a', 'b')
  await clock.runUntilIdleAsync()
  t.equal(atB.text, 'from a', 'after the heal, what was written arrives')
  t.equal(atA.text, 'from b')
  t.equal(await outcome(pair(clock, a, b)), 'ok', 'and dials succeed again')
})

t.test('a one-way partition a→b holds what a sends; what b sends still reaches a; dials need both ways', async (t) => {
  const { clock, network } = world()
  const a = await node(network, 'a')
  const b = await node(network, 'b')
  const { ab, ba } = await pair(clock, a, b)
  const atA = watch(ab)
  const atB = watch(ba)
  network.partition('a', 'b', { oneWay: true })
  ab.write(enc('from a'))
  ba.write(enc('from b'))
  await clock.runFor(5_000)
  t.equal(atB.text, '', 'a→b is cut')
  t.equal(atA.text, 'from b', 'b→a still delivers')
  t.equal(await outcome(Promise.all([b.transport.connect('a'), clock.runFor(20_000)])), 'ETIMEDOUT', 'a dial from b gets no answer')
  network.heal('a', 'b')
  await clock.runUntilIdleAsync()
  t.equal(atB.text, 'from a')
})

t.test('a dial made during a partition succeeds when the partition heals before the dial times out', async (t) => {
  const { clock, network } = world()
  const a = await node(network, 'a')
  const b = await node(network, 'b')
  network.partition('a', 'b')
  const attempt = outcome(a.transport.connect('b'))
  await clock.runFor(3_000)
  t.equal(b.accepted.length, 0, 'nothing gets through the partition')
  network.heal('a', 'b')
  await clock.runUntilIdleAsync()
  t.equal(await attempt, 'ok', 'the retried SYN does after the heal')
  t.equal(b.accepted.length, 1)
})

t.test('a paused node sends nothing and is told nothing until it resumes; then everything flows in order', async (t) => {
  const { clock, network } = world()
  const a = await node(network, 'a')
  const b = await node(network, 'b')
  const { ab, ba } = await pair(clock, a, b)
  const atA = watch(ab)
  const atB = watch(ba)
  network.pause('b')
  ab.write(enc('1,'))
  ba.write(enc('from b'))
  const dialled = a.transport.connect('b')
  let dialDone = false
  void dialled.then(() => (dialDone = true))
  await clock.runFor(1_000)
  ab.write(enc('2,'))
  await clock.runFor(1_000)
  t.equal(atB.text, '', 'b is told nothing')
  t.equal(atA.text, '', 'nothing b wrote left it')
  t.equal(dialDone, true, 'a dial to a paused node completes (its kernel answers)')
  t.equal(b.accepted.length, 1, 'but b is not told of it yet')
  network.resume('b')
  await clock.runUntilIdleAsync()
  t.equal(atB.text, '1,2,', 'on resume, b gets what was sent to it, in order')
  t.equal(atA.text, 'from b', 'and what it wrote leaves')
  t.equal(b.accepted.length, 2, 'and the new stream')
})

t.test('a paused dialler connects only after it resumes', async (t) => {
  const { clock, network } = world()
  const a = await node(network, 'a')
  const b = await node(network, 'b')
  network.pause('a')
  const dialled = outcome(a.transport.connect('b'))
  await clock.runFor(3_000)
  t.equal(b.accepted.length, 0, 'no SYN leaves a paused node')
  network.resume('a')
  await clock.runUntilIdleAsync()
  t.equal(await dialled, 'ok')
  t.equal(b.accepted.length, 1)
})

t.test('a node that closes before it was told of a new stream: the dialler’s stream ends', async (t) => {
  const { clock, network } = world()
  const a = network.transport('a')
  const b = await node(network, 'b')
  network.pause('b')
  const dialled = a.connect('b')
  await clock.runUntilIdleAsync()
  const { stream } = await dialled
  const atA = watch(stream)
  await b.transport.close()
  network.resume('b')
  await clock.runUntilIdleAsync()
  t.equal(b.accepted.length, 0, 'b was never told of the stream')
  t.same(atA.events, ['end', 'close'])
})

t.test('a bandwidth cap sets how fast bytes arrive', async (t) => {
  const { clock, network } = world()
  const a = await node(network, 'a')
  const b = await node(network, 'b')
  const { ab, ba } = await pair(clock, a, b)
  network.bandwidth('a', 'b', 1_000)
  const seen = watch(ba)
  for (let i = 0; i < 10; i++) ab.write(new Uint8Array(1_000))
  await clock.runFor(5_000)
  t.ok(seen.bytes >= 4_000 && seen.bytes <= 6_000, `about 5 s worth after 5 s (${seen.bytes} B)`)
  await clock.runFor(5_100)
  t.equal(seen.bytes, 10_000, 'all of it after 10 s')
  network.bandwidth('a', 'b', null)
  ab.write(new Uint8Array(100_000))
  await clock.runFor(10)
  t.equal(seen.bytes, 110_000, 'no cap once lifted')
})

t.test('a reader that does not read holds its writer back; drain comes when it reads again', async (t) => {
  const { clock, network } = world({ receiveWindowBytes: 64 * 1024, streamHighWaterMarkBytes: 16 * 1024 })
  const a = await node(network, 'a')
  const b = await node(network, 'b')
  const { ab, ba } = await pair(clock, a, b)
  const seen = watch(ba)
  ba.pause()
  let drains = 0
  ab.on('drain', () => drains++)
  let written = 0
  let refused = false
  for (let i = 0; i < 100 && !refused; i++) {
    refused = !ab.write(new Uint8Array(8 * 1024).fill(i))
    written += 8 * 1024
    await clock.runUntilIdleAsync()
  }
  t.equal(refused, true, 'write returned false')
  t.ok(written <= 64 * 1024 + 16 * 1024 + 8 * 1024, 'once the window and the buffer were full')
  await clock.runUntilIdleAsync()
  t.equal(drains, 0, 'no drain while the reader does not read')
  t.equal(seen.bytes, 0)
  ba.resume()
  await clock.runUntilIdleAsync()
  t.equal(drains, 1, 'drain once it reads')
  t.equal(seen.bytes, written, 'and every byte arrives')
})

t.test('drop resets the streams between two nodes: both sides see ECONNRESET then close; dials still work', async (t) => {
  const { clock, network } = world()
  const a = await node(network, 'a')
  const b = await node(network, 'b')
  const c = await node(network, 'c')
  const { ab, ba } = await pair(clock, a, b)
  const { ab: ac } = await pair(clock, a, c)
  const atA = watch(ab)
  const atB = watch(ba)
  const atAc = watch(ac)
  ab.write(enc('lost'))
  network.drop('b', 'a')
  await clock.runUntilIdleAsync()
  t.same(atA.events, ['error ECONNRESET', 'close'])
  t.same(atB.events, ['error ECONNRESET', 'close'])
  t.equal(atB.text, '', 'bytes on the wire are lost')
  t.same(atAc.events, [], 'a stream to another node is untouched')
  t.equal(ab.destroyed, true)
  t.equal(ab.write(enc('more')), false, 'a reset stream takes no more bytes')
  t.equal(await outcome(pair(clock, a, b)), 'ok', 'a new dial works')
})

t.test('end: each side gets end then close; destroy: the other side gets end then close', async (t) => {
  const { clock, network } = world()
  const a = await node(network, 'a')
  const b = await node(network, 'b')
  {
    const { ab, ba } = await pair(clock, a, b)
    const atA = watch(ab)
    const atB = watch(ba)
    ab.write(enc('last words'))
    ab.end()
    await clock.runUntilIdleAsync()
    t.equal(atB.text, 'last words')
    t.same(atB.events, ['end', 'close'])
    t.same(atA.events, ['end', 'close'])
  }
  {
    const { ab, ba } = await pair(clock, a, b)
    const atA = watch(ab)
    const atB = watch(ba)
    ab.destroy(new Error('giving up'))
    await clock.runUntilIdleAsync()
    t.same(atA.events, ['error giving up', 'close'], 'the destroyed side: its error, then close')
    t.same(atB.events, ['end', 'close'], 'the other side: end, close')
    t.equal(ba.destroyed, true)
  }
  {
    const { ab } = await pair(clock, a, b)
    const atA = watch(ab)
    ab.end()
    ab.write(enc('too late'))
    await clock.runUntilIdleAsync()
    t.same(atA.events, ['error ERR_STREAM_WRITE_AFTER_END', 'close'], 'a write after end is an error event, not a throw')
  }
})

t.test('dialling a node that does not listen is refused; an address nobody has times out', async (t) => {
  const { clock, network } = world({ connectTimeoutMs: 5_000 })
  const a = network.transport('a')
  network.transport('quiet')
  const refused = outcome(a.connect('quiet'))
  const nobody = outcome(a.connect('nobody'))
  await clock.runUntilIdleAsync()
  t.equal(await refused, 'ECONNREFUSED')
  t.equal(await nobody, 'ETIMEDOUT')
  t.equal(clock.pendingTimers(), 0, 'no timer is left behind')
})

t.test('close destroys a transport’s streams and pending dials; the address can start again', async (t) => {
  const { clock, network } = world()
  const a = await node(network, 'a')
  const b = await node(network, 'b')
  const { ab, ba } = await pair(clock, a, b)
  const atA = watch(ab)
  const atB = watch(ba)
  network.partition('a', 'c')
  const pending = outcome(a.transport.connect('c'))
  t.throws(() => network.transport('a'), /already has an open transport/)
  await a.transport.close()
  await a.transport.close()
  await clock.runUntilIdleAsync()
  t.same(atA.events, ['close'])
  t.same(atB.events, ['end', 'close'], 'the other side sees the stream end')
  t.equal(await pending, 'ECONNABORTED', 'a pending dial fails')
  t.equal(a.transport.address(), null)
  await t.rejects(a.transport.connect('b'), /closed/)
  t.equal(await outcome(pair(clock, b, await node(network, 'a'))), 'ok', 'a restarted node listens again at its address')
})

/** A workload with jitter and faults; returns what a replay must reproduce. */
async function scenario(seed: number): Promise<{ hash: string; trace: readonly string[] }> {
  const { clock, network } = world({ seed })
  const nodes = await Promise.all(['a', 'b', 'c'].map((n) => node(network, n)))
  network.delay('a', 'b', { ms: 2, jitterMs: 20 })
  network.delay('b', 'c', { ms: 1, jitterMs: 8 })
  network.delay('a', 'c', { ms: 4, jitterMs: 30 })
  const streams: PeerStream[] = []
  for (const [i, j] of [[0, 1], [1, 2], [0, 2]] as const) {
    const { ab, ba } = await pair(clock, nodes[i]!, nodes[j]!)
    streams.push(ab, ba)
    watch(ab)
    ba.on('data', (chunk) => ba.write(chunk)) // echo
  }
  for (let round = 0; round < 40; round++) {
    for (const [k, s] of streams.entries()) if (k % 2 === 0) s.write(enc(`r${round}`.repeat(1 + (round % 5))))
    if (round === 10) network.partition('a', 'b')
    if (round === 20) network.heal('a', 'b')
    if (round === 25) network.pause('c')
    if (round === 30) network.resume('c')
    await clock.runFor(7)
  }
  await clock.runUntilIdleAsync()
  return { hash: network.traceHash(), trace: network.trace() }
}

t.test('the same seed replays the same delivery schedule; another seed gives another', async (t) => {
  const first = await scenario(42)
  const again = await scenario(42)
  const other = await scenario(43)
  t.equal(again.hash, first.hash, 'same seed, same trace hash')
  t.same(again.trace, first.trace, 'line for line')
  t.not(other.hash, first.hash, 'a different seed, a different schedule')
  t.ok(first.trace.some((l) => / data /.test(l)), 'the trace records deliveries')
})
