/**
 * A broker's cluster settings (`peerlog broker start --cluster ...`, startBroker's `cluster`)
 * and the peer node they make: which transports (hyperswarm, TCP, both), where the TCP one
 * listens, its seeds, and which DHT hyperswarm uses.
 *
 *   transport   hyperswarm: peers found on the cluster's topic (Node only; the public DHT
 *               unless dhtBootstrap names a private one); tcp: listen on peerListen and dial
 *               seeds (every runtime); both: the two, so that Deno and Bun nodes (TCP) and
 *               hyperswarm nodes meet through this one.
 *   peerListen  host:port of the TCP peer listener; port 0 picks one (default: the Kafka
 *               listener's host, port 0). Others name it in their seeds.
 *   seeds       TCP addresses of nodes already in the cluster; one is enough.
 *   dhtBootstrap  bootstrap nodes of a private DHT (`peerlog dht-bootstrap`).
 *
 * The secret must be at least secretBytesMin bytes: it is what keeps strangers out (and its
 * hash, the hyperswarm topic, is public).
 */
import type { Logger } from '../runtime/logger.ts'
import { runtime, type RuntimeName } from '../runtime/platform.ts'
import { HyperswarmTransport } from '../transport/hyperswarm-transport.ts'
import { TcpTransport } from '../transport/tcp-transport.ts'
import { clusterTopic } from '../transport/topic.ts'
import type { Transport } from '../transport/transport.ts'
import { clusterNameMaxChars } from '../protocol/peer/messages.ts'
import type { PeerTiming } from './membership.ts'
import { type PeerConnectionTuning, PeerNode } from './peer-node.ts'

export type ClusterTransport = 'hyperswarm' | 'tcp' | 'both'
export const CLUSTER_TRANSPORTS: readonly ClusterTransport[] = ['hyperswarm', 'tcp', 'both']

/** The shortest cluster secret accepted, in bytes. */
export const secretBytesMin = 16
/** How to make a good one, for messages. */
export const SECRET_HINT = 'make one with: head -c 32 /dev/urandom > secret'

export interface HostPort {
  host: string
  port: number
}

export interface ClusterOptions {
  name: string
  secret: Uint8Array
  transport: ClusterTransport
  peerListen?: HostPort
  seeds?: string[]
  dhtBootstrap?: HostPort[]
  /** Failure detection and gossip bounds (tests shorten them). */
  timing?: Partial<PeerTiming>
  connection?: PeerConnectionTuning
}

/** A setting that cannot work, said in one line. */
export class ClusterConfigError extends Error {
  override readonly name = 'ClusterConfigError'
}

/** Throws ClusterConfigError for settings that cannot work on `runtimeName`. */
export function checkClusterOptions(options: ClusterOptions, runtimeName: RuntimeName = runtime().name): void {
  if (options.name.length === 0 || options.name.length > clusterNameMaxChars) {
    throw new ClusterConfigError(`the cluster name must be 1 to ${clusterNameMaxChars} characters`)
  }
  if (!CLUSTER_TRANSPORTS.includes(options.transport)) {
    throw new ClusterConfigError(`unknown transport '${options.transport}': expected ${CLUSTER_TRANSPORTS.join(', ')}`)
  }
  if (options.secret.byteLength === 0) throw new ClusterConfigError(`the cluster secret is empty; ${SECRET_HINT}`)
  if (options.secret.byteLength < secretBytesMin) {
    throw new ClusterConfigError(`the cluster secret is ${options.secret.byteLength} bytes, too short (at least ${secretBytesMin}); ${SECRET_HINT}`)
  }
  const swarm = options.transport !== 'tcp'
  const tcp = options.transport !== 'hyperswarm'
  if (swarm && runtimeName !== 'node') {
    throw new ClusterConfigError(`the hyperswarm transport runs on Node only (its UDP add-on does not load on ${runtimeName}); use --transport tcp`)
  }
  if (!tcp && (options.seeds?.length ?? 0) > 0) throw new ClusterConfigError('seeds need the tcp transport (--transport tcp or both)')
  if (!tcp && options.peerListen !== undefined) throw new ClusterConfigError('a peer listen address needs the tcp transport (--transport tcp or both)')
  if (!swarm && (options.dhtBootstrap?.length ?? 0) > 0) throw new ClusterConfigError('DHT bootstrap nodes need the hyperswarm transport (--transport hyperswarm or both)')
}

/** The transports `options` call for (not listening yet). */
export function clusterTransports(options: ClusterOptions, context: { kafkaHost: string; logger: Logger }): Transport[] {
  const out: Transport[] = []
  if (options.transport !== 'tcp') {
    const bootstrap = options.dhtBootstrap ?? []
    out.push(new HyperswarmTransport({
      topic: clusterTopic(options.secret),
      ...(bootstrap.length > 0 ? { bootstrap } : { publicDht: true }),
      logger: context.logger,
    }))
  }
  if (options.transport !== 'hyperswarm') {
    const listen = options.peerListen ?? { host: context.kafkaHost, port: 0 }
    out.push(new TcpTransport({ host: listen.host, port: listen.port, logger: context.logger }))
  }
  return out
}

/** Checks the options and starts a peer node on their transports. */
export async function startClusterPeer(
  options: ClusterOptions,
  context: { nodeId: number; kafkaListener: string; kafkaHost: string; advertisedHost: string; logger: Logger },
): Promise<PeerNode> {
  checkClusterOptions(options)
  const node = new PeerNode({
    nodeId: context.nodeId,
    clusterName: options.name,
    secret: options.secret,
    transports: clusterTransports(options, context),
    seeds: options.seeds ?? [],
    kafkaListener: context.kafkaListener,
    advertisedHost: context.advertisedHost,
    logger: context.logger,
    ...(options.timing === undefined ? {} : { timing: options.timing }),
    ...(options.connection === undefined ? {} : { connection: options.connection }),
  })
  await node.start()
  return node
}
