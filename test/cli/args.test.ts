import t from 'tap'
import { describeFlags, editDistance, parseArgs, suggest, UsageError } from '../../src/cli/args.ts'

const SPECS = {
  help: { type: 'boolean', short: 'h', description: 'Show help' },
  verbose: { type: 'boolean' },
  'data-dir': { type: 'string', valueName: '<dir>', description: 'Where the log lives' },
  seed: { type: 'string', short: 's' },
  topic: { type: 'string', multiple: true },
} as const

/** The UsageError that parsing `argv` throws. */
function usageError(argv: string[], options?: { stopAtPositional?: boolean }): UsageError {
  try {
    parseArgs(argv, SPECS, options)
  } catch (err) {
    if (err instanceof UsageError) return err
    throw err
  }
  throw new Error(`no error for ${JSON.stringify(argv)}`)
}

t.test('defaults when nothing is given', async (t) => {
  const r = parseArgs([], SPECS)
  t.same(r.flags, { help: false, verbose: false, 'data-dir': undefined, seed: undefined, topic: [] })
  t.same(r.positionals, [])
  t.same(r.rest, [])
})

t.test('long flags with a separate or inline value', async (t) => {
  t.equal(parseArgs(['--data-dir', '/tmp/a'], SPECS).flags['data-dir'], '/tmp/a')
  t.equal(parseArgs(['--data-dir=/tmp/b'], SPECS).flags['data-dir'], '/tmp/b')
  t.equal(parseArgs(['--data-dir='], SPECS).flags['data-dir'], '', 'an inline empty value is a value')
  t.equal(parseArgs(['--data-dir=a=b'], SPECS).flags['data-dir'], 'a=b', 'only the first = splits')
  t.equal(parseArgs(['--seed', '-1'], SPECS).flags.seed, '-1', 'a value may look like a negative number')
})

t.test('switches', async (t) => {
  t.equal(parseArgs(['--verbose'], SPECS).flags.verbose, true)
  t.equal(parseArgs(['--verbose', '--no-verbose'], SPECS).flags.verbose, false, 'the last one wins')
  t.equal(parseArgs(['--verbose=false'], SPECS).flags.verbose, false)
  t.equal(parseArgs(['--verbose=YES'], SPECS).flags.verbose, true)
  t.equal(parseArgs(['--verbose=0'], SPECS).flags.verbose, false)
  t.same(parseArgs(['--verbose', 'x'], SPECS).positionals, ['x'], 'a switch takes no value from the next argument')
})

t.test('short aliases', async (t) => {
  t.equal(parseArgs(['-h'], SPECS).flags.help, true)
  t.equal(parseArgs(['-s', '42'], SPECS).flags.seed, '42')
})

t.test('repeated flags', async (t) => {
  t.same(parseArgs(['--topic', 'a', '--topic=b', '--topic', 'c'], SPECS).flags.topic, ['a', 'b', 'c'])
  t.match(usageError(['--seed', '1', '--seed', '2']).message, "flag '--seed' was given more than once")
  t.match(usageError(['--seed', '1', '-s', '2']).message, "flag '-s' was given more than once")
})

t.test('positionals and --', async (t) => {
  const r = parseArgs(['produce', '--verbose', 'orders', '-', '-5'], SPECS)
  t.same(r.positionals, ['produce', 'orders', '-', '-5'])
  t.equal(r.flags.verbose, true)
  t.same(parseArgs(['a', '--', '--verbose', '-h'], SPECS).positionals, ['a', '--verbose', '-h'])
  t.equal(parseArgs(['--', '--verbose'], SPECS).flags.verbose, false)
})

t.test('stopAtPositional leaves the subcommand and what follows unparsed', async (t) => {
  const r = parseArgs(['-h', 'version', '--bogus', 'x'], SPECS, { stopAtPositional: true })
  t.equal(r.flags.help, true)
  t.same(r.positionals, [])
  t.same(r.rest, ['version', '--bogus', 'x'])
  t.same(parseArgs(['--verbose'], SPECS, { stopAtPositional: true }).rest, [])
})

t.test('mistakes are one-line usage errors', async (t) => {
  const unknown = usageError(['--bogus'])
  t.equal(unknown.message, "unknown flag '--bogus'")
  t.equal(unknown.hint, undefined)
  t.equal(unknown.name, 'UsageError')

  const typo = usageError(['--verbos'])
  t.equal(typo.message, "unknown flag '--verbos'")
  t.equal(typo.hint, "did you mean '--verbose'?")

  t.equal(usageError(['--data-dri=x']).hint, "did you mean '--data-dir'?", 'inline values are not part of the guess')
  t.equal(usageError(['-x']).message, "unknown flag '-x'")
  t.equal(usageError(['-hv']).message, "unknown flag '-hv'", 'short flags are not bundled')
  t.equal(usageError(['-x']).hint, undefined, 'no guesses for short flags')
  t.equal(usageError(['--no-seed']).message, "unknown flag '--no-seed'", '--no- only negates switches')
  t.equal(usageError(['--no-bogus']).message, "unknown flag '--no-bogus'")
  t.equal(usageError(['--data-dir']).message, "flag '--data-dir' needs a value (--data-dir <dir>)")
  t.equal(usageError(['-s']).message, "flag '-s' needs a value (-s <value>)")
  t.equal(usageError(['--data-dir', '--verbose']).message, "flag '--data-dir' needs a value (--data-dir <dir>)")
  t.equal(usageError(['--verbose=maybe']).message, "flag '--verbose' is a switch and takes no value (got '--verbose=maybe')")
  t.equal(usageError(['--no-verbose=true']).message, "flag '--no-verbose' is a switch and takes no value (got '--no-verbose=true')")
  for (const argv of [['--bogus'], ['--data-dir'], ['--verbose=maybe']]) {
    t.notMatch(usageError(argv).message, /\n/, `${argv.join(' ')}: one line`)
  }
})

t.test('a bad spec is a programming error, not a usage error', async (t) => {
  t.throws(() => parseArgs([], { Help: { type: 'boolean' } }), { message: "bad flag name in spec: 'Help'" })
  t.throws(() => parseArgs([], { help: { type: 'boolean', short: '?' } }), { message: "bad short alias in spec: '?'" })
  t.notOk(
    (() => {
      try {
        parseArgs([], { Help: { type: 'boolean' } })
      } catch (err) {
        return err instanceof UsageError
      }
    })(),
  )
})

t.test('suggest and editDistance', async (t) => {
  t.equal(editDistance('', ''), 0)
  t.equal(editDistance('abc', ''), 3)
  t.equal(editDistance('', 'abc'), 3)
  t.equal(editDistance('version', 'version'), 0)
  t.equal(editDistance('verison', 'version'), 1, 'a swap of neighbours is one edit')
  t.equal(editDistance('kitten', 'sitting'), 3)
  t.equal(suggest('verison', ['help', 'version']), 'version')
  t.equal(suggest('hlp', ['help', 'version']), 'help')
  t.equal(suggest('produce', ['help', 'version']), undefined, 'nothing close enough')
  t.equal(suggest('x', []), undefined)
})

t.test('describeFlags lines up the help text', async (t) => {
  t.same(describeFlags(SPECS), [
    '  -h, --help            Show help',
    '      --verbose',
    '      --data-dir <dir>  Where the log lives',
    '  -s, --seed <value>',
    '      --topic <value>',
  ])
  t.same(describeFlags({}), [])
})
