// UI texts of reply suggestions (the bar above the composer), merged into the console's
// dictionaries by ../i18n.ts. `en` carries every key of `zh`.

export const zh = {
  'suggest.title': '推荐话术',
  'suggest.insert': '点击插入：{title}',
}

export const en: typeof zh = {
  'suggest.title': 'Suggested replies',
  'suggest.insert': 'Click to insert: {title}',
}
