//! Who is asking: the client's address, proxy-aware.
//!
//! The address is the TCP peer (axum's `ConnectInfo`). Only when that peer is one of
//! `[server] trusted_proxies` is `X-Forwarded-For` believed, and then only up to the first hop
//! that is not itself a trusted proxy, read from the right: every hop left of that was written by
//! the client and may be forged. `X-Forwarded-Proto` is likewise read only from a trusted proxy.
//!
//! Limits are counted per [`Client::key`]: an IPv4 address, or an IPv6 /64 (one host or one
//! household usually holds a whole /64, so counting single IPv6 addresses would let one client
//! take a new quota for every request).

use super::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// An entry of `[server] trusted_proxies` that is neither an address nor a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[server] trusted_proxies: {entry:?} {reason}")]
pub struct TrustedProxyError {
    pub entry: String,
    pub reason: &'static str,
}

/// One address block: `addr/prefix`, with the bits past the prefix zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    addr: IpAddr,
    prefix: u8,
}

impl Block {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => mask_v4(ip, self.prefix) == net,
            (IpAddr::V6(net), IpAddr::V6(ip)) => mask_v6(ip, self.prefix) == net,
            _ => false,
        }
    }
}

fn mask_v4(ip: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let bits = u32::from(ip);
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    Ipv4Addr::from(bits & mask)
}

fn mask_v6(ip: Ipv6Addr, prefix: u8) -> Ipv6Addr {
    let bits = u128::from(ip);
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    Ipv6Addr::from(bits & mask)
}

/// The proxies whose forwarding headers poort believes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    blocks: Vec<Block>,
}

impl TrustedProxies {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.blocks.iter().any(|b| b.contains(ip))
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
}

/// Parses `[server] trusted_proxies`: addresses (`10.0.0.5`, `::1`) and CIDR blocks
/// (`10.0.0.0/8`, `fd00::/8`). A block with bits set past its prefix (`10.0.0.5/8`) is refused,
/// since it is most likely a typo for something narrower.
pub fn parse_trusted_proxies(entries: &[String]) -> Result<TrustedProxies, TrustedProxyError> {
    let blocks = entries
        .iter()
        .map(|e| parse_block(e))
        .collect::<Result<_, _>>()?;
    Ok(TrustedProxies { blocks })
}

fn parse_block(entry: &str) -> Result<Block, TrustedProxyError> {
    let bad = |reason| TrustedProxyError {
        entry: entry.to_string(),
        reason,
    };
    let text = entry.trim();
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| bad("is not an IP address or CIDR block"))?;
    let addr = addr.to_canonical();
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(p) if p <= max => p,
            _ => {
                return Err(bad(
                    "has a prefix length that is not a number within the address size",
                ))
            }
        },
    };
    let masked = match addr {
        IpAddr::V4(a) => IpAddr::V4(mask_v4(a, prefix)),
        IpAddr::V6(a) => IpAddr::V6(mask_v6(a, prefix)),
    };
    if masked != addr {
        return Err(bad(
            "has bits set past its prefix length (write the first address of the block)",
        ));
    }
    Ok(Block { addr, prefix })
}

/// The client of a request, as far as poort can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The client's address: the peer, or what trusted proxies say the client's address is.
    pub addr: IpAddr,
    /// `X-Forwarded-Proto` (`https`, `http`) when a trusted proxy sent it.
    pub forwarded_proto: Option<String>,
}

impl Client {
    /// What limits are counted by: an IPv4 address, or the IPv6 /64 of an address.
    pub fn key(&self) -> IpAddr {
        match self.addr.to_canonical() {
            IpAddr::V4(a) => IpAddr::V4(a),
            IpAddr::V6(a) => IpAddr::V6(mask_v6(a, 64)),
        }
    }

    /// The client behind `peer`, given the request's headers.
    pub fn from_parts(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> Client {
        let peer = peer.to_canonical();
        if !trusted.contains(peer) {
            return Client {
                addr: peer,
                forwarded_proto: None,
            };
        }
        // Right to left: each trusted hop vouches for the one before it; the first hop that is
        // not a trusted proxy is the client. A hop that is no address ends the walk at the last
        // proxy that could be believed.
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim);
        let mut addr = peer;
        for hop in hops.rev() {
            match parse_hop(hop) {
                Some(ip) if trusted.contains(ip) => addr = ip,
                Some(ip) => {
                    addr = ip;
                    break;
                }
                None => break,
            }
        }
        let forwarded_proto = headers
            .get_all("x-forwarded-proto")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_ascii_lowercase())
            .next_back()
            .filter(|p| p == "http" || p == "https");
        Client {
            addr,
            forwarded_proto,
        }
    }
}

/// One hop of `X-Forwarded-For`: an address, possibly with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// Set once a request came without the peer's address, so that this is logged once.
static NO_PEER_LOGGED: AtomicBool = AtomicBool::new(false);

/// The peer of a request. Without `ConnectInfo` (a router served without
/// `into_make_service_with_connect_info`) every client shares one address, and so one quota:
/// limits then fail closed, loudly.
fn peer(parts: &Parts) -> IpAddr {
    match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => addr.ip(),
        None => {
            if !NO_PEER_LOGGED.swap(true, Ordering::Relaxed) {
                tracing::error!(
                    "requests arrive without the peer's address (ConnectInfo): every client shares one quota"
                );
            }
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Client::from_parts(
            peer(parts),
            &parts.headers,
            state.limits.trusted_proxies(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(entries: &[&str]) -> TrustedProxies {
        parse_trusted_proxies(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>())
            .expect("valid proxies")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("header value"));
        }
        h
    }

    #[test]
    fn addresses_and_blocks_parse_and_match() {
        let p = proxies(&["10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1", "0.0.0.0/0"]);
        assert!(p.contains(ip("10.200.3.4")));
        assert!(p.contains(ip("192.168.1.7")));
        assert!(p.contains(ip("fd12::5")));
        assert!(p.contains(ip("::1")));
        // An IPv4 address carried in IPv6 is the IPv4 address.
        assert!(p.contains(ip("::ffff:10.1.2.3")));
        let p = proxies(&["10.0.0.0/8", "192.168.1.7"]);
        assert!(!p.contains(ip("11.0.0.1")));
        assert!(!p.contains(ip("192.168.1.8")));
        assert!(!p.contains(ip("fe80::1")));
        assert!(proxies(&[]).is_empty());
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        for (entry, reason) in [
            ("proxy.example", "is not an IP address or CIDR block"),
            (
                "10.0.0.0/33",
                "has a prefix length that is not a number within the address size",
            ),
            (
                "10.0.0.0/x",
                "has a prefix length that is not a number within the address size",
            ),
            (
                "10.0.0.5/8",
                "has bits set past its prefix length (write the first address of the block)",
            ),
        ] {
            let e = parse_trusted_proxies(&[entry.to_string()]).expect_err(entry);
            assert_eq!(e.reason, reason, "{entry}");
            assert!(e.to_string().contains(entry));
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_peer() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.9, 203.0.113.5"),
            ("x-forwarded-proto", "https"),
        ]);
        // From the proxy: the right-most address that is not a proxy.
        let c = Client::from_parts(ip("10.0.0.2"), &h, &trusted);
        assert_eq!(c.addr, ip("203.0.113.5"));
        assert_eq!(c.forwarded_proto.as_deref(), Some("https"));
        // From anyone else the headers are ignored.
        let c = Client::from_parts(ip("203.0.113.77"), &h, &trusted);
        assert_eq!(c.addr, ip("203.0.113.77"));
        assert_eq!(c.forwarded_proto, None);
    }

    #[test]
    fn a_forged_left_part_does_not_move_the_client() {
        let trusted = proxies(&["10.0.0.0/8"]);
        // The client wrote "1.2.3.4" itself; the outer proxy appended the real peer, then an
        // inner proxy appended the outer one.
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "203.0.113.5, 10.0.0.9"),
        ]);
        let c = Client::from_parts(ip("10.0.0.2"), &h, &trusted);
        assert_eq!(c.addr, ip("203.0.113.5"));
        // A hop that is no address stops the walk at the last believable proxy.
        let h = headers(&[("x-forwarded-for", "203.0.113.5, junk, 10.0.0.9")]);
        let c = Client::from_parts(ip("10.0.0.2"), &h, &trusted);
        assert_eq!(c.addr, ip("10.0.0.9"));
        // Ports are allowed.
        let h = headers(&[("x-forwarded-for", "[2001:db8::7]:443")]);
        let c = Client::from_parts(ip("10.0.0.2"), &h, &trusted);
        assert_eq!(c.addr, ip("2001:db8::7"));
        // No header: the proxy itself.
        let c = Client::from_parts(ip("10.0.0.2"), &HeaderMap::new(), &trusted);
        assert_eq!(c.addr, ip("10.0.0.2"));
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let c = |a: &str| Client {
            addr: ip(a),
            forwarded_proto: None,
        };
        assert_eq!(
            c("2001:db8:1:2:aaaa::1").key(),
            c("2001:db8:1:2:bbbb::9").key()
        );
        assert_ne!(c("2001:db8:1:2::1").key(), c("2001:db8:1:3::1").key());
        assert_eq!(c("::ffff:192.0.2.1").key(), ip("192.0.2.1"));
        assert_eq!(c("192.0.2.1").key(), ip("192.0.2.1"));
    }
}
