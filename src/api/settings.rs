//! Sync settings in the GraphQL API: `settings` and `saveSettings`.

use async_graphql::{Context, Enum, InputObject, MaybeUndefined, Object, SimpleObject};

use super::error::ApiResult;
use super::state;
use crate::domain::settings::{self as domain, Change, SettingsPatch};

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::settings::OrderSyncMode")]
pub enum OrderSyncMode {
    AutomaticAfterPayment,
    ManualOnly,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::settings::CustomerIdSource")]
pub enum CustomerIdSource {
    Email,
    Phone,
    ProfileId,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::settings::StockItemIdSource")]
pub enum StockItemIdSource {
    Sku,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::settings::PaymentType")]
pub enum PaymentType {
    Prepayment,
    Payment,
}

#[derive(SimpleObject)]
pub struct SyncSettings {
    order_sync_mode: OrderSyncMode,
    create_new_products: bool,
    customer_id_source: CustomerIdSource,
    stock_item_id_source: StockItemIdSource,
    /// Default "SO".
    sales_order_type: String,
    /// Put before the store's order number in CustomerOrder/ExternalRef (e.g. "XC-").
    order_number_prefix: Option<String>,
    /// Send prefix + store number as OrderNbr, for order types with manual numbering: the
    /// create is then idempotent by itself. Default false (Acumatica numbers the order).
    use_store_number_as_order_nbr: bool,
    customer_class: Option<String>,
    item_class: Option<String>,
    posting_class: Option<String>,
    reason_code_subaccount: Option<String>,
    tax_category_id: Option<String>,
    warehouse_id: Option<String>,
    /// The time zone (IANA name, e.g. "Europe/Berlin") whose calendar day of the order's
    /// placement becomes the Sales Order's Date: the ERP's business time zone. Default "UTC".
    order_date_time_zone: String,
    /// Record a PAID order's payment in Acumatica, inside the Sales Order's create. Default
    /// true, but no payment is recorded until paymentMethod and cashAccount are set.
    record_payments: bool,
    /// Default PREPAYMENT.
    payment_type: PaymentType,
    /// Acumatica's PaymentMethodID for the store's payments (e.g. CREDITCARD).
    payment_method: Option<String>,
    /// Acumatica's cash account the payments go to (one the payment method allows).
    cash_account: Option<String>,
    /// True when payments are recorded now: recordPayments with a method and a cash account
    /// (or at least one row of paymentMethodMap).
    payments_active: bool,
    /// Write confirmed Acumatica shipments back to the store: shipping status and tracking
    /// numbers (needs the store's read/write API token). Default false.
    write_back_shipments: bool,
    /// Create an AR credit memo in Acumatica for each refund the store reports after the sync
    /// (a CREATE_REFUND_CREDIT job); when false (the default) the order becomes
    /// NEEDS_ATTENTION for a person to do it.
    create_refund_credits: bool,
    /// Release each payment in Acumatica (its ReleasePayment action) once it exists, both
    /// for a payment sent with the Sales Order and for one a RECORD_PAYMENT job adds. Default
    /// false: payments stay Balanced until released in Acumatica.
    release_payments: bool,
    /// The store's payment method names mapped to an Acumatica payment method and cash
    /// account; an order whose method is not listed uses paymentMethod and cashAccount.
    payment_method_map: Vec<PaymentMethodMapping>,
}

/// One row of the payment method mapping.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "PaymentMethodMappingInput")]
pub struct PaymentMethodMapping {
    /// The store's payment method name (X-Cart's payment_method_name, e.g. "PayPal"),
    /// compared without regard to case.
    store_method: String,
    /// Acumatica's PaymentMethodID.
    payment_method: String,
    /// Acumatica's cash account (one the payment method allows).
    cash_account: String,
}

impl From<domain::PaymentMethodMapping> for PaymentMethodMapping {
    fn from(m: domain::PaymentMethodMapping) -> Self {
        PaymentMethodMapping {
            store_method: m.store_method,
            payment_method: m.payment_method,
            cash_account: m.cash_account,
        }
    }
}

impl From<PaymentMethodMapping> for domain::PaymentMethodMapping {
    fn from(m: PaymentMethodMapping) -> Self {
        domain::PaymentMethodMapping {
            store_method: m.store_method,
            payment_method: m.payment_method,
            cash_account: m.cash_account,
        }
    }
}

impl From<domain::SyncSettings> for SyncSettings {
    fn from(s: domain::SyncSettings) -> Self {
        let payments_active = s.payments_active();
        SyncSettings {
            order_sync_mode: s.order_sync_mode.into(),
            create_new_products: s.create_new_products,
            customer_id_source: s.customer_id_source.into(),
            stock_item_id_source: s.stock_item_id_source.into(),
            sales_order_type: s.sales_order_type,
            order_number_prefix: s.order_number_prefix,
            use_store_number_as_order_nbr: s.use_store_number_as_order_nbr,
            customer_class: s.customer_class,
            item_class: s.item_class,
            posting_class: s.posting_class,
            reason_code_subaccount: s.reason_code_subaccount,
            tax_category_id: s.tax_category_id,
            warehouse_id: s.warehouse_id,
            payments_active,
            order_date_time_zone: s.order_date_time_zone,
            record_payments: s.record_payments,
            payment_type: s.payment_type.into(),
            payment_method: s.payment_method,
            cash_account: s.cash_account,
            write_back_shipments: s.write_back_shipments,
            create_refund_credits: s.create_refund_credits,
            release_payments: s.release_payments,
            payment_method_map: s.payment_method_map.into_iter().map(Into::into).collect(),
        }
    }
}

/// A partial update: a field left out keeps its value; an explicit null clears an optional one.
#[derive(InputObject)]
pub struct SyncSettingsInput {
    order_sync_mode: MaybeUndefined<OrderSyncMode>,
    create_new_products: MaybeUndefined<bool>,
    customer_id_source: MaybeUndefined<CustomerIdSource>,
    stock_item_id_source: MaybeUndefined<StockItemIdSource>,
    sales_order_type: MaybeUndefined<String>,
    order_number_prefix: MaybeUndefined<String>,
    use_store_number_as_order_nbr: MaybeUndefined<bool>,
    customer_class: MaybeUndefined<String>,
    item_class: MaybeUndefined<String>,
    posting_class: MaybeUndefined<String>,
    reason_code_subaccount: MaybeUndefined<String>,
    tax_category_id: MaybeUndefined<String>,
    warehouse_id: MaybeUndefined<String>,
    order_date_time_zone: MaybeUndefined<String>,
    record_payments: MaybeUndefined<bool>,
    payment_type: MaybeUndefined<PaymentType>,
    payment_method: MaybeUndefined<String>,
    cash_account: MaybeUndefined<String>,
    write_back_shipments: MaybeUndefined<bool>,
    create_refund_credits: MaybeUndefined<bool>,
    release_payments: MaybeUndefined<bool>,
    /// Replaces the whole mapping; [] or null removes every row.
    payment_method_map: MaybeUndefined<Vec<PaymentMethodMapping>>,
}

fn change<T, U: From<T>>(v: MaybeUndefined<T>) -> Change<U> {
    match v {
        MaybeUndefined::Undefined => Change::Keep,
        MaybeUndefined::Null => Change::Clear,
        MaybeUndefined::Value(v) => Change::Set(v.into()),
    }
}

impl From<SyncSettingsInput> for SettingsPatch {
    fn from(i: SyncSettingsInput) -> Self {
        SettingsPatch {
            order_sync_mode: change(i.order_sync_mode),
            create_new_products: change(i.create_new_products),
            customer_id_source: change(i.customer_id_source),
            stock_item_id_source: change(i.stock_item_id_source),
            sales_order_type: change(i.sales_order_type),
            order_number_prefix: change(i.order_number_prefix),
            use_store_number_as_order_nbr: change(i.use_store_number_as_order_nbr),
            customer_class: change(i.customer_class),
            item_class: change(i.item_class),
            posting_class: change(i.posting_class),
            reason_code_subaccount: change(i.reason_code_subaccount),
            tax_category_id: change(i.tax_category_id),
            warehouse_id: change(i.warehouse_id),
            order_date_time_zone: change(i.order_date_time_zone),
            record_payments: change(i.record_payments),
            payment_type: change(i.payment_type),
            payment_method: change(i.payment_method),
            cash_account: change(i.cash_account),
            write_back_shipments: change(i.write_back_shipments),
            create_refund_credits: change(i.create_refund_credits),
            release_payments: change(i.release_payments),
            payment_method_map: match i.payment_method_map {
                MaybeUndefined::Undefined => Change::Keep,
                MaybeUndefined::Null => Change::Clear,
                MaybeUndefined::Value(rows) => {
                    Change::Set(rows.into_iter().map(Into::into).collect())
                }
            },
        }
    }
}

#[derive(Default)]
pub struct SettingsQuery;

#[Object]
impl SettingsQuery {
    async fn settings(&self, ctx: &Context<'_>) -> ApiResult<SyncSettings> {
        Ok(state(ctx).settings.get()?.into())
    }
}

#[derive(Default)]
pub struct SettingsMutation;

#[Object]
impl SettingsMutation {
    /// Partial update: a field left out keeps its value, an explicit null clears an optional
    /// one. All or nothing: an input with any invalid value changes nothing. Classes,
    /// subaccount, tax category and warehouse must be in Acumatica's lists once loaded.
    async fn save_settings(
        &self,
        ctx: &Context<'_>,
        input: SyncSettingsInput,
    ) -> ApiResult<SyncSettings> {
        let run = async {
            let lookups = state(ctx).connection.lookups()?;
            let saved = state(ctx)
                .settings
                .save(input.into(), |next| lookups.check(next))
                .await?;
            Ok(saved.into())
        };
        let summary = "the sync settings";
        super::audit::audited(ctx, "saveSettings", summary, run, |_| String::new()).await
    }
}
