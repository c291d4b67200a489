/**
 * `peerlog consume`: Kafka's console consumer, without a group: it reads every partition of
 * the topic (or the one `--partition` names) and prints one line per record.
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
  ],
  async run({ flags, io }) {
    const servers = parseBootstrap(flags['bootstrap-server'])
    const topic = flags.topic
    if (topic === undefined) throw new UsageError('missing --topic')
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
    const props = properties('--consumer-property', flags['consumer-property'])

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
        { ...props, ...bootstrapConfig(servers), 'auto.offset.reset': typeof start === 'number' ? 'none' : start, 'allow.auto.create.topics': false },
        { logger },
      )
    } catch (err) {
      clientFailure(err, 'cannot create the consumer')
    }
    const assignment = partition === undefined ? metadata.partitions.map((p) => ({ topic, partition: p.partition })) : [{ topic, partition }]
    consumer.assign(assignment)
    if (typeof start === 'number') consumer.seek({ topic, partition: partition! }, start)

    const { signal, dispose } = stopSignal(io)
    const decoder = new TextDecoder()
    const text = (b: Uint8Array | null): string => (b === null ? 'null' : decoder.decode(b))
    const format = (r: ConsumerRecord): string => (flags['print-key'] ? `${text(r.key)}${separator}${text(r.value)}\n` : `${text(r.value)}\n`)
    let printed = 0
    let lastRecordAt = Date.now()
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
        // Wait for a slow reader (a pipe) instead of buffering without bound.
        const drained = io.stdout.write(take.map(format).join(''))
        const stream = io.stdout as { once?: (event: 'drain', listener: () => void) => unknown }
        if (drained === false && typeof stream.once === 'function') await new Promise<void>((r) => stream.once!('drain', r))
        printed += take.length
      }
    } finally {
      dispose()
      await consumer.close()
    }
    io.stderr.write(`Processed a total of ${printed} message${printed === 1 ? '' : 's'}\n`)
    return EXIT_OK
  },
})

function integer(flag: string, value: string, min: number, accepts = `an integer >= ${min}`): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`invalid value '${value}' for ${flag}: expected ${accepts}`)
  return n
}
