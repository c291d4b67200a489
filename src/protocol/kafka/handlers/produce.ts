/**
 * Produce: one dispatch per partition holding the batches exactly as the client sent them (a
 * view into the request frame: no copy, no per-record work here), one response. The log
 * checks each batch's length, magic and CRC once while appending (CORRUPT_MESSAGE with
 * nothing appended), `max.message.bytes` (MESSAGE_TOO_LARGE), and stamps offsets, the leader
 * epoch and, under LogAppendTime, the time.
 *
 * Order: the partitions of one connection's produce requests are dispatched in request order.
 * A request that must wait first (a topic to auto-create, replicas not yet spawned) holds the
 * connection's produce barrier, and later requests dispatch after it.
 *
 * acks=0: no response; if any partition failed, the connection is closed (as Kafka does, so
 * that the client notices).
 *
 * Internal topics (`__consumer_offsets`, `__transaction_state`) are refused with
 * INVALID_TOPIC_EXCEPTION, as Kafka's ReplicaManager refuses client appends to them.
 */
import type { Ref } from 'nact'
import type { ProduceReply, ReplicaMessage } from '../../../../actors/partition-replica/messages.ts'
import { ErrorCode } from '../error-codes.ts'
import type { ProduceRequest, ProduceResponseInput, ProduceResponsePartitionProduceResponseInput } from '../generated/index.ts'
import { autoCreateTopics } from './auto-create.ts'
import { ask, type BrokerContext, type HandlerInput, MAX_PRODUCE_TIMEOUT_MS, REPLICA_QUERY_TIMEOUT_MS, REPLICA_SPAWN_WAIT_MS } from './context.ts'
import { INTERNAL_TOPICS, topicNameProblem } from '../../../cluster/topic-name.ts'

/** What the router does with a produce: answer it, or (acks=0) send nothing or close the connection. */
export const CLOSE_CONNECTION = Symbol('close-connection')

interface Slot {
  topic: string
  partition: number
  records: Uint8Array | null
  result: ProduceReply | Promise<ProduceReply | null> | null
}

function failure(errorCode: number, errorMessage: string | null = null): ProduceReply {
  return { errorCode, errorMessage, baseOffset: -1, logAppendTime: -1, logStartOffset: -1 }
}

export async function handleProduce({ ctx, conn, request }: HandlerInput<ProduceRequest>): Promise<ProduceResponseInput | null | typeof CLOSE_CONNECTION> {
  const acks = request.acks
  const slots: Slot[] = []
  for (const t of request.topicData) for (const p of t.partitionData) slots.push({ topic: t.name, partition: p.index, records: p.records, result: null })

  if (acks !== 0 && acks !== 1 && acks !== -1) {
    for (const s of slots) s.result = failure(ErrorCode.INVALID_REQUIRED_ACKS, `acks must be -1, 0 or 1, not ${acks}`)
    return respond(request, slots, acks)
  }
  const queryTimeout = acks === -1 ? Math.min(Math.max(request.timeoutMs, 0), MAX_PRODUCE_TIMEOUT_MS) + REPLICA_QUERY_TIMEOUT_MS : REPLICA_QUERY_TIMEOUT_MS
  const dispatchSlot = (s: Slot, ref: Ref<ReplicaMessage>) => {
    const records = s.records!
    s.result = ask<ProduceReply>(ref, (replyTo) => ({ type: 'produce', records, acks: acks as -1 | 0 | 1, crcVerified: false, timeoutMs: request.timeoutMs, replyTo }), queryTimeout)
  }

  // The fast path: every topic known and every replica spawned, nothing before us waiting.
  const image = ctx.metadata.image()
  const waiting: Slot[] = []
  const barrier = conn.produceBarrier
  for (const s of slots) {
    const problem = topicNameProblem(s.topic)
    if (problem !== null) s.result = failure(ErrorCode.INVALID_TOPIC_EXCEPTION, problem)
    else if (s.records === null || s.records.length === 0) s.result = failure(ErrorCode.CORRUPT_MESSAGE, 'a partition without records')
    else if (INTERNAL_TOPICS.has(s.topic)) {
      // Only the coordinators write their topics; clients may not (nor auto-create them with user settings).
      const topic = image.topics.get(s.topic)
      const exists = topic !== undefined && s.partition >= 0 && s.partition < topic.partitions.length
      s.result = exists ? failure(ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot append to internal topic ${s.topic}`) : failure(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    } else {
      const topic = image.topics.get(s.topic)
      if (topic && (s.partition < 0 || s.partition >= topic.partitions.length)) s.result = failure(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
      else if (topic && !topic.partitions[s.partition]!.replicas.includes(ctx.nodeId)) s.result = failure(ErrorCode.NOT_LEADER_OR_FOLLOWER)
      else {
        const ref = topic && barrier === null && waiting.length === 0 ? ctx.directory.get(s.topic, s.partition) : undefined
        if (ref) dispatchSlot(s, ref)
        else waiting.push(s)
      }
    }
  }

  if (waiting.length > 0) {
    const slow = (async () => {
      if (barrier) await barrier
      const names = [...new Set(waiting.map((s) => s.topic))]
      const created = await autoCreateTopics(ctx, names)
      const img = ctx.metadata.image()
      for (const s of waiting) {
        const code = created.get(s.topic) ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        const topic = img.topics.get(s.topic)
        if (code !== ErrorCode.NONE || !topic) {
          s.result = failure(code === ErrorCode.NONE ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : code)
          continue
        }
        if (s.partition < 0 || s.partition >= topic.partitions.length) {
          s.result = failure(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
          continue
        }
        const ref = await ctx.directory.waitFor(s.topic, s.partition, REPLICA_SPAWN_WAIT_MS)
        if (ref) dispatchSlot(s, ref)
        else s.result = failure(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'the partition replica is not running yet')
      }
    })()
    const mine = slow.catch(() => undefined)
    conn.produceBarrier = mine
    void mine.then(() => {
      if (conn.produceBarrier === mine) conn.produceBarrier = null
    })
    await slow
  }
  return respond(request, slots, acks, ctx)
}

async function respond(request: ProduceRequest, slots: Slot[], acks: number, ctx?: BrokerContext): Promise<ProduceResponseInput | null | typeof CLOSE_CONNECTION> {
  const replies: ProduceReply[] = []
  for (const s of slots) replies.push((await s.result) ?? failure(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'the partition replica did not answer'))
  if (acks === 0) {
    const failed = replies.findIndex((r) => r.errorCode !== ErrorCode.NONE)
    if (failed < 0) return null
    ctx?.logger.debug(`acks=0 produce to ${slots[failed]!.topic}-${slots[failed]!.partition} failed (${replies[failed]!.errorCode}): closing the connection`)
    return CLOSE_CONNECTION
  }
  const byTopic = new Map<string, ProduceResponsePartitionProduceResponseInput[]>()
  slots.forEach((s, i) => {
    const r = replies[i]!
    let list = byTopic.get(s.topic)
    if (!list) byTopic.set(s.topic, (list = []))
    list.push({ index: s.partition, errorCode: r.errorCode, baseOffset: BigInt(r.baseOffset), logAppendTimeMs: BigInt(r.logAppendTime), logStartOffset: BigInt(r.logStartOffset), recordErrors: [], errorMessage: r.errorCode === ErrorCode.NONE ? null : r.errorMessage })
  })
  return { responses: request.topicData.filter((t, i, a) => a.findIndex((u) => u.name === t.name) === i).map((t) => ({ name: t.name, partitionResponses: byTopic.get(t.name) ?? [] })), throttleTimeMs: 0 }
}
