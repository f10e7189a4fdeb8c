// End-to-end (agent KPIs, 报表 → 客服绩效): the owner opens the KPI page of the demo shop and sees
// figures per agent (the demo's chats, sales and reminder), reads a formula in its tooltip, groups
// by team, follows one agent's trend, downloads the CSV and changes the attribution rules; an agent
// sees their own row only; on a phone the page stays within the screen. Every view is labelled and
// shows no internal key. Run from web/: KEFU_URL=http://127.0.0.1:18383 node --test e2e/kpi.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { launchBrowser, pick } from './browser.mjs'

const BASE = (process.env.KEFU_URL || 'http://127.0.0.1:18080').replace(/\/$/, '')
const SHOTS = fileURLToPath(new URL('../screenshots/', import.meta.url))
const WAIT = 30_000
mkdirSync(SHOTS, { recursive: true })

const DESKTOP = { width: 1440, height: 900 }
const PHONE = { width: 390, height: 844 }

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

async function login(email, viewport = DESKTOP) {
  const phone = viewport === PHONE
  const ctx = await browser.newContext({ viewport, locale: 'zh-CN', acceptDownloads: true, ...(phone ? { isMobile: true, hasTouch: true } : {}) })
  const page = await ctx.newPage()
  page.setDefaultTimeout(WAIT)
  const errors = []
  page.on('pageerror', (e) => errors.push(e.message))
  await page.goto(BASE + '/login', { timeout: WAIT })
  await page.getByTestId('login-email').fill(email)
  await page.getByTestId('login-password').fill('demo1234')
  await page.getByTestId('login-submit').click()
  await page.waitForURL(/\/inbox/, { timeout: WAIT })
  return { ctx, page, errors }
}

/** The KPI table's row of an agent (or team), by the name it shows. */
function row(page, name) {
  return page.getByTestId('kpi-table').locator('tbody tr', { hasText: name })
}

async function cell(page, name, figure) {
  return (await row(page, name).getByTestId(`kpi-${figure}`).textContent()).trim()
}

/** What a person reads has no internal key, every control has a label. */
async function readable(page, what) {
  const text = await page.evaluate(() => {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT)
    let out = ''
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement
      if (!el || el.closest('input, select, textarea, code')) continue
      const style = getComputedStyle(el)
      if (style.display !== 'none' && style.visibility !== 'hidden') out += n.textContent + ' '
    }
    return out
  })
  const keys = [...new Set(text.match(/\b[a-z]+(?:_[a-z]+)+\b/g) || [])]
  assert.deepEqual(keys, [], `${what}: internal keys shown: ${keys.join(', ')}`)
  const bare = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => el.getBoundingClientRect().width && !(el.labels?.length || el.getAttribute('aria-label') || el.title))
      .map((el) => el.getAttribute('data-testid') || el.outerHTML.slice(0, 80)),
  )
  assert.deepEqual(bare, [], `${what}: controls without a label`)
}

test('the owner reads the agents’ KPIs, their formulas, the trend and the CSV', { timeout: 180_000 }, async () => {
  const { ctx, page, errors } = await login('wang.dian@demo.kefu')
  await page.getByTestId('nav-reports').click()
  await page.waitForURL(/\/reports$/)
  await page.getByTestId('tab-kpi').click()
  await page.waitForURL(/\/reports\/kpi/)
  await page.getByTestId('kpi-table').waitFor()
  await page.waitForFunction(() => !document.querySelector('[data-testid="loading-state"]'))

  // The demo's chats are counted: 李娜 served shoppers and closed a sale; 张伟's reminder worked.
  assert.ok(Number(await cell(page, '李娜', 'served')) >= 3, '李娜 served the demo shoppers')
  assert.ok(Number(await cell(page, '张伟', 'served')) >= 2, '张伟 served the demo shoppers')
  assert.match(await cell(page, '李娜', 'sales_cents'), /^¥[1-9]/, '李娜 has sales')
  assert.match(await cell(page, '李娜', 'consult_conversion_rate'), /^[1-9]\d*\.\d%$/, '李娜 converted consultations')
  assert.match(await cell(page, '张伟', 'reminder_success_rate'), /%$/, '张伟 has a reminder outcome')
  assert.match(await cell(page, '李娜', 'avg_response_ms'), /秒/)
  // Silent orders are the shop's only.
  assert.equal(await cell(page, '李娜', 'silent_orders'), '—')
  await page.getByTestId('kpi-totals').waitFor()
  assert.match(await page.getByTestId('kpi-card-sales_cents').textContent(), /¥[1-9]/)
  assert.match(await page.getByTestId('kpi-rules').textContent(), /归因窗口 3 天/)
  await readable(page, 'kpi page')
  await shot(page, 'k01-kpi-agents')

  // The formula of 询单转化率, with the shop's window filled in.
  await page.getByTestId('kpi-col-consult_conversion_rate').getByTestId('kpi-tip').hover()
  const bubble = page.getByTestId('kpi-tip-body')
  await bubble.waitFor()
  const formula = await bubble.textContent()
  assert.match(formula, /询单转化率 = /)
  assert.match(formula, /3 天/)
  assert.match(formula, /÷ 询单人数/)
  await shot(page, 'k02-kpi-formula-tooltip')
  await page.mouse.move(5, 5)
  await bubble.waitFor({ state: 'detached' })

  // One agent's days.
  await pick(page.getByTestId('kpi-trend-of'), { label: '李娜' })
  await page.getByTestId('kpi-trend-chart').locator('canvas').waitFor()
  await page.getByTestId('kpi-trend').scrollIntoViewIfNeeded()
  await shot(page, 'k03-kpi-trend')

  // By team: 售前 has the pre-sale agents' shoppers.
  await pick(page.getByTestId('kpi-group'), 'team')
  await page.waitForFunction(() => document.querySelector('[data-testid="kpi-name-header"]')?.textContent?.trim() === '团队')
  await row(page, '售前').waitFor()
  assert.ok(Number(await cell(page, '售前', 'served')) >= 5)
  await readable(page, 'kpi by team')
  await shot(page, 'k04-kpi-teams')

  // The CSV: a BOM so Excel reads Chinese, the headers in Chinese.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('kpi-export').click()])
  const csv = readFileSync(await download.path(), 'utf8')
  assert.ok(csv.startsWith('\uFEFF'), 'the CSV starts with a BOM')
  assert.match(csv, /团队,接待人数,询单人数/)
  assert.match(csv, /售前,/)
  assert.match(csv, /全店合计,/)

  // The owner changes the window; the rules line and the tooltips follow; then back to 3 days.
  await pick(page.getByTestId('kpi-group'), 'agent')
  await page.waitForFunction(() => document.querySelector('[data-testid="kpi-name-header"]')?.textContent?.trim() === '客服')
  await row(page, '李娜').waitFor()
  for (const days of ['7', '3']) {
    await page.getByTestId('kpi-edit-rules').click()
    await page.getByTestId('kpi-window-days').fill(days)
    await page.getByTestId('kpi-save-rules').click()
    await page.waitForFunction((d) => document.querySelector('[data-testid="kpi-rules"]')?.textContent?.includes(`归因窗口 ${d} 天`), days)
    if (days === '7') await shot(page, 'k05-kpi-rules-saved')
  }
  // A bad value is refused in words, naming the field.
  await page.getByTestId('kpi-edit-rules').click()
  await page.getByTestId('kpi-window-days').fill('0')
  await page.getByTestId('kpi-save-rules').click()
  const error = page.getByTestId('kpi-error')
  await error.waitFor()
  assert.equal((await error.textContent()).trim(), '归因窗口（天）：须在 1 到 30 之间')
  assert.deepEqual(errors, [])
  await ctx.close()
})

test('an agent sees their own KPIs only', { timeout: 120_000 }, async () => {
  const { ctx, page, errors } = await login('li.na@demo.kefu')
  await page.getByTestId('nav-reports').click()
  await page.waitForURL(/\/reports\/kpi/)
  await page.getByTestId('kpi-table').waitFor()
  await page.getByTestId('kpi-own-only').waitFor()
  assert.equal(await page.getByTestId('kpi-table').locator('tbody tr').count(), 1)
  assert.ok(Number(await cell(page, '李娜', 'served')) >= 3)
  assert.equal(await page.getByTestId('kpi-group').count(), 0, 'no grouping for agents')
  assert.equal(await page.getByTestId('kpi-totals').count(), 0, 'no shop totals for agents')
  assert.equal(await page.getByTestId('tab-complaints').count(), 0, 'no complaints report for agents')
  assert.equal(await page.getByTestId('kpi-edit-rules').count(), 0, 'agents do not change the rules')
  await page.getByTestId('kpi-trend-chart').locator('canvas').waitFor()
  await readable(page, 'agent kpi page')
  await shot(page, 'k06-kpi-agent-own')
  assert.deepEqual(errors, [])
  await ctx.close()
})

test('the KPI page fits a phone', { timeout: 120_000 }, async () => {
  const { ctx, page, errors } = await login('zhou.jun@demo.kefu', PHONE)
  await page.goto(BASE + '/reports/kpi', { timeout: WAIT })
  await page.getByTestId('kpi-table').waitFor()
  await page.waitForFunction(() => !document.querySelector('[data-testid="loading-state"]'))
  await page.getByTestId('kpi-card-served').waitFor()
  const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  assert.ok(wide <= 1, `the page is ${wide}px wider than the phone`)
  // A tap shows a formula too.
  await page.getByTestId('kpi-card-served').getByTestId('kpi-tip').tap()
  assert.match(await page.getByTestId('kpi-tip-body').textContent(), /接待人数 = /)
  await shot(page, 'k07-kpi-phone')
  await readable(page, 'kpi page on a phone')
  assert.deepEqual(errors, [])
  await ctx.close()
})
