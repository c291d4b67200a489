/**
 * The partition-replica state machine: pure and synchronous. `step(state, msg, now)` returns
 * the next state and the effects the shell (actor.ts) carries out — log I/O, replies, wake-ups.
 * Log I/O results come back as messages (`appended`, `append-failed`, `log-start-moved`,
 * `log-offsets`) in the same turn.
 *
 * The state already carries what replication needs (leader epoch, ISR, the other replicas'
 * log end offsets, acks=all waiting on the high watermark); with one node the ISR is this
 * node alone, so the high watermark is the log end offset after every append.
 *
 * Invariants (asserted after every step): logStartOffset ≤ highWatermark ≤ logEndOffset;
 * waiters ≤ MAX_FETCH_WAITERS_COUNT; pending acks ≤ MAX_PENDING_ACKS_COUNT; the leader epoch
 * never goes down.
 */
import type { Ref } from 'nact';
import type { PartitionImage } from '../../src/cluster/metadata.ts';
import { type Acks, type DeleteRecordsReply, type ListOffsetReply, type ProduceReply, type ReadReply, type ReplicaMessage, type WakeReply } from './messages.ts';
/** Long-poll fetches waiting on one partition; past it a watch is woken at once (the fetch answers with what it has). */
export declare const MAX_FETCH_WAITERS_COUNT = 1024;
/** acks=all produces waiting for the in-sync replicas; past it a produce is refused (retriable). */
export declare const MAX_PENDING_ACKS_COUNT = 10000;
export interface Waiter {
    readonly id: number;
    readonly fetchOffset: number;
    readonly deadline: number;
    readonly replyTo: Ref<WakeReply>;
}
export interface PendingAck {
    /** The produce is answered once the high watermark passes this. */
    readonly lastOffset: number;
    readonly deadline: number;
    readonly reply: ProduceReply;
    readonly replyTo: Ref<ProduceReply>;
}
export interface ReplicaState {
    readonly topic: string;
    readonly partition: number;
    readonly nodeId: number;
    readonly leader: number;
    readonly leaderEpoch: number;
    readonly replicas: readonly number[];
    readonly isr: readonly number[];
    readonly minInsyncReplicas: number;
    readonly logStartOffset: number;
    readonly highWatermark: number;
    readonly logEndOffset: number;
    /** Log end offsets of the other replicas, as their fetches report them (empty on one node). */
    readonly replicaEndOffsets: ReadonlyMap<number, number>;
    readonly waiters: readonly Waiter[];
    readonly pendingAcks: readonly PendingAck[];
}
export type ReplicaEffect = {
    type: 'reply';
    to: Ref<unknown>;
    value: unknown;
} | {
    type: 'append';
    records: Uint8Array;
    crcVerified: boolean;
    leaderEpoch: number;
    acks: Acks;
    deadline: number;
    replyTo: Ref<ProduceReply>;
} | {
    type: 'read';
    fetchOffset: number;
    maxBytes: number;
    maxOffset: number;
    minOneBatch: boolean;
    replyTo: Ref<ReadReply>;
}
/** Timestamp ≥ 0: the first offset at or after it; MAX_TIMESTAMP (-3): the largest timestamp. Offsets ≥ maxOffset do not count. */
 | {
    type: 'lookup-offset';
    timestamp: number;
    maxOffset: number;
    leaderEpoch: number;
    replyTo: Ref<ListOffsetReply>;
} | {
    type: 'delete-records';
    offset: number;
    replyTo: Ref<DeleteRecordsReply>;
} | {
    type: 'set-high-watermark';
    offset: number;
} | {
    type: 'wake';
    to: Ref<WakeReply>;
    reason: WakeReply['reason'];
};
export interface StepResult {
    state: ReplicaState;
    effects: ReplicaEffect[];
}
export interface ReplicaInit {
    topic: string;
    partition: number;
    nodeId: number;
    image: PartitionImage;
    minInsyncReplicas: number;
    logStartOffset: number;
    highWatermark: number;
    logEndOffset: number;
}
export declare function initialState(init: ReplicaInit): ReplicaState;
export declare function reply<T>(to: Ref<T>, value: T): ReplicaEffect;
export declare function isLeader(state: ReplicaState): boolean;
/** The high watermark: the smallest log end offset among the in-sync replicas. */
export declare function computeHighWatermark(state: ReplicaState): number;
export declare function step(state0: ReplicaState, msg: ReplicaMessage, now: number): StepResult;
export declare function checkInvariants(state: ReplicaState): void;
