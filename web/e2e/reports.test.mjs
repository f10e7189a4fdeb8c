// End-to-end (reports and mail settings): the shop owner opens the complaints report (key figures,
// charts drawn, CSV downloaded with the Chinese header), and sets up outbound mail in Settings —
// the password field is write-only. Run from web/: KEFU_URL=http://127.0.0.1:18080 node --test e2e/reports.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { launchBrowser, pick } from './browser.mjs'

const BASE = (process.env.KEFU_URL || 'http://127.0.0.1:18080').replace(/\/$/, '')
const SHOTS = fileURLToPath(new URL('../screenshots/', import.meta.url))
const WAIT = 30_000
mkdirSync(SHOTS, { recursive: true })

let browser
before(async () => {
  browser = await launchBrowser()
})
after(async () => {
  await browser?.close()
})

async function shot(page, name) {
  await page.screenshot({ path: SHOTS + name + '.png', animations: 'disabled' })
}

async function login(email) {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN', acceptDownloads: true })
  const page = await ctx.newPage()
  page.setDefaultTimeout(WAIT)
  await page.goto(BASE + '/login', { timeout: WAIT })
  await page.getByTestId('login-email').fill(email)
  await page.getByTestId('login-password').fill('demo1234')
  await page.getByTestId('login-submit').click()
  await page.waitForURL(/\/inbox/, { timeout: WAIT })
  return { ctx, page }
}

test('complaints report with charts and CSV, and mail settings', { timeout: 180_000 }, async () => {
  const { ctx, page } = await login('wang.dian@demo.kefu')
  await page.getByTestId('nav-reports').click()
  await page.waitForURL(/\/reports/)
  // The demo shop's complaint tickets are counted: figures, then the charts drawn on canvases.
  const tickets = page.getByTestId('kpi-tickets')
  await tickets.waitFor()
  assert.ok(Number(await tickets.textContent()) > 0, 'the demo complaints are counted')
  await page.getByTestId('report-trend-chart').locator('canvas').waitFor()
  await page.getByTestId('report-category-chart').locator('canvas').waitFor()
  const categories = await page.getByTestId('report-categories').textContent()
  assert.match(categories, /差错|配送|服务态度|价格|其它/)
  await shot(page, 'r01-complaints-report')

  // All tickets counts at least as many as complaints only.
  const complaints = Number(await tickets.textContent())
  await pick(page.getByTestId('report-scope'), 'all')
  await page.waitForFunction(
    (n) => Number(document.querySelector('[data-testid="kpi-tickets"]')?.textContent) >= n,
    complaints,
  )

  // The CSV arrives with a BOM and the header.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('report-export').click()])
  const csv = readFileSync(await download.path(), 'utf8')
  assert.ok(csv.startsWith('\ufeffnumber,created_at,subject,category'), csv.slice(0, 80))
  assert.ok(csv.trim().split('\n').length > 1, 'one line per ticket')

  // Mail settings: save, see "configured", the password is never shown back.
  await page.getByTestId('nav-settings').click()
  const mail = page.getByTestId('mail-settings')
  await mail.getByTestId('mail-host').waitFor()
  await mail.getByTestId('mail-enabled').check()
  await mail.getByTestId('mail-host').fill('smtp.example.com')
  await mail.getByTestId('mail-port').fill('587')
  await pick(mail.getByTestId('mail-security'), 'starttls')
  await mail.getByTestId('mail-username').fill('service@example.com')
  await mail.getByTestId('mail-password').fill('not-shown-again')
  await mail.getByTestId('mail-from').fill('service@example.com')
  await mail.getByTestId('mail-from-name').fill('小米旗舰店客服')
  await mail.getByTestId('mail-save').click()
  await mail.getByTestId('mail-saved').waitFor()
  assert.match(await mail.getByTestId('mail-state').textContent(), /邮件已配置/)
  assert.equal(await mail.getByTestId('mail-password').inputValue(), '')
  await page.reload()
  // The fields are disabled until the saved settings have loaded; read them only then.
  await mail.locator('[data-testid="mail-host"]:enabled').waitFor()
  assert.equal(await mail.getByTestId('mail-host').inputValue(), 'smtp.example.com')
  assert.equal(await mail.getByTestId('mail-password').inputValue(), '')
  assert.match(await mail.getByTestId('mail-password').getAttribute('placeholder'), /已设置密码/)
  assert.ok(!(await page.content()).includes('not-shown-again'))
  // A bad address is refused with the field named, nothing saved.
  await mail.getByTestId('mail-from').fill('not-an-address')
  await mail.evaluate((el) => el.querySelector('form')?.setAttribute('novalidate', ''))
  await mail.getByTestId('mail-save').click()
  // Named in Chinese: the field's label, never the server's English sentence.
  assert.match(await mail.getByTestId('mail-error').textContent(), /发件地址须为有效的邮箱地址/)
  await shot(page, 'r02-mail-settings')
  // Turn mail off again so other tests see the demo as shipped.
  await mail.getByTestId('mail-from').fill('service@example.com')
  await mail.getByTestId('mail-enabled').uncheck()
  await mail.getByTestId('mail-save').click()
  await mail.getByTestId('mail-saved').waitFor()
  await ctx.close()
})
