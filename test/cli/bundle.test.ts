// The runtime matrix for the `peerlog` command: the bundle built by scripts/build.mjs
// runs on node, deno and bun, and deno and bun also run the TypeScript sources.
// deno and bun are the ones npm installed (devDependencies), never a download.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = fileURLToPath(new URL('../../', import.meta.url))
const bin = (name: string) => join(root, 'node_modules', '.bin', name)
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 })
  if (r.error) throw r.error
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const outdir = t.testdir()
const built = run(process.execPath, [join(root, 'scripts/build.mjs'), '--outdir', outdir])
t.equal(built.code, 0, `build: ${built.stderr}`)
const bundle = join(outdir, 'peerlog.mjs')
t.ok(existsSync(join(outdir, 'index.mjs')), 'the library bundle is built too')
t.ok(existsSync(join(outdir, 'types', 'src', 'index.d.ts')), 'and its declarations')
t.match(readFileSync(bundle, 'utf8'), /^#!\/usr\/bin\/env node\n/, 'the CLI bundle starts with a shebang')

const runtimes: Record<string, (script: string) => [string, string[]]> = {
  node: (script) => [process.execPath, [script]],
  deno: (script) => [bin('deno'), ['run', '-A', script]],
  bun: (script) => [bin('bun'), [script]],
}

const targets: [string, string, string][] = [
  ['node', 'bundle', bundle],
  ['deno', 'bundle', bundle],
  ['bun', 'bundle', bundle],
  ['deno', 'sources', join(root, 'src/cli/main.ts')],
  ['bun', 'sources', join(root, 'src/cli/main.ts')],
]

for (const [name, what, script] of built.code === 0 ? targets : []) {
  t.test(`${name} runs the ${what}`, async (t) => {
    const [cmd, args] = runtimes[name]!(script)
    const help = run(cmd, [...args, '--help'])
    t.equal(help.code, 0, help.stderr)
    t.match(help.stdout, 'Usage: peerlog <command> [flags]')

    const version = run(cmd, [...args, 'version'])
    t.equal(version.code, 0, version.stderr)
    t.match(version.stdout, new RegExp(`^peerlog ${pkg.version.replace(/\./g, '\\.')} \\(${name} \\d+\\.\\d+\\.\\d+`))

    const wrong = run(cmd, [...args, 'foo'])
    t.equal(wrong.code, 2)
    t.equal(wrong.stdout, '')
    t.equal(wrong.stderr, "peerlog: unknown command 'foo' (try 'peerlog --help')\n", 'one line, no stack trace')
  })
}
