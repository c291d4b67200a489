/**
 * The broker-node state machine: pure and synchronous. It decides which partition replicas
 * this node hosts from each metadata image (a partition whose replicas include this node),
 * and what to do when the image changes: spawn a replica for a new partition, update one
 * whose leader, epoch, ISR or topic configs changed, stop one that moved away, and stop and
 * delete the log of one whose topic was deleted (gone from the image, or recreated under a
 * new topic id). Logs on disk that no image mentions are left alone: only an observed
 * deletion removes data.
 *
 * Invariants (asserted): a hosted partition's topic id never changes under the same key;
 * nothing is hosted once stopped.
 */
import type { PartitionImage, TopicId } from '../../src/cluster/metadata.ts';
import type { BrokerNodeMessage, BrokerTimer } from './messages.ts';
export interface HostedPartition {
    readonly topic: string;
    readonly partition: number;
    readonly topicId: TopicId;
    readonly image: PartitionImage;
    readonly configs: Readonly<Record<string, string>>;
}
export interface BrokerNodeState {
    readonly nodeId: number;
    /** By `<topic>-<partition>`. */
    readonly hosted: ReadonlyMap<string, HostedPartition>;
    readonly stopped: boolean;
    /** The offset of the last image applied (images only move forward). */
    readonly imageOffset: number;
}
export type BrokerNodeEffect = {
    type: 'spawn-replica';
    hosted: HostedPartition;
} | {
    type: 'update-replica';
    hosted: HostedPartition;
    configsChanged: boolean;
} | {
    type: 'stop-replica';
    topic: string;
    partition: number;
} | {
    type: 'delete-log';
    topic: string;
    partition: number;
} | {
    type: 'log';
    level: 'info' | 'warn';
    message: string;
} | {
    type: 'run';
    timer: BrokerTimer;
} | {
    type: 'stopped';
    replyTo: Extract<BrokerNodeMessage, {
        type: 'stop';
    }>['replyTo'];
} | {
    type: 'synced';
    replyTo: Extract<BrokerNodeMessage, {
        type: 'sync';
    }>['replyTo'];
    hosted: number;
};
export interface StepResult {
    state: BrokerNodeState;
    effects: BrokerNodeEffect[];
}
export declare function partitionKey(topic: string, partition: number): string;
export declare function initialState(nodeId: number): BrokerNodeState;
export declare function step(state: BrokerNodeState, msg: BrokerNodeMessage, _now: number): StepResult;
