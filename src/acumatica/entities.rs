//! Typed entities for what order sync needs, serialised the Acumatica way (see [`super::value`]):
//! Customer (with its MainContact and Address), StockItem, SalesOrder (with Details,
//! ShipToAddress, ShipToContact, ShippingSettings, Totals, Payments), and the lookups CustomerClass,
//! ItemClass, TaxCategory, Warehouse, Subaccount and PaymentMethod (with its cash accounts),
//! Payment (with the orders it applies to), Invoice (a refund's credit memo) and Shipment (with its orders, lines and packages).
//!
//! Every field is optional: a field left `None` is not sent, and one Acumatica did not return
//! reads as `None`. Field names are checked against the official endpoint schema by the test
//! `entity_fields_exist_in_the_official_schema` (tests/it); Acumatica silently drops a
//! misspelt field, so that test is what catches one.

use chrono::{DateTime, FixedOffset};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::value::Nested;

/// A top-level entity of the endpoint: it has a URL of its own and key fields.
pub trait Entity: Nested + Clone + std::fmt::Debug + Send + Sync + 'static {
    /// Its name in the endpoint, as in `/entity/Default/24.200.001/SalesOrder`.
    const NAME: &'static str;
    /// Its key fields, in the order they appear in a get-by-key URL.
    const KEYS: &'static [&'static str];
}

/// Names a type after its schema type in the official endpoint schema (for the field test).
pub trait SchemaType {
    const SCHEMA: &'static str;
}

macro_rules! entity {
    (
        $(#[$meta:meta])*
        $name:ident as $schema:literal {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $json:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct $name {
            /// The record's GUID.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub id: Option<String>,
            #[serde(rename = "rowNumber", skip_serializing_if = "Option::is_none")]
            pub row_number: Option<i64>,
            /// The record's note (wrapped like a field).
            #[serde(skip_serializing_if = "Option::is_none", with = "crate::acumatica::value::field")]
            pub note: Option<String>,
            /// Set by Acumatica on a record it refused (422).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub error: Option<String>,
            /// Detail rows only: `true` deletes the row with this `id`.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub delete: Option<bool>,
            $(
                $(#[$fmeta])*
                #[serde(rename = $json, skip_serializing_if = "Option::is_none",
                        with = "crate::acumatica::value::field")]
                pub $field: Option<$ty>,
            )*
        }

        impl Nested for $name {}

        impl SchemaType for $name {
            const SCHEMA: &'static str = $schema;
        }
    };
}

entity! {
    /// A postal address (linked from Contact and SalesOrder).
    Address as "Address" {
        address_line1: String = "AddressLine1",
        address_line2: String = "AddressLine2",
        city: String = "City",
        state: String = "State",
        postal_code: String = "PostalCode",
        /// ISO 3166-1 alpha-2.
        country: String = "Country",
    }
}

entity! {
    /// A contact (Customer.MainContact).
    Contact as "Contact" {
        email: String = "Email",
        phone1: String = "Phone1",
        first_name: String = "FirstName",
        last_name: String = "LastName",
        display_name: String = "DisplayName",
        company_name: String = "CompanyName",
        attention: String = "Attention",
        address: Address = "Address",
    }
}

entity! {
    /// A document contact (SalesOrder.ShipToContact and BillToContact).
    DocContact as "DocContact" {
        attention: String = "Attention",
        business_name: String = "BusinessName",
        email: String = "Email",
        phone1: String = "Phone1",
    }
}

entity! {
    /// A customer (AR303000). Key: CustomerID.
    Customer as "Customer" {
        customer_id: String = "CustomerID",
        customer_name: String = "CustomerName",
        customer_class: String = "CustomerClass",
        status: String = "Status",
        email: String = "Email",
        currency_id: String = "CurrencyID",
        tax_zone: String = "TaxZone",
        terms: String = "Terms",
        main_contact: Contact = "MainContact",
        last_modified: DateTime<FixedOffset> = "LastModifiedDateTime",
    }
}

entity! {
    /// A stock item (IN202500). Key: InventoryID.
    StockItem as "StockItem" {
        inventory_id: String = "InventoryID",
        description: String = "Description",
        item_class: String = "ItemClass",
        item_type: String = "ItemType",
        item_status: String = "ItemStatus",
        posting_class: String = "PostingClass",
        tax_category: String = "TaxCategory",
        default_warehouse_id: String = "DefaultWarehouseID",
        base_uom: String = "BaseUOM",
        sales_uom: String = "SalesUOM",
        purchase_uom: String = "PurchaseUOM",
        default_price: Decimal = "DefaultPrice",
        msrp: Decimal = "MSRP",
        weight: Decimal = "DimensionWeight",
        weight_uom: String = "WeightUOM",
        reason_code_subaccount: String = "ReasonCodeSubaccount",
        last_modified: DateTime<FixedOffset> = "LastModifiedDateTime",
    }
}

entity! {
    /// A line of a sales order. Without `id` it is a new line: re-sending lines duplicates them.
    SalesOrderDetail as "SalesOrderDetail" {
        line_nbr: i32 = "LineNbr",
        inventory_id: String = "InventoryID",
        line_description: String = "LineDescription",
        order_qty: Decimal = "OrderQty",
        uom: String = "UOM",
        warehouse_id: String = "WarehouseID",
        unit_price: Decimal = "UnitPrice",
        /// Without `true`, Acumatica reprices the line from the item's price.
        manual_price: bool = "ManualPrice",
        extended_price: Decimal = "ExtendedPrice",
        discount_amount: Decimal = "DiscountAmount",
        discount_percent: Decimal = "DiscountPercent",
        manual_discount: bool = "ManualDiscount",
        amount: Decimal = "Amount",
        tax_category: String = "TaxCategory",
        external_ref: String = "ExternalRef",
    }
}

entity! {
    /// Shipping settings of a sales order (freight price, ship via).
    ShippingSettings as "ShippingSettings" {
        ship_via: String = "ShipVia",
        shipping_terms: String = "ShippingTerms",
        shipping_zone: String = "ShippingZone",
        freight_price: Decimal = "FreightPrice",
        override_freight_price: bool = "OverrideFreightPrice",
    }
}

entity! {
    /// Totals of a sales order (computed by Acumatica).
    Totals as "Totals" {
        line_total: Decimal = "LineTotalAmount",
        discount_total: Decimal = "DiscountTotal",
        tax_total: Decimal = "TaxTotal",
        freight: Decimal = "Freight",
        override_freight_amount: bool = "OverrideFreightAmount",
        misc_total: Decimal = "MiscTotalAmount",
        unpaid_balance: Decimal = "UnpaidBalance",
    }
}

entity! {
    /// A sales order (SO301000). Keys: OrderType, OrderNbr.
    SalesOrder as "SalesOrder" {
        order_type: String = "OrderType",
        order_nbr: String = "OrderNbr",
        customer_id: String = "CustomerID",
        date: DateTime<FixedOffset> = "Date",
        description: String = "Description",
        /// The "Customer Order Nbr." box: where the store's order number goes.
        customer_order: String = "CustomerOrder",
        external_ref: String = "ExternalRef",
        status: String = "Status",
        hold: bool = "Hold",
        currency_id: String = "CurrencyID",
        order_total: Decimal = "OrderTotal",
        tax_total: Decimal = "TaxTotal",
        ordered_qty: Decimal = "OrderedQty",
        payment_method: String = "PaymentMethod",
        payment_ref: String = "PaymentRef",
        bill_to_address_override: bool = "BillToAddressOverride",
        bill_to_address: Address = "BillToAddress",
        bill_to_contact_override: bool = "BillToContactOverride",
        bill_to_contact: DocContact = "BillToContact",
        ship_to_address_override: bool = "ShipToAddressOverride",
        ship_to_address: Address = "ShipToAddress",
        ship_to_contact_override: bool = "ShipToContactOverride",
        ship_to_contact: DocContact = "ShipToContact",
        shipping_settings: ShippingSettings = "ShippingSettings",
        totals: Totals = "Totals",
        details: Vec<SalesOrderDetail> = "Details",
        /// Payments applied to the order; a new row (no ReferenceNbr) creates a payment.
        payments: Vec<SalesOrderPayment> = "Payments",
        /// The order's shipments (read with `$expand=Shipments`).
        shipments: Vec<SalesOrderShipment> = "Shipments",
        last_modified: DateTime<FixedOffset> = "LastModified",
    }
}

entity! {
    /// A shipment row of a Sales Order (its `Shipments` detail).
    SalesOrderShipment as "SalesOrderShipment" {
        shipment_nbr: String = "ShipmentNbr",
        shipment_type: String = "ShipmentType",
        status: String = "Status",
        shipped_qty: Decimal = "ShippedQty",
    }
}

entity! {
    /// A payment row of a Sales Order (its `Payments` detail).
    SalesOrderPayment as "SalesOrderPayment" {
        doc_type: String = "DocType",
        reference_nbr: String = "ReferenceNbr",
        status: String = "Status",
        payment_method: String = "PaymentMethod",
        cash_account: String = "CashAccount",
        payment_amount: Decimal = "PaymentAmount",
        applied_to_order: Decimal = "AppliedToOrder",
        payment_ref: String = "PaymentRef",
        external_ref: String = "ExternalRef",
        hold: bool = "Hold",
    }
}

entity! {
    /// A customer class (AR201000). Key: ClassID.
    CustomerClass as "CustomerClass" {
        class_id: String = "ClassID",
        description: String = "Description",
        tax_zone_id: String = "TaxZoneID",
        terms: String = "Terms",
    }
}

entity! {
    /// An item class (IN201000). Key: ClassID. Its PostingClass is how posting classes are
    /// learnt: PostingClass is not an entity of the Default or eCommerce endpoints.
    ItemClass as "ItemClass" {
        class_id: String = "ClassID",
        description: String = "Description",
        item_type: String = "ItemType",
        stock_item: bool = "StockItem",
        posting_class: String = "PostingClass",
        tax_category_id: String = "TaxCategoryID",
        default_warehouse_id: String = "DefaultWarehouseID",
        base_uom: String = "BaseUOM",
        sales_uom: String = "SalesUOM",
    }
}

entity! {
    /// A tax category (TX205500). Key: TaxCategoryID.
    TaxCategory as "TaxCategory" {
        tax_category_id: String = "TaxCategoryID",
        description: String = "Description",
        active: bool = "Active",
    }
}

entity! {
    /// A warehouse (IN204000). Key: WarehouseID.
    Warehouse as "Warehouse" {
        warehouse_id: String = "WarehouseID",
        description: String = "Description",
        active: bool = "Active",
        reason_code_subaccount: String = "ReasonCodeSubaccount",
    }
}

entity! {
    /// A subaccount (GL203000). Key: SubaccountCD.
    Subaccount as "Subaccount" {
        subaccount_cd: String = "SubaccountCD",
        subaccount_id: i32 = "SubaccountID",
        description: String = "Description",
        active: bool = "Active",
    }
}

entity! {
    /// A payment method (CA204000). Key: PaymentMethodID. Cash accounts are no entity of the
    /// Default or eCommerce endpoints: they are learnt from the methods' allowed accounts.
    PaymentMethod as "PaymentMethod" {
        payment_method_id: String = "PaymentMethodID",
        description: String = "Description",
        active: bool = "Active",
        use_in_ar: bool = "UseInAR",
        allowed_cash_accounts: Vec<PaymentMethodCashAccount> = "AllowedCashAccounts",
    }
}

entity! {
    /// A cash account a payment method allows.
    PaymentMethodCashAccount as "PaymentMethodAllowedCashAccountDetail" {
        cash_account: String = "CashAccount",
        description: String = "Description",
        use_in_ar: bool = "UseInAR",
    }
}

entity! {
    /// A shipment (SO302000). Key: ShipmentNbr. Listed by `LastModifiedDateTime` for the
    /// write-back of shipments to the store, with `Orders`, `Details` and `Packages`.
    Shipment as "Shipment" {
        shipment_nbr: String = "ShipmentNbr",
        shipment_type: String = "Type",
        status: String = "Status",
        shipment_date: DateTime<FixedOffset> = "ShipmentDate",
        shipped_qty: Decimal = "ShippedQty",
        last_modified: DateTime<FixedOffset> = "LastModifiedDateTime",
        orders: Vec<ShipmentOrderDetail> = "Orders",
        details: Vec<ShipmentDetail> = "Details",
        packages: Vec<ShipmentPackage> = "Packages",
    }
}

entity! {
    /// A Sales Order a shipment ships (Shipment.Orders).
    ShipmentOrderDetail as "ShipmentOrderDetail" {
        order_type: String = "OrderType",
        order_nbr: String = "OrderNbr",
        shipped_qty: Decimal = "ShippedQty",
    }
}

entity! {
    /// A shipped line (Shipment.Details).
    ShipmentDetail as "ShipmentDetail" {
        order_type: String = "OrderType",
        order_nbr: String = "OrderNbr",
        inventory_id: String = "InventoryID",
        shipped_qty: Decimal = "ShippedQty",
    }
}

entity! {
    /// A package of a shipment, with its carrier tracking number (Shipment.Packages).
    ShipmentPackage as "ShipmentPackage" {
        tracking_nbr: String = "TrackingNbr",
        confirmed: bool = "Confirmed",
    }
}

entity! {
    /// A payment or prepayment (AR302000). Keys: Type, ReferenceNbr (auto-numbered).
    Payment as "Payment" {
        payment_type: String = "Type",
        reference_nbr: String = "ReferenceNbr",
        status: String = "Status",
        hold: bool = "Hold",
        customer_id: String = "CustomerID",
        payment_method: String = "PaymentMethod",
        cash_account: String = "CashAccount",
        payment_amount: Decimal = "PaymentAmount",
        payment_ref: String = "PaymentRef",
        description: String = "Description",
        currency_id: String = "CurrencyID",
        /// The Sales Orders the payment applies to.
        orders_to_apply: Vec<PaymentOrderDetail> = "OrdersToApply",
    }
}

entity! {
    /// A Sales Order a payment applies to (a row of `Payment.OrdersToApply`).
    PaymentOrderDetail as "PaymentOrderDetail" {
        order_type: String = "OrderType",
        order_nbr: String = "OrderNbr",
        applied_to_order: Decimal = "AppliedToOrder",
    }
}

entity! {
    /// An AR document (AR301000): an invoice or, with Type "Credit Memo", the credit the
    /// bridge creates for a store refund. Keys: Type, ReferenceNbr (auto-numbered).
    Invoice as "Invoice" {
        invoice_type: String = "Type",
        reference_nbr: String = "ReferenceNbr",
        status: String = "Status",
        hold: bool = "Hold",
        customer: String = "Customer",
        /// Where the bridge puts the refund's reference (`<CustomerOrder>-R<n>`), to find it again.
        customer_order: String = "CustomerOrder",
        description: String = "Description",
        date: DateTime<FixedOffset> = "Date",
        amount: Decimal = "Amount",
        details: Vec<InvoiceDetail> = "Details",
    }
}

entity! {
    /// A line of an AR document (Invoice.Details).
    InvoiceDetail as "InvoiceDetail" {
        transaction_description: String = "TransactionDescription",
        qty: Decimal = "Qty",
        unit_price: Decimal = "UnitPrice",
        amount: Decimal = "Amount",
    }
}

macro_rules! top_level {
    ($($name:ident: [$($key:literal),+];)*) => {$(
        impl Entity for $name {
            const NAME: &'static str = stringify!($name);
            const KEYS: &'static [&'static str] = &[$($key),+];
        }
    )*};
}

top_level! {
    Customer: ["CustomerID"];
    StockItem: ["InventoryID"];
    SalesOrder: ["OrderType", "OrderNbr"];
    CustomerClass: ["ClassID"];
    ItemClass: ["ClassID"];
    TaxCategory: ["TaxCategoryID"];
    Warehouse: ["WarehouseID"];
    Subaccount: ["SubaccountCD"];
    PaymentMethod: ["PaymentMethodID"];
    Shipment: ["ShipmentNbr"];
    Payment: ["Type", "ReferenceNbr"];
    Invoice: ["Type", "ReferenceNbr"];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sales_order_travels_the_acumatica_way() {
        let order = SalesOrder {
            order_type: Some("SO".into()),
            customer_id: Some("C000001".into()),
            hold: Some(false),
            ship_to_address: Some(Address {
                city: Some("Kirkland".into()),
                ..Address::default()
            }),
            details: Some(vec![SalesOrderDetail {
                inventory_id: Some("AACOMPUT01".into()),
                order_qty: Some(Decimal::new(2, 0)),
                unit_price: Some("500.00".parse().unwrap()),
                manual_price: Some(true),
                ..SalesOrderDetail::default()
            }]),
            ..SalesOrder::default()
        };
        let json = serde_json::to_value(&order).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "OrderType": {"value": "SO"}, "CustomerID": {"value": "C000001"},
                "Hold": {"value": false}, "ShipToAddress": {"City": {"value": "Kirkland"}},
                "Details": [{"InventoryID": {"value": "AACOMPUT01"}, "OrderQty": {"value": 2},
                             "UnitPrice": {"value": 500.00}, "ManualPrice": {"value": true}}]
            })
        );
        let text = r#"{"id":"6c","rowNumber":1,"note":{"value":""},"OrderNbr":{"value":"000001"},
            "OrderTotal":{"value":1000.0000},"Details":[{"id":"d1","rowNumber":1,"note":null,
            "Amount":{"value":1000.0000}}],"Totals":{"Freight":{}},"Unknown":{"value":1}}"#;
        let back: SalesOrder = serde_json::from_str(text).unwrap();
        assert_eq!(back.order_nbr.as_deref(), Some("000001"));
        assert_eq!(back.order_total.unwrap().to_string(), "1000.0000");
        let details = back.details.unwrap();
        assert_eq!(details[0].amount.unwrap().to_string(), "1000.0000");
        assert_eq!(back.totals.unwrap().freight, None);
    }
}
