/**
 * zstd (Kafka compression type 4, KIP-110): one or more Zstandard frames (RFC 8878)
 * holding the batch's records section.
 *
 * Decompression: fzstd (pure JS, synchronous, no start-up cost). It reads frames with
 * or without a content size, as Java's zstd-jni streams and librdkafka write them.
 *
 * Compression: @hpcc-js/wasm-zstd, the reference libzstd compiled to WebAssembly with the
 * module embedded in the package (no file or network fetch). Instantiating it is
 * asynchronous and takes 60-100 ms, so it is not done at import: a producer or the
 * log cleaner that writes zstd batches awaits loadZstdEncoder() (through
 * compression/index.ts's loadCodec) once, after which compression is synchronous.
 */
import { decompress as fzstdDecompress } from 'fzstd'

/** Kafka's default `compression.zstd.level` (ZSTD_CLEVEL_DEFAULT). */
export const ZSTD_DEFAULT_LEVEL = 3

interface ZstdEncoder {
  compress(data: Uint8Array, compressionLevel?: number): Uint8Array
}

let encoder: ZstdEncoder | null = null
let loading: Promise<void> | null = null

export function isZstdEncoderLoaded(): boolean {
  return encoder !== null
}

/** Instantiates the zstd encoder (once; later calls share the first). */
export function loadZstdEncoder(): Promise<void> {
  loading ??= import('@hpcc-js/wasm-zstd').then(
    async ({ Zstd }) => {
      encoder = await Zstd.load()
    },
  )
  return loading
}

export function zstdCompress(bytes: Uint8Array, level = ZSTD_DEFAULT_LEVEL): Uint8Array {
  if (encoder === null) {
    throw new Error('zstd compression needs its encoder instantiated first: await loadCodec(Compression.zstd)')
  }
  return encoder.compress(bytes, level)
}

export function zstdDecompress(bytes: Uint8Array): Uint8Array {
  return fzstdDecompress(bytes)
}
