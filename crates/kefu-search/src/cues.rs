//! Rule-based intent cues: which script category a shopper message (or a reply) is about.
//!
//! A *cue* is a fine-grained topic (refund, invoice, stock, courier …) with a hand-written keyword list
//! in Chinese and English; each cue belongs to one script [`Category`]. Matching is on the
//! width-folded, lower-cased text: Chinese keywords are substrings, English keywords must start at a
//! word boundary (`ship` matches `shipping`, not `relationship`) and a keyword ending in `$` must also
//! end at one (`hi$` does not match `his`). A match weighs its length in characters, so the more specific
//! keyword wins: `质量问题` (after-sale) beats `质量` (quality), `别家更便宜` (objection) beats `便宜`
//! (bargaining).
//!
//! The ranking engine uses the per-cue vector ([`CueDetector::cue_vector`]); the script picker and the
//! tests use the winning category ([`CueDetector::category`]).

use serde::{Deserialize, Serialize};

/// The script categories of the default library (stable ids; the Chinese names are the UI labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// 欢迎语
    Greeting,
    /// 售前咨询
    Presale,
    /// 价格解释
    Price,
    /// 运费解释
    Shipping,
    /// 质量保证
    Quality,
    /// 色差说明
    Color,
    /// 议价应对
    Bargain,
    /// 拒绝购买
    Decline,
    /// 催付款
    Payment,
    /// 售后处理
    Aftersale,
    /// 结束语
    Closing,
    /// 异议处理
    Objection,
}

impl Category {
    /// All categories, in id order.
    pub const ALL: [Category; 12] = [
        Category::Greeting,
        Category::Presale,
        Category::Price,
        Category::Shipping,
        Category::Quality,
        Category::Color,
        Category::Bargain,
        Category::Decline,
        Category::Payment,
        Category::Aftersale,
        Category::Closing,
        Category::Objection,
    ];

    /// The stable English id (`greeting`, `aftersale` …).
    pub fn id(self) -> &'static str {
        match self {
            Category::Greeting => "greeting",
            Category::Presale => "presale",
            Category::Price => "price",
            Category::Shipping => "shipping",
            Category::Quality => "quality",
            Category::Color => "color",
            Category::Bargain => "bargain",
            Category::Decline => "decline",
            Category::Payment => "payment",
            Category::Aftersale => "aftersale",
            Category::Closing => "closing",
            Category::Objection => "objection",
        }
    }

    /// The Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            Category::Greeting => "欢迎语",
            Category::Presale => "售前咨询",
            Category::Price => "价格解释",
            Category::Shipping => "运费解释",
            Category::Quality => "质量保证",
            Category::Color => "色差说明",
            Category::Bargain => "议价应对",
            Category::Decline => "拒绝购买",
            Category::Payment => "催付款",
            Category::Aftersale => "售后处理",
            Category::Closing => "结束语",
            Category::Objection => "异议处理",
        }
    }

    /// The category with this id.
    pub fn from_id(id: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.id() == id)
    }
}

use Category::*;

/// (cue name, category, keywords). Order matters only for ties of equal weight: earlier wins.
const CUES: &[(&str, Category, &[&str])] = &[
    (
        "objection",
        Objection,
        &[
            "考虑",
            "想想",
            "再看看",
            "再看一下",
            "看看再说",
            "别家",
            "别的店",
            "其他店",
            "其它店",
            "别人家",
            "更便宜",
            "太贵",
            "有点贵",
            "好贵",
            "贵了点",
            "不值",
            "犹豫",
            "不确定",
            "比较一下",
            "对比一下",
            "拼多多",
            "淘宝上",
            "实体店",
            "商场里",
            "比你们便宜",
            "划算吗",
            "值不值",
            "值得买吗",
            "不太放心",
            "think about it",
            "think it over",
            "too expensive",
            "pricey",
            "other shop",
            "other store",
            "elsewhere",
            "not sure",
            "compare",
            "worth it",
            "worth the",
            "hesitat",
            "overpriced",
        ],
    ),
    (
        "bargain",
        Bargain,
        &[
            "便宜",
            "优惠",
            "打折",
            "打个折",
            "折扣",
            "少点",
            "少一点",
            "减点",
            "抹零",
            "抹个零",
            "砍价",
            "最低价",
            "能少",
            "让点",
            "让利",
            "送点",
            "送个",
            "赠品",
            "有没有活动",
            "满减",
            "优惠券",
            "券",
            "老客户",
            "团购",
            "批发",
            "多买",
            "买两件",
            "买多",
            "议价",
            "还价",
            "便宜点",
            "discount",
            "cheaper",
            "coupon",
            "deal",
            "lower the price",
            "best price",
            "promo",
            "bulk",
            "free gift",
            "any offer",
            "bargain",
            "knock",
            "off$",
        ],
    ),
    (
        "price",
        Price,
        &[
            "价格",
            "多少钱",
            "怎么卖",
            "几块",
            "涨价",
            "降价",
            "差价",
            "原价",
            "标价",
            "活动价",
            "划线价",
            "价钱",
            "售价",
            "怎么这么贵",
            "为什么这么贵",
            "为啥这么贵",
            "凭什么",
            "贵在哪",
            "单价",
            "总价",
            "含税",
            "价保",
            "保价",
            "price",
            "how much",
            "cost",
            "expensive",
            "priced",
        ],
    ),
    (
        "shipping",
        Shipping,
        &[
            "运费",
            "邮费",
            "包邮",
            "快递",
            "物流",
            "发货",
            "到货",
            "几天到",
            "多久到",
            "几天能到",
            "配送",
            "送到",
            "顺丰",
            "中通",
            "圆通",
            "韵达",
            "申通",
            "邮政",
            "京东快递",
            "发什么",
            "寄",
            "送货",
            "偏远",
            "新疆",
            "西藏",
            "运单",
            "单号",
            "派送",
            "签收",
            "上门",
            "自提",
            "加急",
            "什么时候发",
            "什么时候到",
            "到了吗",
            "shipping",
            "ship",
            "deliver",
            "courier",
            "postage",
            "arriv",
            "track",
            "dispatch",
            "freight",
            "express",
            "parcel",
            "package",
        ],
    ),
    (
        "color",
        Color,
        &[
            "色差",
            "颜色",
            "图片不一样",
            "和图片",
            "跟图片",
            "实物",
            "偏色",
            "偏黄",
            "偏暗",
            "发黄",
            "跟图上",
            "和图上",
            "图上",
            "照片",
            "色号",
            "显白",
            "显黑",
            "拍出来",
            "colour",
            "color",
            "shade",
            "tone",
            "look different",
            "the picture",
            "the photo",
            "the pictures",
            "the photos",
        ],
    ),
    (
        "quality",
        Quality,
        &[
            "质量",
            "正品",
            "假货",
            "假的",
            "真的假的",
            "耐用",
            "保修",
            "质保",
            "做工",
            "起球",
            "结实",
            "靠谱",
            "甲醛",
            "异味",
            "材料",
            "面料",
            "品质",
            "是不是正品",
            "专柜",
            "检测",
            "认证",
            "耐穿",
            "掉色",
            "缩水",
            "安全吗",
            "能用多久",
            "authentic",
            "genuine",
            "fake",
            "quality",
            "durable",
            "warranty",
            "last long",
            "real$",
            "original",
            "certified",
            "sturdy",
            "well made",
        ],
    ),
    (
        "aftersale",
        Aftersale,
        &[
            "退货",
            "退款",
            "换货",
            "退换",
            "坏了",
            "破损",
            "破了",
            "漏",
            "少发",
            "漏发",
            "发错",
            "错发",
            "维修",
            "投诉",
            "质量问题",
            "不能用",
            "用不了",
            "无理由",
            "售后",
            "补发",
            "退回",
            "寄回",
            "退了",
            "换一个",
            "换个",
            "有问题",
            "不好用",
            "不满意",
            "坏的",
            "裂",
            "碎了",
            "返修",
            "赔",
            "取消订单",
            "不想要了",
            "收到的",
            "收到了",
            "return",
            "refund",
            "exchange",
            "broken",
            "damaged",
            "defective",
            "wrong item",
            "wrong size",
            "missing",
            "repair",
            "not working",
            "doesn't work",
            "stopped working",
            "cracked",
            "complain",
            "replacement",
            "money back",
            "faulty",
        ],
    ),
    (
        "payment",
        Payment,
        &[
            "付款",
            "支付",
            "拍下",
            "下单",
            "付不了",
            "花呗",
            "信用卡",
            "货到付款",
            "分期",
            "微信支付",
            "支付宝",
            "怎么拍",
            "改价",
            "改一下价",
            "付了",
            "付钱",
            "转账",
            "余额",
            "白条",
            "银行卡",
            "还没付",
            "待付款",
            "拍了",
            "pay",
            "payment",
            "checkout",
            "check out",
            "credit card",
            "paypal",
            "installment",
            "place the order",
            "place an order",
            "card$",
        ],
    ),
    (
        "presale",
        Presale,
        &[
            "有货",
            "有没有货",
            "还有货",
            "没货",
            "库存",
            "现货",
            "尺码",
            "码数",
            "尺寸",
            "多大",
            "适合",
            "怎么用",
            "使用方法",
            "参数",
            "型号",
            "区别",
            "推荐",
            "款式",
            "兼容",
            "保质期",
            "发票",
            "规格",
            "多重",
            "重量",
            "身高",
            "体重",
            "穿多大",
            "什么码",
            "能不能用",
            "可以用吗",
            "能用吗",
            "有没有",
            "几岁",
            "材质",
            "配件",
            "说明书",
            "链接",
            "预售",
            "补货",
            "什么时候有",
            "适用",
            "in stock",
            "size",
            "fit",
            "recommend",
            "material",
            "difference",
            "compatible",
            "available",
            "invoice",
            "restock",
            "which one",
            "spec",
            "dimension",
            "how to use",
            "does it come with",
            "suitable",
            "weigh",
        ],
    ),
    (
        "decline",
        Decline,
        &[
            "不要了",
            "不买了",
            "算了",
            "不需要",
            "不用了",
            "先不买",
            "先不要",
            "不考虑了",
            "下次再买",
            "下次吧",
            "以后再说",
            "没兴趣",
            "不感兴趣",
            "买不起",
            "no thanks",
            "no thank you",
            "not interested",
            "don't need",
            "do not need",
            "never mind",
            "nevermind",
            "not buying",
            "pass on",
            "maybe next time",
            "i'll skip",
            "not for me",
        ],
    ),
    (
        "closing",
        Closing,
        &[
            "谢谢",
            "感谢",
            "多谢",
            "再见",
            "拜拜",
            "没有了",
            "没问题了",
            "就这样",
            "辛苦了",
            "明白了",
            "知道了",
            "好的收到",
            "麻烦你了",
            "thank",
            "thx",
            "bye",
            "that's all",
            "that is all",
            "got it",
            "appreciate",
            "have a nice",
            "cheers",
        ],
    ),
    (
        "greeting",
        Greeting,
        &[
            "在吗",
            "在不在",
            "你好",
            "您好",
            "有人吗",
            "客服",
            "哈喽",
            "嗨",
            "早上好",
            "晚上好",
            "下午好",
            "在么",
            "hello",
            "hi$",
            "hey$",
            "anyone there",
            "anybody there",
            "good morning",
            "good evening",
            "good afternoon",
            "are you there",
        ],
    ),
];

/// Number of cues, i.e. the length of a cue vector.
pub const CUE_COUNT: usize = CUES.len();

/// Detects cues and categories in text. Stateless apart from its tables; cheap to build.
#[derive(Debug, Default, Clone)]
pub struct CueDetector {}

impl CueDetector {
    /// A detector with the built-in keyword lists.
    pub fn new() -> Self {
        Self {}
    }

    /// Weight of each cue in `text` (sum of the char lengths of its matching keywords).
    pub fn cue_vector(&self, text: &str) -> [f32; CUE_COUNT] {
        let norm = fold(text);
        let mut v = [0f32; CUE_COUNT];
        for (i, (_, _, words)) in CUES.iter().enumerate() {
            for w in *words {
                if let Some(len) = matches(&norm, w) {
                    // English keywords are longer in chars for the same specificity
                    let weight = if w.is_ascii() {
                        (len as f32 / 2.5).max(1.5)
                    } else {
                        len as f32
                    };
                    v[i] += weight;
                }
            }
        }
        v
    }

    /// Score of each category in `text`: the best keyword of each of its cues, summed.
    pub fn category_scores(&self, text: &str) -> [f32; 12] {
        let v = self.cue_vector(text);
        let mut s = [0f32; 12];
        for (i, (_, cat, _)) in CUES.iter().enumerate() {
            let k = Category::ALL.iter().position(|c| c == cat).unwrap_or(0);
            s[k] += v[i];
        }
        s
    }

    /// The most likely category of `text`, or `None` when no keyword matches.
    pub fn category(&self, text: &str) -> Option<Category> {
        let v = self.cue_vector(text);
        let mut best: Option<(f32, Category)> = None;
        // iterate in table order so that ties go to the earlier (more specific) cue
        let mut per_cat = [0f32; 12];
        for (i, (_, cat, _)) in CUES.iter().enumerate() {
            let k = Category::ALL.iter().position(|c| c == cat).unwrap_or(0);
            per_cat[k] += v[i];
        }
        for (_, cat, _) in CUES {
            let k = Category::ALL.iter().position(|c| c == cat).unwrap_or(0);
            let s = per_cat[k];
            if s > 0.0 && best.is_none_or(|(b, _)| s > b) {
                best = Some((s, *cat));
            }
        }
        best.map(|(_, c)| c)
    }
}

/// Lower-case and fold full-width ASCII.
fn fold(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Length in chars of keyword `w` if it occurs in `text` under the boundary rules of the module doc.
fn matches(text: &str, w: &str) -> Option<usize> {
    let (w, end_boundary) = match w.strip_suffix('$') {
        Some(w) => (w, true),
        None => (w, false),
    };
    let ascii = w.is_ascii();
    let mut from = 0;
    while let Some(i) = text[from..].find(w) {
        let at = from + i;
        let end = at + w.len();
        let ok = !ascii
            || ((at == 0 || !text.as_bytes()[at - 1].is_ascii_alphabetic())
                && (!end_boundary
                    || end == text.len()
                    || !text.as_bytes()[end].is_ascii_alphabetic()));
        if ok {
            return Some(w.chars().count());
        }
        from = at + 1;
        while !text.is_char_boundary(from) {
            from += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specific_keywords_win() {
        let d = CueDetector::new();
        assert_eq!(d.category("这个质量问题怎么处理"), Some(Aftersale));
        assert_eq!(d.category("质量怎么样"), Some(Quality));
        assert_eq!(d.category("别家更便宜"), Some(Objection));
        assert_eq!(d.category("能便宜点吗"), Some(Bargain));
        assert_eq!(d.category("Is shipping free?"), Some(Shipping));
        assert_eq!(d.category("his relationship"), None);
        assert_eq!(d.category("ＨＩ"), Some(Greeting));
    }

    #[test]
    fn ids_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::from_id(c.id()), Some(c));
        }
    }
}
