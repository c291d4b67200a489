/**
 * What every `peerlog` command is made of: its flags, its run function, the I/O it is
 * given, and the errors that end it with one line.
 */
import process from 'node:process'
import type { FlagSpecs, Flags } from './args.ts'

export interface Writer {
  write(chunk: string): unknown
}

export interface Io {
  readonly stdout: Writer
  readonly stderr: Writer
  /** Input of `peerlog produce` (default: process.stdin). */
  readonly stdin?: AsyncIterable<string | Uint8Array>
  /**
   * Ends long-running commands (`broker start`, `consume`) when aborted. By default they
   * stop on SIGINT or SIGTERM (a second one exits at once).
   */
  readonly signal?: AbortSignal
}

export const EXIT_OK = 0
/** A failure: unreachable broker, unknown topic, bad config value. */
export const EXIT_FAILURE = 1
/** A usage mistake: wrong flag, missing value. */
export const EXIT_USAGE = 2

export interface Context<S extends FlagSpecs> {
  readonly flags: Flags<S>
  readonly positionals: readonly string[]
  readonly io: Io
}

export interface Command<S extends FlagSpecs = FlagSpecs> {
  readonly name: string
  /** Shown after the name in usage lines, e.g. `[command]`. */
  readonly args: string
  readonly summary: string
  readonly flags: S
  /** Most positionals the command takes. */
  readonly maxPositionals: number
  /** Extra lines for the command's help (examples), after the flags. */
  readonly help?: readonly string[]
  run(ctx: Context<S>): number | Promise<number>
}

export function command<S extends FlagSpecs>(c: Command<S>): Command {
  return c as unknown as Command
}

export const HELP_FLAG = { help: { type: 'boolean', short: 'h', description: 'Show this help' } } as const

/**
 * A command that failed for a reason that is not a bug: printed as one line
 * (`peerlog topics: <message>`) with exit code 1.
 */
export class CommandError extends Error {
  readonly exitCode: number
  constructor(message: string, exitCode = EXIT_FAILURE) {
    super(message)
    this.name = 'CommandError'
    this.exitCode = exitCode
  }
}

/**
 * The signal that ends a long-running command: `io.signal` when given, else one aborted
 * by the first SIGINT or SIGTERM (a second one exits the process with 130, for a stop
 * that hangs). `dispose()` removes the handlers.
 */
export function stopSignal(io: Io): { signal: AbortSignal; dispose(): void } {
  if (io.signal) return { signal: io.signal, dispose() {} }
  const controller = new AbortController()
  const onSignal = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      io.stderr.write(`peerlog: ${sig} again, exiting now\n`)
      process.exit(130)
    }
    controller.abort(sig)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    },
  }
}

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}
