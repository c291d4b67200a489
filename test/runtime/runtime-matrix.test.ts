// The runtime matrix for storage: one scenario (storage-scenario.ts: 10,000 batches over
// several segments, clean and unclean restarts, read back, lookups by offset and by time)
// runs under node, deno and bun from an esbuild bundle, and under deno and bun from the
// TypeScript sources; all five must succeed and agree on the checksum of what they read.
// deno and bun are the ones npm installed (devDependencies). The five runs go two at a time
// (this machine has two cores).
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'
import t from 'tap'

const root = new URL('../../', import.meta.url).pathname
const bin = (name: string) => join(root, 'node_modules', '.bin', name)
const source = join(root, 'test/runtime/storage-scenario.ts')
const TIMEOUT_MS = 60_000

interface Outcome {
  code: number | null
  stdout: string
  stderr: string
  ms: number
}

function run(cmd: string, args: string[]): Promise<Outcome> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    // NO_COLOR: deno and bun colour their error output otherwise.
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'], timeout: TIMEOUT_MS })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }))
  })
}

interface Target {
  name: string
  cmd: string
  args: (script: string, dataDir: string) => string[]
  script: 'bundle' | 'sources'
}

const targets: Target[] = [
  { name: 'node (bundle)', cmd: process.execPath, args: (s, d) => [s, d], script: 'bundle' },
  { name: 'deno (bundle)', cmd: bin('deno'), args: (s, d) => ['run', '-A', s, d], script: 'bundle' },
  { name: 'bun (bundle)', cmd: bin('bun'), args: (s, d) => [s, d], script: 'bundle' },
  { name: 'deno (sources)', cmd: bin('deno'), args: (s, d) => ['run', '-A', s, d], script: 'sources' },
  { name: 'bun (sources)', cmd: bin('bun'), args: (s, d) => [s, d], script: 'sources' },
]

t.test('deno and bun are installed', async (t) => {
  for (const name of ['deno', 'bun']) {
    const r = await run(bin(name), ['--version'])
    t.equal(r.code, 0, `${name} --version: ${r.stdout.trim() || r.stderr.trim()}`)
  }
})

t.test('one storage scenario on node, deno and bun', async (t) => {
  const dir = t.testdir()
  const bundle = join(dir, 'storage-scenario.mjs')
  await build({
    absWorkingDir: root,
    entryPoints: [source],
    outfile: bundle,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    // CommonJS dependencies may require node built-ins from inside the ESM bundle (as scripts/build.mjs does).
    banner: { js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);" },
  })
  t.ok(existsSync(bundle), 'esbuild bundled the scenario')

  const results = new Map<string, Outcome>()
  const queue = [...targets]
  const worker = async () => {
    for (let target = queue.shift(); target; target = queue.shift()) {
      const dataDir = join(dir, target.name.replace(/\W+/g, '-'))
      mkdirSync(dataDir, { recursive: true })
      results.set(target.name, await run(target.cmd, target.args(target.script === 'bundle' ? bundle : source, dataDir)))
    }
  }
  await Promise.all([worker(), worker()])

  const checksums = new Map<string, string>()
  for (const target of targets) {
    const r = results.get(target.name)!
    const line = r.stdout.trim().split('\n').pop() ?? ''
    let report: { checksum?: string; runtime?: string; batches?: number; records?: number; segments?: number; offsetLookups?: number; timestampLookups?: number; tornTailCut?: boolean } = {}
    try {
      report = JSON.parse(line)
    } catch {
      // Reported below.
    }
    t.equal(r.code, 0, `${target.name} exits 0 (${r.ms} ms)${r.code === 0 ? '' : `: ${r.stderr.trim()}`}`)
    t.equal(report.runtime, target.name.split(' ')[0], `${target.name} reports its runtime: ${line}`)
    t.equal(report.batches, 10_000, `${target.name}: 10,000 batches read back`)
    t.ok((report.segments ?? 0) >= 5, `${target.name}: over several segments (${report.segments})`)
    t.ok(report.tornTailCut, `${target.name}: recovery cut the torn tail`)
    t.equal(report.offsetLookups, 1000, `${target.name}: lookups by offset`)
    t.equal(report.timestampLookups, 500, `${target.name}: lookups by time`)
    if (report.checksum) checksums.set(target.name, report.checksum)
  }
  t.equal(checksums.size, targets.length, 'every run printed a checksum')
  t.equal(new Set(checksums.values()).size, 1, `all runs read the same records: ${JSON.stringify(Object.fromEntries(checksums))}`)
})
