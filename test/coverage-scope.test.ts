// Loads every module of src/record and src/log. tap's coverage report lists only the
// files a test loaded, so without this a storage module that no test imports would be
// absent from the report and pass the 100% gate unseen (see scripts/tap-coverage-map.mjs).
import { readdirSync } from 'node:fs'
import t from 'tap'

const root = new URL('../', import.meta.url)

const modules = ['src/record', 'src/log'].flatMap((dir) =>
  (readdirSync(new URL(dir, root), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => `${dir}/${f}`)
    .sort(),
)

for (const module of modules) {
  t.test(module, async (t) => {
    await import(new URL(module, root).href)
    t.pass('loads')
  })
}
