import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { isEntryPoint, runtime } from '../../src/runtime/platform.ts'

t.test('runtime names the runtime', async (t) => {
  t.same(runtime(), { name: 'node', version: process.versions.node })
  t.same(runtime({ Deno: { version: { deno: '2.9.6' } } }), { name: 'deno', version: '2.9.6' })
  t.same(runtime({ Bun: { version: '1.4.5' } }), { name: 'bun', version: '1.4.5' })
})

t.test('isEntryPoint', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peerlog-entry-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const script = join(dir, 'main.mjs')
  writeFileSync(script, '')
  symlinkSync(script, join(dir, 'peerlog'))
  const meta = { url: pathToFileURL(script).href } as ImportMeta

  t.equal(isEntryPoint({ ...meta, main: true }), true, 'import.meta.main is believed when present')
  t.equal(isEntryPoint({ ...meta, main: false }, ['node', script]), false)
  t.equal(isEntryPoint(meta, ['node', script]), true, 'otherwise the script on the command line is compared')
  t.equal(isEntryPoint(meta, ['node', join(dir, 'peerlog')]), true, 'through symlinks (node_modules/.bin)')
  t.equal(isEntryPoint(meta, ['node', join(dir, 'other.mjs')]), false, 'a script that does not exist')
  t.equal(isEntryPoint(meta, ['node']), false, 'no script (a REPL)')
  t.equal(isEntryPoint(import.meta), true, 'this test file is the entry point of its process')
  const imported = { url: new URL('../../src/runtime/platform.ts', import.meta.url).href } as ImportMeta
  t.equal(isEntryPoint(imported), false, 'a module it imports is not')
})
