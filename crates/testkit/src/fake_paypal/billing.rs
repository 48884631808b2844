//! Subscriptions v1 and Payouts v1 as the fake runs them.

use serde_json::{Value, json};

use super::orders::amount;
use super::{Answer, PaypalApi, error, invalid, missing, not_found, now, public, unprocessable};

/// The receiver whose payout item fails.
const UNREGISTERED: &str = "unregistered@example.com";

impl PaypalApi {
    pub(super) fn subscribe(&mut self, body: &Value) -> Answer {
        let Some(plan) = body["plan_id"].as_str() else {
            return missing("/plan_id");
        };
        if !plan.starts_with("P-") {
            return invalid("/plan_id", "INVALID_PARAMETER_SYNTAX");
        }
        let quantity = match &body["quantity"] {
            Value::Null => "1".to_owned(),
            Value::String(q) if q.parse::<u32>().is_ok_and(|n| n > 0) => q.clone(),
            _ => return invalid("/quantity", "INVALID_PARAMETER_SYNTAX"),
        };
        let id = self.id("I-");
        let approve = format!(
            "https://www.sandbox.paypal.com/webapps/billing/subscriptions?ba_token=BA-{id}"
        );
        let subscription = json!({
            "kind": "subscription", "id": id, "plan_id": plan, "status": "APPROVAL_PENDING",
            "quantity": quantity, "status_update_time": now(), "create_time": now(),
            "links": [{"href": approve, "rel": "approve", "method": "GET"},
                {"href": format!("https://api.sandbox.paypal.com/v1/billing/subscriptions/{id}"),
                 "rel": "self", "method": "GET"}],
        });
        self.put(subscription.clone());
        (201, public(&subscription))
    }

    /// The subscriber approved and the first cycle began.
    pub(super) fn activate(&mut self, id: &str) {
        if let Some(s) = self
            .objects
            .get_mut(id)
            .filter(|o| o["kind"] == "subscription")
        {
            s["status"] = json!("ACTIVE");
            s["start_time"] = json!(now());
            s["status_update_time"] = json!(now());
            s["billing_info"] = json!({"last_payment": {"time": now()},
                "next_billing_time": "2099-01-01T10:00:00Z"});
        }
    }

    pub(super) fn unsubscribe(&mut self, id: &str) -> Answer {
        let Some(s) = self
            .objects
            .get_mut(id)
            .filter(|o| o["kind"] == "subscription")
        else {
            return not_found();
        };
        if !matches!(
            s["status"].as_str(),
            Some("ACTIVE" | "SUSPENDED" | "APPROVAL_PENDING" | "APPROVED")
        ) {
            return unprocessable("SUBSCRIPTION_STATUS_INVALID");
        }
        s["status"] = json!("CANCELLED");
        s["status_update_time"] = json!(now());
        (204, Value::Null)
    }

    pub(super) fn payout(&mut self, body: &Value) -> Answer {
        let Some(batch) = body["sender_batch_header"]["sender_batch_id"].as_str() else {
            return missing("/sender_batch_header/sender_batch_id");
        };
        let duplicate = self.objects.values().any(|o| {
            o["kind"] == "payout"
                && o["batch_header"]["sender_batch_header"]["sender_batch_id"] == batch
        });
        if duplicate {
            return error(
                400,
                "USER_BUSINESS_ERROR",
                Some((
                    "SENDER_BATCH_ID",
                    "Batch with given sender_batch_id already exists",
                )),
                "User business error.",
            );
        }
        let item = &body["items"][0];
        if !item.is_object() {
            return missing("/items");
        }
        let Some(receiver) = item["receiver"].as_str().filter(|r| !r.is_empty()) else {
            return missing("/items/0/receiver");
        };
        let (currency, n) = match amount(&item["amount"], "/items/0/amount") {
            Ok(parsed) => parsed,
            Err(refusal) => return refusal,
        };
        if !matches!(
            item["recipient_type"].as_str(),
            Some("EMAIL" | "PAYPAL_ID" | "PHONE")
        ) {
            return invalid("/items/0/recipient_type", "INVALID_PARAMETER_VALUE");
        }
        let id = self.id("5UXD2E8A");
        let value = item["amount"]["value"].clone();
        let status = if receiver == UNREGISTERED {
            "FAILED"
        } else {
            "SUCCESS"
        };
        let errors = (status == "FAILED").then(|| json!({"name": "RECEIVER_UNREGISTERED"}));
        let header = json!({"payout_batch_id": id, "batch_status": "SUCCESS",
            "time_created": now(), "time_completed": now(),
            "sender_batch_header": body["sender_batch_header"],
            "amount": {"currency": currency, "value": value}});
        let stored = json!({"kind": "payout", "id": id, "batch_header": header,
            "items": [{"payout_item_id": format!("8AELMXH8UB{n}"), "transaction_status": status,
                "payout_batch_id": id, "errors": errors,
                "payout_item": {"amount": {"currency": currency, "value": value},
                    "receiver": receiver, "note": item["note"],
                    "recipient_type": item["recipient_type"]}}]});
        self.put(stored);
        let pending = json!({"batch_header": {"payout_batch_id": id, "batch_status": "PENDING",
            "sender_batch_header": body["sender_batch_header"]},
            "links": [{"href": format!("https://api.sandbox.paypal.com/v1/payments/payouts/{id}"),
                "rel": "self", "method": "GET"}]});
        (201, pending)
    }
}
