//! kefu-store's implementation of [`kefu_core::attachments::AttachmentStore`]: the attachment row
//! and the message that carries it, written in one transaction.

use super::conversations::{
    Insert, append_customer, find_retry, insert_message, load_conversation, lock_conversation,
};
use super::prelude::*;
use async_trait::async_trait;
use kefu_core::attachments::{self, Attachment, AttachmentStore, NewAttachment};
use kefu_core::model::*;
use kefu_core::time::Millis;
use kefu_core::{Error, Result};

const COLUMNS: &str = "id, shop_id, conversation_id, uploader_type, uploader_id, sha256, name, mime, \
     size, width, height, has_thumb, created_at";

fn from_row(r: &DbRow) -> Attachment {
    Attachment {
        id: r.get("id"),
        shop_id: r.get("shop_id"),
        conversation_id: r.get("conversation_id"),
        uploader_type: r.get("uploader_type"),
        uploader_id: r.get("uploader_id"),
        sha256: r.get("sha256"),
        name: r.get("name"),
        mime: r.get("mime"),
        size: r.get("size"),
        width: r.get("width"),
        height: r.get("height"),
        has_thumb: r.get("has_thumb"),
        created_at: Millis(r.get("created_at")),
    }
}

async fn insert_row(
    conn: &mut Conn,
    shop_id: Id,
    conversation_id: Id,
    uploader: (SenderType, Id),
    a: &NewAttachment,
) -> Result<Attachment> {
    let sql = format!(
        "INSERT INTO attachments (shop_id, conversation_id, uploader_type, uploader_id, sha256, \
         name, mime, size, width, height, has_thumb, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(shop_id)
        .bind(conversation_id)
        .bind(uploader.0.as_str())
        .bind(uploader.1)
        .bind(&a.sha256)
        .bind(&a.name)
        .bind(&a.mime)
        .bind(a.size)
        .bind(a.width)
        .bind(a.height)
        .bind(a.has_thumb)
        .bind(Millis::now().0)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(from_row(&row))
}

#[async_trait]
impl AttachmentStore for DbStore {
    async fn append_agent_attachment(
        &self,
        agent: &User,
        conversation_id: Id,
        attachment: NewAttachment,
        client_msg_id: &str,
    ) -> Result<Appended> {
        let (shop_id, agent_id, agent_name) = (agent.shop_id, agent.id, agent.name.clone());
        let client_msg_id = client_msg_id.to_owned();
        let retry = (shop_id, SenderType::Agent, agent_id, &client_msg_id);
        message_tx!(self, retry, |conn| {
            if let Some(original) =
                find_retry(conn, SenderType::Agent, agent_id, &client_msg_id).await?
            {
                let conversation =
                    load_conversation(conn, shop_id, original.conversation_id).await?;
                return Ok(Appended {
                    message: original,
                    companions: vec![],
                    conversation,
                    conversation_started: false,
                    duplicate: true,
                });
            }
            // Scope check first: another shop's conversation is simply not found.
            lock_conversation(conn, shop_id, conversation_id).await?;
            let row = insert_row(
                conn,
                shop_id,
                conversation_id,
                (SenderType::Agent, agent_id),
                &attachment,
            )
            .await?;
            let body = attachments::fallback_body(&row.name, &row.mime);
            let payload = attachments::payload(&row);
            let message = insert_message(
                conn,
                Insert {
                    shop_id,
                    conversation_id,
                    sender_type: SenderType::Agent,
                    sender_id: Some(agent_id),
                    sender_name: &agent_name,
                    body: &body,
                    private: false,
                    client_msg_id: Some(&client_msg_id),
                    now: row.created_at.0,
                    kind: MessageKind::Attachment,
                    payload: Some(&payload),
                },
            )
            .await?;
            // A public reply means the agent has read everything before it.
            sqlx::query(
                "UPDATE conversations SET unread_count = 0, agent_read_seq = $1 WHERE id = $2",
            )
            .bind(message.seq)
            .bind(conversation_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            let conversation = load_conversation(conn, shop_id, conversation_id).await?;
            Ok(Appended {
                message,
                companions: vec![],
                conversation,
                conversation_started: false,
                duplicate: false,
            })
        })
    }

    async fn append_customer_attachment(
        &self,
        shop_id: Id,
        customer_id: Id,
        attachment: NewAttachment,
        client_msg_id: &str,
    ) -> Result<Appended> {
        let body = attachments::fallback_body(&attachment.name, &attachment.mime);
        let client_msg_id = client_msg_id.to_owned();
        let retry = (shop_id, SenderType::Customer, customer_id, &client_msg_id);
        // On SQLite a generic writer job, not the shopper bulk path: that path stores text only,
        // and this job makes the writer forget what the bulk path remembered about the
        // conversation.
        message_tx!(self, retry, |conn| {
            let msg = CustomerMessage {
                shop_id,
                customer_id,
                body: &body,
                client_msg_id: &client_msg_id,
                announce: true,
            };
            let mut appended = append_customer(conn, &msg).await?;
            if appended.duplicate {
                return Ok(appended);
            }
            let conversation_id = appended.conversation.id;
            let row = insert_row(
                conn,
                shop_id,
                conversation_id,
                (SenderType::Customer, customer_id),
                &attachment,
            )
            .await?;
            // The message was stored as text by the shared shopper path; it becomes the
            // attachment message inside the same transaction, so nobody sees it in between.
            let payload = attachments::payload(&row);
            let done = sqlx::query(
                "UPDATE messages SET kind = $1, payload = $2 WHERE id = $3 AND shop_id = $4",
            )
            .bind(MessageKind::Attachment.as_str())
            .bind(payload.to_string())
            .bind(appended.message.id)
            .bind(shop_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            if done.rows_affected() != 1 {
                return Err(Error::internal("attachment message vanished"));
            }
            appended.message.kind = MessageKind::Attachment;
            appended.message.payload = Some(payload);
            Ok(appended)
        })
    }

    async fn attachment(&self, shop_id: Id, id: Id) -> Result<Option<Attachment>> {
        let sql = format!("SELECT {COLUMNS} FROM attachments WHERE id = $1 AND shop_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(shop_id)
            .fetch_optional(self.reader())
            .await
            .map_err(db_err)?;
        Ok(row.as_ref().map(from_row))
    }
}
