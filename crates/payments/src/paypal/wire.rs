//! PayPal's objects as we read them: only the fields integ uses, every one optional or
//! defaulted, so that a field PayPal adds or leaves out never breaks a read.
//!
//! Amounts are decimal strings in major units (`"10.50"`), converted with the currency's
//! exponent in `convert.rs`. Times are RFC 3339.

use serde::Deserialize;

/// An amount as PayPal writes it in Orders and Payments (`currency_code`, `value`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct PaypalMoney {
    /// ISO 4217 code.
    #[serde(default)]
    pub currency_code: String,
    /// Decimal amount in major units.
    #[serde(default)]
    pub value: String,
}

/// An amount as the Payouts API writes it (`currency`, `value`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalPayoutMoney {
    /// ISO 4217 code.
    #[serde(default)]
    pub currency: String,
    /// Decimal amount in major units.
    #[serde(default)]
    pub value: String,
}

/// A HATEOAS link.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalLink {
    /// The target URL.
    #[serde(default)]
    pub href: String,
    /// What it is: `approve`, `payer-action`, `up`, `self`.
    #[serde(default)]
    pub rel: String,
}

/// Ids of the objects related to a capture or authorization.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalRelatedIds {
    /// The order it belongs to.
    #[serde(default)]
    pub order_id: Option<String>,
}

/// `supplementary_data` of a capture or authorization.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalSupplementary {
    /// Related ids.
    #[serde(default)]
    pub related_ids: PaypalRelatedIds,
}

/// Why a capture is in its status.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalStatusDetails {
    /// PayPal's reason (`PENDING_REVIEW`, `ECHECK`…).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A capture, an authorization or a refund: they share these fields.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalTransaction {
    /// PayPal's id.
    #[serde(default)]
    pub id: String,
    /// `CREATED`, `CAPTURED`, `VOIDED`, `COMPLETED`, `PENDING`, `DECLINED`, `FAILED`…
    #[serde(default)]
    pub status: String,
    /// Why, for some statuses.
    #[serde(default)]
    pub status_details: Option<PaypalStatusDetails>,
    /// The amount.
    #[serde(default)]
    pub amount: Option<PaypalMoney>,
    /// The note to the payer (refunds).
    #[serde(default)]
    pub note_to_payer: Option<String>,
    /// Links (`up` leads from a refund to its capture).
    #[serde(default)]
    pub links: Vec<PaypalLink>,
    /// The order it belongs to.
    #[serde(default)]
    pub supplementary_data: Option<PaypalSupplementary>,
    /// When it was created.
    #[serde(default)]
    pub create_time: Option<String>,
    /// When it last changed.
    #[serde(default)]
    pub update_time: Option<String>,
}

/// The payments of a purchase unit.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalPayments {
    /// Authorizations, for intent AUTHORIZE.
    #[serde(default)]
    pub authorizations: Vec<PaypalTransaction>,
    /// Captures.
    #[serde(default)]
    pub captures: Vec<PaypalTransaction>,
    /// Refunds of the captures.
    #[serde(default)]
    pub refunds: Vec<PaypalTransaction>,
}

/// A purchase unit; integ makes one per order.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalPurchaseUnit {
    /// The amount.
    #[serde(default)]
    pub amount: Option<PaypalMoney>,
    /// Our description.
    #[serde(default)]
    pub description: Option<String>,
    /// What happened to the money.
    #[serde(default)]
    pub payments: Option<PaypalPayments>,
}

/// An order (Orders v2).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalOrder {
    /// The order id.
    #[serde(default)]
    pub id: String,
    /// `CAPTURE` or `AUTHORIZE`.
    #[serde(default)]
    pub intent: String,
    /// `CREATED`, `SAVED`, `APPROVED`, `VOIDED`, `COMPLETED`, `PAYER_ACTION_REQUIRED`.
    #[serde(default)]
    pub status: String,
    /// The purchase units.
    #[serde(default)]
    pub purchase_units: Vec<PaypalPurchaseUnit>,
    /// Links (`approve` or `payer-action` is where the payer goes).
    #[serde(default)]
    pub links: Vec<PaypalLink>,
    /// When it was created.
    #[serde(default)]
    pub create_time: Option<String>,
    /// When it last changed.
    #[serde(default)]
    pub update_time: Option<String>,
}

/// The billing cycle state of a subscription.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalBillingInfo {
    /// When the next payment is due.
    #[serde(default)]
    pub next_billing_time: Option<String>,
    /// The last payment.
    #[serde(default)]
    pub last_payment: Option<PaypalLastPayment>,
}

/// The last payment of a subscription.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalLastPayment {
    /// When it was made.
    #[serde(default)]
    pub time: Option<String>,
}

/// A subscription (Subscriptions v1).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalSubscription {
    /// The subscription id (`I-…`).
    #[serde(default)]
    pub id: String,
    /// The plan (`P-…`).
    #[serde(default)]
    pub plan_id: String,
    /// `APPROVAL_PENDING`, `APPROVED`, `ACTIVE`, `SUSPENDED`, `CANCELLED`, `EXPIRED`.
    #[serde(default)]
    pub status: String,
    /// Units billed; PayPal writes it as a string.
    #[serde(default)]
    pub quantity: Option<String>,
    /// When the status last changed.
    #[serde(default)]
    pub status_update_time: Option<String>,
    /// When billing started or starts.
    #[serde(default)]
    pub start_time: Option<String>,
    /// Billing state.
    #[serde(default)]
    pub billing_info: Option<PaypalBillingInfo>,
    /// When it was created.
    #[serde(default)]
    pub create_time: Option<String>,
    /// Links (`approve` is where the subscriber goes).
    #[serde(default)]
    pub links: Vec<PaypalLink>,
}

/// A payout batch's header.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalBatchHeader {
    /// PayPal's batch id.
    #[serde(default)]
    pub payout_batch_id: String,
    /// `PENDING`, `PROCESSING`, `SUCCESS`, `DENIED`, `CANCELED`.
    #[serde(default)]
    pub batch_status: String,
    /// When processing began.
    #[serde(default)]
    pub time_created: Option<String>,
    /// When processing finished.
    #[serde(default)]
    pub time_completed: Option<String>,
    /// The total, once PayPal has computed it.
    #[serde(default)]
    pub amount: Option<PaypalPayoutMoney>,
}

/// What one payout item was asked to do.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalPayoutItemRequest {
    /// The amount.
    #[serde(default)]
    pub amount: Option<PaypalPayoutMoney>,
    /// The receiver (an email address or payer id).
    #[serde(default)]
    pub receiver: Option<String>,
    /// The note to the receiver.
    #[serde(default)]
    pub note: Option<String>,
}

/// Why a payout item failed.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalItemError {
    /// PayPal's error name (`RECEIVER_UNREGISTERED`…).
    #[serde(default)]
    pub name: Option<String>,
}

/// One item of a payout batch.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalPayoutItem {
    /// `SUCCESS`, `PENDING`, `UNCLAIMED`, `FAILED`, `RETURNED`, `ONHOLD`, `BLOCKED`…
    #[serde(default)]
    pub transaction_status: String,
    /// What was asked.
    #[serde(default)]
    pub payout_item: Option<PaypalPayoutItemRequest>,
    /// Why it failed.
    #[serde(default)]
    pub errors: Option<PaypalItemError>,
}

/// A payout batch: the answer of create (header only) and of get (with items).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalPayoutBatch {
    /// The header.
    #[serde(default)]
    pub batch_header: PaypalBatchHeader,
    /// The items, in a get.
    #[serde(default)]
    pub items: Vec<PaypalPayoutItem>,
}

/// An access token answer of `/v1/oauth2/token`.
#[derive(Deserialize)]
pub struct PaypalToken {
    /// The bearer token. Never logged; `Debug` is not derived.
    pub access_token: String,
    /// Its lifetime in seconds.
    #[serde(default)]
    pub expires_in: u64,
}

/// The answer of `/v1/notifications/verify-webhook-signature`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalVerification {
    /// `SUCCESS` or `FAILURE`.
    #[serde(default)]
    pub verification_status: String,
}

/// One problem in a PayPal error answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalIssue {
    /// The field, as a JSON pointer into our body.
    #[serde(default)]
    pub field: Option<String>,
    /// PayPal's fine-grained code (`INSTRUMENT_DECLINED`…).
    #[serde(default)]
    pub issue: String,
    // `value` and `description` are never read: they may quote what we sent.
}

/// PayPal's error answer of the REST APIs, and of the OAuth endpoint (`error`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalErrorBody {
    /// The error's name (`UNPROCESSABLE_ENTITY`, `INVALID_REQUEST`…).
    #[serde(default)]
    pub name: Option<String>,
    /// The problems.
    #[serde(default)]
    pub details: Vec<PaypalIssue>,
    /// The OAuth endpoint's code (`invalid_client`).
    #[serde(default)]
    pub error: Option<String>,
}

/// A webhook event, as far as the normaliser reads it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaypalEvent {
    /// The event id (`WH-…`); redeliveries share it.
    #[serde(default)]
    pub id: String,
    /// `PAYMENT.CAPTURE.COMPLETED`…
    #[serde(default)]
    pub event_type: String,
    /// When it was created.
    #[serde(default)]
    pub create_time: Option<String>,
    /// The kind of resource (`capture`, `checkout-order`, `subscription`…).
    #[serde(default)]
    pub resource_type: Option<String>,
    /// The resource.
    #[serde(default)]
    pub resource: serde_json::Value,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_order_reads_with_missing_and_unknown_fields() {
        let order: PaypalOrder = serde_json::from_str(
            r#"{"id":"5O190127TN364715T","status":"COMPLETED","intent":"CAPTURE","extra":1,
                "purchase_units":[{"amount":{"currency_code":"USD","value":"10.50"},
                "payments":{"captures":[{"id":"3C6","status":"COMPLETED",
                "amount":{"currency_code":"USD","value":"10.50"}}]}}]}"#,
        )
        .unwrap();
        let unit = &order.purchase_units[0];
        assert_eq!(unit.payments.as_ref().unwrap().captures[0].id, "3C6");
        assert!(order.links.is_empty() && order.create_time.is_none());
        let empty: PaypalOrder = serde_json::from_str("{}").unwrap();
        assert!(empty.id.is_empty());
    }

    #[test]
    fn an_error_body_keeps_no_value_or_description() {
        let body: PaypalErrorBody = serde_json::from_str(
            r#"{"name":"UNPROCESSABLE_ENTITY","debug_id":"d1","details":[{"field":"/x",
                "value":"ada@example.com","issue":"INSTRUMENT_DECLINED","description":"no"}]}"#,
        )
        .unwrap();
        assert_eq!(body.details[0].issue, "INSTRUMENT_DECLINED");
        assert!(!format!("{body:?}").contains("ada@"));
    }
}
