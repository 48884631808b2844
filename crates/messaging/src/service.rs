//! `integ.messaging.v1.MessagingService`: validation, idempotency, ids and the call through the
//! family's providers.
//!
//! Sends require an idempotency key and run once per key; the key is passed on to providers
//! that deduplicate. Failover between providers (on by default for messaging) happens only when
//! a provider certainly did not take the message.

use std::future::Future;
use std::sync::Arc;

use integ_core::family::{CallCtx, Ids, Reply, mutate, provider_health, reply, required};
use integ_core::resilience::{Deadline, Providers, Repeat, Served};
use integ_core::store::Store;
use integ_core::{Error, Result};
use integ_proto::messaging::v1::messaging_service_server::MessagingService;
use integ_proto::messaging::v1::*;
use tonic::{Request, Response, Status};

use crate::provider::{Capabilities, MessagingProvider};

const FAMILY: &str = "messaging";

/// Largest total size of an email's attachments, in bytes.
pub const MAX_ATTACHMENT_BYTES: usize = 7 * 1024 * 1024;
/// Most recipients of one email (to, cc and bcc together).
pub const MAX_RECIPIENTS: usize = 50;

/// The messaging service over its providers and the store.
pub struct Messaging {
    providers: Providers<dyn MessagingProvider>,
    store: Store,
}

impl Messaging {
    /// A service over `providers`, keeping ids and idempotency records in `store`.
    pub fn new(providers: Providers<dyn MessagingProvider>, store: Store) -> Self {
        Self { providers, store }
    }

    async fn send<Req, F, Fut>(
        &self,
        deadline: Deadline,
        req: Req,
        provider: &str,
        key: &str,
        (channel, what): (fn(&Capabilities) -> bool, &'static str),
        op: F,
    ) -> Result<(Message, String)>
    where
        Req: Clone,
        F: Fn(Arc<dyn MessagingProvider>, CallCtx, Req) -> Fut,
        Fut: Future<Output = Result<Message>>,
    {
        let key = key.to_owned();
        let served: Served<Message> = self
            .providers
            .call(provider, deadline, Repeat::Safe, |p, attempt| {
                let ctx = CallCtx {
                    idempotency_key: key.clone(),
                    attempt,
                };
                let req = req.clone();
                let supported = channel(&p.capabilities());
                let name = p.name();
                let fut = op(p, ctx, req);
                async move {
                    if !supported {
                        return Err(Error::unsupported(name, what));
                    }
                    fut.await
                }
            })
            .await?;
        let mut message = served.value;
        message.id = Ids::new(&self.store, FAMILY)
            .mint("msg", "message", &served.provider, &message.provider_id)
            .await?;
        message.provider = served.provider.clone();
        Ok((message, served.provider))
    }
}

fn validate_email(req: &SendEmailRequest) -> Result<()> {
    let from = req
        .from
        .as_ref()
        .ok_or_else(|| Error::invalid("from", "from is required"))?;
    address("from.address", &from.address)?;
    if req.to.is_empty() {
        return Err(Error::invalid(
            "to",
            "at least one recipient in to is required",
        ));
    }
    let recipients: Vec<_> = req.to.iter().chain(&req.cc).chain(&req.bcc).collect();
    if recipients.len() > MAX_RECIPIENTS {
        return Err(Error::invalid(
            "to",
            "at most 50 recipients in to, cc and bcc together",
        ));
    }
    for r in recipients {
        address("to.address", &r.address)?;
    }
    let has_body = !req.text_body.is_empty() || !req.html_body.is_empty();
    match &req.template {
        Some(t) => {
            required("template.id", &t.id)?;
        }
        None if !has_body => {
            return Err(Error::invalid(
                "text_body",
                "a text body, an HTML body or a template is required",
            ));
        }
        None => {
            required("subject", &req.subject)?;
        }
    }
    let total: usize = req.attachments.iter().map(|a| a.content.len()).sum();
    if total > MAX_ATTACHMENT_BYTES {
        return Err(Error::invalid(
            "attachments",
            "attachments total at most 7 MiB",
        ));
    }
    for a in &req.attachments {
        required("attachments.filename", &a.filename)?;
    }
    Ok(())
}

fn address(field: &str, value: &str) -> Result<()> {
    let (local, domain) = value.rsplit_once('@').unwrap_or_default();
    if local.is_empty() || !domain.contains('.') || value.chars().any(char::is_whitespace) {
        return Err(Error::invalid(field, "must be an email address"));
    }
    Ok(())
}

/// Checks an E.164 phone number: `+`, then 2 to 15 digits, the first not 0.
fn phone(field: &str, value: &str) -> Result<()> {
    let digits = value.strip_prefix('+').unwrap_or_default();
    let ok = (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if !ok {
        return Err(Error::invalid(
            field,
            "must be an E.164 number such as +14155550100",
        ));
    }
    Ok(())
}

#[tonic::async_trait]
impl MessagingService for Messaging {
    async fn send_email(&self, request: Request<SendEmailRequest>) -> Reply<SendEmailResponse> {
        mutate(
            &self.store,
            request,
            "SendEmail",
            |r| &r.idempotency_key,
            |r, k| r.idempotency_key = k,
            |deadline, req| async move {
                validate_email(&req)?;
                let (provider, key) = (req.provider.clone(), req.idempotency_key.clone());
                let (message, provider) = self
                    .send(
                        deadline,
                        req,
                        &provider,
                        &key,
                        (|c| c.email, "email"),
                        |p, ctx, req| async move { p.send_email(&ctx, &req).await },
                    )
                    .await?;
                Ok(SendEmailResponse {
                    message: Some(message),
                    provider,
                })
            },
        )
        .await
    }

    async fn send_sms(&self, request: Request<SendSmsRequest>) -> Reply<SendSmsResponse> {
        mutate(
            &self.store,
            request,
            "SendSms",
            |r| &r.idempotency_key,
            |r, k| r.idempotency_key = k,
            |deadline, req| async move {
                phone("to", &req.to)?;
                required("body", &req.body)?;
                if req.body.chars().count() > 1600 {
                    return Err(Error::invalid(
                        "body",
                        "an SMS body holds at most 1600 characters",
                    ));
                }
                let (provider, key) = (req.provider.clone(), req.idempotency_key.clone());
                let (message, provider) = self
                    .send(
                        deadline,
                        req,
                        &provider,
                        &key,
                        (|c| c.sms, "SMS"),
                        |p, ctx, req| async move { p.send_sms(&ctx, &req).await },
                    )
                    .await?;
                Ok(SendSmsResponse {
                    message: Some(message),
                    provider,
                })
            },
        )
        .await
    }

    async fn start_voice_call(
        &self,
        request: Request<StartVoiceCallRequest>,
    ) -> Reply<StartVoiceCallResponse> {
        mutate(
            &self.store,
            request,
            "StartVoiceCall",
            |r| &r.idempotency_key,
            |r, k| r.idempotency_key = k,
            |deadline, req| async move {
                phone("to", &req.to)?;
                match &req.instructions {
                    Some(start_voice_call_request::Instructions::Speech(s)) => {
                        required("speech.text", &s.text)?;
                    }
                    Some(start_voice_call_request::Instructions::InstructionsUrl(u)) => {
                        let ok = url::Url::parse(u)
                            .is_ok_and(|u| u.scheme() == "https" || u.scheme() == "http");
                        if !ok {
                            return Err(Error::invalid(
                                "instructions_url",
                                "must be an http(s) URL",
                            ));
                        }
                    }
                    None => {
                        return Err(Error::invalid(
                            "speech",
                            "speech or instructions_url is required",
                        ));
                    }
                }
                let (provider, key) = (req.provider.clone(), req.idempotency_key.clone());
                let (message, provider) = self
                    .send(
                        deadline,
                        req,
                        &provider,
                        &key,
                        (|c| c.voice, "voice calls"),
                        |p, ctx, req| async move { p.start_voice_call(&ctx, &req).await },
                    )
                    .await?;
                Ok(StartVoiceCallResponse {
                    message: Some(message),
                    provider,
                })
            },
        )
        .await
    }

    async fn send_push(&self, request: Request<SendPushRequest>) -> Reply<SendPushResponse> {
        mutate(
            &self.store,
            request,
            "SendPush",
            |r| &r.idempotency_key,
            |r, k| r.idempotency_key = k,
            |deadline, req| async move {
                match &req.target {
                    Some(send_push_request::Target::DeviceToken(t)) => {
                        required("device_token", t)?;
                    }
                    Some(send_push_request::Target::Topic(t)) => {
                        required("topic", t)?;
                    }
                    None => {
                        return Err(Error::invalid(
                            "device_token",
                            "a device token or a topic is required",
                        ));
                    }
                }
                if req.notification.is_none() && req.data.is_empty() {
                    return Err(Error::invalid(
                        "notification",
                        "a notification or data is required",
                    ));
                }
                let (provider, key) = (req.provider.clone(), req.idempotency_key.clone());
                let (message, provider) = self
                    .send(
                        deadline,
                        req,
                        &provider,
                        &key,
                        (|c| c.push, "push"),
                        |p, ctx, req| async move { p.send_push(&ctx, &req).await },
                    )
                    .await?;
                Ok(SendPushResponse {
                    message: Some(message),
                    provider,
                })
            },
        )
        .await
    }

    async fn get_message(&self, request: Request<GetMessageRequest>) -> Reply<GetMessageResponse> {
        let deadline = integ_core::family::deadline(&request);
        let req = request.into_inner();
        reply(async {
            let found = Ids::new(&self.store, FAMILY)
                .locate("id", "message", &req.id, &req.provider)
                .await?;
            let served = self
                .providers
                .call(&found.provider, deadline, Repeat::Safe, |p, attempt| {
                    let pid = found.provider_id.clone();
                    async move {
                        p.get_message(
                            &CallCtx {
                                idempotency_key: String::new(),
                                attempt,
                            },
                            &pid,
                        )
                        .await
                    }
                })
                .await?;
            let mut message = served.value;
            message.id = found.id.clone();
            message.provider = served.provider.clone();
            Ok(GetMessageResponse {
                message: Some(message),
                provider: served.provider,
            })
        })
        .await
    }

    async fn get_provider_health(
        &self,
        request: Request<GetProviderHealthRequest>,
    ) -> Reply<GetProviderHealthResponse> {
        let providers =
            provider_health(&self.providers, &request.get_ref().provider).map_err(Status::from)?;
        Ok(Response::new(GetProviderHealthResponse { providers }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_must_be_e164() {
        assert!(phone("to", "+14155550100").is_ok());
        for bad in [
            "14155550100",
            "+0123",
            "+1",
            "+1415555010012345",
            "+1 415 555",
        ] {
            assert!(phone("to", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn email_needs_sender_recipient_and_content() {
        let ok = SendEmailRequest {
            from: Some(EmailAddress {
                address: "shop@example.com".into(),
                name: String::new(),
            }),
            to: vec![EmailAddress {
                address: "ada@example.com".into(),
                name: String::new(),
            }],
            subject: "Receipt".into(),
            text_body: "Thanks".into(),
            ..Default::default()
        };
        assert!(validate_email(&ok).is_ok());
        let mut no_to = ok.clone();
        no_to.to.clear();
        assert_eq!(
            validate_email(&no_to).unwrap_err().field.as_deref(),
            Some("to")
        );
        let mut no_body = ok.clone();
        no_body.text_body.clear();
        assert!(validate_email(&no_body).is_err());
        let mut big = ok;
        big.attachments.push(Attachment {
            filename: "a.bin".into(),
            content_type: String::new(),
            content: vec![0; MAX_ATTACHMENT_BYTES + 1],
        });
        assert_eq!(
            validate_email(&big).unwrap_err().field.as_deref(),
            Some("attachments")
        );
    }
}
