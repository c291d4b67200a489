/**
 * The client's view of a cluster: the bootstrap servers, one connection per broker, the
 * API versions negotiated on each, and the metadata (brokers, controller, topics, partition
 * leaders) refreshed on demand.
 *
 * Version negotiation, as Kafka's clients do it: the first request on every connection is
 * ApiVersions v3 (KIP-511: it names the client software); a broker that does not know v3
 * answers in v0 format with UNSUPPORTED_VERSION and its own ApiVersions range, and the client
 * asks again at the highest version both know (v0 when the answer carries no range). Then
 * each API is used at the highest version both sides implement; an API the broker lacks (or
 * whose ranges do not overlap) fails with UNSUPPORTED_VERSION.
 *
 * Metadata: the producer and consumer register the topics they use (`addTopics`) and
 * `refreshMetadata()` asks for those (concurrent calls share one request); the admin asks
 * for all topics or a given list with `fetchMetadata`. The cached metadata is treated as
 * stale after metadata.max.age.ms or after `requestUpdate()` (a NOT_LEADER_OR_FOLLOWER, a lost
 * connection).
 */
import { ErrorCode } from '../protocol/kafka/error-codes.ts'
import { decodeApiVersionsResponse } from '../protocol/kafka/generated/api-versions.ts'
import { API_TABLE, ApiKey, type ApiMessages } from '../protocol/kafka/generated/index.ts'
import type { MetadataResponse } from '../protocol/kafka/generated/metadata.ts'
import { Reader } from '../protocol/kafka/primitives.ts'
import { silentLogger, type Logger } from '../runtime/logger.ts'
import { parseHostPort, type CommonConfig } from './config.ts'
import { Connection, type ApiKeyOf } from './connection.ts'
import { KafkaError, networkError } from './errors.ts'

export const CLIENT_SOFTWARE_NAME = 'peerlog'
export const CLIENT_SOFTWARE_VERSION = '0.1.0'
/** The ApiVersions version asked first (KIP-511). */
export const API_VERSIONS_FIRST_VERSION = 3

export interface BrokerNode {
  nodeId: number
  host: string
  port: number
  rack: string | null
}

export interface PartitionMetadata {
  partition: number
  errorCode: number
  /** -1 when the partition has no leader. */
  leader: number
  leaderEpoch: number
  replicas: number[]
  isr: number[]
  offlineReplicas: number[]
}

export interface TopicMetadata {
  name: string
  errorCode: number
  isInternal: boolean
  /** By partition index. */
  partitions: PartitionMetadata[]
}

/** A connected broker: its connection and the version chosen for each API both sides know. */
export interface BrokerLink {
  /** The broker's node id; negative for a bootstrap server (-1 for the first, -2 ...). */
  nodeId: number
  connection: Connection
  versions: ReadonlyMap<number, number>
}

export interface ClusterOptions {
  config: CommonConfig
  logger?: Logger
  /** Per connection (the producer's max.in.flight.requests.per.connection). */
  maxInFlightRequestsCount?: number
  /** Whether Metadata requests may create the topics they name (broker permitting). */
  allowAutoTopicCreation?: boolean
}

/**
 * As Kafka's clients, a coordinator gets a connection of its own (id Integer.MAX_VALUE - nodeId),
 * so that a JoinGroup the broker holds for a rebalance does not hold up fetches behind it.
 */
export const coordinatorLinkId = (nodeId: number): number => 2147483647 - nodeId
const isCoordinatorLinkId = (id: number): boolean => id > 2147483647 - 1_000_000_000

/** Requests per connection when the client does not say (Kafka's consumer and admin use 100). */
export const DEFAULT_MAX_IN_FLIGHT_REQUESTS_COUNT = 100

export class Cluster {
  readonly config: CommonConfig
  readonly logger: Logger
  private readonly bootstrap: { host: string; port: number }[]
  private readonly maxInFlight: number
  private readonly allowAutoTopicCreation: boolean
  private readonly links = new Map<number, Promise<BrokerLink>>()
  private readonly open = new Map<number, BrokerLink>()
  private nextBootstrap = 0
  brokers = new Map<number, BrokerNode>()
  topics = new Map<string, TopicMetadata>()
  controllerId = -1
  clusterId: string | null = null
  /** The error code of each topic the last Metadata answer for it did not describe (UNKNOWN_TOPIC_OR_PARTITION ...). */
  readonly topicErrors = new Map<string, number>()
  private readonly interest = new Set<string>()
  /** Bumped by every Metadata answer applied. */
  metadataVersion = 0
  private lastRefreshMs = -Infinity
  private stale = true
  private refreshing: Promise<void> | null = null
  private refreshAgain = false
  private closed = false

  constructor(options: ClusterOptions) {
    this.config = options.config
    this.logger = options.logger ?? silentLogger
    this.bootstrap = options.config['bootstrap.servers'].map(parseHostPort)
    this.maxInFlight = options.maxInFlightRequestsCount ?? DEFAULT_MAX_IN_FLIGHT_REQUESTS_COUNT
    this.allowAutoTopicCreation = options.allowAutoTopicCreation ?? false
  }

  /**
   * The link to a broker by node id, connecting (and negotiating versions) when needed.
   * `at` gives the address of a link the metadata does not name (a coordinator's own link).
   */
  connectTo(nodeId: number, at?: { host: string; port: number }): Promise<BrokerLink> {
    if (this.closed) return Promise.reject(networkError('the client is closed'))
    const existing = this.links.get(nodeId)
    if (existing) return existing
    const address = at ?? (nodeId < 0 ? this.bootstrap[-nodeId - 1] : this.brokers.get(nodeId))
    if (address === undefined) {
      return Promise.reject(new KafkaError(ErrorCode.LEADER_NOT_AVAILABLE, `broker ${nodeId} is not in the cluster metadata`))
    }
    const link = this.openLink(nodeId, address.host, address.port)
    this.links.set(nodeId, link)
    link.catch(() => {
      if (this.links.get(nodeId) === link) this.links.delete(nodeId)
    })
    return link
  }

  /**
   * Some broker: an open connection with the fewest requests in flight, else a known broker,
   * else the bootstrap servers in turn until one answers.
   */
  async anyBroker(): Promise<BrokerLink> {
    let best: BrokerLink | null = null
    for (const link of this.open.values()) {
      // A coordinator's link may hold a JoinGroup for a long time: never chosen for other requests.
      if (isCoordinatorLinkId(link.nodeId)) continue
      if (!link.connection.closed && (best === null || link.connection.inFlightCount < best.connection.inFlightCount)) best = link
    }
    if (best) return best
    const candidates = [...this.brokers.keys()]
    for (let i = 0; i < this.bootstrap.length; i++) candidates.push(-((this.nextBootstrap + i) % this.bootstrap.length) - 1)
    this.nextBootstrap = (this.nextBootstrap + 1) % this.bootstrap.length
    let lastError: unknown
    for (const id of candidates) {
      try {
        return await this.connectTo(id)
      } catch (e) {
        lastError = e
      }
    }
    throw lastError instanceof KafkaError ? lastError : networkError(`no broker reachable (bootstrap.servers ${this.config['bootstrap.servers'].join(',')})`)
  }

  /** The version to use for an API on this link; throws UNSUPPORTED_VERSION when there is none. */
  version(link: BrokerLink, apiKey: number): number {
    const v = link.versions.get(apiKey)
    if (v === undefined) {
      const name = API_TABLE.find((a) => a.key === apiKey)?.name ?? `API ${apiKey}`
      throw new KafkaError(ErrorCode.UNSUPPORTED_VERSION, `broker ${link.connection.address} supports no version of ${name} this client implements`)
    }
    return v
  }

  /**
   * Sends one request to a broker (a node id, or 'any'), built for the negotiated version.
   * A lost connection marks the metadata stale.
   */
  async send<K extends ApiKeyOf>(
    target: number | 'any',
    apiKey: K,
    build: (version: number) => ApiMessages[K]['requestInput'],
    timeoutMs?: number,
  ): Promise<{ response: ApiMessages[K]['response']; version: number; nodeId: number }> {
    const link = target === 'any' ? await this.anyBroker() : await this.connectTo(target)
    const version = this.version(link, apiKey)
    try {
      const response = await link.connection.request(apiKey, version, build(version), timeoutMs)
      return { response, version, nodeId: link.nodeId }
    } catch (e) {
      if (e instanceof KafkaError && e.code === ErrorCode.NETWORK_EXCEPTION) this.requestUpdate()
      throw e
    }
  }

  /** Sends a request that gets no response (Produce with acks=0); resolves once written. */
  async sendOneWay<K extends ApiKeyOf>(target: number, apiKey: K, build: (version: number) => ApiMessages[K]['requestInput']): Promise<void> {
    const link = await this.connectTo(target)
    const version = this.version(link, apiKey)
    await link.connection.requestFrame(apiKey, version, build(version), false)
  }

  private async openLink(nodeId: number, host: string, port: number): Promise<BrokerLink> {
    const connection = await Connection.connect({
      host,
      port,
      clientId: this.config['client.id'],
      requestTimeoutMs: this.config['request.timeout.ms'],
      connectTimeoutMs: this.config['socket.connection.setup.timeout.ms'],
      maxInFlightRequestsCount: this.maxInFlight,
      logger: this.logger,
    })
    try {
      const versions = await negotiateVersions(connection)
      const link: BrokerLink = { nodeId, connection, versions }
      if (this.closed) throw networkError('the client is closed')
      this.open.set(nodeId, link)
      connection.onClose(() => {
        if (this.open.get(nodeId) === link) this.open.delete(nodeId)
        this.links.delete(nodeId)
      })
      return link
    } catch (e) {
      connection.close()
      throw e
    }
  }

  /** Topics the client uses: `refreshMetadata` asks for them. */
  addTopics(names: Iterable<string>): void {
    let added = false
    for (const n of names) {
      if (!this.interest.has(n)) {
        this.interest.add(n)
        added = true
      }
    }
    if (added) this.stale = true
  }

  removeTopics(names: Iterable<string>): void {
    for (const n of names) this.interest.delete(n)
  }

  /** Marks the metadata stale: the next `maybeRefresh` refreshes it. */
  requestUpdate(): void {
    this.stale = true
  }

  /** Refreshes when stale or older than metadata.max.age.ms. */
  maybeRefresh(now = Date.now()): Promise<void> {
    if (this.stale || now - this.lastRefreshMs >= this.config['metadata.max.age.ms']) return this.refreshMetadata()
    return Promise.resolve()
  }

  /** Fetches metadata for the registered topics; concurrent calls share one request (and one follow-up). */
  refreshMetadata(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true
      return this.refreshing.then(() => this.refreshing ?? Promise.resolve())
    }
    const run = async (): Promise<void> => {
      try {
        do {
          this.refreshAgain = false
          this.stale = false
          await this.fetchMetadata([...this.interest], this.allowAutoTopicCreation)
        } while (this.refreshAgain)
      } catch (e) {
        this.stale = true
        throw e
      } finally {
        this.refreshing = null
      }
    }
    this.refreshing = run()
    return this.refreshing
  }

  /** One Metadata request (null: every topic) whose answer updates the cache and is returned. */
  async fetchMetadata(topics: readonly string[] | null, allowAutoTopicCreation = false): Promise<MetadataResponse> {
    const { response } = await this.send('any', ApiKey.Metadata, (v) => ({
      topics: topics === null ? (v === 0 ? [] : null) : topics.map((name) => ({ name })),
      allowAutoTopicCreation,
    }))
    this.apply(response, topics === null)
    return response
  }

  private apply(r: MetadataResponse, all: boolean): void {
    this.lastRefreshMs = Date.now()
    this.metadataVersion++
    this.brokers = new Map(r.brokers.map((b) => [b.nodeId, { nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack }]))
    this.controllerId = r.controllerId
    this.clusterId = r.clusterId
    if (all) this.topics = new Map()
    for (const t of r.topics) {
      if (t.errorCode !== ErrorCode.NONE && t.partitions.length === 0) {
        this.topics.delete(t.name)
        this.topicErrors.set(t.name, t.errorCode)
        continue
      }
      this.topicErrors.delete(t.name)
      const partitions: PartitionMetadata[] = []
      for (const p of t.partitions) {
        partitions[p.partitionIndex] = {
          partition: p.partitionIndex,
          errorCode: p.errorCode,
          leader: p.leaderId,
          leaderEpoch: p.leaderEpoch,
          replicas: p.replicaNodes,
          isr: p.isrNodes,
          offlineReplicas: p.offlineReplicas,
        }
      }
      this.topics.set(t.name, { name: t.name, errorCode: t.errorCode, isInternal: t.isInternal, partitions })
    }
  }

  /** The leader of a partition, or -1 when unknown. */
  leaderFor(topic: string, partition: number): number {
    return this.topics.get(topic)?.partitions[partition]?.leader ?? -1
  }

  /** Closes every connection. */
  close(): void {
    this.closed = true
    for (const link of this.open.values()) link.connection.close()
    this.open.clear()
    this.links.clear()
  }
}

/** ApiVersions, with the KIP-511 fallback; returns the version to use per API key. */
export async function negotiateVersions(connection: Connection): Promise<Map<number, number>> {
  let version = API_VERSIONS_FIRST_VERSION
  for (;;) {
    const data = version >= 3 ? { clientSoftwareName: CLIENT_SOFTWARE_NAME, clientSoftwareVersion: CLIENT_SOFTWARE_VERSION } : {}
    const frame = (await connection.requestFrame(ApiKey.ApiVersions, version, data))!
    // Response header v0 (correlation id only) for every ApiVersions version.
    const errorCode = new Reader(frame, 4).int16()
    let body
    try {
      body = decodeApiVersionsResponse(errorCode === ErrorCode.UNSUPPORTED_VERSION ? 0 : version, new Reader(frame, 4))
    } catch (e) {
      if (version === 0) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `cannot decode ApiVersions from ${connection.address}: ${(e as Error).message}`)
      // As Kafka's ApiVersionsResponse.parse: a broker may have answered in v0 format.
      body = decodeApiVersionsResponse(0, new Reader(frame, 4))
    }
    if (body.errorCode === ErrorCode.UNSUPPORTED_VERSION && version > 0) {
      const theirs = body.apiKeys.find((k) => k.apiKey === ApiKey.ApiVersions)
      version = theirs ? Math.max(0, Math.min(version - 1, theirs.maxVersion)) : 0
      continue
    }
    if (body.errorCode !== ErrorCode.NONE) {
      throw new KafkaError(body.errorCode, `ApiVersions v${version} to ${connection.address} failed: ${new KafkaError(body.errorCode).name}`)
    }
    const chosen = new Map<number, number>()
    for (const ours of API_TABLE) {
      const theirs = body.apiKeys.find((k) => k.apiKey === ours.key)
      if (theirs === undefined) continue
      const hi = Math.min(ours.maxVersion, theirs.maxVersion)
      if (hi >= Math.max(ours.minVersion, theirs.minVersion)) chosen.set(ours.key, hi)
    }
    return chosen
  }
}
