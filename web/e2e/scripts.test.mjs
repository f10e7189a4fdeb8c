// End-to-end: the composer's script picker (话术) against a running `kefu demo` (env KEFU_URL).
// A shopper with a known name writes in; the conversation is handed to the demo agent 李娜, who
// logs in, opens it, types `/tk`, moves with the arrow keys to a 退款 script that uses
// {customer.name}, inserts it with Enter, sends it, and the sent message carries the shopper's
// name. A text with an unfilled variable is refused before it leaves the console, and the
// script's use shows up in its statistics on the scripts page.
// Run from web/: KEFU_URL=http://127.0.0.1:18101 node --test e2e/scripts.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { launchBrowser, pick } from './browser.mjs'

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
  await page.screenshot({ path: SHOTS + name + '.png', animations: 'disabled' })
}

async function api(method, path, token, body) {
  const res = await fetch(BASE + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : null }
}

test('agent types /tk, picks a 退款 script with {customer.name}, sends it with the name filled in', { timeout: 180_000 }, async () => {
  const stamp = Date.now().toString(36)
  const customerName = `孙晓${stamp}`

  // ---- a shopper with a known name writes in (widget API)
  const session = await api('POST', '/api/v1/widget/sessions', null, { shop: 'demo', name: customerName })
  assert.equal(session.status, 201, JSON.stringify(session.body))
  const sent = await api('POST', '/api/v1/widget/messages', session.body.visitor_token, {
    body: `我想申请退款 #${stamp}`,
    client_msg_id: `e2e-${stamp}`,
  })
  assert.equal(sent.status, 201, JSON.stringify(sent.body))
  const conversationId = sent.body.conversation_id

  // ---- the shop owner hands it to 李娜 (so the test does not depend on routing)
  const owner = await api('POST', '/api/v1/auth/login', null, { email: 'wang.dian@demo.kefu', password: 'demo1234' })
  assert.equal(owner.status, 200)
  const agents = await api('GET', '/api/v1/agents', owner.body.token)
  const lina = agents.body.agents.find((a) => a.email === 'li.na@demo.kefu')
  assert.ok(lina, 'demo agent 李娜')
  const assigned = await api('POST', `/api/v1/conversations/${conversationId}/assign`, owner.body.token, { agent_id: lina.id })
  assert.equal(assigned.status, 200, JSON.stringify(assigned.body))

  // ---- 李娜 logs in and opens the conversation
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
  const page = await ctx.newPage()
  page.setDefaultTimeout(WAIT)
  await page.goto(BASE + '/login', { timeout: WAIT })
  await page.getByTestId('login-email').fill('li.na@demo.kefu')
  await page.getByTestId('login-password').fill('demo1234')
  await page.getByTestId('login-submit').click()
  await page.waitForURL(/\/inbox/, { timeout: WAIT })
  await page.goto(`${BASE}/inbox/${conversationId}`, { timeout: WAIT })
  await page.locator('[data-testid="message-bubble"][data-sender-type="customer"]', { hasText: stamp }).waitFor({ timeout: WAIT })

  // ---- a typed unfilled variable is refused before sending, and highlighted
  const composer = page.getByTestId('composer')
  await composer.fill('您的订单号是 {order.no}')
  await page.getByTestId('script-missing').waitFor({ timeout: WAIT })
  await page.locator('[data-testid="script-missing-var"][data-variable="order.no"]').waitFor({ timeout: WAIT })
  await composer.press('Enter')
  await page.locator('[data-testid="script-missing"].blocked').waitFor({ timeout: WAIT })
  await shot(page, '20-console-script-missing-variable')
  assert.equal(await page.locator('[data-testid="message-bubble"][data-sender-type="agent"]', { hasText: '{order.no}' }).count(), 0)
  await composer.fill('')

  // ---- `/tk` opens the picker with 退款 scripts (pinyin initials)
  await composer.click()
  await composer.pressSequentially('/tk', { delay: 40 })
  const picker = page.getByTestId('script-picker')
  await picker.waitFor({ timeout: WAIT })
  const options = picker.getByTestId('script-option')
  await options.first().waitFor({ timeout: WAIT })
  const titles = await options.evaluateAll((els) => els.map((e) => e.getAttribute('data-title')))
  // 退款 (tui kuan) first; 同款 (tong kuan) has the same initials and may follow.
  assert.ok(titles[0]?.includes('退款') && titles.filter((t) => t.includes('退款')).length >= 3, `picker shows 退款 scripts: ${titles}`)
  await shot(page, '21-console-script-picker')

  // ---- move with the arrow keys to the 退款 script whose body uses {customer.name}
  const scripts = await api('GET', '/api/v1/scripts/search?q=tk&limit=8', (await page.evaluate(() => localStorage.getItem('kefu_token'))))
  assert.equal(scripts.status, 200)
  const target = scripts.body.scripts.findIndex((s) => s.title.includes('退款') && s.body.includes('{customer.name}'))
  assert.ok(target >= 0, 'a 退款 script using {customer.name}')
  const targetTitle = scripts.body.scripts[target].title
  assert.equal(titles[target], targetTitle)
  for (let i = 0; i < target; i++) await composer.press('ArrowDown')
  await picker.locator('[data-testid="script-option"].active').filter({ hasText: targetTitle }).waitFor({ timeout: WAIT })
  await composer.press('Enter')
  await picker.waitFor({ state: 'detached', timeout: WAIT })

  // ---- the draft holds the rendered text with the customer's name; the agent edits and sends
  await page.waitForFunction(
    (name) => document.querySelector('[data-testid="composer"]').value.includes(name),
    customerName,
    { timeout: WAIT },
  )
  const draft = await composer.inputValue()
  assert.ok(!draft.includes('{customer.name}'), draft)
  assert.equal(await page.getByTestId('script-missing').count(), 0, 'no missing variables for this script')
  await composer.press('End')
  await composer.pressSequentially('（已加急）')
  const posted = page.waitForResponse(
    (r) => r.url().endsWith(`/api/v1/conversations/${conversationId}/messages`) && r.request().method() === 'POST',
    { timeout: WAIT },
  )
  await page.getByTestId('send-button').click()
  const resp = await posted
  assert.equal(resp.status(), 201)
  assert.equal(JSON.parse(resp.request().postData()).script_id, scripts.body.scripts[target].id, 'the send carries script_id')
  const bubble = page.locator('[data-testid="message-bubble"][data-sender-type="agent"]', { hasText: '（已加急）' })
  await bubble.waitFor({ timeout: WAIT })
  const text = await bubble.innerText()
  assert.ok(text.includes(customerName), `sent message contains the customer's name: ${text}`)
  assert.ok(!text.includes('{customer.name}'))
  await shot(page, '22-console-script-sent')

  // ---- the shopper received it with the name
  const history = await api('GET', '/api/v1/widget/messages?after_seq=0&limit=100', session.body.visitor_token)
  assert.ok(history.body.messages.some((m) => m.sender_type === 'agent' && m.body.includes(customerName) && m.body.includes('（已加急）')))

  // ---- the scripts page shows the use
  await page.getByTestId('nav-scripts').click()
  await page.getByTestId('scripts-view').waitFor({ timeout: WAIT })
  await page.getByTestId('scripts-search').fill('tuikuan')
  const row = page.locator('[data-testid="script-row"]', { hasText: targetTitle })
  await row.waitFor({ timeout: WAIT })
  await row.getByTestId('script-stats').filter({ hasText: /使用次数 [1-9]/ }).waitFor({ timeout: WAIT })
  await page.locator('[data-testid="script-row"]').first().filter({ hasText: '退款' }).waitFor({ timeout: WAIT })
  await shot(page, '23-console-scripts-page')

  // ---- a personal script created in the library page's editor is listed under 我的话术
  const mineTitle = `我的加急退款${stamp}`
  await page.getByTestId('scripts-new').click()
  const editor = page.getByTestId('script-editor')
  await editor.waitFor({ timeout: WAIT })
  await pick(page.getByTestId('script-form-category'), { label: '售后处理' })
  await page.getByTestId('script-form-title').fill(mineTitle)
  await page.getByTestId('script-form-body').fill('{customer.name}，已为您加急处理退款～')
  await page.getByTestId('script-form-shortcut').fill(`jj${stamp}`)
  assert.ok(await page.getByTestId('script-form-personal').isChecked(), 'an agent writes personal scripts')
  await page.getByTestId('script-form-save').click()
  await editor.waitFor({ state: 'detached', timeout: WAIT })
  await page.getByTestId('scripts-owner-mine').click()
  await page.locator('[data-testid="script-row"]', { hasText: mineTitle }).waitFor({ timeout: WAIT })
  await ctx.close()
})
