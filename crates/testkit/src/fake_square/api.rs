//! What the fake does with a request once it is authenticated and not a replay: Square's
//! objects and state changes for the endpoints integ uses. Answers are `(status, body)`.
//!
//! State rules, as at Square: a payment with `autocomplete: false` is held APPROVED; only an
//! APPROVED payment can be completed or canceled (otherwise `DELAYED_TRANSACTION_CAPTURED`,
//! `_CANCELED` or `_FAILED`); only a COMPLETED payment can be refunded, and never above its
//! total less what was refunded (`REFUND_ERROR`/`REFUND_AMOUNT_INVALID`). Refunds start
//! PENDING (they count against the payment at once) until [`Book::complete_refunds`]. A
//! subscription cancel schedules the end at `charged_through_date` and can be asked once.
//! Payments and subscriptions must be at [`LOCATION_ID`]; subscriptions must be to
//! [`PLAN_VARIATION_ID`]. Unknown ids are 404 `NOT_FOUND`.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use integ_core::time::format_rfc3339;
use serde_json::{Value, json};

/// The one location of the fake seller.
pub const LOCATION_ID: &str = "LFAKE0SQUARE1";

/// The fake seller.
pub const MERCHANT_ID: &str = "MLFAKE0MERCHANT";

/// The one subscription plan variation in the fake catalog.
pub const PLAN_VARIATION_ID: &str = "FKPLANVARIATIONMONTHLY0001";

const DAY_MS: i64 = 86_400_000;

/// Square's objects by id, with their kind (`payment`, `refund`, …).
#[derive(Debug, Default)]
pub struct Book {
    objects: HashMap<String, (&'static str, Value)>,
    seq: u64,
    /// Payments created: the fake's count of charges attempted.
    pub payments_created: usize,
}

type Answer = (u16, Value);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn now() -> String {
    format_rfc3339(now_ms())
}

fn date(ms: i64) -> String {
    format_rfc3339(ms)[..10].to_owned()
}

/// Square's error body.
pub fn error(status: u16, category: &str, code: &str, field: Option<&str>, detail: &str) -> Answer {
    let mut e = json!({ "category": category, "code": code, "detail": detail });
    if let Some(field) = field {
        e["field"] = json!(field);
    }
    (status, json!({ "errors": [e] }))
}

/// A required field that is absent.
pub fn missing(field: &str) -> Answer {
    let detail = format!("Field must be set: {field}");
    error(
        400,
        "INVALID_REQUEST_ERROR",
        "MISSING_REQUIRED_PARAMETER",
        Some(field),
        &detail,
    )
}

/// A text field over its limit.
pub fn too_long(field: &str, max: usize) -> Answer {
    let detail = format!("Field must not be greater than {max} length");
    error(
        400,
        "INVALID_REQUEST_ERROR",
        "VALUE_TOO_LONG",
        Some(field),
        &detail,
    )
}

/// A field of the wrong type.
pub fn expected(field: &str, what: &str) -> Answer {
    let detail = format!("Expected {what}");
    error(
        400,
        "INVALID_REQUEST_ERROR",
        "INVALID_VALUE",
        Some(field),
        &detail,
    )
}

fn not_found(what: &str, id: &str, field: Option<&str>) -> Answer {
    let status = if field.is_some() { 400 } else { 404 };
    let detail = format!("Could not find {what} with id `{id}`");
    error(status, "INVALID_REQUEST_ERROR", "NOT_FOUND", field, &detail)
}

fn text<'a>(body: &'a Value, field: &str) -> Option<&'a str> {
    body.get(field).and_then(Value::as_str)
}

fn required<'a>(body: &'a Value, field: &str) -> Result<&'a str, Answer> {
    match text(body, field) {
        Some(t) if !t.is_empty() => Ok(t),
        _ => Err(missing(field)),
    }
}

fn limited<'a>(body: &'a Value, field: &str, max: usize) -> Result<Option<&'a str>, Answer> {
    match text(body, field) {
        Some(t) if t.chars().count() > max => Err(too_long(field, max)),
        other => Ok(other),
    }
}

/// `amount_money`, required, positive and with a currency.
fn amount(body: &Value) -> Result<(i64, String), Answer> {
    let money = body
        .get("amount_money")
        .ok_or_else(|| missing("amount_money"))?;
    let amount = money.get("amount").and_then(Value::as_i64);
    let amount = amount.ok_or_else(|| missing("amount_money.amount"))?;
    if amount <= 0 {
        let detail = "Field must be greater than 0";
        return Err(error(
            400,
            "INVALID_REQUEST_ERROR",
            "VALUE_TOO_LOW",
            Some("amount_money.amount"),
            detail,
        ));
    }
    let currency = text(money, "currency").filter(|c| c.len() == 3);
    let currency = currency.ok_or_else(|| missing("amount_money.currency"))?;
    Ok((amount, currency.to_owned()))
}

fn try_answer(result: Result<Answer, Answer>) -> Answer {
    result.unwrap_or_else(|refused| refused)
}

impl Book {
    fn id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}{:020}", self.seq)
    }

    fn get(&self, kind: &str, id: &str) -> Option<Value> {
        self.objects
            .get(id)
            .filter(|(k, _)| *k == kind)
            .map(|(_, o)| o.clone())
    }

    fn put(&mut self, kind: &'static str, object: Value) -> Value {
        let id = object["id"].as_str().unwrap().to_owned();
        self.objects.insert(id, (kind, object.clone()));
        object
    }

    /// Handles `method path` with the JSON `body`.
    pub fn handle(&mut self, method: &str, path: &[&str], body: &Value) -> Answer {
        let result = match (method, path) {
            ("POST", ["v2", "payments"]) => self.create_payment(body),
            ("GET", ["v2", "payments", id]) => self.read("payment", id),
            ("POST", ["v2", "payments", id, "complete"]) => self.complete(id),
            ("POST", ["v2", "payments", id, "cancel"]) => self.cancel(id),
            ("POST", ["v2", "refunds"]) => self.refund(body),
            ("GET", ["v2", "refunds", id]) => self.read("refund", id),
            ("POST", ["v2", "customers"]) => self.customer(body),
            ("GET", ["v2", "customers", id]) => self.read("customer", id),
            ("POST", ["v2", "subscriptions"]) => self.subscribe(body),
            ("GET", ["v2", "subscriptions", id]) => self.read("subscription", id),
            ("POST", ["v2", "subscriptions", id, "cancel"]) => self.cancel_subscription(id),
            _ => Err(error(
                404,
                "INVALID_REQUEST_ERROR",
                "NOT_FOUND",
                None,
                "Unknown endpoint.",
            )),
        };
        try_answer(result)
    }

    fn read(&self, kind: &str, id: &str) -> Result<Answer, Answer> {
        let object = self
            .get(kind, id)
            .ok_or_else(|| not_found(kind, id, None))?;
        Ok((200, json!({ kind: object })))
    }

    fn location(body: &Value) -> Result<(), Answer> {
        match text(body, "location_id") {
            None => Ok(()),
            Some(LOCATION_ID) => Ok(()),
            Some(other) => Err(not_found("location", other, Some("location_id"))),
        }
    }

    fn create_payment(&mut self, body: &Value) -> Result<Answer, Answer> {
        required(body, "idempotency_key")?;
        let source = required(body, "source_id")?;
        let (amount, currency) = amount(body)?;
        Self::location(body)?;
        let note = limited(body, "note", 500)?;
        let customer = text(body, "customer_id");
        if let Some(c) = customer.filter(|c| self.get("customer", c).is_none()) {
            return Err(not_found("customer", c, Some("customer_id")));
        }
        let decline = match source {
            "cnon:card-nonce-ok" => None,
            s if s.starts_with("ccof:") => None,
            "cnon:card-nonce-declined" => Some("CARD_DECLINED"),
            "cnon:card-nonce-insufficient-funds" => Some("INSUFFICIENT_FUNDS"),
            "cnon:card-nonce-rejected-cvv" => Some("CVV_FAILURE"),
            _ => {
                let detail = "Invalid card data.";
                return Err(error(
                    400,
                    "INVALID_REQUEST_ERROR",
                    "INVALID_CARD_DATA",
                    Some("source_id"),
                    detail,
                ));
            }
        };
        let autocomplete = body.get("autocomplete").and_then(Value::as_bool) != Some(false);
        let (id, at) = (self.id("FkPay"), now());
        self.payments_created += 1;
        let money = json!({ "amount": amount, "currency": currency });
        let mut payment = json!({
            "id": id, "created_at": at, "updated_at": at, "amount_money": money,
            "total_money": money, "approved_money": money,
            "status": if autocomplete { "COMPLETED" } else { "APPROVED" },
            "source_type": "CARD", "location_id": LOCATION_ID, "customer_id": customer,
            "note": note, "refund_ids": [], "receipt_number": &id[..4],
            "card_details": {
                "status": if autocomplete { "CAPTURED" } else { "AUTHORIZED" },
                "card": { "card_brand": "VISA", "last_4": "1111", "exp_month": 11,
                    "exp_year": 2030 },
                "entry_method": "KEYED", "cvv_status": "CVV_ACCEPTED", "avs_status": "AVS_ACCEPTED",
            },
            "application_details": { "square_product": "ECOMMERCE_API" },
            "version_token": format!("v{}", self.seq),
        });
        if !autocomplete {
            payment["delay_duration"] = json!("PT168H");
            payment["delay_action"] = json!("CANCEL");
            payment["delayed_until"] = json!(format_rfc3339(now_ms() + 7 * DAY_MS));
        }
        if let Some(code) = decline {
            return Ok(self.decline(payment, code));
        }
        Ok((200, json!({ "payment": self.put("payment", payment) })))
    }

    /// A declined card: the payment exists, FAILED, and Square returns it with the errors.
    fn decline(&mut self, mut payment: Value, code: &str) -> Answer {
        let e = json!({ "category": "PAYMENT_METHOD_ERROR", "code": code,
            "detail": format!("Authorization error: '{code}'") });
        payment["status"] = json!("FAILED");
        payment["card_details"]["status"] = json!("FAILED");
        payment["card_details"]["errors"] = json!([e.clone()]);
        payment["total_money"] =
            json!({ "amount": 0, "currency": payment["amount_money"]["currency"] });
        let payment = self.put("payment", payment);
        (400, json!({ "errors": [e], "payment": payment }))
    }

    fn approved(&self, id: &str) -> Result<Value, Answer> {
        let payment = self
            .get("payment", id)
            .ok_or_else(|| not_found("payment", id, None))?;
        let code = match payment["status"].as_str().unwrap_or_default() {
            "APPROVED" => return Ok(payment),
            "COMPLETED" => "DELAYED_TRANSACTION_CAPTURED",
            "CANCELED" => "DELAYED_TRANSACTION_CANCELED",
            _ => "DELAYED_TRANSACTION_FAILED",
        };
        let detail = "The payment is not in a state that allows this action.";
        Err(error(400, "INVALID_REQUEST_ERROR", code, None, detail))
    }

    fn complete(&mut self, id: &str) -> Result<Answer, Answer> {
        let mut payment = self.approved(id)?;
        payment["status"] = json!("COMPLETED");
        payment["card_details"]["status"] = json!("CAPTURED");
        payment["updated_at"] = json!(now());
        Ok((200, json!({ "payment": self.put("payment", payment) })))
    }

    fn cancel(&mut self, id: &str) -> Result<Answer, Answer> {
        let mut payment = self.approved(id)?;
        payment["status"] = json!("CANCELED");
        payment["card_details"]["status"] = json!("VOIDED");
        payment["updated_at"] = json!(now());
        Ok((200, json!({ "payment": self.put("payment", payment) })))
    }

    fn refund(&mut self, body: &Value) -> Result<Answer, Answer> {
        required(body, "idempotency_key")?;
        let (amount, currency) = amount(body)?;
        let payment_id = required(body, "payment_id")?;
        let reason = limited(body, "reason", 192)?;
        let mut payment = self
            .get("payment", payment_id)
            .ok_or_else(|| not_found("payment", payment_id, Some("payment_id")))?;
        if payment["status"] != "COMPLETED" {
            let detail = "The payment must be completed before it is refunded.";
            return Err(error(
                400,
                "INVALID_REQUEST_ERROR",
                "REFUND_ERROR_PAYMENT_NEEDS_COMPLETION",
                None,
                detail,
            ));
        }
        if payment["total_money"]["currency"] != currency.as_str() {
            return Err(error(
                400,
                "INVALID_REQUEST_ERROR",
                "CURRENCY_MISMATCH",
                Some("amount_money.currency"),
                "Currency mismatch.",
            ));
        }
        let total = payment["total_money"]["amount"].as_i64().unwrap();
        let refunded = payment["refunded_money"]["amount"].as_i64().unwrap_or(0);
        if amount > total - refunded {
            let detail = "The requested refund amount exceeds the amount available to refund.";
            return Err(error(
                400,
                "REFUND_ERROR",
                "REFUND_AMOUNT_INVALID",
                Some("amount_money.amount"),
                detail,
            ));
        }
        let (id, at) = (self.id("FkRefund"), now());
        payment["refunded_money"] = json!({ "amount": refunded + amount, "currency": currency });
        payment["refund_ids"]
            .as_array_mut()
            .unwrap()
            .push(json!(id));
        payment["updated_at"] = json!(at);
        self.put("payment", payment);
        let refund = self.put("refund", json!({
            "id": id, "status": "PENDING", "location_id": LOCATION_ID, "unlinked": false,
            "destination_type": "CARD", "amount_money": { "amount": amount, "currency": currency },
            "payment_id": payment_id, "reason": reason, "created_at": at, "updated_at": at,
        }));
        Ok((200, json!({ "refund": refund })))
    }

    /// Completes every PENDING refund.
    pub fn complete_refunds(&mut self) {
        let at = now();
        for (kind, object) in self.objects.values_mut() {
            if *kind == "refund" && object["status"] == "PENDING" {
                object["status"] = json!("COMPLETED");
                object["updated_at"] = json!(at);
            }
        }
    }

    fn customer(&mut self, body: &Value) -> Result<Answer, Answer> {
        let named = [
            "given_name",
            "family_name",
            "company_name",
            "email_address",
            "phone_number",
        ]
        .iter()
        .any(|f| text(body, f).is_some_and(|t| !t.is_empty()));
        if !named {
            return Err(missing("given_name"));
        }
        let email = text(body, "email_address");
        if email.is_some_and(|e| !e.contains('@')) {
            return Err(error(
                400,
                "INVALID_REQUEST_ERROR",
                "INVALID_EMAIL_ADDRESS",
                Some("email_address"),
                "Invalid email.",
            ));
        }
        let (id, at) = (self.id("FKCUS"), now());
        let customer = self.put(
            "customer",
            json!({
                "id": id, "created_at": at, "updated_at": at,
                "given_name": text(body, "given_name"), "family_name": text(body, "family_name"),
                "email_address": email, "phone_number": text(body, "phone_number"),
                "preferences": { "email_unsubscribed": false }, "creation_source": "THIRD_PARTY",
                "version": 0,
            }),
        );
        Ok((200, json!({ "customer": customer })))
    }

    fn subscribe(&mut self, body: &Value) -> Result<Answer, Answer> {
        required(body, "location_id")?;
        Self::location(body)?;
        let customer = required(body, "customer_id")?;
        if self.get("customer", customer).is_none() {
            return Err(not_found("customer", customer, Some("customer_id")));
        }
        let plan = required(body, "plan_variation_id")?;
        if plan != PLAN_VARIATION_ID {
            return Err(not_found("plan variation", plan, Some("plan_variation_id")));
        }
        let card = text(body, "card_id");
        if card.is_some_and(|c| !c.starts_with("ccof:")) {
            return Err(not_found("card", card.unwrap_or_default(), Some("card_id")));
        }
        let (id, start) = (self.id("FkSub"), now_ms());
        let subscription = self.put("subscription", json!({
            "id": id, "location_id": LOCATION_ID, "plan_variation_id": plan,
            "customer_id": customer, "start_date": date(start),
            "charged_through_date": date(start + 30 * DAY_MS), "status": "ACTIVE",
            "card_id": card, "timezone": "UTC", "version": 1, "created_at": format_rfc3339(start),
            "source": { "name": "integ" }, "invoice_ids": [],
        }));
        Ok((200, json!({ "subscription": subscription })))
    }

    fn cancel_subscription(&mut self, id: &str) -> Result<Answer, Answer> {
        let mut s = self
            .get("subscription", id)
            .ok_or_else(|| not_found("subscription", id, None))?;
        if s["status"] != "ACTIVE" || s.get("canceled_date").is_some() {
            let detail = "The subscription is already canceled or has a pending cancel action.";
            return Err(error(
                400,
                "INVALID_REQUEST_ERROR",
                "BAD_REQUEST",
                None,
                detail,
            ));
        }
        let end = s["charged_through_date"].clone();
        s["canceled_date"] = end.clone();
        s["version"] = json!(s["version"].as_i64().unwrap_or(1) + 1);
        let s = self.put("subscription", s);
        let action = json!({ "id": self.id("FkAction"), "type": "CANCEL", "effective_date": end });
        Ok((200, json!({ "subscription": s, "actions": [action] })))
    }

    /// A webhook event of `kind` about the stored object `id`.
    pub fn event(&mut self, kind: &str, id: &str) -> Option<Value> {
        let (object_kind, object) = self.objects.get(id).cloned()?;
        let event_id = format!("{:08x}-fake-4000-8000-{:012x}", self.seq, now_ms());
        self.seq += 1;
        Some(json!({
            "merchant_id": MERCHANT_ID, "type": kind, "event_id": event_id,
            "created_at": now(),
            "data": { "type": object_kind, "id": id, "object": { object_kind: object } },
        }))
    }
}
