/**
 * The MetadataService (metadata.ts) of a single-node cluster: the controller actor
 * (actors/controller) over the metadata log `<dataDir>/__cluster_metadata-0`.
 *
 *   const metadata = await createMetadataService({
 *     storage, dataDir, clock, random, logger, config, advertised: { host, port },
 *     logManager,   // optional: the broker's LogManager over the same dataDir (see below)
 *     parent,       // optional: a nact actor (or system) to spawn the controller under
 *     rack, clusterId, // optional
 *   })
 *   metadata.image(); await metadata.createTopics(...); ...; await metadata.close()
 *
 * Start-up: reads (or, on a new data dir, writes) `<dataDir>/meta.properties` for the cluster
 * id (a stored node.id that differs from config['node.id'] stops the start); opens the metadata
 * log; replays all of it into the image; then registers this broker (RegisterBrokerRecord with
 * `advertised` as its PLAINTEXT listener) unless it is registered with that listener already.
 * The promise resolves once all of that is durable.
 *
 * The metadata log: when `logManager` is given, the log is the LogManager's own
 * `__cluster_metadata-0` (a LogManager opened on the data dir loads every `<name>-<n>` dir, so a
 * second PartitionLog over the same files must not exist); otherwise it is opened directly.
 * Either way its config is METADATA_LOG_CONFIG (no retention): the broker must leave that log
 * alone (it is not a topic of the image; don't delete it as an orphan, don't serve it).
 *
 * Every change is durable (fsynced) before its promise resolves, and `image()` and the
 * `onChange` listeners see it before then too. Requests are answered per item with Kafka's
 * error codes; a promise rejects only when the metadata log cannot be written (the service
 * then refuses every later change) or after close().
 */
import { start, stop, type Ref } from 'nact'
import { ask, recoverControllerState, spawnController } from '../../actors/controller/actor.ts'
import type { ControllerMessage, ControllerRequest, ReplyOf, RequestOf } from '../../actors/controller/messages.ts'
import type { ControllerContext, ControllerState } from '../../actors/controller/state.ts'
import type { BrokerConfig } from '../broker/broker-config.ts'
import { logConfig, type LogConfig } from '../log/log-config.ts'
import type { LogManager } from '../log/log-manager.ts'
import { PartitionLog } from '../log/partition-log.ts'
import { joinPath, mkdirpDurable, writeFileAtomic, type Storage } from '../log/storage.ts'
import { uuidToString } from '../protocol/kafka/primitives.ts'
import type { Clock } from '../runtime/clock.ts'
import { type Logger, silentLogger } from '../runtime/logger.ts'
import type { Random } from '../sim/random.ts'
import type { MetadataRecord } from './metadata-records.ts'
import type { MetadataImage, MetadataService } from './metadata.ts'
import { METADATA_TOPIC } from './topic-name.ts'

export const META_PROPERTIES = 'meta.properties'
export const METADATA_LOG_DIR = `${METADATA_TOPIC}-0`

/** The metadata log keeps everything (Kafka trims it with snapshots, which peerlog does not take yet). */
export const METADATA_LOG_CONFIG: LogConfig = logConfig({
  'retention.ms': -1,
  'retention.bytes': -1,
  'segment.bytes': 64 * 1024 * 1024,
  'max.message.bytes': 64 * 1024 * 1024,
})

export interface MetadataServiceOptions {
  storage: Storage
  /** The data dir (config['log.dirs'] as the broker resolved it): meta.properties and the metadata log live here. */
  dataDir: string
  clock: Clock
  random: Random
  logger?: Logger
  config: BrokerConfig
  /** The listener clients are told to use for this broker. */
  advertised: { host: string; port: number }
  rack?: string | null
  /** The broker's LogManager over `dataDir`, when it has one open (then the metadata log is its `__cluster_metadata-0`). */
  logManager?: LogManager
  /** nact parent of the controller actor; default a new actor system, stopped by close(). */
  parent?: Ref<any>
  /** For a new data dir: the cluster id to write (default: a random one). */
  clusterId?: string
}

export interface ControllerMetadataService extends MetadataService {
  /** Waits for the requests under way, stops the actor and closes the metadata log (unless the LogManager owns it). */
  close(): Promise<void>
}

/** Reads `cluster.id` from meta.properties, or writes a new one. */
function loadClusterId(options: MetadataServiceOptions): string {
  const { storage, dataDir, config } = options
  const path = joinPath(dataDir, META_PROPERTIES)
  const bytes = storage.readFile(path)
  if (bytes !== null) {
    const props = new Map<string, string>()
    for (const line of new TextDecoder().decode(bytes).split(/\r?\n/)) {
      const m = /^\s*([^#!=\s][^=]*?)\s*=\s*(.*?)\s*$/.exec(line)
      if (m) props.set(m[1]!, m[2]!)
    }
    const clusterId = props.get('cluster.id')
    if (!clusterId) throw new Error(`${path}: no cluster.id`)
    const nodeId = props.get('node.id')
    if (nodeId !== undefined && Number(nodeId) !== config['node.id']) {
      throw new Error(`${path}: stored node.id ${nodeId} does not match the configured node.id ${config['node.id']}`)
    }
    return clusterId
  }
  let clusterId = options.clusterId
  if (clusterId === undefined) {
    const raw = new Uint8Array(16)
    for (let i = 0; i < 16; i++) raw[i] = options.random.int(256)
    clusterId = uuidToString(raw)
  }
  writeFileAtomic(storage, path, new TextEncoder().encode(`#\nversion=1\nnode.id=${config['node.id']}\ncluster.id=${clusterId}\n`))
  return clusterId
}

function openMetadataLog(options: MetadataServiceOptions, logger: Logger): { log: PartitionLog; owned: boolean } {
  if (options.logManager) {
    const log = options.logManager.getOrCreate(METADATA_TOPIC, 0, METADATA_LOG_CONFIG)
    log.setConfig(METADATA_LOG_CONFIG)
    return { log, owned: false }
  }
  const log = PartitionLog.open({
    storage: options.storage,
    dir: joinPath(options.dataDir, METADATA_LOG_DIR),
    config: METADATA_LOG_CONFIG,
    clock: options.clock,
    logger,
  })
  return { log, owned: true }
}

/** One line per notable change, for the broker's log. */
function describeCommit(records: readonly MetadataRecord[], next: MetadataImage, previous: MetadataImage, logger: Logger): void {
  for (const r of records) {
    if (r.type === 'TopicRecord') {
      const t = next.topics.get(r.name)
      logger.info(`created topic ${r.name} (id ${r.topicId}, ${t?.partitions.length ?? 0} partitions)`)
    } else if (r.type === 'RemoveTopicRecord') {
      logger.info(`deleted topic ${previous.topicsById.get(r.topicId)?.name ?? r.topicId} (id ${r.topicId})`)
    } else if (r.type === 'RegisterBrokerRecord') {
      const e = r.endPoints[0]!
      logger.info(`registered broker ${r.brokerId} at ${e.host}:${e.port} (epoch ${r.brokerEpoch})`)
    } else if (r.type === 'ConfigRecord') {
      logger.info(`config ${r.resourceType === 2 ? 'topic' : 'broker'} '${r.resourceName}' ${r.name}=${r.value ?? '(default)'}`)
    }
  }
  const added = new Map<string, number>()
  for (const r of records) {
    if (r.type !== 'PartitionRecord') continue
    const before = previous.topicsById.get(r.topicId)
    if (before) added.set(before.name, (added.get(before.name) ?? 0) + 1)
  }
  for (const [name, n] of added) logger.info(`added ${n} partitions to topic ${name} (now ${next.topics.get(name)?.partitions.length})`)
}

export async function createMetadataService(options: MetadataServiceOptions): Promise<ControllerMetadataService> {
  const logger = options.logger ?? silentLogger
  const nodeId = options.config['node.id']
  mkdirpDurable(options.storage, options.dataDir)
  const clusterId = loadClusterId(options)
  const { log, owned } = openMetadataLog(options, logger)
  let current: ControllerState
  try {
    const started = options.clock.now()
    current = recoverControllerState(log, clusterId, nodeId)
    logger.info(
      `metadata: replayed ${log.logEndOffset} records (${current.image.topics.size} topics) from ${log.dir} in ${options.clock.now() - started} ms; cluster id ${clusterId}`,
    )
  } catch (err) {
    if (owned) log.close()
    throw err
  }

  const listeners = new Set<(image: MetadataImage, previous: MetadataImage) => void>()
  const ctx: ControllerContext = { config: options.config, random: options.random }
  const system = options.parent ?? start()
  const ref: Ref<ControllerMessage> = spawnController(system, {
    log,
    clock: options.clock,
    logger,
    ctx,
    initial: current,
    onCommit: (next, previous, records) => {
      current = next
      describeCommit(records, next.image, previous.image, logger)
      for (const listener of [...listeners]) {
        try {
          listener(next.image, previous.image)
        } catch (err) {
          logger.error(`metadata: a change listener failed: ${(err as Error).message}`)
        }
      }
    },
  })

  let closed = false
  const pending = new Set<Promise<unknown>>()
  function request<T extends ControllerRequest['type']>(req: RequestOf<T>): Promise<ReplyOf[T]> {
    if (closed) return Promise.reject(new Error('the metadata service is closed'))
    const p = ask<ReplyOf[T]>(ref, req)
    pending.add(p)
    const done = () => pending.delete(p)
    p.then(done, done)
    return p
  }

  async function close(): Promise<void> {
    if (closed) return
    closed = true
    await Promise.allSettled([...pending])
    stop(ref)
    if (!options.parent) stop(system)
    if (owned) log.close()
  }

  try {
    await request({ type: 'registerBroker', nodeId, host: options.advertised.host, port: options.advertised.port, rack: options.rack ?? null })
  } catch (err) {
    await close()
    throw err
  }

  return {
    image: () => current.image,
    onChange(listener) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    createTopics: (topics, { validateOnly }) => request({ type: 'createTopics', topics, validateOnly }),
    deleteTopics: (topics) => request({ type: 'deleteTopics', topics }),
    createPartitions: (topics, { validateOnly }) => request({ type: 'createPartitions', topics, validateOnly }),
    alterConfigs: (resources, { validateOnly, incremental }) => request({ type: 'alterConfigs', resources, validateOnly, incremental }),
    close,
  }
}
