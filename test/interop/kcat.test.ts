// kcat (librdkafka) against a broker started in this process.
import t from 'tap'
import { APT_HINT, inProcessBroker, requireTool } from './harness.ts'
import { kcatRoundTrip } from './kcat-round-trip.ts'

t.test('kcat: -L, then 100,000 keyed lines into 6 partitions and back', async (t) => {
  if (!requireTool(t, 'kcat', APT_HINT)) return
  const broker = await inProcessBroker(t)
  await kcatRoundTrip(t, broker.address, 'kcat-orders', 100_000)
})
