/**
 * ReplicaDirectory — where the request handlers find the replica actor of a partition. The
 * broker-node shell fills it as it spawns and stops replicas; a handler that saw a topic in
 * the metadata image before its replicas were spawned waits for them (with a bound).
 */
import type { Ref } from 'nact';
import type { ReplicaMessage } from '../partition-replica/messages.ts';
/** Handlers waiting for replicas to appear; past it a wait fails at once. */
export declare const MAX_DIRECTORY_WAITERS_COUNT = 10000;
export declare class ReplicaDirectory {
    private readonly refs;
    private readonly waiters;
    private waiting;
    get(topic: string, partition: number): Ref<ReplicaMessage> | undefined;
    get size(): number;
    all(): Ref<ReplicaMessage>[];
    set(topic: string, partition: number, ref: Ref<ReplicaMessage>): void;
    delete(topic: string, partition: number): void;
    /** The replica, waiting up to `timeoutMs` for it to be spawned; undefined when it is not by then. */
    waitFor(topic: string, partition: number, timeoutMs: number): Promise<Ref<ReplicaMessage> | undefined>;
    clear(): void;
}
