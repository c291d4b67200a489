/** ListOffsets: latest (-1: the high watermark), earliest (-2: the log start offset), max timestamp (-3), or by timestamp. */
import type { DeleteRecordsReply, ListOffsetReply } from '../../../../actors/partition-replica/messages.ts'
import { INTERNAL_TOPICS } from '../../../cluster/topic-name.ts'
import { ErrorCode } from '../error-codes.ts'
import type { DeleteRecordsRequest, DeleteRecordsResponseInput, ListOffsetsRequest, ListOffsetsResponseInput } from '../generated/index.ts'
import { ask, type BrokerContext, type HandlerInput, REPLICA_QUERY_TIMEOUT_MS } from './context.ts'

function replicaOf(ctx: BrokerContext, topic: string, partition: number): { ref?: ReturnType<BrokerContext['directory']['get']>; error: number } {
  const t = ctx.metadata.image().topics.get(topic)
  if (!t || partition < 0 || partition >= t.partitions.length) return { error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }
  const ref = ctx.directory.get(topic, partition)
  return ref ? { ref, error: ErrorCode.NONE } : { error: ErrorCode.NOT_LEADER_OR_FOLLOWER }
}

export async function handleListOffsets({ ctx, request }: HandlerInput<ListOffsetsRequest>): Promise<ListOffsetsResponseInput> {
  const topics = await Promise.all(
    request.topics.map(async (t) => ({
      name: t.name,
      partitions: await Promise.all(
        t.partitions.map(async (p) => {
          const { ref, error } = replicaOf(ctx, t.name, p.partitionIndex)
          const failed = { partitionIndex: p.partitionIndex, timestamp: -1n, offset: -1n, leaderEpoch: -1 }
          if (!ref) return { ...failed, errorCode: error }
          const timestamp = Number(p.timestamp)
          const r = await ask<ListOffsetReply>(ref, (replyTo) => ({ type: 'list-offsets', timestamp, currentLeaderEpoch: p.currentLeaderEpoch, replyTo }), REPLICA_QUERY_TIMEOUT_MS)
          if (!r) return { ...failed, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER }
          return { partitionIndex: p.partitionIndex, errorCode: r.errorCode, timestamp: BigInt(r.timestamp), offset: BigInt(r.offset), leaderEpoch: r.leaderEpoch }
        }),
      ),
    })),
  )
  return { throttleTimeMs: 0, topics }
}

export async function handleDeleteRecords({ ctx, request }: HandlerInput<DeleteRecordsRequest>): Promise<DeleteRecordsResponseInput> {
  const timeout = Math.max(request.timeoutMs, 1) + REPLICA_QUERY_TIMEOUT_MS
  const topics = await Promise.all(
    request.topics.map(async (t) => ({
      name: t.name,
      partitions: await Promise.all(
        t.partitions.map(async (p) => {
          const { ref, error } = replicaOf(ctx, t.name, p.partitionIndex)
          // Kafka's ReplicaManager refuses to delete records of internal topics (the coordinators' state).
          if (error !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION && INTERNAL_TOPICS.has(t.name)) return { partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION }
          if (!ref) return { partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode: error }
          const offset = Number(p.offset)
          const r = await ask<DeleteRecordsReply>(ref, (replyTo) => ({ type: 'delete-records', offset, replyTo }), timeout)
          if (!r) return { partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER }
          return { partitionIndex: p.partitionIndex, lowWatermark: BigInt(r.lowWatermark), errorCode: r.errorCode }
        }),
      ),
    })),
  )
  return { throttleTimeMs: 0, topics }
}
