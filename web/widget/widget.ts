/*
 * kefu embeddable chat widget. Framework-free; renders inside an open Shadow DOM so shop CSS cannot
 * leak in. Embed with:  <script src="https://HOST/widget.js" data-shop="SHOP"></script>
 * All user-provided text is rendered with textContent only.
 */
import { CSS } from './style'
import { TICKETS_CSS, mountTickets } from './tickets'
import type { ShopperFrame } from '../src/types/frames.gen'
import { describeError } from '../src/errorText.js'

/** Accepted by the server (it checks the real content again). */
const ACCEPT = '.jpg,.jpeg,.jfif,.png,.gif,.webp,.pdf,.txt,.csv,.log,.md,.zip,.docx,.xlsx,.pptx,.mp4,.m4v'

interface Msg {
  id: number
  conversation_id: number
  seq: number
  sender_type: 'customer' | 'agent' | 'bot' | 'system'
  sender_name: string | null
  body: string
  client_msg_id: string | null
  created_at: string
  private?: boolean
  state: 'pending' | 'sent' | 'failed'
  local?: boolean
  /** `text`, or a product/order card whose snapshot is `payload`. */
  kind?: string
  payload?: Record<string, unknown> | null
  /** A local attachment being uploaded (kept for a retry). */
  file?: File
  /** Why a local attachment was refused. */
  error?: string
}

interface Config {
  shop: { slug: string; name: string }
  greeting: string
  offline_message: string
  agents_online: boolean
  /** Within business hours now (absent on older servers: treated as open). */
  open_now?: boolean
  prechat?: { enabled: boolean; name: PrechatField; phone: PrechatField; email: PrechatField }
  /** The shop's look (absent on older servers: the defaults). */
  widget?: { color: string; position: 'right' | 'left'; greeting: string }
}

/** What the shop page says the shopper is looking at: `kefu.open({sku, order_no})`. */
interface PageContext {
  sku?: string
  order_no?: string
}

type PrechatField = 'off' | 'optional' | 'required'

const TEXT = {
  zh: {
    title: '在线客服',
    placeholder: '输入消息，Enter 发送',
    send: '发送',
    sending: '发送中',
    sent: '已送达',
    read: '已读',
    failed: '发送失败',
    retry: '重试',
    typing: '客服正在输入…',
    queue: '您前面还有 {n} 位顾客，请稍候',
    queueNext: '您是下一位，客服空闲后马上为您服务',
    offline: '当前没有客服在线，您可以先留言，我们会尽快回复。',
    closed: '现在是非工作时间，您可以先留言，客服上班后会尽快回复。',
    presenceOnline: '客服在线 · 通常几分钟内回复',
    presenceOffline: '客服暂时离线 · 可以先留言',
    presenceClosed: '非工作时间 · 上班后回复',
    newMessage: '新消息',
    reconnecting: '连接中断，正在重连…',
    open: '联系客服',
    close: '关闭',
    you: '我',
    agent: '客服',
    resolved: '本次会话已结束，发送消息可重新咨询',
    error: '出错了，请稍后再试',
    product: '商品',
    order: '订单',
    view: '查看',
    shipping: '物流',
    attach: '发送图片或文件',
    image: '图片',
    file: '文件',
    download: '下载',
    tooLarge: '文件太大：图片最大 10 MB，其他文件最大 20 MB',
    badType: '不支持的文件类型（图片：jpg、png、gif、webp；文件：pdf、txt、csv、zip、docx、xlsx、pptx、mp4）',
    uploadFailed: '上传失败',
    prechatIntro: '开始咨询前，请留下您的联系方式，方便客服及时回复您。',
    prechatName: '称呼',
    prechatPhone: '手机号',
    prechatEmail: '邮箱',
    prechatStart: '开始咨询',
    prechatRequired: '请填写{field}',
    states: { unpaid: '待付款', paid: '待发货', shipped: '已发货', delivered: '已签收', completed: '已完成', cancelled: '已取消', refunded: '已退款' },
  },
  en: {
    title: 'Chat with us',
    placeholder: 'Type a message, Enter to send',
    send: 'Send',
    sending: 'Sending',
    sent: 'Delivered',
    read: 'Read',
    failed: 'Not sent',
    retry: 'Retry',
    typing: 'Agent is typing…',
    queue: '{n} shopper(s) ahead of you, please wait',
    queueNext: 'You are next; an agent will be with you shortly',
    offline: 'No agent is online right now. Leave a message and we will get back to you.',
    closed: 'We are outside business hours. Leave a message and we will reply when we are back.',
    presenceOnline: 'Online · usually replies in minutes',
    presenceOffline: 'Offline · leave a message',
    presenceClosed: 'Outside business hours',
    newMessage: 'New message',
    reconnecting: 'Connection lost, reconnecting…',
    open: 'Chat',
    close: 'Close',
    you: 'Me',
    agent: 'Agent',
    resolved: 'This conversation has ended. Send a message to start again.',
    error: 'Something went wrong, please try again',
    product: 'Product',
    order: 'Order',
    view: 'View',
    shipping: 'Shipping',
    attach: 'Send an image or file',
    image: 'Image',
    file: 'File',
    download: 'Download',
    tooLarge: 'File too large: images up to 10 MB, other files up to 20 MB',
    badType: 'File type not accepted (images: jpg, png, gif, webp; files: pdf, txt, csv, zip, docx, xlsx, pptx, mp4)',
    uploadFailed: 'Upload failed',
    prechatIntro: 'Before we start, please leave your contact details so we can get back to you.',
    prechatName: 'Name',
    prechatPhone: 'Phone',
    prechatEmail: 'E-mail',
    prechatStart: 'Start chatting',
    prechatRequired: 'Please fill in {field}',
    states: { unpaid: 'Awaiting payment', paid: 'To ship', shipped: 'Shipped', delivered: 'Delivered', completed: 'Completed', cancelled: 'Cancelled', refunded: 'Refunded' },
  },
}

;(function () {
  const script =
    (document.currentScript as HTMLScriptElement | null) ||
    (document.querySelector('script[src*="widget.js"][data-shop]') as HTMLScriptElement | null)
  if (!script) return
  const w = window as unknown as { __kefuWidget?: boolean }
  if (w.__kefuWidget) return
  w.__kefuWidget = true

  const base = new URL(script.src, location.href).origin
  const shop = script.dataset.shop || 'demo'
  const lang: 'zh' | 'en' = (script.dataset.lang || '').toLowerCase().startsWith('en') ? 'en' : 'zh'
  const L = TEXT[lang]
  const TOKEN_KEY = `kefu_visitor_${shop}`

  // ---------------------------------------------------------------- state
  let token: string | null = null
  try {
    token = localStorage.getItem(TOKEN_KEY)
  } catch {
    /* storage disabled */
  }
  let config: Config | null = null
  let messages: Msg[] = []
  let lastSeq = 0
  let agentReadSeq = 0
  let queuePosition = 0
  let convStatus = ''
  let isOpen = false
  let unread = 0
  let readSent = 0
  let typingUntil = 0
  let typingTimer = 0
  let lastTypingSent = 0
  let connected = true
  let sessionPromise: Promise<void> | null = null

  // ---------------------------------------------------------------- dom helpers
  function h<K extends keyof HTMLElementTagNameMap>(
    tag: K,
    attrs: Record<string, string> = {},
    text?: string,
  ): HTMLElementTagNameMap[K] {
    const el = document.createElement(tag)
    for (const k in attrs) el.setAttribute(k, attrs[k])
    if (text != null) el.textContent = text
    return el
  }
  const uuid = (): string =>
    typeof crypto !== 'undefined' && crypto.randomUUID
      ? crypto.randomUUID()
      : 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
          const r = (Math.random() * 16) | 0
          return (c === 'x' ? r : (r & 3) | 8).toString(16)
        })
  const hhmm = (iso: string) => {
    const d = new Date(iso)
    return isNaN(d.getTime()) ? '' : `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`
  }

  // ---------------------------------------------------------------- shadow dom
  const host = h('div', { id: 'kefu-widget', 'data-testid': 'kefu-widget-host' })
  host.style.cssText = 'position:fixed;z-index:2147483000;right:0;bottom:0;width:0;height:0;'
  const root = host.attachShadow({ mode: 'open' })
  const style = h('style')
  style.textContent = CSS + TICKETS_CSS
  root.appendChild(style)

  // The invitation beside the closed button (the shop's `widget.greeting`), until the shopper
  // opens the chat or closes it (remembered for the visit).
  const TEASER_KEY = `kefu_teaser_closed_${shop}`
  const teaser = h('div', { class: 'teaser hidden', 'data-testid': 'kefu-teaser', role: 'button', tabindex: '0' })
  const teaserText = h('span', { 'data-testid': 'kefu-teaser-text' })
  const teaserClose = h('button', { class: 'teaser-close', type: 'button', 'aria-label': L.close, 'data-testid': 'kefu-teaser-close' }, '×')
  teaser.append(teaserText, teaserClose)

  const launcher = h('button', { class: 'launcher', 'data-testid': 'kefu-launcher', 'aria-label': L.open, type: 'button' })
  launcher.innerHTML =
    '<svg class="ic-chat" viewBox="0 0 24 24" width="26" height="26"><path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>' +
    '<svg class="ic-close" viewBox="0 0 24 24" width="22" height="22"><path stroke="currentColor" stroke-width="2.4" stroke-linecap="round" d="M6 6l12 12M18 6L6 18"/></svg>'
  const badge = h('span', { class: 'badge', 'data-testid': 'kefu-badge' })
  launcher.appendChild(badge)

  const panel = h('div', { class: 'panel', 'data-testid': 'kefu-panel', role: 'dialog' })
  const head = h('div', { class: 'head' })
  const headAvatar = h('div', { class: 'head-avatar' })
  const headText = h('div', { class: 'head-text' })
  const title = h('div', { class: 'title', 'data-testid': 'kefu-title' }, L.title)
  const subtitle = h('div', { class: 'subtitle', 'data-testid': 'kefu-presence' })
  headText.append(title, subtitle)
  const closeBtn = h('button', { class: 'close', type: 'button', 'aria-label': L.close, 'data-testid': 'kefu-close' }, '×')
  head.append(headAvatar, headText, closeBtn)

  const banner = h('div', { class: 'banner hidden', 'data-testid': 'kefu-conn' }, L.reconnecting)
  const queueBar = h('div', { class: 'queue hidden', 'data-testid': 'kefu-queue' })
  const list = h('div', { class: 'list', 'data-testid': 'kefu-messages', role: 'log', 'aria-label': L.title })
  // The list is redrawn whole on each change, so screen readers hear new messages from this
  // separate polite region instead (one line per message from the shop).
  const announcer = h('div', { class: 'sr-only', 'aria-live': 'polite', 'data-testid': 'kefu-announcer' })
  const typing = h('div', { class: 'typing hidden', 'data-testid': 'kefu-typing' }, L.typing)
  const form = h('form', { class: 'composer' })
  const input = h('textarea', { rows: '1', placeholder: L.placeholder, 'aria-label': L.placeholder, 'data-testid': 'kefu-input', maxlength: '4000' })
  const sendBtn = h('button', { type: 'submit', class: 'send', 'data-testid': 'kefu-send' }, L.send)
  const attachBtn = h('button', { type: 'button', class: 'attach', 'data-testid': 'kefu-attach', 'aria-label': L.attach, title: L.attach })
  attachBtn.innerHTML =
    '<svg viewBox="0 0 24 24" width="20" height="20"><path fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" d="M21 11.5l-8.6 8.6a5 5 0 0 1-7.1-7.1l8.6-8.6a3.3 3.3 0 0 1 4.7 4.7l-8.6 8.6a1.7 1.7 0 0 1-2.4-2.4l7.9-7.9"/></svg>'
  const fileInput = h('input', { type: 'file', multiple: '', hidden: '', 'data-testid': 'kefu-file', accept: ACCEPT })
  form.append(attachBtn, fileInput, input, sendBtn)
  const lightbox = h('div', { class: 'lightbox hidden', 'data-testid': 'kefu-lightbox' })
  const foot = h('div', { class: 'powered' }, 'Powered by kefu')
  panel.append(head, banner, queueBar, list, typing, form, foot, lightbox, announcer)
  root.append(panel, teaser, launcher)

  // ---------------------------------------------------------------- http
  async function call<T>(method: string, path: string, body?: unknown, auth = true): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    if (auth && token) headers.Authorization = `Bearer ${token}`
    const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    if (res.status === 204) return undefined as T
    const data = await res.json().catch(() => null)
    if (!res.ok) throw apiError(res.status, data)
    return data as T
  }

  /**
   * A refused call as an Error whose `message` is for the shopper (their language, from the
   * error's code); the server's own English sentence stays in `detail` for the console log.
   */
  function apiError(status: number, data: any): Error & { status: number; code: string; detail: string } {
    const code: string = data?.error?.code || (status === 401 ? 'unauthorized' : 'unknown')
    const detail: string = data?.error?.message || ''
    const err = new Error(describeError(code, detail, lang, data?.error?.field || undefined)) as Error & { status: number; code: string; detail: string }
    err.status = status
    err.code = code
    err.detail = detail
    return err
  }

  /**
   * Attachments are fetched with the visitor token in the Authorization header (never in a URL)
   * and shown from blob: URLs, cached per attachment.
   */
  const blobs = new Map<string, Promise<string>>()
  function blobUrl(path: string): Promise<string> {
    let p = blobs.get(path)
    if (!p) {
      p = fetch(base + path, { headers: token ? { Authorization: `Bearer ${token}` } : {} }).then((r) => {
        if (!r.ok) throw new Error(String(r.status))
        return r.blob().then((b) => URL.createObjectURL(b))
      })
      p.catch(() => blobs.delete(path))
      blobs.set(path, p)
    }
    return p
  }

  function openImage(id: number, name: string) {
    lightbox.textContent = ''
    const img = h('img', { alt: name, 'data-testid': 'kefu-lightbox-img' })
    lightbox.appendChild(img)
    lightbox.classList.remove('hidden')
    blobUrl(`/api/v1/attachments/${id}`).then((u) => (img.src = u), () => lightbox.classList.add('hidden'))
  }
  lightbox.onclick = () => lightbox.classList.add('hidden')

  function download(id: number, name: string) {
    blobUrl(`/api/v1/attachments/${id}`).then((u) => {
      const a = h('a', { href: u, download: name })
      root.appendChild(a)
      a.click()
      a.remove()
    }, () => {})
  }

  function sizeText(n: number): string {
    return n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KB' : (n / 1048576).toFixed(1) + ' MB'
  }

  /** An attachment message: a thumbnail (click for the full image) or a file chip. */
  function attachment(m: Msg): HTMLElement | null {
    const p = m.payload
    if (m.kind !== 'attachment' || !p) return null
    const id = num(p.attachment_id)
    const name = str(p.name)
    const el = h('div', { class: 'att', 'data-testid': 'kefu-attachment', 'data-mime': str(p.mime) })
    if (str(p.mime).startsWith('image/') && id) {
      const img = h('img', { class: 'att-img', alt: name, 'data-testid': 'kefu-attachment-img' })
      const w = num(p.width)
      const ht = num(p.height)
      if (w && ht) {
        const scale = Math.min(1, 200 / Math.max(w, ht))
        img.style.width = Math.round(w * scale) + 'px'
        img.style.height = Math.round(ht * scale) + 'px'
      }
      blobUrl(`/api/v1/attachments/${id}/thumb`).then((u) => (img.src = u), () => {})
      img.onclick = () => openImage(id, name)
      el.appendChild(img)
    } else {
      const chip = h('button', { type: 'button', class: 'att-file', 'data-testid': 'kefu-attachment-file' })
      chip.appendChild(h('span', { class: 'att-icon' }, (name.split('.').pop() || '').toUpperCase().slice(0, 4)))
      const meta = h('span', { class: 'att-meta' })
      meta.appendChild(h('span', { class: 'att-name' }, name))
      meta.appendChild(h('small', {}, sizeText(num(p.size)) + (id ? ' · ' + L.download : '')))
      chip.appendChild(meta)
      if (id) chip.onclick = () => download(id, name)
      el.appendChild(chip)
    }
    if (m.error) el.appendChild(h('div', { class: 'att-error', 'data-testid': 'kefu-attachment-error' }, m.error))
    return el
  }

  // ---------------------------------------------------------------- the shop's look
  /** `#rrggbb` mixed toward black (`by` > 0) or white (`by` < 0), as `#rrggbb`. */
  function shade(hex: string, by: number): string {
    const n = parseInt(hex.slice(1), 16)
    const mix = (c: number) => Math.round(by >= 0 ? c * (1 - by) : c + (255 - c) * -by)
    const parts = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map(mix)
    return '#' + parts.map((c) => c.toString(16).padStart(2, '0')).join('')
  }
  /** The shop's colour, corner and invitation (`/widget/config`'s `widget`). */
  function applyLook() {
    const look = config?.widget
    const color = look && /^#[0-9a-fA-F]{6}$/.test(look.color) ? look.color.toLowerCase() : '#2563eb'
    const n = parseInt(color.slice(1), 16)
    host.style.setProperty('--kc', color)
    host.style.setProperty('--kc-dark', shade(color, 0.18))
    host.style.setProperty('--kc-soft', shade(color, -0.9))
    host.style.setProperty('--kc-line', shade(color, -0.8))
    host.style.setProperty('--kc-shadow', `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, .35)`)
    host.setAttribute('data-position', look?.position === 'left' ? 'left' : 'right')
    host.setAttribute('data-color', color)
    teaserText.textContent = look?.greeting || ''
    renderTeaser()
  }
  function teaserClosed(): boolean {
    try {
      return sessionStorage.getItem(TEASER_KEY) === '1'
    } catch {
      return false
    }
  }
  function renderTeaser() {
    teaser.classList.toggle('hidden', isOpen || !config?.widget?.greeting || teaserClosed())
  }
  function closeTeaser() {
    try {
      sessionStorage.setItem(TEASER_KEY, '1')
    } catch {
      /* storage disabled: hidden for this page */
    }
    teaser.classList.add('hidden')
  }
  teaser.onclick = () => {
    closeTeaser()
    setOpen(true)
  }
  teaser.onkeydown = (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault()
      teaser.click()
    }
  }
  teaserClose.onclick = (e) => {
    e.stopPropagation()
    closeTeaser()
  }

  // ---------------------------------------------------------------- rendering
  function renderHeader() {
    const name = config?.shop.name || L.title
    title.textContent = name
    headAvatar.textContent = name.slice(0, 1)
    // One state at a time: closed hours win over who is online, so the header never says 在线
    // while the after-hours reply says the shop is closed.
    const state = !config ? '' : config.open_now === false ? 'closed' : config.agents_online ? 'on' : 'off'
    subtitle.textContent = state === 'closed' ? L.presenceClosed : state === 'on' ? L.presenceOnline : state === 'off' ? L.presenceOffline : ''
    subtitle.className = 'subtitle ' + (state === 'on' ? 'on' : 'off')
    subtitle.setAttribute('data-state', state)
  }

  function renderBadge() {
    badge.textContent = unread > 99 ? '99+' : String(unread)
    badge.classList.toggle('show', unread > 0 && !isOpen)
  }

  function statusText(m: Msg): string {
    if (m.state === 'pending') return L.sending
    if (m.state === 'failed') return L.failed
    return m.seq > 0 && m.seq <= agentReadSeq ? L.read : L.sent
  }

  // ---------------------------------------------------------------- cards (text only via textContent)
  const str = (v: unknown): string => (typeof v === 'string' ? v : '')
  const num = (v: unknown): number => (typeof v === 'number' && isFinite(v) ? v : 0)
  /** Only http(s) and same-site links and images are ever used. */
  // Card links as the server allows them (kefu-core `is_safe_link_template`): never another host
  // through `//host` or `/\\host`, nor a backslash, space or control character anywhere.
  const safe = (u: string): string =>
    // eslint-disable-next-line no-control-regex
    !/[\\\s\u0000-\u001f\u007f]/.test(u) && (/^https?:\/\/[^/]/i.test(u) || (u.startsWith('/') && !u.startsWith('//'))) ? u : ''
  function money(cents: number, currency: string): string {
    const a = Math.abs(cents)
    const s = (cents < 0 ? '-' : '') + Math.floor(a / 100) + '.' + String(a % 100).padStart(2, '0')
    return currency === 'CNY' || !currency ? '¥' + s : s + ' ' + currency
  }
  function orderState(p: Record<string, unknown>): string {
    const st = str(p.status)
    const pay = str(p.payment_status)
    const key = st === 'cancelled' ? 'cancelled' : pay === 'refunded' ? 'refunded' : pay === 'unpaid' ? 'unpaid' : st
    return (L.states as Record<string, string>)[key] || st
  }
  function card(m: Msg): HTMLElement | null {
    const p = m.payload
    if (!p || (m.kind !== 'product_card' && m.kind !== 'order_card')) return null
    const isOrder = m.kind === 'order_card'
    const el = h('div', { class: 'card', 'data-testid': 'kefu-card', 'data-kind': m.kind })
    el.appendChild(h('div', { class: 'card-tag' }, isOrder ? L.order : L.product))
    const body = h('div', { class: 'card-body' })
    const img = safe(str(p.image_url))
    if (img) body.appendChild(h('img', { class: 'card-img', src: img, alt: '', loading: 'lazy' }))
    const main = h('div', { class: 'card-main' })
    const title = isOrder ? L.order + ' ' + str(p.order_no) : str(p.name)
    main.appendChild(h('div', { class: 'card-title', 'data-testid': 'kefu-card-title' }, title))
    main.appendChild(h('div', { class: 'card-sub' }, isOrder ? str(p.items_summary) : 'SKU ' + str(p.sku)))
    const line = h('div', { class: 'card-line' })
    line.appendChild(h('span', { class: 'card-price' }, money(num(isOrder ? p.total_cents : p.price_cents), str(p.currency))))
    if (isOrder) line.appendChild(h('span', { class: 'card-state', 'data-testid': 'kefu-card-state' }, orderState(p)))
    main.appendChild(line)
    const lg = p.logistics as Record<string, unknown> | null | undefined
    if (isOrder && lg && typeof lg === 'object')
      main.appendChild(h('div', { class: 'card-sub' }, L.shipping + ' ' + str(lg.carrier) + ' ' + str(lg.tracking_no)))
    body.appendChild(main)
    el.appendChild(body)
    const link = safe(str(p.url))
    if (link) el.appendChild(h('a', { class: 'card-link', href: link, target: '_blank', rel: 'noopener noreferrer' }, L.view + ' ›'))
    return el
  }

  function bubble(m: Msg): HTMLElement {
    const mine = m.sender_type === 'customer'
    const center = m.sender_type === 'system'
    const row = h('div', { class: 'row ' + (mine ? 'mine' : center ? 'center' : 'theirs') })
    if (!mine && !center) row.appendChild(h('div', { class: 'who' }, m.sender_name || (m.sender_type === 'bot' ? config?.shop.name || L.agent : L.agent)))
    const b = h('div', {
      class: 'bubble ' + m.sender_type + (m.state !== 'sent' ? ' ' + m.state : ''),
      'data-testid': 'kefu-message',
      'data-sender-type': m.sender_type,
      'data-state': m.state,
      'data-seq': String(m.seq),
    })
    const c = card(m) || attachment(m)
    if (c) {
      b.className = 'bubble card-wrap'
      b.setAttribute('data-kind', m.kind || '')
      b.appendChild(c)
    } else b.textContent = m.body
    row.appendChild(b)
    if (mine) {
      const st = h('div', { class: 'status', 'data-testid': 'kefu-status' })
      st.appendChild(h('span', {}, statusText(m)))
      if (m.state === 'failed') {
        const r = h('button', { type: 'button', class: 'retry', 'data-testid': 'kefu-retry' }, L.retry)
        r.onclick = () => void deliver(m)
        st.appendChild(r)
      }
      row.appendChild(st)
    } else if (!center) {
      row.appendChild(h('div', { class: 'time' }, hhmm(m.created_at)))
    }
    return row
  }

  function render() {
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 60
    list.textContent = ''
    const hasServer = messages.some((m) => !m.local || m.state === 'sent')
    if (!messages.length || !hasServer) {
      // no conversation yet: show the greeting (and the offline notice) locally
      if (config?.greeting) {
        const g = bubble({ id: 0, conversation_id: 0, seq: 0, sender_type: 'bot', sender_name: config.shop.name, body: config.greeting, client_msg_id: null, created_at: new Date().toISOString(), state: 'sent' })
        g.querySelector('.bubble')!.setAttribute('data-testid', 'kefu-greeting')
        list.appendChild(g)
      }
    }
    if (config && (!config.agents_online || config.open_now === false) && !messages.some((m) => m.sender_type === 'system')) {
      // The shop's own offline text may say the message was received ("您的留言已收到"): only
      // once the shopper has sent one. Before that, the widget's own invitation to leave one.
      const sentOne = messages.some((m) => m.sender_type === 'customer' && m.state === 'sent')
      const text = config.open_now === false ? L.closed : sentOne ? config.offline_message || L.offline : L.offline
      list.appendChild(h('div', { class: 'notice', 'data-testid': 'kefu-offline' }, text))
    }
    // only the last own message shows its status, plus every pending/failed one
    let lastMine = -1
    messages.forEach((m, i) => m.sender_type === 'customer' && (lastMine = i))
    messages.forEach((m, i) => {
      const el = bubble(m)
      if (m.sender_type === 'customer' && i !== lastMine && m.state === 'sent') el.querySelector('.status')?.remove()
      list.appendChild(el)
    })
    if (convStatus === 'resolved') list.appendChild(h('div', { class: 'notice' }, L.resolved))
    // The server's position is 1-based: the first in line has nobody ahead.
    queueBar.textContent = queuePosition > 1 ? L.queue.replace('{n}', String(queuePosition - 1)) : L.queueNext
    queueBar.classList.toggle('hidden', !(queuePosition > 0))
    banner.classList.toggle('hidden', connected)
    if (nearBottom || isOpen) list.scrollTop = list.scrollHeight
  }

  function renderTyping() {
    const on = typingUntil > Date.now()
    typing.classList.toggle('hidden', !on)
    if (on) {
      clearTimeout(typingTimer)
      typingTimer = window.setTimeout(renderTyping, typingUntil - Date.now() + 20)
    }
  }

  // ---------------------------------------------------------------- messages
  function merge(incoming: Array<Omit<Msg, 'state'> & { state?: Msg['state'] }>, countUnread = false): boolean {
    let changed = false
    for (const raw of incoming) {
      if (raw.private) continue
      const m: Msg = { ...raw, state: 'sent', local: false }
      if (m.client_msg_id) {
        const i = messages.findIndex((x) => x.local && x.client_msg_id === m.client_msg_id)
        if (i >= 0) messages.splice(i, 1)
      }
      if (m.seq > lastSeq) lastSeq = m.seq
      if (messages.some((x) => !x.local && x.seq === m.seq)) continue
      let i = messages.findIndex((x) => x.local || x.seq > m.seq)
      if (i < 0) i = messages.length
      messages.splice(i, 0, m)
      changed = true
      if (countUnread && m.sender_type !== 'customer' && !isOpen) unread++
    }
    return changed
  }

  async function fetchAfter(seq: number) {
    const r = await call<{ conversation_id: number | null; agent_read_seq: number; queue_position: number | null; messages: Msg[] }>(
      'GET',
      `/api/v1/widget/messages?after_seq=${seq}`,
    )
    agentReadSeq = Math.max(agentReadSeq, r.agent_read_seq || 0)
    queuePosition = r.queue_position || 0
    merge(r.messages || [])
    render()
    markRead()
  }

  /** Fetch everything after `from` (default: the last seen seq) and merge by seq (duplicates are dropped). */
  async function catchUp(from = lastSeq) {
    if (!token) return
    try {
      await fetchAfter(from)
    } catch {
      /* the next reconnect or gap retries */
    }
  }

  async function deliver(m: Msg, attempt = 0): Promise<void> {
    if (m.kind === 'attachment') return m.file ? deliverFile(m) : undefined
    m.state = 'pending'
    render()
    try {
      await ensureSession()
      const r = await call<{ id: number; conversation_id: number; seq: number; created_at: string }>('POST', '/api/v1/widget/messages', {
        body: m.body,
        client_msg_id: m.client_msg_id,
      })
      const before = lastSeq
      const gap = r.seq > before + 1
      merge([{ ...m, id: r.id, conversation_id: r.conversation_id, seq: r.seq, created_at: r.created_at }])
      if (convStatus === 'resolved') convStatus = 'open'
      render()
      if (gap) void catchUp(before) // e.g. the greeting stored before our first message
      // The page's product/order waited for a conversation to be about: there is one now.
      if (pageContext) void sendContext()
    } catch (e) {
      const status = (e as { status?: number }).status
      if (!status && attempt < 3) {
        // network failure: retry with the same client_msg_id (the server deduplicates)
        await new Promise((r) => setTimeout(r, 1000 * 2 ** attempt))
        return deliver(m, attempt + 1)
      }
      m.state = 'failed'
      render()
    }
  }

  const IMAGE_EXTS = ['jpg', 'jpeg', 'jfif', 'png', 'gif', 'webp']

  /** Uploads a local attachment; the server's message replaces it (same client_msg_id). */
  async function deliverFile(m: Msg): Promise<void> {
    m.state = 'pending'
    m.error = undefined
    render()
    try {
      await ensureSession()
      const fd = new FormData()
      fd.append('client_msg_id', m.client_msg_id || uuid())
      fd.append('file', m.file!, str(m.payload?.name))
      const res = await fetch(base + '/api/v1/widget/attachments', {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
        body: fd,
      })
      const data = await res.json().catch(() => null)
      if (!res.ok) {
        const code = data?.error?.code
        throw new Error(code === 'payload_too_large' ? L.tooLarge : code === 'unsupported_media_type' ? L.badType : L.uploadFailed)
      }
      const before = lastSeq
      const gap = data.seq > before + 1
      merge([data as Msg])
      if (convStatus === 'resolved') convStatus = 'open'
      render()
      if (gap) void catchUp(before)
    } catch (e) {
      m.state = 'failed'
      m.error = (e as Error).message || L.uploadFailed
      render()
    }
  }

  function sendFiles(files: File[]) {
    for (const file of files) {
      const name = file.name || 'image.png'
      const dot = name.lastIndexOf('.')
      const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : ''
      const image = IMAGE_EXTS.includes(ext)
      const known = image || ACCEPT.split(',').includes('.' + ext)
      const m: Msg = {
        id: 0,
        conversation_id: 0,
        seq: 0,
        sender_type: 'customer',
        sender_name: null,
        body: (image ? '[' + L.image + '] ' : '[' + L.file + '] ') + name,
        client_msg_id: uuid(),
        created_at: new Date().toISOString(),
        state: 'pending',
        local: true,
        kind: 'attachment',
        payload: { name, size: file.size, mime: image ? 'image/' + ext : '' },
        file,
      }
      messages.push(m)
      if (!known || file.size > (image ? 10 : 20) * 1048576) {
        m.state = 'failed'
        m.error = known ? L.tooLarge : L.badType
        m.file = undefined
        render()
        continue
      }
      void deliverFile(m)
    }
    list.scrollTop = list.scrollHeight
  }
  attachBtn.onclick = () => fileInput.click()
  fileInput.onchange = () => {
    const files = Array.from(fileInput.files || [])
    fileInput.value = ''
    sendFiles(files)
  }
  input.addEventListener('paste', (e) => {
    const files = Array.from(e.clipboardData?.files || [])
    if (!files.length) return
    e.preventDefault()
    sendFiles(files)
  })

  function send() {
    const body = input.value.trim()
    if (!body) return
    input.value = ''
    autosize()
    const m: Msg = {
      id: 0,
      conversation_id: 0,
      seq: 0,
      sender_type: 'customer',
      sender_name: null,
      body,
      client_msg_id: uuid(),
      created_at: new Date().toISOString(),
      state: 'pending',
      local: true,
    }
    messages.push(m)
    list.scrollTop = list.scrollHeight
    void deliver(m)
  }

  function markRead() {
    if (!isOpen || document.visibilityState !== 'visible' || !token) return
    let seq = 0
    for (const m of messages) if (!m.local && m.sender_type !== 'customer' && m.seq > seq) seq = m.seq
    if (seq <= readSent) return
    readSent = seq
    if (!wsSend({ type: 'read', seq })) call('POST', '/api/v1/widget/read', { seq }).catch(() => (readSent = 0))
  }

  // ---------------------------------------------------------------- session
  /**
   * The logged-in shopper's identity, signed by the shop's server (docs/API.md, "Verified
   * identity"): `window.kefuIdentity = {external_id, name?, email?, phone?, timestamp, signature}`
   * set before the widget opens, or the same object as JSON in the script tag's
   * `data-kefu-identity` attribute. Read at session time, so a page may set it late.
   */
  function pageIdentity(): Record<string, unknown> | null {
    const fromWindow = (window as unknown as { kefuIdentity?: unknown }).kefuIdentity
    if (fromWindow && typeof fromWindow === 'object') return fromWindow as Record<string, unknown>
    const attr = script!.dataset.kefuIdentity
    if (!attr) return null
    try {
      const v: unknown = JSON.parse(attr)
      return v && typeof v === 'object' ? (v as Record<string, unknown>) : null
    } catch {
      console.warn('kefu: data-kefu-identity is not JSON; chatting anonymously')
      return null
    }
  }

  function ensureSession(contact: Record<string, string> = {}): Promise<void> {
    if (!sessionPromise) {
      sessionPromise = (async () => {
        let r: { visitor_token: string; customer_id: number }
        const identity = pageIdentity()
        const withIdentity = identity ? { identity } : {}
        try {
          r = await call('POST', '/api/v1/widget/sessions', {
            shop,
            ...contact,
            ...withIdentity,
            ...(token ? { visitor_token: token } : {}),
          })
        } catch (e) {
          const status = (e as { status?: number }).status
          if (identity && (status === 401 || status === 422)) {
            // A stale or bad identity (e.g. an old page): chat anonymously rather than not at all.
            console.warn('kefu: the page identity was refused:', (e as { detail?: string }).detail || (e as Error).message)
            try {
              r = await call('POST', '/api/v1/widget/sessions', { shop, ...(token ? { visitor_token: token } : {}) })
            } catch (e2) {
              if ((e2 as { status?: number }).status !== 401 || !token) throw e2
              token = null
              r = await call('POST', '/api/v1/widget/sessions', { shop })
            }
          } else {
            if (status !== 401 || !token) throw e
            token = null // stale token (e.g. another server): start over as a new shopper
            r = await call('POST', '/api/v1/widget/sessions', { shop, ...withIdentity })
          }
        }
        token = r.visitor_token
        try {
          localStorage.setItem(TOKEN_KEY, token)
        } catch {
          /* ignore */
        }
        connect()
        await fetchAfter(0).catch(() => {})
      })().catch((e) => {
        sessionPromise = null
        throw e
      })
    }
    return sessionPromise
  }

  // ---------------------------------------------------------------- websocket
  let ws: WebSocket | null = null
  let attempt = 0
  let everOpen = false
  function wsSend(o: unknown): boolean {
    if (ws && ws.readyState === 1) {
      ws.send(JSON.stringify(o))
      return true
    }
    return false
  }
  function connect() {
    if (!token || ws) return
    const sock = new WebSocket(base.replace(/^http/, 'ws') + '/api/v1/widget/ws?token=' + encodeURIComponent(token))
    ws = sock
    sock.onopen = () => {
      attempt = 0
      const again = everOpen
      everOpen = true
      connected = true
      banner.classList.add('hidden')
      if (again) {
        void catchUp()
        void refreshConfig()
      }
    }
    sock.onmessage = (e) => {
      let ev: ShopperFrame
      try {
        ev = JSON.parse(String(e.data)) as ShopperFrame
      } catch {
        return
      }
      onEvent(ev)
    }
    sock.onclose = () => {
      if (ws !== sock) return
      ws = null
      if (everOpen) {
        connected = false
        banner.classList.remove('hidden')
      }
      const delay = Math.min(15000, 600 * 2 ** attempt++) * (0.75 + Math.random() * 0.5)
      setTimeout(connect, delay)
    }
  }

  /** Frames as the server defines them (generated from the Rust frames: src/types/frames.gen.ts). */
  function onEvent(ev: ShopperFrame) {
    switch (ev.type) {
      case 'ticket.reply':
        tickets.onEvent(ev)
        break
      case 'message.created': {
        const m = ev.message
        if (!m || m.private) return
        const before = lastSeq
        const gap = m.seq > before + 1
        if (merge([m], true)) {
          if (m.sender_type !== 'customer') {
            typingUntil = 0
            announcer.textContent = `${m.sender_name || L.agent}：${m.body}`
          }
          // An agent who just wrote is there, whatever the last presence check said.
          if (m.sender_type === 'agent' && config && !config.agents_online) {
            config.agents_online = true
            renderHeader()
          }
          renderTyping()
          render()
          renderBadge()
          markRead()
        }
        if (gap) void catchUp(before)
        break
      }
      case 'typing':
        if (ev.sender_type === 'agent') {
          typingUntil = Date.now() + 5000
          renderTyping()
          list.scrollTop = list.scrollHeight
        }
        break
      case 'read':
        if (ev.reader_type === 'agent' && ev.seq > agentReadSeq) {
          agentReadSeq = ev.seq
          render()
        }
        break
      case 'queue.position':
        queuePosition = ev.position || 0
        render()
        break
      case 'conversation.updated':
        if (ev.conversation?.status) {
          convStatus = ev.conversation.status
          render()
        }
        break
    }
  }

  // ---------------------------------------------------------------- pre-chat form
  // A new shopper (no session yet, no identity from the page) fills in the shop's pre-chat form
  // before the first message; the session is created with those contact fields.
  const prechat = h('form', { class: 'prechat hidden', 'data-testid': 'kefu-prechat', novalidate: '' })
  panel.insertBefore(prechat, foot)
  function needsPrechat(): boolean {
    return !token && !sessionPromise && !pageIdentity() && !!config?.prechat?.enabled
  }
  function showPrechat() {
    const p = config!.prechat!
    prechat.textContent = ''
    prechat.appendChild(h('p', { class: 'intro' }, L.prechatIntro))
    const fields: Array<[keyof typeof p & ('name' | 'phone' | 'email'), string, string]> = [
      ['name', L.prechatName, 'text'],
      ['phone', L.prechatPhone, 'tel'],
      ['email', L.prechatEmail, 'email'],
    ]
    const inputs: Record<string, HTMLInputElement> = {}
    for (const [key, label, type] of fields) {
      if (p[key] === 'off') continue
      const field = h('input', { type, name: key, 'data-testid': `kefu-prechat-${key}`, maxlength: key === 'name' ? '100' : '254' })
      inputs[key] = field
      const lab = h('label')
      lab.append(h('span', {}, label + (p[key] === 'required' ? ' *' : '')), field)
      prechat.appendChild(lab)
    }
    const err = h('div', { class: 'prechat-error', 'data-testid': 'kefu-prechat-error' })
    const start = h('button', { type: 'submit', class: 'send', 'data-testid': 'kefu-prechat-start' }, L.prechatStart)
    prechat.append(err, start)
    prechat.onsubmit = (e) => {
      e.preventDefault()
      err.textContent = ''
      const contact: Record<string, string> = {}
      for (const [key, label] of fields) {
        const v = inputs[key]?.value.trim() ?? ''
        if (p[key] === 'required' && !v) {
          err.textContent = L.prechatRequired.replace('{field}', label)
          inputs[key]?.focus()
          return
        }
        if (v) contact[key] = v
      }
      start.setAttribute('disabled', '')
      ensureSession(contact).then(
        () => {
          setPrechat(false)
          markRead()
          render()
          setTimeout(() => input.focus(), 50)
        },
        (e2: Error) => {
          start.removeAttribute('disabled')
          err.textContent = e2.message || L.error
        },
      )
    }
    setPrechat(true)
    setTimeout(() => prechat.querySelector('input')?.focus(), 50)
  }
  function setPrechat(on: boolean) {
    prechat.classList.toggle('hidden', !on)
    for (const el of [list, typing, form]) el.classList.toggle('hidden-prechat', on)
  }

  // ---------------------------------------------------------------- interactions
  function setOpen(v: boolean) {
    isOpen = v
    panel.classList.toggle('open', v)
    launcher.classList.toggle('open', v)
    if (v && !teaser.classList.contains('hidden')) closeTeaser()
    if (v) {
      unread = 0
      if (config) void refreshConfig()
      schedulePresence()
      if (needsPrechat()) showPrechat()
      else ensureSession().then(markRead, () => {})
      render()
      setTimeout(() => input.focus(), 50)
    }
    renderBadge()
  }
  launcher.onclick = () => setOpen(!isOpen)
  closeBtn.onclick = () => setOpen(false)
  form.onsubmit = (e) => {
    e.preventDefault()
    send()
  }
  function autosize() {
    input.style.height = 'auto'
    input.style.height = Math.min(120, input.scrollHeight) + 'px'
  }
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault()
      send()
    }
  })
  input.addEventListener('input', () => {
    autosize()
    const n = Date.now()
    if (input.value.trim() && n - lastTypingSent > 2500) {
      lastTypingSent = n
      wsSend({ type: 'typing' })
    }
  })
  document.addEventListener('visibilitychange', markRead)

  // ---------------------------------------------------------------- tickets (报告问题)
  async function uploadTicketFile(path: string, file: File): Promise<{ id: number; name: string }> {
    const form = new FormData()
    form.append('file', file, file.name)
    const res = await fetch(base + path, { method: 'POST', headers: token ? { Authorization: `Bearer ${token}` } : {}, body: form })
    const data = await res.json().catch(() => null)
    if (!res.ok) throw apiError(res.status, data)
    return data
  }
  const tickets = mountTickets({ lang, panel, head, call, upload: uploadTicketFile, ensureSession, h })

  // ---------------------------------------------------------------- presence
  // The header's presence (agents online, business hours) is the shop's config, read again
  // every 30 s while the panel is open and the page visible, and whenever the page comes back.
  const PRESENCE_EVERY_MS = 30_000
  let presenceTimer = 0
  async function refreshConfig(): Promise<void> {
    try {
      config = await call<Config>('GET', `/api/v1/widget/config?shop=${encodeURIComponent(shop)}`, undefined, false)
      applyLook()
      renderHeader()
      render()
    } catch {
      /* keep the last known state */
    }
  }
  function schedulePresence() {
    clearTimeout(presenceTimer)
    if (!isOpen || document.visibilityState !== 'visible') return
    presenceTimer = window.setTimeout(() => void refreshConfig().then(schedulePresence), PRESENCE_EVERY_MS)
  }
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && isOpen) void refreshConfig()
    schedulePresence()
  })

  // ---------------------------------------------------------------- the page's API
  /**
   * What the shop page says the shopper is looking at, until a conversation is about it. Sent as
   * soon as the shopper has a session (a returning shopper at once, a new one after their first
   * message, so the pre-chat form is never skipped); the server answers `conversation_id: null`
   * while there is no conversation yet.
   */
  let pageContext: PageContext | null = null
  let contextInFlight = false
  async function sendContext(): Promise<void> {
    if (!pageContext || !token || contextInFlight) return
    const sent = pageContext
    contextInFlight = true
    try {
      const r = await call<{ conversation_id: number | null }>('POST', '/api/v1/widget/context', sent)
      if (r.conversation_id != null && pageContext === sent) pageContext = null
    } catch (e) {
      // An unknown SKU or another shopper's order: the page's mistake, not the shopper's.
      console.warn('kefu: the page context was refused:', (e as { detail?: string }).detail || (e as Error).message)
      if (pageContext === sent) pageContext = null
    } finally {
      contextInFlight = false
    }
    if (pageContext && pageContext !== sent) void sendContext()
  }
  function cleanContext(raw: unknown): PageContext | null {
    if (!raw || typeof raw !== 'object') return null
    const o = raw as Record<string, unknown>
    const pick = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v).trim() : '')
    const ctx: PageContext = {}
    if (pick(o.sku)) ctx.sku = pick(o.sku)
    if (pick(o.order_no ?? o.orderNo)) ctx.order_no = pick(o.order_no ?? o.orderNo)
    return ctx.sku || ctx.order_no ? ctx : null
  }
  /**
   * `window.kefu`: the shop page opens the chat, optionally about a product (`sku`) or one of the
   * shopper's orders (`order_no`): `kefu.open({sku: 'XMF-EAR-01'})`. Calls made before this
   * script ran (`window.kefu = {q: []}` with `open` pushing `['open', ctx]`) are replayed.
   */
  const pageApi = {
    open(ctx?: PageContext) {
      const c = cleanContext(ctx)
      if (c) {
        pageContext = c
        if (token) void ensureSession().then(sendContext, () => {})
      }
      if (!isOpen) setOpen(true)
    },
    close() {
      if (isOpen) setOpen(false)
    },
    /** The shopper signed out of the shop: their token ends on the server and the widget forgets
     * them (the next chat starts as a new, anonymous shopper). */
    async logout() {
      const ending = token
      if (ending) await call('DELETE', '/api/v1/widget/sessions').catch(() => {})
      if (token !== ending) return
      token = null
      sessionPromise = null
      try {
        localStorage.removeItem(TOKEN_KEY)
      } catch {
        /* ignore */
      }
      const sock = ws
      ws = null
      sock?.close()
      messages = []
      lastSeq = 0
      unread = 0
      render()
    },
  }
  const pageWindow = window as unknown as { kefu?: { q?: Array<[string, unknown]> } }
  const queued = Array.isArray(pageWindow.kefu?.q) ? pageWindow.kefu!.q! : []
  pageWindow.kefu = pageApi as unknown as { q?: Array<[string, unknown]> }

  // ---------------------------------------------------------------- boot
  function mount() {
    document.body.appendChild(host)
    renderHeader()
    render()
    void refreshConfig().then(() => {
      if (isOpen && needsPrechat()) showPrechat()
    })
    // a returning shopper: restore the session right away (history, unread badge, live events)
    if (token) ensureSession().catch(() => {})
    for (const [name, arg] of queued) if (name === 'open') pageApi.open(arg as PageContext)
  }
  if (document.body) mount()
  else document.addEventListener('DOMContentLoaded', mount)
})()
