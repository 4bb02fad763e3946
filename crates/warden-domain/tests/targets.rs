//! RES-2 / INT-4: one canonical form per target. Every spelling of a URL, domain or IP gives
//! one canonical text and one set of owner-lookup keys; identifiers are canonical the same way;
//! what cannot be a target is refused naming it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use ipnet::IpNet;
use proptest::prelude::*;
use warden_domain::canonical::normalise_url;
use warden_domain::resource::{Identifier, IdentifierKind, Target, special_block};

fn canonical(t: &str) -> (String, Vec<String>) {
    let t = Target::parse(t).unwrap_or_else(|e| panic!("{t}: {e}"));
    (t.canonical(), t.candidate_keys())
}

/// The spellings that must meet, and where.
#[test]
fn one_canonical_form_per_target_table() {
    let table: &[(&str, &[&str])] = &[
        (
            "https://host.example/a/b",
            &[
                "HTTPS://Host.Example:443/a/./b",
                "https://host.example/a/x/../b",
                "https://host.example./a/b",
                "https://host.example/%61/%62",
                "https://HOST.example:0443/a/b#frag",
                "https://user@host.example/a/b",
                "https://%68ost.example/a/b",
            ],
        ),
        (
            "https://xn--fsqu00a.xn--0zwm56d/",
            &[
                "https://例子.测试/",
                "https://例子。测试/",
                "https://XN--FSQU00A.XN--0ZWM56D./",
                "https://例子.测试",
            ],
        ),
        (
            "http://192.0.2.55/x",
            &["http://[::ffff:192.0.2.55]/x", "HTTP://192.0.2.55:80/x"],
        ),
        ("192.0.2.55", &["::ffff:192.0.2.55", "[::ffff:192.0.2.55]"]),
        ("2001:db8::1", &["2001:DB8:0::1", "[2001:db8::1]"]),
        (
            "xn--fsqu00a.xn--0zwm56d",
            &["例子.测试", "例子.测试.", "XN--fsqu00a.xn--0zwm56d"],
        ),
        ("host.example", &["Host.Example.", "host。example"]),
    ];
    for (want, spellings) in table {
        let (text, keys) = canonical(want);
        assert_eq!(&text, want, "{want} is its own canonical form");
        for s in *spellings {
            assert_eq!(canonical(s), (text.clone(), keys.clone()), "{s}");
        }
    }
    // ...and spellings that must not meet: another port, another path, another scheme's
    // default port.
    for (a, b) in [
        ("http://h.example:8080/", "http://h.example/"),
        ("https://h.example/a", "https://h.example/A"),
        ("http://h.example:443/", "https://h.example/"),
        ("https://h.example/a%2Fb", "https://h.example/a/b"),
    ] {
        assert_ne!(canonical(a).0, canonical(b).0, "{a} vs {b}");
    }
}

/// Intake's canonical URL is the decision index's: the one canonicaliser.
#[test]
fn the_url_target_is_the_canonical_url() {
    for u in [
        "HTTPS://Host.Example:443/a/./b?q=%7e#f",
        "https://例子.测试/页面",
        "http://[2001:DB8::1]:8080/x",
        "http://[::ffff:192.0.2.1]/",
    ] {
        assert_eq!(
            Target::parse(u).unwrap().canonical(),
            normalise_url(u).unwrap().as_str(),
            "{u}"
        );
    }
}

/// RES-2: a `url_prefix` without a scheme is `host[:port][/path]` whose host is written as a
/// bare target's (a DNS name of two labels or more, or an IP address); anything else is refused,
/// not read as some other host. The contract check's negative data found `例子` stored as
/// `xn--fsqu00a/`; `ftp://x.example/` was stored as `ftp//x.example` and `/shop` as `shop/`.
#[test]
fn regression_url_prefix_without_scheme_needs_a_host() {
    let id =
        |v: &str| Identifier::parse(IdentifierKind::UrlPrefix, v).map(|i| i.value().to_string());
    for v in [
        "例子",
        "ĳ",
        "xn--abc",
        "a",
        "localhost/app",
        "0",
        "1.2.3/x",
        "/shop",
        "_/",
        "ftp://x.example/",
        "mailto:x@y.example",
        "ops@x.example/shop",
        "x.example/ a",
        ":8080/x",
        "2001:db8::1/x",
    ] {
        let err = id(v).expect_err(v);
        assert_eq!(err.field, "value", "{v}");
    }
    assert_eq!(id("example.com/shop").unwrap(), "example.com/shop");
    assert_eq!(id("例子.测试/").unwrap(), "xn--fsqu00a.xn--0zwm56d/");
    assert_eq!(id("shop.example:8080").unwrap(), "shop.example:8080/");
    assert_eq!(id("203.0.113.5:8080/a").unwrap(), "203.0.113.5:8080/a");
    assert_eq!(id("[2001:db8::1]/x").unwrap(), "[2001:db8::1]/x");
    // With a scheme, a URL as a report may name it.
    assert_eq!(id("http://localhost/app").unwrap(), "localhost/app");
}

/// RES-2: a non-default port is part of a `url_prefix` identifier and of the keys a URL looks
/// up; the default port is no port.
#[test]
fn regression_url_prefix_identifier_kept_no_port() {
    let id = |v: &str| {
        Identifier::parse(IdentifierKind::UrlPrefix, v)
            .unwrap()
            .value()
            .to_string()
    };
    assert_eq!(id("http://Shop.Example:8080/app/"), "shop.example:8080/app");
    assert_eq!(id("shop.example:8080/app"), "shop.example:8080/app");
    assert_eq!(id("https://shop.example:443/app"), "shop.example/app");
    assert_eq!(id("shop.example/app"), "shop.example/app");
    assert_eq!(id("https://例子.测试/"), "xn--fsqu00a.xn--0zwm56d/");
    assert_eq!(id("http://[2001:db8::1]:8080/x"), "[2001:db8::1]:8080/x");
    let keys = canonical("http://shop.example:8080/app/x").1;
    assert!(
        keys.contains(&"u:shop.example:8080/app".to_string()),
        "{keys:?}"
    );
    assert!(
        !keys.contains(&"u:shop.example/app".to_string()),
        "{keys:?}"
    );
}

/// RES-2: an IPv4-mapped IPv6 address or block is its IPv4 one.
#[test]
fn regression_mapped_ipv6_identifier_was_not_its_ipv4() {
    for (kind, value, want) in [
        (
            IdentifierKind::PublicIp,
            "::ffff:192.0.2.55",
            "192.0.2.55/32",
        ),
        (
            IdentifierKind::PublicIp,
            "::ffff:192.0.2.0/120",
            "192.0.2.0/24",
        ),
        (IdentifierKind::InternalIp, "::ffff:10.0.0.1", "10.0.0.1/32"),
    ] {
        assert_eq!(Identifier::parse(kind, value).unwrap().value(), want);
    }
    assert_eq!(
        Target::parse("::ffff:192.0.2.55").unwrap().canonical(),
        "192.0.2.55"
    );
}

/// RES-2: `public_ip` refuses what is not the public internet, naming the value; the
/// documentation prefixes stay usable.
#[test]
fn regression_public_ip_accepted_special_blocks() {
    for bad in [
        "0.0.0.0/0",
        "0.0.0.0",
        "::",
        "::/0",
        "1.0.0.0/7",
        "2000::/3",
        "127.0.0.1",
        "::1",
        "169.254.169.254",
        "fd00:ec2::254",
        "100.100.100.200",
        "fe80::1",
        "10.0.0.0/8",
        "172.16.5.4",
        "192.168.1.1",
        "224.0.0.1",
        "ff02::1",
        "255.255.255.255",
        "240.0.0.1",
        "198.18.0.1",
        "64:ff9b::a9fe:a9fe",
        "::ffff:169.254.169.254",
        "192.0.0.0/8",
    ] {
        let e = Identifier::parse(IdentifierKind::PublicIp, bad).unwrap_err();
        assert_eq!(e.field, "value", "{bad}");
        let shown = bad.trim_start_matches("::ffff:").split('/').next().unwrap();
        assert!(e.reason.contains(shown), "{bad}: {e}");
    }
    for ok in [
        "203.0.113.7",
        "198.51.100.0/24",
        "192.0.2.0/24",
        "2001:db8::/32",
        "9.0.0.0/8",
        "2400:cb00::/32",
        "8.8.8.8",
    ] {
        assert!(
            Identifier::parse(IdentifierKind::PublicIp, ok).is_ok(),
            "{ok}"
        );
    }
    // The same table keeps report-driven fetches off internal addresses (DET-2).
    let net = |s: &str| s.parse::<IpNet>().unwrap();
    assert_eq!(
        special_block(net("169.254.169.254/32")).map(|b| b.block),
        Some("169.254.0.0/16")
    );
    assert!(special_block(net("203.0.113.9/32")).is_some());
    assert!(special_block(net("8.8.8.8/32")).is_none());
}

/// INT-3 / RES-2: numeric labels make an IPv4 address, valid or refused — never a domain.
#[test]
fn regression_invalid_dotted_quad_was_a_domain() {
    for bad in [
        "999.1.1.1",
        "1.2.3.256",
        "1.2.3",
        "0x7f.1",
        "192.0.2.01",
        "http://999.1.1.1/",
        "https://a.999/",
    ] {
        let e = Target::parse(bad).unwrap_err();
        assert_eq!(e.field, "target", "{bad}");
        let host = bad
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        assert!(e.reason.contains(host), "{bad}: {e}");
        let as_domain = Identifier::parse(IdentifierKind::Domain, host);
        assert!(as_domain.is_err(), "{host} as a domain identifier");
    }
    assert_eq!(
        Target::parse("192.0.2.1").unwrap(),
        Target::Ip("192.0.2.1".parse().unwrap())
    );
    assert!(matches!(
        Target::parse("1a.example").unwrap(),
        Target::Domain(_)
    ));
}

fn case_variant() -> impl Strategy<Value = (String, String)> {
    let label = prop::sample::select(vec!["shop", "a", "x-y", "例子", "b2"]);
    let seg = prop::sample::select(vec!["p", "Q", "a~b", "x.y", "页"]);
    (
        prop::collection::vec(label, 1..3),
        prop::collection::vec(seg, 0..4),
        any::<bool>(),
    )
        .prop_map(|(labels, segs, https)| {
            let host = format!("{}.example", labels.join("."));
            let path: String = segs.iter().map(|s| format!("/{s}")).collect();
            let scheme = if https { "https" } else { "http" };
            (scheme.to_string(), format!("{host}{path}"))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Respelling a URL the ways the policy names — case of scheme and host, the default port,
    /// a trailing dot, `.` segments, escapes of unreserved characters — changes neither its
    /// canonical text nor its owner-lookup keys.
    #[test]
    fn respelling_a_url_keeps_its_canonical_form(
        (scheme, rest) in case_variant(),
        upper in any::<bool>(),
        port in any::<bool>(),
        dot in any::<bool>(),
        dots in any::<bool>(),
        escape in any::<bool>(),
    ) {
        let base = format!("{scheme}://{rest}");
        let (host, path) = rest.split_once('/').map_or((rest.as_str(), ""), |(h, p)| (h, p));
        let mut host = if upper { host.to_uppercase() } else { host.to_string() };
        if dot {
            host.push('.');
        }
        if port {
            host.push_str(if scheme == "https" { ":443" } else { ":80" });
        }
        let mut path = if path.is_empty() { String::new() } else { format!("/{path}") };
        if dots {
            path = format!("/./z/..{path}");
        }
        if escape {
            path = path.replace('a', "%61").replace('~', "%7E");
        }
        let scheme = if upper { scheme.to_uppercase() } else { scheme };
        let variant = format!("{scheme}://{host}{path}");
        prop_assert_eq!(canonical(&variant), canonical(&base), "{} vs {}", variant, base);
    }
}

/// ENF-1 / INT-4: a host of code points no domain name has (private-use, unassigned, format,
/// separators) was punycoded into a "name" that matched nothing, so a decision on it said "not
/// blocked" and a report on it opened a case. Refused now, in every place that reads a host;
/// internationalised names, joiners included, are still read.
#[test]
fn regression_hosts_of_code_points_no_name_has_were_punycoded() {
    use warden_domain::canonical::normalise_host;
    for bad in [
        "\u{b199b}\u{ba}\u{e2}\u{fe}M\u{10dea7}",
        "\u{e000}.example",
        "a\u{3000}b.example",
        "a\u{2028}b.example",
        "shop\u{ad}.example",
        "a\u{85}b.example",
    ] {
        assert!(normalise_host(bad).is_err(), "{bad:?}");
        assert!(normalise_url(&format!("http://{bad}/")).is_err(), "{bad:?}");
        assert!(
            Target::parse(&format!("http://{bad}/x")).is_err(),
            "{bad:?}"
        );
    }
    for (idn, canonical) in [
        ("例子.测试", "xn--fsqu00a.xn--0zwm56d"),
        ("Bücher.example", "xn--bcher-kva.example"),
        ("例子。测试", "xn--fsqu00a.xn--0zwm56d"),
    ] {
        assert_eq!(normalise_host(idn).unwrap().0, canonical, "{idn}");
    }
    // ශ්‍රී: the joiner is part of the name.
    assert!(normalise_host("\u{dc1}\u{dca}\u{200d}\u{dbb}\u{dd3}.example").is_ok());
}
