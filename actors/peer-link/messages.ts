/**
 * What a peer-link actor accepts: one discriminated union. A peer-link actor owns one
 * authenticated, kept link (a PeerConnection) to one peer node; the messages come from the
 * link (what the peer sent, its close), from the actor's own timer (tick) and from the peer
 * node (what to send, when to close).
 */
import type { OneWayMessage, RequestBody, ResponseBody } from '../../src/protocol/peer/messages.ts'
import type { PeerCloseInfo } from '../../src/protocol/peer/peer-connection.ts'

export type PeerLinkMessage =
  /** The timer: `lastReceivedMs` is when the connection last received any frame. */
  | { type: 'tick'; lastReceivedMs: number }
  /** A one-way message from the peer; `done` frees its delivery slot on the link (backpressure). */
  | { type: 'received'; message: OneWayMessage; done: () => void }
  /** A request from the peer; the node's answer goes to `reply`, a failure to `fail`. */
  | { type: 'request'; body: RequestBody; reply: (body: ResponseBody) => void; fail: (error: Error) => void }
  /** The node sends a one-way message to the peer (gossip). */
  | { type: 'send'; message: OneWayMessage }
  /** The node closes the link (goodbye `shutdown`). */
  | { type: 'close'; detail: string }
  /** The link closed (either side, any reason): the actor tells the node and stops. */
  | { type: 'closed'; info: PeerCloseInfo }
