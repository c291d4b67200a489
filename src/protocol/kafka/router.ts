/**
 * The request router: a frame in, an outcome out. It decodes the header (decodeRequestFrame
 * says what to do with one it cannot serve), decodes the body with the API's codec (a body
 * that does not decode closes the connection, as Kafka does), runs the API's handler and
 * encodes its response frame for a gathering write.
 */
import { handleAlterConfigs, handleDescribeConfigs } from './handlers/configs.ts'
import { handleCreatePartitions, handleCreateTopics, handleDeleteTopics } from './handlers/admin.ts'
import { handleApiVersions } from './handlers/api-versions.ts'
import type { BrokerContext, ConnectionContext, HandlerInput } from './handlers/context.ts'
import { handleFetch } from './handlers/fetch.ts'
import { handleFindCoordinator } from './handlers/find-coordinator.ts'
import { handleDeleteGroups, handleDescribeGroups, handleHeartbeat, handleJoinGroup, handleLeaveGroup, handleListGroups, handleSyncGroup } from './handlers/groups.ts'
import { handleDeleteRecords, handleListOffsets } from './handlers/list-offsets.ts'
import { handleMetadata } from './handlers/metadata.ts'
import { handleOffsetCommit, handleOffsetDelete, handleOffsetFetch } from './handlers/offsets.ts'
import { forVersion } from './handlers/versioned.ts'
import { CLOSE_CONNECTION, handleProduce } from './handlers/produce.ts'
import { ApiKey, type ApiMessages, CODECS } from './generated/index.ts'
import { decodeRequestFrame, encodeResponseFrame } from './headers.ts'
import { ProtocolDecodeError } from './primitives.ts'

/** What the connection does with a request: write these bytes, write nothing (acks=0), or close. */
export type Outcome = { kind: 'respond'; chunks: Uint8Array[] } | { kind: 'none' } | { kind: 'close'; reason: string }

type Key = keyof ApiMessages
type Handler<K extends Key> = (input: HandlerInput<ApiMessages[K]['request']>) => ApiMessages[K]['responseInput'] | null | typeof CLOSE_CONNECTION | Promise<ApiMessages[K]['responseInput'] | null | typeof CLOSE_CONNECTION>

const HANDLERS: { [K in Key]: Handler<K> } = {
  [ApiKey.Produce]: handleProduce,
  [ApiKey.Fetch]: handleFetch,
  [ApiKey.ListOffsets]: handleListOffsets,
  [ApiKey.Metadata]: handleMetadata,
  [ApiKey.OffsetCommit]: handleOffsetCommit,
  [ApiKey.OffsetFetch]: handleOffsetFetch,
  [ApiKey.FindCoordinator]: handleFindCoordinator,
  [ApiKey.JoinGroup]: handleJoinGroup,
  [ApiKey.Heartbeat]: handleHeartbeat,
  [ApiKey.LeaveGroup]: handleLeaveGroup,
  [ApiKey.SyncGroup]: handleSyncGroup,
  [ApiKey.DescribeGroups]: handleDescribeGroups,
  [ApiKey.ListGroups]: handleListGroups,
  [ApiKey.ApiVersions]: handleApiVersions,
  [ApiKey.CreateTopics]: handleCreateTopics,
  [ApiKey.DeleteTopics]: handleDeleteTopics,
  [ApiKey.DeleteRecords]: handleDeleteRecords,
  [ApiKey.DescribeConfigs]: handleDescribeConfigs,
  [ApiKey.AlterConfigs]: handleAlterConfigs,
  [ApiKey.CreatePartitions]: handleCreatePartitions,
  [ApiKey.DeleteGroups]: handleDeleteGroups,
  [ApiKey.OffsetDelete]: handleOffsetDelete,
}

export class Router {
  constructor(readonly ctx: BrokerContext) {}

  /** Handles one frame (the bytes after the size prefix). Never throws; never rejects. */
  handle(frame: Uint8Array, conn: ConnectionContext): Outcome | Promise<Outcome> {
    const d = decodeRequestFrame(frame)
    if (!d.ok) {
      if (d.action === 'respond') {
        this.ctx.logger.debug(`${conn.remote}: ${d.message}; answered with UNSUPPORTED_VERSION`)
        return { kind: 'respond', chunks: [d.response] }
      }
      this.ctx.logger.warn(`${conn.remote}: ${d.message}; closing the connection`)
      return { kind: 'close', reason: d.message }
    }
    const { header } = d
    const key = header.apiKey as Key
    let request: ApiMessages[Key]['request']
    try {
      request = CODECS[key].decodeRequest(header.apiVersion, d.body)
    } catch (err) {
      const message = err instanceof ProtocolDecodeError ? err.message : String(err)
      this.ctx.logger.warn(`${conn.remote}: ${d.api.name} v${header.apiVersion} request does not decode (${message}); closing the connection`)
      return { kind: 'close', reason: message }
    }
    const encode = (data: unknown): Outcome => {
      if (data === null) return { kind: 'none' }
      if (data === CLOSE_CONNECTION) return { kind: 'close', reason: 'acks=0 produce failed' }
      try {
        const shaped = forVersion(CODECS[key].responseSchema, header.apiVersion, data)
        return { kind: 'respond', chunks: encodeResponseFrame(key, header.apiVersion, header.correlationId, shaped as never).chunks() }
      } catch (err) {
        this.ctx.logger.error(`${conn.remote}: encoding the ${d.api.name} v${header.apiVersion} response failed: ${(err as Error).message}; closing the connection`)
        return { kind: 'close', reason: 'response encoding failed' }
      }
    }
    const fail = (err: unknown): Outcome => {
      this.ctx.logger.error(`${conn.remote}: ${d.api.name} v${header.apiVersion} handler failed: ${(err as Error)?.stack ?? String(err)}; closing the connection`)
      return { kind: 'close', reason: 'handler failed' }
    }
    try {
      const handler = HANDLERS[key] as Handler<Key>
      const out = handler({ ctx: this.ctx, conn, header, request })
      return out instanceof Promise ? out.then(encode, fail) : encode(out)
    } catch (err) {
      return fail(err)
    }
  }
}
