/**
 * `peerlog produce`: Kafka's console producer. Each line of stdin is one record; with
 * `--key-separator`, the text before the first separator is the key.
 */
import process from 'node:process'
import { Producer } from '../client/producer.ts'
import { consoleLogger } from '../runtime/logger.ts'
import { UsageError } from './args.ts'
import { parseBootstrap, probe } from './bootstrap.ts'
import { bootstrapConfig, clientFailure, properties, topicMetadata } from './client-common.ts'
import { command, CommandError, EXIT_OK, stopSignal } from './command.ts'
import { lines } from './lines.ts'

/** Records sent and not yet acknowledged before reading more waits for a flush. */
const MAX_OUTSTANDING = 10_000

export const produceCommand = command({
  name: 'produce',
  args: '',
  summary: 'Send the lines of stdin to a topic, one record per line',
  flags: {
    help: { type: 'boolean', short: 'h', description: 'Show this help' },
    'bootstrap-server': { type: 'string', valueName: '<host:port>', description: 'The broker to connect to (required)' },
    topic: { type: 'string', valueName: '<topic>', description: 'The topic to send to (required)' },
    'key-separator': { type: 'string', valueName: '<sep>', description: 'Split each line into key and value at the first <sep>' },
    'producer-property': {
      type: 'string',
      multiple: true,
      valueName: '<key=value>',
      description: 'A producer config, e.g. acks=1, compression.type=zstd, linger.ms=10 (repeatable)',
    },
  },
  maxPositionals: 0,
  help: [
    'Examples:',
    '  echo hello | peerlog produce --bootstrap-server 127.0.0.1:9092 --topic greetings',
    '  printf "k1:v1\\nk2:v2\\n" | peerlog produce --bootstrap-server 127.0.0.1:9092 --topic t --key-separator :',
  ],
  async run({ flags, io }) {
    const servers = parseBootstrap(flags['bootstrap-server'])
    const topic = flags.topic
    if (topic === undefined) throw new UsageError('missing --topic')
    const separator = flags['key-separator']
    if (separator === '') throw new UsageError("invalid value '' for --key-separator: expected one or more characters")
    const props = properties('--producer-property', flags['producer-property'])

    await probe(servers)
    await topicMetadata(servers, topic, { autoCreate: true })

    const logger = consoleLogger('warn', '', (line) => io.stderr.write(`${line}\n`))
    let producer: Producer
    try {
      producer = new Producer({ 'linger.ms': 5, ...props, ...bootstrapConfig(servers) }, { logger })
    } catch (err) {
      clientFailure(err, 'cannot create the producer')
    }

    const { signal, dispose } = stopSignal(io)
    let failure: Error | undefined
    let outstanding = 0
    let lineNo = 0
    try {
      const input = lines(io.stdin ?? process.stdin)[Symbol.asyncIterator]()
      const stopped = new Promise<'stop'>((resolve) => {
        if (signal.aborted) resolve('stop')
        signal.addEventListener('abort', () => resolve('stop'), { once: true })
      })
      for (;;) {
        const next = await Promise.race([input.next(), stopped])
        if (next === 'stop' || next.done || failure) break
        lineNo++
        let key: string | null = null
        let value = next.value
        if (separator !== undefined) {
          const at = value.indexOf(separator)
          if (at === -1) {
            failure = new CommandError(`no key separator '${separator}' on line ${lineNo}: '${truncate(value)}'`)
            break
          }
          key = value.slice(0, at)
          value = value.slice(at + separator.length)
        }
        outstanding++
        producer.send({ topic, key, value }).then(
          () => outstanding--,
          (err: Error) => {
            outstanding--
            failure ??= err
          },
        )
        if (outstanding >= MAX_OUTSTANDING) await producer.flush()
      }
      await producer.close()
    } finally {
      dispose()
    }
    if (failure) clientFailure(failure, `cannot send to topic '${topic}'`)
    return EXIT_OK
  },
})

function truncate(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s
}
