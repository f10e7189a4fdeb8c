// End-to-end (daily tools): an admin sets a keyword auto-reply that a shopper then receives; the
// admin tags the conversation, writes a note that @mentions 李娜 (picked from the autocomplete),
// who sees the mention in her bell and opens the conversation; the admin snoozes and wakes it and
// opens the shortcuts help. Run from web/: KEFU_URL=http://127.0.0.1:18105 node --test e2e/tools.test.mjs
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

async function login(email) {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
  const page = await ctx.newPage()
  page.setDefaultTimeout(WAIT)
  await page.goto(BASE + '/login', { timeout: WAIT })
  await page.getByTestId('login-email').fill(email)
  await page.getByTestId('login-password').fill('demo1234')
  await page.getByTestId('login-submit').click()
  await page.waitForURL(/\/inbox/, { timeout: WAIT })
  return { ctx, page }
}

test('auto-reply, tags, @mention, snooze and shortcuts in the console', { timeout: 240_000 }, async () => {
  const stamp = Date.now().toString(36)
  const keyword = `kw${stamp}`
  const reply = `自动回复${stamp}`
  const tag = `加急${stamp.slice(-3)}`

  // ---- the admin adds a keyword rule in Settings
  const { ctx: adminCtx, page: admin } = await login('wang.dian@demo.kefu')
  await admin.goto(BASE + '/settings', { timeout: WAIT })
  const ar = admin.getByTestId('auto-reply-settings')
  await ar.getByTestId('keyword-add').waitFor()
  await ar.getByTestId('keyword-add').click()
  await ar.getByTestId('keyword-words').last().fill(keyword)
  await ar.getByTestId('keyword-reply').last().fill(reply)
  await ar.getByTestId('auto-reply-save').click()
  await ar.getByTestId('auto-reply-saved').waitFor()
  await shot(admin, 't01-auto-reply-settings')

  // ---- 李娜 is logged in elsewhere
  const { ctx: linaCtx, page: lina } = await login('li.na@demo.kefu')

  // ---- a shopper asks with the keyword and gets the bot's answer
  const shopperCtx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'zh-CN' })
  const shopper = await shopperCtx.newPage()
  shopper.setDefaultTimeout(WAIT)
  await shopper.goto(BASE + '/demo/shop', { timeout: WAIT })
  const sessionResp = shopper.waitForResponse((r) => r.url().includes('/api/v1/widget/sessions'), { timeout: WAIT })
  await shopper.getByTestId('kefu-launcher').click()
  const session = await (await sessionResp).json()
  await shopper.getByTestId('kefu-input').fill(`请问 ${keyword} 怎么样？`)
  await shopper.getByTestId('kefu-send').click()
  await shopper.getByText(reply).first().waitFor()
  await shot(shopper, 't02-keyword-reply')

  // ---- the admin opens the conversation and tags it
  const conv = await admin.evaluate(async (customerId) => {
    const token = localStorage.getItem('kefu_token')
    const r = await fetch('/api/v1/conversations?assignee=all', { headers: { Authorization: `Bearer ${token}` } })
    const d = await r.json()
    return d.conversations.find((c) => c.customer.id === customerId)?.id
  }, session.customer_id)
  assert.ok(conv, 'the shopper has a conversation')
  await admin.goto(`${BASE}/inbox/${conv}`, { timeout: WAIT })
  const pane = admin.getByTestId('conversation-pane')
  await pane.getByText(reply).first().waitFor()
  await pane.getByTestId('tag-open').click()
  await pane.getByTestId('tag-input').fill(tag)
  await pane.getByTestId('tag-input').press('Enter')
  await pane.getByTestId('conversation-tag').filter({ hasText: tag }).waitFor()

  // ---- a note that @mentions 李娜, picked from the autocomplete
  await pane.getByTestId('note-toggle-input').check()
  const composer = pane.getByTestId('composer')
  await composer.click()
  await composer.pressSequentially('@李')
  await pane.getByTestId('mention-option').filter({ hasText: '李娜' }).waitFor()
  await composer.press('Enter')
  // The chosen name replaces what was typed (Vue renders it on the next tick).
  await admin.waitForFunction(() => document.querySelector('[data-testid="composer"]')?.value === '@李娜 ')
  await composer.pressSequentially(`请跟进一下这位顾客 ${stamp}`)
  await composer.press('Enter')
  await pane.locator('[data-testid="message-bubble"][data-private="true"][data-state="sent"]', { hasText: stamp }).waitFor()
  await shot(admin, 't03-note-with-mention')

  // ---- 李娜's bell shows it; a click opens the conversation
  await lina.getByTestId('mentions-count').waitFor()
  await lina.getByTestId('mentions-bell').click()
  await lina.getByTestId('mention-item').filter({ hasText: stamp }).click()
  await lina.waitForURL(new RegExp(`/inbox/${conv}$`))
  await lina.getByTestId('conversation-pane').getByText(`请跟进一下这位顾客 ${stamp}`).waitFor()
  await lina.getByTestId('mentions-count').waitFor({ state: 'detached' })
  await shot(lina, 't04-mentioned-agent')

  // ---- snooze and wake
  await pane.getByTestId('snooze-open').click()
  await pane.getByTestId('snooze-preset').first().click()
  await pane.getByTestId('snooze-until').waitFor()
  await pane.getByTestId('conversation-status').filter({ hasText: '待处理' }).waitFor()
  await shot(admin, 't05-snoozed')
  await pane.getByTestId('unsnooze').click()
  await pane.getByTestId('snooze-open').waitFor()
  await pane.getByTestId('conversation-status').filter({ hasText: '进行中' }).waitFor()

  // ---- the shortcuts help
  await admin.locator('body').click({ position: { x: 5, y: 500 } })
  await admin.keyboard.press('?')
  await admin.getByTestId('shortcuts-help').waitFor()
  await shot(admin, 't06-shortcuts')
  await admin.keyboard.press('Escape')
  await admin.getByTestId('shortcuts-help').waitFor({ state: 'detached' })

  // ---- the tag filter narrows the inbox to the tagged conversation
  await admin.getByTestId('tab-open').click()
  await admin.getByTestId('filter-all').click()
  await pick(admin.getByTestId('tag-filter'), tag)
  // Wait for the filtered list to replace the unfiltered one.
  await admin.waitForFunction(() => document.querySelectorAll('[data-testid="conversation-row"]').length === 1)
  await admin.getByTestId('conversation-row').filter({ hasText: tag }).waitFor()
  assert.equal(await admin.getByTestId('conversation-row').count(), 1)

  await shopperCtx.close()
  await linaCtx.close()
  await adminCtx.close()
})
