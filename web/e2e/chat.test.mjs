// End-to-end: agent console + shopper widget against a running `kefu demo` (env KEFU_URL).
// Run from web/: KEFU_URL=http://127.0.0.1:18080 npm run test:e2e
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

test('shopper and agent chat live; history survives reload; notes stay internal', { timeout: 240_000 }, async () => {
  const stamp = Date.now().toString(36)
  const question = `你好，请问蜜蜂耳机支持降噪吗？#${stamp}`
  const reply = `您好，支持主动降噪，续航 30 小时～ #${stamp}`
  const note = `内部备注：老顾客，可送贴膜 #${stamp}`
  const reply2 = `还有其他问题随时找我 #${stamp}`

  // ---- agent logs in and goes online
  const agentCtx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
  const agent = await agentCtx.newPage()
  agent.setDefaultTimeout(WAIT)
  await agent.goto(BASE + '/login', { timeout: WAIT })
  await agent.getByTestId('login-email').fill('li.na@demo.kefu')
  await agent.getByTestId('login-password').fill('demo1234')
  await shot(agent, '01-console-login')
  await agent.getByTestId('login-submit').click()
  await agent.waitForURL(/\/inbox/, { timeout: WAIT })
  // Offline first, then online: each pick is a change saved on the server, whatever she was
  // before (busy and away ask for a note first).
  for (const status of ['offline', 'online']) {
    const statusResp = agent.waitForResponse((r) => r.url().includes('/api/v1/me/status') && r.request().method() === 'PUT', { timeout: WAIT })
    await pick(agent.getByTestId('status-select'), status)
    assert.equal((await statusResp).status(), 200, 'PUT /me/status')
  }
  await agent.locator('.status-select.st-online').waitFor({ timeout: WAIT })
  await shot(agent, '02-console-inbox-online')

  // ---- shopper opens the demo shop and writes
  const shopCtx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'zh-CN' })
  const shopper = await shopCtx.newPage()
  shopper.setDefaultTimeout(WAIT)
  await shopper.goto(BASE + '/demo/shop', { timeout: WAIT })
  await shopper.getByTestId('product').first().waitFor({ timeout: WAIT })
  await shopper.getByTestId('kefu-launcher').click()
  await shopper.getByTestId('kefu-panel').waitFor({ state: 'visible', timeout: WAIT })
  await shopper.getByTestId('kefu-title').filter({ hasText: '小蜜蜂数码旗舰店' }).waitFor({ timeout: WAIT })
  await shopper.getByTestId('kefu-input').fill(question)
  await shopper.getByTestId('kefu-input').press('Enter')
  const myMsg = shopper.locator('[data-testid="kefu-message"][data-sender-type="customer"]', { hasText: question })
  await myMsg.and(shopper.locator('[data-state="sent"]')).waitFor({ timeout: WAIT })
  await shot(shopper, '03-shop-widget-sent')

  // ---- the conversation appears live in the agent's inbox (routed to the online 售前 agent)
  const row = agent.getByTestId('conversation-row').filter({ hasText: question })
  await row.waitFor({ timeout: WAIT })
  await shot(agent, '04-console-new-conversation')
  await row.click()
  const custBubble = agent.locator('[data-testid="message-bubble"][data-sender-type="customer"]', { hasText: question })
  await custBubble.waitFor({ timeout: WAIT })

  // ---- agent replies
  await agent.getByTestId('composer').fill(reply)
  await agent.getByTestId('composer').press('Enter')
  await agent.locator('[data-testid="message-bubble"][data-state="sent"]', { hasText: reply }).waitFor({ timeout: WAIT })

  // ---- shopper sees it live
  await shopper.locator('[data-testid="kefu-message"][data-sender-type="agent"]', { hasText: reply }).waitFor({ timeout: WAIT })
  await shot(shopper, '05-shop-widget-reply')

  // ---- the open widget marks the reply read; the agent sees 已读
  await agent.getByTestId('message-receipt').filter({ hasText: '已读' }).first().waitFor({ timeout: WAIT })

  // ---- internal note, then one more public reply
  await agent.getByTestId('note-toggle-input').check()
  await agent.getByTestId('composer').fill(note)
  await agent.getByTestId('send-button').click()
  await agent.locator('[data-testid="message-bubble"][data-private="true"][data-state="sent"]', { hasText: note }).waitFor({ timeout: WAIT })
  await agent.getByTestId('note-toggle-input').uncheck()
  await agent.getByTestId('composer').fill(reply2)
  await agent.getByTestId('send-button').click()
  await agent.locator('[data-testid="message-bubble"][data-state="sent"]', { hasText: reply2 }).waitFor({ timeout: WAIT })
  await shot(agent, '06-console-conversation')

  await shopper.locator('[data-testid="kefu-message"]', { hasText: reply2 }).waitFor({ timeout: WAIT })
  assert.equal(await shopper.locator('[data-testid="kefu-message"]', { hasText: note }).count(), 0, 'note must not reach the widget')

  // ---- reload: history (greeting, question, reply) is still there, the note is not
  await shopper.reload({ timeout: WAIT })
  await shopper.getByTestId('kefu-launcher').click()
  await shopper.getByTestId('kefu-panel').waitFor({ state: 'visible', timeout: WAIT })
  await shopper.locator('[data-testid="kefu-message"][data-sender-type="bot"]').first().waitFor({ timeout: WAIT })
  await shopper.locator('[data-testid="kefu-message"][data-sender-type="customer"]', { hasText: question }).waitFor({ timeout: WAIT })
  await shopper.locator('[data-testid="kefu-message"][data-sender-type="agent"]', { hasText: reply }).waitFor({ timeout: WAIT })
  await shopper.locator('[data-testid="kefu-message"]', { hasText: reply2 }).waitFor({ timeout: WAIT })
  assert.equal(await shopper.locator('[data-testid="kefu-message"]', { hasText: note }).count(), 0, 'note must not appear after reload')
  assert.equal(await shopper.locator('[data-testid="kefu-message"]', { hasText: question }).count(), 1, 'no duplicated messages')
  await shot(shopper, '07-shop-widget-after-reload')

  await agentCtx.close()
  await shopCtx.close()
})
