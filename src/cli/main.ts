/**
 * The `peerlog` command.
 *
 * `main(argv, io)` runs one command line and resolves to the exit code: 0 on success,
 * 2 on a usage mistake (one line on stderr saying what is wrong and what to type
 * instead, never a stack trace), 1 on a failure that is not a bug (a bad config value,
 * an unreachable broker, an unknown topic: one line too). It writes only to the writers it is given, so tests
 * call it directly. The module runs `main` itself only when it is the program's entry
 * point (`node dist/peerlog.mjs`, `deno run -A src/cli/main.ts`, `bun src/cli/main.ts`).
 *
 * Only commands that work are listed; new ones are added to `COMMANDS`.
 */
import process from 'node:process'
import pkg from '../../package.json' with { type: 'json' }
import { ConfigError } from '../broker/config-parse.ts'
import { isEntryPoint, runtime } from '../runtime/platform.ts'
import { describeFlags, type FlagSpecs, parseArgs, suggest, UsageError } from './args.ts'
import { brokerCommand } from './broker.ts'
import { clusterCommand } from './cluster.ts'
import { consumeCommand } from './consume.ts'
import { dhtBootstrapCommand } from './dht-bootstrap.ts'
import { groupsCommand } from './groups.ts'
import { produceCommand } from './produce.ts'
import { topicsCommand } from './topics.ts'
import { type Command, command, CommandError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, HELP_FLAG, type Io } from './command.ts'

export { CommandError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE }
export type { Io, Writer } from './command.ts'

/** The version of peerlog, from package.json (inlined into the bundle by esbuild). */
export const VERSION: string = pkg.version

const GLOBAL_FLAGS = {
  ...HELP_FLAG,
  version: { type: 'boolean', short: 'V', description: 'Print the version' },
} as const satisfies FlagSpecs

const COMMANDS: readonly Command[] = [
  command({
    name: 'help',
    args: '[command]',
    summary: 'Show this help, or the help of one command',
    flags: HELP_FLAG,
    maxPositionals: 1,
    run({ positionals, io }) {
      const topic = positionals[0]
      if (topic === undefined) {
        io.stdout.write(generalHelp())
        return EXIT_OK
      }
      io.stdout.write(commandHelp(findCommand(topic)))
      return EXIT_OK
    },
  }),
  command({
    name: 'version',
    args: '',
    summary: 'Print the version of peerlog and of the runtime running it',
    flags: HELP_FLAG,
    maxPositionals: 0,
    run({ io }) {
      io.stdout.write(versionLine())
      return EXIT_OK
    },
  }),
  brokerCommand,
  topicsCommand,
  produceCommand,
  consumeCommand,
  groupsCommand,
  clusterCommand,
  dhtBootstrapCommand,
]

function versionLine(): string {
  const rt = runtime()
  return `peerlog ${VERSION} (${rt.name} ${rt.version})\n`
}

function generalHelp(): string {
  const names = COMMANDS.map((c) => (c.args ? `${c.name} ${c.args}` : c.name))
  const width = Math.max(...names.map((n) => n.length))
  return [
    `peerlog ${VERSION} — a Kafka-compatible commit log for Node.js, Deno and Bun`,
    '',
    'Usage: peerlog <command> [flags]',
    '',
    'Commands:',
    ...COMMANDS.map((c, i) => `  ${names[i]!.padEnd(width)}  ${c.summary}`),
    '',
    'Flags:',
    ...describeFlags(GLOBAL_FLAGS),
    '',
    "Run 'peerlog help <command>' for the help of one command.",
    '',
  ].join('\n')
}

function commandHelp(c: Command): string {
  return [
    `Usage: peerlog ${c.name}${c.args ? ` ${c.args}` : ''}${Object.keys(c.flags).length ? ' [flags]' : ''}`,
    '',
    `${c.summary}.`,
    '',
    'Flags:',
    ...describeFlags(c.flags),
    '',
    ...(c.help ? [...c.help, ''] : []),
  ].join('\n')
}

function findCommand(name: string): Command {
  const found = COMMANDS.find((c) => c.name === name)
  if (found) return found
  const guess = suggest(name, COMMANDS.map((c) => c.name))
  throw new UsageError(`unknown command '${name}'`, guess ? `did you mean 'peerlog ${guess}'?` : "try 'peerlog --help'")
}

const defaultIo: Io = { stdout: process.stdout, stderr: process.stderr }

/** Runs one command line (without the runtime and script: `process.argv.slice(2)`). */
export async function main(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  let context = 'peerlog'
  let helpCommand = 'peerlog --help'
  try {
    const global = parseArgs(argv, GLOBAL_FLAGS, { stopAtPositional: true })
    const [name, ...args] = global.rest
    if (name === undefined) {
      io.stdout.write(global.flags.version && !global.flags.help ? versionLine() : generalHelp())
      return EXIT_OK
    }
    const cmd = findCommand(name)
    if (global.flags.help) {
      io.stdout.write(commandHelp(cmd))
      return EXIT_OK
    }
    if (global.flags.version) {
      throw new UsageError(`'--version' is not used with a command`, "try 'peerlog version'")
    }
    context = `peerlog ${cmd.name}`
    helpCommand = `peerlog help ${cmd.name}`
    const parsed = parseArgs(args, cmd.flags)
    if ((parsed.flags as { help?: boolean }).help) {
      io.stdout.write(commandHelp(cmd))
      return EXIT_OK
    }
    if (parsed.positionals.length > cmd.maxPositionals) {
      const extra = parsed.positionals[cmd.maxPositionals]!
      throw new UsageError(`unexpected argument '${extra}'`)
    }
    return await cmd.run({ flags: parsed.flags, positionals: parsed.positionals, io })
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`${context}: ${err.message} (${err.hint ?? `try '${helpCommand}'`})\n`)
      return EXIT_USAGE
    }
    if (err instanceof CommandError) {
      io.stderr.write(`${context}: ${err.message}\n`)
      return err.exitCode
    }
    if (err instanceof ConfigError) {
      io.stderr.write(`${context}: ${err.message}\n`)
      return EXIT_FAILURE
    }
    throw err
  }
}

if (isEntryPoint(import.meta)) {
  // `peerlog consume ... | head`: the reader went away; stop quietly, as Unix tools do.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0)
    process.stderr.write(`peerlog: cannot write to stdout: ${err.message}\n`)
    process.exit(1)
  })
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
    },
    (err: unknown) => {
      // A bug, not a user's mistake: one line, and the stack when asked for.
      const debug = process.env.PEERLOG_DEBUG === '1'
      const text = err instanceof Error ? (debug ? (err.stack ?? err.message) : err.message) : String(err)
      process.stderr.write(`peerlog: internal error: ${text}${debug ? '' : ' (PEERLOG_DEBUG=1 shows the stack trace)'}\n`)
      process.exitCode = 1
    },
  )
}
