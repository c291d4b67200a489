/**
 * startBroker — a whole single-node broker in one call, for a service or a test that embeds
 * one (and for `peerlog broker start`):
 *
 *   const broker = await startBroker({ dataDir: './data', port: 0 })
 *   // broker.address is 'host:port' (port 0 picked a free one); point any Kafka client at it
 *   await broker.stop()
 *
 * It opens the LogManager over the data dir, binds the Kafka listener (its port is what the
 * broker registers and advertises), opens the metadata service (the controller over
 * `<dataDir>/__cluster_metadata-0`), starts the broker-node actor (which spawns a
 * partition-replica actor per hosted partition), starts the group coordinator service (which
 * loads the `__consumer_offsets` partitions it leads) and then serves requests. `stop()` closes
 * the listener and its connections, the group coordinators, the metadata service, the actors,
 * and the logs (cleanly: the next start skips recovery).
 */
import { randomBytes } from 'node:crypto'
import { type BrokerNode, startBrokerNode } from '../../actors/broker-node/actor.ts'
import { type GroupCoordinatorService, startGroupCoordinator } from '../../actors/group-coordinator/service.ts'
import { createMetadataService } from '../cluster/controller-metadata-service.ts'
import type { MetadataService } from '../cluster/metadata.ts'
import { partitionLogConfig } from '../cluster/topic-configs.ts'
import { errorMessage } from '../log/errors.ts'
import { FsStorage } from '../log/fs-storage.ts'
import { LogManager } from '../log/log-manager.ts'
import type { Storage } from '../log/storage.ts'
import type { BrokerContext } from '../protocol/kafka/handlers/context.ts'
import { type KafkaListener, startKafkaListener } from '../protocol/kafka/listener.ts'
import { type ClusterOptions, startClusterPeer } from '../cluster/cluster-options.ts'
import type { PeerNode } from '../cluster/peer-node.ts'
import { ClusterStatusRouter, standaloneStatus } from '../protocol/kafka/cluster-status.ts'
import { type Clock, systemClock } from '../runtime/clock.ts'
import { type Logger, silentLogger } from '../runtime/logger.ts'
import { type Random, SeededRandom } from '../sim/random.ts'
import { type BrokerConfig, type BrokerSettings, DEFAULT_BROKER_CONFIG } from './broker-config.ts'

export interface StartBrokerOptions {
  /** The data directory (default: config['log.dirs'], './data'). */
  dataDir?: string
  /** The port to listen on (default: from config.listeners, 9092); 0 picks a free port. */
  port?: number
  /** The address to bind (default: from config.listeners, 127.0.0.1). */
  host?: string
  /** Kafka broker settings by their names; the rest keep Kafka's defaults. */
  config?: Partial<BrokerConfig>
  logger?: Logger
  clock?: Clock
  /** Default: the real file system. */
  storage?: Storage
  /** Default: seeded from the OS's randomness. */
  random?: Random
  /** A metadata service to use instead of the controller over the data dir (tests). */
  metadata?: MetadataService
  /** Join a cluster of peer nodes (src/cluster/cluster-options.ts); without it the broker runs alone. */
  cluster?: ClusterOptions
}

export interface RunningBroker {
  readonly host: string
  readonly port: number
  /** `host:port`, for a client's bootstrap servers. */
  readonly address: string
  readonly nodeId: number
  readonly clusterId: string
  /** The broker-node actor and the directory of its replica actors (for tests and fault injection). */
  readonly node: BrokerNode
  readonly metadata: MetadataService
  /** The group coordinators of this broker (what the group request handlers call). */
  readonly groups: GroupCoordinatorService
  /** The peer node and its membership view (`peers.members()`); null without `cluster`. */
  readonly peers: PeerNode | null
  /** Stops serving and closes everything; resolves when the logs are closed. Idempotent. */
  stop(): Promise<void>
}

/** `PLAINTEXT://host:port[,...]` → the first listener's host and port. */
export function parseListener(listeners: string): { host: string; port: number } {
  const first = listeners.split(',')[0]!.trim()
  const m = /^(?:[A-Za-z0-9_]+:\/\/)?(\[[^\]]*\]|[^:]*):(\d+)$/.exec(first)
  if (!m) throw new Error(`invalid listener '${first}': expected PLAINTEXT://host:port`)
  const host = m[1]!.replace(/^\[|\]$/g, '')
  return { host, port: Number(m[2]) }
}

export async function startBroker(options: StartBrokerOptions = {}): Promise<RunningBroker> {
  const logger = options.logger ?? silentLogger
  const clock = options.clock ?? systemClock
  const storage = options.storage ?? new FsStorage()
  const explicit = new Set(Object.keys(options.config ?? {}))
  const config: BrokerConfig = { ...DEFAULT_BROKER_CONFIG, ...options.config }
  if (options.dataDir !== undefined) {
    config['log.dirs'] = options.dataDir
    explicit.add('log.dirs')
  }
  const configured = parseListener(config.listeners)
  const bindHost = options.host ?? configured.host ?? '127.0.0.1'
  const bindPort = options.port ?? configured.port
  const dataDir = config['log.dirs']
  const nodeId = config['node.id']

  const cleanups: (() => Promise<void> | void)[] = []
  const unwind = async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c()
      } catch (err) {
        logger.warn(`while stopping: ${errorMessage(err)}`)
      }
    }
  }
  try {
    const listener: KafkaListener = await startKafkaListener({
      host: bindHost,
      port: bindPort,
      logger,
      maxRequestBytes: config['socket.request.max.bytes'],
      maxInFlightRequests: config['queued.max.requests'],
      idleMs: config['connections.max.idle.ms'],
    })
    cleanups.push(() => listener.close())
    config.listeners = `PLAINTEXT://${bindHost.includes(':') ? `[${bindHost}]` : bindHost}:${listener.port}`
    const advertised = config['advertised.listeners']
      ? parseListener(config['advertised.listeners'])
      : { host: bindHost === '0.0.0.0' || bindHost === '::' || bindHost === '' ? '127.0.0.1' : bindHost, port: listener.port }
    const settings: BrokerSettings = { config, explicit }

    const logManager = LogManager.open({ storage, dataDir, clock, logger, defaultConfig: partitionLogConfig({}, settings, undefined, logger) })
    let logsClosed = false
    const closeLogs = () => {
      if (!logsClosed) logManager.close()
    }
    cleanups.push(closeLogs)

    let metadata: MetadataService
    if (options.metadata) {
      metadata = options.metadata
    } else {
      const random = options.random ?? new SeededRandom(randomBytes(4).readUInt32BE(0))
      const service = await createMetadataService({ storage, dataDir, clock, random, logger, config, advertised, logManager })
      cleanups.push(() => service.close())
      metadata = service
    }

    const node = await startBrokerNode({ nodeId, settings, logManager, metadata, clock, logger })
    // Unwound in reverse: the listener first, then the metadata service, then the node (which closes the logs).
    const stopNode = async () => {
      await node.stop()
      logsClosed = true
    }
    cleanups.splice(cleanups.indexOf(closeLogs) + 1, 0, stopNode)

    const groups = startGroupCoordinator({ nodeId, settings, metadata, directory: node.directory, clock, logger, advertised: () => advertised })
    // Unwound first: its actors answer their waiters and stop while the replicas they write to still run.
    cleanups.push(() => groups.close())

    let watchIds = 0
    const ctx: BrokerContext = {
      nodeId,
      settings,
      metadata,
      directory: node.directory,
      groups,
      logger,
      clock,
      advertised: () => advertised,
      nextWatchId: () => ++watchIds,
    }
    // Kafka's router, plus the private cluster status request (`peerlog cluster status`).
    let peers: PeerNode | null = null
    const kafkaListener = `${advertised.host.includes(':') ? `[${advertised.host}]` : advertised.host}:${advertised.port}`
    listener.serve(new ClusterStatusRouter(ctx, () => {
      if (peers === null) return standaloneStatus(nodeId, kafkaListener)
      return { nodeId, cluster: peers.clusterName, members: peers.members() }
    }))
    if (options.cluster !== undefined) {
      const started = await startClusterPeer(options.cluster, { nodeId, kafkaListener, kafkaHost: bindHost, advertisedHost: advertised.host, logger })
      peers = started
      cleanups.push(() => started.stop())
    }
    const clusterId = metadata.image().clusterId
    logger.info(
      `broker ${nodeId} started: listening on ${bindHost}:${listener.port} (advertised ${advertised.host}:${advertised.port}), data dir ${dataDir}, cluster id ${clusterId}, ` +
        `${metadata.image().topics.size} topics, auto.create.topics.enable=${config['auto.create.topics.enable']}, num.partitions=${config['num.partitions']}`,
    )

    let stopping: Promise<void> | null = null
    return {
      host: advertised.host,
      port: advertised.port,
      address: `${advertised.host}:${advertised.port}`,
      nodeId,
      clusterId,
      node,
      metadata,
      groups,
      peers,
      stop: () =>
        (stopping ??= (async () => {
          // The peers first: they hear a goodbye while this node still serves.
          await peers?.stop()
          // Stop serving first, then unwind the rest (group coordinators, metadata service, node, logs).
          await listener.close()
          await unwind()
          logger.info(`broker ${nodeId} stopped`)
        })()),
    }
  } catch (err) {
    await unwind()
    throw err
  }
}
