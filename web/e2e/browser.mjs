// The browser every e2e test drives: Debian's Chromium through playwright-core, with each new
// context in the time zone of KEFU_E2E_TZ (default Asia/Shanghai, the demo shop's zone).
// scripts/test runs the suite with the browser in UTC as well, so a page that reads the browser's
// clock instead of the shop's zone (today's tickets missing before 08:00 in Beijing) fails.
import { chromium } from 'playwright-core'

export const TIME_ZONE = process.env.KEFU_E2E_TZ || 'Asia/Shanghai'

export async function launchBrowser() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  })
  const newContext = browser.newContext.bind(browser)
  browser.newContext = async (options = {}) => {
    const context = await newContext({ timezoneId: TIME_ZONE, ...options })
    context.on('page', watchPolicy)
    return context
  }
  return browser
}

// The console and demo pages run under a strict Content-Security-Policy (no inline script):
// anything the policy blocks fails the test file, so a page that needs a blocked script, style or
// connection is caught here rather than by a shop.
const policyViolations = []
function watchPolicy(page) {
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) policyViolations.push(`${page.url()}: ${message.text()}`)
  })
}
process.on('exit', () => {
  if (policyViolations.length) {
    console.error(`Content-Security-Policy violations:\n${policyViolations.join('\n')}`)
    process.exitCode = 1
  }
})

/**
 * Picks an option of the console's own select (src/components/ui/KSelect.vue, the element with
 * the test id): opens it with a click, as a person does, and clicks the option with this value,
 * or the one reading `{ label }`.
 */
export async function pick(select, choice) {
  await select.locator('.kselect-trigger').click()
  const list = select.locator('[role="listbox"]')
  await list.waitFor()
  const option =
    typeof choice === 'object'
      ? list.getByRole('option', { name: choice.label, exact: true })
      : list.locator(`[role="option"][data-value="${String(choice).replace(/"/g, '\\"')}"]`)
  await option.first().click()
  await list.waitFor({ state: 'detached' })
}

/** The label an own select shows. */
export async function picked(select) {
  return (await select.locator('.kselect-value').textContent()).trim()
}
