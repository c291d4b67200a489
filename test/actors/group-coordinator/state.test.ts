// The group's pure state machine, driven with a fake clock: Kafka's classic group protocol and its error codes.
import t from 'tap'
import type {
  GroupEffect,
  GroupMessage,
  JoinGroupInput,
  JoinGroupResult,
  OffsetCommitInput,
  ReplyTo,
  SyncGroupInput,
  SyncGroupResult,
} from '../../../actors/group-coordinator/messages.ts'
import {
  activate,
  emptyGroup,
  groupConfigFrom,
  NEW_MEMBER_JOIN_TIMEOUT_MS,
  replay,
  replayAll,
  stateName,
  step,
  type GroupConfig,
  type GroupState,
} from '../../../actors/group-coordinator/state.ts'
import { DEFAULT_BROKER_CONFIG } from '../../../src/broker/broker-config.ts'
import { decodeGroupRecord, encodeGroupRecord, type GroupRecord } from '../../../src/group/group-records.ts'
import { ErrorCode as E } from '../../../src/protocol/kafka/error-codes.ts'
import { Writer } from '../../../src/protocol/kafka/primitives.ts'
import { SeededRandom } from '../../../src/sim/random.ts'

const T0 = 1_700_000_000_000
const CONFIG: GroupConfig = {
  minSessionTimeoutMs: 6000,
  maxSessionTimeoutMs: 300_000,
  initialRebalanceDelayMs: 3000,
  maxSize: 100,
  offsetsRetentionMs: 7 * 24 * 3600_000,
  offsetMetadataMaxBytes: 20,
  offsetsRetentionCheckIntervalMs: 600_000,
}
const SESSION_MS = 10_000
const REBALANCE_MS = 30_000

/** ConsumerProtocolSubscription v0: the topics a consumer subscribes to. */
function subscription(...topics: string[]): Uint8Array {
  return new Writer().int16(0).array(topics, false, (w, topic) => w.string(topic)).nullableBytes(null).finish()
}

/** A reply callback that records what it got (a second answer is a bug the harness reports). */
class Answer<R> {
  readonly values: R[] = []
  readonly to: ReplyTo<R> = (v) => {
    this.values.push(v)
  }
  get answered(): boolean {
    return this.values.length > 0
  }
  get value(): R {
    if (this.values.length !== 1) throw new Error(`answered ${this.values.length} times`)
    return this.values[0]!
  }
}

/** Plays the actor shell: applies effects, acknowledges writes (unless `autoAck` is off), fires the timer as the clock moves. */
class Harness {
  state: GroupState
  now = T0
  timer: number | null = null
  /** Records acknowledged, in log order, read back through the codec. */
  readonly log: GroupRecord[] = []
  /** Where this incarnation's records begin in `log` (a removed group starts afresh). */
  logStart = 0
  inFlight: { writeId: number; records: GroupRecord[] }[] = []
  autoAck = true
  removed = false
  readonly answers: Answer<unknown>[] = []
  readonly effects: GroupEffect[] = []

  constructor(
    readonly config: GroupConfig = CONFIG,
    readonly groupId = 'g',
    initial?: GroupState,
    now = T0,
  ) {
    this.now = now
    this.state = initial ?? emptyGroup(groupId)
    this.apply(activate(this.state, this.now, this.config))
  }

  answer<R>(): Answer<R> {
    const a = new Answer<R>()
    this.answers.push(a as Answer<unknown>)
    return a
  }

  send(msg: GroupMessage): void {
    this.apply(step(this.state, msg, this.now, this.config))
  }

  private apply(r: { state: GroupState; effects: GroupEffect[] }): void {
    this.state = r.state
    this.effects.push(...r.effects)
    const timers = r.effects.filter((e) => e.type === 'timer')
    if (timers.length !== 1 || r.effects[r.effects.length - 1] !== timers[0]) throw new Error('a step ends with exactly one timer effect')
    for (const e of r.effects) {
      switch (e.type) {
        case 'reply':
          e.to(e.value)
          break
        case 'write':
          this.inFlight.push({ writeId: e.writeId, records: e.records.map((rec) => decodeGroupRecord(encodeGroupRecord(rec).key, encodeGroupRecord(rec).value)) })
          break
        case 'timer':
          this.timer = e.at
          break
        case 'removed':
          this.removed = true
          break
        case 'log':
          break
      }
    }
    for (const a of this.answers) if (a.values.length > 1) throw new Error(`a reply was answered ${a.values.length} times: ${JSON.stringify(a.values)}`)
    if (this.autoAck) this.ackAll()
  }

  ackAll(errorCode: number = E.NONE): void {
    while (this.inFlight.length > 0) this.ackFirst(errorCode)
  }

  /** The oldest write in flight finishes: appended to the log, or not. */
  ackFirst(errorCode: number = E.NONE): void {
    const w = this.inFlight.shift()
    if (w === undefined) return
    if (errorCode === E.NONE) this.log.push(...w.records)
    this.send({ type: 'written', writeId: w.writeId, errorCode })
  }

  /** What the actor shell does after a write ended the group `failed`: read this incarnation's records back, above the generation it had. */
  reload(): void {
    const floor = Math.max(this.state.generationFloor, this.state.group?.generationId ?? 0)
    this.inFlight = [] // results of the previous incarnation are ignored
    this.timer = null
    this.state = replayAll(emptyGroup(this.groupId), this.log.slice(this.logStart))
    this.apply(activate(this.state, this.now, this.config, floor))
  }

  /** Moves the clock, firing the timer at each of its deadlines on the way. */
  advance(ms: number): void {
    const target = this.now + ms
    for (let i = 0; this.timer !== null && this.timer <= target; i++) {
      if (i > 10_000) throw new Error('the timer does not move on')
      const at = this.timer
      this.now = Math.max(this.now, at)
      this.send({ type: 'tick' })
      if (this.timer !== null && this.timer <= at && this.timer <= this.now) {
        const g = this.state.group!
        throw new Error(`tick at ${at} left the timer at ${this.timer}: ${JSON.stringify({ state: g.state, join: g.join, sync: g.syncDeadline, pending: [...g.pendingMembers], members: [...g.members.values()].map((m) => [m.memberId, m.sessionDeadline, m.isNew, !!m.awaitingJoin, !!m.awaitingSync]), offsets: [...this.state.offsets].map(([t, p]) => [t, [...p]]), writes: this.state.writes.size, cst: g.currentStateTimestamp, proto: g.protocolType, subs: g.subscribedTopics && [...g.subscribedTopics] })}`)
      }
    }
    this.now = target
  }

  /** Fires the timer until `done` holds (bounded). */
  runUntil(done: () => boolean): void {
    for (let i = 0; !done(); i++) {
      if (i > 1000 || this.timer === null) throw new Error('never came to pass')
      this.now = Math.max(this.now, this.timer)
      this.send({ type: 'tick' })
    }
  }

  join(input: Partial<JoinGroupInput> = {}): Answer<JoinGroupResult> {
    const a = this.answer<JoinGroupResult>()
    this.send({ type: 'join', input: joinInput(input), reply: a.to })
    return a
  }

  sync(memberId: string, generationId: number, assignments: SyncGroupInput['assignments'] = [], more: Partial<SyncGroupInput> = {}): Answer<SyncGroupResult> {
    const a = this.answer<SyncGroupResult>()
    this.send({ type: 'sync', input: { groupId: this.groupId, generationId, memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments, ...more }, reply: a.to })
    return a
  }

  heartbeat(memberId: string, generationId: number, groupInstanceId: string | null = null): number {
    const a = this.answer<{ errorCode: number }>()
    this.send({ type: 'heartbeat', input: { groupId: this.groupId, generationId, memberId, groupInstanceId }, reply: a.to })
    return a.value.errorCode
  }

  leave(...members: { memberId: string; groupInstanceId?: string | null }[]) {
    const a = this.answer<import('../../../actors/group-coordinator/messages.ts').LeaveGroupResult>()
    this.send({ type: 'leave', input: { groupId: this.groupId, members: members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null })) }, reply: a.to })
    return a.value
  }

  commit(input: Partial<OffsetCommitInput> & Pick<OffsetCommitInput, 'topics'>) {
    const a = this.answer<import('../../../actors/group-coordinator/messages.ts').PartitionErrors>()
    this.send({ type: 'commit', input: { groupId: this.groupId, generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1, ...input }, reply: a.to })
    return a
  }

  fetch(topics: { name: string; partitions: number[] }[] | null) {
    const a = this.answer<import('../../../actors/group-coordinator/messages.ts').OffsetFetchResult>()
    this.send({ type: 'fetch-offsets', input: { groupId: this.groupId, topics }, reply: a.to })
    return a.value
  }

  describe() {
    const a = this.answer<import('../../../actors/group-coordinator/messages.ts').DescribeGroupResult>()
    this.send({ type: 'describe', reply: a.to })
    return a.value
  }

  list() {
    const a = this.answer<import('../../../actors/group-coordinator/messages.ts').ListedGroup | null>()
    this.send({ type: 'list', reply: a.to })
    return a.value
  }

  deleteGroup() {
    const a = this.answer<{ errorCode: number }>()
    this.send({ type: 'delete-group', reply: a.to })
    return a
  }

  deleteOffsets(topics: { name: string; partitions: number[] }[]) {
    const a = this.answer<import('../../../actors/group-coordinator/messages.ts').OffsetDeleteResult>()
    this.send({ type: 'delete-offsets', input: { groupId: this.groupId, topics }, reply: a.to })
    return a
  }

  /** What the shell does after `removed`: the group's next request goes to a fresh actor. */
  recreate(): void {
    this.removed = false
    this.timer = null
    this.logStart = this.log.length
    this.state = emptyGroup(this.groupId)
    this.apply(activate(this.state, this.now, this.config))
  }

  /** Every reply handed out so far was answered exactly once. */
  allAnswered(): boolean {
    return this.answers.every((a) => a.values.length === 1)
  }
}

function joinInput(input: Partial<JoinGroupInput>): JoinGroupInput {
  return {
    groupId: 'g',
    memberId: '',
    groupInstanceId: null,
    clientId: 'client',
    clientHost: '/127.0.0.1',
    sessionTimeoutMs: SESSION_MS,
    rebalanceTimeoutMs: REBALANCE_MS,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: subscription('t') }],
    requireKnownMemberId: false,
    ...input,
  }
}

const commitOf = (topic: string, partition: number, offset: number, metadata: string | null = null) => [{ name: topic, partitions: [{ partition, offset, leaderEpoch: 3, metadata }] }]

/** The committed offsets as sorted (topic, partition, value) rows: the same contents compare equal, whatever the maps' order. */
function offsetRows(state: GroupState) {
  return [...state.offsets]
    .flatMap(([topic, partitions]) => [...partitions].map(([partition, v]) => [topic, partition, v] as const))
    .sort(([ta, pa], [tb, pb]) => (ta < tb ? -1 : ta > tb ? 1 : pa - pb))
}

/** What a state value shows of itself, as text: a later step must never change it. */
function fingerprint(state: GroupState): string {
  const g = state.group
  return JSON.stringify({
    offsets: offsetRows(state),
    metadata: state.metadata && { ...state.metadata, members: state.metadata.members.map((m) => m.memberId) },
    writes: [...state.writes.keys()].sort((a, b) => a - b),
    next: [state.nextWriteId, state.memberIdSeq, state.ended, state.offsetExpiry?.at],
    group: g && {
      state: g.state,
      generation: g.generationId,
      leader: g.leaderId,
      members: [...g.members.values()].map((m) => [m.memberId, m.sessionDeadline, !!m.awaitingJoin, !!m.awaitingSync, [...m.assignment]]),
      statics: [...g.staticMembers],
      pending: [...g.pendingMembers],
      pendingSync: [...g.pendingSyncMembers],
      join: g.join,
      sync: g.syncDeadline,
    },
  })
}

/** A Stable group of `n` dynamic members (joined at once, then synced, the leader assigning `a-<memberId>`). */
function stableGroup(n: number, config: GroupConfig = CONFIG, protocols?: JoinGroupInput['protocols']) {
  const h = new Harness(config)
  const joins = Array.from({ length: n }, (_, i) => h.join({ clientId: `c${i}`, ...(protocols ? { protocols } : {}) }))
  h.runUntil(() => joins.every((j) => j.answered))
  const members = joins.map((j) => j.value.memberId)
  const generation = joins[0]!.value.generationId
  const leader = joins[0]!.value.leader
  const syncs = members.filter((m) => m !== leader).map((m) => h.sync(m, generation))
  syncs.push(h.sync(leader, generation, members.map((m) => ({ memberId: m, assignment: new TextEncoder().encode(`a-${m}`) }))))
  if (!syncs.every((s) => s.value.errorCode === E.NONE)) throw new Error('sync failed')
  return { h, members, leader, generation }
}

t.test('groupConfigFrom takes Kafka broker settings', async (t) => {
  const c = groupConfigFrom({ ...DEFAULT_BROKER_CONFIG, 'offsets.retention.minutes': 2, 'group.max.size': 5 })
  t.same(c, {
    minSessionTimeoutMs: 6000,
    maxSessionTimeoutMs: 1_800_000,
    initialRebalanceDelayMs: 3000,
    maxSize: 5,
    offsetsRetentionMs: 120_000,
    offsetMetadataMaxBytes: 4096,
    offsetsRetentionCheckIntervalMs: 600_000,
  })
})

t.test('the first member of a new group waits the initial rebalance delay, then leads generation 1', async (t) => {
  const h = new Harness()
  t.equal(stateName(h.state), 'Dead', 'a group nobody used does not exist')
  const j = h.join({ clientId: 'c1' })
  t.notOk(j.answered, 'the JoinGroup waits')
  t.equal(stateName(h.state), 'PreparingRebalance')
  t.equal(h.timer, T0 + CONFIG.initialRebalanceDelayMs)
  h.advance(CONFIG.initialRebalanceDelayMs - 1)
  t.notOk(j.answered)
  h.advance(1)
  const r = j.value
  t.match(r, { errorCode: E.NONE, generationId: 1, protocolType: 'consumer', protocolName: 'range' })
  t.match(r.memberId, /^c1-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'member id is clientId-uuid')
  t.equal(r.leader, r.memberId)
  t.same(r.members, [{ memberId: r.memberId, groupInstanceId: null, metadata: subscription('t') }], 'the leader gets the members and their metadata')
  t.equal(stateName(h.state), 'CompletingRebalance')
})

t.test('KIP-394: a join with requireKnownMemberId gets MEMBER_ID_REQUIRED and an id, and joins with it', async (t) => {
  const h = new Harness()
  const first = h.join({ clientId: 'c1', requireKnownMemberId: true }).value
  t.match(first, { errorCode: E.MEMBER_ID_REQUIRED, generationId: -1, leader: '', members: [] })
  t.match(first.memberId, /^c1-/)
  t.equal(stateName(h.state), 'Empty', 'a pending id is not a member')
  const second = h.join({ clientId: 'c1', memberId: first.memberId, requireKnownMemberId: true })
  h.advance(CONFIG.initialRebalanceDelayMs)
  t.match(second.value, { errorCode: E.NONE, memberId: first.memberId, generationId: 1, leader: first.memberId })
})

t.test('KIP-394: a pending member id that is not used within its session timeout lapses; the rebalance waits for it until then', async (t) => {
  const { h, members, generation } = stableGroup(1)
  const pending = h.join({ clientId: 'c2', requireKnownMemberId: true }).value.memberId
  // The leader rejoins: the rebalance must wait for the pending member too.
  const rejoin = h.join({ memberId: members[0]!, clientId: 'c0' })
  t.notOk(rejoin.answered, 'waits for the pending member')
  h.advance(SESSION_MS)
  t.match(rejoin.value, { errorCode: E.NONE, generationId: generation + 1, members: [{ memberId: members[0] }] }, 'the pending id lapsed, the rebalance completed without it')
  t.match(h.join({ clientId: 'c2', memberId: pending, requireKnownMemberId: true }).value, { errorCode: E.UNKNOWN_MEMBER_ID })
})

t.test('the initial delay is extended by each new member, up to the rebalance timeout', async (t) => {
  const h = new Harness({ ...CONFIG, initialRebalanceDelayMs: 3000 })
  const joins = [h.join({ clientId: 'a', rebalanceTimeoutMs: 10_000 })]
  for (let i = 0; i < 4; i++) {
    h.advance(2000)
    joins.push(h.join({ clientId: `m${i}`, rebalanceTimeoutMs: 10_000 }))
  }
  t.ok(joins.every((j) => !j.answered), 'still waiting after 8 s of arrivals')
  h.runUntil(() => joins[0]!.answered)
  t.equal(h.now, T0 + 10_000, 'delays of 3 + 3 + 3 s while members keep coming, then the last 1 s of the rebalance timeout')
  t.ok(joins.every((j) => j.value.errorCode === E.NONE && j.value.generationId === 1))
  t.equal(joins[0]!.value.members.length, 5)
})

t.test('JoinGroup refusals: INVALID_SESSION_TIMEOUT, INCONSISTENT_GROUP_PROTOCOL, GROUP_MAX_SIZE_REACHED, UNKNOWN_MEMBER_ID', async (t) => {
  const h = new Harness()
  t.match(h.join({ sessionTimeoutMs: 5999 }).value, { errorCode: E.INVALID_SESSION_TIMEOUT })
  t.match(h.join({ sessionTimeoutMs: 300_001 }).value, { errorCode: E.INVALID_SESSION_TIMEOUT })
  t.ok(h.removed, 'a request about a group that does not exist leaves no group behind')
  t.match(new Harness().join({ memberId: 'nobody' }).value, { errorCode: E.UNKNOWN_MEMBER_ID, memberId: 'nobody' }, 'a member id a group that does not exist never gave')
  const g = new Harness()
  t.match(g.join({ protocolType: '' }).value, { errorCode: E.INCONSISTENT_GROUP_PROTOCOL })
  t.match(g.join({ protocols: [] }).value, { errorCode: E.INCONSISTENT_GROUP_PROTOCOL })
  t.match(g.join({ memberId: 'stranger' }).value, { errorCode: E.UNKNOWN_MEMBER_ID, memberId: 'stranger' })

  const { h: s, members, generation } = stableGroup(2, { ...CONFIG, maxSize: 2 })
  t.match(s.join({ clientId: 'third' }).value, { errorCode: E.GROUP_MAX_SIZE_REACHED, memberId: '' })
  t.match(s.join({ protocolType: 'connect' }).value, { errorCode: E.GROUP_MAX_SIZE_REACHED }, 'the size is checked first, as in Kafka')
  const { h: roomy } = stableGroup(2)
  t.match(roomy.join({ protocolType: 'connect' }).value, { errorCode: E.INCONSISTENT_GROUP_PROTOCOL }, 'another protocol type')
  t.match(roomy.join({ protocols: [{ name: 'roundrobin', metadata: subscription('t') }] }).value, { errorCode: E.INCONSISTENT_GROUP_PROTOCOL }, 'no protocol in common')
  t.equal(stateName(roomy.state), 'Stable')
  t.equal(stateName(s.state), 'Stable', 'nothing changed')
  t.equal(s.heartbeat(members[1]!, generation), E.NONE)
})

t.test('the protocol is chosen by vote: each member votes for its first protocol that all support', async (t) => {
  const h = new Harness()
  const m = (name: string) => ({ name, metadata: subscription('t') })
  const a = h.join({ clientId: 'a', protocols: [m('sticky'), m('range'), m('roundrobin')] })
  const b = h.join({ clientId: 'b', protocols: [m('roundrobin'), m('range')] })
  const c = h.join({ clientId: 'c', protocols: [m('range'), m('roundrobin')] })
  h.runUntil(() => a.answered)
  t.equal(a.value.protocolName, 'range', 'sticky is not common; range gets two votes (a, c), roundrobin one')
  t.equal(b.value.protocolName, 'range')
  t.equal(c.value.protocolName, 'range')
  t.same(b.value.members, [], 'followers get no member list')
})

t.test("the leader's SyncGroup writes the assignment; then every member waiting gets its own and the group is Stable", async (t) => {
  const h = new Harness()
  h.autoAck = false
  const joins = [h.join({ clientId: 'a' }), h.join({ clientId: 'b' }), h.join({ clientId: 'c' })]
  h.runUntil(() => joins[0]!.answered)
  const [leader, b, c] = joins.map((j) => j.value.memberId) as [string, string, string]
  t.equal(joins[0]!.value.leader, leader, 'the first to join leads')
  const followerSync = h.sync(b, 1)
  t.notOk(followerSync.answered, 'a follower waits for the leader')
  const leaderSync = h.sync(leader, 1, [
    { memberId: leader, assignment: new Uint8Array([1]) },
    { memberId: b, assignment: new Uint8Array([2]) },
    { memberId: 'not-a-member', assignment: new Uint8Array([9]) },
  ])
  t.notOk(leaderSync.answered, 'answers wait for the write')
  t.equal(h.inFlight.length, 1)
  const record = h.inFlight[0]!.records[0]!
  t.match(record, { type: 'group-metadata', group: 'g', value: { protocolType: 'consumer', generation: 1, protocol: 'range', leader } })
  const written = (record as Extract<GroupRecord, { type: 'group-metadata' }>).value!
  t.same(
    written.members.map((m) => [m.memberId, [...m.assignment]]),
    [
      [leader, [1]],
      [b, [2]],
      [c, []],
    ],
    'a member the leader left out gets an empty assignment; strangers are ignored',
  )
  t.same(written.members[0]!.subscription, subscription('t'), "the member's metadata for the chosen protocol")
  t.equal(stateName(h.state), 'CompletingRebalance', 'Stable only once written')
  t.equal(h.heartbeat(c, 1), E.NONE, 'heartbeats are fine meanwhile')
  h.ackAll()
  t.match(leaderSync.value, { errorCode: E.NONE, protocolType: 'consumer', protocolName: 'range', assignment: new Uint8Array([1]) })
  t.match(followerSync.value, { errorCode: E.NONE, assignment: new Uint8Array([2]) })
  t.equal(stateName(h.state), 'Stable')
  t.match(h.sync(c, 1).value, { errorCode: E.NONE, assignment: new Uint8Array() }, 'in Stable a SyncGroup is answered at once')
  const d = h.describe()
  t.match(d, { errorCode: E.NONE, groupId: 'g', state: 'Stable', protocolType: 'consumer', protocolData: 'range' })
  t.same(d.members.map((m) => [m.memberId, m.clientId, [...m.assignment]]), [
    [leader, 'a', [1]],
    [b, 'b', [2]],
    [c, 'c', []],
  ])
  t.same(h.list(), { groupId: 'g', protocolType: 'consumer', state: 'Stable' })
})

t.test('SyncGroup refusals: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, INCONSISTENT_GROUP_PROTOCOL, REBALANCE_IN_PROGRESS', async (t) => {
  t.match(new Harness().sync('x', 1).value, { errorCode: E.UNKNOWN_MEMBER_ID }, 'no such group')
  const { h, members, generation, leader } = stableGroup(2)
  t.match(h.sync('x', generation).value, { errorCode: E.UNKNOWN_MEMBER_ID })
  t.match(h.sync(members[1]!, generation + 1).value, { errorCode: E.ILLEGAL_GENERATION })
  t.match(h.sync(members[1]!, generation, [], { protocolType: 'connect' }).value, { errorCode: E.INCONSISTENT_GROUP_PROTOCOL })
  t.match(h.sync(members[1]!, generation, [], { protocolName: 'roundrobin' }).value, { errorCode: E.INCONSISTENT_GROUP_PROTOCOL })
  t.match(h.sync(members[1]!, generation, [], { protocolType: 'consumer', protocolName: 'range' }).value, { errorCode: E.NONE })
  h.join({ memberId: leader, clientId: 'c0' }) // the leader rejoins: a rebalance
  t.equal(stateName(h.state), 'PreparingRebalance')
  t.match(h.sync(members[1]!, generation).value, { errorCode: E.REBALANCE_IN_PROGRESS })
})

t.test('Heartbeat: NONE when Stable or CompletingRebalance, REBALANCE_IN_PROGRESS while preparing, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID', async (t) => {
  t.equal(new Harness().heartbeat('x', 1), E.UNKNOWN_MEMBER_ID)
  const h = new Harness()
  h.autoAck = false
  const j = [h.join({ clientId: 'a' }), h.join({ clientId: 'b' })]
  h.runUntil(() => j[0]!.answered)
  const [a, b] = j.map((x) => x.value.memberId) as [string, string]
  t.equal(h.heartbeat(b, 1), E.NONE, 'CompletingRebalance')
  t.equal(h.heartbeat(b, 0), E.ILLEGAL_GENERATION)
  t.equal(h.heartbeat('x', 1), E.UNKNOWN_MEMBER_ID)
  h.sync(a, 1, [])
  h.ackAll()
  t.equal(stateName(h.state), 'Stable')
  t.equal(h.heartbeat(b, 1), E.NONE)
  h.join({ memberId: b, clientId: 'b', protocols: [{ name: 'range', metadata: subscription('t', 'u') }] })
  t.equal(stateName(h.state), 'PreparingRebalance', 'a follower with new metadata starts a rebalance')
  t.equal(h.heartbeat(a, 1), E.REBALANCE_IN_PROGRESS)
})

t.test('a member whose session expires is removed and the group rebalances without it', async (t) => {
  const { h, members, generation } = stableGroup(2)
  const [a, b] = members as [string, string]
  for (let i = 0; i < 4; i++) {
    h.advance(SESSION_MS - 1000)
    t.equal(h.heartbeat(a, generation), i === 0 ? E.NONE : E.REBALANCE_IN_PROGRESS)
    if (i === 0) t.equal(stateName(h.state), 'Stable')
    if (i === 1) t.equal(stateName(h.state), 'PreparingRebalance', `${b} stopped heartbeating and was removed`)
  }
  const rejoin = h.join({ memberId: a, clientId: 'c0' })
  t.match(rejoin.value, { errorCode: E.NONE, generationId: generation + 1, leader: a })
  t.same(
    rejoin.value.members.map((m) => m.memberId),
    [a],
  )
  t.equal(h.heartbeat(b, generation), E.UNKNOWN_MEMBER_ID)
})

t.test('members that do not rejoin before the rebalance timeout are removed', async (t) => {
  const { h, members, generation } = stableGroup(3)
  const [a, b, c] = members as [string, string, string]
  const ja = h.join({ memberId: a, clientId: 'c0' }) // the leader starts a rebalance
  h.advance(REBALANCE_MS / 4)
  t.equal(h.heartbeat(b, generation), E.REBALANCE_IN_PROGRESS)
  const jb = h.join({ memberId: b, clientId: 'c1' })
  for (let i = 0; i < 3; i++) {
    t.equal(h.heartbeat(c, generation), E.REBALANCE_IN_PROGRESS, 'c heartbeats but never rejoins')
    t.notOk(ja.answered)
    h.advance(REBALANCE_MS / 4)
  }
  t.match(ja.value, { errorCode: E.NONE, generationId: generation + 1 })
  t.same(
    ja.value.members.map((m) => m.memberId),
    [a, b],
    'c was removed',
  )
  t.match(jb.value, { errorCode: E.NONE, generationId: generation + 1, members: [] })
  t.equal(h.heartbeat(c, generation), E.UNKNOWN_MEMBER_ID)
})

t.test("a new member whose JoinGroup waits longer than Kafka's new-member timeout is removed with UNKNOWN_MEMBER_ID", async (t) => {
  // The leader rejoins with a rebalance timeout of 10 minutes; the follower heartbeats and never rejoins.
  const { h, members, generation } = stableGroup(2, CONFIG)
  const leaderJoin = h.join({ memberId: members[0]!, clientId: 'c0', rebalanceTimeoutMs: 600_000 })
  const start = h.now
  const newcomer = h.join({ clientId: 'new' })
  for (let i = 0; h.now - start < NEW_MEMBER_JOIN_TIMEOUT_MS; i++) {
    h.advance(SESSION_MS - 2000)
    t.notOk(leaderJoin.answered)
    if (!newcomer.answered) t.equal(h.heartbeat(members[1]!, generation), E.REBALANCE_IN_PROGRESS)
  }
  t.match(newcomer.value, { errorCode: E.UNKNOWN_MEMBER_ID, memberId: '' })
  t.ok(h.now - start >= NEW_MEMBER_JOIN_TIMEOUT_MS && h.now - start < NEW_MEMBER_JOIN_TIMEOUT_MS + SESSION_MS)
})

t.test('LeaveGroup: by member id, by instance id (KIP-345), per-member errors; a group left by all is Empty in a new generation', async (t) => {
  t.same(new Harness().leave({ memberId: 'x' }), { errorCode: E.NONE, members: [{ memberId: 'x', groupInstanceId: null, errorCode: E.UNKNOWN_MEMBER_ID }] })
  const h = new Harness()
  const a = h.join({ clientId: 'a' })
  const s = h.join({ clientId: 's', groupInstanceId: 'inst-1' })
  h.runUntil(() => a.answered)
  const [ida, ids] = [a.value.memberId, s.value.memberId]
  t.match(ids, /^inst-1-/, 'a static member id starts with its instance id')
  h.sync(ids, 1)
  h.sync(ida, 1, [])
  const r = h.leave({ memberId: 'ghost' }, { memberId: ids, groupInstanceId: 'inst-2' }, { memberId: 'other', groupInstanceId: 'inst-1' }, { memberId: '', groupInstanceId: 'nope' })
  t.same(
    r.members.map((m) => m.errorCode),
    [E.UNKNOWN_MEMBER_ID, E.UNKNOWN_MEMBER_ID, E.FENCED_INSTANCE_ID, E.UNKNOWN_MEMBER_ID],
  )
  t.equal(stateName(h.state), 'Stable', 'nobody left')
  const before = h.log.length
  t.same(h.leave({ memberId: ida }, { memberId: '', groupInstanceId: 'inst-1' }).members.map((m) => m.errorCode), [E.NONE, E.NONE])
  t.equal(stateName(h.state), 'Empty')
  t.match(h.log.slice(before), [{ type: 'group-metadata', value: { generation: 2, protocol: null, leader: null, members: [] } }], 'the empty generation is written')
  t.same(h.describe().members, [])
  t.same(h.list(), { groupId: 'g', protocolType: 'consumer', state: 'Empty' })
})

t.test('KIP-345: a static member restarting in a Stable group keeps its assignment with no rebalance; its old id is fenced', async (t) => {
  const h = new Harness()
  const a = h.join({ clientId: 'a', groupInstanceId: 'ia' })
  const b = h.join({ clientId: 'b', groupInstanceId: 'ib' })
  h.runUntil(() => a.answered)
  const [ida, idb] = [a.value.memberId, b.value.memberId]
  h.sync(idb, 1)
  h.sync(ida, 1, [
    { memberId: ida, assignment: new Uint8Array([1]) },
    { memberId: idb, assignment: new Uint8Array([2]) },
  ])
  t.equal(stateName(h.state), 'Stable')
  h.autoAck = false
  const restarted = h.join({ clientId: 'b', groupInstanceId: 'ib' })
  t.notOk(restarted.answered, 'answered once the new member id is written')
  t.match(h.inFlight[0]!.records[0], { type: 'group-metadata', value: { generation: 1 } })
  h.ackAll()
  const r = restarted.value
  t.match(r, { errorCode: E.NONE, generationId: 1, protocolName: 'range', leader: ida, members: [] })
  t.not(r.memberId, idb, 'a new member id')
  t.equal(stateName(h.state), 'Stable', 'no rebalance')
  t.match(h.sync(r.memberId, 1).value, { errorCode: E.NONE, assignment: new Uint8Array([2]) }, 'its assignment of before')
  t.equal(h.heartbeat(idb, 1, 'ib'), E.FENCED_INSTANCE_ID, 'the old id is fenced')
  t.match(h.sync(idb, 1, [], { groupInstanceId: 'ib' }).value, { errorCode: E.FENCED_INSTANCE_ID })
  t.match(h.commit({ generationId: 1, memberId: idb, groupInstanceId: 'ib', topics: commitOf('t', 0, 5) }).value.topics[0]!.partitions[0], { errorCode: E.FENCED_INSTANCE_ID })
  t.match(h.join({ memberId: idb, clientId: 'b', groupInstanceId: 'ib' }).value, { errorCode: E.FENCED_INSTANCE_ID })
  t.equal(h.heartbeat(idb, 1), E.UNKNOWN_MEMBER_ID, 'without its instance id the old id is just unknown')
  t.equal(h.heartbeat(r.memberId, 1, 'ib'), E.NONE)
})

t.test('KIP-345: a static leader restarting keeps the group Stable; the answer names the leader id of before, so it does not assign', async (t) => {
  const h = new Harness()
  const a = h.join({ clientId: 'a', groupInstanceId: 'ia' })
  const b = h.join({ clientId: 'b', groupInstanceId: 'ib' })
  h.runUntil(() => a.answered)
  const ida = a.value.memberId
  h.sync(b.value.memberId, 1)
  h.sync(ida, 1, [])
  const r = h.join({ clientId: 'a', groupInstanceId: 'ia' }).value
  t.match(r, { errorCode: E.NONE, generationId: 1, leader: ida, members: [] })
  t.not(r.memberId, ida)
  t.equal(stateName(h.state), 'Stable')
  // The new id leads now: its own JoinGroup (with its id) starts a rebalance, as a leader's does.
  h.join({ memberId: r.memberId, clientId: 'a', groupInstanceId: 'ia' })
  t.equal(stateName(h.state), 'PreparingRebalance')
})

t.test('KIP-345: a static member that does not rejoin stays through the rebalance and goes when its session expires', async (t) => {
  const h = new Harness()
  const a = h.join({ clientId: 'a' })
  const s = h.join({ clientId: 's', groupInstanceId: 'is' })
  h.runUntil(() => a.answered)
  const [ida, ids] = [a.value.memberId, s.value.memberId]
  h.sync(ids, 1)
  h.sync(ida, 1, [])
  const rejoin = h.join({ memberId: ida, clientId: 'a' })
  for (let i = 0; i < 4; i++) {
    t.equal(h.heartbeat(ids, 1, 'is'), E.REBALANCE_IN_PROGRESS, 'alive, but it does not rejoin')
    h.advance(REBALANCE_MS / 4)
  }
  t.match(rejoin.value, { errorCode: E.NONE, generationId: 2 })
  t.same(
    rejoin.value.members.map((m) => m.memberId),
    [ida, ids],
    'the static member is still in generation 2',
  )
  t.equal(h.sync(ida, 2, []).value.errorCode, E.NONE)
  t.equal(stateName(h.state), 'Stable')
  h.advance(SESSION_MS - 1000)
  t.equal(h.heartbeat(ida, 2), E.NONE)
  h.advance(2000)
  t.equal(h.heartbeat(ids, 2, 'is'), E.UNKNOWN_MEMBER_ID, 'its session expired: gone')
  t.equal(stateName(h.state), 'PreparingRebalance')
})

t.test('a follower rejoining a Stable group with the same metadata gets the current generation; the leader rejoining starts a rebalance', async (t) => {
  const { h, members, generation, leader } = stableGroup(2)
  const follower = members.find((m) => m !== leader)!
  t.match(h.join({ memberId: follower, clientId: 'c1' }).value, { errorCode: E.NONE, generationId: generation, leader, members: [] })
  t.equal(stateName(h.state), 'Stable')
  const lj = h.join({ memberId: leader, clientId: 'c0' })
  t.equal(stateName(h.state), 'PreparingRebalance')
  const fj = h.join({ memberId: follower, clientId: 'c1' })
  t.match(lj.value, { errorCode: E.NONE, generationId: generation + 1 }, 'completed when all rejoined')
  t.match(fj.value, { errorCode: E.NONE, generationId: generation + 1 })
  t.match(h.join({ memberId: follower, clientId: 'c1' }).value, { errorCode: E.NONE, generationId: generation + 1 }, 'CompletingRebalance: same metadata, same answer')
  t.equal(stateName(h.state), 'CompletingRebalance')
  t.match(h.sync(leader, generation + 1).value, { errorCode: E.NONE }, "the leader's SyncGroup, even without assignments, completes the rebalance")
  t.equal(stateName(h.state), 'Stable')
})

t.test('a join with new metadata during CompletingRebalance restarts the rebalance; waiting SyncGroups get REBALANCE_IN_PROGRESS', async (t) => {
  const h = new Harness()
  const j = [h.join({ clientId: 'a' }), h.join({ clientId: 'b' })]
  h.runUntil(() => j[0]!.answered)
  const [a, b] = j.map((x) => x.value.memberId) as [string, string]
  const waiting = h.sync(b, 1)
  h.join({ memberId: a, clientId: 'a', protocols: [{ name: 'range', metadata: subscription('other') }] })
  t.match(waiting.value, { errorCode: E.REBALANCE_IN_PROGRESS })
  t.equal(stateName(h.state), 'PreparingRebalance')
})

t.test('members that never send SyncGroup are removed after the rebalance timeout', async (t) => {
  const h = new Harness()
  const j = [h.join({ clientId: 'a' }), h.join({ clientId: 'b' })]
  h.runUntil(() => j[0]!.answered)
  const [a, b] = j.map((x) => x.value.memberId) as [string, string]
  h.sync(a, 1, [])
  t.equal(stateName(h.state), 'Stable')
  for (let i = 0; i < 4; i++) {
    h.advance(REBALANCE_MS / 4)
    h.heartbeat(a, 1)
    h.heartbeat(b, 1)
  }
  t.equal(h.heartbeat(b, 1), E.UNKNOWN_MEMBER_ID, 'b never synced')
  t.equal(stateName(h.state), 'PreparingRebalance', 'a rebalance without b')
  t.equal(h.heartbeat(a, 1), E.REBALANCE_IN_PROGRESS)
})

t.test('OffsetCommit: a standalone commit to an empty group, written before it is answered, then fetched', async (t) => {
  const h = new Harness()
  h.autoAck = false
  const c = h.commit({ topics: [{ name: 't', partitions: [{ partition: 0, offset: 10, leaderEpoch: 2, metadata: 'meta' }, { partition: 1, offset: 20, leaderEpoch: -1, metadata: null }] }] })
  t.notOk(c.answered)
  t.match(h.inFlight[0]!.records, [
    { type: 'offset-commit', group: 'g', topic: 't', partition: 0, value: { offset: 10, leaderEpoch: 2, metadata: 'meta', commitTimestamp: T0, expireTimestamp: -1 } },
    { type: 'offset-commit', topic: 't', partition: 1, value: { offset: 20, metadata: '' } },
  ])
  h.ackAll()
  t.same(c.value, { topics: [{ name: 't', partitions: [{ partition: 0, errorCode: E.NONE }, { partition: 1, errorCode: E.NONE }] }] })
  t.same(h.fetch([{ name: 't', partitions: [0, 2] }, { name: 'u', partitions: [0] }]), {
    errorCode: E.NONE,
    topics: [
      {
        name: 't',
        partitions: [
          { partition: 0, offset: 10, leaderEpoch: 2, metadata: 'meta', errorCode: E.NONE },
          { partition: 2, offset: -1, leaderEpoch: -1, metadata: '', errorCode: E.NONE },
        ],
      },
      { name: 'u', partitions: [{ partition: 0, offset: -1, leaderEpoch: -1, metadata: '', errorCode: E.NONE }] },
    ],
  })
  t.same(h.fetch(null).topics.map((x) => [x.name, x.partitions.map((p) => [p.partition, p.offset])]), [['t', [[0, 10], [1, 20]]]])
  t.same(h.describe(), { errorCode: E.NONE, groupId: 'g', state: 'Empty', protocolType: '', protocolData: '', members: [] })
  t.same(new Harness().fetch(null), { errorCode: E.NONE, topics: [] }, 'a group that does not exist has no offsets')
})

t.test('OffsetCommit validation: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS, OFFSET_METADATA_TOO_LARGE', async (t) => {
  const errors = (a: { value: { topics: { partitions: { errorCode: number }[] }[] } }) => a.value.topics.flatMap((x) => x.partitions.map((p) => p.errorCode))
  t.same(errors(new Harness().commit({ generationId: 3, memberId: 'm', topics: commitOf('t', 0, 1) })), [E.ILLEGAL_GENERATION], 'a generation of a group that does not exist')
  const h = new Harness()
  h.autoAck = false
  const j = [h.join({ clientId: 'a' }), h.join({ clientId: 'b' })]
  h.runUntil(() => j[0]!.answered)
  const [a, b] = j.map((x) => x.value.memberId) as [string, string]
  t.same(errors(h.commit({ generationId: 1, memberId: b, topics: commitOf('t', 0, 1) })), [E.REBALANCE_IN_PROGRESS], 'CompletingRebalance')
  h.sync(a, 1, [])
  h.ackAll()
  t.same(errors(h.commit({ topics: commitOf('t', 0, 1) })), [E.UNKNOWN_MEMBER_ID], 'a standalone commit to a group with members')
  t.same(errors(h.commit({ generationId: 1, memberId: 'x', topics: commitOf('t', 0, 1) })), [E.UNKNOWN_MEMBER_ID])
  t.same(errors(h.commit({ generationId: 2, memberId: b, topics: commitOf('t', 0, 1) })), [E.ILLEGAL_GENERATION])
  h.autoAck = true
  const mixed = h.commit({
    generationId: 1,
    memberId: b,
    topics: [{ name: 't', partitions: [{ partition: 0, offset: 5, leaderEpoch: 1, metadata: 'x'.repeat(21) }, { partition: 1, offset: 6, leaderEpoch: 1, metadata: 'x'.repeat(20) }] }],
  })
  t.same(errors(mixed), [E.OFFSET_METADATA_TOO_LARGE, E.NONE], 'only the partition with too much metadata fails')
  t.same(errors(h.commit({ generationId: 1, memberId: b, topics: commitOf('t', 0, 1, 'y'.repeat(30)) })), [E.OFFSET_METADATA_TOO_LARGE], 'nothing to write: answered at once')
  h.join({ memberId: a, clientId: 'a' })
  t.equal(stateName(h.state), 'PreparingRebalance')
  t.same(errors(h.commit({ generationId: 1, memberId: b, topics: commitOf('t', 2, 7) })), [E.NONE], 'commits of the current generation are taken while preparing (as Kafka)')
})

t.test('a commit counts as a heartbeat', async (t) => {
  const { h, members, generation } = stableGroup(2)
  const [a, b] = members as [string, string]
  for (let i = 0; i < 5; i++) {
    h.advance(SESSION_MS - 1000)
    h.heartbeat(a, generation)
    h.commit({ generationId: generation, memberId: b, topics: commitOf('t', 0, i) })
  }
  t.equal(stateName(h.state), 'Stable')
  t.equal(h.heartbeat(b, generation), E.NONE)
})

t.test("a failed write answers what it held with Kafka's mapping; NOT_LEADER_OR_FOLLOWER answers the rest with NOT_COORDINATOR and leaves the group to be reloaded", async (t) => {
  const h = new Harness()
  h.autoAck = false
  const c1 = h.commit({ topics: commitOf('t', 0, 1) })
  const c2 = h.commit({ topics: [{ name: 't', partitions: [{ partition: 1, offset: 1, leaderEpoch: -1, metadata: 'z'.repeat(99) }, { partition: 2, offset: 2, leaderEpoch: -1, metadata: null }] }] })
  const first = h.inFlight.shift()!
  h.send({ type: 'written', writeId: first.writeId, errorCode: E.NOT_LEADER_OR_FOLLOWER })
  t.same(c1.value.topics[0]!.partitions, [{ partition: 0, errorCode: E.NOT_COORDINATOR }])
  t.same(
    c2.value.topics[0]!.partitions.map((p) => p.errorCode),
    [E.OFFSET_METADATA_TOO_LARGE, E.NOT_COORDINATOR],
    'the other write in flight is answered too; a partition that failed validation keeps its error',
  )
  t.equal(h.state.ended, 'failed')
  t.notOk(h.removed, 'not removed: the shell reloads it')
  t.equal(h.timer, null)
  h.ackAll()
  t.ok(h.allAnswered())

  const mapping: [number, number][] = [
    [E.NOT_ENOUGH_REPLICAS, E.COORDINATOR_NOT_AVAILABLE],
    [E.UNKNOWN_TOPIC_OR_PARTITION, E.COORDINATOR_NOT_AVAILABLE],
    [E.KAFKA_STORAGE_ERROR, E.NOT_COORDINATOR],
    [E.MESSAGE_TOO_LARGE, E.INVALID_COMMIT_OFFSET_SIZE],
    [E.REQUEST_TIMED_OUT, E.REQUEST_TIMED_OUT],
  ]
  for (const [append, answered] of mapping) {
    const g = new Harness()
    g.autoAck = false
    const c = g.commit({ topics: commitOf('t', 0, 1) })
    g.ackAll(append)
    t.equal(c.value.topics[0]!.partitions[0]!.errorCode, answered, `a commit whose append failed with ${append}`)
  }
  const syncMapping: [number, number][] = [
    [E.REQUEST_TIMED_OUT, E.REBALANCE_IN_PROGRESS],
    [E.NOT_LEADER_OR_FOLLOWER, E.NOT_COORDINATOR],
    [E.RECORD_LIST_TOO_LARGE, E.UNKNOWN_SERVER_ERROR],
  ]
  for (const [append, answered] of syncMapping) {
    const g = new Harness()
    g.autoAck = false
    const j = [g.join({ clientId: 'a' }), g.join({ clientId: 'b' })]
    g.runUntil(() => j[0]!.answered)
    const follower = g.sync(j[1]!.value.memberId, 1)
    const leader = g.sync(j[0]!.value.memberId, 1, [])
    g.ackAll(append)
    t.equal(leader.value.errorCode, answered, `the leader's SyncGroup whose assignment append failed with ${append}`)
    t.equal(follower.value.errorCode, answered)
  }
})

t.test('a failed commit gets the mapped error, the offsets keep what the log holds, and the group goes on untouched', async (t) => {
  const { h, members, generation } = stableGroup(2)
  const [a, b] = members as [string, string]
  h.commit({ generationId: generation, memberId: a, topics: commitOf('t', 0, 1) })
  h.autoAck = false
  const failed = h.commit({ generationId: generation, memberId: a, topics: [...commitOf('t', 0, 2), ...commitOf('t', 1, 2)] })
  h.ackAll(E.NOT_ENOUGH_REPLICAS)
  t.same(failed.value.topics.flatMap((x) => x.partitions.map((p) => p.errorCode)), [E.COORDINATOR_NOT_AVAILABLE, E.COORDINATOR_NOT_AVAILABLE])
  t.same(
    h.fetch([{ name: 't', partitions: [0, 1] }]).topics[0]!.partitions.map((p) => [p.partition, p.offset]),
    [[0, 1], [1, -1]],
    'the offset of before, and none where there was none',
  )
  t.equal(h.state.ended, null, 'not ended')
  t.equal(stateName(h.state), 'Stable')
  t.equal(h.heartbeat(a, generation), E.NONE)
  t.equal(h.heartbeat(b, generation), E.NONE)
  h.autoAck = true
  t.equal(h.commit({ generationId: generation, memberId: b, topics: commitOf('t', 1, 3) }).value.topics[0]!.partitions[0]!.errorCode, E.NONE, 'the next commit is written')
  t.same(h.fetch([{ name: 't', partitions: [0, 1] }]).topics[0]!.partitions.map((p) => p.offset), [1, 3])
})

t.test('writes in flight: a failure puts back only the offsets no later write replaced, to what the log holds', async (t) => {
  const rows = (h: Harness) => h.fetch([{ name: 't', partitions: [0, 1] }]).topics[0]!.partitions.map((p) => p.offset)
  const run = (first: number, second: number) => {
    const h = new Harness()
    h.commit({ topics: commitOf('t', 0, 1) })
    h.autoAck = false
    h.commit({ topics: commitOf('t', 0, 2) })
    h.commit({ topics: [...commitOf('t', 0, 3), ...commitOf('t', 1, 3)] })
    h.ackFirst(first)
    const between = rows(h)
    h.ackFirst(second)
    t.equal(h.state.unconfirmedOffsets.size, 0, 'nothing is left to confirm')
    return { between, after: rows(h) }
  }
  t.same(run(E.REQUEST_TIMED_OUT, E.NONE), { between: [3, 3], after: [3, 3] }, 'the first fails: the second, in flight, still stands; then it is written')
  t.same(run(E.REQUEST_TIMED_OUT, E.NOT_ENOUGH_REPLICAS), { between: [3, 3], after: [1, -1] }, 'both fail: what the log held before either')
  t.same(run(E.NONE, E.NOT_ENOUGH_REPLICAS), { between: [3, 3], after: [2, -1] }, 'the second fails: what the first wrote')
})

t.test("a failed assignment write: the SyncGroups get Kafka's error and the group rebalances to a higher generation, the last written one kept", async (t) => {
  const { h, members, generation } = stableGroup(2)
  const [a, b] = members as [string, string]
  const written = h.state.metadata
  // b changes its metadata: a rebalance to the next generation.
  const jb = h.join({ memberId: b, clientId: 'c1', protocols: [{ name: 'range', metadata: subscription('t', 'u') }] })
  const ja = h.join({ memberId: a, clientId: 'c0' })
  t.equal(ja.value.generationId, generation + 1)
  h.autoAck = false
  const follower = h.sync(b, generation + 1)
  const leader = h.sync(a, generation + 1, [{ memberId: a, assignment: new Uint8Array([1]) }, { memberId: b, assignment: new Uint8Array([2]) }])
  h.ackAll(E.MESSAGE_TOO_LARGE)
  t.equal(leader.value.errorCode, E.UNKNOWN_SERVER_ERROR, "the leader's: Kafka's answer to a record too large to store")
  t.equal(follower.value.errorCode, E.UNKNOWN_SERVER_ERROR, "the follower's too")
  t.equal(jb.value.errorCode, E.NONE)
  t.equal(stateName(h.state), 'PreparingRebalance', 'the group rebalances')
  t.equal(h.state.metadata, written, 'the metadata is the last written')
  t.equal(h.heartbeat(a, generation + 1), E.REBALANCE_IN_PROGRESS)
  h.autoAck = true
  const again = [h.join({ memberId: a, clientId: 'c0' }), h.join({ memberId: b, clientId: 'c1' })]
  t.same(again.map((j) => j.value.generationId), [generation + 2, generation + 2], 'the next generation is above the one that failed')
  h.sync(b, generation + 2)
  t.equal(h.sync(a, generation + 2, []).value.errorCode, E.NONE)
  t.equal(stateName(h.state), 'Stable')
  t.equal(h.state.metadata!.generation, generation + 2)
})

t.test('KIP-345: a failed write of a static member\'s new id fails its JoinGroup and gives the instance back to its old id', async (t) => {
  const h = new Harness()
  const a = h.join({ clientId: 'a', groupInstanceId: 'ia' })
  const b = h.join({ clientId: 'b', groupInstanceId: 'ib' })
  h.runUntil(() => a.answered)
  const [ida, idb] = [a.value.memberId, b.value.memberId]
  h.sync(idb, 1)
  h.sync(ida, 1, [{ memberId: ida, assignment: new Uint8Array([1]) }, { memberId: idb, assignment: new Uint8Array([2]) }])
  h.autoAck = false
  const restarted = h.join({ clientId: 'b', groupInstanceId: 'ib', sessionTimeoutMs: 2 * SESSION_MS })
  h.ackAll(E.NOT_ENOUGH_REPLICAS)
  t.match(restarted.value, { errorCode: E.COORDINATOR_NOT_AVAILABLE, memberId: '', generationId: 1, leader: ida })
  t.equal(h.heartbeat(idb, 1, 'ib'), E.NONE, 'the old id is the member again')
  t.equal(stateName(h.state), 'Stable')
  t.same(h.describe().members.map((m) => [m.memberId, [...m.assignment]]), [[ida, [1]], [idb, [2]]], 'as it was')
  t.equal(h.state.group!.members.get(idb)!.sessionTimeoutMs, SESSION_MS, 'with its own session timeout')
  h.autoAck = true
  const retried = h.join({ clientId: 'b', groupInstanceId: 'ib' })
  t.equal(retried.value.errorCode, E.NONE, 'the instance can take its place again')
  t.equal(h.heartbeat(idb, 1, 'ib'), E.FENCED_INSTANCE_ID)
})

t.test('a failed deletion answers its error and leaves the group as the log has it', async (t) => {
  const h = new Harness()
  h.commit({ topics: commitOf('t', 0, 4) })
  h.autoAck = false
  const d = h.deleteGroup()
  t.equal(stateName(h.state), 'Dead')
  h.ackAll(E.NOT_ENOUGH_REPLICAS)
  t.equal(d.value.errorCode, E.COORDINATOR_NOT_AVAILABLE)
  t.notOk(h.removed)
  t.equal(stateName(h.state), 'Empty', 'back as it was')
  t.same(h.fetch(null).topics[0]!.partitions.map((p) => p.offset), [4])
  const od = h.deleteOffsets([{ name: 't', partitions: [0] }])
  h.ackAll(E.REQUEST_TIMED_OUT)
  t.match(od.value, { errorCode: E.REQUEST_TIMED_OUT, topics: [] })
  t.same(h.fetch(null).topics[0]!.partitions.map((p) => p.offset), [4], 'OffsetDelete too')
  h.autoAck = true
  t.equal(h.deleteGroup().value.errorCode, E.NONE)
  t.ok(h.removed)
})

t.test('failed expiry tombstones: the offsets stay and are expired at the next retention check, not at once', async (t) => {
  const h = new Harness()
  h.commit({ topics: [...commitOf('t', 0, 1), ...commitOf('t', 1, 1)] })
  h.advance(1000)
  h.commit({ topics: commitOf('u', 0, 1) })
  h.autoAck = false
  h.advance(CONFIG.offsetsRetentionMs - 1000)
  t.equal(h.inFlight.length, 1, 'the tombstones are written')
  h.ackAll(E.NOT_ENOUGH_REPLICAS)
  t.same(h.fetch(null).topics.map((x) => [x.name, x.partitions.length]), [['t', 2], ['u', 1]], 'the offsets are still there')
  t.equal(h.timer, h.now + CONFIG.offsetsRetentionCheckIntervalMs!, 'tried again at the next check')
  h.autoAck = true
  h.advance(CONFIG.offsetsRetentionCheckIntervalMs!)
  t.ok(h.removed, 'then expired, and the group with them')
})

t.test('a reload from a log that lacks the last generations goes on above them', async (t) => {
  const { h, members, generation } = stableGroup(2)
  const [a, b] = members as [string, string]
  h.join({ memberId: a, clientId: 'c0' })
  h.join({ memberId: b, clientId: 'c1' })
  t.equal(h.state.group!.generationId, generation + 1, 'a generation the log does not have yet')
  h.autoAck = false
  h.sync(b, generation + 1)
  const leader = h.sync(a, generation + 1, [])
  h.ackAll(E.NOT_LEADER_OR_FOLLOWER)
  t.equal(leader.value.errorCode, E.NOT_COORDINATOR)
  t.equal(h.state.ended, 'failed')
  h.autoAck = true
  h.reload()
  t.equal(h.state.metadata!.generation, generation, 'the log has the generation of before')
  t.equal(h.state.group!.generationId, generation + 1, 'the group does not go back to it')
  t.equal(stateName(h.state), 'PreparingRebalance', 'and rebalances')
  t.equal(h.heartbeat(a, generation), E.ILLEGAL_GENERATION, 'a member of the generation in the log rejoins')
  const again = [h.join({ memberId: a, clientId: 'c0' }), h.join({ memberId: b, clientId: 'c1' })]
  t.same(again.map((j) => j.value.generationId), [generation + 2, generation + 2], 'to a generation never handed out')
  t.throws(() => activate(h.state, h.now, CONFIG, 0), /invariant/, 'the floor only goes up')
})

t.test('unload answers every held reply with NOT_COORDINATOR', async (t) => {
  const h = new Harness()
  h.autoAck = false
  const j = [h.join({ clientId: 'a' }), h.join({ clientId: 'b' })]
  h.runUntil(() => j[0]!.answered)
  const waiting = h.sync(j[1]!.value.memberId, 1)
  const c = new Harness()
  c.autoAck = false
  const commit = c.commit({ topics: commitOf('t', 0, 1) })
  h.send({ type: 'unload' })
  c.send({ type: 'unload' })
  t.match(waiting.value, { errorCode: E.NOT_COORDINATOR })
  t.equal(commit.value.topics[0]!.partitions[0]!.errorCode, E.NOT_COORDINATOR)
  const p = new Harness()
  const pj = p.join({ clientId: 'x' })
  p.send({ type: 'unload' })
  t.match(pj.value, { errorCode: E.NOT_COORDINATOR })
  t.equal(stateName(p.state), 'Dead')
  t.equal(p.timer, null)
  p.ackAll()
  c.ackAll()
  t.ok(c.allAnswered() && h.allAnswered() && p.allAnswered())
})

t.test('KIP-211 expiry: the offsets of an empty group expire offsets.retention after it became empty, then the group goes', async (t) => {
  const day = 24 * 3600_000
  const { h, members, generation } = stableGroup(1, { ...CONFIG, offsetsRetentionMs: day })
  h.commit({ generationId: generation, memberId: members[0]!, topics: commitOf('t', 0, 5) })
  h.advance(SESSION_MS - 1)
  h.heartbeat(members[0]!, generation)
  h.advance(2 * day) // no expiry while the group has members; the member's session expires
  t.ok(h.removed, 'the offsets expired a day after the group became empty, and with them the group')
  const emptied = h.log.findIndex((r) => r.type === 'group-metadata' && r.value !== null && r.value.members.length === 0)
  const emptiedAt = (h.log[emptied] as Extract<GroupRecord, { type: 'group-metadata' }>).value!.currentStateTimestamp
  t.equal(emptiedAt, T0 + CONFIG.initialRebalanceDelayMs + SESSION_MS - 1 + SESSION_MS, 'it became empty when the member’s session expired')
  t.match(h.log.slice(-2), [
    { type: 'offset-commit', topic: 't', partition: 0, value: null },
    { type: 'group-metadata', value: null },
  ])
  t.equal(stateName(h.state), 'Dead')
})

t.test('KIP-211 expiry: a standalone consumer’s offsets expire by commit time, an explicit retention wins', async (t) => {
  const h = new Harness()
  h.commit({ topics: commitOf('t', 0, 1) })
  h.advance(1000)
  h.commit({ topics: commitOf('t', 1, 1) })
  h.commit({ retentionTimeMs: 5000, topics: commitOf('u', 0, 1) })
  t.equal(h.timer, h.now + 5000, 'the next check is the earliest expiry')
  h.advance(5000)
  t.same(h.fetch(null).topics.map((x) => x.name), ['t'], 'the explicit retention expired first')
  h.advance(CONFIG.offsetsRetentionMs - 6000)
  t.same(h.fetch(null).topics.map((x) => x.partitions.map((p) => p.partition)), [[1]], 'then partition 0, by its commit time')
  h.advance(1000)
  t.ok(h.removed, 'no offsets left: the group is gone')
  t.notOk(h.log.some((r) => r.type === 'group-metadata'), 'a group that never had a generation gets no group tombstone')
})

t.test('expiry: an offset committed again lives on from its new commit; the early wake-up it leaves expires nothing', async (t) => {
  const h = new Harness()
  h.commit({ topics: commitOf('t', 0, 1) })
  h.advance(1000)
  h.commit({ topics: commitOf('t', 1, 1) })
  h.advance(1000)
  h.commit({ topics: commitOf('t', 0, 2) })
  h.advance(CONFIG.offsetsRetentionMs - 2000)
  t.same(h.fetch(null).topics[0]!.partitions.map((p) => [p.partition, p.offset]), [[0, 2], [1, 1]], 'a retention after the first commit, both are kept')
  t.equal(h.timer, T0 + 1000 + CONFIG.offsetsRetentionMs, 'and the timer is at the next true expiry')
  h.advance(1000)
  t.same(h.fetch(null).topics[0]!.partitions.map((p) => p.partition), [0], 'partition 1 expired a retention after its commit')
  h.advance(999)
  t.notOk(h.removed)
  h.advance(1)
  t.ok(h.removed, 'then partition 0, a retention after its second commit')
})

t.test('KIP-496: offsets a Stable consumer group keeps committing to a topic it does not consume stay while it commits', async (t) => {
  const { h, members, generation } = stableGroup(1, { ...CONFIG, offsetsRetentionMs: 60_000 })
  const m = members[0]!
  for (let i = 0; i < 20; i++) {
    h.commit({ generationId: generation, memberId: m, topics: [...commitOf('other', 0, i), ...commitOf('other', 1, i)] })
    h.advance(SESSION_MS - 1000)
  }
  t.same(h.fetch(null).topics.map((x) => [x.name, x.partitions.map((p) => p.offset)]), [['other', [19, 19]]], 'each commit renews them')
  h.heartbeat(m, generation)
  h.advance(SESSION_MS - 1000)
  h.heartbeat(m, generation)
  h.advance(SESSION_MS - 1000)
  h.heartbeat(m, generation)
  h.advance(SESSION_MS - 1000)
  h.heartbeat(m, generation)
  h.advance(SESSION_MS - 1000)
  h.heartbeat(m, generation)
  h.advance(SESSION_MS - 1000)
  h.heartbeat(m, generation)
  h.advance(SESSION_MS - 1000)
  h.heartbeat(m, generation)
  t.same(h.fetch(null).topics, [], 'a retention after the last commit they expire, the group Stable all along')
  t.equal(stateName(h.state), 'Stable')
})

t.test('a step never changes the state it was given: commits, writes in flight, members and offsets of older states stay as they were', async (t) => {
  const { h, members, generation } = stableGroup(2)
  h.autoAck = false
  const states: { state: GroupState; seen: string }[] = []
  const keep = () => states.push({ state: h.state, seen: fingerprint(h.state) })
  keep()
  for (let i = 0; i < 50; i++) {
    h.commit({ generationId: generation, memberId: members[i % 2]!, topics: [...commitOf('t', i % 7, i), ...commitOf(`u${i % 3}`, i, i)] })
    keep()
    if (i % 10 === 9) {
      h.ackAll()
      keep()
    }
    h.advance(100)
  }
  h.deleteOffsets([{ name: 'u1', partitions: [1, 4, 7] }])
  keep()
  h.leave({ memberId: members[1]! })
  h.ackAll()
  keep()
  t.ok(states.every((x) => fingerprint(x.state) === x.seen), 'every older state reads as it did')
  t.equal(offsetRows(h.state).length, 7 + 50 - 3, 'the newest has every offset committed, less those deleted')
})

t.test('KIP-496: a Stable consumer group keeps the offsets of the topics it subscribes to and expires the others', async (t) => {
  const { h, members, generation } = stableGroup(1, { ...CONFIG, offsetsRetentionMs: 60_000 })
  const m = members[0]!
  h.commit({ generationId: generation, memberId: m, topics: [...commitOf('t', 0, 1), ...commitOf('old', 0, 1)] })
  for (let i = 0; i < 10; i++) {
    h.advance(SESSION_MS - 1000)
    h.heartbeat(m, generation)
  }
  t.same(h.fetch(null).topics.map((x) => x.name), ['t'])
})

t.test('an empty group without offsets is removed at the next retention check', async (t) => {
  const { h, members } = stableGroup(1)
  h.leave({ memberId: members[0]! })
  t.equal(stateName(h.state), 'Empty')
  h.advance(CONFIG.offsetsRetentionCheckIntervalMs! - 1)
  t.notOk(h.removed)
  h.advance(1)
  t.ok(h.removed)
  t.match(h.log[h.log.length - 1], { type: 'group-metadata', value: null })
})

t.test('DeleteGroups: NON_EMPTY_GROUP with members, GROUP_ID_NOT_FOUND without a group, else tombstones and the group is gone once written', async (t) => {
  t.equal(new Harness().deleteGroup().value.errorCode, E.GROUP_ID_NOT_FOUND)
  const { h, members, generation } = stableGroup(1)
  h.commit({ generationId: generation, memberId: members[0]!, topics: [...commitOf('t', 0, 1), ...commitOf('t', 1, 2)] })
  t.equal(h.deleteGroup().value.errorCode, E.NON_EMPTY_GROUP)
  h.leave({ memberId: members[0]! })
  h.autoAck = false
  const d = h.deleteGroup()
  t.notOk(d.answered)
  t.match(h.inFlight[0]!.records, [
    { type: 'offset-commit', topic: 't', partition: 0, value: null },
    { type: 'offset-commit', topic: 't', partition: 1, value: null },
    { type: 'group-metadata', value: null },
  ])
  t.equal(stateName(h.state), 'Dead')
  t.equal(h.list(), null, 'Dead groups are not listed')
  t.notOk(h.removed, 'not before the tombstones are written')
  h.ackAll()
  t.equal(d.value.errorCode, E.NONE)
  t.ok(h.removed)
})

t.test('OffsetDelete: GROUP_SUBSCRIBED_TO_TOPIC for topics a consumer group consumes, the rest deleted', async (t) => {
  t.match(new Harness().deleteOffsets([{ name: 't', partitions: [0] }]).value, { errorCode: E.GROUP_ID_NOT_FOUND, topics: [] })
  const { h, members, generation } = stableGroup(1)
  h.commit({ generationId: generation, memberId: members[0]!, topics: [...commitOf('t', 0, 1), ...commitOf('gone', 0, 2)] })
  const r = h.deleteOffsets([
    { name: 't', partitions: [0] },
    { name: 'gone', partitions: [0, 1] },
  ]).value
  t.same(r, {
    errorCode: E.NONE,
    topics: [
      { name: 't', partitions: [{ partition: 0, errorCode: E.GROUP_SUBSCRIBED_TO_TOPIC }] },
      { name: 'gone', partitions: [{ partition: 0, errorCode: E.NONE }, { partition: 1, errorCode: E.NONE }] },
    ],
  })
  t.same(h.fetch(null).topics.map((x) => x.name), ['t'])
  t.match(h.log[h.log.length - 1], { type: 'offset-commit', topic: 'gone', partition: 0, value: null })
})

t.test('OffsetDelete: a non-consumer group with members gets NON_EMPTY_GROUP; undecodable subscriptions protect every topic', async (t) => {
  const connect = new Harness()
  const c = connect.join({ protocolType: 'connect', protocols: [{ name: 'default', metadata: new Uint8Array([1]) }] })
  connect.runUntil(() => c.answered)
  t.match(connect.deleteOffsets([{ name: 't', partitions: [0] }]).value, { errorCode: E.NON_EMPTY_GROUP, topics: [] })
  const { h } = stableGroup(1, CONFIG, [{ name: 'range', metadata: new Uint8Array([0, 0, 0, 0, 0, 9]) }])
  t.same(h.deleteOffsets([{ name: 'any', partitions: [0] }]).value.topics[0]!.partitions, [{ partition: 0, errorCode: E.GROUP_SUBSCRIBED_TO_TOPIC }])
})

t.test('OffsetDelete of the last offsets of an empty group removes the group', async (t) => {
  const h = new Harness()
  h.commit({ topics: commitOf('t', 0, 1) })
  t.same(h.deleteOffsets([{ name: 't', partitions: [0] }]).value, { errorCode: E.NONE, topics: [{ name: 't', partitions: [{ partition: 0, errorCode: E.NONE }] }] })
  t.ok(h.removed)
})

t.test('restart: the records a session wrote, replayed and activated, give the same offsets, generation, leader and members', async (t) => {
  const h = new Harness()
  const a = h.join({ clientId: 'a', requireKnownMemberId: true })
  const ja = h.join({ clientId: 'a', memberId: a.value.memberId, requireKnownMemberId: true })
  const jb = h.join({ clientId: 'b', groupInstanceId: 'ib', sessionTimeoutMs: 20_000 })
  h.runUntil(() => ja.answered)
  const [ida, idb] = [ja.value.memberId, jb.value.memberId]
  h.sync(idb, 1)
  h.sync(ida, 1, [
    { memberId: ida, assignment: new Uint8Array([1]) },
    { memberId: idb, assignment: new Uint8Array([2]) },
  ])
  h.commit({ generationId: 1, memberId: ida, topics: [...commitOf('t', 0, 10, 'x'), ...commitOf('t', 1, 11)] })
  h.commit({ generationId: 1, memberId: idb, groupInstanceId: 'ib', retentionTimeMs: 999_999, topics: commitOf('u', 0, 12) })
  h.commit({ generationId: 1, memberId: ida, topics: commitOf('t', 0, 13) })
  const restartedB = h.join({ clientId: 'b', groupInstanceId: 'ib', sessionTimeoutMs: 20_000 }).value.memberId

  const reloaded = new Harness(CONFIG, 'g', replayAll(emptyGroup('g'), h.log), h.now)
  const oneByOne = h.log.reduce((s, r) => replay(s, r), emptyGroup('g'))
  t.same(offsetRows(oneByOne), offsetRows(reloaded.state), 'replayAll is replay after replay')
  t.same(offsetRows(reloaded.state), offsetRows(h.state), 'the same committed offsets')
  const [was, is] = [h.state.group!, reloaded.state.group!]
  t.equal(is.state, 'Stable')
  t.equal(is.generationId, was.generationId)
  t.equal(is.leaderId, was.leaderId)
  t.equal(is.protocolName, 'range')
  t.same([...is.members.keys()], [ida, restartedB])
  t.same(
    [...is.members.values()].map((m) => [m.memberId, m.groupInstanceId, m.clientId, m.sessionTimeoutMs, [...m.assignment]]),
    [...was.members.values()].map((m) => [m.memberId, m.groupInstanceId, m.clientId, m.sessionTimeoutMs, [...m.assignment]]),
  )
  t.same(reloaded.fetch(null), h.fetch(null))
  // The restored members carry on: heartbeats, their assignment, their sessions started at the reload.
  t.equal(reloaded.heartbeat(ida, 1), E.NONE)
  t.match(reloaded.sync(restartedB, 1, [], { groupInstanceId: 'ib' }).value, { errorCode: E.NONE, assignment: new Uint8Array([2]) })
  t.equal(reloaded.heartbeat(idb, 1, 'ib'), E.FENCED_INSTANCE_ID)
  t.equal(reloaded.timer, reloaded.now + SESSION_MS, 'the first session deadline')
})

t.test('a deleted group replayed from the log is gone at activation', async (t) => {
  const records: GroupRecord[] = [
    { type: 'offset-commit', group: 'g', topic: 't', partition: 0, value: { offset: 1, leaderEpoch: -1, metadata: '', commitTimestamp: T0, expireTimestamp: -1 } },
    { type: 'offset-commit', group: 'g', topic: 't', partition: 0, value: null },
    { type: 'group-metadata', group: 'g', value: null },
  ]
  const h = new Harness(CONFIG, 'g', replayAll(emptyGroup('g'), records))
  t.ok(h.removed)
  t.throws(() => replay(emptyGroup('g'), { ...records[0]!, group: 'other' } as GroupRecord), /invariant/, 'a record of another group')
})

/** How appends to `__consumer_offsets` fail in the random runs. */
const WRITE_ERRORS = [E.NOT_ENOUGH_REPLICAS, E.REQUEST_TIMED_OUT, E.MESSAGE_TOO_LARGE, E.UNKNOWN_TOPIC_OR_PARTITION, E.NOT_LEADER_OR_FOLLOWER]

/** What a state holds of the log, comparably: its offsets and its group metadata. */
function persisted(state: GroupState): string {
  const m = state.metadata
  return JSON.stringify({
    offsets: offsetRows(state).map(([topic, partition, v]) => [topic, partition, v.offset, v.metadata, v.commitTimestamp, v.expireTimestamp]),
    metadata: m && [m.generation, m.leader, m.protocol, m.members.map((x) => [x.memberId, [...x.assignment]])],
  })
}

t.test('seeded random operations: invariants hold after every step and every reply is answered exactly once', async (t) => {
  interface Client {
    clientId: string
    instance: string | null
    memberId: string
    generation: number
    members: string[]
    join: Answer<JoinGroupResult> | null
    sync: Answer<SyncGroupResult> | null
    synced: boolean
    rejoin: boolean
  }
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) {
    // The later seeds also fail appends: the state must then hold what the log holds.
    const failing = seed > 6
    let failures = 0
    const rnd = new SeededRandom(seed)
    const h = new Harness({ ...CONFIG, maxSize: 4, initialRebalanceDelayMs: rnd.int(2) * 3000 })
    h.autoAck = false
    const clients: Client[] = Array.from({ length: 6 }, (_, i) => ({
      clientId: `c${i}`,
      instance: i % 3 === 0 ? `i${i}` : null,
      memberId: '',
      generation: -1,
      members: [],
      join: null,
      sync: null,
      synced: false,
      rejoin: true,
    }))
    /** A client learns from its answers, as a consumer does. */
    const absorb = (c: Client) => {
      if (c.join?.answered) {
        const r = c.join.value
        if (r.errorCode === E.NONE) Object.assign(c, { memberId: r.memberId, generation: r.generationId, members: r.members.map((m) => m.memberId), synced: false, rejoin: false })
        else if (r.errorCode === E.MEMBER_ID_REQUIRED) c.memberId = r.memberId
        else if (r.errorCode === E.UNKNOWN_MEMBER_ID || r.errorCode === E.FENCED_INSTANCE_ID) c.memberId = ''
        c.join = null
      }
      if (c.sync?.answered) {
        const r = c.sync.value
        if (r.errorCode === E.NONE) c.synced = true
        else c.rejoin = true
        if (r.errorCode === E.UNKNOWN_MEMBER_ID || r.errorCode === E.FENCED_INSTANCE_ID) c.memberId = ''
        c.sync = null
      }
    }
    const react = (c: Client, errorCode: number) => {
      if (errorCode === E.REBALANCE_IN_PROGRESS || errorCode === E.ILLEGAL_GENERATION) c.rejoin = true
      if (errorCode === E.UNKNOWN_MEMBER_ID || errorCode === E.FENCED_INSTANCE_ID) Object.assign(c, { memberId: '', rejoin: true })
    }
    let lastGeneration = 0
    const seen = new Set<string>()
    let incarnations = 1
    let previous = { state: h.state, seen: fingerprint(h.state) }
    const check = () => {
      if (fingerprint(previous.state) !== previous.seen) throw new Error('a step changed the state it was given')
      previous = { state: h.state, seen: fingerprint(h.state) }
      seen.add(stateName(h.state))
      const g = h.state.group
      if (g === null) return
      if (g.generationId < lastGeneration) throw new Error('generation went back')
      lastGeneration = g.generationId
      if (h.inFlight.length === 0 && h.state.ended === null && persisted(h.state) !== persisted(replayAll(emptyGroup('g'), h.log.slice(h.logStart)))) {
        throw new Error(`with no write in flight the state is not what the log holds: ${persisted(h.state)} ≠ ${persisted(replayAll(emptyGroup('g'), h.log.slice(h.logStart)))}`)
      }
      // After failed writes Kafka's live group may differ from its log until the next write (as Kafka's does).
      if (g.state === 'Stable' && failures === 0) {
        const written = h.state.metadata
        if (written === null || written.generation !== g.generationId) throw new Error('a Stable group whose generation is not written')
        for (const m of g.members.values()) {
          if (!written.members.some((w) => w.memberId === m.memberId)) throw new Error(`Stable member ${m.memberId} has no assignment of generation ${g.generationId}`)
        }
      }
    }
    for (let i = 0; i < 600; i++) {
      const c = clients[rnd.int(clients.length)]!
      absorb(c)
      const op = rnd.int(100)
      if (op < 55) {
        // Behave: join, sync, heartbeat or commit, whatever the client's state calls for.
        if (c.join || c.sync) {
          if (c.memberId !== '' && !c.join) react(c, h.heartbeat(c.memberId, c.generation, c.instance))
        } else if (c.memberId === '' || c.rejoin) {
          c.join = h.join({ clientId: c.clientId, memberId: c.memberId, groupInstanceId: c.instance, requireKnownMemberId: true })
        } else if (!c.synced) {
          const leader = c.members.length > 0
          c.sync = h.sync(c.memberId, c.generation, leader ? c.members.map((m) => ({ memberId: m, assignment: new Uint8Array([i & 0xff]) })) : [], { groupInstanceId: c.instance })
        } else if (rnd.int(3) === 0) {
          const r = h.commit({ generationId: c.generation, memberId: c.memberId, groupInstanceId: c.instance, topics: commitOf('t', rnd.int(3), i) })
          if (r.answered) react(c, r.value.topics[0]!.partitions[0]!.errorCode)
        } else {
          react(c, h.heartbeat(c.memberId, c.generation, c.instance))
        }
      } else if (op < 75) {
        h.advance(rnd.int(4000))
      } else if (op < 85) {
        if (failing && rnd.int(3) === 0 && h.inFlight.length > 0) {
          failures++
          h.ackFirst(WRITE_ERRORS[rnd.int(WRITE_ERRORS.length)]!)
        } else {
          h.ackAll()
        }
      } else if (op < 88) {
        h.advance(rnd.int(40_000))
      } else if (op < 90) {
        if (c.memberId !== '') h.leave({ memberId: c.memberId, groupInstanceId: c.instance })
        c.memberId = ''
      } else if (op < 92) {
        // A restart: a static member comes back with no member id; the old process's requests are abandoned.
        Object.assign(c, { memberId: '', join: null, sync: null, rejoin: true })
      } else if (op < 94) {
        h.deleteGroup()
      } else if (op < 95) {
        h.deleteOffsets([{ name: 't', partitions: [0, 1] }])
      } else if (op < 97) {
        h.fetch(null)
        h.describe()
        h.list()
      } else {
        h.commit({ topics: commitOf('t', 0, i) })
      }
      check()
      if (h.state.ended === 'failed') {
        h.reload()
        incarnations++
        check()
      } else if (h.state.ended !== null) {
        if (h.state.ended !== 'removed' || !h.removed) throw new Error(`ended ${h.state.ended}`)
        h.recreate()
        lastGeneration = 0
        incarnations++
      }
    }
    h.ackAll()
    if (h.state.ended === null) h.send({ type: 'unload' })
    t.ok(h.allAnswered(), `seed ${seed}: every reply answered exactly once`)
    if (failing) t.ok(failures > 0, `seed ${seed}: ${failures} appends failed`)
    t.ok(seen.has('Stable') && seen.has('CompletingRebalance') && seen.has('PreparingRebalance'), `seed ${seed} went through the rebalance states (${[...seen].join(', ')}; ${incarnations} incarnations)`)
  }
})
