// The client commands fail fast, with one line, when there is no broker to talk to.
import { createServer } from 'node:net'
import t from 'tap'
import { parseBootstrap, probe } from '../../src/cli/bootstrap.ts'
import { HANDSHAKE_TIMEOUT_MS } from '../../src/cli/client-common.ts'
import { CommandError } from '../../src/cli/command.ts'
import { EXIT_FAILURE, EXIT_USAGE, type Io, main } from '../../src/cli/main.ts'

async function run(argv: string[], stdin: string[] = []): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  let stdout = ''
  let stderr = ''
  async function* input() {
    yield* stdin
  }
  const io: Io = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: input(),
    signal: new AbortController().signal,
  }
  const started = Date.now()
  const code = await main(argv, io)
  return { code, stdout, stderr, ms: Date.now() - started }
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as { port: number }
  await new Promise<void>((r) => server.close(() => r()))
  return port
}

t.test('an unreachable broker: one line, exit 1, quickly', async (t) => {
  const port = await closedPort()
  const commands = [
    ['produce', '--topic', 't'],
    ['consume', '--topic', 't'],
    ['topics', '--list'],
    ['topics', '--create', '--topic', 't'],
  ]
  for (const argv of commands) {
    const r = await run([...argv, '--bootstrap-server', `127.0.0.1:${port}`], ['a'])
    t.equal(r.code, EXIT_FAILURE, argv[0])
    t.equal(r.stdout, '')
    t.equal(r.stderr, `peerlog ${argv[0]}: cannot reach a broker at 127.0.0.1:${port}: connection refused (is the broker running?)\n`)
    t.ok(r.ms < 10_000, `within a bounded time (${r.ms} ms)`)
  }
})

t.test('a server that accepts connections and never answers: one line after the handshake timeout', async (t) => {
  const sockets = new Set<import('node:net').Socket>()
  const silent = createServer((s) => sockets.add(s))
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    silent.close()
  })
  const { port } = silent.address() as { port: number }
  const r = await run(['topics', '--bootstrap-server', `127.0.0.1:${port}`, '--list'])
  t.equal(r.code, EXIT_FAILURE)
  t.equal(
    r.stderr,
    `peerlog topics: no answer from a Kafka broker at 127.0.0.1:${port}: ApiVersions request to 127.0.0.1:${port} timed out after ${HANDSHAKE_TIMEOUT_MS} ms\n`,
  )
  t.ok(r.ms < HANDSHAKE_TIMEOUT_MS + 5_000, `bounded (${r.ms} ms)`)
})

t.test('probe: the first server that answers is enough; else the first reason', async (t) => {
  const server = createServer((s) => s.destroy())
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => server.close())
  const { port } = server.address() as { port: number }
  const refused = await closedPort()
  await probe([{ host: '127.0.0.1', port: refused }, { host: '127.0.0.1', port }])
  await t.rejects(probe([{ host: '127.0.0.1', port: refused }]), new CommandError(`cannot reach a broker at 127.0.0.1:${refused}: connection refused (is the broker running?)`))
  await t.rejects(probe([{ host: 'nonexistent.invalid', port: 1 }]), { message: 'cannot reach a broker at nonexistent.invalid:1: unknown host' })
})

t.test('--bootstrap-server is required and checked', async (t) => {
  t.same(parseBootstrap('a:1, [::1]:2,PLAINTEXT://b:3'), [
    { host: 'a', port: 1 },
    { host: '::1', port: 2 },
    { host: 'b', port: 3 },
  ])
  for (const argv of [['produce', '--topic', 't'], ['consume', '--topic', 't'], ['topics', '--list']]) {
    const missing = await run(argv)
    t.equal(missing.code, EXIT_USAGE)
    t.equal(missing.stderr, `peerlog ${argv[0]}: missing --bootstrap-server (e.g. --bootstrap-server 127.0.0.1:9092) (try 'peerlog help ${argv[0]}')\n`)
    for (const bad of ['localhost', 'a:0', ',', 'a:b']) {
      const r = await run([...argv, '--bootstrap-server', bad])
      t.equal(r.code, EXIT_USAGE, bad)
      t.equal(r.stderr, `peerlog ${argv[0]}: invalid value '${bad}' for --bootstrap-server: expected host:port[,host:port...] (try 'peerlog help ${argv[0]}')\n`)
    }
  }
})

t.test('produce: usage mistakes', async (t) => {
  const r = await run(['produce', '--bootstrap-server', '127.0.0.1:9092'])
  t.equal(r.code, EXIT_USAGE)
  t.equal(r.stderr, "peerlog produce: missing --topic (try 'peerlog help produce')\n")
  const sep = await run(['produce', '--bootstrap-server', '127.0.0.1:9092', '--topic', 't', '--key-separator='])
  t.equal(sep.stderr, "peerlog produce: invalid value '' for --key-separator: expected one or more characters (try 'peerlog help produce')\n")
  const prop = await run(['produce', '--bootstrap-server', '127.0.0.1:9092', '--topic', 't', '--producer-property', 'acks'])
  t.equal(prop.stderr, "peerlog produce: invalid value 'acks' for --producer-property: expected key=value (try 'peerlog help produce')\n")
})

t.test('consume: usage mistakes', async (t) => {
  const base = ['consume', '--bootstrap-server', '127.0.0.1:9092', '--topic', 't']
  const cases: [string[], string][] = [
    [['--offset', '3'], '--offset needs --partition'],
    [['--partition', '0', '--offset', '3', '--from-beginning'], '--from-beginning and --offset cannot be used together'],
    [['--partition', '-1'], "invalid value '-1' for --partition: expected an integer >= 0"],
    [['--partition', '0', '--offset', 'soon'], "invalid value 'soon' for --offset: expected a number, earliest or latest"],
    [['--max-messages', '0'], "invalid value '0' for --max-messages: expected an integer >= 1"],
    [['--timeout-ms', 'x'], "invalid value 'x' for --timeout-ms: expected an integer >= 0"],
    [['--from-beginning=maybe'], "flag '--from-beginning' is a switch and takes no value (got '--from-beginning=maybe')"],
  ]
  for (const [extra, message] of cases) {
    const r = await run([...base, ...extra])
    t.equal(r.code, EXIT_USAGE, extra.join(' '))
    t.equal(r.stderr, `peerlog consume: ${message} (try 'peerlog help consume')\n`)
  }
  const missing = await run(['consume', '--bootstrap-server', '127.0.0.1:9092'])
  t.equal(missing.stderr, "peerlog consume: missing --topic (try 'peerlog help consume')\n")
})

t.test('topics: usage mistakes', async (t) => {
  const base = ['topics', '--bootstrap-server', '127.0.0.1:9092']
  const cases: [string[], string][] = [
    [[], 'missing action: one of --create, --list, --describe, --delete, --alter'],
    [['--create', '--list'], 'only one of --create, --list, --describe, --delete, --alter at a time (got --create, --list)'],
    [['--create'], '--create needs --topic'],
    [['--delete'], '--delete needs --topic'],
    [['--alter', '--topic', 't'], '--alter needs --partitions, --config or --delete-config'],
    [['--create', '--topic', 't', '--partitions', '0'], "invalid value '0' for --partitions: expected an integer >= 1"],
    [['--create', '--topic', 't', '--replication-factor', 'two'], "invalid value 'two' for --replication-factor: expected an integer >= 1"],
    [['--create', '--topic', 't', '--config', 'retention.ms'], "invalid value 'retention.ms' for --config: expected key=value"],
    [['--alter', '--topic', 't', '--replication-factor', '2'], '--replication-factor is not used with --alter (only with --create)'],
    [['--list', '--topic', 't'], '--topic is not used with --list (only with --create, --describe, --delete, --alter)'],
    [['--delete', '--topic', 't', '--if-not-exists'], '--if-not-exists is not used with --delete (only with --create)'],
    [['--list', '--partitions', '3'], '--partitions is not used with --list (only with --create, --alter)'],
    [['--create', '--topic', 't', '--replicas', '1'], "unknown flag '--replicas'"],
  ]
  for (const [extra, message] of cases) {
    const r = await run([...base, ...extra])
    t.equal(r.code, EXIT_USAGE, extra.join(' '))
    t.match(r.stderr, `peerlog topics: ${message} (`)
    t.match(r.stderr, /^[^\n]*\n$/)
  }
})
