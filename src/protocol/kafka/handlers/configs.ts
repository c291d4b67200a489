/**
 * DescribeConfigs (topic: every topic config with its effective value, source and synonyms —
 * topic override, dynamic broker config for this broker or for all, static broker config, or
 * default; broker: this broker's settings with their dynamic overrides), resolved by
 * src/cluster/topic-configs.ts, and AlterConfigs (decided by the metadata service).
 */
import type { AlterConfigsResource, ConfigResourceType } from '../../../cluster/metadata.ts'
import { ConfigSource, describeBrokerConfigs, type ResolvedConfig, resolveTopicConfigs } from '../../../cluster/topic-configs.ts'
import { ErrorCode } from '../error-codes.ts'
import type {
  AlterConfigsRequest,
  AlterConfigsResponseInput,
  DescribeConfigsRequest,
  DescribeConfigsResourceResultInput,
  DescribeConfigsResponseInput,
  DescribeConfigsResultInput,
} from '../generated/index.ts'
import type { BrokerContext, HandlerInput } from './context.ts'

/** Kafka's ConfigResource.Type codes. */
export const ResourceType = { TOPIC: 2, BROKER: 4 } as const

function resourceType(code: number): ConfigResourceType | null {
  return code === ResourceType.TOPIC ? 'topic' : code === ResourceType.BROKER ? 'broker' : null
}

function describeOne(ctx: BrokerContext, r: DescribeConfigsRequest['resources'][number], includeSynonyms: boolean): DescribeConfigsResultInput {
  const base = { resourceType: r.resourceType, resourceName: r.resourceName }
  const wanted = r.configurationKeys === null || r.configurationKeys.length === 0 ? null : new Set(r.configurationKeys)
  const entry = (c: ResolvedConfig): DescribeConfigsResourceResultInput => ({
    name: c.name,
    value: c.value,
    readOnly: c.readOnly,
    isDefault: c.source === ConfigSource.DEFAULT_CONFIG,
    configSource: c.source,
    isSensitive: false,
    synonyms: includeSynonyms ? c.synonyms : [],
  })
  const answer = (configs: ResolvedConfig[]): DescribeConfigsResultInput => ({
    ...base,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    configs: configs.filter((c) => wanted === null || wanted.has(c.name)).map(entry),
  })
  const image = ctx.metadata.image()
  if (r.resourceType === ResourceType.TOPIC) {
    const topic = image.topics.get(r.resourceName)
    if (!topic) return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic ${r.resourceName} does not exist`, configs: [] }
    return answer(resolveTopicConfigs(topic.configs, ctx.settings, image))
  }
  if (r.resourceType === ResourceType.BROKER) {
    if (r.resourceName !== '' && r.resourceName !== String(ctx.nodeId)) {
      return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unexpected broker id, expected ${ctx.nodeId} or empty string, but received ${r.resourceName}`, configs: [] }
    }
    return answer(describeBrokerConfigs(ctx.settings, image))
  }
  return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `unsupported resource type ${r.resourceType}`, configs: [] }
}

export function handleDescribeConfigs({ ctx, header, request }: HandlerInput<DescribeConfigsRequest>): DescribeConfigsResponseInput {
  const includeSynonyms = header.apiVersion >= 1 && request.includeSynonyms
  return { throttleTimeMs: 0, results: request.resources.map((r) => describeOne(ctx, r, includeSynonyms)) }
}

export async function handleAlterConfigs({ ctx, request }: HandlerInput<AlterConfigsRequest>): Promise<AlterConfigsResponseInput> {
  const answers = new Map<number, { errorCode: number; errorMessage: string | null }>()
  const asked: { index: number; resource: AlterConfigsResource }[] = []
  request.resources.forEach((r, index) => {
    const type = resourceType(r.resourceType)
    if (type === null) answers.set(index, { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `unsupported resource type ${r.resourceType}` })
    else if (type === 'topic' && !ctx.metadata.image().topics.has(r.resourceName)) answers.set(index, { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic ${r.resourceName} does not exist` })
    else asked.push({ index, resource: { type, name: r.resourceName, configs: r.configs.map((c) => ({ name: c.name, value: c.value })) } })
  })
  if (asked.length > 0) {
    try {
      const results = await ctx.metadata.alterConfigs(asked.map((a) => a.resource), { validateOnly: request.validateOnly, incremental: false })
      asked.forEach((a) => {
        const r = results.find((x) => x.type === a.resource.type && x.name === a.resource.name)
        answers.set(a.index, r ? { errorCode: r.errorCode, errorMessage: r.errorMessage } : { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: null })
      })
    } catch (err) {
      for (const a of asked) answers.set(a.index, { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: (err as Error).message })
    }
  }
  return {
    throttleTimeMs: 0,
    responses: request.resources.map((r, i) => ({ resourceType: r.resourceType, resourceName: r.resourceName, ...answers.get(i)! })),
  }
}
