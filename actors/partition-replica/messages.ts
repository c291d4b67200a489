/**
 * What a partition-replica actor accepts: one discriminated union. Requests carry a
 * `replyTo` (the temporary reference of an nact `query`, always made with a timeout), and
 * batches — never single records — cross the actor boundary.
 *
 * `appended` and `log-start-moved` are the results of the log I/O the shell did for an
 * earlier message, fed back into the state machine in the same turn; nobody else sends them.
 */
import type { Ref } from 'nact'
import type { PartitionImage } from '../../src/cluster/metadata.ts'
import type { LogConfig } from '../../src/log/log-config.ts'

/** Kafka's acks: 0 (no answer), 1 (after the local append), -1 (after every in-sync replica has it). */
export type Acks = -1 | 0 | 1

export interface ProduceReply {
  errorCode: number
  errorMessage: string | null
  baseOffset: number
  /** The broker's append time under LogAppendTime, else -1. */
  logAppendTime: number
  logStartOffset: number
}

export interface ReadReply {
  errorCode: number
  errorMessage: string | null
  /** Whole batches below the high watermark; empty when nothing qualifies. */
  records: Uint8Array
  /** Where the next read starts. */
  nextOffset: number
  highWatermark: number
  /** = high watermark until transactions exist. */
  lastStableOffset: number
  logStartOffset: number
  logEndOffset: number
}

export interface ListOffsetReply {
  errorCode: number
  offset: number
  timestamp: number
  leaderEpoch: number
}

export interface DeleteRecordsReply {
  errorCode: number
  lowWatermark: number
}

export interface DescribeReply {
  errorCode: number
  leaderEpoch: number
  leader: number
  isr: readonly number[]
  logStartOffset: number
  highWatermark: number
  lastStableOffset: number
  logEndOffset: number
  waiters: number
}

/** Sent once to a watcher: data past its fetch offset became visible, or the replica changed (re-read). */
export interface WakeReply {
  type: 'woken'
  reason: 'data' | 'changed' | 'full' | 'cancelled'
}

/** Kafka's special timestamps of ListOffsets. */
export const LATEST_TIMESTAMP = -1
export const EARLIEST_TIMESTAMP = -2
export const MAX_TIMESTAMP = -3

export type ReplicaMessage =
  | {
      type: 'produce'
      /** The batches exactly as the client sent them (a view into its request frame). */
      records: Uint8Array
      acks: Acks
      /** The listener checked every batch's CRC while parsing (the log then skips it). */
      crcVerified: boolean
      /** How long an acks=all produce may wait for the in-sync replicas. */
      timeoutMs: number
      replyTo: Ref<ProduceReply>
    }
  | {
      type: 'appended'
      replyTo: Ref<ProduceReply>
      acks: Acks
      deadline: number
      firstOffset: number
      lastOffset: number
      logAppendTime: number
      logStartOffset: number
      logEndOffset: number
    }
  | { type: 'append-failed'; replyTo: Ref<ProduceReply>; errorCode: number; errorMessage: string; logEndOffset: number }
  | {
      type: 'read'
      fetchOffset: number
      maxBytes: number
      /** The first batch even when it alone exceeds maxBytes (Kafka: only for the first partition with data). */
      minOneBatch: boolean
      /** -1: no check (older request versions). */
      currentLeaderEpoch: number
      replyTo: Ref<ReadReply>
    }
  | {
      type: 'watch'
      /** Unique per broker (the fetch handler's counter). */
      id: number
      /** Wake when the high watermark passes this offset. */
      fetchOffset: number
      /** After this (clock ms) the watch is dropped unanswered: the fetch has given up by then. */
      deadline: number
      replyTo: Ref<WakeReply>
    }
  | { type: 'unwatch'; id: number }
  | { type: 'list-offsets'; timestamp: number; currentLeaderEpoch: number; replyTo: Ref<ListOffsetReply> }
  | { type: 'delete-records'; offset: number; replyTo: Ref<DeleteRecordsReply> }
  | { type: 'log-start-moved'; logStartOffset: number; replyTo: Ref<DeleteRecordsReply> | null }
  | { type: 'describe'; replyTo: Ref<DescribeReply> }
  /** The metadata image changed this partition (leader, epoch, ISR) or its topic's configs. */
  | { type: 'update'; partition: PartitionImage; minInsyncReplicas: number; config?: LogConfig }
  /** Someone else (retention, compaction) moved the log: re-read its offsets (the shell turns this into `log-offsets`). */
  | { type: 'refresh' }
  | { type: 'log-offsets'; logStartOffset: number; highWatermark: number; logEndOffset: number }
  /** Fault injection: the actor throws while handling this (its supervisor restarts it). */
  | { type: 'crash'; reason: string }
