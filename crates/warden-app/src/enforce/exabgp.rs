//! The ExaBGP adapter (DDOS-7): blackholes exported to the network as BGP routes.
//!
//! A border router drops traffic to a blackholed IP when it learns a host route to it tagged
//! with the RFC 7999 BLACKHOLE community. ExaBGP speaks BGP to the routers and runs a process
//! that writes it text commands: `warden exabgp-bridge`, which pulls the change feed itself
//! (snapshot, then long-polls), writes `announce route` / `withdraw route` lines and, once
//! ExaBGP acknowledged them, confirms up to a revision through `POST /api/enforcement/confirm`.
//! So this adapter pushes nothing ([`Mode::Pull`]): it exists so that every blackhole gets a
//! delivery row for `exabgp:<name>` and is `applied` only once that border has confirmed it
//! (ENF-2, PEN-3). The routes it renders live here too, so the adapter and the lines it stands
//! for are read and tested in one place.

use std::net::IpAddr;

use warden_domain::penalty::Action;
use warden_store::enforcement::EnforcementChange;

use super::adapter::{Adapter, AdapterError, Mode, PushFuture};

/// The delivery-record name of a bridge (`exabgp:<name>`).
pub fn exabgp_adapter_name(name: &str) -> String {
    format!("exabgp:{name}")
}

/// One configured ExaBGP bridge: the border that enforces blackholes.
#[derive(Debug, Clone)]
pub struct ExabgpAdapter {
    name: String,
}

impl ExabgpAdapter {
    /// The adapter of bridge `name` (`[[exabgp]] name = ...`).
    pub fn new(name: &str) -> Self {
        ExabgpAdapter {
            name: exabgp_adapter_name(name),
        }
    }
}

impl Adapter for ExabgpAdapter {
    fn name(&self) -> &str {
        &self.name
    }

    fn mode(&self) -> Mode {
        Mode::Pull
    }

    fn handles(&self, change: &EnforcementChange) -> bool {
        change.action == Action::Blackhole
    }

    fn push<'a>(&'a self, _changes: &'a [EnforcementChange]) -> PushFuture<'a> {
        // Never called: the bridge pulls. Saying so beats pretending the routes are held.
        Box::pin(async {
            Err(AdapterError::new(
                "the ExaBGP bridge pulls the change feed; nothing pushes to it",
            ))
        })
    }
}

/// The host route a blackhole's target stands for: a bare IPv4 address is a /32, a bare IPv6
/// address a /128. Anything else (a URL, a host name, a network) is `None`: a blackhole null-
/// routes one address, and guessing which one a name means would drop someone else's traffic.
pub fn blackhole_prefix(target: &str) -> Option<String> {
    match target.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(ip) => Some(format!("{ip}/32")),
        IpAddr::V6(ip) => Some(format!("{ip}/128")),
    }
}

/// What the announced routes carry: the next hop per family (a discard address the routers
/// route to null) and the communities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteAttributes {
    /// Next hop of IPv4 routes (default `192.0.2.1`, TEST-NET-1: routers map it to discard).
    pub next_hop_v4: std::net::Ipv4Addr,
    /// Next hop of IPv6 routes (default `100::1`, the RFC 6666 discard prefix).
    pub next_hop_v6: std::net::Ipv6Addr,
    /// Communities, as ExaBGP writes them (default `65535:666` — RFC 7999 BLACKHOLE — and
    /// `no-export`, so the route never leaves the provider's AS).
    pub communities: Vec<String>,
}

impl Default for RouteAttributes {
    fn default() -> Self {
        RouteAttributes {
            next_hop_v4: std::net::Ipv4Addr::new(192, 0, 2, 1),
            next_hop_v6: std::net::Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 1),
            communities: vec!["65535:666".into(), "no-export".into()],
        }
    }
}

/// Whether `text` is a community ExaBGP's text encoder reads: `ASN:VALUE` (16-bit each) or a
/// well-known name.
pub fn valid_community(text: &str) -> bool {
    const NAMED: [&str; 4] = ["no-export", "no-advertise", "no-export-subconfed", "nopeer"];
    if NAMED.contains(&text) {
        return true;
    }
    text.split_once(':')
        .is_some_and(|(a, v)| a.parse::<u16>().is_ok() && v.parse::<u16>().is_ok())
}

/// The ExaBGP command announcing `prefix` (from [`blackhole_prefix`]).
pub fn announce_line(prefix: &str, attrs: &RouteAttributes) -> String {
    let next_hop = if prefix.contains(':') {
        attrs.next_hop_v6.to_string()
    } else {
        attrs.next_hop_v4.to_string()
    };
    let mut line = format!("announce route {prefix} next-hop {next_hop}");
    if !attrs.communities.is_empty() {
        line.push_str(&format!(" community [{}]", attrs.communities.join(" ")));
    }
    line
}

/// The ExaBGP command withdrawing `prefix`.
pub fn withdraw_line(prefix: &str) -> String {
    format!("withdraw route {prefix}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bare_ip_is_a_host_route() {
        assert_eq!(blackhole_prefix("203.0.113.7").unwrap(), "203.0.113.7/32");
        assert_eq!(
            blackhole_prefix(" 2001:db8::7 ").unwrap(),
            "2001:db8::7/128"
        );
        assert_eq!(
            blackhole_prefix("2001:0db8:0:0::7").unwrap(),
            "2001:db8::7/128"
        );
        for other in [
            "http://203.0.113.7/",
            "203.0.113.0/24",
            "shop.example",
            "[2001:db8::7]",
            "",
        ] {
            assert_eq!(blackhole_prefix(other), None, "{other}");
        }
    }

    #[test]
    fn lines_are_exabgp_text_commands() {
        let a = RouteAttributes::default();
        assert_eq!(
            announce_line("203.0.113.7/32", &a),
            "announce route 203.0.113.7/32 next-hop 192.0.2.1 community [65535:666 no-export]"
        );
        assert_eq!(
            announce_line("2001:db8::7/128", &a),
            "announce route 2001:db8::7/128 next-hop 100::1 community [65535:666 no-export]"
        );
        assert_eq!(
            withdraw_line("203.0.113.7/32"),
            "withdraw route 203.0.113.7/32"
        );
        let none = RouteAttributes {
            communities: vec![],
            ..a
        };
        assert_eq!(
            announce_line("203.0.113.7/32", &none),
            "announce route 203.0.113.7/32 next-hop 192.0.2.1"
        );
    }

    #[test]
    fn communities_are_checked() {
        assert!(valid_community("65535:666"));
        assert!(valid_community("no-export"));
        assert!(!valid_community("65536:1"));
        assert!(!valid_community("666"));
        assert!(!valid_community("x]; shutdown"));
    }

    #[test]
    fn the_adapter_handles_blackholes_only_and_never_pushes() {
        let a = ExabgpAdapter::new("border");
        assert_eq!(a.name(), "exabgp:border");
        assert_eq!(a.mode(), Mode::Pull);
        let mut c = super::super::lift_of("act_1", Action::Blackhole, 1);
        assert!(a.handles(&c));
        c.action = Action::BlockNetwork;
        assert!(!a.handles(&c));
    }
}
