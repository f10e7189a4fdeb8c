// @ts-check
// What a person reads when the server refuses something, shared by the console and the widget.
//
// The server answers every failure with `{"error": {"code", "message"}}`: `code` is one of the
// stable codes of `crates/kefu-core/src/error.rs` (ErrorCode::as_str) and `message` is an English
// sentence for developers, most of them shaped `field: what is wrong`. A Chinese reader gets the
// code's text here, sharpened by the field's label and, for the common reasons, a Chinese reason —
// never the English sentence. An English reader gets the code's text and the server's sentence.
// `web/test/errors.test.mjs` fails when a code of error.rs has no text here.
//
// Plain JavaScript (typed by errorText.d.ts) so that the unit test runs it with plain node.

/** One text per server error code, plus the console's own `network` and `unknown`. */
export const CODE_TEXTS = {
  bad_request: { zh: '请求格式有误', en: 'Malformed request' },
  validation_failed: { zh: '填写的内容不符合要求', en: 'The input was not accepted' },
  missing_variables: { zh: '还有未填写的变量', en: 'Some variables are still unfilled' },
  payload_too_large: { zh: '内容过大', en: 'The content is too large' },
  unsupported_media_type: { zh: '文件类型不支持或与文件名不符', en: 'This file type is not accepted or does not match its name' },
  unauthorized: { zh: '登录已失效或账号密码错误', en: 'Wrong credentials or the session expired' },
  forbidden: { zh: '没有权限执行此操作', en: 'You are not allowed to do this' },
  blocked: { zh: '该顾客已被屏蔽', en: 'This shopper is blocked' },
  account_deactivated: { zh: '该账号已被停用，请联系店铺管理员', en: 'This account is deactivated; ask the shop\'s admin' },
  password_change_required: { zh: '请先设置新密码', en: 'Choose a new password first' },
  not_found: { zh: '内容不存在或已被删除', en: 'Not found' },
  conflict: { zh: '数据已变化或与现有内容冲突，请刷新后重试', en: 'Conflict, please refresh and retry' },
  rate_limited: { zh: '操作过于频繁，请稍后再试', en: 'Too many attempts, please wait a moment' },
  internal: { zh: '服务器出错了，请稍后再试', en: 'Server error, please try again later' },
  unavailable: { zh: '服务暂时不可用（数据库连接中断），请稍后再试', en: 'The service is briefly unavailable (database unreachable); please try again shortly' },
  network: { zh: '网络错误，请检查连接', en: 'Network error, check your connection' },
  unknown: { zh: '发生未知错误', en: 'Unknown error' },
}

/**
 * Labels of the fields server messages name (`phone: must be 5-20 digits`), by the last part of
 * the field's path (`orders[1].buyer.phone` → `phone`).
 */
export const FIELD_LABELS = {
  name: { zh: '名称', en: 'Name' },
  phone: { zh: '手机号', en: 'Phone' },
  email: { zh: '邮箱', en: 'E-mail' },
  to: { zh: '收件人', en: 'To' },
  external_id: { zh: '外部编号', en: 'External id' },
  subject: { zh: '标题', en: 'Subject' },
  description: { zh: '描述', en: 'Description' },
  body: { zh: '内容', en: 'Content' },
  note: { zh: '备注', en: 'Note' },
  reason: { zh: '原因', en: 'Reason' },
  status: { zh: '状态', en: 'Status' },
  priority: { zh: '优先级', en: 'Priority' },
  category: { zh: '分类', en: 'Category' },
  assignee: { zh: '处理人', en: 'Assignee' },
  assignee_id: { zh: '处理人', en: 'Assignee' },
  team: { zh: '团队', en: 'Team' },
  team_id: { zh: '团队', en: 'Team' },
  tags: { zh: '标签', en: 'Tags' },
  customer: { zh: '顾客', en: 'Customer' },
  customer_id: { zh: '顾客', en: 'Customer' },
  order_no: { zh: '订单号', en: 'Order number' },
  order_id: { zh: '订单', en: 'Order' },
  quantity: { zh: '数量', en: 'Quantity' },
  unit_price: { zh: '单价', en: 'Unit price' },
  line_total: { zh: '商品小计', en: 'Line total' },
  items: { zh: '商品', en: 'Items' },
  lines: { zh: '售后商品', en: 'Lines' },
  currency: { zh: '币种', en: 'Currency' },
  payment_status: { zh: '付款状态', en: 'Payment status' },
  carrier: { zh: '快递公司', en: 'Carrier' },
  tracking_no: { zh: '运单号', en: 'Tracking number' },
  amount: { zh: '金额', en: 'Amount' },
  amount_cents: { zh: '金额', en: 'Amount' },
  cost_cents: { zh: '成本', en: 'Cost' },
  root_causes: { zh: '根因', en: 'Root causes' },
  handling_result: { zh: '处理结果', en: 'Handling result' },
  custom_fields: { zh: '自定义字段', en: 'Custom field' },
  key: { zh: '字段键', en: 'Key' },
  label: { zh: '字段名称', en: 'Label' },
  options: { zh: '选项', en: 'Options' },
  shortcut: { zh: '快捷短语', en: 'Shortcut' },
  keywords: { zh: '关键词', en: 'Keywords' },
  position: { zh: '位置', en: 'Position' },
  max_concurrent: { zh: '接待上限', en: 'Cap' },
  default_max_concurrent: { zh: '默认接待上限', en: 'Default cap' },
  greeting: { zh: '欢迎语', en: 'Greeting' },
  weekly: { zh: '每周工作时间', en: 'Weekly hours' },
  holidays: { zh: '节假日', en: 'Holidays' },
  workdays: { zh: '调休上班日', en: 'Make-up workdays' },
  time_zone: { zh: '店铺时区', en: 'Time zone' },
  widget_origins: { zh: '允许嵌入的网站', en: 'Widget sites' },
  offline_message: { zh: '离线提示', en: 'Offline message' },
  host: { zh: 'SMTP 服务器', en: 'SMTP host' },
  port: { zh: '端口', en: 'Port' },
  from_address: { zh: '发件地址', en: 'From address' },
  password: { zh: '密码', en: 'Password' },
  new_password: { zh: '新密码', en: 'New password' },
  current_password: { zh: '当前密码', en: 'Current password' },
  role: { zh: '角色', en: 'Role' },
  team_ids: { zh: '所属团队', en: 'Teams' },
  is_default: { zh: '默认团队', en: 'Default team' },
  from: { zh: '开始日期', en: 'From' },
  created_from: { zh: '创建开始日期', en: 'Created from' },
  created_to: { zh: '创建结束日期', en: 'Created to' },
  contact_from: { zh: '联系开始日期', en: 'Contact from' },
  contact_to: { zh: '联系结束日期', en: 'Contact to' },
  days: { zh: '天数', en: 'Days' },
  window_hours: { zh: '时间窗（小时）', en: 'Window (hours)' },
  window_days: { zh: '归因窗口（天）', en: 'Window (days)' },
  slow_response_seconds: { zh: '慢响应阈值（秒）', en: 'Slow response (seconds)' },
  group: { zh: '分组', en: 'Group' },
  agent_id: { zh: '客服', en: 'Agent' },
  calendar_id: { zh: '工作日历', en: 'Calendar' },
  file: { zh: '文件', en: 'File' },
  q: { zh: '搜索词', en: 'Search' },
  limit: { zh: '数量上限', en: 'Limit' },
  cursor: { zh: '分页位置', en: 'Page cursor' },
  until: { zh: '提醒时间', en: 'Until' },
  mentions: { zh: '提及', en: 'Mentions' },
  links: { zh: '关联', en: 'Links' },
  source_ids: { zh: '要合并的工单', en: 'Tickets to merge' },
  reviews: { zh: '评价', en: 'Reviews' },
  rating: { zh: '评分', en: 'Rating' },
  platform: { zh: '平台', en: 'Platform' },
  signature: { zh: '身份签名', en: 'Identity signature' },
  // Whole paths win over their last part (`widget.greeting` is not the shop's `greeting`).
  'widget.color': { zh: '聊天窗口主题色', en: 'Widget colour' },
  'widget.greeting': { zh: '聊天窗口邀请语', en: 'Widget invitation' },
  'widget.position': { zh: '聊天窗口位置', en: 'Widget position' },
  sort: { zh: '排序', en: 'Sort' },
  sku: { zh: '商品编码', en: 'SKU' },
  product_id: { zh: '商品', en: 'Product' },
}

/**
 * Chinese for the reasons servers give most (the part after `field: `, or a whole message),
 * tried in order; `$1`… are the pattern's groups, `{fields}` the field list of `$1` in labels.
 * A message that matches none is shown by its code's text alone.
 */
export const REASONS_ZH = [
  [/^must not be empty$/, '不能为空'],
  [/^refunds would total ([\d.]+), more than the ([\d.]+) the order took$/, '退款合计 ¥$1，超过了订单金额 ¥$2'],
  [/^must not contain the NUL character \(U\+0000\)$/, '含有不允许的空字符'],
  [/^must not contain control or text-direction characters.*$/, '含有不允许的控制字符或文字方向字符'],
  [/^(?:could not be read|the file must be UTF-8 text)\b.*$/, '文件无法读取'],
  [/^is required\b.*$/, '必须填写'],
  [/^must be 5-20 digits$/, '须为 5-20 位数字'],
  [/^is not an e-mail address$/, '不是有效的邮箱地址'],
  [/^must be an e-mail address$/, '须为有效的邮箱地址'],
  [/^not one of your orders$/, '不是您的订单'],
  [/^not an order of this conversation's customer$/, '不是本会话顾客的订单'],
  [/^must be a colour like (#[0-9a-f]{6})$/, '须为颜色值，如 $1'],
  [/^must be a positive id$/, '须为有效的编号'],
  [/^no such agent in this shop$/, '店铺里没有这位客服'],
  [/^no such field$/, '没有这个字段'],
  [/^must be a number$/, '须为数字'],
  [/^must not be negative$/, '不能为负数'],
  [/^must be true or false$/, '须为“是”或“否”'],
  [/^must be a date YYYY-MM-DD$/, '须为日期（年-月-日）'],
  [/^(must be RFC 3339 or milliseconds|must be a time \(ms or RFC 3339\)|expected RFC 3339 or YYYY-MM-DD)$/, '须为有效的时间'],
  [/^must be after from$/, '须晚于开始日期'],
  [/^must be one of (.+)$/, '须为以下之一：$1'],
  [/^must be (?:between )?(\d+)(?:-| and )(\d+)(?: characters)?(?:,.*)?$/, '须在 $1 到 $2 之间'],
  [/^(?:must be )?at most (\d+) characters$/, '最多 $1 个字'],
  [/^each at most (\d+) characters$/, '每项最多 $1 个字'],
  [/^at most (\d+)$/, '最多 $1 项'],
  [/^(?:a .+ )?(?:with this (?:name|key) )?already (?:exists|used)(?: .*)?$/, '已存在同名内容'],
  [/^.*already (?:exists|used|taken).*$/, '已被使用'],
  [/^the line total is too large$|^the order total is too large$|^amount is too large$/, '金额过大'],
  [/^the order is cancelled$/, '订单已取消'],
  [/^malformed(?: cursor)?$|^not a cursor from this list$/, '分页位置无效，请刷新后重试'],
  [/^unknown (?:status|priority) '.*'$/, '取值无效'],
  [/^to resolve this ticket, fill in: (.+)$/, '解决工单前请填写：{fields}'],
  [/^carrier is required.*$/, '请填写快递公司（最多 40 个字）'],
  [/^tracking_no.*$|^tracking number.*$/, '请填写有效的运单号（4-40 位字母、数字或短横线）'],
  [/^wrong e-?mail or password$/i, '邮箱或密码错误'],
  [/^request body is too large$/, '内容过大'],
  [/^malformed JSON$/, '请求格式有误'],
  [/^nothing to change$/, '没有需要修改的内容'],
  // Members and teams, and the password policy.
  [/^must be at least (\d+) characters$/, '至少 $1 个字符'],
  [/^must not be only digits$/, '不能全是数字'],
  [/^must not be the e-mail address$/, '不能与邮箱相同'],
  [/^is too common to be safe$/, '过于常见，容易被猜中，请换一个'],
  [/^must start with https:\/\/, http:\/\/ or \/$/, '须以 https://、http:// 或 / 开头，且不能指向其他网站'],
  [/^must differ from the current password$/, '不能与当前密码相同'],
  [/^is wrong$/, '不正确'],
  [/^must be agent, supervisor or admin$/, '须为客服、主管或管理员'],
  [/^the member is deactivated$/, '该成员已停用'],
  [/^no such team in this shop$/, '店铺里没有这个团队'],
  [/^make another team the default instead$/, '请把其他团队设为默认团队'],
  [/^you cannot change your own role or deactivate yourself$/, '不能修改自己的角色，也不能停用自己'],
  [/^the shop must keep at least one active admin$/, '店铺至少要保留一位启用中的管理员'],
  [/^the member is already deactivated$/, '该成员已经停用'],
  [/^the member is active$/, '该成员没有停用'],
  [/^the default team cannot be deleted\b.*$/, '默认团队不能删除，请先把其他团队设为默认'],
  [/^the team still has members\b.*$/, '团队里还有启用中的成员，请先把他们移到其他团队'],
  [/^this account has been deactivated\b.*$/, '该账号已被停用，请联系店铺管理员'],
  [/^choose your own password first\b.*$/, '请先设置新密码'],
  // Sentences that start with the field's name instead of `field: ` (`{label}` is $1's label).
  [/^([a-z_]+) must be an e-mail address$/, '{label}须为有效的邮箱地址'],
  [/^([a-z_]+) is required\b.*$/, '请填写{label}'],
  [/^([a-z_]+) must be (?:between )?(\d+)(?:-| and )(\d+)$/, '{label}须在 $2 到 $3 之间'],
  [/^([a-z_]+) must be at most (\d+) characters$/, '{label}最多 $2 个字'],
  // Business hours: `spec.weekly: mon: intervals overlap` arrives as the reason `mon: …`.
  [/^(mon|tue|wed|thu|fri|sat|sun): intervals overlap$/, '{weekday}的时段有重叠'],
  [/^(mon|tue|wed|thu|fri|sat|sun): an interval is empty or past 24:00$/, '{weekday}有空时段或超过 24:00 的时段'],
  [/^(mon|tue|wed|thu|fri|sat|sun): at most (\d+) intervals a day$/, '{weekday}最多 $2 个时段'],
  [/^(\d{4}-\d{2}-\d{2}): intervals overlap$/, '$1 的时段有重叠'],
]

/** @type {Record<string, string>} */
const WEEKDAYS_ZH = { mon: '周一', tue: '周二', wed: '周三', thu: '周四', fri: '周五', sat: '周六', sun: '周日' }

/** @param {string} field @param {'zh' | 'en'} lang */
export function fieldLabel(field, lang) {
  const path = field.replace(/\[\d+\]/g, '')
  const last = path.split('.').pop() || field
  const labels = /** @type {Record<string, {zh: string, en: string}>} */ (FIELD_LABELS)
  const hit = labels[path] || labels[last]
  if (hit) return hit[lang]
  // A shop's own custom field (`custom_fields.size`): its key is all we have.
  return field.startsWith('custom_fields.') ? `${FIELD_LABELS.custom_fields[lang]}「${last}」` : ''
}

/** @param {string} code @param {'zh' | 'en'} lang */
export function codeText(code, lang) {
  const hit = /** @type {Record<string, {zh: string, en: string}>} */ (CODE_TEXTS)[code]
  return (hit || CODE_TEXTS.unknown)[lang]
}

/**
 * @param {string} reason
 * @returns {string | null}
 */
function reasonZh(reason) {
  for (const [re, text] of REASONS_ZH) {
    const m = reason.match(/** @type {RegExp} */ (re))
    if (!m) continue
    let out = /** @type {string} */ (text).replace(/\$(\d)/g, (_, i) => m[Number(i)] ?? '')
    if (out.includes('{label}')) out = out.replace('{label}', fieldLabel(m[1] || '', 'zh') || '该项')
    if (out.includes('{weekday}')) out = out.replace('{weekday}', WEEKDAYS_ZH[m[1]] || m[1])
    if (out.includes('{fields}'))
      out = out.replace(
        '{fields}',
        (m[1] || '')
          .split(/,\s*/)
          .map((f) => fieldLabel(f, 'zh') || f)
          .join('、'),
      )
    return out
  }
  return null
}

/**
 * The text a person reads for a server error.
 * @param {string | undefined} code the error's code
 * @param {string | undefined} message the server's English sentence
 * @param {'zh' | 'en'} lang
 * @param {string} [field] the request field the server says the error is about
 */
export function describeError(code, message, lang, field) {
  const base = codeText(code || 'unknown', lang)
  const msg = (message || '').trim()
  if (lang === 'en') return msg && code !== 'internal' && code !== 'unavailable' && msg.toLowerCase() !== base.toLowerCase() ? `${base}: ${msg}` : base
  if (!msg && field) return fieldLabel(field, 'zh') ? `${fieldLabel(field, 'zh')}：${base}` : base
  if (!msg || code === 'internal' || code === 'unavailable' || code === 'network') return base
  // The server names the field: the reason is what follows `field: ` in its message, if anything.
  if (field) {
    const label = fieldLabel(field, 'zh')
    const rest = msg.startsWith(field + ': ') ? msg.slice(field.length + 2) : msg
    const reason = reasonZh(rest)
    if (label) return `${label}：${reason || base}`
    return reason || base
  }
  // `field: reason` (the field is a path such as `orders[1].buyer.phone` or `custom_fields.size`).
  const m = msg.match(/^([a-z][a-z0-9_]*(?:\[\d+\])?(?:\.[a-z0-9_]+(?:\[\d+\])?)*)(?:\[\d+\])?: (.+)$/)
  if (m) {
    const label = fieldLabel(m[1], 'zh')
    const reason = reasonZh(m[2])
    if (label) return `${label}：${reason || base}`
    if (reason) return reason
    return base
  }
  return reasonZh(msg) || base
}
