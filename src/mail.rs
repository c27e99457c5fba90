//! Outgoing mail through an outbox.
//!
//! Every message is written to `mail_outbox` inside the caller's transaction, so a rolled-back
//! change sends nothing. Without `SMTP_URL` that row (and a log line) is the delivery: bodies
//! are logged in development only, since they may hold a secret such as a reset link. With
//! `SMTP_URL`, a relay task claims pending rows (`FOR UPDATE SKIP LOCKED`, so several
//! instances never send one message twice), sends them and stamps `sent_at`; failures are
//! retried up to `MAX_ATTEMPTS` times with the error kept in `last_error`.
//!
//! A message may carry one text attachment (a call reminder's calendar file): kept in the
//! row beside the body and sent as a `multipart/mixed` message.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use lettre::{
    message::{header::ContentType, Mailbox, MultiPart, SinglePart},
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::db::{schema::mail_outbox, Db};

/// Sends per message before the relay gives up on it.
const MAX_ATTEMPTS: i32 = 8;
/// Messages claimed per round.
const BATCH: i64 = 20;
/// How often the relay looks for mail when nobody wakes it.
const POLL_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Mailer {
    from: String,
    log_bodies: bool,
    /// Wakes the relay when a message is queued (only when SMTP is configured).
    wake: Option<Arc<Notify>>,
}

#[derive(Insertable)]
#[diesel(table_name = mail_outbox)]
struct NewMail<'a> {
    id: Uuid,
    recipient: &'a str,
    subject: &'a str,
    body_text: &'a str,
    attachment_name: Option<&'a str>,
    attachment_content_type: Option<&'a str>,
    attachment_body: Option<&'a str>,
}

/// A text file attached to a message.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// The file name the recipient sees (`call.ics`).
    pub filename: String,
    /// Its MIME type with parameters (`text/calendar; charset=utf-8; method=PUBLISH`).
    pub content_type: String,
    /// The file's text.
    pub body: String,
}

impl Mailer {
    pub fn new(from: String, log_bodies: bool, wake: Option<Arc<Notify>>) -> Self {
        Self { from, log_bodies, wake }
    }

    /// Queues a plain-text message in the caller's transaction.
    pub async fn queue(
        &self,
        conn: &mut AsyncPgConnection,
        recipient: &str,
        subject: &str,
        body: &str,
    ) -> QueryResult<Uuid> {
        self.queue_with(conn, recipient, subject, body, None).await
    }

    /// Queues a plain-text message with an attachment, if any, in the caller's transaction.
    pub async fn queue_with(
        &self,
        conn: &mut AsyncPgConnection,
        recipient: &str,
        subject: &str,
        body: &str,
        attachment: Option<&Attachment>,
    ) -> QueryResult<Uuid> {
        let id = Uuid::now_v7();
        diesel::insert_into(mail_outbox::table)
            .values(NewMail {
                id,
                recipient,
                subject,
                body_text: body,
                attachment_name: attachment.map(|a| a.filename.as_str()),
                attachment_content_type: attachment.map(|a| a.content_type.as_str()),
                attachment_body: attachment.map(|a| a.body.as_str()),
            })
            .execute(conn)
            .await?;
        if self.log_bodies {
            tracing::info!(mail_id = %id, from = %self.from, to = recipient, subject, body, "mail queued");
        } else {
            tracing::info!(mail_id = %id, subject, "mail queued");
        }
        if let Some(wake) = &self.wake {
            // The relay may run before this transaction commits; its next poll picks it up.
            wake.notify_one();
        }
        Ok(id)
    }
}

/// Delivers the outbox over SMTP.
pub struct SmtpRelay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    db: Db,
    wake: Arc<Notify>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = mail_outbox, check_for_backend(diesel::pg::Pg))]
struct PendingMail {
    id: Uuid,
    recipient: String,
    subject: String,
    body_text: String,
    attachment_name: Option<String>,
    attachment_content_type: Option<String>,
    attachment_body: Option<String>,
}

impl PendingMail {
    /// The attachment, when the row has a whole one.
    fn attachment(&self) -> Option<Attachment> {
        match (
            &self.attachment_name,
            &self.attachment_content_type,
            &self.attachment_body,
        ) {
            (Some(filename), Some(content_type), Some(body)) => Some(Attachment {
                filename: filename.clone(),
                content_type: content_type.clone(),
                body: body.clone(),
            }),
            _ => None,
        }
    }
}

impl SmtpRelay {
    /// A relay for `smtp_url` (`smtps://…`, `smtp://…?tls=required`, or plain `smtp://…`).
    pub fn new(smtp_url: &str, from: &str, db: Db, wake: Arc<Notify>) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .context("SMTP_URL is not a valid SMTP URL")?
            .timeout(Some(Duration::from_secs(15)))
            .build();
        let from = from
            .parse()
            .context("MAIL_FROM is not a mailbox such as `gigmarket <no-reply@example.com>`")?;
        Ok(Self {
            transport,
            from,
            db,
            wake,
        })
    }

    /// Runs until the process ends.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                match self.deliver_pending().await {
                    // A full batch means more may be waiting: go again at once.
                    Ok(sent) if sent as i64 == BATCH => continue,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = format!("{e:#}"), "mail relay round failed"),
                }
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(POLL_EVERY) => {}
                }
            }
        })
    }

    /// Sends one batch of pending mail; returns how many messages it handled.
    pub async fn deliver_pending(&self) -> anyhow::Result<usize> {
        let mut conn = self.db.conn().await?;
        conn.transaction::<_, anyhow::Error, _>(async |conn| {
            let pending: Vec<PendingMail> = mail_outbox::table
                .filter(mail_outbox::sent_at.is_null())
                .filter(mail_outbox::attempts.lt(MAX_ATTEMPTS))
                .order(mail_outbox::created_at)
                .limit(BATCH)
                .select(PendingMail::as_select())
                .for_update()
                .skip_locked()
                .load(conn)
                .await?;
            let handled = pending.len();
            for mail in pending {
                let outcome = self.send(&mail).await;
                let now: DateTime<Utc> = Utc::now();
                let update = diesel::update(mail_outbox::table.find(mail.id));
                match outcome {
                    Ok(()) => {
                        update
                            .set((
                                mail_outbox::sent_at.eq(now),
                                mail_outbox::attempts.eq(mail_outbox::attempts + 1),
                            ))
                            .execute(conn)
                            .await?;
                        tracing::info!(mail_id = %mail.id, "mail sent");
                    }
                    Err(e) => {
                        let error = format!("{e:#}");
                        tracing::warn!(mail_id = %mail.id, error, "mail not sent; will retry");
                        update
                            .set((
                                mail_outbox::attempts.eq(mail_outbox::attempts + 1),
                                mail_outbox::last_error.eq(error),
                            ))
                            .execute(conn)
                            .await?;
                    }
                }
            }
            Ok(handled)
        })
        .await
    }

    async fn send(&self, mail: &PendingMail) -> anyhow::Result<()> {
        let builder = Message::builder()
            .from(self.from.clone())
            .to(mail.recipient.parse().context("recipient is not a mailbox")?)
            .subject(mail.subject.as_str());
        let message = match mail.attachment() {
            None => builder.header(ContentType::TEXT_PLAIN).body(mail.body_text.clone()),
            Some(attachment) => {
                let content_type = ContentType::parse(&attachment.content_type).context("attachment content type")?;
                builder.multipart(
                    MultiPart::mixed()
                        .singlepart(SinglePart::plain(mail.body_text.clone()))
                        .singlepart(
                            lettre::message::Attachment::new(attachment.filename).body(attachment.body, content_type),
                        ),
                )
            }
        }
        .context("building the message")?;
        self.transport.send(message).await.context("SMTP")?;
        Ok(())
    }
}

/// Deletes sent mail older than `before`; returns how many.
pub async fn prune(conn: &mut AsyncPgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(mail_outbox::table.filter(mail_outbox::sent_at.lt(before)))
        .execute(conn)
        .await
}
