// End-to-end (presence and requeue): two agents of a team; a shopper's chat goes to agent A while
// only A has the console open; B opens theirs, and A's console closes without a word (the tab is
// gone). After the shop's seconds A is offline, shown live (a grey dot and 离线) in B's transfer
// picker and on the members page, and after the grace period the waiting chat moves to B: B sees
// it in the inbox, the shopper's widget says it is being handed on. B then sets 忙碌 with a note
// and the header shows it; the widget's header stays live (在线 → 暂无客服在线 when the last
// agent leaves). The settings card (设置 → 在线状态) is looked at too.
// The demo shop stays usable for the files after this one: the shop's presence settings are put
// back, the two agents end offline with the demo password (team.test signs in every member with
// it) and every demo agent's status is put back, even when a step failed.
// Run from web/: KEFU_URL=http://127.0.0.1:18080 node --test e2e/presence.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { launchBrowser, pick } from './browser.mjs'

const BASE = (process.env.KEFU_URL || 'http://127.0.0.1:18080').replace(/\/$/, '')
const SHOTS = fileURLToPath(new URL('../screenshots/', import.meta.url))
const WAIT = 30_000
const DESKTOP = { width: 1440, height: 900 }
const PHONE = { width: 390, height: 844 }
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

async function api(method, path, token, body) {
  const res = await fetch(BASE + path, {
    method,
    headers: { Accept: 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  const data = res.status === 204 ? null : await res.json()
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(data)}`)
  return data
}
const login = async (email, password = 'demo1234') => (await api('POST', '/api/v1/auth/login', null, { email, password })).token

async function context(viewport) {
  const phone = viewport === PHONE
  const ctx = await browser.newContext({ viewport, locale: 'zh-CN', ...(phone ? { isMobile: true, hasTouch: true } : {}) })
  const page = await ctx.newPage()
  page.setDefaultTimeout(WAIT)
  const errors = []
  page.on('pageerror', (e) => errors.push(e.message))
  return { ctx, page, errors }
}

async function signIn(page, email, password) {
  await page.goto(BASE + '/login', { timeout: WAIT })
  await page.getByTestId('login-email').fill(email)
  await page.getByTestId('login-password').fill(password)
  await page.getByTestId('login-submit').click()
  await page.waitForURL(/\/inbox/)
}

/** A new agent of `teamIds` with the demo password chosen (team.test signs in every member with it). */
async function newAgent(admin, name, email, teamIds, cap) {
  const created = await api('POST', '/api/v1/members', admin, { name, email, role: 'agent', team_ids: teamIds, max_concurrent: cap })
  const temporary = created.temporary_password
  const first = await login(email, temporary)
  const password = 'demo1234'
  await api('PUT', '/api/v1/me/password', first, { current_password: temporary, new_password: password })
  return { id: created.member.id, email, password }
}

test('an agent who leaves hands their waiting chat to a teammate, and the shopper is told', { timeout: 300_000 }, async () => {
  const stamp = Date.now().toString(36)
  const question = `请问这款耳机支持降噪吗？#${stamp}`
  const admin = await login('wang.dian@demo.kefu')
  const settingsBefore = await api('GET', '/api/v1/settings/presence', admin)
  const others = (await api('GET', '/api/v1/agents', admin)).agents.filter((a) => a.active)
  const tokens = {}
  const made = []
  const contexts = []
  try {
    // Short times so the test is quick; nobody else takes chats (a sign-in sets them online).
    await api('PUT', '/api/v1/settings/presence', admin, { away_after_seconds: 600, offline_after_seconds: 2, requeue_grace_seconds: 3, requeue_target: 'teammate' })
    for (const a of others) {
      tokens[a.id] = await login(a.email)
      await api('PUT', '/api/v1/me/status', tokens[a.id], { status: 'offline' })
    }
    const teams = (await api('GET', '/api/v1/teams', admin)).teams
    const main = teams.find((t) => t.is_default)
    const team = await api('POST', '/api/v1/teams', admin, { name: `早班${stamp.slice(-4)}` })
    const teamId = team.team?.id ?? team.id
    // Room for every chat already waiting in the default team (or handed on meanwhile), and ours.
    const cap = 100
    const a = await newAgent(admin, `小安${stamp.slice(-3)}`, `pa-${stamp}@demo.kefu`, [teamId, main.id], cap)
    made.push(a)
    const b = await newAgent(admin, `小贝${stamp.slice(-3)}`, `pb-${stamp}@demo.kefu`, [teamId, main.id], cap)
    made.push(b)

    // ---- A signs in: online at once (the console sets them so), and the shopper's chat arrives
    const A = await context(DESKTOP)
    contexts.push(A.ctx)
    await signIn(A.page, a.email, a.password)
    await A.page.locator('.status-select.st-online').waitFor()
    await A.page.getByTestId('filter-me').click()
    const S = await context(PHONE)
    contexts.push(S.ctx)
    const shopper = S.page
    await shopper.goto(BASE + '/demo/shop')
    await shopper.getByTestId('kefu-launcher').click()
    await shopper.getByTestId('kefu-input').fill(question)
    await shopper.getByTestId('kefu-input').press('Enter')
    await shopper.locator('[data-testid="kefu-message"][data-sender-type="customer"][data-state="sent"]', { hasText: question }).waitFor()
    const rowA = A.page.getByTestId('conversation-row').filter({ hasText: question })
    await rowA.waitFor()
    const conversationId = Number(await rowA.getAttribute('data-conversation-id'))
    assert.equal((await api('GET', `/api/v1/conversations/${conversationId}`, admin)).conversation.assignee_id, a.id)
    // The widget's header says someone is there.
    await shopper.locator('[data-testid="kefu-presence"][data-state="on"]').waitFor()
    await shot(A.page, 'p01-agent-a-has-the-chat')

    // ---- the owner watches: A is online in the transfer picker of the chat
    const O = await context(DESKTOP)
    contexts.push(O.ctx)
    await signIn(O.page, 'wang.dian@demo.kefu', 'demo1234')
    await O.page.getByTestId('filter-all').click()
    const rowO = O.page.getByTestId('conversation-row').filter({ hasText: question })
    await rowO.waitFor()
    await rowO.click()
    await O.page.getByTestId('assign-open').click()
    const pickA = O.page.locator(`[data-testid="assign-agent"][data-agent-id="${a.id}"]`)
    await pickA.locator('[data-testid="presence"][data-status="online"]').waitFor()
    assert.match(await pickA.innerText(), /在线/)
    await shot(O.page, 'p02-transfer-picker-a-online')

    // ---- B signs in (online, room for chats)
    const B = await context(DESKTOP)
    contexts.push(B.ctx)
    await signIn(B.page, b.email, b.password)
    await B.page.locator('.status-select.st-online').waitFor()
    await B.page.getByTestId('filter-me').click()

    // ---- A's console is gone (the tab closed): offline after 2 s, live in the owner's picker
    await A.ctx.close()
    contexts.splice(contexts.indexOf(A.ctx), 1)
    await pickA.locator('[data-testid="presence"][data-status="offline"]').waitFor()
    assert.match(await pickA.innerText(), /离线/)
    await shot(O.page, 'p03-transfer-picker-a-offline')

    // ---- after the grace the chat is B's; the shopper is told
    await B.page.getByTestId('conversation-row').filter({ hasText: question }).waitFor()
    const conv = (await api('GET', `/api/v1/conversations/${conversationId}`, admin)).conversation
    assert.equal(conv.assignee_id, b.id, 'handed to the teammate')
    await shot(B.page, 'p04-teammate-has-the-chat')
    const notice = shopper.locator('[data-testid="kefu-message"][data-sender-type="system"]', { hasText: '正在为您转接其他客服' })
    await notice.waitFor()
    await shot(shopper, 'p05-shopper-told')
    // The move is in the conversation's history for the KPIs: from A to the queue, then to B.
    const events = (await api('GET', `/api/v1/conversations/${conversationId}/events`, admin)).events
    assert.ok(events.some((e) => e.kind === 'transferred' && e.previous_agent_id === a.id && e.agent_id === null), JSON.stringify(events))
    // A's presence log: online at sign-in, offline when the console went.
    const log = (await api('GET', `/api/v1/agents/${a.id}/events`, admin)).events.map((e) => `${e.value}:${e.detail}`)
    assert.ok(log.includes('online:login') && log.includes('offline:socket_gone'), log.join(' '))

    // The owner steps away from chats (a choice: it stays while their console is open).
    await pick(O.page.getByTestId('status-select'), 'offline')
    await O.page.locator('.status-select.st-offline').waitFor()

    // ---- B answers, then is busy with a note: the header says so, routing gives them nothing new
    await B.page.getByTestId('conversation-row').filter({ hasText: question }).click()
    await B.page.getByTestId('composer').fill('您好，我来接着为您服务～')
    await B.page.getByTestId('composer').press('Enter')
    await shopper.locator('[data-testid="kefu-message"][data-sender-type="agent"]', { hasText: '接着为您服务' }).waitFor()
    await pick(B.page.getByTestId('status-select'), 'busy')
    await B.page.getByTestId('status-pop').waitFor()
    await B.page.getByTestId('status-note-input').fill('整理工单')
    await shot(B.page, 'p06-busy-with-a-note')
    await B.page.getByTestId('status-note-save').click()
    await B.page.locator('.status-select.st-busy').waitFor()
    assert.equal((await B.page.getByTestId('status-note').innerText()).trim(), '整理工单')
    // Nobody takes new chats now: the widget's header follows at once.
    await shopper.locator('[data-testid="kefu-presence"][data-state="off"]').waitFor()
    await shot(shopper, 'p07-widget-nobody-online')
    await pick(B.page.getByTestId('status-select'), 'online')
    await shopper.locator('[data-testid="kefu-presence"][data-state="on"]').waitFor()

    // ---- the members page shows presence with its labels; the settings card
    await O.page.goto(BASE + '/members')
    const memberA = O.page.locator(`[data-testid="member-row"][data-member-id="${a.id}"]`)
    await memberA.locator('[data-testid="presence"][data-status="offline"]').waitFor()
    const memberB = O.page.locator(`[data-testid="member-row"][data-member-id="${b.id}"]`)
    await memberB.locator('[data-testid="presence"][data-status="online"]').waitFor()
    await pick(B.page.getByTestId('status-select'), 'away')
    await B.page.getByTestId('status-note-input').fill('午休')
    await B.page.getByTestId('status-note-save').click()
    await memberB.locator('[data-testid="presence"][data-status="away"]', { hasText: '离开 · 午休' }).waitFor()
    await shot(O.page, 'p08-members-presence')
    await O.page.goto(BASE + '/settings?section=presence')
    const card = O.page.getByTestId('presence-settings')
    await card.scrollIntoViewIfNeeded()
    await O.page.getByTestId('presence-grace').waitFor()
    assert.equal(await O.page.getByTestId('presence-grace').inputValue(), '3')
    await O.page.getByTestId('presence-offline').fill('0')
    await O.page.getByTestId('presence-save').click()
    assert.match(await O.page.getByTestId('presence-error').innerText(), /离线|1/)
    await shot(O.page, 'p09-presence-settings-refused')
    await O.page.getByTestId('presence-offline').fill('60')
    await O.page.getByTestId('presence-away').fill(String(settingsBefore.away_after_seconds / 60))
    await O.page.getByTestId('presence-grace').fill(String(settingsBefore.requeue_grace_seconds))
    await O.page.getByTestId('presence-save').click()
    await O.page.getByTestId('presence-saved').waitFor()
    await shot(O.page, 'p10-presence-settings')
    for (const p of [A, B, S, O]) assert.deepEqual(p.errors, [], 'no page errors')
  } finally {
    for (const c of contexts) await c.close().catch(() => {})
    await api('PUT', '/api/v1/settings/presence', admin, settingsBefore).catch(() => {})
    // The two agents stay, offline, with the demo password (like the owner's first day's agent).
    for (const m of made) {
      const token = await login(m.email, m.password).catch(() => null)
      if (token) await api('PUT', '/api/v1/me/status', token, { status: 'offline' }).catch(() => {})
    }
    for (const a of others) if (tokens[a.id]) await api('PUT', '/api/v1/me/status', tokens[a.id], { status: a.status }).catch(() => {})
  }
})
