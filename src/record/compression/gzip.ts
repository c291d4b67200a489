/**
 * gzip (Kafka compression type 1): an RFC 1952 gzip stream of the batch's records
 * section, as Java's GZIPOutputStream writes it. node:zlib is present on Node, Deno
 * and Bun alike. Decompression accepts concatenated gzip members, as zlib does.
 */
import { gunzipSync, gzipSync } from 'node:zlib'

/** Kafka's default (`compression.gzip.level` unset) is zlib's default, 6. */
export const GZIP_DEFAULT_LEVEL = 6

export function gzipCompress(bytes: Uint8Array, level = GZIP_DEFAULT_LEVEL): Uint8Array {
  return gzipSync(bytes, { level })
}

export function gzipDecompress(bytes: Uint8Array): Uint8Array {
  return gunzipSync(bytes)
}
