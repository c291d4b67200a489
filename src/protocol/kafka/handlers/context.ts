/**
 * What every Kafka request handler is given: the broker's identity and settings, the metadata
 * service, the directory of this node's partition-replica actors, and the group coordinators.
 */
import type { Ref } from 'nact'
import { query } from 'nact'
import type { ReplicaDirectory } from '../../../../actors/broker-node/directory.ts'
import type { ReplicaMessage } from '../../../../actors/partition-replica/messages.ts'
import type { BrokerSettings } from '../../../broker/broker-config.ts'
import type { MetadataService } from '../../../cluster/metadata.ts'
import type { GroupCoordinator } from '../../../group/group-coordinator.ts'
import type { Clock } from '../../../runtime/clock.ts'
import type { Logger } from '../../../runtime/logger.ts'
import type { RequestHeader } from '../headers.ts'

/** How long a handler waits for a replica actor's answer (a crashed or stopped one never answers). */
export const REPLICA_QUERY_TIMEOUT_MS = 10_000
/** How long a handler waits for the replicas of a topic it just saw (or created) to be spawned. */
export const REPLICA_SPAWN_WAIT_MS = 5_000
/** The longest acks=all wait a produce may ask for. */
export const MAX_PRODUCE_TIMEOUT_MS = 120_000
/** The longest long poll a fetch may ask for. */
export const MAX_FETCH_WAIT_MS = 60_000

export interface BrokerContext {
  readonly nodeId: number
  readonly settings: BrokerSettings
  readonly metadata: MetadataService
  readonly directory: ReplicaDirectory
  /** The group coordinators of this broker (FindCoordinator, JoinGroup, OffsetCommit, ...). */
  readonly groups: GroupCoordinator
  readonly logger: Logger
  readonly clock: Clock
  /** The address clients are told to connect to. */
  advertised(): { host: string; port: number }
  /** A broker-wide unique id for fetch watches. */
  nextWatchId(): number
}

/** Per connection: keeps the produce requests of one connection dispatched in request order. */
export interface ConnectionContext {
  readonly id: number
  readonly remote: string
  /** Set while a produce request of this connection waits before dispatching (auto-create): later ones wait for it. */
  produceBarrier: Promise<void> | null
  /** Aborted when the connection closes: long polls of this connection stop waiting. */
  readonly closedSignal: AbortSignal
}

export interface HandlerInput<Req> {
  ctx: BrokerContext
  conn: ConnectionContext
  header: RequestHeader
  request: Req
}

/**
 * Asks a replica actor and waits at most `timeoutMs`; null when it does not answer (stopped,
 * crashed, or stuck), which callers turn into a retriable error.
 */
export async function ask<R>(ref: Ref<ReplicaMessage>, build: (replyTo: Ref<R>) => ReplicaMessage, timeoutMs: number): Promise<R | null> {
  try {
    return (await query(ref, build, Math.max(1, timeoutMs))) as R
  } catch {
    return null
  }
}
