/**
 * Turning what a user writes (a `server.properties` file, `--set key=value`, the CLI's
 * `--data-dir` and `--listen`) into a checked `BrokerConfig`, under Kafka's names.
 *
 * - Each value is checked against its key's rule; a bad one is a `ConfigError` whose
 *   message is one line naming the key and what it accepts.
 * - A key peerlog does not know is not an error: it gives a warning (with a suggestion
 *   when it looks like a typo); the Kafka settings that peerlog does not use (threads,
 *   socket buffers, KRaft roles...) are named together in one warning.
 * - Kafka's aliases are understood: `broker.id` for `node.id`, `log.dir` for `log.dirs`,
 *   `log.retention.hours` / `log.retention.minutes` for `log.retention.ms` (the most
 *   precise one given wins, as in Kafka).
 * - `listeners` / `advertised.listeners` are parsed as Kafka's `NAME://host:port` lists;
 *   peerlog speaks PLAINTEXT, and `CONTROLLER`-style listeners named in
 *   `controller.listener.names` are accepted and ignored (there is no separate
 *   controller port yet), so Kafka's stock KRaft server.properties loads.
 */
import { suggest } from '../cli/args.ts'
import { type BrokerConfig, DEFAULT_BROKER_CONFIG } from './broker-config.ts'
import { parsePropertiesList, PropertiesError } from './config-properties.ts'

/** A configuration value that cannot be used; the message is one line fit for a user. */
export class ConfigError extends Error {
  readonly key: string | undefined
  constructor(message: string, key?: string) {
    super(message)
    this.name = 'ConfigError'
    this.key = key
  }
}

export interface Listener {
  /** The listener name, upper-cased (`PLAINTEXT`, `CONTROLLER`, ...). */
  readonly name: string
  /** As written; '' means every interface (Kafka's `PLAINTEXT://:9092`). */
  readonly host: string
  readonly port: number
}

const INT_MAX = 0x7fffffff
const LONG_MAX = Number.MAX_SAFE_INTEGER

type Rule =
  | { readonly type: 'int' | 'long'; readonly min: number; readonly max?: number }
  | { readonly type: 'boolean' }
  | { readonly type: 'string' }
  | { readonly type: 'listeners' | 'advertised.listeners' | 'cleanup.policy' | 'log.dirs' }

const RULES: { readonly [K in keyof BrokerConfig]: Rule } = {
  'node.id': { type: 'int', min: 0 },
  'log.dirs': { type: 'log.dirs' },
  listeners: { type: 'listeners' },
  'advertised.listeners': { type: 'advertised.listeners' },
  'auto.create.topics.enable': { type: 'boolean' },
  'num.partitions': { type: 'int', min: 1 },
  'default.replication.factor': { type: 'int', min: 1 },
  'socket.request.max.bytes': { type: 'int', min: 1 },
  'connections.max.idle.ms': { type: 'long', min: 0 },
  'message.max.bytes': { type: 'int', min: 0 },
  'log.segment.bytes': { type: 'int', min: 14 },
  'log.retention.ms': { type: 'long', min: -1 },
  'log.retention.bytes': { type: 'long', min: -1 },
  'log.retention.check.interval.ms': { type: 'long', min: 1 },
  'log.flush.interval.messages': { type: 'long', min: 1 },
  'log.flush.interval.ms': { type: 'long', min: 0 },
  'log.cleanup.policy': { type: 'cleanup.policy' },
  'offsets.topic.num.partitions': { type: 'int', min: 1 },
  'offsets.topic.replication.factor': { type: 'int', min: 1, max: 32767 },
  'offsets.topic.segment.bytes': { type: 'int', min: 1 },
  'offsets.retention.minutes': { type: 'int', min: 1 },
  'offsets.retention.check.interval.ms': { type: 'long', min: 1 },
  'offsets.commit.timeout.ms': { type: 'int', min: 1 },
  'offset.metadata.max.bytes': { type: 'int', min: 0 },
  'group.initial.rebalance.delay.ms': { type: 'int', min: 0 },
  'group.min.session.timeout.ms': { type: 'int', min: 0 },
  'group.max.session.timeout.ms': { type: 'int', min: 0 },
  'group.max.size': { type: 'int', min: 1 },
  'queued.max.requests': { type: 'int', min: 1 },
}

/** Other names Kafka accepts for a key, and how their value maps to it. */
const ALIASES: Readonly<Record<string, { readonly key: keyof BrokerConfig; readonly rule: Rule; readonly scale?: number; readonly rank: number }>> = {
  'broker.id': { key: 'node.id', rule: { type: 'int', min: 0 }, rank: 0 },
  'log.dir': { key: 'log.dirs', rule: { type: 'log.dirs' }, rank: 0 },
  'log.retention.hours': { key: 'log.retention.ms', rule: { type: 'int', min: -1 }, scale: 3_600_000, rank: 0 },
  'log.retention.minutes': { key: 'log.retention.ms', rule: { type: 'int', min: -1 }, scale: 60_000, rank: 1 },
}

/** Keys that only shape how the other keys are read. */
const META_KEYS = new Set(['listener.security.protocol.map', 'controller.listener.names', 'inter.broker.listener.name'])

/**
 * Kafka broker settings peerlog accepts and does not act on (yet): a Kafka
 * server.properties that sets them loads with a warning instead of a typo suggestion.
 */
const KAFKA_ONLY_KEYS = new Set([
  'process.roles',
  'controller.quorum.voters',
  'controller.quorum.bootstrap.servers',
  'num.network.threads',
  'num.io.threads',
  'num.replica.fetchers',
  'num.recovery.threads.per.data.dir',
  'socket.send.buffer.bytes',
  'socket.receive.buffer.bytes',
  'transaction.state.log.replication.factor',
  'transaction.state.log.min.isr',
  'transaction.state.log.num.partitions',
  'min.insync.replicas',
  'unclean.leader.election.enable',
  'replica.lag.time.max.ms',
  'delete.topic.enable',
  'zookeeper.connect',
  'zookeeper.connection.timeout.ms',
  'log.roll.hours',
  'log.roll.ms',
  'log.index.interval.bytes',
  'log.index.size.max.bytes',
  'log.cleaner.enable',
  'log.message.timestamp.type',
  'compression.type',
  'auto.leader.rebalance.enable',
  'cluster.id',
  'metadata.log.dir',
  'share.coordinator.state.topic.replication.factor',
  'share.coordinator.state.topic.min.isr',
  'group.coordinator.rebalance.protocols',
  'log.flush.scheduler.interval.ms',
  'log.cleaner.threads',
  'background.threads',
  'broker.rack',
  'authorizer.class.name',
  'super.users',
])

const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL']

export interface ParsedBrokerConfig {
  readonly config: BrokerConfig
  /** One line each: unknown keys, Kafka keys that peerlog ignores. */
  readonly warnings: string[]
  /** The listener the Kafka protocol is served on (`listeners`, controller ones left out). */
  readonly listener: Listener
  /** What clients are told (the bound listener when `advertised.listeners` is not set). */
  readonly advertised: Listener | undefined
  /** The keys that were given (directly or by an alias), as opposed to left at their defaults. */
  readonly explicit: ReadonlySet<keyof BrokerConfig>
}

export interface ConfigSources {
  /** The text of a server.properties file, and its name for messages. */
  readonly file?: { readonly name: string; readonly text: string }
  /** `key=value` strings, applied after the file (`--set`). */
  readonly sets?: readonly string[]
  /** Values applied last (the CLI's own flags, e.g. `--data-dir`), already keyed. */
  readonly overrides?: Readonly<Record<string, string>>
}

/**
 * Builds the broker config from the defaults, then the file, then `--set` values, then
 * `overrides`. Throws a `ConfigError` (one line) on the first bad value.
 */
export function brokerConfigFrom(sources: ConfigSources): ParsedBrokerConfig {
  const entries: { key: string; value: string; where: string }[] = []
  if (sources.file) {
    let props
    try {
      props = parsePropertiesList(sources.file.text)
    } catch (err) {
      if (err instanceof PropertiesError) throw new ConfigError(`${sources.file.name}:${err.line}: ${err.message}`)
      throw err
    }
    for (const p of props) entries.push({ key: p.key, value: p.value, where: `${sources.file.name}:${p.line}` })
  }
  for (const set of sources.sets ?? []) {
    const { key, value } = parseSet(set)
    entries.push({ key, value, where: '--set' })
  }
  for (const [key, value] of Object.entries(sources.overrides ?? {})) entries.push({ key, value, where: '' })
  return brokerConfigFromEntries(entries)
}

/** Splits one `--set key=value` (the value may itself hold `=`). */
export function parseSet(set: string): { key: string; value: string } {
  const eq = set.indexOf('=')
  const key = eq === -1 ? '' : set.slice(0, eq).trim()
  if (key === '') throw new ConfigError(`--set '${set}' is not key=value (e.g. --set num.partitions=3)`)
  return { key, value: set.slice(eq + 1) }
}

function brokerConfigFromEntries(entries: readonly { key: string; value: string; where: string }[]): ParsedBrokerConfig {
  const warnings: string[] = []
  // The last value of each key wins; aliases are resolved after, by rank.
  const raw = new Map<string, { value: string; where: string }>()
  for (const e of entries) {
    raw.delete(e.key)
    raw.set(e.key, { value: e.value, where: e.where })
  }

  const out: Record<string, unknown> = { ...DEFAULT_BROKER_CONFIG }
  const unused: string[] = []
  const fromAlias = new Map<string, number>()
  const set = new Set<string>()
  for (const [key, { value, where }] of raw) {
    const at = where ? ` (${where})` : ''
    if (Object.prototype.hasOwnProperty.call(RULES, key)) {
      const k = key as keyof BrokerConfig
      out[k] = checkValue(k, RULES[k], value)
      set.add(k)
      continue
    }
    const alias = ALIASES[key]
    if (alias) {
      let v = checkValue(key, alias.rule, value)
      if (alias.scale !== undefined && typeof v === 'number' && v > 0) v = v * alias.scale
      // The key itself beats any alias; a more precise alias beats a coarser one.
      if (!set.has(alias.key) && (fromAlias.get(alias.key) ?? -1) < alias.rank) {
        out[alias.key] = v
        fromAlias.set(alias.key, alias.rank)
      }
      continue
    }
    if (META_KEYS.has(key)) continue
    if (KAFKA_ONLY_KEYS.has(key)) {
      unused.push(key)
      continue
    }
    const guess = suggest(key, [...Object.keys(RULES), ...Object.keys(ALIASES)])
    warnings.push(`unknown config '${key}'${at} ignored${guess ? ` (did you mean '${guess}'?)` : ''}`)
  }

  if (unused.length > 0) warnings.push(`Kafka settings peerlog does not use, ignored: ${unused.join(', ')}`)

  const protocolMap = parseProtocolMap(raw.get('listener.security.protocol.map')?.value)
  const controllerNames = new Set(
    (raw.get('controller.listener.names')?.value ?? '')
      .split(',')
      .map((s) => s.trim().toUpperCase())
      .filter((s) => s !== ''),
  )

  const listeners = parseListeners(out.listeners as string, 'listeners')
  const served = listeners.filter((l) => !controllerNames.has(l.name))
  if (served.length !== 1) {
    throw new ConfigError(
      served.length === 0
        ? `invalid value '${out.listeners}' for listeners: expected one listener that is not a controller listener`
        : `invalid value '${out.listeners}' for listeners: peerlog serves one Kafka listener; expected one NAME://host:port besides controller listeners`,
      'listeners',
    )
  }
  const listener = served[0]!
  checkProtocol(listener, protocolMap, 'listeners')
  out.listeners = `${listener.name}://${formatHostPort(listener.host, listener.port)}`

  let advertised: Listener | undefined
  if (out['advertised.listeners'] !== null) {
    const list = parseListeners(out['advertised.listeners'] as string, 'advertised.listeners')
    const match = list.filter((l) => l.name === listener.name)
    if (match.length !== 1 || list.some((l) => l.name !== listener.name && !controllerNames.has(l.name))) {
      throw new ConfigError(
        `invalid value '${out['advertised.listeners']}' for advertised.listeners: expected one ${listener.name}://host:port, the listener named in listeners`,
        'advertised.listeners',
      )
    }
    advertised = match[0]!
    if (advertised.host === '0.0.0.0' || advertised.host === '::' || advertised.host === '') {
      throw new ConfigError(
        `invalid value '${out['advertised.listeners']}' for advertised.listeners: expected a host clients can reach, not '${advertised.host || '(empty)'}'`,
        'advertised.listeners',
      )
    }
    if (advertised.port === 0) {
      throw new ConfigError(
        `invalid value '${out['advertised.listeners']}' for advertised.listeners: expected a port from 1 to 65535`,
        'advertised.listeners',
      )
    }
    out['advertised.listeners'] = `${advertised.name}://${formatHostPort(advertised.host, advertised.port)}`
  }

  const explicit = new Set<keyof BrokerConfig>([...set, ...fromAlias.keys()] as (keyof BrokerConfig)[])
  return { config: out as unknown as BrokerConfig, warnings, listener, advertised, explicit }
}

function checkValue(key: string, rule: Rule, raw: string): unknown {
  const value = raw.trim()
  const bad = (accepts: string): ConfigError => new ConfigError(`invalid value '${raw}' for ${key}: expected ${accepts}`, key)
  switch (rule.type) {
    case 'int':
    case 'long': {
      const max = rule.max ?? (rule.type === 'int' ? INT_MAX : LONG_MAX)
      const accepts = `an integer from ${rule.min} to ${rule.type === 'int' ? max : '2^63-1'}`
      if (!/^[+-]?\d+$/.test(value)) throw bad(accepts)
      const n = Number(value)
      if (n < rule.min) throw bad(accepts)
      if (rule.type === 'int' && n > max) throw bad(accepts)
      // Kafka's longs go to 2^63-1 (the default of the flush settings); JavaScript numbers
      // are exact to 2^53-1, which is as good as forever for these settings.
      if (rule.type === 'long' && BigInt(value) > 0x7fffffffffffffffn) throw bad(accepts)
      return Math.min(n, LONG_MAX)
    }
    case 'boolean': {
      const v = value.toLowerCase()
      if (v !== 'true' && v !== 'false') throw bad('true or false')
      return v === 'true'
    }
    case 'string':
      return value
    case 'log.dirs': {
      const dirs = value.split(',').map((d) => d.trim()).filter((d) => d !== '')
      if (dirs.length !== 1) throw bad('one directory (peerlog keeps its data in a single log dir)')
      return dirs[0]
    }
    case 'cleanup.policy': {
      const parts = [...new Set(value.split(',').map((p) => p.trim().toLowerCase()))].sort()
      const v = parts.join(',')
      if (v !== 'delete' && v !== 'compact' && v !== 'compact,delete') throw bad('delete, compact or compact,delete')
      return v
    }
    case 'listeners':
      parseListeners(value, key)
      return value
    case 'advertised.listeners':
      if (value === '') return null
      parseListeners(value, key)
      return value
  }
}

/**
 * Parses Kafka's listener list: `NAME://host:port` separated by commas, where host may be
 * empty (every interface), a name, an IPv4 address or a bracketed IPv6 address. Port 0
 * picks a free port when binding.
 */
export function parseListeners(value: string, key = 'listeners'): Listener[] {
  const accepts = `expected NAME://host:port[,NAME://host:port...], e.g. PLAINTEXT://127.0.0.1:9092`
  const bad = (why = accepts): ConfigError => new ConfigError(`invalid value '${value}' for ${key}: ${why}`, key)
  const parts = value.split(',').map((p) => p.trim())
  if (value.trim() === '' || parts.some((p) => p === '')) throw bad()
  const seen = new Set<string>()
  return parts.map((part) => {
    const m = /^([A-Za-z0-9_.-]+):\/\/(\[[0-9A-Fa-f:.]+\]|[^:/[\]\s]*):(\d+)$/.exec(part)
    if (!m) throw bad()
    const name = m[1]!.toUpperCase()
    const port = Number(m[3])
    if (port > 65535) throw bad('expected a port from 0 to 65535')
    if (seen.has(name)) throw bad(`listener name ${name} is used twice`)
    seen.add(name)
    const host = m[2]!.startsWith('[') ? m[2]!.slice(1, -1) : m[2]!
    return { name, host, port }
  })
}

/** `--listen host:port` (or `:port`, `[::1]:port`) as the listener value Kafka would write. */
export function listenToListeners(listen: string): string {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:/[\]\s]*):(\d+)$/.exec(listen.trim())
  if (!m || Number(m[2]) > 65535) {
    throw new ConfigError(`invalid value '${listen}' for --listen: expected host:port, e.g. 127.0.0.1:9092 (port 0 picks a free port)`)
  }
  return `PLAINTEXT://${m[1]}:${Number(m[2])}`
}

/** `host:port`, with brackets around an IPv6 host. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

function parseProtocolMap(value: string | undefined): Map<string, string> {
  const map = new Map<string, string>(SECURITY_PROTOCOLS.map((p) => [p, p]))
  if (value === undefined) return map
  for (const pair of value.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const [name, protocol, ...rest] = pair.split(':').map((s) => s.trim().toUpperCase())
    if (!name || !protocol || rest.length || !SECURITY_PROTOCOLS.includes(protocol)) {
      throw new ConfigError(
        `invalid value '${value}' for listener.security.protocol.map: expected NAME:PROTOCOL pairs, PROTOCOL one of ${SECURITY_PROTOCOLS.join(', ')}`,
        'listener.security.protocol.map',
      )
    }
    map.set(name, protocol)
  }
  return map
}

function checkProtocol(l: Listener, map: Map<string, string>, key: string): void {
  const protocol = map.get(l.name)
  if (protocol === undefined) {
    throw new ConfigError(
      `invalid listener name ${l.name} in ${key}: expected PLAINTEXT, or a name mapped to PLAINTEXT in listener.security.protocol.map`,
      key,
    )
  }
  if (protocol !== 'PLAINTEXT') {
    throw new ConfigError(`unsupported security protocol ${protocol} for listener ${l.name} in ${key}: peerlog accepts PLAINTEXT only`, key)
  }
}

/** One line for the start-up log: the settings that differ from the defaults, and the essentials. */
export function configSummary(config: BrokerConfig): string {
  const essentials: (keyof BrokerConfig)[] = ['node.id', 'log.dirs', 'listeners', 'advertised.listeners']
  const parts = essentials.filter((k) => config[k] !== null).map((k) => `${k}=${String(config[k])}`)
  for (const k of Object.keys(RULES) as (keyof BrokerConfig)[]) {
    if (essentials.includes(k)) continue
    if (config[k] !== DEFAULT_BROKER_CONFIG[k]) parts.push(`${k}=${String(config[k])}`)
  }
  return parts.join(' ')
}
