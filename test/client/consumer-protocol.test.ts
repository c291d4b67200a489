import t from 'tap'
import {
  CONSUMER_PROTOCOL_VERSION,
  ConsumerProtocolError,
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  type ConsumerProtocolSubscription,
} from '../../src/client/consumer-protocol.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'))
const str = (s: string): string => (s.length.toString(16).padStart(4, '0') + Buffer.from(s).toString('hex'))

const full: ConsumerProtocolSubscription = {
  topics: ['foo', 'bar'],
  userData: new TextEncoder().encode('hello'),
  ownedPartitions: [
    { topic: 'foo', partition: 0 },
    { topic: 'bar', partition: 0 },
  ],
  generationId: 7,
  rackId: 'rack-a',
}

t.test('a v0 subscription is version, topics, userData, byte for byte', async (t) => {
  // int16 0 | [2] "bar" "foo" (sorted) | userData null (-1)
  const golden = bytes(`0000 00000002 ${str('bar')} ${str('foo')} ffffffff`)
  const s = { topics: ['foo', 'bar'], userData: null, ownedPartitions: [], generationId: -1, rackId: null }
  t.equal(hex(encodeSubscription(s, 0)), hex(golden))
  t.same(decodeSubscription(golden), { version: 0, topics: ['bar', 'foo'], userData: null, ownedPartitions: [], generationId: -1, rackId: null })
})

t.test('a v1 subscription adds owned partitions grouped by topic, byte for byte', async (t) => {
  // int16 1 | [1] "foo" | userData [01 02] | owned [1] "foo" [2] 0 2
  const golden = bytes(`0001 00000001 ${str('foo')} 00000002 0102 00000001 ${str('foo')} 00000002 00000000 00000002`)
  const s = { topics: ['foo'], userData: Uint8Array.of(1, 2), ownedPartitions: [{ topic: 'foo', partition: 2 }, { topic: 'foo', partition: 0 }], generationId: 3, rackId: 'r' }
  t.equal(hex(encodeSubscription(s, 1)), hex(golden), 'owned sorted; generation and rack are not in v1, and are dropped')
  const d = decodeSubscription(golden)
  t.equal(d.version, 1)
  t.same(d.topics, ['foo'])
  t.same([...d.userData!], [1, 2])
  t.same(d.ownedPartitions, [{ topic: 'foo', partition: 0 }, { topic: 'foo', partition: 2 }])
  t.equal(d.generationId, -1)
  t.equal(d.rackId, null)
})

t.test('a v3 subscription ends with the generation and the rack, byte for byte', async (t) => {
  const golden = bytes(`0003 00000001 ${str('t')} ffffffff 00000000 00000009 ${str('r1')}`)
  const s = { topics: ['t'], userData: null, ownedPartitions: [], generationId: 9, rackId: 'r1' }
  t.equal(hex(encodeSubscription(s)), hex(golden), 'v3 is the default')
  t.same(decodeSubscription(golden), { version: 3, ...s })
})

t.test('subscriptions round-trip at every version, keeping the fields the version has', async (t) => {
  for (let v = 0; v <= CONSUMER_PROTOCOL_VERSION; v++) {
    const d = decodeSubscription(encodeSubscription(full, v))
    t.equal(d.version, v)
    t.same(d.topics, ['bar', 'foo'], `v${v} topics`)
    t.equal(new TextDecoder().decode(d.userData!), 'hello', `v${v} userData`)
    t.same(d.ownedPartitions, v >= 1 ? [{ topic: 'bar', partition: 0 }, { topic: 'foo', partition: 0 }] : [], `v${v} owned`)
    t.equal(d.generationId, v >= 2 ? 7 : -1, `v${v} generation`)
    t.equal(d.rackId, v >= 3 ? 'rack-a' : null, `v${v} rack`)
  }
})

t.test('a subscription of a newer version is read as v3 and its extra fields ignored', async (t) => {
  const v3 = encodeSubscription(full, 3)
  const v4 = new Uint8Array(v3.length + 6)
  v4.set(v3)
  v4[1] = 4
  v4.set([0xde, 0xad, 0xbe, 0xef, 0, 1], v3.length)
  const d = decodeSubscription(v4)
  t.equal(d.version, 4)
  t.same(d.topics, ['bar', 'foo'])
  t.equal(d.generationId, 7)
  t.equal(d.rackId, 'rack-a')
})

t.test('an empty rack id reads as no rack, as in Java', async (t) => {
  const d = decodeSubscription(encodeSubscription({ ...full, rackId: '' }, 3))
  t.equal(d.rackId, null)
})

t.test('decoded userData is a copy, not a view of the input', async (t) => {
  const b = encodeSubscription(full, 0)
  const d = decodeSubscription(b)
  b.fill(0)
  t.equal(new TextDecoder().decode(d.userData!), 'hello')
})

t.test('an assignment is version, partitions by topic, userData, byte for byte', async (t) => {
  // int16 0 | [1] "foo" [2] 0 1 | userData null
  const golden = bytes(`0000 00000001 ${str('foo')} 00000002 00000000 00000001 ffffffff`)
  const a = { partitions: [{ topic: 'foo', partition: 0 }, { topic: 'foo', partition: 1 }], userData: null }
  t.equal(hex(encodeAssignment(a, 0)), hex(golden))
  t.same(decodeAssignment(golden), { version: 0, ...a })
  // Versions 1..3 have the same layout; only the version differs.
  t.equal(hex(encodeAssignment(a)), '0003' + hex(golden).slice(4))
})

t.test('assignments round-trip at every version and from a newer one', async (t) => {
  const a = { partitions: [{ topic: 'b', partition: 3 }, { topic: 'a', partition: 1 }, { topic: 'b', partition: 0 }], userData: Uint8Array.of(9) }
  for (let v = 0; v <= CONSUMER_PROTOCOL_VERSION; v++) {
    const d = decodeAssignment(encodeAssignment(a, v))
    t.equal(d.version, v)
    t.same(d.partitions, [{ topic: 'b', partition: 3 }, { topic: 'b', partition: 0 }, { topic: 'a', partition: 1 }], `v${v}: grouped by topic in first-seen order`)
    t.same([...d.userData!], [9])
  }
  const v7 = encodeAssignment(a, 3)
  const longer = new Uint8Array(v7.length + 2)
  longer.set(v7)
  longer[1] = 7
  t.equal(decodeAssignment(longer).version, 7)
  t.same(decodeAssignment(longer).partitions.length, 3)
})

t.test('empty or malformed bytes are a ConsumerProtocolError', async (t) => {
  const bad: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['one byte', Uint8Array.of(0)],
    ['negative version', bytes('ffff 00000000 ffffffff')],
    ['no topics', bytes('0000')],
    ['null topics', bytes('0000 ffffffff ffffffff')],
    ['topic count past the end', bytes('0000 00001000')],
    ['truncated topic', bytes(`0000 00000001 0005 6162`)],
    ['v1 without owned partitions', bytes(`0001 00000000 ffffffff`)],
    ['v2 without generation', bytes(`0002 00000000 ffffffff 00000000`)],
  ]
  for (const [what, b] of bad) t.throws(() => decodeSubscription(b), ConsumerProtocolError, `subscription: ${what}`)
  for (const [what, b] of [
    ['empty', new Uint8Array(0)],
    ['negative version', bytes('8000 00000000 ffffffff')],
    ['no userData', bytes('0000 00000000')],
    ['partition count past the end', bytes(`0000 00000001 ${str('t')} 7fffffff`)],
  ] as [string, Uint8Array][]) {
    t.throws(() => decodeAssignment(b), ConsumerProtocolError, `assignment: ${what}`)
  }
  t.throws(() => encodeSubscription(full, 4), RangeError, 'encoding only at 0..3')
  t.throws(() => encodeAssignment({ partitions: [], userData: null }, -1), RangeError)
})
