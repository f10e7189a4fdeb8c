// End-to-end (running the desk): with every agent offline, a shopper is told the truth (no
// "your message was received" before one was sent); the owner caps 李娜 at the chats she already
// has in 设置 → 接待上限, so when she comes online the shopper keeps waiting; raising the cap
// routes the waiting chat to her at once, and the widget's header follows who is online and the
// shop's business hours. Statuses, caps and business hours are put back afterwards.
// Run from web/: KEFU_URL=http://127.0.0.1:18080 node --test e2e/team.test.mjs
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

async function shot(page, name) {
  await page.screenshot({ path: SHOTS + name + '.png', animations: 'disabled' })
}

async function api(method, path, token, body) {
  const res = await fetch(BASE + path, {
    method,
    headers: { Accept: 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  const data = res.status === 204 ? null : await res.json()
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(data)}`)
  return data
}
const tokenOf = async (email) => (await api('POST', '/api/v1/auth/login', null, { email, password: 'demo1234' })).token

/** Types a cap into the owner's 接待上限 row and waits for the server to take it. */
async function setCap(owner, agentId, value) {
  const input = owner.getByTestId(`cap-input-${agentId}`)
  const saved = owner.waitForResponse((r) => r.url().endsWith(`/api/v1/agents/${agentId}/cap`) && r.request().method() === 'PUT')
  await input.fill(value)
  await input.press('Enter')
  const res = await saved
  assert.equal(res.status(), 200, `PUT cap ${value}`)
  await owner.getByTestId(`cap-row-${agentId}`).getByText('已保存').waitFor()
}

async function login(email, viewport = { width: 1440, height: 900 }) {
  const ctx = await browser.newContext({ viewport, locale: 'zh-CN' })
  const page = await ctx.newPage()
  page.setDefaultTimeout(WAIT)
  await page.goto(BASE + '/login', { timeout: WAIT })
  await page.getByTestId('login-email').fill(email)
  await page.getByTestId('login-password').fill('demo1234')
  await page.getByTestId('login-submit').click()
  await page.waitForURL(/\/inbox/, { timeout: WAIT })
  return { ctx, page }
}

test('caps route chats, and the widget tells the shopper what is true', { timeout: 240_000 }, async () => {
  const stamp = Date.now().toString(36)
  const question = `有人在吗？想问下耳机的保修 #${stamp}`
  const admin = await tokenOf('wang.dian@demo.kefu')
  const before = (await api('GET', '/api/v1/agents', admin)).agents
  const tokens = {}
  for (const a of before) tokens[a.id] = await tokenOf(a.email)
  const lina = before.find((a) => a.email === 'li.na@demo.kefu')
  const rulesBefore = (await api('GET', '/api/v1/auto-replies', admin)).rules

  try {
    // ---- nobody is online
    for (const a of before) await api('PUT', '/api/v1/me/status', tokens[a.id], { status: 'offline' })

    // ---- a shopper on a phone opens the chat: the truth before and after they write
    const shopCtx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'zh-CN', isMobile: true, hasTouch: true })
    const shopper = await shopCtx.newPage()
    shopper.setDefaultTimeout(WAIT)
    await shopper.goto(BASE + '/demo/shop', { timeout: WAIT })
    await shopper.getByTestId('kefu-launcher').click()
    const presence = shopper.getByTestId('kefu-presence')
    await presence.and(shopper.locator('[data-state="off"]')).waitFor()
    const notice = shopper.getByTestId('kefu-offline')
    await notice.waitFor()
    assert.doesNotMatch(await notice.innerText(), /已收到/, 'nothing was received before anything was sent')
    await shot(shopper, 'd01-widget-offline-before-sending')
    await shopper.getByTestId('kefu-input').fill(question)
    await shopper.getByTestId('kefu-input').press('Enter')
    await shopper.locator('[data-testid="kefu-message"][data-sender-type="customer"][data-state="sent"]', { hasText: question }).waitFor()
    // Now the shop's own offline text (demo: 您的留言已收到…) is true, and it arrives as the
    // server's notice; the queue bar counts who is ahead.
    await shopper.locator('[data-testid="kefu-message"][data-sender-type="system"]').first().waitFor()
    await shopper.getByTestId('kefu-queue').waitFor()
    assert.match(await shopper.getByTestId('kefu-queue').innerText(), /位|下一位/)
    await shot(shopper, 'd02-widget-offline-after-sending')

    // ---- the owner caps 李娜 at what she already has (设置 → 接待上限)
    const { ctx: ownerCtx, page: owner } = await login('wang.dian@demo.kefu')
    await owner.goto(BASE + '/settings?section=caps', { timeout: WAIT })
    const linaNow = (await api('GET', '/api/v1/agents', admin)).agents.find((a) => a.id === lina.id)
    const full = Math.max(1, linaNow.open_count)
    assert.ok(full <= 99, `李娜 has ${linaNow.open_count} open chats`)
    await setCap(owner, lina.id, String(full))
    assert.equal(await owner.getByTestId('caps-error').count(), 0, 'no error when saving a cap')
    assert.equal((await api('GET', '/api/v1/agents', admin)).agents.find((a) => a.id === lina.id).max_concurrent, full)
    await shot(owner, 'd03-settings-caps')

    // ---- 李娜 comes online, full: the shopper keeps waiting, the header says someone is there
    const { ctx: linaCtx, page: linaPage } = await login('li.na@demo.kefu')
    await pick(linaPage.getByTestId('status-select'), 'online')
    await linaPage.locator('.status-select.st-online').waitFor()
    // The shopper's conversation, through their own visitor token.
    const visitor = await shopper.evaluate(() => localStorage.getItem('kefu_visitor_demo'))
    const mine = await api('GET', '/api/v1/widget/messages?after_seq=0', visitor)
    const conv = (await api('GET', `/api/v1/conversations/${mine.conversation_id}`, admin)).conversation
    assert.equal(conv.assignee_id, null, 'the shopper waits unassigned while 李娜 is at her cap')
    assert.ok(conv.queue_position >= 1, 'and has a place in the queue')
    await shopper.getByTestId('kefu-close').click()
    await shopper.getByTestId('kefu-launcher').click()
    await presence.and(shopper.locator('[data-state="on"]')).waitFor()
    assert.match(await presence.innerText(), /在线/)
    await shot(shopper, 'd04-widget-online-waiting')
    const row = linaPage.locator(`[data-testid="conversation-row"][data-conversation-id="${conv.id}"]`)
    await linaPage.getByTestId('filter-me').click()
    await linaPage.waitForTimeout(500)
    assert.equal(await row.count(), 0, 'a capped agent gets no new chat')

    // ---- the owner raises the cap: routing hands the waiting chats (ours among them) to 李娜
    await setCap(owner, lina.id, String(Math.min(100, full + conv.queue_position)))
    await row.waitFor()
    await shopper.getByTestId('kefu-queue').waitFor({ state: 'hidden' })
    const assigned = (await api('GET', `/api/v1/conversations/${conv.id}`, admin)).conversation
    assert.equal(assigned.assignee_id, lina.id)
    await shot(linaPage, 'd05-agent-receives-after-cap-raised')

    // ---- outside business hours the header never says 在线, even with 李娜 online
    await api('PUT', '/api/v1/auto-replies', admin, {
      ...rulesBefore,
      business_hours: { ...rulesBefore.business_hours, enabled: true, days: [[], [], [], [], [], [], []] },
    })
    await shopper.getByTestId('kefu-close').click()
    await shopper.getByTestId('kefu-launcher').click()
    await presence.and(shopper.locator('[data-state="closed"]')).waitFor()
    assert.doesNotMatch(await presence.innerText(), /在线/)
    await shot(shopper, 'd06-widget-after-hours')

    // ---- the cap goes back to the shop's default
    await setCap(owner, lina.id, '')
    assert.equal((await api('GET', '/api/v1/agents', admin)).agents.find((a) => a.id === lina.id).max_concurrent, null)

    await ownerCtx.close()
    await linaCtx.close()
    await shopCtx.close()
  } finally {
    await api('PUT', '/api/v1/auto-replies', admin, rulesBefore)
    await api('PUT', `/api/v1/agents/${lina.id}/cap`, admin, { max_concurrent: lina.max_concurrent })
    for (const a of before) await api('PUT', '/api/v1/me/status', tokens[a.id], { status: a.status })
  }
})
