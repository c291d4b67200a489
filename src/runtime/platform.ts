/**
 * Which runtime we are on, and whether a module is the program's entry point:
 * the two questions whose answers differ between Node, Deno and Bun.
 */
import { realpathSync } from 'node:fs'
import process from 'node:process'
import { pathToFileURL } from 'node:url'

export type RuntimeName = 'node' | 'deno' | 'bun'

export interface RuntimeInfo {
  readonly name: RuntimeName
  readonly version: string
}

interface Globals {
  readonly Deno?: { readonly version: { readonly deno: string } }
  readonly Bun?: { readonly version: string }
}

/** The runtime running this code. Deno and Bun also define `process`, so they are asked first. */
export function runtime(globals: Globals = globalThis as Globals): RuntimeInfo {
  if (globals.Deno) return { name: 'deno', version: globals.Deno.version.deno }
  if (globals.Bun) return { name: 'bun', version: globals.Bun.version }
  return { name: 'node', version: process.versions.node }
}

/**
 * True when the module whose `import.meta` is given is the program's entry point.
 * Deno, Bun and Node 24+ answer with `import.meta.main`; on older Node the script
 * named on the command line (symlinks resolved, as for `node_modules/.bin/peerlog`)
 * is compared with the module's URL. Works from the sources and from a bundle.
 */
export function isEntryPoint(meta: ImportMeta, argv: readonly string[] = process.argv): boolean {
  const main = (meta as { main?: unknown }).main
  if (typeof main === 'boolean') return main
  const script = argv[1]
  if (script === undefined) return false
  try {
    return pathToFileURL(realpathSync(script)).href === meta.url
  } catch {
    return false
  }
}
