// End-to-end: attachments between the agent console and the shopper widget, against a running
// `kefu demo` (env KEFU_URL). Run from web/: KEFU_URL=http://127.0.0.1:18104 node --test e2e/attachments.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { deflateSync } from 'node:zlib'
import { launchBrowser, pick } from './browser.mjs'

const BASE = (process.env.KEFU_URL || 'http://127.0.0.1:18080').replace(/\/$/, '')
const SHOTS = fileURLToPath(new URL('../screenshots/', import.meta.url))
const WAIT = 30_000
mkdirSync(SHOTS, { recursive: true })

/** A real RGB PNG of `w`×`h` (a colour gradient), encoded here so the test needs no fixtures. */
function png(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    return c >>> 0
  })
  const crc = (buf) => {
    let c = 0xffffffff
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8)
    return (c ^ 0xffffffff) >>> 0
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(data.length)
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data])
    const c = Buffer.alloc(4)
    c.writeUInt32BE(crc(td))
    return Buffer.concat([len, td, c])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(w, 0)
  ihdr.writeUInt32BE(h, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // RGB
  const raw = Buffer.alloc((w * 3 + 1) * h)
  for (let y = 0; y < h; y++) {
    const row = y * (w * 3 + 1)
    raw[row] = 0
    for (let x = 0; x < w; x++) {
      raw[row + 1 + x * 3] = (x * 255) / w
      raw[row + 2 + x * 3] = (y * 255) / h
      raw[row + 3 + x * 3] = 160
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

let browser
before(async () => {
  browser = await launchBrowser()
})
after(async () => {
  await browser?.close()
})

const shot = (page, name) => page.screenshot({ path: SHOTS + name + '.png', animations: 'disabled' })
/** Waits until an <img> has really loaded (the bytes decoded). */
const loaded = (locator) =>
  locator.evaluate(
    (img) =>
      new Promise((resolve, reject) => {
        const done = () => (img.naturalWidth > 0 ? resolve(img.naturalWidth) : reject(new Error('image failed')))
        if (img.complete && img.naturalWidth > 0) return resolve(img.naturalWidth)
        img.addEventListener('load', done, { once: true })
        img.addEventListener('error', () => reject(new Error('image failed')), { once: true })
      }),
  )

test('agent and shopper exchange an image and a file; disguised files are refused', { timeout: 240_000 }, async () => {
  const stamp = Date.now().toString(36)
  const question = `收到的耳机盒子压坏了 #${stamp}`

  const agentCtx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
  const agent = await agentCtx.newPage()
  agent.setDefaultTimeout(WAIT)
  await agent.goto(BASE + '/login')
  await agent.getByTestId('login-email').fill('li.na@demo.kefu')
  await agent.getByTestId('login-password').fill('demo1234')
  await agent.getByTestId('login-submit').click()
  await agent.waitForURL(/\/inbox/)
  await pick(agent.getByTestId('status-select'), 'online')
  await agent.locator('.status-select.st-online').waitFor()

  const shopCtx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'zh-CN' })
  const shopper = await shopCtx.newPage()
  shopper.setDefaultTimeout(WAIT)
  await shopper.goto(BASE + '/demo/shop')
  await shopper.getByTestId('kefu-launcher').click()
  await shopper.getByTestId('kefu-panel').waitFor({ state: 'visible' })
  await shopper.getByTestId('kefu-input').fill(question)
  await shopper.getByTestId('kefu-input').press('Enter')
  await shopper.locator('[data-testid="kefu-message"][data-state="sent"]', { hasText: question }).waitFor()

  // ---- the shopper sends a photo of the damage: the agent sees its thumbnail
  await shopper.getByTestId('kefu-file').setInputFiles({ name: `破损照片-${stamp}.png`, mimeType: 'image/png', buffer: png(900, 600) })
  const mine = shopper.locator('[data-testid="kefu-message"][data-sender-type="customer"][data-state="sent"] [data-testid="kefu-attachment-img"]')
  await mine.waitFor()
  assert.ok((await loaded(mine)) > 0, 'the widget shows its own image')

  const row = agent.getByTestId('conversation-row').filter({ hasText: `[图片] 破损照片-${stamp}.png` })
  await row.waitFor()
  await row.click()
  const custThumb = agent.locator('[data-testid="message-bubble"][data-sender-type="customer"] [data-testid="attachment-thumb"]')
  await custThumb.waitFor()
  assert.equal(await loaded(custThumb), 320, 'the console shows the 320 px thumbnail')
  await custThumb.click()
  const full = agent.locator('[data-testid="attachment-lightbox"] img')
  assert.equal(await loaded(full), 900, 'click opens the full image')
  await shot(agent, 'attach-01-console-lightbox')
  await agent.getByTestId('attachment-lightbox').click({ position: { x: 10, y: 10 } })

  // ---- the agent attaches an image: the widget shows it live
  await agent.getByTestId('attach-input').setInputFiles({ name: `换货说明-${stamp}.png`, mimeType: 'image/png', buffer: png(480, 360) })
  const agentImg = agent.locator('[data-testid="message-bubble"][data-sender-type="agent"][data-kind="attachment"] [data-testid="attachment-thumb"]')
  await agentImg.waitFor()
  const theirs = shopper.locator('[data-testid="kefu-message"][data-sender-type="agent"] [data-testid="kefu-attachment-img"]')
  await theirs.waitFor()
  assert.equal(await loaded(theirs), 320, 'the widget shows the agent image thumbnail (fetched with the visitor token)')
  await theirs.click()
  assert.equal(await loaded(shopper.getByTestId('kefu-lightbox-img')), 480)
  await shot(shopper, 'attach-02-widget-images')
  await shopper.getByTestId('kefu-lightbox').click()

  // ---- a file from the agent: a chip with name and size in both places
  const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n')
  await agent.getByTestId('attach-input').setInputFiles({ name: `退货流程-${stamp}.pdf`, mimeType: 'application/pdf', buffer: pdf })
  await agent.getByTestId('attachment-file').filter({ hasText: `退货流程-${stamp}.pdf` }).waitFor()
  await shopper.getByTestId('kefu-attachment-file').filter({ hasText: `退货流程-${stamp}.pdf` }).waitFor()

  // ---- a pasted screenshot and a dropped file are sent the same way
  await agent.getByTestId('composer').evaluate((el, b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
    const dt = new DataTransfer()
    dt.items.add(new File([bytes], 'image.png', { type: 'image/png' }))
    el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }))
  }, png(200, 150).toString('base64'))
  const pasted = agent.locator('[data-testid="attachment-thumb"][alt^="截图_"]')
  await pasted.waitFor()
  assert.equal(await loaded(pasted), 200, 'a small pasted image is shown as is')
  await agent.getByTestId('composer').evaluate((el, name) => {
    const dt = new DataTransfer()
    dt.items.add(new File(['订单号 XMF20261123001\n'], name, { type: 'text/plain' }))
    el.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }))
  }, `单号-${stamp}.txt`)
  await shopper.getByTestId('kefu-attachment-file').filter({ hasText: `单号-${stamp}.txt` }).waitFor()

  // ---- disguised files are refused with a clear message, nothing is sent
  const exe = Buffer.alloc(2048)
  exe.write('MZ', 0)
  exe.writeUInt32LE(0x80, 0x3c)
  exe.write('PE\0\0', 0x80, 'binary')
  await agent.getByTestId('attach-input').setInputFiles({ name: `photo-${stamp}.jpg`, mimeType: 'image/jpeg', buffer: exe })
  await agent.getByTestId('attach-error').filter({ hasText: '文件类型不支持' }).waitFor()
  await shopper.getByTestId('kefu-file').setInputFiles({ name: `evil-${stamp}.png`, mimeType: 'image/png', buffer: Buffer.from('<svg onload="alert(1)"></svg>') })
  await shopper.getByTestId('kefu-attachment-error').waitFor()
  await shot(agent, 'attach-03-console-refused')
  await shot(shopper, 'attach-04-widget-refused')
  assert.equal(await agent.locator('[data-testid="attachment"]', { hasText: `photo-${stamp}` }).count(), 0)

  // ---- after a reload the widget still shows the images from history
  await shopper.reload()
  await shopper.getByTestId('kefu-launcher').click()
  const again = shopper.locator('[data-testid="kefu-message"][data-sender-type="agent"] [data-testid="kefu-attachment-img"]')
  await again.first().waitFor()
  assert.equal(await loaded(again.first()), 320)

  await agentCtx.close()
  await shopCtx.close()
})
