/**
 * Checkpoint files — Kafka's small text files that record a position per partition or per epoch.
 *
 * On disk (UTF-8, one '\n' after every line):
 *   <version>
 *   <number of entries>
 *   <entry>            one line per entry, fields separated by a space
 * e.g. `replication-offset-checkpoint`: "0\n2\norders 0 1200\norders 1 980\n".
 *
 * Files are replaced whole through writeFileAtomic, so a crash leaves the old or the new one. A file
 * that does not parse is reported as a problem for the caller to log, never thrown: the positions it
 * held are recovered the slow way (a log scan, a fetch). Storage errors (EIO...) are still thrown.
 */
import { type Storage, writeFileAtomic } from './storage.ts'

export const RECOVERY_POINT_OFFSET_CHECKPOINT = 'recovery-point-offset-checkpoint'
/** High watermarks. */
export const REPLICATION_OFFSET_CHECKPOINT = 'replication-offset-checkpoint'
export const LOG_START_OFFSET_CHECKPOINT = 'log-start-offset-checkpoint'

const INT32_MAX = 0x7fffffff
const encoder = new TextEncoder()

export type CheckpointRead = { lines: string[] } | { missing: true } | { problem: string }

export function writeCheckpoint(storage: Storage, path: string, version: number, lines: readonly string[]): void {
  if (!Number.isSafeInteger(version) || version < 0) throw new Error(`invalid checkpoint version ${version} for ${path}`)
  for (const line of lines) {
    // A line break inside an entry would shift every entry after it on the next read.
    if (/[\r\n]/.test(line)) throw new Error(`checkpoint entry ${JSON.stringify(line)} for ${path} holds a line break`)
  }
  const text = `${version}\n${lines.length}\n${lines.map((line) => `${line}\n`).join('')}`
  writeFileAtomic(storage, path, encoder.encode(text))
}

/** The entry lines of a checkpoint file, `{ missing }` when there is none, or what is wrong with it. */
export function readCheckpoint(storage: Storage, path: string, expectedVersion: number): CheckpointRead {
  const data = storage.readFile(path)
  if (data === null) return { missing: true }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(data)
  } catch {
    return { problem: `${path}: not UTF-8 text` }
  }
  const lines = text.split(/\r?\n/)
  // The last line ends with '\n' (Kafka's writer puts one after every line); tolerate its absence.
  if (lines[lines.length - 1] === '') lines.pop()
  if (lines.length === 0) return { problem: `${path}: empty file` }
  const version = parseNonNegativeInteger(lines[0]!)
  if (version === null) return { problem: `${path}: version ${JSON.stringify(lines[0])} is not a number` }
  if (version !== expectedVersion) return { problem: `${path}: unsupported version ${version} (expected ${expectedVersion})` }
  if (lines.length === 1) return { problem: `${path}: no entry count after the version` }
  const count = parseNonNegativeInteger(lines[1]!)
  if (count === null) return { problem: `${path}: entry count ${JSON.stringify(lines[1])} is not a number` }
  const entries = lines.slice(2)
  if (entries.length !== count) return { problem: `${path}: expected ${count} entries but found ${entries.length}` }
  return { lines: entries }
}

/** A plain decimal integer from 0 to Number.MAX_SAFE_INTEGER (beyond it a JS number is not exact), or null. */
export function parseNonNegativeInteger(text: string): number | null {
  if (!/^\d{1,16}$/.test(text)) return null
  const value = Number(text)
  return Number.isSafeInteger(value) ? value : null
}

export interface TopicPartitionOffset {
  topic: string
  partition: number
  offset: number
}

const VERSION = 0

/**
 * The per-data-dir files that hold one offset per partition (recovery points, high watermarks,
 * log start offsets). Entry line: `<topic> <partition> <offset>`; topics hold no whitespace.
 */
export const OffsetCheckpointFile = {
  VERSION,

  write(storage: Storage, path: string, entries: readonly TopicPartitionOffset[]): void {
    const seen = new Set<string>()
    const lines = entries.map(({ topic, partition, offset }) => {
      if (!/^\S+$/.test(topic)) throw new Error(`topic ${JSON.stringify(topic)} cannot be written to ${path}`)
      if (!Number.isInteger(partition) || partition < 0 || partition > INT32_MAX) throw new Error(`invalid partition ${partition} of ${topic} for ${path}`)
      if (!Number.isSafeInteger(offset) || offset < 0) throw new Error(`invalid offset ${offset} of ${topic}-${partition} for ${path}`)
      const key = `${topic}-${partition}`
      if (seen.has(key)) throw new Error(`${key} appears twice in ${path}`)
      seen.add(key)
      return `${topic} ${partition} ${offset}`
    })
    writeCheckpoint(storage, path, VERSION, lines)
  },

  /** The entries, or none and the problem to log when the file is damaged; a missing file is no problem. */
  read(storage: Storage, path: string): { entries: TopicPartitionOffset[]; problem: string | null } {
    const read = readCheckpoint(storage, path, VERSION)
    if ('missing' in read) return { entries: [], problem: null }
    if ('problem' in read) return { entries: [], problem: read.problem }
    const entries: TopicPartitionOffset[] = []
    const seen = new Set<string>()
    for (const [i, line] of read.lines.entries()) {
      const fields = line.split(/\s+/)
      const topic = fields[0]!
      const partition = fields.length === 3 ? parseNonNegativeInteger(fields[1]!) : null
      const offset = fields.length === 3 ? parseNonNegativeInteger(fields[2]!) : null
      if (topic === '' || partition === null || partition > INT32_MAX || offset === null) {
        return { entries: [], problem: `${path}: entry ${i + 1} ${JSON.stringify(line)} is not "<topic> <partition> <offset>"` }
      }
      const key = `${topic}-${partition}`
      if (seen.has(key)) return { entries: [], problem: `${path}: ${key} appears twice` }
      seen.add(key)
      entries.push({ topic, partition, offset })
    }
    return { entries, problem: null }
  },
} as const
