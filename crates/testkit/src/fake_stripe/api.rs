//! What the fake does with a request once it is authenticated and not a replay: Stripe's
//! objects and state changes, for the endpoints integ uses. Answers are `(status, body)`.
//!
//! Test payment methods, as in Stripe's test mode: `pm_card_chargeDeclined` is declined with
//! `generic_decline`, `pm_card_chargeDeclinedInsufficientFunds` with `insufficient_funds`,
//! `pm_card_authenticationRequired` needs 3-D Secure; any other `pm_…` succeeds. A payout to
//! `ba_closed_account` fails with `account_closed`.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

const PERIOD_SECS: i64 = 30 * 24 * 3600;

/// Stripe's objects, by id.
#[derive(Debug, Default)]
pub struct Book {
    objects: HashMap<String, Value>,
    seq: u64,
    /// PaymentIntents created: the fake's count of charges attempted.
    pub payment_intents_created: usize,
}

type Answer = (u16, Value);

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Stripe's error body.
pub fn error(
    status: u16,
    kind: &str,
    code: Option<&str>,
    param: Option<&str>,
    message: &str,
) -> Answer {
    let mut e = json!({ "type": kind, "message": message });
    if let Some(code) = code {
        e["code"] = json!(code);
        e["doc_url"] = json!(format!("https://stripe.com/docs/error-codes/{code}"));
    }
    if let Some(param) = param {
        e["param"] = json!(param);
    }
    (status, json!({ "error": e }))
}

fn missing(param: &str) -> Answer {
    error(
        400,
        "invalid_request_error",
        Some("parameter_missing"),
        Some(param),
        &format!("Missing required param: {param}."),
    )
}

/// A missing object: 404 when the path names it, 400 naming the parameter that does.
fn no_such(kind: &str, id: &str, param: &str) -> Answer {
    let in_path = matches!(param, "id" | "intent" | "subscription_exposed_id");
    error(
        if in_path { 404 } else { 400 },
        "invalid_request_error",
        Some("resource_missing"),
        Some(param),
        &format!("No such {kind}: '{id}'"),
    )
}

fn state(code: &str, message: &str) -> Answer {
    error(400, "invalid_request_error", Some(code), None, message)
}

fn text<'a>(params: &'a Value, key: &str) -> Option<&'a str> {
    params
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn integer(params: &Value, key: &str) -> Result<Option<i64>, Answer> {
    match text(params, key) {
        None => Ok(None),
        Some(raw) => raw.parse().map(Some).map_err(|_| {
            error(
                400,
                "invalid_request_error",
                Some("parameter_invalid_integer"),
                Some(key),
                &format!("Invalid integer: {raw}"),
            )
        }),
    }
}

fn metadata(params: &Value) -> Value {
    params.get("metadata").cloned().unwrap_or_else(|| json!({}))
}

impl Book {
    fn id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}_Fk{:020}", self.seq)
    }

    fn get(&self, id: &str) -> Option<&Value> {
        self.objects.get(id)
    }

    fn put(&mut self, object: Value) -> Value {
        let id = object["id"].as_str().unwrap().to_owned();
        self.objects.insert(id, object.clone());
        object
    }

    /// Handles `method path` with `params`.
    pub fn handle(&mut self, method: &str, path: &[&str], params: &Value) -> Answer {
        match (method, path) {
            ("POST", ["v1", "payment_intents"]) => self.create_intent(params),
            ("GET", ["v1", "payment_intents", id]) => self.read(id, "payment_intent", params),
            ("POST", ["v1", "payment_intents", id, "capture"]) => self.capture(id, params),
            ("POST", ["v1", "payment_intents", id, "cancel"]) => self.cancel(id, params),
            ("POST", ["v1", "refunds"]) => self.refund(params),
            ("GET", ["v1", "refunds", id]) => self.read(id, "refund", params),
            ("POST", ["v1", "customers"]) => self.customer(params),
            ("GET", ["v1", "customers", id]) => self.read(id, "customer", params),
            ("POST", ["v1", "subscriptions"]) => self.subscribe(params),
            ("GET", ["v1", "subscriptions", id]) => self.read(id, "subscription", params),
            ("POST", ["v1", "subscriptions", id]) => self.update_subscription(id, params),
            ("DELETE", ["v1", "subscriptions", id]) => self.delete_subscription(id),
            ("POST", ["v1", "payouts"]) => self.payout(params),
            ("GET", ["v1", "payouts", id]) => self.read(id, "payout", params),
            _ => error(
                404,
                "invalid_request_error",
                None,
                None,
                "Unrecognized request URL.",
            ),
        }
    }

    fn read(&self, id: &str, kind: &str, params: &Value) -> Answer {
        match self.get(id).filter(|o| o["object"] == kind) {
            Some(object) => (200, self.expand(object.clone(), params)),
            None => no_such(kind, id, "id"),
        }
    }

    /// Replaces ids named in `expand[]` with their objects.
    fn expand(&self, mut object: Value, params: &Value) -> Value {
        let fields = params.get("expand").and_then(Value::as_array).cloned();
        for field in fields.unwrap_or_default().iter().filter_map(Value::as_str) {
            let id = object.get(field).and_then(Value::as_str).map(str::to_owned);
            if let Some(target) = id.and_then(|id| self.get(&id).cloned()) {
                object[field] = target;
            }
        }
        object
    }

    fn create_intent(&mut self, params: &Value) -> Answer {
        let amount = match integer(params, "amount") {
            Ok(Some(a)) if a > 0 => a,
            Ok(_) => return missing("amount"),
            Err(e) => return e,
        };
        let Some(currency) = text(params, "currency") else {
            return missing("currency");
        };
        let customer = text(params, "customer");
        if let Some(c) = customer.filter(|c| self.get(c).is_none()) {
            return no_such("customer", c, "customer");
        }
        let confirm = text(params, "confirm") == Some("true");
        let method = text(params, "payment_method");
        let return_url = text(params, "return_url");
        let redirects = params
            .pointer("/automatic_payment_methods/allow_redirects")
            .and_then(Value::as_str);
        if confirm && return_url.is_none() && redirects != Some("never") {
            return error(
                400,
                "invalid_request_error",
                None,
                Some("return_url"),
                "Some enabled payment methods may redirect: pass a return_url or set \
                 automatic_payment_methods[allow_redirects] to never.",
            );
        }
        let manual = text(params, "capture_method") == Some("manual");
        let id = self.id("pi");
        self.payment_intents_created += 1;
        let mut pi = json!({
            "id": id, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
            "amount_received": 0, "currency": currency,
            "capture_method": if manual { "manual" } else { "automatic" },
            "confirmation_method": "automatic", "created": now(), "canceled_at": null,
            "customer": customer, "description": text(params, "description"),
            "metadata": metadata(params), "payment_method": method, "latest_charge": null,
            "last_payment_error": null, "next_action": null, "livemode": false,
            "payment_method_types": ["card"],
            "status": "requires_payment_method",
        });
        if method.is_some() {
            pi["status"] = json!("requires_confirmation");
        }
        let decline = match method {
            Some("pm_card_chargeDeclined") => Some("generic_decline"),
            Some("pm_card_chargeDeclinedInsufficientFunds") => Some("insufficient_funds"),
            _ => None,
        };
        match (confirm, method, decline) {
            (true, Some(_), Some(code)) => return self.decline(pi, code),
            (true, Some("pm_card_authenticationRequired"), None) => {
                pi["status"] = json!("requires_action");
                pi["next_action"] = match return_url {
                    Some(_) => json!({"type": "redirect_to_url", "redirect_to_url": {
                        "url": format!("https://hooks.stripe.com/3d_secure_2/hosted/{id}"),
                        "return_url": return_url}}),
                    None => json!({"type": "use_stripe_sdk", "use_stripe_sdk": {}}),
                };
            }
            (true, Some(_), None) => {
                let charge = self.charge(&pi, !manual);
                pi["latest_charge"] = json!(charge);
                if manual {
                    pi["status"] = json!("requires_capture");
                    pi["amount_capturable"] = json!(amount);
                } else {
                    pi["status"] = json!("succeeded");
                    pi["amount_received"] = json!(amount);
                }
            }
            _ => {}
        }
        let pi = self.put(pi);
        (200, self.expand(pi, params))
    }

    /// A declined confirmation: the PaymentIntent exists, back at `requires_payment_method`.
    fn decline(&mut self, mut pi: Value, code: &str) -> Answer {
        let last = json!({"type": "card_error", "code": "card_declined", "decline_code": code,
            "message": "Your card was declined."});
        pi["last_payment_error"] = last.clone();
        pi["status"] = json!("requires_payment_method");
        let pi = self.put(pi);
        let mut body = last;
        body["payment_intent"] = pi;
        (402, json!({ "error": body }))
    }

    fn charge(&mut self, pi: &Value, captured: bool) -> String {
        let id = self.id("ch");
        let amount = pi["amount"].as_i64().unwrap();
        self.put(json!({
            "id": id, "object": "charge", "amount": amount,
            "amount_captured": if captured { amount } else { 0 }, "amount_refunded": 0,
            "captured": captured, "refunded": false, "currency": pi["currency"],
            "payment_intent": pi["id"], "created": now(),
        }));
        id
    }

    fn capture(&mut self, id: &str, params: &Value) -> Answer {
        let Some(mut pi) = self.get(id).cloned() else {
            return no_such("payment_intent", id, "intent");
        };
        if pi["status"] != "requires_capture" {
            return state(
                "payment_intent_unexpected_state",
                "This PaymentIntent could not be captured: its status is not requires_capture.",
            );
        }
        let capturable = pi["amount_capturable"].as_i64().unwrap();
        let take = match integer(params, "amount_to_capture") {
            Ok(take) => take.unwrap_or(capturable),
            Err(e) => return e,
        };
        if take > capturable {
            return state(
                "amount_too_large",
                "The amount to capture exceeds the amount capturable.",
            );
        }
        pi["status"] = json!("succeeded");
        pi["amount_received"] = json!(take);
        pi["amount_capturable"] = json!(0);
        if let Some(charge) = pi["latest_charge"].as_str().map(str::to_owned) {
            let mut c = self.get(&charge).cloned().unwrap();
            c["captured"] = json!(true);
            c["amount_captured"] = json!(take);
            self.put(c);
        }
        let pi = self.put(pi);
        (200, self.expand(pi, params))
    }

    fn cancel(&mut self, id: &str, params: &Value) -> Answer {
        let Some(mut pi) = self.get(id).cloned() else {
            return no_such("payment_intent", id, "intent");
        };
        if matches!(
            pi["status"].as_str(),
            Some("succeeded" | "canceled" | "processing")
        ) {
            return state(
                "payment_intent_unexpected_state",
                "You cannot cancel this PaymentIntent because it has a status of succeeded.",
            );
        }
        pi["status"] = json!("canceled");
        pi["canceled_at"] = json!(now());
        pi["amount_capturable"] = json!(0);
        let pi = self.put(pi);
        (200, self.expand(pi, params))
    }

    fn refund(&mut self, params: &Value) -> Answer {
        let Some(pi_id) = text(params, "payment_intent") else {
            return missing("payment_intent");
        };
        let Some(pi) = self.get(pi_id).cloned() else {
            return no_such("payment_intent", pi_id, "payment_intent");
        };
        let charge_id = pi["latest_charge"].as_str().unwrap_or_default().to_owned();
        let Some(mut charge) = self
            .get(&charge_id)
            .cloned()
            .filter(|c| c["captured"] == true)
        else {
            return state(
                "charge_not_refundable",
                "This PaymentIntent has no captured charge to refund.",
            );
        };
        let remaining = charge["amount_captured"].as_i64().unwrap()
            - charge["amount_refunded"].as_i64().unwrap();
        let amount = match integer(params, "amount") {
            Ok(a) => a.unwrap_or(remaining),
            Err(e) => return e,
        };
        if amount <= 0 || amount > remaining {
            return state(
                "amount_too_large",
                "Refund amount is greater than the unrefunded amount.",
            );
        }
        charge["amount_refunded"] = json!(charge["amount_refunded"].as_i64().unwrap() + amount);
        charge["refunded"] = json!(amount == remaining);
        self.put(charge);
        let id = self.id("re");
        let refund = self.put(json!({
            "id": id, "object": "refund", "amount": amount, "currency": pi["currency"],
            "charge": charge_id, "payment_intent": pi_id, "status": "succeeded",
            "reason": text(params, "reason"), "metadata": metadata(params), "created": now(),
        }));
        (200, refund)
    }

    fn customer(&mut self, params: &Value) -> Answer {
        let id = self.id("cus");
        let customer = self.put(json!({
            "id": id, "object": "customer", "email": text(params, "email"),
            "name": text(params, "name"), "phone": text(params, "phone"),
            "metadata": metadata(params), "created": now(), "livemode": false,
        }));
        (200, customer)
    }

    fn subscribe(&mut self, params: &Value) -> Answer {
        let Some(customer) = text(params, "customer") else {
            return missing("customer");
        };
        if self.get(customer).is_none() {
            return no_such("customer", customer, "customer");
        }
        let item = params.pointer("/items/0").cloned().unwrap_or_default();
        let price = text(&item, "price").unwrap_or_default().to_owned();
        if !price.starts_with("price_") {
            return no_such("price", &price, "items[0][price]");
        }
        let quantity = match integer(&item, "quantity") {
            Ok(q) => q.unwrap_or(1),
            Err(e) => return e,
        };
        let declined = text(params, "default_payment_method") == Some("pm_card_chargeDeclined");
        let (id, item_id, start) = (self.id("sub"), self.id("si"), now());
        let subscription = self.put(json!({
            "id": id, "object": "subscription", "customer": customer,
            "status": if declined { "incomplete" } else { "active" },
            "items": {"object": "list", "data": [{"id": item_id, "object": "subscription_item",
                "price": {"id": price, "object": "price"}, "quantity": quantity}]},
            "cancel_at_period_end": false, "cancel_at": null, "canceled_at": null,
            "ended_at": null, "current_period_start": start,
            "current_period_end": start + PERIOD_SECS, "metadata": metadata(params),
            "created": start,
        }));
        (200, subscription)
    }

    fn update_subscription(&mut self, id: &str, params: &Value) -> Answer {
        let Some(mut s) = self
            .get(id)
            .cloned()
            .filter(|s| s["object"] == "subscription")
        else {
            return no_such("subscription", id, "subscription_exposed_id");
        };
        if s["status"] == "canceled" {
            return state(
                "resource_missing",
                "A canceled subscription can only update its cancellation_details and metadata.",
            );
        }
        if let Some(flag) = text(params, "cancel_at_period_end") {
            let on = flag == "true";
            s["cancel_at_period_end"] = json!(on);
            s["cancel_at"] = if on {
                s["current_period_end"].clone()
            } else {
                Value::Null
            };
        }
        (200, self.put(s))
    }

    fn delete_subscription(&mut self, id: &str) -> Answer {
        let Some(mut s) = self
            .get(id)
            .cloned()
            .filter(|s| s["object"] == "subscription")
        else {
            return no_such("subscription", id, "subscription_exposed_id");
        };
        if s["status"] == "canceled" {
            return no_such("subscription", id, "subscription_exposed_id");
        }
        s["status"] = json!("canceled");
        s["canceled_at"] = json!(now());
        s["ended_at"] = json!(now());
        (200, self.put(s))
    }

    fn payout(&mut self, params: &Value) -> Answer {
        let amount = match integer(params, "amount") {
            Ok(Some(a)) if a > 0 => a,
            Ok(_) => return missing("amount"),
            Err(e) => return e,
        };
        let Some(currency) = text(params, "currency") else {
            return missing("currency");
        };
        let destination = text(params, "destination");
        let failed = destination == Some("ba_closed_account");
        let id = self.id("po");
        let created = now();
        let payout = self.put(json!({
            "id": id, "object": "payout", "amount": amount, "currency": currency,
            "status": if failed { "failed" } else { "in_transit" },
            "failure_code": if failed { Some("account_closed") } else { None },
            "destination": destination.unwrap_or("ba_default"),
            "description": text(params, "description"),
            "statement_descriptor": text(params, "statement_descriptor"),
            "arrival_date": created + 2 * 24 * 3600, "created": created, "method": "standard",
            "type": "bank_account", "automatic": false, "livemode": false,
        }));
        (200, payout)
    }
}
