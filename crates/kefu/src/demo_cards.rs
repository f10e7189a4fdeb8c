//! The demo shop's commerce-in-the-conversation: two shoppers one can "log in" as on the demo page,
//! past conversations with product and order cards, a payment reminder that worked, one still
//! waiting, and an unpaid order of a shopper who just asked (a reminder candidate).

use anyhow::{Result, anyhow};
use kefu_core::cards::{self, ProductCard};
use kefu_core::commerce::{CommerceChange, OrderInput, validate_order};
use kefu_core::model::*;
use kefu_core::reminders::{DEFAULT_TEMPLATE_BODY, HOUR_MS, NewReminder, TemplateContext, render};
use kefu_core::store::Store;
use kefu_core::time::Millis;
use kefu_service::demo::{DemoShop, DemoShopper};
use serde_json::json;

/// Shoppers of the demo page's "log in": (external id, name, phone).
pub const DEMO_SHOPPERS: &[(&str, &str, &str)] = &[
    ("demo-hanmeimei", "韩梅梅", "13700003333"),
    ("demo-lilei", "李雷", "13600004444"),
];

/// The demo shop as `kefu demo` serves it: its id and the shoppers one may log in as.
pub async fn demo_shop(store: &dyn Store) -> Result<Option<DemoShop>> {
    let Some(shop) = store.shop_by_slug("demo").await? else {
        return Ok(None);
    };
    let mut shoppers = Vec::new();
    for (key, _, _) in DEMO_SHOPPERS {
        if let Some(c) = store.customer_by_external_id(shop.id, key).await? {
            shoppers.push(DemoShopper {
                key: (*key).into(),
                name: c.name,
                customer_id: c.id,
            });
        }
    }
    Ok(Some(DemoShop {
        shop_id: shop.id,
        shoppers,
    }))
}

struct Seeder<'a> {
    store: &'a dyn Store,
    shop: &'a Shop,
    products: Vec<Product>,
    seq: usize,
}

impl Seeder<'_> {
    fn product(&self, sku: &str) -> Result<&Product> {
        self.products
            .iter()
            .find(|p| p.sku == sku)
            .ok_or_else(|| anyhow!("demo product {sku} missing"))
    }

    async fn customer(&self, name: &str, phone: &str, external_id: Option<&str>) -> Result<Id> {
        Ok(self
            .store
            .create_customer(
                self.shop.id,
                &NewCustomer {
                    name: Some(name.into()),
                    phone: Some(phone.into()),
                    external_id: external_id.map(Into::into),
                    ..Default::default()
                },
            )
            .await?
            .id)
    }

    /// An order of one product; `hours_ago` placed, paid/shipped as given.
    async fn order(
        &self,
        customer_id: Id,
        order_no: &str,
        sku: &str,
        hours_ago: i64,
        paid: bool,
        tracking: Option<&str>,
    ) -> Result<Id> {
        let p = self.product(sku)?;
        let placed = Millis::now().0 - hours_ago * HOUR_MS;
        let mut doc = json!({
            "order_no": order_no,
            "customer_id": customer_id,
            "placed_at": placed,
            "currency": p.currency,
            "items": [{"sku": p.sku, "name": p.name, "quantity": 1, "unit_price_cents": p.price_cents}],
        });
        if paid {
            doc["paid_at"] = json!(placed + 600_000);
        }
        if let Some(t) = tracking {
            doc["shipped_at"] = json!(placed + 8 * HOUR_MS);
            doc["shipments"] = json!([{"carrier": "顺丰速运", "tracking_no": t, "status": "in_transit",
                "shipped_at": placed + 8 * HOUR_MS,
                "events": [{"at": placed + 8 * HOUR_MS, "status": "in_transit", "description": "快件已由【深圳宝安营业点】揽收", "location": "深圳"}]}]);
        }
        let input: OrderInput = serde_json::from_value(doc)?;
        let out = self
            .store
            .apply_commerce(
                self.shop.id,
                CommerceChange::Orders(vec![(0, validate_order("", &input)?)]),
                None,
            )
            .await?;
        let item = out
            .items
            .first()
            .ok_or_else(|| anyhow!("no order result"))?;
        if let Some(e) = &item.error {
            return Err(anyhow!("demo order {order_no}: {}", e.message));
        }
        item.id.ok_or_else(|| anyhow!("demo order without id"))
    }

    fn next_id(&mut self) -> String {
        self.seq += 1;
        format!("demo-cards-{}", self.seq)
    }

    async fn shopper_says(&mut self, customer_id: Id, text: &str) -> Result<Appended> {
        let id = self.next_id();
        Ok(self
            .store
            .append_customer_message(CustomerMessage {
                shop_id: self.shop.id,
                customer_id,
                body: text,
                client_msg_id: &id,
                announce: false,
            })
            .await?)
    }

    async fn agent_sends(
        &mut self,
        agent: &User,
        conversation_id: Id,
        body: &str,
        kind: MessageKind,
        payload: Option<serde_json::Value>,
    ) -> Result<()> {
        let id = self.next_id();
        self.store
            .append_agent_message(AgentMessage {
                shop_id: self.shop.id,
                conversation_id,
                agent,
                body,
                client_msg_id: &id,
                private: false,
                kind,
                payload,
            })
            .await?;
        Ok(())
    }

    async fn says(&mut self, agent: &User, conversation_id: Id, text: &str) -> Result<()> {
        self.agent_sends(agent, conversation_id, text, MessageKind::Text, None)
            .await
    }

    async fn product_card(&mut self, agent: &User, conversation_id: Id, sku: &str) -> Result<()> {
        let p = self.product(sku)?;
        let card = ProductCard {
            product_id: p.id,
            sku: p.sku.clone(),
            name: p.name.clone(),
            image_url: p.image_url.clone(),
            price_cents: p.price_cents,
            currency: p.currency.clone(),
            url: cards::fill_link("/demo/shop?sku={sku}", &[("sku", &p.sku)]),
        };
        let body = cards::product_body(&card);
        self.agent_sends(
            agent,
            conversation_id,
            &body,
            MessageKind::ProductCard,
            Some(serde_json::to_value(&card)?),
        )
        .await
    }

    async fn order_card(&mut self, agent: &User, conversation_id: Id, order_id: Id) -> Result<()> {
        let card = self
            .store
            .order_for_card(self.shop.id, order_id)
            .await?
            .ok_or_else(|| anyhow!("demo order missing"))?
            .card;
        let body = cards::order_body(&card);
        self.agent_sends(
            agent,
            conversation_id,
            &body,
            MessageKind::OrderCard,
            Some(serde_json::to_value(&card)?),
        )
        .await
    }

    /// A reminder from the default template, as the reminders view sends it.
    async fn remind(
        &self,
        agent: &User,
        conversation: &Conversation,
        order_id: Id,
        template_id: Id,
    ) -> Result<()> {
        let found = self
            .store
            .order_for_card(self.shop.id, order_id)
            .await?
            .ok_or_else(|| anyhow!("demo order missing"))?;
        let text = render(
            DEFAULT_TEMPLATE_BODY,
            &TemplateContext {
                customer_name: &conversation.customer.name,
                shop_name: &self.shop.name,
                order: &found.card,
            },
        );
        self.store
            .send_reminder(NewReminder {
                shop_id: self.shop.id,
                order_id,
                customer_id: found.customer_id,
                conversation_id: conversation.id,
                agent,
                template_id: Some(template_id),
                text: &text,
                card_body: &cards::order_body(&found.card),
                card_payload: serde_json::to_value(&found.card)?,
                force: false,
                repeat_guard_since: Millis(Millis::now().0 - 24 * HOUR_MS),
            })
            .await?;
        Ok(())
    }
}

/// Seeds the cards and reminders part of a new demo shop. `agents` are the demo accounts in the
/// order of demo.rs (王店长, 周主管, 李娜, 张伟, 陈静).
pub async fn seed(store: &dyn Store, shop: &Shop, agents: &[User]) -> Result<()> {
    let (li_na, zhang_wei) = (&agents[2], &agents[3]);
    let products = store.list_products(shop.id).await?;
    let mut s = Seeder {
        store,
        shop,
        products,
        seq: 0,
    };
    // Product links on cards lead to the demo page.
    let mut settings = store.reminder_settings(shop.id).await?;
    settings.product_url_template = "/demo/shop?sku={sku}".into();
    store.put_reminder_settings(shop.id, &settings).await?;
    let template_id = store
        .reminder_templates(shop.id)
        .await?
        .first()
        .map(|t| t.id)
        .ok_or_else(|| anyhow!("no default reminder template"))?;

    // The demo page's shoppers. 韩梅梅 asked where her earphones are: an order card answered.
    let mut shopper_ids = Vec::new();
    for (key, name, phone) in DEMO_SHOPPERS {
        shopper_ids.push(s.customer(name, phone, Some(key)).await?);
    }
    let han = shopper_ids[0];
    let shipped = s
        .order(
            han,
            "XMF20261120001",
            "XMF-EAR-01",
            70,
            true,
            Some("SF1402938475610"),
        )
        .await?;
    let c = s
        .shopper_says(han, "你好，我前天买的降噪耳机到哪里了？")
        .await?
        .conversation;
    store.assign(shop.id, c.id, Some(li_na.id), None).await?;
    s.says(li_na, c.id, "您好～我帮您查一下订单，请稍等。")
        .await?;
    s.order_card(li_na, c.id, shipped).await?;
    s.says(
        li_na,
        c.id,
        "已经从深圳发出了，顺丰显示明天就能送到，请保持电话畅通哦～",
    )
    .await?;
    s.shopper_says(han, "好的谢谢！").await?;
    store
        .set_status(shop.id, c.id, ConversationStatus::Resolved)
        .await?;

    // 孙悦 asked about the keyboard, got a product card, ordered, was reminded and paid.
    let sun = s.customer("孙悦", "13500005555", None).await?;
    let c = s
        .shopper_says(sun, "请问机械键盘是什么轴的？打字声音大吗？")
        .await?
        .conversation;
    store
        .assign(shop.id, c.id, Some(zhang_wei.id), None)
        .await?;
    s.says(
        zhang_wei,
        c.id,
        "您好！这款是红轴静音版，声音很小，办公室用完全没问题～",
    )
    .await?;
    s.product_card(zhang_wei, c.id, "XMF-KB-04").await?;
    s.shopper_says(sun, "好，那我拍一个").await?;
    let kb = s
        .order(sun, "XMF20261122007", "XMF-KB-04", 5, false, None)
        .await?;
    let c = store
        .conversation(shop.id, c.id)
        .await?
        .ok_or_else(|| anyhow!("demo conversation missing"))?;
    s.remind(zhang_wei, &c, kb, template_id).await?;
    s.shopper_says(sun, "刚刚付好了～").await?;
    store
        .apply_commerce(
            shop.id,
            CommerceChange::MarkPaid {
                order_no: "XMF20261122007".into(),
                paid_at: Millis::now(),
            },
            None,
        )
        .await?;
    s.says(zhang_wei, c.id, "收到您的付款啦，今天就给您发出！")
        .await?;
    store
        .set_status(shop.id, c.id, ConversationStatus::Resolved)
        .await?;

    // 周杰 was reminded about a watch and has not paid yet (the outcome is still open).
    let zhou = s.customer("周杰", "13300007777", None).await?;
    let c = s
        .shopper_says(zhou, "手表能不能便宜一点？")
        .await?
        .conversation;
    store.assign(shop.id, c.id, Some(li_na.id), None).await?;
    s.says(
        li_na,
        c.id,
        "亲，现在店铺周年庆满 299 减 50，已经是最低价啦～",
    )
    .await?;
    let watch = s
        .order(zhou, "XMF20261123002", "XMF-WATCH-02", 2, false, None)
        .await?;
    let c = store
        .conversation(shop.id, c.id)
        .await?
        .ok_or_else(|| anyhow!("demo conversation missing"))?;
    s.remind(li_na, &c, watch, template_id).await?;

    // 吴倩 just asked about the power bank and left an order unpaid: a reminder candidate.
    let wu = s.customer("吴倩", "13200008888", None).await?;
    s.order(wu, "XMF20261123005", "XMF-PB-03", 1, false, None)
        .await?;
    let c = s
        .shopper_says(wu, "充电宝可以带上飞机吗？我刚下单了")
        .await?
        .conversation;
    store
        .assign(shop.id, c.id, Some(zhang_wei.id), None)
        .await?;
    Ok(())
}
