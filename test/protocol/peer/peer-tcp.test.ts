/** Two nodes over the real TCP transport on loopback, end to end. */
import t from 'tap'
import { deriveAuthKey } from '../../../src/protocol/peer/auth.ts'
import type { Membership } from '../../../src/protocol/peer/messages.ts'
import { PeerConnection } from '../../../src/protocol/peer/peer-connection.ts'
import { TcpTransport } from '../../../src/transport/tcp-transport.ts'
import { options, RecordingHandler, settle, within } from './helpers.ts'

/** Node 2 listening on TCP; every stream it accepts becomes a link, started at once. */
async function listeningNode(over: Parameters<typeof options>[1] = {}) {
  const transport = new TcpTransport()
  const handler = new RecordingHandler()
  const links: Promise<PeerConnection>[] = []
  await transport.listen((stream, info) => {
    const link = PeerConnection.establish(stream, info, options(2, over))
    link.then((l) => l.start(handler), () => {})
    links.push(link)
  })
  return { transport, handler, links }
}

t.test('two nodes over TCP authenticate and exchange requests, large payloads and one-way messages', async (t) => {
  const server = await listeningNode()
  const client = new TcpTransport()
  t.teardown(() => Promise.all([server.transport.close(), client.close()]))
  const { stream, info } = await client.connect(server.transport.address()!)
  const link = await within(PeerConnection.establish(stream, info, options(1)), 5_000, 'handshake over TCP')
  link.start(new RecordingHandler())
  t.equal(link.remote?.nodeId, 2)
  t.equal(info.transport, 'tcp')

  const big = new Uint8Array(4 * 1024 * 1024).map((_, i) => (i * 31) & 0xff)
  const echoed = await within(link.request({ kind: 'ping', data: big }), 10_000, 'a 4 MiB round trip')
  t.equal(echoed.data.byteLength, big.byteLength)
  t.ok(echoed.data.every((b, i) => b === big[i]), 'the payload came back intact')

  const replies = await within(Promise.all(Array.from({ length: 64 }, (_, i) => link.request({ kind: 'ping', data: new Uint8Array([i]) }))), 10_000, '64 requests, the in-flight bound')
  t.same(replies.map((r) => r.data[0]), Array.from({ length: 64 }, (_, i) => i))

  const gossip: Membership = {
    type: 'membership',
    members: [{ nodeId: 1, kafkaListener: '127.0.0.1:9092', runtime: 'node', listens: [{ transport: 'tcp', address: client.address() ?? '127.0.0.1:0' }], heardAgoMs: 0 }],
  }
  await link.send(gossip)
  await settle(() => server.handler.messages.length === 1)
  t.same(server.handler.messages, [gossip])

  link.close()
  const serverLink = await server.links[0]!
  const closed = await within(serverLink.closed, 5_000, 'the server side closes')
  t.same(closed, { reason: 'shutdown', detail: 'the peer said goodbye: shutting down', by: 'remote' })
})

t.test('a node with the wrong secret is refused over TCP and nothing of it reaches the handler', async (t) => {
  const server = await listeningNode()
  const client = new TcpTransport()
  t.teardown(() => Promise.all([server.transport.close(), client.close()]))
  const { stream, info } = await client.connect(server.transport.address()!)
  const attempt = PeerConnection.establish(stream, info, options(1, { authKey: deriveAuthKey(new TextEncoder().encode('not it')) }))
  const e = await within(attempt.then(() => null, (err: unknown) => err), 5_000, 'refusal')
  t.match(e, { code: 'link-closed', close: { reason: 'authentication-failed' } })
  const serverSide = await within(server.links[0]!.then(() => null, (err: unknown) => err), 5_000, 'server side')
  t.match(serverSide, { close: { reason: 'authentication-failed' } })
  t.equal(server.handler.messages.length + server.handler.requests.length, 0)
})
