//! Who may see the dashboard: the local admin, who proves it once with a one-time login code
//! (`inferencekey dashboard`, which reads the admin token from the data dir) and then holds a
//! session cookie. The admin token itself never goes near a browser.
//!
//! Codes and sessions are random 32-byte secrets kept only as SHA-256 hashes, so a lookup by
//! hash leaks nothing through timing and a memory dump holds nothing usable. They live in
//! memory: a restarted Manager forgets its sessions, which for a local admin UI is the safe
//! side (run `inferencekey dashboard` again).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// How long a login code can be used, once.
pub const CODE_TTL: Duration = Duration::from_secs(120);
/// How long a session lasts after login.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// The cookie that carries the session; `HttpOnly` and `SameSite=Strict`, scoped to the UI.
pub const COOKIE: &str = "ik_dashboard";
/// Live codes plus sessions kept at most; the oldest go first past it.
const MAX_ENTRIES: usize = 1024;

type Hash = [u8; 32];

fn hash(secret: &str) -> Hash {
    Sha256::digest(secret.as_bytes()).into()
}

fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[derive(Default)]
struct Inner {
    codes: HashMap<Hash, Instant>,
    sessions: HashMap<Hash, Instant>,
}

impl Inner {
    fn prune(&mut self, now: Instant) {
        self.codes.retain(|_, exp| *exp > now);
        self.sessions.retain(|_, exp| *exp > now);
        for map in [&mut self.codes, &mut self.sessions] {
            while map.len() >= MAX_ENTRIES {
                let oldest = map.iter().min_by_key(|(_, exp)| **exp).map(|(k, _)| *k);
                match oldest {
                    Some(k) => map.remove(&k),
                    None => break,
                };
            }
        }
    }
}

/// The dashboard's login codes and sessions.
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<Inner>,
}

impl Sessions {
    /// A new one-time login code.
    pub fn issue_code(&self) -> String {
        let code = new_secret();
        let now = Instant::now();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.prune(now);
        inner.codes.insert(hash(&code), now + CODE_TTL);
        code
    }

    /// Spends a login code; returns the new session's secret when the code was live.
    pub fn redeem(&self, code: &str) -> Option<String> {
        let now = Instant::now();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let expires = inner.codes.remove(&hash(code))?;
        if expires <= now {
            return None;
        }
        inner.prune(now);
        let session = new_secret();
        inner.sessions.insert(hash(&session), now + SESSION_TTL);
        Some(session)
    }

    /// True when the request carries a live session cookie.
    pub fn is_logged_in(&self, headers: &HeaderMap) -> bool {
        let Some(secret) = session_cookie(headers) else {
            return false;
        };
        let now = Instant::now();
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .sessions
            .get(&hash(secret))
            .is_some_and(|exp| *exp > now)
    }

    /// Ends the request's session, if any.
    pub fn logout(&self, headers: &HeaderMap) {
        if let Some(secret) = session_cookie(headers) {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.sessions.remove(&hash(secret));
        }
    }
}

/// The session cookie's value. Parsed by hand: one name in a `Cookie` header is a few lines,
/// not worth a cookie crate in the Manager's build.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// The `Set-Cookie` value that starts a session.
pub fn set_cookie(session: &str) -> String {
    format!(
        "{COOKIE}={session}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age={}",
        SESSION_TTL.as_secs()
    )
}

/// The `Set-Cookie` value that ends one.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::COOKIE,
            HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    #[test]
    fn a_code_logs_in_once() {
        let s = Sessions::default();
        let code = s.issue_code();
        let session = s.redeem(&code).expect("a fresh code works");
        assert!(s.redeem(&code).is_none(), "a code works only once");
        assert!(s.is_logged_in(&with_cookie(&format!("a=b; {COOKIE}={session}"))));
        assert!(!s.is_logged_in(&with_cookie(&format!("{COOKIE}=not-{session}"))));
        assert!(!s.is_logged_in(&HeaderMap::new()));
        s.logout(&with_cookie(&format!("{COOKIE}={session}")));
        assert!(!s.is_logged_in(&with_cookie(&format!("{COOKIE}={session}"))));
    }

    #[test]
    fn unknown_and_empty_codes_do_not_log_in() {
        let s = Sessions::default();
        assert!(s.redeem("").is_none());
        assert!(s.redeem("made-up").is_none());
    }

    #[test]
    fn entries_are_bounded() {
        let s = Sessions::default();
        for _ in 0..(MAX_ENTRIES + 50) {
            s.issue_code();
        }
        let inner = s.inner.lock().unwrap();
        assert!(inner.codes.len() <= MAX_ENTRIES);
    }

    #[test]
    fn cookies_are_http_only_and_strict() {
        let c = set_cookie("abc");
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict"));
        assert!(c.starts_with("ik_dashboard=abc;"));
        assert!(clear_cookie().contains("Max-Age=0"));
    }
}
