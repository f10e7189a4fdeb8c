//! Outbound e-mail through each shop's SMTP server: queueing, the background sender, and a
//! synchronous test send for the settings page.
//!
//! Callers never talk SMTP. They queue a mail ([`MailService::queue_mail`]) once their own change
//! is committed; the sender task claims due rows with a lease (so several nodes never send one
//! row twice), delivers them and records the outcome, retrying with back-off up to
//! [`MAX_MAIL_ATTEMPTS`]. The SMTP password is read from the store for each batch and never
//! logged; only the server's reply is kept as `last_error`.

use kefu_core::mail::*;
use kefu_core::model::Id;
use kefu_core::store::Store;
use kefu_core::time::Millis;
use kefu_core::{Error, Result};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The longest the sender sleeps without looking (mail queued on other nodes).
const SENDER_POLL: Duration = Duration::from_secs(5);
/// How long one SMTP conversation may take before it counts as failed.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);
/// Rows claimed per round.
const BATCH: i64 = 20;

/// Shops' outbound mail: the outbox and its sender.
pub struct MailService {
    store: Arc<dyn Store>,
    /// Wakes the sender when a mail is queued.
    queued: Notify,
}

impl MailService {
    pub fn new(store: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Self {
            store,
            queued: Notify::new(),
        })
    }
}

impl MailService {
    /// Whether a shop can mail shoppers, and why not, for the console.
    pub async fn mail_configured(&self, shop_id: Id) -> Result<bool> {
        Ok(self
            .store
            .mail_settings(shop_id)
            .await?
            .is_some_and(|(s, _)| s.is_complete()))
    }
}

impl MailService {
    /// Queues a mail for the shop when its mail is configured; `None` when it is not (the
    /// caller shows that instead). Validation errors (a bad address) are returned.
    pub async fn queue_mail(&self, shop_id: Id, mail: NewMail) -> Result<Option<OutboxMail>> {
        mail.validate()?;
        if !self.mail_configured(shop_id).await? {
            return Ok(None);
        }
        let row = self.store.enqueue_mail(shop_id, &mail).await?;
        self.queued.notify_one();
        Ok(Some(row))
    }
}

/// What the console shows beside a ticket's composer: whether a public reply is mailed, to whom,
/// and the mails sent for the ticket so far.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TicketMail {
    /// The shop's mail is configured.
    pub configured: bool,
    /// The requester's e-mail address, when known.
    pub to_address: Option<String>,
    pub mails: Vec<OutboxMail>,
}

impl MailService {
    /// The requester's address of a ticket, when it has a requester with one.
    async fn requester_address(
        &self,
        ticket: &kefu_core::tickets::Ticket,
    ) -> Result<Option<(String, String)>> {
        let Some(customer) = &ticket.customer else {
            return Ok(None);
        };
        let profile = self
            .store
            .customer_profile(ticket.shop_id, customer.id)
            .await?;
        Ok(profile.and_then(|p| p.email.filter(|e| valid_email(e)).map(|e| (e, p.name))))
    }
}

impl MailService {
    /// The mail situation of a ticket the caller may see.
    pub async fn ticket_mail(&self, ticket: &kefu_core::tickets::Ticket) -> Result<TicketMail> {
        Ok(TicketMail {
            configured: self.mail_configured(ticket.shop_id).await?,
            to_address: self.requester_address(ticket).await?.map(|(a, _)| a),
            mails: self
                .store
                .list_outbox(ticket.shop_id, Some(ticket.id), 50)
                .await?,
        })
    }
}

impl MailService {
    /// Queues the mail of a public reply to the ticket's requester, when the shop's mail is
    /// configured and the requester has an address. The reply is committed already; a failure here
    /// is logged and leaves the reply in place (the shopper still sees it in the widget).
    pub async fn mail_ticket_reply(&self, ticket: &kefu_core::tickets::Ticket, entry_id: Id) {
        let result: Result<()> = async {
        let Some((to_address, to_name)) = self.requester_address(ticket).await? else {
            return Ok(());
        };
        let entries = self
            .store
            .ticket_entries(ticket.shop_id, ticket.id, true)
            .await?;
        let Some(entry) = entries.iter().find(|e| e.id == entry_id) else {
            return Ok(());
        };
        let shop = self.store.shop_by_id(ticket.shop_id).await?;
        let shop_name = shop.map(|s| s.name).unwrap_or_default();
        let greeting = if to_name.trim().is_empty() {
            "您好：".to_string()
        } else {
            format!("{to_name}，您好：")
        };
        let body_text = format!(
            "{greeting}\n\n您的问题（工单 {number}：{subject}）有了新的回复：\n\n{reply}\n\n\
             如需继续沟通，请在店铺页面的在线客服窗口中查看并回复此工单（直接回复本邮件不会送达客服）。\n\n{shop_name}",
            number = ticket.display_number,
            subject = ticket.subject,
            reply = entry.body,
        );
        let subject: String = format!("【{shop_name}】您的工单 {} 有新回复", ticket.display_number)
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_SUBJECT_CHARS)
            .collect();
        self
            .queue_mail(
                ticket.shop_id,
                NewMail {
                    to_address,
                    to_name: to_name.chars().filter(|c| !c.is_control()).collect(),
                    subject,
                    body_text,
                    kind: "ticket_reply".into(),
                    ticket_id: Some(ticket.id),
                },
            )
            .await?;
        Ok(())
    }
    .await;
        if let Err(e) = result {
            tracing::warn!(%e, ticket_id = ticket.id, "could not queue the reply mail");
        }
    }
}

/// Builds the SMTP transport for a shop's settings.
fn transport(
    settings: &MailSettings,
    password: &SmtpPassword,
) -> Result<AsyncSmtpTransport<Tokio1Executor>> {
    let host = settings.host.trim();
    let tls = || {
        TlsParameters::new(host.to_string())
            .map_err(|e| Error::validation(format!("host: cannot use TLS with {host}: {e}")))
    };
    let tls = match settings.security {
        SmtpSecurity::None => Tls::None,
        SmtpSecurity::Starttls => Tls::Required(tls()?),
        SmtpSecurity::Tls => Tls::Wrapper(tls()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(settings.port)
        .tls(tls)
        .timeout(Some(SMTP_TIMEOUT));
    if !settings.username.is_empty() {
        builder = builder.credentials(Credentials::new(
            settings.username.clone(),
            password.0.clone(),
        ));
    }
    Ok(builder.build())
}

fn message(settings: &MailSettings, mail: &NewMail) -> Result<Message> {
    let address = |field: &str, value: &str| {
        value
            .parse()
            .map_err(|_| Error::validation(format!("{field} must be an e-mail address")))
    };
    let from = Mailbox::new(
        (!settings.from_name.is_empty()).then(|| settings.from_name.clone()),
        address("from_address", &settings.from_address)?,
    );
    let to = Mailbox::new(
        (!mail.to_name.is_empty()).then(|| mail.to_name.clone()),
        address("to", &mail.to_address)?,
    );
    Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body_text.clone())
        .map_err(|e| Error::validation(format!("mail: {e}")))
}

/// Delivers one mail now; the error text is the SMTP server's answer or the connection error.
async fn deliver(
    settings: &MailSettings,
    password: &SmtpPassword,
    mail: &NewMail,
) -> std::result::Result<(), String> {
    let message = message(settings, mail).map_err(|e| e.to_string())?;
    let transport = transport(settings, password).map_err(|e| e.to_string())?;
    transport
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

impl MailService {
    /// Sends a test mail synchronously with the shop's stored settings, so an admin sees at once
    /// whether they work. `validation_failed` with the server's answer when they do not.
    pub async fn send_test(&self, shop_id: Id, to: &str) -> Result<()> {
        let Some((settings, password)) = self.store.mail_settings(shop_id).await? else {
            return Err(Error::validation("mail is not configured"));
        };
        if !settings.is_complete() {
            return Err(Error::validation(
                "mail is not configured: enable it and fill in host, port and from_address",
            ));
        }
        let mail = NewMail {
        to_address: to.trim().to_string(),
        to_name: String::new(),
        subject: "kefu 测试邮件 / test mail".into(),
        body_text: "这是一封测试邮件：您的 SMTP 设置可以发送邮件。\n\nThis is a test mail: your SMTP settings work.".into(),
        kind: "test".into(),
        ticket_id: None,
    };
        mail.validate()?;
        deliver(&settings, &password, &mail)
            .await
            .map_err(|e| Error::validation(format!("the SMTP server refused or failed: {e}")))
    }
}

impl MailService {
    /// One round of the sender: claims due mail, sends it, records the outcome. Returns how many
    /// rows it handled.
    pub async fn send_due(&self, now: Millis) -> Result<usize> {
        let due = self.store.claim_due_mail(now, BATCH).await?;
        // Settings are read once per shop per round.
        let mut shops: HashMap<Id, Option<(MailSettings, SmtpPassword)>> = HashMap::new();
        for row in &due {
            if let std::collections::hash_map::Entry::Vacant(slot) = shops.entry(row.shop_id) {
                slot.insert(self.store.mail_settings(row.shop_id).await?);
            }
            let mail = NewMail {
                to_address: row.to_address.clone(),
                to_name: row.to_name.clone(),
                subject: row.subject.clone(),
                body_text: row.body_text.clone(),
                kind: row.kind.clone(),
                ticket_id: row.ticket_id,
            };
            let outcome = match shops.get(&row.shop_id).and_then(Option::as_ref) {
                Some((settings, password)) if settings.is_complete() => {
                    deliver(settings, password, &mail).await
                }
                // Turned off after queueing: keep it visible as failed rather than retry forever.
                _ => Err("mail is not configured".to_string()),
            };
            match outcome {
                Ok(()) => self.store.mark_mail_sent(row.id, Millis::now()).await?,
                Err(error) => {
                    let retry_at = (row.attempts < MAX_MAIL_ATTEMPTS
                        && error != "mail is not configured")
                        .then(|| Millis(Millis::now().0 + retry_delay_ms(row.attempts)));
                    tracing::warn!(mail_id = row.id, shop_id = row.shop_id, attempts = row.attempts, %error, "mail not delivered");
                    self.store
                        .mark_mail_failed(row.id, &error, retry_at)
                        .await?;
                }
            }
        }
        Ok(due.len())
    }
}

/// Starts the background sender.
pub fn spawn_sender(mail: &Arc<MailService>) -> tokio::task::JoinHandle<()> {
    let state = mail.clone();
    tokio::spawn(async move {
        loop {
            let wait = match state.send_due(Millis::now()).await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => SENDER_POLL,
                Err(e) => {
                    tracing::warn!(%e, "mail sender could not read the outbox");
                    SENDER_POLL
                }
            };
            tokio::select! {
                _ = state.queued.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    })
}
