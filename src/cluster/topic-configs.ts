/**
 * Topic and broker configs as the controller validates and the broker applies them.
 *
 * Topic configs: the keys of src/log/log-config.ts (what the partition log obeys), checked by
 * logConfig(), plus the rest of Kafka's topic configs that clients send (compression.type,
 * min.insync.replicas, ...), checked here and stored for the features that will read them.
 * A topic's default for a log key comes from the broker's config under Kafka's broker name
 * (`log.retention.ms` → `retention.ms`), after the dynamic broker overrides of the image.
 *
 * Broker configs: the BrokerConfig keys Kafka can change at runtime ("cluster-wide" update
 * mode) may be altered through AlterConfigs for resource "" (every broker) or "<node.id>"; the
 * others are read-only, and altering them is refused as Kafka does.
 *
 * Helpers for the broker:
 * - `topicLogConfig(image, topic, brokerConfig)`: the LogConfig a partition of `topic` uses.
 * - `effectiveBrokerConfig(image, brokerConfig)`: the static config with the dynamic overrides.
 * - `describeTopicConfigs(...)`: every topic config with its value and whether it is a default.
 */
import type { BrokerConfig } from '../broker/broker-config.ts'
import { DEFAULT_LOG_CONFIG, isLogConfigKey, logConfig, type LogConfig } from '../log/log-config.ts'
import type { MetadataImage } from './metadata.ts'

const LONG_MAX = '9223372036854775807'

type ExtraRule =
  | { kind: 'long'; min: bigint; default: string }
  | { kind: 'bool'; default: string }
  | { kind: 'ratio'; default: string }
  | { kind: 'oneOf'; values: readonly string[]; default: string }
  | { kind: 'list'; default: string }

/** Kafka's topic configs that the log does not read (yet): validated and stored. */
const EXTRA_TOPIC_CONFIGS: Readonly<Record<string, ExtraRule>> = {
  'compression.type': { kind: 'oneOf', values: ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'], default: 'producer' },
  'min.insync.replicas': { kind: 'long', min: 1n, default: '1' },
  'unclean.leader.election.enable': { kind: 'bool', default: 'false' },
  'message.timestamp.difference.max.ms': { kind: 'long', min: 0n, default: LONG_MAX },
  'message.timestamp.before.max.ms': { kind: 'long', min: 0n, default: LONG_MAX },
  'message.timestamp.after.max.ms': { kind: 'long', min: 0n, default: LONG_MAX },
  'message.downconversion.enable': { kind: 'bool', default: 'true' },
  preallocate: { kind: 'bool', default: 'false' },
  'file.delete.delay.ms': { kind: 'long', min: 0n, default: '60000' },
  'max.compaction.lag.ms': { kind: 'long', min: 1n, default: LONG_MAX },
  'min.cleanable.dirty.ratio': { kind: 'ratio', default: '0.5' },
  'segment.jitter.ms': { kind: 'long', min: 0n, default: '0' },
  'leader.replication.throttled.replicas': { kind: 'list', default: '' },
  'follower.replication.throttled.replicas': { kind: 'list', default: '' },
  'local.retention.ms': { kind: 'long', min: -2n, default: '-2' },
  'local.retention.bytes': { kind: 'long', min: -2n, default: '-2' },
  'remote.storage.enable': { kind: 'bool', default: 'false' },
}

/** Topic configs whose values are lists (IncrementalAlterConfigs may APPEND / SUBTRACT them). */
export const LIST_TOPIC_CONFIGS: ReadonlySet<string> = new Set(['cleanup.policy', 'leader.replication.throttled.replicas', 'follower.replication.throttled.replicas'])

/** The broker config giving a log config key its default (Kafka's names). */
const BROKER_DEFAULT_FOR: Readonly<Partial<Record<keyof LogConfig, keyof BrokerConfig>>> = {
  'segment.bytes': 'log.segment.bytes',
  'retention.ms': 'log.retention.ms',
  'retention.bytes': 'log.retention.bytes',
  'flush.messages': 'log.flush.interval.messages',
  'flush.ms': 'log.flush.interval.ms',
  'cleanup.policy': 'log.cleanup.policy',
  'max.message.bytes': 'message.max.bytes',
}

/** BrokerConfig keys that AlterConfigs may change at runtime, with the log key whose rule checks them. */
const DYNAMIC_BROKER_CONFIGS: Readonly<Partial<Record<keyof BrokerConfig, keyof LogConfig>>> = Object.fromEntries(
  Object.entries(BROKER_DEFAULT_FOR).map(([logKey, brokerKey]) => [brokerKey, logKey]),
)

export function isTopicConfigKey(key: string): boolean {
  return isLogConfigKey(key) || Object.prototype.hasOwnProperty.call(EXTRA_TOPIC_CONFIGS, key)
}

/** All topic config names, sorted. */
export const TOPIC_CONFIG_NAMES: readonly string[] = [...Object.keys(DEFAULT_LOG_CONFIG), ...Object.keys(EXTRA_TOPIC_CONFIGS)].sort()

function checkExtra(key: string, value: string): string | null {
  const rule = EXTRA_TOPIC_CONFIGS[key]!
  const v = value.trim()
  switch (rule.kind) {
    case 'long': {
      if (!/^-?\d+$/.test(v)) return `invalid value '${value}' for ${key}: expected an integer >= ${rule.min}`
      const n = BigInt(v)
      if (n < rule.min || n > BigInt(LONG_MAX)) return `invalid value '${value}' for ${key}: expected an integer >= ${rule.min}`
      return null
    }
    case 'bool':
      return v.toLowerCase() === 'true' || v.toLowerCase() === 'false' ? null : `invalid value '${value}' for ${key}: expected true or false`
    case 'ratio': {
      const n = v === '' ? NaN : Number(v)
      return Number.isFinite(n) && n >= 0 && n <= 1 ? null : `invalid value '${value}' for ${key}: expected a number from 0 to 1`
    }
    case 'oneOf':
      return rule.values.includes(v) ? null : `invalid value '${value}' for ${key}: expected one of ${rule.values.join(', ')}`
    case 'list':
      return /^(\*|(\d+:\d+)(,\d+:\d+)*)?$/.test(v.replace(/\s+/g, '')) ? null : `invalid value '${value}' for ${key}: expected '*' or a list of partition:broker`
  }
}

/**
 * Checks a topic's overrides (Kafka's INVALID_CONFIG cases); null when valid, else one line.
 * `brokerConfig` gives the defaults the overrides are merged over (some checks need both).
 */
export function topicConfigProblem(overrides: Readonly<Record<string, string>>): string | null {
  const logOverrides: Record<string, string> = {}
  for (const [key, value] of Object.entries(overrides)) {
    if (isLogConfigKey(key)) logOverrides[key] = value
    else if (Object.prototype.hasOwnProperty.call(EXTRA_TOPIC_CONFIGS, key)) {
      const problem = checkExtra(key, value)
      if (problem) return problem
    } else return `Unknown topic config name: ${key}`
  }
  try {
    logConfig(logOverrides)
  } catch (err) {
    return (err as Error).message
  }
  return null
}

/** The broker's static config with the image's dynamic overrides (per-broker over cluster-wide). */
export function effectiveBrokerConfig(image: MetadataImage, config: BrokerConfig): BrokerConfig {
  const dynamic = { ...image.brokerConfigs?.get(''), ...image.brokerConfigs?.get(String(config['node.id'])) }
  const out: Record<string, unknown> = { ...config }
  for (const [key, value] of Object.entries(dynamic)) {
    if (!Object.prototype.hasOwnProperty.call(DYNAMIC_BROKER_CONFIGS, key)) continue
    out[key] = key === 'log.cleanup.policy' ? value : Number(value)
  }
  return out as unknown as BrokerConfig
}

/** The topic-level defaults a broker config gives (before any topic override). */
export function brokerTopicDefaults(config: BrokerConfig): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(DEFAULT_LOG_CONFIG)) {
    const brokerKey = BROKER_DEFAULT_FOR[key as keyof LogConfig]
    out[key] = String(brokerKey === undefined ? value : config[brokerKey])
  }
  for (const [key, rule] of Object.entries(EXTRA_TOPIC_CONFIGS)) out[key] = rule.default
  return out
}

/** The LogConfig of a topic's partitions: broker defaults (with dynamic overrides) under the topic's overrides. */
export function logConfigFor(overrides: Readonly<Record<string, string>>, config: BrokerConfig): LogConfig {
  const defaults = brokerTopicDefaults(config)
  const merged: Record<string, string> = {}
  for (const key of Object.keys(DEFAULT_LOG_CONFIG)) merged[key] = overrides[key] ?? defaults[key]!
  return logConfig(merged as Partial<Record<keyof LogConfig, string>>)
}

/** The LogConfig the partitions of `topic` use (undefined when the image has no such topic). */
export function topicLogConfig(image: MetadataImage, topic: string, config: BrokerConfig): LogConfig | undefined {
  const t = image.topics.get(topic)
  return t === undefined ? undefined : logConfigFor(t.configs, effectiveBrokerConfig(image, config))
}

export interface DescribedConfig {
  name: string
  value: string | null
  isDefault: boolean
  readOnly: boolean
  sensitive: boolean
}

/** Every topic config, sorted by name: the override where there is one, else the default. */
export function describeTopicConfigs(overrides: Readonly<Record<string, string>>, config: BrokerConfig): DescribedConfig[] {
  const defaults = brokerTopicDefaults(config)
  return TOPIC_CONFIG_NAMES.map((name) => {
    const override = overrides[name]
    return { name, value: override ?? defaults[name]!, isDefault: override === undefined, readOnly: false, sensitive: false }
  })
}

/** Whether a BrokerConfig key can change at runtime. */
export function isDynamicBrokerConfig(key: string): boolean {
  return Object.prototype.hasOwnProperty.call(DYNAMIC_BROKER_CONFIGS, key)
}

/** Checks one dynamic broker config value; null when valid. */
export function brokerConfigProblem(key: string, value: string): string | null {
  const logKey = DYNAMIC_BROKER_CONFIGS[key as keyof BrokerConfig]!
  try {
    logConfig({ [logKey]: value })
  } catch (err) {
    return (err as Error).message.replace(` for ${logKey}:`, ` for ${key}:`)
  }
  return null
}
