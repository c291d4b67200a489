import { join } from 'node:path'
import t, { type Test } from 'tap'
import { EXIT_FAILURE, EXIT_USAGE, type Io, main } from '../../src/cli/main.ts'

/** Runs main with captured output. */
async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const io: Io = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    signal: AbortSignal.abort('test'),
  }
  const code = await main(argv, io)
  return { code, stdout, stderr }
}

const oneLine = (t: Test, r: { stdout: string; stderr: string }) => {
  t.equal(r.stdout, '')
  t.match(r.stderr, /^[^\n]+\n$/, 'one line')
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace')
}

t.test('broker help', async (t) => {
  const r = await run('help', 'broker')
  t.equal(r.code, 0)
  t.match(r.stdout, /^Usage: peerlog broker start \[flags\]/)
  for (const flag of ['--data-dir <dir>', '--listen <host:port>', '--config <file>', '--set <key=value>', '--log-level <level>']) {
    t.match(r.stdout, flag)
  }
  t.match(r.stdout, 'Examples:')
  t.same(await run('broker', 'start', '--help'), r)
})

t.test('usage mistakes: one line, exit 2', async (t) => {
  const cases: [string[], string][] = [
    [['broker'], "peerlog broker: missing subcommand: 'peerlog broker start' (try 'peerlog help broker')\n"],
    [['broker', 'stop'], "peerlog broker: unknown subcommand 'stop': expected 'start' (try 'peerlog help broker')\n"],
    [['broker', 'start', '--port', '1'], "peerlog broker: unknown flag '--port' (try 'peerlog help broker')\n"],
    [['broker', 'start', '--lisen', ':1'], "peerlog broker: unknown flag '--lisen' (did you mean '--listen'?)\n"],
    [['broker', 'start', '--data-dir'], "peerlog broker: flag '--data-dir' needs a value (--data-dir <dir>) (try 'peerlog help broker')\n"],
    [
      ['broker', 'start', '--log-level', 'loud'],
      "peerlog broker: invalid value 'loud' for --log-level: expected one of debug, info, warn, error (try 'peerlog help broker')\n",
    ],
    [['broker', 'start', 'now'], "peerlog broker: unexpected argument 'now' (try 'peerlog help broker')\n"],
  ]
  for (const [argv, stderr] of cases) {
    const r = await run(...argv)
    t.equal(r.code, EXIT_USAGE, argv.join(' '))
    t.equal(r.stderr, stderr)
    oneLine(t, r)
  }
})

t.test('bad config: one line naming the key and what it accepts, exit 1', async (t) => {
  const dir = t.testdir({ 'bad.properties': '# peerlog\nnum.partitions=zero\n', 'broken.properties': 'a=\\u00' })
  const cases: [string[], string][] = [
    [['--set', 'num.partitions=0'], "peerlog broker: invalid value '0' for num.partitions: expected an integer from 1 to 2147483647\n"],
    [['--set', 'num.partitions'], "peerlog broker: --set 'num.partitions' is not key=value (e.g. --set num.partitions=3)\n"],
    [
      ['--listen', 'localhost'],
      "peerlog broker: invalid value 'localhost' for --listen: expected host:port, e.g. 127.0.0.1:9092 (port 0 picks a free port)\n",
    ],
    [
      ['--set', 'advertised.listeners=PLAINTEXT://0.0.0.0:9092'],
      "peerlog broker: invalid value 'PLAINTEXT://0.0.0.0:9092' for advertised.listeners: expected a host clients can reach, not '0.0.0.0'\n",
    ],
    [
      ['--config', join(dir, 'bad.properties')],
      "peerlog broker: invalid value 'zero' for num.partitions: expected an integer from 1 to 2147483647\n",
    ],
    [['--config', join(dir, 'broken.properties')], `peerlog broker: ${join(dir, 'broken.properties')}:1: malformed \\uxxxx escape '\\u00'\n`],
    [['--config', join(dir, 'missing.properties')], `peerlog broker: cannot read config file '${join(dir, 'missing.properties')}': no such file\n`],
    [['--config', dir], `peerlog broker: cannot read config file '${dir}': it is a directory\n`],
  ]
  for (const [argv, stderr] of cases) {
    const r = await run('broker', 'start', ...argv)
    t.equal(r.code, EXIT_FAILURE, argv.join(' '))
    t.equal(r.stderr, stderr)
    oneLine(t, r)
  }
})
