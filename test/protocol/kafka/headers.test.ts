import t from 'tap'
import { ErrorCode, ERRORS, errorInfo, errorName, isRetriable } from '../../../src/protocol/kafka/error-codes.ts'
import { API_TABLE, ApiKey, apiInfo, isSupported } from '../../../src/protocol/kafka/generated/index.ts'
import {
  decodeRequestFrame,
  decodeRequestHeader,
  decodeResponseFrame,
  decodeResponseHeader,
  encodeRequestFrame,
  encodeRequestHeader,
  encodeResponseFrame,
  encodeResponseHeader,
  encodeUnsupportedApiVersionsResponse,
  requestHeaderVersion,
  responseHeaderVersion,
  supportedApiVersions,
} from '../../../src/protocol/kafka/headers.ts'
import { ProtocolDecodeError, ProtocolEncodeError, Reader, Writer } from '../../../src/protocol/kafka/primitives.ts'

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'))
const ascii = (s: string) => Buffer.from(s).toString('hex')

t.test('request headers v0, v1, v2', async (t) => {
  const h = { apiKey: 3, apiVersion: 1, correlationId: 7, clientId: 'me' }
  const enc = (v: 0 | 1 | 2) => {
    const w = new Writer()
    encodeRequestHeader(v, h, w)
    return hex(w.finish())
  }
  t.equal(enc(0), '0003 0001 00000007'.replace(/ /g, ''), 'v0: no client id')
  t.equal(enc(1), `000300010000000700 02${ascii('me')}`.replace(/ /g, ''), 'v1: NULLABLE_STRING client id')
  t.equal(enc(2), `000300010000000700 02${ascii('me')} 00`.replace(/ /g, ''), 'v2: the same, then an empty tag buffer')
  t.same(decodeRequestHeader(0, new Reader(bytes(enc(0)))), { ...h, clientId: null })
  t.same(decodeRequestHeader(1, new Reader(bytes(enc(1)))), h)
  t.same(decodeRequestHeader(2, new Reader(bytes(enc(2)))), h)
  const w = new Writer()
  encodeRequestHeader(1, { ...h, clientId: null }, w)
  t.equal(hex(w.finish()), '0003000100000007ffff', 'a null client id')
  // v2 with an unknown tagged field: skipped.
  const r = new Reader(bytes(`0003 0001 00000007 0002${ascii('me')} 01 05 02 abcd ee`))
  t.same(decodeRequestHeader(2, r), h)
  t.equal(r.remaining, 1, 'the reader stops at the body')
})

t.test('response headers v0, v1', async (t) => {
  const w0 = new Writer()
  encodeResponseHeader(0, { correlationId: 9 }, w0)
  t.equal(hex(w0.finish()), '00000009')
  const w1 = new Writer()
  encodeResponseHeader(1, { correlationId: 9 }, w1)
  t.equal(hex(w1.finish()), '0000000900')
  t.same(decodeResponseHeader(0, new Reader(bytes('00000009'))), { correlationId: 9 })
  t.same(decodeResponseHeader(1, new Reader(bytes('0000000900'))), { correlationId: 9 })
  t.throws(() => decodeResponseHeader(1, new Reader(bytes('00000009'))), ProtocolDecodeError)
})

t.test('header versions by API and version', async (t) => {
  t.equal(requestHeaderVersion(ApiKey.ApiVersions, 3), 2)
  t.equal(requestHeaderVersion(ApiKey.ApiVersions, 2), 1)
  t.equal(responseHeaderVersion(ApiKey.ApiVersions, 3), 0, 'ApiVersions: always v0')
  t.equal(requestHeaderVersion(ApiKey.Metadata, 8), 1)
  t.equal(responseHeaderVersion(ApiKey.Fetch, 11), 0)
  t.throws(() => requestHeaderVersion(ApiKey.Metadata, 9), { name: 'ProtocolEncodeError', message: 'Metadata version 9 is not supported (0-8)' })
  t.throws(() => responseHeaderVersion(22, 0), { name: 'ProtocolEncodeError', message: 'API key 22 is not supported' })
  t.equal(apiInfo(ApiKey.Produce)?.name, 'Produce')
  t.equal(apiInfo(22), undefined)
  t.ok(isSupported(ApiKey.Produce, 3))
  t.notOk(isSupported(ApiKey.Produce, 2))
  t.notOk(isSupported(ApiKey.Produce, 9))
  t.notOk(isSupported(12345, 0))
  t.same(
    supportedApiVersions(),
    API_TABLE.map((a) => ({ apiKey: a.key, minVersion: a.minVersion, maxVersion: a.maxVersion })),
  )
})

t.test('decodeRequestFrame', async (t) => {
  t.test('a request it serves', async (t) => {
    const frame = encodeRequestFrame(ApiKey.Metadata, 1, 42, 'cli', { topics: [{ name: 't' }] }).finish()
    const f = decodeRequestFrame(frame.subarray(4))
    if (!f.ok) throw new Error(f.message)
    t.same(f.header, { apiKey: 3, apiVersion: 1, correlationId: 42, clientId: 'cli' })
    t.equal(f.headerVersion, 1)
    t.equal(f.api.name, 'Metadata')
    t.equal(f.body.offset, 4 + 2 + 3 + 4, 'the body reader starts after the header')
    t.equal(f.body.string(), '') // not the topic yet: first the array count
  })

  t.test('a flexible request: header v2', async (t) => {
    const frame = encodeRequestFrame(ApiKey.ApiVersions, 3, 1, 'c', { clientSoftwareName: 'n', clientSoftwareVersion: '1' }).finish()
    const f = decodeRequestFrame(frame.subarray(4))
    if (!f.ok) throw new Error(f.message)
    t.equal(f.headerVersion, 2)
    t.equal(f.body.remaining, 2 + 2 + 1)
  })

  t.test('too short: close', async (t) => {
    for (const n of [0, 1, 7]) {
      const f = decodeRequestFrame(new Uint8Array(n))
      t.match(f, { ok: false, kind: 'malformed-header', action: 'close', message: `a request frame of ${n} bytes is shorter than a request header (8)` })
      t.notOk('header' in f && f.header, 'nothing known')
    }
  })

  t.test('unknown API key: close', async (t) => {
    for (const key of [22, 67, 1000, -1]) {
      const frame = new Writer().int16(key).int16(0).int32(5).nullableString('x').finish()
      t.match(decodeRequestFrame(frame), {
        ok: false,
        kind: 'unknown-api-key',
        action: 'close',
        header: { apiKey: key, apiVersion: 0, correlationId: 5 },
        message: `API key ${key} is not supported`,
      })
    }
  })

  t.test('unsupported version: close', async (t) => {
    for (const [key, version] of [
      [ApiKey.Metadata, 9],
      [ApiKey.Produce, 2],
      [ApiKey.Fetch, 12],
      [ApiKey.Fetch, -1],
    ] as const) {
      const frame = new Writer().int16(key).int16(version).int32(5).nullableString('x').finish()
      const f = decodeRequestFrame(frame)
      t.match(f, { ok: false, kind: 'unsupported-version', action: 'close', header: { apiKey: key, apiVersion: version, correlationId: 5 } })
      t.match(f, { message: /version -?\d+ is not supported/ })
    }
  })

  t.test('unsupported ApiVersions version: answer in v0 with error 35 (KIP-511)', async (t) => {
    // What a newer Java client sends first: ApiVersions v4, header v2 (flexible).
    const v4 = new Writer().int16(18).int16(4).int32(77).nullableString('java-client').uvarint(0).compactString('apache-kafka-java').compactString('3.9.0').uvarint(0).finish()
    const f = decodeRequestFrame(v4)
    if (f.ok || f.kind !== 'unsupported-api-versions-version') throw new Error('expected the KIP-511 answer')
    t.equal(f.action, 'respond')
    t.same(f.header, { apiKey: 18, apiVersion: 4, correlationId: 77, clientId: 'java-client' })
    // size, correlation id (header v0: no tag buffer), error 35, [ {18, 0, 3} ] as a classic array.
    const expected = '00000010' + '0000004d' + '0023' + '00000001' + '0012' + '0000' + '0003'
    t.equal(hex(f.response), expected)
    t.equal(hex(encodeUnsupportedApiVersionsResponse(77)), expected)
    const back = decodeResponseFrame(ApiKey.ApiVersions, 0, f.response.subarray(4))
    t.equal(back.body.errorCode, ErrorCode.UNSUPPORTED_VERSION)
    t.same(back.body.apiKeys, [{ apiKey: 18, minVersion: 0, maxVersion: 3 }])
    // Whatever follows the fixed part is not needed: a truncated client id, a negative version.
    for (const frame of [
      new Writer().int16(18).int16(127).int32(78).int16(50).finish(),
      new Writer().int16(18).int16(-1).int32(78).finish(),
    ]) {
      const g = decodeRequestFrame(frame)
      t.match(g, { ok: false, kind: 'unsupported-api-versions-version', header: { correlationId: 78, clientId: null } })
    }
  })

  t.test('malformed header: close', async (t) => {
    // Metadata v1 with a client id whose length runs past the frame.
    const frame = new Writer().int16(3).int16(1).int32(6).int16(10).int8(65).finish()
    const f = decodeRequestFrame(frame)
    t.match(f, {
      ok: false,
      kind: 'malformed-header',
      action: 'close',
      header: { apiKey: 3, apiVersion: 1, correlationId: 6 },
      message: /^request header v1: clientId: string of length 10 needs 10 bytes but 1 remain/,
    })
    // ApiVersions v3 (header v2) whose tag buffer is cut.
    const g = decodeRequestFrame(new Writer().int16(18).int16(3).int32(6).nullableString(null).uvarint(1).finish())
    t.match(g, { ok: false, kind: 'malformed-header', message: /request header v2: request header: array of 1 elements/ })
  })
})

t.test('frames: encode and decode', async (t) => {
  const req = encodeRequestFrame(ApiKey.Produce, 3, 9, 'p', {
    transactionalId: null,
    acks: 1,
    timeoutMs: 100,
    topicData: [{ name: 't', partitionData: [{ index: 0, records: new Uint8Array([1, 2, 3]) }] }],
  })
  const frame = req.finish()
  t.equal(new Reader(frame).int32(), frame.length - 4, 'the size prefix')
  const resp = encodeResponseFrame(ApiKey.Metadata, 8, 9, { brokers: [], topics: [] }).finish()
  const back = decodeResponseFrame(ApiKey.Metadata, 8, resp.subarray(4))
  t.equal(back.header.correlationId, 9)
  t.same(back.body.brokers, [])
  t.equal(back.body.controllerId, -1, 'defaults for what was left out')
  // ApiVersions v3 is flexible but its response header is v0: 4 bytes, no tag buffer.
  const av = encodeResponseFrame(ApiKey.ApiVersions, 3, 1, { errorCode: 0, apiKeys: [] }).finish()
  t.equal(hex(av), '0000000c' + '00000001' + '0000' + '01' + '00000000' + '00')
  t.throws(() => decodeResponseFrame(ApiKey.ApiVersions, 3, bytes('00000001 0000 01 00000000 00 ff')), { name: 'ProtocolDecodeError', message: '1 bytes after the response body' })
  t.throws(() => decodeResponseFrame(ApiKey.Metadata, 99, resp.subarray(4)), { name: 'ProtocolDecodeError', message: 'Metadata version 99 is not supported (0-8)' })
  t.throws(() => encodeResponseFrame(ApiKey.Metadata, 99, 1, { brokers: [], topics: [] }), ProtocolEncodeError)
  // Frames built into a given writer (after what it holds).
  const w = new Writer()
  w.int8(0x55)
  encodeRequestFrame(ApiKey.ApiVersions, 0, 1, null, {}, w)
  t.equal(hex(w.finish()), '55' + '0000000a' + '0012000000000001ffff')
})

t.test('error codes', async (t) => {
  t.equal(ErrorCode.NONE, 0)
  t.equal(ErrorCode.UNKNOWN_SERVER_ERROR, -1)
  t.equal(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 3)
  t.equal(ErrorCode.UNSUPPORTED_VERSION, 35)
  t.equal(ErrorCode.NOT_LEADER_OR_FOLLOWER, 6)
  t.equal(errorName(3), 'UNKNOWN_TOPIC_OR_PARTITION')
  t.equal(errorName(99999), 'UNKNOWN_ERROR_CODE(99999)')
  t.ok(isRetriable(ErrorCode.NOT_LEADER_OR_FOLLOWER))
  t.notOk(isRetriable(ErrorCode.UNSUPPORTED_VERSION))
  t.notOk(isRetriable(99999))
  t.same(errorInfo(35), { code: 35, name: 'UNSUPPORTED_VERSION', retriable: false })
  t.equal(errorInfo(99999), undefined)
  t.ok(ERRORS.length > 100)
  const codes = ERRORS.map((e) => e.code)
  t.same(codes, [...codes].sort((a, b) => a - b), 'by ascending code')
  t.equal(new Set(codes).size, codes.length, 'unique codes')
  for (const e of ERRORS) t.equal((ErrorCode as Record<string, number>)[e.name], e.code, e.name)
})
