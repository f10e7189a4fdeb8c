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
