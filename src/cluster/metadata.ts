/**
 * The metadata contract between the controller (which owns the metadata log and decides)
 * and everything that reads cluster state (the broker node, the Kafka request handlers).
 *
 * The metadata image is an immutable snapshot built by replaying the metadata log's
 * records (Kafka's KRaft records: ../shared/kafka-message-specs/internal/TopicRecord.json,
 * PartitionRecord.json, ConfigRecord.json, RemoveTopicRecord.json, RegisterBrokerRecord.json,
 * PartitionChangeRecord.json). Every change produces a new image; readers hold one and never
 * see it change under them.
 *
 * Requests carry Kafka's own semantics and answer per item with Kafka's error codes
 * (TOPIC_ALREADY_EXISTS 36, INVALID_TOPIC_EXCEPTION 17, INVALID_PARTITIONS 37,
 * INVALID_REPLICATION_FACTOR 38, INVALID_CONFIG 40, UNKNOWN_TOPIC_OR_PARTITION 3, ...).
 */

/** A topic id: the 16-byte UUID as base64url without padding (22 characters), as Kafka prints it. */
export type TopicId = string

export interface PartitionImage {
  partition: number
  /** Broker ids holding a replica, the preferred leader first. */
  replicas: readonly number[]
  isr: readonly number[]
  /** -1 when no leader. */
  leader: number
  leaderEpoch: number
  partitionEpoch: number
}

export interface TopicImage {
  name: string
  topicId: TopicId
  /** Index i holds partition i. */
  partitions: readonly PartitionImage[]
  /** Topic-level config overrides, by Kafka's names (`retention.ms`, `cleanup.policy`, ...). */
  configs: Readonly<Record<string, string>>
  /** Internal topics (`__consumer_offsets`, `__transaction_state`). */
  internal: boolean
}

export interface BrokerImage {
  nodeId: number
  /** The advertised Kafka listener. */
  host: string
  port: number
  rack: string | null
  fenced: boolean
}

export interface MetadataImage {
  clusterId: string
  controllerId: number
  /** Offset of the last metadata record applied (-1 for an empty log). */
  offset: number
  brokers: ReadonlyMap<number, BrokerImage>
  topics: ReadonlyMap<string, TopicImage>
  topicsById: ReadonlyMap<TopicId, TopicImage>
  /**
   * Dynamic broker config overrides (AlterConfigs on a broker resource), by resource name:
   * '' for the cluster-wide default, '<node.id>' for one broker. Absent or empty when none.
   * (Added after the first version of this contract; optional so existing literals still type.)
   */
  brokerConfigs?: ReadonlyMap<string, Readonly<Record<string, string>>>
}

export interface CreatableTopic {
  name: string
  /** -1: the broker's `num.partitions`. */
  numPartitions: number
  /** -1: the broker's `default.replication.factor`. */
  replicationFactor: number
  /** Explicit replica assignment: partition index → broker ids (then numPartitions and replicationFactor are -1). */
  assignments?: readonly (readonly number[])[]
  configs?: Readonly<Record<string, string | null>>
}

export interface CreateTopicResult {
  name: string
  errorCode: number
  errorMessage: string | null
  topicId: TopicId | null
  numPartitions: number
  replicationFactor: number
  /** The topic's effective configs (for CreateTopics v5+ responses; empty on error). */
  configs: readonly { name: string; value: string | null; isDefault: boolean; readOnly: boolean; sensitive: boolean }[]
}

export interface DeleteTopicResult {
  name: string | null
  topicId: TopicId | null
  errorCode: number
  errorMessage: string | null
}

export interface CreatePartitionsTopic {
  name: string
  /** The new total number of partitions. */
  count: number
  /** Replica assignment of the new partitions only. */
  assignments?: readonly (readonly number[])[] | null
}

export interface ItemResult {
  name: string
  errorCode: number
  errorMessage: string | null
}

export type ConfigResourceType = 'topic' | 'broker'

export interface AlterConfigsResource {
  type: ConfigResourceType
  name: string
  /** AlterConfigs: the full set (unlisted keys go back to defaults). IncrementalAlterConfigs: the operations. */
  configs: readonly { name: string; value: string | null; op?: 'set' | 'delete' | 'append' | 'subtract' }[]
}

export interface MetadataService {
  /** The current image (immutable). */
  image(): MetadataImage
  /** Called after every change with the new image; returns an unsubscribe function. */
  onChange(listener: (image: MetadataImage, previous: MetadataImage) => void): () => void
  createTopics(topics: readonly CreatableTopic[], options: { validateOnly: boolean }): Promise<CreateTopicResult[]>
  deleteTopics(topics: readonly { name?: string; topicId?: TopicId }[]): Promise<DeleteTopicResult[]>
  createPartitions(topics: readonly CreatePartitionsTopic[], options: { validateOnly: boolean }): Promise<ItemResult[]>
  /** `incremental` picks IncrementalAlterConfigs semantics over AlterConfigs'. */
  alterConfigs(resources: readonly AlterConfigsResource[], options: { validateOnly: boolean; incremental: boolean }): Promise<(ItemResult & { type: ConfigResourceType })[]>
}
