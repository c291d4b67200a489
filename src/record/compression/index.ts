/**
 * The codecs a RecordBatch's records section may be compressed with: attributes bits
 * 0-2 (Kafka's CompressionType ids), and what each codec's bytes are.
 *
 *   0 none     the records, as they are
 *   1 gzip     RFC 1952 stream                      node:zlib (built into all three runtimes)
 *   2 snappy   xerial framing, or one raw block     snappyjs (pure JS) + our xerial framing
 *   3 lz4      LZ4 frame format (KIP-57)            our own frame and block codec
 *   4 zstd     Zstandard frames (KIP-110)           fzstd (decode), @hpcc-js/wasm-zstd (encode)
 *
 * Why these (everything must run unchanged on Node, Deno and Bun, so no native add-ons):
 * - snappyjs: the established pure-JS snappy (MIT, no dependencies), fast enough;
 *   Kafka's xerial framing around it is a few lines here (snappy.ts).
 * - lz4: no npm package fits. lz4js, the pure-JS candidate, writes dependent-block
 *   frames that Kafka's Java consumer rejects, breaks the end-of-block rule liblz4
 *   checks, and is unmaintained; the wasm builds either fetch their .wasm from disk or
 *   need a bundler. lz4.ts is ~300 lines, checked against the lz4 1.9.4 CLI both ways.
 * - fzstd: pure-JS zstd decoder by 101arrowz (MIT, no dependencies), synchronous.
 * - @hpcc-js/wasm-zstd: libzstd 1.5.7 as wasm embedded in the JS (Apache-2.0, no
 *   dependencies, maintained by HPCC Systems); the only maintained zstd *encoder* we
 *   found that needs no native add-on and no fetch of a .wasm file. Its instantiation is
 *   asynchronous: call `await loadCodec(Compression.zstd)` before compressing with zstd.
 *   (@bokuweb/zstd-wasm reads its .wasm from disk; zstd-codec is unmaintained since 2018.)
 *
 * Names are Kafka's `compression.type` values, so `Compression[config]` maps a config
 * string to its id. A const object rather than an enum: erasable syntax only, so the
 * sources also run under Node's type stripping.
 */
import { CorruptRecordError } from '../errors.ts'
import { gzipCompress, gzipDecompress } from './gzip.ts'
import { lz4Compress, lz4Decompress } from './lz4.ts'
import { snappyCompress, snappyDecompress } from './snappy.ts'
import { isZstdEncoderLoaded, loadZstdEncoder, zstdCompress, zstdDecompress } from './zstd.ts'

export const Compression = {
  none: 0,
  gzip: 1,
  snappy: 2,
  lz4: 3,
  zstd: 4,
} as const
export type Compression = (typeof Compression)[keyof typeof Compression]
export type CompressionName = keyof typeof Compression

const NAMES: readonly CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd']

export function isCompression(id: number): id is Compression {
  return Number.isInteger(id) && id >= 0 && id < NAMES.length
}

export function compressionName(codec: Compression): CompressionName {
  const name = NAMES[codec]
  if (name === undefined) throw new RangeError(`unknown compression type id ${codec}`)
  return name
}

/**
 * Makes `codec` ready for compress(): resolves at once for every codec but zstd, whose
 * wasm encoder is instantiated on first call. Decompression never needs this.
 */
export function loadCodec(codec: Compression): Promise<void> {
  return codec === Compression.zstd ? loadZstdEncoder() : Promise.resolve()
}

/** Whether compress(codec, ...) can run now (false only for zstd before loadCodec). */
export function isCodecLoaded(codec: Compression): boolean {
  return codec !== Compression.zstd || isZstdEncoderLoaded()
}

/**
 * Compresses a records section. `level` applies to gzip (1-9) and zstd (as Kafka's
 * compression.<codec>.level); snappy has none, and lz4 has only the fast encoder
 * (Kafka's default level).
 */
export function compress(codec: Compression, bytes: Uint8Array, level?: number): Uint8Array {
  switch (codec) {
    case Compression.none: return bytes
    case Compression.gzip: return gzipCompress(bytes, level)
    case Compression.snappy: return snappyCompress(bytes)
    case Compression.lz4: return lz4Compress(bytes)
    case Compression.zstd: return zstdCompress(bytes, level)
    default: throw new RangeError(`unknown compression type id ${String(codec)}`)
  }
}

/**
 * Decompresses a records section. Malformed input, whichever codec's library detects
 * it, comes out as CorruptRecordError (Kafka answers CORRUPT_MESSAGE).
 */
export function decompress(codec: Compression, bytes: Uint8Array): Uint8Array {
  try {
    switch (codec) {
      case Compression.none: return bytes
      case Compression.gzip: return gzipDecompress(bytes)
      case Compression.snappy: return snappyDecompress(bytes)
      case Compression.lz4: return lz4Decompress(bytes)
      case Compression.zstd: return zstdDecompress(bytes)
      default: throw new CorruptRecordError(`unknown compression type id ${String(codec)}`)
    }
  } catch (e) {
    if (e instanceof CorruptRecordError) throw e
    throw new CorruptRecordError(`${NAMES[codec]} decompression failed: ${String(e)}`, { cause: e })
  }
}
