// The MetadataService over the controller actor and a metadata log on disk: persistence,
// crash safety, concurrency, notifications.
import * as fs from 'node:fs'
import t from 'tap'
import { DEFAULT_BROKER_CONFIG, type BrokerConfig } from '../../src/broker/broker-config.ts'
import { createMetadataService, META_PROPERTIES, METADATA_LOG_DIR, type MetadataServiceOptions } from '../../src/cluster/controller-metadata-service.ts'
import type { MetadataImage } from '../../src/cluster/metadata.ts'
import { FsStorage } from '../../src/log/fs-storage.ts'
import { LogManager } from '../../src/log/log-manager.ts'
import type { Storage } from '../../src/log/storage.ts'
import { ErrorCode } from '../../src/protocol/kafka/error-codes.ts'
import { ManualClock } from '../../src/runtime/clock.ts'
import { RecordingLogger } from '../../src/runtime/logger.ts'
import { SeededRandom } from '../../src/sim/random.ts'
import { SimStorage } from '../../src/sim/sim-storage.ts'

function options(storage: Storage, dataDir: string, extra: Partial<MetadataServiceOptions> = {}, config: Partial<BrokerConfig> = {}): MetadataServiceOptions {
  return {
    storage,
    dataDir,
    clock: new ManualClock(),
    random: new SeededRandom(7),
    logger: new RecordingLogger(),
    config: { ...DEFAULT_BROKER_CONFIG, 'log.dirs': dataDir, ...config },
    advertised: { host: '127.0.0.1', port: 9092 },
    ...extra,
  }
}

/** What a restart must reproduce (everything but the offset of the new image). */
const view = (image: MetadataImage) => ({
  clusterId: image.clusterId,
  brokers: [...image.brokers.values()],
  topics: [...image.topics.values()].sort((a, b) => a.name.localeCompare(b.name)),
  ids: [...image.topicsById.keys()].sort(),
  brokerConfigs: [...(image.brokerConfigs ?? new Map()).entries()],
})

t.test('a real data dir: changes survive a restart, replayed into the same image', async (t) => {
  const dataDir = t.testdir()
  const storage = new FsStorage()
  const logger = new RecordingLogger()
  const m = await createMetadataService(options(storage, dataDir, { logger }))
  t.ok(fs.existsSync(`${dataDir}/${METADATA_LOG_DIR}/00000000000000000000.log`))
  t.match(fs.readFileSync(`${dataDir}/${META_PROPERTIES}`, 'utf8'), /node\.id=1\ncluster\.id=[A-Za-z0-9_-]{22}\n/)
  const image0 = m.image()
  t.same([...image0.brokers.values()], [{ nodeId: 1, host: '127.0.0.1', port: 9092, rack: null, fenced: false }])
  const [a] = await m.createTopics([{ name: 'a', numPartitions: 3, replicationFactor: -1, configs: { 'retention.ms': '60000' } }], { validateOnly: false })
  t.equal(a!.errorCode, 0)
  await m.createTopics([{ name: 'b', numPartitions: 1, replicationFactor: 1 }, { name: 'gone', numPartitions: 1, replicationFactor: 1 }], { validateOnly: false })
  await m.createPartitions([{ name: 'b', count: 2 }], { validateOnly: false })
  await m.deleteTopics([{ name: 'gone' }])
  await m.alterConfigs([{ type: 'topic', name: 'b', configs: [{ name: 'cleanup.policy', value: 'compact', op: 'set' }] }, { type: 'broker', name: '', configs: [{ name: 'log.retention.ms', value: '1000' }] }], { validateOnly: false, incremental: true })
  const before = m.image()
  t.equal(before.topics.get('a')!.topicId, a!.topicId)
  t.match(logger.text(), /created topic a \(id .*, 3 partitions\)/)
  t.match(logger.text(), /deleted topic gone/)
  t.match(logger.text(), /added 1 partitions to topic b \(now 2\)/)
  await m.close()
  await m.close()
  await t.rejects(m.createTopics([{ name: 'late', numPartitions: 1, replicationFactor: 1 }], { validateOnly: false }), /closed/)

  const again = await createMetadataService(options(storage, dataDir))
  t.same(view(again.image()), view(before))
  t.equal(again.image().offset, before.offset, 'same listener: no new registration')
  await again.close()

  // a new advertised listener re-registers the broker
  const moved = await createMetadataService(options(storage, dataDir, { advertised: { host: 'example.org', port: 19092 } }))
  t.match(moved.image().brokers.get(1), { host: 'example.org', port: 19092 })
  t.equal(moved.image().offset, before.offset + 1)
  await moved.close()

  // a data dir of another node id is refused
  await t.rejects(createMetadataService(options(storage, dataDir, {}, { 'node.id': 2 })), /stored node\.id 1 does not match the configured node\.id 2/)
})

t.test('with the broker\'s LogManager: the metadata log is its __cluster_metadata-0, kept forever', async (t) => {
  const dataDir = t.testdir()
  const storage = new FsStorage()
  const clock = new ManualClock()
  let manager = LogManager.open({ storage, dataDir, clock })
  const m = await createMetadataService(options(storage, dataDir, { logManager: manager, clock, clusterId: 'my-cluster' }))
  t.equal(m.image().clusterId, 'my-cluster')
  await m.createTopics([{ name: 't', numPartitions: 2, replicationFactor: 1 }], { validateOnly: false })
  const log = manager.get('__cluster_metadata', 0)!
  t.equal(log.config['retention.ms'], -1)
  await m.close()
  manager.close()
  manager = LogManager.open({ storage, dataDir, clock })
  t.equal(manager.get('__cluster_metadata', 0)!.config['retention.ms'], 604800000, 'the LogManager alone would apply its default')
  const again = await createMetadataService(options(storage, dataDir, { logManager: manager, clock }))
  t.equal(manager.get('__cluster_metadata', 0)!.config['retention.ms'], -1, 'the service puts its own config back')
  clock.advance(30 * 24 * 3600 * 1000)
  manager.cleanupLogs()
  t.equal(again.image().topics.get('t')!.partitions.length, 2)
  t.equal(again.image().clusterId, 'my-cluster')
  await again.close()
  manager.close()
})

t.test('concurrent requests are serialized: one creation wins, the rest see TOPIC_ALREADY_EXISTS', async (t) => {
  const dataDir = t.testdir()
  const m = await createMetadataService(options(new FsStorage(), dataDir))
  const changes: number[] = []
  const off = m.onChange((image, previous) => changes.push(image.offset - previous.offset))
  const results = await Promise.all(Array.from({ length: 50 }, () => m.createTopics([{ name: 'same', numPartitions: 2, replicationFactor: 1 }], { validateOnly: false })))
  const codes = results.map(([r]) => r!.errorCode)
  t.equal(codes.filter((c) => c === 0).length, 1)
  t.equal(codes.filter((c) => c === ErrorCode.TOPIC_ALREADY_EXISTS).length, 49)
  const many = await Promise.all(Array.from({ length: 40 }, (_, i) => m.createTopics([{ name: `t${i}`, numPartitions: 1, replicationFactor: 1 }], { validateOnly: false })))
  t.ok(many.every(([r]) => r!.errorCode === 0))
  t.equal(m.image().topics.size, 41)
  t.same(changes, Array(41).fill(3).map((n, i) => (i === 0 ? 3 : 2)), 'one notification per change, none for refusals')
  off()
  await m.createTopics([{ name: 'quiet', numPartitions: 1, replicationFactor: 1 }], { validateOnly: false })
  t.equal(changes.length, 41, 'unsubscribed')
  // a throwing listener is logged, not fatal
  const logger = new RecordingLogger()
  await m.close()
  const m2 = await createMetadataService(options(new FsStorage(), dataDir, { logger }))
  m2.onChange(() => {
    throw new Error('listener bug')
  })
  const [r] = await m2.deleteTopics([{ name: 'quiet' }])
  t.equal(r!.errorCode, 0)
  t.match(logger.text(), /a change listener failed: listener bug/)
  t.equal(m2.image().topics.size, 41)
  await m2.close()
})

t.test('SimStorage power loss: every acknowledged change survives', async (t) => {
  const storage = new SimStorage()
  const random = new SeededRandom(3)
  const m = await createMetadataService(options(storage, '/data'))
  for (let i = 0; i < 10; i++) await m.createTopics([{ name: `t${i}`, numPartitions: 1 + (i % 3), replicationFactor: 1 }], { validateOnly: false })
  await m.deleteTopics([{ name: 't3' }])
  const acked = view(m.image())
  storage.crash(random, 'lose-unsynced') // no close: a power cut
  const again = await createMetadataService(options(storage, '/data'))
  t.same(view(again.image()), acked)
  await again.close()
})

t.test('SimStorage crash points: an interrupted change is all or nothing, acknowledged ones stay', async (t) => {
  let failures = 0
  let successes = 0
  for (let point = 1; point <= 12; point++) {
    for (const mode of ['lose-unsynced', 'torn'] as const) {
      const storage = new SimStorage()
      const m = await createMetadataService(options(storage, '/data'))
      await m.createTopics([{ name: 'kept', numPartitions: 2, replicationFactor: 1 }], { validateOnly: false })
      const acked = view(m.image())
      storage.setCrashPoint(point)
      let ok = false
      try {
        const [r] = await m.createTopics([{ name: 'maybe', numPartitions: 3, replicationFactor: 1 }], { validateOnly: false })
        ok = r!.errorCode === 0
      } catch {}
      // after a failed write the controller refuses everything
      if (ok) successes++
      else failures++
      if (!ok) await t.rejects(m.createTopics([{ name: 'after', numPartitions: 1, replicationFactor: 1 }], { validateOnly: false }), /metadata log failure/)
      storage.crash(new SeededRandom(point), mode)
      const again = await createMetadataService(options(storage, '/data'))
      const img = again.image()
      t.same(img.topics.get('kept'), acked.topics.find((x) => x.name === 'kept'), `point ${point} ${mode}: acknowledged topic kept`)
      const maybe = img.topics.get('maybe')
      if (ok) t.equal(maybe?.partitions.length, 3, `point ${point} ${mode}: acknowledged creation survives`)
      else t.ok(maybe === undefined || maybe.partitions.length === 3, `point ${point} ${mode}: all or nothing`)
      await again.close()
    }
  }
  t.ok(failures > 0 && successes > 0, `crashed ${failures} times during the change, ${successes} times after it`)
})
