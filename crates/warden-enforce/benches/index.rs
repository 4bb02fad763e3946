//! ENF-1 decision index at scale: 1,000,000 URL/host rules + 100,000 CIDRs.
//! Run: `cargo bench -p warden-enforce --bench index`. Goals (reported, not asserted):
//! >= 10M lookups/s/core, <= 200 MB.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use warden_enforce::{Change, Index, Rule, RuleKind, SharedIndex, normalise_url};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const ACTIONS: [&str; 4] = ["block_url", "block_host", "suspend_domain", "blackhole_ip"];

fn host(rng: &mut Rng) -> String {
    format!("h{}.site{}.example", rng.below(1 << 20), rng.below(50_000))
}

fn rule(n: usize, kind: RuleKind) -> Rule {
    Rule {
        id: format!("act-{n:07}"),
        kind,
        action: ACTIONS[n % 4].to_owned(),
        case_id: format!("case-{}", n / 10),
        notice: n
            .is_multiple_of(5)
            .then(|| "This content is blocked (case notice).".to_owned()),
    }
}

struct Data {
    rules: Vec<Rule>,
    url_hits: Vec<String>,
    host_hits: Vec<String>,
    ip_hits: Vec<IpAddr>,
}

fn generate() -> Data {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut rules = Vec::with_capacity(1_100_000);
    let mut url_hits = Vec::new();
    let mut host_hits = Vec::new();
    let mut ip_hits = Vec::new();
    for n in 0..1_000_000 {
        let kind = match n % 10 {
            0..=4 => {
                let url = format!(
                    "https://{}/p{}/item{}?id={}",
                    host(&mut rng),
                    rng.below(1000),
                    rng.below(100_000),
                    rng.below(1000)
                );
                if n % 50 == 0 {
                    url_hits.push(url.clone());
                }
                RuleKind::UrlExact(url)
            }
            5 | 6 => {
                let h = host(&mut rng);
                let p = rng.below(1000);
                if n % 20 == 5 {
                    url_hits.push(format!("http://{h}/p{p}/deeper/page.html?x=1"));
                }
                RuleKind::UrlPrefix(format!("https://{h}/p{p}"))
            }
            7 | 8 => {
                let h = host(&mut rng);
                if n % 20 == 7 {
                    host_hits.push(h.clone());
                }
                RuleKind::Host(h)
            }
            _ => {
                let d = format!("d{}.example", rng.below(1 << 30));
                if n % 20 == 9 {
                    host_hits.push(format!("www.cdn.{d}"));
                }
                RuleKind::Domain(d)
            }
        };
        rules.push(rule(n, kind));
    }
    for n in 0..100_000 {
        let kind = if n % 5 == 4 {
            let len = [32u8, 48, 56, 64, 128][rng.below(5) as usize];
            let addr = Ipv6Addr::from((0x2001_0db8u128 << 96) | (u128::from(rng.next()) << 40));
            let net = Ipv6Net::new(addr, len).unwrap().trunc();
            ip_hits.push(IpAddr::V6(net.network()));
            IpNet::V6(net)
        } else {
            let len = 16 + rng.below(17) as u8;
            let net = Ipv4Net::new(Ipv4Addr::from(rng.next() as u32), len)
                .unwrap()
                .trunc();
            ip_hits.push(IpAddr::V4(net.broadcast()));
            IpNet::V4(net)
        };
        rules.push(rule(1_000_000 + n, RuleKind::Ip(kind)));
    }
    Data {
        rules,
        url_hits,
        host_hits,
        ip_hits,
    }
}

fn rate<T>(label: &str, queries: &[T], mut f: impl FnMut(&T) -> bool) {
    let mut done = 0u64;
    let mut blocked = 0u64;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        for q in queries {
            blocked += u64::from(f(q));
        }
        done += queries.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "  {label:<38} {:>7.2} M lookups/s  ({:>5.0} ns/lookup, {:.0}% blocked)",
        done as f64 / secs / 1e6,
        secs * 1e9 / done as f64,
        100.0 * blocked as f64 / done as f64
    );
}

fn main() {
    let t = Instant::now();
    let data = generate();
    println!(
        "generated {} rules in {:.2?}",
        data.rules.len(),
        t.elapsed()
    );

    let t = Instant::now();
    let index = Index::build(data.rules.clone());
    let build = t.elapsed();
    assert!(
        index.rejected().is_empty(),
        "{:?}",
        index.rejected().first()
    );
    println!("Index::build (normalise + index) : {build:.2?}");
    println!(
        "rules: {}, memory estimate: {:.1} MB",
        index.len(),
        index.memory_bytes() as f64 / 1e6
    );

    let shared = SharedIndex::new(index);
    let t = Instant::now();
    let out = shared.apply(vec![
        Change::Remove("act-0000007".into()),
        Change::Add(rule(2_000_000, RuleKind::Host("new.example".into()))),
    ]);
    println!(
        "SharedIndex::apply (2 changes, full rebuild): {:.2?} -> revision {}",
        t.elapsed(),
        out.revision
    );
    let index = shared.load();

    let mut rng = Rng(42);
    let url_miss: Vec<String> = (0..100_000)
        .map(|i| {
            format!(
                "https://{}/p{}/item{}?id={i}",
                host(&mut rng),
                rng.below(1000),
                rng.below(100)
            )
        })
        .collect();
    let host_miss: Vec<String> = (0..100_000)
        .map(|_| format!("www.{}", host(&mut rng)))
        .collect();
    let ip_miss: Vec<IpAddr> = (0..100_000)
        .map(|i| {
            if i % 5 == 4 {
                IpAddr::V6(Ipv6Addr::from(0x2a00u128 << 112 | u128::from(rng.next())))
            } else {
                IpAddr::V4(Ipv4Addr::from(rng.next() as u32))
            }
        })
        .collect();
    let norm_hits: Vec<_> = data
        .url_hits
        .iter()
        .map(|u| normalise_url(u).unwrap())
        .collect();
    let norm_miss: Vec<_> = url_miss.iter().map(|u| normalise_url(u).unwrap()).collect();

    println!("single-threaded lookups:");
    rate(
        "url hit  (check_url: parse+normalise)",
        &data.url_hits,
        |u| black_box(index.check_url(black_box(u)).unwrap().is_blocked()),
    );
    rate("url miss (check_url: parse+normalise)", &url_miss, |u| {
        black_box(index.check_url(black_box(u)).unwrap().is_blocked())
    });
    rate("url hit  (check_norm_url)", &norm_hits, |u| {
        black_box(index.check_norm_url(black_box(u)).is_blocked())
    });
    rate("url miss (check_norm_url)", &norm_miss, |u| {
        black_box(index.check_norm_url(black_box(u)).is_blocked())
    });
    rate("normalise_url only", &url_miss, |u| {
        black_box(normalise_url(black_box(u)).is_ok())
    });
    rate("host hit  (check_host)", &data.host_hits, |h| {
        black_box(index.check_host(black_box(h)).unwrap().is_blocked())
    });
    rate("host miss (check_host)", &host_miss, |h| {
        black_box(index.check_host(black_box(h)).unwrap().is_blocked())
    });
    rate("ip hit  (check_ip)", &data.ip_hits, |ip| {
        black_box(index.check_ip(black_box(*ip)).is_blocked())
    });
    rate("ip miss (check_ip)", &ip_miss, |ip| {
        black_box(index.check_ip(black_box(*ip)).is_blocked())
    });
}
