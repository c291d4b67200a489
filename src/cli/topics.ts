/**
 * `peerlog topics`: kafka-topics.sh, with its flags: exactly one of --create, --list,
 * --describe, --delete, --alter.
 */
import { Admin, type ConfigEntry } from '../client/admin.ts'
import { KafkaError } from '../client/errors.ts'
import { ErrorCode } from '../protocol/kafka/error-codes.ts'
import { consoleLogger } from '../runtime/logger.ts'
import { UsageError } from './args.ts'
import { parseBootstrap, probe } from './bootstrap.ts'
import { bootstrapConfig, clientFailure, firstLine, handshake, properties } from './client-common.ts'
import { command, CommandError, EXIT_OK } from './command.ts'

const ACTIONS = ['create', 'list', 'describe', 'delete', 'alter'] as const
type Action = (typeof ACTIONS)[number]

/** Kafka's ConfigSource of a topic's own (dynamic) config. */
const DYNAMIC_TOPIC_CONFIG = 1

export const topicsCommand = command({
  name: 'topics',
  args: '',
  summary: 'Create, list, describe, delete or alter topics (the flags of kafka-topics.sh)',
  flags: {
    help: { type: 'boolean', short: 'h', description: 'Show this help' },
    'bootstrap-server': { type: 'string', valueName: '<host:port>', description: 'The broker to connect to (required)' },
    create: { type: 'boolean', description: 'Create a topic' },
    list: { type: 'boolean', description: 'List the topics' },
    describe: { type: 'boolean', description: 'Describe a topic (or all of them): partitions, leaders, configs' },
    delete: { type: 'boolean', description: 'Delete a topic' },
    alter: { type: 'boolean', description: 'Add partitions to a topic, or change its configs' },
    topic: { type: 'string', valueName: '<topic>', description: 'The topic' },
    partitions: { type: 'string', valueName: '<n>', description: 'Partitions (--create, --alter; default: the broker\'s num.partitions)' },
    'replication-factor': { type: 'string', valueName: '<n>', description: 'Replicas per partition (--create; default: the broker\'s)' },
    config: { type: 'string', multiple: true, valueName: '<key=value>', description: 'A topic config, e.g. retention.ms=3600000 (repeatable)' },
    'delete-config': { type: 'string', multiple: true, valueName: '<key>', description: 'With --alter: remove a topic config (repeatable)' },
    'if-exists': { type: 'boolean', description: 'With --alter, --delete or --describe: do nothing if the topic does not exist' },
    'if-not-exists': { type: 'boolean', description: 'With --create: do nothing if the topic exists' },
    'exclude-internal': { type: 'boolean', description: 'With --list or --describe: leave out internal topics' },
  },
  maxPositionals: 0,
  help: [
    'Examples:',
    '  peerlog topics --bootstrap-server 127.0.0.1:9092 --create --topic orders --partitions 6 --config retention.ms=86400000',
    '  peerlog topics --bootstrap-server 127.0.0.1:9092 --list',
    '  peerlog topics --bootstrap-server 127.0.0.1:9092 --describe --topic orders',
    '  peerlog topics --bootstrap-server 127.0.0.1:9092 --alter --topic orders --partitions 12',
    '  peerlog topics --bootstrap-server 127.0.0.1:9092 --delete --topic orders',
  ],
  async run({ flags, io }) {
    const servers = parseBootstrap(flags['bootstrap-server'])
    const chosen = ACTIONS.filter((a) => flags[a])
    if (chosen.length !== 1) {
      throw new UsageError(
        chosen.length === 0
          ? 'missing action: one of --create, --list, --describe, --delete, --alter'
          : `only one of --create, --list, --describe, --delete, --alter at a time (got ${chosen.map((a) => `--${a}`).join(', ')})`,
      )
    }
    const action: Action = chosen[0]!
    const topic = flags.topic
    if (topic === undefined && (action === 'create' || action === 'delete' || action === 'alter')) {
      throw new UsageError(`--${action} needs --topic`)
    }
    const partitions = flags.partitions === undefined ? undefined : positive('--partitions', flags.partitions)
    const replicationFactor = flags['replication-factor'] === undefined ? undefined : positive('--replication-factor', flags['replication-factor'])
    const configs = properties('--config', flags.config)
    const deleteConfigs = flags['delete-config']
    const allowed: Record<string, readonly Action[]> = {
      partitions: ['create', 'alter'],
      'replication-factor': ['create'],
      config: ['create', 'alter'],
      'delete-config': ['alter'],
      'if-exists': ['alter', 'delete', 'describe'],
      'if-not-exists': ['create'],
      'exclude-internal': ['list', 'describe'],
      topic: ['create', 'describe', 'delete', 'alter'],
    }
    for (const [flag, actions] of Object.entries(allowed)) {
      const v = (flags as Record<string, unknown>)[flag]
      const given = Array.isArray(v) ? v.length > 0 : v !== undefined && v !== false
      if (given && !actions.includes(action)) {
        throw new UsageError(`--${flag} is not used with --${action} (only with ${actions.map((a) => `--${a}`).join(', ')})`)
      }
    }
    if (action === 'alter' && partitions === undefined && Object.keys(configs).length === 0 && deleteConfigs.length === 0) {
      throw new UsageError('--alter needs --partitions, --config or --delete-config')
    }

    await probe(servers)
    await handshake(servers)
    const admin = new Admin(bootstrapConfig(servers), { logger: consoleLogger('warn', '', (l) => io.stderr.write(`${l}\n`)) })
    const out = (line: string): unknown => io.stdout.write(`${line}\n`)
    try {
      switch (action) {
        case 'list': {
          for (const name of await admin.listTopics({ listInternal: !flags['exclude-internal'] })) out(name)
          break
        }
        case 'create': {
          try {
            await admin.createTopics([
              { topic: topic!, ...(partitions !== undefined ? { numPartitions: partitions } : {}), ...(replicationFactor !== undefined ? { replicationFactor } : {}), configs },
            ])
            out(`Created topic ${topic}.`)
          } catch (err) {
            if (!(flags['if-not-exists'] && codeOf(err) === ErrorCode.TOPIC_ALREADY_EXISTS)) throw err
          }
          break
        }
        case 'delete': {
          try {
            await admin.deleteTopics([topic!])
            out(`Deleted topic ${topic}.`)
          } catch (err) {
            if (!(flags['if-exists'] && codeOf(err) === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)) throw err
          }
          break
        }
        case 'alter': {
          try {
            if (partitions !== undefined) {
              await admin.createPartitions([{ topic: topic!, count: partitions }])
              out(`Topic ${topic} now has ${partitions} partitions.`)
            }
            if (Object.keys(configs).length > 0 || deleteConfigs.length > 0) {
              // AlterConfigs replaces the topic's whole set of own configs: start from the current one.
              const [current] = await admin.describeConfigs([{ type: 'topic', name: topic! }])
              const merged: Record<string, string> = {}
              for (const c of current!.configs) if (c.source === DYNAMIC_TOPIC_CONFIG && c.value !== null) merged[c.name] = c.value
              Object.assign(merged, configs)
              for (const key of deleteConfigs) {
                if (!(key in merged)) throw new CommandError(`topic '${topic}' has no config '${key}' of its own to delete`)
                delete merged[key]
              }
              await admin.alterConfigs([{ type: 'topic', name: topic!, configs: merged }])
              out(`Updated config for topic ${topic}.`)
            }
          } catch (err) {
            if (!(flags['if-exists'] && codeOf(err) === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)) throw err
          }
          break
        }
        case 'describe': {
          let names: string[]
          if (topic !== undefined) names = [topic]
          else names = await admin.listTopics({ listInternal: !flags['exclude-internal'] })
          if (names.length === 0) break
          let descriptions
          try {
            descriptions = await admin.describeTopics(names)
          } catch (err) {
            if (flags['if-exists'] && codeOf(err) === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) break
            throw err
          }
          const configs = await admin.describeConfigs(names.map((name) => ({ type: 'topic' as const, name })))
          for (const [i, d] of descriptions.entries()) {
            // The topic's own configs, as kafka-topics.sh shows them (not what it inherits from the broker).
            const own = configs[i]!.configs.filter(
              (c: ConfigEntry) => (c.source === -1 ? !c.isDefault : c.source === DYNAMIC_TOPIC_CONFIG) && c.value !== null && !c.isSensitive,
            )
            const rf = d.partitions[0]?.replicas.length ?? 0
            out(
              `Topic: ${d.name}\tPartitionCount: ${d.partitions.length}\tReplicationFactor: ${rf}\tConfigs: ${own.map((c) => `${c.name}=${c.value}`).join(',')}`,
            )
            for (const p of d.partitions) {
              out(`\tTopic: ${d.name}\tPartition: ${p.partition}\tLeader: ${p.leader < 0 ? 'none' : p.leader}\tReplicas: ${p.replicas.join(',')}\tIsr: ${p.isr.join(',')}`)
            }
          }
          break
        }
      }
    } catch (err) {
      if (err instanceof KafkaError) throw new CommandError(describeAdminError(err, topic))
      clientFailure(err, `--${action} failed`)
    } finally {
      await admin.close()
    }
    return EXIT_OK
  },
})

function codeOf(err: unknown): number | undefined {
  return err instanceof KafkaError ? err.code : undefined
}

/** One line for what the broker refused, in the words a Kafka user expects. */
function describeAdminError(err: KafkaError, topic: string | undefined): string {
  const name = topic === undefined ? 'the topic' : `topic '${topic}'`
  // The broker's own message, when it gave one, follows the error name: `NAME for item: message`.
  const detail = /^[A-Z_]+ for [^:]+: (.+)$/.exec(firstLine(err.message))?.[1]
  switch (err.code) {
    case ErrorCode.TOPIC_ALREADY_EXISTS:
      return `${name} already exists`
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
      return `${name} does not exist`
    case ErrorCode.INVALID_TOPIC_EXCEPTION:
      return `invalid topic name${topic === undefined ? '' : ` '${topic}'`}: ${detail ?? "ASCII letters, digits, '.', '_' and '-', at most 249 characters, not '.' or '..'"}`
    case ErrorCode.INVALID_PARTITIONS:
      return `invalid number of partitions for ${name}${detail ? `: ${detail}` : ''}`
    case ErrorCode.INVALID_REPLICATION_FACTOR:
      return `invalid replication factor for ${name}${detail ? `: ${detail}` : ''}`
    case ErrorCode.INVALID_CONFIG:
      return `invalid config for ${name}${detail ? `: ${detail}` : ''}`
    default:
      return firstLine(err.message)
  }
}

function positive(flag: string, value: string): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN
  if (!Number.isSafeInteger(n) || n < 1 || n > 0x7fffffff) throw new UsageError(`invalid value '${value}' for ${flag}: expected an integer >= 1`)
  return n
}
