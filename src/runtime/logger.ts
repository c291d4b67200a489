/**
 * Logger — the seam for log lines. One line per notable event; the level is chosen
 * by whoever builds the logger (the CLI's --log-level), never by the code that logs.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

export interface Logger {
  debug(message: string): void
  info(message: string): void
  warn(message: string): void
  error(message: string): void
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }

/** Lines to a writer (stderr by default), at `level` and above, prefixed by the level and a context. */
export function consoleLogger(level: LogLevel = 'info', context = '', write: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  const min = ORDER[level]
  const at = (lvl: LogLevel) => (message: string) => {
    if (ORDER[lvl] >= min) write(`${lvl.toUpperCase()} ${context ? `[${context}] ` : ''}${message}`)
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }

/** Keeps every line, for tests that assert what a user would read. */
export class RecordingLogger implements Logger {
  readonly lines: { level: LogLevel; message: string }[] = []
  debug(message: string): void { this.lines.push({ level: 'debug', message }) }
  info(message: string): void { this.lines.push({ level: 'info', message }) }
  warn(message: string): void { this.lines.push({ level: 'warn', message }) }
  error(message: string): void { this.lines.push({ level: 'error', message }) }
  text(): string { return this.lines.map((l) => `${l.level} ${l.message}`).join('\n') }
}
