//! ENF-1 decision index at scale: 1,000,000 URL/host rules + 100,000 CIDRs.
//! Run: `cargo bench -p warden-enforce --bench index`. Goals (reported, not asserted): at
//! least 10 M lookups/s on one core for hits and misses of URL, host and IP queries, and at
//! most 200 MB of index memory.
//!
//! Queries are raw strings as an edge sends them (`https://h123.site45.example/p7/x?q=1`),
//! never pre-normalised, 100,000 per set drawn at random from the rules (hits) or beside
//! them (misses), so that consecutive queries touch unrelated parts of the index; one
//! thread. Hits and misses are measured
//! apart. The query texts lie back to back in one buffer, read in order, as request lines
//! arrive in a server's buffers: what is measured is the index's memory, not a cache miss
//! on a scattered test string. Prints figures; asserts nothing but that the generated
//! rules are all accepted.
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

const GOAL_RATE: f64 = 10e6;
const GOAL_MB: f64 = 200.0;
const QUERIES: usize = 100_000;

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
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

const ACTIONS: [&str; 4] = ["block_url", "block_host", "suspend_domain", "blackhole_ip"];

fn host(rng: &mut Rng) -> String {
    format!("h{}.site{}.example", rng.below(1 << 20), rng.below(50_000))
}

/// How edges vary a URL: mostly as is; sometimes the Host header's case, an explicit
/// default port, a fragment or a dot segment (all handled without allocation); rarely an
/// escaped letter, which takes the reference normaliser.
fn as_sent(rng: &mut Rng, scheme: &str, host: &str, rest: &str) -> String {
    let path = rest.trim_start_matches('/');
    match rng.below(100) {
        0..=79 => format!("{scheme}://{host}{rest}"),
        80..=87 => format!("{scheme}://{}{rest}", host.to_ascii_uppercase()),
        88..=93 => {
            let port = if scheme == "https" { 443 } else { 80 };
            format!("{scheme}://{host}:{port}{rest}")
        }
        94..=96 => format!("{scheme}://{host}{rest}#section-2"),
        97..=98 => format!("{scheme}://{host}/./{path}"),
        _ => match path.as_bytes().first() {
            Some(&c) if c.is_ascii_alphanumeric() => {
                format!("{scheme}://{host}/%{c:02X}{}", &path[1..])
            }
            _ => format!("{scheme}://{host}/%7E/..{rest}"),
        },
    }
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

/// What the generated rules block, to derive hit queries from.
#[derive(Default)]
struct Blocked {
    exact: Vec<(String, String)>,
    prefix: Vec<(String, String)>,
    hosts: Vec<String>,
    domains: Vec<String>,
    url_sites: Vec<String>,
}

fn generate() -> (Vec<Rule>, Blocked, Vec<IpAddr>) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut rules = Vec::with_capacity(1_100_000);
    let mut b = Blocked::default();
    let mut ip_hits = Vec::new();
    for n in 0..1_000_000 {
        let kind = match n % 10 {
            // 50% exact URLs, 20% URL prefixes, 20% hosts, 10% domains.
            0..=4 => {
                let h = host(&mut rng);
                let rest = format!(
                    "/p{}/item{}?id={}",
                    rng.below(1000),
                    rng.below(100_000),
                    rng.below(1000)
                );
                let url = format!("https://{h}{rest}");
                b.exact.push((h.clone(), rest));
                b.url_sites.push(h);
                RuleKind::UrlExact(url)
            }
            5 | 6 => {
                let h = host(&mut rng);
                let p = format!("/p{}", rng.below(1000));
                let url = format!("https://{h}{p}");
                b.prefix.push((h.clone(), p));
                b.url_sites.push(h);
                RuleKind::UrlPrefix(url)
            }
            7 | 8 => {
                let h = host(&mut rng);
                b.hosts.push(h.clone());
                RuleKind::Host(h)
            }
            _ => {
                let d = format!("d{}.example", rng.below(1 << 30));
                b.domains.push(d.clone());
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
    (rules, b, ip_hits)
}

/// Query texts back to back in one buffer, in query order.
struct Corpus {
    text: String,
    ends: Vec<usize>,
}

impl Corpus {
    fn new(queries: &[String]) -> Self {
        let mut text = String::new();
        let ends = queries
            .iter()
            .map(|q| {
                text.push_str(q);
                text.len()
            })
            .collect();
        Self { text, ends }
    }

    fn iter(&self) -> impl Iterator<Item = &str> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(s, &e)| &self.text[s..e])
    }

    fn len(&self) -> usize {
        self.ends.len()
    }
}

struct Queries {
    url_hit: Vec<String>,
    url_miss: Vec<String>,
    host_hit: Vec<String>,
    host_miss: Vec<String>,
    ip_hit: Vec<IpAddr>,
    ip_miss: Vec<IpAddr>,
}

fn queries(b: &Blocked, mut ip_hit: Vec<IpAddr>) -> Queries {
    let mut rng = Rng(42);
    let paths = [
        "/",
        "/index.html",
        "/a/b/c.js",
        "/p1/item2?id=3",
        "/search?q=x&page=2",
    ];
    // URL hits, a quarter per precedence class: the exact URL; a deeper page under a
    // prefix (and over http: prefixes ignore the scheme); any page of a blocked host; any
    // page of a subdomain of a blocked domain.
    let mut url_hit: Vec<String> = (0..QUERIES)
        .map(|i| match i % 4 {
            0 => {
                let (h, rest) = rng.pick(&b.exact).clone();
                as_sent(&mut rng, "https", &h, &rest)
            }
            1 => {
                let (h, p) = rng.pick(&b.prefix).clone();
                let rest = format!("{p}/deeper/page{}.html?x=1", rng.below(100));
                as_sent(&mut rng, "http", &h, &rest)
            }
            2 => {
                let h = rng.pick(&b.hosts).clone();
                let path = *rng.pick(&paths);
                as_sent(&mut rng, "https", &h, path)
            }
            _ => {
                let d = rng.pick(&b.domains).clone();
                let h = format!("www{}.{d}", rng.below(10));
                let path = *rng.pick(&paths);
                as_sent(&mut rng, "https", &h, path)
            }
        })
        .collect();
    // URL misses: mostly unknown sites; one in four another page of a site that has URL
    // rules (the expensive miss: exact and prefix tables are probed).
    let mut url_miss: Vec<String> = (0..QUERIES)
        .map(|i| {
            let (h, rest) = if i % 4 == 0 {
                let h = rng.pick(&b.url_sites).clone();
                (h, format!("/other{}/page.html?id={i}", rng.below(1000)))
            } else {
                (
                    host(&mut rng),
                    format!("/p{}/item{}?id={i}", rng.below(1000), rng.below(100)),
                )
            };
            as_sent(&mut rng, "https", &h, &rest)
        })
        .collect();
    let mut host_hit: Vec<String> = (0..QUERIES)
        .map(|i| {
            if i % 2 == 0 {
                rng.pick(&b.hosts).clone()
            } else {
                format!("www.cdn.{}", rng.pick(&b.domains))
            }
        })
        .collect();
    // Host misses: unknown hosts, and one in four a host that only URL rules name.
    let mut host_miss: Vec<String> = (0..QUERIES)
        .map(|i| {
            if i % 4 == 0 {
                rng.pick(&b.url_sites).clone()
            } else {
                format!("www.{}", host(&mut rng))
            }
        })
        .collect();
    let mut ip_miss: Vec<IpAddr> = (0..QUERIES)
        .map(|i| {
            if i % 5 == 4 {
                IpAddr::V6(Ipv6Addr::from(0x2a00u128 << 112 | u128::from(rng.next())))
            } else {
                IpAddr::V4(Ipv4Addr::from(rng.next() as u32))
            }
        })
        .collect();
    rng.shuffle(&mut url_hit);
    rng.shuffle(&mut url_miss);
    rng.shuffle(&mut host_hit);
    rng.shuffle(&mut host_miss);
    rng.shuffle(&mut ip_hit);
    rng.shuffle(&mut ip_miss);
    Queries {
        url_hit,
        url_miss,
        host_hit,
        host_miss,
        ip_hit,
        ip_miss,
    }
}

/// Runs `f` over `queries` for at least 1.5 s; prints lookups/s against the goal and the
/// share of queries blocked (a hit set that is not 100% blocked would be a broken bench).
fn rate<I: Iterator>(
    label: &str,
    queries: impl Fn() -> I,
    goal: bool,
    mut f: impl FnMut(I::Item) -> bool,
) {
    let mut done = 0u64;
    let mut blocked = 0u64;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        for q in queries() {
            blocked += u64::from(f(q));
            done += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let per_sec = done as f64 / secs;
    let verdict = match (goal, per_sec >= GOAL_RATE) {
        (false, _) => "(for reference)",
        (true, true) => "goal >= 10 M/s: met",
        (true, false) => "goal >= 10 M/s: NOT met",
    };
    println!(
        "  {label:<30} {:>6.2} M/s {:>5.0} ns  {:>3.0}% blocked   {verdict}",
        per_sec / 1e6,
        secs * 1e9 / done as f64,
        100.0 * blocked as f64 / done as f64,
    );
}

fn main() {
    let t = Instant::now();
    let (rules, blocked, ip_hits) = generate();
    let q = queries(&blocked, ip_hits);
    drop(blocked);
    println!(
        "generated {} rules and {} query sets of {QUERIES} in {:.2?}",
        rules.len(),
        6,
        t.elapsed()
    );

    let t = Instant::now();
    let index = Index::build(rules.clone());
    let build = t.elapsed();
    assert!(
        index.rejected().is_empty(),
        "{:?}",
        index.rejected().first()
    );
    let mb = index.memory_bytes() as f64 / 1e6;
    println!("Index::build (normalise + index): {build:.2?}");
    println!(
        "rules: {}, index memory: {mb:.1} MB   goal <= {GOAL_MB:.0} MB: {}",
        index.len(),
        if mb <= GOAL_MB { "met" } else { "NOT met" }
    );

    let shared = SharedIndex::new(index);
    // A full rebuild per apply; the first also pays for faulting in fresh memory.
    let mut times = Vec::new();
    for n in 0..2 {
        let t = Instant::now();
        shared.apply(vec![
            Change::Remove(format!("act-{:07}", 7 + n)),
            Change::Add(rule(2_000_000 + n, RuleKind::Host("new.example".into()))),
        ]);
        times.push(t.elapsed());
    }
    println!(
        "rebuild: SharedIndex::apply (2 changes, full rebuild): {:.2?}, again {:.2?}",
        times[0], times[1]
    );
    drop(rules);
    let index = shared.load();

    let [url_hit, url_miss, host_hit, host_miss] =
        [&q.url_hit, &q.url_miss, &q.host_hit, &q.host_miss].map(|v| Corpus::new(v));
    assert!(
        [&url_hit, &url_miss, &host_hit, &host_miss]
            .iter()
            .all(|c| c.len() == QUERIES)
    );
    println!("single-threaded lookups on raw query strings ({QUERIES} per set, shuffled):");
    let url = |u: &str| black_box(index.check_url(black_box(u)).unwrap().is_blocked());
    let host = |h: &str| black_box(index.check_host(black_box(h)).unwrap().is_blocked());
    let ip = |a: &IpAddr| black_box(index.check_ip(black_box(*a)).is_blocked());
    rate("url hit   (check_url)", || url_hit.iter(), true, url);
    rate("url miss  (check_url)", || url_miss.iter(), true, url);
    rate("host hit  (check_host)", || host_hit.iter(), true, host);
    rate("host miss (check_host)", || host_miss.iter(), true, host);
    rate("ip hit    (check_ip)", || q.ip_hit.iter(), true, ip);
    rate("ip miss   (check_ip)", || q.ip_miss.iter(), true, ip);

    // For scale: what a URL costs through the reference normaliser alone, as every URL did
    // before the fast path, and as URLs with IDN, escapes to decode, IP literals in legacy
    // forms or userinfo still do.
    rate(
        "normalise_url only (reference)",
        || url_miss.iter(),
        false,
        |u| black_box(normalise_url(black_box(u)).is_ok()),
    );
}
