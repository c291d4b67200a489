/**
 * `peerlog groups`: kafka-consumer-groups.sh, with its flags: exactly one of --list, --describe,
 * --delete, --reset-offsets, --delete-offsets.
 *
 * Output is Kafka's: --describe prints the table GROUP TOPIC PARTITION CURRENT-OFFSET
 * LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID ('-' where unknown; one row per partition
 * assigned to a member or holding a committed offset), --members and --state its other
 * views; --reset-offsets prints the plan GROUP TOPIC PARTITION NEW-OFFSET and changes nothing
 * without --execute. Notes about a group (no active members, rebalancing) go to stderr, as
 * Kafka's do, so stdout holds only the tables.
 *
 * A group is "consumer" when its protocol type is 'consumer' or '' (a group that only holds
 * committed offsets), as Kafka's tool counts them.
 */
import { Admin, AdminError, type CommittedOffset, type GroupDescription } from '../client/admin.ts'
import { KafkaError } from '../client/errors.ts'
import type { TopicPartition } from '../client/list-offsets.ts'
import { ErrorCode } from '../protocol/kafka/error-codes.ts'
import { consoleLogger } from '../runtime/logger.ts'
import { UsageError } from './args.ts'
import { parseBootstrap, probe } from './bootstrap.ts'
import { bootstrapConfig, clientFailure, firstLine, handshake } from './client-common.ts'
import { command, CommandError, EXIT_OK, type Io } from './command.ts'

const ACTIONS = ['list', 'describe', 'delete', 'reset-offsets', 'delete-offsets'] as const
type Action = (typeof ACTIONS)[number]

const SCENARIOS = ['to-earliest', 'to-latest', 'to-offset', 'to-datetime', 'shift-by'] as const
type Scenario = (typeof SCENARIOS)[number]

/** Kafka's placeholder for a column with no value. */
const MISSING = '-'

export const groupsCommand = command({
  name: 'groups',
  args: '',
  summary: 'List, describe, delete consumer groups or reset their offsets (the flags of kafka-consumer-groups.sh)',
  flags: {
    help: { type: 'boolean', short: 'h', description: 'Show this help' },
    'bootstrap-server': { type: 'string', valueName: '<host:port>', description: 'The broker to connect to (required)' },
    list: { type: 'boolean', description: 'List the consumer groups' },
    describe: { type: 'boolean', description: 'Describe groups: offsets and lag per partition, and who consumes it' },
    delete: { type: 'boolean', description: 'Delete groups that have no active members, with their offsets' },
    'reset-offsets': { type: 'boolean', description: 'Reset the committed offsets of a group that has no active members' },
    'delete-offsets': { type: 'boolean', description: 'Delete the committed offsets of a group for some topics' },
    group: { type: 'string', multiple: true, valueName: '<group>', description: 'The group (repeatable)' },
    'all-groups': { type: 'boolean', description: 'With --describe, --delete or --reset-offsets: every consumer group' },
    topic: { type: 'string', multiple: true, valueName: '<topic[:p,p]>', description: 'With --reset-offsets or --delete-offsets: a topic, or some of its partitions (repeatable)' },
    'all-topics': { type: 'boolean', description: 'With --reset-offsets: every topic the group has offsets for' },
    members: { type: 'boolean', description: 'With --describe: the members and how many partitions each has' },
    state: { type: 'boolean', description: 'With --describe: coordinator, assignor, state, members; with --list: each group\'s state' },
    offsets: { type: 'boolean', description: 'With --describe: offsets and lag (the default view)' },
    'to-earliest': { type: 'boolean', description: 'Reset to the log start offset' },
    'to-latest': { type: 'boolean', description: 'Reset to the log end offset' },
    'to-offset': { type: 'string', valueName: '<offset>', description: 'Reset to this offset (kept within the log)' },
    'to-datetime': { type: 'string', valueName: '<YYYY-MM-DDTHH:mm:SS.sss>', description: 'Reset to the first offset at or after this time (local time unless it ends in Z or ±hh:mm)' },
    'shift-by': { type: 'string', valueName: '<n>', description: 'Reset by moving the committed offset by n (may be negative; kept within the log)' },
    'dry-run': { type: 'boolean', description: 'With --reset-offsets: print the plan only (the default)' },
    execute: { type: 'boolean', description: 'With --reset-offsets: change the offsets' },
  },
  maxPositionals: 0,
  help: [
    'Examples:',
    '  peerlog groups --bootstrap-server 127.0.0.1:9092 --list',
    '  peerlog groups --bootstrap-server 127.0.0.1:9092 --describe --group orders-app',
    '  peerlog groups --bootstrap-server 127.0.0.1:9092 --describe --group orders-app --members',
    '  peerlog groups --bootstrap-server 127.0.0.1:9092 --reset-offsets --group orders-app --topic orders --to-earliest --execute',
    '  peerlog groups --bootstrap-server 127.0.0.1:9092 --reset-offsets --group orders-app --topic orders:0,1 --shift-by -10 --execute',
    '  peerlog groups --bootstrap-server 127.0.0.1:9092 --delete --group orders-app',
  ],
  async run({ flags, io }) {
    const servers = parseBootstrap(flags['bootstrap-server'])
    const chosen = ACTIONS.filter((a) => flags[a])
    if (chosen.length !== 1) {
      const all = ACTIONS.map((a) => `--${a}`).join(', ')
      throw new UsageError(chosen.length === 0 ? `missing action: one of ${all}` : `only one of ${all} at a time (got ${chosen.map((a) => `--${a}`).join(', ')})`)
    }
    const action: Action = chosen[0]!
    const allowed: Record<string, readonly Action[]> = {
      group: ['describe', 'delete', 'reset-offsets', 'delete-offsets'],
      'all-groups': ['describe', 'delete', 'reset-offsets'],
      topic: ['reset-offsets', 'delete-offsets'],
      'all-topics': ['reset-offsets'],
      members: ['describe'],
      offsets: ['describe'],
      state: ['describe', 'list'],
      ...Object.fromEntries(SCENARIOS.map((s) => [s, ['reset-offsets'] as const])),
      'dry-run': ['reset-offsets'],
      execute: ['reset-offsets'],
    }
    for (const [flag, actions] of Object.entries(allowed)) {
      const v = (flags as Record<string, unknown>)[flag]
      const given = Array.isArray(v) ? v.length > 0 : v !== undefined && v !== false
      if (given && !actions.includes(action)) {
        throw new UsageError(`--${flag} is not used with --${action} (only with ${actions.map((a) => `--${a}`).join(', ')})`)
      }
    }
    const groups = flags.group
    if (action !== 'list') {
      if (groups.length === 0 && !flags['all-groups']) {
        throw new UsageError(action === 'delete-offsets' ? '--delete-offsets needs --group and --topic' : `--${action} needs --group <group> (or --all-groups)`)
      }
      if (groups.length > 0 && flags['all-groups']) throw new UsageError('--group and --all-groups cannot be used together')
    }
    const views = (['members', 'offsets', 'state'] as const).filter((v) => flags[v])
    if (action === 'describe' && views.length > 1) throw new UsageError(`--describe takes at most one of --members, --offsets, --state (got ${views.map((v) => `--${v}`).join(', ')})`)

    let reset: ResetPlanOptions | undefined
    if (action === 'reset-offsets') reset = resetOptions(flags)
    if (action === 'delete-offsets') {
      if (groups.length !== 1) throw new UsageError('--delete-offsets takes exactly one --group')
      if (flags.topic.length === 0) throw new UsageError('--delete-offsets needs --group and --topic')
      for (const t of flags.topic) parseTopicArg(t)
    }

    await probe(servers)
    await handshake(servers)
    const admin = new Admin(bootstrapConfig(servers), { logger: consoleLogger('warn', '', (l) => io.stderr.write(`${l}\n`)) })
    try {
      const ids = flags['all-groups'] ? (await admin.listGroups()).filter(isConsumerGroup).map((g) => g.groupId) : groups
      switch (action) {
        case 'list':
          await list(admin, io, flags.state)
          break
        case 'describe':
          await describe(admin, io, ids, views[0] ?? 'offsets')
          break
        case 'delete':
          await deleteGroups(admin, io, ids)
          break
        case 'reset-offsets':
          await resetOffsets(admin, io, ids, reset!)
          break
        case 'delete-offsets':
          await deleteOffsets(admin, io, ids[0]!, flags.topic)
          break
      }
    } catch (err) {
      if (err instanceof KafkaError) throw new CommandError(describeGroupError(err))
      clientFailure(err, `--${action} failed`)
    } finally {
      await admin.close()
    }
    return EXIT_OK
  },
})

function isConsumerGroup(g: { protocolType: string }): boolean {
  return g.protocolType === 'consumer' || g.protocolType === ''
}

async function list(admin: Admin, io: Io, withState: boolean): Promise<void> {
  const groups = (await admin.listGroups()).filter(isConsumerGroup)
  if (!withState) {
    for (const g of groups) io.stdout.write(`${g.groupId}\n`)
    return
  }
  // ListGroups before v4 does not carry the state: ask the coordinators.
  const missing = groups.filter((g) => g.state === null).map((g) => g.groupId)
  const described = new Map((missing.length > 0 ? await admin.describeGroups(missing) : []).map((d) => [d.groupId, d.state]))
  const width = Math.max(15, ...groups.map((g) => g.groupId.length)) + 10
  const rows = groups.map((g) => [g.groupId, g.state ?? described.get(g.groupId) ?? 'Unknown'])
  io.stdout.write(table([width, 20], [['GROUP', 'STATE'], ...rows]))
}

/** Whether a group's table is worth printing; notes about its state go to stderr, as Kafka's tool prints them. */
function noteState(io: Io, d: GroupDescription, rows: number): boolean {
  switch (d.state) {
    case 'Dead':
      return false
    case 'Empty':
      io.stderr.write(`Consumer group '${d.groupId}' has no active members.\n`)
      break
    case 'PreparingRebalance':
    case 'CompletingRebalance':
      io.stderr.write(`Warning: Consumer group '${d.groupId}' is rebalancing.\n`)
      break
  }
  return rows > 0
}

async function describe(admin: Admin, io: Io, groupIds: readonly string[], view: 'offsets' | 'members' | 'state'): Promise<void> {
  const descriptions = groupIds.length > 0 ? await admin.describeGroups(groupIds) : []
  const missing: string[] = []
  const tables: string[] = []
  for (const d of [...descriptions].sort((a, b) => compare(a.groupId, b.groupId))) {
    if (d.state === 'Dead') {
      missing.push(d.groupId)
      continue
    }
    if (!isConsumerGroup(d)) {
      io.stderr.write(`Group '${d.groupId}' is not a consumer group (protocol type '${d.protocolType}').\n`)
      continue
    }
    if (view === 'state') {
      noteState(io, d, 1)
      const c = `${d.coordinator.host}:${d.coordinator.port}  (${d.coordinator.nodeId})`
      tables.push(table([Math.max(15, d.groupId.length), Math.max(25, c.length), 20, 20], [
        ['GROUP', 'COORDINATOR (ID)', 'ASSIGNMENT-STRATEGY', 'STATE', '#MEMBERS'],
        [d.groupId, c, d.partitionAssignor || MISSING, d.state, String(d.members.length)],
      ]))
    } else if (view === 'members') {
      if (!noteState(io, d, d.members.length)) continue
      const withInstance = d.members.some((m) => m.groupInstanceId !== null)
      const head = withInstance ? ['GROUP', 'CONSUMER-ID', 'GROUP-INSTANCE-ID', 'HOST', 'CLIENT-ID', '#PARTITIONS'] : ['GROUP', 'CONSUMER-ID', 'HOST', 'CLIENT-ID', '#PARTITIONS']
      const rows = d.members.map((m) => {
        const r = [d.groupId, m.memberId, m.host, m.clientId, String(m.assignment.length)]
        if (withInstance) r.splice(2, 0, m.groupInstanceId ?? '')
        return r
      })
      const widths = head.slice(0, -1).map((h, i) => Math.max(h === 'GROUP-INSTANCE-ID' ? 17 : 15, ...rows.map((r) => r[i]!.length)))
      tables.push(table(widths, [head, ...rows]))
    } else {
      const rows = await offsetRows(admin, d)
      if (!noteState(io, d, rows.length)) continue
      const widths = [0, 1, 6, 7].map((i) => Math.max(15, ...rows.map((r) => r[i]!.length)))
      tables.push(table([widths[0]!, widths[1]!, 10, 15, 15, 15, widths[2]!, widths[3]!], [
        ['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'CONSUMER-ID', 'HOST', 'CLIENT-ID'],
        ...rows,
      ]))
    }
  }
  io.stdout.write(tables.join('\n'))
  if (missing.length > 0) throw new CommandError(`consumer group${missing.length > 1 ? 's' : ''} ${missing.map((g) => `'${g}'`).join(', ')} ${missing.length > 1 ? 'do' : 'does'} not exist`)
}

/**
 * Kafka's offsets view: the partitions of each member that has some (members with the most
 * first), then the partitions with a committed offset that no member has.
 */
async function offsetRows(admin: Admin, d: GroupDescription): Promise<string[][]> {
  const committed = await admin.listConsumerGroupOffsets(d.groupId)
  const offsets = new Map(committed.map((c) => [key(c), c]))
  const owners: { tp: TopicPartition; member: string; host: string; clientId: string }[] = []
  const members = d.members.filter((m) => m.assignment.length > 0).sort((a, b) => b.assignment.length - a.assignment.length)
  for (const m of members) for (const tp of [...m.assignment].sort(byTopicPartition)) owners.push({ tp, member: m.memberId, host: m.host, clientId: m.clientId })
  const owned = new Set(owners.map((o) => key(o.tp)))
  for (const c of [...committed].sort(byTopicPartition)) if (!owned.has(key(c))) owners.push({ tp: c, member: MISSING, host: MISSING, clientId: MISSING })
  const ends = await logEndOffsets(admin, owners.map((o) => o.tp))
  return owners.map(({ tp, member, host, clientId }) => {
    const offset = offsets.get(key(tp))?.offset
    const end = ends.get(key(tp))
    return [
      d.groupId,
      tp.topic,
      String(tp.partition),
      offset === undefined ? MISSING : String(offset),
      end === undefined ? MISSING : String(end),
      offset === undefined || end === undefined ? MISSING : String(end - offset),
      member,
      host,
      clientId,
    ]
  })
}

/** The log end offsets of the partitions that exist (a deleted topic's are left out: '-' in the table). */
async function logEndOffsets(admin: Admin, partitions: readonly TopicPartition[]): Promise<Map<string, number>> {
  const existing = await existingPartitions(admin, new Set(partitions.map((p) => p.topic)))
  const known = partitions.filter((p) => existing.get(p.topic)?.has(p.partition))
  if (known.length === 0) return new Map()
  const answers = await admin.listOffsets(known.map((p) => ({ ...p, spec: 'latest' as const })))
  return new Map(answers.map((a) => [key(a), a.offset]))
}

/** The partitions of those of `topics` that exist. */
async function existingPartitions(admin: Admin, topics: ReadonlySet<string>): Promise<Map<string, Set<number>>> {
  const all = new Set(await admin.listTopics({ listInternal: true }))
  const names = [...topics].filter((t) => all.has(t))
  if (names.length === 0) return new Map()
  const described = await admin.describeTopics(names)
  return new Map(described.map((d) => [d.name, new Set(d.partitions.map((p) => p.partition))]))
}

async function deleteGroups(admin: Admin, io: Io, groupIds: readonly string[]): Promise<void> {
  if (groupIds.length === 0) return
  let failed: { [group: string]: KafkaError } = {}
  try {
    await admin.deleteGroups(groupIds)
  } catch (err) {
    if (!(err instanceof AdminError)) throw err
    failed = err.errors
  }
  const done = groupIds.filter((g) => !(g in failed))
  if (done.length > 0) io.stdout.write(`Deletion of requested consumer groups (${done.map((g) => `'${g}'`).join(', ')}) was successful.\n`)
  const reasons = Object.entries(failed).map(([g, e]) => `cannot delete group '${g}': ${groupErrorReason(e)}`)
  if (reasons.length > 0) throw new CommandError(reasons.join('; '))
}

interface ResetPlanOptions {
  scenario: Scenario
  /** --to-offset or --shift-by. */
  value: number
  /** --to-datetime, in epoch ms. */
  timestamp: number
  topics: string[]
  allTopics: boolean
  execute: boolean
  /** --dry-run given: no warning that nothing is changed. */
  dryRun: boolean
}

function resetOptions(flags: {
  topic: string[]
  'all-topics': boolean
  'dry-run': boolean
  execute: boolean
  'to-earliest': boolean
  'to-latest': boolean
  'to-offset': string | undefined
  'to-datetime': string | undefined
  'shift-by': string | undefined
}): ResetPlanOptions {
  const scenarios = SCENARIOS.filter((s) => flags[s] !== undefined && flags[s] !== false)
  const list = SCENARIOS.map((s) => `--${s}`).join(', ')
  if (scenarios.length !== 1) {
    throw new UsageError(scenarios.length === 0 ? `--reset-offsets needs one of ${list}` : `only one of ${list} at a time (got ${scenarios.map((s) => `--${s}`).join(', ')})`)
  }
  if (flags['dry-run'] && flags.execute) throw new UsageError('--reset-offsets takes only one of --execute and --dry-run')
  if (flags.topic.length === 0 && !flags['all-topics']) throw new UsageError('--reset-offsets needs --topic <topic> or --all-topics')
  if (flags.topic.length > 0 && flags['all-topics']) throw new UsageError('--topic and --all-topics cannot be used together')
  for (const t of flags.topic) parseTopicArg(t)
  const scenario = scenarios[0]!
  let value = 0
  let timestamp = 0
  if (scenario === 'to-offset') value = integer('--to-offset', flags['to-offset']!, 0)
  if (scenario === 'shift-by') value = integer('--shift-by', flags['shift-by']!, -Number.MAX_SAFE_INTEGER)
  if (scenario === 'to-datetime') timestamp = parseDateTime(flags['to-datetime']!)
  return { scenario, value, timestamp, topics: flags.topic, allTopics: flags['all-topics'], execute: flags.execute, dryRun: flags['dry-run'] }
}

async function resetOffsets(admin: Admin, io: Io, groupIds: readonly string[], options: ResetPlanOptions): Promise<void> {
  if (!options.execute && !options.dryRun) {
    io.stderr.write('WARN: No action will be performed as the --execute option is missing. Add --execute to reset the offsets, or --dry-run to print the plan without this warning.\n')
  }
  const plans: { groupId: string; offsets: (TopicPartition & { offset: number })[] }[] = []
  for (const groupId of groupIds) {
    let state: string
    try {
      state = (await admin.describeGroups([groupId]))[0]!.state
    } catch (err) {
      // A broker that answers GROUP_ID_NOT_FOUND (instead of Dead) for a group it does not know.
      if (!(err instanceof KafkaError && err.code === ErrorCode.GROUP_ID_NOT_FOUND)) throw err
      state = 'Dead'
    }
    if (state !== 'Empty' && state !== 'Dead') {
      throw new CommandError(`assignments can only be reset if the group '${groupId}' is inactive, but the current state is ${state} (stop its consumers first)`)
    }
  }
  for (const groupId of groupIds) {
    const committed = await admin.listConsumerGroupOffsets(groupId)
    const partitions = options.allTopics ? committed.map(({ topic, partition }) => ({ topic, partition })) : await partitionsToReset(admin, options.topics)
    const offsets = await planOffsets(admin, io, partitions, committed, options)
    if (options.execute && offsets.length > 0) await admin.alterConsumerGroupOffsets(groupId, offsets)
    plans.push({ groupId, offsets })
  }
  const rows = plans.flatMap((p) => [...p.offsets].sort(byTopicPartition).map((o) => [p.groupId, o.topic, String(o.partition), String(o.offset)]))
  if (rows.length === 0) return
  const widths = [Math.max(15, ...rows.map((r) => r[0]!.length)), Math.max(15, ...rows.map((r) => r[1]!.length)), 10]
  io.stdout.write(table(widths, [['GROUP', 'TOPIC', 'PARTITION', 'NEW-OFFSET'], ...rows]))
}

/** `topic` (all its partitions) or `topic:0,2`; the partitions must exist. */
async function partitionsToReset(admin: Admin, topicArgs: readonly string[]): Promise<TopicPartition[]> {
  const parsed = topicArgs.map(parseTopicArg)
  const existing = await existingPartitions(admin, new Set(parsed.map((p) => p.topic)))
  const out: TopicPartition[] = []
  const unknown: string[] = []
  for (const { topic, partitions } of parsed) {
    const known = existing.get(topic)
    if (known === undefined) {
      unknown.push(partitions === null ? topic : partitions.map((p) => `${topic}-${p}`).join(','))
      continue
    }
    for (const partition of partitions ?? [...known].sort((a, b) => a - b)) {
      if (known.has(partition)) out.push({ topic, partition })
      else unknown.push(`${topic}-${partition}`)
    }
  }
  if (unknown.length > 0) throw new CommandError(`the partitions ${unknown.join(',')} do not exist`)
  const seen = new Set<string>()
  return out.filter((tp) => !seen.has(key(tp)) && seen.add(key(tp)))
}

/**
 * The new offset of each partition, as Kafka's tool computes it: --to-offset and --shift-by are
 * kept within [log start, log end] (with a warning), --to-datetime falls back to the log end
 * when no record is that recent.
 */
async function planOffsets(
  admin: Admin,
  io: Io,
  partitions: readonly TopicPartition[],
  committed: readonly CommittedOffset[],
  options: ResetPlanOptions,
): Promise<(TopicPartition & { offset: number })[]> {
  if (partitions.length === 0) return []
  const at = async (spec: 'earliest' | 'latest' | { timestamp: number }) => {
    const answers = await admin.listOffsets(partitions.map((p) => ({ ...p, spec })))
    return new Map(answers.map((a) => [key(a), a.offset]))
  }
  const warn = (line: string): unknown => io.stderr.write(`${line}\n`)
  switch (options.scenario) {
    case 'to-earliest': {
      const starts = await at('earliest')
      return partitions.map((p) => ({ ...p, offset: starts.get(key(p))! }))
    }
    case 'to-latest': {
      const ends = await at('latest')
      return partitions.map((p) => ({ ...p, offset: ends.get(key(p))! }))
    }
    case 'to-datetime': {
      const found = await at({ timestamp: options.timestamp })
      const ends = await at('latest')
      return partitions.map((p) => {
        const offset = found.get(key(p))!
        if (offset >= 0) return { ...p, offset }
        warn(`Warn: Partition ${p.partition} from topic ${p.topic} is empty. Falling back to latest known offset.`)
        return { ...p, offset: ends.get(key(p))! }
      })
    }
    case 'to-offset':
    case 'shift-by': {
      const current = new Map(committed.map((c) => [key(c), c.offset]))
      const wanted = partitions.map((p) => {
        if (options.scenario === 'to-offset') return { ...p, offset: options.value }
        const now = current.get(key(p))
        if (now === undefined) throw new CommandError(`cannot shift the offset of ${p.topic}-${p.partition}: the group has no committed offset for it`)
        return { ...p, offset: now + options.value }
      })
      const starts = await at('earliest')
      const ends = await at('latest')
      return wanted.map((w) => {
        const start = starts.get(key(w))!
        const end = ends.get(key(w))!
        if (w.offset > end) {
          warn(`WARN New offset (${w.offset}) is higher than latest offset for topic partition ${w.topic}-${w.partition}. Value will be set to ${end}`)
          return { ...w, offset: end }
        }
        if (w.offset < start) {
          warn(`WARN New offset (${w.offset}) is lower than earliest offset for topic partition ${w.topic}-${w.partition}. Value will be set to ${start}`)
          return { ...w, offset: start }
        }
        return w
      })
    }
  }
}

async function deleteOffsets(admin: Admin, io: Io, groupId: string, topicArgs: readonly string[]): Promise<void> {
  const partitions = await partitionsToReset(admin, topicArgs)
  await admin.deleteConsumerGroupOffsets(groupId, partitions)
  io.stdout.write(`Request succeeded for deleting offsets from group ${groupId}.\n`)
}

/** `topic` or `topic:0,1,2` (Kafka's --topic of --reset-offsets). */
function parseTopicArg(arg: string): { topic: string; partitions: number[] | null } {
  const colon = arg.indexOf(':')
  if (colon < 0) {
    if (arg === '') throw new UsageError("invalid value '' for --topic: expected topic or topic:partition,partition")
    return { topic: arg, partitions: null }
  }
  const topic = arg.slice(0, colon)
  const list = arg.slice(colon + 1).split(',')
  if (topic === '' || list.some((p) => !/^\d+$/.test(p.trim()))) {
    throw new UsageError(`invalid value '${arg}' for --topic: expected topic or topic:partition,partition (e.g. orders:0,1)`)
  }
  return { topic, partitions: list.map((p) => Number(p.trim())) }
}

/**
 * Kafka's --to-datetime: 'YYYY-MM-DDTHH:mm:SS.sss', local time unless a zone (Z, +hh:mm, +hhmm)
 * follows; seconds and milliseconds may be left out.
 */
export function parseDateTime(value: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(value.trim())
  const bad = () => new UsageError(`invalid value '${value}' for --to-datetime: expected YYYY-MM-DDTHH:mm:SS.sss, e.g. 2024-03-01T12:00:00.000`)
  if (!m) throw bad()
  const [, y, mo, d, h, mi, s = '0', ms = '0', zone] = m
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(ms.padEnd(3, '0'))] as const
  let t: number
  if (zone === undefined) {
    const local = new Date(...fields)
    t = local.getTime()
    if (local.getMonth() !== fields[1] || local.getDate() !== fields[2]) throw bad()
  } else {
    t = Date.UTC(...fields)
    if (new Date(t).getUTCMonth() !== fields[1] || new Date(t).getUTCDate() !== fields[2]) throw bad()
    if (zone !== 'Z') {
      const sign = zone[0] === '-' ? -1 : 1
      const digits = zone.slice(1).replace(':', '')
      t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000
    }
  }
  if (!Number.isFinite(t) || fields[3] > 23 || fields[4] > 59 || fields[5] > 59) throw bad()
  return t
}

function integer(flag: string, value: string, min: number): number {
  const n = /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`invalid value '${value}' for ${flag}: expected an integer${min === 0 ? ' >= 0' : ''}`)
  return n
}

/** Columns padded to `widths` (the last one is not), one space between, as Kafka's printf tables. */
function table(widths: readonly number[], rows: readonly (readonly string[])[]): string {
  return rows.map((r) => r.map((cell, i) => (i < widths.length && i < r.length - 1 ? cell.padEnd(widths[i]!) : cell)).join(' ').trimEnd() + '\n').join('')
}

const key = (tp: TopicPartition): string => `${tp.partition}\u0000${tp.topic}`

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function byTopicPartition(a: TopicPartition, b: TopicPartition): number {
  return compare(a.topic, b.topic) || a.partition - b.partition
}

/** Why the broker refused a group operation, in a Kafka user's words. */
function groupErrorReason(err: KafkaError): string {
  switch (err.code) {
    case ErrorCode.NON_EMPTY_GROUP:
      return 'the group has active members (NON_EMPTY_GROUP)'
    case ErrorCode.GROUP_ID_NOT_FOUND:
      return 'the group does not exist (GROUP_ID_NOT_FOUND)'
    case ErrorCode.INVALID_GROUP_ID:
      return 'invalid group id (INVALID_GROUP_ID)'
    default:
      return firstLine(err.message)
  }
}

function describeGroupError(err: KafkaError): string {
  switch (err.code) {
    case ErrorCode.UNKNOWN_MEMBER_ID:
      return `cannot change the offsets: ${firstLine(err.message).replace(/^UNKNOWN_MEMBER_ID for [^:]+: /, '')}`
    case ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC:
      return `cannot delete the offsets: the group's members consume the topic (GROUP_SUBSCRIBED_TO_TOPIC)`
    case ErrorCode.NON_EMPTY_GROUP:
    case ErrorCode.GROUP_ID_NOT_FOUND:
    case ErrorCode.INVALID_GROUP_ID:
      return groupErrorReason(err)
    default:
      return firstLine(err.message)
  }
}
