//! Text values: trimmed, 1 to `MAX_CHARS` characters, no control characters, and for some a shape of
//! their own (a phone number, an email address, a time zone name).

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use super::Invalid;

/// Trimmed, non-empty, at most `max` characters, no control characters.
fn checked_text(raw: &str, max: usize) -> Result<String, Invalid> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(Invalid::new("must not be empty"));
    }
    if text.chars().count() > max {
        return Err(Invalid(format!("must be at most {max} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(Invalid::new("must not contain control characters"));
    }
    Ok(text.to_owned())
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, max = $max:expr $(, check = $check:path, pattern = $pattern:literal)? $(,)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Invalid;

            fn try_from(raw: String) -> Result<Self, Invalid> {
                let text = checked_text(&raw, Self::MAX_CHARS)?;
                $($check(&text)?;)?
                Ok(Self(text))
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
                    $(.pattern(Some($pattern)))?
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
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
fn phone_shape(text: &str) -> Result<(), Invalid> {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let allowed = text
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || c == ' ' || c == '-' || (c == '+' && i == 0));
    if !allowed || !(6..=20).contains(&digits) {
        return Err(Invalid::new("must be a phone number (6 to 20 digits)"));
    }
    Ok(())
}

text_type!(
    /// A phone number: digits, an optional leading `+`, spaces and dashes; 6 to 20 digits.
    Phone, max = 32, check = phone_shape, pattern = r"^\+?[0-9][0-9 -]*$"
);

fn email_shape(text: &str) -> Result<(), Invalid> {
    let valid = text.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !text.contains(' ')
    });
    if !valid {
        return Err(Invalid::new("must be an email address"));
    }
    Ok(())
}

text_type!(
    /// An email address.
    Email, max = 254, check = email_shape, pattern = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
);

/// An IANA zone name's shape (`Asia/Karachi`, `Etc/GMT-5`): letters, then `/`-separated parts of
/// letters, digits, `_`, `+` and `-`. Whether the zone exists is the database's to say (its own list of
/// zones is the one that computes business days).
fn zone_shape(text: &str) -> Result<(), Invalid> {
    let shaped = text.split('/').enumerate().all(|(i, part)| {
        !part.is_empty()
            && part.chars().all(|c| {
                c.is_ascii_alphabetic() || (i > 0 && (c.is_ascii_digit() || "_+-".contains(c)))
            })
    });
    if !shaped {
        return Err(Invalid::new(
            "must be an IANA time zone name such as Asia/Karachi",
        ));
    }
    Ok(())
}

text_type!(
    /// An IANA time zone name (`Asia/Karachi`): a city's business days are in it.
    TimeZone, max = 64, check = zone_shape, pattern = r"^[A-Za-z]+(/[A-Za-z0-9_+-]+)*$"
);

/// A password as given (never trimmed), shown to nobody: its `Debug` is redacted.
#[derive(Clone, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Password(String);

impl Password {
    pub const MAX_CHARS: usize = 1024;

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Password {
    type Error = Invalid;

    fn try_from(raw: String) -> Result<Self, Invalid> {
        if raw.is_empty() {
            return Err(Invalid::new("must not be empty"));
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(Invalid(format!(
                "must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        Ok(Self(raw))
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl utoipa::PartialSchema for Password {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Password,
            )))
            .min_length(Some(1))
            .max_length(Some(Self::MAX_CHARS))
            .into()
    }
}

impl utoipa::ToSchema for Password {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_keep_quotes_and_letters() {
        let name = CustomerName::try_from("  O'Brien; Zoë  ".to_owned()).unwrap();
        assert_eq!(name.as_str(), "O'Brien; Zoë");
        assert!(CustomerName::try_from("   ".to_owned()).is_err());
        assert!(CustomerName::try_from("a\u{0}b".to_owned()).is_err());
        assert!(CityName::try_from("x".repeat(101)).is_err());
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
        assert_eq!(schema["pattern"], r"^\+?[0-9][0-9 -]*$");
    }

    #[test]
    fn a_password_is_kept_as_given_and_never_shown() {
        let password = Password::try_from(" secret ".to_owned()).unwrap();
        assert_eq!(password.expose(), " secret ");
        assert_eq!(format!("{password:?}"), "Password(***)");
        assert!(Password::try_from(String::new()).is_err());
    }
}
