// End-to-end: commerce in the conversation against a running `kefu demo` (env KEFU_URL).
// A demo shopper logs in on the demo shop page, places an order and asks about it; the agent
// console opens the conversation, sees the order in the customer sidebar (live), sends an order
// card and a product card that the shopper's widget shows; a payment reminder is sent from the
// reminders view and counted as paid once the shopper pays.
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

test('demo shopper orders; agent sees it in the sidebar, sends order and product cards, reminds; outcome paid', { timeout: 300_000 }, async () => {
  const stamp = Date.now().toString(36)
  const question = `我刚下单了，今天能发货吗？#${stamp}`

  // ---- the shop owner (sees every conversation) logs in and goes online
  const agentCtx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
  const agent = await agentCtx.newPage()
  agent.setDefaultTimeout(WAIT)
  await agent.goto(BASE + '/login', { timeout: WAIT })
  await agent.getByTestId('login-email').fill('wang.dian@demo.kefu')
  await agent.getByTestId('login-password').fill('demo1234')
  await agent.getByTestId('login-submit').click()
  await agent.waitForURL(/\/inbox/, { timeout: WAIT })
  await pick(agent.getByTestId('status-select'), 'online')
  await agent.locator('.status-select.st-online').waitFor({ timeout: WAIT })

  // ---- the shopper logs in as a demo shopper on the shop page and places an order
  const shopCtx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'zh-CN' })
  const shopper = await shopCtx.newPage()
  shopper.setDefaultTimeout(WAIT)
  await shopper.goto(BASE + '/demo/shop', { timeout: WAIT })
  await shopper.getByTestId('product').first().waitFor({ timeout: WAIT })
  await shopper.locator('[data-testid="demo-login"][data-key="demo-lilei"]').click()
  await shopper.getByTestId('demo-account').filter({ hasText: '您好，李雷' }).waitFor({ timeout: WAIT })
  await shopper.getByTestId('my-orders').waitFor({ state: 'visible', timeout: WAIT })
  const before = await shopper.getByTestId('my-order').count()
  const placed = shopper.waitForResponse((r) => r.url().endsWith('/api/v1/demo/orders') && r.request().method() === 'POST', { timeout: WAIT })
  await shopper.getByTestId('product').first().getByTestId('buy-now').click()
  const placedResp = await placed
  assert.equal(placedResp.status(), 201, 'POST /demo/orders')
  const order = await placedResp.json()
  assert.equal(order.payment_status, 'unpaid')
  await shopper.locator(`[data-testid="my-order"][data-order-no="${order.order_no}"]`).waitFor({ timeout: WAIT })
  assert.equal(await shopper.getByTestId('my-order').count(), before + 1)
  await shot(shopper, '11-shop-order-placed')

  // ---- and asks about it in the widget
  await shopper.getByTestId('kefu-launcher').click()
  await shopper.getByTestId('kefu-panel').waitFor({ state: 'visible', timeout: WAIT })
  await shopper.getByTestId('kefu-input').fill(question)
  await shopper.getByTestId('kefu-input').press('Enter')
  await shopper.locator('[data-testid="kefu-message"][data-sender-type="customer"][data-state="sent"]', { hasText: question }).waitFor({ timeout: WAIT })

  // ---- the agent opens the conversation and sees the order in the customer sidebar
  const row = agent.getByTestId('conversation-row').filter({ hasText: question })
  await row.waitFor({ timeout: WAIT })
  await row.click()
  await agent.locator('[data-testid="message-bubble"][data-sender-type="customer"]', { hasText: question }).waitFor({ timeout: WAIT })
  const sidebar = agent.getByTestId('customer-sidebar')
  const orderRow = sidebar.getByTestId('orders-panel-order').filter({ hasText: order.order_no })
  await orderRow.waitFor({ timeout: WAIT })
  await shot(agent, '12-console-sidebar-orders')

  // ---- a second order placed now appears in the open sidebar without a reload (orders.changed)
  const placed2 = shopper.waitForResponse((r) => r.url().endsWith('/api/v1/demo/orders') && r.request().method() === 'POST', { timeout: WAIT })
  await shopper.getByTestId('product').nth(1).getByTestId('buy-now').click()
  const order2 = await (await placed2).json()
  await sidebar.getByTestId('orders-panel-order').filter({ hasText: order2.order_no }).waitFor({ timeout: WAIT })

  // ---- the agent sends the first order as a card; the shopper's widget shows it
  await orderRow.getByTestId('send-order-card').click()
  await agent.locator('[data-testid="message-bubble"][data-kind="order_card"]', { hasText: order.order_no }).waitFor({ timeout: WAIT })
  const orderCard = shopper.locator('[data-testid="kefu-card"][data-kind="order_card"]', { hasText: order.order_no })
  await orderCard.waitFor({ timeout: WAIT })
  assert.match(await orderCard.getByTestId('kefu-card-state').innerText(), /待付款/)
  await shot(agent, '13-console-order-card-sent')
  await shot(shopper, '14-widget-order-card')

  // ---- and a product card from the composer's picker
  await agent.getByTestId('send-product-open').click()
  await agent.getByTestId('product-picker').waitFor({ timeout: WAIT })
  await agent.getByTestId('product-search').fill('键盘')
  const option = agent.getByTestId('product-option').filter({ hasText: '键盘' })
  await option.first().waitFor({ timeout: WAIT })
  await option.first().click()
  await agent.locator('[data-testid="message-bubble"][data-kind="product_card"]', { hasText: '键盘' }).last().waitFor({ timeout: WAIT })
  await shopper.locator('[data-testid="kefu-card"][data-kind="product_card"]', { hasText: '键盘' }).last().waitFor({ timeout: WAIT })
  await shot(shopper, '15-widget-product-card')

  // ---- payment reminder (催付) from the reminders view
  await agent.getByTestId('nav-reminders').click()
  const candidate = agent.locator(`[data-testid="reminder-candidate"][data-order-id="${order.order_id}"]`)
  await candidate.waitFor({ timeout: WAIT })
  await shot(agent, '16-console-reminder-candidates')
  const sent = agent.waitForResponse((r) => r.url().endsWith('/api/v1/reminders') && r.request().method() === 'POST', { timeout: WAIT })
  await candidate.getByTestId('reminder-send').click()
  assert.equal((await sent).status(), 201, 'POST /reminders')
  await agent.getByTestId('reminders-notice').waitFor({ timeout: WAIT })
  await shopper.locator('[data-testid="kefu-message"][data-sender-type="agent"]', { hasText: '还没有付款' }).last().waitFor({ timeout: WAIT })

  // ---- the shopper closes the chat window and pays; the reminder counts as paid
  await shot(shopper, '16b-widget-reminder')
  await shopper.getByTestId('kefu-launcher').click()
  await shopper.getByTestId('kefu-panel').waitFor({ state: 'hidden', timeout: WAIT })
  await shopper.locator(`[data-testid="my-order"][data-order-no="${order.order_no}"]`).getByTestId('pay').click()
  await shopper.locator(`[data-testid="my-order"][data-order-no="${order.order_no}"] [data-testid="pay"]`).waitFor({ state: 'detached', timeout: WAIT })
  await agent.getByTestId('reminders-tab-history').click()
  await agent.locator('[data-testid="reminder-row"][data-outcome="paid"]', { hasText: order.order_no }).waitFor({ timeout: WAIT })
  assert.match(await agent.getByTestId('reminders-rate').innerText(), /%/)
  await shot(agent, '17-console-reminder-outcomes')

  await shopCtx.close()
  await agentCtx.close()
})
