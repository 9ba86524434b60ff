//! Believable reference data for a fresh simulator: customer and item classes (each item
//! class with its posting class), the tax categories TAXABLE and EXEMPT, warehouses,
//! subaccounts, some stock items and customers, payment methods with their cash accounts.
//! `--empty` starts without any of it.

use serde_json::{Value, json};

use super::state::State;

pub fn seed(state: &mut State) {
    let mut put = |entity: &str, records: Vec<Value>| {
        for mut r in records {
            let id = state.new_id();
            r.as_object_mut()
                .expect("seed records are objects")
                .insert("id".into(), Value::String(id));
            state.records.entry(entity.to_string()).or_default().push(r);
        }
    };
    put(
        "CustomerClass",
        vec![
            json!({"ClassID": "DEFAULT", "Description": "Default customer class", "Terms": "30D"}),
            json!({"ClassID": "ECOMMERCE", "Description": "Online store customers", "Terms": "COD"}),
            json!({"ClassID": "RETAIL", "Description": "Retail customers", "Terms": "COD"}),
            json!({"ClassID": "WHOLESALE", "Description": "Wholesale customers", "Terms": "30D"}),
        ],
    );
    put(
        "TaxCategory",
        vec![
            json!({"TaxCategoryID": "TAXABLE", "Description": "Taxable goods and services", "Active": true}),
            json!({"TaxCategoryID": "EXEMPT", "Description": "Tax-exempt goods", "Active": true}),
        ],
    );
    put(
        "Warehouse",
        vec![
            json!({"WarehouseID": "WHOLESALE", "Description": "Wholesale warehouse", "Active": true, "ReasonCodeSubaccount": "000-000"}),
            json!({"WarehouseID": "RETAIL", "Description": "Retail warehouse", "Active": true, "ReasonCodeSubaccount": "000-000"}),
            json!({"WarehouseID": "ECOMMERCE", "Description": "Online store fulfilment", "Active": true, "ReasonCodeSubaccount": "300-000"}),
        ],
    );
    put(
        "Subaccount",
        vec![
            json!({"SubaccountCD": "000-000", "SubaccountID": 467, "Description": "Default", "Active": true}),
            json!({"SubaccountCD": "100-000", "SubaccountID": 468, "Description": "Wholesale sales", "Active": true}),
            json!({"SubaccountCD": "200-000", "SubaccountID": 469, "Description": "Retail sales", "Active": true}),
            json!({"SubaccountCD": "300-000", "SubaccountID": 470, "Description": "Online store sales", "Active": true}),
        ],
    );
    let class = |id: &str, desc: &str, posting: &str, tax: &str| {
        json!({"ClassID": id, "Description": desc, "ItemType": "Finished Good", "StockItem": true,
               "PostingClass": posting, "TaxCategoryID": tax, "DefaultWarehouseID": "WHOLESALE",
               "BaseUOM": "EA", "SalesUOM": "EA", "LotSerialClass": "NOTTRACKED", "ValuationMethod": "Average"})
    };
    put(
        "ItemClass",
        vec![
            class("STOCKITEM", "Stock items", "STOCKITEM", "TAXABLE"),
            class("APPAREL", "Clothing and accessories", "APPAREL", "TAXABLE"),
            class(
                "ELECTRONIC",
                "Computers and electronics",
                "ELECTRONIC",
                "TAXABLE",
            ),
            class("FOOD", "Food, tax exempt", "FOOD", "EXEMPT"),
        ],
    );
    let item = |id: &str, desc: &str, class: &str, posting: &str, tax: &str, price: &str| {
        json!({"InventoryID": id, "Description": desc, "ItemClass": class, "ItemType": "Finished Good",
               "ItemStatus": "Active", "PostingClass": posting, "TaxCategory": tax,
               "DefaultWarehouseID": "WHOLESALE", "BaseUOM": "EA", "SalesUOM": "EA", "PurchaseUOM": "EA",
               "DefaultPrice": price, "ReasonCodeSubaccount": "000-000",
               "LastModifiedDateTime": "2024-05-02T09:14:05.21+00:00"})
    };
    put(
        "StockItem",
        vec![
            item(
                "AACOMPUT01",
                "Acer laptop computer",
                "ELECTRONIC",
                "ELECTRONIC",
                "TAXABLE",
                "500.0000",
            ),
            item(
                "AALEGO500",
                "Lego 500 piece set",
                "STOCKITEM",
                "STOCKITEM",
                "TAXABLE",
                "30.0000",
            ),
            item(
                "APJAM08",
                "Apple jam, 8 oz jar",
                "FOOD",
                "FOOD",
                "EXEMPT",
                "4.2500",
            ),
            item(
                "CONTABLE1",
                "Conference table",
                "STOCKITEM",
                "STOCKITEM",
                "TAXABLE",
                "1250.0000",
            ),
            item(
                "TSHIRT-M",
                "Cotton T-shirt, medium",
                "APPAREL",
                "APPAREL",
                "TAXABLE",
                "19.9900",
            ),
        ],
    );
    let customer = |id: &str,
                    name: &str,
                    class: &str,
                    email: &str,
                    city: &str,
                    state: &str,
                    zip: &str| {
        json!({"CustomerID": id, "CustomerName": name, "CustomerClass": class, "Status": "Active",
               "CurrencyID": "USD", "Terms": "30D", "Email": email,
               "MainContact": {"Email": email, "CompanyName": name, "Phone1": "+1 (425) 555-0100",
                               "Address": {"AddressLine1": "1 Main St", "City": city, "State": state,
                                           "PostalCode": zip, "Country": "US"}},
               "LastModifiedDateTime": "2024-04-18T16:02:44.5+00:00"})
    };
    put(
        "Customer",
        vec![
            customer(
                "ABARTENDE",
                "USA Bartending School",
                "WHOLESALE",
                "info@bartending.example",
                "Kirkland",
                "WA",
                "98033",
            ),
            customer(
                "ABCSTUDIOS",
                "ABC Studios Inc",
                "RETAIL",
                "office@abcstudios.example",
                "Seattle",
                "WA",
                "98101",
            ),
            customer(
                "WEBJANEDOE",
                "Jane Doe",
                "ECOMMERCE",
                "jane.doe@example.com",
                "Portland",
                "OR",
                "97205",
            ),
        ],
    );
    put("PaymentMethod", super::lifecycle::seed_payment_methods());
}
