// What a person types into the console's date input (components/ui/KDateInput.vue), read as a
// calendar day — and with `time` a wall-clock time — of the shop. Plain JavaScript so that
// `npm run test:unit` runs it with node. No time zone is involved here: the text names the shop's
// day, and zone.ts/time.ts turn days into instants.

const pad = (n) => String(n).padStart(2, '0')

/** Whether y-m-d is a day of the Gregorian calendar (1970–9999). */
export function validDay(y, m, d) {
  if (!Number.isInteger(y) || !Number.isInteger(m) || !Number.isInteger(d)) return false
  if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1) return false
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate()
}

/**
 * Typed text → the input's value: `YYYY-MM-DD`, or `YYYY-MM-DDTHH:mm` with `time`; `''` for empty
 * text; `null` for text that is no date (or a day outside `min`/`max`, compared by day). Accepts
 * 2026-05-03, 2026/5/3, 2026.5.3, 2026年5月3日, 20260503, with a time after a space (14:05, 14：05,
 * 14时5分). With `time` and no time typed, `defaultTime` is used.
 */
export function parseDateText(text, { time = false, min = '', max = '', defaultTime = '09:00' } = {}) {
  const v = String(text ?? '').trim()
  if (!v) return ''
  const m =
    /^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[\sT]+(\d{1,2})\s*[:：时]\s*(\d{1,2})\s*分?)?$/.exec(v) ||
    /^(\d{4})(\d{2})(\d{2})(?:[\sT]+(\d{1,2}):?(\d{2}))?$/.exec(v)
  if (!m) return null
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (!validDay(y, mo, d)) return null
  const day = `${y}-${pad(mo)}-${pad(d)}`
  if (min && day < min.slice(0, 10)) return null
  if (max && day > max.slice(0, 10)) return null
  if (!time) return m[4] === undefined ? day : null
  const clock = m[4] === undefined ? defaultTime : `${pad(Number(m[4]))}:${pad(Number(m[5]))}`
  const [hh, mm] = clock.split(':').map(Number)
  if (!(hh >= 0 && hh <= 23 && mm >= 0 && mm <= 59)) return null
  return `${day}T${clock}`
}

/** The weeks of a month as the calendar shows them, Monday first: 5 or 6 rows of 7 days. */
export function monthCells(y, m) {
  const first = (new Date(Date.UTC(y, m - 1, 1)).getUTCDay() + 6) % 7
  const out = []
  for (let i = 0; i < 42; i++) {
    const d = new Date(Date.UTC(y, m - 1, 1 - first + i))
    out.push({
      key: `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`,
      day: d.getUTCDate(),
      inMonth: d.getUTCMonth() + 1 === m,
    })
  }
  return out.slice(0, out[35].inMonth ? 42 : 35)
}
