/** Types for snappyjs (a CommonJS package that ships none): the raw snappy block codec. */
declare module 'snappyjs' {
  interface SnappyJS {
    /** One raw snappy block (uncompressed-length varint + elements). */
    compress(input: Uint8Array): Uint8Array
    /** Throws on a malformed block, or when the block announces more than `maxLength` bytes. */
    uncompress(input: Uint8Array, maxLength?: number): Uint8Array
  }
  const snappy: SnappyJS
  export default snappy
}
