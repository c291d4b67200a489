/** CreateTopics, DeleteTopics, CreatePartitions: validated here where Kafka's broker does, decided by the metadata service. */
import type { CreatableTopic } from '../../../cluster/metadata.ts'
import { ErrorCode } from '../error-codes.ts'
import type {
  CreatePartitionsRequest,
  CreatePartitionsResponseInput,
  CreateTopicsRequest,
  CreateTopicsResponseInput,
  DeleteTopicsRequest,
  DeleteTopicsResponseInput,
} from '../generated/index.ts'
import type { HandlerInput } from './context.ts'
import { topicNameProblem } from '../../../cluster/topic-name.ts'

export async function handleCreateTopics({ ctx, request }: HandlerInput<CreateTopicsRequest>): Promise<CreateTopicsResponseInput> {
  const counts = new Map<string, number>()
  for (const t of request.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1)
  const results = new Map<string, { errorCode: number; errorMessage: string | null }>()
  const creatable: CreatableTopic[] = []
  for (const t of request.topics) {
    if (results.has(t.name)) continue
    const problem = topicNameProblem(t.name)
    if (counts.get(t.name)! > 1) results.set(t.name, { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Create topics request from client contains multiple topics with the same name: ${t.name}` })
    else if (problem !== null) results.set(t.name, { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: problem })
    else {
      const explicit = t.assignments.length > 0
      const configs: Record<string, string | null> = {}
      for (const c of t.configs) configs[c.name] = c.value
      creatable.push({
        name: t.name,
        numPartitions: explicit ? -1 : t.numPartitions === -1 ? ctx.settings.config['num.partitions'] : t.numPartitions,
        replicationFactor: explicit ? -1 : t.replicationFactor === -1 ? ctx.settings.config['default.replication.factor'] : t.replicationFactor,
        ...(explicit ? { assignments: [...t.assignments].sort((a, b) => a.partitionIndex - b.partitionIndex).map((a) => a.brokerIds) } : {}),
        configs,
      })
    }
  }
  if (creatable.length > 0) {
    try {
      for (const r of await ctx.metadata.createTopics(creatable, { validateOnly: request.validateOnly })) {
        results.set(r.name, { errorCode: r.errorCode, errorMessage: r.errorMessage })
        if (r.errorCode === ErrorCode.NONE && !request.validateOnly) ctx.logger.info(`topic ${r.name} created with ${r.numPartitions} partitions`)
      }
    } catch (err) {
      for (const t of creatable) results.set(t.name, { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: (err as Error).message })
    }
  }
  const seen = new Set<string>()
  return {
    throttleTimeMs: 0,
    topics: request.topics.filter((t) => !seen.has(t.name) && seen.add(t.name)).map((t) => ({ name: t.name, ...(results.get(t.name) ?? { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: null }) })),
  }
}

export async function handleDeleteTopics({ ctx, request }: HandlerInput<DeleteTopicsRequest>): Promise<DeleteTopicsResponseInput> {
  const names = [...new Set(request.topicNames)]
  const results = new Map<string, number>()
  try {
    for (const r of await ctx.metadata.deleteTopics(names.map((name) => ({ name })))) {
      if (r.name !== null) results.set(r.name, r.errorCode)
      if (r.errorCode === ErrorCode.NONE) ctx.logger.info(`topic ${r.name} deleted`)
    }
  } catch (err) {
    ctx.logger.warn(`deleting topics failed: ${(err as Error).message}`)
  }
  return { throttleTimeMs: 0, responses: names.map((name) => ({ name, errorCode: results.get(name) ?? ErrorCode.UNKNOWN_SERVER_ERROR })) }
}

export async function handleCreatePartitions({ ctx, request }: HandlerInput<CreatePartitionsRequest>): Promise<CreatePartitionsResponseInput> {
  const counts = new Map<string, number>()
  for (const t of request.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1)
  const results = new Map<string, { errorCode: number; errorMessage: string | null }>()
  const valid = request.topics.filter((t) => {
    if (counts.get(t.name)! > 1) {
      results.set(t.name, { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Duplicate topic in request: ${t.name}` })
      return false
    }
    return true
  })
  if (valid.length > 0) {
    try {
      const rs = await ctx.metadata.createPartitions(valid.map((t) => ({ name: t.name, count: t.count, assignments: t.assignments?.map((a) => a.brokerIds) ?? null })), { validateOnly: request.validateOnly })
      for (const r of rs) results.set(r.name, { errorCode: r.errorCode, errorMessage: r.errorMessage })
    } catch (err) {
      for (const t of valid) results.set(t.name, { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: (err as Error).message })
    }
  }
  const seen = new Set<string>()
  return {
    throttleTimeMs: 0,
    results: request.topics.filter((t) => !seen.has(t.name) && seen.add(t.name)).map((t) => ({ name: t.name, ...(results.get(t.name) ?? { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: null }) })),
  }
}
