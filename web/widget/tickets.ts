/*
 * The widget's "报告问题 / report a problem": the shopper's tickets, a form (one of their orders,
 * picked or typed; a description; photos uploaded with the chat attachments' rules) and a ticket's
 * public thread with a reply box. Rendered with textContent only, inside the widget's shadow root.
 */

interface Ctx {
  lang: 'zh' | 'en'
  panel: HTMLElement
  head: HTMLElement
  call: <T>(method: string, path: string, body?: unknown) => Promise<T>
  upload: (path: string, file: File) => Promise<{ id: number; name: string }>
  ensureSession: () => Promise<void>
  h: <K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Record<string, string>, text?: string) => HTMLElementTagNameMap[K]
}

interface ShopperTicket {
  id: number
  display_number: string
  subject: string
  description: string
  status: string
  created_at: string
}

interface Entry {
  id: number
  kind: string
  author_type: string
  author_name: string | null
  body: string
  created_at: string
}

const TEXT = {
  zh: {
    button: '报告问题',
    mine: '我的问题反馈',
    report: '报告问题',
    back: '返回',
    order: '相关订单',
    noOrder: '不涉及订单',
    typeOrder: '或输入订单号',
    description: '请描述遇到的问题（如：收到的商品破损）',
    photos: '添加照片',
    submit: '提交',
    empty: '还没有提交过问题',
    reply: '补充说明',
    send: '发送',
    you: '我',
    agent: '客服',
    sent: '已提交，我们会尽快处理',
    error: '出错了，请稍后再试',
    status: { new: '已提交', open: '处理中', pending_customer: '等待您的回复', pending_third_party: '处理中', resolved: '已解决', closed: '已关闭' } as Record<string, string>,
  },
  en: {
    button: 'Report a problem',
    mine: 'My reports',
    report: 'Report a problem',
    back: 'Back',
    order: 'Order',
    noOrder: 'Not about an order',
    typeOrder: 'or type an order number',
    description: 'Describe the problem (e.g. the item arrived damaged)',
    photos: 'Add photos',
    submit: 'Submit',
    empty: 'No reports yet',
    reply: 'Add details',
    send: 'Send',
    you: 'Me',
    agent: 'Agent',
    sent: 'Submitted; we will get back to you soon',
    error: 'Something went wrong, please try again',
    status: { new: 'Submitted', open: 'In progress', pending_customer: 'Waiting for you', pending_third_party: 'In progress', resolved: 'Resolved', closed: 'Closed' } as Record<string, string>,
  },
}

export const TICKETS_CSS = `
.tk-open { background: rgba(255,255,255,.18); border: 0; color: #fff; border-radius: 8px; font: inherit; font-size: 12px; padding: 4px 8px; cursor: pointer; white-space: nowrap; position: relative; }
.tk-open.dot::after { content: ""; position: absolute; top: -2px; right: -2px; width: 8px; height: 8px; border-radius: 50%; background: #ef4444; }
.tk { position: absolute; inset: 0; z-index: 4; background: #fff; display: flex; flex-direction: column; border-radius: inherit; }
.tk.hidden { display: none; }
.tk-head { display: flex; align-items: center; gap: 8px; padding: 12px 14px; border-bottom: 1px solid #e6e8ec; font-weight: 600; }
.tk-head .sp { flex: 1; }
.tk-btn { border: 1px solid #d5d9e0; background: #fff; border-radius: 8px; padding: 4px 10px; font: inherit; font-size: 13px; cursor: pointer; }
.tk-btn.primary { background: var(--kc); border-color: var(--kc); color: #fff; }
.tk-body { flex: 1; overflow-y: auto; padding: 12px 14px; display: flex; flex-direction: column; gap: 10px; background: #f7f8fa; }
.tk-item { background: #fff; border: 1px solid #e6e8ec; border-radius: 10px; padding: 8px 10px; cursor: pointer; text-align: left; font: inherit; color: inherit; }
.tk-item small, .tk-muted { color: #8d93a0; font-size: 12px; }
.tk-st { font-size: 11px; border-radius: 999px; padding: 0 6px; background: #eef2ff; color: #1e40af; margin-left: 6px; }
.tk-body label { display: flex; flex-direction: column; gap: 4px; font-size: 13px; }
.tk-body select, .tk-body input[type=text], .tk-body textarea { font: inherit; border: 1px solid #e2e5ea; border-radius: 8px; padding: 6px 8px; background: #fff; }
.tk-files { display: flex; gap: 6px; flex-wrap: wrap; font-size: 12px; }
.tk-entry { background: #fff; border: 1px solid #e6e8ec; border-radius: 10px; padding: 8px 10px; white-space: pre-wrap; word-break: break-word; }
.tk-entry.mine { background: var(--kc-soft); border-color: var(--kc-line); align-self: flex-end; }
.tk-err { color: #dc2626; font-size: 12.5px; }
.tk-ok { color: #15803d; font-size: 12.5px; }
`

export function mountTickets(ctx: Ctx): { onEvent: (ev: { type: string; ticket_id?: number }) => void } {
  const L = TEXT[ctx.lang]
  const { h } = ctx
  const openBtn = h('button', { type: 'button', class: 'tk-open', 'data-testid': 'kefu-tickets-open' }, L.button)
  ctx.head.insertBefore(openBtn, ctx.head.lastChild)
  const layer = h('div', { class: 'tk hidden', 'data-testid': 'kefu-tickets' })
  const headRow = h('div', { class: 'tk-head' })
  const headTitle = h('span', {}, L.mine)
  const backBtn = h('button', { type: 'button', class: 'tk-btn', 'data-testid': 'kefu-tickets-back' }, L.back)
  headRow.append(headTitle, h('span', { class: 'sp' }), backBtn)
  const body = h('div', { class: 'tk-body' })
  layer.append(headRow, body)
  ctx.panel.appendChild(layer)

  let view: 'list' | 'new' | 'detail' | 'closed' = 'closed'
  let current = 0

  function fail(e: unknown, el: HTMLElement) {
    el.textContent = (e as Error)?.message || L.error
  }

  async function showList() {
    view = 'list'
    openBtn.classList.remove('dot')
    headTitle.textContent = L.mine
    body.replaceChildren()
    const newBtn = h('button', { type: 'button', class: 'tk-btn primary', 'data-testid': 'kefu-ticket-new' }, L.report)
    newBtn.onclick = () => void showNew()
    body.append(newBtn)
    const err = h('div', { class: 'tk-err' })
    body.append(err)
    try {
      await ctx.ensureSession()
      const r = await ctx.call<{ tickets: ShopperTicket[] }>('GET', '/api/v1/widget/tickets')
      if (!r.tickets.length) body.append(h('div', { class: 'tk-muted' }, L.empty))
      for (const t of r.tickets) {
        const item = h('button', { type: 'button', class: 'tk-item', 'data-testid': 'kefu-ticket-item' })
        const top = h('div')
        top.append(h('b', {}, t.subject), h('span', { class: 'tk-st' }, L.status[t.status] ?? t.status))
        item.append(top, h('small', {}, `${t.display_number} · ${new Date(t.created_at).toLocaleString()}`))
        item.onclick = () => void showDetail(t.id)
        body.append(item)
      }
    } catch (e) {
      fail(e, err)
    }
  }

  async function showNew() {
    view = 'new'
    headTitle.textContent = L.report
    body.replaceChildren()
    const form = h('form', { class: 'tk-body', 'data-testid': 'kefu-ticket-form' })
    form.style.padding = '0'
    const orderLabel = h('label', {}, L.order)
    const select = h('select', { 'data-testid': 'kefu-ticket-order' })
    select.append(h('option', { value: '' }, L.noOrder))
    const typed = h('input', { type: 'text', placeholder: L.typeOrder, 'data-testid': 'kefu-ticket-order-no', maxlength: '64' })
    orderLabel.append(select, typed)
    const desc = h('textarea', { rows: '4', placeholder: L.description, 'data-testid': 'kefu-ticket-description', maxlength: '5000' })
    const files = h('div', { class: 'tk-files' })
    const fileInput = h('input', { type: 'file', accept: '.jpg,.jpeg,.png,.gif,.webp', multiple: '', 'data-testid': 'kefu-ticket-photos' })
    const err = h('div', { class: 'tk-err', 'data-testid': 'kefu-ticket-error' })
    const submit = h('button', { type: 'submit', class: 'tk-btn primary', 'data-testid': 'kefu-ticket-submit' }, L.submit)
    const photos: number[] = []
    fileInput.onchange = async () => {
      for (const f of Array.from(fileInput.files ?? [])) {
        try {
          const a = await ctx.upload('/api/v1/widget/ticket-attachments', f)
          photos.push(a.id)
          files.append(h('span', {}, '📷 ' + a.name))
        } catch (e) {
          fail(e, err)
        }
      }
      fileInput.value = ''
    }
    form.append(orderLabel, h('label', {}, L.description), desc, h('label', {}, L.photos), fileInput, files, err, submit)
    form.onsubmit = async (e) => {
      e.preventDefault()
      err.textContent = ''
      submit.disabled = true
      try {
        const t = await ctx.call<ShopperTicket>('POST', '/api/v1/widget/tickets', {
          order_no: typed.value.trim() || select.value || null,
          description: desc.value,
          attachment_ids: photos,
        })
        await showDetail(t.id)
      } catch (e2) {
        fail(e2, err)
      } finally {
        submit.disabled = false
      }
    }
    body.append(form)
    try {
      await ctx.ensureSession()
      const r = await ctx.call<{ orders: { order_no: string; placed_at: string }[] }>('GET', '/api/v1/widget/tickets/orders')
      for (const o of r.orders) select.append(h('option', { value: o.order_no }, `${o.order_no} · ${new Date(o.placed_at).toLocaleDateString()}`))
    } catch (e) {
      fail(e, err)
    }
  }

  async function showDetail(id: number) {
    view = 'detail'
    current = id
    body.replaceChildren()
    const err = h('div', { class: 'tk-err' })
    try {
      const r = await ctx.call<{ ticket: ShopperTicket; entries: Entry[] }>('GET', `/api/v1/widget/tickets/${id}`)
      if (current !== id || view !== 'detail') return
      headTitle.textContent = `${r.ticket.display_number} · ${L.status[r.ticket.status] ?? r.ticket.status}`
      const wrap = h('div', { 'data-testid': 'kefu-ticket-detail' })
      wrap.style.cssText = 'display:flex;flex-direction:column;gap:8px'
      wrap.append(h('b', {}, r.ticket.subject))
      if (r.ticket.description) wrap.append(h('div', { class: 'tk-entry mine' }, r.ticket.description))
      for (const e of r.entries) {
        const mine = e.kind === 'customer'
        const el = h('div', { class: 'tk-entry' + (mine ? ' mine' : ''), 'data-testid': 'kefu-ticket-entry' })
        el.append(h('div', { class: 'tk-muted' }, `${mine ? L.you : e.author_name || L.agent} · ${new Date(e.created_at).toLocaleString()}`))
        el.append(document.createTextNode(e.body))
        wrap.append(el)
      }
      const reply = h('textarea', { rows: '2', placeholder: L.reply, 'data-testid': 'kefu-ticket-reply', maxlength: '5000' })
      const send = h('button', { type: 'button', class: 'tk-btn primary', 'data-testid': 'kefu-ticket-reply-send' }, L.send)
      send.onclick = async () => {
        if (!reply.value.trim()) return
        try {
          await ctx.call('POST', `/api/v1/widget/tickets/${id}/replies`, { body: reply.value })
          await showDetail(id)
        } catch (e) {
          fail(e, err)
        }
      }
      if (r.ticket.status !== 'closed') wrap.append(reply, send)
      body.append(wrap, err)
      body.scrollTop = body.scrollHeight
    } catch (e) {
      body.append(err)
      fail(e, err)
    }
  }

  function close() {
    view = 'closed'
    layer.classList.add('hidden')
  }
  openBtn.onclick = () => {
    layer.classList.remove('hidden')
    void showList()
  }
  backBtn.onclick = () => (view === 'list' ? close() : void showList())

  return {
    onEvent(ev) {
      if (ev.type !== 'ticket.reply') return
      if (view === 'detail' && ev.ticket_id === current) void showDetail(current)
      else if (view === 'list') void showList()
      else openBtn.classList.add('dot')
    },
  }
}
