import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { FsStorage } from '../../src/log/fs-storage.ts'
import {
  LEADER_EPOCH_CHECKPOINT,
  LeaderEpochCache,
  UNDEFINED_EPOCH,
  UNDEFINED_EPOCH_OFFSET,
} from '../../src/log/leader-epoch-cache.ts'
import type { Storage } from '../../src/log/storage.ts'
import { StorageError } from '../../src/log/storage.ts'

const storage = new FsStorage()
const UNDEFINED = { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET }
const e = (epoch: number, startOffset: number) => ({ epoch, startOffset })

function fresh(t: Test) {
  const path = `${t.testdir()}/${LEADER_EPOCH_CHECKPOINT}`
  const { cache, problem } = LeaderEpochCache.load(storage, path)
  if (problem !== null) throw new Error(problem)
  return { path, cache }
}

/** What a restart would see. */
function persisted(path: string) {
  return LeaderEpochCache.load(storage, path).cache.entries()
}

t.test('constants and file format are Kafka\'s', async (t) => {
  t.equal(LEADER_EPOCH_CHECKPOINT, 'leader-epoch-checkpoint')
  t.equal(UNDEFINED_EPOCH, -1)
  t.equal(UNDEFINED_EPOCH_OFFSET, -1)
  const { path, cache } = fresh(t)
  t.equal(storage.exists(path), false, 'loading a missing file writes nothing')
  cache.assign(0, 0)
  cache.assign(3, 1200)
  t.equal(readFileSync(path, 'utf8'), '0\n2\n0 0\n3 1200\n')
  t.equal(cache.path, path)
})

t.test('an empty cache', async (t) => {
  const { cache } = fresh(t)
  t.equal(cache.latestEpoch(), null, 'shouldFetchLatestEpochOfEmptyCache')
  t.equal(cache.latestEntry(), null)
  t.equal(cache.earliestEntry(), null)
  t.same(cache.entries(), [])
  t.equal(cache.epochForOffset(0), null)
  t.same(cache.endOffsetFor(7, 0), UNDEFINED, 'shouldFetchEndOffsetOfEmptyCache')
  t.same(cache.endOffsetFor(0, 0), UNDEFINED, 'shouldReturnUnsupportedIfNoEpochRecorded')
  t.same(cache.endOffsetFor(UNDEFINED_EPOCH, 73), UNDEFINED, 'shouldReturnUnsupportedIfNoEpochRecordedAndUndefinedEpochRequested')
  cache.truncateFromStart(7)
  cache.truncateFromEnd(7)
  t.same(cache.entries(), [], 'shouldClearEarliestOnEmptyCache / shouldClearLatestOnEmptyCache')
})

t.test('assign (Kafka LeaderEpochFileCacheTest cases that agree)', async (t) => {
  t.test('shouldAddEpochAndMessageOffsetToCache', async (t) => {
    const { path, cache } = fresh(t)
    cache.assign(2, 10)
    t.equal(cache.latestEpoch(), 2)
    t.same(cache.latestEntry(), e(2, 10))
    t.same(cache.entries()[0], e(2, 10))
    t.same(cache.endOffsetFor(2, 11), { epoch: 2, endOffset: 11 })
    t.same(persisted(path), [e(2, 10)])
  })
  t.test('shouldReturnLogEndOffsetIfLatestEpochRequested', async (t) => {
    const { cache } = fresh(t)
    cache.assign(2, 11)
    cache.assign(2, 12)
    t.same(cache.endOffsetFor(2, 14), { epoch: 2, endOffset: 14 })
  })
  t.test('shouldNotOverwriteLogEndOffsetForALeaderEpochOnceItHasBeenAssigned', async (t) => {
    const { path, cache } = fresh(t)
    cache.assign(2, 9)
    cache.assign(2, 10)
    t.same(cache.entries(), [e(2, 9)])
    t.same(persisted(path), [e(2, 9)])
  })
  t.test('shouldNotOverwriteOffsetForALeaderEpochOnceItHasBeenAssigned / shouldNotUpdateEpochAndStartOffsetIfItDidNotChange', async (t) => {
    const { cache } = fresh(t)
    cache.assign(2, 6)
    cache.assign(2, 10)
    cache.assign(2, 6)
    t.same(cache.entries(), [e(2, 6)])
  })
  t.test('shouldEnforceMonotonicallyIncreasingStartOffsets: a newer epoch at the same start replaces the empty one', async (t) => {
    const { path, cache } = fresh(t)
    cache.assign(1, 0)
    cache.assign(2, 9)
    cache.assign(3, 9)
    t.same(cache.entries(), [e(1, 0), e(3, 9)])
    t.same(persisted(path), [e(1, 0), e(3, 9)])
  })
  t.test('shouldSupportEpochsThatDoNotStartFromZero', async (t) => {
    const { cache } = fresh(t)
    cache.assign(2, 6)
    t.same(cache.endOffsetFor(2, 7), { epoch: 2, endOffset: 7 })
    t.same(cache.entries(), [e(2, 6)])
  })
  t.test('shouldPersistEpochsBetweenInstances', async (t) => {
    const { path, cache } = fresh(t)
    cache.assign(2, 6)
    const { cache: again, problem } = LeaderEpochCache.load(storage, path)
    t.equal(problem, null)
    t.same(again.entries(), [e(2, 6)])
    again.assign(3, 9)
    t.same(persisted(path), [e(2, 6), e(3, 9)])
  })
  t.test('shouldIncreaseAndTrackEpochsAsLeadersChangeManyTimes', async (t) => {
    const { cache } = fresh(t)
    cache.assign(0, 0)
    cache.assign(1, 0)
    t.equal(cache.latestEpoch(), 1)
    t.same(cache.endOffsetFor(1, 0), { epoch: 1, endOffset: 0 })
    t.same(cache.endOffsetFor(0, 0), { epoch: 0, endOffset: 0 })
    t.same(cache.endOffsetFor(1, 5), { epoch: 1, endOffset: 5 })
    t.same(cache.endOffsetFor(0, 5), { epoch: 0, endOffset: 0 })
    cache.assign(2, 5)
    t.same(cache.endOffsetFor(2, 10), { epoch: 2, endOffset: 10 })
    t.same(cache.endOffsetFor(1, 10), { epoch: 1, endOffset: 5 })
    t.same(cache.endOffsetFor(0, 10), { epoch: 0, endOffset: 0 })
  })
  t.test('shouldIncreaseAndTrackEpochsAsFollowerReceivesManyMessages', async (t) => {
    const { cache } = fresh(t)
    cache.assign(0, 0)
    cache.assign(0, 1)
    cache.assign(0, 2)
    t.equal(cache.latestEpoch(), 0)
    t.same(cache.endOffsetFor(0, 3), { epoch: 0, endOffset: 3 })
    cache.assign(1, 3)
    cache.assign(1, 4)
    cache.assign(1, 5)
    t.equal(cache.latestEpoch(), 1)
    t.same(cache.endOffsetFor(1, 6), { epoch: 1, endOffset: 6 })
    cache.assign(2, 6)
    cache.assign(2, 7)
    cache.assign(2, 8)
    t.equal(cache.latestEpoch(), 2)
    t.same(cache.endOffsetFor(2, 9), { epoch: 2, endOffset: 9 })
    t.same(cache.endOffsetFor(0, 9), { epoch: 0, endOffset: 3 })
    t.same(cache.endOffsetFor(1, 9), { epoch: 1, endOffset: 6 })
  })
})

t.test('assign refuses what Kafka would resolve by dropping entries (peerlog: invariants throw)', async (t) => {
  const refuses = (t: Test, name: string, setup: [number, number][], epoch: number, startOffset: number, error: RegExp) => {
    const { path, cache } = fresh(t)
    for (const [ep, so] of setup) cache.assign(ep, so)
    const before = readFileSync(path, 'utf8')
    t.throws(() => cache.assign(epoch, startOffset), error, name)
    t.same(cache.entries(), setup.map(([ep, so]) => e(ep, so)), `${name}: memory unchanged`)
    t.equal(readFileSync(path, 'utf8'), before, `${name}: file unchanged`)
  }
  // Kafka: shouldTruncateIfMatchingEpochButEarlierStartingOffset leaves [(5,11),(7,12)].
  refuses(t, 'the latest epoch moving its start back', [[5, 11], [6, 12], [7, 13]], 7, 12, /leader epoch 7 at 12 does not follow the latest epoch 7 at 13/)
  // Kafka: shouldEnforceMonotonicallyIncreasingEpochs leaves [(1,7)].
  refuses(t, 'an older epoch', [[1, 5], [2, 6]], 1, 7, /leader epoch 1 at 7 does not follow the latest epoch 2 at 6/)
  // Kafka: shouldEnforceOffsetsIncreaseMonotonically leaves [(3,5)].
  refuses(t, 'a newer epoch starting before the latest', [[2, 6]], 3, 5, /would start at 5, before the latest epoch 2 at 6/)
})

t.test('assign validates the entry', async (t) => {
  const { cache } = fresh(t)
  for (const [epoch, startOffset] of [[-1, 0], [0, -1], [1.5, 0], [0, 0.5], [2 ** 31, 0], [0, 2 ** 53], [NaN, 0]] as const) {
    t.throws(() => cache.assign(epoch, startOffset), /invalid leader epoch entry/, `(${epoch}, ${startOffset})`)
  }
  cache.assign(2 ** 31 - 1, Number.MAX_SAFE_INTEGER)
  t.same(cache.latestEntry(), e(2 ** 31 - 1, Number.MAX_SAFE_INTEGER))
})

t.test('endOffsetFor (OffsetsForLeaderEpoch)', async (t) => {
  t.test('shouldReturnUndefinedOffsetIfUndefinedEpochRequested', async (t) => {
    const { cache } = fresh(t)
    cache.assign(2, 11)
    cache.assign(3, 12)
    t.same(cache.endOffsetFor(UNDEFINED_EPOCH, 0), UNDEFINED)
  })
  t.test('shouldReturnFirstEpochIfRequestedEpochLessThanFirstEpoch', async (t) => {
    const { cache } = fresh(t)
    cache.assign(5, 11)
    cache.assign(6, 12)
    cache.assign(7, 13)
    t.same(cache.endOffsetFor(4, 0), { epoch: 4, endOffset: 11 })
  })
  t.test('shouldGetFirstOffsetOfSubsequentEpochWhenOffsetRequestedForPreviousEpoch', async (t) => {
    const { cache } = fresh(t)
    for (const [ep, so] of [[1, 11], [1, 12], [2, 13], [2, 14], [3, 15], [3, 16]] as const) cache.assign(ep, so)
    t.same(cache.endOffsetFor(2, 17), { epoch: 2, endOffset: 15 })
  })
  t.test('shouldReturnNextAvailableEpochIfThereIsNoExactEpochForTheOneRequested', async (t) => {
    const { cache } = fresh(t)
    cache.assign(0, 10)
    cache.assign(2, 13)
    cache.assign(4, 17)
    t.same(cache.endOffsetFor(1, 0), { epoch: 0, endOffset: 13 })
    t.same(cache.endOffsetFor(2, 0), { epoch: 2, endOffset: 17 })
    t.same(cache.endOffsetFor(3, 0), { epoch: 2, endOffset: 17 })
    t.same(cache.endOffsetFor(4, 25), { epoch: 4, endOffset: 25 })
  })
  t.test('shouldReturnInvalidOffsetIfEpochIsRequestedWhichIsNotCurrentlyTracked', async (t) => {
    const { cache } = fresh(t)
    cache.assign(2, 100)
    t.same(cache.endOffsetFor(3, 100), UNDEFINED)
  })
})

t.test('epochForOffset (shouldFetchEpochForGivenOffset)', async (t) => {
  const { cache } = fresh(t)
  cache.assign(0, 10)
  cache.assign(1, 20)
  cache.assign(5, 30)
  t.equal(cache.epochForOffset(25), 1)
  t.equal(cache.epochForOffset(20), 1)
  t.equal(cache.epochForOffset(30), 5)
  t.equal(cache.epochForOffset(50), 5)
  t.equal(cache.epochForOffset(10), 0)
  t.equal(cache.epochForOffset(5), null)
})

t.test('truncateFromEnd', async (t) => {
  const filled = (t: Test) => {
    const f = fresh(t)
    f.cache.assign(2, 6)
    f.cache.assign(3, 8)
    f.cache.assign(4, 11)
    return f
  }
  t.test('shouldDropEntriesOnEpochBoundaryWhenRemovingLatestEntries', async (t) => {
    const { path, cache } = filled(t)
    cache.truncateFromEnd(8)
    t.same(cache.entries(), [e(2, 6)])
    t.same(persisted(path), [e(2, 6)])
  })
  t.test('shouldDropEntriesBetweenEpochBoundaryWhenRemovingNewest', async (t) => {
    const { path, cache } = filled(t)
    cache.truncateFromEnd(9)
    t.equal(cache.latestEpoch(), 3)
    t.same(cache.entries(), [e(2, 6), e(3, 8)])
    t.same(persisted(path), [e(2, 6), e(3, 8)])
  })
  t.test('everything at or after the first start offset goes', async (t) => {
    const { path, cache } = filled(t)
    cache.truncateFromEnd(6)
    t.same(cache.entries(), [])
    t.same(persisted(path), [])
  })
  t.test('past the latest start: nothing changes, nothing is written', async (t) => {
    const { path, cache } = filled(t)
    const failing = failingWrites()
    const { cache: same } = LeaderEpochCache.load(failing, path)
    same.truncateFromEnd(12)
    t.same(same.entries(), [e(2, 6), e(3, 8), e(4, 11)])
    cache.truncateFromEnd(12)
    t.same(cache.entries(), [e(2, 6), e(3, 8), e(4, 11)])
  })
  t.test('shouldNotResetEpochHistoryTailIfUndefinedPassed', async (t) => {
    const { cache } = filled(t)
    cache.truncateFromEnd(UNDEFINED_EPOCH_OFFSET)
    t.equal(cache.entries().length, 3)
  })
})

t.test('truncateFromStart', async (t) => {
  const filled = (t: Test) => {
    const f = fresh(t)
    f.cache.assign(2, 6)
    f.cache.assign(3, 8)
    f.cache.assign(4, 11)
    return f
  }
  const cases: [string, number, [number, number][]][] = [
    ['shouldPreserveResetOffsetOnClearEarliestIfOneExists', 8, [[3, 8], [4, 11]]],
    ['shouldNotClearAnythingIfOffsetTooEarly', 1, [[2, 6], [3, 8], [4, 11]]],
    ['shouldNotClearAnythingIfOffsetIsFirstOffset', 6, [[2, 6], [3, 8], [4, 11]]],
    ['shouldRetainLatestEpochOnClearAllEarliest', 11, [[4, 11]]],
    ['shouldUpdateOffsetBetweenEpochBoundariesOnClearEarliest', 9, [[3, 9], [4, 11]]],
    ['shouldRetainLatestEpochOnClearAllEarliestAndUpdateItsOffset', 15, [[4, 15]]],
    ['shouldNotResetEpochHistoryHeadIfUndefinedPassed', UNDEFINED_EPOCH_OFFSET, [[2, 6], [3, 8], [4, 11]]],
    ['inside the first epoch', 7, [[2, 7], [3, 8], [4, 11]]],
  ]
  for (const [name, startOffset, expected] of cases) {
    t.test(name, async (t) => {
      const { path, cache } = filled(t)
      cache.truncateFromStart(startOffset)
      t.same(cache.entries(), expected.map(([ep, so]) => e(ep, so)))
      t.same(persisted(path), expected.map(([ep, so]) => e(ep, so)))
    })
  }
  t.test('shouldUpdateOffsetBetweenFirstTwoEpochBoundariesOnClearEarliest', async (t) => {
    const { cache } = fresh(t)
    cache.assign(0, 0)
    cache.assign(1, 7)
    cache.assign(2, 10)
    cache.truncateFromStart(5)
    t.same(cache.entries(), [e(0, 5), e(1, 7), e(2, 10)])
  })
  t.test('shouldWriteCheckpointOnTruncation', async (t) => {
    const { path, cache } = filled(t)
    cache.truncateFromEnd(11)
    cache.truncateFromStart(8)
    t.same(persisted(path), [e(3, 8)])
  })
  t.test('no change writes nothing', async (t) => {
    const { path } = filled(t)
    const { cache } = LeaderEpochCache.load(failingWrites(), path)
    cache.truncateFromStart(6)
    cache.truncateFromStart(2)
    t.equal(cache.entries().length, 3)
  })
})

t.test('shouldClearAllEntries', async (t) => {
  const { path, cache } = fresh(t)
  cache.assign(2, 6)
  cache.assign(3, 8)
  cache.clear()
  t.same(cache.entries(), [])
  t.equal(readFileSync(path, 'utf8'), '0\n0\n')
  cache.assign(1, 0)
  t.same(persisted(path), [e(1, 0)], 'after a clear any epoch may start again')
})

t.test('entries() cannot be changed by the caller and is not changed behind its back', async (t) => {
  const { cache } = fresh(t)
  cache.assign(2, 6)
  const entries = cache.entries()
  t.throws(() => (entries as { epoch: number; startOffset: number }[]).push(e(9, 9)))
  t.throws(() => {
    ;(entries[0] as { epoch: number }).epoch = 7
  })
  cache.assign(3, 8)
  t.same(entries, [e(2, 6)])
  t.same(cache.entries(), [e(2, 6), e(3, 8)])
})

function failingWrites(): Storage {
  return Object.create(storage, {
    rename: {
      value: (from: string) => {
        throw new StorageError('ENOSPC', from, 'no space left on device')
      },
    },
  })
}

t.test('a failed write changes nothing, in memory or on disk', async (t) => {
  const { path, cache } = fresh(t)
  cache.assign(2, 6)
  const { cache: failing } = LeaderEpochCache.load(failingWrites(), path)
  t.throws(() => failing.assign(3, 8), { code: 'ENOSPC' })
  t.throws(() => failing.truncateFromEnd(0), { code: 'ENOSPC' })
  t.throws(() => failing.truncateFromStart(7), { code: 'ENOSPC' })
  t.throws(() => failing.clear(), { code: 'ENOSPC' })
  t.same(failing.entries(), [e(2, 6)])
  t.same(persisted(path), [e(2, 6)])
})

t.test('load: a damaged checkpoint gives an empty cache and a problem', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['empty file', '', /empty file/],
    ['garbage', 'hello world\n', /version "hello world" is not a number/],
    ['wrong version', '1\n0\n', /unsupported version 1/],
    ['count mismatch', '0\n2\n0 0\n', /expected 2 entries but found 1/],
    ['one field', '0\n1\n5\n', /entry 1 "5" is not "<epoch> <startOffset>"/],
    ['three fields', '0\n1\n5 0 1\n', /entry 1 /],
    ['epoch not a number', '0\n1\nx 0\n', /entry 1 /],
    ['negative epoch', '0\n1\n-1 0\n', /entry 1 /],
    ['epoch beyond int32', '0\n1\n2147483648 0\n', /entry 1 /],
    ['start offset not a number', '0\n1\n1 zero\n', /entry 1 /],
    ['epochs not increasing', '0\n2\n3 0\n3 10\n', /entry 2 \(epoch 3 at 10\) does not follow \(epoch 3 at 0\)/],
    ['epochs decreasing', '0\n2\n3 0\n2 10\n', /entry 2 /],
    ['start offsets not increasing', '0\n2\n1 10\n2 10\n', /entry 2 \(epoch 2 at 10\) does not follow/],
    ['start offsets decreasing', '0\n2\n1 10\n2 5\n', /entry 2 /],
  ]
  for (const [name, content, problem] of cases) {
    const dir = t.testdir({ [LEADER_EPOCH_CHECKPOINT]: content })
    const path = `${dir}/${LEADER_EPOCH_CHECKPOINT}`
    const loaded = LeaderEpochCache.load(storage, path)
    t.same(loaded.cache.entries(), [], name)
    t.match(loaded.problem, problem, name)
    t.equal(readFileSync(path, 'utf8'), content, `${name}: the damaged file is left for inspection`)
    loaded.cache.assign(4, 100)
    t.same(persisted(path), [e(4, 100)], `${name}: the next change rewrites it`)
  }
})

t.test('load: a file Kafka wrote', async (t) => {
  const dir = t.testdir({ [LEADER_EPOCH_CHECKPOINT]: '0\n3\n0 0\n3 1200\n7 2147483648000\n' })
  const { cache, problem } = LeaderEpochCache.load(storage, `${dir}/${LEADER_EPOCH_CHECKPOINT}`)
  t.equal(problem, null)
  t.same(cache.entries(), [e(0, 0), e(3, 1200), e(7, 2147483648000)])
  t.same(cache.earliestEntry(), e(0, 0))
  t.same(cache.endOffsetFor(3, 0), { epoch: 3, endOffset: 2147483648000 })
})
