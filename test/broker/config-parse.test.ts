import t from 'tap'
import { DEFAULT_BROKER_CONFIG } from '../../src/broker/broker-config.ts'
import {
  brokerConfigFrom,
  ConfigError,
  configSummary,
  formatHostPort,
  listenToListeners,
  parseListeners,
  parseSet,
} from '../../src/broker/config-parse.ts'

/** The one-line message brokerConfigFrom throws for these sources. */
function errorOf(sources: Parameters<typeof brokerConfigFrom>[0]): string {
  try {
    brokerConfigFrom(sources)
  } catch (err) {
    if (err instanceof ConfigError) {
      t.notMatch(err.message, /\n/, 'one line')
      return err.message
    }
    throw err
  }
  throw new Error('no error')
}
const set = (...sets: string[]) => ({ sets })

t.test('no sources: the defaults, listening on 127.0.0.1:9092', async (t) => {
  const r = brokerConfigFrom({})
  t.same(r.config, DEFAULT_BROKER_CONFIG)
  t.same(r.warnings, [])
  t.same(r.listener, { name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 })
  t.equal(r.advertised, undefined)
})

t.test('values are parsed by type', async (t) => {
  const r = brokerConfigFrom(
    set(
      'num.partitions=6',
      'auto.create.topics.enable=FALSE',
      'log.retention.ms=-1',
      'log.cleanup.policy=delete, compact',
      'log.flush.interval.messages=9223372036854775807',
      'node.id= 7 ',
      'log.segment.bytes=+1048576',
    ),
  )
  t.equal(r.config['num.partitions'], 6)
  t.equal(r.config['auto.create.topics.enable'], false)
  t.equal(r.config['log.retention.ms'], -1)
  t.equal(r.config['log.cleanup.policy'], 'compact,delete')
  t.equal(r.config['log.flush.interval.messages'], Number.MAX_SAFE_INTEGER, "Kafka's Long.MAX_VALUE is clamped to what a number holds")
  t.equal(r.config['node.id'], 7, 'values are trimmed')
  t.equal(r.config['log.segment.bytes'], 1048576)
})

t.test('a bad value is one line naming the key and what it accepts', async (t) => {
  t.equal(errorOf(set('num.partitions=0')), "invalid value '0' for num.partitions: expected an integer from 1 to 2147483647")
  t.equal(errorOf(set('num.partitions=three')), "invalid value 'three' for num.partitions: expected an integer from 1 to 2147483647")
  t.equal(errorOf(set('num.partitions=1.5')), "invalid value '1.5' for num.partitions: expected an integer from 1 to 2147483647")
  t.equal(errorOf(set('num.partitions=')), "invalid value '' for num.partitions: expected an integer from 1 to 2147483647")
  t.equal(errorOf(set('num.partitions=2147483648')), "invalid value '2147483648' for num.partitions: expected an integer from 1 to 2147483647")
  t.equal(errorOf(set('log.retention.ms=-2')), "invalid value '-2' for log.retention.ms: expected an integer from -1 to 2^63-1")
  t.equal(
    errorOf(set('log.retention.bytes=9223372036854775808')),
    "invalid value '9223372036854775808' for log.retention.bytes: expected an integer from -1 to 2^63-1",
  )
  t.equal(errorOf(set('auto.create.topics.enable=yes')), "invalid value 'yes' for auto.create.topics.enable: expected true or false")
  t.equal(errorOf(set('log.cleanup.policy=keep')), "invalid value 'keep' for log.cleanup.policy: expected delete, compact or compact,delete")
  t.equal(errorOf(set('log.segment.bytes=10')), "invalid value '10' for log.segment.bytes: expected an integer from 14 to 2147483647")
  t.equal(
    errorOf(set('log.dirs=/a,/b')),
    "invalid value '/a,/b' for log.dirs: expected one directory (peerlog keeps its data in a single log dir)",
  )
  const e = t.throws(() => brokerConfigFrom(set('node.id=-1'))) as ConfigError
  t.equal(e.key, 'node.id')
})

t.test('--set: key=value, the value may hold =, later ones win', async (t) => {
  t.same(parseSet('a=b=c'), { key: 'a', value: 'b=c' })
  t.same(parseSet(' num.partitions =3'), { key: 'num.partitions', value: '3' })
  t.same(parseSet('a='), { key: 'a', value: '' })
  t.equal(errorOf(set('num.partitions')), "--set 'num.partitions' is not key=value (e.g. --set num.partitions=3)")
  t.equal(errorOf(set('=3')), "--set '=3' is not key=value (e.g. --set num.partitions=3)")
  t.equal(brokerConfigFrom(set('num.partitions=2', 'num.partitions=5')).config['num.partitions'], 5)
})

t.test('order: file, then --set, then overrides', async (t) => {
  const file = { name: 'server.properties', text: 'num.partitions=2\nlog.dirs=/from/file\nnode.id=4\n' }
  const r = brokerConfigFrom({ file, sets: ['num.partitions=3', 'log.dirs=/from/set'], overrides: { 'log.dirs': '/from/flag' } })
  t.equal(r.config['num.partitions'], 3)
  t.equal(r.config['log.dirs'], '/from/flag')
  t.equal(r.config['node.id'], 4)
})

t.test('errors in a file name the file and line', async (t) => {
  t.equal(errorOf({ file: { name: 'server.properties', text: 'a=1\nb=\\u12x4' } }), "server.properties:2: malformed \\uxxxx escape '\\u12x4'")
  t.equal(
    errorOf({ file: { name: 's.properties', text: '\nnum.partitions = lots\n' } }),
    "invalid value 'lots' for num.partitions: expected an integer from 1 to 2147483647",
  )
})

t.test('unknown keys are warned about, with a suggestion for typos', async (t) => {
  const r = brokerConfigFrom({
    file: { name: 'server.properties', text: 'num.partition=3\nfoo.bar=1\nnum.network.threads=3\nprocess.roles=broker,controller' },
    sets: ['log.retention.hour=1'],
  })
  t.same(r.warnings, [
    "unknown config 'num.partition' (server.properties:1) ignored (did you mean 'num.partitions'?)",
    "unknown config 'foo.bar' (server.properties:2) ignored",
    "unknown config 'log.retention.hour' (--set) ignored (did you mean 'log.retention.hours'?)",
    'Kafka settings peerlog does not use, ignored: num.network.threads, process.roles',
  ])
  t.equal(r.config['num.partitions'], 1, 'an unknown key changes nothing')
})

t.test("Kafka's aliases", async (t) => {
  t.equal(brokerConfigFrom(set('broker.id=3')).config['node.id'], 3)
  t.equal(brokerConfigFrom(set('broker.id=3', 'node.id=5')).config['node.id'], 5, 'the key itself wins')
  t.equal(brokerConfigFrom(set('node.id=5', 'broker.id=3')).config['node.id'], 5, 'whatever the order')
  t.equal(brokerConfigFrom(set('log.dir=/x')).config['log.dirs'], '/x')
  t.equal(brokerConfigFrom(set('log.retention.hours=2')).config['log.retention.ms'], 7_200_000)
  t.equal(brokerConfigFrom(set('log.retention.minutes=3', 'log.retention.hours=2')).config['log.retention.ms'], 180_000, 'minutes beat hours')
  t.equal(brokerConfigFrom(set('log.retention.ms=5', 'log.retention.minutes=3')).config['log.retention.ms'], 5, 'ms beat minutes')
  t.equal(brokerConfigFrom(set('log.retention.hours=-1')).config['log.retention.ms'], -1, '-1 stays "forever"')
  t.equal(errorOf(set('log.retention.hours=x')), "invalid value 'x' for log.retention.hours: expected an integer from -1 to 2147483647")
})

t.test('listeners', async (t) => {
  t.same(parseListeners('PLAINTEXT://127.0.0.1:9092'), [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 }])
  t.same(parseListeners('plaintext://:9092, CONTROLLER://localhost:9093'), [
    { name: 'PLAINTEXT', host: '', port: 9092 },
    { name: 'CONTROLLER', host: 'localhost', port: 9093 },
  ])
  t.same(parseListeners('PLAINTEXT://[::1]:0'), [{ name: 'PLAINTEXT', host: '::1', port: 0 }])
  t.same(parseListeners('EXTERNAL://my-host.example.com:19092'), [{ name: 'EXTERNAL', host: 'my-host.example.com', port: 19092 }])
  const accepts = 'expected NAME://host:port[,NAME://host:port...], e.g. PLAINTEXT://127.0.0.1:9092'
  for (const bad of ['', '127.0.0.1:9092', 'PLAINTEXT://127.0.0.1', 'PLAINTEXT://::1:9092', 'PLAINTEXT://h:p', 'PLAINTEXT://a:1,', 'http://a/b:1']) {
    t.throws(() => parseListeners(bad), new ConfigError(`invalid value '${bad}' for listeners: ${accepts}`, 'listeners'), bad)
  }
  t.throws(() => parseListeners('PLAINTEXT://a:65536'), { message: "invalid value 'PLAINTEXT://a:65536' for listeners: expected a port from 0 to 65535" })
  t.throws(() => parseListeners('PLAINTEXT://a:1,plaintext://b:2', 'advertised.listeners'), {
    message: "invalid value 'PLAINTEXT://a:1,plaintext://b:2' for advertised.listeners: listener name PLAINTEXT is used twice",
  })
})

t.test('the served listener and what is advertised', async (t) => {
  const r = brokerConfigFrom(set('listeners=PLAINTEXT://0.0.0.0:9092', 'advertised.listeners=PLAINTEXT://laptop.local:19092'))
  t.same(r.listener, { name: 'PLAINTEXT', host: '0.0.0.0', port: 9092 })
  t.same(r.advertised, { name: 'PLAINTEXT', host: 'laptop.local', port: 19092 })
  t.equal(r.config['advertised.listeners'], 'PLAINTEXT://laptop.local:19092')

  const kraft = brokerConfigFrom({
    file: {
      name: 'server.properties',
      text: [
        'listeners=PLAINTEXT://:9092,CONTROLLER://:9093',
        'advertised.listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093',
        'controller.listener.names=CONTROLLER',
        'inter.broker.listener.name=PLAINTEXT',
        'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL',
      ].join('\n'),
    },
  })
  t.same(kraft.warnings, [], 'the keys that shape listeners are known')
  t.same(kraft.listener, { name: 'PLAINTEXT', host: '', port: 9092 }, 'controller listeners are left out')
  t.equal(kraft.config.listeners, 'PLAINTEXT://:9092')
  t.equal(kraft.config['advertised.listeners'], 'PLAINTEXT://localhost:9092')

  const named = brokerConfigFrom(set('listeners=CLIENT://[::1]:0', 'listener.security.protocol.map=CLIENT:PLAINTEXT'))
  t.same(named.listener, { name: 'CLIENT', host: '::1', port: 0 })
  t.equal(named.config.listeners, 'CLIENT://[::1]:0')

  t.equal(brokerConfigFrom(set('advertised.listeners=')).advertised, undefined, 'empty means not set')
})

t.test('listener mistakes', async (t) => {
  t.equal(
    errorOf(set('listeners=PLAINTEXT://:9092,OTHER://:9093', 'listener.security.protocol.map=OTHER:PLAINTEXT')),
    "invalid value 'PLAINTEXT://:9092,OTHER://:9093' for listeners: peerlog serves one Kafka listener; expected one NAME://host:port besides controller listeners",
  )
  t.equal(
    errorOf(set('listeners=CONTROLLER://:9093', 'controller.listener.names=CONTROLLER')),
    "invalid value 'CONTROLLER://:9093' for listeners: expected one listener that is not a controller listener",
  )
  t.equal(
    errorOf(set('listeners=SSL://:9093')),
    'unsupported security protocol SSL for listener SSL in listeners: peerlog accepts PLAINTEXT only',
  )
  t.equal(
    errorOf(set('listeners=CLIENT://:9093')),
    'invalid listener name CLIENT in listeners: expected PLAINTEXT, or a name mapped to PLAINTEXT in listener.security.protocol.map',
  )
  t.equal(
    errorOf(set('listener.security.protocol.map=CLIENT:TLS')),
    "invalid value 'CLIENT:TLS' for listener.security.protocol.map: expected NAME:PROTOCOL pairs, PROTOCOL one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
  )
  t.equal(
    errorOf(set('advertised.listeners=PLAINTEXT://0.0.0.0:9092')),
    "invalid value 'PLAINTEXT://0.0.0.0:9092' for advertised.listeners: expected a host clients can reach, not '0.0.0.0'",
  )
  t.equal(
    errorOf(set('advertised.listeners=PLAINTEXT://:9092')),
    "invalid value 'PLAINTEXT://:9092' for advertised.listeners: expected a host clients can reach, not '(empty)'",
  )
  t.equal(
    errorOf(set('advertised.listeners=PLAINTEXT://h:0')),
    "invalid value 'PLAINTEXT://h:0' for advertised.listeners: expected a port from 1 to 65535",
  )
  t.equal(
    errorOf(set('advertised.listeners=OTHER://h:1')),
    "invalid value 'OTHER://h:1' for advertised.listeners: expected one PLAINTEXT://host:port, the listener named in listeners",
  )
  t.equal(
    errorOf(set('advertised.listeners=nonsense')),
    "invalid value 'nonsense' for advertised.listeners: expected NAME://host:port[,NAME://host:port...], e.g. PLAINTEXT://127.0.0.1:9092",
  )
})

t.test('--listen host:port', async (t) => {
  t.equal(listenToListeners('127.0.0.1:9092'), 'PLAINTEXT://127.0.0.1:9092')
  t.equal(listenToListeners(':0'), 'PLAINTEXT://:0')
  t.equal(listenToListeners('[::1]:9092'), 'PLAINTEXT://[::1]:9092')
  t.equal(listenToListeners('0.0.0.0:09092'), 'PLAINTEXT://0.0.0.0:9092')
  for (const bad of ['9092', 'localhost', 'a:b', '::1:9092', 'a:70000']) {
    t.throws(() => listenToListeners(bad), {
      message: `invalid value '${bad}' for --listen: expected host:port, e.g. 127.0.0.1:9092 (port 0 picks a free port)`,
    })
  }
  t.equal(formatHostPort('::1', 1), '[::1]:1')
  t.equal(formatHostPort('a', 1), 'a:1')
})

t.test('the start-up summary: essentials and what differs from the defaults', async (t) => {
  t.equal(configSummary(DEFAULT_BROKER_CONFIG), 'node.id=1 log.dirs=./data listeners=PLAINTEXT://127.0.0.1:9092')
  const { config } = brokerConfigFrom(set('num.partitions=3', 'advertised.listeners=PLAINTEXT://h:1'))
  t.equal(configSummary(config), 'node.id=1 log.dirs=./data listeners=PLAINTEXT://127.0.0.1:9092 advertised.listeners=PLAINTEXT://h:1 num.partitions=3')
})
