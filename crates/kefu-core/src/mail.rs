//! Outbound e-mail: a shop's SMTP settings, their validation, and the durable outbox.
//!
//! Mail is never sent inline with the request that causes it. The request stores a row in the
//! outbox in the same commit as its own change (a ticket reply, say); a background sender claims
//! due rows, delivers them through the shop's SMTP server and records the outcome, retrying with
//! back-off. So a reply is never lost because the mail server was down, and a slow mail server
//! never slows an agent down. No SMTP here: the transport lives in kefu-http.

use crate::model::{Id, string_enum};
use crate::time::Millis;
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

string_enum! {
    /// How the connection to the SMTP server is secured.
    SmtpSecurity { None => "none", Starttls => "starttls", Tls => "tls" }
}

string_enum! {
    /// Where an outbox row stands: `queued` (waiting or retrying), `sent`, or `failed` for good.
    MailStatus { Queued => "queued", Sent => "sent", Failed => "failed" }
}

/// How often a mail is tried before it is marked `failed`.
pub const MAX_MAIL_ATTEMPTS: i64 = 5;
/// How long a sender owns a claimed row; a crashed sender's rows become due again after it.
pub const MAIL_LEASE_MS: i64 = 2 * 60 * 1000;
/// The longest subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;
/// The longest body, in bytes.
pub const MAX_MAIL_BODY_BYTES: usize = 64 * 1024;

/// The wait before retry `attempt` (1-based): 1 min, 5 min, 30 min, 2 h.
pub fn retry_delay_ms(attempt: i64) -> i64 {
    const MINUTE: i64 = 60_000;
    match attempt {
        ..=1 => MINUTE,
        2 => 5 * MINUTE,
        3 => 30 * MINUTE,
        _ => 120 * MINUTE,
    }
}

/// The shop's SMTP settings as stored, without the password.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct MailSettings {
    /// Off: nothing is queued and the console says mail is not configured.
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// Empty: the server is used without authentication (a local relay).
    pub username: String,
    pub from_address: String,
    pub from_name: String,
}

/// The settings as the console sees them: the password is never returned, only whether one is set.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct MailSettingsView {
    #[serde(flatten)]
    pub settings: MailSettings,
    pub password_set: bool,
    /// Enabled and complete: replies to shoppers with an e-mail address are mailed.
    pub configured: bool,
}

/// What an admin submits. `password`: absent keeps the stored one, `""` clears it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MailSettingsInput {
    #[serde(flatten)]
    pub settings: MailSettings,
    pub password: Option<String>,
}

/// A password kept apart so that `Debug` (and so any log line) never shows it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SmtpPassword(pub String);

impl std::fmt::Debug for SmtpPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

/// A syntactically plausible address: one `@`, a non-empty local part, a dotted domain, no
/// whitespace or characters that could break a header.
pub fn valid_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && domain.len() <= 253
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && address
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '<' | '>' | ',' | '"'))
}

/// A header value (name, subject) must not carry line breaks: they would let a value inject
/// headers of its own.
fn single_line(field: &str, value: &str) -> Result<()> {
    if value.chars().any(char::is_control) {
        return Err(Error::validation(format!(
            "{field} must not contain line breaks or control characters"
        )));
    }
    Ok(())
}

impl MailSettings {
    /// Whether mail can be sent with these settings.
    pub fn is_complete(&self) -> bool {
        self.enabled && !self.host.is_empty() && self.port != 0 && valid_email(&self.from_address)
    }

    /// Checks the fields an admin typed. Disabled settings may be incomplete (saved for later),
    /// but what is filled in must still be well-formed.
    pub fn validate(&self) -> Result<()> {
        let host = self.host.trim();
        if host.len() > 253 || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::validation(
                "host must be a host name or address without spaces",
            ));
        }
        if self.enabled && host.is_empty() {
            return Err(Error::validation("host is required when mail is enabled"));
        }
        if self.enabled && self.port == 0 {
            return Err(Error::validation("port must be between 1 and 65535"));
        }
        if (self.enabled || !self.from_address.is_empty()) && !valid_email(&self.from_address) {
            return Err(Error::validation("from_address must be an e-mail address"));
        }
        single_line("from_name", &self.from_name)?;
        single_line("username", &self.username)?;
        if self.from_name.chars().count() > 100 || self.username.len() > 254 {
            return Err(Error::validation(
                "from_name is limited to 100 characters and username to 254 bytes",
            ));
        }
        Ok(())
    }
}

/// A mail to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMail {
    pub to_address: String,
    pub to_name: String,
    pub subject: String,
    pub body_text: String,
    /// What caused it (`ticket_reply`, `test`), for the console's list.
    pub kind: String,
    pub ticket_id: Option<Id>,
}

impl NewMail {
    pub fn validate(&self) -> Result<()> {
        if !valid_email(&self.to_address) {
            return Err(Error::validation("to must be an e-mail address"));
        }
        single_line("to_name", &self.to_name)?;
        single_line("subject", &self.subject)?;
        if self.subject.trim().is_empty() || self.subject.chars().count() > MAX_SUBJECT_CHARS {
            return Err(Error::validation(format!(
                "subject must be 1-{MAX_SUBJECT_CHARS} characters"
            )));
        }
        if self.body_text.len() > MAX_MAIL_BODY_BYTES {
            return Err(Error::validation("body is limited to 64 KiB"));
        }
        Ok(())
    }
}

/// One row of the outbox.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct OutboxMail {
    pub id: Id,
    pub shop_id: Id,
    pub to_address: String,
    pub to_name: String,
    pub subject: String,
    pub body_text: String,
    pub kind: String,
    pub ticket_id: Option<Id>,
    pub status: MailStatus,
    pub attempts: i64,
    /// The SMTP server's last refusal or the connection error, for the console.
    pub last_error: Option<String>,
    pub next_attempt_at: Option<Millis>,
    pub created_at: Millis,
    pub sent_at: Option<Millis>,
}

/// The storage port of outbound mail.
#[async_trait]
pub trait MailStore: Send + Sync {
    /// The shop's settings and password, `None` when never saved.
    async fn mail_settings(&self, shop_id: Id) -> Result<Option<(MailSettings, SmtpPassword)>>;
    /// Saves the settings; `password: None` keeps the stored one.
    async fn put_mail_settings(
        &self,
        shop_id: Id,
        settings: &MailSettings,
        password: Option<SmtpPassword>,
    ) -> Result<()>;
    /// Stores a mail as `queued`, due at once.
    async fn enqueue_mail(&self, shop_id: Id, mail: &NewMail) -> Result<OutboxMail>;
    /// Claims up to `limit` queued rows due by `now` across all shops, moving their next attempt
    /// to `now + MAIL_LEASE_MS` so that of several senders (nodes) exactly one gets each row.
    async fn claim_due_mail(&self, now: Millis, limit: i64) -> Result<Vec<OutboxMail>>;
    /// Records a delivery.
    async fn mark_mail_sent(&self, id: Id, now: Millis) -> Result<()>;
    /// Records a failed attempt: `retry_at` some time → queued again then; `None` → failed for good.
    async fn mark_mail_failed(&self, id: Id, error: &str, retry_at: Option<Millis>) -> Result<()>;
    /// The shop's outbox, newest first, optionally of one ticket.
    async fn list_outbox(
        &self,
        shop_id: Id,
        ticket_id: Option<Id>,
        limit: i64,
    ) -> Result<Vec<OutboxMail>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> MailSettings {
        MailSettings {
            enabled: true,
            host: "smtp.example.com".into(),
            port: 587,
            security: SmtpSecurity::Starttls,
            username: "kefu".into(),
            from_address: "service@example.com".into(),
            from_name: "示例店 客服".into(),
        }
    }

    #[test]
    fn emails() {
        assert!(valid_email("a@b.cn"));
        assert!(valid_email("zhang.san+tag@shop.example.com"));
        for bad in [
            "",
            "a",
            "@b.cn",
            "a@",
            "a@b",
            "a@.cn",
            "a@b.",
            "a b@c.cn",
            "a@b.cn\r\nBcc: x@y.z",
            "<a@b.cn>",
            "a@b@c.cn",
        ] {
            assert!(!valid_email(bad), "{bad:?} accepted");
        }
    }

    #[test]
    fn settings_validation() {
        assert!(settings().validate().is_ok());
        assert!(settings().is_complete());
        let mut s = settings();
        s.host = String::new();
        assert!(s.validate().is_err());
        s.enabled = false;
        assert!(s.validate().is_ok(), "disabled settings may be incomplete");
        assert!(!s.is_complete());
        let mut s = settings();
        s.from_name = "x\r\nBcc: evil@example.com".into();
        assert!(s.validate().is_err());
        let mut s = settings();
        s.port = 0;
        assert!(s.validate().is_err());
        let mut s = settings();
        s.from_address = "nobody".into();
        assert!(s.validate().is_err());
    }

    #[test]
    fn password_is_never_printed() {
        let p = SmtpPassword("hunter2".into());
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn mail_validation() {
        let mail = NewMail {
            to_address: "buyer@example.com".into(),
            to_name: "张三".into(),
            subject: "您的工单 T-000001 有新回复".into(),
            body_text: "您好".into(),
            kind: "ticket_reply".into(),
            ticket_id: Some(1),
        };
        assert!(mail.validate().is_ok());
        let mut m = mail.clone();
        m.subject = "a\nb".into();
        assert!(m.validate().is_err());
        let mut m = mail.clone();
        m.to_address = "x".into();
        assert!(m.validate().is_err());
        let mut m = mail;
        m.body_text = "x".repeat(MAX_MAIL_BODY_BYTES + 1);
        assert!(m.validate().is_err());
    }

    #[test]
    fn backoff_grows() {
        let delays: Vec<i64> = (1..=5).map(retry_delay_ms).collect();
        assert!(delays.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(delays[0], 60_000);
    }
}
