import { ref } from 'vue'
import { ApiError } from './api'
import { codeText, describeError as describe, fieldLabel, importReasonText } from './errorText.js'
import * as aftersales from './locales/aftersales'
import * as attach from './locales/attach'
import * as cards from './locales/cards'
import * as commerce from './locales/commerce'
import * as customers from './locales/customers'
import * as inbox from './locales/inbox'
import * as mail from './locales/mail'
import * as members from './locales/members'
import * as presence from './locales/presence'
import * as reports from './locales/reports'
import * as kpi from './locales/kpi'
import * as scripts from './locales/scripts'
import * as search from './locales/search'
import * as segments from './locales/segments'
import * as sla from './locales/sla'
import * as tools from './locales/tools'
import * as suggest from './locales/suggest'
import * as tickets from './locales/tickets'
import * as ui from './locales/ui'

export type Locale = 'zh' | 'en'

const zh = {
  'app.title': 'kefu 客服工作台',
  'login.title': '登录客服工作台',
  'login.subtitle': '使用您的客服账号登录',
  'login.email': '邮箱',
  'login.password': '密码',
  'login.submit': '登录',
  'login.submitting': '登录中…',
  'nav.inbox': '会话',
  'nav.settings': '设置',
  'caps.title': '客服接待上限',
  'caps.subtitle': '每位客服同时接待的会话数上限；留空则使用店铺默认值 {n}。',
  'caps.agent': '客服',
  'caps.status': '状态',
  'caps.open': '进行中',
  'caps.cap': '上限',
  'caps.default': '默认 ({n})',
  'caps.saved': '已保存',
  'caps.managersOnly': '仅管理员和主管可以修改接待上限。',
  'caps.none': '店铺还没有客服账号',
  'caps.capOf': '{name} 的接待上限',
  'caps.range': '接待上限须为 1 到 100 之间的整数，留空则使用店铺默认值。',
  'nav.customers': '客户',
  'nav.orders': '订单',
  'nav.segments': '客户分群',
  'header.logout': '退出登录',
  'header.language': '界面语言',
  'header.status': '在线状态',
  'status.online': '在线',
  'status.away': '离开',
  'status.offline': '离线',
  'conv.status.open': '进行中',
  'conv.status.pending': '待处理',
  'conv.status.resolved': '已解决',
  'filter.me': '我的',
  'filter.unassigned': '未分配',
  'filter.all': '全部',
  'filter.assignee': '按负责人筛选',
  'inbox.empty': '暂无会话',
  'inbox.select': '选择左侧的一个会话开始服务',
  'inbox.unassigned': '未分配',
  'inbox.queue': '排队第 {n} 位',
  'inbox.loading': '加载中…',
  'inbox.back': '会话列表',
  'conv.typing': '顾客正在输入…',
  'conv.note': '内部备注',
  'conv.noteToggle': '内部备注',
  'conv.placeholder': '输入回复，Enter 发送，Shift+Enter 换行',
  'conv.notePlaceholder': '输入内部备注（顾客不可见），Enter 保存',
  'conv.send': '发送',
  'conv.saveNote': '添加备注',
  'conv.pending': '发送中…',
  'conv.failed': '发送失败',
  'conv.retry': '重试',
  'conv.read': '已读',
  'conv.sent': '已发送',
  'conv.assign': '转接',
  'conv.assignTitle': '分配 / 转接会话',
  'conv.toAgent': '转给客服',
  'conv.toTeam': '转给团队',
  'conv.transferNote': '转接备注（可选，仅内部可见）',
  'conv.confirm': '确认转接',
  'conv.cancel': '取消',
  'conv.markPending': '标为待处理',
  'conv.resolve': '解决',
  'conv.reopen': '重新打开',
  'conv.assignee': '负责人',
  'conv.team': '团队',
  'conv.load': '接待 {n}/{m}',
  'conv.customer': '顾客',
  'conv.noMessages': '暂无消息',
  'conv.messages': '会话消息',
  'conv.bot': '机器人',
  'conv.system': '系统',
  'conv.defaultTeam': '默认',
  'conn.lost': '连接中断，正在重连…',
  'settings.title': '店铺设置',
  'settings.subtitle': '访客在聊天窗口中看到的内容与接待规则',
  'settings.greeting': '欢迎语',
  'settings.prechat': '售前表单（开始咨询前收集联系方式）',
  'settings.prechatEnabled': '新顾客发起咨询前先填写表单',
  'settings.prechat.name': '称呼',
  'settings.prechat.phone': '手机号',
  'settings.prechat.email': '邮箱',
  'settings.prechat.off': '不询问',
  'settings.prechat.optional': '选填',
  'settings.prechat.required': '必填',
  'settings.prechatHint': '填写的信息会直接写入客户资料；店铺页面已传入身份的顾客不会看到表单。',
  'settings.greetingHint': '顾客发起会话时自动发送',
  'settings.timeZone': '店铺时区',
  'settings.timeZoneHint': '报表的日期和控制台显示的时间都按店铺时区计算',
  'settings.widgetOrigins': '允许嵌入聊天窗口的网站',
  'settings.widgetOriginsHint': '每行一个，如 https://shop.example.com；留空表示任何网站都可以嵌入',
  'settings.offline': '离线提示',
  'settings.offlineHint': '没有客服在线时向顾客显示',
  'settings.maxConcurrent': '默认最大同时接待数',
  'settings.save': '保存',
  'settings.saved': '已保存',
  'settings.adminOnly': '只有管理员可以修改店铺设置。',
  'settings.nav': '设置分区',
  'settings.section.shop': '店铺与聊天窗口',
  'settings.section.caps': '接待上限',
  'settings.section.presence': '在线状态',
  'settings.section.auto': '自动回复',
  'settings.section.notify': '通知',
  'settings.section.mail': '邮件',
  'settings.section.customers': '客户资料',
  'settings.section.tickets': '工单',
  'settings.embed.title': '嵌入聊天窗口',
  'settings.embed.hint': '把这段代码放到店铺网页的 </body> 之前，顾客就能在页面右下角联系客服。',
  'settings.embed.copy': '复制代码',
  'settings.embed.copied': '已复制',
  'time.justNow': '刚刚',
  ...customers.zh,
  ...commerce.zh,
  ...segments.zh,
  ...search.zh,
  ...cards.zh,
  ...scripts.zh,
  ...attach.zh,
  ...tools.zh,
  ...suggest.zh,
  ...mail.zh,
  ...members.zh,
  ...presence.zh,
  ...sla.zh,
  ...tickets.zh,
  ...inbox.zh,
  ...aftersales.zh,
  ...reports.zh,
  ...kpi.zh,
  ...ui.zh,
}

type Dict = typeof zh
export type MsgKey = keyof Dict

const en: Dict = {
  'app.title': 'kefu Agent Console',
  'login.title': 'Sign in to kefu',
  'login.subtitle': 'Use your agent account',
  'login.email': 'Email',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.submitting': 'Signing in…',
  'nav.inbox': 'Inbox',
  'nav.settings': 'Settings',
  'caps.title': 'Agent concurrency caps',
  'caps.subtitle': 'How many conversations each agent handles at once; empty uses the shop default of {n}.',
  'caps.agent': 'Agent',
  'caps.status': 'Status',
  'caps.open': 'Open',
  'caps.cap': 'Cap',
  'caps.default': 'default ({n})',
  'caps.saved': 'Saved',
  'caps.managersOnly': 'Only admins and supervisors can change caps.',
  'caps.none': 'The shop has no agents yet',
  'caps.capOf': '{name}\'s cap',
  'caps.range': 'A cap is a whole number from 1 to 100; leave it empty for the shop default.',
  'nav.customers': 'Customers',
  'nav.orders': 'Orders',
  'nav.segments': 'Segments',
  'header.logout': 'Log out',
  'header.language': 'Language',
  'header.status': 'My status',
  'status.online': 'Online',
  'status.away': 'Away',
  'status.offline': 'Offline',
  'conv.status.open': 'Open',
  'conv.status.pending': 'Pending',
  'conv.status.resolved': 'Resolved',
  'filter.me': 'Mine',
  'filter.unassigned': 'Unassigned',
  'filter.all': 'All',
  'filter.assignee': 'Filter by assignee',
  'inbox.empty': 'No conversations',
  'inbox.select': 'Pick a conversation on the left',
  'inbox.unassigned': 'Unassigned',
  'inbox.queue': 'Queue #{n}',
  'inbox.loading': 'Loading…',
  'inbox.back': 'Conversations',
  'conv.typing': 'Shopper is typing…',
  'conv.note': 'Internal note',
  'conv.noteToggle': 'Internal note',
  'conv.placeholder': 'Type a reply. Enter to send, Shift+Enter for a new line',
  'conv.notePlaceholder': 'Internal note (hidden from the shopper). Enter to save',
  'conv.send': 'Send',
  'conv.saveNote': 'Add note',
  'conv.pending': 'Sending…',
  'conv.failed': 'Failed',
  'conv.retry': 'Retry',
  'conv.read': 'Read',
  'conv.sent': 'Sent',
  'conv.assign': 'Transfer',
  'conv.assignTitle': 'Assign / transfer',
  'conv.toAgent': 'To an agent',
  'conv.toTeam': 'To a team',
  'conv.transferNote': 'Transfer note (optional, internal)',
  'conv.confirm': 'Transfer',
  'conv.cancel': 'Cancel',
  'conv.markPending': 'Mark pending',
  'conv.resolve': 'Resolve',
  'conv.reopen': 'Reopen',
  'conv.assignee': 'Assignee',
  'conv.team': 'Team',
  'conv.load': 'Load {n}/{m}',
  'conv.customer': 'Shopper',
  'conv.noMessages': 'No messages yet',
  'conv.messages': 'Messages',
  'conv.bot': 'Bot',
  'conv.system': 'System',
  'conv.defaultTeam': 'default',
  'conn.lost': 'Connection lost, reconnecting…',
  'settings.title': 'Shop settings',
  'settings.subtitle': 'What shoppers see in the chat widget, and routing rules',
  'settings.greeting': 'Greeting',
  'settings.prechat': 'Pre-chat form (contact details before the first message)',
  'settings.prechatEnabled': 'New shoppers fill in a form before chatting',
  'settings.prechat.name': 'Name',
  'settings.prechat.phone': 'Phone',
  'settings.prechat.email': 'E-mail',
  'settings.prechat.off': 'Not asked',
  'settings.prechat.optional': 'Optional',
  'settings.prechat.required': 'Required',
  'settings.prechatHint': 'Answers go straight into the customer profile; shoppers identified by the shop page never see the form.',
  'settings.greetingHint': 'Sent automatically when a shopper starts a conversation',
  'settings.timeZone': 'Shop time zone',
  'settings.timeZoneHint': 'Report days and every time in the console use the shop time zone',
  'settings.widgetOrigins': 'Sites allowed to embed the chat widget',
  'settings.widgetOriginsHint': 'One per line, e.g. https://shop.example.com; empty means any site may embed it',
  'settings.offline': 'Offline message',
  'settings.offlineHint': 'Shown to shoppers when no agent is online',
  'settings.maxConcurrent': 'Default max concurrent chats',
  'settings.save': 'Save',
  'settings.saved': 'Saved',
  'settings.adminOnly': 'Only admins can change shop settings.',
  'settings.nav': 'Settings sections',
  'settings.section.shop': 'Shop & chat window',
  'settings.section.caps': 'Caps',
  'settings.section.presence': 'Presence',
  'settings.section.auto': 'Auto-replies',
  'settings.section.notify': 'Notifications',
  'settings.section.mail': 'Mail',
  'settings.section.customers': 'Customer fields',
  'settings.section.tickets': 'Tickets',
  'settings.embed.title': 'Embed the chat window',
  'settings.embed.hint': 'Put this code before </body> on your shop\'s pages; shoppers then reach you from the corner of the page.',
  'settings.embed.copy': 'Copy code',
  'settings.embed.copied': 'Copied',
  'time.justNow': 'just now',
  ...customers.en,
  ...commerce.en,
  ...segments.en,
  ...search.en,
  ...cards.en,
  ...scripts.en,
  ...attach.en,
  ...tools.en,
  ...suggest.en,
  ...mail.en,
  ...members.en,
  ...presence.en,
  ...sla.en,
  ...tickets.en,
  ...inbox.en,
  ...aftersales.en,
  ...reports.en,
  ...kpi.en,
  ...ui.en,
}

const dicts: Record<Locale, Dict> = { zh, en }
const KEY = 'kefu_locale'

function initial(): Locale {
  const saved = localStorage.getItem(KEY)
  return saved === 'en' || saved === 'zh' ? saved : 'zh'
}

export const locale = ref<Locale>(initial())
document.documentElement.lang = locale.value === 'zh' ? 'zh-CN' : 'en'

export function setLocale(l: Locale) {
  locale.value = l
  localStorage.setItem(KEY, l)
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en'
}

export function t(key: MsgKey, params?: Record<string, string | number>): string {
  let s: string = dicts[locale.value][key] ?? key
  if (params) for (const [k, v] of Object.entries(params)) s = s.replace(`{${k}}`, String(v))
  return s
}

/** The text of an error code alone (see errorText.js for the table of every server code). */
export function errorText(code: string | undefined): string {
  return codeText(code || 'unknown', locale.value)
}

/** The text of a server error: its code's text, with what the message says made readable. */
export function describeError(code: string | undefined, message: string | undefined, field?: string): string {
  return describe(code, message, locale.value, field)
}

/** One refused row of an import (`field` may be '' or '-' for the row as a whole). */
export function describeRow(field: string | null | undefined, message: string): string {
  const whole = !field || field === '-'
  return describe('validation_failed', whole ? message : `${field}: ${message}`, locale.value)
}

/** The reason of one refused import row, from its code (Chinese or English, never the server's English in Chinese). */
export function importReason(row: { code?: string; message?: string; field?: string; other_line?: number | null; other_field?: string | null }): string {
  return importReasonText(row, locale.value)
}

/**
 * A column of an import file as a person knows it: the file's own header when it has one
 * (`实付金额`), else the field's label (`placed_at` → 下单时间); `-` is the whole row. English
 * readers get the label, with a Chinese header beside it.
 */
export function columnLabel(field: string | null | undefined, column?: string | null): string {
  if (!field || field === '-') return locale.value === 'zh' ? '整行' : 'Whole row'
  const label = fieldLabel(field, locale.value) || field
  if (!column || column === field) return label
  if (locale.value === 'zh') return column
  return column.toLowerCase() === label.toLowerCase() ? label : `${label} (${column})`
}

/** What to show for a failed call: an `ApiError` described, anything else as unknown. */
export function errorMessage(e: unknown): string {
  if (!(e instanceof ApiError)) return errorText('unknown')
  const text = describe(e.code, e.message, locale.value, e.field)
  // A server error names the request it was logged under, for whoever reports it.
  return e.requestId ? `${text}${locale.value === 'en' ? ` (ref. ${e.requestId})` : `（编号 ${e.requestId}）`}` : text
}
