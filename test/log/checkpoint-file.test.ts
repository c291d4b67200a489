import t from 'tap'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import {
  LOG_START_OFFSET_CHECKPOINT,
  OffsetCheckpointFile,
  parseNonNegativeInteger,
  readCheckpoint,
  RECOVERY_POINT_OFFSET_CHECKPOINT,
  REPLICATION_OFFSET_CHECKPOINT,
  writeCheckpoint,
} from '../../src/log/checkpoint-file.ts'
import { FsStorage } from '../../src/log/fs-storage.ts'
import type { Storage } from '../../src/log/storage.ts'
import { StorageError } from '../../src/log/storage.ts'

const storage = new FsStorage()

t.test('file names are Kafka\'s', async (t) => {
  t.equal(RECOVERY_POINT_OFFSET_CHECKPOINT, 'recovery-point-offset-checkpoint')
  t.equal(REPLICATION_OFFSET_CHECKPOINT, 'replication-offset-checkpoint')
  t.equal(LOG_START_OFFSET_CHECKPOINT, 'log-start-offset-checkpoint')
  t.equal(OffsetCheckpointFile.VERSION, 0)
})

t.test('writeCheckpoint writes version, count and one line per entry, atomically', async (t) => {
  const dir = t.testdir({ cp: 'old content' })
  writeCheckpoint(storage, `${dir}/cp`, 0, ['a 1', 'b 2'])
  t.equal(readFileSync(`${dir}/cp`, 'utf8'), '0\n2\na 1\nb 2\n')
  t.same(readdirSync(dir), ['cp'], 'no temporary file is left behind')
  t.same(readCheckpoint(storage, `${dir}/cp`, 0), { lines: ['a 1', 'b 2'] })
  writeCheckpoint(storage, `${dir}/cp`, 3, [])
  t.equal(readFileSync(`${dir}/cp`, 'utf8'), '3\n0\n')
  t.same(readCheckpoint(storage, `${dir}/cp`, 3), { lines: [] })
})

t.test('writeCheckpoint refuses what would not read back', async (t) => {
  const dir = t.testdir()
  t.throws(() => writeCheckpoint(storage, `${dir}/cp`, 0, ['a\nb']), /holds a line break/)
  t.throws(() => writeCheckpoint(storage, `${dir}/cp`, 0, ['a\rb']), /holds a line break/)
  t.throws(() => writeCheckpoint(storage, `${dir}/cp`, -1, []), /invalid checkpoint version -1/)
  t.throws(() => writeCheckpoint(storage, `${dir}/cp`, 0.5, []), /invalid checkpoint version/)
  t.equal(storage.exists(`${dir}/cp`), false)
})

t.test('readCheckpoint reports every malformation as a problem', async (t) => {
  const cases: [string, string | Buffer, RegExp][] = [
    ['empty file', '', /empty file/],
    ['only a newline', '\n', /version "" is not a number/],
    ['not UTF-8', Buffer.from([0x30, 0x0a, 0xff, 0xfe, 0x0a]), /not UTF-8/],
    ['binary garbage', Buffer.from([0, 1, 2, 3]), /version .* is not a number/],
    ['version not a number', 'v0\n0\n', /version "v0" is not a number/],
    ['negative version', '-1\n0\n', /is not a number/],
    ['wrong version', '1\n0\n', /unsupported version 1 \(expected 0\)/],
    ['no count', '0\n', /no entry count/],
    ['count not a number', '0\ntwo\na\nb\n', /entry count "two" is not a number/],
    ['count with spaces', '0\n 1\na\n', /entry count " 1" is not a number/],
    ['count too large', '0\n9999999999999999\n', /is not a number/],
    ['count far too large', '0\n123456789012345678901234567890\n', /is not a number/],
    ['fewer entries than the count', '0\n3\na\nb\n', /expected 3 entries but found 2/],
    ['more entries than the count', '0\n1\na\nb\n', /expected 1 entries but found 2/],
    ['an extra blank line', '0\n1\na\n\n', /expected 1 entries but found 2/],
  ]
  for (const [name, content, problem] of cases) {
    const dir = t.testdir({ cp: content })
    const read = readCheckpoint(storage, `${dir}/cp`, 0)
    t.ok('problem' in read, name)
    if ('problem' in read) {
      t.match(read.problem, problem, name)
      t.match(read.problem, `${dir}/cp`, `${name}: the problem names the file`)
    }
  }
})

t.test('readCheckpoint tolerates a missing last newline and CRLF line ends', async (t) => {
  const dir = t.testdir({ a: '0\n2\nx 1\ny 2', b: '0\r\n1\r\nx 1\r\n' })
  t.same(readCheckpoint(storage, `${dir}/a`, 0), { lines: ['x 1', 'y 2'] })
  t.same(readCheckpoint(storage, `${dir}/b`, 0), { lines: ['x 1'] })
  t.same(readCheckpoint(storage, `${dir}/missing`, 0), { missing: true })
  t.same(readCheckpoint(storage, `${dir}/no-such-dir/cp`, 0), { missing: true })
})

t.test('readCheckpoint lets storage errors through', async (t) => {
  const failing: Storage = Object.create(storage, {
    readFile: {
      value: (path: string) => {
        throw new StorageError('EIO', path, 'read failed')
      },
    },
  })
  t.throws(() => readCheckpoint(failing, '/x/cp', 0), { code: 'EIO' })
})

t.test('parseNonNegativeInteger', async (t) => {
  t.equal(parseNonNegativeInteger('0'), 0)
  t.equal(parseNonNegativeInteger('1200'), 1200)
  t.equal(parseNonNegativeInteger('007'), 7)
  t.equal(parseNonNegativeInteger('9007199254740991'), Number.MAX_SAFE_INTEGER)
  for (const bad of ['', '-1', '+1', '1.5', '1e3', ' 1', '1 ', '0x10', 'NaN', '9007199254740992', '99999999999999999']) {
    t.equal(parseNonNegativeInteger(bad), null, JSON.stringify(bad))
  }
})

t.test('OffsetCheckpointFile round-trips topics with dashes and dots', async (t) => {
  const dir = t.testdir()
  const path = `${dir}/${REPLICATION_OFFSET_CHECKPOINT}`
  const entries = [
    { topic: 'orders', partition: 0, offset: 1200 },
    { topic: 'orders', partition: 1, offset: 980 },
    { topic: 'my-topic.v2-3', partition: 12, offset: 0 },
    { topic: '__consumer_offsets', partition: 49, offset: Number.MAX_SAFE_INTEGER },
  ]
  OffsetCheckpointFile.write(storage, path, entries)
  t.equal(
    readFileSync(path, 'utf8'),
    `0\n4\norders 0 1200\norders 1 980\nmy-topic.v2-3 12 0\n__consumer_offsets 49 ${Number.MAX_SAFE_INTEGER}\n`,
  )
  t.same(OffsetCheckpointFile.read(storage, path), { entries, problem: null })
  OffsetCheckpointFile.write(storage, path, [])
  t.same(OffsetCheckpointFile.read(storage, path), { entries: [], problem: null })
})

t.test('OffsetCheckpointFile reads a file Kafka wrote', async (t) => {
  const dir = t.testdir({ cp: '0\n2\nfoo-bar 3 17\t\nbaz\t0 5\n' })
  t.same(OffsetCheckpointFile.read(storage, `${dir}/cp`), {
    entries: [],
    problem: `${dir}/cp: entry 1 "foo-bar 3 17\\t" is not "<topic> <partition> <offset>"`,
  }, 'trailing whitespace is refused, as Kafka splits on it and finds four fields')
  writeFileSync(`${dir}/cp`, '0\n2\nfoo-bar 3 17\nbaz\t0  5\n')
  t.same(OffsetCheckpointFile.read(storage, `${dir}/cp`), {
    entries: [
      { topic: 'foo-bar', partition: 3, offset: 17 },
      { topic: 'baz', partition: 0, offset: 5 },
    ],
    problem: null,
  }, 'fields split on any whitespace, as Kafka does')
})

t.test('OffsetCheckpointFile: a missing file is no problem', async (t) => {
  const dir = t.testdir()
  t.same(OffsetCheckpointFile.read(storage, `${dir}/${LOG_START_OFFSET_CHECKPOINT}`), { entries: [], problem: null })
})

t.test('OffsetCheckpointFile: garbage gives no entries and a problem', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['wrong version', '1\n0\n', /unsupported version 1/],
    ['count mismatch', '0\n2\nt 0 1\n', /expected 2 entries but found 1/],
    ['two fields', '0\n1\nt 0\n', /entry 1 "t 0" is not "<topic> <partition> <offset>"/],
    ['four fields', '0\n1\nmy topic 0 1\n', /entry 1 /],
    ['leading space', '0\n1\n t 0 1\n', /entry 1 /],
    ['empty line', '0\n1\n\n', /entry 1 "" is not/],
    ['partition not a number', '0\n1\nt x 1\n', /entry 1 "t x 1"/],
    ['negative partition', '0\n1\nt -1 1\n', /entry 1 /],
    ['partition beyond int32', '0\n1\nt 2147483648 1\n', /entry 1 /],
    ['offset not a number', '0\n1\nt 0 ten\n', /entry 1 /],
    ['negative offset', '0\n1\nt 0 -1\n', /entry 1 /],
    ['second entry bad', '0\n2\nt 0 1\nt 1 1.5\n', /entry 2 /],
    ['duplicate partition', '0\n2\nt 0 1\nt 0 2\n', /t-0 appears twice/],
  ]
  for (const [name, content, problem] of cases) {
    const dir = t.testdir({ cp: content })
    const read = OffsetCheckpointFile.read(storage, `${dir}/cp`)
    t.same(read.entries, [], name)
    t.match(read.problem, problem, name)
  }
  const dir = t.testdir({ cp: '0\n1\nt 2147483647 1\n' })
  t.same(OffsetCheckpointFile.read(storage, `${dir}/cp`).entries, [{ topic: 't', partition: 2147483647, offset: 1 }], 'int32 max partition is fine')
})

t.test('OffsetCheckpointFile.write refuses entries that would not read back', async (t) => {
  const dir = t.testdir()
  const path = `${dir}/cp`
  const bad: [string, { topic: string; partition: number; offset: number }[], RegExp][] = [
    ['empty topic', [{ topic: '', partition: 0, offset: 0 }], /topic "" cannot be written/],
    ['topic with a space', [{ topic: 'a b', partition: 0, offset: 0 }], /topic "a b" cannot be written/],
    ['topic with a newline', [{ topic: 'a\nb', partition: 0, offset: 0 }], /cannot be written/],
    ['negative partition', [{ topic: 't', partition: -1, offset: 0 }], /invalid partition -1 of t/],
    ['fractional partition', [{ topic: 't', partition: 0.5, offset: 0 }], /invalid partition/],
    ['partition beyond int32', [{ topic: 't', partition: 2 ** 31, offset: 0 }], /invalid partition/],
    ['negative offset', [{ topic: 't', partition: 0, offset: -1 }], /invalid offset -1 of t-0/],
    ['unsafe offset', [{ topic: 't', partition: 0, offset: 2 ** 53 }], /invalid offset/],
    ['duplicate', [{ topic: 't', partition: 0, offset: 1 }, { topic: 't', partition: 0, offset: 2 }], /t-0 appears twice/],
  ]
  for (const [name, entries, error] of bad) t.throws(() => OffsetCheckpointFile.write(storage, path, entries), error, name)
  t.equal(storage.exists(path), false, 'nothing was written')
})
