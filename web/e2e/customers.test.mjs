// End-to-end (customers area): a logged-in demo member chats from the demo shop page; the agent
// sees the verified profile in the sidebar beside the conversation, adds a tag and a note, and
// the customers page and detail show them. Run from web/: KEFU_URL=http://127.0.0.1:18080 npm run test:e2e
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { launchBrowser } from './browser.mjs'

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

test('a signed-in member is recognised; the sidebar shows and edits the profile', { timeout: 240_000 }, async () => {
  const stamp = Date.now().toString(36)
  const question = `我是老会员，耳机保修多久？#${stamp}`
  const note = `承诺延保三个月 #${stamp}`
  const tag = `延保${stamp.slice(-3)}`

  // ---- the member, logged in on the shop page (the page carries a signed identity)
  const shopperCtx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'zh-CN' })
  const shopper = await shopperCtx.newPage()
  shopper.setDefaultTimeout(WAIT)
  await shopper.goto(BASE + '/demo/shop?as=demo-u1001', { timeout: WAIT })
  await shopper.locator('[data-logged-in="demo-u1001"]').waitFor()
  const sessionResp = shopper.waitForResponse((r) => r.url().includes('/api/v1/widget/sessions'), { timeout: WAIT })
  await shopper.getByTestId('kefu-launcher').click()
  const session = await (await sessionResp).json()
  await shopper.getByTestId('kefu-input').fill(question)
  await shopper.getByTestId('kefu-send').click()
  await shopper.getByText(question).first().waitFor()
  await shot(shopper, 'c01-member-chat')

  // ---- the agent opens the conversation: the sidebar shows the verified member's profile
  const agentCtx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
  const agent = await agentCtx.newPage()
  agent.setDefaultTimeout(WAIT)
  await agent.goto(BASE + '/login', { timeout: WAIT })
  await agent.getByTestId('login-email').fill('wang.dian@demo.kefu')
  await agent.getByTestId('login-password').fill('demo1234')
  await agent.getByTestId('login-submit').click()
  await agent.waitForURL(/\/inbox/, { timeout: WAIT })
  const conv = await agent.evaluate(async (customerId) => {
    const token = localStorage.getItem('kefu_token')
    const r = await fetch('/api/v1/conversations?status=open&assignee=all', { headers: { Authorization: `Bearer ${token}` } })
    const d = await r.json()
    return d.conversations.find((c) => c.customer.id === customerId)?.id
  }, session.customer_id)
  assert.ok(conv, 'the member has an open conversation')
  await agent.goto(`${BASE}/inbox/${conv}`, { timeout: WAIT })
  const sidebar = agent.getByTestId('customer-sidebar')
  await sidebar.getByTestId('customer-name').filter({ hasText: '林小雨' }).waitFor()
  await sidebar.getByTestId('customer-tags').getByText('老客').waitFor()
  await sidebar.getByTestId('customer-tag-input').fill(tag)
  await sidebar.getByTestId('customer-tag-input').press('Enter')
  await sidebar.getByTestId('customer-tags').getByText(tag).waitFor()
  await sidebar.getByTestId('customer-note-input').fill(note)
  await sidebar.getByTestId('customer-note-add').click()
  await sidebar.getByTestId('customer-notes').getByText(note).waitFor()
  await shot(agent, 'c02-sidebar')

  // ---- the customers page finds the member by phone; the detail shows the verified identity
  await agent.goto(BASE + '/customers', { timeout: WAIT })
  await agent.getByTestId('customers-search').fill('+86 138 0000 1111')
  await agent.getByTestId('customer-row').filter({ hasText: '林小雨' }).first().waitFor()
  // The search narrows the list to the records holding that phone (however it was typed).
  await agent.getByTestId('customer-row').filter({ hasText: '刷单' }).waitFor({ state: 'detached' })
  await shot(agent, 'c03-customers')
  await agent.getByTestId('customer-row').filter({ hasText: 'demo-u1001' }).first().click()
  await agent.getByTestId('customer-detail').waitFor()
  await agent.getByTestId('identity-verified').first().waitFor()
  await agent.getByTestId('customer-timeline').getByText(note).waitFor()
  await shot(agent, 'c04-detail')
  // ---- merge suggestions list the duplicate record from the phone order
  await agent.goto(BASE + '/customers', { timeout: WAIT })
  await agent.getByTestId('customers-tab-suggestions').click()
  await agent.getByTestId('merge-suggestion').first().waitFor()
  await shot(agent, 'c05-suggestions')
  await agent.getByTestId('customers-tab-blocked').click()
  await agent.getByTestId('customer-row').filter({ hasText: '刷单' }).first().waitFor()
  await agentCtx.close()
  await shopperCtx.close()
})
