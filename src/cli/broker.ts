/**
 * `peerlog broker start`: runs a broker in the foreground until SIGINT or SIGTERM.
 *
 * Settings, last one wins: the defaults, `--config server.properties`, each `--set key=value`,
 * then `--data-dir` (log.dirs), `--listen` (listeners) and `--node-id` (node.id). Kafka's
 * names throughout. `--cluster` and its flags (cluster-flags.ts) join a cluster of peers.
 */
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { startBroker } from '../broker/start-broker.ts'
import type { BrokerConfig } from '../broker/broker-config.ts'
import { brokerConfigFrom, ConfigError, configSummary, formatHostPort, listenToListeners } from '../broker/config-parse.ts'
import { consoleLogger, type LogLevel } from '../runtime/logger.ts'
import { runtime } from '../runtime/platform.ts'
import { CLUSTER_FLAGS, clusterFromFlags, parseNodeId } from './cluster-flags.ts'
import { UsageError } from './args.ts'
import { aborted, command, CommandError, EXIT_OK, stopSignal } from './command.ts'

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']

export const brokerCommand = command({
  name: 'broker',
  args: 'start',
  summary: 'Run a broker in the foreground until Ctrl-C',
  flags: {
    help: { type: 'boolean', short: 'h', description: 'Show this help' },
    'data-dir': { type: 'string', valueName: '<dir>', description: 'Where the logs live (log.dirs; default ./data)' },
    listen: { type: 'string', valueName: '<host:port>', description: 'Address to bind (listeners; default 127.0.0.1:9092, port 0 picks one)' },
    config: { type: 'string', valueName: '<file>', description: 'A server.properties file, in Kafka\'s format and names' },
    set: { type: 'string', multiple: true, valueName: '<key=value>', description: 'One setting, e.g. --set num.partitions=3 (repeatable)' },
    'log-level': { type: 'string', valueName: '<level>', description: 'debug, info, warn or error (default info)' },
    ...CLUSTER_FLAGS,
  },
  maxPositionals: 1,
  help: [
    'Examples:',
    '  peerlog broker start',
    '  peerlog broker start --data-dir /var/lib/peerlog --listen 0.0.0.0:9092 \\',
    '      --set advertised.listeners=PLAINTEXT://my-laptop.local:9092',
    '  peerlog broker start --config server.properties --set num.partitions=6 --log-level debug',
    '  peerlog broker start --cluster edge --secret-file secret --node-id 2 --transport tcp \\',
    '      --peer-listen 0.0.0.0:9093 --seeds 10.0.0.1:9093',
  ],
  async run({ flags, positionals, io }) {
    const sub = positionals[0]
    if (sub !== 'start') {
      throw new UsageError(sub === undefined ? "missing subcommand: 'peerlog broker start'" : `unknown subcommand '${sub}': expected 'start'`)
    }
    const level = (flags['log-level'] ?? 'info') as LogLevel
    if (!LOG_LEVELS.includes(level)) {
      throw new UsageError(`invalid value '${flags['log-level']}' for --log-level: expected one of ${LOG_LEVELS.join(', ')}`)
    }
    const logger = consoleLogger(level, '', (line) => io.stderr.write(`${line}\n`))

    let file: { name: string; text: string } | undefined
    if (flags.config !== undefined) {
      try {
        file = { name: flags.config, text: await readFile(flags.config, 'utf8') }
      } catch (err) {
        throw new CommandError(`cannot read config file '${flags.config}': ${describeFsError(err)}`)
      }
    }
    const overrides: Record<string, string> = {}
    if (flags['data-dir'] !== undefined) overrides['log.dirs'] = flags['data-dir']
    if (flags.listen !== undefined) overrides.listeners = listenToListeners(flags.listen)
    if (flags['node-id'] !== undefined) overrides['node.id'] = String(parseNodeId(flags['node-id']))
    const parsed = brokerConfigFrom({ ...(file ? { file } : {}), sets: flags.set, overrides })
    for (const w of parsed.warnings) logger.warn(w)
    const cluster = await clusterFromFlags(flags, { nodeIdGiven: parsed.explicit.has('node.id'), runtime: runtime().name })

    const { config, listener } = parsed
    const dataDir = resolve(config['log.dirs'])
    const given: Partial<BrokerConfig> = {}
    for (const key of parsed.explicit) (given as Record<string, unknown>)[key] = config[key]
    const bindHost = listener.host === '' ? '0.0.0.0' : listener.host
    logger.info(`config: ${configSummary({ ...config, 'log.dirs': dataDir })}`)
    if (parsed.advertised === undefined && (bindHost === '0.0.0.0' || bindHost === '::')) {
      logger.warn(
        `listening on every interface without advertised.listeners: clients will be told to connect to 127.0.0.1; ` +
          `set advertised.listeners=${listener.name}://<a host they can reach>:${listener.port || '<port>'}`,
      )
    }
    const { signal, dispose } = stopSignal(io)
    try {
      let broker
      try {
        broker = await startBroker({ dataDir, host: bindHost, port: listener.port, config: given, logger, ...(cluster === undefined ? {} : { cluster }) })
      } catch (err) {
        throw new CommandError(`cannot start the broker: ${describeStartError(err, formatHostPort(bindHost, listener.port))}`)
      }
      await aborted(signal)
      logger.info(`stopping (${String(signal.reason ?? 'stop requested')})`)
      await broker.stop()
      return EXIT_OK
    } finally {
      dispose()
    }
  },
})

export { ConfigError }

function describeFsError(err: unknown): string {
  const code = (err as { code?: string }).code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EACCES') return 'permission denied'
  if (code === 'EISDIR') return 'it is a directory'
  return err instanceof Error ? err.message : String(err)
}

const FS_REASONS: Readonly<Record<string, string>> = {
  ENOTDIR: 'a part of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EEXIST: 'a file is in the way',
  EISDIR: 'a directory is in the way',
}

function describeStartError(err: unknown, address: string): string {
  const e = err as { code?: string; syscall?: string; path?: string }
  if (e.syscall === 'listen' || e.code === 'EADDRINUSE' || e.code === 'EADDRNOTAVAIL') {
    if (e.code === 'EADDRINUSE') return `address ${address} is already in use`
    if (e.code === 'EADDRNOTAVAIL') return `address ${address} is not an address of this machine`
    if (e.code === 'EACCES') return `permission denied binding ${address} (ports below 1024 need privileges)`
  }
  if (e.code !== undefined && FS_REASONS[e.code] !== undefined) {
    return `cannot use the data dir${e.path ? ` (${e.path})` : ''}: ${FS_REASONS[e.code]}`
  }
  return err instanceof Error ? err.message.split('\n')[0]! : String(err)
}
