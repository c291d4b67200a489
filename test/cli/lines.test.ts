import t from 'tap'
import { lines } from '../../src/cli/lines.ts'

async function collect(chunks: (string | Uint8Array)[]): Promise<string[]> {
  const out: string[] = []
  async function* source() {
    yield* chunks
  }
  for await (const line of lines(source())) out.push(line)
  return out
}

t.test('lines split on \\n, \\r\\n and \\r, across chunks', async (t) => {
  t.same(await collect(['a\nb\r\nc\rd']), ['a', 'b', 'c', 'd'])
  t.same(await collect(['a\n', '\n', 'b']), ['a', '', 'b'], 'an empty line is a line')
  t.same(await collect(['a\r', '\nb\r', 'c\n']), ['a', 'b', 'c'], '\\r\\n split between chunks')
  t.same(await collect(['ab', 'cd\nef', '']), ['abcd', 'ef'])
  t.same(await collect([]), [])
  t.same(await collect(['\n']), [''])
})

t.test('bytes are decoded as UTF-8, even when a character spans chunks', async (t) => {
  const bytes = new TextEncoder().encode('café\n☕')
  t.same(await collect([bytes.slice(0, 4), bytes.slice(4, 9), bytes.slice(9)]), ['café', '☕'])
})
