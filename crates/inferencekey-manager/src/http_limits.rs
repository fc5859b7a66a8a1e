//! The Manager's HTTP server loop, with the limits `axum::serve` does not offer.
//!
//! `axum::serve` sets no timer, so hyper applies no header timeout: a connection that sends
//! nothing stays open forever. 1,050 idle unauthenticated sockets at the common 1,024-fd limit
//! made every real request wait (accept failed with EMFILE). Here:
//!
//! * the soft fd limit is raised to the hard limit at start ([`raise_fd_limit`]);
//! * each connection must send a complete request head within the header timeout, and an
//!   idle kept-alive connection is closed after the same time (hyper's header-read timer
//!   runs while it waits for the next request);
//! * at most [`max_connections`] connections are served at once; past that a new connection
//!   is closed at once rather than left in the kernel's queue;
//! * shutdown stops accepting, asks every connection to finish its request, and waits a
//!   bounded time.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// File descriptors kept free for engines' pipes, log files, SQLite and outgoing calls.
const FD_RESERVE: u64 = 256;
/// Upper bound on served connections whatever the fd limit.
const MAX_CONNECTIONS: u64 = 16_384;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit now in force.
pub fn raise_fd_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid out-pointer.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let wanted = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 {
                return wanted.rlim_cur;
            }
        }
        lim.rlim_cur
    }
}

/// How many connections to serve at once with `fd_limit` descriptors.
pub fn max_connections(fd_limit: u64) -> usize {
    fd_limit
        .saturating_sub(FD_RESERVE)
        .clamp(64, MAX_CONNECTIONS) as usize
}

/// Serves `app` on `listener` until `stop`, then drains for at most `drain`.
pub async fn serve(
    listener: TcpListener,
    app: crate::front::Front,
    stop: CancellationToken,
    header_timeout: Duration,
    max_conns: usize,
    drain: Duration,
) {
    let slots = Arc::new(Semaphore::new(max_conns));
    let conns = CancellationToken::new();
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            a = listener.accept() => a,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // EMFILE/ENFILE and friends: back off briefly instead of spinning.
                tracing::warn!(error = %e, "could not accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // Over the limit: closing at once tells the client; queueing would not.
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let service = app.clone();
        let shutdown = conns.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true);
            let conn = builder
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    conns.cancel();
    let all = u32::try_from(max_conns).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(drain, slots.acquire_many(all)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_limits_follow_the_fd_limit() {
        assert_eq!(max_connections(1024), 768);
        assert_eq!(max_connections(100), 64);
        assert_eq!(max_connections(1 << 20), 16_384);
    }

    #[test]
    fn the_fd_limit_is_raised_to_the_hard_limit() {
        let now = raise_fd_limit();
        // SAFETY: as in raise_fd_limit.
        let hard = unsafe {
            let mut lim: libc::rlimit = std::mem::zeroed();
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
            lim.rlim_max
        };
        assert_eq!(now, hard);
    }
}
