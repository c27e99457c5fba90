//! Mail delivery through the outbox: over SMTP when configured, retried when it fails.

use std::time::Duration;

use serde_json::json;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
    sync::mpsc,
};

use crate::common::TestApp;

/// A minimal SMTP sink for tests: accepts every message and hands its DATA to the channel.
pub async fn fake_smtp() -> (String, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("smtp://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 fake.smtp ESMTP\r\n").await;
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            let _ = tx.send(data.take().unwrap_or_default());
                            let _ = write.write_all(b"250 queued\r\n").await;
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 fake.smtp\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 end with .\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"250 OK\r\n",
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    (url, rx)
}

#[tokio::test]
async fn reset_mail_is_delivered_over_smtp_and_marked_sent() {
    let (smtp_url, mut inbox) = fake_smtp().await;
    let app = TestApp::builder().var("SMTP_URL", &smtp_url).spawn().await;
    let user = app.with_user().await;
    app.gql(
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        json!({ "e": user.email }),
    )
    .await
    .data();
    let mail = tokio::time::timeout(Duration::from_secs(20), inbox.recv())
        .await
        .expect("mail within 20 s")
        .expect("a message");
    assert!(mail.contains("Subject: Reset your gigmarket password"), "{mail}");
    assert!(mail.contains(&format!("To: {}", user.email)), "{mail}");
    assert!(mail.contains("reset-password?token="), "{mail}");

    for _ in 0..50 {
        if !app
            .texts("SELECT id::text AS value FROM mail_outbox WHERE sent_at IS NOT NULL")
            .await
            .is_empty()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("mail_outbox.sent_at was never stamped");
}

#[tokio::test]
async fn undeliverable_mail_stays_queued_with_its_error() {
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let smtp_url = format!("smtp://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let app = TestApp::builder().var("SMTP_URL", &smtp_url).spawn().await;
    let user = app.with_user().await;
    app.gql(
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        json!({ "e": user.email }),
    )
    .await
    .data();
    for _ in 0..100 {
        let failed = app
            .texts("SELECT last_error AS value FROM mail_outbox WHERE sent_at IS NULL AND attempts >= 1 AND last_error IS NOT NULL")
            .await;
        if !failed.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the failed delivery was not recorded");
}
