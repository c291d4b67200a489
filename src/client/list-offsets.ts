/**
 * ListOffsets, shared by the consumer (seekToBeginning/End, offsetsForTimes, auto.offset.reset)
 * and the admin: each partition is asked of its leader, by timestamp or by the sentinels
 * EARLIEST (-2) and LATEST (-1). Retriable errors (a leader that moved, a topic being
 * created) refresh the metadata and ask again until `deadlineMs`.
 */
import { ErrorCode } from '../protocol/kafka/error-codes.ts'
import { ApiKey } from '../protocol/kafka/generated/index.ts'
import type { Cluster } from './cluster.ts'
import { retryBackoffMs } from './config.ts'
import { KafkaError, responseError, timeoutError } from './errors.ts'

export const EARLIEST_TIMESTAMP = -2
export const LATEST_TIMESTAMP = -1

export interface TopicPartition {
  topic: string
  partition: number
}

export interface OffsetQuery extends TopicPartition {
  /** Epoch ms, or EARLIEST_TIMESTAMP / LATEST_TIMESTAMP. */
  timestamp: number
}

export interface OffsetAnswer extends TopicPartition {
  /** -1 when no record has a timestamp at or after the one asked. */
  offset: number
  /** The found record's timestamp; -1 for EARLIEST / LATEST. */
  timestamp: number
  leaderEpoch: number
}

export const tpKey = (topic: string, partition: number): string => `${partition}\u0000${topic}`

/** Answers in the order of `queries`; a partition asked more than once is asked in separate rounds. */
export async function listOffsets(cluster: Cluster, queries: readonly OffsetQuery[], isolationLevel: 0 | 1, deadlineMs: number): Promise<OffsetAnswer[]> {
  const rounds: { index: number; query: OffsetQuery }[][] = []
  const seen = new Map<string, number>()
  queries.forEach((query, index) => {
    const key = tpKey(query.topic, query.partition)
    const round = seen.get(key) ?? 0
    seen.set(key, round + 1)
    ;(rounds[round] ??= []).push({ index, query })
  })
  const out: OffsetAnswer[] = new Array(queries.length)
  for (const round of rounds) {
    const answers = await listOffsetsOnce(cluster, round.map((r) => r.query), isolationLevel, deadlineMs)
    round.forEach((r, i) => (out[r.index] = answers[i]!))
  }
  return out
}

async function listOffsetsOnce(cluster: Cluster, queries: readonly OffsetQuery[], isolationLevel: 0 | 1, deadlineMs: number): Promise<OffsetAnswer[]> {
  const answers = new Map<string, OffsetAnswer>()
  let pending = [...queries]
  const topics = new Set(queries.map((q) => q.topic))
  cluster.addTopics(topics)
  for (let attempt = 1; pending.length > 0; attempt++) {
    let lastError: KafkaError | null = null
    const byLeader = new Map<number, OffsetQuery[]>()
    const missing: OffsetQuery[] = []
    for (const q of pending) {
      const leader = cluster.leaderFor(q.topic, q.partition)
      if (leader < 0) {
        missing.push(q)
        const code = cluster.topicErrors.get(q.topic)
        if (code !== undefined && !new KafkaError(code).retriable) throw responseError(code, `topic ${q.topic}`)!
        continue
      }
      const list = byLeader.get(leader)
      if (list) list.push(q)
      else byLeader.set(leader, [q])
    }
    const retry: OffsetQuery[] = [...missing]
    await Promise.all(
      [...byLeader].map(async ([leader, qs]) => {
        const byTopic = new Map<string, OffsetQuery[]>()
        for (const q of qs) {
          const l = byTopic.get(q.topic)
          if (l) l.push(q)
          else byTopic.set(q.topic, [q])
        }
        try {
          const { response } = await cluster.send(leader, ApiKey.ListOffsets, () => ({
            replicaId: -1,
            isolationLevel,
            topics: [...byTopic].map(([name, list]) => ({ name, partitions: list.map((q) => ({ partitionIndex: q.partition, timestamp: BigInt(q.timestamp) })) })),
          }))
          const seen = new Set<string>()
          for (const t of response.topics) {
            for (const p of t.partitions) {
              const key = tpKey(t.name, p.partitionIndex)
              const q = qs.find((x) => tpKey(x.topic, x.partition) === key)
              if (q === undefined) continue
              seen.add(key)
              const err = responseError(p.errorCode, `${t.name}-${p.partitionIndex}`)
              if (err === null) {
                answers.set(key, { topic: t.name, partition: p.partitionIndex, offset: Number(p.offset), timestamp: Number(p.timestamp), leaderEpoch: p.leaderEpoch })
              } else if (err.retriable) {
                lastError = err
                retry.push(q)
              } else {
                throw err
              }
            }
          }
          for (const q of qs) {
            if (!seen.has(tpKey(q.topic, q.partition))) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `ListOffsets did not answer for ${q.topic}-${q.partition}`)
          }
        } catch (e) {
          if (!(e instanceof KafkaError) || !e.retriable) throw e
          lastError = e
          retry.push(...qs)
        }
      }),
    )
    pending = retry
    if (pending.length === 0) break
    cluster.requestUpdate()
    const left = deadlineMs - Date.now()
    if (left <= 0) {
      const what = pending.map((q) => `${q.topic}-${q.partition}`).join(', ')
      throw timeoutError(`listing offsets of ${what} timed out${lastError ? `: ${(lastError as KafkaError).message}` : ''}`)
    }
    await new Promise((r) => setTimeout(r, Math.min(left, retryBackoffMs(cluster.config, attempt))))
    try {
      await cluster.refreshMetadata()
    } catch (e) {
      if (!(e instanceof KafkaError) || !e.retriable) throw e
    }
  }
  return queries.map((q) => answers.get(tpKey(q.topic, q.partition))!)
}
