/**
 * The broker-node actor shell: the supervision root of one broker. It follows the metadata
 * image (MetadataService.onChange) and spawns, updates and stops partition-replica actors to
 * match it (state.ts decides), deletes the logs of deleted topics, runs the log manager's
 * periodic jobs on timers (retention, flush, compaction, checkpoints), restarts a crashed
 * replica from its on-disk log (at most RESTART_LIMIT_COUNT times per RESTART_WINDOW_MS, then
 * it stays stopped and its clients get NOT_LEADER_OR_FOLLOWER), and stops cleanly: replicas
 * first, then LogManager.close() (flush, checkpoints, clean-shutdown marker).
 */
import { dispatch, query, type Ref, spawn, start, stop as stopActor } from 'nact'
import type { BrokerSettings } from '../../src/broker/broker-config.ts'
import type { MetadataService } from '../../src/cluster/metadata.ts'
import { minInsyncReplicas, partitionLogConfig } from '../../src/cluster/topic-configs.ts'
import { errorMessage } from '../../src/log/errors.ts'
import type { LogManager } from '../../src/log/log-manager.ts'
import type { Clock } from '../../src/runtime/clock.ts'
import type { Logger } from '../../src/runtime/logger.ts'
import type { ReplicaMessage } from '../partition-replica/messages.ts'
import { spawnPartitionReplica } from '../partition-replica/actor.ts'
import { ReplicaDirectory } from './directory.ts'
import type { BrokerNodeMessage, BrokerTimer } from './messages.ts'
import { type BrokerNodeEffect, type BrokerNodeState, initialState, partitionKey, step } from './state.ts'

/** Restarts of one replica allowed within RESTART_WINDOW_MS before it is left stopped. */
export const RESTART_LIMIT_COUNT = 10
export const RESTART_WINDOW_MS = 60_000
/** How often the log cleaner runs (Kafka's log.cleaner.backoff.ms). */
export const COMPACTION_INTERVAL_MS = 15_000
/** How often the offset checkpoints are written (Kafka's log.flush.offset.checkpoint.interval.ms). */
export const CHECKPOINT_INTERVAL_MS = 60_000
/** The flush check runs at least this often; each log flushes when its own flush.ms has passed. */
export const FLUSH_CHECK_MAX_INTERVAL_MS = 1_000
/** Timers longer than this do not fit setTimeout: such a job never runs (Kafka's "Long.MAX" defaults). */
const MAX_TIMER_MS = 0x7fffffff
/** How long stop() waits for the actor to stop its replicas. */
export const STOP_TIMEOUT_MS = 10_000
/** How long start-up waits for the first metadata image to be applied. */
export const SYNC_TIMEOUT_MS = 30_000

export interface BrokerNodeOptions {
  nodeId: number
  settings: BrokerSettings
  logManager: LogManager
  metadata: MetadataService
  clock: Clock
  logger: Logger
  intervals?: Partial<Record<BrokerTimer, number>>
}

export interface BrokerNode {
  readonly ref: Ref<BrokerNodeMessage>
  readonly directory: ReplicaDirectory
  /** Resolves once every metadata change seen so far has been applied (replicas spawned). */
  sync(): Promise<void>
  /** Stops the replicas, the timers and the actor system, then closes the logs. */
  stop(): Promise<void>
}

export async function startBrokerNode(options: BrokerNodeOptions): Promise<BrokerNode> {
  const { nodeId, settings, logManager, metadata, clock, logger } = options
  const directory = new ReplicaDirectory()
  const restarts = new Map<string, number[]>()
  const system = start()

  const deps = { logManager, clock, logger }

  const execute = (e: BrokerNodeEffect, self: Ref<unknown>): void => {
    switch (e.type) {
      case 'spawn-replica': {
        const h = e.hosted
        const old = directory.get(h.topic, h.partition)
        if (old) stopActor(old)
        const ref = spawnPartitionReplica(self, {
          topic: h.topic,
          partition: h.partition,
          nodeId,
          image: h.image,
          minInsyncReplicas: minInsyncReplicas(h.configs, settings, e.metadata),
          config: partitionLogConfig(h.configs, settings, e.metadata, logger),
        }, deps)
        directory.set(h.topic, h.partition, ref)
        return
      }
      case 'update-replica': {
        const h = e.hosted
        const ref = directory.get(h.topic, h.partition)
        if (!ref) return
        const msg: ReplicaMessage = { type: 'update', partition: h.image, minInsyncReplicas: minInsyncReplicas(h.configs, settings, e.metadata) }
        // The replica applies it to its log (PartitionLog.setConfig).
        if (e.configsChanged) msg.config = partitionLogConfig(h.configs, settings, e.metadata, logger)
        dispatch(ref, msg)
        return
      }
      case 'stop-replica': {
        const ref = directory.get(e.topic, e.partition)
        directory.delete(e.topic, e.partition)
        if (ref) stopActor(ref)
        return
      }
      case 'delete-log':
        try {
          logManager.delete(e.topic, e.partition)
        } catch (err) {
          logger.error(`deleting the log of ${partitionKey(e.topic, e.partition)} failed: ${errorMessage(err)}`)
        }
        return
      case 'log':
        logger[e.level](e.message)
        return
      case 'run':
        runJob(e.timer)
        return
      case 'stopped':
        dispatch(e.replyTo, { type: 'stopped' })
        return
      case 'synced':
        dispatch(e.replyTo, { type: 'synced', hosted: e.hosted })
        return
      default: {
        const never: never = e
        throw new Error(`unknown broker-node effect ${JSON.stringify(never)}`)
      }
    }
  }

  const refreshAll = () => {
    for (const ref of directory.all()) dispatch(ref, { type: 'refresh' })
  }

  const runJob = (timer: BrokerTimer): void => {
    try {
      switch (timer) {
        case 'retention':
          if (logManager.cleanupLogs() > 0) refreshAll()
          return
        case 'flush':
          logManager.flushDirtyLogs()
          return
        case 'compaction':
          if (logManager.compactLogs() > 0) refreshAll()
          return
        case 'checkpoint':
          logManager.checkpoint()
          return
        default: {
          const never: never = timer
          throw new Error(`unknown timer ${String(never)}`)
        }
      }
    } catch (err) {
      logger.error(`${timer} job failed: ${errorMessage(err)}`)
    }
  }

  const restartAllowed = (childName: string): boolean => {
    const now = clock.now()
    const times = (restarts.get(childName) ?? []).filter((t) => now - t < RESTART_WINDOW_MS)
    times.push(now)
    restarts.set(childName, times)
    return times.length <= RESTART_LIMIT_COUNT
  }

  const ref = spawn(
    system,
    (state: BrokerNodeState, msg: BrokerNodeMessage, ctx) => {
      const r = step(state, msg, clock.now())
      for (const e of r.effects) execute(e, ctx.self)
      return r.state
    },
    `broker-node-${nodeId}`,
    {
      initialState: initialState(nodeId),
      onCrash: (_msg, err, ctx, child) => {
        if (child === undefined) {
          logger.error(`broker node: ${errorMessage(err)} (message dropped, node continues)`)
          return ctx.resume
        }
        const name = (child as unknown as { name: string }).name
        if (restartAllowed(name)) {
          logger.warn(`replica ${name} restarted after a crash`)
          return ctx.resetChild
        }
        logger.error(`replica ${name} crashed ${RESTART_LIMIT_COUNT} times in ${RESTART_WINDOW_MS} ms: left stopped`)
        return ctx.stopChild
      },
    },
  ) as Ref<BrokerNodeMessage>

  const unsubscribe = metadata.onChange((image) => dispatch(ref, { type: 'metadata', image }))
  dispatch(ref, { type: 'metadata', image: metadata.image() })

  const intervals: Record<BrokerTimer, number> = {
    retention: settings.config['log.retention.check.interval.ms'],
    flush: Math.min(settings.config['log.flush.interval.ms'], FLUSH_CHECK_MAX_INTERVAL_MS),
    compaction: COMPACTION_INTERVAL_MS,
    checkpoint: CHECKPOINT_INTERVAL_MS,
    ...options.intervals,
  }
  const timers: ReturnType<typeof setInterval>[] = []
  for (const [timer, ms] of Object.entries(intervals) as [BrokerTimer, number][]) {
    if (!(ms > 0 && ms <= MAX_TIMER_MS)) continue
    const t = setInterval(() => dispatch(ref, { type: 'timer', timer }), ms)
    t.unref?.()
    timers.push(t)
  }

  const sync = async (): Promise<void> => {
    await query(ref, (replyTo: Ref<{ type: 'synced'; hosted: number }>) => ({ type: 'sync', replyTo }) as BrokerNodeMessage, SYNC_TIMEOUT_MS)
  }
  await sync()

  let stopping: Promise<void> | null = null
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const t of timers) clearInterval(t)
      unsubscribe()
      try {
        await query(ref, (replyTo: Ref<{ type: 'stopped' }>) => ({ type: 'stop', replyTo }) as BrokerNodeMessage, STOP_TIMEOUT_MS)
      } catch (err) {
        logger.warn(`broker node did not stop its replicas in time: ${errorMessage(err)}`)
      }
      stopActor(system)
      directory.clear()
      logManager.close()
    })()
    return stopping
  }

  return { ref, directory, sync, stop }
}
