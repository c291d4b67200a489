import t from 'tap'
import { murmur2, toPositive } from '../../src/client/murmur2.ts'
import { partitionForKey, StickyPartitioner } from '../../src/client/partitioner.ts'

const utf8 = (s: string) => new TextEncoder().encode(s)

t.test("murmur2 matches Kafka's UtilsTest.testMurmur2", async (t) => {
  // org.apache.kafka.common.utils.UtilsTest#testMurmur2
  const cases: [Uint8Array, number][] = [
    [utf8('21'), -973932308],
    [utf8('foobar'), -790332482],
    [utf8('a-little-bit-long-string'), -985981536],
    [utf8('a-little-bit-longer-string'), -1486304829],
    [utf8('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'), -58897971],
    [Uint8Array.of(0x61, 0x62, 0x63), 479470107],
  ]
  for (const [bytes, expected] of cases) t.equal(murmur2(bytes), expected, new TextDecoder().decode(bytes))
})

t.test('murmur2 handles every tail length and high bytes', async (t) => {
  // Bytes >= 0x80 exercise the `& 0xff` of Java's signed bytes.
  for (let n = 0; n <= 9; n++) {
    const h = murmur2(Uint8Array.from({ length: n }, (_, i) => 0x80 + i * 13))
    t.ok(Number.isInteger(h) && h >= -(2 ** 31) && h < 2 ** 31, `length ${n} gives an int32`)
  }
  t.equal(murmur2(new Uint8Array(0)), murmur2(new Uint8Array(0)), 'deterministic')
})

t.test('toPositive clears the sign bit, as Utils.toPositive', async (t) => {
  t.equal(toPositive(-1), 0x7fffffff)
  t.equal(toPositive(-2147483648), 0)
  t.equal(toPositive(5), 5)
})

t.test('partitionForKey is toPositive(murmur2(key)) % numPartitions', async (t) => {
  t.equal(partitionForKey(utf8('21'), 6), toPositive(-973932308) % 6)
  t.equal(partitionForKey(utf8('foobar'), 100), toPositive(-790332482) % 100)
  t.equal(partitionForKey(utf8('foobar'), 1), 0)
})

t.test('sticky partitioner stays on one partition until a new batch', async (t) => {
  let i = 0
  const seq = [0.1, 0.9, 0.5, 0.3]
  const sp = new StickyPartitioner({ next: () => seq[i++ % seq.length]! })
  const first = sp.partition('t', 4, [0, 1, 2, 3])
  t.equal(sp.partition('t', 4, [0, 1, 2, 3]), first, 'sticks')
  sp.onNewBatch('t', 4, [0, 1, 2, 3], first)
  const second = sp.partition('t', 4, [0, 1, 2, 3])
  t.not(second, first, 'moves to another partition on a new batch')
  sp.onNewBatch('t', 4, [0, 1, 2, 3], first)
  t.equal(sp.partition('t', 4, [0, 1, 2, 3]), second, 'a stale onNewBatch (already moved) does not move again')
  t.equal(sp.partition('u', 3, [2]), 2, 'only available partitions are chosen')
  sp.onNewBatch('u', 3, [2], 2)
  t.equal(sp.partition('u', 3, [2]), 2, 'a single available partition stays')
  t.ok([0, 1].includes(sp.partition('v', 2, [])), 'no available partition: any partition')
})
