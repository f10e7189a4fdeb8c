// End-to-end: reply suggestions in the agent console against a running `kefu demo` (env KEFU_URL).
// A shopper (through the widget API) asks about the shipping fee; the console shows the suggestion
// bar with a 运费解释 script; one click puts the script's text (variables filled) in the composer
// and sending it carries the script's id.
// Run from web/: KEFU_URL=http://127.0.0.1:18102 node --test e2e/suggest.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { launchBrowser, pick } from './browser.mjs'

const BASE = (process.env.KEFU_URL || 'http://127.0.0.1:18080').replace(/\/$/, '')
const SHOTS = fileURLToPath(new URL('../screenshots/', import.meta.url))
// the first suggestion of a fresh server builds the shop's engine (jieba's dictionary loads)
const WAIT = 60_000
mkdirSync(SHOTS, { recursive: true })

let browser
before(async () => {
  browser = await launchBrowser()
})
after(async () => {
  await browser?.close()
})

async function api(method, path, token, body) {
  const r = await fetch(BASE + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  const text = await r.text()
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`)
  return text ? JSON.parse(text) : null
}

test('a shipping question shows shipping scripts; one click inserts, send records the script', { timeout: 240_000 }, async () => {
  const stamp = Date.now().toString(36)
  const question = `请问运费怎么算？包邮吗 #${stamp}`

  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
  const agent = await ctx.newPage()
  agent.setDefaultTimeout(WAIT)
  await agent.goto(BASE + '/login', { timeout: WAIT })
  await agent.getByTestId('login-email').fill('li.na@demo.kefu')
  await agent.getByTestId('login-password').fill('demo1234')
  await agent.getByTestId('login-submit').click()
  await agent.waitForURL(/\/inbox/, { timeout: WAIT })
  await pick(agent.getByTestId('status-select'), 'online')
  await agent.locator('.status-select.st-online').waitFor({ timeout: WAIT })

  // the shopper writes through the widget API
  const session = await api('POST', '/api/v1/widget/sessions', null, { shop: 'demo', name: `运费顾客 ${stamp}` })
  const posted = await api('POST', '/api/v1/widget/messages', session.visitor_token, { body: question, client_msg_id: `s-${stamp}` })

  // the shop owner hands it to 李娜, so the test does not depend on routing (other tests leave other
  // agents online); the console then reads the suggestions when the conversation opens
  const owner = await api('POST', '/api/v1/auth/login', null, { email: 'wang.dian@demo.kefu', password: 'demo1234' })
  const agents = await api('GET', '/api/v1/agents', owner.token)
  const lina = agents.agents.find((a) => a.email === 'li.na@demo.kefu')
  assert.ok(lina, 'demo agent 李娜')
  await api('POST', `/api/v1/conversations/${posted.conversation_id}/assign`, owner.token, { agent_id: lina.id })

  const row = agent.getByTestId('conversation-row').filter({ hasText: question })
  await row.waitFor({ timeout: WAIT })
  await row.click()
  await agent.locator('[data-testid="message-bubble"][data-sender-type="customer"]', { hasText: question }).waitFor({ timeout: WAIT })

  // the bar: at most three suggestions, a shipping script among them
  const bar = agent.getByTestId('suggestion-bar')
  await bar.waitFor({ timeout: WAIT })
  const chips = bar.getByTestId('suggestion')
  const n = await chips.count()
  assert.ok(n >= 1 && n <= 3, `1–3 suggestions, got ${n}`)
  const shipping = bar.locator('[data-testid="suggestion"][data-category="运费解释"]').first()
  await shipping.waitFor({ timeout: WAIT })
  await shot(agent, 'suggest-01-bar')

  // a script whose variables all have a value here (the demo shopper has no order yet)
  const candidates = bar.locator('[data-testid="suggestion"][data-category="运费解释"]')
  const composer = agent.getByTestId('composer')
  let scriptId = 0
  let text = ''
  for (let i = 0; i < (await candidates.count()); i++) {
    const chip = candidates.nth(i)
    const id = Number(await chip.getAttribute('data-script-id'))
    const rendered = agent.waitForResponse((r) => r.url().includes('/api/v1/scripts/render'), { timeout: WAIT })
    await chip.click()
    const r = await (await rendered).json()
    await agent.waitForFunction((want) => document.querySelector('[data-testid="composer"]')?.value === want, r.text, { timeout: WAIT })
    if (r.missing.length) {
      // the console names the unfilled variables instead of sending them blank
      await agent.getByTestId('script-missing').waitFor({ timeout: WAIT })
      continue
    }
    scriptId = id
    text = await composer.inputValue()
    break
  }
  assert.ok(scriptId > 0 && text.length > 5, 'a 运费 script was inserted')

  // the agent may edit; sending carries script_id
  const sent = agent.waitForRequest((r) => r.url().includes('/messages') && r.method() === 'POST', { timeout: WAIT })
  await agent.getByTestId('send-button').click()
  const body = JSON.parse((await sent).postData() || '{}')
  assert.equal(body.script_id, scriptId, 'script_id sent with the message')
  await agent.locator('[data-testid="message-bubble"][data-sender-type="agent"][data-state="sent"]', { hasText: text.slice(0, 10) }).waitFor({ timeout: WAIT })
  await shot(agent, 'suggest-02-sent')
  await ctx.close()
})

async function shot(page, name) {
  await page.screenshot({ path: SHOTS + name + '.png', animations: 'disabled' })
}
