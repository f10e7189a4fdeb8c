// UI texts of the search area, merged into the console's dictionaries by ../i18n.ts.
// Keys are prefixed with the area's name; `en` must carry every key of `zh`.

export const zh = {
  'search.placeholder': '搜索消息、会话、客户、话术，或输入工单号/售后单号（/ 或 Ctrl+K）',
  'search.label': '全局搜索',
  'search.kind.message': '消息',
  'search.kind.conversation': '会话',
  'search.kind.customer': '客户',
  'search.kind.script': '话术',
  'search.kind.ticket': '工单',
  'search.kind.aftersales': '售后单',
  'search.records': '按编号找到',
  'search.allKinds': '全部类型',
  'search.anyStatus': '任意状态',
  'search.empty': '没有找到相关结果',
  'search.searching': '搜索中…',
  'search.rebuilding': '搜索索引正在重建，请稍后再试',
  'search.disabled': '此服务器未启用搜索',
  'search.failed': '搜索失败：{error}',
  'search.note': '内部备注',
  'search.hint': '↑↓ 选择 · Enter 打开 · Esc 关闭',
}

export const en: typeof zh = {
  'search.placeholder': 'Search messages, conversations, customers, scripts, or a ticket / after-sales number (/ or Ctrl+K)',
  'search.label': 'Global search',
  'search.kind.message': 'Messages',
  'search.kind.conversation': 'Conversations',
  'search.kind.customer': 'Customers',
  'search.kind.script': 'Scripts',
  'search.kind.ticket': 'Ticket',
  'search.kind.aftersales': 'After-sales',
  'search.records': 'By number',
  'search.allKinds': 'All kinds',
  'search.anyStatus': 'Any status',
  'search.empty': 'Nothing found',
  'search.searching': 'Searching…',
  'search.rebuilding': 'The search index is being rebuilt; try again shortly',
  'search.disabled': 'Search is not enabled on this server',
  'search.failed': 'Search failed: {error}',
  'search.note': 'Internal note',
  'search.hint': '↑↓ select · Enter open · Esc close',
}
