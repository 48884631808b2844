//! Money: an integer count of minor units plus an ISO 4217 currency code.
//!
//! The exponent says how many minor units make a major one (USD 2, JPY 0, KWD 3); providers
//! that take decimal strings convert with it. Validation here is the family-independent part:
//! a known code and a positive amount.

use crate::error::{Error, Result};

/// ISO 4217 codes whose minor unit is not 2 digits, with their exponent.
const EXPONENTS: &[(&str, u32)] = &[
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
    ("CLF", 4),
    ("UYW", 4),
];

/// Every active ISO 4217 currency code with a 2-digit minor unit.
const TWO_DIGIT: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV \
BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB \
EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD \
KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO \
NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP \
STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR \
ZMW ZWG";

/// The number of decimal digits of `currency`'s minor unit, or `None` for an unknown code.
/// The code must be upper case, as ISO 4217 writes it.
pub fn exponent(currency: &str) -> Option<u32> {
    if let Some((_, e)) = EXPONENTS.iter().find(|(c, _)| *c == currency) {
        return Some(*e);
    }
    (currency.len() == 3 && TWO_DIGIT.split_whitespace().any(|c| c == currency)).then_some(2)
}

/// Checks a money value of the request field `field`: a known currency and a positive amount.
pub fn validate(field: &str, amount_minor: i64, currency: &str) -> Result<()> {
    if exponent(currency).is_none() {
        return Err(Error::invalid(
            &format!("{field}.currency"),
            "currency must be an upper-case ISO 4217 code such as USD",
        ));
    }
    if amount_minor <= 0 {
        return Err(Error::invalid(
            &format!("{field}.amount_minor"),
            "amount must be above zero",
        ));
    }
    Ok(())
}

/// `amount_minor` as a decimal string in major units (`1050` USD is `"10.50"`, JPY `"1050"`).
pub fn to_decimal(amount_minor: i64, currency: &str) -> Option<String> {
    let exp = exponent(currency)?;
    if exp == 0 {
        return Some(amount_minor.to_string());
    }
    let scale = 10i64.pow(exp);
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    let scale = scale.unsigned_abs();
    Some(format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = exp as usize
    ))
}

/// A decimal string in major units as minor units; `None` when it has more digits than the
/// currency's minor unit allows or is not a number.
pub fn from_decimal(value: &str, currency: &str) -> Option<i64> {
    let exp = exponent(currency)? as usize;
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty()
        || frac.len() > exp
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let padded = format!("{whole}{frac:0<exp$}");
    let n: i64 = padded.parse().ok()?;
    Some(if negative { -n } else { n })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn exponents_of_common_and_odd_currencies() {
        assert_eq!(exponent("USD"), Some(2));
        assert_eq!(exponent("JPY"), Some(0));
        assert_eq!(exponent("KWD"), Some(3));
        assert_eq!(exponent("usd"), None);
        assert_eq!(exponent("XYZ"), None);
        assert_eq!(exponent("US"), None);
    }

    #[test]
    fn decimal_round_trips() {
        assert_eq!(to_decimal(1050, "USD").as_deref(), Some("10.50"));
        assert_eq!(to_decimal(5, "USD").as_deref(), Some("0.05"));
        assert_eq!(to_decimal(1050, "JPY").as_deref(), Some("1050"));
        assert_eq!(to_decimal(1234, "KWD").as_deref(), Some("1.234"));
        assert_eq!(from_decimal("10.50", "USD"), Some(1050));
        assert_eq!(from_decimal("10.5", "USD"), Some(1050));
        assert_eq!(from_decimal("10", "USD"), Some(1000));
        assert_eq!(from_decimal("1.234", "KWD"), Some(1234));
        assert_eq!(from_decimal("10.501", "USD"), None);
        assert_eq!(from_decimal("1.5", "JPY"), None);
        assert_eq!(from_decimal("abc", "USD"), None);
    }

    #[test]
    fn validation_names_the_field() {
        assert_eq!(validate("amount", 100, "EUR"), Ok(()));
        assert_eq!(
            validate("amount", 0, "EUR").unwrap_err().field.as_deref(),
            Some("amount.amount_minor")
        );
        assert_eq!(
            validate("amount", 1, "eur").unwrap_err().field.as_deref(),
            Some("amount.currency")
        );
    }
}
