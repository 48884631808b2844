//! The sandbox messaging provider: nothing leaves the machine, statuses behave like a real
//! provider's, and the recipient chooses the outcome:
//!
//! | input | outcome |
//! |---|---|
//! | an email recipient whose local part starts with `bounce` | status `BOUNCED` |
//! | an email recipient whose local part starts with `complaint` | status `COMPLAINED` |
//! | any other email recipient | status `DELIVERED` |
//! | SMS or call to `+15005550001` | invalid number (`INVALID_ARGUMENT`, code `21211`) |
//! | SMS to `+15005550009` | status `UNDELIVERED` (code `30003`) |
//! | other numbers | status `DELIVERED` (calls: `SENT`) |
//! | push to device token `invalid-token` | `INVALID_ARGUMENT`, code `UNREGISTERED` |
//! | other push targets | status `SENT` |
//!
//! Message bodies are not stored, only the status record. The same idempotency key returns
//! the message created first.

use async_trait::async_trait;
use integ_core::family::{CallCtx, timestamp};
use integ_core::ids::new_id;
use integ_core::store::Store;
use integ_core::webhook::sandbox::Emitter;
use integ_core::{Error, Result};
use integ_proto::messaging::v1::{
    Channel, Message, MessageError, MessageStatus, SendEmailRequest, SendPushRequest,
    SendSmsRequest, StartVoiceCallRequest, send_push_request,
};

use crate::provider::{Capabilities, MessagingProvider};

/// The provider's name.
pub const NAME: &str = "sandbox";

/// The sandbox provider over a store.
#[derive(Debug, Clone)]
pub struct Sandbox {
    store: Store,
    events: Emitter,
}

impl Sandbox {
    /// A sandbox keeping its message records in `store` and reporting statuses through
    /// `events` (`message.delivered`, `message.bounced`, …).
    pub fn new(store: Store, events: Emitter) -> Self {
        Self { store, events }
    }

    async fn record(
        &self,
        ctx: &CallCtx,
        channel: Channel,
        status: MessageStatus,
        error: Option<MessageError>,
        tags: &[String],
    ) -> Result<Message> {
        let records = self.store.records("messaging");
        let idem = format!("message:{}", ctx.idempotency_key);
        if !ctx.idempotency_key.is_empty()
            && let Some(id) = records.get::<String>("idem", &idem).await?
            && let Some(existing) = records.get_message("message", &id).await?
        {
            return Ok(existing);
        }
        let now = Some(timestamp(std::time::SystemTime::now()));
        let message = Message {
            id: String::new(),
            channel: channel.into(),
            status: status.into(),
            provider: NAME.to_owned(),
            provider_id: new_id("msg_sbx"),
            error,
            tags: tags.to_vec(),
            create_time: now,
            update_time: now,
        };
        records
            .put_message("message", &message.provider_id, &message)
            .await?;
        if !ctx.idempotency_key.is_empty() {
            records.put("idem", &idem, &message.provider_id).await?;
        }
        let event = match status {
            MessageStatus::Delivered => "message.delivered",
            MessageStatus::Bounced => "message.bounced",
            MessageStatus::Complained => "message.complained",
            MessageStatus::Undelivered | MessageStatus::Failed => "message.failed",
            _ => "message.sent",
        };
        self.events.emit(event, "message", &message.provider_id);
        Ok(message)
    }
}

fn failure(code: &str, description: &str) -> Option<MessageError> {
    Some(MessageError {
        provider_code: code.to_owned(),
        description: description.to_owned(),
    })
}

fn invalid_number() -> Error {
    Error::invalid("to", "the number is not a valid phone number")
        .with_provider(NAME)
        .with_provider_code("21211")
}

#[async_trait]
impl MessagingProvider for Sandbox {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            email: true,
            sms: true,
            voice: true,
            push: true,
        }
    }

    async fn send_email(&self, ctx: &CallCtx, request: &SendEmailRequest) -> Result<Message> {
        let recipients = request.to.iter().chain(&request.cc).chain(&request.bcc);
        let local = |a: &str| a.split('@').next().unwrap_or_default().to_ascii_lowercase();
        let locals: Vec<String> = recipients.map(|r| local(&r.address)).collect();
        let (status, error) = if locals.iter().any(|l| l.starts_with("bounce")) {
            (
                MessageStatus::Bounced,
                failure("bounce", "the recipient's server refused the message"),
            )
        } else if locals.iter().any(|l| l.starts_with("complaint")) {
            (
                MessageStatus::Complained,
                failure("complaint", "the recipient marked the message as spam"),
            )
        } else {
            (MessageStatus::Delivered, None)
        };
        self.record(ctx, Channel::Email, status, error, &request.tags)
            .await
    }

    async fn send_sms(&self, ctx: &CallCtx, request: &SendSmsRequest) -> Result<Message> {
        match request.to.as_str() {
            "+15005550001" => Err(invalid_number()),
            "+15005550009" => {
                self.record(
                    ctx,
                    Channel::Sms,
                    MessageStatus::Undelivered,
                    failure("30003", "the handset is unreachable"),
                    &[],
                )
                .await
            }
            _ => {
                self.record(ctx, Channel::Sms, MessageStatus::Delivered, None, &[])
                    .await
            }
        }
    }

    async fn start_voice_call(
        &self,
        ctx: &CallCtx,
        request: &StartVoiceCallRequest,
    ) -> Result<Message> {
        if request.to == "+15005550001" {
            return Err(invalid_number());
        }
        self.record(ctx, Channel::Voice, MessageStatus::Sent, None, &[])
            .await
    }

    async fn send_push(&self, ctx: &CallCtx, request: &SendPushRequest) -> Result<Message> {
        if let Some(send_push_request::Target::DeviceToken(token)) = &request.target
            && token == "invalid-token"
        {
            return Err(
                Error::invalid("device_token", "the device token is not registered")
                    .with_provider(NAME)
                    .with_provider_code("UNREGISTERED"),
            );
        }
        self.record(ctx, Channel::Push, MessageStatus::Sent, None, &[])
            .await
    }

    async fn get_message(&self, _ctx: &CallCtx, provider_id: &str) -> Result<Message> {
        self.store
            .records("messaging")
            .get_message("message", provider_id)
            .await?
            .ok_or_else(|| Error::not_found("message", provider_id).with_provider(NAME))
    }
}
