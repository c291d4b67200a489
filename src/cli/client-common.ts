/**
 * What the client commands (`topics`, `produce`, `consume`) share: `key=value` client
 * properties, the topic check before producing or consuming, and turning the client's
 * errors into one line.
 */
import { Cluster } from '../client/cluster.ts'
import { adminConfig, type ConfigInput } from '../client/config.ts'
import { ConfigError as ClientConfigError, KafkaError } from '../client/errors.ts'
import { ErrorCode } from '../protocol/kafka/error-codes.ts'
import type { TopicMetadata } from '../client/cluster.ts'
import { UsageError } from './args.ts'
import { type BootstrapServer, hostPort } from './bootstrap.ts'
import { CommandError } from './command.ts'

/**
 * How long the first requests to a broker (ApiVersions, Metadata) may take before the
 * command gives up: a server that accepts connections and never answers is one line
 * after this long, not after the clients' retries.
 */
export const HANDSHAKE_TIMEOUT_MS = 10_000

/** `--producer-property k=v` and the like, as a client config. */
export function properties(flag: string, values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const v of values) {
    const eq = v.indexOf('=')
    if (eq <= 0) throw new UsageError(`invalid value '${v}' for ${flag}: expected key=value`)
    out[v.slice(0, eq).trim()] = v.slice(eq + 1).trim()
  }
  return out
}

export function bootstrapConfig(servers: readonly BootstrapServer[]): { 'bootstrap.servers': string } {
  return { 'bootstrap.servers': servers.map(hostPort).join(',') }
}

/** A client error as a CommandError (one line); anything else is rethrown as it is. */
export function clientFailure(err: unknown, doing: string): never {
  if (err instanceof KafkaError) throw new CommandError(`${doing}: ${firstLine(err.message)}`)
  if (err instanceof ClientConfigError) throw new CommandError(firstLine(err.message))
  throw err
}

export function firstLine(s: string): string {
  return s.split('\n')[0]!
}

/**
 * The metadata of one topic, fetched with a Metadata request (which may auto-create it,
 * as Kafka's console tools do when the broker allows it). An unknown or invalid topic is a
 * CommandError.
 */
export async function topicMetadata(
  servers: readonly BootstrapServer[],
  topic: string,
  options: { autoCreate: boolean; extra?: ConfigInput },
): Promise<TopicMetadata> {
  const cluster = new Cluster({ config: adminConfig({ 'request.timeout.ms': HANDSHAKE_TIMEOUT_MS, ...options.extra, ...bootstrapConfig(servers) }).config })
  try {
    // A topic auto-created by this very request may report LEADER_NOT_AVAILABLE for a moment.
    for (let attempt = 0; ; attempt++) {
      const response = await cluster.fetchMetadata([topic], options.autoCreate)
      const t = response.topics.find((x) => x.name === topic)
      const code = t?.errorCode ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
      if (code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) throw new CommandError(`topic '${topic}' does not exist`)
      if (code === ErrorCode.INVALID_TOPIC_EXCEPTION) {
        throw new CommandError(`invalid topic name '${topic}': ASCII letters, digits, '.', '_' and '-', at most 249 characters, not '.' or '..'`)
      }
      const known = cluster.topics.get(topic)
      if (code === ErrorCode.NONE && known !== undefined && known.partitions.length > 0 && known.partitions.every((p) => p.leader >= 0)) {
        return known
      }
      if ((code !== ErrorCode.NONE && code !== ErrorCode.LEADER_NOT_AVAILABLE) || attempt >= 50) {
        throw new KafkaError(code, `topic '${topic}' is not available`)
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  } catch (err) {
    clientFailure(err, `cannot get the metadata of topic '${topic}'`)
  } finally {
    cluster.close()
  }
}

/** One Metadata request (after ApiVersions), to learn that a Kafka broker answers. */
export async function handshake(servers: readonly BootstrapServer[]): Promise<void> {
  const cluster = new Cluster({ config: adminConfig({ 'request.timeout.ms': HANDSHAKE_TIMEOUT_MS, ...bootstrapConfig(servers) }).config })
  try {
    await cluster.fetchMetadata([])
  } catch (err) {
    clientFailure(err, `no answer from a Kafka broker at ${servers.map(hostPort).join(',')}`)
  } finally {
    cluster.close()
  }
}
