// `peerlog dht-bootstrap`: a private DHT that hyperswarm nodes find each other through, run
// until Ctrl-C (here: until the test aborts it); usage mistakes are one line.
import t from 'tap'
import { PeerNode } from '../../src/cluster/peer-node.ts'
import { EXIT_OK, EXIT_USAGE, type Io, main } from '../../src/cli/main.ts'
import { HyperswarmTransport } from '../../src/transport/hyperswarm-transport.ts'
import { clusterTopic } from '../../src/transport/topic.ts'

const SECRET = new TextEncoder().encode('a secret for the private DHT test')

async function waitFor(what: string, done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

t.test('usage mistakes are one line and exit 2', async (t) => {
  const run = async (argv: string[]) => {
    let stderr = ''
    const code = await main(argv, { stdout: { write: () => {} }, stderr: { write: (s: string) => (stderr += s) }, signal: new AbortController().signal })
    return { code, stderr }
  }
  t.same(await run(['dht-bootstrap']), { code: EXIT_USAGE, stderr: "peerlog dht-bootstrap: missing --listen <host:port> (e.g. --listen 10.0.0.1:49737) (try 'peerlog help dht-bootstrap')\n" })
  t.same(await run(['dht-bootstrap', '--listen', '0.0.0.0:49737']), {
    code: EXIT_USAGE,
    stderr: "peerlog dht-bootstrap: invalid value '0.0.0.0:49737' for --listen: give the address the nodes reach this one at, not 0.0.0.0 (try 'peerlog help dht-bootstrap')\n",
  })
  t.same(await run(['dht-bootstrap', '--listen', 'here']), { code: EXIT_USAGE, stderr: "peerlog dht-bootstrap: invalid value 'here' for --listen: expected host:port (try 'peerlog help dht-bootstrap')\n" })
})

t.test('two hyperswarm nodes find each other through a bootstrap node run by the command', async (t) => {
  const stop = new AbortController()
  let stderr = ''
  const io: Io = { stdout: { write: () => {} }, stderr: { write: (s: string) => (stderr += s) }, signal: stop.signal }
  const ran = main(['dht-bootstrap', '--listen', '127.0.0.1:0'], io)
  const nodes: PeerNode[] = []
  t.teardown(async () => {
    for (const n of nodes) await n.stop()
    stop.abort('test over')
    await ran
  })
  await waitFor('the bootstrap node to run', () => /running on/.test(stderr), 10_000)
  const m = /DHT bootstrap node running on 127\.0\.0\.1:(\d+) \(UDP\); point nodes at it with --dht-bootstrap 127\.0\.0\.1:(\d+)/.exec(stderr)
  t.ok(m, stderr)
  const bootstrap = [{ host: '127.0.0.1', port: Number(m![1]) }]
  for (const nodeId of [1, 2]) {
    const node = new PeerNode({ nodeId, clusterName: 'private-dht', secret: SECRET, transports: [new HyperswarmTransport({ topic: clusterTopic(SECRET), bootstrap })] })
    nodes.push(node)
    await node.start()
  }
  await waitFor('the two nodes to link', () => nodes.every((n) => n.members().filter((x) => x.self || x.link !== null).length === 2), 10_000)
  t.same(nodes.map((n) => n.members().map((x) => `${x.nodeId} ${x.link?.transport ?? 'self'}`)), [['1 self', '2 hyperswarm'], ['1 hyperswarm', '2 self']])
  for (const n of nodes.splice(0)) await n.stop()
  stop.abort('test over')
  t.equal(await ran, EXIT_OK)
  t.match(stderr, /INFO stopping \(test over\)/)
})
