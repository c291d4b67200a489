#!/usr/bin/env node
// Keeps `npm ci` working when the registry cannot serve some platform packages.
//
// deno, cbor-x's cbor-extract (and esbuild, bun) list one optional dependency per
// platform. When `npm install` cannot fetch one of them (a registry or mirror that
// lacks it), it leaves it out of package-lock.json; `npm ci` then rebuilds the tree,
// finds the optional dependency missing from the lockfile and refuses to install
// ("Missing: @deno/darwin-arm64@ from lock file"). This script adds a lockfile entry,
// with the os/cpu its name says, for every optional dependency that has none, so that
// npm ci skips the other platforms' packages as it does for the ones it could fetch.
//
// Usage: node scripts/lock-platform-packages.mjs [--check]
//   --check  change nothing; exit 1 when entries are missing (what `npm ci` would reject)
// Run it after `npm install` rewrote package-lock.json from scratch.
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'package-lock.json')
const check = process.argv.includes('--check')
const text = readFileSync(file, 'utf8')
const lock = JSON.parse(text)
const packages = lock.packages

function platformOf(name) {
  const os = [
    [/darwin/, 'darwin'],
    [/win32|windows/, 'win32'],
    [/freebsd/, 'freebsd'],
    [/android/, 'android'],
    [/linux/, 'linux'],
  ].find(([re]) => re.test(name))?.[1]
  const cpu = [
    [/arm64|aarch64/, 'arm64'],
    [/-arm(?:$|-)|armv7/, 'arm'],
    [/x64|x86_64|amd64/, 'x64'],
    [/ia32/, 'ia32'],
  ].find(([re]) => re.test(name))?.[1]
  const libc = /musl/.test(name) ? 'musl' : /glibc|gnu/.test(name) ? 'glibc' : undefined
  return os && cpu ? { os, cpu, libc } : undefined
}

const added = []
const unknown = []
for (const [key, entry] of Object.entries(packages)) {
  if (!key.startsWith('node_modules/') || !entry.optionalDependencies) continue
  for (const [dep, version] of Object.entries(entry.optionalDependencies)) {
    const at = `node_modules/${dep}`
    if (packages[at]) continue
    const platform = platformOf(dep)
    if (!platform) {
      unknown.push(`${dep}@${version}`)
      continue
    }
    packages[at] = {
      version,
      cpu: [platform.cpu],
      ...(entry.dev ? { dev: true } : {}),
      ...(platform.libc ? { libc: [platform.libc] } : {}),
      optional: true,
      os: [platform.os],
    }
    added.push(`${dep}@${version}`)
  }
}

for (const u of unknown) console.error(`lock-platform-packages: cannot tell the platform of ${u}; add it by hand`)
if (check) {
  for (const a of added) console.error(`lock-platform-packages: package-lock.json lacks ${a}`)
  process.exit(added.length || unknown.length ? 1 : 0)
}
if (added.length) {
  // npm's own order: "" first, then the paths sorted.
  const sorted = Object.keys(packages).sort((a, b) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b, 'en')))
  lock.packages = Object.fromEntries(sorted.map((k) => [k, packages[k]]))
  if (readFileSync(file, 'utf8') !== text) throw new Error('package-lock.json changed meanwhile; run again')
  writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`)
}
console.log(added.length ? `added ${added.join(', ')}` : 'package-lock.json lists every optional platform package')
process.exit(unknown.length ? 1 : 0)
