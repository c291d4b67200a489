/**
 * `peerlog consume`: Kafka's console consumer. Without a group it reads every partition of the
 * topic (or the one `--partition` names). With `--group` (or `--consumer-property group.id=`)
 * it is a member of that consumer group: the group shares the partitions out, each starts at
 * the group's committed offset (without one: the end, or the beginning with --from-beginning,
 * as auto.offset.reset), and what was printed is committed as it goes (auto-commit) and once
 * more on exit, so the group's next run goes on after the last record printed.
 */
import { Consumer } from '../client/consumer.ts'
import type { ConsumerRecord } from '../client/subscription-state.ts'
import { consoleLogger } from '../runtime/logger.ts'
import { UsageError } from './args.ts'
import { parseBootstrap, probe } from './bootstrap.ts'
import { bootstrapConfig, clientFailure, properties, topicMetadata } from './client-common.ts'
import { command, CommandError, EXIT_OK, stopSignal } from './command.ts'

/** How long one poll waits, at most: also how quickly Ctrl-C and --timeout-ms are noticed. */
const POLL_MS = 200

export const consumeCommand = command({
  name: 'consume',
  args: '',
  summary: 'Print the records of a topic, one per line, until Ctrl-C',
  flags: {
    help: { type: 'boolean', short: 'h', description: 'Show this help' },
    'bootstrap-server': { type: 'string', valueName: '<host:port>', description: 'The broker to connect to (required)' },
    topic: { type: 'string', valueName: '<topic>', description: 'The topic to read (required)' },
    'from-beginning': { type: 'boolean', description: 'Start at the earliest record, not at the end' },
    partition: { type: 'string', valueName: '<n>', description: 'Read this partition only (default: all of them)' },
    offset: { type: 'string', valueName: '<offset>', description: 'With --partition: start here (a number, earliest or latest)' },
    group: { type: 'string', valueName: '<group>', description: 'Consume as a member of this consumer group, committing what is printed' },
    'max-messages': { type: 'string', valueName: '<n>', description: 'Exit after printing this many records' },
    'timeout-ms': { type: 'string', valueName: '<ms>', description: 'Exit when no record came for this long' },
    'print-key': { type: 'boolean', description: 'Print the key before the value' },
    'key-separator': { type: 'string', valueName: '<sep>', description: 'Between key and value with --print-key (default: a tab)' },
    'consumer-property': {
      type: 'string',
      multiple: true,
      valueName: '<key=value>',
      description: 'A consumer config, e.g. isolation.level=read_committed (repeatable)',
    },
  },
  maxPositionals: 0,
  help: [
    'Examples:',
    '  peerlog consume --bootstrap-server 127.0.0.1:9092 --topic greetings --from-beginning',
    '  peerlog consume --bootstrap-server 127.0.0.1:9092 --topic t --partition 0 --offset 42 --max-messages 10 --print-key',
    '  peerlog consume --bootstrap-server 127.0.0.1:9092 --topic greetings --group greeters --from-beginning',
  ],
  async run({ flags, io }) {
    const servers = parseBootstrap(flags['bootstrap-server'])
    const topic = flags.topic
    if (topic === undefined) throw new UsageError('missing --topic')
    const props = properties('--consumer-property', flags['consumer-property'])
    const group = groupId(flags.group, props['group.id'])
    if (group !== undefined) {
      if (flags.partition !== undefined) throw new UsageError('--partition cannot be used with --group: the group assigns the partitions (drop --partition, or --group to read one partition alone)')
      if (flags.offset !== undefined) throw new UsageError('--offset cannot be used with --group: a group starts at its committed offsets (move them with peerlog groups --reset-offsets)')
      const reset = props['auto.offset.reset']
      if (flags['from-beginning'] && reset !== undefined && reset.toLowerCase() !== 'earliest') {
        throw new UsageError(`--from-beginning and --consumer-property auto.offset.reset=${reset} cannot be used together`)
      }
    }
    const partition = flags.partition === undefined ? undefined : integer('--partition', flags.partition, 0)
    const maxMessages = flags['max-messages'] === undefined ? Infinity : integer('--max-messages', flags['max-messages'], 1)
    const timeoutMs = flags['timeout-ms'] === undefined ? Infinity : integer('--timeout-ms', flags['timeout-ms'], 0)
    let offset: number | 'earliest' | 'latest' | undefined
    if (flags.offset !== undefined) {
      if (partition === undefined) throw new UsageError('--offset needs --partition')
      if (flags['from-beginning']) throw new UsageError('--from-beginning and --offset cannot be used together')
      const o = flags.offset.trim().toLowerCase()
      offset = o === 'earliest' || o === 'latest' ? o : integer('--offset', flags.offset, 0, 'a number, earliest or latest')
    }
    const separator = flags['key-separator'] ?? '\t'

    await probe(servers)
    const metadata = await topicMetadata(servers, topic, { autoCreate: false })
    const count = metadata.partitions.length
    if (partition !== undefined && partition >= count) {
      throw new CommandError(`topic '${topic}' has ${count} partition${count === 1 ? '' : 's'}; there is no partition ${partition}`)
    }

    const start = offset ?? (flags['from-beginning'] ? 'earliest' : 'latest')
    const logger = consoleLogger('warn', '', (line) => io.stderr.write(`${line}\n`))
    let consumer: Consumer
    try {
      consumer = new Consumer(
        group === undefined
          ? { ...props, ...bootstrapConfig(servers), 'auto.offset.reset': typeof start === 'number' ? 'none' : start, 'allow.auto.create.topics': false }
          : { ...props, ...bootstrapConfig(servers), 'group.id': group, 'auto.offset.reset': props['auto.offset.reset'] ?? start, 'allow.auto.create.topics': false },
        { logger },
      )
    } catch (err) {
      clientFailure(err, 'cannot create the consumer')
    }
    let lastRecordAt = Date.now()
    if (group === undefined) {
      const assignment = partition === undefined ? metadata.partitions.map((p) => ({ topic, partition: p.partition })) : [{ topic, partition }]
      consumer.assign(assignment)
      if (typeof start === 'number') consumer.seek({ topic, partition: partition! }, start)
    } else {
      // --timeout-ms counts from when the group gave this member its partitions, not from the join.
      consumer.subscribe([topic], { onPartitionsAssigned: () => void (lastRecordAt = Date.now()) })
    }

    const { signal, dispose } = stopSignal(io)
    const decoder = new TextDecoder()
    const text = (b: Uint8Array | null): string => (b === null ? 'null' : decoder.decode(b))
    const format = (r: ConsumerRecord): string => (flags['print-key'] ? `${text(r.key)}${separator}${text(r.value)}\n` : `${text(r.value)}\n`)
    let printed = 0
    let commitFailure: unknown = null
    try {
      while (printed < maxMessages && !signal.aborted && Date.now() - lastRecordAt < timeoutMs) {
        let records: ConsumerRecord[]
        try {
          records = await consumer.poll(Math.min(POLL_MS, timeoutMs))
        } catch (err) {
          clientFailure(err, `cannot read topic '${topic}'`)
        }
        if (records.length === 0) continue
        lastRecordAt = Date.now()
        const take = records.slice(0, maxMessages - printed)
        // The group commits positions: move back over what --max-messages leaves unprinted.
        if (group !== undefined) for (const [tp, first] of firstUnprinted(records, take.length)) consumer.seek(tp, first)
        // Wait for a slow reader (a pipe) instead of buffering without bound.
        const drained = io.stdout.write(take.map(format).join(''))
        const stream = io.stdout as { once?: (event: 'drain', listener: () => void) => unknown }
        if (drained === false && typeof stream.once === 'function') await new Promise<void>((r) => stream.once!('drain', r))
        printed += take.length
      }
      // The final commit (close() commits too, but does not say when that fails).
      if (group !== undefined) await consumer.commitSync().catch((err: unknown) => void (commitFailure = err ?? new Error('commit failed')))
    } finally {
      dispose()
      await consumer.close()
    }
    if (commitFailure !== null) clientFailure(commitFailure, `cannot commit the offsets of group '${group}'`)
    io.stderr.write(`Processed a total of ${printed} message${printed === 1 ? '' : 's'}\n`)
    return EXIT_OK
  },
})

/** `--group`, or group.id among the consumer properties (as Kafka's console consumer takes either); both must agree. */
function groupId(flag: string | undefined, property: string | undefined): string | undefined {
  if (flag !== undefined && property !== undefined && flag !== property) {
    throw new UsageError(`--group '${flag}' and --consumer-property group.id=${property} name different groups (give the group once)`)
  }
  const id = flag ?? property
  if (id !== undefined && id.trim() === '') throw new UsageError(`invalid value '${id}' for --group: expected a group id`)
  return id
}

/** Per partition, the offset of the first record of `records` past the first `printed`. */
function firstUnprinted(records: readonly ConsumerRecord[], printed: number): Map<{ topic: string; partition: number }, number> {
  const out = new Map<string, { tp: { topic: string; partition: number }; offset: number }>()
  for (const r of records.slice(printed)) {
    const key = `${r.partition}\u0000${r.topic}`
    if (!out.has(key)) out.set(key, { tp: { topic: r.topic, partition: r.partition }, offset: r.offset })
  }
  return new Map([...out.values()].map((v) => [v.tp, v.offset]))
}

function integer(flag: string, value: string, min: number, accepts = `an integer >= ${min}`): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`invalid value '${value}' for ${flag}: expected ${accepts}`)
  return n
}
