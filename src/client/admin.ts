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
 *
 * Groups (Java's Admin names): listGroups asks every broker (each knows the groups it
 * coordinates); the other group calls go to the group's coordinator (FindCoordinator), and
 * NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE and COORDINATOR_LOAD_IN_PROGRESS find it again and
 * retry. alterConsumerGroupOffsets commits as Java's Admin does, from outside the group
 * (generation -1, member ''), which Kafka accepts only while the group has no members.
 */
import { ErrorCode } from '../protocol/kafka/error-codes.ts'
import { ApiKey } from '../protocol/kafka/generated/index.ts'
import { silentLogger, type Logger } from '../runtime/logger.ts'
import { Cluster, type BrokerNode, type PartitionMetadata } from './cluster.ts'
import { decodeAssignment } from './consumer-protocol.ts'
import { findCoordinator, coordinatorRequest, COORDINATOR_ERRORS, CoordinatorKeyType, type CoordinatorLink } from './find-coordinator.ts'
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

/** A group as ListGroups shows it. */
export interface GroupListing {
  groupId: string
  /** 'consumer' for consumer groups; '' for a group that only holds committed offsets (assign()-only consumers, admin tools). */
  protocolType: string
  /** Kafka's state name (Stable, Empty, PreparingRebalance, CompletingRebalance, Dead); null when the broker's ListGroups version does not carry it (before v4). */
  state: string | null
}

export interface MemberDescription {
  memberId: string
  /** Its group.instance.id (static membership, KIP-345), or null. */
  groupInstanceId: string | null
  clientId: string
  /** The address the coordinator saw it connect from, as Kafka shows it ('/127.0.0.1'). */
  host: string
  /** Its partitions, decoded from its assignment in a consumer group; [] before the group is Stable, or for other protocol types. */
  assignment: TopicPartition[]
}

export interface GroupDescription {
  groupId: string
  /** 'consumer', '' (offsets only, never had members), or another client protocol ('connect' ...). */
  protocolType: string
  /** The assignor the members agreed on (range, cooperative-sticky ...); '' when none is chosen. */
  partitionAssignor: string
  /** Kafka's state name; 'Dead' for a group that does not exist (as the classic DescribeGroups answers). */
  state: string
  members: MemberDescription[]
  coordinator: BrokerNode
}

/** A committed offset of a group. */
export interface CommittedOffset extends TopicPartition {
  offset: number
  /** The leader epoch committed with it, or null when none was (OffsetCommit < v6). */
  leaderEpoch: number | null
  metadata: string
}

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

  /** Every group of the cluster (ListGroups to every broker, merged), sorted by id. */
  async listGroups(options: { timeoutMs?: number } = {}): Promise<GroupListing[]> {
    const timeoutMs = options.timeoutMs ?? this.config['default.api.timeout.ms']
    await this.retrying(timeoutMs, () => this.cluster.fetchMetadata([]))
    const byId = new Map<string, GroupListing>()
    await Promise.all(
      [...this.cluster.brokers.keys()].map((nodeId) =>
        this.retrying(timeoutMs, async () => {
          const { response } = await this.cluster.send(nodeId, ApiKey.ListGroups, () => ({}))
          const error = responseError(response.errorCode, `ListGroups of broker ${nodeId}`)
          if (error) throw error
          for (const g of response.groups) {
            // ListGroups v4+ carries the state; the versions generated today do not.
            const state = (g as { groupState?: string }).groupState
            byId.set(g.groupId, { groupId: g.groupId, protocolType: g.protocolType, state: state ?? null })
          }
        }),
      ),
    )
    return [...byId.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0))
  }

  /** Each group as its coordinator describes it, in the order asked; rejects with AdminError naming the groups that failed. */
  async describeGroups(groupIds: readonly string[], options: { timeoutMs?: number } = {}): Promise<GroupDescription[]> {
    const timeoutMs = options.timeoutMs ?? this.config['default.api.timeout.ms']
    return this.perGroup(groupIds, async (groupId) =>
      this.onCoordinator(groupId, timeoutMs, async (link) => {
        const { response } = await coordinatorRequest(this.cluster, link, ApiKey.DescribeGroups, () => ({ groups: [groupId] }))
        const g = response.groups.find((x) => x.groupId === groupId)
        if (g === undefined) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `DescribeGroups did not answer for group '${groupId}'`)
        const error = responseError(g.errorCode, `group '${groupId}'`)
        if (error) throw error
        const consumer = g.protocolType === 'consumer'
        return {
          groupId,
          protocolType: g.protocolType,
          partitionAssignor: g.protocolData,
          state: g.groupState,
          members: g.members.map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            clientId: m.clientId,
            host: m.clientHost,
            assignment: consumer ? memberPartitions(m.memberAssignment, groupId, this.logger) : [],
          })),
          coordinator: this.coordinatorNode(link),
        }
      }),
    )
  }

  /** Deletes groups that have no members, with their committed offsets (NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND otherwise, per group). */
  async deleteGroups(groupIds: readonly string[], options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? this.config['default.api.timeout.ms']
    await this.perGroup(groupIds, (groupId) =>
      this.onCoordinator(groupId, timeoutMs, async (link) => {
        const { response } = await coordinatorRequest(this.cluster, link, ApiKey.DeleteGroups, () => ({ groupsNames: [groupId] }))
        const r = response.results.find((x) => x.groupId === groupId)
        if (r === undefined) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `DeleteGroups did not answer for group '${groupId}'`)
        const error = responseError(r.errorCode, `group '${groupId}'`)
        if (error) throw error
      }),
    )
  }

  /**
   * The group's committed offsets (OffsetFetch): of the partitions given, or of every partition
   * it has one for. A partition without a committed offset is left out.
   */
  async listConsumerGroupOffsets(groupId: string, partitions?: readonly TopicPartition[], options: { timeoutMs?: number } = {}): Promise<CommittedOffset[]> {
    const timeoutMs = options.timeoutMs ?? this.config['default.api.timeout.ms']
    const topics = partitions === undefined ? null : byTopic(partitions).map(([name, ps]) => ({ name, partitionIndexes: ps }))
    return this.onCoordinator(groupId, timeoutMs, async (link) => {
      const { response, version } = await coordinatorRequest(this.cluster, link, ApiKey.OffsetFetch, (v) => {
        if (topics === null && v < 2) throw new KafkaError(ErrorCode.UNSUPPORTED_VERSION, 'the broker cannot list all of a group\'s offsets (OffsetFetch v2+ can)')
        return { groupId, topics }
      })
      const top = version >= 2 ? responseError(response.errorCode, `group '${groupId}'`) : null
      if (top) throw top
      const out: CommittedOffset[] = []
      const errors: { [item: string]: KafkaError } = {}
      for (const t of response.topics) {
        for (const p of t.partitions) {
          const error = responseError(p.errorCode, `${t.name}-${p.partitionIndex} in group '${groupId}'`)
          if (error && COORDINATOR_ERRORS.has(p.errorCode)) throw error
          if (error) errors[`${t.name}-${p.partitionIndex}`] = error
          else if (p.committedOffset >= 0n) {
            out.push({ topic: t.name, partition: p.partitionIndex, offset: Number(p.committedOffset), leaderEpoch: p.committedLeaderEpoch >= 0 ? p.committedLeaderEpoch : null, metadata: p.metadata ?? '' })
          }
        }
      }
      if (Object.keys(errors).length > 0) throw partitionFailure(errors)
      return out.sort(byTopicPartition)
    })
  }

  /**
   * Sets the group's committed offsets, as Java's Admin does: an OffsetCommit from outside the
   * group (generation -1, member ''). Kafka accepts it only while the group has no members; with
   * members it rejects with UNKNOWN_MEMBER_ID, which this turns into a message saying so.
   */
  async alterConsumerGroupOffsets(
    groupId: string,
    offsets: readonly (TopicPartition & { offset: number; leaderEpoch?: number; metadata?: string })[],
    options: { timeoutMs?: number } = {},
  ): Promise<void> {
    for (const o of offsets) if (!Number.isSafeInteger(o.offset) || o.offset < 0) throw new RangeError(`alterConsumerGroupOffsets: offset of ${o.topic}-${o.partition} must be an integer >= 0, got ${o.offset}`)
    const timeoutMs = options.timeoutMs ?? this.config['default.api.timeout.ms']
    const topics = new Map<string, typeof offsets[number][]>()
    for (const o of offsets) topics.set(o.topic, [...(topics.get(o.topic) ?? []), o])
    await this.onCoordinator(groupId, timeoutMs, async (link) => {
      const { response } = await coordinatorRequest(this.cluster, link, ApiKey.OffsetCommit, () => ({
        groupId,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        groupInstanceId: null,
        retentionTimeMs: -1n,
        topics: [...topics].map(([name, list]) => ({
          name,
          partitions: list.map((o) => ({ partitionIndex: o.partition, committedOffset: BigInt(o.offset), committedLeaderEpoch: o.leaderEpoch ?? -1, committedMetadata: o.metadata ?? '' })),
        })),
      }))
      this.throwPartitionErrors(groupId, response.topics, (code) =>
        code === ErrorCode.UNKNOWN_MEMBER_ID || code === ErrorCode.ILLEGAL_GENERATION
          ? `the group has active members: its offsets can be altered only while it is empty (stop its consumers first)`
          : null,
      )
    })
  }

  /** Deletes the group's committed offsets of these partitions (OffsetDelete); refused (GROUP_SUBSCRIBED_TO_TOPIC) for topics its members consume. */
  async deleteConsumerGroupOffsets(groupId: string, partitions: readonly TopicPartition[], options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? this.config['default.api.timeout.ms']
    await this.onCoordinator(groupId, timeoutMs, async (link) => {
      const { response } = await coordinatorRequest(this.cluster, link, ApiKey.OffsetDelete, () => ({
        groupId,
        topics: byTopic(partitions).map(([name, ps]) => ({ name, partitions: ps.map((partitionIndex) => ({ partitionIndex })) })),
      }))
      const top = responseError(response.errorCode, `group '${groupId}'`)
      if (top) throw top
      this.throwPartitionErrors(groupId, response.topics, () => null)
    })
  }

  async close(): Promise<void> {
    this.cluster.close()
  }

  /** Partition errors of a group call: a coordinator error retries the call; others reject with AdminError. */
  private throwPartitionErrors(groupId: string, topics: readonly { name: string; partitions: readonly { partitionIndex: number; errorCode: number }[] }[], explain: (code: number) => string | null): void {
    const errors: { [item: string]: KafkaError } = {}
    for (const t of topics) {
      for (const p of t.partitions) {
        const error = responseError(p.errorCode, `${t.name}-${p.partitionIndex} in group '${groupId}'`, explain(p.errorCode))
        if (error && COORDINATOR_ERRORS.has(p.errorCode)) throw error
        if (error) errors[`${t.name}-${p.partitionIndex}`] = error
      }
    }
    if (Object.keys(errors).length > 0) throw partitionFailure(errors)
  }

  /** Runs `call` on the group's coordinator until it succeeds, finding the coordinator again after a coordinator error or a lost connection. */
  private async onCoordinator<T>(groupId: string, timeoutMs: number, call: (link: CoordinatorLink) => Promise<T>): Promise<T> {
    const deadline = Date.now() + timeoutMs
    return this.retrying(timeoutMs, async () => {
      const link = await findCoordinator(this.cluster, groupId, CoordinatorKeyType.GROUP, deadline)
      // NOT_COORDINATOR and the like are retriable: the next attempt asks FindCoordinator again.
      return call(link)
    })
  }

  /** One call per group, concurrently; results in the order of `groupIds`, or AdminError naming every group that failed. */
  private async perGroup<T>(groupIds: readonly string[], call: (groupId: string) => Promise<T>): Promise<T[]> {
    const settled = await Promise.allSettled(groupIds.map(call))
    const errors: { [item: string]: KafkaError } = {}
    settled.forEach((r, i) => {
      if (r.status === 'rejected') {
        if (!(r.reason instanceof KafkaError)) throw r.reason
        errors[groupIds[i]!] = r.reason
      }
    })
    const first = Object.values(errors)[0]
    if (first) throw new AdminError(first, errors)
    return settled.map((r) => (r as PromiseFulfilledResult<T>).value)
  }

  private coordinatorNode(link: CoordinatorLink): BrokerNode {
    const known = this.cluster.brokers.get(link.coordinatorId)
    if (known) return known
    const i = link.connection.address.lastIndexOf(':')
    return { nodeId: link.coordinatorId, host: link.connection.address.slice(0, i), port: Number(link.connection.address.slice(i + 1)), rack: null }
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

/** Partitions grouped by topic, in first-seen order, partitions in the order given. */
function byTopic(partitions: readonly TopicPartition[]): [string, number[]][] {
  const m = new Map<string, number[]>()
  for (const p of partitions) m.set(p.topic, [...(m.get(p.topic) ?? []), p.partition])
  return [...m]
}

function byTopicPartition(a: TopicPartition, b: TopicPartition): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition
}

/** A consumer group member's partitions from its assignment bytes; [] when it has none yet (or they cannot be read: logged). */
function memberPartitions(bytes: Uint8Array, groupId: string, logger: Logger): TopicPartition[] {
  if (bytes.length === 0) return []
  try {
    return decodeAssignment(bytes).partitions.slice().sort(byTopicPartition)
  } catch (e) {
    logger.warn(`cannot decode a member's assignment in group '${groupId}': ${(e as Error).message}`)
    return []
  }
}

/** An answer with partition errors is final (not retried), even for errors Kafka calls retriable, as Java's Admin treats them. */
function partitionFailure(errors: { [item: string]: KafkaError }): AdminError {
  const first = Object.values(errors)[0]!
  return new AdminError(new KafkaError(first.code, first.message, { retriable: false }), errors)
}
