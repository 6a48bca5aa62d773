//! Guards at the edge: login throttling per account and per client address, and a cross-site
//! request check for writes.
//!
//! Login attempts are counted whether they succeed or not, so guessing a password slows to
//! the quota however it is spread across addresses or accounts. Cookies are `SameSite=Strict`
//! already; the cross-site check refuses writes a browser marks as coming from another site
//! (`Sec-Fetch-Site: cross-site`, or an `Origin` that is not this host) as defence in depth.

use super::ApiError;
use axum::extract::{ConnectInfo, Request};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

/// Attempts per account: a burst of 5, then one every 12 seconds.
const PER_ACCOUNT_BURST: u32 = 5;
const PER_ACCOUNT_PERIOD_SECS: u64 = 12;
/// Attempts per client address: a burst of 20, then one every 3 seconds.
const PER_ADDRESS_BURST: u32 = 20;
const PER_ADDRESS_PERIOD_SECS: u64 = 3;

pub struct LoginLimits {
    accounts: DefaultKeyedRateLimiter<String>,
    addresses: DefaultKeyedRateLimiter<IpAddr>,
}

fn quota(burst: u32, period_secs: u64) -> Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(std::time::Duration::from_secs(period_secs))
        .map(|q| q.allow_burst(burst))
        // A zero period is the only failure and the constants above are not zero.
        .unwrap_or_else(|| Quota::per_minute(burst))
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            accounts: RateLimiter::keyed(quota(PER_ACCOUNT_BURST, PER_ACCOUNT_PERIOD_SECS)),
            addresses: RateLimiter::keyed(quota(PER_ADDRESS_BURST, PER_ADDRESS_PERIOD_SECS)),
        }
    }
}

impl LoginLimits {
    /// Count one attempt; an error says how long to wait.
    pub fn check(&self, username: &str, address: Option<IpAddr>) -> Result<(), ApiError> {
        if self.accounts.len() > 10_000 {
            self.accounts.retain_recent();
            self.addresses.retain_recent();
        }
        let by_address = address
            .map(|a| self.addresses.check_key(&a))
            .unwrap_or(Ok(()));
        let by_account = self.accounts.check_key(&username.to_lowercase());
        if by_address.is_err() || by_account.is_err() {
            let wait = if by_account.is_err() {
                PER_ACCOUNT_PERIOD_SECS
            } else {
                PER_ADDRESS_PERIOD_SECS
            };
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many sign-in attempts; try again in {wait} seconds"),
            ));
        }
        Ok(())
    }
}

/// The peer address of a connection, over plain TCP or TLS, for [`client_ip`].
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, crate::tls::TlsListener>>
    for PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, crate::tls::TlsListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

/// The client address, when the server was started with connection info.
pub fn client_ip(req_extensions: &axum::http::Extensions) -> Option<IpAddr> {
    req_extensions
        .get::<ConnectInfo<PeerAddr>>()
        .map(|c| c.0.0.ip())
}

/// Refuse state-changing requests (and socket upgrades) a browser marks as cross-site.
pub async fn same_site_writes(req: Request, next: Next) -> Result<Response, ApiError> {
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let upgrade = req.headers().contains_key(header::UPGRADE);
    if writes || upgrade {
        let headers = req.headers();
        let cross_site = headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"));
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        let foreign_origin = headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|origin| {
                let origin_host = origin.split("://").nth(1).unwrap_or(origin);
                host.is_none_or(|h| !origin_host.eq_ignore_ascii_case(h))
            });
        if cross_site || foreign_origin {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "cross_site",
                "requests from other sites are refused",
            ));
        }
    }
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_throttled_after_its_burst_whatever_the_address() {
        let limits = LoginLimits::default();
        for i in 0..PER_ACCOUNT_BURST {
            let addr = Some(IpAddr::from([10, 0, 0, i as u8]));
            assert!(limits.check("officer", addr).is_ok(), "attempt {i}");
        }
        let err = limits
            .check("OFFICER", Some(IpAddr::from([10, 0, 1, 1])))
            .unwrap_err();
        assert_eq!(err.code(), "rate_limited");
        assert!(
            limits.check("auditor", None).is_ok(),
            "other accounts are unaffected"
        );
    }

    #[test]
    fn an_address_is_throttled_across_accounts() {
        let limits = LoginLimits::default();
        let addr = Some(IpAddr::from([192, 0, 2, 7]));
        for i in 0..PER_ADDRESS_BURST {
            assert!(limits.check(&format!("user{i}"), addr).is_ok());
        }
        assert!(limits.check("someone-else", addr).is_err());
        assert!(
            limits
                .check("someone-else", Some(IpAddr::from([192, 0, 2, 8])))
                .is_ok()
        );
    }
}
