/**
 * For the group handlers' tests: a fake GroupCoordinator that records what it is asked and
 * answers from per-method stubs (with plain defaults), a BrokerContext over a metadata image of
 * given topics, and `call`, which sends a request through the Router as wire bytes at a version
 * and decodes the response at that version (so what a test sees is what a client would).
 */
import type { ReplicaDirectory } from '../../../../actors/broker-node/directory.ts'
import { DEFAULT_BROKER_CONFIG } from '../../../../src/broker/broker-config.ts'
import type { MetadataImage, MetadataService, TopicImage } from '../../../../src/cluster/metadata.ts'
import { INTERNAL_TOPICS } from '../../../../src/cluster/topic-name.ts'
import type { GroupCoordinator } from '../../../../src/group/group-coordinator.ts'
import { ErrorCode } from '../../../../src/protocol/kafka/error-codes.ts'
import type { ApiMessages } from '../../../../src/protocol/kafka/generated/index.ts'
import type { BrokerContext, ConnectionContext } from '../../../../src/protocol/kafka/handlers/context.ts'
import { decodeResponseFrame, encodeRequestFrame } from '../../../../src/protocol/kafka/headers.ts'
import { Router } from '../../../../src/protocol/kafka/router.ts'
import { ManualClock } from '../../../../src/runtime/clock.ts'
import { RecordingLogger } from '../../../../src/runtime/logger.ts'

type Method = Exclude<keyof GroupCoordinator, 'close'>
type Stubs = { [M in Method]?: GroupCoordinator[M] }

export interface Call {
  method: Method
  input: unknown
}

export class FakeGroups implements GroupCoordinator {
  readonly calls: Call[] = []
  constructor(readonly stubs: Stubs = {}) {}

  inputs(method: Method): unknown[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.input)
  }

  findCoordinator(groupId: string) {
    this.calls.push({ method: 'findCoordinator', input: groupId })
    return this.stubs.findCoordinator?.(groupId) ?? Promise.resolve({ errorCode: ErrorCode.NONE, errorMessage: null, nodeId: 1, host: 'broker-1', port: 9092 })
  }
  joinGroup(input: Parameters<GroupCoordinator['joinGroup']>[0]) {
    this.calls.push({ method: 'joinGroup', input })
    return (
      this.stubs.joinGroup?.(input) ??
      Promise.resolve({ errorCode: ErrorCode.NONE, generationId: 1, protocolType: input.protocolType, protocolName: input.protocols[0]?.name ?? null, leader: 'm-1', memberId: input.memberId || 'm-1', members: [] })
    )
  }
  syncGroup(input: Parameters<GroupCoordinator['syncGroup']>[0]) {
    this.calls.push({ method: 'syncGroup', input })
    return this.stubs.syncGroup?.(input) ?? Promise.resolve({ errorCode: ErrorCode.NONE, protocolType: null, protocolName: null, assignment: new Uint8Array(0) })
  }
  heartbeat(input: Parameters<GroupCoordinator['heartbeat']>[0]) {
    this.calls.push({ method: 'heartbeat', input })
    return this.stubs.heartbeat?.(input) ?? Promise.resolve({ errorCode: ErrorCode.NONE })
  }
  leaveGroup(input: Parameters<GroupCoordinator['leaveGroup']>[0]) {
    this.calls.push({ method: 'leaveGroup', input })
    return this.stubs.leaveGroup?.(input) ?? Promise.resolve({ errorCode: ErrorCode.NONE, members: input.members.map((m) => ({ ...m, errorCode: ErrorCode.NONE })) })
  }
  commitOffsets(input: Parameters<GroupCoordinator['commitOffsets']>[0]) {
    this.calls.push({ method: 'commitOffsets', input })
    return (
      this.stubs.commitOffsets?.(input) ??
      Promise.resolve({ topics: input.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: ErrorCode.NONE })) })) })
    )
  }
  fetchOffsets(input: Parameters<GroupCoordinator['fetchOffsets']>[0]) {
    this.calls.push({ method: 'fetchOffsets', input })
    return (
      this.stubs.fetchOffsets?.(input) ??
      Promise.resolve({
        errorCode: ErrorCode.NONE,
        topics: (input.topics ?? []).map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partition: p, offset: -1, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE })) })),
      })
    )
  }
  describeGroup(groupId: string) {
    this.calls.push({ method: 'describeGroup', input: groupId })
    return this.stubs.describeGroup?.(groupId) ?? Promise.resolve({ errorCode: ErrorCode.NONE, groupId, state: 'Dead' as const, protocolType: '', protocolData: '', members: [] })
  }
  listGroups(statesFilter: readonly string[]) {
    this.calls.push({ method: 'listGroups', input: statesFilter })
    return this.stubs.listGroups?.(statesFilter) ?? Promise.resolve({ errorCode: ErrorCode.NONE, groups: [] })
  }
  deleteGroup(groupId: string) {
    this.calls.push({ method: 'deleteGroup', input: groupId })
    return this.stubs.deleteGroup?.(groupId) ?? Promise.resolve({ errorCode: ErrorCode.NONE })
  }
  deleteOffsets(input: Parameters<GroupCoordinator['deleteOffsets']>[0]) {
    this.calls.push({ method: 'deleteOffsets', input })
    return (
      this.stubs.deleteOffsets?.(input) ??
      Promise.resolve({ errorCode: ErrorCode.NONE, topics: input.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partition: p, errorCode: ErrorCode.NONE })) })) })
    )
  }
  close() {
    return Promise.resolve()
  }
}

/** An image holding these topics (name → partition count), all led by node 1. */
export function imageOf(topics: Record<string, number>): MetadataImage {
  const images = new Map<string, TopicImage>()
  for (const [name, count] of Object.entries(topics)) {
    images.set(name, {
      name,
      topicId: `id-${name}`,
      partitions: Array.from({ length: count }, (_, partition) => ({ partition, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 })),
      configs: {},
      internal: INTERNAL_TOPICS.has(name),
    })
  }
  return {
    clusterId: 'test-cluster',
    controllerId: 1,
    offset: 0,
    brokers: new Map([[1, { nodeId: 1, host: 'broker-1', port: 9092, rack: null, fenced: false }]]),
    topics: images,
    topicsById: new Map([...images.values()].map((t) => [t.topicId, t])),
  }
}

/** A metadata service that only answers image(); creating anything is a test failure. */
export function staticMetadata(image: MetadataImage): MetadataService {
  const refuse = () => Promise.reject(new Error('this test does not change metadata'))
  return { image: () => image, onChange: () => () => {}, createTopics: refuse, deleteTopics: refuse, createPartitions: refuse, alterConfigs: refuse }
}

export function fakeContext(groups: GroupCoordinator, topics: Record<string, number> = {}): BrokerContext & { logger: RecordingLogger } {
  return {
    nodeId: 1,
    settings: { config: DEFAULT_BROKER_CONFIG, explicit: new Set() },
    metadata: staticMetadata(imageOf(topics)),
    // No replica runs here: every partition answers NOT_LEADER_OR_FOLLOWER if a handler gets that far.
    directory: { get: () => undefined, waitFor: () => Promise.resolve(undefined) } as unknown as ReplicaDirectory,
    groups,
    logger: new RecordingLogger(),
    clock: new ManualClock(),
    advertised: () => ({ host: 'broker-1', port: 9092 }),
    nextWatchId: () => 1,
  }
}

export function fakeConnection(remote = '127.0.0.1:50123'): ConnectionContext {
  return { id: 1, remote, produceBarrier: null, closedSignal: new AbortController().signal }
}

export const CLIENT_ID = 'test-client'

/** Sends one request through the router as a client would (client id CLIENT_ID) and decodes the answer at the same version. */
export async function call<K extends keyof ApiMessages>(
  ctx: BrokerContext,
  key: K,
  version: number,
  data: ApiMessages[K]['requestInput'],
  conn: ConnectionContext = fakeConnection(),
): Promise<ApiMessages[K]['response']> {
  const frame = encodeRequestFrame(key, version, 42, CLIENT_ID, data).finish()
  const out = await new Router(ctx).handle(frame.subarray(4), conn)
  if (out.kind !== 'respond') throw new Error(`no response: ${out.kind === 'close' ? out.reason : 'none'}`)
  const bytes = Buffer.concat(out.chunks)
  const { header, body } = decodeResponseFrame(key, version, bytes.subarray(4))
  if (header.correlationId !== 42) throw new Error(`correlation id ${header.correlationId}`)
  return body
}
