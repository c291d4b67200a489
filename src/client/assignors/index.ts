/**
 * The assignors by name (`partition.assignment.strategy`): Kafka's names, and Java's class
 * names for them, so a config copied from a Java consumer works. An unknown name is an
 * UnknownAssignorError that lists the valid ones. `rebalanceProtocol` is the protocol a member
 * with these assignors uses (Java's rule: the most advanced one all of them support).
 */
import type { AssignorName, PartitionAssignor, RebalanceProtocol } from './assignor.ts'
import { CooperativeStickyAssignor } from './cooperative-sticky.ts'
import { RangeAssignor } from './range.ts'
import { RoundRobinAssignor } from './round-robin.ts'
import { StickyAssignor } from './sticky.ts'

export const ASSIGNOR_NAMES: readonly AssignorName[] = ['range', 'roundrobin', 'sticky', 'cooperative-sticky']

const assignors: { readonly [name in AssignorName]: PartitionAssignor } = {
  range: new RangeAssignor(),
  roundrobin: new RoundRobinAssignor(),
  sticky: new StickyAssignor(),
  'cooperative-sticky': new CooperativeStickyAssignor(),
}

const javaClassNames: ReadonlyMap<string, AssignorName> = new Map([
  ['org.apache.kafka.clients.consumer.RangeAssignor', 'range'],
  ['org.apache.kafka.clients.consumer.RoundRobinAssignor', 'roundrobin'],
  ['org.apache.kafka.clients.consumer.StickyAssignor', 'sticky'],
  ['org.apache.kafka.clients.consumer.CooperativeStickyAssignor', 'cooperative-sticky'],
])

export class UnknownAssignorError extends Error {
  override readonly name = 'UnknownAssignorError'
  constructor(readonly assignor: string) {
    super(`unknown partition assignor '${assignor}': valid ones are ${ASSIGNOR_NAMES.join(', ')}`)
  }
}

export function isAssignorName(name: string): name is AssignorName {
  return (ASSIGNOR_NAMES as readonly string[]).includes(name)
}

/** The assignor called `name` (Kafka's name or Java's class name). Assignors hold no state. */
export function assignorFor(name: string): PartitionAssignor {
  const canonical = isAssignorName(name) ? name : javaClassNames.get(name)
  if (canonical === undefined) throw new UnknownAssignorError(name)
  return assignors[canonical]
}

/** COOPERATIVE when every one of `list` supports it, else EAGER; throws for an empty list. */
export function rebalanceProtocol(list: readonly PartitionAssignor[]): RebalanceProtocol {
  if (list.length === 0) throw new RangeError('a consumer group member needs at least one partition assignor')
  return list.every((a) => a.supportedProtocols.includes('COOPERATIVE')) ? 'COOPERATIVE' : 'EAGER'
}
