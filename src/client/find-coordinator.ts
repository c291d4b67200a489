/**
 * FindCoordinator: which broker coordinates a group (keyType 0) or a transactional id
 * (keyType 1), and a link to it. Asked of any broker; COORDINATOR_NOT_AVAILABLE,
 * COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR and lost connections are retried with the
 * retry backoff until `deadlineMs` (then REQUEST_TIMED_OUT naming the key); other errors
 * (GROUP_AUTHORIZATION_FAILED, INVALID_REQUEST ...) reject at once.
 *
 * The link is the coordinator's own connection (`coordinatorLinkId`, as Kafka's clients), so
 * send on it directly with `coordinatorRequest` rather than through `cluster.send`; once it
 * closes, find the coordinator again.
 */
import { ErrorCode } from '../protocol/kafka/error-codes.ts'
import { ApiKey, type ApiMessages } from '../protocol/kafka/generated/index.ts'
import { coordinatorLinkId, type BrokerLink, type Cluster } from './cluster.ts'
import { retryBackoffMs } from './config.ts'
import type { ApiKeyOf } from './connection.ts'
import { KafkaError, responseError, timeoutError } from './errors.ts'

export const CoordinatorKeyType = { GROUP: 0, TRANSACTION: 1 } as const

/** The errors after which the coordinator is looked up again. */
export const COORDINATOR_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.NOT_COORDINATOR,
])

export interface CoordinatorLink extends BrokerLink {
  /** The coordinator's broker node id (`nodeId` is the id of its own link). */
  coordinatorId: number
}

export async function findCoordinator(
  cluster: Cluster,
  key: string,
  keyType = 0,
  deadlineMs: number = Date.now() + cluster.config['request.timeout.ms'],
): Promise<CoordinatorLink> {
  const what = keyType === CoordinatorKeyType.TRANSACTION ? `transactional id '${key}'` : `group '${key}'`
  let lastError: KafkaError | null = null
  for (let attempt = 1; ; attempt++) {
    const left = deadlineMs - Date.now()
    if (left <= 0) throw timeoutError(`the coordinator of ${what} was not found in time${lastError ? ` (last error: ${lastError.message})` : ''}`)
    try {
      const { response, version } = await cluster.send('any', ApiKey.FindCoordinator, (v) => (v === 0 ? { key } : { key, keyType }), Math.min(left, cluster.config['request.timeout.ms']))
      if (version === 0 && keyType !== 0) throw new KafkaError(ErrorCode.UNSUPPORTED_VERSION, `the broker cannot find the coordinator of a ${what} (FindCoordinator v0)`)
      const error = responseError(response.errorCode, `FindCoordinator of ${what}`, response.errorMessage)
      if (error !== null) throw error
      const link = await cluster.connectTo(coordinatorLinkId(response.nodeId), { host: response.host, port: response.port })
      return { ...link, coordinatorId: response.nodeId }
    } catch (e) {
      if (!(e instanceof KafkaError) || !(e.retriable || COORDINATOR_ERRORS.has(e.code))) throw e
      lastError = e
    }
    const wait = Math.min(retryBackoffMs(cluster.config, attempt), Math.max(0, deadlineMs - Date.now()))
    await new Promise((r) => setTimeout(r, wait))
  }
}

/** One request on a coordinator's link, at the version negotiated on it. */
export function coordinatorRequest<K extends ApiKeyOf>(
  cluster: Cluster,
  link: BrokerLink,
  apiKey: K,
  build: (version: number) => ApiMessages[K]['requestInput'],
  timeoutMs?: number,
): Promise<{ response: ApiMessages[K]['response']; version: number }> {
  const version = cluster.version(link, apiKey)
  return link.connection.request(apiKey, version, build(version), timeoutMs).then((response) => ({ response, version }))
}
