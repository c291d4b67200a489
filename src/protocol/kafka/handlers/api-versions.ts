/** ApiVersions: exactly what is implemented (API_TABLE). Out-of-range versions are answered in headers.ts (KIP-511). */
import { ErrorCode } from '../error-codes.ts'
import type { ApiVersionsRequest, ApiVersionsResponseInput } from '../generated/index.ts'
import { supportedApiVersions } from '../headers.ts'
import type { HandlerInput } from './context.ts'

const API_KEYS = supportedApiVersions()

export function handleApiVersions(_input: HandlerInput<ApiVersionsRequest>): ApiVersionsResponseInput {
  return { errorCode: ErrorCode.NONE, apiKeys: API_KEYS, throttleTimeMs: 0 }
}
