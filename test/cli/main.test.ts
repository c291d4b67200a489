import { readFileSync } from 'node:fs'
import t from 'tap'
import { EXIT_OK, EXIT_USAGE, type Io, main, VERSION } from '../../src/cli/main.ts'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

/** Runs main with captured output. */
async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const io: Io = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  }
  const code = await main(argv, io)
  return { code, stdout, stderr }
}

t.test('help: --help, -h, help and no arguments print the same help', async (t) => {
  const expected = await run('--help')
  t.equal(expected.code, EXIT_OK)
  t.equal(expected.stderr, '')
  t.match(expected.stdout, /^peerlog \d+\.\d+\.\d+/)
  t.match(expected.stdout, 'Usage: peerlog <command> [flags]')
  t.match(expected.stdout, /\n {2}help \[command\] +Show this help/)
  t.match(expected.stdout, /\n {2}version +Print the version of peerlog/)
  t.match(expected.stdout, /-h, --help/)
  t.match(expected.stdout, /-V, --version/)
  for (const argv of [['-h'], ['help'], [], ['--help', '--version'], ['--help=true']]) {
    t.same(await run(...argv), expected, `peerlog ${argv.join(' ')}`)
  }
})

t.test('help lists only the commands that exist', async (t) => {
  const { stdout } = await run('--help')
  const section = stdout.split('Commands:\n')[1]!.split('\n\n')[0]!
  const names = section.split('\n').map((line) => line.trim().split(' ')[0])
  t.same(names, ['help', 'version', 'broker', 'topics', 'produce', 'consume', 'groups', 'cluster', 'dht-bootstrap'])
})

t.test('help of one command', async (t) => {
  const expected = await run('help', 'version')
  t.equal(expected.code, EXIT_OK)
  t.equal(expected.stderr, '')
  t.match(expected.stdout, /^Usage: peerlog version \[flags\]\n\nPrint the version of peerlog and of the runtime running it\.\n/)
  t.same(await run('version', '--help'), expected)
  t.same(await run('version', '-h'), expected)
  t.same(await run('--help', 'version'), expected)
  const help = await run('help', 'help')
  t.match(help.stdout, /^Usage: peerlog help \[command\] \[flags\]/)
})

t.test('version', async (t) => {
  t.equal(VERSION, pkg.version, 'VERSION comes from package.json')
  const r = await run('version')
  t.equal(r.code, EXIT_OK)
  t.equal(r.stderr, '')
  t.equal(r.stdout, `peerlog ${pkg.version} (node ${process.versions.node})\n`)
  t.same(await run('--version'), r)
  t.same(await run('-V'), r)
})

t.test('an unknown command is one line on stderr and exit 2', async (t) => {
  t.same(await run('foo'), {
    code: EXIT_USAGE,
    stdout: '',
    stderr: "peerlog: unknown command 'foo' (try 'peerlog --help')\n",
  })
  t.same(await run('verison'), {
    code: EXIT_USAGE,
    stdout: '',
    stderr: "peerlog: unknown command 'verison' (did you mean 'peerlog version'?)\n",
  })
  t.same(await run('help', 'foo'), {
    code: EXIT_USAGE,
    stdout: '',
    stderr: "peerlog help: unknown command 'foo' (try 'peerlog --help')\n",
  })
  t.same(await run('--help', 'foo'), {
    code: EXIT_USAGE,
    stdout: '',
    stderr: "peerlog: unknown command 'foo' (try 'peerlog --help')\n",
  })
})

t.test('a bad flag is one line on stderr and exit 2', async (t) => {
  t.same(await run('--bogus'), {
    code: EXIT_USAGE,
    stdout: '',
    stderr: "peerlog: unknown flag '--bogus' (try 'peerlog --help')\n",
  })
  t.same(await run('--verison'), {
    code: EXIT_USAGE,
    stdout: '',
    stderr: "peerlog: unknown flag '--verison' (did you mean '--version'?)\n",
  })
  t.same(await run('version', '--bogus'), {
    code: EXIT_USAGE,
    stdout: '',
    stderr: "peerlog version: unknown flag '--bogus' (try 'peerlog help version')\n",
  })
  t.same(await run('version', '--help=maybe'), {
    code: EXIT_USAGE,
    stdout: '',
    stderr:
      "peerlog version: flag '--help' is a switch and takes no value (got '--help=maybe') (try 'peerlog help version')\n",
  })
  t.same(await run('--version', 'help'), {
    code: EXIT_USAGE,
    stdout: '',
    stderr: "peerlog: '--version' is not used with a command (try 'peerlog version')\n",
  })
})

t.test('extra arguments are refused', async (t) => {
  t.same(await run('version', 'now'), {
    code: EXIT_USAGE,
    stdout: '',
    stderr: "peerlog version: unexpected argument 'now' (try 'peerlog help version')\n",
  })
  t.same(await run('help', 'version', 'help'), {
    code: EXIT_USAGE,
    stdout: '',
    stderr: "peerlog help: unexpected argument 'help' (try 'peerlog help help')\n",
  })
})

t.test('errors that are not usage mistakes are not swallowed', async (t) => {
  const io: Io = {
    stdout: {
      write: () => {
        throw new Error('disk on fire')
      },
    },
    stderr: { write: () => undefined },
  }
  await t.rejects(main(['version'], io), { message: 'disk on fire' })
})

t.test('main writes to process.stdout by default', async (t) => {
  const line = `peerlog ${pkg.version} (node ${process.versions.node})\n`
  const seen: string[] = []
  const write = process.stdout.write
  // tap reports on stdout too: keep its output flowing, hold back only main's line.
  process.stdout.write = ((chunk: string, ...rest: unknown[]) => {
    if (chunk === line) {
      seen.push(chunk)
      return true
    }
    return (write as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest)
  }) as typeof process.stdout.write
  try {
    t.equal(await main(['version']), EXIT_OK)
  } finally {
    process.stdout.write = write
  }
  t.same(seen, [line])
})
