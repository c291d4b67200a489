/**
 * BrokerConfig — the broker's settings under Kafka's own names (server.properties), with
 * Kafka's defaults where Kafka has them. Topic-level defaults (`log.retention.ms`, ...) map to
 * the topic configs of src/log/log-config.ts.
 */
export interface BrokerConfig {
  'node.id': number
  /** Where partition logs and the metadata log live. */
  'log.dirs': string
  /** `PLAINTEXT://127.0.0.1:9092`: what the broker binds. Port 0 picks a free port. */
  listeners: string
  /** What clients are told to connect to (defaults to the bound listener). */
  'advertised.listeners': string | null
  'auto.create.topics.enable': boolean
  'num.partitions': number
  'default.replication.factor': number
  /** Largest request a connection may send, in bytes (Kafka: socket.request.max.bytes). */
  'socket.request.max.bytes': number
  /** Idle connections are closed after this long (Kafka: connections.max.idle.ms). */
  'connections.max.idle.ms': number
  /** Largest record batch accepted (broker-wide default of the topic config max.message.bytes). */
  'message.max.bytes': number
  'log.segment.bytes': number
  'log.retention.ms': number
  'log.retention.bytes': number
  'log.retention.check.interval.ms': number
  'log.flush.interval.messages': number
  'log.flush.interval.ms': number
  'log.cleanup.policy': string
  /** Partitions of `__consumer_offsets`; a group's coordinator is the leader of partition abs(hash(groupId)) % this. */
  'offsets.topic.num.partitions': number
  /** Replication factor of `__consumer_offsets` (capped at the number of registered brokers). */
  'offsets.topic.replication.factor': number
  'offsets.topic.segment.bytes': number
  /** How long the committed offsets of an empty group (or of a standalone consumer) are kept. */
  'offsets.retention.minutes': number
  'offsets.retention.check.interval.ms': number
  /** How long an offset commit waits for its write to `__consumer_offsets`. */
  'offsets.commit.timeout.ms': number
  /** Largest metadata string of one committed offset. */
  'offset.metadata.max.bytes': number
  /** How long the first rebalance of an empty group waits for more members to join. */
  'group.initial.rebalance.delay.ms': number
  /** The session timeouts a member may ask for. */
  'group.min.session.timeout.ms': number
  'group.max.session.timeout.ms': number
  /** Members per group. */
  'group.max.size': number
  /** Largest number of requests queued per connection before reading from it pauses. */
  'queued.max.requests': number
}

export const DEFAULT_BROKER_CONFIG: Readonly<BrokerConfig> = Object.freeze({
  'node.id': 1,
  'log.dirs': './data',
  listeners: 'PLAINTEXT://127.0.0.1:9092',
  'advertised.listeners': null,
  'auto.create.topics.enable': true,
  'num.partitions': 1,
  'default.replication.factor': 1,
  'socket.request.max.bytes': 104857600,
  'connections.max.idle.ms': 600000,
  'message.max.bytes': 1048588,
  'log.segment.bytes': 1073741824,
  'log.retention.ms': 604800000,
  'log.retention.bytes': -1,
  'log.retention.check.interval.ms': 300000,
  'log.flush.interval.messages': Number.MAX_SAFE_INTEGER,
  'log.flush.interval.ms': Number.MAX_SAFE_INTEGER,
  'log.cleanup.policy': 'delete',
  'offsets.topic.num.partitions': 50,
  'offsets.topic.replication.factor': 3,
  'offsets.topic.segment.bytes': 104857600,
  'offsets.retention.minutes': 10080,
  'offsets.retention.check.interval.ms': 600000,
  'offsets.commit.timeout.ms': 5000,
  'offset.metadata.max.bytes': 4096,
  'group.initial.rebalance.delay.ms': 3000,
  'group.min.session.timeout.ms': 6000,
  'group.max.session.timeout.ms': 1800000,
  'group.max.size': 2147483647,
  'queued.max.requests': 500,
} satisfies BrokerConfig)

/** The broker's static settings, and which of them were given explicitly (a file, --set, startBroker's `config`). */
export interface BrokerSettings {
  config: Readonly<BrokerConfig>
  /** Keys given explicitly: DescribeConfigs reports them as STATIC_BROKER_CONFIG, the rest as DEFAULT_CONFIG. */
  explicit: ReadonlySet<string>
}
