/**
 * What the broker-node actor (the supervision root of a broker) accepts: one discriminated union.
 */
import type { Ref } from 'nact'
import type { MetadataImage } from '../../src/cluster/metadata.ts'

/** The periodic jobs of the log manager, each on its own timer. */
export type BrokerTimer = 'retention' | 'flush' | 'compaction' | 'checkpoint'

export type BrokerNodeMessage =
  /** A new metadata image: spawn, update or stop replica actors to match it. */
  | { type: 'metadata'; image: MetadataImage }
  | { type: 'timer'; timer: BrokerTimer }
  /** Stops every replica actor; answered once they are stopped (the shell then closes the logs). */
  | { type: 'stop'; replyTo: Ref<{ type: 'stopped' }> }
  /** Answered once every message before it is handled (start-up waits for the first image with it). */
  | { type: 'sync'; replyTo: Ref<{ type: 'synced'; hosted: number }> }
