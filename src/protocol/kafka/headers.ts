/**
 * Request and response headers, and the frames around them.
 *
 *   frame            => size INT32, then `size` bytes: header, then body
 *
 *   Request Header v0 => apiKey apiVersion correlationId
 *     apiKey        => INT16
 *     apiVersion    => INT16
 *     correlationId => INT32
 *   Request Header v1 => apiKey apiVersion correlationId clientId
 *     clientId      => NULLABLE_STRING          (classic even in v2: old brokers must read it)
 *   Request Header v2 => apiKey apiVersion correlationId clientId TAG_BUFFER
 *
 *   Response Header v0 => correlationId
 *     correlationId => INT32
 *   Response Header v1 => correlationId TAG_BUFFER
 *
 * A request uses header v2 when its API version is flexible, else v1 (v0 only for
 * ControlledShutdown v0); a response header v1 when flexible, else v0 — except ApiVersions,
 * whose response header is always v0, so that a client that sent a version the broker does
 * not know can read the answer (KIP-511). The versions per API and version are in
 * generated/index.ts (API_TABLE).
 *
 * What a broker does with a frame it cannot serve, as Kafka does:
 * - shorter than apiKey + apiVersion + correlationId, or a header that does not parse: close;
 * - an unknown (or unsupported) API key: close;
 * - an ApiVersions version outside the implemented range: answer, in ApiVersions v0 format
 *   with header v0, UNSUPPORTED_VERSION (35) and the ApiVersions range, so the client can
 *   retry with a version it shares (KIP-511);
 * - any other unsupported version: close.
 * `decodeRequestFrame` returns which, with what the listener needs to log or answer.
 */
import { ErrorCode } from './error-codes.ts'
import { encodeApiVersionsResponse } from './generated/api-versions.ts'
import { API_TABLE, apiInfo, ApiKey, CODECS, type ApiInfo, type ApiMessages } from './generated/index.ts'
import { ProtocolDecodeError, ProtocolEncodeError, Reader, Writer } from './primitives.ts'

export interface RequestHeader {
  apiKey: number
  apiVersion: number
  correlationId: number
  /** Null in header v0 (which has none) or when the client sent null. */
  clientId: string | null
}

export interface ResponseHeader {
  correlationId: number
}

export type RequestHeaderVersion = 0 | 1 | 2
export type ResponseHeaderVersion = 0 | 1

export function encodeRequestHeader(version: RequestHeaderVersion, header: RequestHeader, w: Writer): void {
  w.int16(header.apiKey).int16(header.apiVersion).int32(header.correlationId)
  if (version >= 1) w.nullableString(header.clientId)
  if (version >= 2) w.uvarint(0)
}

/** Reads a request header; unknown tagged fields of v2 are skipped. */
export function decodeRequestHeader(version: RequestHeaderVersion, r: Reader): RequestHeader {
  const apiKey = r.int16('apiKey')
  const apiVersion = r.int16('apiVersion')
  const correlationId = r.int32('correlationId')
  const clientId = version >= 1 ? r.nullableString('clientId') : null
  if (version >= 2) r.skipTaggedFields('request header')
  return { apiKey, apiVersion, correlationId, clientId }
}

export function encodeResponseHeader(version: ResponseHeaderVersion, header: ResponseHeader, w: Writer): void {
  w.int32(header.correlationId)
  if (version >= 1) w.uvarint(0)
}

export function decodeResponseHeader(version: ResponseHeaderVersion, r: Reader): ResponseHeader {
  const correlationId = r.int32('correlationId')
  if (version >= 1) r.skipTaggedFields('response header')
  return { correlationId }
}

/** The request header version of an implemented API version (throws ProtocolEncodeError for others). */
export function requestHeaderVersion(apiKey: number, apiVersion: number): RequestHeaderVersion {
  const api = supported(apiKey, apiVersion)
  return api.requestHeaderVersions[apiVersion - api.minVersion] as RequestHeaderVersion
}

/** The response header version of an implemented API version (throws ProtocolEncodeError for others). */
export function responseHeaderVersion(apiKey: number, apiVersion: number): ResponseHeaderVersion {
  const api = supported(apiKey, apiVersion)
  return api.responseHeaderVersions[apiVersion - api.minVersion] as ResponseHeaderVersion
}

function supported(apiKey: number, apiVersion: number): ApiInfo {
  const api = apiInfo(apiKey)
  if (api === undefined) throw new ProtocolEncodeError(`API key ${apiKey} is not supported`)
  if (apiVersion < api.minVersion || apiVersion > api.maxVersion) {
    throw new ProtocolEncodeError(`${api.name} version ${apiVersion} is not supported (${api.minVersion}-${api.maxVersion})`)
  }
  return api
}

/** A request frame that decodes: its header, and a reader over its body. */
export interface RequestFrame {
  ok: true
  api: ApiInfo
  header: RequestHeader
  headerVersion: RequestHeaderVersion
  /** Positioned at the body; decode it with `CODECS[header.apiKey].decodeRequest(header.apiVersion, body)`. */
  body: Reader
}

/** A request frame the broker cannot serve, and what to do about it. */
export type RequestFrameProblem =
  | {
      ok: false
      /** Shorter than apiKey + apiVersion + correlationId, or a header that does not parse. */
      kind: 'malformed-header'
      action: 'close'
      message: string
      /** Known when the frame held at least the first 8 bytes. */
      header?: { apiKey: number; apiVersion: number; correlationId: number }
    }
  | {
      ok: false
      /** An API key that is not supported (Kafka closes: it cannot know the response format). */
      kind: 'unknown-api-key'
      action: 'close'
      message: string
      header: { apiKey: number; apiVersion: number; correlationId: number }
    }
  | {
      ok: false
      /** A version outside the implemented range of an API other than ApiVersions. */
      kind: 'unsupported-version'
      action: 'close'
      message: string
      api: ApiInfo
      header: { apiKey: number; apiVersion: number; correlationId: number }
    }
  | {
      ok: false
      /** An ApiVersions version outside the implemented range: send `response` (KIP-511). */
      kind: 'unsupported-api-versions-version'
      action: 'respond'
      message: string
      header: { apiKey: number; apiVersion: number; correlationId: number; clientId: string | null }
      /** The whole answer frame, size prefix included: ApiVersions v0, header v0, error 35. */
      response: Uint8Array
    }

/**
 * Decodes the header of a request frame: `frame` holds the bytes after the 4-byte size.
 * Never throws for any bytes; see the file comment for the outcomes.
 */
export function decodeRequestFrame(frame: Uint8Array): RequestFrame | RequestFrameProblem {
  if (frame.length < 8) {
    return { ok: false, kind: 'malformed-header', action: 'close', message: `a request frame of ${frame.length} bytes is shorter than a request header (8)` }
  }
  const r = new Reader(frame)
  const apiKey = r.int16()
  const apiVersion = r.int16()
  const correlationId = r.int32()
  const fixed = { apiKey, apiVersion, correlationId }
  const api = apiInfo(apiKey)
  if (api === undefined) {
    return { ok: false, kind: 'unknown-api-key', action: 'close', message: `API key ${apiKey} is not supported`, header: fixed }
  }
  if (apiVersion < api.minVersion || apiVersion > api.maxVersion) {
    const message = `${api.name} version ${apiVersion} is not supported (${api.minVersion}-${api.maxVersion})`
    if (apiKey !== ApiKey.ApiVersions) return { ok: false, kind: 'unsupported-version', action: 'close', message, api, header: fixed }
    // The client id is only for the broker's logs: read it when it parses. Whatever follows
    // (the tagged fields of header v2, a body of a version we do not know) is not read.
    let clientId: string | null = null
    try {
      clientId = r.nullableString()
    } catch {
      // keep null
    }
    return {
      ok: false,
      kind: 'unsupported-api-versions-version',
      action: 'respond',
      message,
      header: { ...fixed, clientId },
      response: encodeUnsupportedApiVersionsResponse(correlationId),
    }
  }
  const headerVersion = api.requestHeaderVersions[apiVersion - api.minVersion] as RequestHeaderVersion
  try {
    const hr = new Reader(frame)
    const header = decodeRequestHeader(headerVersion, hr)
    // The header reader stopped where the body starts.
    return { ok: true, api, header, headerVersion, body: new Reader(frame, hr.offset) }
  } catch (e) {
    /* c8 ignore next */
    if (!(e instanceof ProtocolDecodeError)) throw e
    return { ok: false, kind: 'malformed-header', action: 'close', message: `request header v${headerVersion}: ${e.message}`, header: fixed }
  }
}

/**
 * The answer to an ApiVersions request of a version outside the implemented range, as a
 * whole frame (size prefix included): response header v0 and ApiVersions v0 holding
 * UNSUPPORTED_VERSION and the implemented ApiVersions range only (as Kafka's
 * ApiVersionsRequest.getErrorResponse does).
 */
export function encodeUnsupportedApiVersionsResponse(correlationId: number): Uint8Array {
  const api = apiInfo(ApiKey.ApiVersions)!
  const w = new Writer(32)
  const at = w.reserveInt32()
  encodeResponseHeader(0, { correlationId }, w)
  encodeApiVersionsResponse(
    0,
    { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: [{ apiKey: api.key, minVersion: api.minVersion, maxVersion: api.maxVersion }] },
    w,
  )
  w.patchInt32(at, w.length - at - 4)
  return w.finish()
}

/** The ApiVersions response body's `apiKeys`: every implemented API and its version range. */
export function supportedApiVersions(): { apiKey: number; minVersion: number; maxVersion: number }[] {
  return API_TABLE.map((a) => ({ apiKey: a.key, minVersion: a.minVersion, maxVersion: a.maxVersion }))
}

type Key = keyof ApiMessages

/**
 * Writes a whole response frame: size, header (the version's), body. Returns the writer, whose
 * `chunks()` can go to the socket as they are.
 */
export function encodeResponseFrame<K extends Key>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  data: ApiMessages[K]['responseInput'],
  w: Writer = new Writer(),
): Writer {
  const headerVersion = responseHeaderVersion(apiKey, apiVersion)
  const at = w.reserveInt32()
  encodeResponseHeader(headerVersion, { correlationId }, w)
  CODECS[apiKey].encodeResponse(apiVersion, data, w)
  w.patchInt32(at, w.length - at - 4)
  return w
}

/** Writes a whole request frame: size, header (the version's), body. */
export function encodeRequestFrame<K extends Key>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  clientId: string | null,
  data: ApiMessages[K]['requestInput'],
  w: Writer = new Writer(),
): Writer {
  const headerVersion = requestHeaderVersion(apiKey, apiVersion)
  const at = w.reserveInt32()
  encodeRequestHeader(headerVersion, { apiKey, apiVersion, correlationId, clientId }, w)
  CODECS[apiKey].encodeRequest(apiVersion, data, w)
  w.patchInt32(at, w.length - at - 4)
  return w
}

/**
 * Decodes a response frame (the bytes after the size) to a request of `apiKey` at `apiVersion`:
 * the response does not say which API it answers, the client knows from the correlation id.
 * Throws ProtocolDecodeError for bytes that do not hold it, or that hold more.
 */
export function decodeResponseFrame<K extends Key>(
  apiKey: K,
  apiVersion: number,
  frame: Uint8Array,
): { header: ResponseHeader; body: ApiMessages[K]['response'] } {
  let headerVersion: ResponseHeaderVersion
  try {
    headerVersion = responseHeaderVersion(apiKey, apiVersion)
  } catch (e) {
    throw new ProtocolDecodeError((e as Error).message)
  }
  const r = new Reader(frame)
  const header = decodeResponseHeader(headerVersion, r)
  const body = CODECS[apiKey].decodeResponse(apiVersion, r) as ApiMessages[K]['response']
  if (r.remaining !== 0) throw new ProtocolDecodeError(`${r.remaining} bytes after the response body`, r.offset)
  return { header, body }
}
