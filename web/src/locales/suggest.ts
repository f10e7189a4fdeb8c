// UI texts of reply suggestions (the bar above the composer), merged into the console's
// dictionaries by ../i18n.ts. `en` carries every key of `zh`.

export const zh = {
  'suggest.title': '推荐话术',
  'suggest.insert': '点击插入：{title}',
  'suggest.missing': '以下变量没有值，请补全或删除后再发送：{vars}',
}

export const en: typeof zh = {
  'suggest.title': 'Suggested replies',
  'suggest.insert': 'Click to insert: {title}',
  'suggest.missing': 'These variables have no value; fill them in or remove them before sending: {vars}',
}
