/**
 * Clock — the seam for time. State machines and the log never read the wall clock
 * themselves; they are handed a Clock so that a simulation can run time forward.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }

/** A clock that moves only when told to: for tests and simulation. */
export class ManualClock implements Clock {
  private ms: number
  constructor(startMs = 1_700_000_000_000) {
    this.ms = startMs
  }
  now(): number {
    return this.ms
  }
  advance(ms: number): void {
    if (ms < 0) throw new Error(`a clock does not go backwards (advance ${ms})`)
    this.ms += ms
  }
  set(ms: number): void {
    this.ms = ms
  }
}
