import t from 'tap'
import { compacts, DEFAULT_LOG_CONFIG, deletes, isLogConfigKey, logConfig } from '../../src/log/log-config.ts'

t.test('defaults are Kafka\'s', async (t) => {
  const c = logConfig()
  t.equal(c['segment.bytes'], 1073741824)
  t.equal(c['index.interval.bytes'], 4096)
  t.equal(c['segment.index.bytes'], 10485760)
  t.equal(c['retention.ms'], 604800000)
  t.equal(c['retention.bytes'], -1)
  t.equal(c['cleanup.policy'], 'delete')
  t.equal(c['max.message.bytes'], 1048588)
  t.same(c, DEFAULT_LOG_CONFIG)
})

t.test('string values from properties files are parsed', async (t) => {
  const c = logConfig({ 'segment.bytes': '4096', 'cleanup.policy': 'delete, compact', 'message.timestamp.type': 'LogAppendTime' })
  t.equal(c['segment.bytes'], 4096)
  t.equal(c['cleanup.policy'], 'compact,delete')
  t.ok(compacts(c) && deletes(c))
  t.equal(c['message.timestamp.type'], 'LogAppendTime')
  const compactOnly = logConfig({ 'cleanup.policy': 'compact' })
  t.ok(compacts(compactOnly))
  t.notOk(deletes(compactOnly))
  t.notOk(compacts(logConfig()))
})

t.test('a bad value names the key and what it accepts', async (t) => {
  t.throws(() => logConfig({ 'segment.bytes': 'lots' }), /invalid value 'lots' for segment.bytes: expected an integer from 14 to 2147483647/)
  t.throws(() => logConfig({ 'segment.bytes': '' }), /segment.bytes/)
  t.throws(() => logConfig({ 'retention.ms': -2 }), /invalid value '-2' for retention.ms: expected an integer >= -1/)
  t.throws(() => logConfig({ 'flush.ms': 1.5 }), /flush.ms/)
  t.throws(() => logConfig({ 'cleanup.policy': 'shred' }), /invalid value 'shred' for cleanup.policy: expected one of delete, compact, compact,delete/)
  t.throws(() => logConfig({ 'no.such.key': 1 } as never), /unknown log config 'no.such.key'/)
})

t.test('undefined overrides keep the default', async (t) => {
  t.equal(logConfig({ 'segment.ms': undefined })['segment.ms'], DEFAULT_LOG_CONFIG['segment.ms'])
  t.ok(isLogConfigKey('retention.bytes'))
  t.notOk(isLogConfigKey('toString'))
})
