/**
 * The partition-replica actor shell: it owns one partition's PartitionLog (taken from the
 * LogManager), runs the pure state machine (state.ts) and carries out its effects — the log
 * I/O, replies and wake-ups — in the same turn.
 *
 * Failure: an error the log raises with a Kafka error code (LogError, CorruptRecordError) is
 * an answer, not a crash. Anything else is a crash: the message being handled is answered
 * with NOT_LEADER_OR_FOLLOWER (retriable: the client refreshes metadata and retries), and the
 * fault is escalated to the supervisor (the broker-node actor), which resets this actor: its
 * state is rebuilt from the on-disk log, and the messages queued meanwhile are served after.
 */
import { dispatch, type Ref, spawn } from 'nact'
import type { PartitionImage } from '../../src/cluster/metadata.ts'
import { errorMessage } from '../../src/log/errors.ts'
import type { LogConfig } from '../../src/log/log-config.ts'
import type { LogManager } from '../../src/log/log-manager.ts'
import type { PartitionLog } from '../../src/log/partition-log.ts'
import { ErrorCode } from '../../src/protocol/kafka/error-codes.ts'
import type { Clock } from '../../src/runtime/clock.ts'
import type { Logger } from '../../src/runtime/logger.ts'
import { MAX_TIMESTAMP, type ReadReply, type ReplicaMessage } from './messages.ts'
import { initialState, type ReplicaEffect, type ReplicaState, step } from './state.ts'

export interface ReplicaSpec {
  topic: string
  partition: number
  nodeId: number
  image: PartitionImage
  minInsyncReplicas: number
  config: LogConfig
}

export interface ReplicaDeps {
  logManager: LogManager
  clock: Clock
  logger: Logger
}

/** An error carrying a Kafka error code (the log's and the record codec's errors). */
export function kafkaErrorCode(err: unknown): number | null {
  const code = (err as { errorCode?: unknown } | null)?.errorCode
  return typeof code === 'number' ? code : null
}

/** Spawns the replica of `spec` under `parent`; `spec` is kept current by `update` messages, for restarts. */
export function spawnPartitionReplica(parent: Ref<unknown>, spec: ReplicaSpec, deps: ReplicaDeps): Ref<ReplicaMessage> {
  const { logManager, clock, logger } = deps
  const current = { ...spec }
  const name = `${spec.topic}-${spec.partition}`
  let log: PartitionLog

  const open = (): ReplicaState => {
    log = logManager.getOrCreate(current.topic, current.partition, current.config)
    log.setConfig(current.config)
    const state = initialState({
      topic: current.topic,
      partition: current.partition,
      nodeId: current.nodeId,
      image: current.image,
      minInsyncReplicas: current.minInsyncReplicas,
      logStartOffset: log.logStartOffset,
      highWatermark: log.highWatermark,
      logEndOffset: log.logEndOffset,
    })
    if (state.highWatermark !== log.highWatermark) log.updateHighWatermark(state.highWatermark)
    return state
  }

  const run = (state0: ReplicaState, msg0: ReplicaMessage): ReplicaState => {
    const now = clock.now()
    let msg = msg0
    switch (msg.type) {
      case 'crash':
        throw new Error(`injected crash of ${name}: ${msg.reason}`)
      case 'refresh':
        msg = { type: 'log-offsets', logStartOffset: log.logStartOffset, highWatermark: log.highWatermark, logEndOffset: log.logEndOffset }
        break
      case 'update':
        current.image = msg.partition
        current.minInsyncReplicas = msg.minInsyncReplicas
        if (msg.config) {
          current.config = msg.config
          log.setConfig(msg.config)
        }
        break
      default:
        break
    }
    let { state, effects } = step(state0, msg, now)
    // Effects run in order; a log result fed back appends its own effects to the queue.
    for (let i = 0; i < effects.length; i++) {
      const fed = execute(effects[i]!, state)
      if (fed) {
        const r = step(state, fed, now)
        state = r.state
        effects = effects.concat(r.effects)
      }
    }
    return state
  }

  /** Carries out one effect; returns the message to feed back, if any. */
  const execute = (e: ReplicaEffect, state: ReplicaState): ReplicaMessage | null => {
    switch (e.type) {
      case 'reply':
        dispatch(e.to, e.value)
        return null
      case 'wake':
        dispatch(e.to, { type: 'woken', reason: e.reason })
        return null
      case 'append': {
        try {
          const info = log.append(e.records, { assignOffsets: true, leaderEpoch: e.leaderEpoch, crcVerified: e.crcVerified })
          return {
            type: 'appended',
            replyTo: e.replyTo,
            acks: e.acks,
            deadline: e.deadline,
            firstOffset: info.firstOffset,
            lastOffset: info.lastOffset,
            logAppendTime: info.logAppendTime,
            logStartOffset: info.logStartOffset,
            logEndOffset: log.logEndOffset,
          }
        } catch (err) {
          const code = kafkaErrorCode(err)
          if (code === null) throw err
          if (code === ErrorCode.KAFKA_STORAGE_ERROR) logger.error(`${name}: append failed: ${errorMessage(err)}`)
          return { type: 'append-failed', replyTo: e.replyTo, errorCode: code, errorMessage: errorMessage(err), logEndOffset: log.logEndOffset }
        }
      }
      case 'read': {
        let value: ReadReply
        try {
          const r = log.read(e.fetchOffset, e.maxBytes, { maxOffset: e.maxOffset, minOneBatch: e.minOneBatch })
          value = { errorCode: ErrorCode.NONE, errorMessage: null, records: r.records, nextOffset: r.nextOffset, highWatermark: state.highWatermark, lastStableOffset: state.highWatermark, logStartOffset: r.logStartOffset, logEndOffset: r.logEndOffset }
        } catch (err) {
          const code = kafkaErrorCode(err)
          if (code === null) throw err
          value = { errorCode: code, errorMessage: errorMessage(err), records: new Uint8Array(0), nextOffset: e.fetchOffset, highWatermark: state.highWatermark, lastStableOffset: state.highWatermark, logStartOffset: state.logStartOffset, logEndOffset: state.logEndOffset }
        }
        dispatch(e.replyTo, value)
        return null
      }
      case 'lookup-offset': {
        try {
          const found = e.timestamp === MAX_TIMESTAMP ? log.maxTimestampAndOffset() : log.offsetForTimestamp(e.timestamp)
          if (found === null || found.offset >= e.maxOffset) dispatch(e.replyTo, { errorCode: ErrorCode.NONE, offset: -1, timestamp: -1, leaderEpoch: -1 })
          else dispatch(e.replyTo, { errorCode: ErrorCode.NONE, offset: found.offset, timestamp: found.timestamp, leaderEpoch: log.leaderEpochCache.epochForOffset(found.offset) ?? e.leaderEpoch })
        } catch (err) {
          const code = kafkaErrorCode(err)
          if (code === null) throw err
          dispatch(e.replyTo, { errorCode: code, offset: -1, timestamp: -1, leaderEpoch: -1 })
        }
        return null
      }
      case 'delete-records': {
        try {
          return { type: 'log-start-moved', logStartOffset: log.deleteRecordsBefore(e.offset), replyTo: e.replyTo }
        } catch (err) {
          const code = kafkaErrorCode(err)
          if (code === null) throw err
          dispatch(e.replyTo, { errorCode: code, lowWatermark: log.logStartOffset })
          return null
        }
      }
      case 'set-high-watermark':
        log.updateHighWatermark(e.offset)
        return null
      default: {
        const never: never = e
        throw new Error(`unknown partition-replica effect ${JSON.stringify(never)}`)
      }
    }
  }

  return spawn(parent as Ref<never>, (state: ReplicaState, msg: ReplicaMessage) => run(state, msg), name, {
    initialStateFunc: () => open(),
    onCrash: (msg, err, ctx) => {
      logger.error(`${name}: replica actor crashed on ${msg?.type ?? 'start'}: ${errorMessage(err)}; restarting it from its log`)
      if (msg) answerCrashed(msg)
      return ctx.escalate
    },
  })
}

/** The answer to a message whose handling crashed the actor: retriable, so the client retries. */
export function answerCrashed(msg: ReplicaMessage): void {
  const code = ErrorCode.NOT_LEADER_OR_FOLLOWER
  switch (msg.type) {
    case 'produce':
    case 'appended':
    case 'append-failed':
      dispatch(msg.replyTo, { errorCode: code, errorMessage: 'the partition replica restarted', baseOffset: -1, logAppendTime: -1, logStartOffset: -1 })
      return
    case 'read':
      dispatch(msg.replyTo, { errorCode: code, errorMessage: 'the partition replica restarted', records: new Uint8Array(0), nextOffset: msg.fetchOffset, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, logEndOffset: -1 })
      return
    case 'watch':
      dispatch(msg.replyTo, { type: 'woken', reason: 'changed' })
      return
    case 'list-offsets':
      dispatch(msg.replyTo, { errorCode: code, offset: -1, timestamp: -1, leaderEpoch: -1 })
      return
    case 'delete-records':
      dispatch(msg.replyTo, { errorCode: code, lowWatermark: -1 })
      return
    case 'log-start-moved':
      if (msg.replyTo) dispatch(msg.replyTo, { errorCode: code, lowWatermark: -1 })
      return
    case 'describe':
      dispatch(msg.replyTo, { errorCode: code, leaderEpoch: -1, leader: -1, isr: [], logStartOffset: -1, highWatermark: -1, lastStableOffset: -1, logEndOffset: -1, waiters: 0 })
      return
    case 'unwatch':
    case 'update':
    case 'refresh':
    case 'log-offsets':
    case 'crash':
      return
    default: {
      const never: never = msg
      throw new Error(`unknown partition-replica message ${JSON.stringify(never)}`)
    }
  }
}
