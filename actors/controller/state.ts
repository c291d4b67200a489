/**
 * The controller's state machine: pure and synchronous (no I/O, no clock; randomness only
 * through the Random in the context, for topic ids and placement).
 *
 *   handle(state, request, ctx) → { records, reply, warnings }   decides; changes nothing
 *   replay(state, record, offset) → state                         the only way state changes
 *
 * The actor appends `records` to the metadata log and then replays them; recovery replays the
 * same log through the same `replay`. `handle` decides item by item on a scratch copy of the
 * image (ImageBuilder) that it applies its own records to, so a later item of a request sees
 * what an earlier one did (a topic created then deleted, a name given twice), with the offsets
 * the records will get: the log's end offset is always the image's offset + 1.
 *
 * Error codes and messages are Kafka's (KRaft's ReplicationControlManager and
 * ConfigurationControlManager) where Kafka has them.
 */
import type { BrokerConfig } from '../../src/broker/broker-config.ts'
import { ImageBuilder, emptyImage, type OffsetRecord } from '../../src/cluster/metadata-image.ts'
import { ConfigResourceTypeId, type ConfigRecord, type MetadataRecord, type PartitionRecord } from '../../src/cluster/metadata-records.ts'
import type {
  AlterConfigsResource,
  ConfigResourceType,
  CreatableTopic,
  CreatePartitionsTopic,
  CreateTopicResult,
  DeleteTopicResult,
  ItemResult,
  MetadataImage,
  TopicId,
  TopicImage,
} from '../../src/cluster/metadata.ts'
import { initialLeadership, placeReplicas, PlacementError } from '../../src/cluster/replica-placement.ts'
import {
  brokerConfigProblem,
  describeTopicConfigs,
  effectiveBrokerConfig,
  isDynamicBrokerConfig,
  isTopicConfigKey,
  LIST_TOPIC_CONFIGS,
  topicConfigProblem,
} from '../../src/cluster/topic-configs.ts'
import { COLLISION_WARNING, hasCollisionChars, METADATA_TOPIC, topicNameProblem, unifyCollisionChars } from '../../src/cluster/topic-name.ts'
import { ErrorCode } from '../../src/protocol/kafka/error-codes.ts'
import { uuidToString, ZERO_UUID } from '../../src/protocol/kafka/primitives.ts'
import type { Random } from '../../src/sim/random.ts'
import type { ControllerRequest, RegisterBrokerReply, ReplyOf, RequestOf } from './messages.ts'

/** The largest partition count a topic may have (CreateTopics and CreatePartitions). */
export const MAX_PARTITIONS = 10_000
/** The `metadata.version` feature level peerlog's metadata log is written at. */
export const METADATA_VERSION = 1

export interface ControllerState {
  readonly image: MetadataImage
  /** Finalized feature levels (FeatureLevelRecord). */
  readonly features: ReadonlyMap<string, number>
}

export interface ControllerContext {
  /** num.partitions, default.replication.factor, node.id and the log.* topic defaults. */
  config: BrokerConfig
  /** Topic ids, incarnation ids and placement draws. */
  random: Random
}

export interface HandleResult<R> {
  /** To append, in order, as one batch; empty when nothing changes (or validateOnly). */
  records: MetadataRecord[]
  reply: R
  /** Lines for the log (Kafka's warnings to the user). */
  warnings: string[]
}

export function initialState(clusterId: string, controllerId: number): ControllerState {
  return { image: emptyImage(clusterId, controllerId), features: new Map() }
}

// ---------------------------------------------------------------- replay

/** The state after the records (in offset order). */
export function replayBatch(state: ControllerState, entries: readonly OffsetRecord[]): ControllerState {
  const builder = new ImageBuilder(state.image)
  let features = state.features
  for (const { record, offset } of entries) {
    builder.apply(record, offset)
    if (record.type === 'FeatureLevelRecord') {
      const next = new Map(features)
      if (record.featureLevel === 0) next.delete(record.name)
      else next.set(record.name, record.featureLevel)
      features = next
    }
  }
  return { image: builder.build(), features }
}

export function replay(state: ControllerState, record: MetadataRecord, offset: number): ControllerState {
  return replayBatch(state, [{ record, offset }])
}

// ---------------------------------------------------------------- handle

/** Decides a request: the records to append and the reply to give once they are. */
export function handle<T extends ControllerRequest['type']>(state: ControllerState, request: RequestOf<T>, ctx: ControllerContext): HandleResult<ReplyOf[T]>
export function handle(state: ControllerState, request: ControllerRequest, ctx: ControllerContext): HandleResult<ReplyOf[keyof ReplyOf]> {
  const d = new Decision(state, ctx)
  switch (request.type) {
    case 'createTopics':
      return d.finish(request.topics.map((t, i, all) => d.createTopic(t, duplicated(all.map((x) => x.name), i), request.validateOnly)), request.validateOnly)
    case 'deleteTopics':
      return d.finish(d.deleteTopics(request.topics), false)
    case 'createPartitions':
      return d.finish(request.topics.map((t, i, all) => d.createPartitions(t, duplicated(all.map((x) => x.name), i), request.validateOnly)), request.validateOnly)
    case 'alterConfigs':
      return d.finish(
        request.resources.map((r, i, all) => d.alterConfigs(r, duplicated(all.map((x) => `${x.type}:${x.name}`), i), request.incremental)),
        request.validateOnly,
      )
    case 'registerBroker':
      return d.finish(d.registerBroker(request.nodeId, request.host, request.port, request.rack), false)
  }
}

function duplicated(keys: readonly string[], i: number): boolean {
  return keys.indexOf(keys[i]!) !== i || keys.lastIndexOf(keys[i]!) !== i
}

class ItemError extends Error {
  constructor(
    readonly code: number,
    message: string | null,
  ) {
    super(message ?? '')
  }
}

const fail = (code: number, message: string | null): never => {
  throw new ItemError(code, message)
}

const DEFAULT_MESSAGES: Partial<Record<number, string>> = {
  [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]: 'This server does not host this topic-partition.',
  [ErrorCode.UNKNOWN_TOPIC_ID]: 'This server does not host this topic ID.',
}

function itemError(err: unknown): { errorCode: number; errorMessage: string | null } {
  if (err instanceof ItemError) return { errorCode: err.code, errorMessage: err.message === '' ? (DEFAULT_MESSAGES[err.code] ?? null) : err.message }
  throw err
}

/** One request's decisions: a scratch image the records are applied to as they are decided. */
class Decision {
  readonly scratch: ImageBuilder
  readonly records: MetadataRecord[] = []
  readonly warnings: string[] = []

  constructor(
    private readonly state: ControllerState,
    private readonly ctx: ControllerContext,
  ) {
    this.scratch = new ImageBuilder(state.image)
  }

  /** Applies an item's records to the scratch image and keeps them. */
  private emit(records: readonly MetadataRecord[]): void {
    for (const record of records) {
      this.scratch.apply(record, this.scratch.offset + 1)
      this.records.push(record)
    }
  }

  finish<R>(reply: R, validateOnly: boolean): HandleResult<R> {
    return { records: validateOnly ? [] : this.records, reply, warnings: this.warnings }
  }

  private get liveBrokers(): number[] {
    return [...this.scratch.brokers.values()].filter((b) => !b.fenced).map((b) => b.nodeId)
  }

  private newUuid(taken: (id: string) => boolean): string {
    for (;;) {
      const bytes = new Uint8Array(16)
      for (let i = 0; i < 16; i++) bytes[i] = this.ctx.random.int(256)
      const id = uuidToString(bytes)
      // As Kafka's Uuid.randomUuid: never the zero (or sentinel) id, never one starting with '-' (a CLI flag).
      if (id !== ZERO_UUID && id !== 'AAAAAAAAAAAAAAAAAAAAAQ' && !id.startsWith('-') && !taken(id)) return id
    }
  }

  // ------------------------------------------------------------ CreateTopics

  createTopic(topic: CreatableTopic, duplicate: boolean, validateOnly: boolean): CreateTopicResult {
    const failed = (err: unknown): CreateTopicResult => ({ name: topic.name, ...itemError(err), topicId: null, numPartitions: -1, replicationFactor: -1, configs: [] })
    try {
      if (duplicate) fail(ErrorCode.INVALID_REQUEST, 'Duplicate topic name.')
      const nameProblem = topicNameProblem(topic.name)
      if (nameProblem) fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem)
      if (topic.name === METADATA_TOPIC) fail(ErrorCode.INVALID_REQUEST, `Creation of internal topic ${METADATA_TOPIC} is prohibited.`)
      if (this.scratch.topics.has(topic.name)) fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${topic.name}' already exists.`)
      if (hasCollisionChars(topic.name)) {
        const unified = unifyCollisionChars(topic.name)
        const colliding = [...this.scratch.topics.keys()].filter((n) => unifyCollisionChars(n) === unified).sort()[0]
        if (colliding !== undefined) fail(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic '${topic.name}' collides with existing topic: ${colliding}`)
      }

      const live = this.liveBrokers
      let assignments: number[][]
      if (topic.assignments && topic.assignments.length > 0) {
        if (topic.numPartitions !== -1) fail(ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but numPartitions was not set to -1.')
        if (topic.replicationFactor !== -1) fail(ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but replicationFactor was not set to -1.')
        if (topic.assignments.length > MAX_PARTITIONS) fail(ErrorCode.INVALID_PARTITIONS, `Number of partitions was set to ${topic.assignments.length}, above the maximum of ${MAX_PARTITIONS}.`)
        assignments = topic.assignments.map((replicas, p) => this.checkAssignment(replicas, p, topic.assignments![0]!.length))
      } else {
        const numPartitions = topic.numPartitions === -1 ? this.ctx.config['num.partitions'] : topic.numPartitions
        const replicationFactor = topic.replicationFactor === -1 ? this.ctx.config['default.replication.factor'] : topic.replicationFactor
        if (!Number.isInteger(numPartitions) || numPartitions <= 0) fail(ErrorCode.INVALID_PARTITIONS, 'Number of partitions was set to an invalid non-positive value.')
        if (numPartitions > MAX_PARTITIONS) fail(ErrorCode.INVALID_PARTITIONS, `Number of partitions was set to ${numPartitions}, above the maximum of ${MAX_PARTITIONS}.`)
        if (!Number.isInteger(replicationFactor) || replicationFactor <= 0) fail(ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be larger than 0, or -1 to use the default value.')
        assignments = this.place(numPartitions, replicationFactor, 0)
      }

      const overrides: Record<string, string> = {}
      for (const [key, value] of Object.entries(topic.configs ?? {})) {
        if (value === null) fail(ErrorCode.INVALID_CONFIG, `Null value not supported for topic configs: ${key}`)
        overrides[key] = value!
      }
      const configProblem = topicConfigProblem(overrides)
      if (configProblem) fail(ErrorCode.INVALID_CONFIG, configProblem)

      if (hasCollisionChars(topic.name)) this.warnings.push(`topic ${topic.name}: ${COLLISION_WARNING}`)
      const topicId = this.newUuid((id) => this.scratch.topicsById.has(id))
      this.emit([
        { type: 'TopicRecord', name: topic.name, topicId },
        ...Object.keys(overrides)
          .sort()
          .map((name): ConfigRecord => ({ type: 'ConfigRecord', resourceType: ConfigResourceTypeId.topic, resourceName: topic.name, name, value: overrides[name]! })),
        ...assignments.map((replicas, p) => this.partitionRecord(topicId, p, replicas, live)),
      ])
      return {
        name: topic.name,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        topicId: validateOnly ? null : topicId,
        numPartitions: assignments.length,
        replicationFactor: assignments[0]!.length,
        configs: describeTopicConfigs(overrides, effectiveBrokerConfig(this.state.image, this.ctx.config)),
      }
    } catch (err) {
      return failed(err)
    }
  }

  private place(count: number, replicationFactor: number, firstPartition: number): number[][] {
    try {
      return placeReplicas(this.scratch.brokers.values(), count, replicationFactor, this.ctx.random, { firstPartition })
    } catch (err) {
      if (err instanceof PlacementError) fail(ErrorCode.INVALID_REPLICATION_FACTOR, err.message)
      throw err
    }
  }

  private checkAssignment(replicas: readonly number[], partition: number, expectedLength: number): number[] {
    if (replicas.length === 0) fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'The manual partition assignment includes an empty replica list.')
    const seen = new Set<number>()
    for (const id of replicas) {
      if (seen.has(id)) fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `The manual partition assignment includes the broker ${id} more than once.`)
      seen.add(id)
      if (!this.scratch.brokers.has(id)) fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `The manual partition assignment includes broker ${id}, but no such broker is registered.`)
    }
    if (replicas.length !== expectedLength) {
      fail(
        ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        `The manual partition assignment includes a partition with ${replicas.length} replica(s), but this is not consistent with previous partitions, which have ${expectedLength} replica(s).`,
      )
    }
    if (!replicas.some((id) => !this.scratch.brokers.get(id)!.fenced)) {
      fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `All brokers specified in the manual partition assignment for partition ${partition} are fenced or in controlled shutdown.`)
    }
    return [...replicas]
  }

  private partitionRecord(topicId: TopicId, partitionId: number, replicas: number[], live: readonly number[]): PartitionRecord {
    const { leader, isr } = initialLeadership(replicas, (id) => live.includes(id))
    return { type: 'PartitionRecord', partitionId, topicId, replicas, isr, removingReplicas: [], addingReplicas: [], leader, leaderRecoveryState: 0, leaderEpoch: 0, partitionEpoch: 0 }
  }

  // ------------------------------------------------------------ DeleteTopics

  deleteTopics(items: readonly { name?: string; topicId?: TopicId }[]): DeleteTopicResult[] {
    const idOf = (item: { topicId?: TopicId }) => (item.topicId === undefined || item.topicId === ZERO_UUID ? null : item.topicId)
    const nameOf = (item: { name?: string }) => (item.name === undefined || item.name === '' ? null : item.name)
    const keys = items.map((item) => (idOf(item) !== null ? `id:${idOf(item)}` : `name:${nameOf(item)}`))
    return items.map((item, i) => {
      const name = nameOf(item)
      const topicId = idOf(item)
      try {
        if (name !== null && topicId !== null) fail(ErrorCode.INVALID_REQUEST, 'A topic may be given by name or by id, not both.')
        if (name === null && topicId === null) fail(ErrorCode.INVALID_REQUEST, 'Neither topic name nor id were specified.')
        if (duplicated(keys, i)) fail(ErrorCode.INVALID_REQUEST, topicId !== null ? 'Duplicate topic id.' : 'Duplicate topic name.')
        let topic: TopicImage | undefined
        if (topicId !== null) {
          topic = this.scratch.topicsById.get(topicId)
          if (!topic) fail(ErrorCode.UNKNOWN_TOPIC_ID, null)
        } else {
          topic = this.scratch.topics.get(name!)
          if (!topic) fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, null)
        }
        this.emit([{ type: 'RemoveTopicRecord', topicId: topic!.topicId }])
        return { name: topic!.name, topicId: topic!.topicId, errorCode: ErrorCode.NONE, errorMessage: null }
      } catch (err) {
        return { name, topicId, ...itemError(err) }
      }
    })
  }

  // ------------------------------------------------------------ CreatePartitions

  createPartitions(item: CreatePartitionsTopic, duplicate: boolean, _validateOnly: boolean): ItemResult {
    try {
      if (duplicate) fail(ErrorCode.INVALID_REQUEST, 'Duplicate topic name.')
      const topic = this.scratch.topics.get(item.name)
      if (!topic) fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, null)
      const existing = topic!.partitions.length
      if (!Number.isInteger(item.count) || item.count < existing) {
        fail(ErrorCode.INVALID_PARTITIONS, `The topic ${item.name} currently has ${existing} partition(s); ${item.count} would not be an increase.`)
      }
      if (item.count === existing) fail(ErrorCode.INVALID_PARTITIONS, `Topic already has ${existing} partition(s).`)
      if (item.count > MAX_PARTITIONS) fail(ErrorCode.INVALID_PARTITIONS, `Number of partitions was set to ${item.count}, above the maximum of ${MAX_PARTITIONS}.`)
      const additional = item.count - existing
      const replicationFactor = topic!.partitions[0]?.replicas.length ?? this.ctx.config['default.replication.factor']
      let assignments: number[][]
      if (item.assignments && item.assignments.length > 0) {
        if (item.assignments.length !== additional) {
          fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Attempted to add ${additional} additional partition(s), but only ${item.assignments.length} assignment(s) were specified.`)
        }
        assignments = item.assignments.map((replicas, i) => this.checkAssignment(replicas, existing + i, replicationFactor))
      } else {
        assignments = this.place(additional, replicationFactor, existing)
      }
      const live = this.liveBrokers
      this.emit(assignments.map((replicas, i) => this.partitionRecord(topic!.topicId, existing + i, replicas, live)))
      return { name: item.name, errorCode: ErrorCode.NONE, errorMessage: null }
    } catch (err) {
      return { name: item.name, ...itemError(err) }
    }
  }

  // ------------------------------------------------------------ AlterConfigs / IncrementalAlterConfigs

  alterConfigs(resource: AlterConfigsResource, duplicate: boolean, incremental: boolean): ItemResult & { type: ConfigResourceType } {
    try {
      if (duplicate) fail(ErrorCode.INVALID_REQUEST, 'Duplicate resource.')
      const keys = resource.configs.map((c) => c.name)
      if (new Set(keys).size !== keys.length) fail(ErrorCode.INVALID_REQUEST, 'Error due to duplicate config keys')
      let current: Readonly<Record<string, string>>
      let resourceType: number
      if (resource.type === 'topic') {
        const topic = this.scratch.topics.get(resource.name)
        if (!topic) fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, null)
        current = topic!.configs
        resourceType = ConfigResourceTypeId.topic
      } else if (resource.type === 'broker') {
        if (resource.name !== '' && !/^\d+$/.test(resource.name)) fail(ErrorCode.INVALID_REQUEST, `Invalid broker name ${resource.name}`)
        current = this.scratch.brokerConfigs.get(resource.name) ?? {}
        resourceType = ConfigResourceTypeId.broker
      } else {
        fail(ErrorCode.INVALID_REQUEST, `Unsupported resource type ${String(resource.type)}`)
      }
      const next: Record<string, string> = incremental ? { ...current! } : {}
      for (const { name, value, op = 'set' } of resource.configs) {
        if (!incremental) {
          if (value === null) fail(ErrorCode.INVALID_CONFIG, `Null value not supported for ${resource.type} configs: ${name}`)
          next[name] = value!
          continue
        }
        switch (op) {
          case 'set':
            if (value === null) fail(ErrorCode.INVALID_CONFIG, `Null value not supported for ${resource.type} configs: ${name}`)
            next[name] = value!
            break
          case 'delete':
            delete next[name]
            break
          case 'append':
          case 'subtract': {
            const isList = resource.type === 'topic' ? LIST_TOPIC_CONFIGS.has(name) : name === 'log.cleanup.policy'
            if (!isList) fail(ErrorCode.INVALID_CONFIG, `Can't ${op.toUpperCase()} to key ${name} because its type is not LIST.`)
            const listDefault = resource.type === 'topic' && name === 'cleanup.policy' ? effectiveBrokerConfig(this.state.image, this.ctx.config)['log.cleanup.policy'] : ''
            const base = splitList(next[name] ?? (name === 'log.cleanup.policy' ? this.ctx.config['log.cleanup.policy'] : listDefault))
            const items = splitList(value ?? '')
            const result = op === 'append' ? [...base, ...items.filter((v) => !base.includes(v))] : base.filter((v) => !items.includes(v))
            next[name] = result.join(',')
            break
          }
          default:
            fail(ErrorCode.INVALID_REQUEST, `Unknown alter config operation ${String(op)} for ${name}`)
        }
      }
      // Validate every key named (a delete of an unknown key is an error too, as in Kafka).
      if (resource.type === 'topic') {
        const unknown = keys.find((k) => !isTopicConfigKey(k))
        if (unknown !== undefined) fail(ErrorCode.INVALID_CONFIG, `Unknown topic config name: ${unknown}`)
        const problem = topicConfigProblem(next)
        if (problem) fail(ErrorCode.INVALID_CONFIG, problem)
      } else {
        for (const key of new Set([...keys, ...Object.keys(next)])) {
          if (!isDynamicBrokerConfig(key)) {
            if (Object.prototype.hasOwnProperty.call(this.ctx.config, key)) fail(ErrorCode.INVALID_REQUEST, `Cannot update these configs dynamically: ${key}`)
            fail(ErrorCode.INVALID_CONFIG, `Unknown broker config name: ${key}`)
          }
          if (next[key] !== undefined) {
            const problem = brokerConfigProblem(key, next[key]!)
            if (problem) fail(ErrorCode.INVALID_CONFIG, problem)
          }
        }
      }
      const changes: ConfigRecord[] = []
      for (const name of [...new Set([...Object.keys(current!), ...Object.keys(next)])].sort()) {
        const value = next[name] ?? null
        if (value !== (current![name] ?? null)) changes.push({ type: 'ConfigRecord', resourceType: resourceType!, resourceName: resource.name, name, value })
      }
      this.emit(changes)
      return { type: resource.type, name: resource.name, errorCode: ErrorCode.NONE, errorMessage: null }
    } catch (err) {
      return { type: resource.type, name: resource.name, ...itemError(err) }
    }
  }

  // ------------------------------------------------------------ broker registration

  registerBroker(nodeId: number, host: string, port: number, rack: string | null): RegisterBrokerReply {
    const known = this.scratch.brokers.get(nodeId)
    if (known && known.host === host && known.port === port && known.rack === rack && !known.fenced) return { registered: false, brokerEpoch: null }
    if (this.state.features.get('metadata.version') === undefined) {
      // A new metadata log starts with the level it is written at, as Kafka's bootstrap does.
      this.emit([{ type: 'FeatureLevelRecord', name: 'metadata.version', featureLevel: METADATA_VERSION }])
    }
    // As Kafka: the broker epoch is the offset of the registration record.
    const brokerEpoch = BigInt(this.scratch.offset + 1)
    this.emit([
      {
        type: 'RegisterBrokerRecord',
        brokerId: nodeId,
        isMigratingZkBroker: false,
        incarnationId: this.newUuid(() => false),
        brokerEpoch,
        endPoints: [{ name: 'PLAINTEXT', host, port, securityProtocol: 0 }],
        features: [{ name: 'metadata.version', minSupportedVersion: METADATA_VERSION, maxSupportedVersion: METADATA_VERSION }],
        rack,
        fenced: false,
        inControlledShutdown: false,
      },
    ])
    return { registered: true, brokerEpoch }
  }
}

function splitList(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}
