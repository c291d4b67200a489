import t from 'tap'
import { barChart } from '../../../scripts/bench/chart.ts'

const chart = () =>
  barChart({
    title: 'peerlog vs <others> & co',
    lines: ['acks=1 "default"'],
    footer: ['machine: 2 cores', 'servers: peerlog 0.1.0'],
    panels: [
      {
        title: 'produce, records/s',
        better: 'higher',
        bars: [
          { label: 'peerlog', value: 400_000, text: '400 k/s', color: '#1f5fa8' },
          { label: 'Redis Streams', value: 100_000, text: '100 k/s', color: '#c92a2a' },
          { label: 'missing', value: NaN, text: '', color: '#000000' },
        ],
      },
      { title: 'p99 (ms)', better: 'lower', bars: [{ label: 'peerlog', value: 4, text: '4.00 ms', color: '#1f5fa8' }] },
    ],
  })

const widths = (svg: string) => [...svg.matchAll(/<rect x="\d+" y="\d+" width="([\d.]+)"/g)].map((m) => Number(m[1]))

t.test('each bar carries its value as text, and its system as label', async (t) => {
  const svg = chart()
  for (const s of ['>400 k/s<', '>100 k/s<', '>4.00 ms<', '>peerlog<', '>Redis Streams<']) t.match(svg, s)
  t.match(svg, '>higher is better<')
  t.match(svg, '>lower is better<')
})

t.test('bars are drawn to scale from zero within their panel; a missing value says n/a', async (t) => {
  const svg = chart()
  const [peerlog, redis, p99] = widths(svg)
  t.equal(widths(svg).length, 3, 'no bar for the missing value')
  t.ok(Math.abs(peerlog! / redis! - 4) < 0.01, `400 k against 100 k is four times as long (${peerlog} / ${redis})`)
  t.equal(p99, peerlog, 'each panel scales to its own largest value (texts of one length leave the same room)')
  t.match(svg, '>n/a<')
})

t.test('text is escaped, the title and the footer (machine, versions) are shown', async (t) => {
  const svg = chart()
  t.match(svg, 'peerlog vs &lt;others&gt; &amp; co')
  t.match(svg, 'acks=1 &quot;default&quot;')
  t.notMatch(svg, '<others>')
  t.match(svg, '>machine: 2 cores<')
  t.match(svg, '>servers: peerlog 0.1.0<')
  t.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  t.match(svg, /<\/svg>\n$/)
})
