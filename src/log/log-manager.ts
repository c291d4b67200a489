/**
 * LogManager — one data directory and the partition logs in it, laid out as Kafka does:
 *
 *   <data-dir>/<topic>-<partition>/            one PartitionLog each
 *   <data-dir>/recovery-point-offset-checkpoint  offsets below which each log was fsynced
 *   <data-dir>/log-start-offset-checkpoint       each log's start offset (DeleteRecords)
 *   <data-dir>/replication-offset-checkpoint     each log's high watermark
 *   <data-dir>/.kafka_cleanshutdown              present only between a clean stop and the next start
 *
 * On open, the marker tells whether the logs need a recovery scan; it is removed at once
 * so that a crash afterwards is seen as unclean. A checkpoint file that cannot be read is
 * logged and treated as absent: the logs then recover from offset 0, which is slow but safe.
 */
import type { Clock } from '../runtime/clock.ts'
import { type Logger, silentLogger } from '../runtime/logger.ts'
import {
  LOG_START_OFFSET_CHECKPOINT,
  OffsetCheckpointFile,
  RECOVERY_POINT_OFFSET_CHECKPOINT,
  REPLICATION_OFFSET_CHECKPOINT,
  type TopicPartitionOffset,
} from './checkpoint-file.ts'
import { errorMessage, KafkaStorageError } from './errors.ts'
import { cleanLog } from './log-cleaner.ts'
import { DEFAULT_LOG_CONFIG, type LogConfig } from './log-config.ts'
import { PartitionLog } from './partition-log.ts'
import { joinPath, mkdirpDurable, type Storage } from './storage.ts'

export const CLEAN_SHUTDOWN_MARKER = '.kafka_cleanshutdown'
/** Suffix Kafka gives a partition directory that is being deleted. */
const DELETE_DIR_SUFFIX = '-delete'

export interface LogManagerOptions {
  storage: Storage
  dataDir: string
  clock: Clock
  logger?: Logger
  /** Config for logs created without their own (the broker's topic defaults). */
  defaultConfig?: LogConfig
  /** Per-topic configs known at open (from the metadata image), keyed by topic name. */
  topicConfigs?: ReadonlyMap<string, LogConfig>
}

export interface TopicPartition {
  topic: string
  partition: number
}

const key = (topic: string, partition: number) => `${topic}-${partition}`

/** `<topic>-<partition>` → its parts; null for anything else (topic names may contain '-'). */
export function parsePartitionDirName(name: string): TopicPartition | null {
  const m = /^(.+)-(\d+)$/.exec(name)
  return m ? { topic: m[1]!, partition: Number(m[2]) } : null
}

export class LogManager {
  readonly dataDir: string
  private readonly storage: Storage
  private readonly clock: Clock
  private readonly logger: Logger
  private readonly defaultConfig: LogConfig
  private readonly logs_ = new Map<string, { tp: TopicPartition; log: PartitionLog }>()
  /** Whether the previous stop was clean (start-up skipped the recovery scans). */
  readonly wasCleanShutdown: boolean
  private closed = false

  private constructor(options: LogManagerOptions, wasClean: boolean) {
    this.dataDir = options.dataDir
    this.storage = options.storage
    this.clock = options.clock
    this.logger = options.logger ?? silentLogger
    this.defaultConfig = options.defaultConfig ?? { ...DEFAULT_LOG_CONFIG }
    this.wasCleanShutdown = wasClean
  }

  static open(options: LogManagerOptions): LogManager {
    const { storage, dataDir } = options
    mkdirpDurable(storage, dataDir)
    const marker = joinPath(dataDir, CLEAN_SHUTDOWN_MARKER)
    const clean = storage.exists(marker)
    const manager = new LogManager(options, clean)
    manager.loadLogs(options.topicConfigs ?? new Map())
    if (clean) {
      storage.remove(marker)
      storage.syncDir(dataDir)
    }
    return manager
  }

  private readCheckpoint(name: string): Map<string, number> {
    const { entries, problem } = OffsetCheckpointFile.read(this.storage, joinPath(this.dataDir, name))
    if (problem) this.logger.warn(`${this.dataDir}: ${name} unreadable (${problem}); ignoring it`)
    return new Map(entries.map((e) => [key(e.topic, e.partition), e.offset]))
  }

  private loadLogs(topicConfigs: ReadonlyMap<string, LogConfig>): void {
    const recoveryPoints = this.readCheckpoint(RECOVERY_POINT_OFFSET_CHECKPOINT)
    const logStartOffsets = this.readCheckpoint(LOG_START_OFFSET_CHECKPOINT)
    const highWatermarks = this.readCheckpoint(REPLICATION_OFFSET_CHECKPOINT)
    const started = this.clock.now()
    for (const name of this.storage.list(this.dataDir)) {
      const path = joinPath(this.dataDir, name)
      if (name.endsWith(DELETE_DIR_SUFFIX)) {
        this.storage.removeDir(path)
        this.logger.info(`${this.dataDir}: removed ${name}, a partition whose deletion a stop interrupted`)
        continue
      }
      const tp = parsePartitionDirName(name)
      if (!tp) continue
      const k = key(tp.topic, tp.partition)
      const log = PartitionLog.open({
        storage: this.storage,
        dir: path,
        config: topicConfigs.get(tp.topic) ?? this.defaultConfig,
        clock: this.clock,
        logger: this.logger,
        cleanShutdown: this.wasCleanShutdown,
        recoveryPoint: recoveryPoints.get(k) ?? 0,
        logStartOffset: logStartOffsets.get(k) ?? 0,
        highWatermark: highWatermarks.get(k) ?? 0,
      })
      this.logs_.set(k, { tp, log })
    }
    if (this.logs_.size > 0) {
      this.logger.info(`${this.dataDir}: loaded ${this.logs_.size} partition logs in ${this.clock.now() - started} ms (${this.wasCleanShutdown ? 'clean' : 'unclean'} previous stop)`)
    }
  }

  get(topic: string, partition: number): PartitionLog | undefined {
    return this.logs_.get(key(topic, partition))?.log
  }

  getOrCreate(topic: string, partition: number, config?: LogConfig): PartitionLog {
    this.ensureOpen()
    const existing = this.get(topic, partition)
    if (existing) return existing
    const log = PartitionLog.open({
      storage: this.storage,
      dir: joinPath(this.dataDir, key(topic, partition)),
      config: config ?? this.defaultConfig,
      clock: this.clock,
      logger: this.logger,
    })
    this.storage.syncDir(this.dataDir)
    this.logs_.set(key(topic, partition), { tp: { topic, partition }, log })
    return log
  }

  /** Deletes a partition's log and directory (topic deletion). */
  delete(topic: string, partition: number): boolean {
    const k = key(topic, partition)
    const entry = this.logs_.get(k)
    if (!entry) return false
    entry.log.delete()
    this.logs_.delete(k)
    this.storage.syncDir(this.dataDir)
    return true
  }

  all(): { topic: string; partition: number; log: PartitionLog }[] {
    return [...this.logs_.values()].map(({ tp, log }) => ({ ...tp, log }))
  }

  /** Writes the three checkpoint files from the logs' current state (atomically each). */
  checkpoint(): void {
    const collect = (pick: (log: PartitionLog) => number): TopicPartitionOffset[] =>
      this.all().filter((e) => !e.log.offline).map((e) => ({ topic: e.topic, partition: e.partition, offset: pick(e.log) }))
    const write = (name: string, entries: TopicPartitionOffset[]) => {
      try {
        OffsetCheckpointFile.write(this.storage, joinPath(this.dataDir, name), entries)
      } catch (err) {
        throw new KafkaStorageError(`${this.dataDir}: writing ${name} failed: ${errorMessage(err)}`, err)
      }
    }
    write(RECOVERY_POINT_OFFSET_CHECKPOINT, collect((l) => l.recoveryPoint))
    write(LOG_START_OFFSET_CHECKPOINT, collect((l) => l.logStartOffset))
    write(REPLICATION_OFFSET_CHECKPOINT, collect((l) => l.highWatermark))
  }

  /** Retention over every log (the broker's `log.retention.check.interval.ms` timer calls this). */
  cleanupLogs(): number {
    let deleted = 0
    for (const { log } of this.all()) if (!log.offline) deleted += log.deleteOldSegments()
    return deleted
  }

  /** Compaction over every log whose cleanup.policy includes compact (the broker's cleaner timer calls this). */
  compactLogs(): number {
    let segments = 0
    for (const { log } of this.all()) {
      if (!log.offline && log.compacted) segments += cleanLog(log, { now: this.clock.now(), logger: this.logger }).segmentsCleaned
    }
    return segments
  }

  /** Flushes the logs whose `flush.ms` has passed (the broker's flush timer calls this). */
  flushDirtyLogs(): number {
    let flushed = 0
    for (const { log } of this.all()) if (log.maybeFlush()) flushed++
    return flushed
  }

  /** Flushes and closes every log, writes the checkpoints, then the clean-shutdown marker. */
  close(): void {
    if (this.closed) return
    let allClean = true
    for (const { log } of this.all()) {
      if (log.offline) allClean = false
      log.close()
    }
    this.checkpoint()
    if (allClean) {
      const marker = this.storage.open(joinPath(this.dataDir, CLEAN_SHUTDOWN_MARKER), { create: true })
      marker.sync()
      marker.close()
      this.storage.syncDir(this.dataDir)
    }
    this.closed = true
  }

  private ensureOpen(): void {
    if (this.closed) throw new Error(`${this.dataDir}: log manager is closed`)
  }
}
