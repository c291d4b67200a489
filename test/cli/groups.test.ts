// `peerlog groups` (kafka-consumer-groups.sh) through main, against a broker in this process.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Io, main } from '../../src/cli/main.ts'
import { parseDateTime } from '../../src/cli/groups.ts'
import { Admin } from '../../src/client/admin.ts'
import { Producer } from '../../src/client/producer.ts'
import { startBroker } from '../../src/broker/start-broker.ts'
import { joinMember } from '../client/fixtures/group-member.ts'

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

/** A table's lines as cells (Kafka's tables are padded with spaces; cells hold none). */
const cells = (stdout: string): string[][] =>
  stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.trim().split(/\s+/))

t.test('usage mistakes are one line and exit 2, before any connection', async (t) => {
  const bs = ['groups', '--bootstrap-server', '127.0.0.1:1']
  const cases: [string[], string][] = [
    [[], 'missing action: one of --list, --describe, --delete, --reset-offsets, --delete-offsets'],
    [['--list', '--describe'], 'only one of --list, --describe, --delete, --reset-offsets, --delete-offsets at a time (got --list, --describe)'],
    [['--describe'], '--describe needs --group <group> (or --all-groups)'],
    [['--delete'], '--delete needs --group <group> (or --all-groups)'],
    [['--describe', '--group', 'g', '--all-groups'], '--group and --all-groups cannot be used together'],
    [['--list', '--group', 'g'], '--group is not used with --list (only with --describe, --delete, --reset-offsets, --delete-offsets)'],
    [['--list', '--members'], '--members is not used with --list (only with --describe)'],
    [['--describe', '--group', 'g', '--members', '--state'], '--describe takes at most one of --members, --offsets, --state (got --members, --state)'],
    [['--delete', '--group', 'g', '--topic', 't'], '--topic is not used with --delete (only with --reset-offsets, --delete-offsets)'],
    [['--describe', '--group', 'g', '--to-earliest'], '--to-earliest is not used with --describe (only with --reset-offsets)'],
    [['--reset-offsets', '--group', 'g', '--topic', 't'], '--reset-offsets needs one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by'],
    [['--reset-offsets', '--group', 'g', '--topic', 't', '--to-earliest', '--to-latest'], 'only one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by at a time (got --to-earliest, --to-latest)'],
    [['--reset-offsets', '--group', 'g', '--to-earliest'], '--reset-offsets needs --topic <topic> or --all-topics'],
    [['--reset-offsets', '--group', 'g', '--topic', 't', '--all-topics', '--to-earliest'], '--topic and --all-topics cannot be used together'],
    [['--reset-offsets', '--group', 'g', '--topic', 't', '--to-earliest', '--execute', '--dry-run'], '--reset-offsets takes only one of --execute and --dry-run'],
    [['--reset-offsets', '--group', 'g', '--topic', 't', '--to-offset', 'x'], "invalid value 'x' for --to-offset: expected an integer >= 0"],
    [['--reset-offsets', '--group', 'g', '--topic', 't', '--to-offset', '-1'], "invalid value '-1' for --to-offset: expected an integer >= 0"],
    [['--reset-offsets', '--group', 'g', '--topic', 't', '--shift-by', '1.5'], "invalid value '1.5' for --shift-by: expected an integer"],
    [['--reset-offsets', '--group', 'g', '--topic', 't:a', '--to-earliest'], "invalid value 't:a' for --topic: expected topic or topic:partition,partition (e.g. orders:0,1)"],
    [['--reset-offsets', '--group', 'g', '--topic', 't', '--to-datetime', 'yesterday'], "invalid value 'yesterday' for --to-datetime: expected YYYY-MM-DDTHH:mm:SS.sss, e.g. 2024-03-01T12:00:00.000"],
    [['--reset-offsets', '--group', 'g', '--topic', 't', '--to-datetime', '2024-02-30T00:00:00'], "invalid value '2024-02-30T00:00:00' for --to-datetime: expected YYYY-MM-DDTHH:mm:SS.sss, e.g. 2024-03-01T12:00:00.000"],
    [['--delete-offsets', '--group', 'g'], '--delete-offsets needs --group and --topic'],
    [['--delete-offsets', '--group', 'g', '--group', 'h', '--topic', 't'], '--delete-offsets takes exactly one --group'],
  ]
  for (const [extra, message] of cases) {
    const r = await run([...bs, ...extra])
    t.same(r, { code: EXIT_USAGE, stdout: '', stderr: `peerlog groups: ${message} (try 'peerlog help groups')\n` }, extra.join(' '))
  }
  const none = await run(['groups', '--list'])
  t.equal(none.code, EXIT_USAGE)
  t.match(none.stderr, /^peerlog groups: missing --bootstrap-server/)
})

t.test('--to-datetime reads ISO times, local unless a zone is given', async (t) => {
  t.equal(parseDateTime('2024-03-01T12:00:00.000Z'), Date.UTC(2024, 2, 1, 12))
  t.equal(parseDateTime('2024-03-01T12:00:00.5+01:00'), Date.UTC(2024, 2, 1, 11, 0, 0, 500))
  t.equal(parseDateTime('2024-03-01T12:00-0130'), Date.UTC(2024, 2, 1, 13, 30))
  t.equal(parseDateTime('2024-03-01T12:00:00'), new Date(2024, 2, 1, 12).getTime())
})

t.test('an unreachable broker: one line, exit 1', async (t) => {
  const r = await run(['groups', '--bootstrap-server', '127.0.0.1:1', '--list'])
  t.equal(r.code, EXIT_FAILURE)
  t.match(r.stderr, /^peerlog groups: cannot reach a broker at 127\.0\.0\.1:1: .*\n$/)
})

t.test('against a broker', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'peerlog-cli-groups-'))
  const broker = await startBroker({ dataDir, port: 0, config: { 'group.initial.rebalance.delay.ms': 0, 'offsets.topic.num.partitions': 3 } })
  t.teardown(async () => {
    await broker.stop()
    rmSync(dataDir, { recursive: true, force: true })
  })
  const bs = ['groups', '--bootstrap-server', broker.address]
  const admin = new Admin({ 'bootstrap.servers': broker.address })
  t.teardown(() => admin.close())
  await admin.createTopics([{ topic: 'orders', numPartitions: 2 }])
  const producer = new Producer({ 'bootstrap.servers': broker.address, 'linger.ms': 0 })
  // orders-0: offsets 0..9, timestamps 1000..10000; orders-1: offsets 0..3.
  for (let i = 0; i < 10; i++) await producer.send({ topic: 'orders', partition: 0, value: `${i}`, timestamp: 1000 * (i + 1) })
  for (let i = 0; i < 4; i++) await producer.send({ topic: 'orders', partition: 1, value: `${i}`, timestamp: 1000 * (i + 1) })
  await producer.close()
  const committed = async (group: string) => (await admin.listConsumerGroupOffsets(group)).map((o) => `${o.topic}-${o.partition}@${o.offset}`)

  t.test('--list and --describe of a group with offsets and no members', async (t) => {
    await admin.alterConsumerGroupOffsets('billing', [{ topic: 'orders', partition: 0, offset: 4 }])
    const list = await run([...bs, '--list'])
    t.equal(list.code, EXIT_OK, list.stderr)
    t.match(list.stdout, /^billing$/m)

    const withState = await run([...bs, '--list', '--state'])
    t.equal(withState.code, EXIT_OK, withState.stderr)
    t.match(cells(withState.stdout), [['GROUP', 'STATE']])
    t.ok(cells(withState.stdout).some((r) => r[0] === 'billing' && r[1] === 'Empty'))

    const d = await run([...bs, '--describe', '--group', 'billing'])
    t.equal(d.code, EXIT_OK, d.stderr)
    t.equal(d.stderr, "Consumer group 'billing' has no active members.\n")
    t.equal(
      d.stdout.split('\n')[0],
      'GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID',
      "Kafka's columns",
    )
    t.same(cells(d.stdout).slice(1), [['billing', 'orders', '0', '4', '10', '6', '-', '-', '-']])

    const state = await run([...bs, '--describe', '--group', 'billing', '--state'])
    t.equal(state.code, EXIT_OK, state.stderr)
    t.same(cells(state.stdout), [
      ['GROUP', 'COORDINATOR', '(ID)', 'ASSIGNMENT-STRATEGY', 'STATE', '#MEMBERS'],
      ['billing', broker.address, `(${broker.nodeId})`, '-', 'Empty', '0'],
    ])

    const members = await run([...bs, '--describe', '--group', 'billing', '--members'])
    t.same(members, { code: EXIT_OK, stdout: '', stderr: "Consumer group 'billing' has no active members.\n" })

    const all = await run([...bs, '--describe', '--all-groups', '--state'])
    t.equal(all.code, EXIT_OK, all.stderr)
    t.ok(cells(all.stdout).some((r) => r[0] === 'billing' && r[4] === 'Empty'), '--all-groups includes it')
  })

  t.test('--describe of a group with a member shows who consumes each partition', async (t) => {
    await admin.alterConsumerGroupOffsets('shipping', [{ topic: 'orders', partition: 1, offset: 1 }])
    const member = await joinMember(broker.port, 'shipping', [{ topic: 'orders', partition: 0 }, { topic: 'orders', partition: 1 }])
    t.teardown(() => member.leave())
    const d = await run([...bs, '--describe', '--group', 'shipping'])
    t.equal(d.code, EXIT_OK, d.stderr)
    t.equal(d.stderr, '')
    const rows = cells(d.stdout)
    t.same(rows[0], ['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'CONSUMER-ID', 'HOST', 'CLIENT-ID'])
    t.match(rows.slice(1), [
      ['shipping', 'orders', '0', '-', '10', '-', member.memberId, /127\.0\.0\.1/, 'test-client'],
      ['shipping', 'orders', '1', '1', '4', '3', member.memberId, /127\.0\.0\.1/, 'test-client'],
    ])
    t.equal(rows.length, 3)

    const members = await run([...bs, '--describe', '--group', 'shipping', '--members'])
    t.equal(members.code, EXIT_OK, members.stderr)
    t.match(cells(members.stdout), [
      ['GROUP', 'CONSUMER-ID', 'HOST', 'CLIENT-ID', '#PARTITIONS'],
      ['shipping', member.memberId, /127\.0\.0\.1/, 'test-client', '2'],
    ])
    const state = await run([...bs, '--describe', '--group', 'shipping', '--state'])
    t.match(cells(state.stdout)[1], ['shipping', broker.address, `(${broker.nodeId})`, 'range', 'Stable', '1'])

    const reset = await run([...bs, '--reset-offsets', '--group', 'shipping', '--topic', 'orders', '--to-earliest', '--execute'])
    t.same(reset, {
      code: EXIT_FAILURE,
      stdout: '',
      stderr: "peerlog groups: assignments can only be reset if the group 'shipping' is inactive, but the current state is Stable (stop its consumers first)\n",
    })
    t.same(await committed('shipping'), ['orders-1@1'], 'nothing changed')

    const del = await run([...bs, '--delete', '--group', 'shipping'])
    t.same(del, { code: EXIT_FAILURE, stdout: '', stderr: "peerlog groups: cannot delete group 'shipping': the group has active members (NON_EMPTY_GROUP)\n" })
  })

  t.test('--describe of a group that does not exist', async (t) => {
    const r = await run([...bs, '--describe', '--group', 'nobody'])
    t.same(r, { code: EXIT_FAILURE, stdout: '', stderr: "peerlog groups: consumer group 'nobody' does not exist\n" })
  })

  t.test('--reset-offsets prints the plan; only --execute changes the offsets', async (t) => {
    await admin.alterConsumerGroupOffsets('reset', [{ topic: 'orders', partition: 0, offset: 5 }, { topic: 'orders', partition: 1, offset: 2 }])
    const dry = await run([...bs, '--reset-offsets', '--group', 'reset', '--topic', 'orders', '--to-earliest'])
    t.equal(dry.code, EXIT_OK, dry.stderr)
    t.match(dry.stderr, /^WARN: No action will be performed as the --execute option is missing\./)
    t.equal(dry.stdout.split('\n')[0], 'GROUP           TOPIC           PARTITION  NEW-OFFSET')
    t.same(cells(dry.stdout).slice(1), [['reset', 'orders', '0', '0'], ['reset', 'orders', '1', '0']])
    t.same(await committed('reset'), ['orders-0@5', 'orders-1@2'], 'a dry run changes nothing')

    const explicit = await run([...bs, '--reset-offsets', '--group', 'reset', '--topic', 'orders', '--to-latest', '--dry-run'])
    t.equal(explicit.stderr, '', 'no warning with --dry-run')
    t.same(cells(explicit.stdout).slice(1), [['reset', 'orders', '0', '10'], ['reset', 'orders', '1', '4']])

    const exec = await run([...bs, '--reset-offsets', '--group', 'reset', '--topic', 'orders:1', '--to-offset', '1', '--execute'])
    t.same(cells(exec.stdout).slice(1), [['reset', 'orders', '1', '1']])
    t.same(await committed('reset'), ['orders-0@5', 'orders-1@1'], 'only the partition named')

    const clamped = await run([...bs, '--reset-offsets', '--group', 'reset', '--topic', 'orders:0', '--to-offset', '100', '--execute'])
    t.equal(clamped.code, EXIT_OK, clamped.stderr)
    t.match(clamped.stderr, 'New offset (100) is higher than latest offset for topic partition orders-0. Value will be set to 10')
    t.same(await committed('reset'), ['orders-0@10', 'orders-1@1'], 'kept within the log')

    const shifted = await run([...bs, '--reset-offsets', '--group', 'reset', '--all-topics', '--shift-by', '-3', '--execute'])
    t.equal(shifted.code, EXIT_OK, shifted.stderr)
    t.match(shifted.stderr, 'New offset (-2) is lower than earliest offset for topic partition orders-1. Value will be set to 0')
    t.same(await committed('reset'), ['orders-0@7', 'orders-1@0'])

    const byTime = await run([...bs, '--reset-offsets', '--group', 'reset', '--topic', 'orders', '--to-datetime', new Date(3500).toISOString(), '--execute'])
    t.equal(byTime.code, EXIT_OK, byTime.stderr)
    t.same(await committed('reset'), ['orders-0@3', 'orders-1@3'], 'the first record at or after the time')
    const future = await run([...bs, '--reset-offsets', '--group', 'reset', '--topic', 'orders:1', '--to-datetime', '2999-01-01T00:00:00Z', '--execute'])
    t.match(future.stderr, 'Warn: Partition 1 from topic orders is empty. Falling back to latest known offset.')
    t.same(await committed('reset'), ['orders-0@3', 'orders-1@4'])

    const fresh = await run([...bs, '--reset-offsets', '--group', 'brand-new', '--topic', 'orders:0', '--to-offset', '2', '--execute'])
    t.equal(fresh.code, EXIT_OK, fresh.stderr)
    t.same(await committed('brand-new'), ['orders-0@2'], 'a group that does not exist yet gets offsets')

    const noSuch = await run([...bs, '--reset-offsets', '--group', 'reset', '--topic', 'orders:7', '--to-earliest', '--execute'])
    t.same(noSuch, { code: EXIT_FAILURE, stdout: '', stderr: 'peerlog groups: the partitions orders-7 do not exist\n' })
    const noCommit = await run([...bs, '--reset-offsets', '--group', 'brand-new', '--topic', 'orders', '--shift-by', '1', '--execute'])
    t.same(noCommit, { code: EXIT_FAILURE, stdout: '', stderr: 'peerlog groups: cannot shift the offset of orders-1: the group has no committed offset for it\n' })
  })

  t.test('--delete-offsets and --delete', async (t) => {
    await admin.alterConsumerGroupOffsets('gone', [{ topic: 'orders', partition: 0, offset: 1 }, { topic: 'orders', partition: 1, offset: 1 }])
    const delOffsets = await run([...bs, '--delete-offsets', '--group', 'gone', '--topic', 'orders:1'])
    t.same(delOffsets, { code: EXIT_OK, stdout: 'Request succeeded for deleting offsets from group gone.\n', stderr: '' })
    t.same(await committed('gone'), ['orders-0@1'])

    const del = await run([...bs, '--delete', '--group', 'gone'])
    t.same(del, { code: EXIT_OK, stdout: "Deletion of requested consumer groups ('gone') was successful.\n", stderr: '' })
    t.same(await committed('gone'), [])
    const again = await run([...bs, '--delete', '--group', 'gone'])
    t.same(again, { code: EXIT_FAILURE, stdout: '', stderr: "peerlog groups: cannot delete group 'gone': the group does not exist (GROUP_ID_NOT_FOUND)\n" })
  })
})
