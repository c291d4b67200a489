/**
 * NATS JetStream in the comparison: `nats-server -js` (the Debian package) with file storage
 * and its default sync (the file store fsyncs on its own interval, 2 minutes by default), one
 * stream per workload (subject = stream name), and the `nats` npm package as the Node client.
 * There is no native JetStream client in Debian (the Go `nats bench` is not packaged), so the
 * Node client is also its best client here.
 *
 * Workloads: js.publish (each publish acknowledged by a PubAck; many in flight); an ordered
 * consumer reading the stream from its start; for the group, a durable pull consumer shared by
 * the members (workers), AckPolicy explicit (JetStream's default) with each message acked as
 * it is processed (acks are not waited for); for latency, js.publish and an ordered consumer.
 */
import { AckPolicy, connect, DeliverPolicy, StorageType, type ConsumerMessages, type JsMsg, type NatsConnection } from 'nats'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { now, root, start, waitForPort } from '../harness.ts'
import { Latencies, steadyRate } from './latency.ts'
import { latencyRecord, Tally, Window, sendAll } from './records.ts'
import { serverStopper } from './system.ts'
import type { ConsumeArgs, ConsumeResult, GroupArgs, GroupControl, GroupResult, LatencyConsumeArgs, LatencyProduceArgs, LatencyResult, LoadGenerator, ProduceArgs, ProduceResult, Running, SystemDriver } from './system.ts'

/** Publishes a producer may have unacknowledged (each waits for its own PubAck). */
const publishInFlightMax = 1_000
/** Messages a consumer asks for per pull request. */
const pullBatchMessages = 10_000
/** Unacknowledged messages the group's durable consumer lets out, over all its workers. */
const groupMaxAckPending = 40_000
/** JetStream gets this long to come up after the port opens. */
const jetstreamReadyMaxMs = 30_000

function clientPackageVersion(): string {
  return (JSON.parse(readFileSync(join(root, 'node_modules', 'nats', 'package.json'), 'utf8')) as { version: string }).version
}

// noAsyncTraces: nats.js otherwise captures a stack for every request (each js.publish is
// one), which costs its client more than the publish itself; off, the client goes faster.
const conn = (address: string) => connect({ servers: address, maxReconnectAttempts: 0, noAsyncTraces: true })

export const jetstreamDriver: SystemDriver = {
  id: 'jetstream',
  clientVersion: () => `nats.js ${clientPackageVersion()}`,
  settings: {
    produce: `nats.js js.publish (noAsyncTraces), ≤ ${publishInFlightMax.toLocaleString('en-US')} PubAcks outstanding`,
    consume: `nats.js ordered consumer (consume(), max_messages=${pullBatchMessages})`,
    group: `nats.js, one durable pull consumer (ack_policy explicit, max_ack_pending=${groupMaxAckPending}) consumed by every member (consume(), max_messages=${pullBatchMessages}), each message acked`,
    latency: 'nats.js js.publish; ordered consumer (consume())',
  },
  async start(variant, dir, port) {
    const proc = start('nats-server', ['-js', '-sd', join(dir, 'jetstream'), '-a', '127.0.0.1', '-p', String(port), '-n', 'bench'])
    await waitForPort(proc, port, 'nats-server')
    const address = `127.0.0.1:${port}`
    const nc = await conn(address)
    const jsm = await nc.jetstreamManager()
    // JetStream answers once it has started; until then its API requests fail.
    for (const deadline = now() + jetstreamReadyMaxMs; ; ) {
      try {
        await jsm.getAccountInfo()
        break
      } catch (e) {
        if (now() > deadline) throw e
        await new Promise((r) => setTimeout(r, 100))
      }
    }
    const version = `nats-server v${nc.info?.version ?? '?'}`
    const running: Running = {
      variant,
      proc,
      address,
      version,
      async create(stream) {
        await jsm.streams.add({ name: stream, subjects: [stream], storage: StorageType.File, num_replicas: 1 })
      },
      async stored(stream) {
        return (await jsm.streams.info(stream)).state.messages
      },
      async drop(stream) {
        await jsm.streams.delete(stream)
      },
      async prepareGroup(stream, group) {
        await jsm.consumers.add(stream, { durable_name: group, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, max_ack_pending: groupMaxAckPending })
      },
      stop: serverStopper(proc, () => nc.close().catch(() => undefined)),
    }
    return running
  },
}

/** Consumes `messages` with `onMsg` until `until()` is true (checked on every message and every `pollMs`). */
async function drain(messages: ConsumerMessages, onMsg: (m: JsMsg) => void, until: () => boolean, pollMs: number): Promise<void> {
  let done = false
  const iter = (async () => {
    for await (const m of messages) {
      onMsg(m)
      if (until()) break
    }
  })()
  const poll = (async () => {
    while (!done && !until()) await new Promise((r) => setTimeout(r, pollMs))
  })()
  await Promise.race([iter, poll])
  done = true
  messages.stop()
  await Promise.race([iter, new Promise((r) => setTimeout(r, 1_000))])
}

export const jetstreamLoad: LoadGenerator = {
  async produce(a: ProduceArgs): Promise<ProduceResult> {
    const nc = await conn(a.address)
    const js = nc.jetstream()
    const { records, ms } = await sendAll(a, publishInFlightMax, (record) => js.publish(a.stream, record))
    await nc.close()
    const cpu = process.cpuUsage()
    return { records, ms, cpu: (cpu.user + cpu.system) / 1e6 }
  },

  async consume(a: ConsumeArgs): Promise<ConsumeResult> {
    const nc = await conn(a.address)
    const js = nc.jetstream()
    // An ordered consumer starts at sequence 1 (a deliver_policy given here would clash with it).
    const consumer = await js.consumers.get(a.stream)
    const tally = new Tally(a.size)
    const t0 = now()
    const messages = await consumer.consume({ max_messages: pullBatchMessages })
    let lastProgress = t0
    await drain(
      messages,
      (m) => {
        lastProgress = now()
        tally.add(m.data, lastProgress)
      },
      () => tally.count >= a.count || now() - lastProgress > a.idleMaxMs,
      100,
    )
    await nc.close()
    return { count: tally.count, sum: tally.sum, badLength: tally.badLength, ms: tally.lastAt - t0 }
  },

  async groupMember(a: GroupArgs, ctl: GroupControl): Promise<GroupResult> {
    const nc = await conn(a.address)
    const js = nc.jetstream()
    const consumer = await js.consumers.get(a.stream, a.group)
    const tally = new Tally(a.size)
    ctl.ready({})
    await ctl.go
    const goAt = now()
    const messages = await consumer.consume({ max_messages: pullBatchMessages })
    let reported = 0
    const ticker = setInterval(() => {
      if (tally.count !== reported) ctl.progress((reported = tally.count))
    }, 50)
    try {
      await drain(
        messages,
        (m) => {
          tally.add(m.data, now())
          m.ack()
        },
        () => ctl.stopped() || now() > ctl.deadline,
        50,
      )
      if (!ctl.stopped()) throw new Error('the group member did not finish in time')
      await nc.flush()
    } finally {
      clearInterval(ticker)
    }
    await nc.close()
    return { count: tally.count, sum: tally.sum, badLength: tally.badLength, goAt, lastAt: tally.lastAt }
  },

  async latencyProduce(a: LatencyProduceArgs) {
    const nc = await conn(a.address)
    const js = nc.jetstream()
    const w = new Window(Number.MAX_SAFE_INTEGER)
    const sent = await steadyRate(a.rate, a.seconds, (seq) => w.track(js.publish(a.stream, latencyRecord(seq, now()))))
    await w.drain()
    await nc.close()
    return sent
  },

  async latencyConsume(a: LatencyConsumeArgs, ready: () => void): Promise<LatencyResult> {
    const nc: NatsConnection = await conn(a.address)
    const js = nc.jetstream()
    // From the start (sequence 1) of the (empty) stream, so that no record can be missed.
    const consumer = await js.consumers.get(a.stream)
    const messages = await consumer.consume({ max_messages: pullBatchMessages })
    const lat = new Latencies()
    let lastProgress = now()
    ready()
    await drain(
      messages,
      (m) => {
        lastProgress = now()
        lat.add(m.data, lastProgress)
      },
      () => lat.count >= a.count || now() - lastProgress > a.idleMaxMs,
      100,
    )
    await nc.close()
    return lat.result()
  },
}
