/**
 * The load generators' entry: compare.ts re-runs itself as `--child <system> <mode> <json>`
 * and this runs one workload half of one system's LoadGenerator in that process.
 *
 * Modes: produce, consume, group, latency-produce, latency-consume (the JSON is the mode's
 * arguments, system.ts). Output, one JSON object per line on stdout: `{"ready":…}` when a
 * group member or latency consumer can start, `{"progress":n}` as a group member reads, and
 * last `{"result":…}`. A group member starts at the first SIGUSR2 and stops at the second.
 */
import { now } from '../harness.ts'
import { jetstreamLoad } from './jetstream.ts'
import { peerlogLoad } from './peerlog.ts'
import { redisLoad } from './redis.ts'
import type { LoadGenerator, SystemId } from './system.ts'

/** A group member prints its progress at most this often. */
const progressEveryMs = 50

const loads: Record<SystemId, LoadGenerator> = { peerlog: peerlogLoad, jetstream: jetstreamLoad, redis: redisLoad }

const line = (o: object): void => void process.stdout.write(JSON.stringify(o) + '\n')

export async function runLoad(argv: string[]): Promise<void> {
  const [system, mode, json] = argv as [SystemId, string, string]
  const load = loads[system]
  if (!load) throw new Error(`unknown system ${system}`)
  const a = JSON.parse(json) as never
  switch (mode) {
    case 'produce':
      return line({ result: await load.produce(a) })
    case 'consume':
      return line({ result: await load.consume(a) })
    case 'latency-produce':
      return line({ result: await load.latencyProduce(a) })
    case 'latency-consume':
      return line({ result: await load.latencyConsume(a, () => line({ ready: {} })) })
    case 'group': {
      let signals = 0
      let go!: () => void
      const goP = new Promise<void>((r) => (go = r))
      process.on('SIGUSR2', () => {
        if (++signals === 1) go()
      })
      // Throttled, with a trailing print, so that the last count always reaches the parent.
      let printedAt = 0
      let latest = -1
      let printed = -1
      let trailing: ReturnType<typeof setTimeout> | null = null
      const print = () => {
        trailing = null
        if (latest === printed) return
        printedAt = now()
        printed = latest
        line({ progress: latest })
      }
      const a2 = a as { maxMs: number }
      const result = await load.groupMember(a, {
        ready: (detail) => line({ ready: detail }),
        go: goP,
        progress: (n) => {
          latest = n
          if (now() - printedAt >= progressEveryMs) print()
          else trailing ??= setTimeout(print, progressEveryMs)
        },
        stopped: () => signals >= 2,
        deadline: now() + a2.maxMs,
      })
      if (trailing) clearTimeout(trailing)
      return line({ result })
    }
    default:
      throw new Error(`unknown mode ${mode}`)
  }
}
