/**
 * The broker-node actor shell: the supervision root of one broker. It follows the metadata
 * image (MetadataService.onChange) and spawns, updates and stops partition-replica actors to
 * match it (state.ts decides), deletes the logs of deleted topics, runs the log manager's
 * periodic jobs on timers (retention, flush, compaction, checkpoints), restarts a crashed
 * replica from its on-disk log (at most RESTART_LIMIT_COUNT times per RESTART_WINDOW_MS, then
 * it stays stopped and its clients get NOT_LEADER_OR_FOLLOWER), and stops cleanly: replicas
 * first, then LogManager.close() (flush, checkpoints, clean-shutdown marker).
 */
import { type Ref } from 'nact';
import type { MetadataService } from '../../src/cluster/metadata.ts';
import type { LogManager } from '../../src/log/log-manager.ts';
import type { Clock } from '../../src/runtime/clock.ts';
import type { Logger } from '../../src/runtime/logger.ts';
import { ReplicaDirectory } from './directory.ts';
import type { BrokerNodeMessage, BrokerTimer } from './messages.ts';
import { type BrokerSettings } from './topic-configs.ts';
/** Restarts of one replica allowed within RESTART_WINDOW_MS before it is left stopped. */
export declare const RESTART_LIMIT_COUNT = 10;
export declare const RESTART_WINDOW_MS = 60000;
/** How often the log cleaner runs (Kafka's log.cleaner.backoff.ms). */
export declare const COMPACTION_INTERVAL_MS = 15000;
/** How often the offset checkpoints are written (Kafka's log.flush.offset.checkpoint.interval.ms). */
export declare const CHECKPOINT_INTERVAL_MS = 60000;
/** The flush check runs at least this often; each log flushes when its own flush.ms has passed. */
export declare const FLUSH_CHECK_MAX_INTERVAL_MS = 1000;
/** How long stop() waits for the actor to stop its replicas. */
export declare const STOP_TIMEOUT_MS = 10000;
/** How long start-up waits for the first metadata image to be applied. */
export declare const SYNC_TIMEOUT_MS = 30000;
export interface BrokerNodeOptions {
    nodeId: number;
    settings: BrokerSettings;
    logManager: LogManager;
    metadata: MetadataService;
    clock: Clock;
    logger: Logger;
    intervals?: Partial<Record<BrokerTimer, number>>;
}
export interface BrokerNode {
    readonly ref: Ref<BrokerNodeMessage>;
    readonly directory: ReplicaDirectory;
    /** Resolves once every metadata change seen so far has been applied (replicas spawned). */
    sync(): Promise<void>;
    /** Stops the replicas, the timers and the actor system, then closes the logs. */
    stop(): Promise<void>;
}
export declare function startBrokerNode(options: BrokerNodeOptions): Promise<BrokerNode>;
