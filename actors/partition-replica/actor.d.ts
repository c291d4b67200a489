/**
 * The partition-replica actor shell: it owns one partition's PartitionLog (taken from the
 * LogManager), runs the pure state machine (state.ts) and carries out its effects — the log
 * I/O, replies and wake-ups — in the same turn.
 *
 * Failure: an error the log raises with a Kafka error code (LogError, CorruptRecordError) is
 * an answer, not a crash. Anything else is a crash: the message being handled is answered
 * with NOT_LEADER_OR_FOLLOWER (retriable: the client refreshes metadata and retries), and the
 * fault is escalated to the supervisor (the broker-node actor), which resets this actor: its
 * state is rebuilt from the on-disk log, and the messages queued meanwhile are served after.
 */
import { type Ref } from 'nact';
import type { PartitionImage } from '../../src/cluster/metadata.ts';
import type { LogConfig } from '../../src/log/log-config.ts';
import type { LogManager } from '../../src/log/log-manager.ts';
import type { Clock } from '../../src/runtime/clock.ts';
import type { Logger } from '../../src/runtime/logger.ts';
import { type ReplicaMessage } from './messages.ts';
export interface ReplicaSpec {
    topic: string;
    partition: number;
    nodeId: number;
    image: PartitionImage;
    minInsyncReplicas: number;
    config: LogConfig;
}
export interface ReplicaDeps {
    logManager: LogManager;
    clock: Clock;
    logger: Logger;
}
/** An error carrying a Kafka error code (the log's and the record codec's errors). */
export declare function kafkaErrorCode(err: unknown): number | null;
/** Spawns the replica of `spec` under `parent`; `spec` is kept current by `update` messages, for restarts. */
export declare function spawnPartitionReplica(parent: Ref<unknown>, spec: ReplicaSpec, deps: ReplicaDeps): Ref<ReplicaMessage>;
/** The answer to a message whose handling crashed the actor: retriable, so the client retries. */
export declare function answerCrashed(msg: ReplicaMessage): void;
