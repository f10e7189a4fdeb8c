// End-to-end: after-sales (售后) and negative reviews (中差评) against a running `kefu demo`
// (env KEFU_URL). An agent opens a demo conversation, starts 申请售后 from an order in the customer
// sidebar (refund only, one line), decides a partial refund keeping the goods, issues it, and sees
// the order's refunded amount grow by exactly that much; then records the outcome of an overdue
// review follow-up in the 中差评 queue.
// Run from web/: KEFU_URL=http://127.0.0.1:18080 npm run test:e2e
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

/** A JSON API call with the console's session token. */
async function apiGet(page, path) {
  return page.evaluate(async (p) => {
    const r = await fetch(p, { headers: { Authorization: `Bearer ${localStorage.getItem('kefu_token')}` } })
    return { status: r.status, body: await r.json() }
  }, path)
}

test('agent starts 申请售后 from a conversation, refunds part keeping the goods, sees the order refunded; records a review follow-up', { timeout: 300_000 }, async () => {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
  const page = await ctx.newPage()
  page.setDefaultTimeout(WAIT)
  // 李娜 is an agent (not a supervisor): she sees her own conversations and requests.
  await page.goto(BASE + '/login', { timeout: WAIT })
  await page.getByTestId('login-email').fill('li.na@demo.kefu')
  await page.getByTestId('login-password').fill('demo1234')
  await page.getByTestId('login-submit').click()
  await page.waitForURL(/\/inbox/, { timeout: WAIT })

  // ---- a conversation of hers whose buyer has a paid order with nothing refunded yet
  const convs = await apiGet(page, '/api/v1/conversations?assignee=me')
  assert.equal(convs.status, 200)
  let target = null
  for (const c of convs.body.conversations) {
    const orders = await apiGet(page, `/api/v1/customers/${c.customer.id}/orders?limit=10`)
    const o = orders.body.orders?.find((x) => x.payment_status === 'paid' && x.items.length > 0)
    if (o) {
      target = { conversation: c, order: o }
      break
    }
  }
  assert.ok(target, 'a demo conversation with a paid order')
  const { conversation, order } = target
  const refundedBefore = order.refunded_cents

  await page.goto(`${BASE}/inbox/${conversation.id}`, { timeout: WAIT })
  const sidebar = page.getByTestId('customer-sidebar')
  const apply = sidebar.locator(`[data-testid="as-apply"][data-order-id="${order.id}"]`)
  await apply.waitFor({ timeout: WAIT })
  await apply.click()

  // ---- the dialog is prefilled with the order's lines; keep only the first line, one unit
  const dialog = page.getByTestId('as-dialog')
  await dialog.waitFor({ timeout: WAIT })
  assert.equal(await dialog.getByTestId('as-line').count(), order.items.length)
  await pick(dialog.getByTestId('as-kind'), 'refund')
  await pick(dialog.getByTestId('as-reason'), 'damaged')
  const picks = dialog.getByTestId('as-line-pick')
  for (let i = 1; i < order.items.length; i++) await picks.nth(i).uncheck()
  await dialog.getByTestId('as-line-qty').first().fill('1')
  await dialog.getByTestId('as-description').fill('外壳磕碰，顾客愿意保留商品接受部分退款')
  await shot(page, '60-aftersales-dialog')
  const created = page.waitForResponse((r) => r.url().endsWith('/api/v1/aftersales') && r.request().method() === 'POST', { timeout: WAIT })
  await dialog.getByTestId('as-submit').click()
  assert.equal((await created).status(), 201, 'POST /aftersales')
  await sidebar.getByTestId('as-created').waitFor({ timeout: WAIT })
  await sidebar.getByTestId('as-created-open').click()

  // ---- the request's page offers only what its state allows
  await page.waitForURL(/\/aftersales\?id=\d+/, { timeout: WAIT })
  const detail = page.getByTestId('as-detail')
  await detail.locator('[data-testid="as-detail-state"][data-state="requested"]').waitFor({ timeout: WAIT })
  assert.equal(await detail.getByTestId('as-do-refund').count(), 0, 'no refund before a decision')
  await pick(detail.getByTestId('as-decision'), 'partial_refund')
  await detail.getByTestId('as-decision-amount').fill('30')
  await detail.getByTestId('as-do-decide').click()
  await detail.locator('[data-testid="as-detail-state"][data-state="approved"]').waitFor({ timeout: WAIT })
  assert.equal(await detail.getByTestId('as-do-decide').count(), 0, 'decided once')
  assert.equal(await detail.getByTestId('as-refund-amount').inputValue(), '30.00')
  await shot(page, '61-aftersales-approved')
  await detail.getByTestId('as-do-refund').click()
  await detail.locator('[data-testid="as-detail-state"][data-state="refunded"]').waitFor({ timeout: WAIT })

  // ---- the order's refunded amount and payment status follow
  const refunded = detail.getByTestId('as-order-refunded')
  await page.waitForFunction(
    ([el, want]) => el && Number(el.getAttribute('data-cents')) === want,
    [await refunded.elementHandle(), refundedBefore + 3000],
    { timeout: WAIT },
  )
  assert.match(await refunded.innerText(), /30\.00/)
  assert.match(await detail.getByTestId('as-order-payment').innerText(), /部分退款/)
  assert.equal(await detail.getByTestId('as-timeline').locator('li').count(), 3)
  await shot(page, '62-aftersales-refunded')
  await detail.getByTestId('as-do-complete').click()
  await detail.locator('[data-testid="as-detail-state"][data-state="completed"]').waitFor({ timeout: WAIT })
  const after = await apiGet(page, `/api/v1/orders/${order.id}`)
  assert.equal(after.body.refunded_cents, refundedBefore + 3000)

  // ---- 中差评: the overdue follow-ups lead the queue; record an outcome on one
  await page.getByTestId('nav-reviews').click()
  const first = page.getByTestId('rv-followup').first()
  await first.waitFor({ timeout: WAIT })
  assert.equal(await first.getAttribute('data-overdue'), 'true', 'overdue first')
  await first.getByTestId('rv-overdue').waitFor({ timeout: WAIT })
  await shot(page, '63-reviews-queue')
  const id = await first.getAttribute('data-id')
  const task = page.locator(`[data-testid="rv-followup"][data-id="${id}"]`)
  await pick(task.getByTestId('rv-outcome-status'), 'resolved')
  await task.getByTestId('rv-outcome-note').fill('已电话联系，补偿 10 元优惠券，顾客表示理解')
  await task.getByTestId('rv-outcome-save').click()
  await task.waitFor({ state: 'detached', timeout: WAIT })
  const check = await apiGet(page, `/api/v1/review-followups/${id}`)
  assert.equal(check.body.status, 'resolved')
  await ctx.close()
})
