/**
 * A reader for Java `.properties` text (what Kafka's `server.properties` is), following
 * `java.util.Properties.load`:
 * - natural lines end with `\n`, `\r` or `\r\n`; leading spaces, tabs and form feeds are
 *   skipped; blank lines and lines whose first other character is `#` or `!` are comments;
 * - a line ending in an odd number of backslashes continues on the next one, whose
 *   leading white space is skipped (a comment line never continues);
 * - the key ends at the first unescaped `=`, `:` or white space; white space around the
 *   separator is skipped, and a white-space separator may be followed by one `=` or `:`;
 * - escapes in keys and values: `\t`, `\n`, `\r`, `\f`, `\uXXXX`; any other escaped
 *   character stands for itself (`\=`, `\:`, `\ `, `\#`, `\\`);
 * - a key given twice keeps its last value.
 *
 * Java reads the bytes as ISO-8859-1; peerlog reads text, so a file in UTF-8 works too.
 * The only malformed input is a bad `\uXXXX` escape: a `PropertiesError` naming the line.
 */

export class PropertiesError extends Error {
  readonly line: number
  constructor(message: string, line: number) {
    super(message)
    this.name = 'PropertiesError'
    this.line = line
  }
}

export interface Property {
  readonly key: string
  readonly value: string
  /** The (first) natural line the property is on, counting from 1. */
  readonly line: number
}

const WHITE = new Set([' ', '\t', '\f'])

/** Every property in order of appearance, duplicates included. */
export function parsePropertiesList(text: string): Property[] {
  const lines = text.split(/\r\n|\r|\n/)
  const out: Property[] = []
  for (let i = 0; i < lines.length; i++) {
    const first = i + 1
    let logical = skipWhite(lines[i]!)
    if (logical === '' || logical[0] === '#' || logical[0] === '!') continue
    let part = logical
    while (trailingBackslashes(part) % 2 === 1) {
      logical = logical.slice(0, -1)
      if (i + 1 >= lines.length) break
      part = skipWhite(lines[++i]!)
      logical += part
    }
    out.push({ ...splitLine(logical, first), line: first })
  }
  return out
}

/** The properties as a map: the last value of each key wins, as in Java. */
export function parseProperties(text: string): Map<string, string> {
  const map = new Map<string, string>()
  for (const p of parsePropertiesList(text)) map.set(p.key, p.value)
  return map
}

function skipWhite(s: string): string {
  let i = 0
  while (i < s.length && WHITE.has(s[i]!)) i++
  return s.slice(i)
}

function trailingBackslashes(s: string): number {
  let n = 0
  while (n < s.length && s[s.length - 1 - n] === '\\') n++
  return n
}

function splitLine(line: string, lineNo: number): { key: string; value: string } {
  let keyLen = 0
  let valueStart = line.length
  let hasSep = false
  let backslash = false
  while (keyLen < line.length) {
    const c = line[keyLen]!
    if ((c === '=' || c === ':') && !backslash) {
      valueStart = keyLen + 1
      hasSep = true
      break
    }
    if (WHITE.has(c) && !backslash) {
      valueStart = keyLen + 1
      break
    }
    backslash = c === '\\' ? !backslash : false
    keyLen++
  }
  while (valueStart < line.length) {
    const c = line[valueStart]!
    if (!WHITE.has(c)) {
      if (!hasSep && (c === '=' || c === ':')) hasSep = true
      else break
    }
    valueStart++
  }
  return { key: unescape(line.slice(0, keyLen), lineNo), value: unescape(line.slice(valueStart), lineNo) }
}

const SIMPLE_ESCAPES: Record<string, string> = { t: '\t', n: '\n', r: '\r', f: '\f' }

function unescape(s: string, lineNo: number): string {
  if (!s.includes('\\')) return s
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (c !== '\\') {
      out += c
      continue
    }
    const next = s[++i]
    if (next === undefined) break // a lone trailing backslash is dropped, as Java does
    if (next === 'u') {
      const hex = s.slice(i + 1, i + 5)
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new PropertiesError(`malformed \\uxxxx escape '\\u${hex}'`, lineNo)
      out += String.fromCharCode(parseInt(hex, 16))
      i += 4
      continue
    }
    out += SIMPLE_ESCAPES[next] ?? next
  }
  return out
}
