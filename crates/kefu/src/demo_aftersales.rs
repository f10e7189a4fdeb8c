//! Demo after-sales requests in different states and imported reviews with open follow-ups, on the
//! demo shop's order history (`HIST-…` orders), so the chat shoppers' own orders stay free for
//! trying 申请售后 from a conversation.

use anyhow::{Result, anyhow};
use kefu_core::aftersales::{
    Action, Actor, Decision, LineInput, NewRequest, RequestKind, ReturnShippingPayer,
};
use kefu_core::commerce::{OrderQuery, PaymentStatus};
use kefu_core::model::{Shop, User};
use kefu_core::reviews::{FollowupPatch, HOUR_MS, ReviewDoc};
use kefu_core::store::Store;
use kefu_core::time::Millis;

fn line(line_no: i64, quantity: i64) -> LineInput {
    LineInput {
        order_item_id: None,
        line_no: Some(line_no),
        quantity,
    }
}

/// One demo request: kind, reason, description, assignee, the steps taken since.
type Plan<'a> = (RequestKind, &'a str, &'a str, Option<&'a User>, Vec<Action>);

fn decide(decision: Decision) -> Action {
    Action::Decide { decision }
}

/// `users`: the demo accounts in their seeding order (店长, 主管, 李娜, 张伟, 陈静).
pub async fn seed(store: &dyn Store, shop: &Shop, users: &[User]) -> Result<()> {
    let orders = store
        .list_orders(
            shop.id,
            &OrderQuery {
                payment_status: Some(PaymentStatus::Paid),
                q: Some("HIST-".into()),
                limit: 40,
                ..Default::default()
            },
        )
        .await?;
    if orders.len() < 8 {
        return Err(anyhow!("demo after-sales: too few paid orders"));
    }
    let after_sale = &users[4];
    let actor = Actor {
        id: Some(after_sale.id),
        name: after_sale.name.clone(),
    };
    let plans: Vec<Plan> = vec![
        (
            RequestKind::Refund,
            "damaged",
            "外包装压坏，耳机盒有明显凹痕，希望补偿一部分",
            Some(after_sale),
            vec![decide(Decision::PartialRefund { amount_cents: 3000 })],
        ),
        (
            RequestKind::Return,
            "quality",
            "左耳没有声音，重启也不行",
            Some(after_sale),
            vec![
                decide(Decision::FullRefund {
                    return_goods: true,
                    return_shipping_paid_by: Some(ReturnShippingPayer::Shop),
                }),
                Action::ShipReturn {
                    carrier: "顺丰速运".into(),
                    tracking_no: "SF1408822631".into(),
                },
            ],
        ),
        (
            RequestKind::Exchange,
            "wrong_item",
            "买的是白色，收到的是黑色",
            Some(after_sale),
            vec![
                decide(Decision::Exchange {
                    return_shipping_paid_by: ReturnShippingPayer::Shop,
                }),
                Action::Receive,
                Action::Inspect {
                    passed: true,
                    note: "商品完好，吊牌齐全".into(),
                },
            ],
        ),
        (
            RequestKind::Refund,
            "missing_item",
            "少发了一根数据线",
            None,
            vec![],
        ),
        (
            RequestKind::Refund,
            "damaged",
            "屏幕有划痕",
            Some(after_sale),
            vec![
                decide(Decision::PartialRefund { amount_cents: 2000 }),
                Action::Refund { amount_cents: 2000 },
                Action::Complete,
            ],
        ),
        (
            RequestKind::Return,
            "no_longer_wanted",
            "不想要了",
            Some(after_sale),
            vec![decide(Decision::Reject {
                reason: "已拆封使用，影响二次销售，不支持七天无理由".into(),
            })],
        ),
    ];
    for (i, (kind, reason, description, assignee, actions)) in plans.into_iter().enumerate() {
        let order = &orders[i];
        let created = store
            .create_aftersales(
                shop.id,
                NewRequest {
                    order_id: order.id,
                    kind,
                    reason: reason.into(),
                    description: description.into(),
                    lines: vec![line(1, 1)],
                    conversation_id: None,
                    ticket_id: None,
                    assignee_id: assignee.map(|u| u.id),
                },
                actor.clone(),
            )
            .await
            .map_err(|e| anyhow!("demo request on {}: {e}", order.order_no))?;
        for action in actions {
            store
                .act_aftersales(shop.id, created.request.id, action, actor.clone())
                .await
                .map_err(|e| anyhow!("demo request {}: {e}", created.request.no))?;
        }
    }

    // Reviews: two imported yesterday morning (their follow-ups are overdue), the rest just now.
    let now = Millis::now();
    let reviews = [
        (
            "TB-88120031",
            "taobao",
            1,
            "耳机到手就坏了，客服回复慢，非常失望！",
            8,
        ),
        ("JD-55200417", "jd", 2, "物流太慢了，等了一个星期才到", 9),
        (
            "TB-88120087",
            "taobao",
            5,
            "音质很好，降噪效果不错，推荐",
            10,
        ),
        ("PDD-3302291", "pdd", 3, "一般般吧，和描述有点出入", 11),
        ("TB-88120102", "taobao", 4, "整体满意，包装可以再好一点", 12),
        (
            "DY-7700154",
            "douyin",
            1,
            "收到的颜色不对，申请换货还要自己付运费？",
            13,
        ),
        ("JD-55200533", "jd", 5, "第二次购买了，一如既往的好", 14),
    ];
    let docs = |range: std::ops::Range<usize>| -> Vec<(usize, ReviewDoc)> {
        reviews[range]
            .iter()
            .enumerate()
            .map(|(i, (id, platform, rating, text, order))| {
                (
                    i,
                    ReviewDoc {
                        review_id: (*id).into(),
                        platform: (*platform).into(),
                        rating: *rating,
                        text: (*text).into(),
                        order_no: orders.get(*order).map(|o| o.order_no.clone()),
                        reviewed_at: Millis(now.0 - (20 + i as i64) * HOUR_MS),
                    },
                )
            })
            .collect()
    };
    store
        .import_reviews(shop.id, docs(0..2), Millis(now.0 - 30 * HOUR_MS))
        .await?;
    store.import_reviews(shop.id, docs(2..7), now).await?;
    // The first overdue task is 陈静's; one is already answered.
    let open = store
        .list_followups(
            shop.id,
            &kefu_core::reviews::FollowupQuery {
                limit: 10,
                ..Default::default()
            },
            now,
        )
        .await?;
    let by = kefu_core::aftersales::AgentRef {
        id: after_sale.id,
        name: after_sale.name.clone(),
    };
    if let Some(first) = open.first() {
        store
            .update_followup(
                shop.id,
                first.id,
                FollowupPatch {
                    assignee_id: Some(Some(after_sale.id)),
                    ..Default::default()
                },
                by.clone(),
                now,
            )
            .await?;
    }
    if let Some(last) = open.last() {
        store
            .update_followup(
                shop.id,
                last.id,
                FollowupPatch {
                    status: Some(kefu_core::reviews::FollowupStatus::Resolved),
                    outcome_note: Some("已电话致歉并补发赠品，顾客表示满意".into()),
                    assignee_id: Some(Some(after_sale.id)),
                },
                by,
                now,
            )
            .await?;
    }
    Ok(())
}
