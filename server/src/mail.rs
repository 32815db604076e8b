//! Outgoing mail: an SMTP relay in production, `.eml` files in an outbox folder in
//! development and tests (no mail server needed; the tests read the files, one `.eml`
//! per mail, names in sending order).

use crate::{
    config::{Config, SmtpTls},
    error::{Result, ServerError},
};
use lettre::{
    message::{
        header::{ContentTransferEncoding, ContentType},
        Body, Mailbox,
    },
    transport::smtp::authentication::Credentials,
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use std::path::PathBuf;

pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    Outbox {
        dir: PathBuf,
        from: Mailbox,
    },
}

fn mail_err(e: impl std::fmt::Display) -> ServerError {
    ServerError::Mail(e.to_string())
}

impl Mailer {
    pub fn from_config(c: &Config) -> Result<Self> {
        let from: Mailbox = c.mail_from.parse().map_err(mail_err)?;
        match &c.smtp_host {
            Some(host) => {
                let builder = match c.smtp_tls {
                    SmtpTls::None => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
                    }
                    SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                        .map_err(mail_err)?,
                    SmtpTls::Tls => {
                        AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(mail_err)?
                    }
                };
                let mut builder = builder.port(c.smtp_port);
                if let (Some(u), Some(p)) = (&c.smtp_user, &c.smtp_password) {
                    builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
                }
                Ok(Mailer::Smtp {
                    transport: builder.build(),
                    from,
                })
            }
            None => Ok(Mailer::Outbox {
                dir: c.mail_outbox.clone(),
                from,
            }),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp { .. } => "SMTP relay".into(),
            Mailer::Outbox { dir, .. } => format!("outbox folder {}", dir.display()),
        }
    }

    pub async fn send(&self, mail: Mail) -> Result<()> {
        let from = match self {
            Mailer::Smtp { from, .. } | Mailer::Outbox { from, .. } => from.clone(),
        };
        let to: Mailbox = mail.to.parse().map_err(mail_err)?;
        // Base64 keeps the UTF-8 text intact through any relay (no 8BITMIME needed).
        let body = Body::new_with_encoding(mail.body, ContentTransferEncoding::Base64)
            .map_err(|_| ServerError::Mail("body encoding refused".into()))?;
        let msg = Message::builder()
            .from(from)
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(mail_err)?;
        match self {
            Mailer::Smtp { transport, .. } => {
                transport.send(msg).await.map_err(mail_err)?;
            }
            Mailer::Outbox { dir, .. } => {
                // Written aside, then renamed: a reader never sees half a message. Names
                // sort in the order the mails were sent.
                tokio::fs::create_dir_all(dir).await?;
                let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
                let name = format!("{now:024}-{}", crate::tokens::row_id());
                let tmp = dir.join(format!(".{name}.tmp"));
                tokio::fs::write(&tmp, msg.formatted()).await?;
                tokio::fs::rename(&tmp, dir.join(format!("{name}.eml"))).await?;
            }
        }
        Ok(())
    }
}

/// The text of a message this module wrote (headers, blank line, Base64 body): what the
/// tests and the outbox reader need. `None` if it is not in that shape.
pub fn text_body(eml: &str) -> Option<String> {
    use base64::Engine;
    let eml = eml.replace("\r\n", "\n");
    let (_, body) = eml.split_once("\n\n")?;
    let b64: String = body.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    String::from_utf8(bytes).ok()
}

/// The first `http(s)://…/password/reset?token=…` link in a text.
pub fn reset_link(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|w| w.contains("/password/reset?token="))
        .map(str::to_string)
}
