/**
 * LeaderEpochCache — the first offset written in each leader epoch of a partition (Kafka's
 * LeaderEpochFileCache), which answers OffsetsForLeaderEpoch so that a follower truncates to
 * where its log and the leader's diverge (KIP-101/279). Kept in `leader-epoch-checkpoint`,
 * a checkpoint file (see checkpoint-file.ts) of version 0 with one `<epoch> <startOffset>` line
 * per epoch, epochs and start offsets both strictly increasing:
 *   0
 *   2
 *   0 0
 *   3 1200
 * Every change is written (atomically) before it is applied in memory, so a failed write
 * leaves both as they were.
 */
import { parseNonNegativeInteger, readCheckpoint, writeCheckpoint } from './checkpoint-file.ts'
import type { Storage } from './storage.ts'

export const LEADER_EPOCH_CHECKPOINT = 'leader-epoch-checkpoint'
/** Kafka's OffsetsForLeaderEpochResponse.UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET. */
export const UNDEFINED_EPOCH = -1
export const UNDEFINED_EPOCH_OFFSET = -1

const VERSION = 0
const INT32_MAX = 0x7fffffff

export interface EpochEntry {
  readonly epoch: number
  readonly startOffset: number
}

export interface EpochEndOffset {
  epoch: number
  endOffset: number
}

export class LeaderEpochCache {
  readonly path: string
  private readonly storage: Storage
  private epochs: readonly EpochEntry[]

  private constructor(storage: Storage, path: string, epochs: readonly EpochEntry[]) {
    this.storage = storage
    this.path = path
    this.epochs = Object.freeze(epochs)
  }

  /**
   * Loads the cache. A missing file gives an empty cache; a damaged one gives an empty cache and the
   * problem to log (the file is left as it is until the next change rewrites it).
   */
  static load(storage: Storage, path: string): { cache: LeaderEpochCache; problem: string | null } {
    const read = readCheckpoint(storage, path, VERSION)
    if ('missing' in read) return { cache: new LeaderEpochCache(storage, path, []), problem: null }
    if ('problem' in read) return { cache: new LeaderEpochCache(storage, path, []), problem: read.problem }
    const epochs: EpochEntry[] = []
    for (const [i, line] of read.lines.entries()) {
      const fields = line.split(/\s+/)
      const epoch = fields.length === 2 ? parseNonNegativeInteger(fields[0]!) : null
      const startOffset = fields.length === 2 ? parseNonNegativeInteger(fields[1]!) : null
      if (epoch === null || epoch > INT32_MAX || startOffset === null) {
        return { cache: new LeaderEpochCache(storage, path, []), problem: `${path}: entry ${i + 1} ${JSON.stringify(line)} is not "<epoch> <startOffset>"` }
      }
      const previous = epochs[epochs.length - 1]
      if (previous !== undefined && (epoch <= previous.epoch || startOffset <= previous.startOffset)) {
        return {
          cache: new LeaderEpochCache(storage, path, []),
          problem: `${path}: entry ${i + 1} (epoch ${epoch} at ${startOffset}) does not follow (epoch ${previous.epoch} at ${previous.startOffset}): both must increase`,
        }
      }
      epochs.push(Object.freeze({ epoch, startOffset }))
    }
    return { cache: new LeaderEpochCache(storage, path, epochs), problem: null }
  }

  /**
   * Records that `epoch` starts at `startOffset`. Called for every appended batch and when this
   * replica becomes leader, so the usual call repeats the latest epoch and changes nothing.
   * - the latest epoch at the same or a later offset: nothing to do (it started earlier);
   * - a newer epoch at the latest epoch's start offset: the latest epoch wrote nothing, so the newer
   *   one replaces it (as in Kafka);
   * - a newer epoch at a later offset: appended.
   * Anything else (an older epoch, an offset going back) means the log was not truncated first; Kafka
   * would silently drop the conflicting entries, here it throws.
   */
  assign(epoch: number, startOffset: number): void {
    if (!Number.isInteger(epoch) || epoch < 0 || epoch > INT32_MAX || !Number.isSafeInteger(startOffset) || startOffset < 0) {
      throw new Error(`invalid leader epoch entry (epoch ${epoch} at ${startOffset}) for ${this.path}`)
    }
    const latest = this.latestEntry()
    let kept = this.epochs
    if (latest !== null) {
      if (epoch === latest.epoch && startOffset >= latest.startOffset) return
      if (epoch <= latest.epoch) {
        throw new Error(`leader epoch ${epoch} at ${startOffset} does not follow the latest epoch ${latest.epoch} at ${latest.startOffset} in ${this.path}`)
      }
      if (startOffset < latest.startOffset) {
        throw new Error(`leader epoch ${epoch} would start at ${startOffset}, before the latest epoch ${latest.epoch} at ${latest.startOffset} in ${this.path}`)
      }
      if (startOffset === latest.startOffset) kept = this.epochs.slice(0, -1)
    }
    this.replace([...kept, Object.freeze({ epoch, startOffset })])
  }

  latestEpoch(): number | null {
    return this.latestEntry()?.epoch ?? null
  }

  latestEntry(): EpochEntry | null {
    return this.epochs[this.epochs.length - 1] ?? null
  }

  earliestEntry(): EpochEntry | null {
    return this.epochs[0] ?? null
  }

  /** The epoch `offset` was written in, or null when it precedes every known epoch. */
  epochForOffset(offset: number): number | null {
    let found: number | null = null
    for (const entry of this.epochs) {
      if (entry.startOffset > offset) break
      found = entry.epoch
    }
    return found
  }

  /**
   * OffsetsForLeaderEpoch, as Kafka's LeaderEpochFileCache.endOffsetFor: the largest known epoch
   * <= `requestedEpoch` and where it ends (the start of the next epoch, or `logEndOffset` for the
   * latest). A requested epoch below every known one answers with itself and the first start offset
   * (the older data is gone; the follower restarts there). UNDEFINED (-1, -1) for an undefined or
   * an unknown newer epoch and for an empty cache.
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): EpochEndOffset {
    const undefinedResult = { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET }
    if (requestedEpoch === UNDEFINED_EPOCH) return undefinedResult
    if (this.latestEpoch() === requestedEpoch) return { epoch: requestedEpoch, endOffset: logEndOffset }
    const higher = this.epochs.findIndex((entry) => entry.epoch > requestedEpoch)
    if (higher < 0) return undefinedResult
    const endOffset = this.epochs[higher]!.startOffset
    if (higher === 0) return { epoch: requestedEpoch, endOffset }
    return { epoch: this.epochs[higher - 1]!.epoch, endOffset }
  }

  /** Removes the epochs that start at or after `endOffset` (the log was truncated there). Negative: no-op. */
  truncateFromEnd(endOffset: number): void {
    if (endOffset < 0) return
    let keep = this.epochs.length
    while (keep > 0 && this.epochs[keep - 1]!.startOffset >= endOffset) keep--
    if (keep < this.epochs.length) this.replace(this.epochs.slice(0, keep))
  }

  /**
   * Forgets the epochs wholly before `startOffset` (the log start moved there); the epoch covering
   * `startOffset` is kept, now starting at it.
   */
  truncateFromStart(startOffset: number): void {
    let removed = 0
    while (removed < this.epochs.length && this.epochs[removed]!.startOffset <= startOffset) removed++
    if (removed === 0) return
    const covering = this.epochs[removed - 1]!
    if (removed === 1 && covering.startOffset === startOffset) return
    this.replace([Object.freeze({ epoch: covering.epoch, startOffset }), ...this.epochs.slice(removed)])
  }

  /** Removes every entry (the log was deleted or emptied). */
  clear(): void {
    this.replace([])
  }

  entries(): ReadonlyArray<EpochEntry> {
    return this.epochs
  }

  private replace(epochs: readonly EpochEntry[]): void {
    writeCheckpoint(this.storage, this.path, VERSION, epochs.map((entry) => `${entry.epoch} ${entry.startOffset}`))
    // Frozen: entries() hands this array out, and it must not change under the caller or behind our back.
    this.epochs = Object.freeze(epochs)
  }
}
