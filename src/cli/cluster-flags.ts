/**
 * The cluster flags of `peerlog broker start`, checked and turned into startBroker's `cluster`
 * option:
 *
 *   --cluster NAME --secret-file F --node-id N [--transport hyperswarm|tcp|both]
 *   [--peer-listen H:P] [--seeds H:P,...] [--dht-bootstrap H:P[,H:P]]
 *
 * Without --cluster the broker runs alone and the other cluster flags are mistakes (--node-id
 * alone just sets node.id). The transport defaults to hyperswarm on Node and to tcp on Deno and
 * Bun, where hyperswarm does not load. Mistakes in the flags are usage errors; a secret file
 * that cannot be read or is too short, and a transport this runtime cannot run, are one-line
 * failures before anything starts.
 */
import { readFile } from 'node:fs/promises'
import {
  checkClusterOptions,
  CLUSTER_TRANSPORTS,
  ClusterConfigError,
  type ClusterOptions,
  type ClusterTransport,
  type HostPort,
  SECRET_HINT,
  secretBytesMin,
} from '../cluster/cluster-options.ts'
import type { RuntimeName } from '../runtime/platform.ts'
import { parseHostPort } from '../transport/tcp-transport.ts'
import { type FlagSpecs, UsageError } from './args.ts'
import { CommandError } from './command.ts'

export const CLUSTER_FLAGS = {
  cluster: { type: 'string', valueName: '<name>', description: 'Join the cluster of this name (without it the broker runs alone)' },
  'secret-file': { type: 'string', valueName: '<file>', description: 'The cluster secret, the same file on every node (head -c 32 /dev/urandom > secret)' },
  'node-id': { type: 'string', valueName: '<n>', description: 'This node\'s id (node.id), its own in the cluster' },
  transport: { type: 'string', valueName: '<t>', description: 'hyperswarm, tcp or both (default hyperswarm on Node, tcp on Deno and Bun)' },
  'peer-listen': { type: 'string', valueName: '<host:port>', description: 'Where the tcp transport listens for peers (default: the listen host, a free port)' },
  seeds: { type: 'string', valueName: '<host:port,...>', description: 'Peer addresses of nodes in the cluster (tcp); one is enough' },
  'dht-bootstrap': { type: 'string', valueName: '<host:port,...>', description: 'A private DHT for hyperswarm (peerlog dht-bootstrap), instead of the public one' },
} as const satisfies FlagSpecs

export interface ClusterFlags {
  cluster?: string | undefined
  'secret-file'?: string | undefined
  'node-id'?: string | undefined
  transport?: string | undefined
  'peer-listen'?: string | undefined
  seeds?: string | undefined
  'dht-bootstrap'?: string | undefined
}

const NODE_ID_MAX = 0x7fffffff

/** The --node-id value as a number; a usage error when it is not one. */
export function parseNodeId(value: string): number {
  const n = /^\d{1,10}$/.test(value) ? Number(value) : NaN
  if (!(n <= NODE_ID_MAX)) throw new UsageError(`invalid value '${value}' for --node-id: expected an integer from 0 to ${NODE_ID_MAX}`)
  return n
}

/** host:port to listen on (port 0 picks a free one); a usage error naming --flag otherwise. */
export function listenHostPort(flag: string, value: string): HostPort {
  const v = value.trim()
  try {
    // parseHostPort refuses port 0, which a listen address may have.
    return v.endsWith(':0') ? { host: parseHostPort(`${v.slice(0, -2)}:1`).host, port: 0 } : parseHostPort(v)
  } catch {
    throw new UsageError(`invalid value '${value}' for --${flag}: expected host:port`)
  }
}

function hostPortList(flag: string, value: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (items.length === 0) throw new UsageError(`invalid value '${value}' for --${flag}: expected host:port[,host:port...]`)
  for (const item of items) {
    try {
      parseHostPort(item)
    } catch {
      throw new UsageError(`invalid value '${value}' for --${flag}: expected host:port[,host:port...]`)
    }
  }
  return items
}

/**
 * Checks the flags (usage errors) and, with --cluster, reads the secret and returns the
 * cluster options; undefined without --cluster. `nodeIdGiven`: node.id was set some other way
 * (--set node.id=, a config file).
 */
export async function clusterFromFlags(flags: ClusterFlags, options: { nodeIdGiven: boolean; runtime: RuntimeName }): Promise<ClusterOptions | undefined> {
  const name = flags.cluster
  if (name === undefined) {
    for (const flag of ['secret-file', 'transport', 'peer-listen', 'seeds', 'dht-bootstrap'] as const) {
      if (flags[flag] !== undefined) throw new UsageError(`--${flag} needs --cluster <name>`)
    }
    return undefined
  }
  if (name.trim() === '') throw new UsageError("invalid value '' for --cluster: expected a cluster name")
  const secretFile = flags['secret-file']
  if (secretFile === undefined) throw new UsageError(`--cluster needs --secret-file <file> (${SECRET_HINT})`)
  if (flags['node-id'] === undefined && !options.nodeIdGiven) {
    throw new UsageError('--cluster needs --node-id <n>, a number of its own for each node')
  }
  const transport = (flags.transport ?? (options.runtime === 'node' ? 'hyperswarm' : 'tcp')) as ClusterTransport
  if (!CLUSTER_TRANSPORTS.includes(transport)) {
    throw new UsageError(`invalid value '${flags.transport}' for --transport: expected hyperswarm, tcp or both`)
  }
  const peerListen = flags['peer-listen'] === undefined ? undefined : listenHostPort('peer-listen', flags['peer-listen'])
  const seeds = flags.seeds === undefined ? undefined : hostPortList('seeds', flags.seeds)
  const dhtBootstrap = flags['dht-bootstrap'] === undefined ? undefined : hostPortList('dht-bootstrap', flags['dht-bootstrap']).map((a) => parseHostPort(a))
  if (transport === 'hyperswarm') {
    if (seeds !== undefined) throw new UsageError('--seeds needs --transport tcp or both (hyperswarm finds its peers by the cluster secret)')
    if (peerListen !== undefined) throw new UsageError('--peer-listen needs --transport tcp or both')
  }
  if (transport === 'tcp' && dhtBootstrap !== undefined) throw new UsageError('--dht-bootstrap needs --transport hyperswarm or both')

  const secret = await readSecret(secretFile)
  const cluster: ClusterOptions = {
    name,
    secret,
    transport,
    ...(peerListen === undefined ? {} : { peerListen }),
    ...(seeds === undefined ? {} : { seeds }),
    ...(dhtBootstrap === undefined ? {} : { dhtBootstrap }),
  }
  try {
    checkClusterOptions(cluster, options.runtime)
  } catch (err) {
    if (err instanceof ClusterConfigError) throw new CommandError(err.message)
    throw err
  }
  return cluster
}

async function readSecret(file: string): Promise<Uint8Array> {
  let bytes: Uint8Array
  try {
    bytes = new Uint8Array(await readFile(file))
  } catch (err) {
    const code = (err as { code?: string }).code
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message
    throw new CommandError(`cannot read secret file '${file}': ${why} (${SECRET_HINT.replace(/secret$/, file)})`)
  }
  if (bytes.byteLength === 0) throw new CommandError(`secret file '${file}' is empty; ${SECRET_HINT.replace(/secret$/, file)}`)
  if (bytes.byteLength < secretBytesMin) {
    throw new CommandError(`secret file '${file}' holds ${bytes.byteLength} bytes, too few (at least ${secretBytesMin}); ${SECRET_HINT.replace(/secret$/, file)}`)
  }
  return bytes
}
