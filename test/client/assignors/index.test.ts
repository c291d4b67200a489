import t from 'tap'
import { ASSIGNOR_NAMES, assignorFor, rebalanceProtocol, UnknownAssignorError } from '../../../src/client/assignors/index.ts'

t.test('every assignor is found by its Kafka name, and by its Java class name', async (t) => {
  t.same(ASSIGNOR_NAMES, ['range', 'roundrobin', 'sticky', 'cooperative-sticky'])
  for (const name of ASSIGNOR_NAMES) t.equal(assignorFor(name).name, name)
  t.equal(assignorFor('org.apache.kafka.clients.consumer.CooperativeStickyAssignor').name, 'cooperative-sticky')
  t.equal(assignorFor('org.apache.kafka.clients.consumer.RangeAssignor').name, 'range')
})

t.test('an unknown name is an error that lists the valid ones', async (t) => {
  for (const bad of ['Range', 'round-robin', 'constructor', '']) {
    t.throws(() => assignorFor(bad), new UnknownAssignorError(bad))
  }
  t.throws(() => assignorFor('x'), { message: "unknown partition assignor 'x': valid ones are range, roundrobin, sticky, cooperative-sticky" })
})

t.test('the rebalance protocol is cooperative only when every assignor supports it', async (t) => {
  t.equal(rebalanceProtocol([assignorFor('cooperative-sticky')]), 'COOPERATIVE')
  t.equal(rebalanceProtocol([assignorFor('cooperative-sticky'), assignorFor('range')]), 'EAGER')
  t.equal(rebalanceProtocol([assignorFor('sticky')]), 'EAGER')
  t.throws(() => rebalanceProtocol([]), RangeError)
})
