// Types of errorText.js (plain JavaScript so that `npm run test:unit` runs it with node).
export type ErrorLang = 'zh' | 'en'
export const CODE_TEXTS: Record<string, { zh: string; en: string }>
export const FIELD_LABELS: Record<string, { zh: string; en: string }>
export const REASONS_ZH: Array<[RegExp, string]>
export function fieldLabel(field: string, lang: ErrorLang): string
export function codeText(code: string, lang: ErrorLang): string
export function describeError(code: string | undefined, message: string | undefined, lang: ErrorLang, field?: string): string
export const IMPORT_REASONS: Record<string, { zh: string; en: string }>
export function importReasonText(
  row: { code?: string; message?: string; field?: string; other_line?: number | null; other_field?: string | null },
  lang: ErrorLang,
): string
