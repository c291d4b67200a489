import t from 'tap'
import { createServer } from 'node:net'
import { Cluster, negotiateVersions } from '../../src/client/cluster.ts'
import { adminConfig } from '../../src/client/config.ts'
import { Connection } from '../../src/client/connection.ts'
import { ErrorCode } from '../../src/protocol/kafka/error-codes.ts'
import { ApiKey } from '../../src/protocol/kafka/generated/index.ts'
import { FakeCluster } from './fixtures/fake-broker.ts'

const conn = (port: number, extra: Partial<Parameters<typeof Connection.connect>[0]> = {}) =>
  Connection.connect({ host: '127.0.0.1', port, clientId: 'test', requestTimeoutMs: 2000, connectTimeoutMs: 2000, maxInFlightRequestsCount: 5, ...extra })

t.test('ApiVersions v3 first, then the highest common version of each API', async (t) => {
  const fake = await FakeCluster.start({ versions: { [ApiKey.Metadata]: [0, 5] } })
  t.teardown(() => fake.stop())
  const c = await conn(fake.servers[0]!.port)
  const versions = await negotiateVersions(c)
  t.equal(fake.requests[0]!.api, ApiKey.ApiVersions)
  t.equal(fake.requests[0]!.version, 3)
  t.equal(fake.requests[0]!.clientId, 'test')
  t.equal(versions.get(ApiKey.Metadata), 5, 'min(ours 8, theirs 5)')
  t.equal(versions.get(ApiKey.Produce), 8)
  c.close()
})

t.test('KIP-511: an old broker answers v0 with its range; the client asks again', async (t) => {
  const fake = await FakeCluster.start({ versions: { [ApiKey.ApiVersions]: [0, 2] } })
  t.teardown(() => fake.stop())
  const c = await conn(fake.servers[0]!.port)
  const versions = await negotiateVersions(c)
  t.same(fake.requests.filter((r) => r.api === ApiKey.ApiVersions).map((r) => r.version), [3, 2])
  t.equal(versions.get(ApiKey.ApiVersions), 2)
  c.close()
})

t.test('KIP-511 without a range falls back to v0; an API without overlap is not offered', async (t) => {
  const fake = await FakeCluster.start({ versions: { [ApiKey.ApiVersions]: [0, 0], [ApiKey.Fetch]: [12, 17] } })
  t.teardown(() => fake.stop())
  const admin = new Cluster({ config: adminConfig({ 'bootstrap.servers': fake.bootstrap }).config })
  t.teardown(() => admin.close())
  const link = await admin.anyBroker()
  t.same(fake.requests.filter((r) => r.api === ApiKey.ApiVersions).map((r) => r.version), [3, 0])
  t.throws(() => admin.version(link, ApiKey.Fetch), { name: 'UNSUPPORTED_VERSION' })
})

t.test('metadata: brokers, controller, leaders; unknown topics remembered with their error', async (t) => {
  const fake = await FakeCluster.start({ brokers: 2, autoCreate: false })
  t.teardown(() => fake.stop())
  fake.createTopic('a', 3)
  const cl = new Cluster({ config: adminConfig({ 'bootstrap.servers': fake.bootstrap }).config })
  t.teardown(() => cl.close())
  cl.addTopics(['a', 'missing'])
  await Promise.all([cl.refreshMetadata(), cl.refreshMetadata()])
  t.equal(fake.count(ApiKey.Metadata) <= 2, true, 'concurrent refreshes share requests')
  t.equal(cl.brokers.size, 2)
  t.equal(cl.controllerId, 0)
  t.same([0, 1, 2].map((p) => cl.leaderFor('a', p)), [0, 1, 0])
  t.equal(cl.topicErrors.get('missing'), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  t.equal(cl.leaderFor('missing', 0), -1)
  const all = await cl.fetchMetadata(null)
  t.same(all.topics.map((x) => x.name), ['a'])
  await cl.maybeRefresh()
  // a request to broker 1 opens a second connection
  const { nodeId } = await cl.send(1, ApiKey.Metadata, () => ({ topics: [] }))
  t.equal(nodeId, 1)
  await t.rejects(cl.connectTo(7), { name: 'LEADER_NOT_AVAILABLE' })
})

t.test('bootstrap: unreachable servers are skipped; none reachable is NETWORK_EXCEPTION', async (t) => {
  const fake = await FakeCluster.start()
  t.teardown(() => fake.stop())
  const dead = createServer()
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()))
  const deadPort = (dead.address() as { port: number }).port
  await new Promise((r) => dead.close(r))
  const cl = new Cluster({ config: adminConfig({ 'bootstrap.servers': `127.0.0.1:${deadPort},${fake.bootstrap}` }).config })
  t.teardown(() => cl.close())
  await cl.fetchMetadata(null)
  t.pass('reached the second bootstrap server')
  const none = new Cluster({ config: adminConfig({ 'bootstrap.servers': `127.0.0.1:${deadPort}` }).config })
  await t.rejects(none.fetchMetadata(null), { name: 'NETWORK_EXCEPTION', retriable: true })
  none.close()
  await t.rejects(none.anyBroker(), { name: 'NETWORK_EXCEPTION' })
})

t.test('connection: request timeout closes it; in-flight and queued requests fail retriably', async (t) => {
  const fake = await FakeCluster.start()
  t.teardown(() => fake.stop())
  const c = await conn(fake.servers[0]!.port, { requestTimeoutMs: 200, maxInFlightRequestsCount: 1 })
  await negotiateVersions(c)
  fake.faults.push({ api: ApiKey.Metadata, action: { noResponse: true } })
  const first = c.request(ApiKey.Metadata, 1, { topics: [] })
  const second = c.request(ApiKey.Metadata, 1, { topics: [] })
  await t.rejects(first, { name: 'REQUEST_TIMED_OUT', retriable: true })
  await t.rejects(second, { name: 'NETWORK_EXCEPTION' })
  t.equal(c.closed, true)
  await t.rejects(c.request(ApiKey.Metadata, 1, { topics: [] }), { name: 'NETWORK_EXCEPTION' })
  let reason: Error | null = null
  c.onClose((e) => (reason = e))
  t.ok(reason, 'onClose after close is called at once')
})

t.test('connection: in-flight bound, queue bound, responses matched in order', async (t) => {
  const fake = await FakeCluster.start()
  t.teardown(() => fake.stop())
  const c = await conn(fake.servers[0]!.port, { maxInFlightRequestsCount: 2, maxQueuedRequestsCount: 3 })
  t.teardown(() => c.close())
  await negotiateVersions(c)
  fake.faults.push({ api: ApiKey.Metadata, times: 2, action: { delayMs: 50 } })
  const ps = Array.from({ length: 5 }, () => c.request(ApiKey.Metadata, 1, { topics: [] }))
  t.equal(c.inFlightCount, 2)
  await t.rejects(c.request(ApiKey.Metadata, 1, { topics: [] }), /more than 3 requests queued/)
  const rs = await Promise.all(ps)
  t.equal(rs.length, 5)
  // a queued request that times out is dropped without closing the connection
  fake.faults.push({ api: ApiKey.Metadata, times: 2, action: { delayMs: 150 } })
  const slow = [c.request(ApiKey.Metadata, 1, { topics: [] }), c.request(ApiKey.Metadata, 1, { topics: [] })]
  await t.rejects(c.request(ApiKey.Metadata, 1, { topics: [] }, 50), { name: 'REQUEST_TIMED_OUT' })
  await Promise.all(slow)
  t.equal(c.closed, false)
})

t.test('connection: a disconnect fails what is in flight with NETWORK_EXCEPTION', async (t) => {
  const fake = await FakeCluster.start()
  t.teardown(() => fake.stop())
  const c = await conn(fake.servers[0]!.port)
  await negotiateVersions(c)
  fake.faults.push({ api: ApiKey.Metadata, action: { disconnect: true } })
  await t.rejects(c.request(ApiKey.Metadata, 1, { topics: [] }), { name: 'NETWORK_EXCEPTION', retriable: true })
})

t.test('connection: a garbage response frame closes it', async (t) => {
  const server = createServer((s) => s.on('data', () => s.write(Buffer.from([0xff, 0xff, 0xff, 0xff]))))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  t.teardown(() => new Promise((r) => server.close(r)))
  const c = await conn((server.address() as { port: number }).port)
  await t.rejects(c.request(ApiKey.Metadata, 1, { topics: [] }), { name: 'CORRUPT_MESSAGE' })
  const wrongId = createServer((s) => s.on('data', () => s.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 99]))))
  await new Promise<void>((r) => wrongId.listen(0, '127.0.0.1', () => r()))
  t.teardown(() => new Promise((r) => wrongId.close(r)))
  const c2 = await conn((wrongId.address() as { port: number }).port)
  await t.rejects(c2.request(ApiKey.Metadata, 1, { topics: [] }), /correlation id 99/)
  const short = createServer((s) => s.on('data', () => s.write(Buffer.from([0, 0, 0, 5, 0, 0, 0, 0, 1]))))
  await new Promise<void>((r) => short.listen(0, '127.0.0.1', () => r()))
  t.teardown(() => new Promise((r) => short.close(r)))
  const c3 = await conn((short.address() as { port: number }).port)
  await t.rejects(c3.request(ApiKey.Metadata, 1, { topics: [] }), /cannot decode the Metadata v1 response/)
  c3.close()
})
