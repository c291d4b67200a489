/**
 * The classic group protocol's membership APIs — JoinGroup v0–5, SyncGroup v0–3, Heartbeat
 * v0–3, LeaveGroup v0–3 — and the group admin APIs — ListGroups v0–3, DescribeGroups v0–4,
 * DeleteGroups v0–1: wire versions to the group coordinator service's domain terms and back.
 *
 * What is the request's business is settled here, as Kafka's KafkaApis and request classes
 * do: JoinGroup v0 has no rebalance timeout (the session timeout stands in), v4+ requires a
 * known member id from dynamic members (KIP-394), LeaveGroup v0–2 name one member and fold its
 * error into the top-level code, an empty group id is INVALID_GROUP_ID for the membership APIs
 * (DescribeGroups and DeleteGroups accept it, as Kafka does). The rest (states, generations,
 * protocol types) is the coordinator's.
 */
import { ErrorCode } from '../error-codes.ts'
import type {
  DeleteGroupsRequest,
  DeleteGroupsResponseInput,
  DescribeGroupsRequest,
  DescribeGroupsResponseDescribedGroupInput,
  DescribeGroupsResponseInput,
  HeartbeatRequest,
  HeartbeatResponseInput,
  JoinGroupRequest,
  JoinGroupResponseInput,
  LeaveGroupRequest,
  LeaveGroupResponseInput,
  ListGroupsRequest,
  ListGroupsResponseInput,
  SyncGroupRequest,
  SyncGroupResponseInput,
} from '../generated/index.ts'
import type { ConnectionContext, HandlerInput } from './context.ts'

/** DescribeGroups' authorizedOperations when the client did not ask for them (Kafka's INT32_MIN). */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648
/**
 * Kafka's AclOperation codes a group supports: READ 3, DELETE 6, DESCRIBE 8. Without an
 * authorizer Kafka reports every supported operation as allowed, so this is the bitfield.
 */
export const GROUP_AUTHORIZED_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8)

const EMPTY = new Uint8Array(0)

/** Kafka's clientHost: the peer's address as Java's InetAddress prints it ("/127.0.0.1"). */
export function clientHostOf(conn: ConnectionContext): string {
  const colon = conn.remote.lastIndexOf(':')
  const address = colon < 0 ? conn.remote : conn.remote.slice(0, colon)
  return `/${address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address}`
}

export async function handleJoinGroup({ ctx, conn, header, request }: HandlerInput<JoinGroupRequest>): Promise<JoinGroupResponseInput> {
  if (request.groupId === '') {
    return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_GROUP_ID, generationId: -1, protocolName: '', leader: '', memberId: request.memberId, members: [] }
  }
  const r = await ctx.groups.joinGroup({
    groupId: request.groupId,
    memberId: request.memberId,
    groupInstanceId: request.groupInstanceId,
    clientId: header.clientId ?? '',
    clientHost: clientHostOf(conn),
    sessionTimeoutMs: request.sessionTimeoutMs,
    rebalanceTimeoutMs: header.apiVersion === 0 ? request.sessionTimeoutMs : request.rebalanceTimeoutMs,
    protocolType: request.protocolType,
    protocols: request.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
    // Static members (KIP-345) are known by their instance id, so only dynamic ones are sent back for an id.
    requireKnownMemberId: header.apiVersion >= 4 && request.groupInstanceId === null,
  })
  return {
    throttleTimeMs: 0,
    errorCode: r.errorCode,
    generationId: r.generationId,
    // Before v7 the protocol name is not nullable: Kafka writes '' for none.
    protocolName: r.protocolName ?? '',
    leader: r.leader,
    memberId: r.memberId,
    members: r.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata })),
  }
}

export async function handleSyncGroup({ ctx, request }: HandlerInput<SyncGroupRequest>): Promise<SyncGroupResponseInput> {
  if (request.groupId === '') return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_GROUP_ID, assignment: EMPTY }
  const r = await ctx.groups.syncGroup({
    groupId: request.groupId,
    generationId: request.generationId,
    memberId: request.memberId,
    groupInstanceId: request.groupInstanceId,
    // SyncGroup v5+ carries these; v0–3 do not, and then the coordinator does not check them.
    protocolType: null,
    protocolName: null,
    assignments: request.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
  })
  return { throttleTimeMs: 0, errorCode: r.errorCode, assignment: r.assignment }
}

export async function handleHeartbeat({ ctx, request }: HandlerInput<HeartbeatRequest>): Promise<HeartbeatResponseInput> {
  if (request.groupId === '') return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_GROUP_ID }
  const r = await ctx.groups.heartbeat({ groupId: request.groupId, generationId: request.generationId, memberId: request.memberId, groupInstanceId: request.groupInstanceId })
  return { throttleTimeMs: 0, errorCode: r.errorCode }
}

export async function handleLeaveGroup({ ctx, header, request }: HandlerInput<LeaveGroupRequest>): Promise<LeaveGroupResponseInput> {
  const batch = header.apiVersion >= 3
  if (request.groupId === '') return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_GROUP_ID, members: [] }
  const members = batch ? request.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId })) : [{ memberId: request.memberId, groupInstanceId: null }]
  const r = await ctx.groups.leaveGroup({ groupId: request.groupId, members })
  if (!batch) {
    // v0–2 have no per-member results: the member's error is the response's (Kafka's LeaveGroupResponse does the same).
    const errorCode = r.errorCode !== ErrorCode.NONE ? r.errorCode : (r.members.find((m) => m.errorCode !== ErrorCode.NONE)?.errorCode ?? ErrorCode.NONE)
    return { throttleTimeMs: 0, errorCode }
  }
  return { throttleTimeMs: 0, errorCode: r.errorCode, members: r.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: m.errorCode })) }
}

export async function handleListGroups({ ctx }: HandlerInput<ListGroupsRequest>): Promise<ListGroupsResponseInput> {
  // The states filter arrives with v4; every version here lists all groups.
  const r = await ctx.groups.listGroups([])
  return { throttleTimeMs: 0, errorCode: r.errorCode, groups: r.groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType })) }
}

export async function handleDescribeGroups({ ctx, header, request }: HandlerInput<DescribeGroupsRequest>): Promise<DescribeGroupsResponseInput> {
  const withOperations = header.apiVersion >= 3 && request.includeAuthorizedOperations
  const groups = await Promise.all(
    request.groups.map(async (groupId): Promise<DescribeGroupsResponseDescribedGroupInput> => {
      const r = await ctx.groups.describeGroup(groupId)
      if (r.errorCode !== ErrorCode.NONE) {
        // Kafka's DescribeGroupsResponse.groupError: no state, protocol or members.
        return { errorCode: r.errorCode, groupId, groupState: '', protocolType: '', protocolData: '', members: [], authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED }
      }
      return {
        errorCode: ErrorCode.NONE,
        groupId,
        groupState: r.state,
        protocolType: r.protocolType,
        protocolData: r.protocolData,
        members: r.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: m.metadata,
          memberAssignment: m.assignment,
        })),
        authorizedOperations: withOperations ? GROUP_AUTHORIZED_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED,
      }
    }),
  )
  return { throttleTimeMs: 0, groups }
}

export async function handleDeleteGroups({ ctx, request }: HandlerInput<DeleteGroupsRequest>): Promise<DeleteGroupsResponseInput> {
  // The results are keyed by group id (Kafka takes the request's ids as a set).
  const ids = [...new Set(request.groupsNames)]
  const results = await Promise.all(ids.map(async (groupId) => ({ groupId, errorCode: (await ctx.groups.deleteGroup(groupId)).errorCode })))
  return { throttleTimeMs: 0, results }
}
