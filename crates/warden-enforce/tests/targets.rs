//! ENF-1 / RES-2: the decision index and intake agree on what a target is. A case's target
//! is the canonical text intake stored; the index turns it into a rule; every spelling an edge
//! may send of that target — through the allocation-free fast path or the reference — must hit
//! that rule, and the index's canonical URL must be intake's.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use warden_domain::resource::Target;
use warden_enforce::{Index, Rule, RuleKind, normalise_url};

fn rule(id: &str, kind: RuleKind) -> Rule {
    Rule {
        id: id.into(),
        kind,
        action: "block_url".into(),
        case_id: format!("case-{id}"),
        notice: None,
    }
}

/// A URL and a respelling of it: case, default port, trailing dot, dot segments, escapes of
/// unreserved characters, IDN in Unicode or punycode, a fragment.
fn spellings() -> impl Strategy<Value = (String, String)> {
    let label = prop::sample::select(vec!["shop", "h123", "x-y", "例子", "xn--fsqu00a"]);
    let seg = prop::sample::select(vec!["p", "Q", "a~b", "x.y", "index.html"]);
    (
        (prop::collection::vec(label, 1..3), any::<bool>()),
        prop::collection::vec(seg, 0..4),
        prop::sample::select(vec!["", "?q=1", "?a=%7E"]),
        (any::<bool>(), any::<bool>(), any::<bool>()),
        (any::<bool>(), any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |((labels, https), segs, query, (upper, port, dot), (dots, escape, frag))| {
                let scheme = if https { "https" } else { "http" };
                let host = format!("{}.example", labels.join("."));
                let path: String = segs.iter().map(|s| format!("/{s}")).collect();
                let base = format!("{scheme}://{host}{path}{query}");
                let mut h = if upper { host.to_uppercase() } else { host };
                if dot {
                    h.push('.');
                }
                if port {
                    h.push_str(if https { ":443" } else { ":80" });
                }
                let mut p = path;
                if dots {
                    p = format!("/./z/..{p}");
                }
                if escape {
                    p = p.replace('a', "%61").replace('~', "%7e");
                }
                let s = if upper {
                    scheme.to_uppercase()
                } else {
                    scheme.into()
                };
                let f = if frag { "#top" } else { "" };
                (base, format!("{s}://{h}{p}{query}{f}"))
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_spelling_of_a_case_target_hits_its_rules((base, variant) in spellings()) {
        let Ok(Target::Url(u)) = Target::parse(&base) else {
            panic!("{base} is a URL target");
        };
        let stored = Target::Url(u.clone()).canonical();
        let norm = normalise_url(&variant).unwrap();
        prop_assert_eq!(norm.as_str(), stored.as_str());
        prop_assert_eq!(Target::parse(&variant).unwrap().canonical(), stored.clone());
        let index = Index::build([
            rule("exact", RuleKind::parse("url", &stored).unwrap()),
            rule("prefix", RuleKind::parse("url_prefix", &format!("http://{}", u.prefix_key())).unwrap()),
        ]);
        let hit = index.check_url(&variant).unwrap().rule().map(|r| r.id().to_owned());
        prop_assert_eq!(hit.as_deref(), Some("exact"), "{}", variant);
        let hosts = Index::build([rule("host", RuleKind::parse("host", &u.host).unwrap())]);
        let hit = hosts.check_url(&variant).unwrap().rule().map(|r| r.id().to_owned());
        prop_assert_eq!(hit.as_deref(), Some("host"), "{}", variant);
        let with_path = format!("{}/deeper", variant.split(['?', '#']).next().unwrap().trim_end_matches('/'));
        let hit = index.check_url(&with_path).unwrap().rule().map(|r| r.id().to_owned());
        prop_assert_eq!(hit.as_deref(), Some("prefix"), "{}", with_path);
    }
}

/// ENF-1: an IPv4-mapped IPv6 host is the IPv4 address, for URL rules as for IP rules.
#[test]
fn regression_mapped_ipv6_host_missed_url_rules() {
    let index = Index::build([rule(
        "exact",
        RuleKind::parse("url", "http://192.0.2.55/page").unwrap(),
    )]);
    for spelling in [
        "http://192.0.2.55/page",
        "http://[::ffff:192.0.2.55]/page",
        "http://[::FFFF:C000:237]:80/page",
    ] {
        let hit = index.check_url(spelling).unwrap().rule().map(|r| r.id());
        assert_eq!(hit, Some("exact"), "{spelling}");
    }
    assert_eq!(
        warden_enforce::normalise_host("::ffff:192.0.2.55").unwrap(),
        ("192.0.2.55".to_owned(), Some("192.0.2.55".parse().unwrap()))
    );
}
