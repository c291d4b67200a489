// The kcat round trip against the broker run from the bundle (dist/peerlog.mjs) under Deno and
// under Bun, each a separate process stopped with SIGTERM.
import t from 'tap'
import { APT_HINT, bundleBroker, cliBundle, requireTool } from './harness.ts'
import { kcatRoundTrip } from './kcat-round-trip.ts'

for (const runtime of ['deno', 'bun'] as const) {
  t.test(`kcat against the bundle's broker under ${runtime}`, async (t) => {
    if (!requireTool(t, 'kcat', APT_HINT)) return
    if (!requireTool(t, runtime, 'npm ci installs it as a devDependency')) return
    const bundle = await cliBundle(t)
    const broker = await bundleBroker(t, runtime, bundle)
    await kcatRoundTrip(t, broker.address, `kcat-${runtime}`, 100_000)
    const code = await broker.stop()
    t.equal(code, 0, `the ${runtime} broker stopped cleanly on SIGTERM:\n${broker.log()}`)
    t.match(broker.log(), /broker 1 stopped/, 'and said so')
  })
}
