/**
 * FsStorage — the Storage seam on the real file system (node:fs, synchronous),
 * which Node, Deno and Bun all provide.
 */
import * as fs from 'node:fs'
import { type OpenOptions, type Storage, StorageError, type StorageFile } from './storage.ts'

function wrap<T>(path: string, op: () => T): T {
  try {
    return op()
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (typeof e?.code === 'string') throw new StorageError(e.code, path, e.message)
    throw err
  }
}

class FsFile implements StorageFile {
  readonly path: string
  private fd: number
  // Cached so that size() and append() cost no system call; valid while this handle is the only writer.
  private length: number

  constructor(path: string, fd: number) {
    this.path = path
    this.fd = fd
    this.length = wrap(path, () => fs.fstatSync(fd).size)
  }

  size(): number {
    return this.length
  }

  append(data: Uint8Array): number {
    this.checkOpen()
    const at = this.length
    this.writeAt(data, at)
    return at
  }

  writeAt(data: Uint8Array, position: number): void {
    this.checkOpen()
    this.checkPosition(position)
    wrap(this.path, () => {
      let done = 0
      while (done < data.length) {
        done += fs.writeSync(this.fd, data, done, data.length - done, position + done)
      }
    })
    if (position + data.length > this.length) this.length = position + data.length
  }

  readInto(into: Uint8Array, offset: number, length: number, position: number): number {
    this.checkOpen()
    this.checkPosition(position)
    return wrap(this.path, () => {
      let done = 0
      while (done < length) {
        const n = fs.readSync(this.fd, into, offset + done, length - done, position + done)
        if (n === 0) break
        done += n
      }
      return done
    })
  }

  truncate(size: number): void {
    this.checkOpen()
    this.checkPosition(size)
    wrap(this.path, () => fs.ftruncateSync(this.fd, size))
    this.length = size
  }

  sync(): void {
    this.checkOpen()
    wrap(this.path, () => fs.fsyncSync(this.fd))
  }

  close(): void {
    if (this.fd < 0) return
    const fd = this.fd
    this.fd = -1
    wrap(this.path, () => fs.closeSync(fd))
  }

  // Without this a closed handle fails with Node's ERR_OUT_OF_RANGE (fd -1) rather than a POSIX code.
  private checkOpen(): void {
    if (this.fd < 0) throw new StorageError('EBADF', this.path, 'file is closed')
  }

  // node:fs takes a negative position as "the current file position" and a negative size as 0:
  // a caller's arithmetic slip would silently write or cut in the wrong place.
  private checkPosition(position: number): void {
    if (!Number.isSafeInteger(position) || position < 0) throw new StorageError('EINVAL', this.path, `invalid position or size ${position}`)
  }
}

export class FsStorage implements Storage {
  open(path: string, options: OpenOptions = {}): StorageFile {
    // O_CREAT without O_TRUNC: one system call, and a file created meanwhile by someone else is never emptied.
    const flags = options.create ? fs.constants.O_RDWR | fs.constants.O_CREAT : fs.constants.O_RDWR
    const fd = wrap(path, () => fs.openSync(path, flags))
    return new FsFile(path, fd)
  }

  exists(path: string): boolean {
    return fs.existsSync(path)
  }

  list(dir: string): string[] {
    try {
      // Sorted: readdir order depends on the file system, and runs must replay identically.
      return fs.readdirSync(dir).sort()
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      return wrap(dir, () => {
        throw err
      })
    }
  }

  mkdirp(dir: string): void {
    wrap(dir, () => fs.mkdirSync(dir, { recursive: true }))
  }

  rename(from: string, to: string): void {
    wrap(from, () => fs.renameSync(from, to))
  }

  remove(path: string): void {
    // unlink, not rm: removing a directory here is a bug, and unlink reports it with a POSIX code.
    try {
      fs.unlinkSync(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      wrap(path, () => {
        throw err
      })
    }
  }

  removeDir(dir: string): void {
    wrap(dir, () => fs.rmSync(dir, { recursive: true, force: true }))
  }

  readFile(path: string): Uint8Array | null {
    try {
      const data = fs.readFileSync(path)
      // A plain Uint8Array, not a Buffer: Buffer's slice() shares memory where Uint8Array's copies.
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      return wrap(path, () => {
        throw err
      })
    }
  }

  syncDir(dir: string): void {
    wrap(dir, () => {
      const fd = fs.openSync(dir, 'r')
      try {
        fs.fsyncSync(fd)
      } finally {
        fs.closeSync(fd)
      }
    })
  }
}
