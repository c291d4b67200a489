/**
 * A small command-line parser for the `peerlog` command, with no dependencies.
 *
 * What it accepts:
 * - long flags: `--name value` and `--name=value`;
 * - switches (boolean flags): `--name`, `--no-name`, `--name=true|false`;
 * - one-letter aliases declared in the spec: `-h`, `-o value`;
 * - repeated flags, for flags declared `multiple` (their values are collected in order);
 * - positionals (subcommands and their arguments); `--` ends the flags, and `-` or
 *   a negative number such as `-1` is a positional, not a flag.
 *
 * Every mistake is a `UsageError` whose message is one line saying what is wrong,
 * so that the caller can print it as it is.
 */

export interface FlagSpec {
  /** `boolean`: a switch that takes no value; `string`: takes one value. */
  readonly type: 'boolean' | 'string'
  /** A string flag that may be repeated; its values are collected in an array. */
  readonly multiple?: boolean
  /** A one-letter alias, used as `-x`. */
  readonly short?: string
  /** One line for the help text. */
  readonly description?: string
  /** How the value is shown in the help text, e.g. `<dir>`. */
  readonly valueName?: string
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>

/** The type of the parsed value of each flag, derived from its spec. */
export type Flags<S extends FlagSpecs> = {
  -readonly [K in keyof S]: S[K]['type'] extends 'boolean'
    ? boolean
    : S[K]['multiple'] extends true
      ? string[]
      : string | undefined
}

export interface ParseOptions {
  /**
   * Stop at the first positional: it and everything after it are returned in `rest`
   * unparsed. Used to read the flags that come before a subcommand.
   */
  readonly stopAtPositional?: boolean
}

export interface ParseResult<S extends FlagSpecs> {
  readonly flags: Flags<S>
  /** Positionals, in order (empty when `stopAtPositional` stopped at one). */
  readonly positionals: string[]
  /** With `stopAtPositional`: the first positional and everything after it. */
  readonly rest: string[]
}

/**
 * A mistake on the command line. The message is one line, fit to show to a user;
 * `hint`, when set, says what was probably meant (e.g. `did you mean '--help'?`).
 */
export class UsageError extends Error {
  readonly hint: string | undefined
  constructor(message: string, hint?: string) {
    super(message)
    this.name = 'UsageError'
    this.hint = hint
  }
}

const FLAG_NAME = /^[a-z][a-z0-9-]*$/
const TRUE_WORDS = new Set(['true', '1', 'yes'])
const FALSE_WORDS = new Set(['false', '0', 'no'])

export function parseArgs<S extends FlagSpecs>(
  argv: readonly string[],
  specs: S,
  options: ParseOptions = {},
): ParseResult<S> {
  const byShort = new Map<string, string>()
  const flags: Record<string, boolean | string | string[] | undefined> = {}
  for (const [name, spec] of Object.entries(specs)) {
    if (!FLAG_NAME.test(name)) throw new Error(`bad flag name in spec: '${name}'`)
    if (spec.short !== undefined) {
      if (!/^[A-Za-z]$/.test(spec.short)) throw new Error(`bad short alias in spec: '${spec.short}'`)
      byShort.set(spec.short, name)
    }
    flags[name] = spec.type === 'boolean' ? false : spec.multiple ? [] : undefined
  }
  const seen = new Set<string>()
  const positionals: string[] = []
  let rest: string[] = []

  const setValue = (name: string, spelled: string, value: string): void => {
    const spec = specs[name]!
    if (spec.multiple) {
      ;(flags[name] as string[]).push(value)
      return
    }
    if (seen.has(name)) throw new UsageError(`flag '${spelled}' was given more than once`)
    seen.add(name)
    flags[name] = value
  }

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1))
      break
    }
    if (!isFlag(arg)) {
      if (options.stopAtPositional) {
        rest = argv.slice(i)
        break
      }
      positionals.push(arg)
      continue
    }

    // Split `--name=value`, resolve `-x` aliases and `--no-name`.
    let spelled: string
    let name: string
    let inline: string | undefined
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=')
      spelled = eq === -1 ? arg : arg.slice(0, eq)
      inline = eq === -1 ? undefined : arg.slice(eq + 1)
      name = spelled.slice(2)
    } else {
      spelled = arg
      const long = arg.length === 2 ? byShort.get(arg[1]!) : undefined
      if (long === undefined) throw unknownFlag(arg, specs)
      name = long
    }

    let spec = specs[name]
    let negated = false
    if (spec === undefined && name.startsWith('no-') && specs[name.slice(3)]?.type === 'boolean') {
      name = name.slice(3)
      spec = specs[name]
      negated = true
    }
    if (spec === undefined) throw unknownFlag(spelled, specs)

    if (spec.type === 'boolean') {
      let on = !negated
      if (inline !== undefined) {
        const word = inline.toLowerCase()
        if (negated || (!TRUE_WORDS.has(word) && !FALSE_WORDS.has(word))) {
          throw new UsageError(`flag '${spelled}' is a switch and takes no value (got '${arg}')`)
        }
        on = TRUE_WORDS.has(word)
      }
      flags[name] = on
      continue
    }

    let value = inline
    if (value === undefined) {
      const next = argv[i + 1]
      if (next === undefined || next.startsWith('--')) {
        throw new UsageError(`flag '${spelled}' needs a value (${spelled} ${spec.valueName ?? '<value>'})`)
      }
      value = next
      i++
    }
    setValue(name, spelled, value)
  }

  return { flags: flags as Flags<S>, positionals, rest }
}

/** `-` and negative numbers are positionals; anything else starting with `-` is a flag. */
function isFlag(arg: string): boolean {
  return arg.length > 1 && arg.startsWith('-') && !/^-\d/.test(arg)
}

function unknownFlag(spelled: string, specs: FlagSpecs): UsageError {
  const names = Object.keys(specs).map((n) => `--${n}`)
  const guess = spelled.startsWith('--') ? suggest(spelled, names) : undefined
  return new UsageError(`unknown flag '${spelled}'`, guess ? `did you mean '${guess}'?` : undefined)
}

/** The candidate closest to `word` when it is a likely typo (edit distance ≤ 2), else undefined. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = 3
  for (const c of candidates) {
    const d = editDistance(word, c)
    if (d < bestDistance) {
      best = c
      bestDistance = d
    }
  }
  return best
}

/** Levenshtein distance, counting a swap of two neighbours as one edit. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1
  const cols = b.length + 1
  const d: number[] = new Array<number>(rows * cols).fill(0)
  for (let i = 0; i < rows; i++) d[i * cols] = i
  for (let j = 0; j < cols; j++) d[j] = j
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[(i - 2) * cols + j - 2]! + 1)
      }
      d[i * cols + j] = v
    }
  }
  return d[rows * cols - 1]!
}

/** Help lines for a set of flags: `  -h, --help             Show this help`. */
export function describeFlags(specs: FlagSpecs): string[] {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : '    '
    const value = spec.type === 'string' ? ` ${spec.valueName ?? '<value>'}` : ''
    return [`${short}--${name}${value}`, spec.description ?? ''] as const
  })
  const width = Math.max(0, ...rows.map(([left]) => left.length))
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`.trimEnd())
}
