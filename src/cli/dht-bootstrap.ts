/**
 * `peerlog dht-bootstrap --listen H:P`: runs a bootstrap node of a private hyperswarm DHT in
 * the foreground until SIGINT or SIGTERM. Nodes given `--dht-bootstrap H:P` find each other
 * through it instead of the public DHT: an edge site without internet runs its own.
 *
 * The host is the IPv4 address the nodes reach it at (UDP), not 0.0.0.0: the DHT tells its
 * peers that address. Node only (hyperdht's UDP add-on does not load on Deno or Bun).
 */
import { consoleLogger } from '../runtime/logger.ts'
import { runtime } from '../runtime/platform.ts'
import { startDhtBootstrap } from '../transport/hyperswarm-transport.ts'
import { formatHostPort } from '../transport/tcp-transport.ts'
import { UsageError } from './args.ts'
import { listenHostPort } from './cluster-flags.ts'
import { aborted, command, CommandError, EXIT_OK, stopSignal } from './command.ts'

export const dhtBootstrapCommand = command({
  name: 'dht-bootstrap',
  args: '',
  summary: 'Run a private DHT bootstrap node for hyperswarm until Ctrl-C',
  flags: {
    help: { type: 'boolean', short: 'h', description: 'Show this help' },
    listen: { type: 'string', valueName: '<host:port>', description: 'The UDP address to run on: an address the nodes reach (not 0.0.0.0); port 0 picks one' },
  },
  maxPositionals: 0,
  help: [
    'Examples:',
    '  peerlog dht-bootstrap --listen 10.0.0.1:49737',
    '  peerlog broker start --cluster edge --secret-file secret --node-id 1 --dht-bootstrap 10.0.0.1:49737',
  ],
  async run({ flags, io }) {
    if (flags.listen === undefined) throw new UsageError('missing --listen <host:port> (e.g. --listen 10.0.0.1:49737)')
    const listen = listenHostPort('listen', flags.listen)
    if (listen.host === '0.0.0.0' || listen.host === '::') {
      throw new UsageError(`invalid value '${flags.listen}' for --listen: give the address the nodes reach this one at, not ${listen.host}`)
    }
    const name = runtime().name
    if (name !== 'node') throw new CommandError(`a DHT bootstrap node runs on Node only (hyperdht's UDP add-on does not load on ${name}); run it with node`)
    const logger = consoleLogger('info', '', (line) => io.stderr.write(`${line}\n`))
    const { signal, dispose } = stopSignal(io)
    try {
      let node
      try {
        node = await startDhtBootstrap(listen)
      } catch (err) {
        throw new CommandError((err as Error).message.split('\n')[0]!)
      }
      const address = formatHostPort(node.host, node.port)
      logger.info(`DHT bootstrap node running on ${address} (UDP); point nodes at it with --dht-bootstrap ${address}`)
      await aborted(signal)
      logger.info(`stopping (${String(signal.reason ?? 'stop requested')})`)
      await node.close()
      return EXIT_OK
    } finally {
      dispose()
    }
  },
})
