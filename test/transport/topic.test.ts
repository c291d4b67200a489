import t from 'tap'
import { clusterTopic, topicBytes } from '../../src/transport/topic.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

t.test('the topic is 32 bytes derived from the secret, the same on every node and every version', async (t) => {
  const topic = clusterTopic('correct horse battery staple')
  t.equal(topic.length, topicBytes)
  t.equal(topicBytes, 32)
  // Pinned: nodes of two peerlog versions must land on the same topic.
  t.equal(hex(topic), 'f1778d7f7005268d603b8c8c72150efd2f71a92e2469621ede2012c6256fa5a2')
  t.equal(hex(clusterTopic(new TextEncoder().encode('correct horse battery staple'))), hex(topic), 'a string secret is its UTF-8 bytes')
})

t.test('another secret gives another topic, and the topic does not carry the secret', async (t) => {
  const secret = new Uint8Array(32).fill(7)
  const topic = clusterTopic(secret)
  t.not(hex(clusterTopic(new Uint8Array(32).fill(8))), hex(topic))
  t.not(hex(topic), hex(secret))
  t.notOk(hex(topic).includes(hex(secret.subarray(0, 8))), 'no run of the secret shows in it')
})

t.test('an empty secret is refused', async (t) => {
  t.throws(() => clusterTopic(''), /cluster secret is empty/)
  t.throws(() => clusterTopic(new Uint8Array(0)), /cluster secret is empty/)
})
