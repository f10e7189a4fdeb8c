// UI texts of reply suggestions (the bar above the composer), merged into the console's
// dictionaries by ../i18n.ts. `en` carries every key of `zh`.

export const zh = {
  'suggest.title': '推荐话术',
  'suggest.insert': '点击插入：{title}',
  'suggest.personal': '个人',
  'suggest.loading': '正在生成推荐…',
  'suggest.none': '暂无推荐',
}

export const en: typeof zh = {
  'suggest.title': 'Suggested replies',
  'suggest.insert': 'Click to insert: {title}',
  'suggest.personal': 'Personal',
  'suggest.loading': 'Finding suggestions…',
  'suggest.none': 'No suggestions',
}
