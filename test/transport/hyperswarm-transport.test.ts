import { createSocket } from 'node:dgram'
import createTestnet from 'hyperdht/testnet.js'
import t from 'tap'
import { RecordingLogger } from '../../src/runtime/logger.ts'
import { HyperswarmTransport, startDhtBootstrap } from '../../src/transport/hyperswarm-transport.ts'
import { clusterTopic } from '../../src/transport/topic.ts'
import type { PeerStream, StreamInfo } from '../../src/transport/transport.ts'

/** Bounds every wait for the swarm: a testnet on loopback connects in well under a second. */
const discoveryWaitMaxMs = 30_000

interface Node {
  transport: HyperswarmTransport
  streams: { stream: PeerStream; info: StreamInfo }[]
}

async function waitFor(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + discoveryWaitMaxMs
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${discoveryWaitMaxMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function start(transport: HyperswarmTransport): Promise<Node> {
  const node: Node = { transport, streams: [] }
  await transport.listen((stream, info) => {
    node.streams.push({ stream, info })
    stream.on('close', () => node.streams.splice(node.streams.findIndex((s) => s.stream === stream), 1))
  })
  return node
}

const hex = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('hex'))

t.test('refuses to start without a named DHT, so a test never reaches the public one', async (t) => {
  const topic = clusterTopic('secret')
  t.throws(() => new HyperswarmTransport({ topic }), /no DHT named/)
  t.throws(() => new HyperswarmTransport({ topic, bootstrap: [] }), /no DHT named/)
  t.doesNotThrow(() => new HyperswarmTransport({ topic, publicDht: true }), 'publicDht: true is an explicit choice')
  t.throws(() => new HyperswarmTransport({ topic: new Uint8Array(16), bootstrap: [{ host: '127.0.0.1', port: 1 }] }), /32 bytes/)
})

t.test('three nodes on a local testnet find each other; a node of another cluster does not join them', async (t) => {
  const testnet = await createTestnet(3, { host: '127.0.0.1' })
  const nodes: Node[] = []
  t.teardown(async () => {
    for (const node of nodes) await node.transport.close()
    await testnet.destroy()
  })

  const stranger = await start(new HyperswarmTransport({ topic: clusterTopic('another secret'), dht: testnet.createNode() }))
  nodes.push(stranger)
  const topic = clusterTopic('our secret')
  for (let i = 0; i < 3; i++) nodes.push(await start(new HyperswarmTransport({ topic, dht: testnet.createNode() })))
  const cluster = nodes.slice(1)

  await waitFor('each node to see two streams', () => cluster.every((n) => n.streams.length >= 2))
  for (const node of cluster) {
    const others = cluster.filter((n) => n !== node).map((n) => n.transport.address()).sort()
    t.same(node.streams.map((s) => s.info.remote).sort(), others, 'streams to the two other nodes')
    for (const { info } of node.streams) {
      t.equal(info.transport, 'hyperswarm', 'a hyperswarm stream')
      t.equal(hex(info.remotePublicKey), info.remote, 'the remote key is the remote address')
      t.equal(hex(info.localPublicKey), node.transport.address(), 'the local key is its own address')
    }
  }
  t.equal(stranger.streams.length, 0, 'the node on another topic has no stream')
  const strangerKey = stranger.transport.address()
  t.notOk(cluster.some((n) => n.streams.some((s) => s.info.remote === strangerKey)), 'and no node has one to it')

  // Bytes go both ways on one of the streams.
  const [a, b] = cluster as [Node, Node, Node]
  const ab = a.streams.find((s) => s.info.remote === b.transport.address())!.stream
  const ba = b.streams.find((s) => s.info.remote === a.transport.address())!.stream
  const received: string[] = []
  ba.on('data', (chunk) => received.push(Buffer.from(chunk).toString()))
  ab.write(new TextEncoder().encode('hello from a'))
  await waitFor('the bytes to arrive', () => received.join('') === 'hello from a')
  t.equal(received.join(''), 'hello from a')

  await t.rejects(a.transport.connect('127.0.0.1:1'), /does not dial addresses/)
})

t.test('a private DHT run by startDhtBootstrap connects nodes given it as bootstrap', async (t) => {
  const bootstrap = await startDhtBootstrap({ host: '127.0.0.1', port: 0 })
  const nodes: Node[] = []
  t.teardown(async () => {
    for (const node of nodes) await node.transport.close()
    await bootstrap.close()
  })
  t.ok(bootstrap.port > 0, 'it tells the port it took')
  const topic = clusterTopic('edge site')
  const dht = [{ host: bootstrap.host, port: bootstrap.port }]
  nodes.push(await start(new HyperswarmTransport({ topic, bootstrap: dht })))
  nodes.push(await start(new HyperswarmTransport({ topic, bootstrap: dht })))
  await waitFor('the two nodes to connect', () => nodes.every((n) => n.streams.length >= 1))
  t.equal(nodes[0]!.streams[0]!.info.remote, nodes[1]!.transport.address())
})

t.test('close destroys the streams and the swarm; closing twice is fine', async (t) => {
  const testnet = await createTestnet(3, { host: '127.0.0.1' })
  t.teardown(() => testnet.destroy())
  const topic = clusterTopic('closing')
  const a = await start(new HyperswarmTransport({ topic, dht: testnet.createNode() }))
  const b = await start(new HyperswarmTransport({ topic, dht: testnet.createNode() }))
  await waitFor('a stream', () => a.streams.length === 1 && b.streams.length === 1)
  const stream = a.streams[0]!.stream
  let closed = false
  stream.on('close', () => {
    closed = true
  })
  await a.transport.close()
  await a.transport.close()
  await waitFor('the stream to close', () => closed)
  t.equal(stream.destroyed, true)
  t.equal(a.transport.address(), null, 'a closed transport has no address')
  await waitFor('the other side to see it close', () => b.streams.length === 0)
  await t.rejects(a.transport.listen(() => {}), /closed/)
  await b.transport.close()
})

t.test('with an unreachable DHT, listen and close each end after their bounded wait, listen with a warning', async (t) => {
  const logger = new RecordingLogger()
  const transport = new HyperswarmTransport({
    topic: clusterTopic('alone'),
    bootstrap: [{ host: '127.0.0.1', port: await freePort() }],
    announceWaitMaxMs: 300,
    closeWaitMaxMs: 300,
    logger,
  })
  await transport.listen(() => {})
  t.match(logger.text(), /not announced on the DHT after 300 ms; still trying/)
  await transport.close()
})

/** A UDP port nothing listens on. */
async function freePort(): Promise<number> {
  const socket = createSocket('udp4')
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  const { port } = socket.address()
  await new Promise<void>((resolve) => socket.close(resolve))
  return port
}
