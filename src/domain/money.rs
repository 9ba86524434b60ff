//! Money: decimal amounts, never floating point. Amounts are stored with the scale they were
//! given in, and written out at their currency's scale ([`at_currency_scale`]).

use rust_decimal::Decimal;

use super::FieldError;
use super::codes::currency_decimals;

/// Most decimal places an amount may carry (Acumatica stores four for prices).
pub const MAX_SCALE: u32 = 4;

/// One cent: the tolerance for totals that should add up.
pub fn cent() -> Decimal {
    Decimal::new(1, 2)
}

/// Checks that `amount` is zero or more with at most [`MAX_SCALE`] decimal places.
pub fn check_amount(field: &str, amount: Decimal) -> Result<Decimal, FieldError> {
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(FieldError::new(
            field,
            format!("must be zero or more, got {amount}"),
        ));
    }
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
    fn scale_is_kept() {
        assert_eq!(check_amount("x", d("12.50")).unwrap().to_string(), "12.50");
    }
}
