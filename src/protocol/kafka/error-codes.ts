/**
 * Kafka's protocol error codes: `ErrorCode.UNKNOWN_TOPIC_OR_PARTITION` (3) and the rest,
 * generated from the message specs' error-codes.csv (generated/error-codes.ts), with lookups.
 */
import { ERRORS, type ErrorInfo } from './generated/error-codes.ts'

export { ErrorCode, ERRORS, type ErrorInfo } from './generated/error-codes.ts'

const BY_CODE: ReadonlyMap<number, ErrorInfo> = new Map(ERRORS.map((e) => [e.code, e]))

/** The error with this code, or undefined for a code Kafka does not define. */
export function errorInfo(code: number): ErrorInfo | undefined {
  return BY_CODE.get(code)
}

/** The name of an error code (`UNKNOWN_TOPIC_OR_PARTITION`), or `UNKNOWN_ERROR_CODE(n)`. */
export function errorName(code: number): string {
  return BY_CODE.get(code)?.name ?? `UNKNOWN_ERROR_CODE(${code})`
}

/** Whether Kafka's clients retry this error; false for unknown codes. */
export function isRetriable(code: number): boolean {
  return BY_CODE.get(code)?.retriable ?? false
}
