// End-to-end: the widget embedded on a shop's OWN site — a page served from another origin (another
// port) with the README's snippet. Every widget call is then cross-origin: the shopper writes, an
// agent answers, the shopper sees the answer live, and nothing stays "sending".
// Run from web/: KEFU_URL=http://127.0.0.1:18080 node --test e2e/embed.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { launchBrowser } from './browser.mjs'

const BASE = (process.env.KEFU_URL || 'http://127.0.0.1:18080').replace(/\/$/, '')
const SHOTS = fileURLToPath(new URL('../screenshots/', import.meta.url))
const WAIT = 30_000 // every single wait is bounded by this
mkdirSync(SHOTS, { recursive: true })

let browser
let site
let siteUrl
before(async () => {
  browser = await launchBrowser()
  // The shop's own site: one page with the embed snippet, on a port of its own (another origin).
  const page = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>小蜜蜂数码 · 官网</title></head>
<body><h1>小蜜蜂数码官网</h1><p>新品耳机，限时优惠。</p>
<script src="${BASE}/widget.js" data-shop="demo"></script></body></html>`
  site = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(page)
  })
  await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve))
  siteUrl = `http://127.0.0.1:${site.address().port}/`
})
after(async () => {
  await browser?.close()
  site?.close()
})

async function api(method, path, token, body) {
  const res = await fetch(BASE + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : null }
}

test('the widget on the shop\'s own site chats both ways', { timeout: 120_000 }, async () => {
  assert.notEqual(new URL(siteUrl).origin, new URL(BASE).origin, 'the page is on another origin')
  const stamp = Date.now().toString(36)
  const question = `官网上的耳机有现货吗？#${stamp}`
  const answer = `有现货，今天下单明天发货 #${stamp}`

  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'zh-CN' })
  const shopper = await ctx.newPage()
  shopper.setDefaultTimeout(WAIT)
  const failed = []
  shopper.on('requestfailed', (r) => failed.push(`${r.method()} ${r.url()} ${r.failure()?.errorText}`))
  await shopper.goto(siteUrl, { timeout: WAIT })
  await shopper.getByTestId('kefu-launcher').click()
  await shopper.getByTestId('kefu-panel').waitFor({ state: 'visible' })
  await shopper.getByTestId('kefu-title').filter({ hasText: '小蜜蜂数码旗舰店' }).waitFor()

  const posted = shopper.waitForResponse((r) => r.url().endsWith('/api/v1/widget/messages') && r.request().method() === 'POST')
  await shopper.getByTestId('kefu-input').fill(question)
  await shopper.getByTestId('kefu-input').press('Enter')
  const sent = await posted
  assert.equal(sent.status(), 201)
  const { conversation_id: conversationId } = await sent.json()
  await shopper
    .locator('[data-testid="kefu-message"][data-sender-type="customer"][data-state="sent"]', { hasText: question })
    .waitFor()
  await shopper.screenshot({ path: SHOTS + 'e01-embed-own-site-sent.png' })

  // An agent answers (the shop's admin sees every conversation).
  const owner = await api('POST', '/api/v1/auth/login', null, { email: 'wang.dian@demo.kefu', password: 'demo1234' })
  assert.equal(owner.status, 200)
  const reply = await api('POST', `/api/v1/conversations/${conversationId}/messages`, owner.body.token, {
    body: answer,
    client_msg_id: `embed-${stamp}`,
  })
  assert.equal(reply.status, 201, JSON.stringify(reply.body))

  // The answer reaches the shopper on the shop's site.
  await shopper.locator('[data-testid="kefu-message"]', { hasText: answer }).waitFor()
  await shopper.screenshot({ path: SHOTS + 'e02-embed-own-site-answered.png' })
  assert.deepEqual(failed.filter((f) => f.includes(new URL(BASE).host)), [], 'no widget call failed')
  await ctx.close()
})
