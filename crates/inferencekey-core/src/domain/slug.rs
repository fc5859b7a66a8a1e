//! Slug canonicalisation (docs/contract.md §3.3): the one rule ensure, get, delete and readiness
//! all share, so `"Support Bot"` and `"support-bot"` name the same workload everywhere.

use crate::domain::error::FieldError;

/// Longest slug the platform accepts.
pub const MAX_SLUG_LEN: usize = 63;

/// ASCII letters and digits kept and lowercased; every other run of characters becomes one
/// `-`; leading and trailing `-` dropped.
pub fn canonical_slug(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_dash = false;
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending_dash = true;
        }
    }
    out
}

/// [`canonical_slug`], borrowing `raw` when it is canonical already (the gateway's hot path:
/// every data-plane call names its project and workload by their slugs).
pub fn canonical_slug_cow(raw: &str) -> std::borrow::Cow<'_, str> {
    let b = raw.as_bytes();
    let canonical = b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.first() != Some(&b'-')
        && b.last() != Some(&b'-')
        && !raw.contains("--");
    if canonical {
        std::borrow::Cow::Borrowed(raw)
    } else {
        std::borrow::Cow::Owned(canonical_slug(raw))
    }
}

/// Canonicalises `raw` and checks it is usable, naming `field` in the error.
pub fn validate_slug(raw: &str, field: &str) -> Result<String, FieldError> {
    let slug = canonical_slug(raw);
    if slug.is_empty() {
        return Err(FieldError::new(
            field,
            format!(
                "{raw:?} has no letters or digits; use a URL-safe name such as \"support-bot\""
            ),
        ));
    }
    if slug.len() > MAX_SLUG_LEN {
        return Err(FieldError::new(
            field,
            format!(
                "is {} characters after canonicalisation; the limit is {MAX_SLUG_LEN}",
                slug.len()
            ),
        ));
    }
    Ok(slug)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table() {
        let cases = [
            ("  Mixed_Case--Slug ", "mixed-case-slug"),
            ("support-bot", "support-bot"),
            ("Support Bot", "support-bot"),
            ("--a--", "a"),
            ("ÄÖÜ x", "x"),
            ("a.b/c", "a-b-c"),
            ("", ""),
            ("___", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(canonical_slug(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn validation() {
        assert_eq!(validate_slug(" Billing ", "slug").unwrap(), "billing");
        assert_eq!(validate_slug("!!!", "slug").unwrap_err().field, "slug");
        assert!(validate_slug(&"a".repeat(64), "slug").is_err());
        assert!(validate_slug(&"a".repeat(63), "slug").is_ok());
    }

    proptest! {
        #[test]
        fn idempotent(s in ".*") {
            let once = canonical_slug(&s);
            prop_assert_eq!(canonical_slug(&once), once.clone());
            prop_assert!(!once.starts_with('-') && !once.ends_with('-') && !once.contains("--"));
            prop_assert!(once.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        }

        #[test]
        fn the_borrowing_form_is_the_same_rule(s in "[a-zA-Z0-9 _.-]{0,12}") {
            let borrowed = canonical_slug_cow(&s);
            let once = canonical_slug(&s);
            prop_assert_eq!(borrowed.as_ref(), once.as_str());
            let again = canonical_slug_cow(&once);
            prop_assert!(matches!(again, std::borrow::Cow::Borrowed(_)));
        }
    }
}
