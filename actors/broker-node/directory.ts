/**
 * ReplicaDirectory — where the request handlers find the replica actor of a partition. The
 * broker-node shell fills it as it spawns and stops replicas; a handler that saw a topic in
 * the metadata image before its replicas were spawned waits for them (with a bound).
 */
import type { Ref } from 'nact'
import type { ReplicaMessage } from '../partition-replica/messages.ts'
import { partitionKey } from './state.ts'

/** Handlers waiting for replicas to appear; past it a wait fails at once. */
export const MAX_DIRECTORY_WAITERS_COUNT = 10_000

export class ReplicaDirectory {
  private readonly refs = new Map<string, Ref<ReplicaMessage>>()
  private readonly waiters = new Map<string, Set<(ref: Ref<ReplicaMessage> | undefined) => void>>()
  private waiting = 0

  get(topic: string, partition: number): Ref<ReplicaMessage> | undefined {
    return this.refs.get(partitionKey(topic, partition))
  }

  get size(): number {
    return this.refs.size
  }

  all(): Ref<ReplicaMessage>[] {
    return [...this.refs.values()]
  }

  set(topic: string, partition: number, ref: Ref<ReplicaMessage>): void {
    const key = partitionKey(topic, partition)
    this.refs.set(key, ref)
    const ws = this.waiters.get(key)
    if (ws) {
      this.waiters.delete(key)
      for (const w of ws) w(ref)
    }
  }

  delete(topic: string, partition: number): void {
    this.refs.delete(partitionKey(topic, partition))
  }

  /** The replica, waiting up to `timeoutMs` for it to be spawned; undefined when it is not by then. */
  waitFor(topic: string, partition: number, timeoutMs: number): Promise<Ref<ReplicaMessage> | undefined> {
    const ref = this.get(topic, partition)
    if (ref || timeoutMs <= 0 || this.waiting >= MAX_DIRECTORY_WAITERS_COUNT) return Promise.resolve(ref)
    const key = partitionKey(topic, partition)
    return new Promise((resolve) => {
      let set = this.waiters.get(key)
      if (!set) this.waiters.set(key, (set = new Set()))
      this.waiting++
      const done = (r: Ref<ReplicaMessage> | undefined) => {
        clearTimeout(timer)
        this.waiting--
        resolve(r)
      }
      const timer = setTimeout(() => {
        const s = this.waiters.get(key)
        s?.delete(done)
        if (s && s.size === 0) this.waiters.delete(key)
        done(undefined)
      }, timeoutMs)
      set.add(done)
    })
  }

  clear(): void {
    this.refs.clear()
  }
}
