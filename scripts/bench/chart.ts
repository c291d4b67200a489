/**
 * A bar chart as a standalone SVG string: a panel (bar group) per measure, a horizontal bar per
 * system, each bar labelled with its system and its value written on it; a title and footer
 * lines (machine, date, versions) above and below. Each panel has its own scale, from zero to
 * its largest value, and says whether more or less is better.
 *
 *   writeFileSync('chart.svg', barChart({ title, lines, panels: [{ title, better: 'higher',
 *     bars: [{ label: 'peerlog', value: 1.2e6, text: '1.20 M/s', color: '#1f77b4' }] }] }))
 *
 * No dependencies: the text is escaped, the fonts are generic, the sizes fixed.
 */

export interface Bar {
  label: string
  /** NaN or absent: drawn as "n/a". */
  value: number
  /** What is written on the bar. */
  text: string
  color: string
}

export interface Panel {
  title: string
  better: 'higher' | 'lower'
  bars: Bar[]
}

export interface Chart {
  title: string
  /** Lines under the title (settings). */
  lines: string[]
  /** Lines at the bottom (machine, date, versions). */
  footer: string[]
  panels: Panel[]
  /** Panels per row. */
  columns?: number
}

const PANEL_W = 640
const LABEL_W = 250
/** Room between a panel's right edge and the next panel. */
const PANEL_GAP = 16
const BAR_H = 20
const BAR_GAP = 6
const PANEL_HEAD = 30
const PANEL_PAD = 24
const LINE_H = 16
const FONT = 'font-family="Helvetica, Arial, sans-serif"'

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** A rough text width, in px, of `s` at `size` px (for placing a value inside or beside its bar). */
const textWidth = (s: string, size: number) => s.length * size * 0.56

export function barChart(c: Chart): string {
  const columns = c.columns ?? 2
  const panelH = (p: Panel) => PANEL_HEAD + p.bars.length * (BAR_H + BAR_GAP) + PANEL_PAD
  const rows: Panel[][] = []
  for (let i = 0; i < c.panels.length; i += columns) rows.push(c.panels.slice(i, i + columns))
  const headH = 40 + c.lines.length * LINE_H + 16
  const rowHs = rows.map((r) => Math.max(...r.map(panelH)))
  const width = columns * PANEL_W + 40
  const footH = c.footer.length * LINE_H + 24
  const height = headH + rowHs.reduce((a, b) => a + b, 0) + footH
  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`)
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`)
  out.push(`<text x="20" y="30" font-size="20" font-weight="bold" fill="#222">${esc(c.title)}</text>`)
  c.lines.forEach((l, i) => out.push(`<text x="20" y="${52 + i * LINE_H}" font-size="12" fill="#444">${esc(l)}</text>`))
  let y = headH
  rows.forEach((row, ri) => {
    row.forEach((p, ci) => out.push(panel(p, 20 + ci * PANEL_W, y)))
    y += rowHs[ri]!
  })
  c.footer.forEach((l, i) => out.push(`<text x="20" y="${y + 16 + i * LINE_H}" font-size="11" fill="#666">${esc(l)}</text>`))
  out.push('</svg>')
  return out.join('\n') + '\n'
}

function panel(p: Panel, x: number, y: number): string {
  const out: string[] = []
  const max = Math.max(0, ...p.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)))
  // The longest bar leaves room for the longest value beside it, so no value leaves the panel.
  const barMaxW = PANEL_W - LABEL_W - PANEL_GAP - 6 - Math.max(0, ...p.bars.map((b) => textWidth(b.text, 12)))
  out.push(`<g transform="translate(${x},${y})">`)
  out.push(`<text x="0" y="18" font-size="14" font-weight="bold" fill="#222">${esc(p.title)}</text>`)
  out.push(`<text x="${PANEL_W - PANEL_GAP}" y="18" font-size="11" fill="#888" text-anchor="end">${p.better === 'higher' ? 'higher is better' : 'lower is better'}</text>`)
  p.bars.forEach((b, i) => {
    const by = PANEL_HEAD + i * (BAR_H + BAR_GAP)
    const ty = by + BAR_H / 2 + 4
    out.push(`<text x="${LABEL_W - 8}" y="${ty}" font-size="12" fill="#333" text-anchor="end">${esc(b.label)}</text>`)
    if (!Number.isFinite(b.value) || max === 0) {
      out.push(`<text x="${LABEL_W + 4}" y="${ty}" font-size="12" fill="#999">${esc(b.text || 'n/a')}</text>`)
      return
    }
    const w = Math.max(1, (b.value / max) * barMaxW)
    out.push(`<rect x="${LABEL_W}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${b.color}" rx="2"/>`)
    const tw = textWidth(b.text, 12)
    if (tw + 12 < w) out.push(`<text x="${(LABEL_W + w - 6).toFixed(1)}" y="${ty}" font-size="12" fill="#fff" text-anchor="end" font-weight="bold">${esc(b.text)}</text>`)
    else out.push(`<text x="${(LABEL_W + w + 6).toFixed(1)}" y="${ty}" font-size="12" fill="#222">${esc(b.text)}</text>`)
  })
  out.push('</g>')
  return out.join('\n')
}
