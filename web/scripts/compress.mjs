// Writes a Brotli (.br) and a gzip (.gz) copy beside each text file of dist/ (the console's
// assets, widget.js, index.html, the demo page). The server (crates/kefu-web) sends the copy the
// browser accepts, so nothing is compressed at request time. Run by `npm run build`.
import { readdirSync, readFileSync, statSync, writeFileSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { brotliCompressSync, gzipSync, constants } from 'node:zlib'

const DIST = new URL('../dist/', import.meta.url).pathname
const TEXT = /\.(js|mjs|css|html|svg|json|txt|map)$/
// Below this size the headers outweigh what compression saves.
const MIN_BYTES = 1024

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) yield* files(path)
    else yield path
  }
}

let plain = 0
let brotli = 0
for (const path of files(DIST)) {
  if (path.endsWith('.br') || path.endsWith('.gz')) {
    unlinkSync(path) // a stale copy from an earlier build
    continue
  }
}
for (const path of files(DIST)) {
  if (!TEXT.test(path)) continue
  const data = readFileSync(path)
  if (data.length < MIN_BYTES) continue
  const br = brotliCompressSync(data, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length },
  })
  const gz = gzipSync(data, { level: 9 })
  // Keep a copy only when it is smaller than the file itself.
  if (br.length < data.length) writeFileSync(path + '.br', br)
  if (gz.length < data.length) writeFileSync(path + '.gz', gz)
  plain += data.length
  brotli += Math.min(br.length, data.length)
}
console.log(`compressed dist/: ${(plain / 1024).toFixed(0)} KiB of text → ${(brotli / 1024).toFixed(0)} KiB with Brotli`)
