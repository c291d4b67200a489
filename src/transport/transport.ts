/**
 * Transport — how a broker node reaches its peers: listen for and dial duplex byte streams.
 * Three implementations share it: hyperswarm (Node; discovery by the cluster's topic, NAT
 * traversal, Noise encryption), TCP (every runtime; a static seed list), and a simulated,
 * seeded in-memory network with per-link faults. What crosses a stream is the peer protocol
 * (src/protocol/peer), the same bytes on every transport; authentication is the peer
 * protocol's job, not the transport's.
 *
 * Contract:
 *   - a PeerStream delivers bytes in order, once, until it ends or errors (as TCP);
 *   - `write` returns false when the stream's buffer is above its high-water mark; the writer
 *     waits for 'drain' (backpressure: a slow peer slows its sender);
 *   - every stream ends with exactly one 'close' event, after 'end' or 'error';
 *   - errors are events on the stream, never thrown from a callback and never unhandled.
 */

/** A duplex byte stream to one peer (a node:stream Duplex satisfies it). */
export interface PeerStream {
  write(chunk: Uint8Array): boolean
  end(): void
  destroy(error?: Error): void
  on(event: 'data', listener: (chunk: Uint8Array) => void): this
  on(event: 'drain' | 'end' | 'close', listener: () => void): this
  on(event: 'error', listener: (error: Error) => void): this
  pause(): this
  resume(): this
  readonly destroyed: boolean
}

/** Where a stream came from, for logs and the membership table. */
export interface StreamInfo {
  /** 'hyperswarm' | 'tcp' | 'sim'. */
  transport: string
  /** Remote address as the transport knows it (host:port, or a hyperswarm public key in hex). */
  remote: string
  /** True when this side dialled. */
  initiator: boolean
  /**
   * A stable identity of the remote side when the transport has one (hyperswarm: the remote
   * Noise public key). The peer protocol's authentication binds to it when present.
   */
  remotePublicKey: Uint8Array | null
  /** This side's key on this stream (hyperswarm: the local Noise public key); null when none. */
  localPublicKey: Uint8Array | null
}

export interface Transport {
  readonly name: string
  /** Starts accepting (and, for hyperswarm, discovering); each new stream goes to `onStream`. */
  listen(onStream: (stream: PeerStream, info: StreamInfo) => void): Promise<void>
  /** Dials a peer by address (TCP, sim); transports that discover peers themselves may not support it. */
  connect(address: string): Promise<{ stream: PeerStream; info: StreamInfo }>
  /** The address peers dial to reach this node, once listening (null when it has none). */
  address(): string | null
  /** Stops accepting and dialling and destroys every stream it made. Idempotent. */
  close(): Promise<void>
}
