// `peerlog cluster status` (text and --json) against brokers in this process, and the cluster
// flags of `peerlog broker start`: usage mistakes and bad secret files are one line each.
import { createServer } from 'node:net'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test as Tap } from 'tap'
import { startBroker, type RunningBroker } from '../../src/broker/start-broker.ts'
import type { ClusterOptions } from '../../src/cluster/cluster-options.ts'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Io, main } from '../../src/cli/main.ts'
import type { StatusRow } from '../../src/cli/cluster.ts'

const SECRET = new TextEncoder().encode('0123456789abcdef0123456789abcdef')

async function run(argv: string[], signal = new AbortController().signal): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const io: Io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, signal }
  const code = await main(argv, io)
  return { code, stdout, stderr }
}

function scratch(t: Tap): string {
  const dir = mkdtempSync(join(tmpdir(), 'peerlog-cluster-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function waitFor(what: string, done: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

async function clusterBroker(t: Tap, dir: string, nodeId: number, seeds: string[]): Promise<RunningBroker> {
  const cluster: ClusterOptions = { name: 'cli-test', secret: SECRET, transport: 'tcp', peerListen: { host: '127.0.0.1', port: 0 }, seeds }
  const broker = await startBroker({ dataDir: join(dir, `n${nodeId}`), host: '127.0.0.1', port: 0, config: { 'node.id': nodeId }, cluster })
  t.teardown(() => broker.stop())
  return broker
}

const peerAddress = (b: RunningBroker): string => b.peers!.listens().find((l) => l.transport === 'tcp')!.address

t.test('cluster status prints the membership table as the broker sees it, as text and as JSON', async (t) => {
  const dir = scratch(t)
  const b1 = await clusterBroker(t, dir, 1, [])
  const b2 = await clusterBroker(t, dir, 2, [peerAddress(b1)])
  const b3 = await clusterBroker(t, dir, 3, [peerAddress(b2)])
  const brokers = [b1, b2, b3]
  await waitFor('three brokers to see each other', () => brokers.every((b) => b.peers!.members().filter((m) => m.status === 'alive' && m.runtime !== null && (m.self || m.link)).length === 3), 5_000)

  const text = await run(['cluster', 'status', '--bootstrap-server', b2.address])
  t.equal(text.code, EXIT_OK)
  t.equal(text.stderr, '')
  const lines = text.stdout.trimEnd().split('\n')
  t.equal(lines[0], "cluster 'cli-test' as node 2 sees it")
  t.match(lines[1], /^NODE +STATUS +TRANSPORT +ADDRESS +RUNTIME +KAFKA +LAST HEARD$/)
  t.equal(lines.length, 5)
  const row = (id: number): string[] => lines.find((l) => l.startsWith(`${id} `))!.split(/ {2,}/)
  t.same(row(2), ['2', 'alive', 'tcp', peerAddress(b2), 'node', b2.address, '(this node)'])
  for (const b of [b1, b3]) {
    const cells = row(b.nodeId)
    t.same(cells.slice(0, 6), [String(b.nodeId), 'alive', 'tcp', peerAddress(b), 'node', b.address], `node ${b.nodeId}'s row`)
    t.match(cells[6], /^\d+\.\ds ago$/)
  }

  const json = await run(['cluster', 'status', '--bootstrap-server', b1.address, '--json'])
  t.equal(json.code, EXIT_OK)
  const rows = JSON.parse(json.stdout) as StatusRow[]
  t.same(rows.map((r) => r.nodeId), [1, 2, 3], 'a numeric nodeId per node, in order')
  t.same(rows.map((r) => [r.self, r.status, r.transport, r.address, r.runtime, r.kafkaListener]), [
    [true, 'alive', 'tcp', peerAddress(b1), 'node', b1.address],
    [false, 'alive', 'tcp', peerAddress(b2), 'node', b2.address],
    [false, 'alive', 'tcp', peerAddress(b3), 'node', b3.address],
  ])
  t.equal(rows[0]!.lastHeardMs, 0)
  t.same(rows[2]!.listens, [{ transport: 'tcp', address: peerAddress(b3) }])
})

t.test('a broker that runs alone answers with itself', async (t) => {
  const dir = scratch(t)
  const broker = await startBroker({ dataDir: join(dir, 'alone'), host: '127.0.0.1', port: 0, config: { 'node.id': 4 } })
  t.teardown(() => broker.stop())
  t.equal(broker.peers, null)
  const text = await run(['cluster', 'status', '--bootstrap-server', broker.address])
  t.equal(text.code, EXIT_OK)
  t.match(text.stdout, /^node 4 runs alone \(started without --cluster\)\nNODE .*\n4 +alive +- +- +node +127\.0\.0\.1:\d+ +\(this node\)\n$/)
  const json = JSON.parse((await run(['cluster', 'status', '--bootstrap-server', broker.address, '--json'])).stdout) as StatusRow[]
  t.same(json.map((r) => [r.nodeId, r.self, r.status, r.transport]), [[4, true, 'alive', null]])
})

t.test('cluster status: usage mistakes, an unreachable broker and a server that is not peerlog are one line', async (t) => {
  const usage = async (argv: string[], message: string) => {
    t.same(await run(argv), { code: EXIT_USAGE, stdout: '', stderr: `peerlog cluster: ${message} (try 'peerlog help cluster')\n` }, argv.join(' '))
  }
  await usage(['cluster'], "missing subcommand: 'peerlog cluster status'")
  await usage(['cluster', 'list'], "unknown subcommand 'list': expected 'status'")
  await usage(['cluster', 'status'], 'missing --bootstrap-server (e.g. --bootstrap-server 127.0.0.1:9092)')

  const unreachable = await run(['cluster', 'status', '--bootstrap-server', '127.0.0.1:1'])
  t.equal(unreachable.code, EXIT_FAILURE)
  t.match(unreachable.stderr, /^peerlog cluster: cannot reach a broker at 127\.0\.0\.1:1: .*\n$/)

  // A Kafka broker closes the connection on an API key it does not know.
  const server = createServer((socket) => socket.once('data', () => socket.destroy()))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const port = (server.address() as { port: number }).port
  const notPeerlog = await run(['cluster', 'status', '--bootstrap-server', `127.0.0.1:${port}`])
  t.equal(notPeerlog.code, EXIT_FAILURE)
  t.equal(notPeerlog.stderr, `peerlog cluster: cannot get the cluster status from 127.0.0.1:${port}: the broker closed the connection without answering: it is not a peerlog broker, or one too old for \`cluster status\`\n`)
})

t.test('broker start: cluster flag mistakes are one line, before anything starts', async (t) => {
  const dir = scratch(t)
  const secret = join(dir, 'secret')
  writeFileSync(secret, SECRET)
  const start = ['broker', 'start', '--data-dir', join(dir, 'data'), '--listen', '127.0.0.1:0']
  const usage = async (extra: string[], message: string) => {
    t.same(await run([...start, ...extra]), { code: EXIT_USAGE, stdout: '', stderr: `peerlog broker: ${message} (try 'peerlog help broker')\n` }, extra.join(' '))
  }
  await usage(['--cluster', 'c', '--node-id', '1'], '--cluster needs --secret-file <file> (make one with: head -c 32 /dev/urandom > secret)')
  await usage(['--cluster', 'c', '--secret-file', secret], '--cluster needs --node-id <n>, a number of its own for each node')
  await usage(['--seeds', '127.0.0.1:9093'], '--seeds needs --cluster <name>')
  await usage(['--secret-file', secret], '--secret-file needs --cluster <name>')
  await usage(['--node-id', 'x'], "invalid value 'x' for --node-id: expected an integer from 0 to 2147483647")
  const c = ['--cluster', 'c', '--secret-file', secret, '--node-id', '1']
  await usage([...c, '--transport', 'udp'], "invalid value 'udp' for --transport: expected hyperswarm, tcp or both")
  await usage([...c, '--transport', 'tcp', '--seeds', 'nowhere'], "invalid value 'nowhere' for --seeds: expected host:port[,host:port...]")
  await usage([...c, '--transport', 'tcp', '--peer-listen', '127.0.0.1'], "invalid value '127.0.0.1' for --peer-listen: expected host:port")
  await usage([...c, '--transport', 'hyperswarm', '--seeds', '127.0.0.1:9093'], '--seeds needs --transport tcp or both (hyperswarm finds its peers by the cluster secret)')
  await usage([...c, '--transport', 'tcp', '--dht-bootstrap', '127.0.0.1:49737'], '--dht-bootstrap needs --transport hyperswarm or both')

  const failure = async (file: string, message: string) => {
    const r = await run([...start, '--cluster', 'c', '--secret-file', file, '--node-id', '1', '--transport', 'tcp'])
    t.same(r, { code: EXIT_FAILURE, stdout: '', stderr: `peerlog broker: ${message}\n` }, file)
  }
  writeFileSync(join(dir, 'empty'), '')
  writeFileSync(join(dir, 'short'), 'hunter2\n')
  await failure(join(dir, 'empty'), `secret file '${join(dir, 'empty')}' is empty; make one with: head -c 32 /dev/urandom > ${join(dir, 'empty')}`)
  await failure(join(dir, 'short'), `secret file '${join(dir, 'short')}' holds 8 bytes, too few (at least 16); make one with: head -c 32 /dev/urandom > ${join(dir, 'short')}`)
  await failure(join(dir, 'missing'), `cannot read secret file '${join(dir, 'missing')}': no such file (make one with: head -c 32 /dev/urandom > ${join(dir, 'missing')})`)
})

t.test('broker start --cluster: two brokers from the command line form a cluster over TCP', async (t) => {
  const dir = scratch(t)
  const secret = join(dir, 'secret')
  writeFileSync(secret, SECRET)
  const stop = new AbortController()
  const started: Promise<{ code: number; stdout: string; stderr: string }>[] = []
  t.teardown(async () => {
    stop.abort('test over')
    await Promise.all(started)
  })
  const logs: string[] = []
  const broker = (nodeId: number, extra: string[]): void => {
    let stderr = ''
    logs[nodeId] = ''
    const io: Io = { stdout: { write: () => {} }, stderr: { write: (s: string) => { stderr += s; logs[nodeId] = stderr } }, signal: stop.signal }
    started.push(main(['broker', 'start', '--data-dir', join(dir, `n${nodeId}`), '--listen', '127.0.0.1:0', '--cluster', 'cli', '--secret-file', secret, '--node-id', String(nodeId), '--transport', 'tcp', ...extra], io).then((code) => ({ code, stdout: '', stderr })))
  }
  const kafka = (nodeId: number): string | undefined => /broker \d+ started: listening on (127\.0\.0\.1:\d+)/.exec(logs[nodeId] ?? '')?.[1]
  const peer = (nodeId: number): string | undefined => /peer node \d+ in cluster 'cli': tcp (127\.0\.0\.1:\d+)/.exec(logs[nodeId] ?? '')?.[1]
  broker(1, ['--peer-listen', '127.0.0.1:0'])
  const startedIn = (nodeId: number) =>
    waitFor(`broker ${nodeId} to start`, () => kafka(nodeId) !== undefined, 10_000).catch((e: Error) => {
      throw new Error(`${e.message}; its log: ${logs[nodeId]}`)
    })
  await startedIn(1)
  broker(2, ['--seeds', peer(1)!])
  await startedIn(2)
  let rows: StatusRow[] = []
  await waitFor('both in broker 2\'s view', async () => {
    rows = JSON.parse((await run(['cluster', 'status', '--bootstrap-server', kafka(2)!, '--json'])).stdout) as StatusRow[]
    return rows.length === 2 && rows.every((r) => r.status === 'alive' && r.runtime !== null && (r.self || r.transport === 'tcp'))
  }, 5_000)
  t.same(rows.map((r) => [r.nodeId, r.kafkaListener]), [[1, kafka(1)], [2, kafka(2)]])
  stop.abort('test over')
  const codes = await Promise.all(started)
  t.same(codes.map((c) => c.code), [EXIT_OK, EXIT_OK], 'both stop cleanly')
  t.match(logs[1], /info node 2 left \(it shut down\)|peer node 1 stopped/)
})
