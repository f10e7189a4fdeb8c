//! The demo shop: a small, believable digital-goods store with a pre-sale and an after-sale team,
//! five accounts, a few products and shoppers with past conversations. Seeding is idempotent:
//! an existing `demo` shop is left as it is.

use anyhow::{Result, anyhow};
use kefu_core::customers::*;
use kefu_core::model::*;
use kefu_core::store::Store;
use std::net::SocketAddr;

pub const DEMO_PASSWORD: &str = "demo1234";

struct DemoUser {
    email: &'static str,
    name: &'static str,
    role: Role,
    team: Option<&'static str>,
}

const USERS: &[DemoUser] = &[
    DemoUser {
        email: "wang.dian@demo.kefu",
        name: "王店长",
        role: Role::Admin,
        team: None,
    },
    DemoUser {
        email: "zhou.jun@demo.kefu",
        name: "周主管",
        role: Role::Supervisor,
        team: None,
    },
    DemoUser {
        email: "li.na@demo.kefu",
        name: "李娜",
        role: Role::Agent,
        team: Some("售前"),
    },
    DemoUser {
        email: "zhang.wei@demo.kefu",
        name: "张伟",
        role: Role::Agent,
        team: Some("售前"),
    },
    DemoUser {
        email: "chen.jing@demo.kefu",
        name: "陈静",
        role: Role::Agent,
        team: Some("售后"),
    },
];

/// (sku, name, price in fen, description, picture colour)
const PRODUCTS: &[(&str, &str, i64, &str, &str)] = &[
    (
        "XMF-EAR-01",
        "降噪蓝牙耳机 Pro",
        59900,
        "主动降噪，续航 30 小时，支持无线充电",
        "#4f7cff",
    ),
    (
        "XMF-WATCH-02",
        "运动智能手表 S2",
        89900,
        "心率血氧监测，50 米防水，14 天续航",
        "#1fb58f",
    ),
    (
        "XMF-PB-03",
        "20000mAh 快充移动电源",
        14900,
        "双向 65W 快充，可带上飞机",
        "#ff8a3d",
    ),
    (
        "XMF-KB-04",
        "静音机械键盘 K87",
        32900,
        "红轴静音，三模连接，热插拔",
        "#8a5cf6",
    ),
];

/// Past dialogues written for the demo: (shopper name, phone, [(from shopper?, text)], resolved?)
type Dialogue = (
    &'static str,
    &'static str,
    &'static [(bool, &'static str)],
    bool,
);
const DIALOGUES: &[Dialogue] = &[
    (
        "林小雨",
        "13800001111",
        &[
            (true, "你好，降噪耳机 Pro 戴眼镜会不会压耳朵？"),
            (
                false,
                "您好～这款耳机是入耳式的，不压耳廓，戴眼镜完全不受影响哦。",
            ),
            (true, "那降噪效果怎么样，地铁上能用吗？"),
            (
                false,
                "地铁、飞机这类低频噪音是它最擅长的，开启深度降噪后基本听不到车厢的轰鸣声。",
            ),
            (true, "好的，我下单了"),
            (
                false,
                "感谢支持！今天下午 4 点前付款当天发货，有任何问题随时找我们～",
            ),
        ],
        true,
    ),
    (
        "赵先生",
        "13900002222",
        &[
            (true, "手表收到了，但是充电器好像接触不良，充不进去"),
            (
                false,
                "非常抱歉给您带来不便！麻烦您拍一张充电底座和手表背面的照片，我帮您看一下。",
            ),
            (true, "照片发了，你看下"),
            (
                false,
                "看到了，是底座触点有氧化。我们马上给您补发一个新的充电底座，单号稍后发您。",
            ),
        ],
        false,
    ),
    (
        "Emily",
        "",
        &[
            (true, "Hi, do you ship the power bank to Hong Kong?"),
            (
                false,
                "Hi Emily! Yes, we ship to Hong Kong via SF Express, usually 2-3 days.",
            ),
        ],
        true,
    ),
];

/// Profiles of the demo shoppers: (name, external id, e-mail, source, tags, note, address
/// (recipient, phone, region, detail), membership level, SMS consent).
type DemoProfile = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static str,
    (&'static str, &'static str, &'static str, &'static str),
    &'static str,
    bool,
);
const PROFILES: &[DemoProfile] = &[
    (
        "林小雨",
        "demo-u1001",
        "lin.xiaoyu@example.com",
        "search",
        &["老客", "耳机控", "价格敏感"],
        "戴眼镜，关注佩戴舒适度；大促期间下单多，适合推送满减券。",
        (
            "林小雨",
            "13800001111",
            "上海市 浦东新区",
            "世纪大道 1198 号 世纪汇 2 座 1702",
        ),
        "金卡",
        true,
    ),
    (
        "赵先生",
        "demo-u1002",
        "zhao.ming@example.com",
        "marketplace",
        &["售后跟进", "手表用户"],
        "充电底座触点氧化，已补发新底座（顺丰），三天后回访确认。",
        ("赵明", "13900002222", "北京市 朝阳区", "望京 SOHO T3 1508"),
        "银卡",
        false,
    ),
    (
        "Emily",
        "demo-u1003",
        "emily.chan@example.hk",
        "social",
        &["港澳台", "英文沟通"],
        "Prefers English. Ships to Hong Kong via SF Express.",
        (
            "Emily Chan",
            "+852 9123 4567",
            "香港 九龙",
            "尖沙咀 广东道 30 号 10 楼",
        ),
        "普通会员",
        false,
    ),
];

/// Seeds the demo shop if it does not exist yet; returns the banner to print.
pub async fn seed(store: &dyn Store, listen: SocketAddr) -> Result<String> {
    if store.shop_by_slug("demo").await?.is_none() {
        seed_new(store).await?;
    }
    let base = format!("http://{listen}");
    let mut banner = format!(
        "\nkefu demo is running\n  console:   {base}/\n  demo shop: {base}/demo/shop  (as a logged-in member: {base}/demo/shop?as=demo-u1001)\n  logins (password {DEMO_PASSWORD}):\n"
    );
    for u in USERS {
        banner.push_str(&format!(
            "    {:<22} {} ({}{})\n",
            u.email,
            u.name,
            u.role.as_str(),
            u.team.map(|t| format!(", {t}")).unwrap_or_default()
        ));
    }
    Ok(banner)
}

/// Example auto-reply rules for the demo shop, switched off so the demo chats behave as before; an
/// admin turns them on in Settings.
fn demo_auto_replies() -> Result<kefu_core::tools::AutoReplyRules> {
    let mut rules: kefu_core::tools::AutoReplyRules = serde_json::from_value(serde_json::json!({
        "business_hours": {"enabled": false, "time_zone": "Asia/Shanghai", "days": [
            [{"start": "09:00", "end": "22:00"}], [{"start": "09:00", "end": "22:00"}],
            [{"start": "09:00", "end": "22:00"}], [{"start": "09:00", "end": "22:00"}],
            [{"start": "09:00", "end": "22:00"}], [{"start": "10:00", "end": "18:00"}],
            [{"start": "10:00", "end": "18:00"}]]},
        "after_hours": {"enabled": false,
            "text": "您好，现在是非工作时间（工作日 9:00-22:00，周末 10:00-18:00），客服上线后会第一时间回复您。"},
        "keywords": [
            {"enabled": false, "keywords": ["发货", "快递", "几天到"],
             "reply": "亲，现货订单48小时内发货，默认顺丰/中通，江浙沪一般次日达哦～"},
            {"enabled": false, "keywords": ["发票"],
             "reply": "亲，本店支持开具电子发票，下单时填写抬头和税号即可，确认收货后自动发送到您的邮箱～"}
        ]
    }))?;
    rules.validate()?;
    Ok(rules)
}

async fn seed_new(store: &dyn Store) -> Result<()> {
    let shop = store.create_shop("demo", "小蜜蜂数码旗舰店").await?;
    let mut settings = shop.settings.clone();
    settings.greeting =
        "您好，欢迎光临小蜜蜂数码旗舰店！我是您的专属客服，请问有什么可以帮您？".into();
    store.update_shop_settings(shop.id, &settings).await?;
    store
        .put_auto_reply_rules(shop.id, &demo_auto_replies()?)
        .await?;
    // create_shop made the default team 售前; add the after-sale team.
    let after_sale = store.create_team(shop.id, "售后", false).await?;
    let teams = store.list_teams(shop.id).await?;
    let pre_sale = teams
        .iter()
        .find(|t| t.name == "售前")
        .ok_or_else(|| anyhow!("no 售前 team"))?;
    let hash = kefu_service::passwords::hash_password(DEMO_PASSWORD.to_owned()).await?;
    let mut agent_ids = Vec::new();
    for u in USERS {
        let team_id = match u.team {
            Some("售前") => Some(pre_sale.id),
            Some("售后") => Some(after_sale.id),
            _ => None,
        };
        let user = store
            .create_user(NewUser {
                shop_id: shop.id,
                email: u.email.into(),
                name: u.name.into(),
                role: u.role,
                team_id,
                password_hash: hash.clone(),
            })
            .await?;
        agent_ids.push(user);
    }
    for (sku, name, price, description, colour) in PRODUCTS {
        store
            .upsert_product(
                shop.id,
                &NewProduct {
                    sku: (*sku).into(),
                    name: (*name).into(),
                    price_cents: *price,
                    currency: "CNY".into(),
                    image_url: format!("color:{colour}"),
                    description: (*description).into(),
                },
            )
            .await?;
    }
    let li_na = &agent_ids[2];
    let chen_jing = &agent_ids[4];
    let mut chat_customers = Vec::new();
    for (i, (name, phone, turns, resolved)) in DIALOGUES.iter().enumerate() {
        let customer = store
            .create_customer(
                shop.id,
                &NewCustomer {
                    name: Some((*name).into()),
                    phone: (!phone.is_empty()).then(|| (*phone).into()),
                    ..Default::default()
                },
            )
            .await?;
        chat_customers.push(customer.id);
        let agent = if i == 1 { chen_jing } else { li_na };
        for (n, (from_shopper, text)) in turns.iter().enumerate() {
            let id = format!("demo-{i}-{n}");
            if *from_shopper {
                let appended = store
                    .append_customer_message(CustomerMessage {
                        shop_id: shop.id,
                        customer_id: customer.id,
                        body: text,
                        client_msg_id: &id,
                        // Past conversations: no greeting or offline notice replayed into them.
                        announce: false,
                    })
                    .await?;
                if appended.conversation_started {
                    let team = if i == 1 { Some(after_sale.id) } else { None };
                    store
                        .assign(shop.id, appended.conversation.id, Some(agent.id), team)
                        .await?;
                }
            } else {
                let conversation = store
                    .customer_conversation(shop.id, customer.id)
                    .await?
                    .ok_or_else(|| anyhow!("demo conversation missing"))?;
                store
                    .append_agent_message(AgentMessage {
                        shop_id: shop.id,
                        conversation_id: conversation.id,
                        agent,
                        body: text,
                        client_msg_id: &id,
                        private: false,
                        kind: MessageKind::Text,
                        payload: None,
                    })
                    .await?;
            }
        }
        if *resolved {
            let conversation = store
                .customer_conversation(shop.id, customer.id)
                .await?
                .ok_or_else(|| anyhow!("demo conversation missing"))?;
            store
                .set_status(shop.id, conversation.id, ConversationStatus::Resolved)
                .await?;
            store
                .record_customer_event(
                    shop.id,
                    customer.id,
                    &CustomerEvent {
                        kind: "conversation.resolved",
                        title: agent.name.clone(),
                        summary: conversation.last_message_preview.clone(),
                        ref_type: Some("conversation"),
                        ref_id: Some(conversation.id),
                    },
                )
                .await?;
        }
        store
            .touch_customer(shop.id, customer.id, kefu_core::time::Millis::now())
            .await?;
        seed_profile(store, shop.id, customer.id, i, &agent_ids[2]).await?;
    }
    seed_more_customers(store, shop.id, &agent_ids[1]).await?;
    seed_commerce(store, shop.id, &chat_customers).await?;
    crate::demo_cards::seed(store, &shop, &agent_ids).await?;
    crate::demo_kpi::seed(store, &shop, &agent_ids).await?;
    seed_order_history(store, shop.id).await?;
    seed_tickets(store, shop.id, &chat_customers, &agent_ids).await?;
    crate::demo_aftersales::seed(store, &shop, &agent_ids).await?;
    // Segments are computed once at the end, so the segments page and the sidebar badges are
    // filled from the first start.
    store
        .recompute_shop(shop.id)
        .await
        .map_err(|e| anyhow!("segments: {e}"))?;
    Ok(())
}

/// Fields the demo shop defines for its customers.
async fn seed_fields(store: &dyn Store, shop_id: Id) -> Result<()> {
    let defs = [
        (
            "vip_level",
            "会员等级",
            "select",
            vec!["普通会员", "银卡", "金卡", "黑金"],
        ),
        ("birthday", "生日", "date", vec![]),
        ("preference", "偏好", "text", vec![]),
    ];
    for (i, (key, label, kind, options)) in defs.into_iter().enumerate() {
        let def = NewFieldDef {
            key: key.into(),
            label: label.into(),
            kind: kind.into(),
            options: options.into_iter().map(Into::into).collect(),
            position: i as i64,
        }
        .validate()?;
        store.create_field_def(shop_id, &def).await?;
    }
    Ok(())
}

/// How a demo buyer has been ordering: (orders, days between orders, days since the last order,
/// refunds among the orders, price level 0-3).
type Pattern = (i64, i64, i64, i64, usize);
/// A group of demo buyers: how many, their pattern, and how many more days each next member of
/// the group has been silent (so churn risk comes in all three levels).
type Cohort = (usize, Pattern, i64);

/// Two years of orders of a few dozen buyers, shaped so that every segment has members: big
/// spenders (key), regular long-standing buyers, buyers drifting away (churn risk), buyers with
/// many refunds (demanding) and many one-off buyers (the long tail of the Pareto curve). The two
/// dialogue shoppers with phones get a history too (matched by phone), so their sidebars show
/// badges. Deterministic: the same shop every time.
async fn seed_order_history(store: &dyn Store, shop_id: Id) -> Result<()> {
    use kefu_core::commerce::{CommerceChange, OrderInput, validate_order};
    const SURNAMES: &[&str] = &[
        "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙",
    ];
    const GIVEN: &[&str] = &[
        "晓明", "丽", "建国", "婷婷", "浩", "雪", "子涵", "伟", "欣怡", "磊", "佳", "强",
    ];
    // (sku, price in fen) by price level: accessories … flagship.
    const LEVELS: &[(&str, i64)] = &[
        ("XMF-PB-03", 14900),
        ("XMF-KB-04", 32900),
        ("XMF-EAR-01", 59900),
        ("XMF-WATCH-02", 89900),
    ];
    let mut buyers: Vec<(String, String, Pattern)> = vec![
        // 林小雨: a loyal big spender. 赵先生: returns a lot.
        ("林小雨".into(), "13800001111".into(), (9, 70, 12, 0, 2)),
        ("赵先生".into(), "13900002222".into(), (4, 45, 20, 2, 3)),
    ];
    let cohorts: &[Cohort] = &[
        (5, (7, 80, 15, 0, 3), 2),   // key: flagship buyers
        (8, (6, 100, 20, 0, 1), 3),  // long-standing: steady for a year and more
        (6, (5, 60, 130, 0, 2), 25), // drifting away: every two months, silent for longer
        (3, (3, 40, 25, 2, 1), 5),   // demanding
        (6, (2, 60, 45, 0, 1), 9),   // a second purchase
        (30, (1, 0, 0, 0, 0), 0),    // one-off buyers, spread below
    ];
    let mut n = 0usize;
    for (count, pattern, step) in cohorts {
        for k in 0..*count {
            let name = format!(
                "{}{}",
                SURNAMES[n % SURNAMES.len()],
                GIVEN[(n * 7 + n / SURNAMES.len()) % GIVEN.len()]
            );
            let mut p = *pattern;
            p.2 += step * k as i64;
            if p.0 == 1 {
                // One-off buyers: spread over two years, at every price level.
                p.2 = (n as i64 * 23) % 700 + 3;
                p.4 = n % 4;
            }
            buyers.push((name, format!("137{:08}", 10_000 + n), p));
            n += 1;
        }
    }
    let now = kefu_core::time::Millis::now().0;
    let day = kefu_core::segments::DAY_MS;
    let mut docs = Vec::new();
    for (b, (name, phone, (orders, every, since, refunds, level))) in buyers.iter().enumerate() {
        for i in 0..*orders {
            let days_ago = since + (orders - 1 - i) * every;
            // Small, deterministic jitter so rhythms look human.
            let placed = now - days_ago * day - ((b as i64 * 37 + i * 11) % 600) * 60_000;
            let (sku, price) = LEVELS[(level + (i as usize % 2)).min(LEVELS.len() - 1)];
            let mut order = serde_json::json!({
                "order_no": format!("HIST-{:03}-{:02}", b, i),
                "buyer": {"name": name, "phone": phone},
                "placed_at": placed,
                "paid_at": placed + 5 * 60_000,
                "items": [{"sku": sku, "quantity": 1 + (i % 2), "unit_price_cents": price}],
                "receiver_name": name,
                "receiver_phone": phone,
            });
            if i < *refunds {
                order["refunds"] = serde_json::json!([{
                    "refund_no": format!("HIST-R-{:03}-{:02}", b, i),
                    "amount_cents": price,
                    "reason": "质量问题，退货退款",
                }]);
            }
            let input: OrderInput = serde_json::from_value(order)?;
            let index = docs.len();
            let doc = validate_order(&format!("orders[{index}]"), &input)
                .map_err(|e| anyhow!("demo order: {e}"))?;
            docs.push((index, doc));
        }
    }
    let outcome = store
        .apply_commerce(shop_id, CommerceChange::Orders(docs), None)
        .await
        .map_err(|e| anyhow!("demo orders: {e}"))?;
    if outcome.failed > 0 {
        return Err(anyhow!(
            "demo orders rejected: {:?}",
            outcome.items.iter().find(|i| i.error.is_some())
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Commerce: the catalogue, orders with logistics and refunds for the demo shoppers and a few more
// buyers, and recent unpaid orders of shoppers who chatted recently (payment reminders use them).

use kefu_core::commerce::{CommerceChange, OrderInput, ProductDoc, ProductStatus, validate_order};
use kefu_core::time::Millis;
use serde_json::json;

/// (sku, name, price in fen, category, picture colour) — the first four are the spine's products.
const CATALOGUE: &[(&str, &str, i64, &str, &str)] = &[
    ("XMF-EAR-01", "降噪蓝牙耳机 Pro", 59900, "耳机", "#4f7cff"),
    ("XMF-WATCH-02", "运动智能手表 S2", 89900, "穿戴", "#1fb58f"),
    (
        "XMF-PB-03",
        "20000mAh 快充移动电源",
        14900,
        "充电宝",
        "#ff8a3d",
    ),
    ("XMF-KB-04", "静音机械键盘 K87", 32900, "外设", "#8a5cf6"),
    ("XMF-EAR-05", "半入耳蓝牙耳机 Air", 19900, "耳机", "#6b8afd"),
    (
        "XMF-PB-06",
        "10000mAh 磁吸充电宝",
        12900,
        "充电宝",
        "#f59e0b",
    ),
    ("XMF-CHG-07", "65W 氮化镓充电器", 13900, "充电器", "#0ea5e9"),
    ("XMF-CHG-08", "20W PD 快充头", 4900, "充电器", "#22c55e"),
    (
        "XMF-CAB-09",
        "Type-C 编织快充线 1m",
        2990,
        "数据线",
        "#64748b",
    ),
    (
        "XMF-CAB-10",
        "Lightning 快充线 1m",
        3990,
        "数据线",
        "#94a3b8",
    ),
    (
        "XMF-CASE-11",
        "iPhone 15 磁吸手机壳",
        6900,
        "手机壳",
        "#ec4899",
    ),
    (
        "XMF-CASE-12",
        "小米 14 防摔手机壳",
        3900,
        "手机壳",
        "#a855f7",
    ),
];

/// (carrier, tracking prefix, [(hours after shipping, status, text, place)])
type Route = (
    &'static str,
    &'static str,
    &'static [(i64, &'static str, &'static str, &'static str)],
);
const ROUTES: &[Route] = &[
    (
        "顺丰",
        "SF14",
        &[
            (0, "in_transit", "顺丰速运 已收取快件", "深圳市"),
            (
                6,
                "in_transit",
                "快件已发车，正发往【上海转运中心】",
                "深圳市",
            ),
            (20, "in_transit", "快件到达【上海浦东集散中心】", "上海市"),
            (
                26,
                "out_for_delivery",
                "快件交给王师傅，正在派送途中（联系电话：139****5678）",
                "上海市",
            ),
            (
                30,
                "delivered",
                "已签收，签收人：本人。感谢使用顺丰，期待再次为您服务",
                "上海市",
            ),
        ],
    ),
    (
        "中通",
        "7531",
        &[
            (0, "in_transit", "中通快递 快件已揽收", "杭州市"),
            (
                8,
                "in_transit",
                "快件已到达【杭州中转部】，准备发往【北京】",
                "杭州市",
            ),
            (34, "in_transit", "快件已到达【北京顺义分拨中心】", "北京市"),
            (
                44,
                "out_for_delivery",
                "【北京朝阳望京】的快递员李师傅正在派件",
                "北京市",
            ),
            (
                48,
                "delivered",
                "快件已在【望京菜鸟驿站】签收，如有疑问请联系驿站",
                "北京市",
            ),
        ],
    ),
    (
        "圆通",
        "YT78",
        &[
            (0, "in_transit", "圆通速递 已揽收", "广州市"),
            (
                10,
                "in_transit",
                "快件离开【广州转运中心】，发往【成都转运中心】",
                "广州市",
            ),
            (40, "in_transit", "快件到达【成都转运中心】", "成都市"),
            (
                52,
                "out_for_delivery",
                "快件正在派送中，派件员：赵师傅",
                "成都市",
            ),
            (
                56,
                "delivered",
                "快件已签收，签收人：门卫。如有疑问请联系派件员",
                "成都市",
            ),
        ],
    ),
];

/// More buyers beyond the chat shoppers: (name, phone, city address).
const BUYERS: &[(&str, &str, &str)] = &[
    ("王芳", "13700003333", "上海市浦东新区张杨路 500 号"),
    ("刘洋", "13600004444", "北京市朝阳区望京街 9 号"),
    ("陈思远", "13500005555", "成都市武侯区天府大道 88 号"),
    ("孙悦", "13400006666", "杭州市西湖区文三路 199 号"),
    ("黄子涵", "13300007777", "广州市天河区体育西路 103 号"),
    ("周婷", "13200008888", "深圳市南山区科技园南路 12 号"),
];

const HOUR: i64 = 3600 * 1000;
const DAY: i64 = 24 * HOUR;

/// One demo order: lines as (catalogue index, quantity); `shipped_hours_ago`: None = not shipped.
struct DemoOrder<'a> {
    no: &'a str,
    buyer: serde_json::Value,
    receiver: (&'a str, &'a str, &'a str),
    placed_ago: i64,
    paid: bool,
    lines: &'a [(usize, i64)],
    route: usize,
    shipped_hours_ago: Option<i64>,
    refund: Option<(&'a str, i64, &'a str)>,
}

fn demo_order(now: i64, o: &DemoOrder, customer_id: Option<Id>) -> Result<OrderInput> {
    let placed = now - o.placed_ago;
    let items: Vec<_> = o
        .lines
        .iter()
        .map(|&(i, q)| {
            let (sku, name, price, _, _) = CATALOGUE[i];
            json!({"sku": sku, "name": name, "quantity": q, "unit_price_cents": price})
        })
        .collect();
    let mut order = json!({
        "order_no": o.no, "buyer": o.buyer, "customer_id": customer_id, "placed_at": placed, "items": items,
        "shipping_fee_cents": 0, "discount_cents": if o.lines.len() > 1 { 1000 } else { 0 },
        "receiver_name": o.receiver.0, "receiver_phone": o.receiver.1, "receiver_address": o.receiver.2,
    });
    if o.paid {
        order["paid_at"] = json!(placed + 3 * 60 * 1000);
    }
    if let Some(ago) = o.shipped_hours_ago {
        let (carrier, prefix, steps) = ROUTES[o.route];
        let shipped = now - ago * HOUR;
        let events: Vec<_> = steps
            .iter()
            .filter(|(h, ..)| *h <= ago)
            .map(|(h, status, text, place)| {
                json!({"at": shipped + h * HOUR, "status": status, "description": format!("【{place}】{text}"), "location": place})
            })
            .collect();
        // FNV-1a of the order number: a stable, distinct-looking tracking number per order.
        let hash = o.no.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        order["shipments"] = json!([{
            "carrier": carrier, "tracking_no": format!("{prefix}{:010}", hash % 10_000_000_000),
            "shipped_at": shipped, "events": events,
        }]);
    }
    if let Some((no, amount, reason)) = o.refund {
        order["refunds"] = json!([{"refund_no": no, "amount_cents": amount, "reason": reason,
            "refunded_at": now - 2 * DAY}]);
    }
    serde_json::from_value(order).map_err(|e| anyhow!("demo order {}: {e}", o.no))
}

/// `chat_customers`: the customers of [`DIALOGUES`], in order.
async fn seed_commerce(store: &dyn Store, shop_id: Id, chat_customers: &[Id]) -> Result<()> {
    let now = Millis::now().0;
    let products = CATALOGUE
        .iter()
        .enumerate()
        .map(|(i, (sku, name, price, category, colour))| {
            let description = PRODUCTS
                .iter()
                .find(|p| p.0 == *sku)
                .map_or(String::new(), |p| p.3.to_owned());
            (
                i,
                ProductDoc {
                    sku: (*sku).into(),
                    name: (*name).into(),
                    price_cents: *price,
                    currency: "CNY".into(),
                    category: (*category).into(),
                    // `color:` pictures are what the demo shop page draws.
                    images: vec![format!("color:{colour}")],
                    status: ProductStatus::Active,
                    description,
                },
            )
        })
        .collect();
    store
        .apply_commerce(shop_id, CommerceChange::Products(products), None)
        .await?;

    let phone = |p: &str| json!({"phone": p});
    // Emily chatted without a phone: her order names her customer directly.
    let emily = chat_customers
        .get(2)
        .copied()
        .ok_or_else(|| anyhow!("demo: Emily missing"))?;
    let lin = ("林小雨", "13800001111", "上海市徐汇区漕溪北路 28 号");
    let zhao = ("赵先生", "13900002222", "北京市海淀区中关村大街 1 号");
    let mut orders = vec![
        // 林小雨 bought the earphones after the chat: paid today, on its way with 顺丰.
        DemoOrder {
            no: "XMF202611230001",
            buyer: phone(lin.1),
            receiver: lin,
            placed_ago: 5 * HOUR,
            paid: true,
            lines: &[(0, 1)],
            route: 0,
            shipped_hours_ago: Some(3),
            refund: None,
        },
        // …and left a cable unpaid (a payment reminder candidate).
        DemoOrder {
            no: "XMF202611230002",
            buyer: phone(lin.1),
            receiver: lin,
            placed_ago: 2 * HOUR,
            paid: false,
            lines: &[(8, 2)],
            route: 0,
            shipped_hours_ago: None,
            refund: None,
        },
        DemoOrder {
            no: "XMF202608150011",
            buyer: phone(lin.1),
            receiver: lin,
            placed_ago: 100 * DAY,
            paid: true,
            lines: &[(5, 1), (10, 1)],
            route: 0,
            shipped_hours_ago: Some(99 * 24),
            refund: None,
        },
        // 赵先生's watch (the charger problem in his chat): delivered; a refund for the charging dock.
        DemoOrder {
            no: "XMF202611160007",
            buyer: phone(zhao.1),
            receiver: zhao,
            placed_ago: 7 * DAY,
            paid: true,
            lines: &[(1, 1)],
            route: 1,
            shipped_hours_ago: Some(6 * 24),
            refund: Some(("RF202611220001", 5000, "充电底座接触不良，部分退款")),
        },
        DemoOrder {
            no: "XMF202605020003",
            buyer: phone(zhao.1),
            receiver: zhao,
            placed_ago: 200 * DAY,
            paid: true,
            lines: &[(3, 1), (6, 1)],
            route: 1,
            shipped_hours_ago: Some(199 * 24),
            refund: None,
        },
        // Emily: a power bank to Hong Kong, not paid yet.
        DemoOrder {
            no: "XMF202611230003",
            buyer: json!({}),
            receiver: ("Emily Chan", "+85291234567", "香港九龙尖沙咀弥敦道 100 号"),
            placed_ago: 90 * 60 * 1000,
            paid: false,
            lines: &[(2, 1)],
            route: 0,
            shipped_hours_ago: None,
            refund: None,
        },
    ];
    // A year of history for the other buyers, deterministic.
    let mut numbers = Vec::new();
    for (b, (name, ph, addr)) in BUYERS.iter().enumerate() {
        for k in 0..(3 + b % 4) {
            let seq = b * 10 + k;
            numbers.push((b, k, format!("XMF2026{:08}", 1000 + seq), name, ph, addr));
        }
    }
    const LINE_SETS: &[&[(usize, i64)]] = &[
        &[(4, 1)],
        &[(6, 1), (8, 2)],
        &[(2, 1)],
        &[(11, 1)],
        &[(0, 1), (7, 1)],
        &[(9, 3)],
        &[(5, 1)],
    ];
    for (b, k, no, name, ph, addr) in &numbers {
        let recent = *k == 0;
        orders.push(DemoOrder {
            no,
            buyer: json!({"phone": ph, "name": name}),
            receiver: (name, ph, addr),
            placed_ago: if recent {
                (2 + *b as i64) * DAY
            } else {
                (30 + (*k as i64) * 47 + *b as i64 * 5) * DAY
            },
            paid: true,
            lines: LINE_SETS[(b + k) % LINE_SETS.len()],
            route: (b + k) % ROUTES.len(),
            shipped_hours_ago: Some(if recent {
                (2 + *b as i64) * 24 - 20
            } else {
                (29 + (*k as i64) * 47 + *b as i64 * 5) * 24
            }),
            refund: (*b == 2 && *k == 1).then_some(("RF202609300002", 2990, "七天无理由退货")),
        });
    }
    let docs = orders
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let customer = (o.buyer == json!({})).then_some(emily);
            let input = demo_order(now, o, customer)?;
            let doc =
                validate_order("", &input).map_err(|e| anyhow!("demo order {}: {e}", o.no))?;
            Ok((i, doc))
        })
        .collect::<Result<Vec<_>>>()?;
    let outcome = store
        .apply_commerce(shop_id, CommerceChange::Orders(docs), None)
        .await?;
    if let Some(e) = outcome.items.iter().find_map(|i| i.error.as_ref()) {
        return Err(anyhow!("demo orders: {}", e.message));
    }
    Ok(())
}

/// A demo shopper's profile: a verified member id (as if they had logged in on the shop page),
/// e-mail, source, tags, a note, an address and custom values.
async fn seed_profile(
    store: &dyn Store,
    shop_id: Id,
    customer_id: Id,
    index: usize,
    author: &User,
) -> Result<()> {
    if index == 0 {
        seed_fields(store, shop_id).await?;
    }
    let Some((name, ext, email, source, tags, note, address, level, sms)) = PROFILES.get(index)
    else {
        return Ok(());
    };
    store
        .apply_verified_identity(
            shop_id,
            Some(customer_id),
            &VerifiedClaim {
                external_id: (*ext).into(),
                name: Some((*name).into()),
                email: Some((*email).into()),
                phone: None,
            },
        )
        .await?;
    let defs = store.list_field_defs(shop_id).await?;
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("vip_level".to_owned(), Some((*level).to_owned()));
    if index == 0 {
        fields.insert("birthday".to_owned(), Some("1996-05-20".to_owned()));
        fields.insert("preference".to_owned(), Some("降噪、轻便".to_owned()));
    }
    let change = CustomerPatch {
        source: Some((*source).into()),
        consent_sms: Some(*sms),
        consent_email: Some(true),
        tags: Some(tags.iter().map(|t| (*t).to_owned()).collect()),
        custom_fields: Some(fields),
        ..Default::default()
    }
    .validate(&defs)?;
    store
        .update_customer_profile(shop_id, customer_id, &change)
        .await?;
    store
        .add_note(shop_id, customer_id, Some(author.id), &author.name, note)
        .await?;
    let (recipient, phone, region, detail) = address;
    let a = NewAddress {
        recipient: (*recipient).into(),
        phone: (*phone).into(),
        region: (*region).into(),
        detail: (*detail).into(),
        is_default: true,
    }
    .normalized()?;
    store.add_address(shop_id, customer_id, &a).await?;
    Ok(())
}

/// Customers without a conversation: a member who only ever called, a duplicate record of 林小雨
/// (from a phone order, same phone written with +86: shows up in merge suggestions) and a
/// blocked order-brusher.
async fn seed_more_customers(store: &dyn Store, shop_id: Id, supervisor: &User) -> Result<()> {
    let sun = store
        .create_customer(
            shop_id,
            &NewCustomer {
                name: Some("孙悦".into()),
                phone: Some("13600003333".into()),
                ..Default::default()
            },
        )
        .await?;
    store
        .record_contact(
            shop_id,
            sun.id,
            &NewCustomer {
                phone: Some("13600003333".into()),
                ..Default::default()
            },
            "call",
        )
        .await?;
    store
        .apply_verified_identity(
            shop_id,
            Some(sun.id),
            &VerifiedClaim {
                external_id: "demo-u1004".into(),
                name: Some("孙悦".into()),
                email: Some("sun.yue@example.com".into()),
                phone: None,
            },
        )
        .await?;
    let change = CustomerPatch {
        source: Some("phone".into()),
        tags: Some(vec!["电话客户".into(), "企业采购".into()]),
        ..Default::default()
    }
    .validate(&[])?;
    store
        .update_customer_profile(shop_id, sun.id, &change)
        .await?;
    store
        .add_note(
            shop_id,
            sun.id,
            Some(supervisor.id),
            &supervisor.name,
            "公司采购 20 台键盘，需要开增值税专票。",
        )
        .await?;

    let dup = store
        .create_customer(
            shop_id,
            &NewCustomer {
                name: Some("林小雨（电话下单）".into()),
                ..Default::default()
            },
        )
        .await?;
    store
        .record_contact(
            shop_id,
            dup.id,
            &NewCustomer {
                phone: Some(normalize_phone("phone", "+86 138 0000 1111")?),
                ..Default::default()
            },
            "call",
        )
        .await?;

    let brusher = store
        .create_customer(
            shop_id,
            &NewCustomer {
                name: Some("刷单小号 8831".into()),
                ..Default::default()
            },
        )
        .await?;
    let change = CustomerPatch {
        source: Some("ad".into()),
        tags: Some(vec!["疑似刷单".into()]),
        ..Default::default()
    }
    .validate(&[])?;
    store
        .update_customer_profile(shop_id, brusher.id, &change)
        .await?;
    store
        .set_blocked(
            shop_id,
            brusher.id,
            true,
            Some("多个账号同一收货地址批量下单后申请退款"),
            &supervisor.name,
        )
        .await?;
    Ok(())
}

/// A few tickets in different states so the 工单 page is not empty: complaints about a damaged
/// parcel (with a partial refund), a delivery that never came upstairs (resolved, with its root
/// cause and handling result), a price question and an attitude complaint waiting on the shopper.
async fn seed_tickets(
    store: &dyn Store,
    shop_id: Id,
    chat_customers: &[Id],
    agents: &[User],
) -> Result<()> {
    use kefu_core::tickets::*;
    let cats = store.ticket_categories(shop_id).await?;
    let cat = |key: &str| cats.iter().find(|c| c.key == key).map(|c| c.id);
    let by = |i: usize| Actor::agent(agents[i].id);
    let origin = |channel, actor| TicketOrigin {
        channel,
        actor,
        entries: vec![],
    };
    let customer = |i: usize| chat_customers.get(i).copied();
    let latest_order = |customer: Option<Id>| async move {
        match customer {
            Some(c) => store
                .customer_orders(shop_id, c, 1)
                .await
                .ok()
                .flatten()
                .and_then(|o| o.into_iter().next())
                .map(|o| o.order.id),
            None => None,
        }
    };
    let mut links = Vec::new();
    if let Some(c) = customer(1)
        && let Some(conv) = store.customer_conversation(shop_id, c).await?
    {
        links.push(NewTicketLink {
            kind: LinkKind::Conversation,
            ref_id: conv.id,
        });
    }
    if let Some(o) = latest_order(customer(1)).await {
        links.push(NewTicketLink {
            kind: LinkKind::Order,
            ref_id: o,
        });
    }
    let damaged = store
        .create_ticket(
            shop_id,
            &NewTicket {
                subject: "收到的耳机盒子压坏了，耳机有划痕".into(),
                description: "顾客反馈快递外箱破损，耳机充电盒有明显划痕，要求处理。".into(),
                customer_id: customer(1),
                category_id: cat("damaged_item"),
                priority: Some(Priority::High),
                assignee_id: Some(agents[4].id),
                tags: vec!["破损".into()],
                links,
                ..Default::default()
            },
            &origin(TicketChannel::Conversation, by(4)),
        )
        .await?;
    let reply = |kind, actor, body: &str| NewEntry {
        kind,
        actor,
        body: body.into(),
        attachment_ids: vec![],
    };
    store
        .add_ticket_entry(
            shop_id,
            damaged.id,
            &reply(
                EntryKind::Public,
                by(4),
                "非常抱歉给您带来不便，我们已为您申请部分退款 ¥30，请查收。",
            ),
        )
        .await?;
    store
        .add_ticket_entry(
            shop_id,
            damaged.id,
            &reply(
                EntryKind::Note,
                by(4),
                "仓库确认是中转站暴力分拣，已反馈快递。",
            ),
        )
        .await?;
    store
        .add_compensation(
            shop_id,
            damaged.id,
            &Compensation {
                kind: CompensationKind::Refund,
                amount_cents: 3000,
                cost_cents: 3000,
                note: "部分退款，商品不退回".into(),
            },
            "CNY",
            by(4),
        )
        .await?;

    let upstairs = store
        .create_ticket(
            shop_id,
            &NewTicket {
                subject: "快递没有送货上楼，放在小区门口".into(),
                customer_id: customer(0),
                category_id: cat("not_upstairs"),
                assignee_id: Some(agents[2].id),
                ..Default::default()
            },
            &origin(TicketChannel::Console, by(2)),
        )
        .await?;
    store
        .update_ticket(
            shop_id,
            upstairs.id,
            &TicketPatch {
                status: Some(TicketStatus::Resolved),
                root_causes: Some(vec!["快递员未按约定派送".into()]),
                handling_result: Some(Some("已向快递公司投诉，赠送 10 元优惠券并致歉".into())),
                ..Default::default()
            },
            by(2),
        )
        .await?;
    store
        .add_compensation(
            shop_id,
            upstairs.id,
            &Compensation {
                kind: CompensationKind::Coupon,
                amount_cents: 1000,
                cost_cents: 0,
                note: "无门槛优惠券".into(),
            },
            "CNY",
            by(2),
        )
        .await?;

    store
        .create_ticket(
            shop_id,
            &NewTicket {
                subject: "同款充电宝别家便宜 20 元，能否补差价".into(),
                customer_id: customer(2),
                category_id: cat("price"),
                priority: Some(Priority::Low),
                ..Default::default()
            },
            &origin(TicketChannel::Widget, Actor::SYSTEM),
        )
        .await?;
    let attitude = store
        .create_ticket(
            shop_id,
            &NewTicket {
                subject: "电话客服态度不好".into(),
                description: "顾客说电话里客服不耐烦，希望有人回电。".into(),
                customer_id: customer(3),
                category_id: cat("attitude"),
                priority: Some(Priority::Urgent),
                assignee_id: Some(agents[1].id),
                ..Default::default()
            },
            &origin(TicketChannel::Api, by(1)),
        )
        .await?;
    store
        .update_ticket(
            shop_id,
            attitude.id,
            &TicketPatch {
                status: Some(TicketStatus::PendingCustomer),
                ..Default::default()
            },
            by(1),
        )
        .await?;
    Ok(())
}
