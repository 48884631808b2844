//! The seam between the messaging service and its providers (email, SMS, voice, push).
//!
//! A provider sends through its own wire protocol and answers with a neutral [`Message`]
//! carrying its own id; the service mints ours. Resilience wraps providers from outside.

use async_trait::async_trait;
use integ_core::Result;
use integ_core::family::CallCtx;
use integ_proto::messaging::v1::{
    Message, SendEmailRequest, SendPushRequest, SendSmsRequest, StartVoiceCallRequest,
};

/// The channels a provider offers; a missing one answers `UNIMPLEMENTED` (reason UNSUPPORTED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Email.
    pub email: bool,
    /// SMS.
    pub sms: bool,
    /// Voice calls.
    pub voice: bool,
    /// Push notifications.
    pub push: bool,
}

/// A messaging provider.
#[async_trait]
pub trait MessagingProvider: Send + Sync {
    /// The provider's name.
    fn name(&self) -> &'static str;

    /// The channels it offers.
    fn capabilities(&self) -> Capabilities;

    /// Sends an email.
    async fn send_email(&self, ctx: &CallCtx, request: &SendEmailRequest) -> Result<Message>;

    /// Sends an SMS.
    async fn send_sms(&self, ctx: &CallCtx, request: &SendSmsRequest) -> Result<Message>;

    /// Starts a voice call.
    async fn start_voice_call(
        &self,
        ctx: &CallCtx,
        request: &StartVoiceCallRequest,
    ) -> Result<Message>;

    /// Sends a push notification.
    async fn send_push(&self, ctx: &CallCtx, request: &SendPushRequest) -> Result<Message>;

    /// Reads a message's status by the provider's id.
    async fn get_message(&self, ctx: &CallCtx, provider_id: &str) -> Result<Message>;
}
