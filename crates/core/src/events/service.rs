//! `integ.events.v1.EventsService`: streaming pull with acknowledgements, dead letters,
//! replay and lookup.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use futures_util::Stream;
use integ_proto::events::v1::events_service_server::EventsService;
use integ_proto::events::v1::*;
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;
use tonic::{Request, Response, Status, Streaming};

use super::queue::{Group, Queue};
use crate::error::{Error, Kind, Result};
use crate::family::{self, Reply, reply, required, std_duration, timestamp_ms, timestamp_to_ms};

/// How often a stream looks for work when nothing woke it (other replicas' inserts, expired
/// leases).
const POLL: Duration = Duration::from_millis(250);
/// A stream with nothing to deliver sends an empty batch this often, so that proxies and load
/// balancers do not close it as idle.
const KEEPALIVE: Duration = Duration::from_secs(30);
/// The most ack ids, and deadline changes, in one message.
const MAX_PER_MESSAGE: usize = 1000;

/// The events service of one adapter.
pub struct Events {
    queue: Queue,
    notify: Arc<Notify>,
    stop: watch::Receiver<bool>,
}

impl Events {
    /// A service over `queue`, woken by `notify` when events arrive. When `stop` turns true
    /// (shutdown), every open stream gives its leases back and ends with `UNAVAILABLE`, so
    /// that its consumer reconnects to another replica and the drain does not wait for it.
    pub fn new(queue: Queue, notify: Arc<Notify>, stop: watch::Receiver<bool>) -> Self {
        Self {
            queue,
            notify,
            stop,
        }
    }
}

fn group_name(name: &str) -> Result<&str> {
    let ok = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        return Err(Error::invalid(
            "consumer_group",
            "consumer_group must be 1 to 63 of a-z, 0-9 and '-', starting with a letter",
        ));
    }
    Ok(name)
}

/// Settings of one stream, from its subscription.
struct Subscription {
    group: String,
    max_outstanding: usize,
    ack_deadline: Duration,
}

fn subscription(s: &StreamEventsSubscription) -> Result<(Group, Subscription)> {
    group_name(&s.consumer_group)?;
    if s.type_prefixes.len() > 50 {
        return Err(Error::invalid("type_prefixes", "at most 50 type prefixes"));
    }
    let max_outstanding = match s.max_outstanding_events {
        0 => 100,
        n @ 1..=1000 => n as usize,
        _ => {
            return Err(Error::invalid(
                "max_outstanding_events",
                "max_outstanding_events must be 0 to 1000",
            ));
        }
    };
    let ack_deadline =
        std_duration("ack_deadline", s.ack_deadline.as_ref())?.unwrap_or(Duration::from_secs(60));
    if !(Duration::from_secs(10)..=Duration::from_secs(600)).contains(&ack_deadline) {
        return Err(Error::invalid(
            "ack_deadline",
            "ack_deadline must be 10 seconds to 10 minutes",
        ));
    }
    let group = Group {
        name: s.consumer_group.clone(),
        type_prefixes: s.type_prefixes.clone(),
        providers: s.providers.clone(),
    };
    Ok((
        group,
        Subscription {
            group: s.consumer_group.clone(),
            max_outstanding,
            ack_deadline,
        },
    ))
}

type EventStream =
    Pin<Box<dyn Stream<Item = std::result::Result<StreamEventsResponse, Status>> + Send>>;

/// Runs one stream: lease while under the flow-control cap, apply acks, release on exit.
async fn pump(
    queue: Queue,
    notify: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
    sub: Subscription,
    mut inbound: Streaming<StreamEventsRequest>,
    out: mpsc::Sender<std::result::Result<StreamEventsResponse, Status>>,
) {
    let mut outstanding: HashMap<String, Instant> = HashMap::new();
    let mut last_sent = Instant::now();
    loop {
        let now = Instant::now();
        if now.duration_since(last_sent) >= KEEPALIVE {
            if out.send(Ok(StreamEventsResponse::default())).await.is_err() {
                break;
            }
            last_sent = now;
        }
        outstanding.retain(|_, until| *until > now);
        if outstanding.len() < sub.max_outstanding {
            match queue
                .lease(
                    &sub.group,
                    sub.max_outstanding - outstanding.len(),
                    sub.ack_deadline,
                )
                .await
            {
                Ok(leases) if !leases.is_empty() => {
                    let until = Instant::now() + sub.ack_deadline;
                    let received_events = leases
                        .into_iter()
                        .map(|l| {
                            outstanding.insert(l.ack_id.clone(), until);
                            ReceivedEvent {
                                ack_id: l.ack_id,
                                event: Some(l.event.envelope(l.attempt)),
                            }
                        })
                        .collect();
                    if out
                        .send(Ok(StreamEventsResponse { received_events }))
                        .await
                        .is_err()
                    {
                        break;
                    }
                    last_sent = Instant::now();
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(group = %sub.group, reason = e.kind.reason(), "leasing events failed")
                }
            }
        }
        let woken = notify.notified();
        tokio::select! {
            message = inbound.message() => match message {
                Ok(Some(StreamEventsRequest { kind: Some(stream_events_request::Kind::Acks(acks)) })) => {
                    if let Err(e) = apply(&queue, &sub, &mut outstanding, acks).await {
                        let _ = out.send(Err(Status::from(e))).await;
                        break;
                    }
                }
                Ok(Some(_)) => {
                    let _ = out.send(Err(Status::from(Error::invalid("subscription", "only the first message may subscribe")))).await;
                    break;
                }
                Ok(None) | Err(_) => break,
            },
            () = woken => {}
            () = tokio::time::sleep(POLL) => {}
            () = out.closed() => break,
            () = stopping(&mut stop) => {
                let bye = Error::new(Kind::Unavailable, "the server is shutting down; reconnect");
                let _ = out.send(Err(Status::from(bye))).await;
                break;
            }
        }
    }
    let left: Vec<String> = outstanding.into_keys().collect();
    if let Err(e) = queue.release(&sub.group, &left).await {
        tracing::warn!(group = %sub.group, reason = e.kind.reason(), "releasing events of an ended stream failed; they return after their deadline");
    }
}

/// Resolves once shutdown has begun.
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

async fn apply(
    queue: &Queue,
    sub: &Subscription,
    outstanding: &mut HashMap<String, Instant>,
    acks: StreamEventsAcks,
) -> Result<()> {
    if acks.ack_ids.is_empty() && acks.modify_deadlines.is_empty() {
        return Err(Error::invalid(
            "acks",
            "acks needs ack_ids or modify_deadlines",
        ));
    }
    if acks.ack_ids.len() > MAX_PER_MESSAGE || acks.modify_deadlines.len() > MAX_PER_MESSAGE {
        return Err(Error::invalid(
            "acks",
            "at most 1000 ack ids and 1000 deadline changes per message",
        ));
    }
    queue.ack(&sub.group, &acks.ack_ids).await?;
    for id in &acks.ack_ids {
        outstanding.remove(id);
    }
    for m in acks.modify_deadlines {
        let d = std_duration("modify_deadlines.ack_deadline", m.ack_deadline.as_ref())?
            .unwrap_or(sub.ack_deadline);
        if d > Duration::from_secs(600) {
            return Err(Error::invalid(
                "modify_deadlines.ack_deadline",
                "at most 10 minutes",
            ));
        }
        queue.extend(&sub.group, &m.ack_id, d).await?;
        if let Some(until) = outstanding.get_mut(&m.ack_id) {
            *until = Instant::now() + d;
        }
    }
    Ok(())
}

#[tonic::async_trait]
impl EventsService for Events {
    type StreamEventsStream = EventStream;

    async fn stream_events(
        &self,
        request: Request<Streaming<StreamEventsRequest>>,
    ) -> Reply<EventStream> {
        let mut inbound = request.into_inner();
        let first = inbound.message().await?;
        let Some(StreamEventsRequest {
            kind: Some(stream_events_request::Kind::Subscription(s)),
        }) = first
        else {
            return Err(Status::from(Error::invalid(
                "subscription",
                "the first message must subscribe",
            )));
        };
        let (group, sub) = subscription(&s).map_err(Status::from)?;
        self.queue
            .ensure_group(&group)
            .await
            .map_err(Status::from)?;
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(pump(
            self.queue.clone(),
            self.notify.clone(),
            self.stop.clone(),
            sub,
            inbound,
            tx,
        ));
        let stream: EventStream = Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx));
        Ok(Response::new(stream))
    }

    async fn acknowledge_events(
        &self,
        request: Request<AcknowledgeEventsRequest>,
    ) -> Reply<AcknowledgeEventsResponse> {
        let req = request.into_inner();
        reply(async {
            group_name(&req.consumer_group)?;
            self.queue.ack(&req.consumer_group, &req.ack_ids).await?;
            Ok(AcknowledgeEventsResponse {})
        })
        .await
    }

    async fn list_dead_letters(
        &self,
        request: Request<ListDeadLettersRequest>,
    ) -> Reply<ListDeadLettersResponse> {
        let req = request.into_inner();
        reply(async {
            group_name(&req.consumer_group)?;
            self.queue.group(&req.consumer_group).await?;
            let size = match req.page_size {
                0 => 50,
                n @ 1..=100 => n as usize,
                _ => return Err(Error::invalid("page_size", "page_size must be 0 to 100")),
            };
            let offset = page_offset(&req.page_token)?;
            let page = self
                .queue
                .dead_letters(&req.consumer_group, size + 1, offset)
                .await?;
            let more = page.len() > size;
            let dead_letters = page
                .into_iter()
                .take(size)
                .map(|d| DeadLetter {
                    event: Some(d.event.envelope(0)),
                    delivery_attempts: d.attempts,
                    last_delivery_time: Some(timestamp_ms(d.last_delivery_ms)),
                    dead_letter_time: Some(timestamp_ms(d.dead_ms)),
                })
                .collect();
            let next_page_token = if more {
                encode_offset(offset + size)
            } else {
                String::new()
            };
            Ok(ListDeadLettersResponse {
                dead_letters,
                next_page_token,
            })
        })
        .await
    }

    async fn requeue_dead_letters(
        &self,
        request: Request<RequeueDeadLettersRequest>,
    ) -> Reply<RequeueDeadLettersResponse> {
        let (queue, notify, store) = (
            self.queue.clone(),
            self.notify.clone(),
            self.queue.store().clone(),
        );
        family::mutate(
            &store,
            request,
            "RequeueDeadLetters",
            |r| &r.idempotency_key,
            |r, k| r.idempotency_key = k,
            |_, req| async move {
                group_name(&req.consumer_group)?;
                queue.group(&req.consumer_group).await?;
                let ids = match (req.all, req.event_ids.is_empty()) {
                    (true, true) => None,
                    (false, false) => Some(req.event_ids.as_slice()),
                    _ => {
                        return Err(Error::invalid(
                            "event_ids",
                            "give either event_ids or all, not both and not neither",
                        ));
                    }
                };
                let requeued_count = queue.requeue(&req.consumer_group, ids).await?;
                notify.notify_waiters();
                Ok(RequeueDeadLettersResponse {
                    requeued_count: i64::try_from(requeued_count).unwrap_or(i64::MAX),
                })
            },
        )
        .await
    }

    async fn replay_events(
        &self,
        request: Request<ReplayEventsRequest>,
    ) -> Reply<ReplayEventsResponse> {
        let (queue, notify, store) = (
            self.queue.clone(),
            self.notify.clone(),
            self.queue.store().clone(),
        );
        family::mutate(
            &store,
            request,
            "ReplayEvents",
            |r| &r.idempotency_key,
            |r, k| r.idempotency_key = k,
            |_, req| async move {
                group_name(&req.consumer_group)?;
                let group = queue.group(&req.consumer_group).await?;
                let start = req
                    .start_time
                    .as_ref()
                    .ok_or_else(|| Error::invalid("start_time", "start_time is required"))?;
                let start_ms = timestamp_to_ms(start);
                if start_ms > crate::store::now_ms() {
                    return Err(Error::invalid("start_time", "start_time is in the future"));
                }
                let effective_ms = match queue.oldest_received_ms().await? {
                    Some(oldest) if oldest > start_ms => oldest,
                    _ => start_ms,
                };
                let replayed = queue.replay(&group, start_ms).await?;
                notify.notify_waiters();
                Ok(ReplayEventsResponse {
                    replayed_count: i64::try_from(replayed).unwrap_or(i64::MAX),
                    effective_start_time: Some(timestamp_ms(effective_ms)),
                })
            },
        )
        .await
    }

    async fn get_event(&self, request: Request<GetEventRequest>) -> Reply<GetEventResponse> {
        let req = request.into_inner();
        reply(async {
            required("id", &req.id)?;
            let event = self
                .queue
                .event(&req.id)
                .await?
                .ok_or_else(|| Error::not_found("event", &req.id))?;
            Ok(GetEventResponse {
                event: Some(event.envelope(0)),
            })
        })
        .await
    }
}

fn page_offset(token: &str) -> Result<usize> {
    if token.is_empty() {
        return Ok(0);
    }
    let bad = || Error::invalid("page_token", "page_token is not one we issued");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    String::from_utf8(bytes)
        .ok()
        .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse().ok()))
        .ok_or_else(bad)
}

fn encode_offset(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}
