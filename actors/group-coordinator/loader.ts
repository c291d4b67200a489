/**
 * Loading groups from a `__consumer_offsets` partition: the replay path, shared by start-up,
 * a new leadership and a group's reload after a failed write.
 *
 * Reads the partition through its replica actor (`refresh`, `describe`, then `read`s of whole batches
 * from the log start offset up to the high watermark seen at the start), skips control
 * batches, decodes each record (an undecodable one is logged and skipped) and folds the
 * records of each group, in log order, onto `emptyGroup` with a `GroupReplay` per group (the
 * replay path, without a copy of the group's state per record: a long log loads in
 * O(records · log offsets)).
 */
import { dispatch, query, type Ref } from 'nact'
import { decodeGroupRecord, groupOfKey, type GroupRecord } from '../../src/group/group-records.ts'
import { errorMessage } from '../../src/log/errors.ts'
import { ErrorCode, errorName } from '../../src/protocol/kafka/error-codes.ts'
import { iterateRecordBatches } from '../../src/record/record-batch.ts'
import type { Logger } from '../../src/runtime/logger.ts'
import type { DescribeReply, ReadReply, ReplicaMessage } from '../partition-replica/messages.ts'
import { emptyGroup, GroupReplay, type GroupState } from './state.ts'

/** How much one read of the partition takes (at least one whole batch). */
export const LOAD_READ_MAX_BYTES = 1024 * 1024

/** The partition could not be read (not the leader, a replica that does not answer, ...). */
export class GroupLoadError extends Error {
  override name = 'GroupLoadError'
  constructor(message: string, readonly errorCode: number) {
    super(message)
  }
}

export interface LoadOptions {
  /** How long one answer of the replica may take. */
  replyTimeoutMs: number
  logger: Logger
  /** For log lines: `__consumer_offsets-7`. */
  label: string
  /** Only the groups this accepts are folded (a reload of one group); default: all. */
  groups?: (groupId: string) => boolean
}

async function ask<R>(replica: Ref<ReplicaMessage>, build: (replyTo: Ref<R>) => ReplicaMessage, timeoutMs: number, what: string): Promise<R> {
  try {
    return (await query(replica, build, Math.max(1, timeoutMs))) as R
  } catch (err) {
    throw new GroupLoadError(`the replica did not answer ${what}: ${errorMessage(err)}`, ErrorCode.REQUEST_TIMED_OUT)
  }
}

/** Every record of the partition up to its high watermark, in log order. */
export async function readGroupRecords(replica: Ref<ReplicaMessage>, options: LoadOptions, onRecord: (record: GroupRecord) => void): Promise<void> {
  const { replyTimeoutMs, logger, label } = options
  // The replica re-reads its log's offsets first, so that the load sees what other writers (a
  // reload after a failed write races with nothing, but retention and compaction move the log
  // start) left behind.
  dispatch(replica, { type: 'refresh' })
  const described = await ask<DescribeReply>(replica, (replyTo) => ({ type: 'describe', replyTo }), replyTimeoutMs, 'describe')
  if (described.errorCode !== ErrorCode.NONE) throw new GroupLoadError(`${label}: ${errorName(described.errorCode)}`, described.errorCode)
  let offset = described.logStartOffset
  const end = described.highWatermark
  while (offset < end) {
    const read = await ask<ReadReply>(
      replica,
      (replyTo) => ({ type: 'read', fetchOffset: offset, maxBytes: LOAD_READ_MAX_BYTES, minOneBatch: true, currentLeaderEpoch: -1, replyTo }),
      replyTimeoutMs,
      `a read at offset ${offset}`,
    )
    if (read.errorCode !== ErrorCode.NONE) throw new GroupLoadError(`${label}: reading at offset ${offset}: ${errorName(read.errorCode)}${read.errorMessage ? ` (${read.errorMessage})` : ''}`, read.errorCode)
    let next = Math.max(offset, read.nextOffset)
    for (const batch of iterateRecordBatches(read.records, 0, read.records.length, { skipCrc: true })) {
      next = Math.max(next, batch.nextOffset)
      if (batch.isControl) continue
      for (const r of batch.records) {
        // A read returns whole batches: the records before `offset` were folded already.
        if (r.offset < offset) continue
        if (r.key === null) {
          logger.warn(`${label}: the record at offset ${r.offset} has no key; skipped`)
          continue
        }
        let record: GroupRecord
        try {
          if (options.groups && !options.groups(groupOfKey(r.key))) continue
          record = decodeGroupRecord(r.key, r.value)
        } catch (err) {
          logger.warn(`${label}: the record at offset ${r.offset} could not be decoded (${errorMessage(err)}); skipped`)
          continue
        }
        onRecord(record)
      }
    }
    // Each read moves forward, so the loop ends within end - logStartOffset reads.
    if (next <= offset) throw new GroupLoadError(`${label}: a read at offset ${offset} below the high watermark ${end} returned nothing`, ErrorCode.UNKNOWN_SERVER_ERROR)
    offset = next
  }
}

/** The groups of the partition, each its records replayed in log order onto emptyGroup. */
export async function loadGroups(replica: Ref<ReplicaMessage>, options: LoadOptions): Promise<Map<string, GroupState>> {
  const replays = new Map<string, GroupReplay>()
  await readGroupRecords(replica, options, (record) => {
    const r = replays.get(record.group) ?? new GroupReplay(emptyGroup(record.group))
    try {
      r.add(record)
      replays.set(record.group, r)
    } catch (err) {
      // A record the state refuses (an invariant it asserts) changes nothing: loading the rest beats loading nothing.
      options.logger.error(`${options.label}: replaying a ${record.type} record of group ${record.group} failed (${errorMessage(err)}); skipped`)
    }
  })
  const groups = new Map<string, GroupState>()
  for (const [groupId, r] of replays) groups.set(groupId, r.state())
  return groups
}

/** One group's state read back from its partition (a reload). */
export async function loadGroup(replica: Ref<ReplicaMessage>, groupId: string, options: Omit<LoadOptions, 'groups'>): Promise<GroupState> {
  const groups = await loadGroups(replica, { ...options, groups: (g) => g === groupId })
  return groups.get(groupId) ?? emptyGroup(groupId)
}
