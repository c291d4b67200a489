// findCoordinator against a scripted one-broker server: retries of the coordinator errors,
// fatal errors at once, the deadline, and the coordinator's own connection.
import t, { type Test } from 'tap'
import { createServer, type Socket } from 'node:net'
import { Cluster, coordinatorLinkId } from '../../src/client/cluster.ts'
import { consumerConfig } from '../../src/client/config.ts'
import { findCoordinator } from '../../src/client/find-coordinator.ts'
import { ErrorCode } from '../../src/protocol/kafka/error-codes.ts'
import { decodeRequestFrame, encodeResponseFrame } from '../../src/protocol/kafka/headers.ts'
import { API_TABLE, ApiKey, CODECS, type ApiMessages } from '../../src/protocol/kafka/generated/index.ts'

/** A server answering ApiVersions, and FindCoordinator with the next scripted error (NONE once they run out). */
async function server(t: Test, script: number[]) {
  const seen: { key: string; keyType: number }[] = []
  let connections = 0
  const sockets = new Set<Socket>()
  const srv = createServer((socket) => {
    connections++
    sockets.add(socket)
    let buf = Buffer.alloc(0)
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const frame = new Uint8Array(buf.subarray(4, 4 + buf.readInt32BE(0)))
        buf = buf.subarray(4 + frame.length)
        const r = decodeRequestFrame(frame)
        if (!r.ok) return socket.destroy()
        const { apiKey, apiVersion, correlationId } = r.header
        let response: unknown
        if (apiKey === ApiKey.ApiVersions) {
          response = { errorCode: 0, apiKeys: API_TABLE.map((a) => ({ apiKey: a.key, minVersion: a.minVersion, maxVersion: a.maxVersion })) }
        } else if (apiKey === ApiKey.FindCoordinator) {
          const req = CODECS[ApiKey.FindCoordinator].decodeRequest(apiVersion, r.body)
          seen.push({ key: req.key, keyType: req.keyType })
          const errorCode = script.shift() ?? ErrorCode.NONE
          response = { errorCode, errorMessage: null, nodeId: errorCode === 0 ? 7 : -1, host: errorCode === 0 ? '127.0.0.1' : '', port: errorCode === 0 ? port : -1 }
        } else {
          return socket.destroy()
        }
        socket.write(encodeResponseFrame(apiKey as keyof ApiMessages, apiVersion, correlationId, response as never).finish())
      }
    })
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  const port = (srv.address() as { port: number }).port
  const cluster = new Cluster({ config: consumerConfig({ 'bootstrap.servers': `127.0.0.1:${port}`, 'retry.backoff.ms': 10, 'retry.backoff.max.ms': 20 }).config })
  t.teardown(async () => {
    cluster.close()
    for (const s of sockets) s.destroy()
    await new Promise((r) => srv.close(r))
  })
  return { cluster, seen, connections: () => connections }
}

t.test('retries COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS and NOT_COORDINATOR, then links to the coordinator on a connection of its own', async (t) => {
  const { cluster, seen, connections } = await server(t, [ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.NOT_COORDINATOR])
  const link = await findCoordinator(cluster, 'my-group', 0, Date.now() + 5000)
  t.equal(link.coordinatorId, 7)
  t.equal(link.nodeId, coordinatorLinkId(7))
  t.same(seen, Array.from({ length: 4 }, () => ({ key: 'my-group', keyType: 0 })), 'asked four times')
  t.equal(connections(), 2, 'the bootstrap connection and the coordinator connection')
  t.notOk(link.connection.closed)
  const again = await findCoordinator(cluster, 'my-group', 0, Date.now() + 5000)
  t.equal(again.connection, link.connection, 'the open coordinator connection is reused')
})

t.test('the key type goes to the broker', async (t) => {
  const { cluster, seen } = await server(t, [])
  await findCoordinator(cluster, 'txn-1', 1, Date.now() + 5000)
  t.same(seen, [{ key: 'txn-1', keyType: 1 }])
})

t.test('other errors fail at once', async (t) => {
  const { cluster, seen } = await server(t, [ErrorCode.GROUP_AUTHORIZATION_FAILED])
  await t.rejects(findCoordinator(cluster, 'g', 0, Date.now() + 5000), { name: 'GROUP_AUTHORIZATION_FAILED', message: /group 'g'/ })
  t.equal(seen.length, 1)
})

t.test('gives up at the deadline with REQUEST_TIMED_OUT naming the key', async (t) => {
  const { cluster } = await server(t, Array.from({ length: 1000 }, () => ErrorCode.COORDINATOR_NOT_AVAILABLE))
  await t.rejects(findCoordinator(cluster, 'slow', 0, Date.now() + 200), { name: 'REQUEST_TIMED_OUT', message: /group 'slow'.*COORDINATOR_NOT_AVAILABLE/ })
})
