/**
 * `--bootstrap-server` for the client commands: parsed and checked before a client is made,
 * and probed with a plain TCP connect so that a broker that is not there is one clear line
 * within a few seconds, instead of a client retrying until its API timeout.
 */
import { connect } from 'node:net'
import { parseHostPort } from '../client/config.ts'
import { ConfigError as ClientConfigError } from '../client/errors.ts'
import { UsageError } from './args.ts'
import { CommandError } from './command.ts'

export interface BootstrapServer {
  readonly host: string
  readonly port: number
}

/** How long the reachability probe waits for a TCP connection, per server. */
export const PROBE_TIMEOUT_MS = 5_000

/** Parses `host:port[,host:port...]`; a missing or malformed value is a usage mistake. */
export function parseBootstrap(value: string | undefined): BootstrapServer[] {
  if (value === undefined) {
    throw new UsageError('missing --bootstrap-server (e.g. --bootstrap-server 127.0.0.1:9092)')
  }
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (items.length === 0) throw new UsageError(`invalid value '${value}' for --bootstrap-server: expected host:port[,host:port...]`)
  return items.map((item) => {
    try {
      return parseHostPort(item)
    } catch (err) {
      if (err instanceof ClientConfigError) {
        throw new UsageError(`invalid value '${value}' for --bootstrap-server: expected host:port[,host:port...]`)
      }
      throw err
    }
  })
}

/**
 * Resolves when one of the servers accepts a TCP connection; otherwise throws a
 * CommandError saying why the first one could not be reached.
 */
export async function probe(servers: readonly BootstrapServer[], timeoutMs = PROBE_TIMEOUT_MS): Promise<void> {
  const reasons: string[] = []
  for (const s of servers) {
    const reason = await tryConnect(s, timeoutMs)
    if (reason === null) return
    reasons.push(reason)
  }
  const list = servers.map((s) => hostPort(s)).join(',')
  throw new CommandError(`cannot reach a broker at ${list}: ${reasons[0]}`)
}

function tryConnect(s: BootstrapServer, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: s.host, port: s.port })
    const done = (reason: string | null): void => {
      clearTimeout(timer)
      socket.removeAllListeners()
      socket.on('error', () => {})
      socket.destroy()
      resolve(reason)
    }
    const timer = setTimeout(() => done(`no answer within ${timeoutMs} ms`), timeoutMs)
    socket.once('connect', () => done(null))
    socket.once('error', (err: NodeJS.ErrnoException) => done(describeConnectError(err)))
  })
}

function describeConnectError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused (is the broker running?)'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unknown host'
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable'
    case 'ETIMEDOUT':
      return 'connection timed out'
    default:
      return err.message
  }
}

export function hostPort(s: BootstrapServer): string {
  return s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`
}
