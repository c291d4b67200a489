/**
 * Errors the log raises, each carrying the Kafka error code the broker answers with,
 * so the protocol layer maps them without knowing the log's internals.
 */
export class LogError extends Error {
  /** Kafka error code (../shared/kafka-message-specs/error-codes.csv). */
  readonly errorCode: number
  readonly retriable: boolean
  constructor(name: string, errorCode: number, retriable: boolean, message: string) {
    super(message)
    this.name = name
    this.errorCode = errorCode
    this.retriable = retriable
  }
}

/**
 * A batch fails its CRC, has a bad magic or a length that does not add up: CORRUPT_MESSAGE.
 * One class for the codec and the log, so `instanceof` holds wherever it was thrown.
 */
export { CorruptRecordError } from '../record/errors.ts'

/** A batch larger than `max.message.bytes`: MESSAGE_TOO_LARGE. */
export class RecordTooLargeError extends LogError {
  constructor(message: string) { super('RecordTooLargeError', 10, false, message) }
}

/** A read or delete outside [log start offset, log end offset]: OFFSET_OUT_OF_RANGE. */
export class OffsetOutOfRangeError extends LogError {
  constructor(message: string) { super('OffsetOutOfRangeError', 1, false, message) }
}

/** The disk failed (ENOSPC, EIO, ...): KAFKA_STORAGE_ERROR. The append did not happen. */
export class KafkaStorageError extends LogError {
  override readonly cause: unknown
  constructor(message: string, cause?: unknown) {
    super('KafkaStorageError', 56, true, message)
    this.cause = cause
  }
}

/** A batch whose header contradicts itself (record count versus offset delta): INVALID_RECORD. */
export class InvalidRecordError extends LogError {
  constructor(message: string) { super('InvalidRecordError', 87, false, message) }
}

/** A follower appended batches whose offsets do not continue its log: a replication bug, UNKNOWN_SERVER_ERROR. */
export class UnexpectedAppendOffsetError extends LogError {
  constructor(message: string) { super('UnexpectedAppendOffsetError', -1, false, message) }
}

/** The message of anything thrown, for one-line log and error messages. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
