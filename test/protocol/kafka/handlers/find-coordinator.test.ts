import t from 'tap'
import { ErrorCode } from '../../../../src/protocol/kafka/error-codes.ts'
import { ApiKey } from '../../../../src/protocol/kafka/generated/index.ts'
import { call, FakeGroups, fakeContext } from './group-fixtures.ts'

t.test('v0 (no key type) finds the coordinator of a group', async (t) => {
  const groups = new FakeGroups()
  const r = await call(fakeContext(groups), ApiKey.FindCoordinator, 0, { key: 'payments' })
  t.same(groups.inputs('findCoordinator'), ['payments'])
  t.same([r.errorCode, r.nodeId, r.host, r.port], [ErrorCode.NONE, 1, 'broker-1', 9092])
})

t.test('v1 and v2 with key type 0 find the coordinator of a group', async (t) => {
  for (const version of [1, 2]) {
    const groups = new FakeGroups()
    const r = await call(fakeContext(groups), ApiKey.FindCoordinator, version, { key: 'payments', keyType: 0 })
    t.same(groups.inputs('findCoordinator'), ['payments'], `v${version}`)
    t.same([r.errorCode, r.nodeId, r.host, r.port], [ErrorCode.NONE, 1, 'broker-1', 9092], `v${version}`)
  }
})

t.test("the coordinator service's error comes back with no node and its message", async (t) => {
  const groups = new FakeGroups({
    findCoordinator: () => Promise.resolve({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: 'The coordinator is not available.', nodeId: -1, host: '', port: -1 }),
  })
  const ctx = fakeContext(groups)
  const v1 = await call(ctx, ApiKey.FindCoordinator, 1, { key: 'g', keyType: 0 })
  t.same(v1, { throttleTimeMs: 0, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: 'The coordinator is not available.', nodeId: -1, host: '', port: -1 })
  const v0 = await call(ctx, ApiKey.FindCoordinator, 0, { key: 'g' })
  t.same([v0.errorCode, v0.nodeId, v0.host, v0.port], [ErrorCode.COORDINATOR_NOT_AVAILABLE, -1, '', -1])
})

t.test('a transactional id (key type 1) gets COORDINATOR_NOT_AVAILABLE: transactions are not supported yet', async (t) => {
  const groups = new FakeGroups()
  const r = await call(fakeContext(groups), ApiKey.FindCoordinator, 2, { key: 'tx-1', keyType: 1 })
  t.equal(r.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE)
  t.match(r.errorMessage, /transactions are not supported/i)
  t.same([r.nodeId, r.host, r.port], [-1, '', -1])
  t.same(groups.calls, [], 'the group coordinator is not asked')
})

t.test('an unknown key type is INVALID_REQUEST', async (t) => {
  const groups = new FakeGroups()
  const r = await call(fakeContext(groups), ApiKey.FindCoordinator, 1, { key: 'x', keyType: 7 })
  t.equal(r.errorCode, ErrorCode.INVALID_REQUEST)
  t.match(r.errorMessage, /Unknown coordinator type received: 7/)
  t.same(groups.calls, [])
})

t.test("an empty group id is looked up like any other (Kafka hashes '' to a partition)", async (t) => {
  const groups = new FakeGroups()
  const r = await call(fakeContext(groups), ApiKey.FindCoordinator, 2, { key: '', keyType: 0 })
  t.equal(r.errorCode, ErrorCode.NONE)
  t.same(groups.inputs('findCoordinator'), [''])
})
