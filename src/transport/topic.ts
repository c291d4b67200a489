/**
 * The hyperswarm topic of a cluster: SHA-256 of a domain-separation prefix and the cluster
 * secret, 32 bytes. The topic is announced on the DHT, so anyone may see it: it must not give
 * the secret away (a hash does not, for a secret with enough entropy: the secret should be
 * random bytes, not a word someone could guess and check against the topic), and it must not be
 * usable as the secret (the peer protocol's challenge proves knowledge of the secret itself).
 * The prefix keeps this hash apart from any other use of the same secret.
 */
import { createHash } from 'node:crypto'

export const topicBytes = 32

const topicDomain = 'peerlog cluster topic v1\u0000'

export function clusterTopic(secret: Uint8Array | string): Uint8Array {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret
  if (bytes.length === 0) throw new Error('cluster secret is empty')
  const digest = createHash('sha256').update(topicDomain).update(bytes).digest()
  return new Uint8Array(digest)
}
