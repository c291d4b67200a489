// A mixed cluster in one membership view: a Node broker on hyperswarm and TCP (both), a Node
// broker on hyperswarm only (both in this process, hyperswarm on a local hyperdht testnet),
// and Deno and Bun brokers on TCP from the CLI bundle, each seeded with the first node's peer
// address. Checked the way a user would: `peerlog cluster status --json` against each.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import createTestnet from 'hyperdht/testnet.js'
import t from 'tap'
import { startBroker } from '../../src/broker/start-broker.ts'
import type { StatusRow } from '../../src/cli/cluster.ts'
import { type Io, main } from '../../src/cli/main.ts'
import { bundleBroker, cliBundle, describeRun, freePort, requireTool, run, runtimeCommand, scratch, waitFor } from './harness.ts'

const SECRET = new TextEncoder().encode('mixed cluster secret, 32 bytes!!')
/** Deno and Bun start in a few seconds; then the view forms in well under one. */
const viewWaitMaxMs = 20_000

async function status(address: string): Promise<StatusRow[] | undefined> {
  let stdout = ''
  const io: Io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: () => {} }, signal: new AbortController().signal }
  const code = await main(['cluster', 'status', '--bootstrap-server', address, '--json'], io)
  return code === 0 ? (JSON.parse(stdout) as StatusRow[]) : undefined
}

t.test('Node on hyperswarm and TCP, Node on hyperswarm, Deno and Bun on TCP: one membership view', async (t) => {
  if (!requireTool(t, 'deno', 'npm install') || !requireTool(t, 'bun', 'npm install')) return
  const bundle = await cliBundle(t)
  const testnet = await createTestnet(3, { host: '127.0.0.1' })
  t.teardown(() => testnet.destroy())
  const dhtBootstrap = testnet.bootstrap as { host: string; port: number }[]
  const secretFile = join(scratch(t, 'secret'), 'secret')
  writeFileSync(secretFile, SECRET)

  const peerPort = await freePort()
  const both = await startBroker({
    dataDir: scratch(t, 'node-1'), host: '127.0.0.1', port: 0, config: { 'node.id': 1 },
    cluster: { name: 'mixed', secret: SECRET, transport: 'both', peerListen: { host: '127.0.0.1', port: peerPort }, dhtBootstrap },
  })
  t.teardown(() => both.stop())
  const swarmOnly = await startBroker({
    dataDir: scratch(t, 'node-4'), host: '127.0.0.1', port: 0, config: { 'node.id': 4 },
    cluster: { name: 'mixed', secret: SECRET, transport: 'hyperswarm', dhtBootstrap },
  })
  t.teardown(() => swarmOnly.stop())

  const seed = `127.0.0.1:${peerPort}`
  const flags = (nodeId: number) => ['--cluster', 'mixed', '--secret-file', secretFile, '--node-id', String(nodeId), '--transport', 'tcp', '--seeds', seed]
  const [deno, bun] = await Promise.all([bundleBroker(t, 'deno', bundle, flags(2)), bundleBroker(t, 'bun', bundle, flags(3))])

  const everyone = (rows: StatusRow[] | undefined): boolean =>
    rows !== undefined && rows.length === 4 && rows.every((r) => r.status === 'alive' && r.runtime !== null)
  // The direct links each node ends up with: TCP nodes learn each other's peer address by
  // gossip (through node 1), so their own link comes a little after they see each other.
  const links: Record<string, Record<number, string>> = {
    node: { 2: 'tcp', 3: 'tcp', 4: 'hyperswarm' },
    'node (hyperswarm)': { 1: 'hyperswarm' },
    deno: { 1: 'tcp', 3: 'tcp' },
    bun: { 1: 'tcp', 2: 'tcp' },
  }
  const linked = (name: string, rows: StatusRow[]): boolean => Object.entries(links[name]!).every(([id, tr]) => rows.find((r) => r.nodeId === Number(id))?.transport === tr)
  const views = new Map<string, StatusRow[]>()
  for (const [name, address] of [['node', both.address], ['node (hyperswarm)', swarmOnly.address], ['deno', deno.address], ['bun', bun.address]] as const) {
    const rows = await waitFor(`${name}'s view of all four, with its links`, async () => {
      const r = await status(address)
      return everyone(r) && linked(name, r!) ? r : undefined
    }, viewWaitMaxMs).catch((e: Error) => {
      throw new Error(`${e.message}\ndeno log:\n${deno.log()}\nbun log:\n${bun.log()}`)
    })
    views.set(name, rows)
  }

  const row = (name: string, id: number) => views.get(name)!.find((r) => r.nodeId === id)!
  for (const [name, rows] of views) {
    t.same(rows.map((r) => [r.nodeId, r.runtime, r.kafkaListener]), [
      [1, 'node', both.address], [2, 'deno', deno.address], [3, 'bun', bun.address], [4, 'node', swarmOnly.address],
    ], `${name}: the same four nodes`)
  }
  t.same(row('node', 1).listens.map((l) => l.transport).sort(), ['hyperswarm', 'tcp'], 'node 1 listens on both')
  t.same([row('node', 2).transport, row('node', 3).transport, row('node', 4).transport], ['tcp', 'tcp', 'hyperswarm'], 'node 1 links each over the transport it has')
  t.same([row('deno', 1).transport, row('deno', 3).transport], ['tcp', 'tcp'])
  t.equal(row('deno', 4).transport, null, 'deno has no link to the hyperswarm-only node: it knows it through node 1')
  t.same([row('node (hyperswarm)', 2).transport, row('node (hyperswarm)', 3).transport], [null, null], 'nor it to them')
})

t.test('on Deno and Bun, hyperswarm is refused in one line that says to use --transport tcp', async (t) => {
  if (!requireTool(t, 'deno', 'npm install') || !requireTool(t, 'bun', 'npm install')) return
  const bundle = await cliBundle(t)
  const secretFile = join(scratch(t, 'secret'), 'secret')
  writeFileSync(secretFile, SECRET)
  for (const runtime of ['deno', 'bun'] as const) {
    for (const transport of ['hyperswarm', 'both']) {
      const [cmd, args] = runtimeCommand(runtime, bundle)
      const r = await run(cmd, [...args, 'broker', 'start', '--data-dir', scratch(t, `${runtime}-${transport}`), '--listen', '127.0.0.1:0',
        '--cluster', 'c', '--secret-file', secretFile, '--node-id', '1', '--transport', transport], { timeoutMs: 30_000 })
      t.equal(r.code, 1, describeRun(`${runtime} --transport ${transport}`, r))
      t.equal(r.stderr, `peerlog broker: the hyperswarm transport runs on Node only (its UDP add-on does not load on ${runtime}); use --transport tcp\n`)
    }
  }
})
