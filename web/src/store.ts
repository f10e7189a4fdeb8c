import { reactive } from 'vue'
import { api, getToken, setToken } from './api'
import { shopTimeZone } from './zone'
import type { Conversation, ConvStatus, Message, Shop, UiMessage, User } from './types'
import type { AgentFrame } from './types/frames.gen'

// ---------------------------------------------------------------- session
export const session = reactive({
  user: null as User | null,
  shop: null as Shop | null,
  /** false while the live connection is down (after it was up once). */
  connected: true,
})

export async function loadSession(): Promise<boolean> {
  if (!getToken()) return false
  try {
    const me = await api.me()
    const firstLoad = session.user?.id !== me.user.id
    session.user = me.user
    session.shop = me.shop
    shopTimeZone.value = me.shop.time_zone || 'Asia/Shanghai'
    // Admins and supervisors watch the whole shop; agents start with their own queue.
    if (firstLoad) inbox.assignee = me.user.role === 'agent' ? 'me' : 'all'
    // On a temporary password the server opens nothing but the password change (the router
    // shows that page); the live connection starts once the password is the member's own.
    if (!me.user.must_change_password) live.start()
    return true
  } catch {
    return false
  }
}

export function clearSession() {
  live.stop()
  setToken(null)
  session.user = null
  session.shop = null
  inbox.list = []
  inbox.activeId = null
  threads.clear()
}

/** Called when the server ends this session (logged out elsewhere, password changed or reset,
 * account deactivated) with the reason; main.ts signs out and says why. */
let sessionEndedHandler: ((reason: string) => void) | null = null
export function onSessionEnded(fn: (reason: string) => void) {
  sessionEndedHandler = fn
}

// ---------------------------------------------------------------- threads (open conversation views)
export interface Thread {
  id: number
  conv: Conversation | null
  messages: UiMessage[]
  /** highest server seq seen */
  lastSeq: number
  typingUntil: number
  typingName: string
  loaded: boolean
  error: string
}

export const threads = reactive(new Map<number, Thread>())

export function getThread(id: number): Thread {
  let th = threads.get(id)
  if (!th) {
    threads.set(id, {
      id,
      conv: inbox.list.find((c) => c.id === id) ?? null,
      messages: [],
      lastSeq: 0,
      typingUntil: 0,
      typingName: '',
      loaded: false,
      error: '',
    })
    th = threads.get(id)!
  }
  return th
}

/** Merge server messages into a thread by seq: no duplicates, pending ones replaced by their echo. */
export function mergeMessages(th: Thread, msgs: Message[]) {
  for (const m of msgs) {
    if (m.client_msg_id) {
      const pendingIdx = th.messages.findIndex((x) => x.state !== 'sent' && x.client_msg_id === m.client_msg_id)
      if (pendingIdx >= 0) th.messages.splice(pendingIdx, 1)
    }
    if (m.seq > th.lastSeq) th.lastSeq = m.seq
    if (th.messages.some((x) => x.state === 'sent' && x.seq === m.seq)) continue
    const ui: UiMessage = { ...m, state: 'sent' }
    // insert sorted among sent messages; pending/failed ones always stay at the end
    let i = th.messages.findIndex((x) => x.state !== 'sent' || x.seq > m.seq)
    if (i < 0) i = th.messages.length
    th.messages.splice(i, 0, ui)
  }
}

export async function loadThread(id: number) {
  const th = getThread(id)
  th.error = ''
  try {
    const [{ conversation }, { messages }] = await Promise.all([api.conversation(id), api.messages(id, th.loaded ? th.lastSeq : 0)])
    th.conv = conversation
    upsertConversation(conversation)
    mergeMessages(th, messages)
    th.loaded = true
  } catch (e: any) {
    th.error = e?.code || 'unknown'
    th.loaded = true
  }
}

/** Catch every cached view up after a reconnect: fetch messages after the last seen seq. */
async function catchUp() {
  await refreshInbox()
  for (const th of threads.values()) {
    if (!th.loaded) continue
    try {
      const { messages } = await api.messages(th.id, th.lastSeq)
      mergeMessages(th, messages)
      const { conversation } = await api.conversation(th.id)
      th.conv = conversation
    } catch {
      /* retried on next reconnect */
    }
  }
}

// ---------------------------------------------------------------- inbox
const SORT_KEY = 'kefu_inbox_sort'
export const inbox = reactive({
  status: 'open' as ConvStatus,
  assignee: 'me' as 'me' | 'unassigned' | 'all',
  /** Only conversations with this tag ('' = any; tools area). */
  tag: '',
  /** Only conversations of customers in a segment: '' = any, `tier:key`, `group:demanding` … */
  segment: '',
  /** `recent`: latest activity first; `waiting`: the longest-waiting shopper first (inbox area);
   *  each agent's last choice on this browser. */
  sort: (localStorage.getItem(SORT_KEY) === 'waiting' ? 'waiting' : 'recent') as 'recent' | 'waiting',
  list: [] as Conversation[],
  loading: false,
  activeId: null as number | null,
})

function activity(c: Conversation): number {
  return Date.parse(c.last_message_at || c.created_at) || 0
}

/** Orders the list: `recent` or `waiting` (remembered for the next visit). */
export function setInboxSort(sort: 'recent' | 'waiting') {
  inbox.sort = sort
  localStorage.setItem(SORT_KEY, sort)
  void refreshInbox()
}

/** When the shopper started waiting (ms), or null when nothing waits. */
export function waitingSince(c: Conversation): number | null {
  return c.waiting_since ? Date.parse(c.waiting_since) || null : null
}

function sortInbox() {
  if (inbox.sort === 'waiting') {
    // As the server orders it: waiting ones oldest first, then the rest by activity.
    inbox.list.sort((a, b) => {
      const wa = waitingSince(a)
      const wb = waitingSince(b)
      if (wa != null && wb != null) return wa - wb || a.id - b.id
      if (wa != null || wb != null) return wa != null ? -1 : 1
      return activity(b) - activity(a) || b.id - a.id
    })
  } else inbox.list.sort((a, b) => activity(b) - activity(a) || b.id - a.id)
}

function matchesFilter(c: Conversation): boolean {
  if (c.status !== inbox.status) return false
  if (inbox.tag && !(c.tags ?? []).includes(inbox.tag)) return false
  // Segments are not on the conversation: with a segment filter, only the listed ones stay (a
  // refresh brings new ones in).
  if (inbox.segment && !inbox.list.some((x) => x.id === c.id)) return false
  const me = session.user
  if (!me) return false
  const mineOrFree = c.assignee_id === me.id || c.assignee_id == null
  if (inbox.assignee === 'me') return c.assignee_id === me.id
  if (inbox.assignee === 'unassigned') return c.assignee_id == null
  return me.role === 'agent' ? mineOrFree : true
}

let inboxReq = 0
export async function refreshInbox() {
  const n = ++inboxReq
  inbox.loading = true
  try {
    const { conversations } = await api.conversations(inbox.status, inbox.assignee, inbox.tag, inbox.segment, inbox.sort)
    if (n !== inboxReq) return
    inbox.list = conversations
    for (const c of conversations) {
      const th = threads.get(c.id)
      if (th) th.conv = c
      if (c.id === inbox.activeId) c.unread_count = 0
    }
    sortInbox()
  } finally {
    if (n === inboxReq) inbox.loading = false
  }
}

export function upsertConversation(c: Conversation) {
  const th = threads.get(c.id)
  if (th) {
    const readSeq = Math.max(th.conv?.customer_read_seq ?? 0, c.customer_read_seq ?? 0)
    th.conv = { ...c, customer_read_seq: readSeq }
  }
  const idx = inbox.list.findIndex((x) => x.id === c.id)
  const row = c.id === inbox.activeId ? { ...c, unread_count: 0 } : c
  if (matchesFilter(c)) {
    if (idx >= 0) inbox.list[idx] = row
    else inbox.list.push(row)
    sortInbox()
  } else if (idx >= 0) {
    inbox.list.splice(idx, 1)
  }
}

// ---------------------------------------------------------------- live connection
/** A live frame as the server defines it (generated from the Rust frames: types/frames.gen.ts). */
type Listener = (ev: AgentFrame) => void

class Live {
  private ws: WebSocket | null = null
  private stopped = true
  private attempt = 0
  private timer: number | undefined
  private everOpened = false
  private listeners = new Set<Listener>()

  start() {
    if (!this.stopped) return
    this.stopped = false
    this.everOpened = false
    this.connect()
  }

  stop() {
    this.stopped = true
    clearTimeout(this.timer)
    const ws = this.ws
    this.ws = null
    if (ws) ws.close()
    session.connected = true
  }

  on(fn: Listener) {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  send(obj: unknown): boolean {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(obj))
      return true
    }
    return false
  }

  private connect() {
    const token = getToken()
    if (!token || this.stopped) return
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/ws?token=${encodeURIComponent(token)}`)
    this.ws = ws
    ws.onopen = () => {
      if (this.ws !== ws) return
      const reconnect = this.everOpened
      this.everOpened = true
      this.attempt = 0
      session.connected = true
      if (reconnect) void catchUp()
    }
    ws.onmessage = (e) => {
      let ev: AgentFrame
      try {
        ev = JSON.parse(String(e.data)) as AgentFrame
      } catch {
        return
      }
      handleEvent(ev)
      for (const fn of this.listeners) fn(ev)
    }
    ws.onclose = () => {
      if (this.ws !== ws) return
      this.ws = null
      if (this.stopped) return
      session.connected = false
      const delay = Math.min(15000, 500 * 2 ** this.attempt) * (0.75 + Math.random() * 0.5)
      this.attempt++
      this.timer = window.setTimeout(() => this.connect(), delay)
    }
  }
}

export const live = new Live()

// Presence: input in the console is activity. The server turns an agent away after the shop's
// idle minutes and back to their choice on the next activity; one frame per 20 s is plenty
// (every 2 s while the server has them away for idleness, so coming back is quick).
let lastActivitySent = 0
function reportActivity() {
  if (!session.user) return
  const autoAway = session.user.status === 'away' && session.user.status_cause === 'auto_idle'
  const now = Date.now()
  if (now - lastActivitySent < (autoAway ? 2000 : 20000)) return
  if (live.send({ type: 'activity' })) lastActivitySent = now
}
if (typeof window !== 'undefined') {
  for (const name of ['pointerdown', 'keydown', 'mousemove', 'wheel', 'touchstart', 'focus']) {
    window.addEventListener(name, reportActivity, { passive: true, capture: true })
  }
}

function handleEvent(ev: AgentFrame) {
  switch (ev.type) {
    case 'conversation.created':
    case 'conversation.updated':
      if (ev.conversation) upsertConversation(ev.conversation)
      break
    case 'message.created': {
      const m: Message = ev.message
      const convId: number = ev.conversation_id ?? m.conversation_id
      const th = threads.get(convId)
      if (th) {
        mergeMessages(th, [m])
        if (m.sender_type === 'customer') th.typingUntil = 0
        if (th.conv && m.seq > (th.conv.last_seq ?? 0)) th.conv.last_seq = m.seq
      }
      const row = inbox.list.find((c) => c.id === convId)
      if (row) {
        row.last_message_at = m.created_at
        if (!m.private) row.last_message_preview = m.body.slice(0, 120)
        // What waits, as the server keeps it: a shopper's message is the row's preview and starts
        // a wait unless one runs; an agent's public message ends it.
        if (m.sender_type === 'customer') {
          row.last_customer_message_preview = (m.body.split('\n')[0] ?? '').slice(0, 80)
          if (!row.waiting_since) row.waiting_since = m.created_at
        } else if (m.sender_type === 'agent' && !m.private) row.waiting_since = null
        row.last_seq = Math.max(row.last_seq ?? 0, m.seq)
        if (convId !== inbox.activeId && m.sender_type === 'customer') row.unread_count = (row.unread_count || 0) + 1
        sortInbox()
      } else {
        // a conversation we do not list yet (e.g. filter just changed): fetch it and list it if it matches
        api.conversation(convId).then(({ conversation }) => upsertConversation(conversation), () => {})
      }
      break
    }
    case 'typing': {
      const th = threads.get(ev.conversation_id)
      if (th && ev.sender_type === 'customer') {
        th.typingUntil = Date.now() + 5000
        th.typingName = ev.sender_name || ''
      }
      break
    }
    case 'agent.status':
      if (session.user && ev.agent_id === session.user.id && ev.status) {
        session.user.status = ev.status
        session.user.status_cause = ev.cause ?? null
        session.user.status_note = ev.note ?? null
      }
      break
    case 'session.ended':
      sessionEndedHandler?.(ev.reason)
      break
    case 'member.updated':
      // An admin changed this member (role, name, teams): the console follows at once.
      if (session.user && ev.member_id === session.user.id) void loadSession()
      break
    case 'read': {
      if (ev.reader_type !== 'customer') break
      const th = threads.get(ev.conversation_id)
      if (th?.conv) th.conv.customer_read_seq = Math.max(th.conv.customer_read_seq ?? 0, ev.seq)
      break
    }
  }
}
