//! Error messages read as plain sentences: a capital letter first, a full stop last (Acumatica's
//! own text, quoted after a colon, stays as it came).

use serde_json::json;

use crate::common::order_input;
use crate::sync::{connected, record, settled};

#[tokio::test]
async fn a_sync_failure_for_missing_skus_is_a_sentence() {
    let (s, _sim) = connected().await;
    let mut one = order_input("S1", "PAID");
    one["items"] =
        json!([{"sku": "GIFT-CARD-50", "name": "Gift card", "price": "520.50", "quantity": 1}]);
    record(&s, one).await;
    let mut two = order_input("S2", "PAID");
    two["items"] = json!([
        {"sku": "NEW-1", "name": "New one", "price": "20.50", "quantity": 1},
        {"sku": "NEW-2", "name": "New two", "price": "500.00", "quantity": 1}
    ]);
    record(&s, two).await;

    let o = settled(&s, "S1").await;
    assert_eq!(
        o["sync"]["lastError"],
        "SKU GIFT-CARD-50 is not a stock item in Acumatica and 'create new products' is off: \
         create it in Acumatica or turn the setting on, then retry."
    );
    let o = settled(&s, "S2").await;
    assert_eq!(
        o["sync"]["lastError"],
        "SKUs NEW-1, NEW-2 are not stock items in Acumatica and 'create new products' is off: \
         create them in Acumatica or turn the setting on, then retry."
    );
}
