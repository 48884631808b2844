//! Provider events: the durable inbox, consumer groups and at-least-once delivery.
//!
//! - [`inbox`]: stores verified webhook events with group commit: concurrent requests share
//!   one durable transaction, and each is answered only after that commit.
//! - [`queue`]: consumer groups, leases (delivery with an ack deadline), acknowledgements,
//!   redelivery, dead letters, replay and retention. Events about one resource reach a group
//!   in the order the provider created them: a later one waits while an earlier one is
//!   outstanding.
//! - [`service`]: `integ.events.v1.EventsService` over the two.
//!
//! Everything lives in the store, so several replicas on one PostgreSQL database share the
//! inbox: a lease is taken with a conditional update, so one event is never out on two
//! streams at once, and an unacknowledged lease simply expires if its replica dies.

pub mod inbox;
pub mod queue;
pub mod service;

use std::time::Duration;

use integ_proto::events::v1::{Event, EventResource};

use crate::config::{ConfigError, Env};
use crate::family::timestamp_ms;

/// Settings of event delivery.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// Deliveries before an event becomes a dead letter (`INTEG_EVENTS_MAX_ATTEMPTS`, 5).
    pub max_attempts: u32,
    /// How long events are kept (`INTEG_EVENTS_RETENTION_HOURS`, 168).
    pub retention: Duration,
    /// Webhook timestamp tolerance, both ways (`INTEG_WEBHOOK_TOLERANCE_SECS`, 300).
    pub tolerance: Duration,
}

impl EventsConfig {
    /// Reads the event settings.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            max_attempts: env.count("INTEG_EVENTS_MAX_ATTEMPTS", 5)?,
            retention: Duration::from_secs(
                3600 * u64::from(env.count("INTEG_EVENTS_RETENTION_HOURS", 168)?),
            ),
            tolerance: env.secs("INTEG_WEBHOOK_TOLERANCE_SECS", Duration::from_secs(300))?,
        })
    }
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            retention: Duration::from_secs(7 * 24 * 3600),
            tolerance: Duration::from_secs(300),
        }
    }
}

/// A verified event, normalised, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The provider that sent it.
    pub provider: String,
    /// The account segment of the webhook URL (empty for the default account).
    pub account: String,
    /// The provider's id of the event, which duplicates share.
    pub provider_event_id: String,
    /// The normalised type (`payment.succeeded`).
    pub event_type: String,
    /// The provider's own type (`payment_intent.succeeded`).
    pub provider_type: String,
    /// The kind of resource it is about (`payment`), or empty.
    pub resource_kind: String,
    /// The provider's id of that resource, or empty.
    pub resource_provider_id: String,
    /// When the provider says it happened, in ms since the epoch.
    pub occur_ms: i64,
    /// The payload exactly as received.
    pub payload: Vec<u8>,
}

/// A stored event's row, as the queue reads it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Our id.
    pub id: String,
    /// The normalised event.
    pub event: NewEvent,
    /// Our id of the resource, when we minted one.
    pub resource_id: String,
    /// When it arrived.
    pub received_ms: i64,
}

impl StoredEvent {
    /// The contract's envelope for this event, at delivery `attempt`.
    pub fn envelope(&self, attempt: i32) -> Event {
        let e = &self.event;
        Event {
            id: self.id.clone(),
            provider: e.provider.clone(),
            account: e.account.clone(),
            provider_event_id: e.provider_event_id.clone(),
            r#type: e.event_type.clone(),
            provider_type: e.provider_type.clone(),
            resource: Some(EventResource {
                kind: e.resource_kind.clone(),
                id: self.resource_id.clone(),
                provider_id: e.resource_provider_id.clone(),
            }),
            occur_time: Some(timestamp_ms(e.occur_ms)),
            receive_time: Some(timestamp_ms(self.received_ms)),
            payload: e.payload.clone(),
            delivery_attempt: attempt,
        }
    }
}
