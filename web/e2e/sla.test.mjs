// End-to-end (SLA & automation): the admin adds a holiday and a make-up working day to the default
// business calendar (an overlapping interval is refused, naming the field), creates an SLA policy
// and an automation rule in the SLA page; a ticket created through the API is raised by the rule
// and then carries the policy's clocks. Run from web/:
// KEFU_URL=http://127.0.0.1:18106 node --test e2e/sla.test.mjs
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

async function api(token, method, path, body) {
  const res = await fetch(BASE + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : null }
}

test('calendar, SLA policy and automation rule in the console; due times on a ticket', { timeout: 240_000 }, async () => {
  const stamp = Date.now().toString(36)
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
  const page = await ctx.newPage()
  page.setDefaultTimeout(WAIT)
  await page.goto(BASE + '/login', { timeout: WAIT })
  await page.getByTestId('login-email').fill('wang.dian@demo.kefu')
  await page.getByTestId('login-password').fill('demo1234')
  await page.getByTestId('login-submit').click()
  await page.waitForURL(/\/inbox/, { timeout: WAIT })
  const token = await page.evaluate(() => localStorage.getItem('kefu_token'))

  // ---- the default calendar: a holiday and a make-up working day
  await page.getByTestId('nav-sla').click()
  await page.getByTestId('sla-page').waitFor()
  await page.getByTestId('calendar-row').first().waitFor()
  await page.getByTestId('calendar-edit').first().click()
  await page.getByTestId('holiday-date').fill('2027-10-01')
  await page.getByTestId('holiday-add').click()
  await page.getByTestId('workday-date').fill('2027-10-09')
  await page.getByRole('button', { name: '添加日期' }).last().click()
  await shot(page, 's01-calendar')
  await page.getByTestId('calendar-save').click()
  await page.getByTestId('sla-saved').waitFor()
  const cals = await api(token, 'GET', '/api/v1/sla/calendars')
  const def = cals.body.calendars.find((c) => c.is_default)
  assert.ok(def.spec.holidays.includes('2027-10-01'), JSON.stringify(def))
  assert.deepEqual(def.spec.workdays['2027-10-09'], [['09:00', '18:00']])

  // ---- an overlapping interval is refused with the field named, nothing saved
  await page.getByTestId('calendar-edit').first().click()
  await page.getByTestId('hours-mon-0-end').fill('13:00')
  await page.getByText('+ 时段').first().click()
  await page.getByTestId('hours-mon-1-start').fill('12:00')
  await page.getByTestId('calendar-save').click()
  const err = await page.getByTestId('sla-error').textContent()
  // Named in Chinese: the field's label and the day, never the server's English sentence.
  assert.match(err, /每周工作时间：周一的时段有重叠/)
  await page.getByRole('button', { name: '取消' }).click()

  // ---- an SLA policy for high-priority tickets
  const name = `高优先级${stamp}`
  await page.getByTestId('sla-tab-policies').click()
  await page.getByTestId('policy-add').click()
  await page.getByTestId('policy-name').fill(name)
  await pick(page.getByTestId('policy-priority'), 'high')
  await page.getByTestId('policy-first').fill('45')
  await page.getByTestId('policy-resolution').fill('480')
  await page.getByTestId('policy-save').click()
  await page.getByTestId('policy-row').filter({ hasText: name }).waitFor()
  await shot(page, 's02-policies')

  // ---- an automation rule
  const rule = `破损${stamp}`
  await page.getByTestId('sla-tab-rules').click()
  await page.getByTestId('rule-add').click()
  await page.getByTestId('rule-name').fill(rule)
  await page.getByTestId('rule-keywords').fill(`碎了${stamp}`)
  await pick(page.getByTestId('rule-set-priority'), 'high')
  await page.getByTestId('rule-tags').fill('破损')
  await page.getByTestId('rule-save').click()
  await page.getByTestId('rule-row').filter({ hasText: rule }).waitFor()
  await shot(page, 's03-rules')

  // ---- a ticket whose text triggers the rule gets high priority, hence the policy's clocks
  const created = await api(token, 'POST', '/api/v1/tickets', { subject: `杯子碎了${stamp}` })
  assert.equal(created.status, 201, JSON.stringify(created.body))
  const t = await api(token, 'GET', `/api/v1/tickets/${created.body.id}`)
  assert.equal(t.body.ticket.priority, 'high')
  assert.deepEqual(t.body.ticket.tags, ['破损'])
  const policies = await api(token, 'GET', '/api/v1/sla/policies')
  const policy = policies.body.policies.find((p) => p.name === name)
  assert.equal(t.body.ticket.sla.policy_id, policy.id)
  const first = t.body.ticket.sla.clocks.find((c) => c.metric === 'first_response')
  assert.equal(first.target_ms, 45 * 60_000)
  assert.ok(first.due_at, JSON.stringify(t.body.ticket.sla))

  // ---- the ticket shows its SLA: a badge in the list and the clocks in the detail
  await page.goto(BASE + `/tickets/${created.body.id}`, { timeout: WAIT })
  const detail = page.getByTestId('ticket-detail')
  await detail.getByTestId('sla-detail').waitFor()
  assert.match(await detail.getByTestId('sla-detail').textContent(), /首次响应/)
  const row = page.getByTestId('ticket-row').filter({ hasText: `杯子碎了${stamp}` })
  const state = await row.getByTestId('sla-badge').getAttribute('data-state')
  assert.ok(['ok', 'warning', 'breached'].includes(state), state)
  await shot(page, 's04-ticket-sla')

  // ---- the English UI
  await page.goto(BASE + '/sla', { timeout: WAIT })
  await pick(page.getByTestId('lang-select'), 'en')
  await page.getByTestId('sla-tab-policies').click()
  await page.getByText('SLA policies').first().waitFor()
  await pick(page.getByTestId('lang-select'), 'zh')
  await ctx.close()
})
