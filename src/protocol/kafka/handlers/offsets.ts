/**
 * Committed offsets: OffsetCommit v2–7, OffsetFetch v1–5, OffsetDelete v0 — wire versions to
 * the group coordinator service's domain terms and back.
 *
 * As Kafka's KafkaApis: a commit or delete for a topic or partition the metadata image does not
 * have is answered UNKNOWN_TOPIC_OR_PARTITION here and the rest goes to the coordinator; a fetch
 * passes every topic through (the coordinator answers offset -1 for what it has none of). An
 * empty group id is a group like any other for OffsetCommit and OffsetFetch (Kafka keeps that
 * for old clients) and INVALID_GROUP_ID for OffsetDelete.
 *
 * Version shaping: OffsetCommit v2–4 carry a retention time (-1: the broker's), v6+ the leader
 * epoch, v7 the group instance id. OffsetFetch v1 has no top-level error code, so a group-level
 * error is written on every partition asked for; v2+ answer it at the top with no topics, and
 * a null topic list asks for every committed offset.
 */
import type { MetadataImage } from '../../../cluster/metadata.ts'
import { ErrorCode } from '../error-codes.ts'
import type {
  OffsetCommitRequest,
  OffsetCommitResponseInput,
  OffsetDeleteRequest,
  OffsetDeleteResponseInput,
  OffsetFetchRequest,
  OffsetFetchResponseInput,
} from '../generated/index.ts'
import type { CommitPartition, PartitionErrors } from '../../../../actors/group-coordinator/messages.ts'
import type { HandlerInput } from './context.ts'

function partitionExists(image: MetadataImage, topic: string, partition: number): boolean {
  const t = image.topics.get(topic)
  return t !== undefined && partition >= 0 && partition < t.partitions.length
}

const key = (topic: string, partition: number) => `${partition}:${topic}`

/**
 * The request's topics (merged by name, in first-seen order) with each partition's error: from
 * `known` (the handler's own answers) or else the coordinator's `errors`.
 */
function inRequestOrder(
  topics: readonly { name: string; partitions: readonly number[] }[],
  known: ReadonlyMap<string, number>,
  errors: PartitionErrors,
): { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[] {
  const answered = new Map<string, number>(known)
  for (const t of errors.topics) for (const p of t.partitions) answered.set(key(t.name, p.partition), p.errorCode)
  const byName = new Map<string, { name: string; partitions: { partitionIndex: number; errorCode: number }[] }>()
  for (const t of topics) {
    let out = byName.get(t.name)
    if (!out) byName.set(t.name, (out = { name: t.name, partitions: [] }))
    // A partition the coordinator left out of its answer would be a bug there; the client still gets an answer.
    for (const p of t.partitions) out.partitions.push({ partitionIndex: p, errorCode: answered.get(key(t.name, p)) ?? ErrorCode.UNKNOWN_SERVER_ERROR })
  }
  return [...byName.values()]
}

export async function handleOffsetCommit({ ctx, header, request }: HandlerInput<OffsetCommitRequest>): Promise<OffsetCommitResponseInput> {
  const image = ctx.metadata.image()
  const unknown = new Map<string, number>()
  const valid: { name: string; partitions: CommitPartition[] }[] = []
  for (const t of request.topics) {
    const partitions: CommitPartition[] = []
    for (const p of t.partitions) {
      if (!partitionExists(image, t.name, p.partitionIndex)) unknown.set(key(t.name, p.partitionIndex), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
      else partitions.push({ partition: p.partitionIndex, offset: Number(p.committedOffset), leaderEpoch: p.committedLeaderEpoch, metadata: p.committedMetadata })
    }
    if (partitions.length > 0) valid.push({ name: t.name, partitions })
  }
  const errors: PartitionErrors =
    valid.length === 0
      ? { topics: [] }
      : await ctx.groups.commitOffsets({
          groupId: request.groupId,
          generationId: request.generationIdOrMemberEpoch,
          memberId: request.memberId,
          groupInstanceId: request.groupInstanceId,
          // Decoded as -1 where the version has no retention time (v5+), which is the broker's offsets.retention.minutes.
          retentionTimeMs: header.apiVersion <= 4 ? Number(request.retentionTimeMs) : -1,
          topics: valid,
        })
  const topics = inRequestOrder(
    request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => p.partitionIndex) })),
    unknown,
    errors,
  )
  return { throttleTimeMs: 0, topics }
}

export async function handleOffsetFetch({ ctx, header, request }: HandlerInput<OffsetFetchRequest>): Promise<OffsetFetchResponseInput> {
  const topics = request.topics === null ? null : request.topics.map((t) => ({ name: t.name, partitions: [...t.partitionIndexes] }))
  const r = await ctx.groups.fetchOffsets({ groupId: request.groupId, topics })
  if (r.errorCode !== ErrorCode.NONE) {
    if (header.apiVersion >= 2) return { throttleTimeMs: 0, errorCode: r.errorCode, topics: [] }
    // v1: nowhere to put a group-level error but on each partition asked for (Kafka's OffsetFetchRequest.getErrorResponse).
    return {
      throttleTimeMs: 0,
      topics: (topics ?? []).map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: r.errorCode })),
      })),
    }
  }
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    topics: r.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partition, committedOffset: BigInt(p.offset), committedLeaderEpoch: p.leaderEpoch, metadata: p.metadata, errorCode: p.errorCode })),
    })),
  }
}

export async function handleOffsetDelete({ ctx, request }: HandlerInput<OffsetDeleteRequest>): Promise<OffsetDeleteResponseInput> {
  if (request.groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, throttleTimeMs: 0, topics: [] }
  const image = ctx.metadata.image()
  const unknown = new Map<string, number>()
  const valid: { name: string; partitions: number[] }[] = []
  for (const t of request.topics) {
    const partitions: number[] = []
    for (const p of t.partitions) {
      if (!partitionExists(image, t.name, p.partitionIndex)) unknown.set(key(t.name, p.partitionIndex), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
      else partitions.push(p.partitionIndex)
    }
    if (partitions.length > 0) valid.push({ name: t.name, partitions })
  }
  // Asked even with nothing valid left: the group's own error (GROUP_ID_NOT_FOUND, NOT_COORDINATOR, ...) still applies, as in Kafka.
  const r = await ctx.groups.deleteOffsets({ groupId: request.groupId, topics: valid })
  if (r.errorCode !== ErrorCode.NONE) return { errorCode: r.errorCode, throttleTimeMs: 0, topics: [] }
  const topics = inRequestOrder(
    request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => p.partitionIndex) })),
    unknown,
    r,
  )
  return { errorCode: ErrorCode.NONE, throttleTimeMs: 0, topics }
}
