//! The canonical forms of URLs, hosts and IP networks are Warden's one canonicaliser,
//! [`warden_domain::canonical`], shared with intake, owner lookup and the RPZ, so that a rule
//! and a query — and the case behind the rule — always agree on what a target is. This module
//! only gives its errors the index's [`Error`] type.

use std::net::IpAddr;

use ipnet::IpNet;
use warden_domain::canonical;

pub use warden_domain::canonical::{MAX_HOST_LEN, MAX_URL_LEN, NormUrl, Scheme};
pub(crate) use warden_domain::canonical::{canonical_net, ends_in_number, is_unreserved};

use super::Error;

impl From<canonical::Error> for Error {
    fn from(e: canonical::Error) -> Self {
        match e {
            canonical::Error::NotAUrl(s) => Error::NotAUrl(s),
            canonical::Error::UnsupportedScheme(s) => Error::UnsupportedScheme(s),
            canonical::Error::MissingHost => Error::MissingHost,
            canonical::Error::InvalidIpv4(s) => Error::InvalidHost(s, "invalid IPv4 address"),
            canonical::Error::InvalidHost(s, why) => Error::InvalidHost(s, why),
            canonical::Error::InvalidPort(s) => Error::InvalidPort(s),
            canonical::Error::InvalidIp(s) => Error::InvalidIp(s),
            canonical::Error::TooLong { max } => Error::TooLong { max },
        }
    }
}

/// Normalises an absolute `http`/`https` URL ([`canonical::normalise_url`]).
pub fn normalise_url(input: &str) -> Result<NormUrl, Error> {
    Ok(canonical::normalise_url(input)?)
}

/// Normalises a bare host: a name, a dotted IPv4 address, or an IPv6 address with or without
/// brackets ([`canonical::normalise_host`]). Returns the canonical text and the address when
/// it is an IP.
pub fn normalise_host(input: &str) -> Result<(String, Option<IpAddr>), Error> {
    Ok(canonical::normalise_host(input)?)
}

/// Parses an address or a CIDR into its canonical network ([`canonical::parse_net`]).
pub(crate) fn parse_net(value: &str) -> Result<IpNet, Error> {
    Ok(canonical::parse_net(value)?)
}
