/**
 * Storage — the seam through which every byte the log keeps reaches a disk.
 *
 * Contract (what implementations must honour and callers may rely on):
 * - Calls are synchronous. The log is written by one actor at a time and the
 *   page cache answers in microseconds; a synchronous seam keeps appends at the
 *   speed of `fs.writeSync` and makes simulated runs deterministic.
 * - `append` writes at the end of the file and returns the position it wrote at.
 *   Bytes are durable only after `sync()` on that file.
 * - Creating, renaming and removing files is durable only after `syncDir(dir)`
 *   on the parent directory (as on Linux); `rename` is atomic.
 * - Errors are thrown as `StorageError` with a POSIX-like `code` (ENOENT, ENOSPC,
 *   EIO, ...), so callers can tell "disk full" from "file missing".
 */

export interface StorageFile {
  readonly path: string
  /** Current size in bytes (including writes not yet synced). */
  size(): number
  /** Appends all of `data` at the end; returns the position written at. */
  append(data: Uint8Array): number
  /** Writes all of `data` at `position` (may extend the file). */
  writeAt(data: Uint8Array, position: number): void
  /** Reads up to `length` bytes at `position` into `into` at `offset`; returns bytes read (short at EOF). */
  readInto(into: Uint8Array, offset: number, length: number, position: number): number
  /** Cuts the file to `size` bytes. */
  truncate(size: number): void
  /** Makes every write so far durable. */
  sync(): void
  close(): void
}

export interface OpenOptions {
  /** Create the file if it does not exist (default false: a missing file throws ENOENT). */
  create?: boolean
}

export interface Storage {
  open(path: string, options?: OpenOptions): StorageFile
  exists(path: string): boolean
  /** Names (not paths) of the entries of a directory; [] when it does not exist. */
  list(dir: string): string[]
  /** Creates a directory and its parents; no error if it exists. */
  mkdirp(dir: string): void
  /** Atomically replaces `to` with `from`. */
  rename(from: string, to: string): void
  remove(path: string): void
  /** Removes a directory and everything in it; no error if it does not exist. */
  removeDir(dir: string): void
  /** Whole content of a file, or null when it does not exist. */
  readFile(path: string): Uint8Array | null
  /** Makes the creations, renames and removals in `dir` durable. */
  syncDir(dir: string): void
}

export class StorageError extends Error {
  readonly code: string
  readonly path: string
  constructor(code: string, path: string, message?: string) {
    super(`${code}: ${message ?? 'storage error'}, ${path}`)
    this.name = 'StorageError'
    this.code = code
    this.path = path
  }
}

/** Writes a small file so that a crash leaves either the old or the new content, never a mix. */
export function writeFileAtomic(storage: Storage, path: string, data: Uint8Array): void {
  const tmp = `${path}.tmp`
  const file = storage.open(tmp, { create: true })
  try {
    file.truncate(0)
    file.append(data)
    file.sync()
  } finally {
    file.close()
  }
  storage.rename(tmp, path)
  storage.syncDir(dirname(path))
}

/** POSIX dirname: `a/b/` → `a`, `/a` → `/`, `a` → `.`. */
export function dirname(path: string): string {
  const trimmed = path.replace(/\/+$/, '')
  if (trimmed === '') return path.startsWith('/') ? '/' : '.'
  const i = trimmed.lastIndexOf('/')
  if (i < 0) return '.'
  // Trailing slashes are stripped so that `a/b/` is a child of `a`, as POSIX has it.
  return trimmed.slice(0, i).replace(/\/+$/, '') || '/'
}

/** Joins with '/', collapsing repeated slashes; empty parts are skipped so that `joinPath('', 'x')` stays relative. */
export function joinPath(...parts: string[]): string {
  return parts
    .filter((part) => part !== '')
    .join('/')
    .replace(/\/+/g, '/')
}

/**
 * Creates `dir` and any missing parents so that they survive a crash: each new directory's
 * entry is made durable in its parent (a new log directory lost on power failure would
 * take its fsynced segments with it).
 */
export function mkdirpDurable(storage: Storage, dir: string): void {
  if (storage.exists(dir)) return
  const parent = dirname(dir)
  if (parent !== dir) mkdirpDurable(storage, parent)
  storage.mkdirp(dir)
  storage.syncDir(parent)
}
