/**
 * The producer: `send()` partitions a record, appends it to the accumulator and resolves to
 * `{ topic, partition, offset, timestamp }` once the broker has it (per `acks`); a sender,
 * woken by appends, timers and responses, drains ready batches into Produce requests, one
 * per leader, at most max.in.flight.requests.per.connection per broker at a time.
 *
 * Configs (Kafka's names and defaults, config.ts): acks (all), linger.ms (5), batch.size,
 * buffer.memory, max.block.ms (how long send() waits for metadata or buffer room),
 * max.request.size, compression.type (none, gzip, snappy, lz4, zstd) and its levels, retries
 * with retry.backoff.ms / retry.backoff.max.ms, request.timeout.ms, delivery.timeout.ms (from
 * send() to success or failure, retries included), max.in.flight.requests.per.connection
 * (with 1, a partition is muted while its batch is in flight, so retries keep order),
 * partitioner.ignore.keys.
 *
 * Not idempotent yet: enable.idempotence must be false (config.ts rejects true), so a retry
 * after a lost response can write a batch twice, and with more than one request in flight a
 * retried batch can land after a later one, as with Kafka's non-idempotent producer.
 */
import { ErrorCode } from '../protocol/kafka/error-codes.ts'
import { ApiKey } from '../protocol/kafka/generated/index.ts'
import type { ProduceResponse } from '../protocol/kafka/generated/produce.ts'
import { buildRecordBatch } from '../record/record-batch.ts'
import { Compression, loadCodec } from '../record/compression/index.ts'
import type { RecordHeader, RecordInput } from '../record/record.ts'
import { systemClock, type Clock } from '../runtime/clock.ts'
import { silentLogger, type Logger } from '../runtime/logger.ts'
import { Cluster } from './cluster.ts'
import { producerConfig, retryBackoffMs, type ConfigInput, type ProducerConfig } from './config.ts'
import { KafkaError, networkError, responseError, timeoutError } from './errors.ts'
import { mathRandom, partitionForKey, StickyPartitioner, type Random } from './partitioner.ts'
import { RecordAccumulator, type ProducerBatch, type RecordMetadata } from './record-accumulator.ts'

export type { RecordMetadata } from './record-accumulator.ts'

export type Bytes = Uint8Array | string

export interface ProducerRecord {
  topic: string
  /** Sends to this partition; otherwise the key's murmur2 partition, or the sticky one. */
  partition?: number | null
  key?: Bytes | null
  value: Bytes | null
  /** In order; a header key may repeat. An object gives one header per property. */
  headers?: readonly { key: string; value: Bytes | null }[] | { readonly [key: string]: Bytes | null }
  /** Create time, epoch ms; default the clock's now at send(). */
  timestamp?: number
}

export interface ClientOptions {
  logger?: Logger
  clock?: Clock
  random?: Random
}

const utf8 = new TextEncoder()
export function toBytes(b: Bytes): Uint8Array
export function toBytes(b: Bytes | null | undefined): Uint8Array | null
export function toBytes(b: Bytes | null | undefined): Uint8Array | null {
  if (b === null || b === undefined) return null
  return typeof b === 'string' ? utf8.encode(b) : b
}

function toHeaders(h: ProducerRecord['headers']): RecordHeader[] {
  if (h === undefined) return []
  if (Array.isArray(h)) return (h as { key: string; value: Bytes | null }[]).map((x) => ({ key: x.key, value: toBytes(x.value) }))
  return Object.entries(h as { [key: string]: Bytes | null }).map(([key, value]) => ({ key, value: toBytes(value) }))
}

/** Errors after which the leader may have moved: refresh metadata before the retry. */
const METADATA_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.NETWORK_EXCEPTION,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.KAFKA_STORAGE_ERROR,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.NOT_ENOUGH_REPLICAS,
])

export class Producer {
  readonly config: ProducerConfig
  private readonly logger: Logger
  private readonly clock: Clock
  private readonly cluster: Cluster
  private readonly accumulator: RecordAccumulator
  private readonly sticky: StickyPartitioner
  private readonly random: Random
  private readonly compression: Compression
  /** Produce requests in flight per broker. */
  private readonly inFlightByNode = new Map<number, number>()
  /** Partitions with a batch in flight, muted while max.in.flight.requests.per.connection is 1. */
  private readonly mutedPartitions = new Set<string>()
  /** Appends waiting for metadata or buffer room, in send() order. */
  private appendChain: Promise<void> = Promise.resolve()
  private waitingAppends = 0
  private readonly memoryWaiters: (() => void)[] = []
  private wakeTimer: ReturnType<typeof setTimeout> | null = null
  private wakeAtMs = Infinity
  private wakeScheduled = false
  private codecReady: Promise<void> | null = null
  private closed = false

  constructor(config: ConfigInput, options: ClientOptions = {}) {
    const parsed = producerConfig(config)
    this.config = parsed.config
    this.logger = options.logger ?? silentLogger
    for (const key of parsed.unknown) this.logger.warn(`the configuration '${key}' was supplied but isn't a known producer config`)
    this.clock = options.clock ?? systemClock
    this.random = options.random ?? mathRandom
    this.cluster = new Cluster({
      config: this.config,
      logger: this.logger,
      maxInFlightRequestsCount: this.config['max.in.flight.requests.per.connection'],
      allowAutoTopicCreation: true,
    })
    this.accumulator = new RecordAccumulator({ batchSizeBytes: this.config['batch.size'], lingerMs: this.config['linger.ms'] })
    this.sticky = new StickyPartitioner(this.random)
    this.compression = Compression[this.config['compression.type']]
  }

  /**
   * Sends a record; resolves when the broker acknowledged it (per acks), rejects with a
   * KafkaError when it could not be delivered within delivery.timeout.ms, or at once for a
   * non-retriable error.
   */
  send(record: ProducerRecord): Promise<RecordMetadata> {
    if (this.closed) return Promise.reject(new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, 'the producer is closed', { retriable: false }))
    const timestamp = record.timestamp ?? this.clock.now()
    const input: RecordInput = { key: toBytes(record.key), value: toBytes(record.value), headers: toHeaders(record.headers), timestamp }
    return new Promise<RecordMetadata>((resolve, reject) => {
      const callback = { resolve, reject }
      const size = input.key?.length ?? 0
      const bytes = size + (input.value?.length ?? 0) + 70
      if (bytes > this.config['max.request.size']) {
        reject(new KafkaError(ErrorCode.MESSAGE_TOO_LARGE, `the record is ${bytes} bytes when serialized, larger than max.request.size (${this.config['max.request.size']})`))
        return
      }
      const topic = this.cluster.topics.get(record.topic)
      if (this.waitingAppends === 0 && topic !== undefined && topic.partitions.length > 0 && this.hasRoom(bytes) && this.codecIsReady()) {
        try {
          this.append(record, input, callback)
        } catch (e) {
          reject(e as Error)
        }
        return
      }
      this.waitingAppends++
      this.appendChain = this.appendChain.then(async () => {
        try {
          const deadline = this.clock.now() + this.config['max.block.ms']
          await this.ensureCodec()
          await this.waitForTopic(record.topic, deadline)
          await this.waitForRoom(bytes, deadline)
          this.append(record, input, callback)
        } catch (e) {
          reject(e as Error)
        } finally {
          this.waitingAppends--
        }
      })
    })
  }

  /** The partitions of a topic (waiting up to max.block.ms for its metadata). */
  async partitionsFor(topic: string): Promise<{ partition: number; leader: number; replicas: number[]; isr: number[] }[]> {
    const t = await this.waitForTopic(topic, this.clock.now() + this.config['max.block.ms'])
    return t.partitions.map((p) => ({ partition: p.partition, leader: p.leader, replicas: p.replicas, isr: p.isr }))
  }

  /** Sends everything buffered now and resolves when every record sent before it has completed (successfully or not). */
  async flush(): Promise<void> {
    this.accumulator.flushing++
    try {
      await this.appendChain
      this.wakeup()
      await Promise.all([...this.accumulator.all()].map((b) => b.done))
    } finally {
      this.accumulator.flushing--
    }
  }

  /**
   * Flushes, then closes the connections. With `timeoutMs`, records still unsent after it
   * fail instead of being waited for.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return
    this.closed = true
    const flushed = this.flush()
    if (options.timeoutMs !== undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined
      const timedOut = await Promise.race([
        flushed.then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), options.timeoutMs))),
      ])
      clearTimeout(timer)
      if (timedOut) {
        for (const b of this.accumulator.all()) b.fail(timeoutError(`the producer closed before ${b.topic}-${b.partition} was delivered`))
      }
    } else {
      await flushed
    }
    if (this.wakeTimer) clearTimeout(this.wakeTimer)
    this.cluster.close()
  }

  private codecIsReady(): boolean {
    return this.compression !== Compression.zstd || this.codecReady !== null
  }

  private ensureCodec(): Promise<void> {
    this.codecReady ??= loadCodec(this.compression)
    return this.codecReady
  }

  private hasRoom(bytes: number): boolean {
    return this.accumulator.bufferedBytes + bytes <= this.config['buffer.memory'] || this.accumulator.bufferedBytes === 0
  }

  private async waitForRoom(bytes: number, deadline: number): Promise<void> {
    while (!this.hasRoom(bytes)) {
      const left = deadline - this.clock.now()
      if (left <= 0) throw timeoutError(`failed to allocate ${bytes} bytes within max.block.ms (${this.config['max.block.ms']}): buffer.memory (${this.config['buffer.memory']}) is full`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.memoryWaiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  private async waitForTopic(name: string, deadline: number) {
    this.cluster.addTopics([name])
    for (let attempt = 1; ; attempt++) {
      const t = this.cluster.topics.get(name)
      if (t !== undefined && t.partitions.length > 0) return t
      const code = this.cluster.topicErrors.get(name)
      if (code !== undefined && !new KafkaError(code).retriable) throw responseError(code, `topic ${name}`)!
      try {
        await this.cluster.refreshMetadata()
      } catch (e) {
        if (!(e instanceof KafkaError) || !e.retriable) throw e
        this.logger.debug(`metadata for ${name}: ${e.message}`)
      }
      const again = this.cluster.topics.get(name)
      if (again !== undefined && again.partitions.length > 0) return again
      const left = deadline - this.clock.now()
      if (left <= 0) throw timeoutError(`topic ${name} not present in metadata after ${this.config['max.block.ms']} ms`)
      await sleep(Math.min(left, retryBackoffMs(this.config, attempt, () => this.random.next())))
    }
  }

  private append(record: ProducerRecord, input: RecordInput, callback: { resolve: (m: RecordMetadata) => void; reject: (e: Error) => void }): void {
    const topic = this.cluster.topics.get(record.topic)!
    const n = topic.partitions.length
    const now = this.clock.now()
    if (record.partition !== undefined && record.partition !== null) {
      if (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= n) {
        throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `invalid partition ${record.partition} for topic ${record.topic}: it has partitions 0-${n - 1}`, { retriable: false })
      }
      this.accumulator.append(record.topic, record.partition, input, callback, now)
    } else if (input.key !== null && input.key !== undefined && !this.config['partitioner.ignore.keys']) {
      this.accumulator.append(record.topic, partitionForKey(input.key, n), input, callback, now)
    } else {
      const available = topic.partitions.filter((p) => p !== undefined && p.leader >= 0).map((p) => p.partition)
      const p = this.sticky.partition(record.topic, n, available)
      if (!this.accumulator.append(record.topic, p, input, callback, now, true)) {
        this.sticky.onNewBatch(record.topic, n, available, p)
        this.accumulator.append(record.topic, this.sticky.partition(record.topic, n, available), input, callback, now)
      }
    }
    this.wakeup()
  }

  /** Runs the sender soon (once per turn however many appends asked). */
  private wakeup(): void {
    if (this.wakeScheduled) return
    this.wakeScheduled = true
    queueMicrotask(() => {
      this.wakeScheduled = false
      this.runSender()
    })
  }

  private wakeAt(ms: number): void {
    if (ms === Infinity || ms >= this.wakeAtMs) return
    if (this.wakeTimer) clearTimeout(this.wakeTimer)
    this.wakeAtMs = ms
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = null
      this.wakeAtMs = Infinity
      this.runSender()
    }, Math.max(0, ms - this.clock.now()))
  }

  private runSender(): void {
    const now = this.clock.now()
    const deliveryTimeout = this.config['delivery.timeout.ms']
    if (this.accumulator.expire(now, deliveryTimeout, (b) => this.expiredError(b, now)) > 0) this.freeMemory()
    const muteWhileInFlight = this.config['max.in.flight.requests.per.connection'] === 1
    const { ready, nextCheckMs } = this.accumulator.ready(now, (t, p) => muteWhileInFlight && this.mutedPartitions.has(`${p}\u0000${t}`))
    let nextMs = nextCheckMs
    const byNode = new Map<number, ProducerBatch[]>()
    let needMetadata = false
    for (const b of ready) {
      const leader = this.cluster.leaderFor(b.topic, b.partition)
      if (leader < 0 || this.cluster.metadataVersion <= b.waitForMetadataAfter) {
        needMetadata = true
        nextMs = Math.min(nextMs, now + this.config['retry.backoff.ms'])
        continue
      }
      let list = byNode.get(leader)
      if (list === undefined) byNode.set(leader, (list = []))
      list.push(b)
    }
    // Once a batch is due, its partition's metadata ages too: refresh when stale.
    if (needMetadata) this.cluster.requestUpdate()
    if (needMetadata || byNode.size > 0 || this.accumulator.inFlight.size > 0) {
      this.cluster.maybeRefresh(now).catch((e: Error) => this.logger.debug(`metadata refresh: ${e.message}`))
    }
    const maxRequest = this.config['max.request.size']
    for (const [node, batches] of byNode) {
      if ((this.inFlightByNode.get(node) ?? 0) >= this.config['max.in.flight.requests.per.connection']) continue
      const take: ProducerBatch[] = []
      let size = 0
      for (const b of batches) {
        if (b.bytes === null) b.bytes = this.encode(b)
        if (take.length > 0 && size + b.bytes.length > maxRequest) break
        take.push(b)
        size += b.bytes.length
      }
      for (const b of take) this.accumulator.drain(b)
      if (take.length < batches.length) nextMs = now
      this.sendProduce(node, take)
    }
    // Expiry of the oldest queued batch.
    for (const b of this.accumulator.all()) {
      if (!this.accumulator.inFlight.has(b)) nextMs = Math.min(nextMs, b.createdMs + deliveryTimeout)
    }
    this.wakeAt(nextMs)
  }

  private encode(b: ProducerBatch): Uint8Array {
    const level = this.compression === Compression.gzip ? this.config['compression.gzip.level'] : this.compression === Compression.zstd ? this.config['compression.zstd.level'] : undefined
    return buildRecordBatch(b.records, {
      compression: this.compression,
      ...(level !== undefined && level !== -1 ? { compressionLevel: level } : {}),
    })
  }

  private expiredError(b: ProducerBatch, now: number): KafkaError {
    return timeoutError(`expiring ${b.recordCount} record(s) for ${b.topic}-${b.partition}: ${now - b.createdMs} ms has passed since batch creation (delivery.timeout.ms ${this.config['delivery.timeout.ms']})`)
  }

  private sendProduce(node: number, batches: ProducerBatch[]): void {
    const acks = this.config.acks
    this.inFlightByNode.set(node, (this.inFlightByNode.get(node) ?? 0) + 1)
    for (const b of batches) {
      b.attempts++
      this.mutedPartitions.add(`${b.partition}\u0000${b.topic}`)
    }
    const byTopic = new Map<string, ProducerBatch[]>()
    for (const b of batches) {
      const list = byTopic.get(b.topic)
      if (list) list.push(b)
      else byTopic.set(b.topic, [b])
    }
    const build = () => ({
      transactionalId: null,
      acks,
      timeoutMs: this.config['request.timeout.ms'],
      topicData: [...byTopic].map(([name, list]) => ({ name, partitionData: list.map((b) => ({ index: b.partition, records: b.bytes })) })),
    })
    const done = (outcome: ProduceResponse | Error | null) => {
      this.inFlightByNode.set(node, (this.inFlightByNode.get(node) ?? 1) - 1)
      for (const b of batches) this.mutedPartitions.delete(`${b.partition}\u0000${b.topic}`)
      if (outcome === null) {
        for (const b of batches) this.completeBatch(b, -1, -1)
      } else if (outcome instanceof Error) {
        const e = outcome instanceof KafkaError ? outcome : networkError(outcome.message, outcome)
        for (const b of batches) this.failBatch(b, e)
      } else {
        this.handleResponse(outcome, batches)
      }
      this.freeMemory()
      this.runSender()
    }
    if (acks === 0) {
      this.cluster.sendOneWay(node, ApiKey.Produce, build).then(() => done(null), (e: Error) => done(e))
    } else {
      this.cluster.send(node, ApiKey.Produce, build).then(({ response }) => done(response), (e: Error) => done(e))
    }
  }

  private handleResponse(response: ProduceResponse, batches: ProducerBatch[]): void {
    const answered = new Set<ProducerBatch>()
    for (const t of response.responses) {
      for (const p of t.partitionResponses) {
        const b = batches.find((x) => x.topic === t.name && x.partition === p.index)
        if (b === undefined) continue
        answered.add(b)
        if (p.errorCode === ErrorCode.NONE) {
          this.completeBatch(b, Number(p.baseOffset), Number(p.logAppendTimeMs))
        } else {
          this.failBatch(b, responseError(p.errorCode, `${b.topic}-${b.partition}`, p.errorMessage)!)
        }
      }
    }
    for (const b of batches) {
      if (!answered.has(b)) this.failBatch(b, new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `the Produce response did not answer for ${b.topic}-${b.partition}`))
    }
  }

  private completeBatch(b: ProducerBatch, baseOffset: number, logAppendTimeMs: number): void {
    this.accumulator.release(b)
    b.complete(baseOffset, logAppendTimeMs)
  }

  private failBatch(b: ProducerBatch, error: KafkaError): void {
    let e = error
    const now = this.clock.now()
    const retryAt = now + retryBackoffMs(this.config, b.attempts, () => this.random.next())
    if (e.retriable && retryAt >= b.createdMs + this.config['delivery.timeout.ms']) {
      e = timeoutError(`${this.expiredError(b, now).message}; last error: ${e.message}`)
    } else if (e.retriable && b.attempts <= this.config.retries) {
      if (METADATA_ERRORS.has(e.code)) {
        this.cluster.requestUpdate()
        b.waitForMetadataAfter = this.cluster.metadataVersion
      }
      this.logger.debug(`retrying ${b.topic}-${b.partition} (attempt ${b.attempts + 1}): ${e.message}`)
      this.accumulator.reenqueue(b, retryAt)
      return
    }
    this.accumulator.release(b)
    b.fail(e)
  }

  private freeMemory(): void {
    for (const w of this.memoryWaiters.splice(0)) w()
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
