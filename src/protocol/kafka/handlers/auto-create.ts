/**
 * Auto-creation of topics on Metadata and Produce, as Kafka does with
 * `auto.create.topics.enable`: `num.partitions` partitions, `default.replication.factor`
 * replicas. Concurrent requests for the same missing topic share one creation.
 */
import { ErrorCode } from '../error-codes.ts'
import type { BrokerContext } from './context.ts'
import { topicNameProblem } from '../../../cluster/topic-name.ts'

const inFlight = new WeakMap<BrokerContext, Map<string, Promise<number>>>()

/**
 * Creates the topics of `names` that do not exist. Returns, per name, NONE when the topic
 * exists now, or the error (INVALID_TOPIC_EXCEPTION, UNKNOWN_TOPIC_OR_PARTITION when
 * auto-creation is off, or what the metadata service answered).
 */
export async function autoCreateTopics(ctx: BrokerContext, names: readonly string[], allowed = true): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  const image = ctx.metadata.image()
  const missing: string[] = []
  for (const name of names) {
    if (image.topics.has(name)) out.set(name, ErrorCode.NONE)
    else if (topicNameProblem(name) !== null) out.set(name, ErrorCode.INVALID_TOPIC_EXCEPTION)
    else if (!allowed || !ctx.settings.config['auto.create.topics.enable']) out.set(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    else missing.push(name)
  }
  if (missing.length === 0) return out
  let pending = inFlight.get(ctx)
  if (!pending) inFlight.set(ctx, (pending = new Map()))
  const waits = new Map<string, Promise<number>>()
  for (const n of missing) if (pending.has(n)) waits.set(n, pending.get(n)!)
  const toCreate = missing.filter((n) => !waits.has(n))
  if (toCreate.length > 0) {
    const batch = ctx.metadata
      .createTopics(
        toCreate.map((name) => ({ name, numPartitions: ctx.settings.config['num.partitions'], replicationFactor: ctx.settings.config['default.replication.factor'] })),
        { validateOnly: false },
      )
      .then(
        (results) => new Map(results.map((r) => [r.name, r.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS ? ErrorCode.NONE : r.errorCode])),
        (err: unknown) => {
          ctx.logger.warn(`auto-creating ${toCreate.join(', ')} failed: ${(err as Error).message}`)
          return new Map<string, number>()
        },
      )
    for (const name of toCreate) {
      const p = batch.then((m) => m.get(name) ?? ErrorCode.UNKNOWN_SERVER_ERROR)
      pending.set(name, p)
      waits.set(name, p)
      void p.finally(() => pending.delete(name))
    }
    const results = await batch
    for (const name of toCreate) if (results.get(name) === ErrorCode.NONE) ctx.logger.info(`topic ${name} auto-created with ${ctx.settings.config['num.partitions']} partitions`)
  }
  for (const name of missing) out.set(name, await waits.get(name)!)
  return out
}
