/**
 * The group coordinator service of one broker: implements GroupCoordinator
 * (src/group/group-coordinator.ts) over one group-coordinator actor per group.
 *
 * - `__consumer_offsets` is created on first need through the metadata service
 *   (offsets.topic.num.partitions partitions, replication factor min(offsets.topic.replication.factor,
 *   live brokers), cleanup.policy=compact); until it has a leader requests get COORDINATOR_NOT_AVAILABLE.
 * - A group's partition is partitionForGroup(groupId, partitions of the topic); this broker
 *   coordinates the group while it leads that partition in the metadata image.
 * - Each partition this broker leads is loaded (loader.ts) when the lead is seen (start-up,
 *   creation, a new leader epoch): its groups are replayed and get an actor each; meanwhile
 *   their requests get COORDINATOR_LOAD_IN_PROGRESS. A partition that moves away is unloaded
 *   (its actors answer what waits with NOT_COORDINATOR and stop).
 * - Groups first seen later get an actor on demand; requests that need no group (describe,
 *   fetch offsets, delete, ... of a group that does not exist) are answered here as Kafka does.
 * - Every wait for an actor's answer is bounded (a join by its rebalance timeout, the rest by
 *   offsets.commit.timeout.ms, plus slack).
 */
import { dispatch, type Ref, start, stop as stopActor } from 'nact'
import type { ReplicaDirectory } from '../broker-node/directory.ts'
import type { BrokerSettings } from '../../src/broker/broker-config.ts'
import type { MetadataImage, MetadataService, TopicImage } from '../../src/cluster/metadata.ts'
import type { CoordinatorLocation, GroupCoordinator } from '../../src/group/group-coordinator.ts'
import { partitionForGroup } from '../../src/group/group-records.ts'
import { errorMessage } from '../../src/log/errors.ts'
import { ErrorCode, errorName } from '../../src/protocol/kafka/error-codes.ts'
import type { Clock } from '../../src/runtime/clock.ts'
import type { Logger } from '../../src/runtime/logger.ts'
import { answerWithError, clockTimers, type GroupActorDeps, type GroupActorMessage, type GroupTimers, spawnGroupActor } from './actor.ts'
import { GroupLoadError, loadGroup, loadGroups } from './loader.ts'
import type {
  DescribeGroupResult,
  GroupRequest,
  HeartbeatInput,
  JoinGroupInput,
  JoinGroupResult,
  LeaveGroupInput,
  LeaveGroupResult,
  ListedGroup,
  OffsetCommitInput,
  OffsetDeleteInput,
  OffsetDeleteResult,
  OffsetFetchInput,
  OffsetFetchResult,
  PartitionErrors,
  ReplyTo,
  SyncGroupInput,
  SyncGroupResult,
} from './messages.ts'
import { emptyGroup, type GroupConfig, groupConfigFrom, type GroupState } from './state.ts'

export const OFFSETS_TOPIC = '__consumer_offsets'

/** How long findCoordinator waits for a `__consumer_offsets` being created to have a leader. */
export const FIND_COORDINATOR_WAIT_MS = 5_000
/** Added to every wait for a group actor's answer (its own waits are bounded by the same settings). */
export const GROUP_REPLY_SLACK_MS = 10_000
/** The longest a SyncGroup waits for its answer (a follower waits for the leader's assignment). */
export const SYNC_WAIT_MAX_MS = 300_000
/** Callers waiting for a group actor or for the topic at once; past it a call is answered COORDINATOR_NOT_AVAILABLE. */
export const PENDING_CALLS_MAX_COUNT = 100_000
/** How long a load waits for the partition's replica actor to be spawned, per attempt. */
export const LOAD_REPLICA_WAIT_MS = 5_000
/** How long a load waits for one answer of the replica actor. */
export const LOAD_REPLY_TIMEOUT_MS = 10_000
/** Between two attempts to load a partition (its replica not yet leader, not yet spawned, ...). */
export const LOAD_RETRY_BACKOFF_MS = 200
/** How long close() waits for the group actors to answer their waiters and stop. */
export const CLOSE_WAIT_MS = 5_000

export interface GroupCoordinatorOptions {
  nodeId: number
  settings: BrokerSettings
  metadata: MetadataService
  /** Where the replica actors of `__consumer_offsets` are found. */
  directory: ReplicaDirectory
  clock: Clock
  logger: Logger
  /** This broker's advertised Kafka listener (findCoordinator's answer when it coordinates). */
  advertised(): { host: string; port: number }
  /** Default: real timers against `clock`. */
  timers?: GroupTimers
}

export type PartitionLoadStatus = 'loading' | 'loaded'

/** What the service holds of one `__consumer_offsets` partition this broker leads. */
interface Slot {
  partition: number
  topicId: string
  leaderEpoch: number
  status: PartitionLoadStatus
  groups: Map<string, GroupEntry>
  /** Set when the lead is gone (or the service closed): a load still running drops its result. */
  dropped: boolean
}

interface GroupEntry {
  ref: Ref<GroupActorMessage>
  stopped: Promise<void>
}

export interface GroupCoordinatorService extends GroupCoordinator {
  /** The partitions of `__consumer_offsets` this broker leads and how far their loading is (tests, diagnostics). */
  partitions(): { partition: number; status: PartitionLoadStatus; groups: number }[]
}

const COORDINATOR_NOT_AVAILABLE_MESSAGE = 'The coordinator is not available.'

export function startGroupCoordinator(options: GroupCoordinatorOptions): GroupCoordinatorService {
  return new Service(options)
}

class Service implements GroupCoordinatorService {
  private readonly system = start()
  private readonly config: GroupConfig
  private readonly timers: GroupTimers
  private readonly slots = new Map<number, Slot>()
  /** Everyone waiting on this service: close() answers them. */
  private readonly pending = new Set<() => void>()
  private readonly unsubscribe: () => void
  private creating: Promise<void> | null = null
  private seen: MetadataImage | null = null
  private spawned = 0
  private closed = false
  private closing: Promise<void> | null = null

  constructor(private readonly options: GroupCoordinatorOptions) {
    this.config = groupConfigFrom(options.settings.config)
    this.timers = options.timers ?? clockTimers(options.clock)
    this.unsubscribe = options.metadata.onChange((image) => this.reconcile(image))
    this.reconcile(options.metadata.image())
  }

  // ---- the GroupCoordinator contract -------------------------------------------------------

  async findCoordinator(groupId: string): Promise<CoordinatorLocation> {
    const unavailable: CoordinatorLocation = { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: COORDINATOR_NOT_AVAILABLE_MESSAGE, nodeId: -1, host: '', port: -1 }
    if (this.closed) return unavailable
    const found = this.coordinatorOf(groupId, this.options.metadata.image())
    if (found) return found
    this.ensureTopic()
    const image = await this.waitForImage((img) => this.coordinatorOf(groupId, img) !== null, FIND_COORDINATOR_WAIT_MS)
    return (!this.closed && this.coordinatorOf(groupId, image)) || unavailable
  }

  joinGroup(input: JoinGroupInput): Promise<JoinGroupResult> {
    if (input.groupId === '') return Promise.resolve(joinError(input, ErrorCode.INVALID_GROUP_ID))
    const waitMs = Math.max(input.rebalanceTimeoutMs, input.sessionTimeoutMs, 0) + this.config.initialRebalanceDelayMs + GROUP_REPLY_SLACK_MS
    return this.call<JoinGroupResult>(input.groupId, (reply) => ({ type: 'join', input, reply }), waitMs, ErrorCode.COORDINATOR_NOT_AVAILABLE)
  }

  syncGroup(input: SyncGroupInput): Promise<SyncGroupResult> {
    if (input.groupId === '') return Promise.resolve({ errorCode: ErrorCode.INVALID_GROUP_ID, protocolType: null, protocolName: null, assignment: new Uint8Array(0) })
    const waitMs = Math.min(this.config.maxSessionTimeoutMs, SYNC_WAIT_MAX_MS) + GROUP_REPLY_SLACK_MS
    return this.call<SyncGroupResult>(input.groupId, (reply) => ({ type: 'sync', input, reply }), waitMs, ErrorCode.COORDINATOR_NOT_AVAILABLE)
  }

  heartbeat(input: HeartbeatInput): Promise<{ errorCode: number }> {
    if (input.groupId === '') return Promise.resolve({ errorCode: ErrorCode.INVALID_GROUP_ID })
    return this.call<{ errorCode: number }>(input.groupId, (reply) => ({ type: 'heartbeat', input, reply }), this.writeWaitMs(), ErrorCode.COORDINATOR_NOT_AVAILABLE)
  }

  leaveGroup(input: LeaveGroupInput): Promise<LeaveGroupResult> {
    if (input.groupId === '') return Promise.resolve({ errorCode: ErrorCode.INVALID_GROUP_ID, members: [] })
    return this.call<LeaveGroupResult>(input.groupId, (reply) => ({ type: 'leave', input, reply }), this.writeWaitMs(), ErrorCode.COORDINATOR_NOT_AVAILABLE)
  }

  commitOffsets(input: OffsetCommitInput): Promise<PartitionErrors> {
    return this.call<PartitionErrors>(input.groupId, (reply) => ({ type: 'commit', input, reply }), this.writeWaitMs(), ErrorCode.REQUEST_TIMED_OUT)
  }

  fetchOffsets(input: OffsetFetchInput): Promise<OffsetFetchResult> {
    return this.call<OffsetFetchResult>(input.groupId, (reply) => ({ type: 'fetch-offsets', input, reply }), this.writeWaitMs(), ErrorCode.COORDINATOR_NOT_AVAILABLE)
  }

  describeGroup(groupId: string): Promise<DescribeGroupResult> {
    return this.call<DescribeGroupResult>(groupId, (reply) => ({ type: 'describe', reply }), this.writeWaitMs(), ErrorCode.COORDINATOR_NOT_AVAILABLE)
  }

  async listGroups(statesFilter: readonly string[]): Promise<{ errorCode: number; groups: ListedGroup[] }> {
    if (this.closed) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, groups: [] }
    this.reconcile(this.options.metadata.image())
    const wanted = new Set(statesFilter.map((s) => s.toLowerCase()))
    let loading = false
    const asks: Promise<ListedGroup | null>[] = []
    for (const slot of this.slots.values()) {
      if (slot.status !== 'loaded') {
        loading = true
        continue
      }
      for (const entry of slot.groups.values()) {
        asks.push(this.ask<ListedGroup | null>(entry.ref, (reply) => ({ type: 'list', reply }), this.writeWaitMs(), () => null))
      }
    }
    const groups = (await Promise.all(asks))
      .filter((g): g is ListedGroup => g !== null && g.state !== 'Dead' && (wanted.size === 0 || wanted.has(g.state.toLowerCase())))
      .sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0))
    // Kafka answers what it has loaded so far, flagged while some partition still loads.
    return { errorCode: loading ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NONE, groups }
  }

  deleteGroup(groupId: string): Promise<{ errorCode: number }> {
    return this.call<{ errorCode: number }>(groupId, (reply) => ({ type: 'delete-group', reply }), this.writeWaitMs(), ErrorCode.COORDINATOR_NOT_AVAILABLE)
  }

  deleteOffsets(input: OffsetDeleteInput): Promise<OffsetDeleteResult> {
    if (input.groupId === '') return Promise.resolve({ errorCode: ErrorCode.INVALID_GROUP_ID, topics: [] })
    return this.call<OffsetDeleteResult>(input.groupId, (reply) => ({ type: 'delete-offsets', input, reply }), this.writeWaitMs(), ErrorCode.COORDINATOR_NOT_AVAILABLE)
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true
      this.unsubscribe()
      const stops: Promise<void>[] = []
      for (const slot of [...this.slots.values()]) stops.push(...this.unloadSlot(slot))
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([Promise.all(stops), new Promise<void>((r) => (timer = setTimeout(r, CLOSE_WAIT_MS)))])
      clearTimeout(timer)
      // Whoever still waits (an actor that did not answer, a findCoordinator, a load's backoff) is answered now.
      for (const settle of [...this.pending]) settle()
      stopActor(this.system)
    })()
    return this.closing
  }

  partitions(): { partition: number; status: PartitionLoadStatus; groups: number }[] {
    return [...this.slots.values()].sort((a, b) => a.partition - b.partition).map((s) => ({ partition: s.partition, status: s.status, groups: s.groups.size }))
  }

  // ---- routing -------------------------------------------------------------------------------

  private writeWaitMs(): number {
    return this.options.settings.config['offsets.commit.timeout.ms'] + GROUP_REPLY_SLACK_MS
  }

  /** Sends a request to the group's actor (or answers it here) and waits, bounded, for the reply. */
  private call<R>(groupId: string, build: (reply: ReplyTo<R>) => GroupRequest, waitMs: number, timeoutCode: number): Promise<R> {
    return new Promise<R>((resolve) => {
      let finish: ReplyTo<R> = resolve
      const request = build((value) => finish(value))
      const errorReply = (code: number): R => {
        let answer: R | undefined
        answerWithError({ ...request, reply: (v: unknown) => (answer = v as R) } as GroupRequest, code, groupId)
        return answer as R
      }
      const settle = this.track<R>(waitMs, resolve, errorReply, timeoutCode)
      if (!settle) return resolve(errorReply(ErrorCode.COORDINATOR_NOT_AVAILABLE))
      finish = settle
      this.route(groupId, request)
    })
  }

  /** Asks one actor directly (listGroups). */
  private ask<R>(ref: Ref<GroupActorMessage>, build: (reply: ReplyTo<R>) => GroupRequest, waitMs: number, onError: (code: number) => R): Promise<R> {
    return new Promise<R>((resolve) => {
      const settle = this.track<R>(waitMs, resolve, onError, ErrorCode.COORDINATOR_NOT_AVAILABLE)
      if (!settle) return resolve(onError(ErrorCode.COORDINATOR_NOT_AVAILABLE))
      dispatch(ref, build(settle))
    })
  }

  /**
   * A reply callback that resolves once: with the actor's answer, with `timeoutCode` past
   * `waitMs`, or with NOT_COORDINATOR when the service closes. Null when too many wait already.
   */
  private track<R>(waitMs: number, resolve: (r: R) => void, onError: (code: number) => R, timeoutCode: number): ReplyTo<R> | null {
    if (this.pending.size >= PENDING_CALLS_MAX_COUNT) return null
    let done = false
    const finish = (value: R) => {
      if (done) return
      done = true
      clearTimeout(timer)
      this.pending.delete(onClose)
      resolve(value)
    }
    const onClose = () => finish(onError(ErrorCode.NOT_COORDINATOR))
    const timer = setTimeout(() => {
      this.options.logger.warn(`a group request waited ${waitMs} ms for its answer: ${errorName(timeoutCode)}`)
      finish(onError(timeoutCode))
    }, waitMs)
    timer.unref?.()
    this.pending.add(onClose)
    return finish
  }

  /** Where a request goes: answered with an error, answered here, or dispatched to its group's actor. */
  private route(groupId: string, msg: GroupRequest): void {
    const where = this.locate(groupId)
    if (typeof where === 'number') {
      answerWithError(msg, where, groupId)
      return
    }
    let entry = where.groups.get(groupId)
    if (!entry) {
      if (answerUnknownGroup(msg, groupId)) return
      entry = this.spawnGroup(where, groupId, emptyGroup(groupId))
    }
    dispatch(entry.ref, msg)
  }

  /** The loaded slot of the group's partition, or the error code to answer with. */
  private locate(groupId: string): Slot | number {
    if (this.closed) return ErrorCode.NOT_COORDINATOR
    const image = this.options.metadata.image()
    this.reconcile(image)
    const topic = image.topics.get(OFFSETS_TOPIC)
    if (!topic) {
      this.ensureTopic()
      return ErrorCode.COORDINATOR_NOT_AVAILABLE
    }
    if (topic.partitions.length === 0) return ErrorCode.COORDINATOR_NOT_AVAILABLE
    const p = topic.partitions[partitionForGroup(groupId, topic.partitions.length)]
    if (!p || p.leader < 0) return ErrorCode.COORDINATOR_NOT_AVAILABLE
    if (p.leader !== this.options.nodeId) return ErrorCode.NOT_COORDINATOR
    const slot = this.slots.get(p.partition)
    if (!slot || slot.status !== 'loaded') return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS
    return slot
  }

  private spawnGroup(slot: Slot, groupId: string, state: GroupState): GroupEntry {
    const { clock, logger, directory, settings } = this.options
    let stopped!: () => void
    const entry: GroupEntry = { ref: undefined as unknown as Ref<GroupActorMessage>, stopped: new Promise<void>((r) => (stopped = r)) }
    const label = `${OFFSETS_TOPIC}-${slot.partition}`
    const deps: GroupActorDeps = {
      groupId,
      config: this.config,
      clock,
      timers: this.timers,
      logger,
      commitTimeoutMs: settings.config['offsets.commit.timeout.ms'],
      replica: () => directory.get(OFFSETS_TOPIC, slot.partition),
      load: async () => {
        const replica = directory.get(OFFSETS_TOPIC, slot.partition)
        if (!replica) throw new GroupLoadError(`${label} is not hosted here`, ErrorCode.NOT_COORDINATOR)
        return loadGroup(replica, groupId, { replyTimeoutMs: LOAD_REPLY_TIMEOUT_MS, logger, label })
      },
      onRemoved: () => {
        if (slot.groups.get(groupId) === entry) slot.groups.delete(groupId)
      },
      reroute: (msg) => this.route(groupId, msg),
      onStopped: () => stopped(),
    }
    entry.ref = spawnGroupActor(this.system, `group-${slot.partition}-${++this.spawned}`, deps, state)
    slot.groups.set(groupId, entry)
    return entry
  }

  // ---- the topic and its partitions ----------------------------------------------------------

  /** Where the group's coordinator is, or null while that is not known (no topic, no leader yet). */
  private coordinatorOf(groupId: string, image: MetadataImage): CoordinatorLocation | null {
    const topic = image.topics.get(OFFSETS_TOPIC)
    if (!topic || topic.partitions.length === 0) return null
    const leader = topic.partitions[partitionForGroup(groupId, topic.partitions.length)]?.leader ?? -1
    if (leader < 0) return null
    if (leader === this.options.nodeId) {
      const { host, port } = this.options.advertised()
      return { errorCode: ErrorCode.NONE, errorMessage: null, nodeId: leader, host, port }
    }
    const broker = image.brokers.get(leader)
    if (!broker || broker.fenced) return null
    return { errorCode: ErrorCode.NONE, errorMessage: null, nodeId: leader, host: broker.host, port: broker.port }
  }

  /** Starts creating `__consumer_offsets` unless it exists or is being created. */
  private ensureTopic(): TopicImage | null {
    const { metadata, settings, logger } = this.options
    const topic = metadata.image().topics.get(OFFSETS_TOPIC)
    if (topic || this.creating || this.closed) return topic ?? null
    const config = settings.config
    const live = [...metadata.image().brokers.values()].filter((b) => !b.fenced).length
    const numPartitions = config['offsets.topic.num.partitions']
    const replicationFactor = Math.max(1, Math.min(config['offsets.topic.replication.factor'], live))
    this.creating = metadata
      .createTopics(
        [{
          name: OFFSETS_TOPIC,
          numPartitions,
          replicationFactor,
          configs: { 'cleanup.policy': 'compact', 'compression.type': 'producer', 'segment.bytes': String(config['offsets.topic.segment.bytes']) },
        }],
        { validateOnly: false },
      )
      .then(
        ([r]) => {
          if (!r || r.errorCode === ErrorCode.NONE) logger.info(`created ${OFFSETS_TOPIC} with ${numPartitions} partitions, replication factor ${replicationFactor}`)
          else if (r.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) logger.warn(`creating ${OFFSETS_TOPIC} failed: ${errorName(r.errorCode)}${r.errorMessage ? ` (${r.errorMessage})` : ''}`)
        },
        (err: unknown) => logger.warn(`creating ${OFFSETS_TOPIC} failed: ${errorMessage(err)}`),
      )
      .finally(() => {
        this.creating = null
      })
    return null
  }

  /** The first image that satisfies `ok`, or the current one after `timeoutMs` (or at close). */
  private waitForImage(ok: (image: MetadataImage) => boolean, timeoutMs: number): Promise<MetadataImage> {
    const { metadata } = this.options
    const now = metadata.image()
    if (ok(now) || this.pending.size >= PENDING_CALLS_MAX_COUNT) return Promise.resolve(now)
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        unsubscribe()
        this.pending.delete(done)
        resolve(metadata.image())
      }
      const unsubscribe = metadata.onChange((image) => {
        if (ok(image)) done()
      })
      const timer = setTimeout(done, timeoutMs)
      timer.unref?.()
      this.pending.add(done)
    })
  }

  /** Follows the metadata image: load the partitions this broker leads, unload those it no longer does. */
  private reconcile(image: MetadataImage): void {
    if (this.closed || image === this.seen) return
    this.seen = image
    const topic = image.topics.get(OFFSETS_TOPIC)
    const leading = new Map<number, { leaderEpoch: number }>()
    if (topic) for (const p of topic.partitions) if (p.leader === this.options.nodeId) leading.set(p.partition, p)
    for (const slot of [...this.slots.values()]) {
      const now = leading.get(slot.partition)
      if (!now || now.leaderEpoch !== slot.leaderEpoch || topic!.topicId !== slot.topicId) this.unloadSlot(slot)
    }
    for (const [partition, p] of leading) {
      if (this.slots.has(partition)) continue
      const slot: Slot = { partition, topicId: topic!.topicId, leaderEpoch: p.leaderEpoch, status: 'loading', groups: new Map(), dropped: false }
      this.slots.set(partition, slot)
      void this.loadSlot(slot)
    }
  }

  /** Forgets the slot; its actors answer their waiters with NOT_COORDINATOR and stop. Returns when each has stopped. */
  private unloadSlot(slot: Slot): Promise<void>[] {
    slot.dropped = true
    if (this.slots.get(slot.partition) === slot) this.slots.delete(slot.partition)
    const stops: Promise<void>[] = []
    for (const entry of slot.groups.values()) {
      dispatch(entry.ref, { type: 'unload' })
      stops.push(entry.stopped)
    }
    if (slot.groups.size > 0) this.options.logger.info(`unloaded ${slot.groups.size} groups of ${OFFSETS_TOPIC}-${slot.partition}`)
    slot.groups.clear()
    return stops
  }

  /** Replays the partition into one actor per group; retried (with a backoff) while this broker still leads it. */
  private async loadSlot(slot: Slot): Promise<void> {
    const { directory, logger } = this.options
    const label = `${OFFSETS_TOPIC}-${slot.partition}`
    for (let attempt = 1; !slot.dropped && !this.closed; attempt++) {
      try {
        const replica = await directory.waitFor(OFFSETS_TOPIC, slot.partition, LOAD_REPLICA_WAIT_MS)
        if (slot.dropped || this.closed) return
        if (!replica) throw new GroupLoadError(`${label} has no replica on this broker yet`, ErrorCode.NOT_LEADER_OR_FOLLOWER)
        const groups = await loadGroups(replica, { replyTimeoutMs: LOAD_REPLY_TIMEOUT_MS, logger, label })
        if (slot.dropped || this.closed) return
        for (const [groupId, state] of groups) this.spawnGroup(slot, groupId, state)
        slot.status = 'loaded'
        if (groups.size > 0) logger.info(`loaded ${groups.size} groups from ${label}`)
        return
      } catch (err) {
        // The replica may not know yet that it leads (its update follows the same metadata change).
        const code = err instanceof GroupLoadError ? err.errorCode : null
        const expected = attempt <= 10 && (code === ErrorCode.NOT_LEADER_OR_FOLLOWER || code === ErrorCode.LEADER_NOT_AVAILABLE)
        logger[expected ? 'debug' : 'warn'](`loading ${label} failed (attempt ${attempt}): ${errorMessage(err)}; retrying in ${LOAD_RETRY_BACKOFF_MS} ms`)
        await this.sleep(LOAD_RETRY_BACKOFF_MS)
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.pending.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      timer.unref?.()
      this.pending.add(done)
    })
  }
}

function joinError(input: JoinGroupInput, errorCode: number): JoinGroupResult {
  return { errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId: input.memberId, members: [] }
}

/**
 * Kafka's answers for a group that does not exist (GroupCoordinator.scala): true when answered
 * here, false when the request creates the group (a join of a new member, a commit from outside
 * the group protocol).
 */
function answerUnknownGroup(msg: GroupRequest, groupId: string): boolean {
  switch (msg.type) {
    case 'join':
      if (msg.input.memberId === '') return false
      msg.reply(joinError(msg.input, ErrorCode.UNKNOWN_MEMBER_ID))
      return true
    case 'sync':
    case 'heartbeat':
      answerWithError(msg, ErrorCode.UNKNOWN_MEMBER_ID, groupId)
      return true
    case 'leave':
      msg.reply({ errorCode: ErrorCode.NONE, members: msg.input.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })) })
      return true
    case 'commit':
      if (msg.input.generationId < 0) return false
      // A commit of a generation of a group that is gone.
      answerWithError(msg, ErrorCode.ILLEGAL_GENERATION, groupId)
      return true
    case 'fetch-offsets':
      msg.reply({
        errorCode: ErrorCode.NONE,
        topics: (msg.input.topics ?? []).map((t) => ({ name: t.name, partitions: t.partitions.map((partition) => ({ partition, offset: -1, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE })) })),
      })
      return true
    case 'describe':
      answerWithError(msg, ErrorCode.NONE, groupId)
      return true
    case 'list':
      msg.reply(null)
      return true
    case 'delete-group':
    case 'delete-offsets':
      answerWithError(msg, ErrorCode.GROUP_ID_NOT_FOUND, groupId)
      return true
    default: {
      const never: never = msg
      throw new Error(`unknown group request ${JSON.stringify(never)}`)
    }
  }
}
