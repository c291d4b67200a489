import t from 'tap'
import { SimClock } from '../../src/sim/sim-clock.ts'

t.test('timers fire in order of due time, ties in order of scheduling, each at its own time', async (t) => {
  const clock = new SimClock(1_000)
  const fired: string[] = []
  const at = (name: string) => () => fired.push(`${name}@${clock.now()}`)
  clock.setTimeout(at('c'), 30)
  clock.setTimeout(at('a'), 10)
  clock.setTimeout(at('b1'), 20)
  clock.setTimeout(at('b2'), 20)
  clock.advance(25)
  t.same(fired, ['a@1010', 'b1@1020', 'b2@1020'])
  t.equal(clock.now(), 1_025, 'advance ends at the time asked for')
  t.equal(clock.pendingTimers(), 1)
  t.equal(clock.nextTimerAt(), 1_030)
  clock.advance(5)
  t.same(fired.at(-1), 'c@1030', 'a timer due exactly at the end fires')
  t.equal(clock.nextTimerAt(), null)
})

t.test('a cleared timer does not fire; a 0 ms timer set by a timer fires in the same advance', async (t) => {
  const clock = new SimClock(0)
  const fired: string[] = []
  const cleared = clock.setTimeout(() => fired.push('cleared'), 5)
  clock.setTimeout(() => {
    fired.push('outer')
    clock.setTimeout(() => fired.push(`inner@${clock.now()}`), 0)
  }, 1)
  clock.clearTimeout(cleared)
  clock.clearTimeout(cleared)
  clock.advance(10)
  t.same(fired, ['outer', 'inner@1'])
})

t.test('runUntilIdle fires everything and refuses to spin forever', async (t) => {
  const clock = new SimClock(0)
  let count = 0
  const tick = (): void => {
    if (++count < 100) clock.setTimeout(tick, 1_000)
  }
  clock.setTimeout(tick, 1_000)
  clock.runUntilIdle()
  t.equal(count, 100)
  t.equal(clock.now(), 100_000)
  const forever = (): void => {
    clock.setTimeout(forever, 1)
  }
  clock.setTimeout(forever, 1)
  t.throws(() => clock.runUntilIdle(50), /still busy after 50 timers/)
  await t.rejects(clock.runUntilIdleAsync(50), /still busy after 50 timers/)
})

t.test('time never goes backwards', async (t) => {
  const clock = new SimClock(0)
  t.throws(() => clock.advance(-1), /does not go backwards/)
  await t.rejects(clock.runFor(-1), /does not go backwards/)
  clock.setTimeout(() => {}, -5)
  t.equal(clock.nextTimerAt(), 0, 'a negative delay means now')
})

t.test('runFor lets promise continuations run at the simulated time they were woken at', async (t) => {
  const clock = new SimClock(0)
  const sleep = (ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms))
  const seen: number[] = []
  void (async () => {
    for (let i = 0; i < 3; i++) {
      await sleep(10)
      seen.push(clock.now())
    }
  })()
  await clock.runFor(100)
  t.same(seen, [10, 20, 30])
  t.equal(clock.now(), 100)
  const late: number[] = []
  void sleep(5).then(() => late.push(clock.now()))
  await clock.runUntilIdleAsync()
  t.same(late, [105])
})
