// UI texts of the console's own controls (components/ui: select, date and time inputs) and of
// the settings page's navigation, merged into the console's dictionaries by ../i18n.ts.
// `en` carries every key of `zh`.

export const zh = {
  'ui.select.search': '搜索选项',
  'ui.select.none': '没有匹配的选项',
  'ui.date.pick': '选择日期',
  'ui.date.placeholder': '年-月-日',
  'ui.date.placeholderTime': '年-月-日 时:分',
  'ui.date.prevMonth': '上个月',
  'ui.date.nextMonth': '下个月',
  'ui.date.month': '{y}年{m}月',
  'ui.date.today': '今天',
  'ui.date.clear': '清除',
  'ui.date.time': '时间',
  'ui.date.done': '确定',
  'ui.date.weekdays': '一,二,三,四,五,六,日',
  'ui.date.invalid': '请输入日期，如 2026-05-03',
}

export const en: typeof zh = {
  'ui.select.search': 'Search options',
  'ui.select.none': 'No matching option',
  'ui.date.pick': 'Pick a date',
  'ui.date.placeholder': 'yyyy-mm-dd',
  'ui.date.placeholderTime': 'yyyy-mm-dd hh:mm',
  'ui.date.prevMonth': 'Previous month',
  'ui.date.nextMonth': 'Next month',
  'ui.date.month': '{m}/{y}',
  'ui.date.today': 'Today',
  'ui.date.clear': 'Clear',
  'ui.date.time': 'Time',
  'ui.date.done': 'Done',
  'ui.date.weekdays': 'Mo,Tu,We,Th,Fr,Sa,Su',
  'ui.date.invalid': 'Enter a date such as 2026-05-03',
}
