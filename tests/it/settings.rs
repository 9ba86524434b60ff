//! Sync settings: defaults, partial updates, clearing, all-or-nothing validation.

use serde_json::json;

use crate::common::Service;

pub const SETTINGS: &str = "{ settings { orderSyncMode createNewProducts customerIdSource stockItemIdSource salesOrderType orderNumberPrefix customerClass itemClass postingClass reasonCodeSubaccount taxCategoryId warehouseId } }";
pub const SAVE: &str = "mutation($input: SyncSettingsInput!) { saveSettings(input: $input) { orderSyncMode createNewProducts salesOrderType orderNumberPrefix warehouseId customerClass } }";

#[tokio::test]
async fn defaults() {
    let s = Service::start().await;
    let d = s.data(SETTINGS, json!({})).await;
    assert_eq!(
        d["settings"],
        json!({"orderSyncMode": "AUTOMATIC_AFTER_PAYMENT", "createNewProducts": false,
               "customerIdSource": "EMAIL", "stockItemIdSource": "SKU", "salesOrderType": "SO",
               "orderNumberPrefix": null, "customerClass": null, "itemClass": null, "postingClass": null,
               "reasonCodeSubaccount": null, "taxCategoryId": null, "warehouseId": null})
    );
}

#[tokio::test]
async fn partial_updates_clear_and_refuse_as_a_whole() {
    let s = Service::start().await;
    let saved = s
        .data(SAVE, json!({"input": {"createNewProducts": true, "orderNumberPrefix": "XC-", "warehouseId": "MAIN", "customerClass": "RETAIL"}}))
        .await;
    assert_eq!(saved["saveSettings"]["createNewProducts"], true);
    let saved = s
        .data(
            SAVE,
            json!({"input": {"warehouseId": null, "orderSyncMode": "MANUAL_ONLY"}}),
        )
        .await;
    assert_eq!(saved["saveSettings"]["warehouseId"], json!(null));
    assert_eq!(
        saved["saveSettings"]["orderNumberPrefix"], "XC-",
        "left out keeps its value"
    );
    assert_eq!(saved["saveSettings"]["customerClass"], "RETAIL");

    // One bad value: nothing changes, the field is named.
    let body = s
        .gql(
            SAVE,
            json!({"input": {"createNewProducts": false, "salesOrderType": "TOO-LONG"}}),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_INPUT");
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        "input.salesOrderType"
    );
    let body = s
        .gql(
            SAVE,
            json!({"input": {"createNewProducts": false, "orderSyncMode": null}}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        "input.orderSyncMode"
    );
    let now = s.data(SETTINGS, json!({})).await;
    assert_eq!(
        now["settings"]["createNewProducts"], true,
        "the refused saves changed nothing"
    );
    assert_eq!(now["settings"]["orderSyncMode"], "MANUAL_ONLY");
}
