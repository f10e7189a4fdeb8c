// The console's own date input reads what Chinese shop staff type, and never a day that does not
// exist; its calendar starts weeks on Monday. Run from web/: npm run test:unit
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { monthCells, parseDateText, validDay } from '../src/dateText.js'

test('typed dates in the ways people write them', () => {
  for (const s of ['2026-05-03', '2026/5/3', '2026.5.3', '2026年5月3日', '20260503', ' 2026-5-03 ']) {
    assert.equal(parseDateText(s), '2026-05-03', s)
  }
  assert.equal(parseDateText(''), '')
  assert.equal(parseDateText('   '), '')
})

test('days that do not exist, and other text, are not dates', () => {
  for (const s of ['2026-02-29', '2026-02-30', '2026-13-01', '2026-00-10', '2026-04-31', '1969-12-31', '5/3', '明天', '2026-05-03 14:05']) {
    assert.equal(parseDateText(s), null, s)
  }
  assert.equal(parseDateText('2024-02-29'), '2024-02-29', 'a leap day')
  assert.ok(validDay(2000, 2, 29))
  assert.ok(!validDay(1900, 2, 29))
})

test('dates with a time', () => {
  assert.equal(parseDateText('2026-05-03 14:05', { time: true }), '2026-05-03T14:05')
  assert.equal(parseDateText('2026/5/3 9:5', { time: true }), '2026-05-03T09:05')
  assert.equal(parseDateText('2026年5月3日 14时05分', { time: true }), '2026-05-03T14:05')
  assert.equal(parseDateText('2026-05-03T14:05', { time: true }), '2026-05-03T14:05')
  assert.equal(parseDateText('2026-05-03', { time: true, defaultTime: '18:30' }), '2026-05-03T18:30')
  assert.equal(parseDateText('2026-05-03 24:00', { time: true }), null)
  assert.equal(parseDateText('2026-05-03 12:60', { time: true }), null)
})

test('bounds are whole days', () => {
  assert.equal(parseDateText('2026-05-02', { min: '2026-05-03' }), null)
  assert.equal(parseDateText('2026-05-03', { min: '2026-05-03T18:00' }), '2026-05-03')
  assert.equal(parseDateText('2026-05-04', { max: '2026-05-03' }), null)
})

test('the calendar: Monday first, whole weeks, 5 or 6 rows', () => {
  // May 2026 starts on a Friday: four days of April lead.
  const may = monthCells(2026, 5)
  assert.equal(may[0].key, '2026-04-27')
  assert.equal(may[4].key, '2026-05-01')
  assert.ok(may[4].inMonth && !may[3].inMonth)
  assert.equal(may.length % 7, 0)
  assert.ok(may.some((c) => c.key === '2026-05-31' && c.inMonth))
  // February 2027 starts on a Monday and has 28 days: exactly four weeks plus the next month's row.
  const feb = monthCells(2027, 2)
  assert.equal(feb[0].key, '2027-02-01')
  assert.equal(feb.filter((c) => c.inMonth).length, 28)
  assert.ok(feb.length === 35)
  // Every month's days appear once, in order.
  for (let m = 1; m <= 12; m++) {
    const days = monthCells(2028, m).filter((c) => c.inMonth).map((c) => c.day)
    assert.deepEqual(days, Array.from({ length: days.length }, (_, i) => i + 1))
  }
})
