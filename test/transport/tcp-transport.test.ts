import { createHash } from 'node:crypto'
import net from 'node:net'
import t, { type Test } from 'tap'
import { formatHostPort, parseHostPort, TcpConnectError, TcpTransport } from '../../src/transport/tcp-transport.ts'
import type { PeerStream, StreamInfo } from '../../src/transport/transport.ts'

interface Accepted {
  stream: PeerStream
  info: StreamInfo
}

async function listening(t: Test, options = {}): Promise<{ transport: TcpTransport; accepted: Accepted[] }> {
  const transport = new TcpTransport(options)
  const accepted: Accepted[] = []
  await transport.listen((stream, info) => accepted.push({ stream, info }))
  t.teardown(() => transport.close())
  return { transport, accepted }
}

function closed(stream: PeerStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed && (stream as net.Socket).closed) resolve()
    else stream.on('close', resolve)
  })
}

/** Everything a stream delivers until it ends. */
function readAll(stream: PeerStream): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  stream.on('data', (chunk) => chunks.push(chunk))
  return new Promise((resolve) => stream.on('end', () => resolve(Buffer.concat(chunks))))
}

/** An echo: what the server side reads, it writes back. */
function echo(stream: PeerStream): void {
  stream.on('data', (chunk) => stream.write(chunk))
  stream.on('end', () => stream.end())
}

t.test('listens on a free port, dials it, and bytes go both ways', async (t) => {
  const { transport: server, accepted } = await listening(t)
  const address = server.address()!
  t.match(address, /^127\.0\.0\.1:\d+$/)
  t.not(parseHostPort(address).port, 0, 'address() gives the port it took')

  const client = new TcpTransport()
  t.teardown(() => client.close())
  t.equal(client.address(), null, 'a transport that does not listen has no address')
  const { stream, info } = await client.connect(address)
  t.same(info, { transport: 'tcp', remote: address, initiator: true, remotePublicKey: null, localPublicKey: null })

  const reply = readAll(stream)
  await t.resolves(waitUntil(() => accepted.length === 1))
  const [{ stream: serverSide, info: serverInfo }] = accepted as [Accepted]
  t.equal(serverInfo.initiator, false)
  t.match(serverInfo.remote, /^127\.0\.0\.1:\d+$/)
  t.equal((serverSide as net.Socket).remotePort, (stream as net.Socket).localPort, 'remote is the dialler’s own address')
  echo(serverSide)
  stream.write(new TextEncoder().encode('ping'))
  stream.end()
  t.equal((await reply).toString(), 'ping')
})

t.test('many streams at once each carry their own bytes', async (t) => {
  const { transport: server, accepted } = await listening(t)
  const client = new TcpTransport()
  t.teardown(() => client.close())
  const streamCount = 50
  const dials = await Promise.all(Array.from({ length: streamCount }, () => client.connect(server.address()!)))
  await waitUntil(() => accepted.length === streamCount)
  for (const { stream } of accepted) echo(stream)
  const replies = await Promise.all(
    dials.map(async ({ stream }, i) => {
      const reply = readAll(stream)
      stream.write(new TextEncoder().encode(`stream ${i} `.repeat(100)))
      stream.end()
      return (await reply).toString()
    }),
  )
  t.same(replies, dials.map((_, i) => `stream ${i} `.repeat(100)))
})

t.test('a large transfer to a reader that pauses: write returns false, drain comes, every byte arrives', async (t) => {
  const { transport: server, accepted } = await listening(t)
  const client = new TcpTransport()
  t.teardown(() => client.close())
  const { stream } = await client.connect(server.address()!)
  await waitUntil(() => accepted.length === 1)
  const reader = accepted[0]!.stream

  const chunkBytes = 1 << 20
  const chunkCount = 48
  const sent = createHash('sha256')
  const received = createHash('sha256')
  let receivedBytes = 0
  reader.on('data', (chunk) => {
    received.update(chunk)
    receivedBytes += chunk.length
  })
  reader.pause()
  const done = new Promise<void>((resolve) => reader.on('end', resolve))

  let refused = 0
  let drains = 0
  stream.on('drain', () => drains++)
  for (let i = 0; i < chunkCount; i++) {
    const chunk = Buffer.alloc(chunkBytes, i)
    sent.update(chunk)
    if (!stream.write(chunk)) {
      if (refused++ === 0) {
        t.equal(receivedBytes, 0, 'the paused reader has been given nothing')
        setImmediate(() => reader.resume()) // the reader comes back once the writer is held up
      }
      await new Promise<void>((resolve) => (stream as net.Socket).once('drain', resolve))
    }
  }
  stream.end()
  await done
  t.ok(refused > 0, 'write returned false')
  t.equal(drains, refused, "a 'drain' for every false")
  t.equal(receivedBytes, chunkBytes * chunkCount)
  t.equal(received.digest('hex'), sent.digest('hex'), 'the same bytes, in order')
})

t.test('close destroys every stream it made and stops listening; it is idempotent', async (t) => {
  const server = new TcpTransport()
  const accepted: Accepted[] = []
  await server.listen((stream, info) => accepted.push({ stream, info }))
  const address = server.address()!
  const client = new TcpTransport()
  t.teardown(() => client.close())
  const { stream: outgoing } = await client.connect(address)
  await waitUntil(() => accepted.length === 1)
  // The server also dials someone: close() must destroy that stream too.
  const other = await listening(t)
  const { stream: dialled } = await server.connect(other.transport.address()!)

  await server.close()
  await server.close()
  await closed(accepted[0]!.stream)
  await closed(dialled)
  t.equal(accepted[0]!.stream.destroyed, true, 'the accepted stream is destroyed')
  t.equal(dialled.destroyed, true, 'the dialled stream is destroyed')
  await closed(outgoing)
  t.pass('the other side of a destroyed stream closes')
  t.equal(server.address(), null)
  await t.rejects(client.connect(address), { code: 'ECONNREFUSED' }, 'the port no longer accepts')
  await t.rejects(server.connect(address), /closed/)
  await t.rejects(server.listen(() => {}), /closed/)
})

t.test('dialling a port nothing listens on fails with a clear error', async (t) => {
  const probe = net.createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const port = (probe.address() as net.AddressInfo).port
  await new Promise((resolve) => probe.close(resolve))

  const client = new TcpTransport()
  t.teardown(() => client.close())
  const address = `127.0.0.1:${port}`
  const error = await client.connect(address).then(
    () => null,
    (e: unknown) => e,
  )
  t.ok(error instanceof TcpConnectError)
  t.match(error, { code: 'ECONNREFUSED', address, message: new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}`) })
})

t.test('listening on a port in use fails with a clear error', async (t) => {
  const { transport: first } = await listening(t)
  const { port } = parseHostPort(first.address()!)
  const second = new TcpTransport({ port })
  await t.rejects(second.listen(() => {}), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`))
  await second.close()
})

t.test('addresses are host:port, IPv6 in brackets', async (t) => {
  t.same(parseHostPort('node-1.local:9093'), { host: 'node-1.local', port: 9093 })
  t.same(parseHostPort('[::1]:9093'), { host: '::1', port: 9093 })
  t.equal(formatHostPort('::1', 9093), '[::1]:9093')
  t.equal(formatHostPort('10.0.0.1', 9093), '10.0.0.1:9093')
  for (const bad of ['node-1', ':9093', 'host:0', 'host:70000', '::1:9093', 'host:port']) {
    t.throws(() => parseHostPort(bad), /not a host:port address/, bad)
  }
  const client = new TcpTransport()
  await t.rejects(client.connect('nowhere'), /not a host:port address/)
  await client.close()
})

/** Polls a condition a bounded number of times. */
async function waitUntil(done: () => boolean, attemptsMax = 500): Promise<void> {
  for (let i = 0; i < attemptsMax; i++) {
    if (done()) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error('condition not met in time')
}
