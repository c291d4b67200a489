/**
 * The Kafka listener: a TCP server (node:net) handing each connection to a KafkaConnection.
 * It can be bound before the broker is ready to serve (its port is part of what the broker
 * registers): started without a router, it accepts connections and holds them unread until
 * `serve(router)`. `close()` stops accepting and closes every connection.
 */
import { createServer, type Server, type Socket } from 'node:net'
import type { Logger } from '../../runtime/logger.ts'
import { type ConnectionLimits, KafkaConnection } from './connection.ts'
import type { Router } from './router.ts'

export interface KafkaListenerOptions extends ConnectionLimits {
  host: string
  port: number
  /** Absent: connections wait, unread, for `serve()`. */
  router?: Router
  logger: Logger
}

export interface KafkaListener {
  readonly host: string
  readonly port: number
  readonly connections: number
  serve(router: Router): void
  close(): Promise<void>
}

export async function startKafkaListener(options: KafkaListenerOptions): Promise<KafkaListener> {
  const { logger } = options
  let router = options.router ?? null
  const connections = new Set<KafkaConnection>()
  const early = new Set<Socket>()
  let nextId = 1
  const accept = (socket: Socket, r: Router) => {
    const conn = new KafkaConnection(nextId++, socket, r, options, logger, (c) => connections.delete(c))
    connections.add(conn)
  }
  const server: Server = createServer({ noDelay: true, pauseOnConnect: true }, (socket: Socket) => {
    if (router) {
      accept(socket, router)
      socket.resume()
      return
    }
    early.add(socket)
    socket.on('error', () => socket.destroy())
    socket.on('close', () => early.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err)
    server.once('error', onError)
    server.listen(options.port, options.host, () => {
      server.off('error', onError)
      resolve()
    })
  })
  // Only after the bind: a failed bind reaches the caller as the rejection, logged once there.
  server.on('error', (err) => logger.error(`Kafka listener: ${err.message}`))
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : options.port
  return {
    host: options.host,
    port,
    get connections() {
      return connections.size
    },
    serve(r: Router) {
      router = r
      for (const socket of early) {
        early.delete(socket)
        if (socket.destroyed) continue
        accept(socket, r)
        socket.resume()
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const c of connections) c.destroy()
        for (const s of early) s.destroy()
      }),
  }
}
