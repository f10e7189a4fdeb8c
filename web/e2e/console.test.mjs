// End-to-end: the actions where the agent is (issue 19), against a running `kefu demo` (env
// KEFU_URL). A demo shopper orders and asks; in the chat's sidebar the agent sees 催付 on the
// unpaid order (and 申请售后 exactly on the orders the server allows it for), sends the reminder
// and the shopper's widget shows it. A ticket about that order is found in Ctrl+K by its number
// (T-000012 and t12), an after-sales request by AS-00000n; the ticket and after-sales lists find
// them by order number; the customer's timeline lists the ticket; the settings page's navigation
// moves to a section. The console's own selects and date inputs work by mouse and keyboard.
// Run from web/: KEFU_URL=http://127.0.0.1:18080 node --test e2e/console.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { launchBrowser, pick, picked } from './browser.mjs'

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

/** A JSON API call with the console's session token. */
async function api(page, method, path, body) {
  return page.evaluate(
    async ([m, p, b]) => {
      const r = await fetch(p, {
        method: m,
        headers: { Authorization: `Bearer ${localStorage.getItem('kefu_token')}`, 'Content-Type': 'application/json' },
        body: b ? JSON.stringify(b) : undefined,
      })
      return { status: r.status, body: await r.json().catch(() => null) }
    },
    [method, path, body],
  )
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

/** Ctrl+K, the number, and the record it names opened with Enter. */
async function jump(page, text, kind) {
  await page.keyboard.press('Control+k')
  const input = page.getByTestId('global-search-input')
  await input.fill(text)
  const record = page.locator(`[data-testid="global-search-record"][data-kind="${kind}"]`)
  await record.waitFor({ timeout: WAIT })
  await input.press('Enter')
  return record
}

test('催付 and 申请售后 in the sidebar, numbers in Ctrl+K and the lists, the timeline, settings navigation', { timeout: 300_000 }, async () => {
  const stamp = Date.now().toString(36)
  const question = `这个订单还能改地址吗？#${stamp}`
  const { ctx: agentCtx, page: agent } = await login('wang.dian@demo.kefu')
  await pick(agent.getByTestId('status-select'), 'online')
  await agent.locator('.status-select.st-online').waitFor()
  assert.equal(await picked(agent.getByTestId('status-select')), '在线')

  // ---- 韩梅梅 orders on the demo shop and asks in the widget
  const shopCtx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'zh-CN' })
  const shopper = await shopCtx.newPage()
  shopper.setDefaultTimeout(WAIT)
  await shopper.goto(BASE + '/demo/shop', { timeout: WAIT })
  await shopper.getByTestId('product').first().waitFor()
  await shopper.locator('[data-testid="demo-login"][data-key="demo-hanmeimei"]').click()
  await shopper.getByTestId('demo-account').filter({ hasText: '韩梅梅' }).waitFor()
  await shopper.getByTestId('my-orders').waitFor({ state: 'visible' })
  const placed = shopper.waitForResponse((r) => r.url().endsWith('/api/v1/demo/orders') && r.request().method() === 'POST')
  await shopper.getByTestId('product').first().getByTestId('buy-now').click()
  const order = await (await placed).json()
  assert.equal(order.payment_status, 'unpaid')
  await shopper.getByTestId('kefu-launcher').click()
  await shopper.getByTestId('kefu-panel').waitFor({ state: 'visible' })
  await shopper.getByTestId('kefu-input').fill(question)
  await shopper.getByTestId('kefu-input').press('Enter')
  await shopper.locator('[data-testid="kefu-message"][data-sender-type="customer"][data-state="sent"]', { hasText: question }).waitFor()

  // ---- the agent opens the chat: 催付 on the unpaid order, no 申请售后 there
  const row = agent.getByTestId('conversation-row').filter({ hasText: question })
  await row.waitFor()
  await row.click()
  await agent.waitForURL(/\/inbox\/\d+/)
  const conversationId = Number(agent.url().match(/\/inbox\/(\d+)/)[1])
  const sidebar = agent.getByTestId('customer-sidebar')
  const orderRow = sidebar.getByTestId('orders-panel-order').filter({ hasText: order.order_no })
  await orderRow.waitFor()
  await orderRow.getByTestId('order-remind').waitFor()
  assert.equal(await orderRow.getByTestId('as-apply').count(), 0, '申请售后 is not offered on an unpaid order')
  // Every order in the panel offers 申请售后 exactly when the server says the order allows it.
  const conv = await api(agent, 'GET', `/api/v1/conversations/${conversationId}`)
  const customerId = conv.body.conversation?.customer?.id ?? conv.body.customer?.id
  assert.ok(customerId, 'the conversation has a customer')
  const orders = (await api(agent, 'GET', `/api/v1/customers/${customerId}/orders?limit=10`)).body.orders
  for (const o of orders) {
    const r = sidebar.getByTestId('orders-panel-order').filter({ hasText: o.order_no })
    assert.equal(await r.getByTestId('as-apply').count(), o.aftersales_allowed ? 1 : 0, `${o.order_no} ${o.payment_status}/${o.status}`)
    assert.equal(await r.getByTestId('order-remind').count(), o.awaiting_payment ? 1 : 0, `${o.order_no} 催付`)
  }
  assert.ok(orders.some((o) => o.aftersales_allowed), 'the demo shopper also has an order that allows 申请售后')
  await shot(agent, 'c01-sidebar-remind-and-aftersales')

  const sent = agent.waitForResponse((r) => r.url().endsWith('/api/v1/reminders') && r.request().method() === 'POST')
  await orderRow.getByTestId('order-remind').click()
  assert.equal((await sent).status(), 201, 'POST /reminders')
  await orderRow.getByTestId('order-remind').filter({ hasText: '已发送催付' }).waitFor()
  // The reminder's text and the order card arrive in the chat and in the shopper's widget.
  await agent.locator('[data-testid="message-bubble"][data-kind="order_card"]', { hasText: order.order_no }).last().waitFor()
  await shopper.locator('[data-testid="kefu-card"][data-kind="order_card"]', { hasText: order.order_no }).last().waitFor()
  await shopper.locator('[data-testid="kefu-message"][data-sender-type="agent"]', { hasText: '还没有付款' }).last().waitFor()
  await shot(agent, 'c02-sidebar-reminded')
  await shot(shopper, 'c03-widget-reminder')
  // A second click within the outcome window asks first, inline.
  const again = orderRow.getByTestId('order-remind')
  await agent.reload()
  await orderRow.waitFor()
  await again.click()
  await orderRow.getByTestId('order-remind-force').waitFor()

  // ---- a ticket about the order: found by its number in Ctrl+K, and by the order number in the list
  const created = await api(agent, 'POST', '/api/v1/tickets', {
    subject: `改地址 ${stamp}`,
    customer_id: customerId,
    links: [{ kind: 'order', ref_id: order.id ?? order.order_id }],
  })
  assert.equal(created.status, 201, JSON.stringify(created.body))
  const ticket = created.body.ticket ?? created.body
  await jump(agent, ticket.display_number, 'ticket')
  await agent.waitForURL(new RegExp(`/tickets/${ticket.id}$`))
  await agent.getByTestId('ticket-detail').waitFor()
  await jump(agent, `t${ticket.number}`, 'ticket')
  await agent.waitForURL(new RegExp(`/tickets/${ticket.id}$`))
  await agent.goto(`${BASE}/tickets`)
  await agent.getByTestId('filter-order-no').fill(order.order_no)
  await agent.getByTestId('filter-order-no').press('Tab')
  await agent.waitForFunction(
    (subject) => {
      const rows = [...document.querySelectorAll('[data-testid="ticket-row"]')]
      return rows.length === 1 && rows[0].textContent.includes(subject)
    },
    ticket.subject,
    { timeout: WAIT },
  )
  await shot(agent, 'c04-tickets-by-order-number')

  // ---- an after-sales request by its number, and the list by its order number
  const requests = (await api(agent, 'GET', '/api/v1/aftersales?limit=5')).body.requests
  assert.ok(requests.length > 0, 'the demo has after-sales requests')
  const request = requests[0]
  await jump(agent, request.no, 'aftersales')
  await agent.waitForURL(new RegExp(`/aftersales\\?id=${request.id}$`))
  await agent.getByTestId('as-detail-no').filter({ hasText: request.no }).waitFor()
  await agent.getByTestId('as-filter-q').fill(request.order_no)
  await agent.getByTestId('as-filter-q').press('Enter')
  await agent.waitForFunction(
    (id) => {
      const rows = [...document.querySelectorAll('[data-testid="as-row"]')]
      return rows.length >= 1 && rows.every((r) => r.getAttribute('data-id')) && rows.some((r) => r.getAttribute('data-id') === String(id))
    },
    request.id,
    { timeout: WAIT },
  )
  const listed = (await api(agent, 'GET', `/api/v1/aftersales?q=${encodeURIComponent(request.order_no)}`)).body.requests
  assert.ok(listed.every((r) => r.order_no.includes(request.order_no)), 'only requests of that order number')
  assert.equal(await agent.getByTestId('as-row').count(), listed.length)
  await shot(agent, 'c05-aftersales-by-order-number')

  // ---- the customer's timeline lists the ticket (and their after-sales requests)
  await agent.goto(`${BASE}/customers/${customerId}`)
  const item = agent.locator('[data-testid="customer-timeline"] li', { hasText: ticket.display_number })
  await item.waitFor()
  assert.match(await item.innerText(), /创建工单/)
  await item.getByTestId('timeline-ticket').waitFor()
  assert.doesNotMatch(await agent.getByTestId('customer-timeline').innerText(), /1970/)
  await shot(agent, 'c06-customer-timeline-ticket')

  // ---- settings: the side navigation moves to a section and says which one is read
  await agent.goto(`${BASE}/settings`)
  await agent.getByTestId('settings-nav').waitFor()
  await agent.getByTestId('settings-nav-mail').click()
  await agent.waitForURL(/section=mail/)
  await agent.waitForFunction(() => {
    const el = document.getElementById('settings-mail')
    const r = el?.getBoundingClientRect()
    return r && r.top >= 0 && r.top < window.innerHeight / 2
  })
  await agent.waitForTimeout(1500)
  assert.equal(await agent.getByTestId('settings-nav-mail').getAttribute('aria-current'), 'true', 'the clicked section stays the one being read')
  await shot(agent, 'c07-settings-mail-section')

  // ---- the own select by keyboard: open, move, pick; the own date input by typing and by calendar
  await agent.goto(`${BASE}/orders`)
  const status = agent.getByTestId('orders-status')
  await status.locator('.kselect-trigger').focus()
  await agent.keyboard.press('ArrowDown')
  await status.locator('[role="listbox"]').waitFor()
  await agent.keyboard.press('ArrowDown')
  await agent.keyboard.press('Enter')
  await status.locator('[role="listbox"]').waitFor({ state: 'detached' })
  assert.notEqual(await status.getAttribute('data-value'), '', 'a status was picked by keyboard')
  const from = agent.getByTestId('orders-from')
  await from.fill('2026/5/3')
  await from.press('Tab')
  assert.equal(await from.inputValue(), '2026-05-03')
  await from.fill('2026-02-30')
  await from.press('Tab')
  assert.equal(await from.inputValue(), '2026-05-03', 'a day that does not exist is not taken')
  const wrap = from.locator('xpath=..')
  await wrap.getByTestId('kdate-open').click()
  const cal = wrap.getByRole('dialog')
  await cal.waitFor()
  assert.match(await cal.innerText(), /2026年5月/)
  await cal.locator('[data-day="2026-05-12"]').click()
  assert.equal(await from.inputValue(), '2026-05-12')
  await shot(agent, 'c08-own-controls')

  // ---- the chat is resolved again, as the demo had it (other tests start from there)
  await agent.goto(`${BASE}/inbox/${conversationId}`)
  await agent.getByTestId('status-resolve').click()
  await agent.waitForFunction(
    async ([id]) => {
      const r = await fetch(`/api/v1/conversations/${id}`, { headers: { Authorization: `Bearer ${localStorage.getItem('kefu_token')}` } })
      return (await r.json()).conversation?.status === 'resolved'
    },
    [conversationId],
  )

  await shopCtx.close()
  await agentCtx.close()
})
