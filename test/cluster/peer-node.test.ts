// Peer nodes over real transports (TCP on loopback, hyperswarm on a local hyperdht testnet) and
// over the simulated network: they find each other from one seed, refuse a node that does not
// know the secret (nothing it sends reaches an actor), and converge again after partitions
// and pauses; a seed replays the same run.
import { connect } from 'node:net'
import createTestnet from 'hyperdht/testnet.js'
import t, { type Test as Tap } from 'tap'
import type { MemberView } from '../../src/cluster/membership.ts'
import { PeerNode, type PeerNodeOptions } from '../../src/cluster/peer-node.ts'
import { encodeFrame } from '../../src/protocol/peer/frame-codec.ts'
import { PROTOCOL_VERSION_MAJOR, PROTOCOL_VERSION_MINOR, type OneWayMessage, type RequestBody } from '../../src/protocol/peer/messages.ts'
import { RecordingLogger } from '../../src/runtime/logger.ts'
import { SeededRandom } from '../../src/sim/random.ts'
import { SimClock } from '../../src/sim/sim-clock.ts'
import { HyperswarmTransport } from '../../src/transport/hyperswarm-transport.ts'
import { SimNetwork } from '../../src/transport/sim-network.ts'
import { TcpTransport } from '../../src/transport/tcp-transport.ts'
import { clusterTopic } from '../../src/transport/topic.ts'
import type { PeerStream, StreamInfo, Transport } from '../../src/transport/transport.ts'


const CLUSTER = 'peer-node-test'
const SECRET = new TextEncoder().encode('a cluster secret of enough bytes')
const WRONG = new TextEncoder().encode('not the cluster secret, sorry!!')

/** The issue's bound: nodes see each other within this. */
const discoveryWaitMaxMs = 5_000

async function waitFor(what: string, done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Each node sees every one of `ids`, alive with its info (a link shows before the peer's view does), and (when `linked`) has a link to every other. */
function converged(nodes: readonly PeerNode[], ids: readonly number[], linked = true): boolean {
  return nodes.every((n) => {
    const view = n.members()
    return ids.every((id) => view.some((m) => m.nodeId === id && m.status === 'alive' && m.runtime !== null && (m.self || !linked || m.link !== null))) && view.length === ids.length
  })
}

const summary = (view: MemberView[]): string[] => view.map((m) => `${m.nodeId} ${m.status}${m.self ? ' self' : m.link ? ` ${m.link.transport}` : ' -'}`)

interface Seen {
  from: number
  message: OneWayMessage | RequestBody
}

function tcpNode(t: Tap, nodeId: number, seeds: string[], over: Partial<PeerNodeOptions> = {}, seen: Seen[] = []) {
  const logger = new RecordingLogger()
  const node = new PeerNode({
    nodeId,
    clusterName: CLUSTER,
    secret: SECRET,
    transports: [new TcpTransport({ host: '127.0.0.1', port: 0 })],
    seeds,
    kafkaListener: `127.0.0.1:${9000 + nodeId}`,
    logger,
    observe: (from, message) => seen.push({ from, message }),
    ...over,
  })
  t.teardown(() => node.stop())
  return { node, logger, seen }
}

const tcpAddress = (n: PeerNode): string => n.listens().find((l) => l.transport === 'tcp')!.address

t.test('three nodes over TCP, one seed each and chained, see each other within 5 s', async (t) => {
  const n1 = tcpNode(t, 1, [])
  await n1.node.start()
  const n2 = tcpNode(t, 2, [tcpAddress(n1.node)])
  await n2.node.start()
  const n3 = tcpNode(t, 3, [tcpAddress(n2.node)])
  await n3.node.start()
  const nodes = [n1.node, n2.node, n3.node]
  await waitFor('three nodes to see each other', () => converged(nodes, [1, 2, 3]), discoveryWaitMaxMs)
  for (const n of nodes) {
    t.same(summary(n.members()), [1, 2, 3].map((id) => `${id} alive${id === n.nodeId ? ' self' : ' tcp'}`), `node ${n.nodeId}'s view`)
  }
  const three = n1.node.members().find((m) => m.nodeId === 3)!
  t.same([three.runtime, three.kafkaListener, three.listens], ['node', '127.0.0.1:9003', [{ transport: 'tcp', address: tcpAddress(n3.node) }]], 'node 1 knows how to reach node 3')
  t.match(n1.logger.text(), /info node 3 joined the view \(node, tcp 127\.0\.0\.1:\d+; heard of through node 2\)/)
  t.same(await n1.node.request(3, { kind: 'ping', data: new Uint8Array([7]) }), { kind: 'ping', data: new Uint8Array([7]) }, 'requests cross the link')

  // A node that stops says goodbye: the others see it leave at once.
  await n3.node.stop()
  await waitFor('node 3 to be seen leaving', () => [n1, n2].every((n) => n.node.members().find((m) => m.nodeId === 3)?.status === 'dead'), 5_000)
  t.match(n2.logger.text(), /info node 3 left \(it shut down\)/)
})

t.test('a node with the wrong secret is refused over TCP, and nothing it sends reaches an actor', async (t) => {
  const seen: Seen[] = []
  const n1 = tcpNode(t, 1, [], {}, seen)
  await n1.node.start()
  const n2 = tcpNode(t, 2, [tcpAddress(n1.node)])
  await n2.node.start()
  await waitFor('nodes 1 and 2 to link', () => converged([n1.node, n2.node], [1, 2]), discoveryWaitMaxMs)

  // A node that does not know the secret dials node 1 as a peer node would ...
  const intruder = tcpNode(t, 9, [tcpAddress(n1.node)], { secret: WRONG })
  await intruder.node.start()
  // ... and a hand-made one sends its gossip and requests right behind a forged proof.
  const raw = connect({ host: '127.0.0.1', port: Number(tcpAddress(n1.node).split(':')[1]) })
  raw.on('error', () => {})
  raw.resume()
  const rawClosed = new Promise<void>((resolve) => raw.once('close', () => resolve()))
  raw.on('connect', () => {
    const frames: unknown[] = [
      { type: 'hello', versionMajor: PROTOCOL_VERSION_MAJOR, versionMinor: PROTOCOL_VERSION_MINOR, nodeId: 8, clusterName: CLUSTER, challenge: new Uint8Array(32).fill(8), requestsInFlightMax: 64, frameMaxBytes: 1 << 20 },
      { type: 'auth-response', proof: new Uint8Array(32).fill(1) },
      { type: 'membership', members: [{ nodeId: 8, kafkaListener: '6.6.6.6:9092', runtime: 'node', listens: [{ transport: 'tcp', address: '6.6.6.6:9093' }], heardAgoMs: 0 }] },
      { type: 'heartbeat' },
      { type: 'request', id: 0, body: { kind: 'ping', data: new Uint8Array(1) } },
    ]
    for (const f of frames) for (const c of encodeFrame(f)) raw.write(c)
  })
  await waitFor('the forged link to be closed', () => raw.destroyed || raw.readableEnded, 5_000)
  await rawClosed
  await waitFor('the intruder to be refused', () => /authentication-failed/.test(n1.logger.text()) && /authentication-failed/.test(intruder.logger.text()), 5_000)
  // Give the intruder's gossip every chance to arrive.
  await new Promise((r) => setTimeout(r, 500))
  t.same(summary(n1.node.members()), ['1 alive self', '2 alive tcp'], 'node 1 knows neither intruder')
  t.same(summary(n2.node.members()), ['1 alive tcp', '2 alive self'], 'nor does node 2 (no gossip of them)')
  t.same(summary(intruder.node.members()), ['9 alive self'], 'the intruder learnt nothing')
  t.same(seen.filter((s) => s.from === 8 || s.from === 9), [], 'nothing of theirs reached a peer-link actor')
  t.ok(seen.some((s) => s.from === 2), 'while node 2\'s messages did')
  t.match(n1.logger.text(), /peer link tcp 127\.0\.0\.1:\d+ closed: authentication-failed: the peer's proof does not match/)
})

t.test('hyperswarm on a local testnet: three nodes see each other within 5 s; a node with the wrong secret is refused', async (t) => {
  const testnet = await createTestnet(3, { host: '127.0.0.1' })
  const nodes: PeerNode[] = []
  const seen: Seen[] = []
  const loggers = new Map<number, RecordingLogger>()
  t.teardown(async () => {
    for (const n of nodes) await n.stop()
    await testnet.destroy()
  })
  const swarmNode = (nodeId: number, secret: Uint8Array): PeerNode => {
    const logger = new RecordingLogger()
    loggers.set(nodeId, logger)
    const transport: Transport = new HyperswarmTransport({ topic: clusterTopic(SECRET), dht: testnet.createNode() })
    const node = new PeerNode({ nodeId, clusterName: CLUSTER, secret, transports: [transport], kafkaListener: null, logger, observe: (from, message) => seen.push({ from, message }) })
    nodes.push(node)
    return node
  }
  const members = [swarmNode(1, SECRET), swarmNode(2, SECRET), swarmNode(3, SECRET)]
  // One after the other: a node's first lookup finds the nodes announced before it (nodes that
  // announce at the same instant may miss each other until hyperswarm's next refresh).
  for (const n of members) await n.start()
  await waitFor('three hyperswarm nodes to see each other', () => converged(members, [1, 2, 3]), discoveryWaitMaxMs)
  for (const n of members) {
    t.same(summary(n.members()), [1, 2, 3].map((id) => `${id} alive${id === n.nodeId ? ' self' : ' hyperswarm'}`), `node ${n.nodeId}'s view`)
    t.match(n.members().find((m) => m.self)!.listens, [{ transport: 'hyperswarm', address: /^[0-9a-f]{64}$/ }])
  }

  // On the same topic (the DHT shows it to anyone), without the secret.
  const intruder = swarmNode(9, WRONG)
  await intruder.start()
  await waitFor('the intruder to be refused by every node', () => [1, 2, 3].every((id) => /authentication-failed/.test(loggers.get(id)!.text())), 10_000)
  await new Promise((r) => setTimeout(r, 300))
  for (const n of members) t.same(summary(n.members()).map((s) => s.split(' ')[0]), ['1', '2', '3'], `node ${n.nodeId} does not list the intruder`)
  t.same(summary(intruder.members()), ['9 alive self'])
  t.same(seen.filter((s) => s.from === 9), [], 'nothing of the intruder reached a peer-link actor')
})

// ------------------------------------------------------------------ the simulated network

interface SimRun {
  clock: SimClock
  net: SimNetwork
  nodes: PeerNode[]
  addresses: string[]
}

/**
 * A simulated transport whose streams send a frame's chunks as one write, as cork/uncork does
 * on a socket. The frame codec hands over one chunk or two (header, body) depending on where
 * cbor-x's shared output buffer stands, which carries over from everything encoded before in
 * the process; SimStream has no cork, so without this a second run could cut the same bytes
 * into other segments and trace differently.
 */
function corking(transport: Transport): Transport {
  const cork = (stream: PeerStream): PeerStream => {
    const s = stream as PeerStream & { cork?: () => void; uncork?: () => void }
    const write = s.write.bind(s)
    let corked: Uint8Array[] | null = null
    s.cork = () => {
      corked = []
    }
    s.uncork = () => {
      const chunks = corked ?? []
      corked = null
      if (chunks.length === 0) return
      const joined = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
      let at = 0
      for (const c of chunks) {
        joined.set(c, at)
        at += c.length
      }
      write(joined)
    }
    s.write = (chunk: Uint8Array): boolean => {
      if (corked === null) return write(chunk)
      corked.push(chunk)
      return true
    }
    return s
  }
  return {
    name: transport.name,
    listen: (onStream: (stream: PeerStream, info: StreamInfo) => void) => transport.listen((stream, info) => onStream(cork(stream), info)),
    connect: async (address: string) => {
      const { stream, info } = await transport.connect(address)
      return { stream: cork(stream), info }
    },
    address: () => transport.address(),
    close: () => transport.close(),
  }
}

/** Three nodes on a seeded simulated network: n2 seeds n1, n3 seeds n2. */
async function simCluster(seed: number): Promise<SimRun> {
  const clock = new SimClock()
  const net = new SimNetwork({ seed, clock, defaultDelayMs: 2 })
  const addresses = ['n1', 'n2', 'n3']
  const nodes = addresses.map((address, i) => {
    const random = new SeededRandom(seed * 31 + i)
    return new PeerNode({
      nodeId: i + 1,
      clusterName: CLUSTER,
      secret: SECRET,
      transports: [corking(net.transport(address))],
      seeds: i === 0 ? [] : [addresses[i - 1]!],
      kafkaListener: null,
      clock,
      timers: clock,
      challenge: () => random.bytes(32),
    })
  })
  // Jitter on one link, so that the seed shapes the run.
  net.delay('n1', 'n3', { ms: 3, jitterMs: 4 })
  for (const n of nodes) await n.start()
  return { clock, net, nodes, addresses }
}

async function simStop(run: SimRun): Promise<void> {
  const stopping = Promise.all(run.nodes.map((n) => n.stop()))
  await run.clock.runFor(10_000)
  await stopping
}

/** Runs simulated time until the views converge (every node alive and linked), at most `maxMs`. */
async function runUntilConverged(run: SimRun, maxMs: number): Promise<number> {
  for (let ms = 0; ms <= maxMs; ms += 250) {
    if (converged(run.nodes, [1, 2, 3])) return ms
    await run.clock.runFor(250)
  }
  throw new Error(`not converged after ${maxMs} simulated ms: ${run.nodes.map((n) => `${n.nodeId}: ${summary(n.members()).join(', ')}`).join('; ')}`)
}

const statusOf = (n: PeerNode, id: number): string => {
  const m = n.members().find((x) => x.nodeId === id)
  return m === undefined ? 'absent' : `${m.status}${m.link ? '+' : ''}`
}

/** The whole fault scenario; returns the network's trace hash and what each phase saw. */
async function scenario(seed: number): Promise<{ hash: string; phases: Record<string, string[]> }> {
  const run = await simCluster(seed)
  const [n1, n2, n3] = run.nodes as [PeerNode, PeerNode, PeerNode]
  const phases: Record<string, string[]> = {}
  const note = (phase: string): void => {
    phases[phase] = run.nodes.map((n) => `${n.nodeId}: ${summary(n.members()).join(', ')}`)
  }
  try {
    await runUntilConverged(run, 5_000)
    note('joined')

    // Two-way partition between n1 and n3: their link times out, but each hears of the other through n2.
    run.net.partition('n1', 'n3')
    await run.clock.runFor(20_000)
    phases['partitioned 1-3'] = [`1 sees 3: ${statusOf(n1, 3)}`, `3 sees 1: ${statusOf(n3, 1)}`]
    run.net.heal('n1', 'n3')
    await runUntilConverged(run, 20_000)
    note('healed 1-3')

    // n3 cut off from everyone: dead to the others, and they to it.
    run.net.partition('n3', 'n1')
    run.net.partition('n3', 'n2')
    await run.clock.runFor(20_000)
    phases['isolated 3'] = [`1 sees 3: ${statusOf(n1, 3)}`, `2 sees 3: ${statusOf(n2, 3)}`, `3 sees 1: ${statusOf(n3, 1)}`, `3 sees 2: ${statusOf(n3, 2)}`]
    run.net.heal('n3', 'n1')
    run.net.heal('n3', 'n2')
    await runUntilConverged(run, 30_000)
    note('healed 3')

    // One-way: nothing of n1 reaches n2; n2 drops the link, yet hears of n1 through n3.
    run.net.partition('n1', 'n2', { oneWay: true })
    await run.clock.runFor(20_000)
    phases['one-way 1->2'] = [`1 sees 2: ${statusOf(n1, 2)}`, `2 sees 1: ${statusOf(n2, 1)}`]
    run.net.heal('n1', 'n2')
    await runUntilConverged(run, 30_000)
    note('healed one-way')

    // n2 pauses long enough to be declared dead, then resumes.
    run.net.pause('n2')
    await run.clock.runFor(20_000)
    phases['paused 2'] = [`1 sees 2: ${statusOf(n1, 2)}`, `3 sees 2: ${statusOf(n3, 2)}`]
    run.net.resume('n2')
    await runUntilConverged(run, 30_000)
    note('resumed 2')
    return { hash: run.net.traceHash(), phases }
  } finally {
    await simStop(run)
  }
}

t.test('simulated network: partitions, a one-way partition and a pause; the views converge after each heal', async (t) => {
  const { phases } = await scenario(7)
  const all = ['1: 1 alive self, 2 alive sim, 3 alive sim', '2: 1 alive sim, 2 alive self, 3 alive sim', '3: 1 alive sim, 2 alive sim, 3 alive self']
  t.same(phases.joined, all, 'one seed each is enough')
  t.same(phases['partitioned 1-3'], ['1 sees 3: alive', '3 sees 1: alive'], 'cut from each other, alive through node 2, no link')
  t.same(phases['healed 1-3'], all)
  t.same(phases['isolated 3'], ['1 sees 3: dead', '2 sees 3: dead', '3 sees 1: dead', '3 sees 2: dead'])
  t.same(phases['healed 3'], all)
  t.same(phases['one-way 1->2'], ['1 sees 2: alive', '2 sees 1: alive'], 'heard of through node 3 both ways')
  t.same(phases['healed one-way'], all)
  t.same(phases['paused 2'], ['1 sees 2: dead', '3 sees 2: dead'])
  t.same(phases['resumed 2'], all)
})

t.test('simulated network: a node with the wrong secret is refused, and nothing it sends reaches an actor', async (t) => {
  const clock = new SimClock()
  const net = new SimNetwork({ seed: 3, clock })
  const seen: Seen[] = []
  const logger = new RecordingLogger()
  const random = new SeededRandom(3)
  const make = (nodeId: number, secret: Uint8Array, seeds: string[], log = new RecordingLogger()) =>
    new PeerNode({
      nodeId, clusterName: CLUSTER, secret, transports: [corking(net.transport(`n${nodeId}`))], seeds, kafkaListener: null,
      clock, timers: clock, challenge: () => random.bytes(32), logger: log, observe: (from, message) => seen.push({ from, message }),
    })
  const nodes = [make(1, SECRET, [], logger), make(2, SECRET, ['n1']), make(9, WRONG, ['n1', 'n2'])]
  for (const n of nodes) await n.start()
  await clock.runFor(10_000)
  t.same(summary(nodes[0]!.members()), ['1 alive self', '2 alive sim'])
  t.same(summary(nodes[1]!.members()), ['1 alive sim', '2 alive self'])
  t.same(summary(nodes[2]!.members()), ['9 alive self'])
  t.same(seen.filter((s) => s.from === 9), [], 'nothing of the intruder reached a peer-link actor')
  t.match(logger.text(), /peer link sim n9 closed: authentication-failed/)
  const stopping = Promise.all(nodes.map((n) => n.stop()))
  await clock.runFor(10_000)
  await stopping
})

t.test('simulated network: the same seed gives the same run (trace hash) twice', async (t) => {
  const a = await scenario(11)
  const b = await scenario(11)
  t.equal(a.hash, b.hash)
  t.same(a.phases, b.phases)
})
