#!/usr/bin/env node
// Runs a TypeScript script on Node 20 (which cannot strip types itself): esbuild bundles it
// into a temporary ES module under node_modules/.cache, then it is imported with the remaining
// arguments. Used by the benchmark scripts, so they run the same code the bundle ships.
import { build } from 'esbuild'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const [entry, ...rest] = process.argv.slice(2)
if (!entry) {
  console.error('usage: node scripts/run-ts.mjs <script.ts> [args...]')
  process.exit(2)
}
// Inside node_modules so that the bundle's bare imports resolve to the repository's packages.
const cache = join(process.cwd(), 'node_modules', '.cache')
mkdirSync(cache, { recursive: true })
const dir = mkdtempSync(join(cache, 'peerlog-run-'))
const outfile = join(dir, 'script.mjs')
await build({
  entryPoints: [resolve(entry)],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'inline',
  logLevel: 'warning',
  // Keep npm packages external: they resolve from the repository's node_modules.
  packages: 'external',
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  absWorkingDir: process.cwd(),
})
process.argv = [process.argv[0], resolve(entry), ...rest]
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
await import(pathToFileURL(outfile).href)
