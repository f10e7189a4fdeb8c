// End-to-end: a shop owner imports orders the way a Chinese shop has them, against a running
// `kefu demo` (env KEFU_URL). They download the Excel and CSV templates from the import page, then
// upload the CSV Excel saves on a Chinese Windows — GBK, CRLF, Chinese headers, a quoted cell with
// a line break, `2026/12/6 16:00` and `1,329.00` — and read every refused line in Chinese with the
// file's own line number; in English after switching the language. The imported buyer shows 暂无
// as last contact, never 1970.
// Run from web/: KEFU_URL=http://127.0.0.1:18080 node --test e2e/imports.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { launchBrowser } from './browser.mjs'

const BASE = (process.env.KEFU_URL || 'http://127.0.0.1:18080').replace(/\/$/, '')
const SHOTS = fileURLToPath(new URL('../screenshots/', import.meta.url))
const WAIT = 30_000 // every single wait is bounded by this
mkdirSync(SHOTS, { recursive: true })

let browser
before(async () => {
  browser = await launchBrowser()
})
after(async () => {
  await browser?.close()
})

async function shot(page, name) {
  await page.screenshot({ path: SHOTS + name + '.png', animations: 'disabled', fullPage: true })
}

/** Text → GBK bytes, as Excel's "CSV" writes it (Node decodes GBK but has no encoder: build one). */
function gbk(text) {
  const dec = new TextDecoder('gbk')
  const table = new Map()
  for (let lead = 0x81; lead <= 0xfe; lead++)
    for (let trail = 0x40; trail <= 0xfe; trail++) {
      if (trail === 0x7f) continue
      const ch = dec.decode(new Uint8Array([lead, trail]))
      if (ch.length === 1 && ch !== '\ufffd' && !table.has(ch)) table.set(ch, [lead, trail])
    }
  const out = []
  for (const ch of text) {
    const code = ch.codePointAt(0)
    if (code < 0x80) out.push(code)
    else {
      const bytes = table.get(ch)
      assert.ok(bytes, `no GBK code for ${ch}`)
      out.push(...bytes)
    }
  }
  return Buffer.from(out)
}

test('orders from a Chinese Excel CSV: templates, GBK upload, Chinese reasons with the file\'s lines', { timeout: 240_000 }, async () => {
  const stamp = Date.now().toString(36).toUpperCase()
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN', acceptDownloads: true })
  const page = await ctx.newPage()
  page.setDefaultTimeout(WAIT)
  await page.goto(BASE + '/login', { timeout: WAIT })
  await page.getByTestId('login-email').fill('wang.dian@demo.kefu')
  await page.getByTestId('login-password').fill('demo1234')
  await page.getByTestId('login-submit').click()
  await page.waitForURL(/\/inbox/, { timeout: WAIT })

  await page.goto(BASE + '/orders', { timeout: WAIT })
  await page.getByTestId('orders-tab-import').click()
  const panel = page.getByTestId('orders-import')
  await panel.waitFor({ timeout: WAIT })

  // ---- 下载模板: the Excel and the CSV template, with Chinese headers
  const [xlsx] = await Promise.all([page.waitForEvent('download', { timeout: WAIT }), page.getByTestId('orders-template-xlsx').click()])
  assert.match(xlsx.suggestedFilename(), /\.xlsx$/)
  const xlsxBytes = readFileSync(await xlsx.path())
  assert.equal(xlsxBytes.subarray(0, 4).toString('latin1'), 'PK\x03\x04', 'an XLSX is a zip')
  const [csvT] = await Promise.all([page.waitForEvent('download', { timeout: WAIT }), page.getByTestId('orders-template-csv').click()])
  assert.match(csvT.suggestedFilename(), /\.csv$/)
  const csvText = readFileSync(await csvT.path(), 'utf8')
  assert.ok(csvText.startsWith('\ufeff订单号,下单时间'), `CSV template starts with a BOM and Chinese headers: ${csvText.slice(0, 40)}`)

  // ---- the file Excel saved: GBK, CRLF, a quoted cell over two lines
  const file =
    '订单号,下单时间,买家昵称,手机号,商品编码,商品名称,数量,实付金额,状态,快递公司,运单号,备注\r\n' +
    `E${stamp}1,2026/12/6 16:00,小王,13800138000,EAR-1,"蓝牙耳机\r\n（白色）",1,"1,329.00",已发货,顺丰,SF${stamp}1,送人\r\n` +
    `E${stamp}2,2026年12月6日 16:05,小李,13900139000,CAB-1,数据线,两个,29.90,已付款,,,\r\n` +
    `E${stamp}3,2026/12/6 16:10,小张,13700137000,CAB-1,数据线,1,"1,32",已付款,,,\r\n`
  await page.getByTestId('orders-import-file').setInputFiles({ name: '订单导出.csv', mimeType: 'text/csv', buffer: gbk(file) })
  await page.getByTestId('orders-import-upload').click()
  const report = page.getByTestId('orders-import-report')
  await report.waitFor({ timeout: WAIT })
  await report.getByText('新增 1').waitFor({ timeout: WAIT })
  const rows = page.getByTestId('orders-import-bad').locator('tbody tr')
  assert.equal(await rows.count(), 2)
  // The quoted cell spans lines 2–3: the bad orders are on the file's lines 4 and 5.
  const cells = async (i) => (await rows.nth(i).locator('td').allInnerTexts()).map((s) => s.trim())
  assert.deepEqual(await cells(0), ['4', `E${stamp}2`, '数量', '须为整数'])
  // The column as the file names it (实付金额), not the system's name for it.
  assert.deepEqual(await cells(1), ['5', `E${stamp}3`, '实付金额', '金额写法有歧义，请写成 1329.00 或 1,329.00（逗号只用作千位分隔）'])
  assert.ok(!/[a-z]{4,}/.test((await report.innerText()).replace(/E[0-9A-Z]+/g, '')), 'no English sentence in the Chinese report')
  await shot(page, 'imports-01-gbk-report-zh')

  // ---- the order is there, with the amount and the time as written (the shop's zone)
  const token = await page.evaluate(() => localStorage.getItem('kefu_token'))
  const found = await (await fetch(`${BASE}/api/v1/orders?q=E${stamp}1`, { headers: { Authorization: `Bearer ${token}` } })).json()
  assert.equal(found.orders.length, 1)
  assert.equal(found.orders[0].total_cents, 132_900)
  assert.equal(found.orders[0].placed_at, '2026-12-06T08:00:00.000Z')

  // ---- the buyer it created has not contacted the shop: 暂无, not 1970
  await page.goto(`${BASE}/customers/${found.orders[0].customer_id}`, { timeout: WAIT })
  const last = page.getByTestId('customer-last-contact')
  await last.waitFor({ timeout: WAIT })
  assert.equal((await last.innerText()).trim(), '暂无')

  // ---- in English, the same file reads in English
  await page.evaluate(() => localStorage.setItem('kefu_locale', 'en'))
  await page.goto(BASE + '/orders', { timeout: WAIT })
  await page.getByTestId('orders-tab-import').click()
  await page.getByTestId('orders-import-file').setInputFiles({ name: 'orders.csv', mimeType: 'text/csv', buffer: gbk(file) })
  await page.getByTestId('orders-import-upload').click()
  await page.getByTestId('orders-import-report').getByText('1 unchanged').waitFor({ timeout: WAIT })
  assert.deepEqual(await cells(0), ['4', `E${stamp}2`, 'Quantity (数量)', 'Must be a whole number'])
  await shot(page, 'imports-02-gbk-report-en')
  await page.evaluate(() => localStorage.setItem('kefu_locale', 'zh'))
  await ctx.close()
})

test('reviews and scripts: 下载模板 beside the upload; a GBK review export reads in Chinese', { timeout: 180_000 }, async () => {
  const stamp = Date.now().toString(36).toUpperCase()
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN', acceptDownloads: true })
  const page = await ctx.newPage()
  page.setDefaultTimeout(WAIT)
  await page.goto(BASE + '/login', { timeout: WAIT })
  await page.getByTestId('login-email').fill('wang.dian@demo.kefu')
  await page.getByTestId('login-password').fill('demo1234')
  await page.getByTestId('login-submit').click()
  await page.waitForURL(/\/inbox/, { timeout: WAIT })

  // ---- reviews: the Excel template, then a platform export in GBK
  await page.goto(BASE + '/reviews', { timeout: WAIT })
  await page.getByTestId('rv-tab-import').click()
  const [xlsx] = await Promise.all([page.waitForEvent('download', { timeout: WAIT }), page.getByTestId('rv-template').click()])
  assert.match(xlsx.suggestedFilename(), /\.xlsx$/)
  assert.equal(readFileSync(await xlsx.path()).subarray(0, 2).toString('latin1'), 'PK')
  const file =
    '评价编号,平台,评分,评价内容,订单号,评价时间\r\n' +
    `R${stamp}1,淘宝,差评,"耳机有杂音\r\n退货也不理",,2026/12/6 16:00\r\n` +
    `R${stamp}2,京东,9星,,,2026/12/6\r\n` +
    `R${stamp}3,拼多多,中评,一般,,昨天\r\n`
  await page.getByTestId('rv-import-input').setInputFiles({ name: '评价导出.csv', mimeType: 'text/csv', buffer: gbk(file) })
  const report = page.getByTestId('rv-import-report')
  await report.waitFor({ timeout: WAIT })
  const bad = page.getByTestId('rv-bad-row')
  await bad.first().waitFor({ timeout: WAIT })
  assert.deepEqual((await bad.allInnerTexts()).map((s) => s.trim()), [
    '第 4 行 · 评分：须在 1 到 5 之间',
    '第 5 行 · 评价时间：须为时间，如 2026/12/6 16:00 或 2026-12-06 16:00:00',
  ])
  await shot(page, 'imports-03-reviews-zh')

  // ---- scripts: the template link beside the import button
  await page.goto(BASE + '/scripts', { timeout: WAIT })
  const [tpl] = await Promise.all([page.waitForEvent('download', { timeout: WAIT }), page.getByTestId('scripts-template').click()])
  assert.match(tpl.suggestedFilename(), /\.xlsx$/)
  await shot(page, 'imports-04-scripts-template')
  await ctx.close()
})
