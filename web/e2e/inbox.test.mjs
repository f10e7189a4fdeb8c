// End-to-end (inbox area, issue 19) against a running `kefu demo` (env KEFU_URL):
// - the inbox rows preview the shopper's own message (not the offline notice or a card), show a
//   live wait timer that turns red past 3 minutes, and sort by the longest wait;
// - the shop page opens the chat about an order (`kefu.open({order_no})`) and a product
//   (`kefu.open({sku})`): the agent sees the cards, the sidebar shows the current order, and the
//   「物流查询」 script fills {order.no}/{order.status} from it — not from the shopper's newer unpaid
//   order; the agent picks another order in the sidebar and the script follows;
// - the shop's widget colour, corner and invitation set in 设置 show in the widget.
// Run from web/: KEFU_URL=http://127.0.0.1:18282 node --test e2e/inbox.test.mjs
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

async function login(email, viewport = { width: 1440, height: 900 }, fakeClock = false) {
  const ctx = await browser.newContext({ viewport, locale: 'zh-CN' })
  const page = await ctx.newPage()
  page.setDefaultTimeout(WAIT)
  // The wait timers read the browser's clock: a fake one lets the test move it minutes ahead.
  if (fakeClock) await page.clock.install()
  await page.goto(BASE + '/login', { timeout: WAIT })
  await page.getByTestId('login-email').fill(email)
  await page.getByTestId('login-password').fill('demo1234')
  await page.getByTestId('login-submit').click()
  await page.waitForURL(/\/inbox/, { timeout: WAIT })
  return { ctx, page }
}

/** An anonymous shopper of the demo shop writes once (plain HTTP, like the widget). */
async function anonymousShopper(body) {
  const s = await fetch(BASE + '/api/v1/widget/sessions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ shop: 'demo', name: `访客${Date.now() % 10000}` }),
  }).then((r) => r.json())
  const r = await fetch(BASE + '/api/v1/widget/messages', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${s.visitor_token}` },
    body: JSON.stringify({ body, client_msg_id: `e2e-${Date.now()}-${Math.random()}` }),
  })
  assert.equal(r.status, 201, 'the shopper message is stored')
  return (await r.json()).conversation_id
}

/** The composer's script picker: `/track` + Enter puts 「物流查询」 rendered for this conversation. */
async function trackScript(page) {
  const composer = page.getByTestId('composer')
  await composer.fill('')
  await composer.click()
  await composer.pressSequentially('/track', { delay: 30 })
  await page.getByTestId('script-picker').waitFor()
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="script-picker"] button').length > 0)
  await composer.press('Enter')
  await page.waitForFunction(() => document.querySelector('[data-testid="composer"]').value.includes('目前是'))
  return composer.inputValue()
}

test('what waits, what the conversation is about, and the widget the shop styled', { timeout: 300_000 }, async () => {
  const stamp = Date.now().toString(36)
  const firstQuestion = `请问今天能发货吗？#${stamp}`
  const question = `你好，我的耳机到哪了？#${stamp}`

  // ---- someone else writes first: they will have waited longer
  const firstId = await anonymousShopper(firstQuestion)

  // ---- 韩梅梅 logs in on the shop page, buys a power bank (a newer, unpaid order) …
  const shopCtx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'zh-CN' })
  const shop = await shopCtx.newPage()
  shop.setDefaultTimeout(WAIT)
  await shop.goto(BASE + '/demo/shop', { timeout: WAIT })
  await shop.locator('[data-testid="demo-login"][data-key="demo-hanmeimei"]').click()
  await shop.getByTestId('my-orders').waitFor()
  const earbudsRow = shop.locator('[data-testid="my-order"][data-order-no="XMF20261120001"]')
  await earbudsRow.waitFor()
  await shop.locator('[data-testid="product"][data-sku="XMF-PB-03"]').getByTestId('buy-now').click()
  await shop.locator('[data-testid="my-order"]').nth(1).waitFor()
  const newest = await shop.getByTestId('my-order').first().getAttribute('data-order-no')
  assert.notEqual(newest, 'XMF20261120001', 'the power bank is her latest order')

  // … and asks about the earphones from that order's row: the chat opens about that order. Her
  // last conversation is resolved, so the order waits for her question, which reopens it.
  const contextSent = shop.waitForResponse((r) => r.url().includes('/api/v1/widget/context'), { timeout: WAIT })
  await earbudsRow.getByTestId('ask-order').click()
  await shop.getByTestId('kefu-panel').waitFor({ state: 'visible' })
  assert.equal((await contextSent).status(), 200, 'POST /widget/context')
  const cardsBefore = await shop.locator('[data-testid="kefu-card"][data-kind="order_card"]').count()
  await shop.getByTestId('kefu-input').fill(question)
  await shop.getByTestId('kefu-input').press('Enter')
  await shop.locator('[data-testid="kefu-message"][data-sender-type="customer"][data-state="sent"]', { hasText: question }).waitFor()
  const orderCards = shop.locator('[data-testid="kefu-card"][data-kind="order_card"]', { hasText: 'XMF20261120001' })
  await shop.waitForFunction((n) => document.querySelector('[data-testid="kefu-widget-host"]').shadowRoot.querySelectorAll('[data-testid="kefu-card"][data-kind="order_card"]').length > n, cardsBefore)
  await orderCards.last().waitFor()
  // … then looks at the earphones' product page: "这款" is that product for the agent.
  await shop.getByTestId('kefu-close').click()
  await shop.locator('[data-testid="product"][data-sku="XMF-EAR-01"]').getByTestId('ask-product').click()
  await shop.locator('[data-testid="kefu-card"][data-kind="product_card"]').last().waitFor()
  await shot(shop, 'i01-shop-asks-about-order-and-product')

  // ---- the admin's inbox: previews, wait timers, longest wait first
  const { ctx: adminCtx, page: admin } = await login('wang.dian@demo.kefu', undefined, true)
  await admin.getByTestId('filter-all').click()
  const row = admin.getByTestId('conversation-row').filter({ hasText: '韩梅梅' })
  // The row shows her question, not the offline notice or the product card stored after it.
  await row.getByTestId('conversation-preview').filter({ hasText: question }).waitFor()
  await row.getByTestId('wait-timer').waitFor()
  const sorted = admin.waitForResponse((r) => r.url().includes('sort=waiting'))
  await pick(admin.getByTestId('inbox-sort'), 'waiting')
  await sorted
  const order = async () =>
    admin.evaluate(() =>
      [...document.querySelectorAll('[data-testid="conversation-row"]')].map((r) => ({
        id: Number(r.getAttribute('data-conversation-id')),
        name: r.querySelector('[data-testid="conversation-name"]')?.textContent,
        waits: !!r.querySelector('[data-testid="wait-timer"]'),
      })),
    )
  let rows = await order()
  const firstAt = rows.findIndex((r) => r.id === firstId)
  const hanAt = rows.findIndex((r) => r.name === '韩梅梅')
  assert.ok(firstAt >= 0 && hanAt > firstAt, `the earlier shopper first: ${JSON.stringify(rows)}`)
  const lastWaiting = rows.map((r) => r.waits).lastIndexOf(true)
  assert.ok(rows.slice(0, lastWaiting + 1).every((r) => r.waits), `waiting rows come first: ${JSON.stringify(rows)}`)
  // Five minutes pass: the timer counts on by itself and turns red.
  await admin.clock.fastForward('05:30')
  const timer = row.getByTestId('wait-timer')
  await admin.waitForFunction(
    (el) => el && el.classList.contains('long'),
    await timer.elementHandle(),
  )
  assert.match(await timer.innerText(), /等待 [56] 分钟/)
  await shot(admin, 'i02-inbox-longest-wait-first')
  // The filter row stays one line of whole words at desktop width.
  for (const f of ['me', 'unassigned', 'all']) {
    const box = await admin.getByTestId('filter-' + f).boundingBox()
    assert.ok(box && box.height < 32, `filter-${f} is one line: ${JSON.stringify(box)}`)
  }

  // ---- the conversation: the current order is the earphones', and the script says so
  await row.click()
  const sidebar = admin.getByTestId('customer-sidebar')
  await sidebar.locator('[data-testid="context-order"][data-order-no="XMF20261120001"]').waitFor()
  await sidebar.getByTestId('context-product').getByText('降噪蓝牙耳机 Pro').waitFor()
  await admin.locator('[data-testid="message-bubble"][data-kind="product_card"]').last().waitFor()
  let draft = await trackScript(admin)
  assert.match(draft, /订单XMF20261120001目前是已发货/, draft)
  await shot(admin, 'i03-conversation-current-order')

  // The agent picks the power bank's order in the sidebar: the script follows.
  const select = sidebar.getByTestId('context-order-select')
  await select.locator('.kselect-trigger').click()
  const option = select.getByRole('option').filter({ hasText: newest })
  assert.equal(await option.count(), 1, `the picker lists ${newest}`)
  await option.click()
  await sidebar.locator(`[data-testid="context-order"][data-order-no="${newest}"]`).waitFor()
  draft = await trackScript(admin)
  assert.match(draft, new RegExp(`订单${newest}目前是待付款`), draft)
  await shot(admin, 'i04-agent-picked-order')
  // … and back to the earphones from the orders list.
  await sidebar.locator('[data-testid="order-make-current"]').first().waitFor()
  await sidebar.locator('[data-testid="orders-panel-order"]', { hasText: 'XMF20261120001' }).getByTestId('order-make-current').click()
  await sidebar.locator('[data-testid="context-order"][data-order-no="XMF20261120001"]').waitFor()
  await admin.getByTestId('composer').fill('')

  // ---- the widget's look, set in 设置
  await admin.goto(BASE + '/settings', { timeout: WAIT })
  const look = admin.getByTestId('widget-look')
  await look.scrollIntoViewIfNeeded()
  await look.getByTestId('widget-color').fill('#E4393C')
  await look.getByTestId('widget-position-left').check()
  const invitation = `有问题随时问我们～${stamp.slice(-3)}`
  await look.getByTestId('widget-greeting').fill(invitation)
  await look.getByTestId('widget-save').click()
  await look.getByTestId('widget-saved').waitFor()
  assert.equal(await look.getByTestId('widget-color').inputValue(), '#e4393c', 'stored normalised')
  await shot(admin, 'i05-settings-widget-look')
  // A bad colour is refused with a readable message, and nothing changes.
  await look.getByTestId('widget-color').fill('red')
  await look.getByTestId('widget-save').click()
  await look.getByTestId('widget-error').filter({ hasText: '主题色' }).waitFor()

  const visitorCtx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'zh-CN' })
  const visitor = await visitorCtx.newPage()
  visitor.setDefaultTimeout(WAIT)
  await visitor.goto(BASE + '/demo/shop', { timeout: WAIT })
  const host = visitor.getByTestId('kefu-widget-host')
  await visitor.waitForFunction(() => document.querySelector('[data-testid="kefu-widget-host"]')?.getAttribute('data-color') === '#e4393c')
  assert.equal(await host.getAttribute('data-position'), 'left')
  await visitor.getByTestId('kefu-teaser').filter({ hasText: invitation }).waitFor()
  const launcher = visitor.getByTestId('kefu-launcher')
  const { bg, left } = await launcher.evaluate((el) => ({ bg: getComputedStyle(el).backgroundImage, left: el.getBoundingClientRect().left }))
  assert.match(bg, /rgb\(228, 57, 60\)/, bg)
  assert.ok(left < 100, `the button sits bottom-left: ${left}`)
  await shot(visitor, 'i06-widget-styled')
  await visitor.getByTestId('kefu-teaser').click()
  await visitor.getByTestId('kefu-panel').waitFor({ state: 'visible' })
  await visitor.getByTestId('kefu-teaser').waitFor({ state: 'hidden' })
  await shot(visitor, 'i07-widget-styled-open')

  // Put the default look back for the tests that follow.
  await look.getByTestId('widget-color').fill('#2563eb')
  await look.getByTestId('widget-position-right').check()
  await look.getByTestId('widget-greeting').fill('')
  await look.getByTestId('widget-save').click()
  await look.getByTestId('widget-saved').waitFor()

  // ---- a phone: the list with its filters and timers, one line each
  const { ctx: phoneCtx, page: phone } = await login('wang.dian@demo.kefu', { width: 390, height: 844 })
  await phone.getByTestId('filter-all').click()
  await phone.getByTestId('conversation-row').filter({ hasText: '韩梅梅' }).waitFor()
  for (const id of ['filter-me', 'filter-unassigned', 'filter-all', 'inbox-sort']) {
    const box = await phone.getByTestId(id).boundingBox()
    assert.ok(box && box.height < 32 && box.x + box.width <= 390, `${id} fits on one line: ${JSON.stringify(box)}`)
  }
  await shot(phone, 'i08-inbox-phone')

  await Promise.all([shopCtx.close(), adminCtx.close(), visitorCtx.close(), phoneCtx.close()])
})
