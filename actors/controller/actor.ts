/**
 * The controller actor: the nact shell around state.ts. It owns the metadata log
 * (`__cluster_metadata-0`, a PartitionLog) and does the I/O; the decisions are state.ts's.
 *
 * Per request, in mailbox order (so concurrent requests are serialized):
 *   1. handle(state, request) → { records, reply }
 *   2. the records, each framed by metadata-records.ts, become the values of one RecordBatch,
 *      appended to the log and fsynced: an acknowledged change survives a crash;
 *   3. the bytes just written are decoded back and replayed (replayBatch) with the offsets the
 *      log gave them: recovery (`recoverControllerState`, which replays the whole log on start)
 *      and live handling are one code path;
 *   4. `onCommit(next, previous)` (the service notifies its subscribers), then the reply.
 * A failure to write the log fails that request and every later one (the controller is then
 * unusable, as a Kafka controller that cannot write its log resigns): the log may hold records
 * the state has not applied, which only a restart (recovery) can sort out.
 */
import { dispatch, spawn, type Ref } from 'nact'
import { decodeMetadataRecord, encodeMetadataRecord, type MetadataRecord } from '../../src/cluster/metadata-records.ts'
import type { OffsetRecord } from '../../src/cluster/metadata-image.ts'
import type { PartitionLog } from '../../src/log/partition-log.ts'
import { buildRecordBatch, iterateRecordBatches } from '../../src/record/record-batch.ts'
import type { Clock } from '../../src/runtime/clock.ts'
import type { Logger } from '../../src/runtime/logger.ts'
import type { ControllerMessage, ControllerRequest, ControllerReply } from './messages.ts'
import { handle, initialState, replayBatch, type ControllerContext, type ControllerState } from './state.ts'

/** How much of the metadata log one read during recovery takes. */
const RECOVERY_READ_BYTES = 1024 * 1024

export class ControllerFailedError extends Error {
  override name = 'ControllerFailedError'
}

/** Replays the whole metadata log into a fresh state (the start-up half of the one code path). */
export function recoverControllerState(log: PartitionLog, clusterId: string, controllerId: number): ControllerState {
  if (log.logStartOffset !== 0) throw new Error(`${log.dir}: the metadata log starts at offset ${log.logStartOffset}, not 0: records are missing`)
  let state = initialState(clusterId, controllerId)
  let offset = 0
  const end = log.logEndOffset
  while (offset < end) {
    const read = log.read(offset, RECOVERY_READ_BYTES)
    const entries: OffsetRecord[] = []
    for (const batch of iterateRecordBatches(read.records, 0, read.records.length, { skipCrc: true })) {
      if (batch.isControl) continue
      for (const r of batch.records) {
        if (r.value === null) throw new Error(`${log.dir}: metadata record at offset ${r.offset} has no value`)
        entries.push({ record: decodeMetadataRecord(r.value), offset: r.offset })
      }
    }
    state = replayBatch(state, entries)
    offset = read.nextOffset
  }
  return state
}

/** Appends `records` as one batch, fsyncs, and replays what was written. Throws when the log cannot be written. */
export function commitRecords(log: PartitionLog, state: ControllerState, records: readonly MetadataRecord[], clock: Clock): ControllerState {
  const values = records.map(encodeMetadataRecord)
  const batch = buildRecordBatch(values.map((value) => ({ value })), { timestamp: clock.now() })
  const info = log.append(batch, { leaderEpoch: 0 })
  log.flush()
  // One node: what is fsynced is committed.
  log.updateHighWatermark(log.logEndOffset)
  if (info.firstOffset !== state.image.offset + 1) {
    throw new Error(`${log.dir}: the batch went to offset ${info.firstOffset}, but the image is at ${state.image.offset}`)
  }
  return replayBatch(state, values.map((value, i) => ({ record: decodeMetadataRecord(value), offset: info.firstOffset + i })))
}

export interface ControllerActorOptions {
  log: PartitionLog
  clock: Clock
  logger: Logger
  ctx: ControllerContext
  initial: ControllerState
  /** After each change is durable and applied, before the reply. */
  onCommit: (next: ControllerState, previous: ControllerState, records: readonly MetadataRecord[]) => void
}

interface ActorState {
  state: ControllerState
  failed: Error | null
}

/** Handles one message: the actor's whole behaviour, exported for tests that skip nact. */
export function controllerStep(options: ControllerActorOptions, s: ActorState, msg: ControllerMessage): ActorState {
  const { log, clock, logger, ctx, onCommit } = options
  if (s.failed) {
    msg.fail(new ControllerFailedError(`the controller stopped after a metadata log failure: ${s.failed.message}`))
    return s
  }
  let decided: { records: MetadataRecord[]; reply: ControllerReply; warnings: string[] }
  try {
    decided = handle(s.state, msg.request, ctx)
  } catch (err) {
    // A bug in a handler: nothing was written, the state is as it was.
    logger.error(`controller: ${msg.request.type} failed: ${(err as Error).message}`)
    msg.fail(err as Error)
    return s
  }
  for (const w of decided.warnings) logger.warn(w)
  if (decided.records.length === 0) {
    msg.reply(decided.reply)
    return s
  }
  let next: ControllerState
  try {
    next = commitRecords(log, s.state, decided.records, clock)
  } catch (err) {
    logger.error(`controller: writing the metadata log failed, no further changes are accepted: ${(err as Error).message}`)
    msg.fail(err as Error)
    return { state: s.state, failed: err as Error }
  }
  try {
    onCommit(next, s.state, decided.records)
  } catch (err) {
    logger.error(`controller: a commit listener failed: ${(err as Error).message}`)
  }
  msg.reply(decided.reply)
  return { state: next, failed: null }
}

/** Spawns the controller actor under `parent`. */
export function spawnController(parent: Ref<any>, options: ControllerActorOptions, name = 'controller'): Ref<ControllerMessage> {
  return spawn(parent, (s: ActorState, msg: ControllerMessage) => controllerStep(options, s, msg), name, {
    initialState: { state: options.initial, failed: null },
  })
}

/** Sends a request and waits for its reply. */
export function ask<R extends ControllerReply>(ref: Ref<ControllerMessage>, request: ControllerRequest): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    dispatch(ref, { type: 'request', request, reply: (r) => resolve(r as R), fail: reject })
  })
}
