/**
 * The admin client: topics (create, delete, list, describe, add partitions), configs
 * (describe, alter), offsets (list, delete records), cluster description.
 *
 * Each call retries retriable errors (a controller that moved, a leader election, a lost
 * connection), refreshing the metadata between attempts, until default.api.timeout.ms (or the
 * call's `timeoutMs`). A call about several topics or partitions resolves when every one
 * succeeded, and otherwise rejects with the first failure, a KafkaError naming it, whose
 * `errors` lists every failure by name.
 *
 * alterConfigs uses AlterConfigs (not the incremental API): the configs given replace the
 * resource's whole set of dynamic configs, as kafka-configs.sh did before KIP-339.
 */
import { ErrorCode } from '../protocol/kafka/error-codes.ts'
import { ApiKey } from '../protocol/kafka/generated/index.ts'
import { silentLogger, type Logger } from '../runtime/logger.ts'
import { Cluster, type BrokerNode, type PartitionMetadata } from './cluster.ts'
import { adminConfig, retryBackoffMs, type AdminConfig, type ConfigInput } from './config.ts'
import { KafkaError, responseError, timeoutError } from './errors.ts'
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, listOffsets, tpKey, type TopicPartition } from './list-offsets.ts'
import type { ClientOptions } from './producer.ts'

export interface NewTopic {
  topic: string
  /** -1 (or absent): the broker's num.partitions. */
  numPartitions?: number
  /** -1 (or absent): the broker's default.replication.factor. */
  replicationFactor?: number
  /** Partition index to broker ids; when given, numPartitions and replicationFactor must be absent. */
  replicaAssignment?: { partition: number; replicas: number[] }[]
  configs?: { [name: string]: string }
}

export interface TopicDescription {
  name: string
  isInternal: boolean
  partitions: PartitionMetadata[]
}

export type ConfigResourceType = 'topic' | 'broker'

export interface ConfigEntry {
  name: string
  value: string | null
  readOnly: boolean
  isDefault: boolean
  isSensitive: boolean
  /** Kafka's ConfigSource id (1 dynamic topic, 4 static broker, 5 default, ...); -1 when the broker does not say. */
  source: number
}

export type OffsetSpec = 'earliest' | 'latest' | { timestamp: number }

/** A call that failed for some of its items: the first failure, with all of them. */
export class AdminError extends KafkaError {
  constructor(
    first: KafkaError,
    readonly errors: { [item: string]: KafkaError },
  ) {
    super(first.code, first.message, { retriable: first.retriable })
  }
}

const RESOURCE_TYPE: { [k in ConfigResourceType]: number } = { topic: 2, broker: 4 }

/** Per-item errors that mean "ask again" for an admin call. */
const RETRY_ITEM: ReadonlySet<number> = new Set([ErrorCode.NOT_CONTROLLER, ErrorCode.REQUEST_TIMED_OUT, ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.NOT_LEADER_OR_FOLLOWER])

export class Admin {
  readonly config: AdminConfig
  private readonly logger: Logger
  private readonly cluster: Cluster

  constructor(config: ConfigInput, options: ClientOptions = {}) {
    const parsed = adminConfig(config)
    this.config = parsed.config
    this.logger = options.logger ?? silentLogger
    for (const key of parsed.unknown) this.logger.warn(`the configuration '${key}' was supplied but isn't a known admin config`)
    this.cluster = new Cluster({ config: this.config, logger: this.logger })
  }

  async createTopics(topics: readonly NewTopic[], options: { validateOnly?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? this.config['default.api.timeout.ms']
    await this.perItem(timeoutMs, topics.map((t) => t.topic), async (names) => {
      const { response } = await this.cluster.send(this.controller(), ApiKey.CreateTopics, () => ({
        topics: topics
          .filter((t) => names.includes(t.topic))
          .map((t) => ({
            name: t.topic,
            numPartitions: t.replicaAssignment ? -1 : (t.numPartitions ?? -1),
            replicationFactor: t.replicaAssignment ? -1 : (t.replicationFactor ?? -1),
            assignments: (t.replicaAssignment ?? []).map((a) => ({ partitionIndex: a.partition, brokerIds: a.replicas })),
            configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
          })),
        timeoutMs: Math.min(timeoutMs, this.config['request.timeout.ms']),
        validateOnly: options.validateOnly ?? false,
      }))
      return response.topics.map((t) => ({ item: t.name, code: t.errorCode, message: t.errorMessage }))
    })
  }

  async deleteTopics(topics: readonly string[], options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? this.config['default.api.timeout.ms']
    await this.perItem(timeoutMs, topics, async (names) => {
      const { response } = await this.cluster.send(this.controller(), ApiKey.DeleteTopics, () => ({ topicNames: names, timeoutMs: Math.min(timeoutMs, this.config['request.timeout.ms']) }))
      return response.responses.map((t) => ({ item: t.name, code: t.errorCode, message: null }))
    })
  }

  /** Topic names, internal ones (`__consumer_offsets`) only with listInternal. */
  async listTopics(options: { listInternal?: boolean; timeoutMs?: number } = {}): Promise<string[]> {
    const r = await this.retrying(options.timeoutMs, () => this.cluster.fetchMetadata(null))
    return r.topics.filter((t) => t.errorCode === ErrorCode.NONE && (options.listInternal || !t.isInternal)).map((t) => t.name).sort()
  }

  async describeTopics(topics: readonly string[], options: { timeoutMs?: number } = {}): Promise<TopicDescription[]> {
    const r = await this.retrying(options.timeoutMs, async () => {
      const m = await this.cluster.fetchMetadata(topics)
      for (const t of m.topics) {
        if (t.errorCode === ErrorCode.LEADER_NOT_AVAILABLE) throw responseError(t.errorCode, `topic ${t.name}`)!
      }
      return m
    })
    const errors: { [item: string]: KafkaError } = {}
    for (const t of r.topics) {
      const e = responseError(t.errorCode, `topic ${t.name}`)
      if (e) errors[t.name] = e
    }
    const first = Object.values(errors)[0]
    if (first) throw new AdminError(first, errors)
    return topics.map((name) => {
      const t = this.cluster.topics.get(name)!
      return { name, isInternal: t.isInternal, partitions: t.partitions.filter((p) => p !== undefined) }
    })
  }

  async describeCluster(options: { timeoutMs?: number } = {}): Promise<{ clusterId: string | null; controllerId: number; brokers: BrokerNode[] }> {
    await this.retrying(options.timeoutMs, () => this.cluster.fetchMetadata([]))
    return { clusterId: this.cluster.clusterId, controllerId: this.cluster.controllerId, brokers: [...this.cluster.brokers.values()] }
  }

  /** Grows topics to `count` partitions. */
  async createPartitions(topics: readonly { topic: string; count: number; assignments?: number[][] }[], options: { validateOnly?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? this.config['default.api.timeout.ms']
    await this.perItem(timeoutMs, topics.map((t) => t.topic), async (names) => {
      const { response } = await this.cluster.send(this.controller(), ApiKey.CreatePartitions, () => ({
        topics: topics.filter((t) => names.includes(t.topic)).map((t) => ({ name: t.topic, count: t.count, assignments: t.assignments ? t.assignments.map((brokerIds) => ({ brokerIds })) : null })),
        timeoutMs: Math.min(timeoutMs, this.config['request.timeout.ms']),
        validateOnly: options.validateOnly ?? false,
      }))
      return response.results.map((t) => ({ item: t.name, code: t.errorCode, message: t.errorMessage }))
    })
  }

  async describeConfigs(
    resources: readonly { type: ConfigResourceType; name: string; keys?: string[] }[],
    options: { timeoutMs?: number } = {},
  ): Promise<{ type: ConfigResourceType; name: string; configs: ConfigEntry[] }[]> {
    const out = new Map<string, ConfigEntry[]>()
    const key = (type: ConfigResourceType, name: string) => `${type}:${name}`
    await this.perItem(options.timeoutMs ?? this.config['default.api.timeout.ms'], resources.map((r) => key(r.type, r.name)), async (items) => {
      const todo = resources.filter((r) => items.includes(key(r.type, r.name)))
      // A broker's configs are asked of that broker; topics of any.
      const groups = new Map<number | 'any', typeof todo>()
      for (const r of todo) {
        const target = r.type === 'broker' && /^\d+$/.test(r.name) ? Number(r.name) : 'any'
        groups.set(target, [...(groups.get(target) ?? []), r])
      }
      const results: { item: string; code: number; message: string | null }[] = []
      for (const [target, list] of groups) {
        if (typeof target === 'number' && !this.cluster.brokers.has(target)) await this.cluster.fetchMetadata([])
        const { response } = await this.cluster.send(target, ApiKey.DescribeConfigs, () => ({
          resources: list.map((r) => ({ resourceType: RESOURCE_TYPE[r.type], resourceName: r.name, configurationKeys: r.keys ?? null })),
        }))
        for (const res of response.results) {
          const type: ConfigResourceType = res.resourceType === RESOURCE_TYPE.broker ? 'broker' : 'topic'
          const item = key(type, res.resourceName)
          results.push({ item, code: res.errorCode, message: res.errorMessage })
          if (res.errorCode === ErrorCode.NONE) {
            out.set(
              item,
              res.configs.map((c) => ({ name: c.name, value: c.value, readOnly: c.readOnly, isDefault: c.isDefault || c.configSource === 5, isSensitive: c.isSensitive, source: c.configSource })),
            )
          }
        }
      }
      return results
    })
    return resources.map((r) => ({ type: r.type, name: r.name, configs: out.get(key(r.type, r.name)) ?? [] }))
  }

  /** Sets the configs of each resource (replacing its dynamic configs: see the file comment). */
  async alterConfigs(resources: readonly { type: ConfigResourceType; name: string; configs: { [name: string]: string | null } }[], options: { validateOnly?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const key = (type: ConfigResourceType, name: string) => `${type}:${name}`
    await this.perItem(options.timeoutMs ?? this.config['default.api.timeout.ms'], resources.map((r) => key(r.type, r.name)), async (items) => {
      const todo = resources.filter((r) => items.includes(key(r.type, r.name)))
      const results: { item: string; code: number; message: string | null }[] = []
      for (const r of todo) {
        const target = r.type === 'broker' && /^\d+$/.test(r.name) ? Number(r.name) : 'any'
        if (typeof target === 'number' && !this.cluster.brokers.has(target)) await this.cluster.fetchMetadata([])
        const { response } = await this.cluster.send(target, ApiKey.AlterConfigs, () => ({
          resources: [{ resourceType: RESOURCE_TYPE[r.type], resourceName: r.name, configs: Object.entries(r.configs).map(([name, value]) => ({ name, value })) }],
          validateOnly: options.validateOnly ?? false,
        }))
        for (const res of response.responses) results.push({ item: key(r.type, res.resourceName), code: res.errorCode, message: res.errorMessage })
      }
      return results
    })
  }

  /** Offsets by spec: earliest (log start), latest (high watermark), or the first at or after a timestamp (-1 when none). */
  async listOffsets(
    requests: readonly (TopicPartition & { spec: OffsetSpec })[],
    options: { isolationLevel?: 'read_uncommitted' | 'read_committed'; timeoutMs?: number } = {},
  ): Promise<(TopicPartition & { offset: number; timestamp: number; leaderEpoch: number })[]> {
    const queries = requests.map((r) => ({ topic: r.topic, partition: r.partition, timestamp: r.spec === 'earliest' ? EARLIEST_TIMESTAMP : r.spec === 'latest' ? LATEST_TIMESTAMP : r.spec.timestamp }))
    const deadline = Date.now() + (options.timeoutMs ?? this.config['default.api.timeout.ms'])
    return listOffsets(this.cluster, queries, options.isolationLevel === 'read_committed' ? 1 : 0, deadline)
  }

  /** Deletes the records before `offset` (-1: the high watermark) of each partition; resolves to the new log start offsets. */
  async deleteRecords(requests: readonly (TopicPartition & { offset: number })[], options: { timeoutMs?: number } = {}): Promise<(TopicPartition & { lowWatermark: number })[]> {
    const timeoutMs = options.timeoutMs ?? this.config['default.api.timeout.ms']
    const lows = new Map<string, number>()
    const name = (tp: TopicPartition) => `${tp.topic}-${tp.partition}`
    this.cluster.addTopics(requests.map((r) => r.topic))
    await this.perItem(timeoutMs, requests.map(name), async (items) => {
      await this.cluster.refreshMetadata()
      const byLeader = new Map<number, (TopicPartition & { offset: number })[]>()
      const results: { item: string; code: number; message: string | null }[] = []
      for (const r of requests.filter((x) => items.includes(name(x)))) {
        const leader = this.cluster.leaderFor(r.topic, r.partition)
        if (leader < 0) {
          results.push({ item: name(r), code: this.cluster.topicErrors.get(r.topic) ?? ErrorCode.LEADER_NOT_AVAILABLE, message: null })
          continue
        }
        byLeader.set(leader, [...(byLeader.get(leader) ?? []), r])
      }
      for (const [leader, list] of byLeader) {
        const topics = new Map<string, { partitionIndex: number; offset: bigint }[]>()
        for (const r of list) topics.set(r.topic, [...(topics.get(r.topic) ?? []), { partitionIndex: r.partition, offset: BigInt(r.offset) }])
        const { response } = await this.cluster.send(leader, ApiKey.DeleteRecords, () => ({
          topics: [...topics].map(([n, partitions]) => ({ name: n, partitions })),
          timeoutMs: Math.min(timeoutMs, this.config['request.timeout.ms']),
        }))
        for (const t of response.topics) {
          for (const p of t.partitions) {
            const tp = { topic: t.name, partition: p.partitionIndex }
            results.push({ item: name(tp), code: p.errorCode, message: null })
            if (p.errorCode === ErrorCode.NONE) lows.set(tpKey(t.name, p.partitionIndex), Number(p.lowWatermark))
          }
        }
      }
      return results
    })
    return requests.map((r) => ({ topic: r.topic, partition: r.partition, lowWatermark: lows.get(tpKey(r.topic, r.partition))! }))
  }

  async close(): Promise<void> {
    this.cluster.close()
  }

  private controller(): number | 'any' {
    return this.cluster.controllerId >= 0 && this.cluster.brokers.has(this.cluster.controllerId) ? this.cluster.controllerId : 'any'
  }

  /** Runs `fn` until it succeeds, retrying retriable KafkaErrors with backoff and a metadata refresh. */
  private async retrying<T>(timeoutMs: number | undefined, fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + (timeoutMs ?? this.config['default.api.timeout.ms'])
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn()
      } catch (e) {
        if (!(e instanceof KafkaError) || !e.retriable) throw e
        const left = deadline - Date.now()
        if (left <= 0) throw timeoutError(`timed out after ${attempt} attempt(s): ${e.message}`)
        this.logger.debug(`retrying: ${e.message}`)
        await new Promise((r) => setTimeout(r, Math.min(left, retryBackoffMs(this.config, attempt))))
        this.cluster.requestUpdate()
        await this.cluster.fetchMetadata([]).catch(() => {})
      }
    }
  }

  /**
   * Runs a call over named items until each has an answer that is not "ask again"
   * (NOT_CONTROLLER, a leader election...), then throws AdminError if any failed.
   */
  private async perItem(timeoutMs: number, items: readonly string[], call: (items: string[]) => Promise<{ item: string; code: number; message: string | null }[]>): Promise<void> {
    const errors: { [item: string]: KafkaError } = {}
    let pending = [...new Set(items)]
    await this.retrying(timeoutMs, async () => {
      if (this.cluster.brokers.size === 0) await this.cluster.fetchMetadata([])
      const results = await call(pending)
      const again: string[] = []
      let retryError: KafkaError | null = null
      for (const r of results) {
        if (!pending.includes(r.item)) continue
        const e = responseError(r.code, r.item, r.message)
        if (e !== null && RETRY_ITEM.has(r.code)) {
          again.push(r.item)
          retryError = e
        } else if (e !== null) {
          errors[r.item] = e
        }
      }
      const answered = new Set(results.map((r) => r.item))
      for (const item of pending) {
        if (!answered.has(item)) errors[item] = new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `no answer for ${item}`)
      }
      pending = again
      if (retryError) throw new KafkaError(retryError.code, retryError.message, { retriable: true })
    })
    const first = Object.values(errors)[0]
    if (first) throw new AdminError(first, errors)
  }
}
