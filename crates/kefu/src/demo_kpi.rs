//! The demo shop's agent KPIs (客服绩效): two shoppers who asked, were answered and then ordered and
//! paid — one with 李娜, one with 张伟 — so the KPI page shows consultations turning into sales
//! (询单转化率, 客服销售额) next to the reminder that closed 孙悦's order (demo_cards.rs) and the
//! chats of the other seeds. Everything goes through the store, so the desk events, messages and
//! orders are exactly what the running product would have stored.

use anyhow::{Result, anyhow};
use kefu_core::commerce::{CommerceChange, OrderInput, validate_order};
use kefu_core::model::*;
use kefu_core::store::Store;
use kefu_core::time::Millis;
use serde_json::json;

/// (shopper, phone, agent index in `agents`, [(from the shopper?, text)], order: (no, sku, name, price in fen))
type Sale = (
    &'static str,
    &'static str,
    usize,
    &'static [(bool, &'static str)],
    (&'static str, &'static str, &'static str, i64),
);

const SALES: &[Sale] = &[
    (
        "郑晓",
        "13100001212",
        2,
        &[
            (true, "运动手表 S2 能测血氧吗？游泳可以戴吗？"),
            (
                false,
                "可以的～S2 支持心率和血氧监测，50 米防水，游泳完全没问题。",
            ),
            (true, "续航多久？"),
            (false, "正常使用 14 天，今天下单还送一条替换表带哦。"),
            (true, "好，那我拍了"),
        ],
        ("XMF20261124101", "XMF-WATCH-02", "运动智能手表 S2", 89_900),
    ),
    (
        "冯晨",
        "13100003434",
        3,
        &[
            (true, "移动电源是 65W 快充吗？能给笔记本充电吗？"),
            (false, "是的，双向 65W，支持 PD 协议的笔记本都可以充。"),
            (true, "行，买一个"),
        ],
        (
            "XMF20261124102",
            "XMF-PB-03",
            "20000mAh 快充移动电源",
            14_900,
        ),
    ),
];

/// `agents` are the demo accounts in `USERS` order (李娜 is 2, 张伟 3).
pub async fn seed(store: &dyn Store, shop: &Shop, agents: &[User]) -> Result<()> {
    for (i, (name, phone, agent, turns, (no, sku, product, price))) in SALES.iter().enumerate() {
        let agent = agents
            .get(*agent)
            .ok_or_else(|| anyhow!("demo agent {agent} missing"))?;
        let customer = store
            .create_customer(
                shop.id,
                &NewCustomer {
                    name: Some((*name).into()),
                    phone: Some((*phone).into()),
                    ..Default::default()
                },
            )
            .await?;
        let mut conversation = None;
        for (n, (from_shopper, text)) in turns.iter().enumerate() {
            let client_msg_id = format!("demo-kpi-{i}-{n}");
            if *from_shopper {
                let appended = store
                    .append_customer_message(CustomerMessage {
                        shop_id: shop.id,
                        customer_id: customer.id,
                        body: text,
                        client_msg_id: &client_msg_id,
                        announce: false,
                    })
                    .await?;
                if appended.conversation_started {
                    store
                        .assign(shop.id, appended.conversation.id, Some(agent.id), None)
                        .await?;
                }
                conversation = Some(appended.conversation.id);
            } else {
                let conversation_id =
                    conversation.ok_or_else(|| anyhow!("demo: a reply before the question"))?;
                store
                    .append_agent_message(AgentMessage {
                        shop_id: shop.id,
                        conversation_id,
                        agent,
                        body: text,
                        client_msg_id: &client_msg_id,
                        private: false,
                        kind: MessageKind::Text,
                        payload: None,
                    })
                    .await?;
            }
        }
        // Ordered and paid right after the chat: the agent who answered last closes it.
        let now = Millis::now().0;
        let input: OrderInput = serde_json::from_value(json!({
            "order_no": no, "customer_id": customer.id, "placed_at": now, "paid_at": now,
            "items": [{"sku": sku, "name": product, "quantity": 1, "unit_price_cents": price}],
        }))?;
        let doc = validate_order("", &input).map_err(|e| anyhow!("demo order {no}: {e}"))?;
        let outcome = store
            .apply_commerce(shop.id, CommerceChange::Orders(vec![(0, doc)]), None)
            .await?;
        if let Some(e) = outcome.items.iter().find_map(|i| i.error.as_ref()) {
            return Err(anyhow!("demo order {no}: {}", e.message));
        }
        if let Some(id) = conversation {
            store
                .set_status(shop.id, id, ConversationStatus::Resolved)
                .await?;
        }
    }
    Ok(())
}
