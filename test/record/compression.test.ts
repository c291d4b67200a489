import t from 'tap'
import {
  Compression,
  compress,
  compressionName,
  decompress,
  isCodecLoaded,
  isCompression,
  loadCodec,
} from '../../src/record/compression/index.ts'
import { lz4Compress, lz4Decompress, LZ4_BLOCK_SIZE } from '../../src/record/compression/lz4.ts'
import { snappyCompress, snappyDecompress, XERIAL_BLOCK_SIZE } from '../../src/record/compression/snappy.ts'
import { xxhash32 } from '../../src/record/compression/xxhash32.ts'
import { CorruptRecordError } from '../../src/record/errors.ts'

function hex(text: string): Uint8Array {
  const digits = text.replace(/\/\/.*$/gm, '').replace(/\s+/g, '')
  return Uint8Array.from(digits.match(/../g) ?? [], (x) => parseInt(x, 16))
}
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
const utf8 = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array) => new TextDecoder().decode(b)
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

function pseudoRandomBytes(n: number, seed: number, alphabet = 256): Uint8Array {
  const out = new Uint8Array(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = (x >>> 0) % alphabet
  }
  return out
}

/** Inputs of the kinds that matter: empty, tiny, incompressible, repetitive, text-like, block-sized. */
function samples(): [string, Uint8Array][] {
  const json = utf8(Array.from({ length: 3000 }, (_, i) => `{"id":${i},"user":"user-${i % 17}","ok":${i % 2 === 0}}`).join('\n'))
  return [
    ['empty', new Uint8Array(0)],
    ['one byte', new Uint8Array([42])],
    ['12 bytes', utf8('hello world!')],
    ['13 bytes', utf8('hello, world!')],
    ['random 1000', pseudoRandomBytes(1000, 1)],
    ['random 200 KiB', pseudoRandomBytes(200_000, 2)],
    ['zeros 300 KiB', new Uint8Array(300_000)],
    ['four letters 70 KiB', pseudoRandomBytes(70_000, 3, 4)],
    ['json lines', json],
    ['exactly one lz4 block', pseudoRandomBytes(LZ4_BLOCK_SIZE, 4, 8)],
    ['exactly two snappy blocks', pseudoRandomBytes(2 * XERIAL_BLOCK_SIZE, 5, 16)],
    ['period 251', Uint8Array.from({ length: 150_000 }, (_, i) => i % 251)],
  ]
}

t.test('zstd compression needs its encoder loaded first', async (t) => {
  t.notOk(isCodecLoaded(Compression.zstd))
  t.throws(() => compress(Compression.zstd, utf8('x')), { message: /await loadCodec\(Compression\.zstd\)/ })
  t.equal(text(decompress(Compression.zstd, hex('28b52ffd045829000068656c6c6fa36d9f88'))), 'hello', 'decompression needs nothing')
  for (const codec of [Compression.none, Compression.gzip, Compression.snappy, Compression.lz4]) {
    t.ok(isCodecLoaded(codec))
    await loadCodec(codec)
  }
  const first = loadCodec(Compression.zstd)
  t.equal(loadCodec(Compression.zstd), first, 'loading is shared')
  await first
  t.ok(isCodecLoaded(Compression.zstd))
})

t.test('names and ids', async (t) => {
  t.same(Compression, { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 })
  for (const [name, id] of Object.entries(Compression)) t.equal(compressionName(id), name)
  t.equal(Compression['lz4' as keyof typeof Compression], 3, 'a compression.type config value maps to its id')
  t.throws(() => compressionName(5 as Compression), RangeError)
  t.ok(isCompression(4))
  t.notOk(isCompression(5))
  t.notOk(isCompression(-1))
  t.notOk(isCompression(1.5))
  t.throws(() => compress(7 as Compression, utf8('x')), RangeError)
  t.throws(() => decompress(7 as Compression, utf8('x')), { name: 'CorruptRecordError', message: /unknown compression type id 7/ })
})

t.test('round trip through every codec', async (t) => {
  for (const codec of Object.values(Compression)) {
    for (const [what, data] of samples()) {
      const packed = compress(codec, data)
      const back = decompress(codec, packed)
      if (toHex(back) !== toHex(data)) t.fail(`${compressionName(codec)}: ${what}`)
      else t.pass(`${compressionName(codec)}: ${what} (${data.length} -> ${packed.length})`)
    }
  }
  const none = utf8('as is')
  t.equal(compress(Compression.none, none), none, 'none hands the bytes back')
  t.equal(decompress(Compression.none, none), none)
})

t.test('inputs that are views into larger buffers', async (t) => {
  const big = pseudoRandomBytes(100_000, 9, 6)
  const view = big.subarray(12_345, 80_000)
  for (const codec of Object.values(Compression)) {
    const packed = compress(codec, view)
    const shifted = new Uint8Array(packed.length + 7)
    shifted.set(packed, 7)
    t.equal(toHex(decompress(codec, shifted.subarray(7))), toHex(view), compressionName(codec))
  }
})

t.test('gzip: golden streams and levels', async (t) => {
  // `printf hello | gzip -n`
  t.equal(text(decompress(Compression.gzip, hex('1f8b0800000000000003cb48cdc9c9070086a6103605000000'))), 'hello')
  // two members, as `cat a.gz b.gz` makes
  const two = hex('1f8b0800000000000003cb48cdc9c9070086a61036050000001f8b08000000000000032bcf2fca4901004311773a05000000')
  t.equal(text(decompress(Compression.gzip, two)), 'helloworld')
  const data = samples()[8]![1]
  t.ok(compress(Compression.gzip, data, 9).length <= compress(Compression.gzip, data, 1).length)
  t.same([...compress(Compression.gzip, data).subarray(0, 3)], [0x1f, 0x8b, 0x08], 'gzip magic, deflate')
})

t.test('zstd: golden frames and levels', async (t) => {
  // `printf hello | zstd`, and two frames back to back
  t.equal(text(decompress(Compression.zstd, hex('28b52ffd045829000068656c6c6fa36d9f88'))), 'hello')
  t.equal(text(decompress(Compression.zstd, hex('28b52ffd045829000068656c6c6fa36d9f8828b52ffd0458290000776f726c64ef51ee66'))), 'helloworld')
  const data = samples()[8]![1]
  t.same([...compress(Compression.zstd, data).subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd], 'zstd frame magic')
  t.ok(compress(Compression.zstd, data, 19).length <= compress(Compression.zstd, data, 1).length)
})

t.test('snappy: xerial framing as the Java client writes it, raw blocks as librdkafka may', async (t) => {
  const XERIAL_HEADER = '82534e4150505900' + '00000001' + '00000001'
  // raw snappy of "hello": uncompressed length 5, one literal tag ((5-1) << 2), the bytes
  const rawHello = hex('05 10 68656c6c6f')
  t.equal(toHex(snappyCompress(utf8('hello'))), XERIAL_HEADER + '00000007' + toHex(rawHello))
  t.equal(toHex(compress(Compression.snappy, new Uint8Array(0))), XERIAL_HEADER, 'no input, no chunks')
  t.equal(text(snappyDecompress(rawHello)), 'hello', 'a raw block')
  t.equal(text(decompress(Compression.snappy, hex(XERIAL_HEADER + '00000007' + '0510' + '68656c6c6f' + '00000007' + '0510' + '776f726c64'))), 'helloworld', 'two chunks')
  t.equal(snappyDecompress(hex(XERIAL_HEADER)).length, 0)
  const multi = snappyCompress(pseudoRandomBytes(XERIAL_BLOCK_SIZE * 2 + 1, 8, 3))
  const dv = new DataView(multi.buffer, multi.byteOffset)
  const first = dv.getInt32(16)
  const second = dv.getInt32(20 + first)
  t.equal(20 + first + 4 + second + 4 + dv.getInt32(24 + first + second), multi.length, 'three chunks of at most 32 KiB of input')

  t.throws(() => decompress(Compression.snappy, hex('82534e4150505900 000000')), { name: 'CorruptRecordError', message: /header is cut short/ })
  t.throws(() => decompress(Compression.snappy, hex(XERIAL_HEADER + '0000')), { message: /chunk length at byte 16 is cut short/ })
  t.throws(() => decompress(Compression.snappy, hex(XERIAL_HEADER + '00000009 0510')), { message: /claims 9 bytes, 2 remain/ })
  t.throws(() => decompress(Compression.snappy, hex(XERIAL_HEADER + 'ffffffff')), { message: /claims -1 bytes/ })
  t.throws(() => decompress(Compression.snappy, hex(XERIAL_HEADER + '00000002 0510')), { message: /snappy decompression failed/ })
  t.throws(() => decompress(Compression.snappy, hex('ff')), CorruptRecordError, 'a raw block that is not snappy')
})

t.test('xxHash32 vectors', async (t) => {
  t.equal(xxhash32(new Uint8Array(0)), 0x02cc5d05)
  t.equal(xxhash32(utf8('a')), 0x550d7456)
  t.equal(xxhash32(utf8('abc')), 0x32d153ff)
  t.equal(xxhash32(utf8('Nobody inspects the spammish repetition')), 0xe2293b2f)
  t.equal(xxhash32(new Uint8Array(0), 0, 0, 1), 0x0b2cb792)
  t.equal(xxhash32(utf8('0123456789abcdef0123456789abcdef!'), 0, 33, 0x9e3779b1), 0xa1dada25)
  t.equal(xxhash32(utf8('xxabcxx'), 2, 5), 0x32d153ff, 'a range')
})

/** An LZ4 frame from parts, with a correct header checksum. */
function lz4Frame(flg: number, bd: number, body: Uint8Array, contentSize?: number): Uint8Array {
  const descriptor = [flg, bd]
  if (contentSize !== undefined) for (let i = 0; i < 8; i++) descriptor.push(Math.floor(contentSize / 2 ** (8 * i)) & 0xff)
  const d = Uint8Array.from(descriptor)
  return concat(hex('04224d18'), d, Uint8Array.of((xxhash32(d) >>> 8) & 0xff), body)
}
const le32 = (v: number) => Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff)
const block = (data: Uint8Array, stored = false) => concat(le32(data.length | (stored ? 0x80000000 : 0)), data)
const END = le32(0)

t.test('lz4: what Kafka\'s Java producer writes', async (t) => {
  const out = lz4Compress(utf8('hello'))
  t.equal(toHex(out.subarray(0, 7)), '04224d18604082', 'magic, FLG 0x60 (independent blocks), BD 0x40 (64 KiB), HC')
  t.equal(toHex(out), '04224d18604082' + '05000080' + toHex(utf8('hello')) + '00000000', 'a block that does not shrink is stored')
  const zeros = lz4Compress(new Uint8Array(200_000))
  t.ok(zeros.length < 1500, `200 KB of zeros in ${zeros.length} bytes`)
  // four blocks of 64 KiB + the rest, each independent: their sizes add up to the frame
  let at = 7
  let blocks = 0
  for (;;) {
    const size = new DataView(zeros.buffer, zeros.byteOffset).getUint32(at, true)
    at += 4
    if (size === 0) break
    at += size & 0x7fffffff
    blocks++
  }
  t.equal(blocks, 4)
  t.equal(at, zeros.length)
})

t.test('lz4: golden frames from the lz4 1.9.4 CLI', async (t) => {
  const message = 'hello hello hello hello hello hello!'
  // `lz4 --content-size -BX`: content size, block checksums, content checksum
  t.equal(text(lz4Decompress(hex('04224d187c40240000000000000021100000006f68656c6c6f2006000650656c6c6f21ec28c5f30000000018600b2e'))), message)
  // `lz4` from a pipe: content checksum only
  t.equal(text(lz4Decompress(hex('04224d186440a7100000006f68656c6c6f2006000650656c6c6f210000000018600b2e'))), message)
})

t.test('lz4: frame features', async (t) => {
  const hello = hex('50 68656c6c6f') // 5 literals
  t.equal(text(lz4Decompress(lz4Frame(0x60, 0x40, concat(block(hello), END)))), 'hello')
  t.equal(text(lz4Decompress(lz4Frame(0x60, 0x70, concat(block(utf8('raw'), true), END)))), 'raw', 'a stored block, 4 MiB blocks')
  // Dependent blocks: the second block's match reaches back into the first.
  const second = hex('01 0500 10 21') // match of 5 at offset 5, then "!"
  t.equal(text(lz4Decompress(lz4Frame(0x40, 0x40, concat(block(hello), block(second), END)))), 'hellohello!')
  t.throws(() => lz4Decompress(lz4Frame(0x60, 0x40, concat(block(hello), block(second), END))), { message: /offset 5 points outside the window/ }, 'not across independent blocks')
  // Kafka's magic-0 clients computed the header checksum over the magic number too.
  const broken = lz4Frame(0x60, 0x40, concat(block(hello), END))
  broken[6] = (xxhash32(broken, 0, 6) >>> 8) & 0xff
  t.equal(text(lz4Decompress(broken)), 'hello')
  const skippable = concat(hex('5a2a4d18'), le32(3), hex('aabbcc'))
  const a = lz4Compress(utf8('first,'))
  const b = lz4Compress(utf8('second'))
  t.equal(text(lz4Decompress(concat(a, skippable, b))), 'first,second', 'frames and a skippable frame back to back')
  t.equal(lz4Decompress(skippable).length, 0)
  t.equal(lz4Decompress(lz4Frame(0x60, 0x40, END)).length, 0, 'an empty frame')
  // overlapping copies: offset 1 repeats one byte; offset 2 two
  t.equal(text(lz4Decompress(lz4Frame(0x60, 0x40, concat(block(hex('1f 61 0100 05 10 62')), END)))), 'a'.repeat(25) + 'b')
  t.equal(text(lz4Decompress(lz4Frame(0x68, 0x40, concat(block(hex('24 6162 0200 20 6364')), END), 12))), 'abababababcd', 'content size')
})

t.test('lz4: corrupt frames', async (t) => {
  const hello = block(hex('50 68656c6c6f'))
  const good = lz4Frame(0x60, 0x40, concat(hello, END))
  const withHc = (flg: number, bd: number, rest: string) => lz4Frame(flg, bd, hex(rest))
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty input', new Uint8Array(0), /cut short before its magic/],
    ['a magic number only', hex('04224d'), /cut short before its magic/],
    ['bad magic', hex('04224d19 6040 82 00000000'), /bad magic number 0x194d2204/],
    ['skippable header cut', hex('502a4d18 0100'), /skippable frame is cut short/],
    ['skippable body cut', hex('502a4d18 05000000 aa'), /skippable frame is cut short/],
    ['descriptor cut', hex('04224d18 6040'), /descriptor is cut short/],
    ['version 2', withHc(0x80, 0x40, '00000000'), /unsupported frame version 2/],
    ['reserved FLG bit', withHc(0x62, 0x40, '00000000'), /reserved FLG bit/],
    ['dictionary id', withHc(0x61, 0x40, '00000000'), /dictionary id/],
    ['reserved BD bits', withHc(0x60, 0xc0, '00000000'), /reserved BD bits/],
    ['block size id 3', withHc(0x60, 0x30, '00000000'), /block maximum size id 3/],
    ['content size cut', hex('04224d18 6840 0500000000'), /descriptor is cut short/],
    ['implausible content size', lz4Frame(0x68, 0x40, END, 2 ** 40), /implausible content size/],
    ['header checksum', (() => { const b = good.slice(); b[6]! ^= 1; return b })(), /descriptor checksum mismatch/],
    ['no end mark', good.subarray(0, good.length - 2), /before its end mark/],
    ['block larger than the maximum', withHc(0x60, 0x40, '01000100 00'), /65537 bytes exceeds the frame's maximum 65536/],
    ['block cut short', withHc(0x60, 0x40, '0a000000 5068656c6c6f'), /block is cut short/],
    ['block checksum', lz4Frame(0x70, 0x40, concat(hello, le32(12345), END)), /block checksum mismatch/],
    ['content checksum cut', lz4Frame(0x64, 0x40, concat(hello, END, hex('0102'))), /content checksum is cut short/],
    ['content checksum', lz4Frame(0x64, 0x40, concat(hello, END, le32(12345))), /content checksum mismatch/],
    ['content size', lz4Frame(0x68, 0x40, concat(hello, END), 6), /declares 6 bytes of content but holds 5/],
    ['ends after a match', lz4Frame(0x60, 0x40, concat(block(hex('10 61 0100')), END)), /ends inside a sequence/],
    ['literal length cut', lz4Frame(0x60, 0x40, concat(block(hex('f0')), END)), /inside a literal length/],
    ['literals past the block', lz4Frame(0x60, 0x40, concat(block(hex('50 6162')), END)), /literals run past/],
    ['offset cut', lz4Frame(0x60, 0x40, concat(block(hex('10 61 00')), END)), /inside a match offset/],
    ['offset 0', lz4Frame(0x60, 0x40, concat(block(hex('10 61 0000 10 62')), END)), /offset 0 points outside/],
    ['offset before the output', lz4Frame(0x60, 0x40, concat(block(hex('10 61 0500 10 62')), END)), /offset 5 points outside/],
    ['match length cut', lz4Frame(0x60, 0x40, concat(block(hex('1f 61 0100')), END)), /inside a match length/],
    ['match past the maximum block', lz4Frame(0x60, 0x40, concat(block(concat(hex('1f 61 0100'), new Uint8Array(257).fill(255), hex('00 10 62'))), END)), /past its maximum size/],
    ['literals past the maximum block', lz4Frame(0x60, 0x40, concat(block(concat(hex('1f 61 0100'), new Uint8Array(256).fill(255), hex('e6 a0'), new Uint8Array(10))), END)), /past its maximum size/],
  ]
  for (const [what, bytes, message] of cases) {
    t.throws(() => decompress(Compression.lz4, bytes), { name: 'CorruptRecordError', message }, what)
  }
})

t.test('lz4: decoding never fails other than with CorruptRecordError', async (t) => {
  const frame = lz4Compress(samples()[8]![1].subarray(0, 20_000))
  let x = 77
  let others = 0
  for (let i = 0; i < 500; i++) {
    const bad = frame.slice()
    for (let k = 0; k < 3; k++) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      bad[7 + ((x >>> 0) % (bad.length - 7))] = x & 0xff
    }
    try {
      lz4Decompress(bad)
    } catch (e) {
      if (!(e instanceof CorruptRecordError)) others++
    }
  }
  t.equal(others, 0)
})

t.test('every codec reports garbage as CorruptRecordError', async (t) => {
  const garbage = pseudoRandomBytes(64, 5)
  for (const codec of [Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd]) {
    t.throws(() => decompress(codec, garbage), { name: 'CorruptRecordError', errorCode: 2 }, compressionName(codec))
  }
})
