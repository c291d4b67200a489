/**
 * Lines of a byte or text stream (stdin for `peerlog produce`), as Java's
 * `BufferedReader.readLine` gives them to Kafka's console producer: split on `\n`, `\r\n`
 * or `\r`, without the terminator; a last line without a terminator is a line too.
 */
export async function* lines(input: AsyncIterable<string | Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder()
  let pending = ''
  // A `\r` at the end of a chunk may be the first half of `\r\n`.
  let skipLf = false
  for await (const chunk of input) {
    let text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })
    if (skipLf && text.startsWith('\n')) text = text.slice(1)
    skipLf = false
    pending += text
    let start = 0
    for (let i = 0; i < pending.length; i++) {
      const c = pending.charCodeAt(i)
      if (c !== 10 && c !== 13) continue
      yield pending.slice(start, i)
      if (c === 13) {
        if (i + 1 === pending.length) skipLf = true
        else if (pending.charCodeAt(i + 1) === 10) i++
      }
      start = i + 1
    }
    pending = pending.slice(start)
  }
  pending += decoder.decode()
  if (pending !== '') yield pending
}
