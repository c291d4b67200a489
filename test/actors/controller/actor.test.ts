// The controller actor shell: one batch per request, replay after append, failure handling.
import { start, stop } from 'nact'
import t from 'tap'
import { ask, commitRecords, controllerStep, ControllerFailedError, recoverControllerState, spawnController, type ControllerActorOptions } from '../../../actors/controller/actor.ts'
import type { ControllerMessage, ControllerReply, ControllerRequest } from '../../../actors/controller/messages.ts'
import { initialState } from '../../../actors/controller/state.ts'
import type { CreateTopicResult } from '../../../src/cluster/metadata.ts'
import { DEFAULT_BROKER_CONFIG } from '../../../src/broker/broker-config.ts'
import { PartitionLog } from '../../../src/log/partition-log.ts'
import { buildRecordBatch, iterateRecordBatches } from '../../../src/record/record-batch.ts'
import { ManualClock } from '../../../src/runtime/clock.ts'
import { RecordingLogger } from '../../../src/runtime/logger.ts'
import { SeededRandom } from '../../../src/sim/random.ts'
import { SimStorage } from '../../../src/sim/sim-storage.ts'

function setup() {
  const storage = new SimStorage()
  const clock = new ManualClock()
  const log = PartitionLog.open({ storage, dir: '/d/__cluster_metadata-0', clock })
  const logger = new RecordingLogger()
  const commits: number[] = []
  const options: ControllerActorOptions = {
    log,
    clock,
    logger,
    ctx: { config: DEFAULT_BROKER_CONFIG, random: new SeededRandom(1) },
    initial: initialState('c', 1),
    onCommit: (next) => commits.push(next.image.offset),
  }
  return { storage, clock, log, logger, commits, options }
}

function send(options: ControllerActorOptions, s: Parameters<typeof controllerStep>[1], request: ControllerRequest) {
  let reply: ControllerReply | undefined
  let error: Error | undefined
  const next = controllerStep(options, s, { type: 'request', request, reply: (r) => (reply = r), fail: (e) => (error = e) })
  return { next, reply, error }
}

t.test('one batch per request, replayed with the offsets the log gave', async (t) => {
  const { log, options, commits, logger } = setup()
  let s = { state: options.initial, failed: null as Error | null }
  s = send(options, s, { type: 'registerBroker', nodeId: 1, host: 'h', port: 1, rack: null }).next
  const r = send(options, s, { type: 'createTopics', topics: [{ name: 'a.b', numPartitions: 2, replicationFactor: 1 }], validateOnly: false })
  s = r.next
  t.match(r.reply, [{ errorCode: 0 }])
  t.match(logger.text(), /warn topic a\.b: Due to limitations/)
  t.same(commits, [1, 4])
  const batches = [...iterateRecordBatches(log.read(0, 1 << 20).records)]
  t.same(batches.map((b) => [b.baseOffset, b.recordsCount, b.partitionLeaderEpoch]), [[0, 2, 0], [2, 3, 0]])
  t.equal(log.highWatermark, 5)
  t.equal(log.recoveryPoint, 5, 'fsynced')
  t.same(recoverControllerState(log, 'c', 1), s.state)
  // a refusal writes nothing
  const refused = send(options, s, { type: 'createTopics', topics: [{ name: 'a.b', numPartitions: 2, replicationFactor: 1 }], validateOnly: false })
  t.equal(refused.next, s)
  t.equal(log.logEndOffset, 5)
})

t.test('a handler that throws fails its request only; a log that cannot be written stops the controller', async (t) => {
  const { storage, options, logger } = setup()
  let s = { state: options.initial, failed: null as Error | null }
  const bug = send(options, s, { type: 'createTopics', topics: null as never, validateOnly: false })
  t.ok(bug.error)
  t.equal(bug.next, s)
  t.match(logger.text(), /error controller: createTopics failed/)
  const broken = { ...options, log: { ...options.log, append: () => { throw new Error('disk on fire') } } as unknown as PartitionLog }
  const r = send(broken, s, { type: 'registerBroker', nodeId: 1, host: 'h', port: 1, rack: null })
  t.match(r.error, { message: 'disk on fire' })
  s = r.next
  t.ok(s.failed)
  const later = send(options, s, { type: 'registerBroker', nodeId: 1, host: 'h', port: 1, rack: null })
  t.type(later.error, ControllerFailedError)
  t.match(later.error!.message, /stopped after a metadata log failure: disk on fire/)
  // a commit listener that throws is logged; the change stands
  const noisy = { ...options, onCommit: () => { throw new Error('oops') } }
  const ok = send(noisy, { state: options.initial, failed: null }, { type: 'registerBroker', nodeId: 1, host: 'h', port: 1, rack: null })
  t.match(ok.reply, { registered: true })
  t.match(logger.text(), /a commit listener failed: oops/)
})

t.test('recovery refuses a log that lost its beginning or holds a record without a value', async (t) => {
  const { log, clock, options } = setup()
  commitRecords(log, options.initial, [{ type: 'NoOpRecord' }], clock)
  log.append(buildRecordBatch([{ value: null }]))
  t.throws(() => recoverControllerState(log, 'c', 1), /metadata record at offset 1 has no value/)
  const fake = { logStartOffset: 3, dir: '/x' } as unknown as PartitionLog
  t.throws(() => recoverControllerState(fake, 'c', 1), /starts at offset 3/)
  t.throws(() => commitRecords(log, options.initial, [{ type: 'NoOpRecord' }], clock), /went to offset 2, but the image is at -1/)
})

t.test('the nact actor serializes requests', async (t) => {
  const { options } = setup()
  const system = start()
  const ref = spawnController(system, options)
  await ask(ref, { type: 'registerBroker', nodeId: 1, host: 'h', port: 1, rack: null })
  const replies = await Promise.all(Array.from({ length: 20 }, () => ask<CreateTopicResult[]>(ref, { type: 'createTopics', topics: [{ name: 'x', numPartitions: 1, replicationFactor: 1 }], validateOnly: false })))
  t.same(replies.map(([r]) => r!.errorCode).sort((a, b) => a - b), [0, ...Array(19).fill(36)])
  stop(system)
  void ({} as ControllerMessage)
})
