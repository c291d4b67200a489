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
    const at = this.length
    this.writeAt(data, at)
    return at
  }

  writeAt(data: Uint8Array, position: number): void {
    wrap(this.path, () => {
      let done = 0
      while (done < data.length) {
        done += fs.writeSync(this.fd, data, done, data.length - done, position + done)
      }
    })
    if (position + data.length > this.length) this.length = position + data.length
  }

  readInto(into: Uint8Array, offset: number, length: number, position: number): number {
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
    wrap(this.path, () => fs.ftruncateSync(this.fd, size))
    this.length = size
  }

  sync(): void {
    wrap(this.path, () => fs.fsyncSync(this.fd))
  }

  close(): void {
    if (this.fd < 0) return
    const fd = this.fd
    this.fd = -1
    wrap(this.path, () => fs.closeSync(fd))
  }
}

export class FsStorage implements Storage {
  open(path: string, options: OpenOptions = {}): StorageFile {
    const fd = wrap(path, () => {
      try {
        return fs.openSync(path, 'r+')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && options.create) return fs.openSync(path, 'w+')
        throw err
      }
    })
    return new FsFile(path, fd)
  }

  exists(path: string): boolean {
    return fs.existsSync(path)
  }

  list(dir: string): string[] {
    try {
      return fs.readdirSync(dir)
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
    wrap(path, () => fs.rmSync(path, { force: true }))
  }

  removeDir(dir: string): void {
    wrap(dir, () => fs.rmSync(dir, { recursive: true, force: true }))
  }

  readFile(path: string): Uint8Array | null {
    try {
      return fs.readFileSync(path)
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
