// `peerlog broker start` as a process, from the bundle: it starts, serves, and stops cleanly
// on SIGINT and on SIGTERM (what Ctrl-C and `kill` send), with exit code 0.
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'

const root = fileURLToPath(new URL('../../', import.meta.url))
const outdir = t.testdir()
const built = spawnSync(process.execPath, [join(root, 'scripts/build.mjs'), '--outdir', outdir, '--skip-types', '--quiet'], { encoding: 'utf8' })
t.equal(built.status, 0, built.stderr)
const bundle = join(outdir, 'peerlog.mjs')

async function startAndStop(t: Test, signal: NodeJS.Signals) {
  const dataDir = join(outdir, `data-${signal}`)
  const child = spawn(process.execPath, [bundle, 'broker', 'start', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d))
  child.stderr.on('data', (d: Buffer) => (out += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const deadline = Date.now() + 30_000
  let address: string | undefined
  while (address === undefined && Date.now() < deadline && child.exitCode === null) {
    const port = /listening on \S+:(\d+)/.exec(out)?.[1]
    if (port !== undefined) address = `127.0.0.1:${port}`
    await new Promise((r) => setTimeout(r, 25))
  }
  t.ok(address, `started: ${out}`)

  const list = spawnSync(process.execPath, [bundle, 'topics', '--bootstrap-server', address!, '--list'], { encoding: 'utf8', timeout: 30_000 })
  t.equal(list.status, 0, list.stderr)

  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  const code = await exited
  clearTimeout(timer)
  t.equal(code, 0, `exit code after ${signal}: ${out}`)
  t.match(out, `INFO stopping (${signal})`)
  t.match(out, /INFO broker 1 stopped\n$/)
}

if (built.status === 0) {
  t.test('SIGINT stops it cleanly', (t) => startAndStop(t, 'SIGINT'))
  t.test('SIGTERM stops it cleanly', (t) => startAndStop(t, 'SIGTERM'))
}
