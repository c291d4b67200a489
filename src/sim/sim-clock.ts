/**
 * SimClock — a Clock with timers that move only when the test says so: the simulated network
 * (and anything else under simulation) schedules on it, so a seed replays a run exactly.
 *
 * Contract:
 *   - `now()` starts at `startMs` and changes only in advance()/runFor()/runUntilIdle();
 *   - timers fire in order of due time, ties in order of scheduling; before a timer fires,
 *     `now()` is moved to its due time (never backwards);
 *   - a timer scheduled by a firing timer for "now" (0 ms) fires in the same advance;
 *   - the sync calls (advance, runUntilIdle) fire timers back to back: promise continuations
 *     run after the call returns. The async ones (runFor, runUntilIdleAsync) let the
 *     microtask queue drain after every timer, so `await`-based code runs at the simulated
 *     time it was woken at.
 */
import { setImmediate } from 'node:timers'
import type { Clock } from '../runtime/clock.ts'

/** Timers as the seams see them: the system's, or a SimClock's. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

export interface TimerHandle {
  readonly id: number
}

interface Timer extends TimerHandle {
  readonly dueMs: number
  readonly callback: () => void
}

/** How many timers one runUntilIdle may fire before it calls the run a livelock. */
export const runUntilIdleTimersMax = 10_000_000

export class SimClock implements Clock, Timers {
  private ms: number
  private nextId = 1
  /** Sorted by (dueMs, id); small in practice, so a sorted insert is enough. */
  private readonly timers: Timer[] = []

  constructor(startMs = 1_700_000_000_000) {
    this.ms = startMs
  }

  now(): number {
    return this.ms
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    if (!(ms >= 0)) ms = 0
    const timer: Timer = { id: this.nextId++, dueMs: this.ms + ms, callback }
    let i = this.timers.length
    while (i > 0 && this.timers[i - 1]!.dueMs > timer.dueMs) i--
    this.timers.splice(i, 0, timer)
    return timer
  }

  clearTimeout(handle: TimerHandle): void {
    const i = this.timers.findIndex((t) => t.id === handle.id)
    if (i >= 0) this.timers.splice(i, 1)
  }

  /** Timers scheduled and not yet fired or cleared. */
  pendingTimers(): number {
    return this.timers.length
  }

  /** Due time of the next timer, or null when none is pending. */
  nextTimerAt(): number | null {
    return this.timers[0]?.dueMs ?? null
  }

  /** Moves time forward by `ms`, firing every timer due up to then. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`a clock does not go backwards (advance ${ms})`)
    const until = this.ms + ms
    while (this.fireNext(until)) {}
    this.ms = until
  }

  /** Fires timers until none is left; throws when more than `timersMax` fire (a livelock). */
  runUntilIdle(timersMax = runUntilIdleTimersMax): void {
    for (let fired = 0; fired < timersMax; fired++) {
      if (!this.fireNext(Infinity)) return
    }
    throw new Error(`SimClock.runUntilIdle: still busy after ${timersMax} timers`)
  }

  /** advance(ms), letting promise continuations run after each timer. */
  async runFor(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new Error(`a clock does not go backwards (runFor ${ms})`)
    const until = this.ms + ms
    await drainMicrotasks()
    while (this.fireNext(until)) await drainMicrotasks()
    this.ms = until
  }

  /** runUntilIdle, letting promise continuations run after each timer. */
  async runUntilIdleAsync(timersMax = runUntilIdleTimersMax): Promise<void> {
    await drainMicrotasks()
    for (let fired = 0; fired < timersMax; fired++) {
      if (!this.fireNext(Infinity)) return
      await drainMicrotasks()
    }
    throw new Error(`SimClock.runUntilIdleAsync: still busy after ${timersMax} timers`)
  }

  private fireNext(untilMs: number): boolean {
    const timer = this.timers[0]
    if (timer === undefined || timer.dueMs > untilMs) return false
    this.timers.shift()
    if (timer.dueMs > this.ms) this.ms = timer.dueMs
    timer.callback()
    return true
  }
}

/** One macrotask turn: every microtask queued before it (and by those) has run. */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
