//! Outgoing mail. Every message is written to the `mail_outbox` table inside the caller's
//! transaction (so a rolled-back change sends nothing) and to the log. In production the
//! log line omits the body, which may hold a secret such as a reset link.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::mail_outbox;

#[derive(Debug, Clone)]
pub struct Mailer {
    from: String,
    log_bodies: bool,
}

#[derive(Insertable)]
#[diesel(table_name = mail_outbox)]
struct NewMail<'a> {
    id: Uuid,
    recipient: &'a str,
    subject: &'a str,
    body_text: &'a str,
}

impl Mailer {
    pub fn new(from: String, log_bodies: bool) -> Self {
        Self { from, log_bodies }
    }

    /// Queues a plain-text message.
    pub async fn queue(
        &self,
        conn: &mut AsyncPgConnection,
        recipient: &str,
        subject: &str,
        body: &str,
    ) -> QueryResult<Uuid> {
        let id = Uuid::now_v7();
        diesel::insert_into(mail_outbox::table)
            .values(NewMail {
                id,
                recipient,
                subject,
                body_text: body,
            })
            .execute(conn)
            .await?;
        if self.log_bodies {
            tracing::info!(mail_id = %id, from = %self.from, to = recipient, subject, body, "mail queued");
        } else {
            tracing::info!(mail_id = %id, subject, "mail queued");
        }
        Ok(id)
    }
}
