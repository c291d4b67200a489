/**
 * One link per pair of nodes. Two nodes can end up with two links between them (both dial at
 * once over TCP; hyperswarm connects both ways), and both must keep the same one without
 * talking about it. The rule, computed alike on both sides from what both know after the
 * handshake:
 *   1. keep the link dialled by the node with the lower node id;
 *   2. if both links were dialled by the same node (a redial before the old link died), keep
 *      the one with the smaller session id (auth.ts sessionId(), the same on both sides).
 * The other is closed with a `goodbye` of reason `duplicate-connection`.
 *
 * `LinkTable` applies the rule as authenticated links come in. Both sides may briefly use a
 * link that then loses (one side has seen only it so far); the application starts a link
 * (PeerConnection.start) only once the table kept it, and treats a `duplicate-connection`
 * close as "the other link carries on", not as the peer going away.
 */

/** What the rule needs of a link, from this node's point of view. */
export interface DedupeCandidate {
  /** True when this node dialled. */
  readonly initiator: boolean
  /** The same on both sides of the link. */
  readonly sessionId: string
}

export interface DedupeLink extends DedupeCandidate {
  readonly remoteNodeId: number
  close(detail: string, reason: 'duplicate-connection'): void
}

/** True when `a` is kept over `b`, two links between `localNodeId` and `remoteNodeId`. */
export function keeps(localNodeId: number, remoteNodeId: number, a: DedupeCandidate, b: DedupeCandidate): boolean {
  if (localNodeId === remoteNodeId) throw new Error(`a link from node ${localNodeId} to itself`)
  const lowerDialled = (c: DedupeCandidate): boolean => (c.initiator ? localNodeId : remoteNodeId) === Math.min(localNodeId, remoteNodeId)
  const la = lowerDialled(a)
  if (la !== lowerDialled(b)) return la
  if (a.sessionId === b.sessionId) throw new Error(`two links with the same session id ${a.sessionId}`)
  return a.sessionId < b.sessionId
}

/** The link kept per remote node. */
export class LinkTable<L extends DedupeLink> {
  private readonly links = new Map<number, L>()

  constructor(readonly localNodeId: number) {}

  get(remoteNodeId: number): L | undefined {
    return this.links.get(remoteNodeId)
  }

  get size(): number {
    return this.links.size
  }

  /** Takes an authenticated link: keeps it (closing the one it replaces) or closes it. True when kept. */
  offer(link: L): boolean {
    const remote = link.remoteNodeId
    const current = this.links.get(remote)
    if (current === undefined || current === link) {
      this.links.set(remote, link)
      return true
    }
    if (keeps(this.localNodeId, remote, link, current)) {
      this.links.set(remote, link)
      current.close(`another link to node ${remote} is kept (session ${link.sessionId.slice(0, 12)})`, 'duplicate-connection')
      return true
    }
    link.close(`another link to node ${remote} is kept (session ${current.sessionId.slice(0, 12)})`, 'duplicate-connection')
    return false
  }

  /** Forgets `link` if it is the one kept (call when it closes). */
  remove(link: L): void {
    if (this.links.get(link.remoteNodeId) === link) this.links.delete(link.remoteNodeId)
  }
}
