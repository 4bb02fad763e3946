//! ENF-1: the decision index answers "is this URL / host / IP blocked, and why", and must
//! agree with the obvious linear reading of the rules, only faster.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::IpAddr;

use ipnet::IpNet;
use proptest::prelude::*;
use warden_enforce::{
    Change, Decision, Error, Index, NormUrl, Rule, RuleKind, SharedIndex, normalise_host,
    normalise_url,
};

fn rule(id: &str, kind: &str, value: &str) -> Rule {
    Rule {
        id: id.to_owned(),
        kind: RuleKind::parse(kind, value).unwrap(),
        action: "block_url".to_owned(),
        case_id: "case-1".to_owned(),
        notice: Some("blocked under case 1".to_owned()),
    }
}

fn winner<'a>(d: Decision<'a>) -> Option<&'a str> {
    d.rule().map(|r| r.id())
}

#[test]
fn enf1_normalisation_table() {
    let cases = [
        ("HTTP://Example.COM/Path", "http://example.com/Path"),
        ("http://例子.测试/", "http://xn--fsqu00a.xn--0zwm56d/"),
        ("http://例子。测试/", "http://xn--fsqu00a.xn--0zwm56d/"),
        ("http://Bücher.example/", "http://xn--bcher-kva.example/"),
        ("http://MÜNCHEN.de/", "http://xn--mnchen-3ya.de/"),
        ("http://中国/", "http://xn--fiqs8s/"),
        ("http://example.com:80/", "http://example.com/"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:0443/", "https://example.com/"),
        ("http://example.com:443/", "http://example.com:443/"),
        ("https://example.com:8443/", "https://example.com:8443/"),
        ("http://example.com/%7Euser", "http://example.com/~user"),
        ("http://example.com/%7e", "http://example.com/~"),
        ("http://example.com/a%2fb", "http://example.com/a%2Fb"),
        ("http://example.com/%41%42", "http://example.com/AB"),
        ("http://example.com/a%3a", "http://example.com/a%3A"),
        ("http://example.com/%zz", "http://example.com/%25zz"),
        ("http://example.com/a b", "http://example.com/a%20b"),
        ("http://example.com/ü", "http://example.com/%C3%BC"),
        ("http://example.com/a/./b/../c", "http://example.com/a/c"),
        ("http://example.com/a/b/..", "http://example.com/a/"),
        ("http://example.com/../../x", "http://example.com/x"),
        ("http://example.com/%2e%2E/x", "http://example.com/x"),
        ("http://example.com\\a\\b", "http://example.com/a/b"),
        ("http://example.com./", "http://example.com/"),
        ("http://[::1]/", "http://[::1]/"),
        ("http://[0:0::1]:8080/x", "http://[::1]:8080/x"),
        ("http://[2001:DB8::A]/", "http://[2001:db8::a]/"),
        ("http://[::ffff:1.2.3.4]/", "http://1.2.3.4/"),
        ("http://example.com/page#frag", "http://example.com/page"),
        ("http://example.com/p?q=1#frag", "http://example.com/p?q=1"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com?q=1", "http://example.com/?q=1"),
        ("http://example.com/?", "http://example.com/"),
        ("http://example.com/?a=%7e%2f", "http://example.com/?a=~%2F"),
        ("http://user:pw@example.com/", "http://example.com/"),
        ("http://2130706433/", "http://127.0.0.1/"),
        ("http://0x7f.1/", "http://127.0.0.1/"),
        ("http://0177.0.0.1/", "http://127.0.0.1/"),
        ("  http://example.com/\t x \n", "http://example.com/%20x"),
    ];
    for (input, want) in cases {
        let got = normalise_url(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(got.as_str(), want, "input {input:?}");
        let again = normalise_url(got.as_str()).unwrap();
        assert_eq!(again.as_str(), want, "idempotence of {input:?}");
    }
}

#[test]
fn enf1_normalisation_parts() {
    let u = normalise_url("https://Shop.Example:8443/a/b/?x=1#f").unwrap();
    assert_eq!(u.host(), "shop.example");
    assert_eq!(u.port(), Some(8443));
    assert_eq!(u.authority(), "shop.example:8443");
    assert_eq!(u.path(), "/a/b/");
    assert_eq!(u.query(), Some("x=1"));
    assert_eq!(u.prefix_key(), "shop.example:8443/a/b");
    assert_eq!(u.ip(), None);
    let v6 = normalise_url("http://[::ffff:1.2.3.4]/").unwrap();
    assert_eq!(v6.ip(), Some("1.2.3.4".parse().unwrap()));
    assert_eq!(
        normalise_host("::1").unwrap(),
        ("[::1]".to_owned(), Some("::1".parse().unwrap()))
    );
    assert_eq!(
        normalise_host("例子.测试.").unwrap().0,
        "xn--fsqu00a.xn--0zwm56d"
    );
}

#[test]
fn enf1_normalisation_errors() {
    assert!(matches!(
        normalise_url("ftp://x/"),
        Err(Error::UnsupportedScheme(_))
    ));
    assert!(matches!(
        normalise_url("example.com/x"),
        Err(Error::NotAUrl(_))
    ));
    assert!(matches!(normalise_url("http://"), Err(Error::MissingHost)));
    assert!(matches!(
        normalise_url("http://:80/"),
        Err(Error::MissingHost)
    ));
    assert!(matches!(
        normalise_url("http://a..b/"),
        Err(Error::InvalidHost(..))
    ));
    assert!(matches!(
        normalise_url("http://x:99999/"),
        Err(Error::InvalidPort(_))
    ));
    assert!(matches!(
        normalise_url("http://x:8o/"),
        Err(Error::InvalidPort(_))
    ));
    assert!(matches!(
        normalise_url("http://[::1/"),
        Err(Error::InvalidHost(..))
    ));
    assert!(matches!(
        normalise_url("http://1.2.3.256/"),
        Err(Error::InvalidHost(..))
    ));
    assert!(matches!(
        normalise_url("http://a<b/"),
        Err(Error::InvalidHost(..))
    ));
    let long = format!("http://x/{}", "a".repeat(10_000));
    assert!(matches!(normalise_url(&long), Err(Error::TooLong { .. })));
}

#[test]
fn enf1_rule_kind_parse() {
    assert_eq!(
        RuleKind::parse("domain", "*.Example.COM.").unwrap(),
        RuleKind::Domain("example.com".into())
    );
    assert_eq!(
        RuleKind::parse("url_prefix", "HTTPS://x.example/shop/?q#f").unwrap(),
        RuleKind::UrlPrefix("https://x.example/shop".into())
    );
    assert_eq!(
        RuleKind::parse("ip", "10.1.2.3/8").unwrap(),
        RuleKind::Ip("10.0.0.0/8".parse().unwrap())
    );
    assert_eq!(
        RuleKind::parse("ip", "::ffff:10.0.0.0/104").unwrap(),
        RuleKind::Ip("10.0.0.0/8".parse().unwrap())
    );
    assert_eq!(
        RuleKind::parse("object", "/bucket/dir/").unwrap(),
        RuleKind::Object("bucket/dir".into())
    );
    assert!(matches!(
        RuleKind::parse("bogus", "x"),
        Err(Error::UnknownKind(_))
    ));
    assert!(matches!(
        RuleKind::parse("host", "1.2.3.4"),
        Err(Error::HostIsIp(_))
    ));
    assert!(matches!(
        RuleKind::parse("ip", "nope"),
        Err(Error::InvalidIp(_))
    ));
    assert!(matches!(
        RuleKind::parse("service", "  "),
        Err(Error::Empty(_))
    ));
    for name in RuleKind::NAMES {
        let value = if name == "ip" {
            "1.2.3.4"
        } else if name.starts_with("url") {
            "http://x/"
        } else {
            "x"
        };
        assert_eq!(RuleKind::parse(name, value).unwrap().name(), name);
    }
}

#[test]
fn enf1_prefix_rules_match_at_segment_boundaries_any_scheme() {
    let index = Index::build([
        rule("p-shop", "url_prefix", "https://x.example/shop"),
        rule("p-deep", "url_prefix", "http://x.example/shop/cart/"),
    ]);
    let check = |u: &str| winner(index.check_url(u).unwrap()).map(str::to_owned);
    assert_eq!(check("https://x.example/shop").as_deref(), Some("p-shop"));
    assert_eq!(check("https://x.example/shop/").as_deref(), Some("p-shop"));
    assert_eq!(
        check("http://x.example/shop/x?y=1").as_deref(),
        Some("p-shop")
    );
    assert_eq!(
        check("https://x.example/shop/cart").as_deref(),
        Some("p-deep")
    );
    assert_eq!(
        check("https://x.example/shop/cart/1").as_deref(),
        Some("p-deep")
    );
    assert_eq!(check("https://x.example/shopping"), None);
    assert_eq!(check("https://x.example/shop%2Fx"), None);
    assert_eq!(check("https://x.example/"), None);
    assert_eq!(
        check("https://x.example:8443/shop"),
        None,
        "a non-default port is another site"
    );
    assert_eq!(check("https://y.x.example/shop"), None);
    // A root prefix blocks the whole site.
    let root = Index::build([rule("root", "url_prefix", "http://x.example/")]);
    assert!(
        root.check_url("https://x.example/anything/at/all")
            .unwrap()
            .is_blocked()
    );
}

#[test]
fn enf1_wildcard_domains_and_hosts() {
    let index = Index::build([
        rule("d-example", "domain", "*.example.com"),
        rule("d-deep", "domain", "a.b.example.com"),
        rule("h-www", "host", "www.example.com"),
        rule("d-idn", "domain", "测试"),
    ]);
    let host = |h: &str| winner(index.check_host(h).unwrap()).map(str::to_owned);
    assert_eq!(host("example.com").as_deref(), Some("d-example"));
    assert_eq!(host("EXAMPLE.com.").as_deref(), Some("d-example"));
    assert_eq!(host("x.y.example.com").as_deref(), Some("d-example"));
    assert_eq!(host("www.example.com").as_deref(), Some("h-www"));
    assert_eq!(host("z.a.b.example.com").as_deref(), Some("d-deep"));
    assert_eq!(host("notexample.com"), None);
    assert_eq!(host("example.com.evil"), None);
    assert_eq!(host("例子.测试").as_deref(), Some("d-idn"));
    assert_eq!(host("xn--fsqu00a.xn--0zwm56d").as_deref(), Some("d-idn"));
    assert_eq!(
        winner(index.check_url("https://shop.example.com/x").unwrap()),
        Some("d-example")
    );
}

#[test]
fn enf1_deep_prefixes_and_long_hosts() {
    // Prefix depths above 30 share one bit of the depth mask; a host with more candidate
    // domain suffixes than the lookup keeps at hand is hashed a second time. Both must
    // still find the longest match.
    let path = |n: usize| (0..n).map(|i| format!("/s{i}")).collect::<String>();
    // `name(k)` has k labels and is a suffix of `name(k + 1)`.
    let name = |k: usize| {
        let mut labels: Vec<String> = (1..k).rev().map(|i| format!("l{i}")).collect();
        labels.push("example".into());
        labels.join(".")
    };
    let depths = [2, 31, 40];
    let domains = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12];
    let mut rules: Vec<Rule> = depths
        .iter()
        .map(|&d| {
            rule(
                &format!("p{d}"),
                "url_prefix",
                &format!("http://x.example{}", path(d)),
            )
        })
        .collect();
    rules.extend(
        domains
            .iter()
            .map(|&k| rule(&format!("d{k}"), "domain", &name(k))),
    );
    let index = Index::build(rules);

    let url = |u: String| winner(index.check_url(&u).unwrap()).map(str::to_owned);
    for (query_depth, want) in [
        (45, "p40"),
        (40, "p40"),
        (39, "p31"),
        (31, "p31"),
        (30, "p2"),
    ] {
        let u = format!("http://x.example{}", path(query_depth));
        assert_eq!(url(u.clone()).as_deref(), Some(want), "{u}");
        assert_eq!(url(format!("{u}/")).as_deref(), Some(want), "{u}/");
    }
    // Above every prefix rule, the domain rule on `example` answers.
    assert_eq!(
        url(format!("http://x.example{}", path(1))).as_deref(),
        Some("d1")
    );

    let host = |k: usize| winner(index.check_host(&name(k)).unwrap()).map(str::to_owned);
    for k in 1..=30 {
        let want = domains
            .iter()
            .rev()
            .find(|&&d| d <= k)
            .map(|d| format!("d{d}"));
        assert_eq!(host(k), want, "{}", name(k));
    }
    assert_eq!(winner(index.check_host("l1.example.other").unwrap()), None);
}

#[test]
fn enf1_overlapping_cidrs_longest_prefix() {
    let index = Index::build([
        rule("v4-8", "ip", "10.0.0.0/8"),
        rule("v4-16", "ip", "10.1.0.0/16"),
        rule("v4-24", "ip", "10.1.2.0/24"),
        rule("v4-32", "ip", "10.1.2.3"),
        rule("v4-0", "ip", "0.0.0.0/0"),
        rule("v6-32", "ip", "2001:db8::/32"),
        rule("v6-64", "ip", "2001:db8:0:1::/64"),
        rule("v6-128", "ip", "2001:db8:0:1::1"),
        rule("v6-top", "ip", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
    ]);
    let ip = |a: &str| winner(index.check_ip(a.parse().unwrap())).map(str::to_owned);
    assert_eq!(ip("10.1.2.3").as_deref(), Some("v4-32"));
    assert_eq!(ip("10.1.2.4").as_deref(), Some("v4-24"));
    assert_eq!(ip("10.1.3.4").as_deref(), Some("v4-16"));
    assert_eq!(ip("10.2.0.0").as_deref(), Some("v4-8"));
    assert_eq!(ip("11.0.0.0").as_deref(), Some("v4-0"));
    assert_eq!(ip("255.255.255.255").as_deref(), Some("v4-0"));
    assert_eq!(ip("::ffff:10.1.2.3").as_deref(), Some("v4-32"));
    assert_eq!(ip("2001:db8:0:1::1").as_deref(), Some("v6-128"));
    assert_eq!(ip("2001:db8:0:1::2").as_deref(), Some("v6-64"));
    assert_eq!(ip("2001:db8:ffff::").as_deref(), Some("v6-32"));
    assert_eq!(ip("2001:db9::"), None);
    assert_eq!(
        ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").as_deref(),
        Some("v6-top")
    );
    assert_eq!(
        winner(index.check_url("http://[2001:db8:0:1::2]:8080/x").unwrap()),
        Some("v6-64")
    );
    assert_eq!(
        winner(index.check_url("http://167838211/").unwrap()),
        Some("v4-32")
    );
}

#[test]
fn enf1_precedence_and_ties() {
    let index = Index::build([
        rule("ip", "ip", "0.0.0.0/0"),
        rule("domain", "domain", "example.com"),
        rule("host", "host", "x.example.com"),
        rule("prefix", "url_prefix", "http://x.example.com/a"),
        rule("exact", "url_exact", "http://x.example.com/a/b?q=1"),
        rule("exact-b", "url_exact", "http://x.example.com/a/c"),
        rule("exact-a", "url_exact", "HTTP://X.example.com/a/c#x"),
    ]);
    let url = |u: &str| winner(index.check_url(u).unwrap()).map(str::to_owned);
    assert_eq!(
        url("http://x.example.com/a/b?q=1").as_deref(),
        Some("exact")
    );
    assert_eq!(
        url("http://x.example.com/a/b?q=2").as_deref(),
        Some("prefix")
    );
    assert_eq!(
        url("http://x.example.com/a/c").as_deref(),
        Some("exact-a"),
        "smallest id wins a tie"
    );
    assert_eq!(url("http://x.example.com/b").as_deref(), Some("host"));
    assert_eq!(url("http://y.example.com/a").as_deref(), Some("domain"));
    assert_eq!(url("http://1.2.3.4/").as_deref(), Some("ip"));
    assert_eq!(url("http://other.example/"), None);
    let hit = index
        .check_url("http://x.example.com/a/b?q=1")
        .unwrap()
        .rule()
        .unwrap();
    assert_eq!(hit.action(), "block_url");
    assert_eq!(hit.case_id(), "case-1");
    assert_eq!(hit.notice(), Some("blocked under case 1"));
    assert_eq!(
        hit.to_rule(),
        rule("exact", "url_exact", "http://x.example.com/a/b?q=1")
    );
    assert_eq!(index.len(), 7);
    assert!(index.memory_bytes() > 0);
}

#[test]
fn enf1_objects_services_and_rejections() {
    let bad = Rule {
        kind: RuleKind::Host("bad host".into()),
        ..rule("bad", "host", "x")
    };
    let index = Index::build([
        rule("bucket", "object", "media"),
        rule("dir", "object", "media/private/"),
        rule("svc", "service", "vm-1234"),
        bad,
    ]);
    assert_eq!(index.len(), 3);
    assert_eq!(index.rejected().len(), 1);
    assert_eq!(
        winner(index.check_object("media/private/a.jpg")),
        Some("dir")
    );
    assert_eq!(
        winner(index.check_object("/media/privately")),
        Some("bucket")
    );
    assert_eq!(winner(index.check_object("mediax/a")), None);
    assert_eq!(winner(index.check_service(" vm-1234 ")), Some("svc"));
    assert_eq!(winner(index.check_service("vm-12345")), None);
}

#[test]
fn enf1_shared_index_apply_bumps_revision() {
    let shared = SharedIndex::new(Index::build([rule("a", "host", "a.example")]));
    let before = shared.load();
    assert_eq!(before.revision(), 0);
    let out = shared.apply(vec![
        Change::Add(rule("b", "host", "b.example")),
        Change::Remove("a".into()),
        Change::Add(Rule {
            kind: RuleKind::Ip("1.2.3.0/24".parse().unwrap()),
            ..rule("c", "host", "x")
        }),
        Change::Add(Rule {
            kind: RuleKind::UrlExact("nope".into()),
            ..rule("d", "host", "x")
        }),
    ]);
    assert_eq!(
        (out.revision, out.added, out.removed, out.rejected.len()),
        (1, 2, 1, 1)
    );
    let now = shared.load();
    assert_eq!(now.revision(), 1);
    assert!(!now.check_host("a.example").unwrap().is_blocked());
    assert!(now.check_host("b.example").unwrap().is_blocked());
    assert!(now.check_ip("1.2.3.9".parse().unwrap()).is_blocked());
    // The old snapshot is untouched: readers holding it keep a consistent view.
    assert!(before.check_host("a.example").unwrap().is_blocked());
    // Replacing by id, and an empty apply, both bump the revision.
    let out = shared.apply(vec![Change::Add(rule("b", "host", "c.example"))]);
    assert_eq!(out.revision, 2);
    assert!(!shared.load().check_host("b.example").unwrap().is_blocked());
    assert_eq!(shared.apply(vec![]).revision, 3);
    assert_eq!(shared.revision(), 3);
    assert_eq!(shared.load().len(), 2);
}

// ---- property test against a linear reference ----------------------------------------

/// The rules read naively: scan everything, keep the most specific match per precedence
/// class, ties to the smallest id.
fn reference(rules: &[Rule], url: &NormUrl) -> Option<String> {
    fn best<'a>(it: impl Iterator<Item = (usize, &'a str)>) -> Option<String> {
        it.max_by(|(sa, ia), (sb, ib)| sa.cmp(sb).then_with(|| ib.cmp(ia)))
            .map(|(_, id)| id.to_owned())
    }
    let kinds: Vec<(RuleKind, &str)> = rules
        .iter()
        .filter_map(|r| r.kind.normalised().ok().map(|k| (k, r.id.as_str())))
        .collect();
    let q = format!("{}{}", url.authority(), url.path());
    let tiers: [Option<String>; 2] = [
        best(kinds.iter().filter_map(|(k, id)| match k {
            RuleKind::UrlExact(v) if v == url.as_str() => Some((0, *id)),
            _ => None,
        })),
        best(kinds.iter().filter_map(|(k, id)| match k {
            RuleKind::UrlPrefix(v) => {
                let key = v.split_once("://").unwrap().1;
                (q == key || q.starts_with(&format!("{key}/"))).then_some((key.len(), *id))
            }
            _ => None,
        })),
    ];
    if let Some(hit) = tiers.into_iter().flatten().next() {
        return Some(hit);
    }
    reference_host(&kinds, url.host(), url.ip())
}

fn reference_host(kinds: &[(RuleKind, &str)], host: &str, ip: Option<IpAddr>) -> Option<String> {
    fn best<'a>(it: impl Iterator<Item = (usize, &'a str)>) -> Option<String> {
        it.max_by(|(sa, ia), (sb, ib)| sa.cmp(sb).then_with(|| ib.cmp(ia)))
            .map(|(_, id)| id.to_owned())
    }
    if let Some(ip) = ip {
        return best(kinds.iter().filter_map(|(k, id)| match k {
            RuleKind::Ip(net) if net.contains(&ip) => Some((usize::from(net.prefix_len()), *id)),
            _ => None,
        }));
    }
    best(kinds.iter().filter_map(|(k, id)| match k {
        RuleKind::Host(v) if v == host => Some((0, *id)),
        _ => None,
    }))
    .or_else(|| {
        best(kinds.iter().filter_map(|(k, id)| match k {
            RuleKind::Domain(d) if host == d || host.ends_with(&format!(".{d}")) => {
                Some((d.len(), *id))
            }
            _ => None,
        }))
    })
}

fn label() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a",
        "b",
        "shop",
        "例子",
        "测试",
        "xn--fsqu00a",
        "EXAMPLE",
        "Bücher",
        "xn--bcher-kva",
        "c-d",
    ])
    .prop_map(str::to_owned)
}

fn name() -> impl Strategy<Value = String> {
    (prop::collection::vec(label(), 1..4), any::<bool>()).prop_map(|(labels, dot)| {
        let mut s = labels.join(".");
        if dot {
            s.push('.');
        }
        s
    })
}

fn v4() -> impl Strategy<Value = String> {
    (0u8..3, 0u8..3, 0u8..4).prop_map(|(b, c, d)| format!("10.{b}.{c}.{d}"))
}

fn v6() -> impl Strategy<Value = String> {
    (0u16..3, 0u16..3, 0u16..4).prop_map(|(b, c, d)| format!("2001:db8:{b}::{c}:{d}"))
}

fn url_host() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => name(),
        1 => v4(),
        1 => v6().prop_map(|a| format!("[{a}]")),
        1 => v4().prop_map(|a| format!("[::ffff:{a}]")),
    ]
}

fn url() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec!["http", "https", "HTTP"]);
    let port = prop::sample::select(vec!["", ":80", ":443", ":8080"]);
    let seg = prop::sample::select(vec![
        "shop", "shopping", "a", "B", "..", ".", "%7E", "~", "%2f", "x y", "", "例",
    ]);
    let query = prop::sample::select(vec!["", "?", "?q=1", "?Q=%7e"]);
    let frag = prop::sample::select(vec!["", "#top"]);
    (
        scheme,
        url_host(),
        port,
        prop::collection::vec(seg, 0..5),
        query,
        frag,
    )
        .prop_map(|(scheme, host, port, segs, query, frag)| {
            let path: String = segs.iter().map(|s| format!("/{s}")).collect();
            format!("{scheme}://{host}{port}{path}{query}{frag}")
        })
}

fn cidr() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (v4(), prop::sample::select(vec![8u8, 16, 23, 24, 30, 32])).prop_map(|(a, l)| format!(
            "{a}/{l}"
        )
        .parse::<IpNet>()
        .unwrap()
        .trunc()),
        (
            v6(),
            prop::sample::select(vec![32u8, 48, 64, 112, 127, 128])
        )
            .prop_map(|(a, l)| format!("{a}/{l}").parse::<IpNet>().unwrap().trunc()),
    ]
}

fn rule_strategy() -> impl Strategy<Value = Rule> {
    let kind = prop_oneof![
        url().prop_map(RuleKind::UrlExact),
        url().prop_map(RuleKind::UrlPrefix),
        name().prop_map(RuleKind::Host),
        name().prop_map(RuleKind::Domain),
        cidr().prop_map(RuleKind::Ip),
    ];
    (0u8..40, kind).prop_map(|(n, kind)| Rule {
        id: format!("r{n}"),
        kind,
        action: "block".into(),
        case_id: format!("case-{}", n % 3),
        notice: None,
    })
}

fn ip_query() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        v4().prop_map(|a| a.parse().unwrap()),
        v6().prop_map(|a| a.parse().unwrap()),
        v4().prop_map(|a| format!("::ffff:{a}").parse().unwrap()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn enf1_index_agrees_with_linear_reference(
        rules in prop::collection::vec(rule_strategy(), 0..40),
        urls in prop::collection::vec(url(), 1..20),
        hosts in prop::collection::vec(url_host(), 1..10),
        ips in prop::collection::vec(ip_query(), 1..10),
    ) {
        let index = Index::build(rules.clone());
        prop_assert_eq!(index.len() + index.rejected().len(), rules.len());
        let kinds: Vec<(RuleKind, &str)> = rules
            .iter()
            .filter_map(|r| r.kind.normalised().ok().map(|k| (k, r.id.as_str())))
            .collect();
        for u in &urls {
            let norm = normalise_url(u).unwrap();
            let again = normalise_url(norm.as_str()).unwrap();
            prop_assert_eq!(again.as_str(), norm.as_str());
            let got = winner(index.check_url(u).unwrap()).map(str::to_owned);
            prop_assert_eq!(got, reference(&rules, &norm), "url {}", u);
        }
        for h in &hosts {
            let (name, ip) = normalise_host(h).unwrap();
            let got = winner(index.check_host(h).unwrap()).map(str::to_owned);
            prop_assert_eq!(got, reference_host(&kinds, &name, ip), "host {}", h);
        }
        for ip in &ips {
            let got = winner(index.check_ip(*ip)).map(str::to_owned);
            prop_assert_eq!(got, reference_host(&kinds, "", Some(ip.to_canonical())), "ip {}", ip);
        }
    }

    #[test]
    fn enf1_fast_path_agrees_on_edge_urls(urls in prop::collection::vec(edge_url(), 1..24)) {
        assert_fast_agrees(&urls);
    }

    #[test]
    fn enf1_shared_index_apply_agrees_with_rebuild(
        initial in prop::collection::vec(rule_strategy(), 0..20),
        batches in prop::collection::vec(
            prop::collection::vec(prop_oneof![
                rule_strategy().prop_map(Change::Add),
                (0u8..40).prop_map(|n| Change::Remove(format!("r{n}"))),
            ], 0..8),
            1..4),
        urls in prop::collection::vec(url(), 1..10),
    ) {
        // Model: ids unique, last change wins.
        let mut model: std::collections::BTreeMap<String, Rule> = std::collections::BTreeMap::new();
        for r in &initial {
            if r.kind.normalised().is_ok() {
                model.insert(r.id.clone(), r.clone());
            }
        }
        let shared = SharedIndex::new(Index::build(model.values().cloned().collect::<Vec<_>>()));
        for (i, batch) in batches.into_iter().enumerate() {
            for c in &batch {
                match c {
                    Change::Add(r) if r.kind.normalised().is_ok() => { model.insert(r.id.clone(), r.clone()); }
                    Change::Add(_) => {}
                    Change::Remove(id) => { model.remove(id); }
                }
            }
            let out = shared.apply(batch);
            prop_assert_eq!(out.revision, i as u64 + 1);
            let snap = shared.load();
            prop_assert_eq!(snap.len(), model.len());
            let rules: Vec<Rule> = model.values().cloned().collect();
            for u in &urls {
                let norm = normalise_url(u).unwrap();
                let got = winner(snap.check_norm_url(&norm)).map(str::to_owned);
                prop_assert_eq!(got, reference(&rules, &norm), "url {}", u);
            }
        }
    }
}

// ---- the allocation-free fast path against the reference normaliser ------------------

/// URLs as edges send them, and the near misses the fast path must hand to the reference:
/// case, default and padded ports, empty ports, trailing dots, fragments, empty queries,
/// escapes kept and escapes changed, dot segments, backslashes, IDN, IP literals in every
/// form, userinfo, whitespace.
fn edge_url() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec!["http", "https", "HTTP", "hTTpS", "ftp", "http "]);
    let sep = prop::sample::select(vec!["://", "://", ":/", ":///", ":\\\\", ":"]);
    let userinfo = prop::sample::select(vec!["", "", "", "u@", "u:p@"]);
    let host = prop_oneof![
        6 => (prop::collection::vec(
                prop::sample::select(vec![
                    "a", "shop", "Shop", "EXAMPLE", "c-d", "x_y", "h123", "0x7f", "127", "08",
                    "例子", "Bücher", "xn--bcher-kva", "a%2Eb", "a*b", "",
                ]),
                1..4,
            ), prop::sample::select(vec!["", "", "."]))
            .prop_map(|(labels, dot)| format!("{}{dot}", labels.join("."))),
        1 => prop::sample::select(vec![
            "10.1.2.3", "10.1.2.3.", "010.1.2.3", "10.1.2.256", "167838211", "0x0a.1.2.3",
            "[::1]", "[2001:DB8::1]", "[::ffff:10.1.2.3]", "1.2.3",
        ]).prop_map(str::to_owned),
    ];
    let port = prop::sample::select(vec![
        "", "", "", ":", ":80", ":443", ":0080", ":0443", ":8080", ":08080", ":0", ":00", ":65535",
        ":65536", ":99999", ":8o", ":1:2",
    ]);
    let seg = prop::sample::select(vec![
        "p1",
        "shop",
        "B",
        ".",
        "..",
        "...",
        ".a",
        "a.",
        "%2e",
        "%2E",
        "%7E",
        "%7e",
        "%2F",
        "%2f",
        "%3A",
        "%zz",
        "%",
        "a b",
        "~",
        "é",
        "\"",
        "{x}",
        "a\\b",
        "",
        "page.html",
    ]);
    let query = prop::sample::select(vec![
        "", "", "?", "?q=1", "?a=%7E", "?a=%2F", "?a=%2f", "?b\\c", "?x y", "?a?b", "?é",
    ]);
    let frag = prop::sample::select(vec!["", "", "#", "#top", "#a b", "#é"]);
    let pad = prop::sample::select(vec!["", "", "", " ", "\t"]);
    (
        (scheme, sep, userinfo, host, port),
        prop::collection::vec(seg, 0..4),
        (query, frag, pad),
    )
        .prop_map(
            |((scheme, sep, userinfo, host, port), segs, (query, frag, pad))| {
                let path: String = segs.iter().map(|s| format!("/{s}")).collect();
                format!("{scheme}{sep}{userinfo}{host}{port}{path}{query}{frag}{pad}")
            },
        )
}

/// Rules on every part of each URL's canonical form, so that a fast path that got any
/// byte or offset wrong would miss one of them. `tiers` drops the most specific classes
/// first, to reach the less specific ones.
fn rules_for(urls: &[NormUrl], tiers: usize) -> Vec<Rule> {
    let mut rules = Vec::new();
    let mut push = |id: String, kind: RuleKind| {
        rules.push(Rule {
            id,
            kind,
            action: "block".into(),
            case_id: "c".into(),
            notice: None,
        })
    };
    for (n, u) in urls.iter().enumerate() {
        if tiers > 3 {
            push(
                format!("exact{n}"),
                RuleKind::UrlExact(u.as_str().to_owned()),
            );
        }
        if tiers > 2 {
            let key = u.prefix_key();
            push(
                format!("prefix{n}"),
                RuleKind::UrlPrefix(format!("http://{key}")),
            );
        }
        match u.ip() {
            Some(ip) => push(format!("ip{n}"), RuleKind::Ip(IpNet::from(ip))),
            None if tiers > 1 => push(format!("host{n}"), RuleKind::Host(u.host().to_owned())),
            None => {
                let parent = u.host().split_once('.').map_or(u.host(), |(_, p)| p);
                push(format!("domain{n}"), RuleKind::Domain(parent.to_owned()));
            }
        }
    }
    rules
}

fn assert_fast_agrees(inputs: &[String]) {
    let norms: Vec<NormUrl> = inputs
        .iter()
        .filter_map(|u| normalise_url(u).ok())
        .collect();
    for tiers in 1..=4 {
        let index = Index::build(rules_for(&norms, tiers));
        assert!(index.rejected().is_empty(), "{:?}", index.rejected());
        for u in inputs {
            let fast = index.check_url(u).map(|d| winner(d).map(str::to_owned));
            let slow =
                normalise_url(u).map(|n| winner(index.check_norm_url(&n)).map(str::to_owned));
            assert_eq!(fast, slow, "url {u:?}, tiers {tiers}");
            if let Ok(Some(hit)) = &fast {
                // Every URL hits a rule derived from its own canonical form.
                assert!(!hit.is_empty());
            }
        }
    }
}

#[test]
fn enf1_fast_path_agrees_with_the_reference_normaliser() {
    let inputs: Vec<String> = [
        "https://h123.site45.example/path/x?q=1",
        "https://H123.Site45.EXAMPLE/path/x?q=1",
        "HTTPS://h123.site45.example/path/x?q=1",
        "https://h123.site45.example.:443/path/x?q=1#frag",
        "https://h123.site45.example./path/x?q=1",
        "https://h123.site45.example:0443/path/x",
        "https://h123.site45.example:08443/path/x",
        "https://h123.site45.example:8443/path/x",
        "https://h123.site45.example:/path/x?",
        "https://h123.site45.example",
        "https://h123.site45.example?q=1",
        "https://h123.site45.example#top",
        "https:/h123.site45.example/x",
        "https:\\\\h123.site45.example/x",
        "https://h123.site45.example/a/./b/../c",
        "https://h123.site45.example/a/.hidden/..x/...",
        "https://h123.site45.example/a%2Fb/%7E/%2e%2E/%41?x=%2F&y=%2f&z=%7e",
        "https://h123.site45.example/a\\b?c\\d",
        "https://h123.site45.example/é?é#é",
        "https://例子.测试/x",
        "https://xn--fsqu00a.xn--0zwm56d/x",
        "https://Bücher.example/",
        "http://10.1.2.3/x",
        "http://10.1.2.3.:80/x",
        "http://010.1.2.3/x",
        "http://167838211/",
        "http://0x0a.1.2.3/",
        "http://10.1.2.256/",
        "http://[::ffff:10.1.2.3]/",
        "http://[2001:DB8::1]:8080/x",
        "http://user:pw@h.example/",
        "http://h.example:1:2/",
        "http://h..example/",
        "http://.example/",
        "http://h.example:65536/",
        " http://h.example/",
        "http://h.example/ ",
        "http://h.example/a\tb",
        "ftp://h.example/",
        "http://a%2Eb.example/",
        "http://x_y*z.example/",
        &format!("http://{}.example/", "a".repeat(63)),
        &format!("http://{}.example/", "a".repeat(64)),
        &format!("http://{}a/", "abcdefghi.".repeat(25)),
        &format!("http://{}a/", "abcdefghi.".repeat(26)),
        &format!("http://h.example/{}", "x".repeat(3000)),
        &format!("HTTP://H.EXAMPLE/{}", "x".repeat(3000)),
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_fast_agrees(&inputs);
}

#[test]
fn enf1_fast_host_path_agrees_with_the_reference_normaliser() {
    let hosts = [
        "h.example",
        "H.Example",
        "h.example.",
        "H.EXAMPLE.",
        " h.example",
        "h.example ",
        "h..example",
        ".",
        "",
        "10.1.2.3",
        "10.1.2.3.",
        "010.1.2.3",
        "167838211",
        "::1",
        "[::1]",
        "例子.测试",
        "a%2Eb",
        "x_y",
        "h:80",
        "h/x",
        "a.0x7f",
        "a.b1",
    ];
    for h in hosts {
        let slow = normalise_host(h);
        let kind = match &slow {
            Ok((_, Some(ip))) => RuleKind::Ip(IpNet::from(*ip)),
            Ok((name, None)) => RuleKind::Host(name.clone()),
            Err(_) => RuleKind::Host("unrelated.example".into()),
        };
        let index = Index::build([Rule {
            kind,
            ..rule("r", "host", "x")
        }]);
        let got = index.check_host(h).map(|d| winner(d).map(str::to_owned));
        match slow {
            Ok(_) => assert_eq!(got, Ok(Some("r".to_owned())), "host {h:?}"),
            Err(e) => assert_eq!(got, Err(e), "host {h:?}"),
        }
    }
}
