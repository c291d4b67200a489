/**
 * Topic names, by Kafka's rules (org.apache.kafka.common.internals.Topic): ASCII letters,
 * digits, '.', '_' and '-'; at most 249 characters; not '.' or '..'. The messages are Kafka's,
 * as clients show them with INVALID_TOPIC_EXCEPTION.
 *
 * '.' and '_' collide in metric names, so Kafka refuses a topic whose name differs from an
 * existing one only by those (`a.b` beside `a_b`) and warns about any name holding either.
 */
export const MAX_TOPIC_NAME_LENGTH = 249

const LEGAL = /^[a-zA-Z0-9._-]+$/

/** Kafka's message for an illegal name, or null when the name is legal. */
export function topicNameProblem(name: string): string | null {
  if (name.length === 0) return "Topic name is illegal, it can't be empty"
  if (name === '.' || name === '..') return 'Topic name cannot be "." or ".."'
  if (name.length > MAX_TOPIC_NAME_LENGTH) return `Topic name is illegal, it can't be longer than ${MAX_TOPIC_NAME_LENGTH} characters, topic name: ${name}`
  if (!LEGAL.test(name)) return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`
  return null
}

export function isValidTopicName(name: string): boolean {
  return topicNameProblem(name) === null
}

/** Whether the name holds '.' or '_', which collide in metric names. */
export function hasCollisionChars(name: string): boolean {
  return name.includes('.') || name.includes('_')
}

/** The name with '.' made '_': two names with the same unified form collide. */
export function unifyCollisionChars(name: string): string {
  return name.replace(/\./g, '_')
}

/** What kafka-topics.sh prints when a topic name holds '.' or '_'. */
export const COLLISION_WARNING =
  "Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both."

/** The internal topics Kafka's clients see flagged `is_internal`. */
export const INTERNAL_TOPICS: ReadonlySet<string> = new Set(['__consumer_offsets', '__transaction_state'])

/** The metadata log's topic: never a user topic. */
export const METADATA_TOPIC = '__cluster_metadata'
