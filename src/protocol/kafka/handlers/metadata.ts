/**
 * Metadata: brokers (this node's advertised listener, and the others the image knows), the
 * cluster id and controller, and the topics asked for (all when the list is null, or empty in
 * v0), auto-creating missing ones as Kafka does (`auto.create.topics.enable`, and the
 * request's `allowAutoTopicCreation` from v4).
 *
 * Internal topics are never created with a user topic's settings: a missing `__consumer_offsets`
 * is created by the group coordinator service (with the offsets.topic.* settings, as Kafka's
 * AutoTopicCreationManager does) and answered LEADER_NOT_AVAILABLE meanwhile; a missing
 * `__transaction_state` is UNKNOWN_TOPIC_OR_PARTITION (no transaction coordinator yet).
 */
import type { MetadataImage, TopicImage } from '../../../cluster/metadata.ts'
import { ErrorCode } from '../error-codes.ts'
import type { MetadataRequest, MetadataResponseBrokerInput, MetadataResponseInput, MetadataResponseTopicInput } from '../generated/index.ts'
import { autoCreateTopics } from './auto-create.ts'
import { INTERNAL_TOPICS } from '../../../cluster/topic-name.ts'
import type { BrokerContext, HandlerInput } from './context.ts'

export function brokersOf(ctx: BrokerContext, image: MetadataImage): MetadataResponseBrokerInput[] {
  const self = ctx.advertised()
  const brokers = new Map<number, MetadataResponseBrokerInput>()
  for (const b of image.brokers.values()) if (!b.fenced) brokers.set(b.nodeId, { nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })
  brokers.set(ctx.nodeId, { nodeId: ctx.nodeId, host: self.host, port: self.port, rack: brokers.get(ctx.nodeId)?.rack ?? null })
  return [...brokers.values()].sort((a, b) => a.nodeId - b.nodeId)
}

export function topicMetadata(topic: TopicImage): MetadataResponseTopicInput {
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    isInternal: topic.internal,
    partitions: topic.partitions.map((p) => ({
      errorCode: p.leader === -1 ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
      partitionIndex: p.partition,
      leaderId: p.leader,
      leaderEpoch: p.leaderEpoch,
      replicaNodes: p.replicas,
      isrNodes: p.isr,
      offlineReplicas: [],
    })),
  }
}

function errorTopic(name: string, errorCode: number): MetadataResponseTopicInput {
  return { errorCode, name, isInternal: INTERNAL_TOPICS.has(name), partitions: [] }
}

const OFFSETS_TOPIC = '__consumer_offsets'

/** Missing internal topics: what Kafka answers for each, after starting what it would start. */
function missingInternalTopics(ctx: BrokerContext, names: readonly string[], allowAutoCreate: boolean): Map<string, number> {
  const out = new Map<string, number>()
  const create = allowAutoCreate && ctx.settings.config['auto.create.topics.enable']
  for (const name of names) {
    if (name === OFFSETS_TOPIC && create) {
      // FindCoordinator creates it with the offsets.topic.* settings; the answer does not wait for it.
      ctx.groups.findCoordinator('').catch((err: unknown) => ctx.logger.warn(`creating ${OFFSETS_TOPIC} failed: ${(err as Error).message}`))
      out.set(name, ErrorCode.LEADER_NOT_AVAILABLE)
    } else out.set(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  }
  return out
}

export async function handleMetadata({ ctx, header, request }: HandlerInput<MetadataRequest>): Promise<MetadataResponseInput> {
  let image = ctx.metadata.image()
  const all = request.topics === null || (header.apiVersion === 0 && request.topics.length === 0)
  let topics: MetadataResponseTopicInput[]
  if (all) {
    topics = [...image.topics.values()].map(topicMetadata)
  } else {
    const names = [...new Set(request.topics!.map((t) => t.name))]
    const allowAutoCreate = header.apiVersion < 4 || request.allowAutoTopicCreation
    const missing = names.filter((n) => !image.topics.has(n) && !INTERNAL_TOPICS.has(n))
    const internal = missingInternalTopics(ctx, names.filter((n) => !image.topics.has(n) && INTERNAL_TOPICS.has(n)), allowAutoCreate)
    const created = missing.length > 0 ? await autoCreateTopics(ctx, missing, allowAutoCreate) : new Map<string, number>()
    if (missing.length > 0) image = ctx.metadata.image()
    topics = names.map((name) => {
      const t = image.topics.get(name)
      if (t) return topicMetadata(t)
      const internalCode = internal.get(name)
      if (internalCode !== undefined) return errorTopic(name, internalCode)
      const code = created.get(name) ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
      // Created but not in the image yet: Kafka answers LEADER_NOT_AVAILABLE, and the client asks again.
      return errorTopic(name, code === ErrorCode.NONE ? ErrorCode.LEADER_NOT_AVAILABLE : code)
    })
  }
  return {
    throttleTimeMs: 0,
    brokers: brokersOf(ctx, image),
    clusterId: image.clusterId,
    controllerId: image.controllerId,
    topics,
  }
}
