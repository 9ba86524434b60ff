//! Money: decimal amounts, never floating point. Amounts are stored with the scale they were
//! given in, and written out at their currency's scale ([`at_currency_scale`]). Every amount is
//! bounded ([`MAX_AMOUNT`], [`MAX_SCALE`]) and quantities too ([`MAX_QUANTITY`]), so that sums
//! and products of validated values cannot overflow; they are still computed with checked
//! arithmetic ([`line_amount`], [`sum`]).

use rust_decimal::Decimal;

use super::FieldError;
use super::codes::currency_decimals;

/// Most decimal places an amount may carry (Acumatica stores four for prices).
pub const MAX_SCALE: u32 = 4;

/// Largest amount accepted: one trillion (10^12), for a price, a line (price × quantity), a
/// charge, a discount, the lines' sum and the total.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// Largest quantity of one order line.
pub const MAX_QUANTITY: i32 = 1_000_000_000;

/// [`MAX_AMOUNT`] as a decimal.
pub fn max_amount() -> Decimal {
    Decimal::from(MAX_AMOUNT)
}

/// One cent: the tolerance for totals that should add up.
pub fn cent() -> Decimal {
    Decimal::new(1, 2)
}

/// Checks that `amount` is zero or more, at most [`MAX_AMOUNT`], with at most [`MAX_SCALE`]
/// decimal places.
pub fn check_amount(field: &str, amount: Decimal) -> Result<Decimal, FieldError> {
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(FieldError::new(
            field,
            format!("must be zero or more, got {amount}"),
        ));
    }
    check_bound(field, amount)?;
    if amount.normalize().scale() > MAX_SCALE {
        return Err(FieldError::new(
            field,
            format!("has more than {MAX_SCALE} decimal places: {amount}"),
        ));
    }
    Ok(amount)
}

/// `amount` written at the scale of `currency`'s minor unit: "35.0" USD is "35.00", "1000.00"
/// JPY is "1000". Digits beyond that scale that are not zeros are kept, never rounded away (a
/// price of "12.3456" USD stays "12.3456"), so the value is always the one recorded. A currency
/// without a minor unit (or an unknown code) keeps the amount as stored.
pub fn at_currency_scale(amount: Decimal, currency: &str) -> Decimal {
    let Some(decimals) = currency_decimals(currency) else {
        return amount;
    };
    let mut out = amount.normalize();
    if out.scale() < decimals {
        out.rescale(decimals);
    }
    out
}

/// Checks that `amount` is at most [`MAX_AMOUNT`].
pub fn check_bound(field: &str, amount: Decimal) -> Result<Decimal, FieldError> {
    if amount > max_amount() {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_AMOUNT}, got {amount}"),
        ));
    }
    Ok(amount)
}

/// Checks that `quantity` is more than 0 and at most [`MAX_QUANTITY`].
pub fn check_quantity(field: &str, quantity: i32) -> Result<i32, FieldError> {
    if quantity <= 0 {
        return Err(FieldError::new(
            field,
            format!("must be more than 0, got {quantity}"),
        ));
    }
    if quantity > MAX_QUANTITY {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_QUANTITY}, got {quantity}"),
        ));
    }
    Ok(quantity)
}

/// `price × quantity`, or `None` when it overflows.
pub fn line_amount(price: Decimal, quantity: i32) -> Option<Decimal> {
    price.checked_mul(Decimal::from(quantity))
}

/// The sum of `amounts`, or `None` when it overflows.
pub fn sum(amounts: impl IntoIterator<Item = Decimal>) -> Option<Decimal> {
    amounts
        .into_iter()
        .try_fold(Decimal::ZERO, |acc, a| acc.checked_add(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn amounts() {
        assert!(check_amount("x", d("0")).is_ok());
        assert!(check_amount("x", d("12.3456")).is_ok());
        assert!(check_amount("x", d("12.345600")).is_ok());
        assert!(check_amount("x", d("12.34567")).is_err());
        let err = check_amount("input.total", d("-1")).unwrap_err();
        assert_eq!(err.field, "input.total");
    }

    #[test]
    fn written_at_the_currency_scale() {
        let at = |a: &str, c: &str| at_currency_scale(d(a), c).to_string();
        assert_eq!(at("35.0", "USD"), "35.00");
        assert_eq!(at("35", "EUR"), "35.00");
        assert_eq!(at("0", "USD"), "0.00");
        assert_eq!(at("12.5000", "USD"), "12.50");
        assert_eq!(at("12.3456", "USD"), "12.3456");
        assert_eq!(at("1000.00", "JPY"), "1000");
        assert_eq!(at("1000.5", "JPY"), "1000.5");
        assert_eq!(at("1.5", "KWD"), "1.500");
        assert_eq!(at("1.50", "XAU"), "1.50");
    }

    #[test]
    fn bounds() {
        assert!(check_amount("x", d("1000000000000")).is_ok());
        let err = check_amount("x", d("1000000000000.0001")).unwrap_err();
        assert!(err.message.contains("at most 1000000000000"), "{err}");
        assert!(check_amount("x", Decimal::MAX).is_err());
        assert!(check_quantity("q", MAX_QUANTITY).is_ok());
        assert!(check_quantity("q", MAX_QUANTITY + 1).is_err());
        assert!(check_quantity("q", 0).is_err());
        assert_eq!(line_amount(Decimal::MAX, 2), None);
        assert_eq!(line_amount(d("2.5"), 2), Some(d("5.0")));
        assert_eq!(sum([Decimal::MAX, Decimal::ONE]), None);
        assert_eq!(sum([d("1.5"), d("2")]), Some(d("3.5")));
    }

    #[test]
    fn scale_is_kept() {
        assert_eq!(check_amount("x", d("12.50")).unwrap().to_string(), "12.50");
    }
}
