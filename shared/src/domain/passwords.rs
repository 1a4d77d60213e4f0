//! Passwords as given: never trimmed, shown to nobody. [`Password`] is one a peer was given (any
//! length); [`NewPassword`], one a head-office account chooses (12 at least).

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use super::Invalid;
use super::text::{PASSWORD, PASSWORD_RULE};

/// A password type: its `Debug` is redacted.
macro_rules! password_type {
    ($(#[$doc:meta])* $name:ident, min = $min:expr) => {
        $(#[$doc])*
        #[derive(Clone, serde::Deserialize)]
        #[serde(try_from = "String")]
        pub struct $name(String);

        impl $name {
            pub const MIN_CHARS: usize = $min;
            pub const MAX_CHARS: usize = 1024;

            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Invalid;

            fn try_from(raw: String) -> Result<Self, Invalid> {
                if raw.is_empty() {
                    return Err(Invalid::new("must not be empty"));
                }
                let chars = raw.chars().count();
                if chars < Self::MIN_CHARS {
                    return Err(Invalid(format!("must be at least {} characters", Self::MIN_CHARS)));
                }
                if chars > Self::MAX_CHARS {
                    return Err(Invalid(format!(
                        "must be at most {} characters",
                        Self::MAX_CHARS
                    )));
                }
                if !PASSWORD_RULE.is_match(&raw) {
                    return Err(Invalid::new("must not contain control characters"));
                }
                Ok(Self(raw))
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(***)"))
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Password,
                    )))
                    .min_length(Some(Self::MIN_CHARS))
                    .max_length(Some(Self::MAX_CHARS))
                    .pattern(Some(PASSWORD))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

password_type!(
    /// A peer's password as given (a node's replication role).
    Password, min = 1
);
password_type!(
    /// A password a head-office account chooses: 12 characters at least.
    NewPassword, min = 12
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_kept_as_given_and_never_shown() {
        let password = Password::try_from(" secret ".to_owned()).unwrap();
        assert_eq!(password.expose(), " secret ");
        assert_eq!(format!("{password:?}"), "Password(***)");
        assert!(Password::try_from(String::new()).is_err());
        assert!(Password::try_from("a\u{0}b".to_owned()).is_err());
    }
}
