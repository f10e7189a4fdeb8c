// Every time the console shows, and every day a date input means, in the shop's time zone
// (zone.ts: `shop.time_zone` from /api/v1/me, Asia/Shanghai by default) — never the browser's.
// A supervisor travelling with a laptop in UTC sees the same 09:30 and the same "today" as the
// agents in the shop, and a date range picked as 5月3日 is that day of the shop.
import { locale, t } from './i18n'
import { shopDay, shopTimeZone } from './zone'

export const DEFAULT_TIME_ZONE = 'Asia/Shanghai'

type Instant = string | number | Date | null | undefined

function toDate(v: Instant): Date | null {
  if (v === null || v === undefined || v === '') return null
  const d = v instanceof Date ? v : new Date(v)
  return isNaN(d.getTime()) ? null : d
}

const formatters = new Map<string, Intl.DateTimeFormat>()
function formatter(opts: Intl.DateTimeFormatOptions, lang = locale.value === 'zh' ? 'zh-CN' : 'en-US'): Intl.DateTimeFormat {
  const zone = shopTimeZone.value || DEFAULT_TIME_ZONE
  const key = `${lang}|${zone}|${JSON.stringify(opts)}`
  let f = formatters.get(key)
  if (!f) {
    try {
      f = new Intl.DateTimeFormat(lang, { ...opts, timeZone: zone })
    } catch {
      // An unknown zone name (a server newer than this browser's time zone data).
      f = new Intl.DateTimeFormat(lang, { ...opts, timeZone: DEFAULT_TIME_ZONE })
    }
    formatters.set(key, f)
  }
  return f
}

interface Parts {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
}

/** The wall-clock reading of an instant in the shop's zone. */
export function zonedParts(d: Date): Parts {
  const f = formatter({ year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', hourCycle: 'h23' }, 'en-US')
  const p: Record<string, number> = {}
  for (const x of f.formatToParts(d)) if (x.type !== 'literal') p[x.type] = Number(x.value)
  return { year: p.year, month: p.month, day: p.day, hour: p.hour % 24, minute: p.minute, second: p.second }
}

const pad = (n: number) => String(n).padStart(2, '0')

/** `YYYY-MM-DD` of an instant in the shop's zone (what a date input holds). */
export function dayKey(v: Instant = Date.now()): string {
  const d = toDate(v)
  if (!d) return ''
  const p = zonedParts(d)
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`
}

/** The instant (ms) the shop's wall clock reads `y-m-d h:mi`; DST gaps resolve forwards. */
function zonedToMs(y: number, m: number, d: number, h = 0, mi = 0): number {
  const wanted = Date.UTC(y, m - 1, d, h, mi)
  // The zone's offset at a guess, then again at the corrected instant (offsets change at DST).
  let ms = wanted
  for (let i = 0; i < 2; i++) {
    const p = zonedParts(new Date(ms))
    const shown = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute)
    ms += wanted - shown
  }
  return ms
}

/** The start of the shop's day `YYYY-MM-DD` (plus `plusDays`), in ms; NaN for a malformed day. */
export function dayStartMs(day: string, plusDays = 0): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day)
  if (!m) return NaN
  return zonedToMs(Number(m[1]), Number(m[2]), Number(m[3]) + plusDays)
}

/** A `datetime-local` input's value (`YYYY-MM-DDTHH:mm`) read as the shop's wall clock. */
export function localInputToDate(v: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(v)
  if (!m) return null
  return new Date(zonedToMs(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])))
}

/** An instant as a `datetime-local` input's value in the shop's zone. */
export function dateToLocalInput(v: Instant): string {
  const d = toDate(v)
  if (!d) return ''
  const p = zonedParts(d)
  return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}`
}

/** The shop's wall clock `daysAhead` days from today at `hour:00`. */
export function shopDayAt(daysAhead: number, hour: number): Date {
  const [y, m, d] = shopDay(-daysAhead).split('-').map(Number)
  return new Date(zonedToMs(y, m, d, hour))
}

/** A list's time: 刚刚 within a minute, the clock today (shop's day), else the date. */
export function formatTime(v: Instant): string {
  const d = toDate(v)
  if (!d) return ''
  if (Date.now() - d.getTime() < 60_000 && Date.now() >= d.getTime()) return t('time.justNow')
  if (dayKey(d) === dayKey(new Date())) return formatter({ hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d)
  return formatter({ month: 'short', day: 'numeric' }).format(d)
}

/** Month, day and clock, e.g. 5/3 14:05. */
export function clockTime(v: Instant): string {
  const d = toDate(v)
  if (!d) return ''
  return formatter({ month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d)
}

/** Full date and clock, e.g. 2026/5/3 14:05. */
export function dateTimeText(v: Instant): string {
  const d = toDate(v)
  if (!d) return ''
  return formatter({ year: 'numeric', month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d)
}

/** The date alone, e.g. 2026/5/3. */
export function dateText(v: Instant): string {
  const d = toDate(v)
  if (!d) return ''
  return formatter({ year: 'numeric', month: 'numeric', day: 'numeric' }).format(d)
}

/** The clock alone, e.g. 14:05. */
export function hourMinute(v: Instant): string {
  const d = toDate(v)
  if (!d) return ''
  return formatter({ hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d)
}

const ZONE_NAMES_ZH: Record<string, string> = {
  'Asia/Shanghai': '北京时间',
  'Asia/Hong_Kong': '香港',
  'Asia/Taipei': '台北',
  'Asia/Macau': '澳门',
  'Asia/Singapore': '新加坡',
  'Asia/Kuala_Lumpur': '吉隆坡',
  'Asia/Manila': '马尼拉',
  'Asia/Tokyo': '东京',
  'Asia/Seoul': '首尔',
  'Asia/Bangkok': '曼谷',
  'Asia/Jakarta': '雅加达',
  'Asia/Ho_Chi_Minh': '胡志明市',
  'Asia/Kolkata': '印度',
  'Asia/Dubai': '迪拜',
  'Europe/Moscow': '莫斯科',
  UTC: '协调世界时',
  'Europe/London': '伦敦',
  'Europe/Berlin': '柏林',
  'Europe/Paris': '巴黎',
  'America/New_York': '纽约',
  'America/Chicago': '芝加哥',
  'America/Denver': '丹佛',
  'America/Los_Angeles': '洛杉矶',
}

/** A time zone as people read it: 北京时间（UTC+8）; in English the zone's name with its offset now. */
export function zoneLabel(zone: string): string {
  let offset = ''
  try {
    const part = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'shortOffset' })
      .formatToParts(new Date())
      .find((p) => p.type === 'timeZoneName')?.value
    offset = (part || '').replace('GMT', 'UTC')
    if (offset === 'UTC') offset = 'UTC+0'
  } catch {
    offset = ''
  }
  const name = locale.value === 'zh' ? ZONE_NAMES_ZH[zone] || zone : zone
  if (!offset) return name
  return locale.value === 'zh' ? `${name}（${offset}）` : `${name} (${offset})`
}
