/**
 * GroupCoordinator — what the Kafka request handlers see of the group coordinators on this
 * broker (the contract; actors/group-coordinator/service.ts implements it).
 *
 * Which broker coordinates a group follows Kafka: the leader of `__consumer_offsets`
 * partition partitionForGroup(groupId, offsets.topic.num.partitions). The service creates
 * `__consumer_offsets` on first need (cleanup.policy=compact, offsets.topic.* settings), loads
 * each partition this broker leads by replaying its records into one group-coordinator actor
 * per group, and routes each group request to that group's actor.
 *
 * Errors come back inside the replies, as Kafka's codes: NOT_COORDINATOR when this broker does
 * not lead the group's partition, COORDINATOR_LOAD_IN_PROGRESS while it is loading,
 * COORDINATOR_NOT_AVAILABLE while `__consumer_offsets` is being created; INVALID_GROUP_ID for ''
 * where Kafka refuses it. No method rejects except after close().
 */
import type {
  DescribeGroupResult,
  HeartbeatInput,
  JoinGroupInput,
  JoinGroupResult,
  LeaveGroupInput,
  LeaveGroupResult,
  ListedGroup,
  OffsetCommitInput,
  OffsetDeleteInput,
  OffsetDeleteResult,
  OffsetFetchInput,
  OffsetFetchResult,
  PartitionErrors,
  SyncGroupInput,
  SyncGroupResult,
} from '../../actors/group-coordinator/messages.ts'

export interface CoordinatorLocation {
  errorCode: number
  errorMessage: string | null
  nodeId: number
  host: string
  port: number
}

export interface GroupCoordinator {
  /** FindCoordinator for key type 0 (groups). Creates `__consumer_offsets` when it does not exist yet. */
  findCoordinator(groupId: string): Promise<CoordinatorLocation>
  joinGroup(input: JoinGroupInput): Promise<JoinGroupResult>
  syncGroup(input: SyncGroupInput): Promise<SyncGroupResult>
  heartbeat(input: HeartbeatInput): Promise<{ errorCode: number }>
  leaveGroup(input: LeaveGroupInput): Promise<LeaveGroupResult>
  commitOffsets(input: OffsetCommitInput): Promise<PartitionErrors>
  fetchOffsets(input: OffsetFetchInput): Promise<OffsetFetchResult>
  describeGroup(groupId: string): Promise<DescribeGroupResult>
  /** Every group this broker coordinates (loaded partitions only), filtered by state names when given (ListGroups v4 filter; [] = all). */
  listGroups(statesFilter: readonly string[]): Promise<{ errorCode: number; groups: ListedGroup[] }>
  deleteGroup(groupId: string): Promise<{ errorCode: number }>
  deleteOffsets(input: OffsetDeleteInput): Promise<OffsetDeleteResult>
  /** Answers what waits with NOT_COORDINATOR and stops the group actors. */
  close(): Promise<void>
}
