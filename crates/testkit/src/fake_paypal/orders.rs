//! Orders v2 and Payments v2 as the fake runs them: an order's authorizations, captures and
//! refunds are objects of their own that name their order, and an order shows them in its
//! purchase unit's `payments`, as PayPal does.

use serde_json::{Value, json};

use super::{Answer, PaypalApi, invalid, missing, not_found, now, public, unprocessable};

/// Currencies PayPal takes, and those it takes in whole units only.
const CURRENCIES: &[&str] = &[
    "AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "ILS", "JPY",
    "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "SEK", "SGD", "THB", "TWD", "USD",
];
const WHOLE: &[&str] = &["HUF", "JPY", "TWD"];

/// An amount in hundredths (or units, for whole-unit currencies), after PayPal's checks.
pub(super) fn amount(m: &Value, at: &str) -> Result<(String, i64), Answer> {
    let Some(currency) = m["currency_code"].as_str().or(m["currency"].as_str()) else {
        return Err(missing(&format!("{at}/currency_code")));
    };
    let Some(value) = m["value"].as_str() else {
        return Err(missing(&format!("{at}/value")));
    };
    if !CURRENCIES.contains(&currency) {
        return Err(unprocessable("CURRENCY_NOT_SUPPORTED"));
    }
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return Err(invalid(&format!("{at}/value"), "INVALID_PARAMETER_SYNTAX"));
    }
    let places = if WHOLE.contains(&currency) { 0 } else { 2 };
    if fraction.len() > places {
        return Err(unprocessable("DECIMAL_PRECISION"));
    }
    let scaled = format!("{whole}{fraction:0<places$}");
    let n = scaled
        .parse()
        .map_err(|_| invalid(&format!("{at}/value"), "INVALID_PARAMETER_SYNTAX"))?;
    if n <= 0 {
        return Err(invalid(
            &format!("{at}/value"),
            "CANNOT_BE_ZERO_OR_NEGATIVE",
        ));
    }
    Ok((currency.to_owned(), n))
}

fn money(currency: &str, n: i64) -> Value {
    let value = if WHOLE.contains(&currency) {
        n.to_string()
    } else {
        format!("{}.{:02}", n / 100, n % 100)
    };
    json!({"currency_code": currency, "value": value})
}

fn cents(m: &Value) -> i64 {
    amount(m, "").map(|(_, n)| n).unwrap_or_default()
}

impl PaypalApi {
    pub(super) fn create_order(&mut self, body: &Value, full: bool) -> Answer {
        let intent = match body["intent"].as_str() {
            Some(i @ ("CAPTURE" | "AUTHORIZE")) => i.to_owned(),
            Some(_) => return invalid("/intent", "INVALID_PARAMETER_VALUE"),
            None => return missing("/intent"),
        };
        let unit = &body["purchase_units"][0];
        if !unit.is_object() {
            return missing("/purchase_units");
        }
        let at = "/purchase_units/@reference_id=='default'/amount";
        let (currency, n) = match amount(&unit["amount"], at) {
            Ok(parsed) => parsed,
            Err(refusal) => return refusal,
        };
        if unit["description"]
            .as_str()
            .is_some_and(|d| d.chars().count() > 127)
        {
            return invalid(
                "/purchase_units/@reference_id=='default'/description",
                "INVALID_STRING_LENGTH",
            );
        }
        let source = &body["payment_source"];
        let vault = source["paypal"]["vault_id"]
            .as_str()
            .or(source["card"]["vault_id"].as_str());
        if vault == Some("vault_declined") {
            return unprocessable("INSTRUMENT_DECLINED");
        }
        let id = self.id("5O");
        let waiting = if source["paypal"]["experience_context"].is_object() {
            ("PAYER_ACTION_REQUIRED", "payer-action")
        } else {
            ("CREATED", "approve")
        };
        let link = format!("https://www.sandbox.paypal.com/checkoutnow?token={id}");
        let seq = self.seq;
        self.put(json!({
            "kind": "order", "seq": seq, "id": id, "intent": intent, "status": waiting.0,
            "purchase_units": [{"reference_id": "default", "amount": money(&currency, n),
                "description": unit["description"]}],
            "links": [{"href": format!("https://api.sandbox.paypal.com/v2/checkout/orders/{id}"),
                "rel": "self", "method": "GET"}, {"href": link, "rel": waiting.1, "method": "GET"}],
            "create_time": now(), "update_time": now(),
        }));
        if vault.is_some() {
            self.approve(&id);
            let _ = match intent.as_str() {
                "CAPTURE" => self.capture_order(&id),
                _ => self.authorize_order(&id),
            };
        }
        let order = self.order_view(&id);
        if full {
            (201, order)
        } else {
            (
                201,
                json!({"id": id, "status": order["status"], "links": order["links"]}),
            )
        }
    }

    /// The payer approved the order at its link.
    pub(super) fn approve(&mut self, id: &str) {
        if let Some(order) = self.objects.get_mut(id).filter(|o| o["kind"] == "order") {
            order["status"] = json!("APPROVED");
            order["update_time"] = json!(now());
        }
    }

    /// An order as PayPal shows it, with its payments.
    pub(super) fn order_view(&self, id: &str) -> Value {
        let Some(order) = self.objects.get(id) else {
            return Value::Null;
        };
        let mut related: Vec<&Value> = self
            .objects
            .values()
            .filter(|o| o["order_id"] == id)
            .collect();
        related.sort_by_key(|o| o["seq"].as_u64());
        let of = |kind: &str| -> Vec<Value> {
            related
                .iter()
                .filter(|o| o["kind"] == kind)
                .map(|o| public(o))
                .collect()
        };
        let mut shown = public(order);
        let payments = json!({"authorizations": of("authorization"), "captures": of("capture"),
            "refunds": of("refund")});
        shown["purchase_units"][0]["payments"] = payments;
        shown
    }

    fn order_total(&self, id: &str) -> (String, i64) {
        let total = &self.objects[id]["purchase_units"][0]["amount"];
        let currency = total["currency_code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (currency, cents(total))
    }

    fn child(&mut self, kind: &str, prefix: &str, order_id: &str, fields: Value) -> Value {
        let id = self.id(prefix);
        let seq = self.seq;
        let mut object = json!({"kind": kind, "seq": seq, "id": id, "order_id": order_id,
            "create_time": now(), "update_time": now()});
        if kind != "refund" {
            object["supplementary_data"] = json!({"related_ids": {"order_id": order_id}});
        }
        if let (Some(map), Some(extra)) = (object.as_object_mut(), fields.as_object()) {
            map.extend(extra.clone());
        }
        self.put(object.clone());
        object
    }

    pub(super) fn capture_order(&mut self, id: &str) -> Answer {
        let Some(order) = self.objects.get(id).filter(|o| o["kind"] == "order") else {
            return not_found();
        };
        match (order["intent"].as_str(), order["status"].as_str()) {
            (Some("AUTHORIZE"), _) => return unprocessable("ACTION_DOES_NOT_MATCH_INTENT"),
            (_, Some("COMPLETED")) => return unprocessable("ORDER_ALREADY_CAPTURED"),
            (_, Some("APPROVED")) => {}
            _ => return unprocessable("ORDER_NOT_APPROVED"),
        }
        let (currency, n) = self.order_total(id);
        self.child(
            "capture",
            "3C",
            id,
            json!({"status": "COMPLETED", "amount": money(&currency, n), "final_capture": true}),
        );
        self.complete(id);
        (201, self.order_view(id))
    }

    pub(super) fn authorize_order(&mut self, id: &str) -> Answer {
        let Some(order) = self.objects.get(id).filter(|o| o["kind"] == "order") else {
            return not_found();
        };
        match (order["intent"].as_str(), order["status"].as_str()) {
            (Some("CAPTURE"), _) => return unprocessable("ACTION_DOES_NOT_MATCH_INTENT"),
            (_, Some("COMPLETED")) => return unprocessable("ORDER_ALREADY_AUTHORIZED"),
            (_, Some("APPROVED")) => {}
            _ => return unprocessable("ORDER_NOT_APPROVED"),
        }
        let (currency, n) = self.order_total(id);
        let fields = json!({"status": "CREATED", "amount": money(&currency, n),
            "expiration_time": now()});
        self.child("authorization", "0VF", id, fields);
        self.complete(id);
        (201, self.order_view(id))
    }

    fn complete(&mut self, id: &str) {
        if let Some(order) = self.objects.get_mut(id) {
            order["status"] = json!("COMPLETED");
            order["update_time"] = json!(now());
        }
    }

    pub(super) fn capture_authorization(&mut self, id: &str, body: &Value) -> Answer {
        let Some(auth) = self
            .objects
            .get(id)
            .filter(|o| o["kind"] == "authorization")
            .cloned()
        else {
            return not_found();
        };
        match auth["status"].as_str() {
            Some("CREATED") => {}
            Some("VOIDED") => return unprocessable("AUTHORIZATION_VOIDED"),
            _ => return unprocessable("AUTHORIZATION_ALREADY_CAPTURED"),
        }
        let authorised = cents(&auth["amount"]);
        let currency = auth["amount"]["currency_code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let take = match body.get("amount") {
            None => authorised,
            Some(m) => match amount(m, "/amount") {
                Ok((c, _)) if c != currency => return unprocessable("CURRENCY_MISMATCH"),
                Ok((_, n)) => n,
                Err(refusal) => return refusal,
            },
        };
        if take > authorised {
            return unprocessable("MAX_CAPTURE_AMOUNT_EXCEEDED");
        }
        let order_id = auth["order_id"].as_str().unwrap_or_default().to_owned();
        let capture = self.child(
            "capture",
            "3C",
            &order_id,
            json!({"status": "COMPLETED", "amount": money(&currency, take), "final_capture": true}),
        );
        let status = if take < authorised {
            "PARTIALLY_CAPTURED"
        } else {
            "CAPTURED"
        };
        if let Some(a) = self.objects.get_mut(id) {
            a["status"] = json!(status);
        }
        (201, public(&capture))
    }

    pub(super) fn void(&mut self, id: &str, full: bool) -> Answer {
        let Some(auth) = self
            .objects
            .get_mut(id)
            .filter(|o| o["kind"] == "authorization")
        else {
            return not_found();
        };
        if auth["status"] != "CREATED" {
            return unprocessable("PREVIOUSLY_CAPTURED");
        }
        auth["status"] = json!("VOIDED");
        let shown = public(auth);
        if full {
            (200, shown)
        } else {
            (204, Value::Null)
        }
    }

    pub(super) fn refund(&mut self, capture_id: &str, body: &Value) -> Answer {
        let Some(capture) = self
            .objects
            .get(capture_id)
            .filter(|o| o["kind"] == "capture")
            .cloned()
        else {
            return not_found();
        };
        if !matches!(
            capture["status"].as_str(),
            Some("COMPLETED" | "PARTIALLY_REFUNDED")
        ) {
            return unprocessable("CAPTURE_FULLY_REFUNDED");
        }
        let order_id = capture["order_id"].as_str().unwrap_or_default().to_owned();
        let captured = cents(&capture["amount"]);
        let currency = capture["amount"]["currency_code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let refunded: i64 = self
            .objects
            .values()
            .filter(|o| o["kind"] == "refund" && o["capture_id"] == capture_id)
            .map(|o| cents(&o["amount"]))
            .sum();
        let remaining = captured - refunded;
        let n = match body.get("amount") {
            None => remaining,
            Some(m) => match amount(m, "/amount") {
                Ok((c, _)) if c != currency => return unprocessable("REFUND_CURRENCY_MISMATCH"),
                Ok((_, n)) => n,
                Err(refusal) => return refusal,
            },
        };
        if n > remaining {
            return unprocessable("REFUND_AMOUNT_EXCEEDED");
        }
        let up = format!("https://api.sandbox.paypal.com/v2/payments/captures/{capture_id}");
        let refund = self.child(
            "refund",
            "1JU",
            &order_id,
            json!({"status": "COMPLETED", "amount": money(&currency, n), "capture_id": capture_id,
                "note_to_payer": body["note_to_payer"],
                "links": [{"href": up, "rel": "up", "method": "GET"}]}),
        );
        let status = if n == remaining {
            "REFUNDED"
        } else {
            "PARTIALLY_REFUNDED"
        };
        if let Some(c) = self.objects.get_mut(capture_id) {
            c["status"] = json!(status);
        }
        (201, public(&refund))
    }
}
