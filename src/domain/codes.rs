//! ISO code lists: ISO 4217 currencies (with their minor units) and ISO 3166-1 alpha-2
//! countries, as sorted tables.

/// ISO 4217 active currency codes.
const CURRENCIES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP",
    "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP",
    "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS",
    "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW",
    "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD",
    "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN",
    "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR",
    "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL",
    "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY",
    "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES",
    "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XCD", "XCG", "XOF", "XPD", "XPF", "XPT", "YER",
    "ZAR", "ZMW", "ZWG", "ZWL",
];

/// ISO 4217 currencies whose minor unit is not two decimal places, with their decimal places;
/// `None` for those without a minor unit (the precious metals).
const MINOR_UNITS: &[(&str, Option<u32>)] = &[
    ("BHD", Some(3)),
    ("BIF", Some(0)),
    ("CLF", Some(4)),
    ("CLP", Some(0)),
    ("DJF", Some(0)),
    ("GNF", Some(0)),
    ("IQD", Some(3)),
    ("ISK", Some(0)),
    ("JOD", Some(3)),
    ("JPY", Some(0)),
    ("KMF", Some(0)),
    ("KRW", Some(0)),
    ("KWD", Some(3)),
    ("LYD", Some(3)),
    ("OMR", Some(3)),
    ("PYG", Some(0)),
    ("RWF", Some(0)),
    ("TND", Some(3)),
    ("UGX", Some(0)),
    ("UYI", Some(0)),
    ("UYW", Some(4)),
    ("VND", Some(0)),
    ("VUV", Some(0)),
    ("XAF", Some(0)),
    ("XAG", None),
    ("XAU", None),
    ("XOF", Some(0)),
    ("XPD", None),
    ("XPF", Some(0)),
    ("XPT", None),
];

/// ISO 3166-1 alpha-2 officially assigned country codes.
const COUNTRIES: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// Is `code` an ISO 4217 currency code (upper case, as stored)?
pub fn is_currency(code: &str) -> bool {
    CURRENCIES.binary_search(&code).is_ok()
}

/// The decimal places of the minor unit of the ISO 4217 currency `code` (2 for USD, 0 for JPY,
/// 3 for KWD); `None` for a currency without one (gold, silver) or an unknown code.
pub fn currency_decimals(code: &str) -> Option<u32> {
    if !is_currency(code) {
        return None;
    }
    match MINOR_UNITS.binary_search_by(|(c, _)| c.cmp(&code)) {
        Ok(i) => MINOR_UNITS[i].1,
        Err(_) => Some(2),
    }
}

/// Is `code` an ISO 3166-1 alpha-2 country code (upper case, as stored)?
pub fn is_country(code: &str) -> bool {
    COUNTRIES.binary_search(&code).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_so_binary_search_works() {
        assert!(CURRENCIES.windows(2).all(|w| w[0] < w[1]));
        assert!(MINOR_UNITS.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(MINOR_UNITS.iter().all(|(c, _)| is_currency(c)));
        assert!(COUNTRIES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(COUNTRIES.len(), 249);
    }

    #[test]
    fn lookups() {
        assert!(is_currency("USD") && is_currency("EUR") && !is_currency("XYZ"));
        assert!(is_country("US") && is_country("DE") && !is_country("UK"));
    }

    #[test]
    fn minor_units() {
        assert_eq!(currency_decimals("USD"), Some(2));
        assert_eq!(currency_decimals("EUR"), Some(2));
        assert_eq!(currency_decimals("JPY"), Some(0));
        assert_eq!(currency_decimals("KWD"), Some(3));
        assert_eq!(currency_decimals("CLF"), Some(4));
        assert_eq!(currency_decimals("XAU"), None);
        assert_eq!(currency_decimals("XYZ"), None);
    }
}
