/**
 * Metadata: brokers (this node's advertised listener, and the others the image knows), the
 * cluster id and controller, and the topics asked for (all when the list is null, or empty in
 * v0), auto-creating missing ones as Kafka does (`auto.create.topics.enable`, and the
 * request's `allowAutoTopicCreation` from v4).
 */
import type { MetadataImage, TopicImage } from '../../../cluster/metadata.ts'
import { ErrorCode } from '../error-codes.ts'
import type { MetadataRequest, MetadataResponseBrokerInput, MetadataResponseInput, MetadataResponseTopicInput } from '../generated/index.ts'
import { autoCreateTopics } from './auto-create.ts'
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
  return { errorCode, name, isInternal: false, partitions: [] }
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
    const missing = names.filter((n) => !image.topics.has(n))
    const created = missing.length > 0 ? await autoCreateTopics(ctx, missing, allowAutoCreate) : new Map<string, number>()
    if (missing.length > 0) image = ctx.metadata.image()
    topics = names.map((name) => {
      const t = image.topics.get(name)
      if (t) return topicMetadata(t)
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
