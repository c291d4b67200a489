/**
 * The consumer, as Kafka's KafkaConsumer: in a group (subscribe) or on partitions the
 * application assigns itself (assign).
 *
 *   const c = new Consumer({ 'bootstrap.servers': 'localhost:9092', 'group.id': 'g' })
 *   c.subscribe(['t'], { onPartitionsAssigned: (tps) => ..., onPartitionsRevoked: (tps) => ... })
 *   for (;;) handle(await c.poll(1000))      // offsets auto-committed every auto.commit.interval.ms
 *
 * subscribe() takes topic names or a RegExp (tested, as RegExp.test, against every topic's name
 * in the metadata, refreshed every metadata.max.age.ms; internal topics left out unless
 * exclude.internal.topics=false). The group's membership (join, sync, heartbeats, rebalance
 * listener, commits) is consumer-coordinator.ts; it needs group.id. assign() and subscribe()
 * do not mix. A partition the group assigns starts at the group's committed offset, and
 * without one per auto.offset.reset (earliest, latest, or none: poll() throws
 * OFFSET_OUT_OF_RANGE "NoOffsetForPartition"); with a group.id, so does one given to assign().
 * A position that falls out of the log resets per auto.offset.reset. seekToBeginning/End take
 * effect lazily (at the next poll or position), as in Kafka.
 * Configs: fetch.min.bytes, fetch.max.wait.ms, fetch.max.bytes, max.partition.fetch.bytes,
 * max.poll.records, isolation.level, check.crcs, request.timeout.ms, default.api.timeout.ms
 * (offsetsForTimes, position, beginning/endOffsets, commitSync, committed), and the group's:
 * group.id, group.instance.id, session.timeout.ms, heartbeat.interval.ms,
 * max.poll.interval.ms, partition.assignment.strategy, enable.auto.commit,
 * auto.commit.interval.ms, client.rack.
 */
import { systemClock, type Clock } from '../runtime/clock.ts'
import { silentLogger, type Logger } from '../runtime/logger.ts'
import { Cluster } from './cluster.ts'
import { consumerConfig, type ConfigInput, type ConsumerConfig } from './config.ts'
import { ConsumerCoordinator, type CommitCallback, type CommittedPartition, type OffsetAndMetadata, type RebalanceListener } from './consumer-coordinator.ts'
import { KafkaError, timeoutError } from './errors.ts'
import { ErrorCode } from '../protocol/kafka/error-codes.ts'
import { Fetcher } from './fetcher.ts'
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, listOffsets, type TopicPartition } from './list-offsets.ts'
import type { ClientOptions } from './producer.ts'
import { SubscriptionState, type ConsumerRecord } from './subscription-state.ts'

export type { ConsumerRecord } from './subscription-state.ts'
export type { TopicPartition } from './list-offsets.ts'
export type { CommitCallback, CommittedPartition, OffsetAndMetadata, RebalanceListener } from './consumer-coordinator.ts'

/** How long close() may take when not told (Kafka's DEFAULT_CLOSE_TIMEOUT_MS). */
export const DEFAULT_CLOSE_TIMEOUT_MS = 30_000

const NO_GROUP_MESSAGE = 'To use the group management or offset commit APIs, you must provide a valid group.id in the consumer configuration.'

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
  /** null without a group.id. */
  private readonly coordinator: ConsumerCoordinator | null
  private closed = false
  /** From close() on: poll() returns nothing; the listener may still commit until closed. */
  private closing = false

  constructor(config: ConfigInput, options: ClientOptions = {}) {
    const parsed = consumerConfig(config)
    this.config = parsed.config
    this.logger = options.logger ?? silentLogger
    for (const key of parsed.unknown) this.logger.warn(`the configuration '${key}' was supplied but isn't a known consumer config`)
    this.clock = options.clock ?? systemClock
    this.cluster = new Cluster({ config: this.config, logger: this.logger, allowAutoTopicCreation: this.config['allow.auto.create.topics'] })
    this.subscriptions = new SubscriptionState(this.config['auto.offset.reset'])
    this.fetcher = new Fetcher(this.cluster, this.subscriptions, this.config, this.logger)
    this.coordinator =
      this.config['group.id'] === ''
        ? null
        : new ConsumerCoordinator({ cluster: this.cluster, config: this.config, subscriptions: this.subscriptions, logger: this.logger, clock: this.clock, wake: () => this.fetcher.wake() })
  }

  /**
   * Replaces the assignment. Partitions kept keep their positions. Not with subscribe(); an
   * empty list is unsubscribe().
   */
  assign(partitions: readonly TopicPartition[]): void {
    this.ensureOpen()
    if (partitions.length === 0) return this.unassign()
    this.subscriptions.assignManually(partitions, this.coordinator ? 'committed' : undefined)
    this.cluster.addTopics(partitions.map((p) => p.topic))
  }

  assignment(): TopicPartition[] {
    return this.subscriptions.assignment()
  }

  /** Drops a manual assignment (as unsubscribe()). */
  unassign(): void {
    if (this.subscriptions.autoAssigned) throw new Error('unassign() is for partitions given to assign(): use unsubscribe()')
    this.subscriptions.unsubscribe()
  }

  /**
   * Joins the group (group.id) for these topics, or for the topics matching a pattern; the
   * group assigns the partitions. The listener's callbacks run inside poll(), close() and
   * unsubscribe(), and are awaited. Calling it again replaces the subscription (and rejoins).
   */
  subscribe(topics: readonly string[] | RegExp, listener?: RebalanceListener): void {
    this.ensureOpen()
    const coordinator = this.group()
    if (topics instanceof RegExp) {
      this.subscriptions.subscribePattern(topics)
      coordinator.subscribe(null, listener)
      return
    }
    if (topics.length === 0) {
      // As Kafka: an empty list is unsubscribe(); this one cannot wait for the listener.
      void this.unsubscribe().catch((e: Error) => this.logger.warn(`unsubscribe: ${e.message}`))
      return
    }
    for (const t of topics) if (typeof t !== 'string' || t.trim() === '') throw new Error(`invalid topic name ${JSON.stringify(t)} in subscribe()`)
    this.subscriptions.subscribe(topics)
    this.cluster.addTopics(topics)
    coordinator.subscribe(this.subscriptions.subscription(), listener)
  }

  /** The topics subscribed to (for a pattern: those it matches now). */
  subscription(): string[] {
    return [...this.subscriptions.subscription()]
  }

  /** Leaves the group (onPartitionsRevoked first; no commit), or drops a manual assignment. */
  async unsubscribe(): Promise<void> {
    this.ensureOpen()
    if (this.coordinator && this.subscriptions.autoAssigned) await this.coordinator.unsubscribe()
    this.subscriptions.unsubscribe()
  }

  /**
   * Commits offsets (default: the position of every assigned partition, i.e. what poll()
   * returned) and waits for the answer, retrying until `timeoutMs`. Throws a KafkaError naming
   * the partition that failed; REBALANCE_IN_PROGRESS while the group rebalances (poll, then
   * commit again); ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID ("CommitFailed") when the group
   * has moved the partitions to another member.
   */
  async commitSync(offsets?: readonly OffsetAndMetadata[], timeoutMs = this.config['default.api.timeout.ms']): Promise<void> {
    this.ensureOpen()
    await this.group().commitSync(offsets, timeoutMs)
  }

  /**
   * Sends a commit (default: every position) without waiting; `callback` gets its outcome.
   * Commits go out in the order of the calls and are not retried, so a later commit always wins.
   */
  commitAsync(offsets?: readonly OffsetAndMetadata[], callback?: CommitCallback): void {
    this.ensureOpen()
    this.group().commitAsync(offsets, callback)
  }

  /** The group's committed offsets of these partitions (null where there is none). */
  async committed(partitions: readonly TopicPartition[], timeoutMs = this.config['default.api.timeout.ms']): Promise<CommittedPartition[]> {
    this.ensureOpen()
    return this.group().committed(partitions, timeoutMs)
  }

  /** Asks the group for a rebalance now (Kafka's enforceRebalance, KIP-568); it happens in the next polls. */
  enforceRebalance(reason = 'the application asked for a rebalance'): void {
    this.ensureOpen()
    if (!this.subscriptions.autoAssigned) throw new Error('enforceRebalance() needs a subscription (subscribe())')
    this.group().enforceRebalance(reason)
  }

  /** The group's view of this member: ids and generation (-1 / '' outside a generation). */
  groupMetadata(): { groupId: string; memberId: string; generationId: number; groupInstanceId: string | null } {
    const m = this.group().membership
    return { groupId: this.config['group.id'], memberId: m.memberId, generationId: m.generationId, groupInstanceId: this.config['group.instance.id'] }
  }

  private group(): ConsumerCoordinator {
    if (this.coordinator === null) throw new KafkaError(ErrorCode.INVALID_GROUP_ID, NO_GROUP_MESSAGE)
    return this.coordinator
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
      this.coordinator?.refreshCommittedPositions()
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
    if (this.closing) throw new Error('the consumer is closed')
    if (this.subscriptions.subscriptionType === 'NONE') throw new Error('the consumer is not assigned any partitions nor subscribed to any topics')
    const deadline = this.clock.now() + Math.max(0, timeoutMs)
    for (;;) {
      // The group first: the rebalance listener runs here, and the assignment may change.
      if (this.coordinator) await this.coordinator.poll()
      if (this.closing) return []
      const error = this.fetcher.takeError()
      if (error) throw error
      if (this.fetcher.needsReset) this.fetcher.maybeResetPositions()
      const records = this.fetcher.collect(this.config['max.poll.records'])
      const left = deadline - this.clock.now()
      // Fetch ahead before returning, so the next poll finds data waiting.
      this.fetcher.sendFetches(records.length > 0 ? this.config['fetch.max.wait.ms'] : Math.min(this.config['fetch.max.wait.ms'], Math.max(0, left)))
      if (records.length > 0) return records
      if (left <= 0 || this.closing) return []
      await this.fetcher.waitForData(Math.min(left, this.coordinator ? Math.max(1, this.coordinator.waitBoundMs(this.clock.now())) : left))
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

  /**
   * With a group: commits (auto-commit), calls onPartitionsRevoked, leaves the group (a member
   * without group.instance.id), all within `timeoutMs`; then closes the connections.
   */
  async close(timeoutMs = DEFAULT_CLOSE_TIMEOUT_MS): Promise<void> {
    if (this.closing) return
    this.closing = true
    this.fetcher.close()
    try {
      if (this.coordinator) await this.coordinator.close(timeoutMs)
    } finally {
      this.closed = true
      this.cluster.close()
    }
  }

  private isolation(): 0 | 1 {
    return this.config['isolation.level'] === 'read_committed' ? 1 : 0
  }

  private ensureOpen(): void {
    if (this.closed) throw new Error('the consumer is closed')
  }
}
