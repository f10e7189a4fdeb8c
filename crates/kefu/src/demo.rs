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
