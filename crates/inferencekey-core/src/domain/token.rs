//! Token shapes and redaction (docs/contract.md §1). A token is never printed whole: everything
//! that may reach a log, `repr` or an error goes through [`redact`].

use std::fmt;

/// The plane a token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// `ik_sdk_`: control plane, one project.
    Sdk,
    /// `ik_live_`: data plane, one workload or `project/*`.
    Live,
    /// `ik_admin_`: the local Manager's admin API.
    Admin,
    /// `ik_worker_`: a worker agent on another host, acting for one registered worker
    /// (the Manager's `/agent` routes only; refused on both planes and the admin API).
    Worker,
}

impl TokenKind {
    /// Every kind: the one list that parsing, scanning and scrubbing go through, so a new
    /// kind is recognised (and redacted) everywhere once it is added here.
    pub const ALL: [TokenKind; 4] = [
        TokenKind::Sdk,
        TokenKind::Live,
        TokenKind::Admin,
        TokenKind::Worker,
    ];

    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Sdk => "ik_sdk_",
            TokenKind::Live => "ik_live_",
            TokenKind::Admin => "ik_admin_",
            TokenKind::Worker => "ik_worker_",
        }
    }

    /// The kind's name, the `<kind>` of `ik_<kind>_`: what the Manager stores and lists.
    pub fn name(self) -> &'static str {
        let p = self.prefix();
        &p["ik_".len()..p.len() - 1]
    }

    /// The kind of a [`TokenKind::name`].
    pub fn from_name(name: &str) -> Option<TokenKind> {
        TokenKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The kind a raw string claims by its prefix, even if the rest is malformed.
    pub fn of(raw: &str) -> Option<TokenKind> {
        TokenKind::ALL
            .into_iter()
            .find(|k| raw.starts_with(k.prefix()))
    }
}

/// A well-formed `ik_<kind>_<id>_<secret>` token, split into its parts.
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedToken<'a> {
    pub kind: TokenKind,
    pub id: &'a str,
    pub secret: &'a str,
}

impl fmt::Debug for ParsedToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedToken")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// Parses `ik_<kind>_<id>_<secret>`: `id` and `secret` are non-empty ASCII alphanumerics.
pub fn parse_token(raw: &str) -> Option<ParsedToken<'_>> {
    let kind = TokenKind::of(raw)?;
    let rest = &raw[kind.prefix().len()..];
    let (id, secret) = rest.split_once('_')?;
    if id.is_empty() || secret.is_empty() {
        return None;
    }
    if !id.chars().all(is_token_char) || !secret.chars().all(is_token_char) {
        return None;
    }
    Some(ParsedToken { kind, id, secret })
}

/// The printable form of a token: prefix plus the first 8 characters of the id, then `…`.
/// Anything that is not a well-formed token redacts to `ik…`.
pub fn redact(raw: &str) -> String {
    match parse_token(raw) {
        Some(t) => redact_id(t.kind, t.id),
        None => "ik…".to_string(),
    }
}

/// The same printable form from a token's kind and public id, for places that hold only
/// those (the Manager's stored key records).
pub fn redact_id(kind: TokenKind, id: &str) -> String {
    let shown: String = id.chars().take(8).collect();
    format!("{}{}…", kind.prefix(), shown)
}

/// True when `text` contains something that looks like a token anywhere in it — used to
/// keep secrets out of specs, which are stored and shown in plans.
pub fn contains_token(text: &str) -> bool {
    TokenKind::ALL.iter().any(|k| {
        let p = k.prefix();
        text.match_indices(p).any(|(i, _)| {
            // A prefix followed by at least one token character is a (possibly partial)
            // secret; a bare mention of the prefix in prose is not.
            text[i + p.len()..]
                .chars()
                .next()
                .is_some_and(is_token_char)
        })
    })
}

/// Replaces every token-looking run inside free text (server messages, engine output) with
/// its redacted form, so text we did not write can still be shown safely. Idempotent: an
/// already redacted `ik_live_abcdefgh…` is left as it is.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("ik_") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(kind) = TokenKind::of(tail) else {
            // `ik_` that starts no token (`ik_ik_live_…`): step past it only, so a token
            // glued behind it is still found.
            out.push_str("ik_");
            rest = &tail[3..];
            continue;
        };
        let prefix = kind.prefix();
        let body_len = tail[prefix.len()..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len() - prefix.len());
        let body = &tail[prefix.len()..prefix.len() + body_len];
        let (id, secret) = match body.split_once('_') {
            Some((id, secret)) => (id, Some(secret)),
            None => (body, None),
        };
        let shown: String = id.chars().take(8).collect();
        out.push_str(prefix);
        out.push_str(&shown);
        // Anything past the first 8 characters of the id, and every secret, is hidden.
        if secret.is_some() || id.chars().count() > 8 {
            out.push('…');
        }
        rest = &tail[prefix.len() + body_len..];
    }
    out.push_str(rest);
    out
}

/// A token held by a client. `Debug` and `Display` show only the redacted form, so a client
/// or an options struct can be logged safely.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(raw: impl Into<String>) -> Self {
        Secret(raw.into())
    }

    /// The raw token, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn redacted(&self) -> String {
        redact(&self.0)
    }

    pub fn kind(&self) -> Option<TokenKind> {
        TokenKind::of(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn redact_id_matches_redact() {
        let raw = "ik_live_abcdefghij_s3cretS3cretS3cret";
        let parsed = parse_token(raw).unwrap();
        assert_eq!(redact_id(parsed.kind, parsed.id), redact(raw));
        assert_eq!(
            redact_id(TokenKind::Live, "abcdefghij"),
            "ik_live_abcdefgh…"
        );
    }

    use super::*;

    #[test]
    fn parse_and_redact() {
        let t = parse_token("ik_live_proj1234abcd_s3cr3tVALUE").unwrap();
        assert_eq!(t.kind, TokenKind::Live);
        assert_eq!(t.id, "proj1234abcd");
        assert_eq!(
            redact("ik_live_proj1234abcd_s3cr3tVALUE"),
            "ik_live_proj1234…"
        );
        assert_eq!(redact("ik_sdk_ab_cd"), "ik_sdk_ab…");
        assert_eq!(redact("ik_live_..."), "ik…");
        assert_eq!(redact("hunter2"), "ik…");
        assert_eq!(redact(""), "ik…");
        assert!(!format!("{t:?}").contains("s3cr3t"));
    }

    #[test]
    fn malformed() {
        for bad in [
            "ik_sdk_",
            "ik_sdk_abc",
            "ik_sdk__x",
            "ik_sdk_a_",
            "ik_sdk_a b_c",
            "ik_other_a_b",
        ] {
            assert!(parse_token(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn scrubbing() {
        assert_eq!(
            scrub("key ik_live_abcdefghijk_SECRET rejected"),
            "key ik_live_abcdefgh… rejected"
        );
        assert_eq!(scrub("bad ik_sdk_x"), "bad ik_sdk_x");
        assert_eq!(scrub("bad ik_sdk_x_y"), "bad ik_sdk_x…");
        let once = scrub("key ik_live_abcdefghijk_SECRET rejected");
        assert_eq!(scrub(&once), once);
        assert_eq!(
            scrub("ik_ik_live_abcdefghij_SECRET"),
            "ik_ik_live_abcdefgh…"
        );
        assert_eq!(
            scrub("token ik_admin_abc_SECRETSECRET"),
            "token ik_admin_abc…"
        );
        assert!(contains_token("key ik_admin_abc_def"));
        assert_eq!(scrub("an ik_live_ key"), "an ik_live_ key");
        assert_eq!(scrub("ik_ ik"), "ik_ ik");
    }

    #[test]
    fn scanning() {
        assert!(contains_token("--api-key ik_live_abc_def"));
        assert!(contains_token("Bearer ik_sdk_x"));
        assert!(!contains_token("use an ik_live_ key"));
        assert!(!contains_token("vllm serve model"));
    }

    /// Every kind, the same rules: parsed, redacted, scanned and scrubbed by its prefix, its
    /// secret never shown.
    #[test]
    fn every_kind_is_parsed_and_redacted() {
        let cases = [
            (TokenKind::Sdk, "ik_sdk_", "sdk"),
            (TokenKind::Live, "ik_live_", "live"),
            (TokenKind::Admin, "ik_admin_", "admin"),
            (TokenKind::Worker, "ik_worker_", "worker"),
        ];
        assert_eq!(cases.len(), TokenKind::ALL.len(), "a kind is missing here");
        for (kind, prefix, name) in cases {
            assert_eq!(kind.prefix(), prefix);
            assert_eq!(kind.name(), name);
            assert_eq!(TokenKind::from_name(name), Some(kind));
            let raw = format!("{prefix}abcdefghijkl_S3cretS3cretS3cret");
            let parsed = parse_token(&raw).unwrap();
            assert_eq!((parsed.kind, parsed.id), (kind, "abcdefghijkl"));
            assert_eq!(TokenKind::of(&raw), Some(kind));
            let shown = format!("{prefix}abcdefgh…");
            assert_eq!(redact(&raw), shown);
            assert_eq!(redact_id(kind, "abcdefghijkl"), shown);
            assert_eq!(format!("{:?}", Secret::new(raw.clone())), shown);
            assert_eq!(Secret::new(raw.clone()).kind(), Some(kind));
            assert!(contains_token(&format!("--token {raw}")));
            assert!(!contains_token(&format!("an {prefix} token")));
            let scrubbed = scrub(&format!("got {raw}: refused"));
            assert_eq!(scrubbed, format!("got {shown}: refused"));
            assert!(!scrubbed.contains("S3cret"));
            assert!(!format!("{parsed:?}").contains("S3cret"));
            for bad in [
                prefix.to_string(),
                format!("{prefix}abc"),
                format!("{prefix}_x"),
                format!("{prefix}a_"),
                format!("{prefix}a b_c"),
            ] {
                assert!(parse_token(&bad).is_none(), "{bad}");
                assert_eq!(redact(&bad), "ik…", "{bad}");
            }
        }
        assert_eq!(TokenKind::from_name("other"), None);
        assert_eq!(TokenKind::of("ik_workers_a_b"), None);
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("ik_sdk_abcdefghijkl_supersecret");
        assert_eq!(format!("{s:?}"), "ik_sdk_abcdefgh…");
    }
}
