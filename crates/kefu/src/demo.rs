//! The demo shop: a small, believable digital-goods store with a pre-sale and an after-sale team,
//! five accounts, a few products and shoppers with past conversations. Seeding is idempotent:
//! an existing `demo` shop is left as it is.

use anyhow::{Result, anyhow};
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

/// Seeds the demo shop if it does not exist yet; returns the banner to print.
pub async fn seed(store: &dyn Store, listen: SocketAddr) -> Result<String> {
    if store.shop_by_slug("demo").await?.is_none() {
        seed_new(store).await?;
    }
    let base = format!("http://{listen}");
    let mut banner = format!(
        "\nkefu demo is running\n  console:   {base}/\n  demo shop: {base}/demo/shop\n  logins (password {DEMO_PASSWORD}):\n"
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

async fn seed_new(store: &dyn Store) -> Result<()> {
    let shop = store.create_shop("demo", "小蜜蜂数码旗舰店").await?;
    let mut settings = shop.settings.clone();
    settings.greeting =
        "您好，欢迎光临小蜜蜂数码旗舰店！我是您的专属客服，请问有什么可以帮您？".into();
    store.update_shop_settings(shop.id, &settings).await?;
    // create_shop made the default team 售前; add the after-sale team.
    let after_sale = store.create_team(shop.id, "售后", false).await?;
    let teams = store.list_teams(shop.id).await?;
    let pre_sale = teams
        .iter()
        .find(|t| t.name == "售前")
        .ok_or_else(|| anyhow!("no 售前 team"))?;
    let hash = kefu_http::auth::hash_password(DEMO_PASSWORD.to_owned()).await?;
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
        }
    }
    seed_order_history(store, shop.id).await?;
    // Segments are computed once at the end, so the segments page and the sidebar badges are
    // filled from the first start.
    store
        .recompute_shop(shop.id)
        .await
        .map_err(|e| anyhow!("segments: {e}"))?;
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
