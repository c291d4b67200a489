/**
 * Topic and broker configs: what the controller validates, what the broker applies to its
 * partition logs, and what DescribeConfigs reports. The one place that resolves them.
 *
 * Topic configs: the keys of src/log/log-config.ts (what the partition log obeys), checked by
 * logConfig(), plus the rest of Kafka's topic configs that clients send (compression.type,
 * min.insync.replicas, ...), checked here and stored for the features that read them.
 *
 * A topic config resolves as Kafka resolves it, most specific first:
 *   1. the topic's override                                   DYNAMIC_TOPIC_CONFIG
 *   2. its broker synonym (`retention.ms` ← `log.retention.ms`) altered for this broker
 *      (AlterConfigs on broker resource "<node.id>")           DYNAMIC_BROKER_CONFIG
 *   3. the synonym altered for every broker (resource "")    DYNAMIC_DEFAULT_BROKER_CONFIG
 *   4. the synonym set in the broker's static config          STATIC_BROKER_CONFIG
 *   5. the default (the broker config's, else the topic's)    DEFAULT_CONFIG
 * Every level present is a synonym (DescribeConfigs' `synonyms`); the first is the value.
 *
 * Broker configs: the BrokerConfig keys Kafka can change at runtime ("cluster-wide" update
 * mode) may be altered through AlterConfigs for resource "" (every broker) or "<node.id>"; the
 * others are read-only, and altering them is refused as Kafka does.
 *
 * Helpers:
 * - `resolveTopicConfigs` / `describeBrokerConfigs`: values, sources and synonyms (DescribeConfigs).
 * - `partitionLogConfig`, `topicLogConfig`: the LogConfig a partition uses.
 * - `minInsyncReplicas`: the topic's min.insync.replicas.
 * - `effectiveBrokerConfig(image, brokerConfig)`: the static config with the dynamic overrides.
 * - `describeTopicConfigs(...)`: every topic config with its value and whether it is a default (CreateTopics).
 */
import { type BrokerConfig, type BrokerSettings, DEFAULT_BROKER_CONFIG } from '../broker/broker-config.ts'
import { DEFAULT_LOG_CONFIG, isLogConfigKey, logConfig, type LogConfig } from '../log/log-config.ts'
import type { Logger } from '../runtime/logger.ts'
import type { MetadataImage } from './metadata.ts'

/** Kafka's DescribeConfigs config sources. */
export const ConfigSource = {
  DYNAMIC_TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
} as const

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

/**
 * Each topic config's broker synonym (Kafka's names): the broker setting that gives its default.
 * Only those BrokerConfig has are read; the others name the DEFAULT_CONFIG synonym, as Kafka does.
 */
const BROKER_SYNONYM: Readonly<Record<string, string>> = {
  'cleanup.policy': 'log.cleanup.policy',
  'compression.type': 'compression.type',
  'delete.retention.ms': 'log.cleaner.delete.retention.ms',
  'file.delete.delay.ms': 'log.segment.delete.delay.ms',
  'flush.messages': 'log.flush.interval.messages',
  'flush.ms': 'log.flush.interval.ms',
  'index.interval.bytes': 'log.index.interval.bytes',
  'local.retention.bytes': 'log.local.retention.bytes',
  'local.retention.ms': 'log.local.retention.ms',
  'max.compaction.lag.ms': 'log.cleaner.max.compaction.lag.ms',
  'max.message.bytes': 'message.max.bytes',
  'message.downconversion.enable': 'log.message.downconversion.enable',
  'message.timestamp.after.max.ms': 'log.message.timestamp.after.max.ms',
  'message.timestamp.before.max.ms': 'log.message.timestamp.before.max.ms',
  'message.timestamp.difference.max.ms': 'log.message.timestamp.difference.max.ms',
  'message.timestamp.type': 'log.message.timestamp.type',
  'min.cleanable.dirty.ratio': 'log.cleaner.min.cleanable.ratio',
  'min.compaction.lag.ms': 'log.cleaner.min.compaction.lag.ms',
  'min.insync.replicas': 'min.insync.replicas',
  preallocate: 'log.preallocate',
  'retention.bytes': 'log.retention.bytes',
  'retention.ms': 'log.retention.ms',
  'segment.bytes': 'log.segment.bytes',
  'segment.index.bytes': 'log.index.size.max.bytes',
  'segment.jitter.ms': 'log.roll.jitter.ms',
  'segment.ms': 'log.roll.ms',
  'unclean.leader.election.enable': 'unclean.leader.election.enable',
}

const hasOwn = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key)

/** BrokerConfig keys that AlterConfigs may change at runtime, with the log key whose rule checks them. */
const DYNAMIC_BROKER_CONFIGS: Readonly<Partial<Record<keyof BrokerConfig, keyof LogConfig>>> = Object.fromEntries(
  Object.entries(BROKER_SYNONYM)
    .filter(([topicKey, brokerKey]) => isLogConfigKey(topicKey) && hasOwn(DEFAULT_BROKER_CONFIG, brokerKey))
    .map(([logKey, brokerKey]) => [brokerKey, logKey]),
)

export function isTopicConfigKey(key: string): boolean {
  return isLogConfigKey(key) || hasOwn(EXTRA_TOPIC_CONFIGS, key)
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
 */
export function topicConfigProblem(overrides: Readonly<Record<string, string>>): string | null {
  const logOverrides: Record<string, string> = {}
  for (const [key, value] of Object.entries(overrides)) {
    if (isLogConfigKey(key)) logOverrides[key] = value
    else if (hasOwn(EXTRA_TOPIC_CONFIGS, key)) {
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

/** One level a config's value can come from (DescribeConfigs' synonyms). */
export interface ConfigSynonym {
  name: string
  value: string | null
  source: number
}

/** A config resolved for DescribeConfigs: the value and source of the first synonym, or the default. */
export interface ResolvedConfig {
  name: string
  value: string | null
  source: number
  readOnly: boolean
  /** Every level that sets it, most specific first (Kafka's order). */
  synonyms: ConfigSynonym[]
}

const NO_KEYS: ReadonlySet<string> = new Set()

/** Settings from a bare config: every key counts as a default (source DEFAULT_CONFIG). */
function settingsOf(config: Readonly<BrokerConfig>): BrokerSettings {
  return { config, explicit: NO_KEYS }
}

/** A topic config's own default (Kafka's), with no broker setting. */
function topicDefault(name: string): string | null {
  if (isLogConfigKey(name)) return String(DEFAULT_LOG_CONFIG[name])
  return hasOwn(EXTRA_TOPIC_CONFIGS, name) ? EXTRA_TOPIC_CONFIGS[name]!.default : null
}

function asString(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v)
}

/**
 * Where a broker config's value comes from, most specific first: the image's overrides for this
 * broker and for every broker (dynamic keys only), the static config (STATIC when given
 * explicitly, then Kafka's default), else `fallback` as the default when BrokerConfig has no such key.
 */
function brokerSynonyms(key: string, settings: BrokerSettings, image: MetadataImage | undefined, fallback: string | null): ConfigSynonym[] {
  const out: ConfigSynonym[] = []
  if (image?.brokerConfigs !== undefined && hasOwn(DYNAMIC_BROKER_CONFIGS, key)) {
    const own = image.brokerConfigs.get(String(settings.config['node.id']))?.[key]
    if (own !== undefined) out.push({ name: key, value: own, source: ConfigSource.DYNAMIC_BROKER_CONFIG })
    const all = image.brokerConfigs.get('')?.[key]
    if (all !== undefined) out.push({ name: key, value: all, source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG })
  }
  const config = settings.config as unknown as Readonly<Record<string, unknown>>
  if (!hasOwn(config, key)) {
    out.push({ name: key, value: fallback, source: ConfigSource.DEFAULT_CONFIG })
  } else if (settings.explicit.has(key)) {
    out.push({ name: key, value: asString(config[key]), source: ConfigSource.STATIC_BROKER_CONFIG })
    if (hasOwn(DEFAULT_BROKER_CONFIG, key)) out.push({ name: key, value: asString((DEFAULT_BROKER_CONFIG as unknown as Record<string, unknown>)[key]), source: ConfigSource.DEFAULT_CONFIG })
  } else {
    out.push({ name: key, value: asString(config[key]), source: ConfigSource.DEFAULT_CONFIG })
  }
  return out
}

function resolved(name: string, synonyms: ConfigSynonym[], fallback: string | null, readOnly: boolean): ResolvedConfig {
  const first = synonyms[0]
  return { name, value: first ? first.value : fallback, source: first ? first.source : ConfigSource.DEFAULT_CONFIG, readOnly, synonyms }
}

/**
 * One topic config, resolved: the topic's override, else its broker synonym (dynamic for this
 * broker, dynamic for all, static), else the default. Without `image`, no dynamic broker overrides.
 */
export function resolveTopicConfig(name: string, overrides: Readonly<Record<string, string>>, settings: BrokerSettings, image?: MetadataImage): ResolvedConfig {
  const fallback = topicDefault(name)
  const synonyms: ConfigSynonym[] = []
  const override = overrides[name]
  if (override !== undefined) synonyms.push({ name, value: override, source: ConfigSource.DYNAMIC_TOPIC_CONFIG })
  const brokerKey = BROKER_SYNONYM[name]
  if (brokerKey !== undefined) synonyms.push(...brokerSynonyms(brokerKey, settings, image, fallback))
  return resolved(name, synonyms, fallback, false)
}

/** Every topic config (and any other override the topic has), resolved, sorted by name: DescribeConfigs for a topic. */
export function resolveTopicConfigs(overrides: Readonly<Record<string, string>>, settings: BrokerSettings, image?: MetadataImage): ResolvedConfig[] {
  const names = [...TOPIC_CONFIG_NAMES, ...Object.keys(overrides).filter((k) => !isTopicConfigKey(k))]
  return names.map((name) => resolveTopicConfig(name, overrides, settings, image)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

/** The broker's configs, resolved, sorted by name: DescribeConfigs for a broker (the dynamic ones are not read-only). */
export function describeBrokerConfigs(settings: BrokerSettings, image?: MetadataImage): ResolvedConfig[] {
  return Object.keys(settings.config)
    .sort()
    .map((key) => resolved(key, brokerSynonyms(key, settings, image, null), null, !hasOwn(DYNAMIC_BROKER_CONFIGS, key)))
}

/** The broker's static config with the image's dynamic overrides (per-broker over cluster-wide). */
export function effectiveBrokerConfig(image: MetadataImage, config: BrokerConfig): BrokerConfig {
  const dynamic = { ...image.brokerConfigs?.get(''), ...image.brokerConfigs?.get(String(config['node.id'])) }
  const out: Record<string, unknown> = { ...config }
  for (const [key, value] of Object.entries(dynamic)) {
    if (!hasOwn(DYNAMIC_BROKER_CONFIGS, key)) continue
    out[key] = key === 'log.cleanup.policy' ? value : Number(value)
  }
  return out as unknown as BrokerConfig
}

/**
 * The LogConfig of a topic's partitions on this broker: each key from the first level that sets it
 * (see resolveTopicConfig). A value that does not parse is skipped for the next level (logged when
 * `logger` is given), so a bad value never keeps a partition from opening.
 */
export function partitionLogConfig(overrides: Readonly<Record<string, string>>, settings: BrokerSettings, image?: MetadataImage, logger?: Logger): LogConfig {
  const values: Partial<Record<keyof LogConfig, string>> = {}
  for (const key of Object.keys(DEFAULT_LOG_CONFIG) as (keyof LogConfig)[]) {
    for (const s of resolveTopicConfig(key, overrides, settings, image).synonyms) {
      if (s.value === null) continue
      try {
        logConfig({ [key]: s.value })
        values[key] = s.value
        break
      } catch (err) {
        logger?.warn(`config ${s.name}=${s.value} ignored: ${(err as Error).message}`)
      }
    }
  }
  return logConfig(values)
}

/** The LogConfig the partitions of `topic` use (undefined when the image has no such topic). */
export function topicLogConfig(image: MetadataImage, topic: string, config: BrokerConfig): LogConfig | undefined {
  const t = image.topics.get(topic)
  return t === undefined ? undefined : partitionLogConfig(t.configs, settingsOf(config), image)
}

/** A topic's min.insync.replicas (acks=all needs that many in-sync replicas): the first level set to an integer >= 1, else 1. */
export function minInsyncReplicas(overrides: Readonly<Record<string, string>>, settings: BrokerSettings, image?: MetadataImage): number {
  for (const s of resolveTopicConfig('min.insync.replicas', overrides, settings, image).synonyms) {
    const n = s.value === null || s.value.trim() === '' ? NaN : Number(s.value)
    if (Number.isInteger(n) && n >= 1) return n
  }
  return 1
}

export interface DescribedConfig {
  name: string
  value: string | null
  isDefault: boolean
  readOnly: boolean
  sensitive: boolean
}

/** Every topic config, sorted by name: the override where there is one, else the default (CreateTopics' answer). */
export function describeTopicConfigs(overrides: Readonly<Record<string, string>>, config: BrokerConfig): DescribedConfig[] {
  return TOPIC_CONFIG_NAMES.map((name) => {
    const r = resolveTopicConfig(name, overrides, settingsOf(config))
    return { name, value: r.value, isDefault: r.source !== ConfigSource.DYNAMIC_TOPIC_CONFIG, readOnly: false, sensitive: false }
  })
}

/** Whether a BrokerConfig key can change at runtime. */
export function isDynamicBrokerConfig(key: string): boolean {
  return hasOwn(DYNAMIC_BROKER_CONFIGS, key)
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
