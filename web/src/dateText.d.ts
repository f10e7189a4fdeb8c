// Types of dateText.js (plain JavaScript so that `npm run test:unit` runs it with node).
export function validDay(y: number, m: number, d: number): boolean
export function parseDateText(
  text: string | null | undefined,
  opts?: { time?: boolean; min?: string; max?: string; defaultTime?: string },
): string | null
export function monthCells(y: number, m: number): { key: string; day: number; inMonth: boolean }[]
