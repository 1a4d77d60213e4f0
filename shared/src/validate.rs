//! Input checks shared by handlers: each failure names the offending field (422).

use crate::error::ApiError;

/// Trimmed, non-empty, at most `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ApiError::validation(field, "must not be empty"));
    }
    if trimmed.chars().count() > max {
        return Err(ApiError::validation(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if trimmed.chars().any(|c| c.is_control()) {
        return Err(ApiError::validation(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// An optional text field: absent or blank is `None`.
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text(field, v, max).map(Some),
    }
}

/// Digits with an optional leading `+`, spaces and dashes allowed, 6–20 digits.
pub fn phone(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(value) = optional_text(field, value, 32)? else {
        return Ok(None);
    };
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let allowed = value
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || c == ' ' || c == '-' || (c == '+' && i == 0));
    if !allowed || !(6..=20).contains(&digits) {
        return Err(ApiError::validation(
            field,
            "must be a phone number (6 to 20 digits)",
        ));
    }
    Ok(Some(value))
}

pub fn email(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(value) = optional_text(field, value, 254)? else {
        return Ok(None);
    };
    let valid = value.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !value.contains(' ')
    });
    if !valid {
        return Err(ApiError::validation(field, "must be an email address"));
    }
    Ok(Some(value))
}

pub fn positive_id(field: &str, value: i32) -> Result<i32, ApiError> {
    if value <= 0 {
        return Err(ApiError::validation(field, "must be a positive id"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_quotes_and_letters() {
        assert_eq!(
            text("name", "  O'Brien; Zoë  ", 100).unwrap(),
            "O'Brien; Zoë"
        );
        assert!(text("name", "   ", 100).is_err());
        assert!(text("name", "a\u{0}b", 100).is_err());
    }

    #[test]
    fn phones_and_emails() {
        assert_eq!(
            phone("phone", Some("+92 300-1234567")).unwrap().as_deref(),
            Some("+92 300-1234567")
        );
        assert!(phone("phone", Some("12ab")).is_err());
        assert_eq!(phone("phone", Some(" ")).unwrap(), None);
        assert!(email("email", Some("a@b.pk")).is_ok());
        assert!(email("email", Some("nope")).is_err());
    }
}
