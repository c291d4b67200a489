#!/usr/bin/env node
// Builds peerlog (plain JS, so it runs before anything is compiled):
//   src/cli/main.ts -> dist/peerlog.mjs   the `peerlog` command, with a `#!/usr/bin/env node` line
//   src/index.ts    -> dist/index.mjs     the library (package.json "exports")
//   src/index.ts    -> dist/types/src/    its declarations (package.json "types"), by tsc
// The bundles are single ESM files that `node`, `deno run -A` and `bun` run as they are.
// The declarations are what TypeScript users of the package see: pointing "types" at
// src/index.ts would make their tsc check our sources, whose `.ts` import paths it
// refuses without `allowImportingTsExtensions`.
//
// Usage: node scripts/build.mjs [--outdir <dir>] [--skip-types] [--quiet]
//   --outdir      where to write (default: dist)
//   --skip-types  bundles only, no declarations (tsc takes ~1 s; `npm start` skips it)
//   --quiet       print nothing unless the build fails
// As a module: `await build({ outdir, types, quiet })` returns esbuild's metafile.
//
// Rules the bundles follow (see the checks at the end of build()):
// - Dependencies are bundled, so nothing is fetched or resolved at run time.
// - cbor-x is taken from its pure-JS entry. Its Node entry (`node-index.js`) loads
//   the native add-on cbor-extract, which kills Deno and breaks decoding on Bun; the
//   plugin below resolves `cbor-x` to the entry cbor-x publishes for non-Node
//   runtimes (its "default" export, `index.js`), which never loads native code. As a
//   second lock, `process.env.CBOR_NATIVE_ACCELERATION_DISABLED` is defined as "true"
//   in the bundle, the switch cbor-x's Node entry reads before it loads the add-on.
//   (Code that runs from the sources, e.g. `deno run src/...`, must set that variable
//   before importing cbor-x, or import it through a module that does.)
// - hyperswarm and hyperdht stay external: their UDP layer is a native add-on that
//   cannot be bundled and does not load on Deno or Bun. They may only be reached by a
//   dynamic `import()`, when a node is told to use hyperswarm; a static import would
//   load them when the bundle starts, on every runtime, so the build refuses one.
// - A `require` made with createRequire is put in scope, so that CommonJS
//   dependencies (nact, ...) can require Node built-ins from inside an ESM bundle.
import { build as esbuild } from 'esbuild'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative, resolve } from 'node:path'
import process from 'node:process'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** Loaded only through a dynamic import(), and never bundled. */
const LAZY_EXTERNAL = ['hyperswarm', 'hyperdht']

const REQUIRE_SHIM = [
  "import { createRequire as __peerlogCreateRequire } from 'node:module';",
  'const require = __peerlogCreateRequire(import.meta.url);',
].join('\n')

/** Resolves `cbor-x` (and `cbor-x/*` subpaths that have one) to the pure-JS entry. */
const cborPureJs = {
  name: 'cbor-x-pure-js',
  setup(b) {
    const dir = dirname(createRequire(join(root, 'package.json')).resolve('cbor-x/package.json'))
    b.onResolve({ filter: /^cbor-x(\/.*)?$/ }, (args) => {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
      const subpath = args.path === 'cbor-x' ? '.' : `.${args.path.slice('cbor-x'.length)}`
      const entry = pkg.exports?.[subpath]
      const target = typeof entry === 'string' ? entry : entry?.default?.import ?? entry?.default
      if (typeof target !== 'string') {
        return { errors: [{ text: `cbor-x has no pure-JS entry for '${args.path}'` }] }
      }
      return { path: join(dir, target) }
    })
  },
}

/** @param {{ outdir?: string, types?: boolean, quiet?: boolean }} [options] */
export async function build(options = {}) {
  const outdir = resolve(root, options.outdir ?? 'dist')
  const types = options.types ?? true
  const common = {
    absWorkingDir: root,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: LAZY_EXTERNAL,
    plugins: [cborPureJs],
    define: { 'process.env.CBOR_NATIVE_ACCELERATION_DISABLED': '"true"' },
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  }
  const [cli, lib] = await Promise.all([
    esbuild({
      ...common,
      entryPoints: ['src/cli/main.ts'],
      outfile: join(outdir, 'peerlog.mjs'),
      banner: { js: `#!/usr/bin/env node\n${REQUIRE_SHIM}` },
    }),
    esbuild({
      ...common,
      entryPoints: ['src/index.ts'],
      outfile: join(outdir, 'index.mjs'),
      banner: { js: REQUIRE_SHIM },
    }),
  ])
  const metafile = { inputs: { ...cli.metafile.inputs, ...lib.metafile.inputs }, outputs: { ...cli.metafile.outputs, ...lib.metafile.outputs } }
  check(metafile)
  if (!options.quiet) {
    for (const [file, out] of Object.entries(metafile.outputs)) {
      console.log(`${relative(process.cwd(), resolve(root, file))}  ${(out.bytes / 1024).toFixed(1)} KiB`)
    }
  }
  if (types) {
    const typesDir = join(outdir, 'types')
    const count = await emitDeclarations('src/index.ts', typesDir)
    if (!options.quiet) console.log(`${relative(process.cwd(), typesDir)}/  ${count} declaration files`)
  }
  return metafile
}

/**
 * Writes the .d.ts files of `entry` and of the modules it imports, with the options
 * of tsconfig.json. Type errors are `npm run typecheck`'s business; only errors that
 * stop the declarations from being written fail the build.
 */
async function emitDeclarations(entry, typesDir) {
  const { default: ts } = await import('typescript')
  const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => fail([d]) }
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, host)
  rmSync(typesDir, { recursive: true, force: true })
  const program = ts.createProgram([join(root, entry)], {
    ...config.options,
    noEmit: false,
    declaration: true,
    emitDeclarationOnly: true,
    declarationMap: false,
    outDir: typesDir,
    // The repository root, not src/: the library imports actors/ too, and a file outside
    // rootDir would have its declaration written beside its source.
    rootDir: root,
  })
  let count = 0
  const result = program.emit(undefined, (file, text) => {
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, text)
    count++
  })
  if (result.emitSkipped || result.diagnostics.length) fail(result.diagnostics)
  return count

  function fail(diagnostics) {
    const text = ts.formatDiagnostics(diagnostics, {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => root,
      getNewLine: () => '\n',
    })
    throw new Error(`build: declarations of ${entry} could not be written\n${text}`)
  }
}

/** Fails the build when a bundle would load native code at start-up. */
function check(metafile) {
  const problems = []
  for (const input of Object.keys(metafile.inputs)) {
    if (/node_modules\/(cbor-extract|@cbor-extract)\//.test(input) || input.endsWith('cbor-x/node-index.js')) {
      problems.push(`${input} is bundled: cbor-x must come from its pure-JS entry`)
    }
  }
  for (const [file, out] of Object.entries(metafile.outputs)) {
    for (const imp of out.imports) {
      const pkgName = imp.path.split('/')[0]
      if (imp.external && LAZY_EXTERNAL.includes(pkgName) && imp.kind !== 'dynamic-import') {
        problems.push(`${file} imports '${imp.path}' statically: load it with a dynamic import() when it is needed`)
      }
      if (imp.external && /cbor-extract/.test(imp.path)) {
        problems.push(`${file} requires '${imp.path}' (the cbor-x native add-on)`)
      }
    }
  }
  if (problems.length) throw new Error(`build: ${problems.join('\n       ')}`)
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const usage = 'usage: node scripts/build.mjs [--outdir <dir>] [--skip-types] [--quiet]'
  let outdir
  let types = true
  let quiet = false
  const args = process.argv.slice(2)
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--skip-types') types = false
    else if (args[i] === '--quiet') quiet = true
    else if (args[i] === '--outdir' && args[i + 1] !== undefined) outdir = args[++i]
    else {
      console.error(`build: unexpected argument '${args[i]}' (${usage})`)
      process.exit(2)
    }
  }
  build({ outdir, types, quiet }).catch((err) => {
    console.error(err instanceof Error ? err.message : err)
    process.exitCode = 1
  })
}
