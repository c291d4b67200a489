/**
 * The consumer's fetch machinery, shared by the assign()-only consumer and the group consumer: one Fetch request in flight per leader at a time for the fetchable
 * partitions (assigned, not paused, with a position, nothing buffered), long-polling with
 * fetch.max.wait.ms / fetch.min.bytes, bounded by fetch.max.bytes per response and
 * max.partition.fetch.bytes per partition; answers are decoded into the partitions' buffers
 * and `collect` hands out up to max.poll.records, advancing positions.
 *
 * Per partition answer: records from the fetch offset on (a compressed batch may begin
 * before it), control batches skipped, aborted transactions skipped under read_committed;
 * OFFSET_OUT_OF_RANGE resets per auto.offset.reset (an error from poll() with `none`);
 * leadership errors refresh the metadata and the partition is fetched again; other errors
 * surface from the next poll(). Offset resets (ListOffsets) run in the background, one batch
 * at a time.
 */
import { ErrorCode } from '../protocol/kafka/error-codes.ts'
import { ApiKey } from '../protocol/kafka/generated/index.ts'
import type { FetchResponsePartitionData } from '../protocol/kafka/generated/fetch.ts'
import { ControlRecordType, decodeControlRecordKey } from '../record/control-record.ts'
import { CorruptRecordError } from '../record/errors.ts'
import { iterateRecordBatches, TimestampType } from '../record/record-batch.ts'
import type { Logger } from '../runtime/logger.ts'
import type { Cluster } from './cluster.ts'
import { retryBackoffMs, type ConsumerConfig } from './config.ts'
import { KafkaError, responseError } from './errors.ts'
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, listOffsets, tpKey } from './list-offsets.ts'
import type { ConsumerRecord, PartitionState, SubscriptionState } from './subscription-state.ts'

const LEADERSHIP_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.KAFKA_STORAGE_ERROR,
  ErrorCode.REPLICA_NOT_AVAILABLE,
  ErrorCode.OFFSET_NOT_AVAILABLE,
])

export class Fetcher {
  private readonly inFlight = new Set<number>()
  /** Brokers not to fetch from before this time (after a failed fetch). */
  private readonly backoffUntil = new Map<number, number>()
  private readonly failures = new Map<number, number>()
  private resetting = false
  private readonly errors: KafkaError[] = []
  private readonly waiters = new Set<() => void>()
  private closed = false

  constructor(
    private readonly cluster: Cluster,
    private readonly subscriptions: SubscriptionState,
    private readonly config: ConsumerConfig,
    private readonly logger: Logger,
  ) {}

  /** The oldest error a poll() must throw, taken out. */
  takeError(): KafkaError | undefined {
    return this.errors.shift()
  }

  /** Whether any partition still needs its position reset. */
  get needsReset(): boolean {
    for (const s of this.subscriptions.states()) if (s.position === null) return true
    return false
  }

  /** Starts resetting positions that need it (ListOffsets), unless a reset is running. */
  maybeResetPositions(): void {
    if (this.resetting || this.closed) return
    const todo: PartitionState[] = []
    for (const s of this.subscriptions.states()) {
      // 'committed': the group coordinator's OffsetFetch decides first (consumer-coordinator.ts).
      if (s.position !== null || s.reset === 'committed') continue
      if (s.reset === 'none' || s.reset === null) {
        s.reset = null
        this.errors.push(new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, `NoOffsetForPartition: no offset for ${s.topic}-${s.partition} and auto.offset.reset is none`, { retriable: false }))
        continue
      }
      todo.push(s)
    }
    if (todo.length === 0) return
    this.resetting = true
    const epochs = todo.map((s) => s.epoch)
    const queries = todo.map((s) => ({ topic: s.topic, partition: s.partition, timestamp: s.reset === 'earliest' ? EARLIEST_TIMESTAMP : LATEST_TIMESTAMP }))
    const isolation = this.config['isolation.level'] === 'read_committed' ? 1 : 0
    listOffsets(this.cluster, queries, isolation, Date.now() + this.config['request.timeout.ms'])
      .then((answers) => {
        answers.forEach((a, i) => {
          const s = this.subscriptions.get(todo[i]!)
          if (s !== undefined && s === todo[i] && s.epoch === epochs[i] && s.position === null) {
            s.position = a.offset
            s.reset = null
          }
        })
      })
      .catch((e: Error) => {
        if (e instanceof KafkaError && e.retriable) this.logger.debug(`offset reset: ${e.message}`)
        else this.errors.push(e instanceof KafkaError ? e : new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, e.message, { cause: e }))
      })
      .finally(() => {
        this.resetting = false
        this.signal()
      })
  }

  /** Sends a Fetch to every leader that has fetchable partitions and no fetch in flight. */
  sendFetches(maxWaitMs: number): void {
    if (this.closed) return
    const now = Date.now()
    const byNode = new Map<number, PartitionState[]>()
    let unknownLeader = false
    for (const s of this.subscriptions.states()) {
      if (s.paused || s.position === null || s.buffer.length > 0) continue
      const leader = this.cluster.leaderFor(s.topic, s.partition)
      if (leader < 0) {
        unknownLeader = true
        continue
      }
      if (this.inFlight.has(leader) || (this.backoffUntil.get(leader) ?? 0) > now) continue
      const list = byNode.get(leader)
      if (list) list.push(s)
      else byNode.set(leader, [s])
    }
    if (unknownLeader) this.cluster.requestUpdate()
    this.cluster.maybeRefresh(now).catch((e: Error) => this.logger.debug(`metadata refresh: ${e.message}`))
    for (const [node, states] of byNode) this.fetchFrom(node, states, maxWaitMs)
  }

  private fetchFrom(node: number, states: PartitionState[], maxWaitMs: number): void {
    this.inFlight.add(node)
    const sent = states.map((s) => ({ state: s, offset: s.position!, epoch: s.epoch }))
    const byTopic = new Map<string, typeof sent>()
    for (const x of sent) {
      const l = byTopic.get(x.state.topic)
      if (l) l.push(x)
      else byTopic.set(x.state.topic, [x])
    }
    const timeout = this.config['request.timeout.ms'] + maxWaitMs
    this.cluster
      .send(
        node,
        ApiKey.Fetch,
        () => ({
          replicaId: -1,
          maxWaitMs,
          minBytes: this.config['fetch.min.bytes'],
          maxBytes: this.config['fetch.max.bytes'],
          isolationLevel: this.config['isolation.level'] === 'read_committed' ? 1 : 0,
          topics: [...byTopic].map(([topic, list]) => ({
            topic,
            partitions: list.map((x) => ({ partition: x.state.partition, fetchOffset: BigInt(x.offset), partitionMaxBytes: this.config['max.partition.fetch.bytes'] })),
          })),
        }),
        timeout,
      )
      .then(({ response }) => {
        this.failures.delete(node)
        if (response.errorCode !== ErrorCode.NONE) throw responseError(response.errorCode, `Fetch from broker ${node}`)!
        for (const t of response.responses) {
          for (const p of t.partitions) {
            const x = byTopic.get(t.topic)?.find((y) => y.state.partition === p.partitionIndex)
            if (x === undefined) continue
            const s = this.subscriptions.get(x.state)
            // Stale: unassigned, reassigned, or sought since the fetch was sent.
            if (s !== x.state || s.epoch !== x.epoch || s.position !== x.offset || s.buffer.length > 0) continue
            this.handlePartition(s, p, x.offset)
          }
        }
      })
      .catch((e: Error) => {
        const n = (this.failures.get(node) ?? 0) + 1
        this.failures.set(node, n)
        this.backoffUntil.set(node, Date.now() + retryBackoffMs(this.config, n))
        if (e instanceof KafkaError && e.retriable) {
          this.logger.debug(`fetch from broker ${node}: ${e.message}`)
          this.cluster.requestUpdate()
        } else {
          this.errors.push(e instanceof KafkaError ? e : new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, e.message, { cause: e }))
        }
      })
      .finally(() => {
        this.inFlight.delete(node)
        this.signal()
      })
  }

  private handlePartition(s: PartitionState, p: FetchResponsePartitionData, fetchOffset: number): void {
    const where = `${s.topic}-${s.partition}`
    if (p.errorCode !== ErrorCode.NONE) {
      if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
        const strategy = this.config['auto.offset.reset']
        if (strategy === 'none') {
          this.errors.push(new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, `fetch position ${fetchOffset} is out of range for ${where}`, { retriable: false }))
        } else {
          this.logger.info(`fetch position ${fetchOffset} is out of range for ${where}; resetting to ${strategy}`)
          this.subscriptions.requestReset(s, strategy)
        }
      } else if (LEADERSHIP_ERRORS.has(p.errorCode)) {
        this.cluster.requestUpdate()
      } else {
        this.errors.push(responseError(p.errorCode, `fetching ${where}`)!)
      }
      return
    }
    s.highWatermark = Number(p.highWatermark)
    s.lastStableOffset = Number(p.lastStableOffset)
    s.logStartOffset = Number(p.logStartOffset)
    const bytes = p.records
    if (bytes === null || bytes.length === 0) return
    const readCommitted = this.config['isolation.level'] === 'read_committed'
    const aborted = readCommitted ? [...(p.abortedTransactions ?? [])].sort((a, b) => Number(a.firstOffset - b.firstOffset)) : []
    const abortedProducers = new Set<number>()
    const out: ConsumerRecord[] = []
    let nextOffset = fetchOffset
    let batches = 0
    try {
      for (const batch of iterateRecordBatches(bytes, 0, bytes.length, { stopAtPartialBatch: true, skipCrc: !this.config['check.crcs'] })) {
        batches++
        if (batch.nextOffset <= fetchOffset) continue
        nextOffset = batch.nextOffset
        while (aborted.length > 0 && Number(aborted[0]!.firstOffset) <= batch.lastOffset) abortedProducers.add(Number(aborted.shift()!.producerId))
        if (batch.isControl) {
          const r = batch.records[0]
          if (readCommitted && r !== undefined && decodeControlRecordKey(r.key).type === ControlRecordType.ABORT) abortedProducers.delete(batch.producerId)
          continue
        }
        if (readCommitted && batch.isTransactional && abortedProducers.has(batch.producerId)) continue
        const timestampType = batch.timestampType === TimestampType.LogAppendTime ? 'LogAppendTime' : 'CreateTime'
        for (const r of batch.records) {
          if (r.offset < fetchOffset) continue
          out.push({ topic: s.topic, partition: s.partition, offset: r.offset, timestamp: r.timestamp, timestampType, key: r.key, value: r.value, headers: r.headers, leaderEpoch: batch.partitionLeaderEpoch })
        }
      }
    } catch (e) {
      if (!(e instanceof CorruptRecordError)) throw e
      this.errors.push(new KafkaError(ErrorCode.CORRUPT_MESSAGE, `a corrupt batch fetched from ${where} at offset ${nextOffset}: ${e.message}`, { retriable: false }))
    }
    if (out.length > 0) s.buffer = out
    else if (nextOffset > fetchOffset) s.position = nextOffset // only skipped batches (control, aborted)
    else if (batches === 0) {
      this.errors.push(new KafkaError(ErrorCode.MESSAGE_TOO_LARGE, `the batch at offset ${fetchOffset} of ${where} is larger than max.partition.fetch.bytes (${this.config['max.partition.fetch.bytes']})`, { retriable: false }))
    }
  }

  /** Takes up to `max` buffered records of partitions not paused, advancing their positions. */
  collect(max: number): ConsumerRecord[] {
    const out: ConsumerRecord[] = []
    for (const s of this.subscriptions.states()) {
      if (out.length >= max) break
      if (s.paused || s.buffer.length === 0) continue
      const take = s.buffer.splice(0, max - out.length)
      for (const r of take) out.push(r)
      const last = take[take.length - 1]!
      s.position = last.offset + 1
      s.positionLeaderEpoch = last.leaderEpoch
    }
    return out
  }

  /** Whether any unpaused partition has records buffered. */
  get hasBuffered(): boolean {
    for (const s of this.subscriptions.states()) if (!s.paused && s.buffer.length > 0) return true
    return false
  }

  /** Resolves when a fetch or reset completes, or after `ms`. */
  waitForData(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.waiters.add(done)
    })
  }

  /** Ends the current waitForData (the group consumer calls it when its membership moves on). */
  wake(): void {
    this.signal()
  }

  private signal(): void {
    for (const w of [...this.waiters]) w()
  }

  close(): void {
    this.closed = true
    this.signal()
  }
}

export { tpKey }
