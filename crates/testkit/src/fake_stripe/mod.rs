//! A fake Stripe on loopback that speaks Stripe's wire format, for black-box tests.
//!
//! - Requests are form-encoded with bracketed keys and must carry
//!   `Authorization: Bearer sk_test_…` (or `rk_test_…`); anything else gets Stripe's 401
//!   body. Unlike Stripe, which masks all but the last four characters, the 401 message quotes
//!   the whole key, so a client that passes Stripe's messages on leaks it in tests.
//! - Answers are Stripe-shaped JSON objects (`pi_…`, `re_…`, `cus_…`, `sub_…`, `po_…`); see
//!   `api.rs` for the objects and the test payment methods.
//! - `Idempotency-Key` on a POST works as at Stripe: the same key with the same endpoint and
//!   parameters replays the saved answer (with `Idempotent-Replayed: true`), declines included;
//!   with anything else it is a 400 `idempotency_error`.
//! - Faults come from the shared server ([`crate::fake`]): injected 5xx and 429 answers carry
//!   Stripe's `api_error` and `rate_limit` bodies.

mod api;
mod form;

use std::collections::HashMap;

use serde_json::Value;

use crate::fake::{Api, FakeServer, Reply, Request};

/// A running fake Stripe.
pub type FakeStripe = FakeServer<StripeApi>;

#[derive(Debug, Clone, PartialEq)]
struct Saved {
    method: String,
    path: String,
    params: Value,
    reply: (u16, Value),
}

/// Stripe's behaviour: its objects and its idempotency layer.
#[derive(Debug, Default)]
pub struct StripeApi {
    book: api::Book,
    saved: HashMap<(String, String), Saved>,
    answered: u64,
}

impl FakeServer<StripeApi> {
    /// How many PaymentIntents were created: each one is a charge attempt.
    pub fn payment_intents_created(&self) -> usize {
        self.with_api(|api| api.book.payment_intents_created)
    }
}

impl Api for StripeApi {
    fn handle(&mut self, request: &Request) -> Reply {
        self.answered += 1;
        let params = self.params(request);
        let (replayed, (status, body)) = self.answer(request, &params);
        let mut reply = Reply::json(status, &body)
            .with_header("request-id", format!("req_fake{}", self.answered));
        if replayed {
            reply.replayed = true;
            reply = reply.with_header("idempotent-replayed", "true");
        }
        reply
    }

    fn failure(&self, status: u16, _retry_after: Option<u64>) -> Reply {
        let (status, body) = if status == 429 {
            api::error(
                429,
                "invalid_request_error",
                Some("rate_limit"),
                None,
                "Too many requests hit the API too quickly.",
            )
        } else {
            api::error(
                status,
                "api_error",
                None,
                None,
                "Stripe is temporarily unavailable.",
            )
        };
        Reply::json(status, &body)
    }

    fn params(&self, request: &Request) -> Value {
        let raw = match request.method.as_str() {
            "POST" => String::from_utf8_lossy(&request.body).into_owned(),
            _ => request.query.clone(),
        };
        form::parse(&raw)
    }
}

impl StripeApi {
    /// Authenticates, replays or runs a request; whether the answer is a replay.
    fn answer(&mut self, request: &Request, params: &Value) -> (bool, (u16, Value)) {
        let key = request.header("authorization").unwrap_or_default();
        let key = key.strip_prefix("Bearer ").unwrap_or(key);
        if !(key.starts_with("sk_test_") || key.starts_with("rk_test_")) {
            let message = format!("Invalid API Key provided: {key}");
            return (
                false,
                api::error(401, "invalid_request_error", None, None, &message),
            );
        }
        let idempotency = match (request.method.as_str(), request.header("idempotency-key")) {
            ("POST", Some(k)) => Some((
                request
                    .header("stripe-account")
                    .unwrap_or_default()
                    .to_owned(),
                k.to_owned(),
            )),
            _ => None,
        };
        if let Some(saved) = idempotency.as_ref().and_then(|k| self.saved.get(k)) {
            if saved.method == request.method
                && saved.path == request.path
                && &saved.params == params
            {
                return (true, saved.reply.clone());
            }
            return (
                false,
                api::error(
                    400,
                    "idempotency_error",
                    None,
                    None,
                    "Keys for idempotent requests can only be used with the same parameters.",
                ),
            );
        }
        let reply = self
            .book
            .handle(&request.method, &request.segments(), params);
        if let Some(key) = idempotency {
            let saved = Saved {
                method: request.method.clone(),
                path: request.path.clone(),
                params: params.clone(),
                reply: reply.clone(),
            };
            self.saved.insert(key, saved);
        }
        (false, reply)
    }
}
