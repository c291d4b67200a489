/**
 * LogConfig — the topic-level settings the partition log obeys, under Kafka's own
 * names and with Kafka's defaults, so a Kafka user finds them by the names they know.
 * Sizes are bytes, times milliseconds; -1 means "no limit" where Kafka says so.
 */
export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete'
export type TimestampType = 'CreateTime' | 'LogAppendTime'

export interface LogConfig {
  'segment.bytes': number
  'segment.ms': number
  'segment.index.bytes': number
  'index.interval.bytes': number
  'retention.ms': number
  'retention.bytes': number
  'flush.messages': number
  'flush.ms': number
  'cleanup.policy': CleanupPolicy
  'delete.retention.ms': number
  'min.compaction.lag.ms': number
  'max.message.bytes': number
  'message.timestamp.type': TimestampType
}

export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({
  'segment.bytes': 1024 * 1024 * 1024,
  'segment.ms': 7 * 24 * 60 * 60 * 1000,
  'segment.index.bytes': 10 * 1024 * 1024,
  'index.interval.bytes': 4096,
  'retention.ms': 7 * 24 * 60 * 60 * 1000,
  'retention.bytes': -1,
  // Kafka's default leaves flushing to the OS and relies on replication; so do we.
  'flush.messages': Number.MAX_SAFE_INTEGER,
  'flush.ms': Number.MAX_SAFE_INTEGER,
  'cleanup.policy': 'delete',
  'delete.retention.ms': 24 * 60 * 60 * 1000,
  'min.compaction.lag.ms': 0,
  'max.message.bytes': 1024 * 1024 + 12,
  'message.timestamp.type': 'CreateTime',
} satisfies LogConfig)

type Rule = { min?: number; max?: number; oneOf?: readonly string[] }

const RULES: Record<keyof LogConfig, Rule> = {
  'segment.bytes': { min: 14, max: 0x7fffffff },
  'segment.ms': { min: 1 },
  'segment.index.bytes': { min: 8, max: 0x7fffffff },
  'index.interval.bytes': { min: 0, max: 0x7fffffff },
  'retention.ms': { min: -1 },
  'retention.bytes': { min: -1 },
  'flush.messages': { min: 1 },
  'flush.ms': { min: 0 },
  'cleanup.policy': { oneOf: ['delete', 'compact', 'compact,delete'] },
  'delete.retention.ms': { min: 0 },
  'min.compaction.lag.ms': { min: 0 },
  'max.message.bytes': { min: 0, max: 0x7fffffff },
  'message.timestamp.type': { oneOf: ['CreateTime', 'LogAppendTime'] },
}

export function isLogConfigKey(key: string): key is keyof LogConfig {
  return Object.prototype.hasOwnProperty.call(RULES, key)
}

/**
 * Merges `overrides` over the defaults, checking each value; throws one line naming the
 * key and what it accepts. Values may come as strings (from properties files and
 * AlterConfigs) and are parsed here.
 */
export function logConfig(overrides: Partial<Record<keyof LogConfig, string | number>> = {}): LogConfig {
  const out: Record<string, string | number> = { ...DEFAULT_LOG_CONFIG }
  for (const [key, raw] of Object.entries(overrides)) {
    if (raw === undefined) continue
    if (!isLogConfigKey(key)) throw new Error(`unknown log config '${key}'`)
    const rule = RULES[key]
    if (rule.oneOf) {
      const v = String(raw).replace(/\s+/g, '')
      const normalised = v === 'delete,compact' ? 'compact,delete' : v
      if (!rule.oneOf.includes(normalised)) throw new Error(`invalid value '${raw}' for ${key}: expected one of ${rule.oneOf.join(', ')}`)
      out[key] = normalised
      continue
    }
    const n = typeof raw === 'number' ? raw : String(raw).trim() === '' ? NaN : Number(raw)
    if (!Number.isInteger(n) || (rule.min !== undefined && n < rule.min) || (rule.max !== undefined && n > rule.max)) {
      const range = rule.max !== undefined ? `an integer from ${rule.min} to ${rule.max}` : `an integer >= ${rule.min}`
      throw new Error(`invalid value '${raw}' for ${key}: expected ${range}`)
    }
    out[key] = n
  }
  return out as unknown as LogConfig
}

export function compacts(config: LogConfig): boolean {
  return config['cleanup.policy'] !== 'delete'
}

export function deletes(config: LogConfig): boolean {
  return config['cleanup.policy'] !== 'compact'
}
