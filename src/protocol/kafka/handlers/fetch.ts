/**
 * Fetch (consumers): reads every partition asked for, up to its high watermark, in parallel
 * (one `read` per partition, at most its partitionMaxBytes), then keeps whole batches within
 * the response's maxBytes in request order (the first batch always, as KIP-74 says). When
 * fewer than minBytes came back and no partition failed, it long-polls: one `watch` per
 * partition, woken by the append that moves the high watermark past the fetch offset, until
 * maxWaitMs — then reads again.
 *
 * Fetch sessions (KIP-227) are not kept: sessionId 0 in every answer makes clients send full
 * requests; a request naming a session gets FETCH_SESSION_ID_NOT_FOUND.
 */
import { dispatch, type Ref } from 'nact'
import type { ReadReply, ReplicaMessage, WakeReply } from '../../../../actors/partition-replica/messages.ts'
import { BatchHeader, LOG_OVERHEAD } from '../../../record/batch-header.ts'
import { ErrorCode } from '../error-codes.ts'
import type { FetchRequest, FetchResponseInput, FetchResponsePartitionDataInput } from '../generated/index.ts'
import { ask, type BrokerContext, type HandlerInput, MAX_FETCH_WAIT_MS, REPLICA_QUERY_TIMEOUT_MS } from './context.ts'

interface Part {
  topic: string
  partition: number
  fetchOffset: number
  maxBytes: number
  currentLeaderEpoch: number
  ref: Ref<ReplicaMessage> | undefined
  /** Set when the partition is unknown here (no read is made). */
  error: number
  read: ReadReply | null
}

/** The longest prefix of whole batches in `records` within `limit` bytes. */
export function cutToBatches(records: Uint8Array, limit: number): Uint8Array {
  if (records.length <= limit) return records
  let at = 0
  while (at + LOG_OVERHEAD <= records.length) {
    const size = new BatchHeader(records, at).sizeInBytes
    if (at + size > limit) break
    at += size
  }
  return records.subarray(0, at)
}

function readAll(parts: Part[]): Promise<void> {
  return Promise.all(
    parts.map(async (p) => {
      if (!p.ref) return
      const fetchOffset = p.fetchOffset
      p.read =
        (await ask<ReadReply>(p.ref, (replyTo) => ({ type: 'read', fetchOffset, maxBytes: p.maxBytes, minOneBatch: true, currentLeaderEpoch: p.currentLeaderEpoch, replyTo }), REPLICA_QUERY_TIMEOUT_MS)) ?? null
      if (!p.read) p.error = ErrorCode.NOT_LEADER_OR_FOLLOWER
    }),
  ).then(() => undefined)
}

/** Resolves when any partition's high watermark passes its fetch offset, or at `deadline`. */
async function watchAny(ctx: BrokerContext, parts: Part[], deadline: number, closed: AbortSignal): Promise<void> {
  const remaining = deadline - ctx.clock.now()
  if (remaining <= 0 || closed.aborted) return
  const watches: { ref: Ref<ReplicaMessage>; id: number }[] = []
  let timer: ReturnType<typeof setTimeout> | undefined
  let onClosed: (() => void) | undefined
  const woken = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, remaining)
    // A long poll whose connection closed has no one to answer: stop waiting at once.
    onClosed = () => resolve()
    closed.addEventListener('abort', onClosed, { once: true })
    for (const p of parts) {
      if (!p.ref || p.error !== ErrorCode.NONE) continue
      const id = ctx.nextWatchId()
      const ref = p.ref
      watches.push({ ref, id })
      ask<WakeReply>(ref, (replyTo) => ({ type: 'watch', id, fetchOffset: p.fetchOffset, deadline, replyTo }), remaining).then((r) => {
        if (r) resolve()
      })
    }
  })
  await woken
  clearTimeout(timer)
  closed.removeEventListener('abort', onClosed!)
  for (const w of watches) dispatch(w.ref, { type: 'unwatch', id: w.id })
}

export async function handleFetch({ ctx, conn, request }: HandlerInput<FetchRequest>): Promise<FetchResponseInput> {
  if (request.sessionId !== 0) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] }
  }
  const image = ctx.metadata.image()
  const parts: Part[] = []
  for (const t of request.topics) {
    const topic = image.topics.get(t.topic)
    for (const p of t.partitions) {
      const known = topic !== undefined && p.partition >= 0 && p.partition < topic.partitions.length
      const ref = known ? ctx.directory.get(t.topic, p.partition) : undefined
      parts.push({
        topic: t.topic,
        partition: p.partition,
        fetchOffset: Number(p.fetchOffset),
        maxBytes: Math.max(0, p.partitionMaxBytes),
        currentLeaderEpoch: p.currentLeaderEpoch,
        ref,
        error: !known ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ref ? ErrorCode.NONE : ErrorCode.NOT_LEADER_OR_FOLLOWER,
        read: null,
      })
    }
  }
  const maxWait = Math.min(Math.max(request.maxWaitMs, 0), MAX_FETCH_WAIT_MS)
  const deadline = ctx.clock.now() + maxWait
  // As Kafka: no partitions, or minBytes ≤ 0, is answered at once.
  const minBytes = Math.max(request.minBytes, 0)
  for (;;) {
    await readAll(parts)
    let bytes = 0
    let failed = false
    for (const p of parts) {
      if (p.error !== ErrorCode.NONE || (p.read && p.read.errorCode !== ErrorCode.NONE)) failed = true
      bytes += p.read?.records.length ?? 0
    }
    if (bytes >= minBytes || failed || parts.length === 0 || conn.closedSignal.aborted || ctx.clock.now() >= deadline) break
    await watchAny(ctx, parts, deadline, conn.closedSignal)
  }
  return buildResponse(request, parts)
}

function buildResponse(request: FetchRequest, parts: Part[]): FetchResponseInput {
  let budget = Math.max(request.maxBytes, 0)
  let first = true
  const byTopic = new Map<string, FetchResponsePartitionDataInput[]>()
  const order: string[] = []
  const aborted = request.isolationLevel === 1 ? [] : null
  for (const p of parts) {
    let list = byTopic.get(p.topic)
    if (!list) {
      byTopic.set(p.topic, (list = []))
      order.push(p.topic)
    }
    const r = p.read
    const errorCode = p.error !== ErrorCode.NONE ? p.error : (r?.errorCode ?? ErrorCode.NONE)
    let records = errorCode === ErrorCode.NONE && r ? r.records : new Uint8Array(0)
    if (records.length > 0) {
      records = first ? (records.length > budget ? cutToBatches(records, Math.max(budget, 0)) : records) : cutToBatches(records, budget)
      // The first batch of the first partition with data goes out even beyond maxBytes.
      if (first && records.length === 0 && r) records = cutToBatches(r.records, new BatchHeader(r.records, 0).sizeInBytes)
      if (records.length > 0) first = false
      budget -= records.length
    }
    list.push({
      partitionIndex: p.partition,
      errorCode,
      highWatermark: BigInt(r && r.highWatermark >= 0 ? r.highWatermark : -1),
      lastStableOffset: BigInt(r && r.lastStableOffset >= 0 ? r.lastStableOffset : -1),
      logStartOffset: BigInt(r && r.logStartOffset >= 0 ? r.logStartOffset : -1),
      abortedTransactions: aborted,
      preferredReadReplica: -1,
      records,
    })
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses: order.map((topic) => ({ topic, partitions: byTopic.get(topic)! })) }
}
