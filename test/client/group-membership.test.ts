// The membership state machine alone: what a member does on each answer and timer, driven
// message by message with a made-up clock.
import t from 'tap'
import { ErrorCode } from '../../src/protocol/kafka/error-codes.ts'
import {
  commitGeneration,
  initialMembership,
  nextTickMs,
  step,
  type MembershipConfig,
  type MembershipEffect,
  type MembershipMsg,
  type MembershipState,
} from '../../src/client/group-membership.ts'
import type { TopicPartition } from '../../src/client/list-offsets.ts'

const config = (over: Partial<MembershipConfig> = {}): MembershipConfig => ({
  groupInstanceId: null,
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  maxPollIntervalMs: 60_000,
  retryBackoffMs: 100,
  protocol: 'EAGER',
  leaveGroupOnClose: true,
  ...over,
})

const tp = (topic: string, partition: number): TopicPartition => ({ topic, partition })
const types = (effects: MembershipEffect[]) => effects.map((e) => e.type)

/** A driver: the state, the clock, and the effects of the last message. */
class Member {
  state: MembershipState
  now = 1_000
  effects: MembershipEffect[] = []
  constructor(over: Partial<MembershipConfig> = {}) {
    this.state = initialMembership(config(over), this.now)
  }
  send(msg: MembershipMsg): MembershipEffect[] {
    const r = step(this.state, msg, this.now)
    this.state = r.state
    this.effects = r.effects
    return r.effects
  }
  effect<T extends MembershipEffect['type']>(type: T): Extract<MembershipEffect, { type: T }> {
    const e = this.effects.find((x) => x.type === type)
    if (e === undefined) throw new Error(`no ${type} effect in ${JSON.stringify(types(this.effects))}`)
    return e as Extract<MembershipEffect, { type: T }>
  }
  /** From nothing to STABLE with `assignment`, as the only member and leader. */
  joinWith(topics: string[], assignment: TopicPartition[], generationId = 1, memberId = 'm-1'): void {
    this.send({ type: 'subscribe', topics })
    if (this.state.coordinator !== 'KNOWN') {
      this.send({ type: 'poll' })
      this.send({ type: 'coordinator-found' })
    }
    this.send({ type: 'poll' })
    if (this.state.phase === 'PREPARING') this.send({ type: 'prepared' })
    this.effect('join')
    this.send({ type: 'join-response', errorCode: 0, memberId, generationId, protocolName: 'range', leaderId: memberId, members: [] })
    this.send({ type: 'sync-response', generationId, errorCode: 0, assignment })
    this.send({ type: 'poll' })
    this.effect('assign')
    this.send({ type: 'assigned' })
  }
}

t.test('first join: find the coordinator, KIP-394 member id, leader sync, assignment on the next poll', async (t) => {
  const m = new Member()
  m.send({ type: 'subscribe', topics: ['b', 'a', 'b'] })
  t.same(m.state.subscription, ['a', 'b'], 'sorted, without duplicates')
  t.same(types(m.send({ type: 'poll' })), ['find-coordinator'])
  t.same(m.send({ type: 'poll' }), [], 'one lookup at a time')
  m.send({ type: 'coordinator-found' })
  const join = m.send({ type: 'poll' })[0]
  t.match(join, { type: 'join', memberId: '', generationId: -1, topics: ['a', 'b'], owned: [] })
  t.equal(m.state.phase, 'JOINING')
  t.same(m.send({ type: 'poll' }), [], 'nothing while the join is under way')
  t.match(commitGeneration(m.state), { error: ErrorCode.REBALANCE_IN_PROGRESS }, 'no commit while rebalancing')
  m.send({ type: 'join-response', errorCode: ErrorCode.MEMBER_ID_REQUIRED, memberId: 'm-1', generationId: -1, protocolName: null, leaderId: '', members: [] })
  t.match(m.effect('join'), { memberId: 'm-1' }, 'joins again at once with the given member id')
  const members = [{ memberId: 'm-1', groupInstanceId: null, metadata: new Uint8Array() }]
  m.send({ type: 'join-response', errorCode: 0, memberId: 'm-1', generationId: 1, protocolName: 'range', leaderId: 'm-1', members })
  t.match(m.effect('sync'), { leader: true, generationId: 1, protocolName: 'range', members })
  m.send({ type: 'sync-response', generationId: 1, errorCode: 0, assignment: [tp('b', 0), tp('a', 1)] })
  t.equal(m.state.phase, 'SYNCED')
  t.same(m.send({ type: 'poll' }), [{ type: 'assign', assigned: [tp('a', 1), tp('b', 0)], added: [tp('a', 1), tp('b', 0)], revoked: [] }], 'the listener runs in poll')
  m.send({ type: 'assigned' })
  t.equal(m.state.phase, 'STABLE')
  t.same(m.send({ type: 'poll' }), [], 'stable: nothing to do')
  t.same(commitGeneration(m.state), { generationId: 1, memberId: 'm-1' })
})

t.test('a follower sends an empty SyncGroup', async (t) => {
  const m = new Member()
  m.send({ type: 'subscribe', topics: ['a'] })
  m.send({ type: 'poll' })
  m.send({ type: 'coordinator-found' })
  m.send({ type: 'poll' })
  m.send({ type: 'join-response', errorCode: 0, memberId: 'm-2', generationId: 3, protocolName: 'roundrobin', leaderId: 'm-1', members: [] })
  t.match(m.effect('sync'), { leader: false, members: [] })
})

t.test('eager: everything is revoked (after a commit) before the member rejoins', async (t) => {
  const m = new Member()
  m.joinWith(['a'], [tp('a', 0), tp('a', 1)])
  m.send({ type: 'heartbeat-response', generationId: 1, errorCode: ErrorCode.REBALANCE_IN_PROGRESS })
  t.ok(m.state.rejoinReason, 'a heartbeat tells of the rebalance')
  t.same(m.send({ type: 'poll' }), [{ type: 'revoke', partitions: [tp('a', 0), tp('a', 1)], remaining: [], commit: true }])
  t.equal(m.state.phase, 'PREPARING')
  t.same(commitGeneration(m.state), { generationId: 1, memberId: 'm-1' }, 'the listener may still commit')
  m.send({ type: 'prepared' })
  t.match(m.effect('join'), { memberId: 'm-1', generationId: 1, owned: [], lastAssignment: [tp('a', 0), tp('a', 1)], lastAssignmentGenerationId: 1 })
  m.send({ type: 'join-response', errorCode: 0, memberId: 'm-1', generationId: 2, protocolName: 'range', leaderId: 'x', members: [] })
  m.send({ type: 'sync-response', generationId: 2, errorCode: 0, assignment: [tp('a', 1)] })
  t.same(m.send({ type: 'poll' }), [{ type: 'assign', assigned: [tp('a', 1)], added: [tp('a', 1)], revoked: [] }])
})

t.test('eager: a SyncGroup REBALANCE_IN_PROGRESS rejoins without a second revocation', async (t) => {
  const m = new Member()
  m.joinWith(['a'], [tp('a', 0)])
  m.send({ type: 'rejoin', reason: 'test' })
  m.send({ type: 'poll' })
  m.send({ type: 'prepared' })
  m.send({ type: 'join-response', errorCode: 0, memberId: 'm-1', generationId: 2, protocolName: 'range', leaderId: 'x', members: [] })
  m.send({ type: 'sync-response', generationId: 2, errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: null })
  t.same(types(m.send({ type: 'poll' })), ['join'])
})

t.test('cooperative: partitions are kept through the rebalance; only those that move are revoked, then a follow-up join', async (t) => {
  const m = new Member({ protocol: 'COOPERATIVE' })
  m.joinWith(['a'], [tp('a', 0), tp('a', 1), tp('a', 2)])
  m.send({ type: 'heartbeat-response', generationId: 1, errorCode: ErrorCode.REBALANCE_IN_PROGRESS })
  const join = m.send({ type: 'poll' })
  t.match(join, [{ type: 'join', owned: [tp('a', 0), tp('a', 1), tp('a', 2)] }], 'no revocation before the join')
  m.send({ type: 'join-response', errorCode: 0, memberId: 'm-1', generationId: 2, protocolName: 'cooperative-sticky', leaderId: 'x', members: [] })
  m.send({ type: 'sync-response', generationId: 2, errorCode: 0, assignment: [tp('a', 0), tp('a', 2)] })
  t.same(m.send({ type: 'poll' }), [{ type: 'assign', assigned: [tp('a', 0), tp('a', 2)], added: [], revoked: [tp('a', 1)] }])
  m.send({ type: 'assigned' })
  t.ok(m.state.rejoinReason, 'a follow-up rebalance is due')
  t.match(m.send({ type: 'poll' }), [{ type: 'join', owned: [tp('a', 0), tp('a', 2)] }], 'and it joins at once, still owning the rest')
})

t.test('cooperative: unsubscribing from a topic revokes only its partitions before the join', async (t) => {
  const m = new Member({ protocol: 'COOPERATIVE' })
  m.joinWith(['a', 'b'], [tp('a', 0), tp('b', 0)])
  m.send({ type: 'subscribe', topics: ['a'] })
  t.same(m.send({ type: 'poll' }), [{ type: 'revoke', partitions: [tp('b', 0)], remaining: [tp('a', 0)], commit: true }])
  m.send({ type: 'prepared' })
  t.match(m.effect('join'), { topics: ['a'], owned: [tp('a', 0)] })
})

t.test('kicked out (UNKNOWN_MEMBER_ID): the partitions are lost, not revoked, and it joins as a new member', async (t) => {
  const m = new Member()
  m.joinWith(['a'], [tp('a', 0)])
  m.send({ type: 'heartbeat-response', generationId: 1, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })
  t.equal(m.state.generationId, -1)
  t.equal(m.state.memberId, '')
  t.match(commitGeneration(m.state), { error: ErrorCode.ILLEGAL_GENERATION }, 'commits fail (CommitFailed)')
  t.same(m.send({ type: 'poll' }), [{ type: 'lose', partitions: [tp('a', 0)], remaining: [] }])
  t.match(m.send({ type: 'poll' }), [{ type: 'join', memberId: '', generationId: -1, owned: [] }])
})

t.test('ILLEGAL_GENERATION keeps the member id; a stale answer is ignored', async (t) => {
  const m = new Member()
  m.joinWith(['a'], [tp('a', 0)], 5)
  m.send({ type: 'heartbeat-response', generationId: 4, errorCode: ErrorCode.ILLEGAL_GENERATION })
  t.equal(m.state.generationId, 5, 'an answer for an older generation changes nothing')
  m.send({ type: 'commit-error', generationId: 5, errorCode: ErrorCode.ILLEGAL_GENERATION })
  t.equal(m.state.generationId, -1)
  t.equal(m.state.memberId, 'm-1')
  t.same(types(m.send({ type: 'poll' })), ['lose'])
  t.match(m.send({ type: 'poll' }), [{ type: 'join', memberId: 'm-1' }])
})

t.test('FENCED_INSTANCE_ID is fatal: no more joins, poll keeps failing', async (t) => {
  const m = new Member({ groupInstanceId: 'i-1' })
  m.joinWith(['a'], [tp('a', 0)])
  m.send({ type: 'heartbeat-response', generationId: 1, errorCode: ErrorCode.FENCED_INSTANCE_ID })
  t.equal(m.state.phase, 'FENCED')
  t.match(m.state.pollError, { code: ErrorCode.FENCED_INSTANCE_ID, message: /group.instance.id 'i-1'/ })
  t.same(m.send({ type: 'poll' }), [])
  m.now += 100_000
  t.same(m.send({ type: 'tick' }), [], 'no heartbeats either')
})

t.test('heartbeats: one per interval, one at a time; a session without answers looks the coordinator up again', async (t) => {
  const m = new Member()
  m.joinWith(['a'], [tp('a', 0)])
  t.equal(nextTickMs(m.state), m.now + 1_000)
  t.same(m.send({ type: 'tick' }), [], 'not yet')
  m.now += 1_000
  t.match(m.send({ type: 'tick' }), [{ type: 'heartbeat', memberId: 'm-1', generationId: 1 }])
  m.now += 1_000
  t.same(m.send({ type: 'tick' }), [], 'the last one is still in flight')
  m.send({ type: 'heartbeat-response', generationId: 1, errorCode: 0 })
  t.same(types(m.send({ type: 'tick' })), ['heartbeat'])
  m.send({ type: 'heartbeat-failed', reason: 'timed out' })
  t.equal(m.state.coordinator, 'UNKNOWN', 'a failed heartbeat: find the coordinator again')
  m.now += 100
  t.same(types(m.send({ type: 'tick' })), ['find-coordinator'], 'the heartbeat timer looks it up, without a poll')
  m.send({ type: 'coordinator-found' })
  t.same(types(m.send({ type: 'tick' })), ['heartbeat'], 'and heartbeats at once')
  m.now += 10_001
  m.send({ type: 'poll' })
  t.same(types(m.send({ type: 'tick' })), ['find-coordinator'], 'no answer for session.timeout.ms')
  t.equal(m.state.generationId, 1, 'the member stays in its generation')
})

t.test('max.poll.interval.ms without a poll: a dynamic member leaves, a static one only resets', async (t) => {
  for (const groupInstanceId of [null, 'i-1']) {
    const m = new Member({ groupInstanceId, maxPollIntervalMs: 5_000 })
    m.joinWith(['a'], [tp('a', 0)])
    m.now += 5_001
    const effects = m.send({ type: 'tick' })
    t.same(types(effects), groupInstanceId === null ? ['leave-group'] : [], `${groupInstanceId ?? 'dynamic'}: LeaveGroup only when dynamic`)
    t.equal(m.state.generationId, -1)
    t.equal(m.state.phase, 'UNJOINED')
    t.equal(nextTickMs(m.state), Infinity, 'heartbeats stop')
    t.same(types(m.send({ type: 'poll' })), ['lose'], 'the next poll loses the partitions')
    t.same(types(m.send({ type: 'poll' })), ['join'], 'and rejoins')
  }
})

t.test('JoinGroup errors: coordinator moved (backoff, then look it up), fatal ones reach the poller', async (t) => {
  const m = new Member()
  m.send({ type: 'subscribe', topics: ['a'] })
  m.send({ type: 'poll' })
  m.send({ type: 'coordinator-found' })
  m.send({ type: 'poll' })
  m.send({ type: 'join-response', errorCode: ErrorCode.NOT_COORDINATOR, memberId: '', generationId: -1, protocolName: null, leaderId: '', members: [] })
  t.equal(m.state.coordinator, 'UNKNOWN')
  t.same(m.send({ type: 'poll' }), [], 'backing off')
  m.now += 100
  t.same(types(m.send({ type: 'poll' })), ['find-coordinator'])
  m.send({ type: 'coordinator-found' })
  m.send({ type: 'poll' })
  m.send({ type: 'join-response', errorCode: ErrorCode.INCONSISTENT_GROUP_PROTOCOL, memberId: '', generationId: -1, protocolName: null, leaderId: '', members: [] })
  t.match(m.state.pollError, { code: ErrorCode.INCONSISTENT_GROUP_PROTOCOL })
  t.equal(m.state.phase, 'UNJOINED')
  m.send({ type: 'join-failed', reason: 'late' })
  t.equal(m.state.coordinator, 'KNOWN', 'a failure of a join no longer under way changes nothing')
})

t.test('an assignment that does not match the subscription: rejoin, no callbacks', async (t) => {
  const m = new Member()
  m.joinWith(['a'], [tp('a', 0)])
  m.send({ type: 'rejoin', reason: 'test' })
  m.send({ type: 'poll' })
  m.send({ type: 'prepared' })
  m.send({ type: 'subscribe', topics: ['b'] })
  m.send({ type: 'join-response', errorCode: 0, memberId: 'm-1', generationId: 2, protocolName: 'range', leaderId: 'x', members: [] })
  m.send({ type: 'sync-response', generationId: 2, errorCode: 0, assignment: [tp('a', 0)] })
  t.same(m.send({ type: 'poll' }), [], 'the assignment is not applied')
  t.same(m.state.owned, [], 'eager: nothing owned (all revoked before the join)')
  t.same(m.send({ type: 'poll' }), [{ type: 'revoke', partitions: [], remaining: [], commit: true }], 'a new join, prepared as any (Kafka calls the listener with nothing)')
  m.send({ type: 'prepared' })
  t.match(m.effect('join'), { topics: ['b'] })
})

t.test('leave on close: revoke (no commit) and LeaveGroup for a dynamic member; a static member sends no LeaveGroup', async (t) => {
  const dynamic = new Member()
  dynamic.joinWith(['a'], [tp('a', 0)])
  t.same(dynamic.send({ type: 'leave', reason: 'closing', final: true }), [
    { type: 'revoke', partitions: [tp('a', 0)], remaining: [], commit: false },
    { type: 'leave-group', memberId: 'm-1', reason: 'closing' },
  ])
  t.equal(dynamic.state.phase, 'CLOSED')
  t.same(dynamic.send({ type: 'poll' }), [])
  const fixed = new Member({ groupInstanceId: 'i-1' })
  fixed.joinWith(['a'], [tp('a', 0)])
  t.same(types(fixed.send({ type: 'leave', reason: 'closing', final: true })), ['revoke'])
  const noLeave = new Member({ leaveGroupOnClose: false })
  noLeave.joinWith(['a'], [tp('a', 0)])
  t.same(types(noLeave.send({ type: 'leave', reason: 'closing', final: true })), ['revoke'], 'internal.leave.group.on.close=false')
  t.same(types(noLeave.send({ type: 'leave', reason: 'x', final: true })), [], 'closed')
})

t.test('leave during a rebalance: the partitions are lost; unsubscribe allows a later subscribe', async (t) => {
  const m = new Member({ protocol: 'COOPERATIVE' })
  m.joinWith(['a'], [tp('a', 0)])
  m.send({ type: 'rejoin', reason: 'test' })
  m.send({ type: 'poll' })
  t.equal(m.state.phase, 'JOINING')
  t.same(types(m.send({ type: 'leave', reason: 'unsubscribe', final: false })), ['lose', 'leave-group'])
  t.equal(m.state.subscription, null)
  t.same(m.send({ type: 'poll' }), [], 'no subscription: nothing to join')
  t.same(commitGeneration(m.state), { generationId: -1, memberId: '' }, 'commits as a manual assignment')
  m.send({ type: 'subscribe', topics: ['a'] })
  t.same(types(m.send({ type: 'poll' })), ['join'])
})

t.test('a JoinGroup answer with an older generation (a coordinator restarted mid-rebalance) is taken as it is', async (t) => {
  const m = new Member()
  m.joinWith(['a'], [tp('a', 0)], 7)
  m.send({ type: 'rejoin', reason: 'test' })
  m.send({ type: 'poll' })
  m.send({ type: 'prepared' })
  t.same(types(m.send({ type: 'join-response', errorCode: 0, memberId: 'm-1', generationId: 6, protocolName: 'range', leaderId: 'x', members: [] })), ['sync'])
  t.equal(m.state.generationId, 6, 'the member follows the coordinator')
})

t.test('a commit needing the coordinator looks it up once', async (t) => {
  const m = new Member()
  t.same(types(m.send({ type: 'coordinator-needed' })), ['find-coordinator'])
  t.same(m.send({ type: 'coordinator-needed' }), [])
  m.send({ type: 'coordinator-failed', errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, message: 'no' })
  t.match(m.state.pollError, { code: ErrorCode.GROUP_AUTHORIZATION_FAILED })
  t.same(m.send({ type: 'coordinator-needed' }), [], 'backing off')
  m.now += 100
  t.same(types(m.send({ type: 'coordinator-needed' })), ['find-coordinator'])
})
