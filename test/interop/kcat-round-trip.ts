/**
 * The kcat round trip, against any broker address: a 6-partition topic (created with
 * peerlog's admin client), `kcat -L` lists it, `kcat -P -K: -X partitioner=murmur2_random`
 * produces N keyed lines, `kcat -C -e -o beginning` reads them back. Checks: every line read
 * exactly once, per-partition order intact (a single producer's sequence numbers increase
 * within each partition), and every key in the partition peerlog's own partitioner
 * (Kafka's murmur2) picks.
 */
import type { Test } from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Admin } from '../../src/client/admin.ts'
import { partitionForKey } from '../../src/client/partitioner.ts'
import { describeRun, run, scratch } from './harness.ts'

type Tap = Test

const enc = new TextEncoder()

export async function kcatRoundTrip(t: Tap, address: string, topic: string, count: number, partitions = 6): Promise<void> {
  const admin = new Admin({ 'bootstrap.servers': address })
  try {
    await admin.createTopics([{ topic, numPartitions: partitions, replicationFactor: 1 }])
  } finally {
    await admin.close()
  }

  const listed = await run('kcat', ['-L', '-J', '-b', address, '-t', topic, '-m', '10'], { timeoutMs: 20_000 })
  t.equal(listed.code, 0, describeRun('kcat -L', listed))
  if (listed.code === 0) {
    const md = JSON.parse(listed.stdout.toString()) as { brokers: { id: number; name: string }[]; topics: { topic: string; partitions: { partition: number; leader: number }[] }[] }
    t.same(md.brokers.map((b) => b.name), [address], 'kcat -L: the broker, at the address it was given')
    const tm = md.topics.find((x) => x.topic === topic)
    t.same(tm?.partitions.map((p) => p.partition).sort((a, b) => a - b), [...Array(partitions).keys()], `kcat -L lists ${topic} with ${partitions} partitions`)
  }

  // key-<i mod 997>:<i>, so keys repeat across the run and the value is the sequence number.
  const keyOf = (i: number) => `key-${i % 997}`
  const lines: string[] = []
  for (let i = 0; i < count; i++) lines.push(`${keyOf(i)}:${i}`)
  const file = join(scratch(t, `kcat-${topic}`), 'input.txt')
  writeFileSync(file, lines.join('\n') + '\n')
  const produced = await run(
    'kcat',
    ['-P', '-K:', '-b', address, '-t', topic, '-X', 'partitioner=murmur2_random', '-X', 'linger.ms=5', '-X', 'acks=all', '-l', file, ...(process.env.KCAT_DEBUG ? ['-d', process.env.KCAT_DEBUG] : [])],
    { timeoutMs: 60_000 },
  )
  t.equal(produced.code, 0, describeRun('kcat -P', produced))
  if (produced.code !== 0) return

  const consumed = await run('kcat', ['-C', '-e', '-q', '-o', 'beginning', '-b', address, '-t', topic, '-f', '%p %o %k %s\n'], { timeoutMs: 60_000 })
  t.equal(consumed.code, 0, describeRun('kcat -C', consumed))
  const out = consumed.stdout.toString().split('\n').filter((l) => l !== '')
  t.equal(out.length, count, `kcat -C read ${out.length} of ${count} lines`)

  const seen = new Uint8Array(count)
  const lastSeq = new Map<number, number>()
  const lastOffset = new Map<number, number>()
  let duplicates = 0
  let disorder = 0
  let misplaced = 0
  let bad = 0
  for (const line of out) {
    const [p, o, k, v] = line.split(' ') as [string, string, string, string]
    const partition = Number(p)
    const offset = Number(o)
    const seq = Number(v)
    if (!Number.isInteger(seq) || seq < 0 || seq >= count || k !== keyOf(seq)) {
      bad++
      continue
    }
    if (seen[seq]) duplicates++
    seen[seq] = 1
    if ((lastSeq.get(partition) ?? -1) >= seq || (lastOffset.get(partition) ?? -1) >= offset) disorder++
    lastSeq.set(partition, seq)
    lastOffset.set(partition, offset)
    if (partitionForKey(enc.encode(k), partitions) !== partition) misplaced++
  }
  const missing = count - seen.reduce((a, b) => a + b, 0)
  t.same({ bad, duplicates, missing }, { bad: 0, duplicates: 0, missing: 0 }, 'every line read back exactly once, as written')
  t.equal(disorder, 0, 'per-partition order intact (sequence numbers and offsets increase within each partition)')
  t.equal(misplaced, 0, 'with partitioner=murmur2_random each key is in the partition peerlog picks')
  t.equal(lastSeq.size, partitions, 'every partition got records')
  t.comment(`kcat ${address}: produced ${count} in ${produced.ms} ms, consumed in ${consumed.ms} ms`)
}
