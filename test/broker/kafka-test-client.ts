/** A minimal Kafka client over the generated codecs, for the broker's tests. */
import { connect, type Socket } from 'node:net'
import { type ApiMessages } from '../../src/protocol/kafka/generated/index.ts'
import { decodeResponseFrame, encodeRequestFrame } from '../../src/protocol/kafka/headers.ts'

type Key = keyof ApiMessages

export class TestClient {
  private buf = Buffer.alloc(0)
  private nextId = 1
  private readonly waiting = new Map<number, (frame: Uint8Array | null) => void>()
  readonly closed: Promise<void>

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk])
      while (this.buf.length >= 4) {
        const size = this.buf.readInt32BE(0)
        if (this.buf.length < 4 + size) break
        const frame = this.buf.subarray(4, 4 + size)
        this.buf = this.buf.subarray(4 + size)
        const id = frame.readInt32BE(0)
        const w = this.waiting.get(id)
        this.waiting.delete(id)
        w?.(frame)
      }
    })
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        for (const w of this.waiting.values()) w(null)
        this.waiting.clear()
        resolve()
      }),
    )
    socket.on('error', () => {})
  }

  static connect(port: number, host = '127.0.0.1'): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, host, () => resolve(new TestClient(s)))
      s.once('error', reject)
    })
  }

  /** Sends a request and resolves with its decoded response body. */
  request<K extends Key>(apiKey: K, version: number, data: ApiMessages[K]['requestInput']): Promise<ApiMessages[K]['response']> {
    const id = this.nextId++
    const frame = encodeRequestFrame(apiKey, version, id, 'test-client', data).finish()
    const p = new Promise<ApiMessages[K]['response']>((resolve, reject) => {
      this.waiting.set(id, (f) => {
        if (f === null) return reject(new Error('connection closed'))
        try {
          resolve(decodeResponseFrame(apiKey, version, f).body)
        } catch (e) {
          reject(e)
        }
      })
    })
    this.socket.write(frame)
    return p
  }

  /** Sends a request that gets no response (acks=0). */
  send<K extends Key>(apiKey: K, version: number, data: ApiMessages[K]['requestInput']): void {
    this.socket.write(encodeRequestFrame(apiKey, version, this.nextId++, 'test-client', data).finish())
  }

  raw(bytes: Uint8Array): void {
    this.socket.write(bytes)
  }

  close(): void {
    this.socket.destroy()
  }
}
