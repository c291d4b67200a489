// The CLI end to end: `peerlog broker start` (run through main, in this process) and the
// client commands against it.
import t from 'tap'
import { EXIT_FAILURE, EXIT_OK, type Io, main } from '../../src/cli/main.ts'

interface Run {
  code: number
  stdout: string
  stderr: string
}

async function run(argv: string[], stdin: string[] = []): Promise<Run> {
  let stdout = ''
  let stderr = ''
  async function* input() {
    yield* stdin
  }
  const io: Io = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: input(),
    signal: new AbortController().signal,
  }
  const code = await main(argv, io)
  return { code, stdout, stderr }
}

/** Starts `peerlog broker start` through main; resolves once it listens. */
async function startBroker(dataDir: string, extra: string[] = []) {
  const stop = new AbortController()
  let log = ''
  const io: Io = {
    stdout: { write: (s: string) => (log += s) },
    stderr: { write: (s: string) => (log += s) },
    signal: stop.signal,
  }
  const done = main(['broker', 'start', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...extra], io)
  const deadline = Date.now() + 30_000
  let address: string | undefined
  while (address === undefined) {
    const m = /listening on \S+:(\d+)/.exec(log)
    if (m) address = `127.0.0.1:${m[1]}`
    else if (Date.now() > deadline) throw new Error(`the broker did not start:\n${log}`)
    else {
      const early = await Promise.race([done, new Promise((r) => setTimeout(() => r(undefined), 20))])
      if (early !== undefined) throw new Error(`the broker exited with ${String(early)}:\n${log}`)
    }
  }
  return {
    address,
    log: () => log,
    async stop(): Promise<number> {
      stop.abort('SIGTERM')
      return done
    },
  }
}

t.test('broker start, topics, produce, consume, stop', async (t) => {
  const dir = t.testdir()
  const broker = await startBroker(dir, ['--set', 'num.partitions=2', '--set', 'num.partition=3', '--log-level', 'info'])
  const bs = ['--bootstrap-server', broker.address]
  t.match(broker.log(), /^WARN unknown config 'num\.partition' \(--set\) ignored \(did you mean 'num\.partitions'\?\)\n/)
  t.match(broker.log(), /\nINFO config: node\.id=1 log\.dirs=\S+ listeners=PLAINTEXT:\/\/127\.0\.0\.1:0 num\.partitions=2\n/)
  t.match(broker.log(), /\nINFO broker 1 started: listening on 127\.0\.0\.1:\d+/)

  const created = await run(['topics', ...bs, '--create', '--topic', 'cli-orders', '--partitions', '3', '--config', 'retention.ms=3600000'])
  t.same(created, { code: EXIT_OK, stdout: 'Created topic cli-orders.\n', stderr: '' })

  const again = await run(['topics', ...bs, '--create', '--topic', 'cli-orders'])
  t.same(again, { code: EXIT_FAILURE, stdout: '', stderr: "peerlog topics: topic 'cli-orders' already exists\n" })
  t.same(await run(['topics', ...bs, '--create', '--topic', 'cli-orders', '--if-not-exists']), { code: EXIT_OK, stdout: '', stderr: '' })

  const list = await run(['topics', ...bs, '--list'])
  t.equal(list.code, EXIT_OK, list.stderr)
  t.match(list.stdout, /^cli-orders$/m)

  const described = await run(['topics', ...bs, '--describe', '--topic', 'cli-orders'])
  t.equal(described.code, EXIT_OK, described.stderr)
  t.match(described.stdout, /^Topic: cli-orders\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: .*retention\.ms=3600000/)
  t.match(described.stdout, /\n\tTopic: cli-orders\tPartition: 2\tLeader: 1\tReplicas: 1\tIsr: 1\n/)

  const lines = Array.from({ length: 300 }, (_, i) => `key-${i % 17}:value ${i}`)
  const produced = await run(['produce', ...bs, '--topic', 'cli-orders', '--key-separator', ':'], [lines.join('\n') + '\n'])
  t.same(produced, { code: EXIT_OK, stdout: '', stderr: '' })

  const consumed = await run(['consume', ...bs, '--topic', 'cli-orders', '--from-beginning', '--max-messages', '300', '--print-key', '--key-separator', ':'])
  t.equal(consumed.code, EXIT_OK, consumed.stderr)
  t.equal(consumed.stderr, 'Processed a total of 300 messages\n')
  const got = consumed.stdout.trimEnd().split('\n')
  t.same([...got].sort(), [...lines].sort(), 'every line came back')
  // Per key (so per partition), the order of sending is kept.
  const byKey = (xs: string[]) => {
    const m = new Map<string, string[]>()
    for (const x of xs) m.set(x.split(':')[0]!, [...(m.get(x.split(':')[0]!) ?? []), x])
    return Object.fromEntries(m)
  }
  t.same(byKey(got), byKey(lines))

  const one = await run(['consume', ...bs, '--topic', 'cli-orders', '--partition', '0', '--offset', '1', '--max-messages', '2'])
  t.equal(one.code, EXIT_OK, one.stderr)
  t.equal(one.stdout.split('\n').length, 3, 'two records')

  const badProp = await run(['produce', ...bs, '--topic', 'cli-orders', '--producer-property', 'acks=2'], ['x\n'])
  t.same(badProp, { code: EXIT_FAILURE, stdout: '', stderr: 'peerlog produce: invalid value "2" for acks: expected one of all, -1, 0, 1\n' })
  const zstd = await run(['produce', ...bs, '--topic', 'cli-zstd', '--producer-property', 'compression.type=zstd', '--producer-property', 'acks=1'], ['a\nb\n'])
  t.same(zstd, { code: EXIT_OK, stdout: '', stderr: '' }, 'client configs pass through; the topic is auto-created')
  const zstdBack = await run(['consume', ...bs, '--topic', 'cli-zstd', '--from-beginning', '--max-messages', '2'])
  t.same(zstdBack.stdout.split('\n').sort(), ['', 'a', 'b'], 'both records, from whichever partitions the sticky partitioner picked')
  const outOfRange = await run(['consume', ...bs, '--topic', 'cli-zstd', '--partition', '0', '--offset', '100'])
  t.same(outOfRange, { code: EXIT_FAILURE, stdout: '', stderr: "peerlog consume: cannot read topic 'cli-zstd': fetch position 100 is out of range for cli-zstd-0\n" })

  const noKey = await run(['produce', ...bs, '--topic', 'cli-orders', '--key-separator', ':'], ['no separator here\n'])
  t.same(noKey, { code: EXIT_FAILURE, stdout: '', stderr: "peerlog produce: no key separator ':' on line 1: 'no separator here'\n" })

  const idle = await run(['consume', ...bs, '--topic', 'cli-orders', '--timeout-ms', '300'])
  t.same(idle, { code: EXIT_OK, stdout: '', stderr: 'Processed a total of 0 messages\n' }, 'from the end, nothing new: exits after --timeout-ms')

  const altered = await run(['topics', ...bs, '--alter', '--topic', 'cli-orders', '--partitions', '4', '--config', 'cleanup.policy=compact'])
  t.equal(altered.code, EXIT_OK, altered.stderr)
  const after = await run(['topics', ...bs, '--describe', '--topic', 'cli-orders'])
  t.match(after.stdout, /PartitionCount: 4/)
  t.match(after.stdout, /cleanup\.policy=compact/)
  t.match(after.stdout, /retention\.ms=3600000/, 'the configs set before are kept')

  const unknown = await run(['consume', ...bs, '--topic', 'no-such-topic', '--from-beginning'])
  t.same(unknown, { code: EXIT_FAILURE, stdout: '', stderr: "peerlog consume: topic 'no-such-topic' does not exist\n" })
  const noPartition = await run(['consume', ...bs, '--topic', 'cli-orders', '--partition', '9'])
  t.same(noPartition, { code: EXIT_FAILURE, stdout: '', stderr: "peerlog consume: topic 'cli-orders' has 4 partitions; there is no partition 9\n" })
  const describeUnknown = await run(['topics', ...bs, '--describe', '--topic', 'no-such-topic'])
  t.same(describeUnknown, { code: EXIT_FAILURE, stdout: '', stderr: "peerlog topics: topic 'no-such-topic' does not exist\n" })

  const deleted = await run(['topics', ...bs, '--delete', '--topic', 'cli-orders'])
  t.same(deleted, { code: EXIT_OK, stdout: 'Deleted topic cli-orders.\n', stderr: '' })
  const deletedAgain = await run(['topics', ...bs, '--delete', '--topic', 'cli-orders'])
  t.same(deletedAgain, { code: EXIT_FAILURE, stdout: '', stderr: "peerlog topics: topic 'cli-orders' does not exist\n" })
  t.same(await run(['topics', ...bs, '--delete', '--topic', 'cli-orders', '--if-exists']), { code: EXIT_OK, stdout: '', stderr: '' })
  const listAfter = await run(['topics', ...bs, '--list'])
  t.notMatch(listAfter.stdout, /cli-orders/)

  t.equal(await broker.stop(), EXIT_OK)
  t.match(broker.log(), /INFO stopping \(SIGTERM\)\n/)
  t.match(broker.log(), /INFO broker 1 stopped\n$/)
})

t.test('a broker that cannot bind: one line, exit 1', async (t) => {
  const first = await startBroker(t.testdir())
  const port = first.address.split(':').pop()!
  const second = await run(['broker', 'start', '--data-dir', t.testdir(), '--listen', `127.0.0.1:${port}`, '--log-level', 'error'])
  t.equal(second.code, EXIT_FAILURE)
  t.match(second.stderr, new RegExp(`^peerlog broker: cannot start the broker: address 127\\.0\\.0\\.1:${port} is already in use\\n$`), 'one line')
  t.notMatch(second.stderr, /\n\s+at /, 'no stack trace')
  t.notMatch(second.stderr, /INFO/, '--log-level error hides the INFO lines')
  t.equal(await first.stop(), EXIT_OK)
})
