/**
 * The shape of Kafka's JSON message specs, as the generator (scripts/gen-kafka-codecs.ts)
 * emits it beside each generated codec (`metadataRequestSchema`, ...). The codecs do not
 * read it: it describes them, for generic tools and tests (sample data, reference
 * encodings, printing).
 *
 * Versions are inclusive [from, to] pairs, `to` being 32767 (Kafka's Short.MAX_VALUE) for
 * the open-ended "N+"; null is "none".
 */

export type Versions = readonly [from: number, to: number] | null

/** Kafka's Short.MAX_VALUE, the upper end of an open version range ("3+"). */
export const OPEN_VERSION = 0x7fff

export type FieldType =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'float64'
  | 'string'
  | 'bytes'
  | 'records'
  | 'uuid'
  | 'struct'

export interface FieldSchema {
  /** The property name in the generated types: Kafka's name with a lower-case first letter. */
  readonly name: string
  /** The name in the spec (`ThrottleTimeMs`). */
  readonly kafkaName: string
  /** The element type for arrays. */
  readonly type: FieldType
  readonly array: boolean
  /** The generated type's name, for `struct`. */
  readonly structName?: string
  readonly versions: Versions
  readonly nullableVersions: Versions
  /** The versions in which the field travels in the tagged-field buffer, under `tag`. */
  readonly taggedVersions: Versions
  readonly tag?: number
  /** A field-level override of the message's flexible versions (RequestHeader.ClientId). */
  readonly flexibleVersions?: Versions
  /** Whether a non-default value may be dropped silently at a version without the field. */
  readonly ignorable: boolean
  /**
   * The value a field takes when a version does not carry it. Absent: the type's empty
   * value (an empty array, empty bytes, a struct of defaults).
   */
  readonly default?: number | bigint | boolean | string | null
  /** The fields of a struct (or of each element of an array of structs). */
  readonly fields?: readonly FieldSchema[]
}

export interface MessageSchema {
  /** `MetadataRequest` */
  readonly name: string
  readonly apiKey: number
  readonly kind: 'request' | 'response'
  /** The versions the spec defines. */
  readonly validVersions: Versions
  readonly flexibleVersions: Versions
  /** The versions generated (and so supported). */
  readonly versions: readonly [from: number, to: number]
  /** Only the fields that some generated version carries. */
  readonly fields: readonly FieldSchema[]
}

/** Whether `version` is in `versions`. */
export function inVersions(version: number, versions: Versions): boolean {
  return versions !== null && version >= versions[0] && version <= versions[1]
}
