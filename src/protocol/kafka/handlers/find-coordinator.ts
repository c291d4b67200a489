/**
 * FindCoordinator v0–2: which broker coordinates a group (key type 0; v0 has no key type). The
 * group coordinator service answers: the leader of the group's `__consumer_offsets` partition,
 * creating that topic on first need (COORDINATOR_NOT_AVAILABLE meanwhile).
 *
 * Transactional ids (key type 1) get COORDINATOR_NOT_AVAILABLE until transactions exist; any
 * other key type is INVALID_REQUEST. An empty group id is not refused: Kafka hashes '' like any
 * other id (only the group APIs themselves refuse it). On an error the node is Kafka's "no
 * node": id -1, host '', port -1.
 */
import { ErrorCode } from '../error-codes.ts'
import type { FindCoordinatorRequest, FindCoordinatorResponseInput } from '../generated/index.ts'
import type { HandlerInput } from './context.ts'

/** Kafka's CoordinatorType ids. */
export const CoordinatorKeyType = { GROUP: 0, TRANSACTION: 1 } as const

function noNode(errorCode: number, errorMessage: string | null): FindCoordinatorResponseInput {
  return { throttleTimeMs: 0, errorCode, errorMessage, nodeId: -1, host: '', port: -1 }
}

export async function handleFindCoordinator({ ctx, request }: HandlerInput<FindCoordinatorRequest>): Promise<FindCoordinatorResponseInput> {
  switch (request.keyType) {
    case CoordinatorKeyType.GROUP: {
      const at = await ctx.groups.findCoordinator(request.key)
      if (at.errorCode !== ErrorCode.NONE) return noNode(at.errorCode, at.errorMessage)
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: at.errorMessage, nodeId: at.nodeId, host: at.host, port: at.port }
    }
    case CoordinatorKeyType.TRANSACTION:
      return noNode(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'Transactions are not supported by this broker yet: there is no transaction coordinator.')
    default:
      return noNode(ErrorCode.INVALID_REQUEST, `Unknown coordinator type received: ${request.keyType}`)
  }
}
