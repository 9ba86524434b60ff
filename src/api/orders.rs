//! Orders in the GraphQL API: `recordOrder`, `order`, `orders` and `orderUpdates`.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, Subscription};
use futures::{Stream, StreamExt};

use super::error::{ApiError, ApiResult};
use super::page_info::PageInfo;
use super::scalars::{DateTime, Decimal};
use super::{first_of, state};
use crate::domain::order::{self as domain, AddressDraft, ItemDraft, OrderDraft};
use crate::orders::OrderFilter as Filter;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::order::PaymentStatus")]
pub enum PaymentStatus {
    Queued,
    Authorized,
    PartiallyPaid,
    Paid,
    Declined,
    Canceled,
    Refunded,
}

/// NOT_SYNCED: no sync job yet. QUEUED: a job waits, also for a scheduled retry (lastError
/// tells the last failure). SYNCING: a job runs. SYNCED: a Sales Order exists. FAILED: the job
/// ended FAILED or CANCELED; final until retried. NEEDS_ATTENTION: synced, then something
/// happened that a person must handle in Acumatica (a refund, a cancellation after shipping):
/// `sync.attention` says what; `resolveAttention` ends it.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::order::SyncStatus", name = "OrderSyncStatus")]
pub enum SyncStatus {
    NotSynced,
    Queued,
    Syncing,
    Synced,
    Failed,
    NeedsAttention,
}

#[derive(InputObject)]
#[graphql(name = "AddressInput")]
pub struct AddressInput {
    first_name: Option<String>,
    last_name: Option<String>,
    company: Option<String>,
    street: Option<String>,
    street2: Option<String>,
    city: Option<String>,
    state: Option<String>,
    postal_code: Option<String>,
    /// ISO 3166-1 alpha-2
    country: String,
    phone: Option<String>,
}

#[derive(InputObject)]
pub struct OrderItemInput {
    sku: String,
    name: String,
    /// Unit price.
    price: Decimal,
    quantity: i32,
    /// Acumatica warehouse of the shipping location; the default setting when absent.
    warehouse_id: Option<String>,
}

#[derive(InputObject)]
pub struct OrderInput {
    number: String,
    profile_id: Option<String>,
    email: String,
    phone: Option<String>,
    placed_at: DateTime,
    /// ISO 4217
    currency: String,
    payment_status: PaymentStatus,
    billing_address: AddressInput,
    shipping_address: Option<AddressInput>,
    items: Vec<OrderItemInput>,
    shipping_cost: Option<Decimal>,
    /// Positive amount taken off the order.
    discount_total: Option<Decimal>,
    /// The store's tax; not sent to Acumatica, which computes its own.
    tax_total: Option<Decimal>,
    /// Lines + shipping + tax - discount, within one cent.
    total: Decimal,
    /// What the store has refunded so far, for a partial refund (a REFUNDED order without
    /// it counts as refunded in full). At most the total.
    refunded_total: Option<Decimal>,
    /// The store's payment method name (e.g. "PayPal"): picks the row of the settings'
    /// paymentMethodMap the payment is recorded with.
    payment_method: Option<String>,
}

impl From<AddressInput> for AddressDraft {
    fn from(a: AddressInput) -> Self {
        AddressDraft {
            first_name: a.first_name,
            last_name: a.last_name,
            company: a.company,
            street: a.street,
            street2: a.street2,
            city: a.city,
            state: a.state,
            postal_code: a.postal_code,
            country: a.country,
            phone: a.phone,
        }
    }
}

impl From<OrderInput> for OrderDraft {
    fn from(i: OrderInput) -> Self {
        OrderDraft {
            number: i.number,
            profile_id: i.profile_id,
            email: i.email,
            phone: i.phone,
            placed_at: i.placed_at.0,
            currency: i.currency,
            payment_status: i.payment_status.into(),
            billing_address: i.billing_address.into(),
            shipping_address: i.shipping_address.map(Into::into),
            items: i
                .items
                .into_iter()
                .map(|it| ItemDraft {
                    sku: it.sku,
                    name: it.name,
                    price: it.price.0,
                    quantity: it.quantity,
                    warehouse_id: it.warehouse_id,
                })
                .collect(),
            shipping_cost: i.shipping_cost.map(|d| d.0),
            discount_total: i.discount_total.map(|d| d.0),
            tax_total: i.tax_total.map(|d| d.0),
            total: i.total.0,
            refunded_total: i.refunded_total.map(|d| d.0),
            payment_method: i.payment_method,
        }
    }
}

#[derive(SimpleObject)]
pub struct Address {
    first_name: Option<String>,
    last_name: Option<String>,
    company: Option<String>,
    street: Option<String>,
    street2: Option<String>,
    city: Option<String>,
    state: Option<String>,
    postal_code: Option<String>,
    country: String,
    phone: Option<String>,
}

impl From<domain::Address> for Address {
    fn from(a: domain::Address) -> Self {
        Address {
            first_name: a.first_name,
            last_name: a.last_name,
            company: a.company,
            street: a.street,
            street2: a.street2,
            city: a.city,
            state: a.state,
            postal_code: a.postal_code,
            country: a.country,
            phone: a.phone,
        }
    }
}

#[derive(SimpleObject)]
pub struct OrderItem {
    sku: String,
    name: String,
    price: Decimal,
    quantity: i32,
    warehouse_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct PaymentStatusChange {
    status: PaymentStatus,
    at: DateTime,
}

/// A store order.
pub struct Order(pub domain::Order);

impl Order {
    /// An amount of this order, at its currency's scale.
    fn money(&self, amount: Option<rust_decimal::Decimal>) -> Option<Decimal> {
        amount.map(|a| Decimal::money(a, &self.0.data.currency))
    }
}

#[Object]
impl Order {
    async fn number(&self) -> &str {
        &self.0.data.number
    }
    async fn profile_id(&self) -> Option<&str> {
        self.0.data.profile_id.as_deref()
    }
    async fn email(&self) -> &str {
        &self.0.data.email
    }
    async fn phone(&self) -> Option<&str> {
        self.0.data.phone.as_deref()
    }
    async fn placed_at(&self) -> DateTime {
        self.0.data.placed_at.into()
    }
    async fn currency(&self) -> &str {
        &self.0.data.currency
    }
    async fn payment_status(&self) -> PaymentStatus {
        self.0.data.payment_status.into()
    }
    async fn payment_status_history(&self) -> Vec<PaymentStatusChange> {
        self.0
            .payment_status_history
            .iter()
            .map(|c| PaymentStatusChange {
                status: c.status.into(),
                at: c.at.into(),
            })
            .collect()
    }
    async fn billing_address(&self) -> Address {
        self.0.data.billing_address.clone().into()
    }
    async fn shipping_address(&self) -> Option<Address> {
        self.0.data.shipping_address.clone().map(Into::into)
    }
    async fn items(&self) -> Vec<OrderItem> {
        self.0
            .data
            .items
            .iter()
            .map(|i| OrderItem {
                sku: i.sku.clone(),
                name: i.name.clone(),
                price: Decimal::money(i.price, &self.0.data.currency),
                quantity: i.quantity,
                warehouse_id: i.warehouse_id.clone(),
            })
            .collect()
    }
    async fn shipping_cost(&self) -> Option<Decimal> {
        self.money(self.0.data.shipping_cost)
    }
    async fn discount_total(&self) -> Option<Decimal> {
        self.money(self.0.data.discount_total)
    }
    async fn tax_total(&self) -> Option<Decimal> {
        self.money(self.0.data.tax_total)
    }
    async fn total(&self) -> Decimal {
        Decimal::money(self.0.data.total, &self.0.data.currency)
    }
    /// The store's payment method name, when the store gave one.
    async fn payment_method(&self) -> Option<&str> {
        self.0.data.payment_method.as_deref()
    }
    /// When the bridge first recorded the order.
    async fn recorded_at(&self) -> DateTime {
        self.0.recorded_at.into()
    }
    /// When the order last changed.
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
    async fn sync(&self) -> OrderSync<'_> {
        OrderSync(&self.0)
    }
    /// Refunds the store reported after the order was synced, oldest first.
    async fn refunds(&self) -> Vec<super::aftercare::OrderRefund> {
        let currency = &self.0.data.currency;
        self.0
            .sync
            .refunds
            .iter()
            .map(|r| super::aftercare::OrderRefund::of(r, currency))
            .collect()
    }
    /// The cancellation of its Sales Order, once the store canceled the order.
    async fn cancellation(&self) -> Option<super::aftercare::OrderCancellation> {
        self.0.sync.cancellation.as_ref().map(Into::into)
    }
    /// Confirmed Acumatica shipments of its Sales Order, as written back to the store
    /// (writeBackShipments), oldest first.
    async fn shipments(&self) -> Vec<super::shipments::OrderShipment> {
        self.0
            .shipments
            .iter()
            .cloned()
            .map(super::shipments::OrderShipment)
            .collect()
    }
    /// The payments recorded in Acumatica for this order (sent with the Sales Order when the
    /// order was PAID at sync time, or by a RECORD_PAYMENT job when it was paid later), as
    /// Acumatica last showed them.
    async fn payments(&self) -> Vec<OrderPayment> {
        let currency = &self.0.data.currency;
        self.0
            .sync
            .payments
            .iter()
            .map(|p| OrderPayment {
                doc_type: p.doc_type.clone(),
                reference_nbr: p.reference_nbr.clone(),
                amount: Decimal::money(p.amount, currency),
                applied_to_order: p.applied_to_order.map(|a| Decimal::money(a, currency)),
                status: p.status.clone(),
                payment_method: p.payment_method.clone(),
                payment_ref: p.payment_ref.clone(),
            })
            .collect()
    }
}

/// A payment recorded in Acumatica for an order.
#[derive(SimpleObject)]
pub struct OrderPayment {
    /// Acumatica's document type: Prepayment or Payment.
    doc_type: String,
    /// Acumatica's reference number of the payment.
    reference_nbr: String,
    amount: Decimal,
    applied_to_order: Option<Decimal>,
    /// Acumatica's status (Balanced, Open, ...).
    status: Option<String>,
    payment_method: Option<String>,
    /// The reference the bridge sent (the order's CustomerOrder reference).
    payment_ref: Option<String>,
}

/// Where the order stands in its way to Acumatica.
pub struct OrderSync<'a>(&'a domain::Order);

#[Object]
impl OrderSync<'_> {
    async fn status(&self) -> SyncStatus {
        self.0.sync.status.into()
    }
    /// The Sales Order's type in Acumatica (e.g. SO), once linked.
    async fn sales_order_type(&self) -> Option<&str> {
        self.0.sync.sales_order_type.as_deref()
    }
    /// The Sales Order's number in Acumatica, once linked.
    async fn sales_order_nbr(&self) -> Option<&str> {
        self.0.sync.sales_order_nbr.as_deref()
    }
    /// The Acumatica CustomerID the order was synced to.
    async fn customer_id(&self) -> Option<&str> {
        self.0.sync.customer_id.as_deref()
    }
    /// The class of its sync job's last error (DATA, TRANSIENT, CONFIGURATION).
    async fn error_class(&self) -> Option<super::jobs::ErrorClass> {
        self.0.sync.error_class.map(Into::into)
    }
    /// The last failure of its sync job, in words a store operator can act on.
    async fn last_error(&self) -> Option<&str> {
        self.0.sync.last_error.as_deref()
    }
    /// E.g. totals differ from Acumatica's by more than one cent; changed after sync.
    async fn warnings(&self) -> &[String] {
        &self.0.sync.warnings
    }
    async fn synced_at(&self) -> Option<DateTime> {
        self.0.sync.synced_at.map(Into::into)
    }
    /// The Sales Order's unpaid balance in Acumatica, as last read (0 once the payment
    /// recorded with it is applied).
    async fn unpaid_balance(&self) -> Option<Decimal> {
        self.0
            .sync
            .unpaid_balance
            .map(|a| Decimal::money(a, &self.0.data.currency))
    }
    /// Why the order is NEEDS_ATTENTION (null when it is not).
    async fn attention(&self) -> Option<super::aftercare::OrderAttention> {
        self.0.sync.open_attention().map(Into::into)
    }
    /// Everything the order needed a person for, oldest first, resolved or not.
    async fn attention_history(&self) -> Vec<super::aftercare::OrderAttention> {
        self.0.sync.attention.iter().map(Into::into).collect()
    }
    /// The order's jobs, newest first.
    async fn jobs(&self, ctx: &Context<'_>) -> ApiResult<Vec<super::jobs::Job>> {
        let jobs = state(ctx).jobs.for_order(&self.0.data.number)?;
        Ok(jobs
            .into_iter()
            .filter_map(super::jobs::Job::shown)
            .collect())
    }
}

#[derive(InputObject, Default)]
pub struct OrderFilter {
    sync_status: Option<SyncStatus>,
    payment_status: Option<PaymentStatus>,
    /// Finds orders by the start of their number (leading zeros optional), e-mail or e-mail
    /// domain, case-insensitive: `42`, `M00042`, `ann@`, `shop.example`.
    search: Option<String>,
    /// Orders whose sync's last error is of this class.
    error_class: Option<super::jobs::ErrorClass>,
}

#[derive(SimpleObject)]
pub struct OrderEdge {
    node: Order,
    cursor: String,
}

#[derive(SimpleObject)]
pub struct OrderConnection {
    edges: Vec<OrderEdge>,
    page_info: PageInfo,
    total_count: i32,
}

#[derive(Default)]
pub struct OrdersQuery;

#[Object]
impl OrdersQuery {
    /// Orders, newest placedAt first (then by number).
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<OrderFilter>,
    ) -> ApiResult<OrderConnection> {
        let first = first_of(first)?;
        let filter = filter.unwrap_or_default();
        let filter = Filter {
            sync_status: filter.sync_status.map(Into::into),
            payment_status: filter.payment_status.map(Into::into),
            search: filter.search.filter(|s| !s.trim().is_empty()),
            error_class: filter.error_class.map(Into::into),
        };
        let page = state(ctx).orders.list(first, after.as_deref(), &filter)?;
        let page_info = PageInfo::of(&page);
        Ok(OrderConnection {
            edges: page
                .items
                .into_iter()
                .map(|(o, cursor)| OrderEdge {
                    node: Order(o),
                    cursor,
                })
                .collect(),
            page_info,
            total_count: page.total_count as i32,
        })
    }

    async fn order(&self, ctx: &Context<'_>, number: String) -> ApiResult<Option<Order>> {
        Ok(state(ctx).orders.get(&number)?.map(Order))
    }
}

#[derive(Default)]
pub struct OrdersMutation;

#[Object]
impl OrdersMutation {
    /// Creates or updates the store order with this number. Idempotent.
    async fn record_order(&self, ctx: &Context<'_>, input: OrderInput) -> ApiResult<Order> {
        let order = OrderDraft::from(input).validate("input")?;
        let (order, _) = state(ctx).orders.record(order).await?;
        Ok(Order(order))
    }

    /// Enqueues a SYNC_ORDER job, or returns the order's live job (moving a scheduled retry
    /// to now). Works in both sync modes; a synced order is confirmed, never created twice.
    async fn sync_order(&self, ctx: &Context<'_>, number: String) -> ApiResult<super::jobs::Job> {
        let summary = format!("order {}", number.trim());
        let run = async {
            let mut jobs = state(ctx).orders.request_sync(&[number]).await?;
            Ok(super::jobs::Job(jobs.remove(0)))
        };
        super::audit::audited(ctx, "syncOrder", summary, run, |j| {
            format!("job {}", j.0.id)
        })
        .await
    }

    /// All or nothing: an unknown number fails the whole call.
    async fn sync_orders(
        &self,
        ctx: &Context<'_>,
        numbers: Vec<String>,
    ) -> ApiResult<Vec<super::jobs::Job>> {
        if numbers.len() > crate::paging::MAX_PAGE {
            return Err(ApiError::bad_input(
                "numbers",
                format!("at most {} orders at once", crate::paging::MAX_PAGE),
            ));
        }
        let shown: Vec<&str> = numbers.iter().take(20).map(|n| n.trim()).collect();
        let more = numbers.len().saturating_sub(shown.len());
        let summary = format!(
            "{} orders: {}{}",
            numbers.len(),
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
        let run = async { Ok(state(ctx).orders.request_sync(&numbers).await?) };
        let jobs = super::audit::audited(ctx, "syncOrders", summary, run, |j| {
            format!("{} jobs", j.len())
        })
        .await?;
        Ok(jobs.into_iter().map(super::jobs::Job).collect())
    }
}

#[derive(Default)]
pub struct OrdersSubscription;

#[Subscription]
impl OrdersSubscription {
    /// Every change of an order (its sync state included); one order when number is given.
    async fn order_updates(
        &self,
        ctx: &Context<'_>,
        number: Option<String>,
    ) -> impl Stream<Item = Result<Order, ApiError>> + use<> {
        order_events(state(ctx).orders.bus(), number.map(|n| n.trim().to_owned()))
    }
}

fn order_events(
    bus: &crate::events::Bus<domain::Order>,
    number: Option<String>,
) -> impl Stream<Item = Result<Order, ApiError>> + use<> {
    bus.subscribe().filter_map(move |event| {
        let keep = match &event {
            Ok(o) => number.as_ref().is_none_or(|n| *n == o.data.number),
            Err(_) => true,
        };
        let item = keep.then(|| {
            event
                .map(|o| Order(std::sync::Arc::unwrap_or_clone(o)))
                .map_err(|m| ApiError::Missed(m.0))
        });
        async move { item }
    })
}
