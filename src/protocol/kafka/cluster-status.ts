/**
 * ClusterStatus — peerlog's one private request on the Kafka port: the membership table as the
 * broker sees it, for `peerlog cluster status`.
 *
 *   request  => size INT32, request header v1 (apiKey CLUSTER_STATUS_API_KEY, apiVersion 0,
 *               correlationId INT32, clientId NULLABLE_STRING), no body
 *   response => size INT32, correlationId INT32, errorCode INT16 (0), status BYTES: a UTF-8
 *               JSON document, ClusterStatus below
 *
 * The key is far above Kafka's (which are below 100 and grow by a few a year) and ApiVersions
 * does not advertise it, so Kafka clients never send it. A Kafka broker, or an older peerlog,
 * closes the connection on it (an unknown API key), which the client reports as such. JSON
 * rather than a Kafka schema: the CLI prints it as it is (`--json`), and a later field is one
 * more key, which older CLIs ignore.
 *
 * The router (ClusterStatusRouter) answers the key itself and hands every other frame to
 * Kafka's router, untouched.
 */
import { connect } from 'node:net'
import type { MemberView } from '../../cluster/membership.ts'
import { runtime } from '../../runtime/platform.ts'
import type { ConnectionContext } from './handlers/context.ts'
import { Reader, Writer } from './primitives.ts'
import { type Outcome, Router } from './router.ts'
import type { BrokerContext } from './handlers/context.ts'

export const CLUSTER_STATUS_API_KEY = 32_001
export const CLUSTER_STATUS_API_VERSION = 0
/** The largest status response the client reads (4096 members fit many times over). */
export const clusterStatusResponseMaxBytes = 16 * 1024 * 1024

export interface ClusterStatus {
  /** The node that answered. */
  nodeId: number
  /** Its cluster's name; null when it runs alone (no --cluster). */
  cluster: string | null
  members: MemberView[]
}

/** The status of a broker that runs alone: itself. */
export function standaloneStatus(nodeId: number, kafkaListener: string): ClusterStatus {
  return {
    nodeId,
    cluster: null,
    members: [{ nodeId, self: true, status: 'alive', runtime: runtime().name, kafkaListener, listens: [], link: null, lastHeardAgoMs: 0 }],
  }
}

export function encodeClusterStatusRequest(correlationId: number, clientId: string | null): Uint8Array {
  const w = new Writer(64)
  const size = w.reserveInt32()
  w.int16(CLUSTER_STATUS_API_KEY).int16(CLUSTER_STATUS_API_VERSION).int32(correlationId).nullableString(clientId)
  w.patchInt32(size, w.length - 4)
  return w.finish()
}

export function encodeClusterStatusResponse(correlationId: number, status: ClusterStatus): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(status))
  const w = new Writer(json.length + 16)
  const size = w.reserveInt32()
  w.int32(correlationId).int16(0).bytes(json)
  w.patchInt32(size, w.length - 4)
  return w.finish()
}

/** The status in a response frame (after its size prefix); throws on anything else. */
export function decodeClusterStatusResponse(frame: Uint8Array, correlationId: number): ClusterStatus {
  const r = new Reader(frame)
  const got = r.int32('correlationId')
  if (got !== correlationId) throw new Error(`the answer is to request ${got}, not ${correlationId}`)
  const errorCode = r.int16('errorCode')
  if (errorCode !== 0) throw new Error(`the broker answered with error code ${errorCode}`)
  const status = JSON.parse(new TextDecoder().decode(r.bytes('status'))) as ClusterStatus
  if (typeof status !== 'object' || status === null || !Array.isArray(status.members) || typeof status.nodeId !== 'number') {
    throw new Error('the status does not have the expected shape')
  }
  return status
}

/** Kafka's router plus the cluster status request. */
export class ClusterStatusRouter extends Router {
  constructor(ctx: BrokerContext, private readonly status: () => ClusterStatus) {
    super(ctx)
  }

  override handle(frame: Uint8Array, conn: ConnectionContext): Outcome | Promise<Outcome> {
    if (frame.length < 8 || ((frame[0]! << 8) | frame[1]!) !== CLUSTER_STATUS_API_KEY) return super.handle(frame, conn)
    const r = new Reader(frame)
    r.int16()
    const version = r.int16()
    const correlationId = r.int32()
    if (version !== CLUSTER_STATUS_API_VERSION) {
      this.ctx.logger.warn(`${conn.remote}: cluster status version ${version} is not supported (${CLUSTER_STATUS_API_VERSION}); closing the connection`)
      return { kind: 'close', reason: `cluster status version ${version}` }
    }
    try {
      return { kind: 'respond', chunks: [encodeClusterStatusResponse(correlationId, this.status())] }
    } catch (err) {
      this.ctx.logger.error(`${conn.remote}: cluster status failed: ${(err as Error).message}; closing the connection`)
      return { kind: 'close', reason: 'cluster status failed' }
    }
  }
}

/** Why a cluster status request failed, in one line. */
export class ClusterStatusError extends Error {
  override readonly name = 'ClusterStatusError'
}

/** Asks the broker at host:port for its status; rejects with a ClusterStatusError after timeoutMs or on any failure. */
export function fetchClusterStatus(host: string, port: number, timeoutMs: number): Promise<ClusterStatus> {
  const correlationId = 1
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true })
    let received: Buffer[] = []
    let receivedBytes = 0
    let settled = false
    const finish = (error: Error | null, status?: ClusterStatus): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.removeAllListeners('data')
      socket.on('error', () => {})
      socket.destroy()
      if (error !== null) reject(error)
      else resolve(status!)
    }
    const timer = setTimeout(() => finish(new ClusterStatusError(`no answer within ${timeoutMs} ms`)), timeoutMs)
    socket.once('connect', () => socket.write(encodeClusterStatusRequest(correlationId, 'peerlog-cli')))
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk)
      receivedBytes += chunk.length
      if (receivedBytes < 4) return
      const all = Buffer.concat(received)
      received = [all]
      const size = all.readInt32BE(0)
      if (size < 0 || size > clusterStatusResponseMaxBytes) {
        finish(new ClusterStatusError(`the answer claims ${size} bytes: not a peerlog cluster status`))
        return
      }
      if (all.length < 4 + size) return
      try {
        finish(null, decodeClusterStatusResponse(all.subarray(4, 4 + size), correlationId))
      } catch (err) {
        finish(new ClusterStatusError(`the answer does not decode (${(err as Error).message}): is it a peerlog broker?`))
      }
    })
    socket.once('error', (err: Error) => finish(new ClusterStatusError(err.message)))
    socket.once('close', () =>
      finish(new ClusterStatusError('the broker closed the connection without answering: it is not a peerlog broker, or one too old for `cluster status`')),
    )
  })
}
