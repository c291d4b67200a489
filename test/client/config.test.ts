import t from 'tap'
import { adminConfig, consumerConfig, parseHostPort, producerConfig, retryBackoffMs } from '../../src/client/config.ts'
import { ConfigError } from '../../src/client/errors.ts'

t.test('producer defaults are Kafka names and values', async (t) => {
  const { config, unknown } = producerConfig({ 'bootstrap.servers': 'a:9092, b:9093', 'foo.bar': 1 })
  t.same(config['bootstrap.servers'], ['a:9092', 'b:9093'])
  t.equal(config.acks, -1)
  t.equal(config['linger.ms'], 5)
  t.equal(config['batch.size'], 16384)
  t.equal(config['enable.idempotence'], false)
  t.equal(config['max.in.flight.requests.per.connection'], 5)
  t.same(unknown, ['foo.bar'])
})

t.test('values given as text, as the CLI passes them', async (t) => {
  const { config } = producerConfig({ 'bootstrap.servers': ['h:1'], acks: '1', 'linger.ms': '20', 'compression.type': 'ZSTD', 'partitioner.ignore.keys': 'true' })
  t.equal(config.acks, 1)
  t.equal(config['linger.ms'], 20)
  t.equal(config['compression.type'], 'zstd')
  t.equal(config['partitioner.ignore.keys'], true)
  t.equal(producerConfig({ 'bootstrap.servers': 'h:1', acks: 0 }).config.acks, 0)
})

t.test('invalid values: one line naming the key and what it accepts', async (t) => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{}, 'bootstrap.servers', /bootstrap.servers is required/],
    [{ 'bootstrap.servers': 'nohost' }, 'bootstrap.servers', /expected host:port/],
    [{ 'bootstrap.servers': 'h:1', 'linger.ms': 'soon' }, 'linger.ms', /invalid value "soon" for linger.ms: expected an integer/],
    [{ 'bootstrap.servers': 'h:1', 'linger.ms': -1 }, 'linger.ms', /expected an integer in \[0/],
    [{ 'bootstrap.servers': 'h:1', acks: '2' }, 'acks', /expected one of all, -1, 0, 1/],
    [{ 'bootstrap.servers': 'h:1', 'compression.type': 'brotli' }, 'compression.type', /none, gzip, snappy, lz4, zstd/],
    [{ 'bootstrap.servers': 'h:1', 'enable.idempotence': 'yes' }, 'enable.idempotence', /expected true or false/],
    [{ 'bootstrap.servers': 'h:1', 'enable.idempotence': true }, 'enable.idempotence', /not supported yet/],
    [{ 'bootstrap.servers': 'h:1', 'transactional.id': 'x' }, 'transactional.id', /not supported yet/],
    [{ 'bootstrap.servers': 'h:1', 'client.id': 5 }, 'client.id', /expected a string/],
    [{ 'bootstrap.servers': 5 }, 'bootstrap.servers', /comma-separated list/],
    [{ 'bootstrap.servers': 'h:1', 'delivery.timeout.ms': 100 }, 'delivery.timeout.ms', /at least linger.ms \+ request.timeout.ms/],
  ]
  for (const [input, key, message] of cases) {
    let error: unknown
    try {
      producerConfig(input as never)
    } catch (e) {
      error = e
    }
    t.ok(error instanceof ConfigError && error.key === key && message.test(error.message) && !error.message.includes('\n'), `${key}: ${(error as Error)?.message}`)
  }
})

t.test('consumer and admin configs', async (t) => {
  const c = consumerConfig({ 'bootstrap.servers': 'h:1', 'auto.offset.reset': 'earliest', 'group.id': 'g', 'isolation.level': 'read_committed' }).config
  t.equal(c['auto.offset.reset'], 'earliest')
  t.equal(c['fetch.max.wait.ms'], 500)
  t.equal(c['isolation.level'], 'read_committed')
  t.throws(() => consumerConfig({ 'bootstrap.servers': 'h:1', 'auto.offset.reset': 'smallest' }), /expected one of earliest, latest, none/)
  t.equal(adminConfig({ 'bootstrap.servers': 'h:1', 'client.id': 'x', 'retries': null }).config['client.id'], 'x')
})

t.test('host:port forms', async (t) => {
  t.same(parseHostPort('PLAINTEXT://broker:9092'), { host: 'broker', port: 9092 })
  t.same(parseHostPort('[::1]:9092'), { host: '::1', port: 9092 })
  t.throws(() => parseHostPort('h:0'))
})

t.test('retry backoff doubles up to the max, with jitter', async (t) => {
  const c = producerConfig({ 'bootstrap.servers': 'h:1', 'retry.backoff.ms': 100, 'retry.backoff.max.ms': 1000 }).config
  t.equal(retryBackoffMs(c, 1, () => 0.5), 100)
  t.equal(retryBackoffMs(c, 3, () => 0.5), 400)
  t.equal(retryBackoffMs(c, 10, () => 0.5), 1000)
  t.equal(retryBackoffMs(c, 1, () => 0), 80)
})
