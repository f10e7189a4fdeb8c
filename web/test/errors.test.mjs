// Every error code the server can send has a Chinese and an English text, and the texts a person
// reads never carry the server's English sentence in the Chinese UI.
// Run from web/: npm run test:unit
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { CODE_TEXTS, IMPORT_REASONS, describeError, importReasonText } from '../src/errorText.js'

/** The codes of `ErrorCode::as_str` in crates/kefu-core/src/error.rs. */
function serverCodes() {
  const src = readFileSync(new URL('../../crates/kefu-core/src/error.rs', import.meta.url), 'utf8')
  const body = src.slice(src.indexOf('fn as_str'), src.indexOf('fn http_status'))
  const codes = [...body.matchAll(/ErrorCode::\w+\s*=>\s*"([a-z_]+)"/g)].map((m) => m[1])
  assert.ok(codes.length >= 10, `read only ${codes.length} codes from error.rs; did its layout change?`)
  return codes
}

const CJK = /[\u4e00-\u9fff]/

test('every server error code has a Chinese and an English text', () => {
  const missing = []
  for (const code of serverCodes()) {
    const t = CODE_TEXTS[code]
    if (!t || !CJK.test(t.zh || '') || !(t.en || '').trim()) missing.push(code)
  }
  assert.deepEqual(missing, [], `error codes without a text in web/src/errorText.js: ${missing.join(', ')}`)
})

test('Chinese texts never show the server sentence', () => {
  const cases = [
    ['validation_failed', 'phone: must be 5-20 digits', '手机号：须为 5-20 位数字'],
    ['validation_failed', 'orders[1].buyer.phone: must be 5-20 digits', '手机号：须为 5-20 位数字'],
    ['validation_failed', 'order_no: not one of your orders', '订单号：不是您的订单'],
    ['validation_failed', 'to resolve this ticket, fill in: root_causes, handling_result', '解决工单前请填写：根因、处理结果'],
    ['validation_failed', 'carrier is required (at most 40 characters)', '请填写快递公司（最多 40 个字）'],
    ['validation_failed', 'max_concurrent: must be between 1 and 100, or null for the shop\'s default', '接待上限：须在 1 到 100 之间'],
    ['validation_failed', 'custom_fields.size: no such field', '自定义字段「size」：没有这个字段'],
    ['bad_request', "Failed to deserialize query string: invalid digit found in string", '请求格式有误'],
    ['conflict', 'cannot move from new to closed', '数据已变化或与现有内容冲突，请刷新后重试'],
    ['unauthorized', 'wrong e-mail or password', '邮箱或密码错误'],
    ['internal', 'internal error', '服务器出错了，请稍后再试'],
    ['something_new', 'a sentence', '发生未知错误'],
    ['validation_failed', 'from_address must be an e-mail address', '发件地址须为有效的邮箱地址'],
    ['validation_failed', 'spec.weekly: mon: intervals overlap', '每周工作时间：周一的时段有重叠', 'spec.weekly'],
    // The server names the field (`{error: {code, message, field}}`).
    ['validation_failed', 'body: must not contain the NUL character (U+0000)', '内容：含有不允许的空字符', 'body'],
    ['validation_failed', 'items[2].buyer.phone: must be 5-20 digits', '手机号：须为 5-20 位数字', 'items[2].buyer.phone'],
    ['validation_failed', 'some_new_field: a reason nobody translated', '填写的内容不符合要求', 'some_new_field'],
    // Members, teams and the password policy.
    ['validation_failed', 'new_password: must be at least 8 characters', '新密码：至少 8 个字符', 'new_password'],
    ['validation_failed', 'new_password: must not be only digits', '新密码：不能全是数字', 'new_password'],
    ['validation_failed', 'password: must not be the e-mail address', '密码：不能与邮箱相同', 'password'],
    ['validation_failed', 'current_password: is wrong', '当前密码：不正确', 'current_password'],
    ['validation_failed', 'role: must be agent, supervisor or admin', '角色：须为客服、主管或管理员', 'role'],
    ['validation_failed', 'agent_id: the member is deactivated', '客服：该成员已停用', 'agent_id'],
    ['conflict', 'email: is already used', '邮箱：已被使用', 'email'],
    ['conflict', 'name: a team with this name already exists', '名称：已存在同名内容', 'name'],
    ['conflict', 'you cannot change your own role or deactivate yourself', '不能修改自己的角色，也不能停用自己'],
    ['conflict', 'the shop must keep at least one active admin', '店铺至少要保留一位启用中的管理员'],
    ['conflict', 'the team still has members; move them to other teams first', '团队里还有启用中的成员，请先把他们移到其他团队'],
    ['not_found', 'team_ids: no such team in this shop', '所属团队：店铺里没有这个团队', 'team_ids'],
    ['account_deactivated', "this account has been deactivated; ask the shop's admin", '该账号已被停用，请联系店铺管理员'],
    // A whole path's label wins over its last part's (the widget's invitation is no greeting).
    ['validation_failed', 'widget.greeting: must be at most 60 characters', '聊天窗口邀请语：最多 60 个字', 'widget.greeting'],
    ['validation_failed', 'widget.color: must be a colour like #1f6feb', '聊天窗口主题色：须为颜色值，如 #1f6feb', 'widget.color'],
    ['validation_failed', "order_id: not an order of this conversation's customer", '订单：不是本会话顾客的订单', 'order_id'],
    ['validation_failed', 'window_days: must be between 1 and 30', '归因窗口（天）：须在 1 到 30 之间', 'window_days'],
    ['validation_failed', 'slow_response_seconds: must be between 10 and 3600', '慢响应阈值（秒）：须在 10 到 3600 之间', 'slow_response_seconds'],
  ]
  for (const [code, message, want, field] of cases) {
    const got = describeError(code, message, 'zh', field)
    assert.equal(got, want, `${code} / ${message}`)
    assert.ok(!/[a-z]{4,}/.test(got.replace(/「[^」]*」/g, '')), `English left in "${got}"`)
  }
})

test('English texts keep the server detail', () => {
  assert.equal(describeError('validation_failed', 'phone: must be 5-20 digits', 'en'), 'The input was not accepted: phone: must be 5-20 digits')
  assert.equal(describeError('internal', 'internal error', 'en'), 'Server error, please try again later')
})

/** The reason codes of `Reason::as_str` in crates/kefu-core/src/tabular.rs. */
function importReasonCodes() {
  const src = readFileSync(new URL('../../crates/kefu-core/src/tabular.rs', import.meta.url), 'utf8')
  const body = src.slice(src.indexOf('pub fn as_str'), src.indexOf('// end of codes'))
  const codes = [...body.matchAll(/Reason::\w+\s*=>\s*"([a-z_]+)"/g)].map((m) => m[1])
  assert.ok(codes.length >= 10, `read only ${codes.length} reason codes from tabular.rs; did its layout change?`)
  return codes
}

test('every import reason code has a Chinese and an English text', () => {
  const missing = []
  for (const code of importReasonCodes()) {
    const t = IMPORT_REASONS[code]
    if (!t || !CJK.test(t.zh || '') || !(t.en || '').trim()) missing.push(code)
  }
  assert.deepEqual(missing, [], `import reason codes without a text in web/src/errorText.js: ${missing.join(', ')}`)
})

test('import rows read in Chinese, with their other line and field', () => {
  const zh = (row) => importReasonText(row, 'zh')
  assert.equal(zh({ code: 'not_whole_number', field: 'quantity', message: 'must be a whole number' }), '须为整数')
  assert.equal(zh({ code: 'differs', field: 'placed_at', other_line: 3, message: "differs from line 3 of the same order ('x')" }), '与第 3 行不一致（同一订单或重复的编号）')
  assert.equal(zh({ code: 'required_with', field: 'tracking_no', other_field: 'carrier', message: 'required when carrier is given' }), '填写了快递公司时必须填写')
  assert.equal(zh({ code: 'ambiguous_amount', field: 'line_total', message: 'is ambiguous' }), '金额写法有歧义，请写成 1329.00 或 1,329.00（逗号只用作千位分隔）')
  assert.equal(zh({ code: 'bad_value', field: 'rating', message: 'must be between 1 and 5' }), '须在 1 到 5 之间')
  assert.equal(zh({ code: 'too_long', field: 'name', message: 'must be at most 64 characters without control characters' }), '内容过长')
  assert.equal(zh({ code: 'bad_value', field: 'order_status', message: 'must be one of created, paid' }), '取值无效')
  // A row without a known code (an older server) never shows English in Chinese.
  assert.equal(zh({ message: 'must not be empty' }), '不能为空')
  assert.equal(zh({ code: 'brand_new', message: 'something else' }), '填写的内容不符合要求')
  for (const code of importReasonCodes()) {
    const got = zh({ code, field: 'x', other_field: 'carrier', other_line: 2, message: 'an English sentence' })
    assert.ok(!/[a-z]{4,}/.test(got.replace(/\d,\d{3}\.\d\d|\d{4}[-/]\d+[-/]\d+ \d+:\d+(:\d+)?/g, '')), `English left in "${got}"`)
  }
  // English readers get English.
  assert.equal(importReasonText({ code: 'bad_time', message: 'x' }, 'en'), 'Must be a time like 2026/12/6 16:00 or 2026-12-06 16:00:00')
  assert.equal(importReasonText({ code: 'required_with', other_field: 'carrier', message: 'x' }, 'en'), 'Required when Carrier is given')
  // A missing column names the column in Chinese.
  assert.equal(describeError('validation_failed', 'header: missing required columns: placed_at, quantity', 'zh', 'header'), '表头：缺少必需的列：下单时间、数量')
  assert.equal(describeError('validation_failed', 'file: could not be read as a spreadsheet (XLSX)', 'zh', 'file'), '文件：无法读取该表格文件（请上传 CSV 或 XLSX）')
  assert.equal(describeError('validation_failed', 'file: a spreadsheet may be at most 10 MB; save larger ones as CSV', 'zh', 'file'), '文件：Excel 表格最大 10 MB，更大的文件请另存为 CSV 后上传')
})
