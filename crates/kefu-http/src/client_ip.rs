//! Who the client is, for rate limits: the connection's peer address, or — when that peer is one
//! of the operator's reverse proxies (`--trusted-proxies`) — the address the proxy reports in
//! `X-Forwarded-For` / `X-Real-IP`.
//!
//! Without this, a kefu behind nginx sees every request come from nginx, and the whole site shares
//! one address's 10 logins and 60 new shoppers a minute. Headers from anyone else are ignored: a
//! client cannot pick its own address by sending `X-Forwarded-For`.

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// An address block such as `10.0.0.0/8`, `192.168.1.7` or `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| format!("'{s}' is not an address or CIDR block"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{s}': the prefix must be 0-{max}"))?,
        };
        Ok(Cidr { network, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client seen through an IPv6 socket (::ffff:a.b.c.d) is the IPv4 client.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The client's address as [`crate::auth::ClientIp`] reports it, stored in the request's
/// extensions by [`resolve_client_ip`].
#[derive(Debug, Clone, Copy)]
pub struct ResolvedClientIp(pub IpAddr);

/// The client behind `peer`: `peer` itself unless it is a trusted proxy; then the right-most
/// address of `X-Forwarded-For` that is not a trusted proxy (each proxy appends the address it
/// saw, so what is left of the last trusted hop was written by someone we cannot trust), or
/// `X-Real-IP`.
pub fn client_behind(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    if let Some(&client) = forwarded.iter().rev().find(|ip| !is_trusted(**ip)) {
        return client;
    }
    if let Some(first) = forwarded.first() {
        return *first; // every hop is ours: the first is the client
    }
    headers
        .get("x-real-ip")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(peer)
}

/// The middleware: resolves the client's address once per request.
pub async fn resolve_client_ip(
    trusted: std::sync::Arc<Vec<Cidr>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(peer) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    {
        let client = client_behind(peer, request.headers(), &trusted);
        request.extensions_mut().insert(ResolvedClientIp(client));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_blocks() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains(ip("10.2.3.4")) && !c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.9.9.9")), "IPv4-mapped");
        let one: Cidr = "192.168.1.7".parse().unwrap();
        assert!(one.contains(ip("192.168.1.7")) && !one.contains(ip("192.168.1.8")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/x", "::/129"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_only_from_trusted_proxies() {
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "6.6.6.6, 1.2.3.4, 10.0.0.2".parse().unwrap(),
        );
        // From the proxy: the right-most untrusted hop (6.6.6.6 was written by the client).
        assert_eq!(client_behind(ip("10.0.0.1"), &h, &trusted), ip("1.2.3.4"));
        // From anyone else: the header is a lie we ignore.
        assert_eq!(client_behind(ip("5.5.5.5"), &h, &trusted), ip("5.5.5.5"));
        // No proxies configured: always the peer.
        assert_eq!(client_behind(ip("10.0.0.1"), &h, &[]), ip("10.0.0.1"));
        let mut real = HeaderMap::new();
        real.insert("x-real-ip", "2.2.2.2".parse().unwrap());
        assert_eq!(
            client_behind(ip("10.0.0.1"), &real, &trusted),
            ip("2.2.2.2")
        );
        assert_eq!(
            client_behind(ip("10.0.0.1"), &HeaderMap::new(), &trusted),
            ip("10.0.0.1")
        );
    }
}
