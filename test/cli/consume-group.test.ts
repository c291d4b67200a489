// `peerlog consume --group`: the console consumer as a member of a consumer group, committing
// what it printed, through main against a broker in this process.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EXIT_OK, EXIT_USAGE, type Io, main } from '../../src/cli/main.ts'
import { Admin } from '../../src/client/admin.ts'
import { Producer } from '../../src/client/producer.ts'
import { startBroker } from '../../src/broker/start-broker.ts'

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const io: Io = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    signal: new AbortController().signal,
  }
  const code = await main(argv, io)
  return { code, stdout, stderr }
}

const lines = (stdout: string): string[] => stdout.split('\n').filter((l) => l !== '')

t.test('--group usage mistakes: one line, exit 2', async (t) => {
  const base = ['consume', '--bootstrap-server', '127.0.0.1:1', '--topic', 't', '--group', 'g']
  const cases: [string[], string][] = [
    [['--partition', '0'], '--partition cannot be used with --group: the group assigns the partitions (drop --partition, or --group to read one partition alone)'],
    [['--offset', '3'], '--offset cannot be used with --group: a group starts at its committed offsets (move them with peerlog groups --reset-offsets)'],
    [['--consumer-property', 'group.id=h'], "--group 'g' and --consumer-property group.id=h name different groups (give the group once)"],
    [['--from-beginning', '--consumer-property', 'auto.offset.reset=latest'], '--from-beginning and --consumer-property auto.offset.reset=latest cannot be used together'],
  ]
  for (const [extra, message] of cases) {
    t.same(await run([...base, ...extra]), { code: EXIT_USAGE, stdout: '', stderr: `peerlog consume: ${message} (try 'peerlog help consume')\n` }, extra.join(' '))
  }
  const empty = await run(['consume', '--bootstrap-server', '127.0.0.1:1', '--topic', 't', '--group', ''])
  t.equal(empty.stderr, "peerlog consume: invalid value '' for --group: expected a group id (try 'peerlog help consume')\n")
  const viaProperty = await run(['consume', '--bootstrap-server', '127.0.0.1:1', '--topic', 't', '--consumer-property', 'group.id=g', '--partition', '0'])
  t.equal(viaProperty.code, EXIT_USAGE, 'group.id as a consumer property makes a group consumer too')
})

t.test('against a broker', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'peerlog-cli-consume-group-'))
  const broker = await startBroker({ dataDir, port: 0, config: { 'group.initial.rebalance.delay.ms': 0, 'offsets.topic.num.partitions': 3 } })
  t.teardown(async () => {
    await broker.stop()
    rmSync(dataDir, { recursive: true, force: true })
  })
  const bs = ['--bootstrap-server', broker.address]
  const admin = new Admin({ 'bootstrap.servers': broker.address })
  t.teardown(() => admin.close())
  await admin.createTopics([{ topic: 'events', numPartitions: 2 }])
  const producer = new Producer({ 'bootstrap.servers': broker.address, 'linger.ms': 0 })
  t.teardown(() => producer.close())
  const sent = Array.from({ length: 6 }, (_, i) => `e${i}`)
  for (const [i, value] of sent.entries()) await producer.send({ topic: 'events', partition: i % 2, value })
  const committedTotal = async (group: string) => (await admin.listConsumerGroupOffsets(group)).reduce((sum, o) => sum + o.offset, 0)

  t.test('a group goes on where its last run stopped, each record printed once', async (t) => {
    const first = await run(['consume', ...bs, '--topic', 'events', '--group', 'readers', '--from-beginning', '--max-messages', '4'])
    t.equal(first.code, EXIT_OK, first.stderr)
    t.equal(first.stderr, 'Processed a total of 4 messages\n')
    t.equal(await committedTotal('readers'), 4, 'exactly what was printed is committed, not what was fetched')

    const second = await run(['consume', ...bs, '--topic', 'events', '--group', 'readers', '--from-beginning', '--timeout-ms', '1500'])
    t.equal(second.code, EXIT_OK, second.stderr)
    t.equal(second.stderr, 'Processed a total of 2 messages\n')
    t.same([...lines(first.stdout), ...lines(second.stdout)].sort(), sent, 'the rest, from the committed offsets')
    t.equal(await committedTotal('readers'), 6)

    const third = await run(['consume', ...bs, '--topic', 'events', '--group', 'readers', '--from-beginning', '--timeout-ms', '500'])
    t.same(third, { code: EXIT_OK, stdout: '', stderr: 'Processed a total of 0 messages\n' }, 'nothing left for the group')

    const described = await run(['groups', ...bs, '--describe', '--group', 'readers'])
    t.equal(described.code, EXIT_OK, described.stderr)
    t.equal(described.stderr, "Consumer group 'readers' has no active members.\n", 'it left the group on exit')
    const rows = described.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/))
    t.same(rows, [
      ['readers', 'events', '0', '3', '3', '0', '-', '-', '-'],
      ['readers', 'events', '1', '3', '3', '0', '-', '-', '-'],
    ])
  })

  t.test('a new group without --from-beginning starts at the end', async (t) => {
    const idle = await run(['consume', ...bs, '--topic', 'events', '--group', 'latecomers', '--timeout-ms', '500'])
    t.same(idle, { code: EXIT_OK, stdout: '', stderr: 'Processed a total of 0 messages\n' })
    t.equal(await committedTotal('latecomers'), 6, 'its position, the end, was committed')
    await producer.send({ topic: 'events', partition: 0, value: 'late' })
    const next = await run(['consume', ...bs, '--topic', 'events', '--group', 'latecomers', '--timeout-ms', '1500'])
    t.equal(next.code, EXIT_OK, next.stderr)
    t.same(lines(next.stdout), ['late'], 'only what came after')
  })

  t.test('--consumer-property group.id joins the group as --group does', async (t) => {
    const r = await run(['consume', ...bs, '--topic', 'events', '--consumer-property', 'group.id=by-property', '--from-beginning', '--max-messages', '2'])
    t.equal(r.code, EXIT_OK, r.stderr)
    t.equal(await committedTotal('by-property'), 2)
  })
})
