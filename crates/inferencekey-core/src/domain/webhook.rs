//! Webhook signatures (docs/contract.md §6): `X-InferenceKey-Signature: t=<unix seconds>,v1=<hex>`
//! with `v1 = hex(HMAC-SHA256(secret, "<t>.<raw body>"))`. Signing the timestamp with the body
//! lets receivers reject replays; several `v1` entries let a sender sign with an old and a new
//! secret while the receiver rotates.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

use crate::domain::error::{Error, ErrorKind};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-InferenceKey-Signature";

/// The header naming what a delivery is: `job` or `ping`.
pub const EVENT_HEADER: &str = "X-InferenceKey-Event";

/// The header carrying the job id a delivery is about (receivers dedupe on it).
pub const JOB_ID_HEADER: &str = "X-InferenceKey-Job-Id";

/// How long after each failed attempt the sender tries again (docs/contract.md §6); after
/// the last it gives up. Six attempts in all.
pub const RETRY_SCHEDULE: [Duration; 5] = [
    Duration::from_secs(60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(3600),
    Duration::from_secs(6 * 3600),
];

/// The delay before the attempt after `failed_attempts` failed ones, or `None` once the
/// schedule is spent.
pub fn retry_delay(failed_attempts: u32) -> Option<Duration> {
    let i = usize::try_from(failed_attempts).ok()?.checked_sub(1)?;
    RETRY_SCHEDULE.get(i).copied()
}

/// `PUT …/workloads/{workload}/webhook`: where a workload's job results are delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WebhookDestinationRequest {
    /// An `http` or `https` URL; the local Manager takes loopback addresses only unless
    /// started with `--allow-remote-webhooks`.
    pub url: String,
    /// Make a new signing secret even though the destination exists (shown once, in this
    /// answer); the old one stops signing at once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rotate_secret: bool,
}

/// A workload's webhook destination as the Manager answers it. `secret` is present only in
/// the answer that made it; every later answer carries `secret_hint` (its last characters).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDestination {
    pub workload_id: String,
    pub url: String,
    /// Only in the answer that made the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub secret: Option<String>,
    pub secret_hint: String,
    pub created_at: String,
    pub updated_at: String,
}

impl std::fmt::Debug for WebhookDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookDestination")
            .field("workload_id", &self.workload_id)
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("secret_hint", &self.secret_hint)
            .finish_non_exhaustive()
    }
}

/// The answer of `POST …/webhook/test`: one signed `ping`, sent once, not retried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookTestResult {
    /// The receiver answered 2xx.
    pub delivered: bool,
    /// The receiver's HTTP status, when it answered.
    #[serde(default)]
    pub status: Option<u16>,
    /// Why it was not delivered.
    #[serde(default)]
    pub error: Option<String>,
}

/// How far `t` may be from the receiver's clock (docs/contract.md §6: 300 s).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

type HmacSha256 = Hmac<Sha256>;

/// The MAC over `"<t>.<body>"`, where `t` is the timestamp exactly as written in the header.
fn mac(body: &[u8], secret: &[u8], t: &str) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// The signature header value for `body` sent at unix time `t`.
pub fn sign(body: &[u8], secret: &[u8], t: u64) -> String {
    let t = t.to_string();
    let v1 = hex::encode(mac(body, secret, &t));
    format!("t={t},v1={v1}")
}

fn rejected(code: &str, message: String) -> Error {
    Error::new(ErrorKind::Validation, message)
        .with_code(code)
        .with_field(SIGNATURE_HEADER)
}

fn malformed(what: &str) -> Error {
    rejected(
        "malformed_signature",
        format!(
            "the {SIGNATURE_HEADER} header is malformed: {what}; expected \
             `t=<unix seconds>,v1=<64 hex characters>`"
        ),
    )
}

/// A parsed header: the timestamp as written and as a number, and every `v1` MAC.
struct Header<'a> {
    t_text: &'a str,
    t: u64,
    v1: Vec<[u8; 32]>,
}

/// Parses the header. Parts are comma-separated `key=value` pairs with optional whitespace;
/// empty parts are skipped and unknown schemes (e.g. a future `v2`) ignored so senders can
/// add them without breaking receivers.
fn parse(header: &str) -> Result<Header<'_>, Error> {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = part.split_once('=') else {
            return Err(malformed("a part has no `=`"));
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "t" => {
                if t.is_some() {
                    return Err(malformed("`t` appears more than once"));
                }
                let parsed = (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| value.parse::<u64>().ok())
                    .flatten()
                    .ok_or_else(|| malformed("`t` is not a unix timestamp in seconds"))?;
                t = Some((value, parsed));
            }
            "v1" => {
                let mut mac = [0u8; 32];
                hex::decode_to_slice(value, &mut mac).map_err(|_| {
                    malformed(&format!(
                        "v1 entry {} is not 64 hex characters",
                        v1.len() + 1
                    ))
                })?;
                v1.push(mac);
            }
            _ => {}
        }
    }
    let (t_text, t) = t.ok_or_else(|| malformed("`t` is missing"))?;
    if v1.is_empty() {
        return Err(malformed("no `v1` signature"));
    }
    Ok(Header { t_text, t, v1 })
}

/// Checks a delivery against `secret`, with `now_unix` as the receiver's clock. The signature
/// is checked before the timestamp, so `signature_expired` is only ever reported for an
/// authentic delivery (a replay or a skewed clock) and a forgery always reads
/// `invalid_signature`.
pub fn verify(
    body: &[u8],
    signature_header: &str,
    secret: &[u8],
    tolerance: Duration,
    now_unix: u64,
) -> Result<(), Error> {
    if secret.is_empty() {
        // An unset secret would make every signature made with an empty key pass.
        return Err(Error::configuration(
            "the webhook secret is empty; pass the secret shown when the webhook was created",
        ));
    }
    let header = parse(signature_header)?;
    let expected = mac(body, secret, header.t_text);
    let matched = header
        .v1
        .iter()
        .fold(Choice::from(0), |acc, v1| acc | expected.ct_eq(v1));
    if !bool::from(matched) {
        return Err(rejected(
            "invalid_signature",
            "no v1 signature matches the body; check the webhook secret and that the raw, \
             unparsed request body is verified"
                .into(),
        ));
    }
    let tolerance = tolerance.as_secs();
    if now_unix.saturating_sub(header.t) > tolerance {
        return Err(rejected(
            "signature_expired",
            format!(
                "the signature timestamp is {} s old, more than the {tolerance} s tolerance \
                 (a replayed delivery, or the receiver's clock is wrong)",
                now_unix - header.t
            ),
        ));
    }
    if header.t.saturating_sub(now_unix) > tolerance {
        return Err(rejected(
            "signature_expired",
            format!(
                "the signature timestamp is {} s in the future, more than the {tolerance} s \
                 tolerance (the sender's or receiver's clock is wrong)",
                header.t - now_unix
            ),
        ));
    }
    Ok(())
}

/// [`verify`] against the system clock.
pub fn verify_now(
    body: &[u8],
    signature_header: &str,
    secret: &[u8],
    tolerance: Duration,
) -> Result<(), Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Error::configuration("the system clock is set before 1970"))?;
    verify(body, signature_header, secret, tolerance, now.as_secs())
}

/// The options of a verification, for bindings that pass them as one object (the C ABI's
/// `options_json`); Python and Node take the same two as arguments of their own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// How far the timestamp may be from `now`, seconds; default [`DEFAULT_TOLERANCE`], and 0
    /// means exactly now.
    #[serde(default, deserialize_with = "tolerance")]
    pub tolerance: Option<Duration>,
    /// The receiver's clock as unix seconds; default the system clock (tests pin it).
    pub now: Option<u64>,
}

impl WebhookSettings {
    /// [`verify`] (or [`verify_now`] without `now`) with these settings.
    pub fn verify(&self, body: &[u8], signature_header: &str, secret: &[u8]) -> Result<(), Error> {
        let tolerance = self.tolerance.unwrap_or(DEFAULT_TOLERANCE);
        match self.now {
            Some(now) => verify(body, signature_header, secret, tolerance, now),
            None => verify_now(body, signature_header, secret, tolerance),
        }
    }
}

/// A tolerance: a finite number of seconds from 0 up to the core's longest duration. Zero is
/// allowed here (unlike a timeout): it asks for the exact second.
fn tolerance<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s = f64::deserialize(d)?;
    let max = crate::domain::decode::MAX_SECONDS;
    if s.is_finite() && (0.0..=max).contains(&s) {
        Ok(Some(Duration::from_secs_f64(s)))
    } else {
        Err(serde::de::Error::custom(format!(
            "must be a number of seconds from 0 up to {max:e}, not {s}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_secret";
    const BODY: &[u8] =
        br#"{"event":"job.completed","job_id":"job_123","data":{"status":"succeeded"}}"#;
    const T: u64 = 1_700_000_000;
    // Computed independently with Python:
    // hmac.new(b"whsec_test_secret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    const V1: &str = "ea7fb2e33f0f7f7cb03b0b28222a07209a948ca361157b2ada0724924f2cee7c";
    // The same for an empty body.
    const V1_EMPTY: &str = "316b9ab98c15bfa039d243f3196acee619cf29749a91a634e6a8154e2f7b6727";

    fn check(header: &str, now: u64) -> Result<(), Error> {
        verify(BODY, header, SECRET, DEFAULT_TOLERANCE, now)
    }

    fn code(r: Result<(), Error>) -> String {
        let err = r.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Validation);
        assert_eq!(err.field.as_deref(), Some(SIGNATURE_HEADER));
        assert!(!err.to_string().contains("whsec_test_secret"));
        err.code.clone().unwrap()
    }

    #[test]
    fn retry_schedule_is_the_documented_one() {
        let mins: Vec<u64> = (1..=5)
            .map(|n| retry_delay(n).unwrap().as_secs() / 60)
            .collect();
        assert_eq!(mins, [1, 5, 15, 60, 360]);
        assert_eq!(retry_delay(0), None);
        assert_eq!(retry_delay(6), None);
        assert_eq!(retry_delay(u32::MAX), None);
    }

    #[test]
    fn destination_debug_hides_the_secret() {
        let d = WebhookDestination {
            workload_id: "wl_1".into(),
            url: "http://127.0.0.1:9/h".into(),
            secret: Some("whsec_topsecret".into()),
            secret_hint: "…cret".into(),
            created_at: String::new(),
            updated_at: String::new(),
        };
        assert!(!format!("{d:?}").contains("topsecret"));
    }

    #[test]
    fn known_vector() {
        assert_eq!(sign(BODY, SECRET, T), format!("t={T},v1={V1}"));
        assert_eq!(sign(b"", SECRET, T), format!("t={T},v1={V1_EMPTY}"));
        check(&format!("t={T},v1={V1}"), T).unwrap();
    }

    #[test]
    fn round_trip() {
        let body = b"\x00binary\xff body";
        let header = sign(body, b"k", 42);
        verify(body, &header, b"k", Duration::from_secs(1), 42).unwrap();
    }

    #[test]
    fn whitespace_order_and_uppercase_hex() {
        let up = V1.to_uppercase();
        check(&format!("  v1 = {up} ,  t = {T} "), T).unwrap();
        check(&format!("t={T},,v1={V1},"), T).unwrap();
    }

    #[test]
    fn any_of_several_v1_passes() {
        let other = "00".repeat(32);
        check(&format!("t={T},v1={other},v1={V1}"), T).unwrap();
        check(&format!("t={T},v1={V1},v1={other}"), T).unwrap();
        assert_eq!(
            code(check(&format!("t={T},v1={other},v1={other}"), T)),
            "invalid_signature"
        );
    }

    #[test]
    fn unknown_schemes_ignored() {
        check(&format!("t={T},v0=abc,v1={V1},v2=zz"), T).unwrap();
        assert_eq!(
            code(check(&format!("t={T},v0={V1}"), T)),
            "malformed_signature"
        );
    }

    #[test]
    fn mismatches() {
        let header = format!("t={T},v1={V1}");
        let tampered_body = verify(b"{}", &header, SECRET, DEFAULT_TOLERANCE, T);
        assert_eq!(code(tampered_body), "invalid_signature");
        let wrong_secret = verify(BODY, &header, b"other", DEFAULT_TOLERANCE, T);
        assert_eq!(code(wrong_secret), "invalid_signature");
        // The timestamp is part of what is signed.
        let shifted = format!("t={},v1={V1}", T + 1);
        assert_eq!(code(check(&shifted, T)), "invalid_signature");
        // As written: a zero-padded t is a different signed string.
        assert_eq!(
            code(check(&format!("t=0{T},v1={V1}"), T)),
            "invalid_signature"
        );
    }

    #[test]
    fn tolerance_window() {
        let header = format!("t={T},v1={V1}");
        check(&header, T + 300).unwrap();
        check(&header, T - 300).unwrap();
        let old = check(&header, T + 301).unwrap_err();
        assert_eq!(old.code.as_deref(), Some("signature_expired"));
        assert!(old.message.contains("301 s old"), "{}", old.message);
        let future = check(&header, T - 301).unwrap_err();
        assert_eq!(future.code.as_deref(), Some("signature_expired"));
        assert!(
            future.message.contains("in the future"),
            "{}",
            future.message
        );
        let strict = verify(BODY, &header, SECRET, Duration::ZERO, T + 1);
        assert_eq!(code(strict), "signature_expired");
        // Far-apart clocks do not overflow.
        assert_eq!(code(check(&header, u64::MAX)), "signature_expired");
        assert_eq!(code(check(&header, 0)), "signature_expired");
    }

    #[test]
    fn forged_and_stale_reads_invalid() {
        let forged = format!("t=1,v1={}", "ab".repeat(32));
        assert_eq!(code(check(&forged, T)), "invalid_signature");
    }

    #[test]
    fn malformed_headers_name_the_problem() {
        let cases = [
            ("", "`t` is missing"),
            ("   ", "`t` is missing"),
            (&format!("v1={V1}") as &str, "`t` is missing"),
            (&format!("t={T}"), "no `v1`"),
            (&format!("t={T},v1"), "no `=`"),
            (&format!("t=,v1={V1}"), "`t` is not a unix timestamp"),
            (&format!("t=-5,v1={V1}"), "`t` is not a unix timestamp"),
            (&format!("t=1.5,v1={V1}"), "`t` is not a unix timestamp"),
            (
                &format!("t=99999999999999999999999,v1={V1}"),
                "not a unix timestamp",
            ),
            (&format!("t={T},t={T},v1={V1}"), "more than once"),
            (&format!("t={T},v1=abc"), "v1 entry 1 is not 64 hex"),
            (
                &format!("t={T},v1={V1},v1={V1}00"),
                "v1 entry 2 is not 64 hex",
            ),
            (&format!("t={T},v1={}", "zz".repeat(32)), "not 64 hex"),
        ];
        for (header, want) in cases {
            let err = check(header, T).unwrap_err();
            assert_eq!(err.code.as_deref(), Some("malformed_signature"), "{header}");
            assert!(err.message.contains(want), "{header}: {}", err.message);
        }
    }

    #[test]
    fn empty_secret_is_a_configuration_error() {
        let header = sign(BODY, b"", T);
        let err = verify(BODY, &header, b"", DEFAULT_TOLERANCE, T).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Configuration);
    }

    #[test]
    fn verify_now_uses_the_clock() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        verify_now(BODY, &sign(BODY, SECRET, now), SECRET, DEFAULT_TOLERANCE).unwrap();
        let stale = sign(BODY, SECRET, now - 3600);
        let err = verify_now(BODY, &stale, SECRET, DEFAULT_TOLERANCE).unwrap_err();
        assert_eq!(err.code.as_deref(), Some("signature_expired"));
    }

    #[test]
    fn settings_decode_and_verify() {
        use crate::domain::decode::{decode_str, no_hint, Role};
        let header = format!("t={T},v1={V1}");
        let s: WebhookSettings = decode_str(
            Some(r#"{"now": 1700000301, "tolerance": 301}"#),
            "options",
            Role::Settings,
            no_hint,
        )
        .unwrap();
        s.verify(BODY, &header, SECRET).unwrap();
        let pinned = WebhookSettings {
            tolerance: None,
            now: Some(T + 301),
        };
        assert_eq!(
            code(pinned.verify(BODY, &header, SECRET)),
            "signature_expired"
        );
        let exact = WebhookSettings {
            tolerance: Some(Duration::ZERO),
            now: Some(T),
        };
        exact.verify(BODY, &header, SECRET).unwrap();
        for bad in [
            r#"{"tolerance": -1}"#,
            r#"{"tolerance": 1e12}"#,
            r#"{"now": -5}"#,
            r#"{"skew": 1}"#,
        ] {
            let err = decode_str::<WebhookSettings>(Some(bad), "options", Role::Settings, no_hint)
                .unwrap_err();
            assert_eq!(err.kind, ErrorKind::Configuration, "{bad}");
            assert!(err.field.is_some(), "{bad}: {err}");
        }
    }
}
