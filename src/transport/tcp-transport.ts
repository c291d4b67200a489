/**
 * TcpTransport — peers over plain TCP (node:net, so Node, Deno and Bun alike). It listens on
 * host:port and dials the addresses it is given; which addresses (seeds, the membership it
 * learns) is the membership layer's business, not this one's.
 *
 * Streams are the net.Sockets themselves (no wrapper on the data path), with TCP_NODELAY on:
 * the peer protocol writes whole frames, and Nagle would hold a small request back for an ACK.
 * Every socket gets an 'error' listener before anyone else sees it, so that an error is never
 * unhandled (the owner learns of it by 'close' if it listens to nothing else). Addresses are
 * `host:port`, IPv6 hosts in brackets (`[::1]:9093`).
 */
import net from 'node:net'
import { type Logger, silentLogger } from '../runtime/logger.ts'
import type { PeerStream, StreamInfo, Transport } from './transport.ts'

export interface TcpTransportOptions {
  /** Where to listen; port 0 takes a free port (see address()). Default 127.0.0.1:0. */
  host?: string
  port?: number
  /** How long a dial may take before it fails with ETIMEDOUT. */
  connectTimeoutMs?: number
  /** Accepted connections open at once; the server refuses more (net.Server#maxConnections). */
  acceptedConnectionsMax?: number
  logger?: Logger
}

export const tcpDefaults = {
  host: '127.0.0.1',
  port: 0,
  connectTimeoutMs: 10_000,
  acceptedConnectionsMax: 1_024,
}

/** A failed dial: `code` is the socket's (ECONNREFUSED, ETIMEDOUT, ENOTFOUND, ...). */
export class TcpConnectError extends Error {
  readonly code: string
  readonly address: string
  constructor(address: string, code: string, detail: string, cause?: unknown) {
    super(`tcp: cannot connect to ${address}: ${detail}`, cause === undefined ? undefined : { cause })
    this.name = 'TcpConnectError'
    this.code = code
    this.address = address
  }
}

/** Splits `host:port` (or `[v6]:port`); throws on anything else. */
export function parseHostPort(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address)
  const port = match === null ? NaN : Number(match[3])
  if (match === null || !(port > 0 && port < 65536)) {
    throw new Error(`tcp: '${address}' is not a host:port address`)
  }
  return { host: match[1] ?? match[2]!, port }
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

export class TcpTransport implements Transport {
  readonly name = 'tcp'
  private readonly host: string
  private readonly port: number
  private readonly connectTimeoutMs: number
  private readonly acceptedConnectionsMax: number
  private readonly logger: Logger
  private server: net.Server | null = null
  private readonly sockets = new Set<net.Socket>()
  private bound: string | null = null
  private closing: Promise<void> | null = null

  constructor(options: TcpTransportOptions = {}) {
    this.host = options.host ?? tcpDefaults.host
    this.port = options.port ?? tcpDefaults.port
    this.connectTimeoutMs = options.connectTimeoutMs ?? tcpDefaults.connectTimeoutMs
    this.acceptedConnectionsMax = options.acceptedConnectionsMax ?? tcpDefaults.acceptedConnectionsMax
    this.logger = options.logger ?? silentLogger
  }

  listen(onStream: (stream: PeerStream, info: StreamInfo) => void): Promise<void> {
    if (this.closing !== null) return Promise.reject(new Error('tcp transport is closed'))
    if (this.server !== null) return Promise.reject(new Error('tcp transport is already listening'))
    const server = net.createServer((socket) => {
      if (this.closing !== null) {
        socket.on('error', () => {})
        socket.destroy()
        return
      }
      const remote = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0)
      this.adopt(socket, remote)
      onStream(socket, tcpInfo(remote, false))
    })
    server.maxConnections = this.acceptedConnectionsMax
    this.server = server
    return new Promise((resolve, reject) => {
      const onListenError = (error: Error): void => {
        this.server = null
        reject(new Error(`tcp: cannot listen on ${formatHostPort(this.host, this.port)}: ${error.message}`, { cause: error }))
      }
      server.once('error', onListenError)
      server.listen(this.port, this.host, () => {
        server.off('error', onListenError)
        server.on('error', (error) => this.logger.warn(`tcp listener ${this.bound}: ${error.message}`))
        const address = server.address() as net.AddressInfo
        this.bound = formatHostPort(address.address, address.port)
        this.logger.debug(`tcp listening on ${this.bound}`)
        resolve()
      })
    })
  }

  connect(address: string): Promise<{ stream: PeerStream; info: StreamInfo }> {
    if (this.closing !== null) return Promise.reject(new Error('tcp transport is closed'))
    let target: { host: string; port: number }
    try {
      target = parseHostPort(address)
    } catch (error) {
      return Promise.reject(error)
    }
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: target.host, port: target.port, noDelay: true })
      this.adopt(socket, address)
      const settle = (error: TcpConnectError | null): void => {
        clearTimeout(timer)
        socket.off('connect', onConnect)
        socket.off('error', onError)
        socket.off('close', onClose)
        if (error === null) {
          resolve({ stream: socket, info: tcpInfo(address, true) })
        } else {
          socket.destroy()
          reject(error)
        }
      }
      const onError = (error: Error & { code?: string }): void => {
        settle(new TcpConnectError(address, error.code ?? 'ERR', error.message, error))
      }
      const onClose = (): void => settle(new TcpConnectError(address, 'ECONNABORTED', 'the transport was closed'))
      const onConnect = (): void => settle(null)
      const timer = setTimeout(() => {
        settle(new TcpConnectError(address, 'ETIMEDOUT', `no answer within ${this.connectTimeoutMs} ms`))
      }, this.connectTimeoutMs)
      socket.once('connect', onConnect)
      socket.once('error', onError)
      socket.once('close', onClose)
    })
  }

  address(): string | null {
    return this.bound
  }

  close(): Promise<void> {
    this.closing ??= new Promise((resolve) => {
      for (const socket of this.sockets) socket.destroy()
      const server = this.server
      this.bound = null
      if (server === null) resolve()
      else server.close(() => resolve())
    })
    return this.closing
  }

  /** Every socket this transport made: error handled, NODELAY on, destroyed by close(). */
  private adopt(socket: net.Socket, remote: string): void {
    this.sockets.add(socket)
    socket.setNoDelay(true)
    socket.on('error', (error) => this.logger.debug(`tcp ${remote}: ${error.message}`))
    socket.once('close', () => this.sockets.delete(socket))
  }
}

function tcpInfo(remote: string, initiator: boolean): StreamInfo {
  return { transport: 'tcp', remote, initiator, remotePublicKey: null, localPublicKey: null }
}
