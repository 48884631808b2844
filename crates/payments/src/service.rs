//! `integ.payments.v1.PaymentsService`: validation, idempotency, id translation, and the call
//! through the family's providers.
//!
//! Every mutating RPC requires an idempotency key. It runs once per key (our record, in the
//! store) and passes the key on to the provider as its own idempotency key, so a request whose
//! response was lost is answered from our record, or by the provider's replay if we never
//! stored the answer. Objects we hand out carry our ids (`pay_…`); the store remembers which
//! provider holds each, so that follow-up calls go to that provider whatever the order.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use integ_core::family::{self, CallCtx, Ids, Reply, mutate, provider_health, reply, required};
use integ_core::money;
use integ_core::resilience::{Deadline, Providers, Repeat, Served};
use integ_core::store::Store;
use integ_core::{Error, Result};
use integ_proto::payments::v1::payments_service_server::PaymentsService;
use integ_proto::payments::v1::*;
use tonic::{Request, Response, Status};

use crate::provider::PaymentsProvider;

const FAMILY: &str = "payments";

/// The payments service over its providers and the store.
pub struct Payments {
    providers: Providers<dyn PaymentsProvider>,
    store: Store,
}

impl Payments {
    /// A service over `providers`, keeping ids and idempotency records in `store`.
    pub fn new(providers: Providers<dyn PaymentsProvider>, store: Store) -> Self {
        Self { providers, store }
    }

    async fn call<T, F, Fut>(
        &self,
        provider: &str,
        deadline: Deadline,
        key: &str,
        repeat: Repeat,
        op: F,
    ) -> Result<Served<T>>
    where
        F: Fn(Arc<dyn PaymentsProvider>, CallCtx) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let key = key.to_owned();
        self.providers
            .call(provider, deadline, repeat, |p, attempt| {
                op(
                    p,
                    CallCtx {
                        idempotency_key: key.clone(),
                        attempt,
                    },
                )
            })
            .await
    }

    /// Fails a create at once, before its idempotency claim touches the store, when the breaker
    /// of every provider it may go to is open. A create naming a customer goes to the
    /// customer's provider, which only the store knows, so it is not checked here.
    fn fail_fast(&self, provider: &str, customer_id: &str) -> std::result::Result<(), Status> {
        match (customer_id.is_empty(), self.providers.refuses(provider)) {
            (true, Some(error)) => Err(Status::from(error)),
            _ => Ok(()),
        }
    }

    fn ids(&self) -> Ids<'_> {
        Ids::new(&self.store, FAMILY)
    }

    async fn locate(
        &self,
        field: &str,
        kind: &str,
        id: &str,
        requested: &str,
    ) -> Result<integ_core::store::Resource> {
        self.ids().locate(field, kind, id, requested).await
    }

    async fn ours(&self, provider: &str, provider_id: &str) -> Result<String> {
        self.ids().ours(provider, provider_id).await
    }

    /// Our id for a provider object and its metadata: the provider's, or for a provider that
    /// keeps none, the caller's kept with our id when it was minted. `created` carries the
    /// caller's metadata when this call created the object, and is `None` otherwise.
    async fn mint(
        &self,
        (prefix, kind): (&str, &str),
        provider: &str,
        provider_id: &str,
        metadata: &mut BTreeMap<String, String>,
        created: Option<&BTreeMap<String, String>>,
    ) -> Result<String> {
        let none = BTreeMap::new();
        let keep = created.map(|labels| if metadata.is_empty() { labels } else { &none });
        let (id, kept) = self
            .ids()
            .mint_labelled(prefix, kind, provider, provider_id, keep)
            .await?;
        if metadata.is_empty() {
            *metadata = kept;
        }
        Ok(id)
    }

    async fn payment_out(
        &self,
        mut p: Payment,
        provider: &str,
        created: Option<&BTreeMap<String, String>>,
    ) -> Result<Payment> {
        p.id = self
            .mint(
                ("pay", "payment"),
                provider,
                &p.provider_id,
                &mut p.metadata,
                created,
            )
            .await?;
        p.customer_id = self.ours(provider, &p.customer_id).await?;
        p.provider = provider.to_owned();
        Ok(p)
    }

    async fn refund_out(&self, mut r: Refund, provider: &str) -> Result<Refund> {
        r.id = self
            .ids()
            .mint("re", "refund", provider, &r.provider_id)
            .await?;
        r.payment_id = self.ours(provider, &r.payment_id).await?;
        r.provider = provider.to_owned();
        Ok(r)
    }

    async fn customer_out(
        &self,
        mut c: Customer,
        provider: &str,
        created: Option<&BTreeMap<String, String>>,
    ) -> Result<Customer> {
        c.id = self
            .mint(
                ("cus", "customer"),
                provider,
                &c.provider_id,
                &mut c.metadata,
                created,
            )
            .await?;
        c.provider = provider.to_owned();
        Ok(c)
    }

    async fn subscription_out(
        &self,
        mut s: Subscription,
        provider: &str,
        created: Option<&BTreeMap<String, String>>,
    ) -> Result<Subscription> {
        s.id = self
            .mint(
                ("sub", "subscription"),
                provider,
                &s.provider_id,
                &mut s.metadata,
                created,
            )
            .await?;
        s.customer_id = self.ours(provider, &s.customer_id).await?;
        s.provider = provider.to_owned();
        Ok(s)
    }

    async fn payout_out(&self, mut p: Payout, provider: &str) -> Result<Payout> {
        p.id = self
            .ids()
            .mint("po", "payout", provider, &p.provider_id)
            .await?;
        p.provider = provider.to_owned();
        Ok(p)
    }

    async fn create_payment(
        &self,
        deadline: Deadline,
        mut req: CreatePaymentRequest,
    ) -> Result<CreatePaymentResponse> {
        let amount = req
            .amount
            .as_ref()
            .ok_or_else(|| Error::invalid("amount", "amount is required"))?;
        money::validate("amount", amount.amount_minor, &amount.currency)?;
        if req.capture_method() == CaptureMethod::Unspecified {
            return Err(Error::invalid(
                "capture_method",
                "capture_method must be IMMEDIATE or MANUAL",
            ));
        }
        family::validate_metadata("metadata", &req.metadata)?;
        let mut provider = req.provider.clone();
        if !req.customer_id.is_empty() {
            let customer = self
                .locate("customer_id", "customer", &req.customer_id, &req.provider)
                .await?;
            req.customer_id = customer.provider_id;
            provider = customer.provider;
        }
        let served = self
            .call(
                &provider,
                deadline,
                &req.idempotency_key,
                Repeat::Safe,
                |p, ctx| {
                    let req = req.clone();
                    async move {
                        if !p.capabilities().payer_approval {
                            required("payment_method", &req.payment_method)?;
                        }
                        p.create_payment(&ctx, &req).await
                    }
                },
            )
            .await?;
        let payment = self
            .payment_out(served.value, &served.provider, Some(&req.metadata))
            .await?;
        Ok(CreatePaymentResponse {
            payment: Some(payment),
            provider: served.provider,
        })
    }

    async fn create_refund(
        &self,
        deadline: Deadline,
        mut req: CreateRefundRequest,
    ) -> Result<CreateRefundResponse> {
        if let Some(amount) = &req.amount {
            money::validate("amount", amount.amount_minor, &amount.currency)?;
        }
        let payment = self
            .locate("payment_id", "payment", &req.payment_id, &req.provider)
            .await?;
        req.payment_id = payment.provider_id;
        let served = self
            .call(
                &payment.provider,
                deadline,
                &req.idempotency_key,
                Repeat::Safe,
                |p, ctx| {
                    let req = req.clone();
                    async move { p.create_refund(&ctx, &req).await }
                },
            )
            .await?;
        let refund = self.refund_out(served.value, &served.provider).await?;
        Ok(CreateRefundResponse {
            refund: Some(refund),
            provider: served.provider,
        })
    }

    async fn create_subscription(
        &self,
        deadline: Deadline,
        mut req: CreateSubscriptionRequest,
    ) -> Result<CreateSubscriptionResponse> {
        required("price_id", &req.price_id)?;
        if req.quantity < 0 {
            return Err(Error::invalid("quantity", "quantity must not be negative"));
        }
        family::validate_metadata("metadata", &req.metadata)?;
        // Without a customer the subscription goes where `provider` (or the family's order)
        // says, and only a provider without customer objects (paypal) takes it.
        let mut provider = req.provider.clone();
        if !req.customer_id.is_empty() {
            let customer = self
                .locate("customer_id", "customer", &req.customer_id, &req.provider)
                .await?;
            req.customer_id = customer.provider_id;
            provider = customer.provider;
        }
        let served = self
            .call(
                &provider,
                deadline,
                &req.idempotency_key,
                Repeat::Safe,
                |p, ctx| {
                    let req = req.clone();
                    async move {
                        let offers = p.capabilities();
                        if !offers.subscriptions {
                            return Err(Error::unsupported(p.name(), "subscriptions"));
                        }
                        if offers.customers && req.customer_id.is_empty() {
                            return Err(Error::invalid(
                                "customer_id",
                                format!("customer_id is required at {}", p.name()),
                            ));
                        }
                        if !offers.customers && !req.customer_id.is_empty() {
                            return Err(Error::invalid(
                                "customer_id",
                                format!("{} has no customers; leave customer_id empty", p.name()),
                            ));
                        }
                        p.create_subscription(&ctx, &req).await
                    }
                },
            )
            .await?;
        let subscription = self
            .subscription_out(served.value, &served.provider, Some(&req.metadata))
            .await?;
        Ok(CreateSubscriptionResponse {
            subscription: Some(subscription),
            provider: served.provider,
        })
    }
}

#[tonic::async_trait]
impl PaymentsService for Payments {
    async fn create_payment(
        &self,
        request: Request<CreatePaymentRequest>,
    ) -> Reply<CreatePaymentResponse> {
        let req = request.get_ref();
        self.fail_fast(&req.provider, &req.customer_id)?;
        mutate(
            &self.store,
            request,
            "CreatePayment",
            |r| &r.idempotency_key,
            |r, k| r.idempotency_key = k,
            |d, r| self.create_payment(d, r),
        )
        .await
    }

    async fn get_payment(&self, request: Request<GetPaymentRequest>) -> Reply<GetPaymentResponse> {
        let deadline = family::deadline(&request);
        let req = request.into_inner();
        let result = async {
            let found = self.locate("id", "payment", &req.id, &req.provider).await?;
            let pid = found.provider_id.clone();
            let served = self
                .call(&found.provider, deadline, "", Repeat::Safe, |p, ctx| {
                    let pid = pid.clone();
                    async move { p.get_payment(&ctx, &pid).await }
                })
                .await?;
            let payment = self
                .payment_out(served.value, &served.provider, None)
                .await?;
            Ok(GetPaymentResponse {
                payment: Some(payment),
                provider: served.provider,
            })
        };
        reply(result).await
    }

    async fn capture_payment(
        &self,
        request: Request<CapturePaymentRequest>,
    ) -> Reply<CapturePaymentResponse> {
        mutate(
            &self.store,
            request,
            "CapturePayment",
            |r| &r.idempotency_key,
            |r, k| r.idempotency_key = k,
            |deadline, req| async move {
                if let Some(amount) = &req.amount {
                    money::validate("amount", amount.amount_minor, &amount.currency)?;
                }
                let found = self.locate("id", "payment", &req.id, &req.provider).await?;
                let served = self
                    .call(
                        &found.provider,
                        deadline,
                        &req.idempotency_key,
                        Repeat::Safe,
                        |p, ctx| {
                            let (pid, amount) = (found.provider_id.clone(), req.amount.clone());
                            async move {
                                if amount.is_some() && !p.capabilities().partial_capture {
                                    return Err(Error::unsupported(p.name(), "partial capture"));
                                }
                                p.capture_payment(&ctx, &pid, amount.as_ref()).await
                            }
                        },
                    )
                    .await?;
                let payment = self
                    .payment_out(served.value, &served.provider, None)
                    .await?;
                Ok(CapturePaymentResponse {
                    payment: Some(payment),
                    provider: served.provider,
                })
            },
        )
        .await
    }

    async fn cancel_payment(
        &self,
        request: Request<CancelPaymentRequest>,
    ) -> Reply<CancelPaymentResponse> {
        mutate(
            &self.store,
            request,
            "CancelPayment",
            |r| &r.idempotency_key,
            |r, k| r.idempotency_key = k,
            |deadline, req| async move {
                let found = self.locate("id", "payment", &req.id, &req.provider).await?;
                let served = self
                    .call(
                        &found.provider,
                        deadline,
                        &req.idempotency_key,
                        Repeat::Safe,
                        |p, ctx| {
                            let pid = found.provider_id.clone();
                            async move { p.cancel_payment(&ctx, &pid).await }
                        },
                    )
                    .await?;
                let payment = self
                    .payment_out(served.value, &served.provider, None)
                    .await?;
                Ok(CancelPaymentResponse {
                    payment: Some(payment),
                    provider: served.provider,
                })
            },
        )
        .await
    }

    async fn create_refund(
        &self,
        request: Request<CreateRefundRequest>,
    ) -> Reply<CreateRefundResponse> {
        mutate(
            &self.store,
            request,
            "CreateRefund",
            |r| &r.idempotency_key,
            |r, k| r.idempotency_key = k,
            |d, r| self.create_refund(d, r),
        )
        .await
    }

    async fn get_refund(&self, request: Request<GetRefundRequest>) -> Reply<GetRefundResponse> {
        let deadline = family::deadline(&request);
        let req = request.into_inner();
        let result = async {
            let found = self.locate("id", "refund", &req.id, &req.provider).await?;
            let served = self
                .call(&found.provider, deadline, "", Repeat::Safe, |p, ctx| {
                    let pid = found.provider_id.clone();
                    async move { p.get_refund(&ctx, &pid).await }
                })
                .await?;
            let refund = self.refund_out(served.value, &served.provider).await?;
            Ok(GetRefundResponse {
                refund: Some(refund),
                provider: served.provider,
            })
        };
        reply(result).await
    }

    async fn create_customer(
        &self,
        request: Request<CreateCustomerRequest>,
    ) -> Reply<CreateCustomerResponse> {
        self.fail_fast(&request.get_ref().provider, "")?;
        mutate(
            &self.store,
            request,
            "CreateCustomer",
            |r| &r.idempotency_key,
            |r, k| r.idempotency_key = k,
            |deadline, req| async move {
                family::validate_metadata("metadata", &req.metadata)?;
                let served = self
                    .call(
                        &req.provider,
                        deadline,
                        &req.idempotency_key,
                        Repeat::Safe,
                        |p, ctx| {
                            let req = req.clone();
                            async move {
                                if !p.capabilities().customers {
                                    return Err(Error::unsupported(p.name(), "customers"));
                                }
                                p.create_customer(&ctx, &req).await
                            }
                        },
                    )
                    .await?;
                let customer = self
                    .customer_out(served.value, &served.provider, Some(&req.metadata))
                    .await?;
                Ok(CreateCustomerResponse {
                    customer: Some(customer),
                    provider: served.provider,
                })
            },
        )
        .await
    }

    async fn get_customer(
        &self,
        request: Request<GetCustomerRequest>,
    ) -> Reply<GetCustomerResponse> {
        let deadline = family::deadline(&request);
        let req = request.into_inner();
        let result = async {
            let found = self
                .locate("id", "customer", &req.id, &req.provider)
                .await?;
            let served = self
                .call(&found.provider, deadline, "", Repeat::Safe, |p, ctx| {
                    let pid = found.provider_id.clone();
                    async move { p.get_customer(&ctx, &pid).await }
                })
                .await?;
            let customer = self
                .customer_out(served.value, &served.provider, None)
                .await?;
            Ok(GetCustomerResponse {
                customer: Some(customer),
                provider: served.provider,
            })
        };
        reply(result).await
    }

    async fn create_subscription(
        &self,
        request: Request<CreateSubscriptionRequest>,
    ) -> Reply<CreateSubscriptionResponse> {
        let req = request.get_ref();
        self.fail_fast(&req.provider, &req.customer_id)?;
        mutate(
            &self.store,
            request,
            "CreateSubscription",
            |r| &r.idempotency_key,
            |r, k| r.idempotency_key = k,
            |d, r| self.create_subscription(d, r),
        )
        .await
    }

    async fn get_subscription(
        &self,
        request: Request<GetSubscriptionRequest>,
    ) -> Reply<GetSubscriptionResponse> {
        let deadline = family::deadline(&request);
        let req = request.into_inner();
        let result = async {
            let found = self
                .locate("id", "subscription", &req.id, &req.provider)
                .await?;
            let served = self
                .call(&found.provider, deadline, "", Repeat::Safe, |p, ctx| {
                    let pid = found.provider_id.clone();
                    async move { p.get_subscription(&ctx, &pid).await }
                })
                .await?;
            let subscription = self
                .subscription_out(served.value, &served.provider, None)
                .await?;
            Ok(GetSubscriptionResponse {
                subscription: Some(subscription),
                provider: served.provider,
            })
        };
        reply(result).await
    }

    async fn cancel_subscription(
        &self,
        request: Request<CancelSubscriptionRequest>,
    ) -> Reply<CancelSubscriptionResponse> {
        mutate(
            &self.store,
            request,
            "CancelSubscription",
            |r| &r.idempotency_key,
            |r, k| r.idempotency_key = k,
            |deadline, req| async move {
                let found = self
                    .locate("id", "subscription", &req.id, &req.provider)
                    .await?;
                let served = self
                    .call(
                        &found.provider,
                        deadline,
                        &req.idempotency_key,
                        Repeat::Safe,
                        |p, ctx| {
                            let pid = found.provider_id.clone();
                            let at_end = req.at_period_end;
                            async move { p.cancel_subscription(&ctx, &pid, at_end).await }
                        },
                    )
                    .await?;
                let subscription = self
                    .subscription_out(served.value, &served.provider, None)
                    .await?;
                Ok(CancelSubscriptionResponse {
                    subscription: Some(subscription),
                    provider: served.provider,
                })
            },
        )
        .await
    }

    async fn create_payout(
        &self,
        request: Request<CreatePayoutRequest>,
    ) -> Reply<CreatePayoutResponse> {
        self.fail_fast(&request.get_ref().provider, "")?;
        mutate(
            &self.store,
            request,
            "CreatePayout",
            |r| &r.idempotency_key,
            |r, k| r.idempotency_key = k,
            |deadline, req| async move {
                let amount = req
                    .amount
                    .as_ref()
                    .ok_or_else(|| Error::invalid("amount", "amount is required"))?;
                money::validate("amount", amount.amount_minor, &amount.currency)?;
                let served = self
                    .call(
                        &req.provider,
                        deadline,
                        &req.idempotency_key,
                        Repeat::Safe,
                        |p, ctx| {
                            let req = req.clone();
                            async move {
                                if !p.capabilities().payouts {
                                    return Err(Error::unsupported(p.name(), "payouts"));
                                }
                                p.create_payout(&ctx, &req).await
                            }
                        },
                    )
                    .await?;
                let payout = self.payout_out(served.value, &served.provider).await?;
                Ok(CreatePayoutResponse {
                    payout: Some(payout),
                    provider: served.provider,
                })
            },
        )
        .await
    }

    async fn get_payout(&self, request: Request<GetPayoutRequest>) -> Reply<GetPayoutResponse> {
        let deadline = family::deadline(&request);
        let req = request.into_inner();
        let result = async {
            let found = self.locate("id", "payout", &req.id, &req.provider).await?;
            let served = self
                .call(&found.provider, deadline, "", Repeat::Safe, |p, ctx| {
                    let pid = found.provider_id.clone();
                    async move { p.get_payout(&ctx, &pid).await }
                })
                .await?;
            let payout = self.payout_out(served.value, &served.provider).await?;
            Ok(GetPayoutResponse {
                payout: Some(payout),
                provider: served.provider,
            })
        };
        reply(result).await
    }

    async fn get_provider_health(
        &self,
        request: Request<GetProviderHealthRequest>,
    ) -> Reply<GetProviderHealthResponse> {
        let providers =
            provider_health(&self.providers, &request.get_ref().provider).map_err(Status::from)?;
        Ok(Response::new(GetProviderHealthResponse { providers }))
    }
}
