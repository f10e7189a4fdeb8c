// The shop's time zone: every day and time the console shows is the shop's, not the browser's
// (a supervisor's laptop in UTC must see the same "today" as the shop in Beijing).
import { ref } from 'vue'

/** Set from `/api/v1/me` when the session loads. */
export const shopTimeZone = ref('Asia/Shanghai')

/** The shop's calendar day as YYYY-MM-DD, `daysBefore` days before today. */
export function shopDay(daysBefore = 0, now = Date.now()): string {
  // en-CA formats dates as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: shopTimeZone.value,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(new Date(now - daysBefore * 86_400_000))
}
