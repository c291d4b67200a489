/**
 * Handlers build one response shape for every version; `forVersion` drops the fields a
 * version does not carry (by the message schema), so that the encoder, which refuses to lose
 * a non-default value silently, writes what that version has. Messages whose every field is
 * in the version are passed through untouched (checked once per API and version).
 */
import { type FieldSchema, inVersions, type MessageSchema } from '../schema.ts'

const needsPruning = new Map<string, boolean>()

function anyOutside(fields: readonly FieldSchema[], version: number): boolean {
  return fields.some((f) => !inVersions(version, f.versions) || (f.fields !== undefined && anyOutside(f.fields, version)))
}

function prune(fields: readonly FieldSchema[], version: number, data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...data }
  for (const f of fields) {
    if (!inVersions(version, f.versions)) {
      delete out[f.name]
      continue
    }
    if (f.fields === undefined) continue
    const v = out[f.name]
    if (Array.isArray(v)) out[f.name] = v.map((e) => (e !== null && typeof e === 'object' ? prune(f.fields!, version, e as Record<string, unknown>) : e))
    else if (v !== null && typeof v === 'object') out[f.name] = prune(f.fields, version, v as Record<string, unknown>)
  }
  return out
}

export function forVersion<T>(schema: MessageSchema, version: number, data: T): T {
  const key = `${schema.name}:${version}`
  let needed = needsPruning.get(key)
  if (needed === undefined) needsPruning.set(key, (needed = anyOutside(schema.fields, version)))
  return needed ? (prune(schema.fields, version, data as Record<string, unknown>) as T) : data
}
