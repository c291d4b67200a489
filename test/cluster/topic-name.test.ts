import t from 'tap'
import { hasCollisionChars, isValidTopicName, topicNameProblem, unifyCollisionChars } from '../../src/cluster/topic-name.ts'

t.test("Kafka's topic name rules and messages", async (t) => {
  for (const ok of ['a', 'A-z_0.9', 'x'.repeat(249), '...', '__consumer_offsets']) t.ok(isValidTopicName(ok), ok)
  t.equal(topicNameProblem(''), "Topic name is illegal, it can't be empty")
  t.equal(topicNameProblem('.'), 'Topic name cannot be "." or ".."')
  t.equal(topicNameProblem('..'), 'Topic name cannot be "." or ".."')
  t.equal(topicNameProblem('x'.repeat(250)), `Topic name is illegal, it can't be longer than 249 characters, topic name: ${'x'.repeat(250)}`)
  for (const bad of ['a b', 'a/b', 'é', 'a:b', 'a\n']) {
    t.equal(topicNameProblem(bad), `Topic name "${bad}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`)
  }
  t.ok(hasCollisionChars('a.b') && hasCollisionChars('a_b') && !hasCollisionChars('a-b'))
  t.equal(unifyCollisionChars('a.b_c'), 'a_b_c')
})
