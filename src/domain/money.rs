//! Money: decimal amounts, never floating point. Amounts keep the scale they were given in.

use rust_decimal::Decimal;

use super::FieldError;

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
    fn scale_is_kept() {
        assert_eq!(check_amount("x", d("12.50")).unwrap().to_string(), "12.50");
    }
}
