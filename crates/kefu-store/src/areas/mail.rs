//! kefu-store's implementation of [`kefu_core::mail::MailStore`]: SMTP settings and the outbox.

use super::prelude::*;
use async_trait::async_trait;
use kefu_core::Result;
use kefu_core::mail::*;
use kefu_core::model::Id;
use kefu_core::time::Millis;

const OUTBOX_COLUMNS: &str = "id, shop_id, to_address, to_name, subject, body_text, kind, ticket_id, \
     status, attempts, last_error, next_attempt_at, created_at, sent_at";

fn outbox_from_row(r: &DbRow) -> Result<OutboxMail> {
    Ok(OutboxMail {
        id: r.get("id"),
        shop_id: r.get("shop_id"),
        to_address: r.get("to_address"),
        to_name: r.get("to_name"),
        subject: r.get("subject"),
        body_text: r.get("body_text"),
        kind: r.get("kind"),
        ticket_id: r.get("ticket_id"),
        status: MailStatus::parse(r.get("status"))?,
        attempts: r.get("attempts"),
        last_error: r.get("last_error"),
        next_attempt_at: r.get::<Option<i64>, _>("next_attempt_at").map(Millis),
        created_at: Millis(r.get("created_at")),
        sent_at: r.get::<Option<i64>, _>("sent_at").map(Millis),
    })
}

#[async_trait]
impl MailStore for DbStore {
    async fn mail_settings(&self, shop_id: Id) -> Result<Option<(MailSettings, SmtpPassword)>> {
        let row = sqlx::query(
            "SELECT enabled, host, port, security, username, password, from_address, from_name \
             FROM mail_settings WHERE shop_id = $1",
        )
        .bind(shop_id)
        .fetch_optional(self.reader())
        .await
        .map_err(db_err)?;
        row.map(|r| {
            Ok((
                MailSettings {
                    enabled: r.get("enabled"),
                    host: r.get("host"),
                    port: u16::try_from(r.get::<i64, _>("port")).unwrap_or(0),
                    security: SmtpSecurity::parse(r.get("security"))?,
                    username: r.get("username"),
                    from_address: r.get("from_address"),
                    from_name: r.get("from_name"),
                },
                SmtpPassword(r.get("password")),
            ))
        })
        .transpose()
    }

    async fn put_mail_settings(
        &self,
        shop_id: Id,
        settings: &MailSettings,
        password: Option<SmtpPassword>,
    ) -> Result<()> {
        let s = settings.clone();
        tx!(self, |conn| {
            // COALESCE keeps the stored password when none was given.
            sqlx::query(
                "INSERT INTO mail_settings (shop_id, enabled, host, port, security, username, \
                     password, from_address, from_name, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, ''), $8, $9, $10) \
                     ON CONFLICT (shop_id) DO UPDATE SET enabled = excluded.enabled, \
                     host = excluded.host, port = excluded.port, security = excluded.security, \
                     username = excluded.username, \
                     password = COALESCE($7, mail_settings.password), \
                     from_address = excluded.from_address, from_name = excluded.from_name, \
                     updated_at = excluded.updated_at",
            )
            .bind(shop_id)
            .bind(s.enabled)
            .bind(s.host.trim().to_string())
            .bind(i64::from(s.port))
            .bind(s.security.as_str())
            .bind(&s.username)
            .bind(password.as_ref().map(|p| p.0.as_str()))
            .bind(&s.from_address)
            .bind(&s.from_name)
            .bind(Millis::now().0)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok(())
        })
    }

    async fn enqueue_mail(&self, shop_id: Id, mail: &NewMail) -> Result<OutboxMail> {
        let m = mail.clone();
        tx!(self, |conn| {
            let now = Millis::now().0;
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO mail_outbox (shop_id, to_address, to_name, subject, body_text, kind, \
                     ticket_id, status, attempts, next_attempt_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8, $8) RETURNING {OUTBOX_COLUMNS}"
                )))
                .bind(shop_id)
                .bind(&m.to_address)
                .bind(&m.to_name)
                .bind(&m.subject)
                .bind(&m.body_text)
                .bind(&m.kind)
                .bind(m.ticket_id)
                .bind(now)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            outbox_from_row(&row)
        })
    }

    async fn claim_due_mail(&self, now: Millis, limit: i64) -> Result<Vec<OutboxMail>> {
        tx!(self, |conn| {
            // Two senders never receive the same row: SQLite's one writer makes the select and
            // the lease one step; PostgreSQL's senders (nodes) skip each other's locked rows.
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE mail_outbox SET next_attempt_at = $1, attempts = attempts + 1 \
                     WHERE id IN (SELECT id FROM mail_outbox WHERE status = 'queued' \
                     AND next_attempt_at <= $2 ORDER BY next_attempt_at, id LIMIT $3{FOR_UPDATE_SKIP_LOCKED}) \
                     RETURNING {OUTBOX_COLUMNS}"
            )))
            .bind(now.0 + MAIL_LEASE_MS)
            .bind(now.0)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
            rows.iter().map(outbox_from_row).collect()
        })
    }

    async fn mark_mail_sent(&self, id: Id, now: Millis) -> Result<()> {
        tx!(self, |conn| {
            sqlx::query(
                "UPDATE mail_outbox SET status = 'sent', sent_at = $1, next_attempt_at = NULL, \
                     last_error = NULL WHERE id = $2",
            )
            .bind(now.0)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok(())
        })
    }

    async fn mark_mail_failed(&self, id: Id, error: &str, retry_at: Option<Millis>) -> Result<()> {
        let error = error.to_string();
        tx!(self, |conn| {
            sqlx::query(
                "UPDATE mail_outbox SET status = $1, last_error = $2, next_attempt_at = $3 \
                     WHERE id = $4",
            )
            .bind(if retry_at.is_some() {
                "queued"
            } else {
                "failed"
            })
            .bind(&error)
            .bind(retry_at.map(|t| t.0))
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok(())
        })
    }

    async fn list_outbox(
        &self,
        shop_id: Id,
        ticket_id: Option<Id>,
        limit: i64,
    ) -> Result<Vec<OutboxMail>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OUTBOX_COLUMNS} FROM mail_outbox WHERE shop_id = $1 \
             AND ($2 IS NULL OR ticket_id = $2) ORDER BY id DESC LIMIT $3"
        )))
        .bind(shop_id)
        .bind(ticket_id)
        .bind(limit)
        .fetch_all(self.reader())
        .await
        .map_err(db_err)?;
        rows.iter().map(outbox_from_row).collect()
    }
}
