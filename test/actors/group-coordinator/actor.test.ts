// The group-coordinator actor shell: writes to a (fake) replica, its timer, reloads, unload and removal.
import { dispatch, type Ref, spawn, start, stop } from 'nact'
import t, { type Test } from 'tap'
import {
  clockTimers,
  groupActorStep,
  type GroupActorDeps,
  type GroupActorMessage,
  type GroupActorState,
  type GroupTimers,
  initialActorState,
  spawnGroupActor,
} from '../../../actors/group-coordinator/actor.ts'
import type { GroupRequest, JoinGroupInput } from '../../../actors/group-coordinator/messages.ts'
import { emptyGroup, groupConfigFrom, type GroupState, replay } from '../../../actors/group-coordinator/state.ts'
import type { ProduceReply, ReplicaMessage } from '../../../actors/partition-replica/messages.ts'
import { DEFAULT_BROKER_CONFIG } from '../../../src/broker/broker-config.ts'
import { decodeGroupRecord, type GroupRecord } from '../../../src/group/group-records.ts'
import { ErrorCode } from '../../../src/protocol/kafka/error-codes.ts'
import { iterateRecordBatches } from '../../../src/record/record-batch.ts'
import { ManualClock, systemClock } from '../../../src/runtime/clock.ts'
import { RecordingLogger } from '../../../src/runtime/logger.ts'

/** Timers that fire only when the test says so. */
class ManualTimers implements GroupTimers {
  readonly scheduled: { at: number; fire: () => void; cancelled: boolean }[] = []
  schedule(at: number, fire: () => void): () => void {
    const timer = { at, fire, cancelled: false }
    this.scheduled.push(timer)
    return () => {
      timer.cancelled = true
    }
  }
  live() {
    return this.scheduled.filter((x) => !x.cancelled)
  }
  fireDue(now: number): number {
    let fired = 0
    for (const timer of this.live()) {
      if (timer.at > now) continue
      timer.cancelled = true
      timer.fire()
      fired++
    }
    return fired
  }
}

interface Produced {
  records: GroupRecord[]
  acks: number
  timeoutMs: number
}

/** A replica actor that records what is produced to it and answers (now, or when released). */
function fakeReplica(system: Ref<never>, name = 'replica') {
  const produced: Produced[] = []
  const held: (() => void)[] = []
  /** `refuse`: the error for a batch of these records, instead of `errorCode` (as a log refuses a batch too large). */
  const ctl = { hold: false, errorCode: ErrorCode.NONE as number, refuse: null as ((records: GroupRecord[]) => number) | null, produced, held }
  const ref = spawn(system, (s: number, msg: ReplicaMessage) => {
    if (msg.type === 'produce') {
      const records: GroupRecord[] = []
      for (const b of iterateRecordBatches(msg.records)) for (const r of b.records) records.push(decodeGroupRecord(r.key!, r.value))
      produced.push({ records, acks: msg.acks, timeoutMs: msg.timeoutMs })
      const errorCode = ctl.refuse?.(records) ?? ctl.errorCode
      const answer = () => dispatch(msg.replyTo, { errorCode, errorMessage: null, baseOffset: errorCode === 0 ? s : -1, logAppendTime: -1, logStartOffset: 0 } satisfies ProduceReply)
      if (ctl.hold) held.push(answer)
      else answer()
      return s + records.length
    }
    return s
  }, name, { initialState: 0 }) as Ref<ReplicaMessage>
  return { ref, ctl }
}

const BOUND_MS = 5_000
/** Waits for `p`, failing the test past BOUND_MS; meanwhile fires the group's due timers. */
async function settle<T>(p: Promise<T>, timers?: ManualTimers, clock?: ManualClock): Promise<T> {
  let done = false
  const out = p.finally(() => (done = true))
  for (let i = 0; i < BOUND_MS / 5 && !done; i++) {
    if (timers && clock) timers.fireDue(clock.now())
    await new Promise((r) => setTimeout(r, 5))
  }
  if (!done) throw new Error(`no answer within ${BOUND_MS} ms`)
  return out
}

/** Waits until `cond` holds (bounded). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < BOUND_MS / 5; i++) {
    if (cond()) return
    await new Promise((r) => setTimeout(r, 5))
  }
  throw new Error(`never: ${what}`)
}

function request<R>(ref: Ref<GroupActorMessage>, build: (reply: (r: R) => void) => GroupRequest): Promise<R> {
  return new Promise<R>((resolve) => dispatch(ref, build(resolve)))
}

const commit = (groupId: string, offset: number, partition = 0) =>
  (reply: (r: any) => void): GroupRequest => ({
    type: 'commit',
    input: { groupId, generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1, topics: [{ name: 't', partitions: [{ partition, offset, leaderEpoch: -1, metadata: '' }] }] },
    reply,
  })
const fetchOffsets = (groupId: string) => (reply: (r: any) => void): GroupRequest => ({ type: 'fetch-offsets', input: { groupId, topics: [{ name: 't', partitions: [0] }] }, reply })
const describe = (reply: (r: any) => void): GroupRequest => ({ type: 'describe', reply })
const joinInput = (groupId: string): JoinGroupInput => ({
  groupId,
  memberId: '',
  groupInstanceId: null,
  clientId: 'c',
  clientHost: '/127.0.0.1',
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 10_000,
  protocolType: 'consumer',
  protocols: [{ name: 'range', metadata: new Uint8Array([1, 2, 3]) }],
  requireKnownMemberId: false,
})

function setup(t: Test, overrides: Partial<typeof DEFAULT_BROKER_CONFIG> = {}) {
  const system = start()
  t.teardown(() => stop(system))
  const clock = new ManualClock()
  const timers = new ManualTimers()
  const logger = new RecordingLogger()
  const replica = fakeReplica(system)
  const calls = { loads: 0, removed: 0, stopped: 0, rerouted: [] as GroupRequest[] }
  let loadResult: () => Promise<GroupState> = async () => emptyGroup('g')
  const brokerConfig = { ...DEFAULT_BROKER_CONFIG, 'group.initial.rebalance.delay.ms': 0, ...overrides }
  const deps: GroupActorDeps = {
    groupId: 'g',
    config: groupConfigFrom(brokerConfig),
    clock,
    timers,
    logger,
    commitTimeoutMs: brokerConfig['offsets.commit.timeout.ms'],
    replica: () => replica.ref,
    load: () => {
      calls.loads++
      return loadResult()
    },
    onRemoved: () => calls.removed++,
    reroute: (msg) => calls.rerouted.push(msg),
    onStopped: () => calls.stopped++,
  }
  return {
    system,
    clock,
    timers,
    logger,
    replica,
    calls,
    deps,
    setLoad: (f: () => Promise<GroupState>) => (loadResult = f),
    spawnGroup: (state: GroupState = emptyGroup('g')) => spawnGroupActor(system, 'group-g', deps, state),
  }
}

t.test('an offset commit is appended as one acks=all batch and answered once written', async (t) => {
  const { replica, spawnGroup } = setup(t)
  const ref = spawnGroup()
  const answer = await settle(request<any>(ref, commit('g', 42)))
  t.same(answer, { topics: [{ name: 't', partitions: [{ partition: 0, errorCode: ErrorCode.NONE }] }] })
  t.equal(replica.ctl.produced.length, 1)
  const [p] = replica.ctl.produced
  t.equal(p!.acks, -1)
  t.equal(p!.timeoutMs, DEFAULT_BROKER_CONFIG['offsets.commit.timeout.ms'], 'the write waits offsets.commit.timeout.ms for the in-sync replicas')
  t.match(p!.records, [{ type: 'offset-commit', group: 'g', topic: 't', partition: 0, value: { offset: 42 } }])
  const fetched = await settle(request<any>(ref, fetchOffsets('g')))
  t.match(fetched, { errorCode: 0, topics: [{ name: 't', partitions: [{ partition: 0, offset: 42, errorCode: 0 }] }] })
})

t.test('a write in flight does not block the group, and writes reach the replica in the order asked', async (t) => {
  const { replica, spawnGroup } = setup(t)
  replica.ctl.hold = true
  const ref = spawnGroup()
  const first = request<any>(ref, commit('g', 1))
  const second = request<any>(ref, commit('g', 2, 1))
  await until(() => replica.ctl.produced.length === 1, 'the first write dispatched')
  const described = await settle(request<any>(ref, describe))
  t.equal(described.errorCode, ErrorCode.NONE, 'answered while a write is in flight')
  let answered = 0
  void first.then(() => answered++)
  void second.then(() => answered++)
  await new Promise((r) => setTimeout(r, 20))
  t.equal(answered, 0, 'a commit is answered only once written')
  t.equal(replica.ctl.produced.length, 1, 'the second write waits for the first')
  for (const release of replica.ctl.held.splice(0)) release()
  t.match(await settle(first), { topics: [{ partitions: [{ errorCode: 0 }] }] })
  await until(() => replica.ctl.produced.length === 2, 'the second write dispatched')
  t.equal(answered, 1, 'the second commit waits for its own write')
  for (const release of replica.ctl.held.splice(0)) release()
  t.match(await settle(second), { topics: [{ partitions: [{ errorCode: 0 }] }] })
  t.same(replica.ctl.produced.map((p) => (p.records[0] as { value: { offset: number } }).value.offset), [1, 2], 'in order')
})

t.test('writes asked for while one is in flight go to the replica together, in order, each answered once written', async (t) => {
  const { replica, spawnGroup } = setup(t)
  replica.ctl.hold = true
  const ref = spawnGroup()
  const first = request<any>(ref, commit('g', 1))
  await until(() => replica.ctl.produced.length === 1, 'the first write dispatched')
  const waiting = [2, 3, 4].map((offset) => request<any>(ref, commit('g', offset, offset)))
  await settle(request<any>(ref, describe)) // the three commits were handled
  t.equal(replica.ctl.produced.length, 1, 'nothing more is sent while the first write is in flight')
  for (const release of replica.ctl.held.splice(0)) release()
  await settle(first)
  await until(() => replica.ctl.produced.length === 2, 'the waiting writes dispatched')
  t.match(replica.ctl.produced[1]!.records, [{ partition: 2, value: { offset: 2 } }, { partition: 3, value: { offset: 3 } }, { partition: 4, value: { offset: 4 } }], 'one batch, in the order asked')
  let answered = 0
  for (const w of waiting) void w.then(() => answered++)
  await new Promise((r) => setTimeout(r, 20))
  t.equal(answered, 0, 'none is answered before the batch is written')
  for (const release of replica.ctl.held.splice(0)) release()
  for (const w of waiting) t.match(await settle(w), { topics: [{ partitions: [{ errorCode: 0 }] }] })
  const fetched = await settle(request<any>(ref, (reply) => ({ type: 'fetch-offsets', input: { groupId: 'g', topics: null }, reply })))
  t.same(
    fetched.topics[0].partitions.map((p: { partition: number; offset: number }) => [p.partition, p.offset]),
    [[0, 1], [2, 2], [3, 3], [4, 4]],
  )
})

t.test("a failed batch fails every commit in it with Kafka's mapping; the group goes on and the next batch is written", async (t) => {
  const { replica, spawnGroup, calls } = setup(t)
  replica.ctl.hold = true
  const ref = spawnGroup()
  const first = request<any>(ref, commit('g', 1))
  await until(() => replica.ctl.produced.length === 1, 'the first write dispatched')
  const batched = [2, 3].map((offset) => request<any>(ref, commit('g', offset, offset)))
  await settle(request<any>(ref, describe)) // both commits were handled
  replica.ctl.errorCode = ErrorCode.NOT_ENOUGH_REPLICAS // the answer to the next produce
  for (const release of replica.ctl.held.splice(0)) release()
  await settle(first)
  await until(() => replica.ctl.produced.length === 2, 'the batch dispatched')
  const next = request<any>(ref, commit('g', 9, 9))
  await settle(request<any>(ref, describe))
  replica.ctl.errorCode = ErrorCode.NONE
  for (const release of replica.ctl.held.splice(0)) release()
  const [a, b] = await Promise.all(batched.map((w) => settle(w)))
  t.equal(a.topics[0].partitions[0].errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE, 'Kafka maps NOT_ENOUGH_REPLICAS so')
  t.equal(b.topics[0].partitions[0].errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE, 'each write of the batch')
  await until(() => replica.ctl.produced.length === 3, 'the write behind the batch dispatched')
  for (const release of replica.ctl.held.splice(0)) release()
  t.equal((await settle(next)).topics[0].partitions[0].errorCode, ErrorCode.NONE, 'the write behind the batch is written')
  const fetched = await settle(request<any>(ref, (reply) => ({ type: 'fetch-offsets', input: { groupId: 'g', topics: null }, reply })))
  t.same(
    fetched.topics[0].partitions.map((p: { partition: number; offset: number }) => [p.partition, p.offset]),
    [[0, 1], [9, 9]],
    'what the log holds: not the failed commits',
  )
  t.equal(calls.loads, 0, 'no reload')
})

t.test('a batch the log refuses as too large is sent again one write per batch: only the write too large fails', async (t) => {
  const { replica, spawnGroup, calls, logger } = setup(t)
  replica.ctl.hold = true
  // The log takes batches of at most one record carrying metadata (a max.message.bytes below WRITE_BATCH_MAX_BYTES).
  replica.ctl.refuse = (records) => (records.filter((r) => r.type === 'offset-commit' && r.value !== null && r.value.metadata !== '').length > 1 ? ErrorCode.MESSAGE_TOO_LARGE : ErrorCode.NONE)
  const ref = spawnGroup()
  const first = request<any>(ref, commit('g', 1))
  await until(() => replica.ctl.produced.length === 1, 'the first write dispatched')
  const withMetadata = (offset: number, partition: number, metadata: string) => (reply: (r: any) => void): GroupRequest => ({
    type: 'commit',
    input: { groupId: 'g', generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1, topics: [{ name: 't', partitions: [{ partition, offset, leaderEpoch: -1, metadata }] }] },
    reply,
  })
  const big = request<any>(ref, (reply) => ({
    type: 'commit',
    input: { groupId: 'g', generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1, topics: [{ name: 't', partitions: [1, 2].map((partition) => ({ partition, offset: 5, leaderEpoch: -1, metadata: 'm' })) }] },
    reply,
  }))
  const small = request<any>(ref, withMetadata(6, 3, 'm'))
  await settle(request<any>(ref, describe))
  replica.ctl.hold = false
  for (const release of replica.ctl.held.splice(0)) release()
  await settle(first)
  t.same((await settle(big)).topics[0].partitions.map((p: { errorCode: number }) => p.errorCode), [ErrorCode.INVALID_COMMIT_OFFSET_SIZE, ErrorCode.INVALID_COMMIT_OFFSET_SIZE], 'the write too large alone')
  t.equal((await settle(small)).topics[0].partitions[0].errorCode, ErrorCode.NONE, 'the other write of its batch is written')
  t.same(
    replica.ctl.produced.slice(1).map((p) => p.records.length),
    [3, 2, 1],
    'the batch of both, then each alone',
  )
  t.match(logger.text(), /sending them one by one/)
  t.equal(calls.loads, 0, 'no reload')
})

t.test('a commit that moves no deadline leaves the group timer as it is', async (t) => {
  const { timers, spawnGroup } = setup(t)
  const ref = spawnGroup()
  await settle(request<any>(ref, commit('g', 1)))
  const armed = timers.scheduled.length
  t.equal(timers.live().length, 1, 'the offset expiry is the group timer')
  for (let i = 2; i <= 5; i++) await settle(request<any>(ref, commit('g', i)))
  t.equal(timers.scheduled.length, armed, 'no timer set again')
  t.equal(timers.live().length, 1)
})

t.test('a failed write fails its commit and the group reloads from its partition', async (t) => {
  const { replica, spawnGroup, calls, setLoad, logger } = setup(t)
  replica.ctl.errorCode = ErrorCode.NOT_LEADER_OR_FOLLOWER
  let finishLoad!: (s: GroupState) => void
  setLoad(() => new Promise<GroupState>((r) => (finishLoad = r)))
  const ref = spawnGroup()
  const failed = await settle(request<any>(ref, commit('g', 5)))
  t.equal(failed.topics[0].partitions[0].errorCode, ErrorCode.NOT_COORDINATOR, 'the commit is not acknowledged (Kafka maps NOT_LEADER_OR_FOLLOWER so)')
  await until(() => calls.loads === 1, 'the reload started')
  const during = await settle(request<any>(ref, describe))
  t.equal(during.errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, 'requests wait for the reload (clients retry)')
  // What the log holds: an earlier commit of offset 7.
  replica.ctl.errorCode = ErrorCode.NONE
  finishLoad(replay(emptyGroup('g'), { type: 'offset-commit', group: 'g', topic: 't', partition: 0, value: { offset: 7, leaderEpoch: -1, metadata: '', commitTimestamp: 1, expireTimestamp: -1 } }))
  await until(() => logger.text().includes('reloaded'), 'the reload finished')
  const fetched = await settle(request<any>(ref, fetchOffsets('g')))
  t.match(fetched, { topics: [{ partitions: [{ offset: 7 }] }] }, 'the state is what the log holds')
  t.match(logger.text(), /writing to __consumer_offsets failed with NOT_LEADER_OR_FOLLOWER/)
})

t.test('the group has one timer: the initial rebalance delay completes a join when it fires', async (t) => {
  const { clock, timers, spawnGroup } = setup(t, { 'group.initial.rebalance.delay.ms': 3000 })
  const ref = spawnGroup()
  let joined: any = null
  const join = request<any>(ref, (reply) => ({ type: 'join', input: joinInput('g'), reply })).then((r) => (joined = r))
  await until(() => timers.live().length === 1, 'a timer asked for')
  t.ok(timers.live()[0]!.at > clock.now(), 'in the future')
  await new Promise((r) => setTimeout(r, 20))
  t.equal(joined, null, 'the join waits for the delay')
  clock.advance(3000)
  const r = await settle(join, timers, clock)
  t.equal(r.errorCode, ErrorCode.NONE)
  t.equal(r.generationId, 1)
  t.equal(r.leader, r.memberId, 'the only member leads')
  t.ok(timers.live().length <= 1, 'a new timer replaces the previous one')
})

t.test('unload answers what waits with NOT_COORDINATOR and stops the actor', async (t) => {
  const { timers, calls, spawnGroup } = setup(t, { 'group.initial.rebalance.delay.ms': 3000 })
  const ref = spawnGroup()
  const join = request<any>(ref, (reply) => ({ type: 'join', input: joinInput('g'), reply }))
  await until(() => timers.live().length === 1, 'the join waits on the timer')
  dispatch(ref, { type: 'unload' })
  t.equal((await settle(join)).errorCode, ErrorCode.NOT_COORDINATOR)
  await until(() => calls.stopped === 1, 'the actor stopped')
  t.equal(timers.live().length, 0, 'its timer is cancelled')
  t.equal(calls.removed, 0)
})

t.test('deleting a group writes its tombstones, answers, and removes the actor', async (t) => {
  const { replica, calls, spawnGroup } = setup(t)
  const ref = spawnGroup()
  await settle(request<any>(ref, commit('g', 3)))
  const deleted = await settle(request<any>(ref, (reply) => ({ type: 'delete-group', reply })))
  t.equal(deleted.errorCode, ErrorCode.NONE)
  const tombstones = replica.ctl.produced.at(-1)!.records
  t.ok(tombstones.length >= 1 && tombstones.every((r) => r.value === null), 'tombstones only')
  t.ok(tombstones.some((r) => r.type === 'offset-commit' && r.topic === 't'), 'the offset is deleted')
  await until(() => calls.removed === 1 && calls.stopped === 1, 'forgotten and stopped')
})

// The step function alone, without nact.

function stepHarness() {
  const logger = new RecordingLogger()
  const sent: GroupActorMessage[] = []
  const calls = { loads: 0, rerouted: [] as GroupRequest[], stopped: 0 }
  const deps: GroupActorDeps = {
    groupId: 'g',
    config: groupConfigFrom({ ...DEFAULT_BROKER_CONFIG }),
    clock: new ManualClock(),
    timers: new ManualTimers(),
    logger,
    commitTimeoutMs: 5000,
    replica: () => undefined,
    load: () => {
      calls.loads++
      return new Promise<GroupState>(() => {})
    },
    onRemoved: () => {},
    reroute: (msg) => calls.rerouted.push(msg),
  }
  const io = { self: (m: GroupActorMessage) => sent.push(m), stop: () => calls.stopped++ }
  return { deps, io, logger, sent, calls }
}

t.test('a state machine that throws answers COORDINATOR_NOT_AVAILABLE, is logged, and the group reloads', async (t) => {
  const { deps, io, logger, calls } = stepHarness()
  // A broken state stands for a bug: every step on it throws.
  const broken = initialActorState(null as unknown as GroupState)
  let answer: any = null
  const next = groupActorStep(deps, broken, { type: 'heartbeat', input: { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null }, reply: (r) => (answer = r) }, io)
  t.same(answer, { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE })
  t.equal(next.mode, 'reloading')
  t.equal(calls.loads, 1)
  t.match(logger.text(), /error group g: handling heartbeat failed/)
  let during: any = null
  groupActorStep(deps, next, { type: 'heartbeat', input: { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null }, reply: (r) => (during = r) }, io)
  t.same(during, { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS })
})

t.test('a write with no replica to go to fails as NOT_LEADER_OR_FOLLOWER', async (t) => {
  const { deps, io, sent } = stepHarness()
  let s: GroupActorState = initialActorState(emptyGroup('g'))
  s = groupActorStep(deps, s, { type: 'activate' }, io)
  s = groupActorStep(deps, s, commit('g', 1)(() => {}) as GroupActorMessage, io)
  t.equal(s.inFlight, 1)
  await until(() => sent.some((m) => m.type === 'write-result'), 'the write result')
  t.match(sent.find((m) => m.type === 'write-result'), { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER })
})

t.test('a group reloaded from a log that lacks its last generation goes on above it', async (t) => {
  const { deps, io, sent } = stepHarness()
  const metadata = (generation: number) =>
    replay(emptyGroup('g'), {
      type: 'group-metadata',
      group: 'g',
      value: {
        protocolType: 'consumer',
        generation,
        protocol: 'range',
        leader: 'm',
        currentStateTimestamp: 1,
        members: [{ memberId: 'm', groupInstanceId: null, clientId: 'c', clientHost: '/h', rebalanceTimeoutMs: 10_000, sessionTimeoutMs: 10_000, subscription: new Uint8Array([1, 2, 3]), assignment: new Uint8Array(0) }],
      },
    })
  let s: GroupActorState = initialActorState(metadata(5))
  s = groupActorStep(deps, s, { type: 'activate' }, io)
  // No replica here: the commit's write fails as NOT_LEADER_OR_FOLLOWER, and the group reloads.
  let committed: any = null
  s = groupActorStep(deps, s, { type: 'commit', input: { groupId: 'g', generationId: 5, memberId: 'm', groupInstanceId: null, retentionTimeMs: -1, topics: [{ name: 't', partitions: [{ partition: 0, offset: 1, leaderEpoch: -1, metadata: '' }] }] }, reply: (r) => (committed = r) }, io)
  await until(() => sent.some((m) => m.type === 'write-result'), 'the write result')
  s = groupActorStep(deps, s, sent.find((m) => m.type === 'write-result')!, io)
  t.equal(committed.topics[0].partitions[0].errorCode, ErrorCode.NOT_COORDINATOR)
  t.equal(s.mode, 'reloading')
  // The log holds an older generation than the group had.
  s = groupActorStep(deps, s, { type: 'reloaded', incarnation: s.incarnation, state: metadata(3), error: null }, io)
  t.equal(s.mode, 'active')
  t.equal(s.group.group!.generationId, 5, 'not back to generation 3')
  t.equal(s.group.group!.state, 'PreparingRebalance', 'it rebalances')
  let joined: any = null
  s = groupActorStep(deps, s, { type: 'join', input: { ...joinInput('g'), memberId: 'm', protocols: [{ name: 'range', metadata: new Uint8Array([1, 2, 3]) }] }, reply: (r) => (joined = r) }, io)
  t.equal(joined?.generationId, 6, 'the next generation is one never handed out')
})

t.test('requests that reach a removed group are routed again; after unload they get NOT_COORDINATOR', async (t) => {
  const { deps, io, calls } = stepHarness()
  const removed: GroupActorState = { ...initialActorState(emptyGroup('g')), mode: 'removed' }
  const msg = describe(() => {}) as GroupActorMessage
  groupActorStep(deps, removed, msg, io)
  t.same(calls.rerouted, [msg])
  const unloaded: GroupActorState = { ...initialActorState(emptyGroup('g')), mode: 'unloaded' }
  let answer: any = null
  groupActorStep(deps, unloaded, describe((r) => (answer = r)) as GroupActorMessage, io)
  t.match(answer, { errorCode: ErrorCode.NOT_COORDINATOR })
  const stopped = groupActorStep(deps, unloaded, { type: 'retire' }, io)
  t.equal(stopped.mode, 'stopped')
  t.equal(calls.stopped, 1)
})

t.test('clock timers fire once the clock reaches their time, and not once cancelled', async (t) => {
  const timers = clockTimers(systemClock)
  let fired = 0
  timers.schedule(systemClock.now() + 5, () => fired++)
  const cancel = timers.schedule(systemClock.now() + 5, () => fired++)
  cancel()
  await until(() => fired === 1, 'the timer fired')
  await new Promise((r) => setTimeout(r, 20))
  t.equal(fired, 1)
})
