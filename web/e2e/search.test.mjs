// End-to-end: the console's global search box against a running `kefu demo` (env KEFU_URL).
// Run from web/: KEFU_URL=http://127.0.0.1:18103 node --test e2e/search.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
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

test('global search: keyboard focus, grouped results, open a conversation and a customer', { timeout: 180_000 }, async () => {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
  const page = await ctx.newPage()
  page.setDefaultTimeout(WAIT)
  await page.goto(BASE + '/login', { timeout: WAIT })
  await page.getByTestId('login-email').fill('wang.dian@demo.kefu')
  await page.getByTestId('login-password').fill('demo1234')
  await page.getByTestId('login-submit').click()
  await page.waitForURL(/\/inbox/, { timeout: WAIT })

  // `/` focuses the box (outside any input); words of the demo dialogues are found.
  await page.locator('body').click({ position: { x: 700, y: 500 } })
  await page.keyboard.press('/')
  const input = page.getByTestId('global-search-input')
  assert.equal(await input.evaluate((el) => el === document.activeElement), true, '/ focuses the search box')
  // The index may still be building right after start-up: the box says so and retries.
  const deadline = Date.now() + WAIT
  await input.fill('降噪')
  const group = page.getByTestId('global-search-group-message')
  while (!(await group.isVisible())) {
    assert.ok(Date.now() < deadline, 'message hits for 降噪')
    await page.waitForTimeout(300)
  }
  const firstHit = group.getByTestId('global-search-hit').first()
  assert.match(await firstHit.locator('mark').first().innerText(), /降噪/)
  await page.waitForTimeout(300)
  await page.screenshot({ path: SHOTS + 'search-01-messages.png', animations: 'disabled' })
  // Arrows + Enter open the conversation of the selected hit.
  await input.press('ArrowDown')
  await input.press('ArrowUp')
  await input.press('Enter')
  await page.waitForURL(/\/inbox\/\d+/, { timeout: WAIT })

  // Ctrl+K from anywhere, even the composer (focused once the conversation has loaded); the
  // last 4 digits of a phone find the customer.
  await page.waitForFunction(() => document.activeElement?.tagName === 'TEXTAREA', null, { timeout: WAIT })
  await page.keyboard.press('Control+k')
  assert.equal(await input.evaluate((el) => el === document.activeElement), true, 'Ctrl+K focuses the search box')
  await input.fill('1111')
  const customers = page.getByTestId('global-search-group-customer')
  await customers.waitFor({ timeout: WAIT })
  assert.match(await customers.innerText(), /林小雨/)
  await page.screenshot({ path: SHOTS + 'search-02-customer.png', animations: 'disabled' })
  await customers.getByTestId('global-search-hit').first().click()
  await page.waitForURL(/\/customers\/\d+/, { timeout: WAIT })

  // Odd syntax answers an empty result, not an error.
  await page.keyboard.press('Control+k')
  await input.fill('"((AND OR *')
  await page.getByTestId('global-search-empty').waitFor({ timeout: WAIT })
  // English UI.
  await pick(page.getByTestId('lang-select'), 'en')
  await input.fill('降噪')
  await page.locator('.gsearch-group-title', { hasText: 'Messages' }).waitFor({ timeout: WAIT })
  await ctx.close()
})

test('global search: a script hit opens the scripts page on that script', { timeout: 180_000 }, async () => {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
  const page = await ctx.newPage()
  page.setDefaultTimeout(WAIT)
  await page.goto(BASE + '/login', { timeout: WAIT })
  await page.getByTestId('login-email').fill('wang.dian@demo.kefu')
  await page.getByTestId('login-password').fill('demo1234')
  await page.getByTestId('login-submit').click()
  await page.waitForURL(/\/inbox/, { timeout: WAIT })
  const token = await page.evaluate(() => localStorage.getItem('kefu_token'))
  const call = async (method, path, body) => {
    const r = await fetch(BASE + path, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    })
    assert.ok(r.ok, `${method} ${path}: ${r.status}`)
    return r.status === 204 ? null : r.json()
  }
  const { categories } = await call('GET', '/api/v1/script-categories')
  const script = await call('POST', '/api/v1/scripts', {
    category_id: categories[0].id,
    title: '琉璃礼盒',
    body: '亲，琉璃摆件已用防震泡沫包好',
    personal: true,
  })

  const input = page.getByTestId('global-search-input')
  await input.click()
  await input.fill('防震泡沫')
  const group = page.getByTestId('global-search-group-script')
  const deadline = Date.now() + WAIT
  while (!(await group.isVisible())) {
    assert.ok(Date.now() < deadline, 'a script hit for 防震泡沫')
    await page.waitForTimeout(300)
    await input.fill('')
    await input.fill('防震泡沫')
  }
  assert.match(await group.innerText(), /琉璃礼盒/)
  await group.getByTestId('global-search-hit').first().click()
  await page.waitForURL(new RegExp(`/scripts\\?id=${script.id}$`), { timeout: WAIT })
  const row = page.locator(`[data-script-id="${script.id}"]`)
  await row.waitFor({ timeout: WAIT })
  await page.waitForFunction((id) => document.querySelector(`[data-script-id="${id}"]`)?.classList.contains('focused'), script.id, { timeout: WAIT })
  assert.equal(await row.isVisible(), true)
  await page.screenshot({ path: SHOTS + 'search-03-script.png', animations: 'disabled' })
  await call('DELETE', `/api/v1/scripts/${script.id}`)
  await ctx.close()
})
