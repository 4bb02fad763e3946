//! The route table: every route with the roles that may call it. The role middleware enforces
//! it (a route missing from the table answers 403 to everyone), the OpenAPI document is generated
//! from it, and the isolation test walks it route by route, role by role.

/// Who may call a route: role codes, plus `anonymous` for unauthenticated callers.
pub type Access = &'static [&'static str];

/// Everyone, with or without a token.
pub const ANYONE: Access = &[
    "anonymous",
    "admin",
    "operator",
    "reviewer",
    "auditor",
    "tenant",
    "detector",
    "edge",
];
/// Every token holder.
pub const TOKEN: Access = &[
    "admin", "operator", "reviewer", "auditor", "tenant", "detector", "edge",
];
/// Report submitters (INT-1).
pub const REPORTERS: Access = &["anonymous", "admin", "operator", "detector"];
/// Machine and staff submitters of batches.
pub const BATCHERS: Access = &["admin", "operator", "detector"];
/// Readers of cases, accounts and resources (tenants: their own only).
pub const READERS: Access = &["admin", "operator", "reviewer", "tenant"];
/// Staff who change accounts, resources and cases.
pub const OPERATORS: Access = &["admin", "operator"];
/// Enforcement points (and staff) reading the change feed.
pub const EDGES: Access = &["admin", "operator", "edge"];
/// Who may scan content.
pub const SCANNERS: Access = &["admin", "operator", "detector"];
/// Tenants (their own cases only).
pub const TENANTS: Access = &["tenant"];
/// Who sees the review queues.
pub const REVIEWERS: Access = &["admin", "operator", "reviewer"];
/// Who decides reviews.
pub const REVIEW_DECIDERS: Access = &["admin", "reviewer"];
/// Audit readers.
pub const AUDITORS: Access = &["admin", "auditor"];
/// Administrators.
pub const ADMINS: Access = &["admin"];

/// One documented route.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// HTTP method.
    pub method: &'static str,
    /// Path, with `{param}` placeholders.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// What it does.
    pub summary: &'static str,
    /// OpenAPI tag.
    pub tag: &'static str,
    /// Request body media type, if any.
    pub body: Option<&'static str>,
    /// SPEC ids it serves.
    pub spec: &'static str,
}

const fn r(
    method: &'static str,
    path: &'static str,
    access: Access,
    tag: &'static str,
    summary: &'static str,
    body: Option<&'static str>,
    spec: &'static str,
) -> Route {
    Route {
        method,
        path,
        access,
        summary,
        tag,
        body,
        spec,
    }
}

const JSON: Option<&str> = Some("application/json");

/// Every route of the API.
pub const ROUTES: &[Route] = &[
    r(
        "GET",
        "/healthz",
        ANYONE,
        "ops",
        "Liveness: 200 while the process runs.",
        None,
        "OPS-2",
    ),
    r(
        "GET",
        "/readyz",
        ANYONE,
        "ops",
        "Readiness: 200 when the database answers, else 503.",
        None,
        "OPS-2",
    ),
    r(
        "GET",
        "/metrics",
        ANYONE,
        "ops",
        "Prometheus metrics (text format).",
        None,
        "OPS-2",
    ),
    r(
        "GET",
        "/api/openapi.json",
        ANYONE,
        "ops",
        "This document.",
        None,
        "OPS-2",
    ),
    r(
        "GET",
        "/api/taxonomy",
        ANYONE,
        "intake",
        "Violation categories with zh-CN/en labels, base severity and legal references.",
        None,
        "TAX-1..3",
    ),
    r(
        "GET",
        "/api/whoami",
        TOKEN,
        "identity",
        "The caller's token id, role and account.",
        None,
        "§1",
    ),
    r(
        "POST",
        "/api/reports",
        REPORTERS,
        "intake",
        "File one report (anonymous reporters are rate-limited per IP).",
        JSON,
        "INT-1, INT-3, INT-4, INT-5",
    ),
    r(
        "POST",
        "/api/reports/batch",
        BATCHERS,
        "intake",
        "File up to max_batch reports; valid ones are stored in one transaction, invalid ones listed.",
        JSON,
        "INT-1, INT-4",
    ),
    r(
        "POST",
        "/api/reports/xarf",
        REPORTERS,
        "intake",
        "File an X-ARF v3 report; it is validated, mapped to a category and kept whole as evidence.",
        JSON,
        "INT-2",
    ),
    r(
        "GET",
        "/api/reports/{id}/reporter-contact",
        OPERATORS,
        "intake",
        "Decrypt a report's reporter contact (audited).",
        None,
        "AUD-4",
    ),
    r(
        "GET",
        "/api/cases",
        READERS,
        "cases",
        "List cases (?state=reported is the triage queue; ?unowned=true; ?after=&limit=).",
        None,
        "INT-4, INT-5",
    ),
    r(
        "GET",
        "/api/cases/count",
        READERS,
        "cases",
        "Count cases (same filters as the list).",
        None,
        "INT-4",
    ),
    r(
        "GET",
        "/api/cases/{id}",
        READERS,
        "cases",
        "One case.",
        None,
        "LIFE-5",
    ),
    r(
        "GET",
        "/api/cases/{id}/reports",
        READERS,
        "cases",
        "The reports of a case, with evidence digests (evidence text for staff).",
        None,
        "INT-3",
    ),
    r(
        "GET",
        "/api/cases/{id}/history",
        READERS,
        "cases",
        "The case's history: every report and transition with time, role and reason (actors for staff).",
        None,
        "LIFE-5",
    ),
    r(
        "POST",
        "/api/cases/{id}/enforce",
        OPERATORS,
        "lifecycle",
        "Apply actions directly, e.g. block_network on a machine attacking others; `reason` required.",
        JSON,
        "HARM-1, PEN-3",
    ),
    r(
        "GET",
        "/api/cases/{id}/penalties",
        READERS,
        "lifecycle",
        "Level with reasons, deadline, action records and unblock requests of a case.",
        None,
        "GRD-2, PEN-3, UNB-6",
    ),
    r(
        "POST",
        "/api/cases/{id}/unblock/self",
        TENANTS,
        "lifecycle",
        "Self-service unblock: confirm the rectification commitment; every violating URL is re-checked.",
        JSON,
        "UNB-1, UNB-2, UNB-4",
    ),
    r(
        "POST",
        "/api/cases/{id}/unblock/manual",
        TENANTS,
        "lifecycle",
        "Manual unblock after a failed self-service attempt: into the reviewer queue with a working-time SLA.",
        None,
        "UNB-3, UNB-4",
    ),
    r(
        "GET",
        "/api/unblock-requests",
        REVIEWERS,
        "lifecycle",
        "The reviewer queue with SLA due times; overdue requests are flagged.",
        None,
        "UNB-3",
    ),
    r(
        "POST",
        "/api/unblock-requests/{id}/approve",
        REVIEW_DECIDERS,
        "lifecycle",
        "Approve a manual unblock: every liftable action is lifted.",
        None,
        "UNB-3",
    ),
    r(
        "POST",
        "/api/unblock-requests/{id}/reject",
        REVIEW_DECIDERS,
        "lifecycle",
        "Reject a manual unblock; `reason` is required and shown to the tenant.",
        JSON,
        "UNB-3",
    ),
    r(
        "DELETE",
        "/api/unblock-requests/{id}",
        TENANTS,
        "lifecycle",
        "Withdraw a request: always refused (request_cannot_be_withdrawn).",
        None,
        "UNB-3",
    ),
    r(
        "POST",
        "/api/tickets",
        TENANTS,
        "lifecycle",
        "File a ticket (unblock, regulator, harmful_behaviour, question), optionally linked to a case.",
        JSON,
        "TKT-1, UNB-5",
    ),
    r(
        "GET",
        "/api/tickets",
        READERS,
        "lifecycle",
        "Tickets: a tenant's own; for staff the open queue by SLA due time.",
        None,
        "TKT-1",
    ),
    r(
        "POST",
        "/api/tickets/{id}/close",
        REVIEW_DECIDERS,
        "lifecycle",
        "Close a ticket with a resolution; `lift` lifts the linked case's penalty.",
        JSON,
        "TKT-1, HARM-2",
    ),
    r(
        "POST",
        "/api/scan",
        SCANNERS,
        "detection",
        "Scan text or a URL with the lexicons; the verdict names categories, scores, terms and original offsets, and records the lexicon version.",
        JSON,
        "DET-1, DET-2",
    ),
    r(
        "GET",
        "/api/lexicon",
        OPERATORS,
        "detection",
        "Lexicon version, terms per category, changes made through the API; ?category= lists its terms.",
        None,
        "DET-1",
    ),
    r(
        "POST",
        "/api/lexicon/terms",
        OPERATORS,
        "detection",
        "Add or replace a term (weight, optional `near` context rule); the next scan uses it.",
        JSON,
        "DET-1",
    ),
    r(
        "POST",
        "/api/lexicon/terms/remove",
        OPERATORS,
        "detection",
        "Remove a term (built-in or added); the next scan no longer finds it.",
        JSON,
        "DET-1",
    ),
    r(
        "GET",
        "/api/enforcement/check",
        ANYONE,
        "enforcement",
        "nginx auth_request check: X-Original-URI/Host/Proto (or ?url=); 204 allowed, 403 + X-Warden-Case blocked. Reveals nothing but the decision.",
        None,
        "ENF-1",
    ),
    r(
        "GET",
        "/api/enforcement/check/{*path}",
        ANYONE,
        "enforcement",
        "Envoy ext_authz (HTTP service with this path prefix): 200 allowed, 451 notice page blocked.",
        None,
        "ENF-1",
    ),
    r(
        "GET",
        "/api/enforcement/notice",
        ANYONE,
        "enforcement",
        "The HTTP 451 notice page for ?case= (RFC 7725), zh-CN/en by Accept-Language.",
        None,
        "ENF-1, NOT-1",
    ),
    r(
        "GET",
        "/api/decision",
        EDGES,
        "enforcement",
        "Is this ?url=, ?host= or ?ip= blocked, and why (action, case, notice link).",
        None,
        "ENF-1",
    ),
    r(
        "GET",
        "/api/enforcement/webhooks",
        OPERATORS,
        "enforcement",
        "Webhook endpoints and the delivery log (every attempt; ?msg_id= for one message with its state).",
        None,
        "ENF-1, ENF-2",
    ),
    r(
        "POST",
        "/api/enforcement/webhooks/redrive",
        OPERATORS,
        "enforcement",
        "Re-drive a dead delivery (same message id).",
        JSON,
        "ENF-2",
    ),
    r(
        "GET",
        "/api/enforcement/deliveries",
        OPERATORS,
        "enforcement",
        "Deliveries no enforcement point has confirmed yet (?failed=true: only those whose retries ran out; reconciliation re-sends them).",
        None,
        "ENF-2, PEN-3",
    ),
    r(
        "POST",
        "/api/enforcement/reconcile",
        OPERATORS,
        "enforcement",
        "Reconcile now (it also runs every enforcement.reconcile_interval_secs): re-send what an adapter never confirmed, send what is in force to endpoints configured later, retire deliveries of removed endpoints.",
        None,
        "ENF-2",
    ),
    r(
        "GET",
        "/api/enforcement/rpz",
        EDGES,
        "enforcement",
        "The DNS Response Policy Zone: suspend_resolution domains answer NXDOMAIN; SOA serial = revision.",
        None,
        "ENF-1",
    ),
    r(
        "GET",
        "/api/enforcement/changes",
        EDGES,
        "enforcement",
        "Every apply and lift after ?since=REV, oldest first; ?wait_ms= long-polls (at most 30 s) until there is one.",
        None,
        "ENF-1",
    ),
    r(
        "GET",
        "/api/enforcement/snapshot",
        EDGES,
        "enforcement",
        "Everything in force, with the revision it is current at.",
        None,
        "ENF-1",
    ),
    r(
        "GET",
        "/api/notices",
        READERS,
        "cases",
        "Inbox notices (站内信): tenants see their own; staff see all.",
        None,
        "NOT-1, NOT-2",
    ),
    r(
        "POST",
        "/api/cases/{id}/confirm",
        OPERATORS,
        "cases",
        "Confirm a reported case.",
        JSON,
        "INT-5, LIFE-1",
    ),
    r(
        "POST",
        "/api/cases/{id}/dismiss",
        OPERATORS,
        "cases",
        "Dismiss a reported case; `reason` is required.",
        JSON,
        "LIFE-5",
    ),
    r(
        "POST",
        "/api/accounts",
        OPERATORS,
        "resources",
        "Create an account (e-mail and phone are encrypted at rest).",
        JSON,
        "RES-3, AUD-4",
    ),
    r(
        "GET",
        "/api/accounts",
        READERS,
        "resources",
        "List accounts (tenants: their own).",
        None,
        "RES-3",
    ),
    r(
        "GET",
        "/api/accounts/{id}",
        READERS,
        "resources",
        "One account.",
        None,
        "RES-3",
    ),
    r(
        "PATCH",
        "/api/accounts/{id}",
        OPERATORS,
        "resources",
        "Update name, e-mail or phone.",
        JSON,
        "RES-3",
    ),
    r(
        "GET",
        "/api/accounts/{id}/contacts",
        READERS,
        "resources",
        "Decrypt the account's e-mail and phone (audited).",
        None,
        "AUD-4",
    ),
    r(
        "POST",
        "/api/resources",
        OPERATORS,
        "resources",
        "Register a resource with its identifiers.",
        JSON,
        "RES-1, RES-2",
    ),
    r(
        "GET",
        "/api/resources",
        READERS,
        "resources",
        "List resources (?account_id=&after=&limit=).",
        None,
        "RES-3",
    ),
    r(
        "POST",
        "/api/resources/import",
        OPERATORS,
        "resources",
        "Bulk import: one resource JSON per line; per-line report; a bad line stores nothing.",
        Some("application/x-ndjson"),
        "RES-3",
    ),
    r(
        "GET",
        "/api/resources/{id}",
        READERS,
        "resources",
        "One resource with its identifiers.",
        None,
        "RES-2",
    ),
    r(
        "PATCH",
        "/api/resources/{id}",
        OPERATORS,
        "resources",
        "Update name, region or (all) identifiers.",
        JSON,
        "RES-2",
    ),
    r(
        "GET",
        "/api/owner",
        READERS,
        "resources",
        "Owner of ?target= (URL, domain, IP...): staff get the longest match (null = unowned); a tenant only whether it is its own.",
        None,
        "RES-2",
    ),
    r(
        "GET",
        "/api/audit",
        AUDITORS,
        "audit",
        "Audit events (?after=&limit=&action=&subject=&account_id=).",
        None,
        "AUD-1",
    ),
    r(
        "GET",
        "/api/audit/verify",
        AUDITORS,
        "audit",
        "Walk the hash chain; names the first broken event.",
        None,
        "AUD-2",
    ),
    r(
        "POST",
        "/api/tokens",
        ADMINS,
        "identity",
        "Issue an API token (shown once).",
        JSON,
        "§1",
    ),
    r(
        "GET",
        "/api/tokens",
        ADMINS,
        "identity",
        "List tokens (never their secrets).",
        None,
        "§1",
    ),
    r(
        "DELETE",
        "/api/tokens/{id}",
        ADMINS,
        "identity",
        "Revoke a token.",
        None,
        "§1",
    ),
    r(
        "POST",
        "/api/admin/jobs/ping",
        ADMINS,
        "ops",
        "Enqueue diagnostic jobs that record which node ran them.",
        JSON,
        "LIFE-4",
    ),
    r(
        "GET",
        "/api/admin/jobs",
        OPERATORS,
        "ops",
        "Job queue counts by state.",
        None,
        "LIFE-4",
    ),
];

/// The table entry for a matched path and method.
pub fn find(method: &str, path: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

/// The OpenAPI 3.1 document, generated from [`ROUTES`] and the error table.
pub fn openapi() -> serde_json::Value {
    use serde_json::{Map, Value, json};
    let mut paths = Map::new();
    for route in ROUTES {
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        let params: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let public = route.access.contains(&"anonymous");
        let mut op = json!({
            "summary": route.summary,
            "tags": [route.tag],
            "description": format!("Roles: {}. Requirements: {}.", route.access.join(", "), route.spec),
            "parameters": params,
            "responses": {
                "200": { "description": "Success." },
                "default": { "description": "An error.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            },
            "x-roles": route.access,
        });
        if let Value::Object(o) = &mut op {
            if !public {
                o.insert("security".into(), json!([{ "bearer": [] }]));
            }
            if let Some(media) = route.body {
                o.insert("requestBody".into(), json!({ "required": true, "content": { media: { "schema": { "type": "object" } } } }));
            }
        }
        if let Value::Object(m) = entry {
            m.insert(route.method.to_ascii_lowercase(), op);
        }
    }
    let codes: Vec<Value> = crate::error::ERROR_CODES
        .iter()
        .map(|(c, s, d)| json!({ "code": c, "status": s, "meaning": d }))
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Warden API", "version": env!("CARGO_PKG_VERSION"), "description": "Security-violation handling for cloud providers. See docs/ and SPEC ids in each operation." },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["code", "message", "details"],
                    "properties": {
                        "code": { "type": "string", "enum": crate::error::ERROR_CODES.iter().map(|c| c.0).collect::<Vec<_>>() },
                        "message": { "type": "string" },
                        "details": { "type": "object" }
                    }
                }
            }
        },
        "x-error-codes": codes,
    })
}
