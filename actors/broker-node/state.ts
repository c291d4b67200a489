/**
 * The broker-node state machine: pure and synchronous. It decides which partition replicas
 * this node hosts from each metadata image (a partition whose replicas include this node),
 * and what to do when the image changes: spawn a replica for a new partition, update one
 * whose leader, epoch, ISR or configs changed (the topic's, or the dynamic broker configs that
 * apply to this node: AlterConfigs on broker resource "" or "<node.id>"), stop one that moved away, and stop and
 * delete the log of one whose topic was deleted (gone from the image, or recreated under a
 * new topic id). Logs on disk that no image mentions are left alone: only an observed
 * deletion removes data.
 *
 * Invariants (asserted): a hosted partition's topic id never changes under the same key;
 * nothing is hosted once stopped.
 */
import type { MetadataImage, PartitionImage, TopicId } from '../../src/cluster/metadata.ts'
import type { BrokerNodeMessage, BrokerTimer } from './messages.ts'

export interface HostedPartition {
  readonly topic: string
  readonly partition: number
  readonly topicId: TopicId
  readonly image: PartitionImage
  readonly configs: Readonly<Record<string, string>>
}

export interface BrokerNodeState {
  readonly nodeId: number
  /** By `<topic>-<partition>`. */
  readonly hosted: ReadonlyMap<string, HostedPartition>
  readonly stopped: boolean
  /** The offset of the last image applied (images only move forward). */
  readonly imageOffset: number
  /** The dynamic broker configs of the last image that apply to this node (cluster-wide, then this node's). */
  readonly brokerConfigs: Readonly<Record<string, string>>
}

export type BrokerNodeEffect =
  /** `metadata`: the image the replica's configs resolve against (with its dynamic broker configs). */
  | { type: 'spawn-replica'; hosted: HostedPartition; metadata: MetadataImage }
  | { type: 'update-replica'; hosted: HostedPartition; configsChanged: boolean; metadata: MetadataImage }
  | { type: 'stop-replica'; topic: string; partition: number }
  | { type: 'delete-log'; topic: string; partition: number }
  | { type: 'log'; level: 'info' | 'warn'; message: string }
  | { type: 'run'; timer: BrokerTimer }
  | { type: 'stopped'; replyTo: Extract<BrokerNodeMessage, { type: 'stop' }>['replyTo'] }
  | { type: 'synced'; replyTo: Extract<BrokerNodeMessage, { type: 'sync' }>['replyTo']; hosted: number }

export interface StepResult {
  state: BrokerNodeState
  effects: BrokerNodeEffect[]
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`
}

export function initialState(nodeId: number): BrokerNodeState {
  return { nodeId, hosted: new Map(), stopped: false, imageOffset: -1, brokerConfigs: {} }
}

function sameConfigs(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  return ka.every((k) => a[k] === b[k])
}

function samePartition(a: PartitionImage, b: PartitionImage): boolean {
  return a.leader === b.leader && a.leaderEpoch === b.leaderEpoch && a.partitionEpoch === b.partitionEpoch && a.isr.join() === b.isr.join() && a.replicas.join() === b.replicas.join()
}

export function step(state: BrokerNodeState, msg: BrokerNodeMessage, _now: number): StepResult {
  const effects: BrokerNodeEffect[] = []
  const next = handle(state, msg, effects)
  checkInvariants(state, next)
  return { state: next, effects }
}

function handle(state: BrokerNodeState, msg: BrokerNodeMessage, effects: BrokerNodeEffect[]): BrokerNodeState {
  switch (msg.type) {
    case 'metadata': {
      if (state.stopped || msg.image.offset < state.imageOffset) return state
      return { ...applyImage(state, msg.image, effects), imageOffset: msg.image.offset }
    }
    case 'timer':
      if (!state.stopped) effects.push({ type: 'run', timer: msg.timer })
      return state
    case 'stop': {
      for (const h of state.hosted.values()) effects.push({ type: 'stop-replica', topic: h.topic, partition: h.partition })
      effects.push({ type: 'stopped', replyTo: msg.replyTo })
      return { ...state, hosted: new Map(), stopped: true }
    }
    case 'sync':
      effects.push({ type: 'synced', replyTo: msg.replyTo, hosted: state.hosted.size })
      return state
    default: {
      const never: never = msg
      throw new Error(`unknown broker-node message ${JSON.stringify(never)}`)
    }
  }
}

function applyImage(state: BrokerNodeState, image: MetadataImage, effects: BrokerNodeEffect[]): BrokerNodeState {
  const brokerConfigs = { ...image.brokerConfigs?.get(''), ...image.brokerConfigs?.get(String(state.nodeId)) }
  const brokerConfigsChanged = !sameConfigs(state.brokerConfigs, brokerConfigs)
  const hosted = new Map<string, HostedPartition>()
  for (const topic of image.topics.values()) {
    for (const p of topic.partitions) {
      if (!p.replicas.includes(state.nodeId)) continue
      hosted.set(partitionKey(topic.name, p.partition), { topic: topic.name, partition: p.partition, topicId: topic.topicId, image: p, configs: topic.configs })
    }
  }
  const deletedTopics = new Set<string>()
  for (const [key, old] of state.hosted) {
    const now = hosted.get(key)
    const topicGone = !image.topics.has(old.topic) || image.topics.get(old.topic)!.topicId !== old.topicId
    if (topicGone) {
      effects.push({ type: 'stop-replica', topic: old.topic, partition: old.partition })
      effects.push({ type: 'delete-log', topic: old.topic, partition: old.partition })
      if (!deletedTopics.has(old.topic)) effects.push({ type: 'log', level: 'info', message: `topic ${old.topic} (${old.topicId}) deleted` })
      deletedTopics.add(old.topic)
      // A topic recreated under the same name gets its replicas spawned below, on a fresh log.
      continue
    }
    if (!now) {
      effects.push({ type: 'stop-replica', topic: old.topic, partition: old.partition })
      effects.push({ type: 'log', level: 'info', message: `partition ${key} no longer has a replica on node ${state.nodeId}` })
      continue
    }
    const configsChanged = brokerConfigsChanged || !sameConfigs(old.configs, now.configs)
    if (configsChanged || !samePartition(old.image, now.image)) effects.push({ type: 'update-replica', hosted: now, configsChanged, metadata: image })
  }
  const created = new Map<string, number>()
  for (const [key, h] of hosted) {
    const old = state.hosted.get(key)
    if (old && old.topicId === h.topicId) continue
    effects.push({ type: 'spawn-replica', hosted: h, metadata: image })
    created.set(h.topic, (created.get(h.topic) ?? 0) + 1)
  }
  for (const [topic, n] of created) {
    const t = image.topics.get(topic)!
    const existed = [...state.hosted.values()].some((h) => h.topic === topic && h.topicId === t.topicId)
    effects.push({ type: 'log', level: 'info', message: existed ? `topic ${topic}: ${n} partitions added (now ${t.partitions.length})` : `topic ${topic} (${t.topicId}) with ${t.partitions.length} partitions hosted here` })
  }
  return { ...state, hosted, brokerConfigs }
}

function checkInvariants(before: BrokerNodeState, after: BrokerNodeState): void {
  if (after.stopped && after.hosted.size > 0) throw new Error(`invariant: a stopped broker node hosts ${after.hosted.size} partitions`)
  if (before.stopped && !after.stopped) throw new Error('invariant: a stopped broker node started again')
}
