import t from 'tap'
import { parseProperties, parsePropertiesList, PropertiesError } from '../../src/broker/config-properties.ts'

const props = (text: string) => Object.fromEntries(parseProperties(text))

t.test('key=value, key: value, key value', async (t) => {
  t.same(props('a=1\nb: 2\nc 3\nd\t4\ne\f5'), { a: '1', b: '2', c: '3', d: '4', e: '5' })
  t.same(props('a = 1\nb :2\nc   =   3  '), { a: '1', b: '2', c: '3  ' }, 'white space around the separator is skipped, trailing kept')
  t.same(props('a  = = b'), { a: '= b' }, 'only one separator is eaten')
  t.same(props('a b = c'), { a: 'b = c' }, 'a white-space separator may not be followed by another key part')
  t.same(props('a : = b'), { a: '= b' })
  t.same(props('a=b=c'), { a: 'b=c' })
  t.same(props('a:b:c'), { a: 'b:c' })
})

t.test('keys without values, empty keys', async (t) => {
  t.same(props('alone'), { alone: '' })
  t.same(props('alone='), { alone: '' })
  t.same(props('alone   '), { alone: '' })
  t.same(props('=value'), { '': 'value' })
  t.same(props(':value'), { '': 'value' })
})

t.test('comments and blank lines', async (t) => {
  t.same(props('# c\n! c\n   # indented\n\n   \n\t\na=1 # not a comment\nb=#x'), { a: '1 # not a comment', b: '#x' })
  t.same(props('# comment ending in a backslash \\\na=1'), { a: '1' }, 'a comment line never continues')
})

t.test('line endings: \\n, \\r\\n, \\r', async (t) => {
  t.same(props('a=1\r\nb=2\rc=3\n'), { a: '1', b: '2', c: '3' })
})

t.test('line continuations', async (t) => {
  t.same(props('a=one \\\n    two \\\n\tthree'), { a: 'one two three' }, 'leading white space of continuation lines is skipped')
  t.same(props('a=x\\\\\nb=y'), { a: 'x\\', b: 'y' }, 'an even number of backslashes does not continue')
  t.same(props('a=x\\\\\\\n  y'), { a: 'x\\y' }, 'an odd number does')
  t.same(props('a=x\\\n\nb=y'), { a: 'x', b: 'y' }, 'an empty continuation line ends the value')
  t.same(props('a=x\\'), { a: 'x' }, 'a continuation at the end of the text is dropped')
  t.same(props('a=x\\\n# not a comment\nb=1'), { a: 'x# not a comment', b: '1' }, 'a continued line is never a comment')
  t.same(props('key\\\n  name=v'), { keyname: 'v' }, 'keys continue too')
  t.same(props('a=1\\\r\n  2'), { a: '12' })
  t.same(props('a=\\\n  \\\\\\\n  z'), { a: '\\z' }, 'backslashes are counted afresh on a continuation line')
  const list = parsePropertiesList('x=1\ny=a\\\n b\nz=3')
  t.same(list.map((p) => p.line), [1, 2, 4], 'properties know their first line')
})

t.test('escapes', async (t) => {
  t.same(props('a=tab\\there'), { a: 'tab\there' })
  t.same(props('a=\\n\\r\\f\\t'), { a: '\n\r\f\t' })
  t.same(props('a=\\u0041\\u00e9\\u20AC'), { a: 'Aé€' })
  t.same(props('a=\\q\\\\\\#'), { a: 'q\\#' }, 'any other escaped character stands for itself')
  t.same(props('key\\=with\\:seps\\ and\\ spaces = v'), { 'key=with:seps and spaces': 'v' })
  t.same(props('a=\\ leading space'), { a: ' leading space' })
  t.same(props('\\#notcomment=1'), { '#notcomment': '1' })
  t.same(props('k\\u0041=v'), { kA: 'v' }, 'keys are unescaped too')
})

t.test('a malformed \\u escape is an error naming the line', async (t) => {
  t.throws(() => parseProperties('ok=1\nbad=\\u12'), new PropertiesError("malformed \\uxxxx escape '\\u12'", 2))
  try {
    parseProperties('a=1\n\nb=\\uzzzz')
  } catch (err) {
    t.ok(err instanceof PropertiesError)
    t.equal((err as PropertiesError).line, 3)
  }
})

t.test('the last value of a key wins; the list keeps every one', async (t) => {
  t.same(props('a=1\na=2'), { a: '2' })
  t.same(parsePropertiesList('a=1\na=2').map((p) => p.value), ['1', '2'])
})

t.test('unicode text is read as it is', async (t) => {
  t.same(props('name=café ☕'), { name: 'café ☕' })
})

t.test("Kafka's stock KRaft server.properties", async (t) => {
  const text = `# Licensed to the Apache Software Foundation (ASF) under one or more
############################# Server Basics #############################

# The role of this server. Setting this puts us in KRaft mode
process.roles=broker,controller

# The node id associated with this instance's roles
node.id=1

controller.quorum.bootstrap.servers=localhost:9093
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
inter.broker.listener.name=PLAINTEXT
advertised.listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
num.network.threads=3
log.dirs=/tmp/kraft-combined-logs
num.partitions=1
log.retention.hours=168
log.segment.bytes=1073741824
`
  const p = parseProperties(text)
  t.equal(p.get('listeners'), 'PLAINTEXT://:9092,CONTROLLER://:9093')
  t.equal(p.get('process.roles'), 'broker,controller')
  t.equal(p.get('log.retention.hours'), '168')
  t.equal(p.size, 13)
})
