// Formatting shared by the segments page and the sidebar badges.
import { locale } from '../i18n'
import { dateText } from '../time'

/** Integer cents as yuan, e.g. 123456 → ¥1,234.56 (segment revenue is in the shop's currency). */
export function formatCents(cents: number): string {
  const lang = locale.value === 'zh' ? 'zh-CN' : 'en-US'
  return '¥' + (cents / 100).toLocaleString(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 })
}

export function formatDate(iso: string | null | undefined): string {
  return dateText(iso) || '—'
}

export function percent(share: number, digits = 1): string {
  return (share * 100).toFixed(digits)
}
