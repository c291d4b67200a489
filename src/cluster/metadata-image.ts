/**
 * The metadata image as a pure replay of metadata records (metadata-records.ts): no I/O, no
 * clock, no randomness. `applyRecords(image, entries)` returns a new image and leaves the old
 * one untouched; what it builds is frozen.
 *
 * Every record is a state transition of one entity (a topic, a partition, a broker, a config
 * resource), checked against TRANSITIONS, a table of the states the entity may be in before
 * the record; a record that breaks it (a PartitionRecord for an unknown topic, a second
 * TopicRecord for a name) throws MetadataReplayError: the log holds only what the controller
 * decided, so that is a bug or a foreign log, never something to skip.
 *
 * ImageBuilder is the mutable scratch form: the controller's handlers read through it while
 * they apply the records they decide on, so that later items of one request see earlier ones.
 * It copies the maps it writes on first write (copy on write), so building from a large image
 * costs what changes, not the image's size.
 */
import { ConfigResourceTypeId, type MetadataRecord } from './metadata-records.ts'
import type { BrokerImage, MetadataImage, PartitionImage, TopicId, TopicImage } from './metadata.ts'
import { INTERNAL_TOPICS } from './topic-name.ts'

export class MetadataReplayError extends Error {
  override name = 'MetadataReplayError'
}

export type EntityState = 'absent' | 'present'

/** For each record type: which entity it changes, the states that entity may be in before, and after. */
export const TRANSITIONS = {
  TopicRecord: { entity: 'topic', from: ['absent'], to: 'present' },
  PartitionRecord: { entity: 'partition', from: ['absent'], to: 'present' },
  PartitionChangeRecord: { entity: 'partition', from: ['present'], to: 'present' },
  RemoveTopicRecord: { entity: 'topic', from: ['present'], to: 'absent' },
  RegisterBrokerRecord: { entity: 'broker', from: ['absent', 'present'], to: 'present' },
  /** For a topic resource; broker resources may be in any state. */
  ConfigRecord: { entity: 'topic', from: ['present'], to: 'present' },
  FeatureLevelRecord: { entity: 'feature', from: ['absent', 'present'], to: 'present' },
  NoOpRecord: { entity: 'none', from: ['absent', 'present'], to: 'absent' },
} as const satisfies Record<MetadataRecord['type'], { entity: string; from: readonly EntityState[]; to: EntityState }>

function assertTransition(type: MetadataRecord['type'], from: EntityState, what: string, offset: number): void {
  const allowed = TRANSITIONS[type].from as readonly EntityState[]
  if (!allowed.includes(from)) {
    throw new MetadataReplayError(`metadata record at offset ${offset}: ${type} for ${what}, which is ${from} (allowed: ${allowed.join(', ')})`)
  }
}

export function emptyImage(clusterId: string, controllerId: number): MetadataImage {
  return Object.freeze({
    clusterId,
    controllerId,
    offset: -1,
    brokers: new Map(),
    topics: new Map(),
    topicsById: new Map(),
    brokerConfigs: new Map(),
  })
}

const frozenPartition = (p: PartitionImage): PartitionImage =>
  Object.freeze({ ...p, replicas: Object.freeze([...p.replicas]), isr: Object.freeze([...p.isr]) })

/** A mutable copy-on-write view of an image: read it, apply records, build a new image. */
export class ImageBuilder {
  private base: MetadataImage
  private topics_: Map<string, TopicImage> | null = null
  private topicsById_: Map<TopicId, TopicImage> | null = null
  private brokers_: Map<number, BrokerImage> | null = null
  private brokerConfigs_: Map<string, Readonly<Record<string, string>>> | null = null
  private offset_: number
  private changed = false

  constructor(image: MetadataImage) {
    this.base = image
    this.offset_ = image.offset
  }

  get offset(): number { return this.offset_ }
  get topics(): ReadonlyMap<string, TopicImage> { return this.topics_ ?? this.base.topics }
  get topicsById(): ReadonlyMap<TopicId, TopicImage> { return this.topicsById_ ?? this.base.topicsById }
  get brokers(): ReadonlyMap<number, BrokerImage> { return this.brokers_ ?? this.base.brokers }
  get brokerConfigs(): ReadonlyMap<string, Readonly<Record<string, string>>> { return this.brokerConfigs_ ?? this.base.brokerConfigs ?? new Map() }

  private writableTopics(): [Map<string, TopicImage>, Map<TopicId, TopicImage>] {
    this.topics_ ??= new Map(this.base.topics)
    this.topicsById_ ??= new Map(this.base.topicsById)
    return [this.topics_, this.topicsById_]
  }

  private putTopic(topic: TopicImage): void {
    const [byName, byId] = this.writableTopics()
    const frozen = Object.freeze({ ...topic, partitions: Object.freeze([...topic.partitions]), configs: Object.freeze({ ...topic.configs }) })
    byName.set(frozen.name, frozen)
    byId.set(frozen.topicId, frozen)
  }

  /** Applies one record found at `offset`; throws MetadataReplayError when it breaks a transition. */
  apply(record: MetadataRecord, offset: number): void {
    if (offset <= this.offset_) throw new MetadataReplayError(`metadata record at offset ${offset} is not after the image's offset ${this.offset_}`)
    switch (record.type) {
      case 'TopicRecord': {
        const byName = this.topics.get(record.name)
        const byId = this.topicsById.get(record.topicId)
        assertTransition(record.type, byName || byId ? 'present' : 'absent', `topic ${record.name} (${record.topicId})`, offset)
        this.putTopic({ name: record.name, topicId: record.topicId, partitions: [], configs: {}, internal: INTERNAL_TOPICS.has(record.name) })
        break
      }
      case 'PartitionRecord': {
        const topic = this.topicById(record, offset)
        const exists = record.partitionId < topic.partitions.length
        assertTransition(record.type, exists ? 'present' : 'absent', `partition ${topic.name}-${record.partitionId}`, offset)
        if (record.partitionId !== topic.partitions.length) {
          throw new MetadataReplayError(`metadata record at offset ${offset}: PartitionRecord for ${topic.name}-${record.partitionId}, but the topic has ${topic.partitions.length} partitions (ids are contiguous)`)
        }
        const partition = frozenPartition({
          partition: record.partitionId,
          replicas: record.replicas,
          isr: record.isr,
          leader: record.leader,
          leaderEpoch: record.leaderEpoch,
          partitionEpoch: record.partitionEpoch,
        })
        this.putTopic({ ...topic, partitions: [...topic.partitions, partition] })
        break
      }
      case 'PartitionChangeRecord': {
        const topic = this.topicById(record, offset)
        const old = topic.partitions[record.partitionId]
        assertTransition(record.type, old ? 'present' : 'absent', `partition ${topic.name}-${record.partitionId}`, offset)
        const leaderChanged = record.leader !== -2 && record.leader !== old!.leader
        const partition = frozenPartition({
          partition: old!.partition,
          replicas: record.replicas ?? old!.replicas,
          isr: record.isr ?? old!.isr,
          leader: record.leader === -2 ? old!.leader : record.leader,
          // As Kafka: a new leader (or new replicas) bumps the leader epoch; every change bumps the partition epoch.
          leaderEpoch: leaderChanged || record.replicas !== null ? old!.leaderEpoch + 1 : old!.leaderEpoch,
          partitionEpoch: old!.partitionEpoch + 1,
        })
        const partitions = [...topic.partitions]
        partitions[record.partitionId] = partition
        this.putTopic({ ...topic, partitions })
        break
      }
      case 'RemoveTopicRecord': {
        const topic = this.topicsById.get(record.topicId)
        assertTransition(record.type, topic ? 'present' : 'absent', `topic id ${record.topicId}`, offset)
        const [byName, byId] = this.writableTopics()
        byName.delete(topic!.name)
        byId.delete(topic!.topicId)
        break
      }
      case 'ConfigRecord': {
        if (record.resourceType === ConfigResourceTypeId.topic) {
          const topic = this.topics.get(record.resourceName)
          assertTransition(record.type, topic ? 'present' : 'absent', `topic ${record.resourceName}`, offset)
          const configs: Record<string, string> = { ...topic!.configs }
          if (record.value === null) delete configs[record.name]
          else configs[record.name] = record.value
          this.putTopic({ ...topic!, configs })
        } else if (record.resourceType === ConfigResourceTypeId.broker) {
          this.brokerConfigs_ ??= new Map(this.base.brokerConfigs ?? [])
          const configs: Record<string, string> = { ...this.brokerConfigs_.get(record.resourceName) }
          if (record.value === null) delete configs[record.name]
          else configs[record.name] = record.value
          if (Object.keys(configs).length === 0) this.brokerConfigs_.delete(record.resourceName)
          else this.brokerConfigs_.set(record.resourceName, Object.freeze(configs))
        } else {
          throw new MetadataReplayError(`metadata record at offset ${offset}: ConfigRecord for resource type ${record.resourceType}, which peerlog does not keep`)
        }
        break
      }
      case 'RegisterBrokerRecord': {
        const endpoint = record.endPoints.find((e) => e.name === 'PLAINTEXT') ?? record.endPoints[0]
        if (!endpoint) throw new MetadataReplayError(`metadata record at offset ${offset}: RegisterBrokerRecord for broker ${record.brokerId} has no endpoint`)
        assertTransition(record.type, this.brokers.has(record.brokerId) ? 'present' : 'absent', `broker ${record.brokerId}`, offset)
        this.brokers_ ??= new Map(this.base.brokers)
        this.brokers_.set(record.brokerId, Object.freeze({ nodeId: record.brokerId, host: endpoint.host, port: endpoint.port, rack: record.rack, fenced: record.fenced }))
        break
      }
      case 'FeatureLevelRecord':
      case 'NoOpRecord':
        // Feature levels are kept by the controller's state, not the image.
        break
    }
    this.offset_ = offset
    this.changed = true
  }

  private topicById(record: { topicId: TopicId; type: MetadataRecord['type']; partitionId: number }, offset: number): TopicImage {
    const topic = this.topicsById.get(record.topicId)
    if (!topic) throw new MetadataReplayError(`metadata record at offset ${offset}: ${record.type} for partition ${record.partitionId} of unknown topic id ${record.topicId}`)
    return topic
  }

  /** The image as of the records applied so far (the base itself when none were). */
  build(): MetadataImage {
    if (!this.changed) return this.base
    const image: MetadataImage = Object.freeze({
      clusterId: this.base.clusterId,
      controllerId: this.base.controllerId,
      offset: this.offset_,
      brokers: this.brokers,
      topics: this.topics,
      topicsById: this.topicsById,
      brokerConfigs: this.brokerConfigs,
    })
    // The maps now belong to the image: the next write copies them again.
    this.base = image
    this.topics_ = this.topicsById_ = null
    this.brokers_ = null
    this.brokerConfigs_ = null
    this.changed = false
    return image
  }
}

export interface OffsetRecord {
  record: MetadataRecord
  offset: number
}

/** The image after `entries` (in offset order); `image` itself is unchanged. */
export function applyRecords(image: MetadataImage, entries: Iterable<OffsetRecord>): MetadataImage {
  const builder = new ImageBuilder(image)
  for (const { record, offset } of entries) builder.apply(record, offset)
  return builder.build()
}

export function applyRecord(image: MetadataImage, record: MetadataRecord, offset: number): MetadataImage {
  return applyRecords(image, [{ record, offset }])
}
