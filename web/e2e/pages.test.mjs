// End-to-end (every page, as people use them): the owner and an agent open each page of the
// console on a desktop (1440×900) and a phone (390×844). Each page must finish loading (no
// spinner left), show no internal key (`damaged_item`, `pending_customer` …) where a person
// reads, label every form control (the console's own selects included), use the console's own
// select and date controls rather than the browser's, and stay within the screen's width on the
// phone; a screenshot of each is kept. The console's and the widget's files come compressed with ETags.
// Run from web/: KEFU_URL=http://127.0.0.1:18080 node --test e2e/pages.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { launchBrowser } from './browser.mjs'

const BASE = (process.env.KEFU_URL || 'http://127.0.0.1:18080').replace(/\/$/, '')
const SHOTS = fileURLToPath(new URL('../screenshots/', import.meta.url))
const WAIT = 30_000
mkdirSync(SHOTS, { recursive: true })

const DESKTOP = { width: 1440, height: 900 }
const PHONE = { width: 390, height: 844 }
// Pages every role opens, and the managers' own.
const PAGES = ['inbox', 'customers', 'tickets', 'orders', 'aftersales', 'reviews', 'reminders', 'scripts', 'segments', 'sla', 'settings', 'account']
const MANAGER_PAGES = ['reports', 'members']

let browser
before(async () => {
  browser = await launchBrowser()
})
after(async () => {
  await browser?.close()
})

async function login(email, viewport) {
  const ctx = await browser.newContext({ viewport, locale: 'zh-CN', ...(viewport === PHONE ? { isMobile: true, hasTouch: true } : {}) })
  const page = await ctx.newPage()
  page.setDefaultTimeout(WAIT)
  const errors = []
  page.on('pageerror', (e) => errors.push(e.message))
  await page.goto(BASE + '/login', { timeout: WAIT })
  await page.getByTestId('login-email').fill(email)
  await page.getByTestId('login-password').fill('demo1234')
  await page.getByTestId('login-submit').click()
  await page.waitForURL(/\/inbox/, { timeout: WAIT })
  return { ctx, page, errors }
}

/** What a person reads on the page, leaving out code samples and typed identifiers. */
function readableText(page) {
  return page.evaluate(() => {
    const skip = 'code, pre, kbd, input, textarea, select, .mono, [data-raw]'
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT)
    let out = ''
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement
      if (!el || el.closest(skip)) continue
      const style = getComputedStyle(el)
      if (style.display === 'none' || style.visibility === 'hidden') continue
      out += n.textContent + ' '
    }
    return out
  })
}

/** Visible form controls without a name a screen reader can say. */
function unlabelled(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea, [role="combobox"]')]
      .filter((el) => {
        if (el.type === 'hidden' || el.type === 'file') return false
        const r = el.getBoundingClientRect()
        if (!r.width || !r.height) return false
        return !(el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.title)
      })
      .map((el) => el.closest('[data-testid]')?.getAttribute('data-testid') || el.outerHTML.slice(0, 80)),
  )
}

/** The browser's own selects and date pickers left on the page (the console has its own). */
function nativeControls(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('select, input[type="date"], input[type="datetime-local"], input[type="month"]')].map(
      (el) => el.getAttribute('data-testid') || el.outerHTML.slice(0, 80),
    ),
  )
}

async function visitAll(role, email, viewport) {
  const { ctx, page, errors } = await login(email, viewport)
  const tag = `${role}-${viewport === PHONE ? 'phone' : 'desktop'}`
  const pages = role === 'owner' ? [...PAGES, ...MANAGER_PAGES] : PAGES
  for (const name of pages) {
    await page.goto(`${BASE}/${name}`, { timeout: WAIT })
    await page.locator('.content > *').first().waitFor()
    // Loading ends everywhere: no spinner stays.
    await page.waitForFunction(() => !document.querySelector('[data-testid="loading-state"]'), null, { timeout: WAIT })
    await page.waitForTimeout(300)
    await page.screenshot({ path: `${SHOTS}p-${tag}-${name}.png`, animations: 'disabled' })
    const text = await readableText(page)
    // Script variables ({order.shipping_fee}) are what a script's author writes, not keys.
    const keys = [...new Set(text.replace(/\{[^}]*\}/g, '').match(/\b[a-z]+(?:_[a-z]+)+\b/g) || [])]
    assert.deepEqual(keys, [], `${tag} ${name}: internal keys shown to people: ${keys.join(', ')}`)
    const bare = await unlabelled(page)
    assert.deepEqual(bare, [], `${tag} ${name}: form controls without a label`)
    assert.deepEqual(await nativeControls(page), [], `${tag} ${name}: the browser's own select or date input`)
    if (viewport === PHONE) {
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      assert.ok(wide <= 1, `${tag} ${name}: the page is ${wide}px wider than the phone`)
    }
  }
  // One conversation and one ticket open, the detail views agents live in.
  await page.goto(`${BASE}/inbox`, { timeout: WAIT })
  await page.getByTestId('filter-all').click()
  await page.waitForFunction(() => document.querySelector('[data-testid="conversation-row"], [data-testid="empty-state"]'), null, { timeout: WAIT })
  const row = page.getByTestId('conversation-row').first()
  if (await row.count()) {
    await row.click()
    await page.getByTestId('message-list').waitFor()
    await page.waitForFunction(() => !document.querySelector('[data-testid="loading-state"]'), null, { timeout: WAIT })
    await page.screenshot({ path: `${SHOTS}p-${tag}-conversation.png`, animations: 'disabled' })
    assert.deepEqual(await unlabelled(page), [], `${tag} conversation: form controls without a label`)
  }
  await page.goto(`${BASE}/tickets`, { timeout: WAIT })
  await page.waitForFunction(() => document.querySelector('[data-testid="ticket-row"], [data-testid="empty-state"]'), null, { timeout: WAIT })
  const ticket = page.getByTestId('ticket-row').first()
  if (await ticket.count()) {
    await ticket.click()
    await page.getByTestId('ticket-detail').waitFor()
    await page.getByTestId('tab-audit').click()
    await page.getByTestId('audit-row').first().waitFor()
    await page.screenshot({ path: `${SHOTS}p-${tag}-ticket-history.png`, animations: 'disabled' })
    const history = await page.getByTestId('audit-table').innerText()
    const raw = history.match(/\b(new|open|pending_customer|pending_third_party|resolved|closed|low|normal|high|urgent)\b/g)
    assert.equal(raw, null, `${tag}: the ticket history shows keys: ${raw}`)
  }
  assert.deepEqual(errors, [], `${tag}: page errors`)
  await ctx.close()
}

test('the owner sees every page finished, in words, labelled, on a desktop and a phone', { timeout: 300_000 }, async () => {
  await visitAll('owner', 'wang.dian@demo.kefu', DESKTOP)
  await visitAll('owner', 'wang.dian@demo.kefu', PHONE)
})

test('an agent sees every page finished, in words, labelled, on a desktop and a phone', { timeout: 300_000 }, async () => {
  await visitAll('agent', 'li.na@demo.kefu', DESKTOP)
  await visitAll('agent', 'li.na@demo.kefu', PHONE)
})

test('the widget and the console files come compressed, with ETags that answer 304', async () => {
  const html = await (await fetch(BASE + '/inbox')).text()
  const asset = html.match(/\/assets\/[^"]+\.js/)?.[0]
  assert.ok(asset, 'the console page names its script')
  for (const path of ['/widget.js', asset]) {
    for (const [accept, coding] of [['gzip, deflate, br', 'br'], ['gzip', 'gzip']]) {
      // fetch would decode the body; the raw headers are what the browser negotiates with.
      const res = await fetch(BASE + path, { headers: { 'Accept-Encoding': accept } })
      assert.equal(res.status, 200, path)
      assert.equal(res.headers.get('content-encoding'), coding, `${path} for ${accept}`)
      assert.match(res.headers.get('vary') || '', /accept-encoding/i)
      const etag = res.headers.get('etag')
      assert.match(etag || '', /^"[0-9a-f]{32}"$/, `${path} has a strong ETag`)
      const again = await fetch(BASE + path, { headers: { 'Accept-Encoding': accept, 'If-None-Match': etag } })
      assert.equal(again.status, 304, `${path} revalidates`)
    }
  }
})
