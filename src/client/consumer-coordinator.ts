/**
 * The group side of one consumer (Kafka's ConsumerCoordinator): the I/O and timers around the
 * pure membership state machine (group-membership.ts) — FindCoordinator, JoinGroup with every
 * configured assignor's ConsumerProtocolSubscription, the leader's assignment, SyncGroup,
 * heartbeats on their own timer, LeaveGroup — and the offsets: OffsetCommit (commitSync,
 * commitAsync, auto-commit), OffsetFetch (committed(), and the starting position of each newly
 * assigned partition).
 *
 * Threading, as Kafka's: the application's rebalance listener runs only inside poll(), close()
 * and unsubscribe() (awaited, in order; an error it throws is rethrown by that call once every
 * callback ran); heartbeats, join and sync answers move the membership on in the background and
 * wake the poller.
 *
 * Commits are ordered: each is sent on the coordinator's own connection in the order of the
 * calls (those made while the coordinator is being looked up wait, in order, up to
 * `pendingCoordinatorRequestsMax`), a broker answers a connection's requests in order, and a
 * retried commitSync leaves out the partitions a newer commit has covered since, so an older
 * commit never overwrites a newer one. commitAsync is never retried (as Kafka).
 */
import { ErrorCode, errorName } from '../protocol/kafka/error-codes.ts'
import { ApiKey } from '../protocol/kafka/generated/index.ts'
import type { Clock } from '../runtime/clock.ts'
import type { Logger } from '../runtime/logger.ts'
import type { MemberSubscription, PartitionAssignor } from './assignors/assignor.ts'
import { assignorFor, rebalanceProtocol } from './assignors/index.ts'
import type { Cluster } from './cluster.ts'
import type { ConsumerConfig } from './config.ts'
import { CONSUMER_PROTOCOL_TYPE, decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription } from './consumer-protocol.ts'
import { KafkaError, timeoutError } from './errors.ts'
import { coordinatorRequest, findCoordinator, type CoordinatorLink } from './find-coordinator.ts'
import {
  commitGeneration,
  hasGeneration,
  initialMembership,
  nextTickMs,
  step,
  type MembershipEffect,
  type MembershipMsg,
  type MembershipState,
} from './group-membership.ts'
import { tpKey, type TopicPartition } from './list-offsets.ts'
import type { SubscriptionState } from './subscription-state.ts'

/** The application's rebalance listener (Kafka's ConsumerRebalanceListener); callbacks may be async. */
export interface RebalanceListener {
  onPartitionsAssigned?(partitions: TopicPartition[]): void | Promise<void>
  onPartitionsRevoked?(partitions: TopicPartition[]): void | Promise<void>
  /** Without it, onPartitionsRevoked is called instead (as Kafka's default). */
  onPartitionsLost?(partitions: TopicPartition[]): void | Promise<void>
}

/** An offset to commit: the offset of the next record to read. */
export interface OffsetAndMetadata extends TopicPartition {
  offset: number
  /** The leader epoch of the last record consumed; -1 or absent when unknown. */
  leaderEpoch?: number
  metadata?: string
}

export interface CommittedPartition extends TopicPartition {
  /** null when the group has no offset for the partition. */
  committed: { offset: number; leaderEpoch: number; metadata: string } | null
}

export type CommitCallback = (error: Error | null, offsets: OffsetAndMetadata[]) => void

/** Commits and offset fetches waiting for the coordinator to be found; past it they fail at once (retriable). */
export const pendingCoordinatorRequestsMax = 10_000
/** Membership steps one poll() takes at most (each may be a listener call or a request sent). */
export const pollStepsMax = 8
/** Errors waiting for poll() to throw them; past it the oldest are dropped (and were logged). */
export const pendingErrorsMax = 100
/** JoinGroup waits for the rebalance: its request timeout is the rebalance timeout plus this (Kafka's JOIN_GROUP_TIMEOUT_LAPSE). */
export const joinGroupTimeoutLapseMs = 5_000

const REBALANCING_MESSAGE =
  'Offset commit cannot be completed since the consumer is undergoing a rebalance for auto partition assignment. You can try completing the rebalance by calling poll() and then retry the operation.'
const COMMIT_FAILED_MESSAGE =
  'CommitFailed: Commit cannot be completed since the group has already rebalanced and assigned the partitions to another member. This means that the time between subsequent calls to poll() was longer than the configured max.poll.interval.ms, which typically implies that the poll loop is spending too much time message processing. You can address this either by increasing max.poll.interval.ms or by reducing the maximum size of batches returned in poll() with max.poll.records.'

/** Errors of an OffsetCommit/OffsetFetch answer after which the same request may succeed later. */
const RETRIABLE_OFFSET_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.UNSTABLE_OFFSET_COMMIT,
  ErrorCode.NETWORK_EXCEPTION,
])
const COORDINATOR_MOVED: ReadonlySet<number> = new Set([ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.NOT_COORDINATOR, ErrorCode.REQUEST_TIMED_OUT, ErrorCode.NETWORK_EXCEPTION])
const GROUP_ERRORS: ReadonlySet<number> = new Set([ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.ILLEGAL_GENERATION, ErrorCode.REBALANCE_IN_PROGRESS, ErrorCode.FENCED_INSTANCE_ID])

export interface ConsumerCoordinatorOptions {
  cluster: Cluster
  config: ConsumerConfig
  subscriptions: SubscriptionState
  logger: Logger
  clock: Clock
  /** Wakes the poller (a poll waiting for data) when the membership moved on. */
  wake: () => void
}

interface QueuedRequest {
  send(link: CoordinatorLink): void
  fail(error: KafkaError): void
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)))
const toError = (e: unknown): KafkaError => (e instanceof KafkaError ? e : new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, (e as Error)?.message ?? String(e), { cause: e }))

export class ConsumerCoordinator {
  readonly groupId: string
  private readonly cluster: Cluster
  private readonly config: ConsumerConfig
  private readonly subscriptions: SubscriptionState
  private readonly logger: Logger
  private readonly clock: Clock
  private readonly wake: () => void
  private readonly assignors: PartitionAssignor[]
  private state: MembershipState
  private link: CoordinatorLink | null = null
  private listener: RebalanceListener = {}
  private timer: ReturnType<typeof setTimeout> | null = null
  private timerDueMs = Infinity
  /** Errors poll() throws: from the listener, and from background work. */
  private readonly errors: Error[] = []
  private readonly queue: QueuedRequest[] = []
  private commitSeq = 0
  /** Per partition, the sequence number of the newest commit that carries it. */
  private readonly latestCommit = new Map<string, number>()
  private readonly inFlight = new Set<Promise<unknown>>()
  private nextAutoCommitMs: number
  /** As leader: the partition counts the last assignment was made with (a change means rebalance). */
  private assignmentSnapshot: { metadataVersion: number; counts: Map<string, number> } | null = null
  private committedFetch: Promise<void> | null = null
  private patternRefreshRunning = false
  private nextPatternRefreshMs = 0
  private lock: Promise<unknown> = Promise.resolve()
  private closeDeadlineMs = Infinity
  private closed = false

  constructor(options: ConsumerCoordinatorOptions) {
    this.cluster = options.cluster
    this.config = options.config
    this.groupId = options.config['group.id']
    this.subscriptions = options.subscriptions
    this.logger = options.logger
    this.clock = options.clock
    this.wake = options.wake
    this.assignors = options.config['partition.assignment.strategy'].map((n) => assignorFor(n))
    const now = this.clock.now()
    this.nextAutoCommitMs = now + options.config['auto.commit.interval.ms']
    this.state = initialMembership(
      {
        groupInstanceId: options.config['group.instance.id'],
        sessionTimeoutMs: options.config['session.timeout.ms'],
        heartbeatIntervalMs: options.config['heartbeat.interval.ms'],
        maxPollIntervalMs: options.config['max.poll.interval.ms'],
        retryBackoffMs: options.config['retry.backoff.ms'],
        protocol: rebalanceProtocol(this.assignors),
        leaveGroupOnClose: options.config['internal.leave.group.on.close'],
      },
      now,
    )
  }

  /** The membership as it stands (for tests and diagnostics). */
  get membership(): MembershipState {
    return this.state
  }

  // ---------------------------------------------------------------- subscription

  /** subscribe(): the topics (or, for a pattern, those it matches: the first refresh sets them). */
  subscribe(topics: readonly string[] | null, listener: RebalanceListener | undefined): void {
    this.listener = listener ?? {}
    if (topics !== null) this.dispatchAsync({ type: 'subscribe', topics })
    else this.nextPatternRefreshMs = 0
  }

  /** unsubscribe(): gives up the partitions (listener) and leaves the group. */
  unsubscribe(): Promise<void> {
    return this.serialize(async () => {
      if (this.state.subscription !== null || this.state.owned.length > 0) await this.dispatch({ type: 'leave', reason: 'the consumer unsubscribed from all topics', final: false })
      this.assignmentSnapshot = null
      this.throwErrors()
    })
  }

  enforceRebalance(reason: string): void {
    this.dispatchAsync({ type: 'rejoin', reason })
  }

  // ---------------------------------------------------------------- poll

  /**
   * One turn of the poll loop: moves the membership on (running the listener), auto-commits,
   * and starts fetching the committed offsets of partitions without a position. Throws what
   * the application must see (a fatal group error, a listener's error, NoOffsetForPartition ...).
   */
  poll(): Promise<void> {
    return this.serialize(async () => {
      this.throwErrors()
      this.maybeRefreshPattern()
      this.checkLeaderMetadata()
      // One step may lead straight to the next (assignment applied → follow-up join; partitions lost → join).
      for (let i = 0; i < pollStepsMax; i++) {
        const before = this.state
        await this.dispatch({ type: 'poll' })
        const after = this.state
        if (after.phase === before.phase && after.owned === before.owned && after.coordinator === before.coordinator && after.rejoinReason === before.rejoinReason) break
      }
      this.maybeAutoCommit()
      this.refreshCommittedPositions()
      this.throwErrors()
    })
  }

  /** How long the poller may wait before the group needs it again (a backoff or a pattern refresh ending). */
  waitBoundMs(now: number): number {
    let until = Infinity
    if (this.state.backoffUntilMs > now) until = this.state.backoffUntilMs
    if (this.subscriptions.pattern !== null && !this.patternRefreshRunning) until = Math.min(until, this.nextPatternRefreshMs)
    if (this.config['enable.auto.commit']) until = Math.min(until, this.nextAutoCommitMs)
    return Math.max(0, until - now)
  }

  /** Whether the group's assignment is settled (no join or sync under way, none needed). */
  get stable(): boolean {
    return this.state.phase === 'STABLE' && this.state.rejoinReason === null
  }

  private throwErrors(): void {
    if (this.state.phase === 'FENCED' && this.state.pollError) throw new KafkaError(this.state.pollError.code, this.state.pollError.message)
    if (this.state.pollError) {
      const e = this.state.pollError
      this.state = { ...this.state, pollError: null }
      throw new KafkaError(e.code, e.message)
    }
    const e = this.errors.shift()
    if (e) throw e
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn)
    this.lock = run.catch(() => undefined)
    return run
  }

  // ---------------------------------------------------------------- the state machine

  private dispatch(msg: MembershipMsg): Promise<void> {
    const before = this.state
    const r = step(before, msg, this.clock.now())
    const after = (this.state = r.state)
    this.armTimer()
    // The poller has something to do only when the membership moved (not for every heartbeat).
    if (
      after.phase !== before.phase ||
      after.rejoinReason !== before.rejoinReason ||
      after.coordinator !== before.coordinator ||
      after.pollError !== before.pollError ||
      after.backoffUntilMs !== before.backoffUntilMs
    ) {
      this.wake()
    }
    return this.execute(r.effects)
  }

  /** From a response or a timer: nothing awaits it, so what goes wrong reaches the next poll. */
  private dispatchAsync(msg: MembershipMsg): void {
    try {
      this.dispatch(msg).catch((e: unknown) => this.pushError(toError(e)))
    } catch (e) {
      this.pushError(toError(e))
      this.wake()
    }
  }

  private pushError(e: Error): void {
    this.logger.error(`group ${this.groupId}: ${e.message}`)
    this.errors.push(e)
    if (this.errors.length > pendingErrorsMax) this.errors.shift()
  }

  private async execute(effects: readonly MembershipEffect[]): Promise<void> {
    for (const e of effects) {
      switch (e.type) {
        case 'find-coordinator':
          this.lookupCoordinator()
          break
        case 'revoke':
          await this.revoke(e.partitions, e.commit)
          this.subscriptions.assign(e.remaining)
          if (this.state.phase === 'PREPARING') await this.dispatch({ type: 'prepared' })
          break
        case 'lose':
          await this.invokeListener('lost', e.partitions)
          this.subscriptions.assign(e.remaining)
          break
        case 'assign':
          await this.onAssignment(e)
          break
        case 'join':
          this.sendJoin(e)
          break
        case 'sync':
          this.sendSync(e)
          break
        case 'heartbeat':
          this.sendHeartbeat(e)
          break
        case 'leave-group':
          await this.sendLeave(e.memberId, e.reason)
          break
        default: {
          const _: never = e
          throw new Error(`unknown effect ${JSON.stringify(_)}`)
        }
      }
    }
  }

  private armTimer(): void {
    const due = this.closed ? Infinity : nextTickMs(this.state)
    if (due === this.timerDueMs) return
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.timerDueMs = due
    if (due === Infinity) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.timerDueMs = Infinity
      this.dispatchAsync({ type: 'tick' })
    }, Math.max(0, due - this.clock.now()))
  }

  // ---------------------------------------------------------------- listener

  private async invokeListener(kind: 'assigned' | 'revoked' | 'lost', partitions: TopicPartition[]): Promise<void> {
    const l = this.listener
    const fn = kind === 'assigned' ? l.onPartitionsAssigned : kind === 'revoked' ? l.onPartitionsRevoked : (l.onPartitionsLost ?? l.onPartitionsRevoked)
    this.logger.info(`group ${this.groupId}: partitions ${kind}: ${partitions.map((p) => `${p.topic}-${p.partition}`).join(', ') || '(none)'}`)
    if (fn === undefined) return
    try {
      await fn.call(l, partitions.map((p) => ({ ...p })))
    } catch (e) {
      // Rethrown by this poll once every callback ran (as Kafka).
      this.pushError(e instanceof Error ? e : new Error(`the rebalance listener's on partitions ${kind} threw ${String(e)}`))
    }
  }

  private async revoke(partitions: TopicPartition[], commit: boolean): Promise<void> {
    if (commit && this.config['enable.auto.commit']) await this.commitQuietly(partitions)
    await this.invokeListener('revoked', partitions)
  }

  /** Auto-commit of these partitions' positions before they go; a failure is logged (as Kafka). */
  private async commitQuietly(partitions: readonly TopicPartition[]): Promise<void> {
    const keys = new Set(partitions.map((p) => tpKey(p.topic, p.partition)))
    const offsets = this.subscriptions.allConsumed().filter((o) => keys.has(tpKey(o.topic, o.partition)))
    if (offsets.length === 0) return
    try {
      await this.commitSync(offsets, Math.min(this.config['request.timeout.ms'], Math.max(0, this.closeDeadlineMs - this.clock.now())))
    } catch (e) {
      this.logger.warn(`group ${this.groupId}: auto-commit before revocation failed: ${(e as Error).message}`)
    }
  }

  private async onAssignment(e: Extract<MembershipEffect, { type: 'assign' }>): Promise<void> {
    if (e.revoked.length > 0) {
      await this.revoke(e.revoked, true)
    }
    this.subscriptions.assign(e.assigned, 'committed')
    this.cluster.addTopics(e.assigned.map((p) => p.topic))
    if (this.config['enable.auto.commit']) this.nextAutoCommitMs = this.clock.now() + this.config['auto.commit.interval.ms']
    await this.invokeListener('assigned', e.added)
    await this.dispatch({ type: 'assigned' })
  }

  // ---------------------------------------------------------------- coordinator

  private lookupCoordinator(): void {
    findCoordinator(this.cluster, this.groupId, 0, this.clock.now() + this.config['request.timeout.ms'])
      .then((link) => {
        if (this.closed && this.closeDeadlineMs < this.clock.now()) return
        this.link = link
        this.dispatchAsync({ type: 'coordinator-found' })
        link.connection.onClose(() => {
          if (this.link !== link) return
          this.link = null
          this.dispatchAsync({ type: 'coordinator-lost', reason: 'the connection to the coordinator closed' })
        })
        this.flushQueue()
      })
      .catch((e: unknown) => {
        const error = toError(e)
        this.logger.debug(`group ${this.groupId}: FindCoordinator: ${error.message}`)
        this.dispatchAsync({ type: 'coordinator-failed', errorCode: error.retriable ? ErrorCode.NONE : error.code, message: error.message })
        this.failQueue(error)
      })
  }

  /** The coordinator's link when it can be used now. */
  private readyLink(): CoordinatorLink | null {
    if (this.link === null || this.link.connection.closed || this.state.coordinator !== 'KNOWN') return null
    return this.link
  }

  /** After an answer said the coordinator moved (or the connection failed): find it again. */
  private coordinatorMoved(reason: string): void {
    const link = this.link
    this.link = null
    if (link !== null && !link.connection.closed) link.connection.close()
    this.dispatchAsync({ type: 'coordinator-lost', reason })
  }

  private enqueue(request: QueuedRequest): void {
    const link = this.readyLink()
    if (link !== null && this.queue.length === 0) return request.send(link)
    if (this.queue.length >= pendingCoordinatorRequestsMax) {
      return request.fail(new KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `more than ${pendingCoordinatorRequestsMax} requests wait for the coordinator of group '${this.groupId}'`))
    }
    this.queue.push(request)
    this.dispatchAsync({ type: 'coordinator-needed' })
  }

  private flushQueue(): void {
    for (let link = this.readyLink(); link !== null && this.queue.length > 0; link = this.readyLink()) this.queue.shift()!.send(link)
  }

  private failQueue(error: KafkaError): void {
    const failed = this.queue.splice(0)
    const e = new KafkaError(error.retriable ? ErrorCode.COORDINATOR_NOT_AVAILABLE : error.code, `the coordinator of group '${this.groupId}' was not found: ${error.message}`)
    for (const r of failed) r.fail(e)
  }

  /** A request on the coordinator's link, in order with the commits. */
  private coordinatorCall<T>(send: (link: CoordinatorLink) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.enqueue({
        send: (link) => {
          send(link).then(resolve, (e: unknown) => {
            const error = toError(e)
            if (COORDINATOR_MOVED.has(error.code)) this.coordinatorMoved(error.message)
            reject(error)
          })
        },
        fail: reject,
      })
    })
  }

  // ---------------------------------------------------------------- join, sync, heartbeat, leave

  private sendJoin(e: Extract<MembershipEffect, { type: 'join' }>): void {
    const link = this.link
    if (link === null) return this.dispatchAsync({ type: 'join-failed', reason: 'no coordinator' })
    this.assignmentSnapshot = null
    const instanceId = this.config['group.instance.id']
    this.logger.info(`group ${this.groupId}: joining (${e.reason})`)
    const protocols = this.assignors.map((a) => ({
      name: a.name,
      metadata: encodeSubscription({
        topics: e.topics,
        userData: a.subscriptionUserData({ topics: e.topics, ownedPartitions: e.lastAssignment, generationId: e.lastAssignmentGenerationId }),
        ownedPartitions: e.owned,
        generationId: e.generationId,
        rackId: this.config['client.rack'],
      }),
    }))
    const timeout = Math.max(this.config['request.timeout.ms'], this.config['max.poll.interval.ms'] + joinGroupTimeoutLapseMs)
    let request
    try {
      request = coordinatorRequest(
        this.cluster,
        link,
        ApiKey.JoinGroup,
        (v) => {
          if (instanceId !== null && v < 5) throw new KafkaError(ErrorCode.UNSUPPORTED_VERSION, `the broker does not support static membership (group.instance.id needs JoinGroup v5, it knows v${v})`)
          return {
            groupId: this.groupId,
            sessionTimeoutMs: this.config['session.timeout.ms'],
            rebalanceTimeoutMs: this.config['max.poll.interval.ms'],
            memberId: e.memberId,
            groupInstanceId: v >= 5 ? instanceId : undefined,
            protocolType: CONSUMER_PROTOCOL_TYPE,
            protocols,
          }
        },
        timeout,
      )
    } catch (err) {
      request = Promise.reject(err)
    }
    request.then(
      ({ response: r }) =>
        this.dispatchAsync({
          type: 'join-response',
          errorCode: r.errorCode,
          memberId: r.memberId,
          generationId: r.generationId,
          protocolName: r.protocolName,
          leaderId: r.leader,
          members: r.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null, metadata: m.metadata })),
        }),
      (err: unknown) => {
        const error = toError(err)
        if (error.retriable) this.dispatchAsync({ type: 'join-failed', reason: error.message })
        else this.dispatchAsync({ type: 'join-response', errorCode: error.code, memberId: e.memberId, generationId: -1, protocolName: null, leaderId: '', members: [] })
      },
    )
  }

  private sendSync(e: Extract<MembershipEffect, { type: 'sync' }>): void {
    const instanceId = this.config['group.instance.id']
    const run = async () => {
      const assignments = e.leader ? await this.performAssignment(e.protocolName, e.members) : []
      const link = this.link
      if (link === null || this.state.generationId !== e.generationId) throw new KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'the coordinator was lost before SyncGroup')
      return coordinatorRequest(
        this.cluster,
        link,
        ApiKey.SyncGroup,
        (v) => ({ groupId: this.groupId, generationId: e.generationId, memberId: e.memberId, groupInstanceId: v >= 3 ? instanceId : undefined, assignments }),
        this.config['request.timeout.ms'],
      )
    }
    run().then(
      ({ response: r }) => {
        if (r.errorCode !== ErrorCode.NONE) return this.dispatchAsync({ type: 'sync-response', generationId: e.generationId, errorCode: r.errorCode, assignment: null })
        let assignment: TopicPartition[]
        try {
          // A member the leader gave nothing may get no bytes at all.
          assignment = r.assignment.length === 0 ? [] : decodeAssignment(r.assignment).partitions
        } catch (err) {
          return this.dispatchAsync({ type: 'sync-response', generationId: e.generationId, errorCode: ErrorCode.INCONSISTENT_GROUP_PROTOCOL, assignment: null, message: `the assignment in SyncGroup does not decode: ${(err as Error).message}` })
        }
        this.dispatchAsync({ type: 'sync-response', generationId: e.generationId, errorCode: ErrorCode.NONE, assignment })
      },
      (err: unknown) => {
        const error = toError(err)
        if (error.retriable) this.dispatchAsync({ type: 'sync-failed', generationId: e.generationId, reason: error.message })
        else this.dispatchAsync({ type: 'sync-response', generationId: e.generationId, errorCode: error.code, assignment: null, message: error.message })
      },
    )
  }

  /** The leader's part: the chosen assignor over every member's subscription and the topics' partition counts. */
  private async performAssignment(protocolName: string, members: readonly { memberId: string; groupInstanceId: string | null; metadata: Uint8Array }[]) {
    const assignor = this.assignors.find((a) => a.name === protocolName)
    if (assignor === undefined) throw new KafkaError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, `the coordinator chose the assignor '${protocolName}', which this consumer did not offer`)
    const subscriptions = new Map<string, MemberSubscription>()
    const topics = new Set<string>()
    for (const m of members) {
      let s
      try {
        s = decodeSubscription(m.metadata)
      } catch (err) {
        throw new KafkaError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, `the subscription of member ${m.memberId} does not decode: ${(err as Error).message}`)
      }
      subscriptions.set(m.memberId, { memberId: m.memberId, groupInstanceId: m.groupInstanceId, topics: s.topics, userData: s.userData, ownedPartitions: s.ownedPartitions, generationId: s.generationId, rackId: s.rackId })
      for (const t of s.topics) topics.add(t)
    }
    this.cluster.addTopics(topics)
    await this.cluster.refreshMetadata()
    const counts = this.partitionCounts(topics)
    const assignment = assignor.assign(counts, subscriptions)
    this.assignmentSnapshot = { metadataVersion: this.cluster.metadataVersion, counts }
    this.logger.info(
      `group ${this.groupId}: as leader, assigned with ${protocolName}: ${[...assignment].map(([id, tps]) => `${id}=[${tps.map((p) => `${p.topic}-${p.partition}`).join(',')}]`).join(' ')}`,
    )
    return members.map((m) => ({ memberId: m.memberId, assignment: encodeAssignment({ partitions: assignment.get(m.memberId) ?? [], userData: null }) }))
  }

  private partitionCounts(topics: Iterable<string>): Map<string, number> {
    const counts = new Map<string, number>()
    for (const t of topics) {
      const md = this.cluster.topics.get(t)
      if (md !== undefined && md.errorCode === ErrorCode.NONE && md.partitions.length > 0) counts.set(t, md.partitions.length)
    }
    return counts
  }

  /** As leader: a topic that appeared, vanished or grew since the assignment asks for a rebalance. */
  private checkLeaderMetadata(): void {
    const snap = this.assignmentSnapshot
    if (snap === null || snap.metadataVersion === this.cluster.metadataVersion || this.state.leaderId !== this.state.memberId) return
    snap.metadataVersion = this.cluster.metadataVersion
    const topics = new Set<string>()
    for (const t of snap.counts.keys()) topics.add(t)
    for (const t of this.state.joinedSubscription) topics.add(t)
    const now = this.partitionCounts(topics)
    const same = now.size === snap.counts.size && [...now].every(([t, n]) => snap.counts.get(t) === n)
    if (!same) {
      this.assignmentSnapshot = null
      this.dispatchAsync({ type: 'rejoin', reason: 'the partitions of the subscribed topics changed' })
    }
  }

  private sendHeartbeat(e: Extract<MembershipEffect, { type: 'heartbeat' }>): void {
    const link = this.link
    if (link === null) return this.dispatchAsync({ type: 'heartbeat-failed', reason: 'no coordinator' })
    const instanceId = this.config['group.instance.id']
    let request
    try {
      request = coordinatorRequest(
        this.cluster,
        link,
        ApiKey.Heartbeat,
        (v) => ({ groupId: this.groupId, generationId: e.generationId, memberId: e.memberId, groupInstanceId: v >= 3 ? instanceId : undefined }),
        this.config['request.timeout.ms'],
      )
    } catch (err) {
      request = Promise.reject(err)
    }
    request.then(
      ({ response }) => this.dispatchAsync({ type: 'heartbeat-response', generationId: e.generationId, errorCode: response.errorCode }),
      (err: unknown) => this.dispatchAsync({ type: 'heartbeat-failed', reason: toError(err).message }),
    )
  }

  private async sendLeave(memberId: string, reason: string): Promise<void> {
    const link = this.link
    if (link === null) return
    this.logger.info(`group ${this.groupId}: member ${memberId} leaving the group: ${reason}`)
    const timeout = Math.max(1, Math.min(this.config['request.timeout.ms'], this.closeDeadlineMs - this.clock.now()))
    const request = coordinatorRequest(
      this.cluster,
      link,
      ApiKey.LeaveGroup,
      (v) => (v >= 3 ? { groupId: this.groupId, members: [{ memberId, groupInstanceId: null }] } : { groupId: this.groupId, memberId }),
      timeout,
    ).then(
      ({ response }) => {
        const code = response.errorCode !== ErrorCode.NONE ? response.errorCode : (response.members?.[0]?.errorCode ?? ErrorCode.NONE)
        if (code !== ErrorCode.NONE) this.logger.debug(`group ${this.groupId}: LeaveGroup: ${errorName(code)}`)
      },
      (err: unknown) => this.logger.debug(`group ${this.groupId}: LeaveGroup: ${toError(err).message}`),
    )
    // Only close() waits for the answer; a poll timeout does not.
    if (this.closed) await request
  }

  // ---------------------------------------------------------------- commits

  /**
   * Commits `offsets` (default: the positions of every assigned partition), retrying what may
   * succeed later until `timeoutMs`. Throws a KafkaError naming the partition that failed;
   * REBALANCE_IN_PROGRESS while the group rebalances; ILLEGAL_GENERATION/UNKNOWN_MEMBER_ID
   * ("CommitFailed") when this member is no longer in the generation that owned them.
   */
  async commitSync(offsets: readonly OffsetAndMetadata[] | undefined, timeoutMs: number): Promise<void> {
    const list = offsets ?? this.subscriptions.allConsumed()
    if (list.length === 0) return
    const deadline = this.clock.now() + timeoutMs
    let pending = [...list]
    let seq = this.claim(pending)
    for (let attempt = 1; ; attempt++) {
      let errors: Map<string, number>
      let retriable: KafkaError | null = null
      try {
        errors = await this.commitOnce(pending, deadline)
      } catch (e) {
        const error = toError(e)
        if (!error.retriable) throw error
        retriable = error
        errors = new Map()
      }
      if (retriable === null) {
        const failed = pending.filter((o) => (errors.get(tpKey(o.topic, o.partition)) ?? ErrorCode.NONE) !== ErrorCode.NONE)
        if (failed.length === 0) return
        const first = failed[0]!
        const code = errors.get(tpKey(first.topic, first.partition))!
        const fatal = failed.find((o) => !RETRIABLE_OFFSET_ERRORS.has(errors.get(tpKey(o.topic, o.partition))!))
        if (fatal !== undefined) throw this.commitError(fatal, errors.get(tpKey(fatal.topic, fatal.partition))!)
        retriable = this.commitError(first, code)
        pending = failed
      }
      // Retry what no newer commit has covered since.
      pending = pending.filter((o) => this.latestCommit.get(tpKey(o.topic, o.partition)) === seq)
      if (pending.length === 0) return
      const left = deadline - this.clock.now()
      if (left <= 0) throw timeoutError(`offset commit of group '${this.groupId}' did not complete in ${timeoutMs} ms: ${retriable.message}`)
      await sleep(Math.min(left, this.config['retry.backoff.ms'] * Math.min(2 ** (attempt - 1), 10)))
      seq = this.claim(pending)
    }
  }

  /** Sends a commit of `offsets` (default: every position) and calls back with its outcome; never retried. */
  commitAsync(offsets: readonly OffsetAndMetadata[] | undefined, callback?: CommitCallback): void {
    const list = [...(offsets ?? this.subscriptions.allConsumed())]
    const done = (error: Error | null) => {
      if (callback === undefined) {
        if (error) this.logger.warn(`group ${this.groupId}: asynchronous commit failed: ${error.message}`)
        return
      }
      try {
        callback(error, list)
      } catch (e) {
        this.pushError(e instanceof Error ? e : new Error(String(e)))
      }
    }
    if (list.length === 0) {
      queueMicrotask(() => done(null))
      return
    }
    this.claim(list)
    const p = this.commitOnce(list, this.clock.now() + this.config['request.timeout.ms']).then(
      (errors) => {
        const failed = list.find((o) => (errors.get(tpKey(o.topic, o.partition)) ?? ErrorCode.NONE) !== ErrorCode.NONE)
        done(failed ? this.commitError(failed, errors.get(tpKey(failed.topic, failed.partition))!) : null)
      },
      (e: unknown) => done(toError(e)),
    )
    this.track(p)
  }

  private track(p: Promise<unknown>): void {
    this.inFlight.add(p)
    void p.finally(() => this.inFlight.delete(p))
  }

  private claim(offsets: readonly TopicPartition[]): number {
    const seq = ++this.commitSeq
    for (const o of offsets) this.latestCommit.set(tpKey(o.topic, o.partition), seq)
    return seq
  }

  private commitError(o: OffsetAndMetadata, code: number): KafkaError {
    switch (code) {
      case ErrorCode.REBALANCE_IN_PROGRESS:
        return new KafkaError(code, REBALANCING_MESSAGE)
      case ErrorCode.UNKNOWN_MEMBER_ID:
      case ErrorCode.ILLEGAL_GENERATION:
        return new KafkaError(code, COMMIT_FAILED_MESSAGE, { retriable: false })
      default:
        return new KafkaError(code, `offset commit failed on partition ${o.topic}-${o.partition} at offset ${o.offset}: ${errorName(code)}`)
    }
  }

  /** One OffsetCommit: per partition error codes; rejects for a lost connection or a generation that does not allow it. */
  private commitOnce(offsets: readonly OffsetAndMetadata[], deadline: number): Promise<Map<string, number>> {
    const generation = commitGeneration(this.state)
    if ('error' in generation) {
      return Promise.reject(new KafkaError(generation.error, generation.error === ErrorCode.REBALANCE_IN_PROGRESS ? REBALANCING_MESSAGE : COMMIT_FAILED_MESSAGE, { retriable: false }))
    }
    const byTopic = new Map<string, OffsetAndMetadata[]>()
    for (const o of offsets) {
      if (!Number.isInteger(o.offset) || o.offset < 0) return Promise.reject(new RangeError(`cannot commit offset ${o.offset} for ${o.topic}-${o.partition}`))
      const l = byTopic.get(o.topic)
      if (l) l.push(o)
      else byTopic.set(o.topic, [o])
    }
    const instanceId = this.config['group.instance.id']
    const p = this.coordinatorCall((link) =>
      coordinatorRequest(
        this.cluster,
        link,
        ApiKey.OffsetCommit,
        (v) => ({
          groupId: this.groupId,
          generationIdOrMemberEpoch: generation.generationId,
          memberId: generation.memberId,
          groupInstanceId: v >= 7 ? instanceId : undefined,
          topics: [...byTopic].map(([name, list]) => ({
            name,
            partitions: list.map((o) => ({ partitionIndex: o.partition, committedOffset: BigInt(o.offset), committedLeaderEpoch: v >= 6 ? (o.leaderEpoch ?? -1) : undefined, committedMetadata: o.metadata ?? '' })),
          })),
        }),
        Math.max(1, Math.min(this.config['request.timeout.ms'], deadline - this.clock.now())),
      ),
    ).then(({ response }) => {
      const errors = new Map<string, number>()
      let groupError: number | null = null
      let moved = false
      for (const t of response.topics) {
        for (const part of t.partitions) {
          errors.set(tpKey(t.name, part.partitionIndex), part.errorCode)
          if (GROUP_ERRORS.has(part.errorCode)) groupError = part.errorCode
          if (COORDINATOR_MOVED.has(part.errorCode)) moved = true
        }
      }
      if (groupError !== null) this.dispatchAsync({ type: 'commit-error', generationId: generation.generationId, errorCode: groupError })
      if (moved) this.coordinatorMoved('OffsetCommit: the coordinator moved')
      return errors
    })
    this.track(p.catch(() => undefined))
    return p
  }

  // ---------------------------------------------------------------- committed offsets

  /** The group's committed offsets of these partitions (OffsetFetch), retrying until `timeoutMs`. */
  async committed(partitions: readonly TopicPartition[], timeoutMs: number): Promise<CommittedPartition[]> {
    const deadline = this.clock.now() + timeoutMs
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.fetchCommittedOnce(partitions, deadline)
      } catch (e) {
        const error = toError(e)
        if (!error.retriable) throw error
        const left = deadline - this.clock.now()
        if (left <= 0) throw timeoutError(`the committed offsets of group '${this.groupId}' were not fetched in ${timeoutMs} ms: ${error.message}`)
        await sleep(Math.min(left, this.config['retry.backoff.ms'] * Math.min(2 ** (attempt - 1), 10)))
      }
    }
  }

  private async fetchCommittedOnce(partitions: readonly TopicPartition[], deadline: number): Promise<CommittedPartition[]> {
    const byTopic = new Map<string, number[]>()
    for (const p of partitions) {
      const l = byTopic.get(p.topic)
      if (l) l.push(p.partition)
      else byTopic.set(p.topic, [p.partition])
    }
    const { response } = await this.coordinatorCall((link) =>
      coordinatorRequest(
        this.cluster,
        link,
        ApiKey.OffsetFetch,
        () => ({ groupId: this.groupId, topics: [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes })) }),
        Math.max(1, Math.min(this.config['request.timeout.ms'], deadline - this.clock.now())),
      ),
    )
    const top = response.errorCode ?? ErrorCode.NONE
    if (top !== ErrorCode.NONE) {
      if (COORDINATOR_MOVED.has(top)) this.coordinatorMoved(`OffsetFetch: ${errorName(top)}`)
      throw new KafkaError(top, `OffsetFetch for group '${this.groupId}': ${errorName(top)}`, { retriable: RETRIABLE_OFFSET_ERRORS.has(top) })
    }
    const found = new Map<string, CommittedPartition['committed']>()
    for (const t of response.topics) {
      for (const p of t.partitions) {
        if (p.errorCode === ErrorCode.UNSTABLE_OFFSET_COMMIT) throw new KafkaError(p.errorCode, `a transaction is committing offsets of ${t.name}-${p.partitionIndex}`, { retriable: true })
        if (p.errorCode !== ErrorCode.NONE) throw new KafkaError(p.errorCode, `fetching the committed offset of ${t.name}-${p.partitionIndex}: ${errorName(p.errorCode)}`, { retriable: false })
        const offset = Number(p.committedOffset)
        found.set(tpKey(t.name, p.partitionIndex), offset < 0 ? null : { offset, leaderEpoch: p.committedLeaderEpoch ?? -1, metadata: p.metadata ?? '' })
      }
    }
    return partitions.map((p) => ({ topic: p.topic, partition: p.partition, committed: found.get(tpKey(p.topic, p.partition)) ?? null }))
  }

  /**
   * Starts an OffsetFetch for the partitions waiting for their committed offset (reset
   * 'committed'); without one a partition falls back to auto.offset.reset.
   */
  refreshCommittedPositions(): void {
    if (this.committedFetch !== null || this.closed) return
    const todo = [...this.subscriptions.states()].filter((s) => s.position === null && s.reset === 'committed')
    if (todo.length === 0) return
    const epochs = todo.map((s) => s.epoch)
    this.committedFetch = this.fetchCommittedOnce(todo, this.clock.now() + this.config['default.api.timeout.ms'])
      .then((answers) => {
        answers.forEach((a, i) => {
          const s = this.subscriptions.get(a)
          if (s === undefined || s !== todo[i] || s.epoch !== epochs[i] || s.position !== null || s.reset !== 'committed') return
          if (a.committed === null) {
            s.reset = this.config['auto.offset.reset']
          } else {
            s.position = a.committed.offset
            s.positionLeaderEpoch = a.committed.leaderEpoch
            s.reset = null
          }
        })
      })
      .catch((e: unknown) => {
        const error = toError(e)
        if (error.retriable) this.logger.debug(`group ${this.groupId}: fetching committed offsets: ${error.message}`)
        else this.pushError(error)
      })
      .finally(() => {
        this.committedFetch = null
        this.wake()
      })
  }

  private maybeAutoCommit(): void {
    if (!this.config['enable.auto.commit']) return
    const now = this.clock.now()
    if (now < this.nextAutoCommitMs) return
    this.nextAutoCommitMs = now + this.config['auto.commit.interval.ms']
    const generation = commitGeneration(this.state)
    if ('error' in generation) return
    const offsets = this.subscriptions.allConsumed()
    if (offsets.length === 0) return
    this.commitAsync(offsets, (error) => {
      if (error === null) return
      this.logger.warn(`group ${this.groupId}: auto-commit of offsets failed: ${error.message}`)
      if (error instanceof KafkaError && error.retriable) this.nextAutoCommitMs = Math.min(this.nextAutoCommitMs, this.clock.now() + this.config['retry.backoff.ms'])
    })
  }

  // ---------------------------------------------------------------- pattern subscription

  private maybeRefreshPattern(): void {
    const pattern = this.subscriptions.pattern
    const now = this.clock.now()
    if (pattern === null || this.patternRefreshRunning || now < this.nextPatternRefreshMs) return
    this.patternRefreshRunning = true
    // A copy without g/y: test() on those moves lastIndex.
    const re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''))
    this.cluster
      .fetchMetadata(null)
      .then((md) => {
        if (this.subscriptions.pattern !== pattern) return
        const matched = md.topics
          .filter((t) => t.errorCode === ErrorCode.NONE && !(t.isInternal && this.config['exclude.internal.topics']) && t.name !== null && re.test(t.name))
          .map((t) => t.name as string)
          .sort()
        const before = this.subscriptions.subscription()
        if (this.state.subscription === null || matched.length !== before.length || matched.some((t, i) => t !== before[i])) {
          this.subscriptions.setPatternMatches(matched)
          this.cluster.addTopics(matched)
          this.dispatchAsync({ type: 'subscribe', topics: matched })
        }
      })
      .catch((e: unknown) => this.logger.debug(`group ${this.groupId}: metadata for the subscription pattern: ${toError(e).message}`))
      .finally(() => {
        this.patternRefreshRunning = false
        this.nextPatternRefreshMs = this.clock.now() + this.config['metadata.max.age.ms']
        this.wake()
      })
  }

  // ---------------------------------------------------------------- close

  /**
   * Commits (auto-commit), gives up the partitions (listener), leaves the group (a dynamic
   * member), and waits for the commits in flight; bounded by `timeoutMs`.
   */
  close(timeoutMs: number): Promise<void> {
    this.closeDeadlineMs = this.clock.now() + timeoutMs
    const run = this.serialize(async () => {
      if (this.closed) return
      if (this.config['enable.auto.commit'] && (hasGeneration(this.state) || this.state.subscription === null)) {
        try {
          await this.commitSync(undefined, Math.max(0, this.closeDeadlineMs - this.clock.now()))
        } catch (e) {
          this.logger.warn(`group ${this.groupId}: the commit on close failed: ${(e as Error).message}`)
        }
      }
      this.closed = true
      await this.dispatch({ type: 'leave', reason: 'the consumer is being closed', final: true })
      await Promise.allSettled([...this.inFlight])
    })
    let timer: ReturnType<typeof setTimeout> | undefined
    const bound = new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, timeoutMs))))
    return Promise.race([run.catch((e: unknown) => this.logger.warn(`group ${this.groupId}: close: ${toError(e).message}`)), bound]).finally(() => {
      clearTimeout(timer)
      this.closed = true
      if (this.timer !== null) clearTimeout(this.timer)
      this.timer = null
      this.failQueue(new KafkaError(ErrorCode.NETWORK_EXCEPTION, 'the consumer is closed'))
    })
  }
}
