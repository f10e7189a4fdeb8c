// Names people read for values the server keeps as keys, where no locale file of an area owns
// them yet. (Statuses, kinds and reasons of each area live in that area's locale file.)
import { locale, t, type MsgKey } from './i18n'

/** Shop platforms reviews and orders come from; reviews store them as typed, lower-cased. */
const PLATFORMS: Record<string, { zh: string; en: string }> = {
  taobao: { zh: '淘宝', en: 'Taobao' },
  tmall: { zh: '天猫', en: 'Tmall' },
  jd: { zh: '京东', en: 'JD' },
  jingdong: { zh: '京东', en: 'JD' },
  pdd: { zh: '拼多多', en: 'Pinduoduo' },
  pinduoduo: { zh: '拼多多', en: 'Pinduoduo' },
  douyin: { zh: '抖音', en: 'Douyin' },
  kuaishou: { zh: '快手', en: 'Kuaishou' },
  xiaohongshu: { zh: '小红书', en: 'Xiaohongshu' },
  wechat: { zh: '微信', en: 'WeChat' },
  weixin: { zh: '微信', en: 'WeChat' },
  youzan: { zh: '有赞', en: 'Youzan' },
  shopify: { zh: 'Shopify', en: 'Shopify' },
  website: { zh: '官网', en: 'Website' },
  web: { zh: '官网', en: 'Website' },
}

/** A platform's name; one kefu does not know is shown as the shop typed it. */
export function platformLabel(p: string | null | undefined): string {
  if (!p) return ''
  return PLATFORMS[p.toLowerCase()]?.[locale.value] ?? p
}

/** `t(prefix + key)` when the dictionary has it, else the key itself (a value newer than the UI). */
export function keyLabel(prefix: string, key: string | null | undefined): string {
  if (!key) return ''
  const k = (prefix + key) as MsgKey
  const s = t(k)
  return s === k ? key : s
}
