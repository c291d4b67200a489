/**
 * KafkaError: what the client throws or rejects with for anything the broker or the network
 * did. `code` is Kafka's protocol error code (error-codes.ts), `name` its name
 * (`NOT_LEADER_OR_FOLLOWER`), `retriable` whether Kafka's clients retry it. Conditions the
 * client detects itself map to the code Kafka's Java client would surface for them: a lost
 * connection is NETWORK_EXCEPTION, a request or delivery that ran out of time is
 * REQUEST_TIMED_OUT.
 *
 * ConfigError is a bad client config: one line naming the key and what it accepts.
 */
import { ErrorCode, errorName, isRetriable } from '../protocol/kafka/error-codes.ts'

export class KafkaError extends Error {
  override readonly name: string
  readonly code: number
  readonly retriable: boolean
  constructor(code: number, message?: string, options?: { retriable?: boolean; cause?: unknown }) {
    const name = errorName(code)
    super(message ?? name, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = name
    this.code = code
    this.retriable = options?.retriable ?? isRetriable(code)
  }
}

/** The error for a non-zero code from a response, with where it came from; null for NONE. */
export function responseError(code: number, where: string, brokerMessage?: string | null): KafkaError | null {
  if (code === ErrorCode.NONE) return null
  return new KafkaError(code, `${errorName(code)} for ${where}${brokerMessage ? `: ${brokerMessage}` : ''}`)
}

export function networkError(message: string, cause?: unknown): KafkaError {
  return new KafkaError(ErrorCode.NETWORK_EXCEPTION, message, { cause })
}

export function timeoutError(message: string): KafkaError {
  return new KafkaError(ErrorCode.REQUEST_TIMED_OUT, message)
}

/** A client config that is invalid: `key` and a one-line message saying what it accepts. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message)
  }
}
