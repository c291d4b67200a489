/**
 * `peerlog cluster status --bootstrap-server H:P [--json]`: the membership table as that
 * broker sees it: node id, status, transport (of its link to the node), address, runtime, Kafka
 * listener, last heard.
 *
 * The table comes over the broker's Kafka port by peerlog's one private request
 * (src/protocol/kafka/cluster-status.ts: a key ApiVersions does not advertise, so Kafka clients
 * never see it). `--json` prints a JSON array, one object per node by node id:
 *   { nodeId, self, status, transport, address, runtime, kafkaListener, lastHeardMs, listens }
 * where `transport`/`address` are the link's (for the node answering: what it listens on), null
 * when there is none, and `lastHeardMs` is how long ago it was last heard of (0 for itself).
 */
import type { MemberView } from '../cluster/membership.ts'
import { type ClusterStatus, ClusterStatusError, fetchClusterStatus } from '../protocol/kafka/cluster-status.ts'
import { UsageError } from './args.ts'
import { hostPort, parseBootstrap, probe } from './bootstrap.ts'
import { HANDSHAKE_TIMEOUT_MS } from './client-common.ts'
import { command, CommandError, EXIT_OK } from './command.ts'

export interface StatusRow {
  nodeId: number
  self: boolean
  status: string
  transport: string | null
  address: string | null
  runtime: string | null
  kafkaListener: string | null
  lastHeardMs: number
  listens: { transport: string; address: string }[]
}

export function statusRows(status: ClusterStatus): StatusRow[] {
  return status.members.map((m: MemberView) => {
    let transport: string | null
    let address: string | null
    if (m.self) {
      transport = m.listens.length === 0 ? null : [...new Set(m.listens.map((l) => l.transport))].join('+')
      address = m.listens.length === 0 ? null : m.listens.map((l) => l.address).join(',')
    } else if (m.link !== null) {
      transport = m.link.transport
      // What it advertises on that transport, not the port an inbound connection came from.
      address = m.listens.find((l) => l.transport === m.link!.transport)?.address ?? m.link.remote
    } else {
      transport = null
      address = m.listens[0]?.address ?? null
    }
    return {
      nodeId: m.nodeId,
      self: m.self,
      status: m.status,
      transport,
      address,
      runtime: m.runtime,
      kafkaListener: m.kafkaListener,
      lastHeardMs: m.lastHeardAgoMs,
      listens: m.listens.map((l) => ({ transport: l.transport, address: l.address })),
    }
  })
}

function ago(ms: number): string {
  return ms < 100_000 ? `${(ms / 1000).toFixed(1)}s ago` : `${Math.round(ms / 1000)}s ago`
}

/** Hyperswarm addresses are 64 hex digits: the table shows the first 12. */
function shortAddress(address: string): string {
  return address
    .split(',')
    .map((a) => (/^[0-9a-f]{64}$/.test(a) ? `${a.slice(0, 12)}...` : a))
    .join(',')
}

export function formatStatusTable(status: ClusterStatus): string {
  const rows = statusRows(status)
  const header = ['NODE', 'STATUS', 'TRANSPORT', 'ADDRESS', 'RUNTIME', 'KAFKA', 'LAST HEARD']
  const cells = rows.map((r) => [
    String(r.nodeId),
    r.status,
    r.transport ?? '-',
    r.address === null ? '-' : shortAddress(r.address),
    r.runtime ?? '-',
    r.kafkaListener ?? '-',
    r.self ? '(this node)' : ago(r.lastHeardMs),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: string[]): string => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  ')
  const title = status.cluster === null
    ? `node ${status.nodeId} runs alone (started without --cluster)`
    : `cluster '${status.cluster}' as node ${status.nodeId} sees it`
  return [title, line(header), ...cells.map(line)].join('\n') + '\n'
}

export const clusterCommand = command({
  name: 'cluster',
  args: 'status',
  summary: 'Show the cluster membership as a broker sees it',
  flags: {
    help: { type: 'boolean', short: 'h', description: 'Show this help' },
    'bootstrap-server': { type: 'string', valueName: '<host:port>', description: 'The broker to ask (its Kafka listener)' },
    json: { type: 'boolean', description: 'Print a JSON array of objects (nodeId, status, transport, address, runtime, ...)' },
  },
  maxPositionals: 1,
  help: [
    'Examples:',
    '  peerlog cluster status --bootstrap-server 127.0.0.1:9092',
    "  peerlog cluster status --bootstrap-server 127.0.0.1:9092 --json | jq '.[].nodeId'",
  ],
  async run({ flags, positionals, io }) {
    const sub = positionals[0]
    if (sub !== 'status') {
      throw new UsageError(sub === undefined ? "missing subcommand: 'peerlog cluster status'" : `unknown subcommand '${sub}': expected 'status'`)
    }
    const servers = parseBootstrap(flags['bootstrap-server'])
    await probe(servers)
    let status: ClusterStatus | undefined
    let failure = ''
    for (const s of servers) {
      try {
        status = await fetchClusterStatus(s.host, s.port, HANDSHAKE_TIMEOUT_MS)
        break
      } catch (err) {
        if (!(err instanceof ClusterStatusError)) throw err
        failure ||= `${hostPort(s)}: ${err.message}`
      }
    }
    if (status === undefined) throw new CommandError(`cannot get the cluster status from ${failure}`)
    io.stdout.write(flags.json ? `${JSON.stringify(statusRows(status))}\n` : formatStatusTable(status))
    return EXIT_OK
  },
})
