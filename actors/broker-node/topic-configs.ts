/**
 * Topic configs as Kafka resolves them: a topic's override, else the broker's setting of the
 * synonym (`retention.ms` ← `log.retention.ms`), else Kafka's default. Used to build each
 * partition's LogConfig and to answer DescribeConfigs with values and sources.
 */
import type { BrokerConfig } from '../../src/broker/broker-config.ts'
import { DEFAULT_LOG_CONFIG, isLogConfigKey, type LogConfig, logConfig } from '../../src/log/log-config.ts'
import type { Logger } from '../../src/runtime/logger.ts'

/** Kafka's DescribeConfigs sources. */
export const ConfigSource = {
  DYNAMIC_TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
} as const

/** Topic config → the broker config that sets its default (Kafka's synonyms), with Kafka's default. */
export const TOPIC_CONFIGS: Readonly<Record<string, { broker: string; default: string }>> = {
  'cleanup.policy': { broker: 'log.cleanup.policy', default: DEFAULT_LOG_CONFIG['cleanup.policy'] },
  'compression.type': { broker: 'compression.type', default: 'producer' },
  'delete.retention.ms': { broker: 'log.cleaner.delete.retention.ms', default: String(DEFAULT_LOG_CONFIG['delete.retention.ms']) },
  'flush.messages': { broker: 'log.flush.interval.messages', default: String(DEFAULT_LOG_CONFIG['flush.messages']) },
  'flush.ms': { broker: 'log.flush.interval.ms', default: String(DEFAULT_LOG_CONFIG['flush.ms']) },
  'index.interval.bytes': { broker: 'log.index.interval.bytes', default: String(DEFAULT_LOG_CONFIG['index.interval.bytes']) },
  'max.message.bytes': { broker: 'message.max.bytes', default: String(DEFAULT_LOG_CONFIG['max.message.bytes']) },
  'message.timestamp.type': { broker: 'log.message.timestamp.type', default: DEFAULT_LOG_CONFIG['message.timestamp.type'] },
  'min.compaction.lag.ms': { broker: 'log.cleaner.min.compaction.lag.ms', default: String(DEFAULT_LOG_CONFIG['min.compaction.lag.ms']) },
  'min.insync.replicas': { broker: 'min.insync.replicas', default: '1' },
  'retention.bytes': { broker: 'log.retention.bytes', default: String(DEFAULT_LOG_CONFIG['retention.bytes']) },
  'retention.ms': { broker: 'log.retention.ms', default: String(DEFAULT_LOG_CONFIG['retention.ms']) },
  'segment.bytes': { broker: 'log.segment.bytes', default: String(DEFAULT_LOG_CONFIG['segment.bytes']) },
  'segment.index.bytes': { broker: 'log.index.size.max.bytes', default: String(DEFAULT_LOG_CONFIG['segment.index.bytes']) },
  'segment.ms': { broker: 'log.roll.ms', default: String(DEFAULT_LOG_CONFIG['segment.ms']) },
  'unclean.leader.election.enable': { broker: 'unclean.leader.election.enable', default: 'false' },
}

export interface ResolvedConfig {
  name: string
  value: string
  source: number
  /** The broker synonym, when the value comes from the broker. */
  synonym: string
}

/** The broker's settings as strings (the given config), and which were set explicitly. */
export interface BrokerSettings {
  config: Readonly<BrokerConfig>
  /** Keys given explicitly (a file, --set, startBroker's `config`): STATIC_BROKER_CONFIG, the rest DEFAULT_CONFIG. */
  explicit: ReadonlySet<string>
}

function brokerValue(settings: BrokerSettings, key: string): string | undefined {
  const v = (settings.config as unknown as Record<string, unknown>)[key]
  return v === undefined || v === null ? undefined : String(v)
}

/** Every topic config, resolved: the override, else the broker's synonym, else the default. */
export function resolveTopicConfigs(settings: BrokerSettings, overrides: Readonly<Record<string, string>>): ResolvedConfig[] {
  const out: ResolvedConfig[] = []
  for (const [name, spec] of Object.entries(TOPIC_CONFIGS)) {
    const override = overrides[name]
    if (override !== undefined) {
      out.push({ name, value: override, source: ConfigSource.DYNAMIC_TOPIC_CONFIG, synonym: spec.broker })
      continue
    }
    const fromBroker = brokerValue(settings, spec.broker)
    if (fromBroker !== undefined) {
      out.push({ name, value: fromBroker, source: settings.explicit.has(spec.broker) ? ConfigSource.STATIC_BROKER_CONFIG : ConfigSource.DEFAULT_CONFIG, synonym: spec.broker })
    } else {
      out.push({ name, value: spec.default, source: ConfigSource.DEFAULT_CONFIG, synonym: spec.broker })
    }
  }
  for (const [name, value] of Object.entries(overrides)) {
    if (!(name in TOPIC_CONFIGS)) out.push({ name, value, source: ConfigSource.DYNAMIC_TOPIC_CONFIG, synonym: name })
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

/** The LogConfig of a topic; a value that does not parse is logged and left at its default. */
export function topicLogConfig(settings: BrokerSettings, overrides: Readonly<Record<string, string>>, logger?: Logger): LogConfig {
  const values: Record<string, string> = {}
  for (const c of resolveTopicConfigs(settings, overrides)) if (isLogConfigKey(c.name)) values[c.name] = c.value
  try {
    return logConfig(values)
  } catch {
    const good: Record<string, string> = {}
    for (const [k, v] of Object.entries(values)) {
      try {
        logConfig({ [k]: v })
        good[k] = v
      } catch (err) {
        logger?.warn(`topic config ${k}=${v} ignored: ${(err as Error).message}`)
      }
    }
    return logConfig(good)
  }
}

export function minInsyncReplicas(settings: BrokerSettings, overrides: Readonly<Record<string, string>>): number {
  const v = Number(overrides['min.insync.replicas'] ?? brokerValue(settings, 'min.insync.replicas') ?? 1)
  return Number.isInteger(v) && v >= 1 ? v : 1
}
