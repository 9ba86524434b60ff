//! What a sync sends, decided from the order and the settings alone (no I/O): which customer
//! identifiers to try and in what order, and how the order discount is spread over the lines.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::domain::order::NewOrder;
use crate::domain::settings::CustomerIdSource;

/// One way to recognise the store's customer in Acumatica.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CustomerKey {
    /// Matched on the customer's main contact email.
    Email(String),
    /// Matched on the customer's main contact phone.
    Phone(String),
    /// Matched as the CustomerID key itself (X-Cart profile ids are numbers).
    ProfileId(String),
}

impl CustomerKey {
    /// A stable text form, used as the key of the customer map.
    pub fn map_key(&self) -> String {
        match self {
            CustomerKey::Email(e) => format!("email:{}", e.to_lowercase()),
            CustomerKey::Phone(p) => format!("phone:{}", normalise_phone(p)),
            CustomerKey::ProfileId(id) => format!("profile:{id}"),
        }
    }
}

/// Digits only, with a leading `+` kept, so that "+1 (555) 010-0" and "+15550100" match.
pub fn normalise_phone(phone: &str) -> String {
    let plus = phone.trim_start().starts_with('+');
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if plus { format!("+{digits}") } else { digits }
}

/// The identifiers to try, in order, following X-Cart's fallbacks: EMAIL: email, then profile
/// ID; PHONE: phone, then email, then profile ID; PROFILE_ID: profile ID only. Empty means the
/// order cannot be matched (PROFILE_ID without a profile ID).
pub fn customer_keys(order: &NewOrder, source: CustomerIdSource) -> Vec<CustomerKey> {
    let email = Some(CustomerKey::Email(order.email.clone()));
    let phone = order
        .phone
        .clone()
        .or_else(|| order.billing_address.phone.clone())
        .filter(|p| !normalise_phone(p).trim_start_matches('+').is_empty())
        .map(CustomerKey::Phone);
    let profile = order.profile_id.clone().map(CustomerKey::ProfileId);
    let keys = match source {
        CustomerIdSource::Email => vec![email, profile],
        CustomerIdSource::Phone => vec![phone, email, profile],
        CustomerIdSource::ProfileId => vec![profile],
    };
    keys.into_iter().flatten().collect()
}

/// Length of a derived CustomerID: the default length of Acumatica's CUSTOMER segmented key.
pub const CUSTOMER_ID_LENGTH: usize = 10;

/// The CustomerID a new customer gets on a tenant that numbers customers manually: up to
/// four letters and digits of the identifier, upper-case, then hex digits of the SHA-256 of
/// the identifier's map key, ten characters in all (`ann.buyer@example.com` → `ANNB` + six
/// hex digits). The same identifier always gives the same ID, so a repeated create is refused
/// by key rather than made twice.
pub fn derived_customer_id(key: &CustomerKey) -> String {
    use sha2::{Digest, Sha256};
    let text = match key {
        CustomerKey::Email(e) => e.split('@').next().unwrap_or(e).to_owned(),
        CustomerKey::Phone(p) => normalise_phone(p),
        CustomerKey::ProfileId(id) => id.clone(),
    };
    let mut id: String = text
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .take(4)
        .collect();
    let hash = hex::encode_upper(Sha256::digest(key.map_key().as_bytes()));
    id.push_str(&hash[..CUSTOMER_ID_LENGTH - id.len()]);
    id
}

/// Decimal places of a currency's minor unit (ISO 4217); 2 unless listed.
pub fn minor_units(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

/// Splits `discount` over lines in proportion to their amounts, each share rounded down to
/// the currency's minor unit and the leftover units given to the largest remainders (ties to
/// the earlier line), so that the shares add up exactly to the discount.
pub fn split_discount(discount: Decimal, line_amounts: &[Decimal], scale: u32) -> Vec<Decimal> {
    let total: Decimal = line_amounts.iter().sum();
    let discount = discount.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
    if discount.is_zero() || total.is_zero() || line_amounts.is_empty() {
        return vec![Decimal::ZERO; line_amounts.len()];
    }
    let discount = discount.min(total);
    let exact: Vec<Decimal> = line_amounts.iter().map(|a| discount * a / total).collect();
    let mut shares: Vec<Decimal> = exact
        .iter()
        .map(|e| e.round_dp_with_strategy(scale, RoundingStrategy::ToZero))
        .collect();
    let unit = Decimal::new(1, scale);
    let mut left = ((discount - shares.iter().sum::<Decimal>()) / unit)
        .round()
        .try_into()
        .unwrap_or(0i64);
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| {
        (exact[b] - shares[b])
            .cmp(&(exact[a] - shares[a]))
            .then(a.cmp(&b))
    });
    for i in order.into_iter().cycle() {
        if left <= 0 {
            break;
        }
        if shares[i] + unit <= line_amounts[i] {
            shares[i] += unit;
            left -= 1;
        }
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn discount_adds_up_to_the_cent() {
        let lines = [d("10.00"), d("10.00"), d("10.00")];
        let shares = split_discount(d("1.00"), &lines, 2);
        assert_eq!(shares, vec![d("0.34"), d("0.33"), d("0.33")]);
        assert_eq!(shares.iter().sum::<Decimal>(), d("1.00"));

        let lines = [d("20.50"), d("500.00"), d("0.99")];
        let shares = split_discount(d("7.77"), &lines, 2);
        assert_eq!(shares.iter().sum::<Decimal>(), d("7.77"));
        assert!(shares.iter().zip(&lines).all(|(s, l)| s <= l));
    }

    #[test]
    fn proportional_and_largest_remainder() {
        // 2.00 over 1:2 → 0.666.. and 1.333..: floors 0.66 and 1.33, the leftover cent goes to
        // the larger remainder (0.006 vs 0.003).
        let shares = split_discount(d("2.00"), &[d("1.00"), d("2.00")], 2);
        assert_eq!(shares, vec![d("0.67"), d("1.33")]);
    }

    #[test]
    fn no_discount_or_no_amount() {
        assert_eq!(split_discount(d("0"), &[d("5")], 2), vec![d("0")]);
        assert_eq!(split_discount(d("5"), &[d("0")], 2), vec![d("0")]);
        assert_eq!(
            split_discount(d("500"), &[d("1"), d("2")], 0),
            vec![d("1"), d("2")]
        );
    }

    #[test]
    fn zero_decimal_currencies() {
        let shares = split_discount(
            d("100"),
            &[d("333"), d("333"), d("334")],
            minor_units("JPY"),
        );
        assert_eq!(shares.iter().sum::<Decimal>(), d("100"));
        assert!(shares.iter().all(|s| s.scale() == 0 || s.fract().is_zero()));
    }

    #[test]
    fn derived_customer_ids_are_stable_distinct_and_short() {
        let a = derived_customer_id(&CustomerKey::Email("Ann.Buyer@example.com".into()));
        assert_eq!(a.len(), CUSTOMER_ID_LENGTH);
        assert!(a.starts_with("ANNB"), "{a}");
        assert_eq!(
            a,
            derived_customer_id(&CustomerKey::Email("ann.buyer@EXAMPLE.com".into())),
            "the same identifier, the same ID"
        );
        let b = derived_customer_id(&CustomerKey::Email("ann.buyer@example.org".into()));
        assert_ne!(a, b);
        let p = derived_customer_id(&CustomerKey::Phone("+1 (555) 010-0".into()));
        assert_eq!(p.len(), CUSTOMER_ID_LENGTH);
        assert!(p.starts_with("1555"), "{p}");
        let odd = derived_customer_id(&CustomerKey::Email("+++@example.com".into()));
        assert_eq!(odd.len(), CUSTOMER_ID_LENGTH);
        assert!(odd.chars().all(|c| c.is_ascii_alphanumeric()), "{odd}");
    }

    #[test]
    fn phone_normalisation() {
        assert_eq!(normalise_phone("+1 (555) 010-0"), "+15550100");
        assert_eq!(normalise_phone("555 0100"), "5550100");
    }
}
