import t from 'tap'
import { startBrokerNode } from '../../../actors/broker-node/actor.ts'
import { type BrokerSettings, DEFAULT_BROKER_CONFIG } from '../../../src/broker/broker-config.ts'
import { applyRecords, emptyImage } from '../../../src/cluster/metadata-image.ts'
import type { MetadataImage, MetadataService } from '../../../src/cluster/metadata.ts'
import type { MetadataRecord } from '../../../src/cluster/metadata-records.ts'
import { LogManager } from '../../../src/log/log-manager.ts'
import { ManualClock } from '../../../src/runtime/clock.ts'
import { RecordingLogger } from '../../../src/runtime/logger.ts'
import { SimStorage } from '../../../src/sim/sim-storage.ts'

const ID = 'AAECAwQFBgcICQoLDA0ODw'

/** A metadata service whose image the test moves forward by records. */
function fakeMetadata() {
  let current = applyRecords(emptyImage('c', 1), [
    { record: { type: 'TopicRecord', name: 't', topicId: ID }, offset: 0 },
    { record: { type: 'PartitionRecord', partitionId: 0, topicId: ID, replicas: [1], isr: [1], removingReplicas: [], addingReplicas: [], leader: 1, leaderRecoveryState: 0, leaderEpoch: 0, partitionEpoch: 0 }, offset: 1 },
  ])
  const listeners = new Set<(image: MetadataImage, previous: MetadataImage) => void>()
  const service = {
    image: () => current,
    onChange: (l: (image: MetadataImage, previous: MetadataImage) => void) => {
      listeners.add(l)
      return () => listeners.delete(l)
    },
  } as unknown as MetadataService
  const apply = (...records: MetadataRecord[]) => {
    const previous = current
    current = applyRecords(current, records.map((record, i) => ({ record, offset: previous.offset + 1 + i })))
    for (const l of listeners) l(current, previous)
  }
  return { service, apply }
}

async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (check()) return true
    await new Promise((r) => setTimeout(r, 5))
  }
  return check()
}

t.test('topic and dynamic broker configs reach the running partition log', async (t) => {
  const clock = new ManualClock()
  const logger = new RecordingLogger()
  const logManager = LogManager.open({ storage: new SimStorage(), dataDir: '/data', clock, logger })
  const settings: BrokerSettings = { config: { ...DEFAULT_BROKER_CONFIG, 'log.retention.ms': 1000 }, explicit: new Set(['log.retention.ms']) }
  const { service, apply } = fakeMetadata()
  const node = await startBrokerNode({ nodeId: 1, settings, logManager, metadata: service, clock, logger, intervals: { retention: 0, flush: 0, compaction: 0, checkpoint: 0 } })
  t.teardown(() => node.stop())
  const retention = () => logManager.get('t', 0)?.config['retention.ms']
  t.ok(await eventually(() => retention() === 1000), 'the static broker config')

  const config = (resourceType: number, resourceName: string, name: string, value: string | null): MetadataRecord => ({ type: 'ConfigRecord', resourceType, resourceName, name, value })
  apply(config(4, '', 'log.retention.ms', '5000'))
  t.ok(await eventually(() => retention() === 5000), 'altered for every broker')
  apply(config(4, '1', 'log.retention.ms', '7000'))
  t.ok(await eventually(() => retention() === 7000), 'altered for this broker')
  apply(config(4, '2', 'log.retention.ms', '8000'))
  apply(config(2, 't', 'retention.ms', '9000'))
  t.ok(await eventually(() => retention() === 9000), "the topic's override")
  apply(config(2, 't', 'retention.ms', null))
  t.ok(await eventually(() => retention() === 7000), 'the override removed')
  apply(config(4, '1', 'log.retention.ms', null), config(4, '', 'log.retention.ms', null))
  t.ok(await eventually(() => retention() === 1000), 'the dynamic configs removed')
})
