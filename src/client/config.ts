/**
 * Client configs under Kafka's names (`'bootstrap.servers'`, `'linger.ms'`), with Kafka's
 * defaults, parsed from what a program or the CLI passes: numbers, booleans, or their text
 * (`--producer-property linger.ms=10`). A bad value throws ConfigError with one line naming
 * the key and what it accepts; an unknown key is returned in `unknown` for the client to warn
 * about (as Kafka logs "supplied but isn't a known config"), not rejected.
 *
 * Not supported yet, and rejected when set to what would need them: `enable.idempotence=true`
 * (the producer is not idempotent yet: no producer id, no sequence numbers; Kafka's default
 * is true, peerlog's is false for now) and `transactional.id`.
 */
import { assignorFor } from './assignors/index.ts'
import { ConfigError } from './errors.ts'

export type ConfigValue = string | number | boolean | readonly string[] | null | undefined
export type ConfigInput = { readonly [key: string]: ConfigValue }

type Def =
  | { name: string; kind: 'int'; default: number; min: number; max?: number }
  | { name: string; kind: 'boolean'; default: boolean }
  | { name: string; kind: 'string'; default: string }
  | { name: string; kind: 'list'; default: string[] | null }
  | { name: string; kind: 'enum'; default: string; values: readonly string[] }

const INT_MAX = 2147483647

const COMMON: readonly Def[] = [
  { name: 'bootstrap.servers', kind: 'list', default: null },
  { name: 'client.id', kind: 'string', default: 'peerlog' },
  { name: 'request.timeout.ms', kind: 'int', default: 30000, min: 0 },
  { name: 'retry.backoff.ms', kind: 'int', default: 100, min: 0 },
  { name: 'retry.backoff.max.ms', kind: 'int', default: 1000, min: 0 },
  { name: 'reconnect.backoff.ms', kind: 'int', default: 50, min: 0 },
  { name: 'metadata.max.age.ms', kind: 'int', default: 300000, min: 0 },
  { name: 'socket.connection.setup.timeout.ms', kind: 'int', default: 10000, min: 0 },
  { name: 'security.protocol', kind: 'enum', default: 'PLAINTEXT', values: ['PLAINTEXT'] },
]

const PRODUCER: readonly Def[] = [
  ...COMMON,
  { name: 'acks', kind: 'enum', default: 'all', values: ['all', '-1', '0', '1'] },
  { name: 'linger.ms', kind: 'int', default: 5, min: 0 },
  { name: 'batch.size', kind: 'int', default: 16384, min: 0 },
  { name: 'buffer.memory', kind: 'int', default: 33554432, min: 0 },
  { name: 'max.block.ms', kind: 'int', default: 60000, min: 0 },
  { name: 'max.request.size', kind: 'int', default: 1048576, min: 0 },
  { name: 'compression.type', kind: 'enum', default: 'none', values: ['none', 'gzip', 'snappy', 'lz4', 'zstd'] },
  { name: 'compression.gzip.level', kind: 'int', default: -1, min: -1, max: 9 },
  { name: 'compression.zstd.level', kind: 'int', default: 3, min: -131072, max: 22 },
  { name: 'retries', kind: 'int', default: INT_MAX, min: 0 },
  { name: 'delivery.timeout.ms', kind: 'int', default: 120000, min: 0 },
  { name: 'max.in.flight.requests.per.connection', kind: 'int', default: 5, min: 1 },
  { name: 'enable.idempotence', kind: 'boolean', default: false },
  { name: 'partitioner.ignore.keys', kind: 'boolean', default: false },
  { name: 'transactional.id', kind: 'string', default: '' },
]

const CONSUMER: readonly Def[] = [
  ...COMMON,
  { name: 'fetch.min.bytes', kind: 'int', default: 1, min: 0 },
  { name: 'fetch.max.wait.ms', kind: 'int', default: 500, min: 0 },
  { name: 'fetch.max.bytes', kind: 'int', default: 52428800, min: 0 },
  { name: 'max.partition.fetch.bytes', kind: 'int', default: 1048576, min: 0 },
  { name: 'max.poll.records', kind: 'int', default: 500, min: 1 },
  { name: 'auto.offset.reset', kind: 'enum', default: 'latest', values: ['earliest', 'latest', 'none'] },
  { name: 'isolation.level', kind: 'enum', default: 'read_uncommitted', values: ['read_uncommitted', 'read_committed'] },
  { name: 'check.crcs', kind: 'boolean', default: true },
  { name: 'allow.auto.create.topics', kind: 'boolean', default: true },
  { name: 'default.api.timeout.ms', kind: 'int', default: 60000, min: 0 },
  { name: 'group.id', kind: 'string', default: '' },
  { name: 'group.instance.id', kind: 'string', default: '' },
  { name: 'session.timeout.ms', kind: 'int', default: 45000, min: 1 },
  { name: 'heartbeat.interval.ms', kind: 'int', default: 3000, min: 1 },
  { name: 'max.poll.interval.ms', kind: 'int', default: 300000, min: 1 },
  { name: 'partition.assignment.strategy', kind: 'list', default: ['range', 'cooperative-sticky'] },
  { name: 'enable.auto.commit', kind: 'boolean', default: true },
  { name: 'auto.commit.interval.ms', kind: 'int', default: 5000, min: 0 },
  { name: 'exclude.internal.topics', kind: 'boolean', default: true },
  { name: 'client.rack', kind: 'string', default: '' },
  { name: 'internal.leave.group.on.close', kind: 'boolean', default: true },
]

const ADMIN: readonly Def[] = [...COMMON, { name: 'default.api.timeout.ms', kind: 'int', default: 60000, min: 0 }]

export interface CommonConfig {
  'bootstrap.servers': string[]
  'client.id': string
  'request.timeout.ms': number
  'retry.backoff.ms': number
  'retry.backoff.max.ms': number
  'reconnect.backoff.ms': number
  'metadata.max.age.ms': number
  'socket.connection.setup.timeout.ms': number
  'security.protocol': string
}

export interface ProducerConfig extends CommonConfig {
  /** 'all' is given as -1. */
  acks: -1 | 0 | 1
  'linger.ms': number
  'batch.size': number
  'buffer.memory': number
  'max.block.ms': number
  'max.request.size': number
  'compression.type': 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'
  'compression.gzip.level': number
  'compression.zstd.level': number
  retries: number
  'delivery.timeout.ms': number
  'max.in.flight.requests.per.connection': number
  'enable.idempotence': boolean
  'partitioner.ignore.keys': boolean
}

export interface ConsumerConfig extends CommonConfig {
  'fetch.min.bytes': number
  'fetch.max.wait.ms': number
  'fetch.max.bytes': number
  'max.partition.fetch.bytes': number
  'max.poll.records': number
  'auto.offset.reset': 'earliest' | 'latest' | 'none'
  'isolation.level': 'read_uncommitted' | 'read_committed'
  'check.crcs': boolean
  'allow.auto.create.topics': boolean
  'default.api.timeout.ms': number
  /** '' when not set: no group (assign() only, no commits). */
  'group.id': string
  /** Static membership (KIP-345); null when not set. */
  'group.instance.id': string | null
  'session.timeout.ms': number
  'heartbeat.interval.ms': number
  'max.poll.interval.ms': number
  /** Assignor names (Kafka's, or Java's class names), preferred first. */
  'partition.assignment.strategy': string[]
  /** Always false without a group.id (as Kafka). */
  'enable.auto.commit': boolean
  'auto.commit.interval.ms': number
  'exclude.internal.topics': boolean
  /** null when not set. */
  'client.rack': string | null
  'internal.leave.group.on.close': boolean
}

export interface AdminConfig extends CommonConfig {
  'default.api.timeout.ms': number
}

export interface Parsed<C> {
  config: C
  /** Keys that are not configs of this client (to warn about). */
  unknown: string[]
}

function parseValue(def: Def, raw: Exclude<ConfigValue, undefined>): unknown {
  const bad = (accepts: string) => new ConfigError(def.name, `invalid value ${JSON.stringify(raw)} for ${def.name}: ${accepts}`)
  switch (def.kind) {
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN
      const max = def.max ?? INT_MAX
      if (!Number.isInteger(n) || n < def.min || n > max) throw bad(`expected an integer in [${def.min}, ${max}]`)
      return n
    }
    case 'boolean':
      if (raw === true || raw === 'true') return true
      if (raw === false || raw === 'false') return false
      throw bad('expected true or false')
    case 'string':
      if (typeof raw !== 'string') throw bad('expected a string')
      return raw
    case 'list': {
      const items = typeof raw === 'string' ? raw.split(',') : Array.isArray(raw) ? raw : null
      if (items === null || items.some((s) => typeof s !== 'string')) throw bad('expected a comma-separated list')
      return items.map((s) => s.trim()).filter((s) => s !== '')
    }
    case 'enum': {
      const s = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim().toLowerCase() : ''
      if (!def.values.includes(s)) throw bad(`expected one of ${def.values.join(', ')}`)
      return s
    }
  }
}

function parse(defs: readonly Def[], input: ConfigInput): { values: { [k: string]: unknown }; unknown: string[] } {
  const byName = new Map(defs.map((d) => [d.name, d]))
  const values: { [k: string]: unknown } = {}
  for (const d of defs) values[d.name] = d.default
  const unknown: string[] = []
  for (const [key, raw] of Object.entries(input)) {
    const def = byName.get(key)
    if (def === undefined) {
      unknown.push(key)
      continue
    }
    if (raw === undefined || raw === null) continue
    values[key] = parseValue(def, raw)
  }
  const servers = values['bootstrap.servers'] as string[] | null
  if (servers === null || servers.length === 0) {
    throw new ConfigError('bootstrap.servers', 'bootstrap.servers is required: a comma-separated list of host:port')
  }
  for (const s of servers) parseHostPort(s)
  return { values, unknown }
}

/** `host:port`, `[v6::addr]:port`, or `PLAINTEXT://host:port`; throws ConfigError otherwise. */
export function parseHostPort(address: string): { host: string; port: number } {
  const s = address.replace(/^[A-Za-z_]+:\/\//, '')
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d+)$/.exec(s)
  const port = m ? Number(m[3]) : NaN
  if (!m || port < 1 || port > 65535) {
    throw new ConfigError('bootstrap.servers', `invalid bootstrap server ${JSON.stringify(address)}: expected host:port`)
  }
  return { host: (m[1] ?? m[2])!, port }
}

export function producerConfig(input: ConfigInput): Parsed<ProducerConfig> {
  const { values, unknown } = parse(PRODUCER, input)
  values.acks = values.acks === 'all' ? -1 : Number(values.acks)
  if (values['enable.idempotence'] === true) {
    throw new ConfigError('enable.idempotence', 'enable.idempotence=true is not supported yet: set it to false (the default)')
  }
  if (values['transactional.id'] !== '') {
    throw new ConfigError('transactional.id', 'transactional.id is not supported yet: leave it unset')
  }
  delete values['transactional.id']
  const delivery = values['delivery.timeout.ms'] as number
  const atLeast = (values['linger.ms'] as number) + (values['request.timeout.ms'] as number)
  if (delivery < atLeast) {
    throw new ConfigError('delivery.timeout.ms', `delivery.timeout.ms (${delivery}) must be at least linger.ms + request.timeout.ms (${atLeast})`)
  }
  return { config: values as unknown as ProducerConfig, unknown }
}

export function consumerConfig(input: ConfigInput): Parsed<ConsumerConfig> {
  const { values, unknown } = parse(CONSUMER, input)
  if (values['group.id'] === '') {
    // As Kafka: without a group, nothing to commit to; asking for it is an error.
    if (input['enable.auto.commit'] !== undefined && values['enable.auto.commit'] === true) {
      throw new ConfigError('enable.auto.commit', 'enable.auto.commit cannot be true without a group.id: set group.id, or enable.auto.commit=false')
    }
    values['enable.auto.commit'] = false
  }
  for (const key of ['group.instance.id', 'client.rack']) if (values[key] === '') values[key] = null
  if ((values['heartbeat.interval.ms'] as number) >= (values['session.timeout.ms'] as number)) {
    throw new ConfigError('heartbeat.interval.ms', `heartbeat.interval.ms (${values['heartbeat.interval.ms']}) must be lower than session.timeout.ms (${values['session.timeout.ms']})`)
  }
  const strategies = values['partition.assignment.strategy'] as string[]
  if (strategies.length === 0) throw new ConfigError('partition.assignment.strategy', 'partition.assignment.strategy must name at least one assignor: range, roundrobin, sticky, cooperative-sticky')
  for (const name of strategies) {
    try {
      assignorFor(name)
    } catch (e) {
      throw new ConfigError('partition.assignment.strategy', `invalid value ${JSON.stringify(name)} for partition.assignment.strategy: ${(e as Error).message}`)
    }
  }
  return { config: values as unknown as ConsumerConfig, unknown }
}

export function adminConfig(input: ConfigInput): Parsed<AdminConfig> {
  const { values, unknown } = parse(ADMIN, input)
  return { config: values as unknown as AdminConfig, unknown }
}

/** Kafka's retry backoff: retry.backoff.ms doubling per attempt up to retry.backoff.max.ms, with ±20% jitter. */
export function retryBackoffMs(config: CommonConfig, attempts: number, random: () => number = Math.random): number {
  const base = config['retry.backoff.ms']
  const max = Math.max(base, config['retry.backoff.max.ms'])
  const exp = Math.min(max, base * 2 ** Math.max(0, attempts - 1))
  return Math.round(exp * (0.8 + 0.4 * random()))
}
