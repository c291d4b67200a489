/**
 * `npm run bench:groups` — consumer groups on a single-node broker, from one run on this machine:
 *
 * 1. rebalance time: a Stable group of 10 members on a 100-partition topic (broker setting
 *    group.initial.rebalance.delay.ms=0); per trial one member leaves (LeaveGroup) and rejoins
 *    (KIP-394: JoinGroup v5 without an id is answered MEMBER_ID_REQUIRED, then again with the
 *    id), then the other nine rejoin; the figure is the time from the last JoinGroup sent to
 *    the last SyncGroup answered, the leader having run the range assignor between the two.
 *    Raw protocol requests (the generated codecs over the client's Connection), so the time is
 *    the broker's, not a client library's. p50/p99 over the trials; every trial checks one
 *    new generation, ten members, and each of the 100 partitions assigned exactly once.
 * 2. offset commits: OffsetCommit v7 pipelined over several connections (in a child process)
 *    for a bounded time, each connection as one member of that Stable group (its member id
 *    and generation), committing only its own 100 partitions of a commit topic; one partition
 *    per request, then 100 per request. Every answer is checked error-free before it counts,
 *    then OffsetFetch must return, for every partition, the last offset committed to it.
 * 3. consuming a 12-partition topic of 100-byte records (produced first with kcat -P, or the
 *    peerlog producer without kcat): a group of 4 peerlog consumers (subscribe, range), each
 *    its own process, against one consumer on all partitions with assign(). The group's
 *    members pause what they are assigned until the group is Stable with every partition
 *    owned, then all start at once; the time runs from that start to the last member done.
 *    Both are verified: the count and a checksum of (partition, offset) over every record read
 *    equal the topic's, so each record was read exactly once.
 *
 * The broker runs from the bundle (dist/peerlog.mjs, built first) as its own process. Each
 * figure is the median of `TRIALS` trials (phase 1: the percentiles of all its rebalances).
 *
 * Options: --quick (fewer trials, smaller volumes), --phase rebalance|commits|consume
 * (repeatable; default all three), --commit-connections N (default 4), --commit-in-flight N
 * (per connection, default 32), --profile (the broker under `node --cpu-prof`; its top
 * self-time functions printed after the table), --dir DIR.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { assignorFor } from '../../src/client/assignors/index.ts'
import type { MemberSubscription } from '../../src/client/assignors/assignor.ts'
import { Connection } from '../../src/client/connection.ts'
import { Consumer } from '../../src/client/consumer.ts'
import { CONSUMER_PROTOCOL_TYPE, decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription } from '../../src/client/consumer-protocol.ts'
import type { TopicPartition } from '../../src/client/list-offsets.ts'
import { ErrorCode, errorName } from '../../src/protocol/kafka/error-codes.ts'
import { ApiKey, type JoinGroupResponse } from '../../src/protocol/kafka/generated/index.ts'
import * as harness from './harness.ts'
import { buildBundle, childProduce, endOffsetsEach, fmt, haveKcat, now, phase, printProfile, start, writeLines, type CpuProfile, type Proc } from './harness.ts'

const args = process.argv.slice(2)
const self = fileURLToPath(import.meta.url)

// The API versions driven raw: the highest each of peerlog's broker serves (JoinGroup v5 is
// the two-step join of KIP-394).
const FIND_COORDINATOR_V = 2
const JOIN_GROUP_V = 5
const SYNC_GROUP_V = 3
const HEARTBEAT_V = 3
const LEAVE_GROUP_V = 3
const DESCRIBE_GROUPS_V = 4
const OFFSET_COMMIT_V = 7
const OFFSET_FETCH_V = 5

const SESSION_TIMEOUT_MS = 30_000
const REBALANCE_TIMEOUT_MS = 30_000
/** Longer than a JoinGroup may be held (the rebalance timeout). */
const REQUEST_TIMEOUT_MS = REBALANCE_TIMEOUT_MS + 10_000
/** Partitions each commit connection owns in the commit topic. */
const COMMIT_RANGE_PARTITIONS = 100
/** Every child process is killed after this long. */
const CHILD_MAX_MS = 300_000
/** FindCoordinator is retried this long while __consumer_offsets is created. */
const COORDINATOR_WAIT_MAX_MS = 30_000
/** How long a rejoining member may take to be listed by DescribeGroups. */
const REJOIN_LISTED_MAX_MS = 10_000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const out = (o: object) => process.stdout.write(JSON.stringify(o) + '\n')

function hostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':')
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) }
}

function connectTo(address: string, maxInFlight: number): Promise<Connection> {
  return Connection.connect({ ...hostPort(address), clientId: 'bench-groups', requestTimeoutMs: REQUEST_TIMEOUT_MS, connectTimeoutMs: 10_000, maxInFlightRequestsCount: maxInFlight })
}

/** A well-mixed 32-bit hash of (partition, offset); summed over records it checks a set of them. */
function mix(partition: number, offset: number): number {
  let h = Math.imul(partition + 1, 0x9e3779b1) ^ offset ^ Math.floor(offset / 0x100000000)
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** The consumer settings of both phase-3 consumers (those of bench:broker's consumer). */
const consumeConfig = { 'auto.offset.reset': 'earliest', 'max.poll.records': 100_000, 'fetch.max.bytes': 50 << 20, 'max.partition.fetch.bytes': 8 << 20 } as const

// ---------------------------------------------------------------------------------------------
// Child processes: load generators (this script, re-run with --child).
if (args[0] === '--child') {
  const [, mode, address, topic, ...rest] = args as [string, string, string, string, ...string[]]
  if (mode === 'produce') {
    const [count, size] = rest.map(Number) as [number, number]
    await childProduce(address, topic, count, size)
  } else if (mode === 'commit') {
    await childCommit(address, topic, rest)
  } else if (mode === 'consume') {
    await childConsume(address, topic, rest)
  } else if (mode === 'group-consume') {
    await childGroupConsume(address, topic, rest)
  } else throw new Error(`unknown child mode ${mode}`)
  process.exit(0)
}

/**
 * OffsetCommit load: one connection per member id given; connection c commits partitions
 * [c * 100, c * 100 + 100) of `topic`, `perRequest` of them per request, `inFlight` requests
 * pipelined, until `seconds` have passed. Offsets grow per connection, and a connection's
 * requests are handled in order, so the last offset sent for a partition is the one stored.
 * Prints { ms, requests, offsets, last } (last: per partition, -1 if never committed).
 */
async function childCommit(address: string, topic: string, rest: string[]): Promise<void> {
  const [groupId, generationArg, perRequestArg, secondsArg, inFlightArg, ...memberIds] = rest as [string, string, string, string, string, ...string[]]
  const [generationId, perRequest, seconds, inFlight] = [generationArg, perRequestArg, secondsArg, inFlightArg].map(Number) as [number, number, number, number]
  const conns = await Promise.all(memberIds.map(() => connectTo(address, inFlight)))
  const last = new Array<number>(memberIds.length * COMMIT_RANGE_PARTITIONS).fill(-1)
  let requests = 0
  const t0 = now()
  const deadline = t0 + seconds * 1000
  let lastAnswer = t0
  await Promise.all(
    conns.map(async (conn, c) => {
      const memberId = memberIds[c]!
      let nextOffset = 0
      let cursor = 0
      const worker = async () => {
        while (now() < deadline) {
          const offset = nextOffset++
          const partitions = []
          for (let i = 0; i < perRequest; i++) {
            const p = c * COMMIT_RANGE_PARTITIONS + (cursor++ % COMMIT_RANGE_PARTITIONS)
            last[p] = offset
            partitions.push({ partitionIndex: p, committedOffset: BigInt(offset), committedLeaderEpoch: -1, committedMetadata: null })
          }
          const r = await conn.request(ApiKey.OffsetCommit, OFFSET_COMMIT_V, { groupId, generationIdOrMemberEpoch: generationId, memberId, groupInstanceId: null, topics: [{ name: topic, partitions }] })
          let answered = 0
          for (const t of r.topics) {
            for (const p of t.partitions) {
              if (p.errorCode !== ErrorCode.NONE) throw new Error(`OffsetCommit ${t.name}-${p.partitionIndex}: ${errorName(p.errorCode)}`)
              answered++
            }
          }
          if (answered !== perRequest) throw new Error(`OffsetCommit answered ${answered} partitions of ${perRequest}`)
          requests++
          lastAnswer = now()
        }
      }
      await Promise.all(Array.from({ length: inFlight }, worker))
    }),
  )
  const cpu = process.cpuUsage()
  for (const c of conns) c.close()
  out({ ms: lastAnswer - t0, requests, offsets: requests * perRequest, last, cpu: (cpu.user + cpu.system) / 1e6 })
}

/** Reads offsets [0, end) of every partition with assign(); prints { ms, count, sum }. */
async function childConsume(address: string, topic: string, rest: string[]): Promise<void> {
  const ends = rest[0]!.split(',').map(Number)
  const consumer = new Consumer({ 'bootstrap.servers': address, ...consumeConfig })
  const tps = ends.map((_, partition) => ({ topic, partition }))
  consumer.assign(tps)
  for (const tp of tps) await consumer.position(tp)
  const next = new Array<number>(ends.length).fill(0)
  let count = 0
  let sum = 0
  let idlePolls = 0
  const t0 = now()
  while (next.some((n, p) => n < ends[p]!) && idlePolls < 10) {
    const rs = await consumer.poll(1_000)
    idlePolls = rs.length === 0 ? idlePolls + 1 : 0
    for (const r of rs) {
      count++
      sum += mix(r.partition, r.offset)
      if (r.offset + 1 > next[r.partition]!) next[r.partition] = r.offset + 1
    }
  }
  const ms = now() - t0
  await consumer.close()
  out({ ms, count, sum })
}

/**
 * One member of the consuming group. It pauses what it is assigned and prints
 * {"ready": ...} for each (generation, assignment) it holds with known positions; at the
 * first SIGUSR2 it resumes, reads its partitions to their ends and prints {"done": ...};
 * it stays in the group (so nobody else's partitions move) until the second SIGUSR2.
 */
async function childGroupConsume(address: string, topic: string, rest: string[]): Promise<void> {
  const [groupId, endsArg] = rest as [string, string]
  const ends = endsArg.split(',').map(Number)
  const consumer = new Consumer({ 'bootstrap.servers': address, ...consumeConfig, 'group.id': groupId, 'enable.auto.commit': false, 'partition.assignment.strategy': 'range' })
  let go = false
  let goAt = 0
  let released = false
  process.on('SIGUSR2', () => {
    if (go) return void (released = true)
    go = true
    goAt = now()
    consumer.resume(consumer.assignment())
  })
  consumer.subscribe([topic], {
    onPartitionsAssigned: (tps) => {
      if (!go) consumer.pause(tps)
    },
  })
  const next = new Array<number>(ends.length).fill(0)
  let count = 0
  let sum = 0
  let doneAt = 0
  let reported = ''
  const deadline = now() + CHILD_MAX_MS
  while (!released) {
    if (now() > deadline) throw new Error('the group consumer did not finish in time')
    const rs = await consumer.poll(go && !doneAt ? 500 : 10)
    for (const r of rs) {
      count++
      sum += mix(r.partition, r.offset)
      if (r.offset + 1 > next[r.partition]!) next[r.partition] = r.offset + 1
    }
    const assigned = consumer.assignment().map((tp) => tp.partition).sort((a, b) => a - b)
    const generation = consumer.groupMetadata().generationId
    if (!go) {
      const key = `${generation}:${assigned.join(',')}`
      if (assigned.length > 0 && key !== reported) {
        for (const partition of assigned) await consumer.position({ topic, partition })
        reported = key
        out({ ready: { generation, partitions: assigned } })
      }
    } else if (!doneAt && assigned.every((p) => next[p]! >= ends[p]!)) {
      doneAt = now()
      out({ done: { goAt, doneAt, count, sum, generation, partitions: assigned } })
    }
  }
  await consumer.close()
}

// ---------------------------------------------------------------------------------------------
// Phase 1's raw group member.

/** One member of the benchmark group, driven with raw requests over its own connection. */
class Member {
  memberId = ''
  generation = -1
  assignment: TopicPartition[] = []
  /** When its last JoinGroup was written. */
  joinSentAt = 0
  /** When its last SyncGroup was answered. */
  syncAnsweredAt = 0

  constructor(
    readonly conn: Connection,
    readonly groupId: string,
    readonly topic: string,
    readonly partitions: number,
  ) {}

  /** JoinGroup; a MEMBER_ID_REQUIRED answer (KIP-394) is followed by the join with that id. */
  async join(): Promise<JoinGroupResponse> {
    const metadata = encodeSubscription({ topics: [this.topic], userData: null, ownedPartitions: [], generationId: -1, rackId: null })
    // Bound: the answer with the id, then the join with it.
    for (let attempt = 0; attempt < 2; attempt++) {
      this.joinSentAt = now()
      const r = await this.conn.request(ApiKey.JoinGroup, JOIN_GROUP_V, {
        groupId: this.groupId,
        sessionTimeoutMs: SESSION_TIMEOUT_MS,
        rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS,
        memberId: this.memberId,
        groupInstanceId: null,
        protocolType: CONSUMER_PROTOCOL_TYPE,
        protocols: [{ name: 'range', metadata }],
      })
      if (r.errorCode !== ErrorCode.MEMBER_ID_REQUIRED) return r
      if (this.memberId !== '') throw new Error(`JoinGroup with member id ${this.memberId} was answered MEMBER_ID_REQUIRED`)
      this.memberId = r.memberId
    }
    throw new Error('JoinGroup answered MEMBER_ID_REQUIRED twice')
  }

  /** SyncGroup for the generation `joined` answered; the leader sends the range assignment. */
  async sync(joined: JoinGroupResponse): Promise<number> {
    let assignments: { memberId: string; assignment: Uint8Array }[] = []
    if (joined.leader === this.memberId) {
      const subscriptions = new Map<string, MemberSubscription>()
      for (const m of joined.members) subscriptions.set(m.memberId, { memberId: m.memberId, groupInstanceId: m.groupInstanceId, ...decodeSubscription(m.metadata) })
      const plan = assignorFor(joined.protocolName).assign(new Map([[this.topic, this.partitions]]), subscriptions)
      assignments = [...plan].map(([memberId, partitions]) => ({ memberId, assignment: encodeAssignment({ partitions, userData: null }) }))
    }
    const r = await this.conn.request(ApiKey.SyncGroup, SYNC_GROUP_V, { groupId: this.groupId, generationId: joined.generationId, memberId: this.memberId, groupInstanceId: null, assignments })
    this.syncAnsweredAt = now()
    if (r.errorCode === ErrorCode.NONE) {
      this.generation = joined.generationId
      this.assignment = decodeAssignment(r.assignment).partitions
    }
    return r.errorCode
  }

  /** Join and sync until both succeed (as a client does through the errors of a forming group). */
  async joinAndSync(deadline: number): Promise<void> {
    for (let attempt = 0; attempt < 1_000 && now() < deadline; attempt++) {
      const joined = await this.join()
      if (joined.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) {
        this.memberId = ''
        continue
      }
      if (joined.errorCode === ErrorCode.REBALANCE_IN_PROGRESS) continue
      if (joined.errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) {
        // __consumer_offsets is still being loaded: a client backs off and retries.
        await sleep(50)
        continue
      }
      if (joined.errorCode !== ErrorCode.NONE) throw new Error(`JoinGroup: ${errorName(joined.errorCode)}`)
      const synced = await this.sync(joined)
      if (synced === ErrorCode.NONE) return
      if (synced === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = ''
      else if (synced !== ErrorCode.REBALANCE_IN_PROGRESS && synced !== ErrorCode.ILLEGAL_GENERATION) throw new Error(`SyncGroup: ${errorName(synced)}`)
    }
    throw new Error(`member ${this.memberId} did not join the group in time`)
  }

  async heartbeat(): Promise<number> {
    const r = await this.conn.request(ApiKey.Heartbeat, HEARTBEAT_V, { groupId: this.groupId, generationId: this.generation, memberId: this.memberId, groupInstanceId: null })
    return r.errorCode
  }

  async leave(): Promise<void> {
    const r = await this.conn.request(ApiKey.LeaveGroup, LEAVE_GROUP_V, { groupId: this.groupId, members: [{ memberId: this.memberId, groupInstanceId: null }] })
    const e = r.errorCode || r.members.find((m) => m.errorCode !== ErrorCode.NONE)?.errorCode || ErrorCode.NONE
    if (e !== ErrorCode.NONE) throw new Error(`LeaveGroup: ${errorName(e)}`)
    this.memberId = ''
    this.generation = -1
    this.assignment = []
  }
}

/** The coordinator's address for `groupId`, retried while __consumer_offsets is being created. */
async function findCoordinator(conn: Connection, groupId: string): Promise<string> {
  const deadline = now() + COORDINATOR_WAIT_MAX_MS
  for (;;) {
    const r = await conn.request(ApiKey.FindCoordinator, FIND_COORDINATOR_V, { key: groupId, keyType: 0 })
    if (r.errorCode === ErrorCode.NONE) return `${r.host}:${r.port}`
    if (r.errorCode !== ErrorCode.COORDINATOR_NOT_AVAILABLE && r.errorCode !== ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) throw new Error(`FindCoordinator: ${errorName(r.errorCode)}`)
    if (now() > deadline) throw new Error(`FindCoordinator: still ${errorName(r.errorCode)} after ${COORDINATOR_WAIT_MAX_MS} ms`)
    await sleep(50)
  }
}

/**
 * Brings every member into one Stable generation: each joins and syncs, then heartbeats and
 * rejoins when told to (a member that synced an earlier generation learns of the next one
 * from its heartbeat), until all heartbeat fine in the same generation.
 */
async function formGroup(members: Member[], maxMs: number): Promise<void> {
  const deadline = now() + maxMs
  let done = false
  let failure: Error | null = null
  const steady = new Map<Member, number>()
  const loops = members.map(async (m) => {
    let needJoin = true
    while (!done) {
      if (now() > deadline) throw new Error(`the group did not become Stable within ${maxMs} ms`)
      if (needJoin) {
        steady.delete(m)
        await m.joinAndSync(deadline)
        needJoin = false
      }
      const e = await m.heartbeat()
      if (e === ErrorCode.NONE) steady.set(m, m.generation)
      else if (e === ErrorCode.REBALANCE_IN_PROGRESS || e === ErrorCode.ILLEGAL_GENERATION || e === ErrorCode.UNKNOWN_MEMBER_ID) {
        if (e === ErrorCode.UNKNOWN_MEMBER_ID) m.memberId = ''
        needJoin = true
        continue
      } else throw new Error(`Heartbeat: ${errorName(e)}`)
      await sleep(20)
    }
  })
  for (const l of loops) l.catch((e: Error) => (failure ??= e))
  while (!done && failure === null) {
    if (now() > deadline) failure = new Error(`the group did not become Stable within ${maxMs} ms`)
    const gens = new Set(steady.values())
    if (steady.size === members.length && gens.size === 1) done = true
    else await sleep(20)
  }
  done = true
  await Promise.allSettled(loops)
  if (failure) throw failure
}

/** Throws unless the members hold the same generation and every partition exactly once. */
function checkAssignment(members: Member[], partitions: number): void {
  const seen = new Array<number>(partitions).fill(0)
  for (const m of members) {
    if (m.generation !== members[0]!.generation) throw new Error(`members in generations ${m.generation} and ${members[0]!.generation}`)
    for (const tp of m.assignment) seen[tp.partition]!++
  }
  const bad = seen.findIndex((n) => n !== 1)
  if (bad >= 0) throw new Error(`partition ${bad} is assigned to ${seen[bad]} members`)
}

// ---------------------------------------------------------------------------------------------
// The parent.
const quick = args.includes('--quick')
const profile = args.includes('--profile')
const phases = new Set(args.flatMap((a, i) => (args[i - 1] === '--phase' ? [a] : [])))
const runs = (p: string) => phases.size === 0 || phases.has(p)
const dirArg = args.indexOf('--dir')
const base = mkdtempSync(join(dirArg >= 0 ? args[dirArg + 1]! : tmpdir(), 'peerlog-bench-groups-'))
process.on('exit', () => rmSync(base, { recursive: true, force: true }))

const MEMBERS = 10
const GROUP_PARTITIONS = 100
const REBALANCES = quick ? 20 : 40
const FORM_MAX_MS = 60_000
const TRIALS = quick ? 1 : 3
const COMMIT_SECONDS = 5
const option = (name: string, dflt: number) => {
  const i = args.indexOf(name)
  const v = i >= 0 ? Number(args[i + 1]) : dflt
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} takes a positive integer`)
  return v
}
const COMMIT_CONNECTIONS = Math.min(MEMBERS, option('--commit-connections', 4))
const COMMIT_IN_FLIGHT = option('--commit-in-flight', 32)
const CONSUME_PARTITIONS = 12
const CONSUME_RECORDS = quick ? 500_000 : 2_000_000
const GROUP_CONSUMERS = 4
const BROKER_SETTINGS = ['group.initial.rebalance.delay.ms=0']

const runChild = <T>(what: string, argv: string[], timeoutMs = CHILD_MAX_MS) => harness.runChild<T>(self, what, argv, timeoutMs)

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

/** The nearest-rank percentile. */
function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!
}

interface Row {
  what: string
  figure: string
  target: string
  /** The broker's CPU time over the wall time of the row's trials, in % of one core. */
  brokerCpu: number
}

/** Broker CPU seconds and wall seconds, summed over the `timed` runs of one row. */
class CpuMeter {
  cpu = 0
  wall = 0
  async timed<T>(broker: Proc, fn: () => Promise<T>): Promise<T> {
    const t0 = now()
    const { result, cpu } = await phase(broker, fn)
    this.cpu += cpu
    this.wall += (now() - t0) / 1000
    return result
  }
  get percent(): number {
    return (100 * this.cpu) / this.wall
  }
}
const rows: Row[] = []
const notes: string[] = []

/** The lines a child printed so far that are JSON objects. */
function jsonLines(p: Proc): Record<string, unknown>[] {
  return p
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

async function main() {
  await buildBundle()
  const kcat = await haveKcat()
  const cpuList = cpus()
  console.log(`peerlog bench:groups — ${cpuList.length} cores, ${cpuList[0]?.model ?? '?'}, node ${process.version}, ${new Date().toISOString().slice(0, 10)}; ${quick ? 'quick run' : 'full run'}; broker: node dist/peerlog.mjs (its own process), --set ${BROKER_SETTINGS.join(' --set ')}`)

  const port = 19_000 + Math.floor(Math.random() * 20_000)
  const address = `127.0.0.1:${port}`
  const profDir = join(base, 'prof')
  const broker = await harness.startBrokerProcess(base, 'main', port, profile ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [], BROKER_SETTINGS.flatMap((s) => ['--set', s]))
  try {
    await run(broker, address, kcat)
  } finally {
    broker.kill('SIGTERM')
    await broker.exited
  }
  if (profile) {
    const f = readdirSync(profDir).find((x) => x.endsWith('.cpuprofile'))
    if (!f) throw new Error('no CPU profile written')
    printProfile(JSON.parse(readFileSync(join(profDir, f), 'utf8')) as CpuProfile, `the whole run (${phases.size ? [...phases].join(', ') : 'all phases'})`)
  }
}

async function run(broker: Proc, address: string, kcat: boolean) {
  const groupId = 'bench-group'
  const groupTopic = 'group-100'
  const commitTopic = 'commits'
  if (runs('rebalance') || runs('commits')) {
    await harness.createTopics(address, [groupTopic], GROUP_PARTITIONS)
    await harness.createTopics(address, [commitTopic], COMMIT_CONNECTIONS * COMMIT_RANGE_PARTITIONS)
    const side = await connectTo(address, 1)
    const coordinator = await findCoordinator(side, groupId)
    const members = await Promise.all(Array.from({ length: MEMBERS }, async () => new Member(await connectTo(coordinator, 2), groupId, groupTopic, GROUP_PARTITIONS)))
    await formGroup(members, FORM_MAX_MS)
    checkAssignment(members, GROUP_PARTITIONS)

    // Heartbeats between trials and during the commit load, so no session expires.
    let keepalive: Promise<void> = Promise.resolve()
    let keepaliveError: Error | null = null
    let keepaliveOn = true
    const beat = setInterval(() => {
      if (!keepaliveOn) return
      keepalive = Promise.all(members.map((m) => m.heartbeat())).then(
        (es) => {
          const e = es.find((x) => x !== ErrorCode.NONE)
          if (e !== undefined && keepaliveOn) keepaliveError ??= new Error(`Heartbeat: ${errorName(e)}`)
        },
        (e: Error) => void (keepaliveError ??= e),
      )
    }, 1_000)
    const quiet = async () => {
      keepaliveOn = false
      await keepalive
      if (keepaliveError) throw keepaliveError
    }
    try {
      if (runs('rebalance')) {
        await quiet()
        const times: number[] = []
        const meter = new CpuMeter()
        await meter.timed(broker, async () => {
          for (let trial = 0; trial < REBALANCES; trial++) times.push(await rebalanceTrial(members, side, trial))
        })
        keepaliveOn = true
        const p50 = percentile(times, 0.5)
        const p99 = percentile(times, 0.99)
        rows.push({
          what: `rebalance, ${MEMBERS} members, ${GROUP_PARTITIONS} partitions`,
          figure: `p50 ${fmt(p50, 1)} ms, p99 ${fmt(p99, 1)} ms (${times.length} rebalances, max ${fmt(Math.max(...times), 1)} ms)`,
          target: `p50 ≤ 200 ms: ${p50 <= 200 ? 'met' : 'MISSED'}`,
          brokerCpu: meter.percent,
        })
      }
      if (runs('commits')) {
        for (const perRequest of [1, COMMIT_RANGE_PARTITIONS]) {
          const results: { rate: number; offsets: number; cpu: number }[] = []
          const meter = new CpuMeter()
          for (let trial = 0; trial < TRIALS; trial++) {
            if (keepaliveError) throw keepaliveError
            await meter.timed(broker, async () => {
              const generation = members[0]!.generation
              const ids = members.slice(0, COMMIT_CONNECTIONS).map((m) => m.memberId)
              const r = await runChild<{ ms: number; requests: number; offsets: number; last: number[]; cpu: number }>('the commit load', ['commit', address, commitTopic, groupId, String(generation), String(perRequest), String(COMMIT_SECONDS), String(COMMIT_IN_FLIGHT), ...ids])
              await checkCommitted(side, groupId, commitTopic, r.last)
              results.push({ rate: r.requests / (r.ms / 1000), offsets: r.offsets / (r.ms / 1000), cpu: r.cpu / (r.ms / 1000) })
            })
          }
          const rate = median(results.map((x) => x.rate))
          const offsets = median(results.map((x) => x.offsets))
          rows.push({
            what: `offset commits, ${perRequest} partition${perRequest === 1 ? '' : 's'} each`,
            figure: `${fmt(rate)} commits/s, ${fmt(offsets)} offsets/s (load: ${fmt(100 * median(results.map((x) => x.cpu)))}% of a core)`,
            target: perRequest === 1 ? `≥ 20,000 commits/s: ${rate >= 20_000 ? 'met' : 'MISSED'}` : '',
            brokerCpu: meter.percent,
          })
        }
      }
      await quiet()
    } finally {
      clearInterval(beat)
      keepaliveOn = false
      await Promise.allSettled(members.map((m) => m.leave()))
      for (const m of members) m.conn.close()
      side.close()
    }
  }
  if (runs('consume')) await consumePhase(broker, address, kcat)
  printTable(kcat)
}

/**
 * One rebalance of the Stable group: a member leaves and rejoins, the others rejoin; returns
 * the milliseconds from the last JoinGroup written to the last SyncGroup answered.
 */
async function rebalanceTrial(members: Member[], side: Connection, trial: number): Promise<number> {
  const generation = members[0]!.generation
  const leaver = members[trial % members.length]!
  const groupId = leaver.groupId
  await leaver.leave()
  // The leaver rejoins first, as in life (the others learn of the rebalance only at their next
  // heartbeat), so that the join completes once, with all ten members; its join is held until
  // the others have joined, so wait until the group lists it.
  const joins = new Map<Member, Promise<JoinGroupResponse>>([[leaver, leaver.join()]])
  const waitMax = now() + REJOIN_LISTED_MAX_MS
  for (;;) {
    const d = await side.request(ApiKey.DescribeGroups, DESCRIBE_GROUPS_V, { groups: [groupId], includeAuthorizedOperations: false })
    const g = d.groups[0]
    if (g && leaver.memberId !== '' && g.members.some((m) => m.memberId === leaver.memberId)) break
    if (now() > waitMax) throw new Error(`the rejoining member is not listed by DescribeGroups after ${REJOIN_LISTED_MAX_MS} ms (state ${g?.groupState}, ${g?.members.length} members)`)
    await sleep(2)
  }
  for (const m of members) if (m !== leaver) joins.set(m, m.join())
  const lastJoinAt = Math.max(...members.map((m) => m.joinSentAt))
  const synced = await Promise.all(
    members.map(async (m) => {
      const joined = await joins.get(m)!
      if (joined.errorCode !== ErrorCode.NONE) throw new Error(`trial ${trial}: JoinGroup: ${errorName(joined.errorCode)}`)
      if (joined.generationId <= generation) throw new Error(`trial ${trial}: generation ${joined.generationId} after ${generation}`)
      if (joined.leader === m.memberId && joined.members.length !== members.length) throw new Error(`trial ${trial}: the leader got ${joined.members.length} members`)
      return m.sync(joined)
    }),
  )
  const lastSyncAt = Math.max(...members.map((m) => m.syncAnsweredAt))
  const e = synced.find((x) => x !== ErrorCode.NONE)
  if (e !== undefined) throw new Error(`trial ${trial}: SyncGroup: ${errorName(e)}`)
  checkAssignment(members, leaver.partitions)
  return lastSyncAt - lastJoinAt
}

/** Throws unless OffsetFetch returns `last[p]` for every partition p committed to. */
async function checkCommitted(conn: Connection, groupId: string, topic: string, last: number[]): Promise<void> {
  const r = await conn.request(ApiKey.OffsetFetch, OFFSET_FETCH_V, { groupId, topics: [{ name: topic, partitionIndexes: last.map((_, p) => p) }] })
  if (r.errorCode !== ErrorCode.NONE) throw new Error(`OffsetFetch: ${errorName(r.errorCode)}`)
  const got = new Map<number, number>()
  for (const t of r.topics) {
    for (const p of t.partitions) {
      if (p.errorCode !== ErrorCode.NONE) throw new Error(`OffsetFetch ${t.name}-${p.partitionIndex}: ${errorName(p.errorCode)}`)
      got.set(p.partitionIndex, Number(p.committedOffset))
    }
  }
  last.forEach((offset, p) => {
    if (offset >= 0 && got.get(p) !== offset) throw new Error(`OffsetFetch ${topic}-${p}: ${got.get(p)}, the last commit was ${offset}`)
  })
}

async function consumePhase(broker: Proc, address: string, kcat: boolean) {
  const topic = 'records-100'
  await harness.createTopics(address, [topic], CONSUME_PARTITIONS)
  if (kcat) {
    const file = join(base, `${topic}.txt`)
    await writeLines(file, CONSUME_RECORDS, 100)
    await harness.kcatProduce(address, topic, file, CONSUME_RECORDS, CONSUME_PARTITIONS)
    rmSync(file)
  } else {
    const r = await runChild<{ failed: number }>('peerlog producer', ['produce', address, topic, String(CONSUME_RECORDS), '100'])
    if (r.failed) throw new Error(`peerlog producer: ${r.failed} failed sends`)
  }
  const ends = await endOffsetsEach(address, topic, CONSUME_PARTITIONS)
  const total = ends.reduce((a, b) => a + b, 0)
  if (total !== CONSUME_RECORDS) throw new Error(`the topic holds ${total} records, ${CONSUME_RECORDS} were produced`)
  let expectedSum = 0
  ends.forEach((end, p) => {
    for (let o = 0; o < end; o++) expectedSum += mix(p, o)
  })
  const check = (what: string, count: number, sum: number) => {
    if (count !== total || sum !== expectedSum) throw new Error(`${what} read ${count} records of ${total} (checksum ${sum}, expected ${expectedSum})`)
  }
  const groupSupported = typeof (Consumer.prototype as { subscribe?: unknown }).subscribe === 'function'
  if (!groupSupported) notes.push('the group-consumer rows are skipped: Consumer.subscribe is not a function yet')

  const single: number[] = []
  const group: number[] = []
  const singleMeter = new CpuMeter()
  const groupMeter = new CpuMeter()
  for (let trial = 0; trial < TRIALS; trial++) {
    const r = await singleMeter.timed(broker, () => runChild<{ ms: number; count: number; sum: number }>('the assign() consumer', ['consume', address, topic, ends.join(',')]))
    check('the assign() consumer', r.count, r.sum)
    single.push(total / (r.ms / 1000))
    if (groupSupported) group.push(await groupTrial(broker, groupMeter, address, topic, ends, `bench-consume-${trial}`, check))
  }
  const s = median(single)
  rows.push({ what: `consume 100 B, 1 consumer (assign)`, figure: `${fmt(s)} records/s`, target: '', brokerCpu: singleMeter.percent })
  if (groupSupported) {
    const g = median(group)
    rows.push({ what: `consume 100 B, group of ${GROUP_CONSUMERS} (subscribe)`, figure: `${fmt(g)} records/s = ${fmt(g / s, 2)} × the single consumer`, target: '', brokerCpu: groupMeter.percent })
  }
}

/** One run of the consuming group; returns its records/s. */
async function groupTrial(broker: Proc, meter: CpuMeter, address: string, topic: string, ends: number[], groupId: string, check: (what: string, count: number, sum: number) => void): Promise<number> {
  const procs = Array.from({ length: GROUP_CONSUMERS }, () => start(process.execPath, [self, '--child', 'group-consume', address, topic, groupId, ends.join(',')]))
  const killer = setTimeout(() => procs.forEach((p) => p.kill('SIGKILL')), CHILD_MAX_MS)
  let exited = false
  const exits = Promise.all(procs.map((p) => p.exited)).finally(() => (exited = true))
  try {
    const whenAll = async <T>(what: string, maxMs: number, pick: (lines: Record<string, unknown>[]) => T | undefined, ok: (xs: T[]) => boolean): Promise<T[]> => {
      const deadline = now() + maxMs
      for (;;) {
        const xs = procs.map((p) => pick(jsonLines(p)))
        if (xs.every((x) => x !== undefined) && ok(xs as T[])) return xs as T[]
        for (const p of procs) if ((await Promise.race([p.exited, sleep(0).then(() => 'running')])) !== 'running') throw new Error(`a group consumer exited before ${what}: ${p.stderr().slice(-2000)}`)
        if (now() > deadline) throw new Error(`the group consumers were not ${what} within ${maxMs} ms: ${procs.map((p) => p.stdout().trim().split('\n').pop()).join(' | ')}`)
        await sleep(20)
      }
    }
    type Ready = { generation: number; partitions: number[] }
    const ready = await whenAll<Ready>(
      'all assigned',
      FORM_MAX_MS,
      (ls) => ls.filter((l) => l.ready).map((l) => l.ready as Ready).pop(),
      (xs) => new Set(xs.map((x) => x.generation)).size === 1 && xs.flatMap((x) => x.partitions).sort((a, b) => a - b).join(',') === ends.map((_, p) => p).join(','),
    )
    type Done = { goAt: number; doneAt: number; count: number; sum: number; generation: number; partitions: number[] }
    const done = await meter.timed(broker, () => {
      for (const p of procs) p.kill('SIGUSR2')
      return whenAll<Done>('done', CHILD_MAX_MS, (ls) => ls.find((l) => l.done)?.done as Done | undefined, () => true)
    })
    for (const p of procs) p.kill('SIGUSR2')
    const codes = await exits
    codes.forEach((code, i) => {
      if (code !== 0) throw new Error(`a group consumer exited ${code}: ${procs[i]!.stderr().slice(-2000)}`)
    })
    done.forEach((d, i) => {
      if (d.generation !== ready[i]!.generation) throw new Error(`the group rebalanced while consuming (generation ${ready[i]!.generation} → ${d.generation})`)
    })
    check(`the group of ${GROUP_CONSUMERS}`, done.reduce((n, d) => n + d.count, 0), done.reduce((n, d) => n + d.sum, 0))
    const ms = Math.max(...done.map((d) => d.doneAt)) - Math.min(...done.map((d) => d.goAt))
    return ends.reduce((a, b) => a + b, 0) / (ms / 1000)
  } finally {
    clearTimeout(killer)
    if (!exited) procs.forEach((p) => p.kill('SIGKILL'))
  }
}

function printTable(kcat: boolean) {
  console.log('')
  console.log(['what'.padEnd(40), 'figure'.padEnd(72), 'broker CPU'.padStart(10), '  target'].join(' '))
  for (const r of rows) console.log([r.what.padEnd(40), r.figure.padEnd(72), `${fmt(r.brokerCpu)}%`.padStart(10), `  ${r.target}`].join(' '))
  for (const n of notes) console.log(`note: ${n}`)
  console.log('')
  console.log(`settings (broker CPU: its CPU time over the wall time of the row's trials, in % of one core; throughput figures: the median of ${TRIALS} trial${TRIALS === 1 ? '' : 's'}):`)
  if (runs('rebalance')) {
    console.log(
      `  rebalance: ${MEMBERS} members driven raw over their own connections (FindCoordinator v${FIND_COORDINATOR_V}, JoinGroup v${JOIN_GROUP_V}, SyncGroup v${SYNC_GROUP_V}, LeaveGroup v${LEAVE_GROUP_V}), the range assignor, ` +
        `session.timeout.ms=${SESSION_TIMEOUT_MS}, rebalance.timeout.ms=${REBALANCE_TIMEOUT_MS}; ${REBALANCES} rebalances, each one member leaving and rejoining; time from the last JoinGroup written to the last SyncGroup answered`,
    )
  }
  if (runs('commits')) {
    console.log(
      `  commits: OffsetCommit v${OFFSET_COMMIT_V} from ${COMMIT_CONNECTIONS} connections × ${COMMIT_IN_FLIGHT} in flight (one child process), each as one member of the Stable group, for ${COMMIT_SECONDS} s per trial; ` +
        `${COMMIT_CONNECTIONS * COMMIT_RANGE_PARTITIONS}-partition commit topic, ${COMMIT_RANGE_PARTITIONS} partitions per connection; checked with OffsetFetch v${OFFSET_FETCH_V}`,
    )
  }
  if (runs('consume')) {
    console.log(
      `  consume: ${fmt(CONSUME_RECORDS)} records of 100 B on ${CONSUME_PARTITIONS} partitions, produced by ${kcat ? 'kcat -P' : 'the peerlog producer'}; a group of ${GROUP_CONSUMERS} consumer processes (subscribe, range, enable.auto.commit=false) against one process with assign(); ` +
        `both: max.poll.records=100000, fetch.max.bytes=50 MiB, max.partition.fetch.bytes=8 MiB`,
    )
  }
}

await main().catch((e: Error) => {
  console.error(`bench:groups failed: ${e.message}`)
  process.exitCode = 1
})
