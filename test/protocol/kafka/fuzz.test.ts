// Bad input: at least 20,000 malformed requests against one broker (startBroker), on fresh and
// reused connections, while a well-behaved client (peerlog's producer and consumer) keeps
// producing and consuming on its own connections.
//
// Kinds: random bytes; valid frames cut short; lying size prefixes (larger and smaller than
// the bytes); oversize and negative sizes; unknown API keys; unsupported versions (ApiVersions:
// answered in v0 with UNSUPPORTED_VERSION, KIP-511; others: closed); valid requests built with
// the generated encoders, then mutated (bit flips, boundary values, inserted and deleted
// bytes, a lying count or length anywhere), and the same requests unmutated.
//
// The oracle for a whole frame is the broker's own codec: a frame the generated decoder
// rejects must close the connection with nothing after it answered; one it accepts must get
// a response with its correlation id that decodes at its API and version (nothing for a
// successful acks=0 produce), in request order. For bytes that are not one whole frame (random
// bytes, cut frames, lying sizes) the broker may answer or close, but once the client closes
// its side the connection must end promptly. A partial frame left open must be reaped after
// connections.max.idle.ms. Every request goes out with a deadline: a connection that neither
// answers nor closes in time is a hang (except a fetch long-polling for its max wait).
//
// At the end: the broker's connections are back to the baseline, memory stayed bounded, and
// every record the well-behaved producer had acknowledged was consumed, in order.
//
// Seeded: FUZZ_SEED=<n> replays a run; the seed is printed on every failure.
import { connect, type Socket } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { startBroker } from '../../../src/broker/start-broker.ts'
import { Admin } from '../../../src/client/admin.ts'
import { Consumer } from '../../../src/client/consumer.ts'
import { Producer, type RecordMetadata } from '../../../src/client/producer.ts'
import { ErrorCode } from '../../../src/protocol/kafka/error-codes.ts'
import { API_TABLE, ApiKey, CODECS, type ApiMessages } from '../../../src/protocol/kafka/generated/index.ts'
import { decodeRequestFrame, decodeResponseFrame, encodeRequestFrame } from '../../../src/protocol/kafka/headers.ts'
import { buildRecordBatch } from '../../../src/record/record-batch.ts'

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
const TARGET_REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 20_000)
const WORKERS = 12
const MAX_REQUEST_BYTES = 1 << 20
const IDLE_MS = 3_000
/** How long a request may go unanswered before the connection counts as hung. */
const ANSWER_MS = 5_000
const LONG_POLL_MS = 250

// ---------------------------------------------------------------------------------------------
// Seeded randomness (mulberry32).
class Rng {
  constructor(private s: number) {}
  next(): number {
    let x = (this.s = (this.s + 0x6d2b79f5) | 0)
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
  int(n: number): number {
    return Math.floor(this.next() * n)
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!
  }
  chance(p: number): boolean {
    return this.next() < p
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n)
    for (let i = 0; i < n; i++) b[i] = this.int(256)
    return b
  }
}

// ---------------------------------------------------------------------------------------------
// Valid requests, from the generated encoders.
type Key = keyof ApiMessages
const FUZZ_TOPICS = ['fuzz-a', 'fuzz-b', 'fuzz-missing', 'x'.repeat(249), '..', 'bad name!']
const STEADY = 'steady'

function sampleRequest(rng: Rng, key: Key): ApiMessages[Key]['requestInput'] {
  const topic = () => rng.pick(FUZZ_TOPICS)
  const partition = () => rng.pick([0, 1, 2, -1, 7, 2 ** 31 - 1])
  const group = () => rng.pick(['fuzz-g', 'fuzz-h', ''])
  const member = () => rng.pick(['', 'fuzz-member'])
  switch (key) {
    case ApiKey.Produce: {
      const n = rng.range(1, 5)
      const records = buildRecordBatch(Array.from({ length: n }, (_, i) => ({ key: rng.chance(0.5) ? rng.bytes(rng.range(0, 8)) : null, value: rng.bytes(rng.range(0, 64)), headers: [], timestamp: 1_700_000_000_000 + i })))
      return { transactionalId: null, acks: rng.pick([1, -1, -1, 0]), timeoutMs: 1000, topicData: [{ name: topic(), partitionData: [{ index: partition(), records }] }] }
    }
    case ApiKey.Fetch:
      return {
        replicaId: -1, maxWaitMs: rng.pick([0, 10, 50]), minBytes: rng.pick([0, 1]), maxBytes: rng.pick([1 << 20, 100, 0]), isolationLevel: rng.int(2), sessionId: 0, sessionEpoch: -1,
        topics: [{ topic: topic(), partitions: [{ partition: partition(), currentLeaderEpoch: -1, fetchOffset: BigInt(rng.pick([0, 1, 1000, -1])), logStartOffset: -1n, partitionMaxBytes: rng.pick([1 << 16, 10, 0]) }] }],
        forgottenTopicsData: [], rackId: '',
      }
    case ApiKey.ListOffsets:
      return { replicaId: -1, isolationLevel: 0, topics: [{ name: topic(), partitions: [{ partitionIndex: partition(), currentLeaderEpoch: -1, timestamp: BigInt(rng.pick([-1, -2, 0, 1_700_000_000_000])) }] }] }
    case ApiKey.Metadata:
      return { topics: rng.chance(0.2) ? null : [{ name: topic() }], allowAutoTopicCreation: rng.chance(0.5), includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }
    case ApiKey.ApiVersions:
      return { clientSoftwareName: 'fuzz', clientSoftwareVersion: '1.0' }
    case ApiKey.CreateTopics:
      return { topics: [{ name: `fuzz-new-${rng.int(20)}`, numPartitions: rng.range(-1, 3), replicationFactor: rng.pick([1, -1, 3]), assignments: [], configs: rng.chance(0.5) ? [] : [{ name: 'retention.ms', value: rng.pick(['60000', 'nope', null]) }] }], timeoutMs: 1000, validateOnly: rng.chance(0.7) }
    case ApiKey.DeleteTopics:
      return { topicNames: [rng.pick(['fuzz-missing', `fuzz-new-${rng.int(20)}`, '..'])], timeoutMs: 1000 }
    case ApiKey.DeleteRecords:
      return { topics: [{ name: topic(), partitions: [{ partitionIndex: partition(), offset: BigInt(rng.pick([0, -1, 1, 5])) }] }], timeoutMs: 1000 }
    case ApiKey.DescribeConfigs:
      return { resources: [{ resourceType: rng.pick([2, 4, 99]), resourceName: rng.pick([...FUZZ_TOPICS, '1', '']), configurationKeys: rng.chance(0.5) ? null : ['retention.ms', 'nope'] }], includeSynonyms: rng.chance(0.5) }
    case ApiKey.AlterConfigs:
      return { resources: [{ resourceType: rng.pick([2, 4]), resourceName: rng.pick(FUZZ_TOPICS), configs: [{ name: rng.pick(['retention.ms', 'cleanup.policy', 'nope']), value: rng.pick(['60000', 'compact', '-5', null]) }] }], validateOnly: true }
    case ApiKey.CreatePartitions:
      return { topics: [{ name: topic(), count: rng.range(0, 4), assignments: null }], timeoutMs: 1000, validateOnly: rng.chance(0.7) }
    case ApiKey.FindCoordinator:
      return { key: group(), keyType: rng.pick([0, 0, 1, 9]) }
    case ApiKey.JoinGroup:
      return {
        groupId: group(), sessionTimeoutMs: rng.pick([6_000, 10_000, 1]), rebalanceTimeoutMs: rng.pick([100, 1_000]), memberId: member(),
        groupInstanceId: rng.chance(0.2) ? 'fuzz-instance' : null, protocolType: rng.pick(['consumer', 'other', '']),
        protocols: [{ name: rng.pick(['range', 'roundrobin']), metadata: rng.bytes(rng.range(0, 16)) }],
      }
    case ApiKey.SyncGroup:
      return { groupId: group(), generationId: rng.pick([-1, 0, 1, 2]), memberId: member(), groupInstanceId: null, assignments: rng.chance(0.5) ? [] : [{ memberId: member(), assignment: rng.bytes(rng.range(0, 16)) }] }
    case ApiKey.Heartbeat:
      return { groupId: group(), generationId: rng.pick([-1, 0, 1, 2]), memberId: member(), groupInstanceId: null }
    case ApiKey.LeaveGroup:
      // v0–2 name one member, v3 a batch: the single id stays '' (the default) so that every version can carry the request.
      return { groupId: group(), memberId: '', members: [{ memberId: member(), groupInstanceId: rng.chance(0.2) ? 'fuzz-instance' : null }] }
    case ApiKey.OffsetCommit:
      return {
        groupId: group(), generationIdOrMemberEpoch: rng.pick([-1, 1]), memberId: rng.chance(0.5) ? '' : member(), groupInstanceId: null, retentionTimeMs: -1n,
        topics: [{ name: topic(), partitions: [{ partitionIndex: partition(), committedOffset: BigInt(rng.pick([0, 5, -1])), committedLeaderEpoch: -1, committedMetadata: rng.pick([null, '', 'm']) }] }],
      }
    case ApiKey.OffsetFetch:
      return { groupId: group(), topics: rng.chance(0.2) ? null : [{ name: topic(), partitionIndexes: [partition()] }] }
    case ApiKey.ListGroups:
      return {}
    case ApiKey.DescribeGroups:
      return { groups: [group(), group()], includeAuthorizedOperations: rng.chance(0.5) }
    case ApiKey.DeleteGroups:
      return { groupsNames: [group()] }
    case ApiKey.OffsetDelete:
      return { groupId: group(), topics: [{ name: topic(), partitions: [{ partitionIndex: partition() }] }] }
  }
  throw new Error(`no sample for API ${key}`)
}

/** A whole valid request frame (size prefix included) of a random implemented API and version. */
function validFrame(rng: Rng, correlationId: number): { frame: Uint8Array; key: Key; version: number } {
  const api = rng.pick(API_TABLE)
  const key = api.key as Key
  const data = sampleRequest(rng, key)
  const version = rng.range(api.minVersion, api.maxVersion)
  try {
    return { frame: encodeRequestFrame(key, version, correlationId, rng.chance(0.1) ? null : 'fuzz', data as never).finish(), key, version }
  } catch {
    // A field this version cannot carry: the highest version carries them all.
    return { frame: encodeRequestFrame(key, api.maxVersion, correlationId, 'fuzz', data as never).finish(), key, version: api.maxVersion }
  }
}

const withSize = (body: Uint8Array, size = body.length): Uint8Array => {
  const out = new Uint8Array(4 + body.length)
  new DataView(out.buffer).setInt32(0, size)
  out.set(body, 4)
  return out
}

/** Mutates the bytes after the size prefix (mostly the body; sometimes the header). */
function mutate(rng: Rng, frame: Uint8Array): Uint8Array {
  let body = frame.slice(4)
  const from = rng.chance(0.9) ? Math.min(8, body.length) : 0
  const at = () => from + rng.int(Math.max(1, body.length - from))
  const edits = rng.range(1, 3)
  for (let e = 0; e < edits; e++) {
    switch (rng.int(7)) {
      case 0: {
        const i = at()
        if (i < body.length) body[i]! ^= 1 << rng.int(8)
        break
      }
      case 1: {
        const i = at()
        if (i < body.length) body[i] = rng.pick([0, 0xff, 0x7f, 0x80, 1, rng.int(256)])
        break
      }
      case 2: {
        // A boundary int16/int32 anywhere: lying lengths and counts, wild enums and offsets.
        const i = at()
        const v = rng.pick([[0x7f, 0xff, 0xff, 0xff], [0xff, 0xff, 0xff, 0xff], [0x80, 0, 0, 0], [0, 0, 0, 0], [0xff, 0xfe], [0x7f, 0xff], [0, 0x10, 0, 0]])
        for (let k = 0; k < v.length && i + k < body.length; k++) body[i + k] = v[k]!
        break
      }
      case 3: {
        const i = at()
        const ins = rng.bytes(rng.range(1, 16))
        body = Uint8Array.from([...body.subarray(0, i), ...ins, ...body.subarray(i)])
        break
      }
      case 4: {
        const i = at()
        body = Uint8Array.from([...body.subarray(0, i), ...body.subarray(Math.min(body.length, i + rng.range(1, 16)))])
        break
      }
      case 5:
        body = body.slice(0, at())
        break
      default: {
        // A varint (compact lengths, tagged fields) set to a huge or a continuation-only value.
        const i = at()
        const v = rng.pick([[0xff, 0xff, 0xff, 0xff, 0x0f], [0x80, 0x80, 0x80, 0x80, 0x80, 0x80], [0xfe, 0xff, 0xff, 0xff, 0x07]])
        body = Uint8Array.from([...body.subarray(0, i), ...v, ...body.subarray(Math.min(body.length, i + 1))])
      }
    }
  }
  return withSize(body)
}

// ---------------------------------------------------------------------------------------------
// The oracle: what the broker must do with one whole frame.
type Expect =
  | { kind: 'close' }
  | { kind: 'respond'; key: Key; version: number; correlationId: number }
  | { kind: 'none-or-close'; correlationId: number } // acks=0 produce
  | { kind: 'long-poll'; correlationId: number } // a fetch that may wait for its max wait
  | { kind: 'unsupported-api-versions'; correlationId: number }
  | { kind: 'skip'; why: string } // decodes to something this test must not send (see safe())

function oracle(frame: Uint8Array): Expect {
  const body = frame.subarray(4)
  const d = decodeRequestFrame(body)
  if (!d.ok) {
    if (d.action === 'respond') return { kind: 'unsupported-api-versions', correlationId: d.header.correlationId }
    return { kind: 'close' }
  }
  const key = d.header.apiKey as Key
  let request: ApiMessages[Key]['request']
  try {
    request = CODECS[key].decodeRequest(d.header.apiVersion, d.body)
  } catch {
    return { kind: 'close' }
  }
  const why = unsafe(key, request)
  if (why) return { kind: 'skip', why }
  const correlationId = d.header.correlationId
  if (key === ApiKey.Produce && (request as ApiMessages[0]['request']).acks === 0) return { kind: 'none-or-close', correlationId }
  if (key === ApiKey.Fetch) {
    const f = request as ApiMessages[1]['request']
    // (Kafka and peerlog answer at once when minBytes <= 0 or no partition is named: see
    // the test below. Otherwise a long wait is not a hang.)
    if (f.maxWaitMs > LONG_POLL_MS) return { kind: 'long-poll', correlationId }
  }
  // A JoinGroup waits for the rest of the group to join, a follower's SyncGroup for the leader's: not a hang either.
  if (key === ApiKey.JoinGroup || key === ApiKey.SyncGroup) return { kind: 'long-poll', correlationId }
  return { kind: 'respond', key, version: d.header.apiVersion, correlationId }
}

/**
 * Requests that decode to something that would legitimately cost the broker a lot (thousands
 * of partitions: Kafka too would try) or touch the well-behaved client's topic: not sent.
 */
function unsafe(key: Key, request: unknown): string | null {
  const names = JSON.stringify(request, (_k, v) => (typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? undefined : v))
  if (names.includes(`"${STEADY}"`)) return 'names the steady topic'
  if (key === ApiKey.CreateTopics) {
    const r = request as ApiMessages[19]['request']
    if (r.topics.length > 8 || r.topics.some((x) => x.numPartitions > 64 || x.assignments.length > 64)) return 'creates many partitions'
  }
  if (key === ApiKey.CreatePartitions) {
    const r = request as ApiMessages[37]['request']
    if (r.topics.length > 8 || r.topics.some((x) => x.count > 64 || (x.assignments?.length ?? 0) > 64)) return 'creates many partitions'
  }
  return null
}

/** A request frame as the broker's codec reads it (for failure messages). */
function describe(frame: Uint8Array): string {
  const d = decodeRequestFrame(frame.subarray(4))
  if (!d.ok) return `${d.kind}: ${Buffer.from(frame.subarray(0, 64)).toString('hex')}`
  try {
    const request = CODECS[d.header.apiKey as Key].decodeRequest(d.header.apiVersion, d.body)
    const json = JSON.stringify(request, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? `<${v.length} bytes>` : v))
    return `${d.api.name} v${d.header.apiVersion} #${d.header.correlationId} ${json.slice(0, 600)}`
  } catch (e) {
    return `${d.api.name} v${d.header.apiVersion}: ${(e as Error).message}`
  }
}

// ---------------------------------------------------------------------------------------------
// A raw connection that reads response frames.
class Raw {
  readonly socket: Socket
  private buf: Buffer = Buffer.alloc(0)
  readonly frames: Buffer[] = []
  closed = false
  private waiters: (() => void)[] = []
  readonly ready: Promise<void>
  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1')
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve())
      this.socket.once('error', reject)
    })
    this.socket.on('error', () => {})
    this.socket.on('data', (c: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c
      while (this.buf.length >= 4 && this.buf.length >= 4 + this.buf.readInt32BE(0)) {
        const n = this.buf.readInt32BE(0)
        this.frames.push(this.buf.subarray(4, 4 + n))
        this.buf = this.buf.subarray(4 + n)
      }
      this.wake()
    })
    this.socket.on('close', () => {
      this.closed = true
      this.wake()
    })
  }
  private wake() {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }
  write(b: Uint8Array) {
    if (!this.closed) this.socket.write(b)
  }
  /** Waits until `done()` holds or the connection closes or `ms` pass; true unless timed out. */
  async until(done: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms
    while (!done() && !this.closed) {
      const left = deadline - Date.now()
      if (left <= 0) return false
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          r()
        })
      })
    }
    return true
  }
  destroy() {
    this.socket.destroy()
  }
}

// A full GC before each heap reading, so the figure is what is retained, not garbage.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const heapUsed = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

const tcpHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length

t.test('the broker survives malformed requests while a well-behaved client works', async (t) => {
  t.comment(`FUZZ_SEED=${SEED}`)
  const rng = new Rng(SEED)
  const failures: string[] = []
  const fail = (m: string) => {
    if (failures.length < 20) failures.push(m)
  }
  const started = Date.now()
  const broker = await startBroker({
    dataDir: t.testdir(),
    port: 0,
    config: { 'socket.request.max.bytes': MAX_REQUEST_BYTES, 'connections.max.idle.ms': IDLE_MS, 'auto.create.topics.enable': false, 'num.partitions': 2, 'offsets.topic.num.partitions': 3 },
  })
  t.teardown(() => broker.stop())
  const bootstrap = { 'bootstrap.servers': broker.address }
  const admin = new Admin(bootstrap)
  await admin.createTopics([
    { topic: STEADY, numPartitions: 2, replicationFactor: 1 },
    { topic: 'fuzz-a', numPartitions: 3, replicationFactor: 1 },
    { topic: 'fuzz-b', numPartitions: 1, replicationFactor: 1 },
  ])
  await admin.close()

  // The well-behaved client: a producer (acks=all) and a consumer of both partitions.
  const producer = new Producer({ ...bootstrap, acks: 'all', 'linger.ms': 2, 'request.timeout.ms': 10_000, 'delivery.timeout.ms': 60_000 })
  const consumer = new Consumer({ ...bootstrap, 'auto.offset.reset': 'earliest' })
  consumer.assign([0, 1].map((partition) => ({ topic: STEADY, partition })))
  await producer.partitionsFor(STEADY)
  await consumer.poll(50)
  let fuzzing = true
  const acked: RecordMetadata[] = []
  const sendErrors: string[] = []
  const consumed = new Map<string, number>()
  const consumedOrder = new Map<number, number>()
  let consumeDisorder = 0
  let seq = 0
  const producing = (async () => {
    while (fuzzing) {
      const batch = Array.from({ length: 10 }, () => {
        const n = seq++
        return producer.send({ topic: STEADY, key: `k${n % 17}`, value: String(n) }).then((m) => void acked.push(m), (e: Error) => void sendErrors.push(e.message))
      })
      await Promise.all(batch)
      await new Promise((r) => setTimeout(r, 5))
    }
    await producer.flush()
  })()
  let consuming = true
  const consumingDone = (async () => {
    while (consuming) {
      for (const r of await consumer.poll(100)) {
        consumed.set(`${r.partition}/${r.offset}`, Number(new TextDecoder().decode(r.value!)))
        if ((consumedOrder.get(r.partition) ?? -1) >= r.offset) consumeDisorder++
        consumedOrder.set(r.partition, r.offset)
      }
    }
  })()
  await new Promise((r) => setTimeout(r, 200))
  const baselineHandles = tcpHandles()
  const heapBefore = heapUsed()

  // ------------------------------------------------------------------------------------------
  let sent = 0
  let correlation = 1_000
  const stats = new Map<string, number>()
  const count = (what: string, n = 1) => stats.set(what, (stats.get(what) ?? 0) + n)
  const reaped: Promise<void>[] = []

  /** Sends frames pipelined, then a control ApiVersions request, and checks the answers against the oracle. */
  async function pipelined(conn: Raw, frames: Uint8Array[], label: string): Promise<'open' | 'closed'> {
    const expects = frames.map(oracle)
    const toSend: { frame: Uint8Array; expect: Expect }[] = []
    for (let i = 0; i < frames.length; i++) {
      const e = expects[i]!
      if (e.kind === 'skip') {
        count(`skipped: ${e.why}`)
        continue
      }
      toSend.push({ frame: frames[i]!, expect: e })
      if (e.kind === 'close') break // nothing after it is read
    }
    const controlId = ++correlation
    const last = toSend[toSend.length - 1]?.expect
    const control = last?.kind === 'close' ? null : encodeRequestFrame(ApiKey.ApiVersions, 3, controlId, 'control', { clientSoftwareName: 'fuzz', clientSoftwareVersion: '1' }).finish()
    const start = conn.frames.length
    for (const s of toSend) conn.write(s.frame)
    if (control) conn.write(control)
    sent += toSend.length
    const longPoll = toSend.some((s) => s.expect.kind === 'long-poll')
    const answered = await conn.until(() => conn.frames.length > start && conn.frames[conn.frames.length - 1]!.readInt32BE(0) === controlId, longPoll ? LONG_POLL_MS : ANSWER_MS)
    if (!answered) {
      if (longPoll) {
        count('long polls abandoned')
        conn.destroy()
        return 'closed'
      }
      fail(`${label}: no answer and no close within ${ANSWER_MS} ms (expected ${toSend.map((s) => s.expect.kind).join(', ')}; got ${conn.frames.length - start} answers); the requests: ${toSend.map((s) => describe(s.frame)).join(' | ')}`)
      conn.destroy()
      return 'closed'
    }
    // Match the answers in order.
    const got = conn.frames.slice(start)
    let g = 0
    for (const { expect } of toSend) {
      const next = got[g]
      const id = next?.readInt32BE(0)
      switch (expect.kind) {
        case 'close':
          if (next !== undefined) fail(`${label}: an answer (correlation ${id}) to a request that must close the connection`)
          if (!conn.closed && !(await conn.until(() => false, 2_000))) fail(`${label}: not closed after a request that does not decode`)
          count('closed as expected')
          return 'closed'
        case 'none-or-close':
          if (id === expect.correlationId) fail(`${label}: an answer to an acks=0 produce`)
          if (next === undefined && conn.closed) {
            // An acks=0 produce that fails closes the connection (the client has no other way to learn it), as Kafka does.
            count('acks=0 failed: closed')
            return 'closed'
          }
          count('acks=0')
          break
        case 'long-poll':
        case 'respond':
        case 'unsupported-api-versions': {
          if (next === undefined) {
            if (conn.closed) fail(`${label}: closed instead of answering a request that decodes (${JSON.stringify(expect)})`)
            return 'closed'
          }
          g++
          if (id !== expect.correlationId) {
            fail(`${label}: answer out of order: correlation ${id}, expected ${expect.correlationId}`)
            break
          }
          if (expect.kind === 'unsupported-api-versions') {
            const r = decodeResponseFrame(ApiKey.ApiVersions, 0, next)
            if (r.body.errorCode !== ErrorCode.UNSUPPORTED_VERSION) fail(`${label}: ApiVersions of an unknown version answered with error ${r.body.errorCode}`)
            count('UNSUPPORTED_VERSION answers')
          } else if (expect.kind === 'respond') {
            try {
              decodeResponseFrame(expect.key, expect.version, next)
              count('answered')
            } catch (e) {
              fail(`${label}: the answer to API ${expect.key} v${expect.version} does not decode: ${(e as Error).message}`)
            }
          }
        }
      }
    }
    if (control) {
      const c = got[g]
      if (c === undefined || c.readInt32BE(0) !== controlId) fail(`${label}: the control request was not answered next (got ${c?.readInt32BE(0)})`)
    }
    return conn.closed ? 'closed' : 'open'
  }

  /** Bytes that are not one whole frame: any answer or a close is fine, but ending our side must end the connection. */
  async function loose(frames: Uint8Array, label: string): Promise<void> {
    const conn = new Raw(broker.port)
    await conn.ready
    conn.write(frames)
    sent++
    await new Promise((r) => setTimeout(r, 5))
    conn.socket.end()
    if (!(await conn.until(() => false, 3_000))) {
      fail(`${label}: the broker kept the connection open after the client ended it`)
      conn.destroy()
    }
    count('loose')
  }

  const slowloris = async (label: string) => {
    // A partial frame left open: reaped after connections.max.idle.ms.
    const conn = new Raw(broker.port)
    await conn.ready
    conn.write(Uint8Array.of(0, 0, 0, 100, 0, 18, 0, 3))
    sent++
    const t0 = Date.now()
    if (!(await conn.until(() => false, IDLE_MS * 3))) {
      fail(`${label}: a half-sent frame was not reaped after ${IDLE_MS * 3} ms`)
      conn.destroy()
    } else count('reaped idle', 1), count(`reaped after ~${Math.round((Date.now() - t0) / 1000)} s`)
  }
  reaped.push(slowloris('slowloris 1'), slowloris('slowloris 2'))

  async function worker(w: number): Promise<void> {
    const wr = new Rng(SEED ^ (w * 0x9e3779b1))
    let reused: Raw | null = null
    let reusedAt = Date.now()
    while (sent < TARGET_REQUESTS && failures.length < 20) {
      const kind = wr.int(100)
      const label = `worker ${w} case ${sent} (FUZZ_SEED=${SEED})`
      if (kind < 8) {
        // Random bytes.
        await loose(wr.bytes(wr.range(1, 300)), `${label} random bytes`)
      } else if (kind < 14) {
        // A valid frame cut short, or with a size prefix larger than the bytes.
        const { frame } = validFrame(wr, ++correlation)
        const bytes = wr.chance(0.5) ? frame.subarray(0, wr.range(1, frame.length - 1)) : withSize(frame.subarray(4), frame.length - 4 + wr.range(1, 1000))
        await loose(bytes, `${label} truncated`)
      } else if (kind < 18) {
        // A size prefix smaller than the request: the rest reads as the next frame.
        const { frame } = validFrame(wr, ++correlation)
        const body = frame.subarray(4)
        const fake = withSize(body, wr.range(0, body.length - 1))
        await loose(Uint8Array.from([...fake.subarray(0, 4), ...body]), `${label} short size`)
      } else {
        // Whole frames, pipelined on a reused (70%) or fresh connection.
        const frames: Uint8Array[] = []
        for (let i = wr.range(1, 4); i > 0; i--) {
          const r = wr.int(100)
          if (r < 55) frames.push(mutate(wr, validFrame(wr, ++correlation).frame))
          else if (r < 75) frames.push(validFrame(wr, ++correlation).frame)
          else if (r < 82) {
            // Unknown API key.
            const body = new Uint8Array(wr.range(8, 40))
            const dv = new DataView(body.buffer)
            dv.setInt16(0, wr.pick([-1, 4, 9, 10, 11, 60, 67, 1000, 32767]))
            dv.setInt16(2, wr.range(0, 5))
            dv.setInt32(4, ++correlation)
            frames.push(withSize(body))
          } else if (r < 90) {
            // Unsupported version of an implemented API (ApiVersions: answered, KIP-511).
            const api = wr.pick(API_TABLE)
            const { frame } = validFrame(wr, ++correlation)
            const body = frame.slice(4)
            const dv = new DataView(body.buffer)
            dv.setInt16(0, api.key)
            dv.setInt16(2, wr.pick([api.maxVersion + 1, api.maxVersion + 7, -1, 32767, ...(api.minVersion > 0 ? [api.minVersion - 1] : [])]))
            frames.push(withSize(body))
          } else if (r < 95) {
            // Oversize or negative size: closed before reading the body.
            const size = wr.pick([MAX_REQUEST_BYTES + 1, 2 ** 31 - 1, -1, -(2 ** 31), MAX_REQUEST_BYTES * 4])
            const head = new Uint8Array(4 + 8)
            new DataView(head.buffer).setInt32(0, size)
            frames.push(head)
            break
          } else {
            // Shorter than a request header.
            frames.push(withSize(wr.bytes(wr.range(0, 7))))
          }
        }
        // The oracle does not know about sizes: an oversize/negative frame must close.
        const bad = frames.findIndex((f) => {
          const s = new DataView(f.buffer, f.byteOffset).getInt32(0)
          return s < 0 || s > MAX_REQUEST_BYTES
        })
        if (bad >= 0) {
          const conn = new Raw(broker.port)
          await conn.ready
          // (Not behind a fetch that may long-poll: answers go out in order, so the close would wait for it.)
          const before = frames.slice(0, bad).filter((f) => !['long-poll', 'skip'].includes(oracle(f).kind))
          for (const f of [...before, frames[bad]!]) conn.write(f)
          sent += before.length + 1
          const closed = await conn.until(() => false, ANSWER_MS)
          if (!closed) fail(`${label}: an oversize or negative size did not close the connection`)
          count('oversize closed')
          conn.destroy()
          continue
        }
        // (A connection idle for connections.max.idle.ms is reaped: not reused that long.)
        if (!reused || reused.closed || wr.chance(0.3) || Date.now() - reusedAt > IDLE_MS / 2) {
          if (reused && !reused.closed && wr.chance(0.5)) reused.destroy()
          reused = new Raw(broker.port)
          await reused.ready
          count('connections opened')
        }
        if ((await pipelined(reused, frames, `${label} pipelined`)) === 'closed') reused = null
        reusedAt = Date.now()
      }
    }
    reused?.destroy()
  }

  // Every few hundred ms, a fresh connection must be answered at once.
  let probes = 0
  const probing = (async () => {
    while (fuzzing) {
      const c = new Raw(broker.port)
      await c.ready
      c.write(encodeRequestFrame(ApiKey.Metadata, 8, 7, 'probe', { topics: [{ name: STEADY }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }).finish())
      const t0 = Date.now()
      if (!(await c.until(() => c.frames.length > 0, 2_000)) || c.frames.length === 0) fail(`a fresh connection's Metadata request was not answered within 2 s (FUZZ_SEED=${SEED})`)
      else if (Date.now() - t0 > 1000) count('slow probes (> 1 s)')
      probes++
      c.destroy()
      await new Promise((r) => setTimeout(r, 250))
    }
  })()

  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)))
  const fuzzMs = Date.now() - started
  fuzzing = false
  await probing
  await producing
  await Promise.all(reaped)

  // Back to the baseline: every connection the fuzzing opened is gone on both sides (the
  // broker's sockets are in this process too), after the broker's close linger; the
  // well-behaved client's are still open, as they were when the baseline was taken.
  const settle = Date.now() + 5_000
  while (tcpHandles() > baselineHandles && Date.now() < settle) await new Promise((r) => setTimeout(r, 100))
  const handlesAfter = tcpHandles()

  // The well-behaved client: everything acknowledged was consumed.
  const lastAcked = new Map<number, number>()
  for (const m of acked) lastAcked.set(m.partition, Math.max(lastAcked.get(m.partition) ?? -1, m.offset))
  const catchUp = Date.now() + 15_000
  while ([...lastAcked].some(([p, o]) => (consumedOrder.get(p) ?? -1) < o) && Date.now() < catchUp) await new Promise((r) => setTimeout(r, 50))
  consuming = false
  await consumingDone
  await consumer.close()
  await producer.close()
  const lost = acked.filter((m) => consumed.get(`${m.partition}/${m.offset}`) === undefined)
  const wrongValue = acked.filter((m) => {
    const v = consumed.get(`${m.partition}/${m.offset}`)
    return v !== undefined && !Number.isInteger(v)
  })

  const heapAfter = heapUsed()

  t.comment(`${sent} malformed or fuzzed requests in ${fuzzMs} ms with ${WORKERS} workers; ${probes} probes; ${acked.length} records acknowledged and ${consumed.size} consumed meanwhile`)
  t.comment(JSON.stringify(Object.fromEntries([...stats].sort())))
  t.comment(`TCP handles: ${baselineHandles} before, ${handlesAfter} after; heap ${Math.round(heapBefore / 2 ** 20)} → ${Math.round(heapAfter / 2 ** 20)} MiB; rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`)
  for (const f of failures) t.comment(`FAILURE ${f}`)
  t.same(failures, [], `no hangs, wrong answers or unclosed connections (FUZZ_SEED=${SEED})`)
  t.ok(sent >= TARGET_REQUESTS, `at least ${TARGET_REQUESTS} requests sent (${sent})`)
  t.ok(fuzzMs < 60_000, `within 60 s (${fuzzMs} ms)`)
  t.same(sendErrors.slice(0, 5), [], 'the well-behaved producer had no failed sends')
  t.ok(acked.length > 100, `it kept producing throughout (${acked.length} acknowledged)`)
  t.equal(lost.length, 0, `every acknowledged record was consumed (lost: ${lost.slice(0, 5).map((m) => `${m.partition}/${m.offset}`).join(', ')}) (FUZZ_SEED=${SEED})`)
  t.equal(wrongValue.length + consumeDisorder, 0, 'consumed in order, intact')
  t.ok(handlesAfter <= baselineHandles, `connections back to the baseline (${handlesAfter} TCP handles, baseline ${baselineHandles}) (FUZZ_SEED=${SEED})`)
  t.ok(heapAfter - heapBefore < 64 * 2 ** 20, `memory bounded (heap grew ${Math.round((heapAfter - heapBefore) / 2 ** 20)} MiB)`)

  // The broker still serves: a new client produces and reads back.
  const p2 = new Producer({ ...bootstrap, acks: 'all' })
  const m = await p2.send({ topic: 'fuzz-b', value: 'after the storm', partition: 0 })
  await p2.close()
  t.equal(m.partition, 0, 'and the broker serves a new client afterwards')
})

// Kafka's ReplicaManager.fetchMessages answers at once when `maxWaitMs <= 0 || fetchInfos.isEmpty
// || bytesReadable >= minBytes || errorReadingData`: so a fetch of no partitions, or with
// minBytes 0 (or negative), never waits. peerlog's handler (handlers/fetch.ts) raises minBytes
// to 1 and sleeps maxWaitMs for an empty request.
t.test('a fetch with minBytes 0, or of no partitions, is answered at once, as Kafka does', async (t) => {
  const broker = await startBroker({ dataDir: t.testdir(), port: 0, config: { 'num.partitions': 1 } })
  t.teardown(() => broker.stop())
  const conn = new Raw(broker.port)
  await conn.ready
  t.teardown(() => conn.destroy())
  const fetch = (id: number, minBytes: number, topics: { topic: string; partitions: { partition: number; currentLeaderEpoch: number; fetchOffset: bigint; logStartOffset: bigint; partitionMaxBytes: number }[] }[]) =>
    encodeRequestFrame(ApiKey.Fetch, 11, id, 'todo', { replicaId: -1, maxWaitMs: 3_000, minBytes, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, topics, forgottenTopicsData: [], rackId: '' }).finish()
  const md = encodeRequestFrame(ApiKey.Metadata, 8, 1, 'todo', { topics: [{ name: 'empty' }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }).finish()
  conn.write(md)
  await conn.until(() => conn.frames.length === 1, 5_000)
  const part = { partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }
  for (const [what, frame] of [
    ['minBytes 0', fetch(2, 0, [{ topic: 'empty', partitions: [part] }])],
    ['no partitions', fetch(3, 1, [])],
  ] as const) {
    const before = conn.frames.length
    const t0 = Date.now()
    conn.write(frame)
    await conn.until(() => conn.frames.length > before, 5_000)
    t.ok(Date.now() - t0 < 1_000, `${what}: answered in ${Date.now() - t0} ms (maxWaitMs 3000)`)
  }
})
