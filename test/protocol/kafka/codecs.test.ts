// Every generated codec, at every version it supports: round trips of sample data built from
// the message descriptions, agreement with a reference encoder, truncated / corrupted /
// random input, and the encoder's rules (codec-checks.ts).
import t from 'tap'
import { API_TABLE, CODECS } from '../../../src/protocol/kafka/generated/index.ts'
import { checkEncoderRules, checkRoundTrips, checkUnsupportedVersions, type MessageCodec } from './codec-checks.ts'

for (const api of API_TABLE) {
  const codec = CODECS[api.key]
  const messages: MessageCodec[] = [
    { schema: codec.requestSchema, encode: codec.encodeRequest, decode: codec.decodeRequest },
    { schema: codec.responseSchema, encode: codec.encodeResponse, decode: codec.decodeResponse },
  ]
  t.test(`${api.name} (key ${api.key}) v${api.minVersion}-${api.maxVersion}`, async (t) => {
    for (const m of messages) {
      t.equal(m.schema.apiKey, api.key, `${m.schema.name} has the API's key`)
      t.same(m.schema.versions, [api.minVersion, api.maxVersion], `${m.schema.name} is generated for the API's versions`)
      for (let v = api.minVersion; v <= api.maxVersion; v++) {
        t.same(checkRoundTrips(m, v, 8), [], `${m.schema.name} v${v}: round trips, reference bytes, truncations, corruptions`)
        t.same(checkEncoderRules(m, v), [], `${m.schema.name} v${v}: absent fields, nulls`)
      }
      t.same(checkUnsupportedVersions(m), [], `${m.schema.name}: unsupported versions refused`)
    }
  })
}

t.test('the API table', async (t) => {
  const keys = API_TABLE.map((a) => a.key)
  t.same(keys, [...keys].sort((a, b) => a - b), 'sorted by key')
  t.same(
    Object.fromEntries(API_TABLE.map((a) => [a.name, [a.minVersion, a.maxVersion]])),
    {
      Produce: [3, 8],
      Fetch: [4, 11],
      ListOffsets: [1, 5],
      Metadata: [0, 8],
      OffsetCommit: [2, 7],
      OffsetFetch: [1, 5],
      FindCoordinator: [0, 2],
      JoinGroup: [0, 5],
      Heartbeat: [0, 3],
      LeaveGroup: [0, 3],
      SyncGroup: [0, 3],
      DescribeGroups: [0, 4],
      ListGroups: [0, 3],
      ApiVersions: [0, 3],
      CreateTopics: [0, 4],
      DeleteTopics: [0, 3],
      DeleteRecords: [0, 1],
      DescribeConfigs: [0, 2],
      AlterConfigs: [0, 1],
      CreatePartitions: [0, 1],
      DeleteGroups: [0, 1],
      OffsetDelete: [0, 0],
    },
    'the versions the issue asks for',
  )
  for (const a of API_TABLE) {
    const n = a.maxVersion - a.minVersion + 1
    t.equal(a.requestHeaderVersions.length, n, `${a.name}: a request header version per version`)
    t.equal(a.responseHeaderVersions.length, n, `${a.name}: a response header version per version`)
    for (let v = a.minVersion; v <= a.maxVersion; v++) {
      const flexible = a.flexibleFrom !== null && v >= a.flexibleFrom
      t.equal(a.requestHeaderVersions[v - a.minVersion], flexible ? 2 : 1, `${a.name} v${v} request header`)
      t.equal(a.responseHeaderVersions[v - a.minVersion], flexible && a.name !== 'ApiVersions' ? 1 : 0, `${a.name} v${v} response header`)
    }
  }
  const av = API_TABLE.find((a) => a.name === 'ApiVersions')!
  t.equal(av.flexibleFrom, 3)
  t.same(av.responseHeaderVersions, [0, 0, 0, 0], 'ApiVersions responses always use header v0')
  t.same(av.requestHeaderVersions, [1, 1, 1, 2])
})
