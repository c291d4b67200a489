import type { Ref } from 'nact'
import t from 'tap'
import { type ReplicaMessage } from '../../../actors/partition-replica/messages.ts'
import { initialState, MAX_FETCH_WAITERS_COUNT, type ReplicaEffect, type ReplicaState, step } from '../../../actors/partition-replica/state.ts'
import { ErrorCode } from '../../../src/protocol/kafka/error-codes.ts'

const ref = <T>(name: string) => ({ name }) as unknown as Ref<T>
const image = { partition: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 3, partitionEpoch: 0 }
const fresh = (over: Partial<ReplicaState> = {}): ReplicaState => ({
  ...initialState({ topic: 't', partition: 0, nodeId: 1, image, minInsyncReplicas: 1, logStartOffset: 0, highWatermark: 0, logEndOffset: 0 }),
  ...over,
})
const replies = (effects: ReplicaEffect[]) => effects.filter((e) => e.type === 'reply').map((e) => (e as { value: unknown }).value as Record<string, unknown>)
const produce = (acks: -1 | 0 | 1 = 1): ReplicaMessage => ({ type: 'produce', records: new Uint8Array(70), acks, crcVerified: false, timeoutMs: 1000, replyTo: ref('p') })

t.test('produce asks the shell to append with the leader epoch; appended answers and moves HW to LEO', async (t) => {
  const s0 = fresh()
  const r1 = step(s0, produce(), 100)
  t.same(r1.effects.map((e) => e.type), ['append'])
  t.equal((r1.effects[0] as { leaderEpoch: number }).leaderEpoch, 3)
  const r2 = step(r1.state, { type: 'appended', replyTo: ref('p'), acks: 1, deadline: 1100, firstOffset: 0, lastOffset: 9, logAppendTime: -1, logStartOffset: 0, logEndOffset: 10 }, 100)
  t.equal(r2.state.logEndOffset, 10)
  t.equal(r2.state.highWatermark, 10, 'ISR = this node alone: HW = LEO')
  t.same(r2.effects.map((e) => e.type), ['reply', 'set-high-watermark'])
  t.equal(replies(r2.effects)[0]!.baseOffset, 0)
})

t.test('acks=all: answered once the HW covers the batch (at once with ISR = self); min.insync.replicas enforced', async (t) => {
  const r = step(fresh(), { type: 'appended', replyTo: ref('p'), acks: -1, deadline: 1100, firstOffset: 0, lastOffset: 4, logAppendTime: -1, logStartOffset: 0, logEndOffset: 5 }, 100)
  t.equal(r.state.pendingAcks.length, 0)
  t.equal(replies(r.effects)[0]!.errorCode, ErrorCode.NONE)
  const refused = step(fresh({ minInsyncReplicas: 2 }), produce(-1), 100)
  t.equal(replies(refused.effects)[0]!.errorCode, ErrorCode.NOT_ENOUGH_REPLICAS)
  // With a follower in the ISR that has not fetched, the produce waits, then times out.
  const two = fresh({ isr: [1, 2], replicas: [1, 2] })
  const w = step(two, { type: 'appended', replyTo: ref('p'), acks: -1, deadline: 200, firstOffset: 0, lastOffset: 4, logAppendTime: -1, logStartOffset: 0, logEndOffset: 5 }, 100)
  t.equal(w.state.pendingAcks.length, 1)
  t.equal(w.state.highWatermark, 0)
  const late = step(w.state, { type: 'describe', replyTo: ref('d') }, 300)
  t.equal(late.state.pendingAcks.length, 0)
  t.equal(replies(late.effects)[0]!.errorCode, ErrorCode.REQUEST_TIMED_OUT)
})

t.test('not the leader: NOT_LEADER_OR_FOLLOWER; no leader: LEADER_NOT_AVAILABLE', async (t) => {
  t.equal(replies(step(fresh({ leader: 2 }), produce(), 0).effects)[0]!.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER)
  t.equal(replies(step(fresh({ leader: -1 }), produce(), 0).effects)[0]!.errorCode, ErrorCode.LEADER_NOT_AVAILABLE)
})

t.test('reads: out of range, at the HW (empty), below it (read effect up to HW), epoch checks', async (t) => {
  const s = fresh({ logStartOffset: 5, highWatermark: 10, logEndOffset: 12 })
  const read = (fetchOffset: number, currentLeaderEpoch = -1) => step(s, { type: 'read', fetchOffset, maxBytes: 1000, minOneBatch: true, currentLeaderEpoch, replyTo: ref('r') }, 0).effects
  t.equal(replies(read(4))[0]!.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
  t.equal(replies(read(13))[0]!.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
  t.equal(replies(read(10))[0]!.errorCode, ErrorCode.NONE)
  t.equal(replies(read(11))[0]!.errorCode, ErrorCode.NONE, 'between HW and LEO: nothing yet')
  const e = read(6)
  t.same(e[0], { type: 'read', fetchOffset: 6, maxBytes: 1000, maxOffset: 10, minOneBatch: true, replyTo: ref('r') })
  t.equal(replies(read(6, 2))[0]!.errorCode, ErrorCode.FENCED_LEADER_EPOCH)
  t.equal(replies(read(6, 4))[0]!.errorCode, ErrorCode.UNKNOWN_LEADER_EPOCH)
})

t.test('watches: woken by the append that passes their offset; bounded; unwatch and deadlines drop them', async (t) => {
  let s = fresh()
  s = step(s, { type: 'watch', id: 1, fetchOffset: 0, deadline: 1000, replyTo: ref('w1') }, 0).state
  s = step(s, { type: 'watch', id: 2, fetchOffset: 5, deadline: 1000, replyTo: ref('w2') }, 0).state
  s = step(s, { type: 'watch', id: 3, fetchOffset: 0, deadline: 10, replyTo: ref('w3') }, 0).state
  t.equal(s.waiters.length, 3)
  s = step(s, { type: 'unwatch', id: 3 }, 0).state
  const r = step(s, { type: 'appended', replyTo: ref('p'), acks: 1, deadline: 0, firstOffset: 0, lastOffset: 2, logAppendTime: -1, logStartOffset: 0, logEndOffset: 3 }, 5)
  t.same(r.effects.filter((e) => e.type === 'wake').map((e) => (e as { to: unknown }).to), [ref('w1')])
  t.equal(r.state.waiters.length, 1)
  t.equal(step(r.state, { type: 'describe', replyTo: ref('d') }, 2000).state.waiters.length, 0, 'expired')
  // A watch whose data is already there is woken at once; past the bound, at once too.
  t.equal(step(r.state, { type: 'watch', id: 9, fetchOffset: 1, deadline: 1000, replyTo: ref('w') }, 5).effects[0]!.type, 'wake')
  let full = fresh()
  for (let i = 0; i < MAX_FETCH_WAITERS_COUNT; i++) full = step(full, { type: 'watch', id: i, fetchOffset: 0, deadline: 1e9, replyTo: ref('w') }, 0).state
  const over = step(full, { type: 'watch', id: -1, fetchOffset: 0, deadline: 1e9, replyTo: ref('x') }, 0)
  t.same(over.effects, [{ type: 'wake', to: ref('x'), reason: 'full' }])
})

t.test('list offsets: latest = HW, earliest = log start, by timestamp and max timestamp go to the log', async (t) => {
  const s = fresh({ logStartOffset: 2, highWatermark: 7, logEndOffset: 7 })
  const lo = (timestamp: number) => step(s, { type: 'list-offsets', timestamp, currentLeaderEpoch: -1, replyTo: ref('l') }, 0).effects
  t.equal(replies(lo(-1))[0]!.offset, 7)
  t.equal(replies(lo(-2))[0]!.offset, 2)
  t.equal(lo(-3)[0]!.type, 'lookup-offset')
  t.equal(lo(123)[0]!.type, 'lookup-offset')
  t.equal(replies(lo(-7))[0]!.errorCode, ErrorCode.INVALID_REQUEST)
})

t.test('delete records: up to the HW only; -1 means the HW; the log start offset moves', async (t) => {
  const s = fresh({ highWatermark: 7, logEndOffset: 9 })
  const del = (offset: number) => step(s, { type: 'delete-records', offset, replyTo: ref('d') }, 0).effects
  t.equal(replies(del(8))[0]!.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE)
  t.same(del(-1)[0], { type: 'delete-records', offset: 7, replyTo: ref('d') })
  t.equal(replies(del(0))[0]!.lowWatermark, 0)
  const moved = step(s, { type: 'log-start-moved', logStartOffset: 5, replyTo: ref('d') }, 0)
  t.equal(moved.state.logStartOffset, 5)
  t.equal(replies(moved.effects)[0]!.lowWatermark, 5)
})

t.test('update: a new leader epoch wakes every watcher; a stale image is ignored; refresh re-reads offsets', async (t) => {
  let s = step(fresh(), { type: 'watch', id: 1, fetchOffset: 0, deadline: 1e9, replyTo: ref('w') }, 0).state
  const stale = step(s, { type: 'update', partition: { ...image, leaderEpoch: 2 }, minInsyncReplicas: 1 }, 0)
  t.equal(stale.state, s)
  const r = step(s, { type: 'update', partition: { ...image, leaderEpoch: 4 }, minInsyncReplicas: 2 }, 0)
  t.equal(r.state.leaderEpoch, 4)
  t.equal(r.state.minInsyncReplicas, 2)
  t.same(r.effects, [{ type: 'wake', to: ref('w'), reason: 'changed' }])
  s = step(r.state, { type: 'log-offsets', logStartOffset: 0, highWatermark: 3, logEndOffset: 3 }, 0).state
  t.equal(s.highWatermark, 3)
  t.throws(() => step(fresh(), { type: 'log-offsets', logStartOffset: 5, highWatermark: 3, logEndOffset: 3 }, 0), /invariant/)
})

t.test('a leader alone in its ISR starts with HW = LEO even when the checkpointed HW lags (after an unclean stop)', async (t) => {
  const s = initialState({ topic: 't', partition: 0, nodeId: 1, image, minInsyncReplicas: 1, logStartOffset: 0, highWatermark: 3, logEndOffset: 10 })
  t.equal(s.highWatermark, 10, 'the tail is visible at once')
  const follower = initialState({ topic: 't', partition: 0, nodeId: 2, image: { ...image, replicas: [1, 2], isr: [1, 2] }, minInsyncReplicas: 1, logStartOffset: 0, highWatermark: 3, logEndOffset: 10 })
  t.equal(follower.highWatermark, 3, 'a follower keeps the checkpointed HW: only its leader moves it')
})
