//! Issue 9: one canonical form per target (RES-2, INT-4, ENF-1) and the defects around targets,
//! identifiers, account ids and tenant owner lookups — each test named after what was wrong.

use serde_json::{Value, json};
use warden_app::Settings;

use crate::both_engines;
use crate::enforcement::{enforce, until};
use crate::support::{Engine, TestApp, spawn_app};

both_engines!(
    regression_spellings_of_one_target_opened_several_cases,
    regression_url_prefix_dropped_its_port,
    regression_mapped_ipv6_was_not_its_ipv4,
    regression_unowned_cases_stayed_unowned_after_registration,
    regression_public_ip_accepted_non_public_addresses,
    regression_invalid_dotted_quad_became_a_domain,
    regression_account_ids_differing_only_in_case_coexisted,
    regression_tenant_owner_lookup_depended_on_other_tenants,
);

async fn app(engine: Engine) -> Option<TestApp> {
    spawn_app(engine, Settings::default()).await
}

async fn account(t: &TestApp, id: &str) {
    let (s, b) = t
        .call(
            "POST",
            "/api/accounts",
            Some(&t.admin),
            Some(&json!({ "id": id, "name": id })),
        )
        .await;
    assert_eq!(s, 201, "{b}");
}

/// Registers resource `id` of `acct` with `(kind, value)` identifiers; returns status and body.
async fn resource(t: &TestApp, acct: &str, id: &str, ids: &[(&str, &str)]) -> (u16, Value) {
    let identifiers: Vec<Value> = ids
        .iter()
        .map(|(kind, value)| json!({ "kind": kind, "value": value }))
        .collect();
    t.call(
        "POST",
        "/api/resources",
        Some(&t.admin),
        Some(
            &json!({ "id": id, "account_id": acct, "product": "cvm", "identifiers": identifiers }),
        ),
    )
    .await
}

/// Submits a report as an operator (who gets the case back).
async fn report(t: &TestApp, op: &str, target: &str) -> (u16, Value) {
    t.call(
        "POST",
        "/api/reports",
        Some(op),
        Some(&json!({ "target": target, "category": "gambling" })),
    )
    .await
}

async fn case(t: &TestApp, id: &str) -> Value {
    let (s, c) = t
        .call("GET", &format!("/api/cases/{id}"), Some(&t.admin), None)
        .await;
    assert_eq!(s, 200, "{c}");
    c
}

/// `text` as a query-string value: every byte but the unreserved ones escaped.
pub(crate) fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `GET /api/owner?target=`.
async fn owner(t: &TestApp, token: &str, target: &str) -> Value {
    let path = format!("/api/owner?target={}", enc(target));
    let (s, b) = t.call("GET", &path, Some(token), None).await;
    assert_eq!(s, 200, "{target}: {b}");
    b
}

/// INT-4 / RES-2: every spelling of a URL, domain or IP — scheme and host case, default port,
/// dot segments, escapes of unreserved characters, a trailing dot, IDN in Unicode or punycode,
/// IPv4-mapped IPv6 — lands in one case with one owner; the case keeps the canonical text
/// (IDN as punycode).
async fn regression_spellings_of_one_target_opened_several_cases(engine: Engine) {
    let Some(t) = app(engine).await else { return };
    account(&t, "acme").await;
    let (s, r) = resource(
        &t,
        "acme",
        "web-1",
        &[
            ("domain", "shop.example"),
            ("domain", "例子.测试"),
            ("public_ip", "192.0.2.0/24"),
        ],
    )
    .await;
    assert_eq!(s, 201, "{r}");
    let values: Vec<&str> = r["identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"].as_str().unwrap())
        .collect();
    assert!(values.contains(&"xn--fsqu00a.xn--0zwm56d"), "{r}");
    let op = t.token("operator", None).await;
    let table: [(&str, &[&str]); 5] = [
        (
            "https://shop.example/a/b",
            &[
                "https://shop.example/a/b",
                "HTTPS://Shop.Example:443/a/./b",
                "https://SHOP.EXAMPLE/a/c/../b",
                "https://shop.example./a/b",
                "https://shop.example/a/%62",
                "https://shop.example/%61/b#top",
                "https://shop.example:0443/a/b",
                "https://%73hop.example/a/b",
            ],
        ),
        (
            "https://xn--fsqu00a.xn--0zwm56d/x",
            &[
                "https://例子.测试/x",
                "https://xn--fsqu00a.xn--0zwm56d/x",
                "https://例子。测试./x",
                "HTTPS://XN--FSQU00A.xn--0zwm56d:443/x",
            ],
        ),
        (
            "http://192.0.2.55/x",
            &[
                "http://192.0.2.55/x",
                "http://[::ffff:192.0.2.55]/x",
                "HTTP://192.0.2.55:80/x",
                "http://192.0.2.55./x",
            ],
        ),
        (
            "192.0.2.55",
            &["192.0.2.55", "::ffff:192.0.2.55", "[::ffff:192.0.2.55]"],
        ),
        (
            "shop.example",
            &["shop.example", "SHOP.Example.", "shop。example"],
        ),
    ];
    for (canonical, spellings) in table {
        let mut cases = Vec::new();
        for spelling in spellings {
            let (s, b) = report(&t, &op, spelling).await;
            assert_eq!(s, 201, "{spelling}: {b}");
            assert_eq!(b["owned"], true, "{spelling}: {b}");
            cases.push(b["case_id"].as_str().unwrap().to_string());
        }
        cases.dedup();
        assert_eq!(cases.len(), 1, "{canonical}: {cases:?}");
        let c = case(&t, &cases[0]).await;
        assert_eq!(
            (
                c["target"].as_str(),
                c["resource_id"].as_str(),
                c["report_count"].as_u64()
            ),
            (Some(canonical), Some("web-1"), Some(spellings.len() as u64)),
            "{c}"
        );
    }
    t.stop().await;
}

/// RES-2: a `url_prefix` identifier kept only `host/path`, so `http://h:8080/app` and
/// `https://h/app` were one identifier (the second registration was a conflict) and a report
/// about the default port resolved to the port-8080 resource.
async fn regression_url_prefix_dropped_its_port(engine: Engine) {
    let Some(t) = app(engine).await else { return };
    account(&t, "alt").await;
    account(&t, "main").await;
    let (s, r) = resource(
        &t,
        "alt",
        "alt-1",
        &[("url_prefix", "http://Shop.Example:8080/app/")],
    )
    .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["identifiers"][0]["value"], "shop.example:8080/app", "{r}");
    let (s, r) = resource(&t, "main", "main-1", &[("url_prefix", "shop.example/app")]).await;
    assert_eq!(s, 201, "{r}");
    let (s, r) = resource(
        &t,
        "main",
        "main-2",
        &[("url_prefix", "https://shop.example:443/app")],
    )
    .await;
    assert_eq!(s, 409, "the default port is no port: {r}");
    for (target, want) in [
        ("http://shop.example:8080/app/x", "alt-1"),
        ("https://shop.example:8080/app", "alt-1"),
        ("https://shop.example/app/x", "main-1"),
        ("http://shop.example:80/app/x", "main-1"),
    ] {
        let o = owner(&t, &t.admin, target).await;
        assert_eq!(o["owner"]["resource_id"], want, "{target}: {o}");
    }
    assert_eq!(
        owner(&t, &t.admin, "http://shop.example:8081/app/x").await["unowned"],
        true
    );
    t.stop().await;
}

/// RES-2 / ENF-1: `::ffff:192.0.2.55` is the IPv4 address `192.0.2.55` for identifiers,
/// reports and the decision index alike.
async fn regression_mapped_ipv6_was_not_its_ipv4(engine: Engine) {
    let Some(t) = app(engine).await else { return };
    account(&t, "acme").await;
    let (s, r) = resource(&t, "acme", "v4", &[("public_ip", "::ffff:192.0.2.0/120")]).await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["identifiers"][0]["value"], "192.0.2.0/24", "{r}");
    let (s, r) = resource(&t, "acme", "v4-again", &[("public_ip", "192.0.2.0/24")]).await;
    assert_eq!(s, 409, "one block, one identifier: {r}");
    let op = t.token("operator", None).await;
    let (s, b) = report(&t, &op, "::ffff:192.0.2.55").await;
    assert_eq!((s, &b["owned"]), (201, &json!(true)), "{b}");
    let c = case(&t, b["case_id"].as_str().unwrap()).await;
    assert_eq!(c["target"], "192.0.2.55", "{c}");
    let o = owner(&t, &t.admin, "http://[::ffff:192.0.2.55]:8080/x").await;
    assert_eq!(o["owner"]["resource_id"], "v4", "{o}");
    // The decision index blocks the case's URL however the edge spells the mapped host.
    let (_, b) = report(&t, &op, "http://[::ffff:192.0.2.55]/page").await;
    let page_case = b["case_id"].as_str().unwrap().to_string();
    assert_eq!(
        case(&t, &page_case).await["target"],
        "http://192.0.2.55/page"
    );
    let (s, b) = enforce(&t, &op, &page_case, "block_url", "phishing page").await;
    assert_eq!(s, 200, "{b}");
    for spelling in [
        "http://192.0.2.55/page",
        "http://[::ffff:192.0.2.55]/page",
        "http://[::FFFF:c000:237]/page",
    ] {
        let path = format!("/api/decision?url={}", enc(spelling));
        until(spelling, async || {
            let (_, d) = t.call("GET", &path, Some(&op), None).await;
            d["case_id"].as_str() == Some(page_case.as_str())
        })
        .await;
    }
    t.stop().await;
}

/// RES-2: a case opened `unowned` stayed unowned after the resource owning its target was
/// registered (or given the identifier), so it never reached its tenant and later reports
/// about the target opened a second case.
async fn regression_unowned_cases_stayed_unowned_after_registration(engine: Engine) {
    let Some(t) = app(engine).await else { return };
    account(&t, "late").await;
    let op = t.token("operator", None).await;
    let (_, first) = report(&t, &op, "https://www.late.example/promo").await;
    assert_eq!(first["owned"], false, "{first}");
    let (_, second) = report(&t, &op, "https://later.example/y").await;
    assert_eq!(second["owned"], false, "{second}");
    let (_, dismissed) = report(&t, &op, "https://late.example/old").await;
    let dismissed = dismissed["case_id"].as_str().unwrap().to_string();
    let (s, b) = t
        .call(
            "POST",
            &format!("/api/cases/{dismissed}/dismiss"),
            Some(&op),
            Some(&json!({ "reason": "not a violation" })),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, other) = report(&t, &op, "https://unrelated.example/z").await;

    let (s, r) = resource(&t, "late", "late-1", &[("domain", "late.example")]).await;
    assert_eq!(s, 201, "{r}");
    let first_case = first["case_id"].as_str().unwrap();
    let c = case(&t, first_case).await;
    assert_eq!(
        (c["resource_id"].as_str(), c["account_id"].as_str()),
        (Some("late-1"), Some("late")),
        "{c}"
    );
    let (_, ev) = t
        .call(
            "GET",
            &format!("/api/audit?subject=case:{first_case}&action=case.owner_matched"),
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(ev["items"].as_array().unwrap().len(), 1, "{ev}");
    // The tenant sees it, with its report; the next report about the target joins it.
    let tenant = t.token("tenant", Some("late")).await;
    let (s, b) = t
        .call(
            "GET",
            &format!("/api/cases/{first_case}/reports"),
            Some(&tenant),
            None,
        )
        .await;
    assert_eq!(
        (s, b["items"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{b}"
    );
    let (_, again) = report(&t, &op, "https://WWW.late.example/promo").await;
    assert_eq!(
        (again["case_id"].as_str(), again["duplicate"].as_bool()),
        (Some(first_case), Some(true)),
        "{again}"
    );
    // Untouched: a dismissed case, and a case the new identifiers do not own.
    assert_eq!(case(&t, &dismissed).await["account_id"], Value::Null);
    let other_case = other["case_id"].as_str().unwrap();
    assert_eq!(case(&t, other_case).await["account_id"], Value::Null);
    // An update that adds an identifier matches too.
    let second_case = second["case_id"].as_str().unwrap();
    assert_eq!(case(&t, second_case).await["account_id"], Value::Null);
    let (s, b) = t
        .call(
            "PATCH",
            "/api/resources/late-1",
            Some(&t.admin),
            Some(&json!({ "identifiers": [
                { "kind": "domain", "value": "late.example" },
                { "kind": "url_prefix", "value": "later.example/" }
            ] })),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(case(&t, second_case).await["resource_id"], "late-1");
    // Addresses too, bare or as a URL's host, IPv4 and IPv6.
    let mut by_ip = Vec::new();
    for target in [
        "http://198.51.100.9:8080/x",
        "198.51.100.10",
        "2001:db8:5::1",
        "https://[2001:db8::7]/y",
    ] {
        let (_, r) = report(&t, &op, target).await;
        assert_eq!(r["owned"], false, "{r}");
        by_ip.push(r["case_id"].as_str().unwrap().to_string());
    }
    let (s, r) = resource(
        &t,
        "late",
        "late-ip",
        &[
            ("public_ip", "198.51.100.0/24"),
            ("public_ip", "2001:db8::/32"),
        ],
    )
    .await;
    assert_eq!(s, 201, "{r}");
    for id in by_ip {
        assert_eq!(case(&t, &id).await["resource_id"], "late-ip", "{id}");
    }
    t.stop().await;
}

/// RES-2: `public_ip` accepted any address or block: everything (`0.0.0.0/0`), loopback,
/// link-local and the cloud metadata addresses, private, multicast, broadcast. Each is refused
/// with 422 naming the identifier, and nothing is stored; the documentation prefixes stay
/// usable.
async fn regression_public_ip_accepted_non_public_addresses(engine: Engine) {
    let Some(t) = app(engine).await else { return };
    account(&t, "acme").await;
    for bad in [
        "0.0.0.0/0",
        "8.0.0.0/7",
        "::/0",
        "2000::/3",
        "0.0.0.0",
        "::",
        "127.0.0.1",
        "::1",
        "169.254.169.254",
        "fd00:ec2::254",
        "fe80::1",
        "100.100.100.200",
        "10.1.2.3",
        "192.168.0.0/16",
        "224.0.0.1",
        "ff02::1",
        "255.255.255.255",
        "::ffff:127.0.0.1",
        "192.0.0.0/8",
    ] {
        let (s, b) = resource(
            &t,
            "acme",
            "r-bad",
            &[("public_ip", "203.0.113.1"), ("public_ip", bad)],
        )
        .await;
        assert_eq!(
            (s, b["code"].as_str(), b["details"]["field"].as_str()),
            (422, Some("invalid_field"), Some("identifiers[1].value")),
            "{bad}: {b}"
        );
        let shown = bad.split('/').next().unwrap().trim_start_matches("::ffff:");
        assert!(b["message"].as_str().unwrap().contains(shown), "{bad}: {b}");
        let (s, _) = t
            .call("GET", "/api/resources/r-bad", Some(&t.admin), None)
            .await;
        assert_eq!(s, 404, "{bad}: nothing stored");
    }
    let (s, b) = resource(
        &t,
        "acme",
        "r-ok",
        &[
            ("public_ip", "203.0.113.0/24"),
            ("public_ip", "2001:db8::/32"),
            ("public_ip", "9.0.0.0/8"),
            ("internal_ip", "10.1.2.3"),
        ],
    )
    .await;
    assert_eq!(s, 201, "{b}");
    t.stop().await;
}

/// RES-2 / INT-3: a target such as `999.1.1.1` — numeric labels, so an IPv4 address, but not
/// a valid one — was taken for a domain. It is refused with 422 naming the target, and nothing
/// is stored.
async fn regression_invalid_dotted_quad_became_a_domain(engine: Engine) {
    let Some(t) = app(engine).await else { return };
    account(&t, "acme").await;
    let op = t.token("operator", None).await;
    for bad in ["999.1.1.1", "1.2.3.256", "1.2.3", "http://999.1.1.1/x"] {
        let (s, b) = report(&t, &op, bad).await;
        assert_eq!(
            (s, b["details"]["field"].as_str()),
            (422, Some("target")),
            "{bad}: {b}"
        );
        assert!(
            b["message"]
                .as_str()
                .unwrap()
                .contains(bad.trim_start_matches("http://").trim_end_matches("/x")),
            "{bad}: {b}"
        );
    }
    assert_eq!(t.app.store.count_reports().await.unwrap(), 0);
    let (s, b) = resource(&t, "acme", "r-num", &[("domain", "999.1.1.1")]).await;
    assert_eq!(
        (s, b["details"]["field"].as_str()),
        (422, Some("identifiers[0].value")),
        "{b}"
    );
    assert!(b["message"].as_str().unwrap().contains("999.1.1.1"), "{b}");
    let (s, b) = report(&t, &op, "198.51.100.7").await;
    assert_eq!(s, 201, "{b}");
    t.stop().await;
}

/// RES-3: account ids that differ only in case (`acme`, `ACME`) coexisted. The second is a
/// 409 conflict naming the first; nothing is stored.
async fn regression_account_ids_differing_only_in_case_coexisted(engine: Engine) {
    let Some(t) = app(engine).await else { return };
    account(&t, "acme").await;
    for id in ["ACME", "Acme"] {
        let (s, b) = t
            .call(
                "POST",
                "/api/accounts",
                Some(&t.admin),
                Some(&json!({ "id": id, "name": "Impostor" })),
            )
            .await;
        assert_eq!((s, b["code"].as_str()), (409, Some("conflict")), "{b}");
        let message = b["message"].as_str().unwrap();
        assert!(message.contains(id) && message.contains("acme"), "{b}");
    }
    let (_, list) = t.call("GET", "/api/accounts", Some(&t.admin), None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    account(&t, "acme-2").await;
    t.stop().await;
}

/// §1 / RES-2: a tenant's owner lookup took the longest match over every account and then hid
/// it, so a target under the tenant's own domain answered `owner: null` when another tenant held
/// a narrower identifier there — telling the tenant that someone else owns it. A tenant's
/// answer now depends on its own identifiers only: the same whether the target is unowned or
/// another tenant's, never naming the other tenant. Both orders of broad and narrow.
async fn regression_tenant_owner_lookup_depended_on_other_tenants(engine: Engine) {
    let Some(t) = app(engine).await else { return };
    account(&t, "tenant-a").await;
    account(&t, "tenant-b").await;
    for (acct, id, ident) in [
        // A broad, B narrow.
        ("tenant-a", "a-wide", ("domain", "one.example")),
        ("tenant-b", "b-narrow", ("url_prefix", "one.example/b")),
        // A narrow, B broad.
        ("tenant-a", "a-narrow", ("url_prefix", "two.example/a")),
        ("tenant-b", "b-wide", ("domain", "two.example")),
    ] {
        let (s, b) = resource(&t, acct, id, &[ident]).await;
        assert_eq!(s, 201, "{b}");
    }
    let a = t.token("tenant", Some("tenant-a")).await;
    let b = t.token("tenant", Some("tenant-b")).await;
    // What each tenant learns, target by target: own, and which of its resources.
    let table = [
        (&a, "tenant-a", "https://one.example/b/x", Some("a-wide")),
        (&a, "tenant-a", "https://one.example/c", Some("a-wide")),
        (&a, "tenant-a", "https://two.example/a/q", Some("a-narrow")),
        (&a, "tenant-a", "https://two.example/z", None),
        (&b, "tenant-b", "https://one.example/b/x", Some("b-narrow")),
        (&b, "tenant-b", "https://one.example/c", None),
        (&b, "tenant-b", "https://two.example/a/q", Some("b-wide")),
        (&b, "tenant-b", "https://two.example/z", Some("b-wide")),
    ];
    for (token, acct, target, want) in table {
        let o = owner(&t, token, target).await;
        let other = if acct == "tenant-a" {
            "tenant-b"
        } else {
            "tenant-a"
        };
        let text = o.to_string();
        assert!(
            !text.contains(other) && !text.contains("unowned"),
            "{acct} {target}: {o}"
        );
        match want {
            Some(res) => assert_eq!(
                (
                    o["own"].as_bool(),
                    o["owner"]["resource_id"].as_str(),
                    o["owner"]["account_id"].as_str()
                ),
                (Some(true), Some(res), Some(acct)),
                "{acct} {target}: {o}"
            ),
            None => {
                // Exactly what a target nobody owns answers.
                let nobody = owner(&t, token, "https://nobody.example/z").await;
                let mut same = o.clone();
                same["target"] = nobody["target"].clone();
                assert_eq!(same, nobody, "{acct} {target}");
                assert_eq!(o["own"], false, "{o}");
            }
        }
    }
    // Staff see the owner by longest match over every account.
    for (target, want) in [
        ("https://one.example/b/x", "b-narrow"),
        ("https://one.example/c", "a-wide"),
        ("https://two.example/a/q", "a-narrow"),
        ("https://two.example/z", "b-wide"),
    ] {
        let o = owner(&t, &t.admin, target).await;
        assert_eq!(
            (o["owner"]["resource_id"].as_str(), o["unowned"].as_bool()),
            (Some(want), Some(false)),
            "{target}: {o}"
        );
    }
    assert_eq!(
        owner(&t, &t.admin, "https://nobody.example/").await["unowned"],
        true
    );
    t.stop().await;
}
