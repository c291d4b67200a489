// Test helpers driven by the message descriptions the generator emits (`xRequestSchema`):
// seeded sample data for any message and version, the value the decoder must return for it,
// and a reference encoder that interprets the description field by field, written apart from
// the generator so that the two can be checked against each other.
import { ZERO_UUID, uuidToString, type Writer } from '../../../src/protocol/kafka/primitives.ts'
import { inVersions, type FieldSchema, type MessageSchema } from '../../../src/protocol/kafka/schema.ts'

/** A small seeded PRNG (mulberry32): the same seed gives the same samples. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Rand = () => number
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!
const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1))

const STRINGS = ['', 'a', 'peerlog-test', 'topic.with_dots-and-dashes', 'ünïcødé', '日本語', '🦊 emoji', 'x'.repeat(300)]

/** The value a field takes when a version does not carry it. */
export function defaultOf(f: FieldSchema): unknown {
  if (f.default !== undefined) return f.default
  if (f.array) return []
  if (f.type === 'bytes') return new Uint8Array(0)
  if (f.type === 'struct') return defaultStruct(f.fields ?? [])
  throw new Error(`no default for ${f.name}`)
}

export function defaultStruct(fields: readonly FieldSchema[]): Record<string, unknown> {
  const o: Record<string, unknown> = {}
  for (const f of fields) o[f.name] = defaultOf(f)
  return o
}

function scalar(r: Rand, f: FieldSchema): unknown {
  switch (f.type) {
    case 'bool':
      return r() < 0.5
    case 'int8':
      return pick(r, [0, -1, 1, 127, -128, int(r, -128, 127)])
    case 'int16':
      return pick(r, [0, -1, 32767, -32768, int(r, -32768, 32767)])
    case 'uint16':
      return pick(r, [0, 65535, int(r, 0, 65535)])
    case 'int32':
      return pick(r, [0, -1, 2147483647, -2147483648, int(r, -2147483648, 2147483647)])
    case 'uint32':
      return pick(r, [0, 4294967295, int(r, 0, 4294967295)])
    case 'int64':
      return pick(r, [0n, -1n, 9223372036854775807n, -9223372036854775808n, BigInt(int(r, -1e9, 1e9)) * 1000003n])
    case 'float64':
      return pick(r, [0, 1.5, -2.25e300, Number.MAX_VALUE, int(r, -1e6, 1e6) / 7])
    case 'string':
      return pick(r, STRINGS)
    case 'uuid': {
      const b = new Uint8Array(16)
      for (let i = 0; i < 16; i++) b[i] = int(r, 0, 255)
      return r() < 0.2 ? ZERO_UUID : uuidToString(b)
    }
    case 'bytes':
    case 'records': {
      const n = pick(r, [0, 1, 7, 70, 5000]) // 5000: above the Writer's zero-copy threshold
      const b = new Uint8Array(n)
      for (let i = 0; i < n; i++) b[i] = int(r, 0, 255)
      return b
    }
    /* c8 ignore next 2 */
    default:
      throw new Error(`not a scalar: ${f.type}`)
  }
}

export interface Sample {
  /** What the test gives the encoder (optional fields sometimes left out). */
  input: Record<string, unknown>
  /** What the decoder must return: every field, defaults for those the version lacks. */
  expected: Record<string, unknown>
}

/** A random message for `version`; `full`: every optional field set (tagged ones non-default where possible). */
export function sample(schema: MessageSchema, version: number, r: Rand, full = false): Sample {
  const used: number[] = []
  for (let v = schema.versions[0]; v <= schema.versions[1]; v++) used.push(v)
  return sampleStruct(schema.fields, version, r, full, 0, used)
}

/**
 * `used`: the generated versions in which the struct travels. A field that some of them lack
 * (or carry tagged) is optional in the encoder's input type: sometimes left out.
 */
function sampleStruct(fields: readonly FieldSchema[], version: number, r: Rand, full: boolean, depth: number, used: number[]): Sample {
  const input: Record<string, unknown> = {}
  const expected: Record<string, unknown> = {}
  for (const f of fields) {
    if (!inVersions(version, f.versions)) {
      expected[f.name] = defaultOf(f)
      continue
    }
    const optional = !used.every((v) => inVersions(v, f.versions) && !inVersions(v, f.taggedVersions))
    if (optional && !full && r() < 0.25) {
      expected[f.name] = defaultOf(f) // left out: the encoder writes the default
      continue
    }
    const v = sampleValue(f, version, r, full, depth, used.filter((u) => inVersions(u, f.versions)))
    input[f.name] = v.input
    expected[f.name] = v.expected
  }
  return { input, expected }
}

function sampleValue(f: FieldSchema, version: number, r: Rand, full: boolean, depth: number, used: number[]): { input: unknown; expected: unknown } {
  const nullable = inVersions(version, f.nullableVersions)
  if (nullable && !full && r() < 0.25) return { input: null, expected: null }
  if (f.array) {
    const n = full ? 2 : int(r, 0, depth > 1 ? 2 : 3)
    const input: unknown[] = []
    const expected: unknown[] = []
    for (let i = 0; i < n; i++) {
      const e = f.type === 'struct' ? sampleStruct(f.fields!, version, r, full, depth + 1, used) : { input: scalar(r, f), expected: undefined }
      input.push(e.input)
      expected.push(e.expected === undefined ? e.input : e.expected)
    }
    return { input, expected }
  }
  if (f.type === 'struct') return sampleStruct(f.fields!, version, r, full, depth + 1, used)
  const v = scalar(r, f)
  return { input: v, expected: v }
}

/** A JSON-comparable form: bytes as hex, bigints as "123n". */
export function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return `0x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`
  if (typeof v === 'bigint') return `${v}n`
  if (Array.isArray(v)) return v.map(plain)
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {}
    for (const k of Object.keys(v).sort()) o[k] = plain((v as Record<string, unknown>)[k])
    return o
  }
  return v
}

function isDefault(f: FieldSchema, v: unknown): boolean {
  return JSON.stringify(plain(v)) === JSON.stringify(plain(defaultOf(f)))
}

/**
 * Encodes `value` (a complete message, as `Sample.expected`) at `version` by walking the
 * description: the reference the generated encoders must match byte for byte.
 */
export function referenceEncode(schema: MessageSchema, version: number, value: Record<string, unknown>, w: Writer): void {
  const flexible = inVersions(version, schema.flexibleVersions)
  writeStruct(schema.fields, version, flexible, value, w)
}

function writeStruct(fields: readonly FieldSchema[], version: number, flexible: boolean, value: Record<string, unknown>, w: Writer): void {
  const tagged: FieldSchema[] = []
  for (const f of fields) {
    if (!inVersions(version, f.versions)) continue
    if (inVersions(version, f.taggedVersions)) tagged.push(f)
    else writeField(f, version, flexible, value[f.name], w)
  }
  if (!flexible) return
  const present = tagged.filter((f) => !isDefault(f, value[f.name])).sort((a, b) => a.tag! - b.tag!)
  w.taggedFields(present.map((f) => [f.tag!, (tw: Writer) => writeField(f, version, flexible, value[f.name], tw)] as const))
}

function writeField(f: FieldSchema, version: number, flexible: boolean, v: unknown, w: Writer): void {
  const compact = f.flexibleVersions !== undefined ? inVersions(version, f.flexibleVersions) : flexible
  if (f.array) {
    const a = v as unknown[] | null
    if (compact) w.compactArrayLength(a === null ? null : a.length)
    else w.arrayLength(a === null ? null : a.length)
    for (const e of a ?? []) writeElement(f, version, flexible, compact, e, w)
    return
  }
  if (f.type === 'struct' && inVersions(version, f.nullableVersions)) {
    if (v === null) return void w.int8(-1)
    w.int8(1)
  }
  writeElement(f, version, flexible, compact, v, w)
}

function writeElement(f: FieldSchema, version: number, flexible: boolean, compact: boolean, v: unknown, w: Writer): void {
  switch (f.type) {
    case 'struct':
      return writeStruct(f.fields!, version, flexible, v as Record<string, unknown>, w)
    case 'string':
      if (v === null) return void (compact ? w.uvarint(0) : w.int16(-1))
      return void (compact ? w.compactString(v as string) : w.string(v as string))
    case 'bytes':
    case 'records':
      if (v === null) return void (compact ? w.uvarint(0) : w.int32(-1))
      return void (compact ? w.compactBytes(v as Uint8Array) : w.bytes(v as Uint8Array))
    case 'int64':
      return void w.int64(v as bigint)
    case 'uuid':
      return void w.uuid(v as string)
    case 'bool':
      return void w.bool(v as boolean)
    default:
      return void (w[f.type] as (x: number) => Writer).call(w, v as number)
  }
}
