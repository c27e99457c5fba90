//! Input cleaning shared by the domains: trimming, length checks, tag lists. Each function
//! records problems in a `FieldErrors` under the GraphQL field name it is given.

use std::collections::HashSet;

use crate::error::FieldErrors;

/// Trims optional text; empty becomes `None`; checks the length in characters.
pub fn optional_text(field: &str, text: Option<String>, max: usize, errors: &mut FieldErrors) -> Option<String> {
    let text = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())?;
    if text.chars().count() > max {
        errors.add(field, format!("must be at most {max} characters"));
    }
    Some(text)
}

/// Trims required text and checks it is `min..=max` characters without control characters
/// (line breaks allowed when `multiline`).
pub fn text(field: &str, text: &str, min: usize, max: usize, multiline: bool, errors: &mut FieldErrors) -> String {
    let text = text.trim().to_owned();
    let chars = text.chars().count();
    if chars < min {
        errors.add(
            field,
            if min <= 1 {
                "must not be empty".to_owned()
            } else {
                format!("must be at least {min} characters")
            },
        );
    } else if chars > max {
        errors.add(field, format!("must be at most {max} characters"));
    } else if text
        .chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\r' || c == '\t')))
    {
        errors.add(field, "must not contain control characters");
    }
    text
}

/// Trims, drops empties and de-duplicates (ignoring case) a list of short labels.
pub fn tags(field: &str, tags: Vec<String>, max_items: usize, max_len: usize, errors: &mut FieldErrors) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_owned();
        if tag.is_empty() {
            continue;
        }
        if tag.chars().count() > max_len {
            errors.add(field, format!("each entry must be at most {max_len} characters"));
            continue;
        }
        if seen.insert(tag.to_lowercase()) {
            out.push(tag);
        }
    }
    if out.len() > max_items {
        errors.add(field, format!("must have at most {max_items} entries"));
    }
    out
}

/// An ISO 4217 code in upper case.
pub fn currency(field: &str, currency: &str, errors: &mut FieldErrors) -> String {
    let currency = currency.trim().to_ascii_uppercase();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        errors.add(field, "must be a three-letter ISO 4217 code such as USD");
    }
    currency
}

/// Why an admin acted, for the audit log and the member concerned: 3 to 2,000 characters
/// (line breaks allowed), trimmed. `VALIDATION_ERROR` on `field` otherwise.
pub fn reason(field: &str, reason: &str) -> crate::error::AppResult<String> {
    let mut errors = FieldErrors::new();
    let reason = text(field, reason, 3, 2_000, true, &mut errors);
    errors.into_result()?;
    Ok(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning() {
        let mut errors = FieldErrors::new();
        assert_eq!(
            tags(
                "t",
                vec![" a ".into(), "A".into(), "".into(), "b".into()],
                5,
                10,
                &mut errors
            ),
            ["a", "b"]
        );
        assert_eq!(optional_text("o", Some("  ".into()), 5, &mut errors), None);
        assert_eq!(text("x", " hi\nthere ", 2, 20, true, &mut errors), "hi\nthere");
        assert_eq!(currency("c", "eur", &mut errors), "EUR");
        assert!(errors.is_empty());
        text("y", "a\u{7}b", 1, 20, true, &mut errors);
        text("z", "x", 2, 20, false, &mut errors);
        currency("w", "EURO", &mut errors);
        assert_eq!(
            errors.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["w", "y", "z"]
        );
    }
}
