/**
 * Which partition a record goes to, as Kafka's producer decides:
 * 1. the record's own partition when it names one;
 * 2. else, for a key (and `partitioner.ignore.keys` false): `toPositive(murmur2(keyBytes)) %
 *    numPartitions`, over all partitions, available or not (Kafka's BuiltInPartitioner.partitionForKey);
 * 3. else sticky partitioning (KIP-480): every keyless record of a topic goes to one partition,
 *    chosen at random among those with a leader, until a batch for it is completed; then
 *    `onNewBatch` moves the topic to another partition, so keyless records fill whole batches
 *    instead of many small ones.
 */
import { murmur2, toPositive } from './murmur2.ts'

export interface Random {
  /** Uniform in [0, 1). */
  next(): number
}

export const mathRandom: Random = { next: () => Math.random() }

/** Kafka's partition for a key: `toPositive(murmur2(key)) % numPartitions`. */
export function partitionForKey(key: Uint8Array, numPartitions: number): number {
  return toPositive(murmur2(key)) % numPartitions
}

/** KIP-480's sticky partition per topic, for records without a key or partition. */
export class StickyPartitioner {
  private readonly sticky = new Map<string, number>()
  constructor(private readonly random: Random = mathRandom) {}

  /** The topic's sticky partition, choosing one when it has none yet. */
  partition(topic: string, numPartitions: number, available: readonly number[]): number {
    const current = this.sticky.get(topic)
    if (current !== undefined && current < numPartitions) return current
    return this.choose(topic, numPartitions, available, -1)
  }

  /**
   * A batch was completed (or a new one is needed) for `previous`: move the topic to another
   * partition, unless it already moved away from `previous`.
   */
  onNewBatch(topic: string, numPartitions: number, available: readonly number[], previous: number): void {
    const current = this.sticky.get(topic)
    if (current === undefined || current === previous) this.choose(topic, numPartitions, available, previous)
  }

  private choose(topic: string, numPartitions: number, available: readonly number[], avoid: number): number {
    let next: number
    const candidates = available.length > 0 ? available : Array.from({ length: numPartitions }, (_, i) => i)
    if (candidates.length === 1) {
      next = candidates[0]!
    } else {
      const others = candidates.filter((p) => p !== avoid)
      next = others[Math.floor(this.random.next() * others.length)]!
    }
    this.sticky.set(topic, next)
    return next
  }
}
