/**
 * Replica placement: which brokers hold the replicas of new partitions. Kafka's rack-unaware
 * rule (AdminUtils.assignReplicasToBrokersRackUnaware): over the unfenced brokers sorted by id,
 * partition p's first replica is broker (p + start) mod n and the others follow at a shift that
 * grows every n partitions, so leaders and followers spread evenly. `start` and `shift` are
 * drawn from the injected Random, as Kafka draws them, unless given.
 *
 * With one broker every partition is [nodeId]. Placement of a new partition also decides its
 * first leader (the first unfenced replica) and ISR (the unfenced replicas).
 */
import type { Random } from '../sim/random.ts'

export interface PlacementBroker {
  nodeId: number
  fenced: boolean
}

export class PlacementError extends Error {
  override name = 'PlacementError'
}

export interface PlacementOptions {
  /** The index of the first partition to place (CreatePartitions continues a topic). */
  firstPartition?: number
  /** Overrides the random draws (tests). */
  startIndex?: number
  replicaShift?: number
}

/** Replica lists for `numPartitions` partitions; throws PlacementError when too few brokers are unfenced. */
export function placeReplicas(
  brokers: Iterable<PlacementBroker>,
  numPartitions: number,
  replicationFactor: number,
  random: Random,
  options: PlacementOptions = {},
): number[][] {
  const live = [...brokers].filter((b) => !b.fenced).map((b) => b.nodeId).sort((a, b) => a - b)
  const n = live.length
  if (replicationFactor > n) {
    throw new PlacementError(
      `Unable to replicate the partition ${replicationFactor} time(s): The target replication factor of ${replicationFactor} cannot be reached because only ${n} broker(s) are registered.`,
    )
  }
  if (replicationFactor <= 0) throw new PlacementError(`Replication factor must be larger than 0.`)
  const startIndex = options.startIndex ?? random.int(n)
  let shift = options.replicaShift ?? random.int(n)
  const first = options.firstPartition ?? 0
  const out: number[][] = []
  for (let i = 0; i < numPartitions; i++) {
    const p = first + i
    if (p > 0 && p % n === 0) shift++
    const firstIndex = (p + startIndex) % n
    const replicas = [live[firstIndex]!]
    for (let j = 0; j < replicationFactor - 1; j++) replicas.push(live[(firstIndex + 1 + ((shift + j) % (n - 1))) % n]!)
    out.push(replicas)
  }
  return out
}

/** The first leader and ISR of a new partition: the unfenced replicas, the first of them leading (-1 when none). */
export function initialLeadership(replicas: readonly number[], isLive: (nodeId: number) => boolean): { leader: number; isr: number[] } {
  const isr = replicas.filter(isLive)
  return { leader: isr[0] ?? -1, isr }
}
