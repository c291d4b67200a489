// The checks every generated codec must pass, at every version it supports; used by
// codecs.test.ts (the committed codecs) and generator.test.ts (every API of the spec folder).
// They return the problems found, as text, so that a test asserts one empty list per message
// and version instead of thousands of assertions.
import { ProtocolDecodeError, ProtocolEncodeError, Reader, Writer, ZERO_UUID } from '../../../src/protocol/kafka/primitives.ts'
import { inVersions, type FieldSchema, type MessageSchema } from '../../../src/protocol/kafka/schema.ts'
import { defaultOf, defaultStruct, plain, referenceEncode, rng, sample } from './schema-tools.ts'

export interface MessageCodec {
  schema: MessageSchema
  encode(version: number, data: never, writer: Writer): void
  decode(version: number, reader: Reader): unknown
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
const same = (a: unknown, b: unknown) => JSON.stringify(plain(a)) === JSON.stringify(plain(b))

function encode(c: MessageCodec, version: number, data: unknown): Uint8Array {
  const w = new Writer(16)
  c.encode(version, data as never, w)
  return w.finish()
}

/** Decoding `bytes` either works or throws ProtocolDecodeError; anything else is a problem. */
function decodeSafely(c: MessageCodec, version: number, bytes: Uint8Array): { ok: true; value: unknown; remaining: number } | { ok: false; error: unknown } {
  try {
    const r = new Reader(bytes)
    const value = c.decode(version, r)
    return { ok: true, value, remaining: r.remaining }
  } catch (error) {
    return { ok: false, error }
  }
}

/**
 * For `seeds` random samples (the first with every optional field set): the generated encoder
 * matches the reference encoder byte for byte; decoding gives back the complete message and
 * consumes every byte; re-encoding what was decoded gives the same bytes; every strict
 * prefix fails to decode with ProtocolDecodeError; corrupted bytes and random bytes decode
 * or fail with ProtocolDecodeError, never anything else.
 */
export function checkRoundTrips(c: MessageCodec, version: number, seeds: number): string[] {
  const problems: string[] = []
  const name = `${c.schema.name} v${version}`
  for (let seed = 0; seed < seeds; seed++) {
    const r = rng(seed * 7919 + version * 31 + c.schema.apiKey)
    const s = sample(c.schema, version, r, seed === 0)
    const at = `${name} seed ${seed}`
    let bytes: Uint8Array
    try {
      bytes = encode(c, version, s.input)
    } catch (e) {
      problems.push(`${at}: encode threw ${String(e)}`)
      continue
    }
    const ref = new Writer(16)
    referenceEncode(c.schema, version, s.expected, ref)
    if (hex(ref.finish()) !== hex(bytes)) problems.push(`${at}: bytes differ from the reference encoding\n  got ${hex(bytes)}\n  ref ${hex(ref.finish())}`)
    const d = decodeSafely(c, version, bytes)
    if (!d.ok) {
      problems.push(`${at}: decode threw ${String(d.error)}`)
      continue
    }
    if (d.remaining !== 0) problems.push(`${at}: decode left ${d.remaining} bytes`)
    if (!same(d.value, s.expected)) problems.push(`${at}: decoded ${JSON.stringify(plain(d.value))}\n  expected ${JSON.stringify(plain(s.expected))}`)
    const again = encode(c, version, d.value)
    if (hex(again) !== hex(bytes)) problems.push(`${at}: re-encoding the decoded message changed the bytes`)
    // Every strict prefix must fail, with ProtocolDecodeError (at most ~600 of them).
    const step = Math.max(1, Math.floor(bytes.length / 600))
    for (let n = 0; n < bytes.length; n += step) {
      const p = decodeSafely(c, version, bytes.subarray(0, n))
      if (p.ok) problems.push(`${at}: the first ${n} of ${bytes.length} bytes decoded`)
      else if (!(p.error instanceof ProtocolDecodeError)) problems.push(`${at}: the first ${n} bytes threw ${String(p.error)}`)
    }
    // Corruptions: one byte set to a random value, or to 0xff / 0x7f (huge lengths).
    for (let i = 0; i < 40 && bytes.length > 0; i++) {
      const copy = bytes.slice()
      copy[Math.floor(r() * copy.length)] = [Math.floor(r() * 256), 0xff, 0x7f][i % 3]!
      const p = decodeSafely(c, version, copy)
      if (!p.ok && !(p.error instanceof ProtocolDecodeError)) problems.push(`${at}: corrupted bytes threw ${String(p.error)}`)
    }
  }
  const r = rng(version + 1)
  for (let i = 0; i < 60; i++) {
    const junk = new Uint8Array(Math.floor(r() * 80))
    for (let j = 0; j < junk.length; j++) junk[j] = r() < 0.3 ? 0xff : Math.floor(r() * 256)
    const p = decodeSafely(c, version, junk)
    if (!p.ok && !(p.error instanceof ProtocolDecodeError)) problems.push(`${name}: random bytes ${hex(junk)} threw ${String(p.error)}`)
  }
  return problems
}

/** A value of the field's type that is not its default. */
function nonDefault(f: FieldSchema): unknown {
  const d = defaultOf(f)
  if (f.array) return d === null ? [] : [f.type === 'struct' ? defaultStruct(f.fields ?? []) : elementOf(f)]
  switch (f.type) {
    case 'bool':
      return !d
    case 'int64':
      return (d as bigint) + 1n
    case 'string':
      return d === null ? '' : `${d as string}x`
    case 'uuid':
      return 'AQIDBAUGBwgJCgsMDQ4PEA'
    case 'bytes':
    case 'records':
      return new Uint8Array([1])
    case 'struct': {
      if (d === null) return defaultStruct(f.fields ?? [])
      const first = f.fields![0]!
      return { ...defaultStruct(f.fields!), [first.name]: nonDefault(first) }
    }
    default:
      return (d as number) === 0 ? 1 : 0
  }
}

function elementOf(f: FieldSchema): unknown {
  switch (f.type) {
    case 'int64':
      return 0n
    case 'string':
      return ''
    case 'uuid':
      return ZERO_UUID
    case 'bool':
      return false
    default:
      return 0
  }
}

/** Every field reachable in `value` (through the first element of arrays of structs), with its path. */
function* fieldPaths(fields: readonly FieldSchema[], version: number, value: Record<string, unknown>, path: (string | number)[] = []): Generator<[FieldSchema, (string | number)[]]> {
  for (const f of fields) {
    yield [f, [...path, f.name]]
    if (f.type !== 'struct' || !inVersions(version, f.versions)) continue
    const v = value[f.name]
    if (f.array && Array.isArray(v) && v.length > 0) yield* fieldPaths(f.fields!, version, v[0] as Record<string, unknown>, [...path, f.name, 0])
    else if (!f.array && v !== null && v !== undefined) yield* fieldPaths(f.fields!, version, v as Record<string, unknown>, [...path, f.name])
  }
}

function withValue(input: Record<string, unknown>, path: (string | number)[], v: unknown): Record<string, unknown> {
  const copy = structuredClone(input)
  let o = copy as Record<string | number, unknown>
  for (const p of path.slice(0, -1)) o = o[p] as Record<string | number, unknown>
  o[path[path.length - 1]!] = v
  return copy
}

/**
 * Encoder rules at `version`, for every field (nested ones too): a field the version lacks is
 * dropped when it is ignorable or holds its default, and refused (ProtocolEncodeError)
 * otherwise, as Kafka does; null is refused where the version does not allow it.
 */
export function checkEncoderRules(c: MessageCodec, version: number): string[] {
  const problems: string[] = []
  const name = `${c.schema.name} v${version}`
  const base = sample(c.schema, version, rng(version), true)
  const baseBytes = hex(encode(c, version, base.input))
  for (const [f, path] of fieldPaths(c.schema.fields, version, base.input)) {
    const at = `${name} ${path.join('.')}`
    if (inVersions(version, f.versions)) {
      const nullableSomewhere = f.nullableVersions !== null && f.nullableVersions[0] <= c.schema.versions[1] && f.nullableVersions[1] >= c.schema.versions[0]
      if (nullableSomewhere && !inVersions(version, f.nullableVersions)) {
        try {
          encode(c, version, withValue(base.input, path, null))
          problems.push(`${at}: null (not nullable at this version) was written`)
        } catch (e) {
          if (!(e instanceof ProtocolEncodeError)) problems.push(`${at}: null threw ${String(e)}`)
        }
      }
      continue
    }
    const withDefault = hex(encode(c, version, withValue(base.input, path, defaultOf(f))))
    if (withDefault !== baseBytes) problems.push(`${at}: its default, absent at this version, changed the bytes`)
    try {
      const bytes = hex(encode(c, version, withValue(base.input, path, nonDefault(f))))
      if (!f.ignorable) problems.push(`${at}: a value, absent and not ignorable, was dropped silently`)
      else if (bytes !== baseBytes) problems.push(`${at}: ignorable, but it changed the bytes`)
    } catch (e) {
      if (f.ignorable || !(e instanceof ProtocolEncodeError)) problems.push(`${at} (ignorable: ${f.ignorable}) threw ${String(e)}`)
      else if (!e.message.includes(`${c.schema.name} v${version}: ${f.name} is not in this version`)) problems.push(`${at}: message ${e.message}`)
    }
  }
  return problems
}

/** Versions outside the supported range are refused by both sides. */
export function checkUnsupportedVersions(c: MessageCodec): string[] {
  const problems: string[] = []
  for (const v of [c.schema.versions[0] - 1, c.schema.versions[1] + 1, -1, 32767]) {
    try {
      c.encode(v, {} as never, new Writer())
      problems.push(`${c.schema.name}: encoding v${v} worked`)
    } catch (e) {
      if (!(e instanceof ProtocolEncodeError) || !e.message.includes(`${c.schema.name} v${v}: version ${v} is not supported`)) problems.push(`${c.schema.name} v${v}: encode threw ${String(e)}`)
    }
    try {
      c.decode(v, new Reader(new Uint8Array(8)))
      problems.push(`${c.schema.name}: decoding v${v} worked`)
    } catch (e) {
      if (!(e instanceof ProtocolDecodeError) || !e.message.includes(`${c.schema.name} v${v}: version ${v} is not supported`)) problems.push(`${c.schema.name} v${v}: decode threw ${String(e)}`)
    }
  }
  return problems
}
