//! Text values: 1 to `MAX_CHARS` characters, no control characters, not blank, and for some a shape
//! of their own (a phone number, an email address, a time zone name); kept trimmed.
//!
//! Each type's rule *is* its pattern: the server matches the value against the same regular expression
//! the OpenAPI document gives (written with `\uXXXX` classes only, which the regex crate, ECMA-262 and
//! Python read alike), so the document and the check cannot disagree.

use std::sync::LazyLock;

use regex::Regex;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use super::Invalid;

/// Control characters (Unicode's `Cc`, what `char::is_control` means), for a character class.
macro_rules! control {
    () => {
        r"\u0000-\u001F\u007F-\u009F"
    };
}

/// White space that is not a control character (what `str::trim` removes, besides controls).
macro_rules! space {
    () => {
        r" \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
    };
}

/// Blank: white space only, or nothing (what `str::trim` leaves empty).
pub(crate) const BLANK: &str = concat!(r"^[\u0009-\u000D\u0085", space!(), "]*$");

/// Any text without control characters that is not blank.
const TEXT: &str = concat!(
    "^[^",
    control!(),
    "]*[^",
    control!(),
    space!(),
    "][^",
    control!(),
    "]*$"
);

/// A password: any characters but control characters (libpq cannot carry a NUL, and none belongs in
/// a secret typed by someone), at least one.
pub(super) const PASSWORD: &str = concat!("^[^", control!(), "]+$");

/// Compiles one of this module's constant patterns (each is checked by the tests below).
fn compiled(pattern: &str) -> Regex {
    #[allow(clippy::expect_used)] // a constant of this module, compiled by the tests
    Regex::new(pattern).expect("the module's patterns compile")
}

static TEXT_RULE: LazyLock<Regex> = LazyLock::new(|| compiled(TEXT));
pub(super) static PASSWORD_RULE: LazyLock<Regex> = LazyLock::new(|| compiled(PASSWORD));

/// Whether `raw` may be a value of at most `max` characters whose shape is `shape` (beyond [`TEXT`]);
/// `refusal` says what the shape is. The value kept is `raw` trimmed.
fn checked_text(raw: &str, max: usize, shape: Option<(&Regex, &str)>) -> Result<String, Invalid> {
    if raw.trim().is_empty() && !raw.chars().any(char::is_control) {
        return Err(Invalid::new("must not be empty"));
    }
    if raw.chars().count() > max {
        return Err(Invalid(format!("must be at most {max} characters")));
    }
    if !TEXT_RULE.is_match(raw) {
        return Err(Invalid::new("must not contain control characters"));
    }
    if let Some((rule, refusal)) = shape
        && !rule.is_match(raw)
    {
        return Err(Invalid::new(refusal));
    }
    Ok(raw.trim().to_owned())
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, max = $max:expr $(, pattern = $pattern:expr, refusal = $refusal:literal)? $(,)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;
            /// The pattern a value matches (the OpenAPI document's, too).
            pub const PATTERN: &str = text_type!(@pattern $($pattern)?);

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Invalid;

            fn try_from(raw: String) -> Result<Self, Invalid> {
                #[allow(unused_variables)] // plain text has no shape of its own
                let shape: Option<(&Regex, &str)> = None;
                $(
                    static SHAPE: LazyLock<Regex> = LazyLock::new(|| compiled($pattern));
                    let shape = Some((&*SHAPE, $refusal));
                )?
                checked_text(&raw, Self::MAX_CHARS, shape).map(Self)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(Self::MAX_CHARS))
                    .pattern(Some(Self::PATTERN))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
    (@pattern) => { TEXT };
    (@pattern $pattern:expr) => { $pattern };
}

text_type!(
    /// A city's name.
    CityName, max = 100
);
text_type!(
    /// A product category's name.
    CategoryName, max = 100
);
text_type!(
    /// A product's name.
    ProductName, max = 200
);
text_type!(
    /// A store's name.
    StoreName, max = 200
);
text_type!(
    /// A customer's name, as they write it (quotes, accents and all).
    CustomerName, max = 200
);
text_type!(
    /// A product's stock-keeping unit, unique across the chain.
    Sku, max = 64
);
text_type!(
    /// The cashier a credential is for, as receipts print it.
    CashierName, max = 100
);
text_type!(
    /// A terminal (till) of a store, as receipts print it (`T1`).
    Terminal, max = 32
);
text_type!(
    /// A promotion's name, as receipts print it.
    PromotionName, max = 200
);
/// 8 to 14 digits: EAN-8, UPC-A, EAN-13 or GTIN-14.
const BARCODE: &str = concat!("^[", space!(), "]*[0-9]{8,14}[", space!(), "]*$");

text_type!(
    /// A product's barcode as a scanner reads it, unique across the chain.
    Barcode, max = 14, pattern = BARCODE, refusal = "must be a barcode of 8 to 14 digits"
);
/// `CN-` and 16 hexadecimal digits, as a store prints a credit note's code.
const CREDIT_NOTE: &str = concat!("^[", space!(), "]*CN-[0-9A-F]{16}[", space!(), "]*$");

text_type!(
    /// A credit note's code (store credit), as the customer keeps it (`CN-3F2A…`).
    CreditNoteCode, max = 19, pattern = CREDIT_NOTE, refusal = "must be a credit note's code: CN- and 16 hexadecimal digits"
);
text_type!(
    /// A store's code, unique across the chain (`KHI001`).
    StoreCode, max = 32
);
text_type!(
    /// A note for people: what a credential is for.
    Label, max = 100
);
text_type!(
    /// A stock receipt's reference (a delivery note, a purchase order).
    Reference, max = 200
);
text_type!(
    /// Why a refund was given.
    Reason, max = 500
);
text_type!(
    /// A database server's host name or address.
    Host, max = 255
);
text_type!(
    /// A PostgreSQL database name.
    DbName, max = 63
);
text_type!(
    /// A PostgreSQL role name.
    DbUser, max = 63
);

/// Digits with an optional leading `+`, spaces and dashes between them, 6 to 20 digits.
const PHONE: &str = concat!(
    "^[",
    space!(),
    r"]*\+?[ -]*(?:[0-9][ -]*){6,20}[",
    space!(),
    "]*$"
);

text_type!(
    /// A phone number: digits, an optional leading `+`, spaces and dashes; 6 to 20 digits.
    Phone, max = 32, pattern = PHONE, refusal = "must be a phone number (6 to 20 digits)"
);

/// The start of a phone number: 3 to 20 digits, with the spaces, dashes and `+` a number is written with.
const PHONE_PREFIX: &str = concat!(
    "^[",
    space!(),
    r"]*\+?[ -]*(?:[0-9][ -]*){3,20}[",
    space!(),
    "]*$"
);

text_type!(
    /// The first digits of a phone number, as a cashier types them.
    PhonePrefix, max = 32, pattern = PHONE_PREFIX, refusal = "must be the start of a phone number (3 to 20 digits)"
);

impl PhonePrefix {
    /// Its digits alone.
    pub fn digits(&self) -> String {
        self.0.chars().filter(char::is_ascii_digit).collect()
    }
}

/// `local@domain.tld`: no `@`, space or control character in either part, a dot in the domain.
const EMAIL: &str = concat!(
    "^[",
    space!(),
    "]*",
    "[^@",
    control!(),
    space!(),
    "]+@[^@",
    control!(),
    space!(),
    r"]+\.[^@",
    control!(),
    space!(),
    "]+",
    "[",
    space!(),
    "]*$"
);

text_type!(
    /// An email address.
    Email, max = 254, pattern = EMAIL, refusal = "must be an email address"
);

/// An IANA zone name's shape (`Asia/Karachi`, `Etc/GMT-5`): letters, then `/`-separated parts of
/// letters, digits, `_`, `+` and `-`. Whether the zone exists is the database's to say (its own list of
/// zones is the one that computes business days).
const ZONE: &str = concat!(
    "^[",
    space!(),
    "]*[A-Za-z]+(?:/[A-Za-z0-9_+-]+)*[",
    space!(),
    "]*$"
);

/// A head-office account's name: lower-case letters, digits, `.`, `_` and `-`, starting with a letter or
/// digit.
const USERNAME: &str = concat!(
    "^[",
    space!(),
    "]*[a-z0-9][a-z0-9._-]{0,62}[",
    space!(),
    "]*$"
);

text_type!(
    /// The name a head-office account signs in with (`ayesha.khan`).
    Username, max = 63, pattern = USERNAME,
    refusal = "must be 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
);

text_type!(
    /// An IANA time zone name (`Asia/Karachi`): a city's business days are in it.
    TimeZone, max = 64, pattern = ZONE, refusal = "must be an IANA time zone name such as Asia/Karachi"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Password;

    #[test]
    fn names_are_trimmed_and_keep_quotes_and_letters() {
        let name = CustomerName::try_from("  O'Brien; Zoë  ".to_owned()).unwrap();
        assert_eq!(name.as_str(), "O'Brien; Zoë");
        assert!(CustomerName::try_from("   ".to_owned()).is_err());
        assert!(CustomerName::try_from("a\u{0}b".to_owned()).is_err());
        assert!(CityName::try_from("x".repeat(101)).is_err());
        assert!(CityName::try_from(format!(" {} ", "x".repeat(99))).is_err());
        assert!(CityName::try_from("x".repeat(100)).is_ok());
    }

    #[test]
    fn phones_emails_and_zones_have_their_shapes() {
        assert!(Phone::try_from("+92 300-1234567".to_owned()).is_ok());
        assert!(Phone::try_from("12ab".to_owned()).is_err());
        assert!(Phone::try_from("12345".to_owned()).is_err());
        assert!(Email::try_from("a@b.pk".to_owned()).is_ok());
        assert!(Email::try_from("nope".to_owned()).is_err());
        assert!(TimeZone::try_from("Asia/Karachi".to_owned()).is_ok());
        assert!(TimeZone::try_from("Etc/GMT-5".to_owned()).is_ok());
        assert!(TimeZone::try_from("Asia/Kar achi".to_owned()).is_err());
    }

    #[test]
    fn the_schema_states_the_same_limits() {
        let schema = serde_json::to_value(<Phone as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema["maxLength"], Phone::MAX_CHARS);
        assert_eq!(schema["minLength"], 1);
        assert_eq!(schema["pattern"], PHONE);
        let schema = serde_json::to_value(<CityName as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema["pattern"], TEXT);
    }

    /// Values on both sides of each rule: what the pattern matches (within the length) is exactly what
    /// the type accepts.
    #[test]
    fn each_pattern_is_the_rule() {
        let samples = [
            "Karachi",
            " Karachi ",
            "",
            " ",
            "\u{a0}",
            "\u{3000}x",
            "a\u{0}b",
            "a\tb",
            "\u{85}",
            "x\u{9f}",
            "\u{feff}",
            "O'Brien; Zoë",
            "+92 300-1234567",
            "-123456",
            "12345",
            "123 456 789 012 345 678 901",
            "+",
            "92+300123456",
            " +923001234567 ",
            "a@b.pk",
            "a@b@c.pk",
            "a @b.pk",
            "a@b.",
            "@b.pk",
            "Asia/Karachi",
            "Etc/GMT-5",
            "Asia/Kar achi",
            "Asia/",
            "/Asia",
            "x\n",
        ];
        fn agree<T: TryFrom<String, Error = Invalid>>(pattern: &str, max: usize, value: &str) {
            let matched =
                Regex::new(pattern).unwrap().is_match(value) && value.chars().count() <= max;
            let accepted = T::try_from(value.to_owned()).is_ok();
            assert_eq!(matched, accepted, "{value:?} against {pattern}");
        }
        for value in samples {
            agree::<CityName>(CityName::PATTERN, CityName::MAX_CHARS, value);
            agree::<Phone>(Phone::PATTERN, Phone::MAX_CHARS, value);
            agree::<Email>(Email::PATTERN, Email::MAX_CHARS, value);
            agree::<TimeZone>(TimeZone::PATTERN, TimeZone::MAX_CHARS, value);
            agree::<Password>(PASSWORD, Password::MAX_CHARS, value);
        }
        assert!(Phone::try_from("+92 300-1234567".to_owned()).is_ok());
        assert!(CityName::try_from(" \u{3000}".to_owned()).is_err());
    }
}
