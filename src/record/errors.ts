/**
 * CorruptRecordError: bytes that do not parse as Kafka records or batches (Kafka's
 * CorruptRecordException / InvalidRecordException), thrown by every decoder in
 * src/record, including a codec failing on a compressed records section.
 *
 * It carries the Kafka error code the broker answers with (CORRUPT_MESSAGE, 2,
 * retriable), the same shape as src/log's errors, so the protocol layer maps both
 * alike; src/record does not depend on src/log, hence a class of its own.
 */
export class CorruptRecordError extends Error {
  override readonly name = 'CorruptRecordError'
  /** CORRUPT_MESSAGE. */
  readonly errorCode = 2
  readonly retriable = true
}
