/**
 * The consumer without groups: the application assigns partitions and positions itself.
 *
 *   const c = new Consumer({ 'bootstrap.servers': 'localhost:9092', 'auto.offset.reset': 'earliest' })
 *   c.assign([{ topic: 't', partition: 0 }])
 *   const records = await c.poll(1000)
 *
 * A partition assigned without a seek starts per auto.offset.reset (earliest, latest, or
 * none: poll() throws OFFSET_OUT_OF_RANGE); so does one whose position falls out of the log.
 * seekToBeginning/End take effect lazily (at the next poll or position), as in Kafka.
 * Configs: fetch.min.bytes, fetch.max.wait.ms, fetch.max.bytes, max.partition.fetch.bytes,
 * max.poll.records, isolation.level, check.crcs, request.timeout.ms, default.api.timeout.ms
 * (offsetsForTimes, position, beginning/endOffsets). group.id is accepted and unused until
 * the group consumer (the fetch machinery, fetcher.ts, is shared with it).
 */
import { systemClock, type Clock } from '../runtime/clock.ts'
import { silentLogger, type Logger } from '../runtime/logger.ts'
import { Cluster } from './cluster.ts'
import { consumerConfig, type ConfigInput, type ConsumerConfig } from './config.ts'
import { timeoutError } from './errors.ts'
import { Fetcher } from './fetcher.ts'
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, listOffsets, type TopicPartition } from './list-offsets.ts'
import type { ClientOptions } from './producer.ts'
import { SubscriptionState, type ConsumerRecord } from './subscription-state.ts'

export type { ConsumerRecord } from './subscription-state.ts'
export type { TopicPartition } from './list-offsets.ts'

export interface OffsetAndTimestamp {
  offset: number
  timestamp: number
  leaderEpoch: number
}

export class Consumer {
  readonly config: ConsumerConfig
  private readonly logger: Logger
  private readonly clock: Clock
  private readonly cluster: Cluster
  private readonly subscriptions: SubscriptionState
  private readonly fetcher: Fetcher
  private closed = false

  constructor(config: ConfigInput, options: ClientOptions = {}) {
    const parsed = consumerConfig(config)
    this.config = parsed.config
    this.logger = options.logger ?? silentLogger
    for (const key of parsed.unknown) this.logger.warn(`the configuration '${key}' was supplied but isn't a known consumer config`)
    this.clock = options.clock ?? systemClock
    this.cluster = new Cluster({ config: this.config, logger: this.logger, allowAutoTopicCreation: this.config['allow.auto.create.topics'] })
    this.subscriptions = new SubscriptionState(this.config['auto.offset.reset'])
    this.fetcher = new Fetcher(this.cluster, this.subscriptions, this.config, this.logger)
  }

  /** Replaces the assignment. Partitions kept keep their positions. */
  assign(partitions: readonly TopicPartition[]): void {
    this.ensureOpen()
    this.subscriptions.assign(partitions)
    this.cluster.addTopics(partitions.map((p) => p.topic))
  }

  assignment(): TopicPartition[] {
    return this.subscriptions.assignment()
  }

  unassign(): void {
    this.subscriptions.assign([])
  }

  /** The next poll() of this partition starts at `offset`. */
  seek(tp: TopicPartition, offset: number): void {
    this.subscriptions.seek(tp, offset)
  }

  /** The next poll() starts at the log start offset (of these partitions, or all assigned). */
  seekToBeginning(partitions: readonly TopicPartition[] = this.assignment()): void {
    for (const tp of partitions) this.subscriptions.requestReset(tp, 'earliest')
  }

  /** The next poll() starts at the log end offset (the high watermark, or the LSO under read_committed). */
  seekToEnd(partitions: readonly TopicPartition[] = this.assignment()): void {
    for (const tp of partitions) this.subscriptions.requestReset(tp, 'latest')
  }

  /** The offset of the next record poll() returns for this partition (resolving a pending reset). */
  async position(tp: TopicPartition, timeoutMs = this.config['default.api.timeout.ms']): Promise<number> {
    const s = this.subscriptions.must(tp)
    const deadline = this.clock.now() + timeoutMs
    while (s.position === null) {
      this.fetcher.maybeResetPositions()
      const error = this.fetcher.takeError()
      if (error) throw error
      const left = deadline - this.clock.now()
      if (left <= 0) throw timeoutError(`position of ${tp.topic}-${tp.partition} not known after ${timeoutMs} ms`)
      await this.fetcher.waitForData(Math.min(left, 100))
    }
    return s.position
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.subscriptions.must(tp).paused = true
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.subscriptions.must(tp).paused = false
  }

  paused(): TopicPartition[] {
    return [...this.subscriptions.states()].filter((s) => s.paused).map(({ topic, partition }) => ({ topic, partition }))
  }

  /**
   * Records of the assigned, unpaused partitions: returns as soon as there are some (at most
   * max.poll.records), or an empty array after `timeoutMs`. Throws a KafkaError for a
   * partition that cannot go on (OFFSET_OUT_OF_RANGE with auto.offset.reset=none, a corrupt
   * batch, an authorization error).
   */
  async poll(timeoutMs: number): Promise<ConsumerRecord[]> {
    this.ensureOpen()
    if (this.subscriptions.size === 0) throw new Error('the consumer is not assigned any partitions')
    const deadline = this.clock.now() + Math.max(0, timeoutMs)
    for (;;) {
      const error = this.fetcher.takeError()
      if (error) throw error
      if (this.fetcher.needsReset) this.fetcher.maybeResetPositions()
      const records = this.fetcher.collect(this.config['max.poll.records'])
      const left = deadline - this.clock.now()
      // Fetch ahead before returning, so the next poll finds data waiting.
      this.fetcher.sendFetches(records.length > 0 ? this.config['fetch.max.wait.ms'] : Math.min(this.config['fetch.max.wait.ms'], Math.max(0, left)))
      if (records.length > 0) return records
      if (left <= 0 || this.closed) return []
      await this.fetcher.waitForData(left)
    }
  }

  /**
   * For each partition, the earliest offset whose timestamp is at or after the one given,
   * or null when there is none.
   */
  async offsetsForTimes(queries: readonly (TopicPartition & { timestamp: number })[], timeoutMs = this.config['default.api.timeout.ms']): Promise<(TopicPartition & { result: OffsetAndTimestamp | null })[]> {
    for (const q of queries) if (!Number.isInteger(q.timestamp) || q.timestamp < 0) throw new RangeError(`offsetsForTimes: timestamp must be >= 0, got ${q.timestamp}`)
    const answers = await listOffsets(this.cluster, queries, this.isolation(), this.clock.now() + timeoutMs)
    return answers.map((a) => ({ topic: a.topic, partition: a.partition, result: a.offset < 0 ? null : { offset: a.offset, timestamp: a.timestamp, leaderEpoch: a.leaderEpoch } }))
  }

  /** The log start offset of each partition. */
  async beginningOffsets(partitions: readonly TopicPartition[], timeoutMs = this.config['default.api.timeout.ms']): Promise<(TopicPartition & { offset: number })[]> {
    const answers = await listOffsets(this.cluster, partitions.map((p) => ({ ...p, timestamp: EARLIEST_TIMESTAMP })), this.isolation(), this.clock.now() + timeoutMs)
    return answers.map(({ topic, partition, offset }) => ({ topic, partition, offset }))
  }

  /** The end offset of each partition (the high watermark, or the LSO under read_committed). */
  async endOffsets(partitions: readonly TopicPartition[], timeoutMs = this.config['default.api.timeout.ms']): Promise<(TopicPartition & { offset: number })[]> {
    const answers = await listOffsets(this.cluster, partitions.map((p) => ({ ...p, timestamp: LATEST_TIMESTAMP })), this.isolation(), this.clock.now() + timeoutMs)
    return answers.map(({ topic, partition, offset }) => ({ topic, partition, offset }))
  }

  /** The partitions of a topic, from the cluster's metadata. */
  async partitionsFor(topic: string): Promise<number[]> {
    this.cluster.addTopics([topic])
    await this.cluster.refreshMetadata()
    return (this.cluster.topics.get(topic)?.partitions ?? []).filter((p) => p !== undefined).map((p) => p.partition)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.fetcher.close()
    this.cluster.close()
  }

  private isolation(): 0 | 1 {
    return this.config['isolation.level'] === 'read_committed' ? 1 : 0
  }

  private ensureOpen(): void {
    if (this.closed) throw new Error('the consumer is closed')
  }
}
