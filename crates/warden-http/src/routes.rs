//! The route table: every route with the roles that may call it, its request and its responses.
//! Entries are written beside their handlers (`crate::api`, one file per area) and gathered
//! here. The role middleware enforces the table (a route missing from it answers 403 to
//! everyone), the OpenAPI 3.1 document is generated from it with a JSON Schema for every body,
//! query parameter and response, and the isolation test walks it route by route, role by role.

use std::sync::OnceLock;

use axum::routing::MethodRouter;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};
use warden_app::App;

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
    "security_team",
];
/// Every token holder.
pub const TOKEN: Access = &[
    "admin",
    "operator",
    "reviewer",
    "auditor",
    "tenant",
    "detector",
    "edge",
    "security_team",
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
/// Tenants for their own IPs and blackholes, operators for any (DDOS-5).
pub const PROTECTORS: Access = &["admin", "operator", "tenant"];
/// Who sees the review queues.
pub const REVIEWERS: Access = &["admin", "operator", "reviewer"];
/// Who decides reviews.
pub const REVIEW_DECIDERS: Access = &["admin", "reviewer"];
/// Audit readers.
pub const AUDITORS: Access = &["admin", "auditor"];
/// Administrators.
pub const ADMINS: Access = &["admin"];

/// Builds the schema of one type, registering what it refers to.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T` (a `$ref` to `#/components/schemas/...` for named types).
pub fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// `T`'s schema written out in place, with the `required` properties added and the `dropped`
/// ones taken away: one input type serves a create (some fields required) and a patch (some
/// fields not allowed) with a schema true to each.
pub fn shaped<T: JsonSchema>(
    g: &mut SchemaGenerator,
    required: &[&str],
    dropped: &[&str],
) -> Schema {
    let mut s = T::json_schema(g);
    if let Some(props) = s.get_mut("properties").and_then(Value::as_object_mut) {
        for d in dropped {
            props.remove(*d);
        }
    }
    if !required.is_empty() {
        let mut all: Vec<Value> = s
            .get("required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        all.extend(required.iter().map(|r| Value::from(*r)));
        s.insert("required".into(), Value::Array(all));
    }
    s
}

/// One documented response.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Media type; `None` for an empty body.
    pub media: Option<&'static str>,
    /// JSON body schema, if JSON.
    pub schema: Option<SchemaFn>,
    /// When it is sent.
    pub description: &'static str,
}

/// A JSON response.
pub const fn json(status: u16, schema: SchemaFn, description: &'static str) -> Reply {
    Reply {
        status,
        media: Some("application/json"),
        schema: Some(schema),
        description,
    }
}

/// A text response (plain text, HTML, a zone file).
pub const fn text(status: u16, media: &'static str, description: &'static str) -> Reply {
    Reply {
        status,
        media: Some(media),
        schema: None,
        description,
    }
}

/// A response without a body.
pub const fn empty(status: u16, description: &'static str) -> Reply {
    Reply {
        status,
        media: None,
        schema: None,
        description,
    }
}

/// A request body.
#[derive(Debug, Clone, Copy)]
pub struct Body {
    /// Media type.
    pub media: &'static str,
    /// JSON schema, if JSON.
    pub schema: Option<SchemaFn>,
    /// Whether it may be left out.
    pub optional: bool,
}

/// One documented route.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// HTTP method.
    pub method: &'static str,
    /// Path, with `{param}` placeholders (`{*rest}` for a tail of any length).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// What it does.
    pub summary: &'static str,
    /// OpenAPI tag.
    pub tag: &'static str,
    /// SPEC ids it serves.
    pub spec: &'static str,
    /// Path parameters with a grammar of their own: an object schema whose properties are
    /// some of the path's parameters (the rest are any non-empty string). A value outside its
    /// grammar is answered 422 naming the parameter.
    pub path_params: Option<SchemaFn>,
    /// Query parameters: an object schema whose properties are the parameters.
    pub query: Option<SchemaFn>,
    /// Request headers it reads: an object schema whose properties are the headers.
    pub headers: Option<SchemaFn>,
    /// Whether it fetches a URL it is given (and so may answer 502 `fetch_failed`).
    pub fetches: bool,
    /// The request body, if any.
    pub body: Option<Body>,
    /// Success responses.
    pub replies: &'static [Reply],
}

/// A route entry: what it is (`method`, `path`, `access`, ...), then its request and responses
/// with the builder methods.
pub const fn route(
    method: &'static str,
    path: &'static str,
    access: Access,
    tag: &'static str,
    summary: &'static str,
    spec: &'static str,
) -> Route {
    Route {
        method,
        path,
        access,
        summary,
        tag,
        spec,
        path_params: None,
        query: None,
        headers: None,
        fetches: false,
        body: None,
        replies: &[],
    }
}

impl Route {
    /// The schemas of its path parameters that have a grammar (an IP address).
    pub const fn path_params(mut self, schema: SchemaFn) -> Route {
        self.path_params = Some(schema);
        self
    }

    /// Its query parameters.
    pub const fn query(mut self, schema: SchemaFn) -> Route {
        self.query = Some(schema);
        self
    }

    /// The request headers it reads (besides `Authorization`).
    pub const fn headers(mut self, schema: SchemaFn) -> Route {
        self.headers = Some(schema);
        self
    }

    /// It fetches a URL the caller gives.
    pub const fn fetches(mut self) -> Route {
        self.fetches = true;
        self
    }

    /// A JSON object body.
    pub const fn json_body(mut self, schema: SchemaFn) -> Route {
        self.body = Some(Body {
            media: "application/json",
            schema: Some(schema),
            optional: false,
        });
        self
    }

    /// A JSON object body that may be left out.
    pub const fn optional_json_body(mut self, schema: SchemaFn) -> Route {
        self.body = Some(Body {
            media: "application/json",
            schema: Some(schema),
            optional: true,
        });
        self
    }

    /// A raw body of `media` (an e-mail: `message/rfc822`), read by the handler.
    pub const fn raw_body(mut self, media: &'static str) -> Route {
        self.body = Some(Body {
            media,
            schema: None,
            optional: false,
        });
        self
    }

    /// A body of JSON lines, each an object of `line`'s schema.
    pub const fn ndjson_body(mut self, line: SchemaFn) -> Route {
        self.body = Some(Body {
            media: "application/x-ndjson",
            schema: Some(line),
            optional: false,
        });
        self
    }

    /// Its success responses.
    pub const fn replies(mut self, replies: &'static [Reply]) -> Route {
        self.replies = replies;
        self
    }

    /// Whether `role` (or `anonymous`) may call it.
    pub fn admits(&self, role: &str) -> bool {
        self.access.contains(&role)
    }
}

/// A route entry and the handler it routes to.
#[derive(Debug)]
pub struct Endpoint {
    /// The entry.
    pub route: Route,
    /// The handler.
    pub handler: MethodRouter<App>,
}

impl Endpoint {
    /// An endpoint.
    pub fn new(route: Route, handler: MethodRouter<App>) -> Endpoint {
        Endpoint { route, handler }
    }
}

/// Every route of the API.
pub fn routes() -> &'static [Route] {
    static ROUTES: OnceLock<Vec<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        crate::api::endpoints()
            .into_iter()
            .map(|e| e.route)
            .collect()
    })
}

/// The table entry for a matched path and method (HEAD is GET without a body).
pub fn find(method: &str, path: &str) -> Option<&'static Route> {
    let method = if method == "HEAD" { "GET" } else { method };
    routes()
        .iter()
        .find(|r| r.method == method && r.path == path)
}

/// Whether a body sent as `essence` (a lower-case media type without parameters) is one a
/// route documented as `media` reads: JSON routes also take `application/*+json`.
pub fn media_accepts(media: &str, essence: &str) -> bool {
    essence == media
        || (media == "application/json"
            && essence
                .strip_prefix("application/")
                .is_some_and(|sub| sub.ends_with("+json")))
}

/// The error statuses a route can answer, besides its successes: each is a real possibility of
/// that route (a body can be malformed, an id can name nothing, a state can refuse).
fn error_statuses(route: &Route) -> Vec<u16> {
    let mut s = vec![401];
    if ANYONE.iter().any(|r| !route.admits(r)) {
        s.push(403);
    }
    // An id in the path, or one named in the body (a case, a message, an account), may name
    // nothing the caller can see.
    if route.path.contains('{') || route.body.is_some() {
        s.push(404);
    }
    if let Some(b) = route.body {
        s.extend([400, 413, 415, 422]);
        if b.media == "application/x-ndjson" {
            s.retain(|c| *c != 422);
            s.push(422);
        }
    }
    if route.query.is_some() || route.headers.is_some() || route.path_params.is_some() {
        s.push(422);
    }
    if route.method != "GET" {
        s.push(409);
    }
    if route.admits("anonymous") && route.method == "POST" {
        s.push(429);
    }
    if route.fetches {
        s.push(502);
    }
    s.extend([500, 503]);
    s.retain(|c| route.replies.iter().all(|r| r.status != *c));
    s.sort_unstable();
    s.dedup();
    s
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "The body is not valid JSON.",
        401 => "No token, or an unknown or revoked one.",
        403 => "The caller's role may not use this route.",
        404 => "No such object, or not one the caller may see.",
        409 => "The current state, or the policy, does not allow it; the code names the rule.",
        413 => "The body is too large.",
        415 => {
            "The body's Content-Type is not the one this route reads; details.supported names it. Nothing was changed."
        }
        422 => "A field or parameter is invalid; details.field names it. Nothing was changed.",
        429 => "Too many anonymous reports from this address.",
        500 => "An unexpected error; logged under details.error_id.",
        502 => "The URL could not be fetched (fetch_failed); nothing was stored.",
        503 => "Storage is not reachable.",
        _ => "An error.",
    }
}

/// The parameters of a route: its path's, then one per property of its query and header
/// schemas. A query schema that constrains its properties together (`minProperties`,
/// `maxProperties`, `oneOf`, `anyOf`: "exactly one of url, host or ip") is one parameter instead,
/// an object in `form` style exploded into its properties, since a constraint across separate
/// parameters cannot be written in OpenAPI.
fn parameters(route: &Route, g: &mut SchemaGenerator) -> Vec<Value> {
    let typed = route
        .path_params
        .map(|p| resolve(p(g).as_value(), g))
        .unwrap_or(Value::Null);
    let mut params: Vec<Value> = route
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let name = name.trim_start_matches('*');
            match typed.get("properties").and_then(|p| p.get(name)) {
                Some(p) => {
                    let mut p = p.clone();
                    let description = p
                        .as_object_mut()
                        .and_then(|o| o.remove("description"))
                        .unwrap_or(Value::Null);
                    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": p })
                }
                None => {
                    json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string", "minLength": 1 } })
                }
            }
        })
        .collect();
    if let Some(q) = route.query {
        let s = resolve(q(g).as_value(), g);
        let joint = ["minProperties", "maxProperties", "oneOf", "anyOf"]
            .iter()
            .any(|k| s.get(*k).is_some());
        if joint {
            let mut s = s;
            let description = s
                .as_object_mut()
                .and_then(|o| o.remove("description"))
                .unwrap_or(Value::Null);
            if let Some(props) = s.get_mut("properties").and_then(Value::as_object_mut) {
                for p in props.values_mut() {
                    *p = not_null(p.take());
                }
            }
            params.push(json!({
                "name": "query",
                "in": "query",
                "required": true,
                "style": "form",
                "explode": true,
                "description": description,
                "schema": s,
            }));
        } else {
            params.extend(each_property(&s, "query"));
        }
    }
    if let Some(h) = route.headers {
        let s = resolve(h(g).as_value(), g);
        params.extend(each_property(&s, "header"));
    }
    params
}

/// One parameter in `place` per property of an object schema (its `required` respected).
fn each_property(s: &Value, place: &str) -> Vec<Value> {
    let required: Vec<&str> = s
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = s.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(name, p)| {
            let mut p = not_null(p.clone());
            let description = p
                .as_object_mut()
                .and_then(|o| o.remove("description"))
                .unwrap_or(Value::Null);
            json!({
                "name": name,
                "in": place,
                "required": required.contains(&name.as_str()),
                "description": description,
                "schema": p,
            })
        })
        .collect()
}

/// A query parameter's schema without the `null` its `Option` adds: a parameter is left out,
/// never sent as null.
fn not_null(mut p: Value) -> Value {
    let Some(o) = p.as_object_mut() else {
        return p;
    };
    if o.get("default") == Some(&Value::Null) {
        o.remove("default");
    }
    if let Some(Value::Array(types)) = o.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            o.insert("type".into(), only);
        }
    }
    let any = o.get("anyOf").and_then(Value::as_array).map(|alts| {
        alts.iter()
            .filter(|a| a.get("type").and_then(Value::as_str) != Some("null"))
            .cloned()
            .collect::<Vec<_>>()
    });
    if let Some(alts) = any {
        o.remove("anyOf");
        if let [only] = alts.as_slice() {
            o.insert("allOf".into(), Value::Array(vec![only.clone()]));
        } else {
            o.insert("anyOf".into(), Value::Array(alts));
        }
    }
    p
}

/// A `$ref` resolved against the generator's definitions (one level: query structs).
fn resolve(v: &Value, g: &mut SchemaGenerator) -> Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default().to_string();
            g.definitions()
                .get(&name)
                .cloned()
                .unwrap_or_else(|| v.clone())
        }
        None => v.clone(),
    }
}

/// The OpenAPI 3.1 document, generated from [`routes`] and the error table.
pub fn openapi() -> Value {
    let mut g = SchemaGenerator::new(
        SchemaSettings::draft2020_12().with(|s| s.definitions_path = "/components/schemas".into()),
    );
    let mut paths = Map::new();
    for route in routes() {
        let path = route.path.replace("{*", "{");
        let entry = paths
            .entry(path)
            .or_insert_with(|| Value::Object(Map::new()));
        let public = route.admits("anonymous");
        let mut responses = Map::new();
        for r in route.replies {
            let mut resp = json!({ "description": r.description });
            if let (Some(media), Some(o)) = (r.media, resp.as_object_mut()) {
                let schema = match r.schema {
                    Some(s) => s(&mut g).to_value(),
                    None => json!({ "type": "string" }),
                };
                o.insert("content".into(), json!({ media: { "schema": schema } }));
            }
            responses.insert(r.status.to_string(), resp);
        }
        for status in error_statuses(route) {
            responses.insert(
                status.to_string(),
                json!({
                    "description": reason(status),
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
                }),
            );
        }
        let mut op = json!({
            "operationId": format!("{} {}", route.method, route.path),
            "summary": route.summary,
            "tags": [route.tag],
            "description": format!("Roles: {}. Requirements: {}.", route.access.join(", "), route.spec),
            "parameters": parameters(route, &mut g),
            "responses": responses,
            "x-roles": route.access,
        });
        if let Value::Object(o) = &mut op {
            o.insert(
                "security".into(),
                if public {
                    json!([{}, { "bearer": [] }])
                } else {
                    json!([{ "bearer": [] }])
                },
            );
            if let Some(b) = route.body {
                let schema = match b.schema {
                    Some(s) => s(&mut g).to_value(),
                    None => json!({ "type": "string" }),
                };
                o.insert(
                    "requestBody".into(),
                    json!({ "required": !b.optional, "content": { b.media: { "schema": schema } } }),
                );
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
    let mut schemas: Map<String, Value> = g.take_definitions(true).into_iter().collect();
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "description": "Every error: a stable code (see x-error-codes), a message for people, details naming the field or rule.",
            "required": ["code", "message", "details"],
            "properties": {
                "code": { "type": "string", "enum": crate::error::ERROR_CODES.iter().map(|c| c.0).collect::<Vec<_>>() },
                "message": { "type": "string" },
                "details": { "type": "object" }
            }
        }),
    );
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": { "title": "Warden API", "version": env!("CARGO_PKG_VERSION"), "description": "Security-violation handling for cloud providers. See docs/ and the SPEC ids in each operation." },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas,
        },
        "x-error-codes": codes,
    });
    required_not_null(&mut doc);
    doc
}

/// A required property may not be `null`: the server reads a null as left out, and so refuses
/// it as missing. Optional ones keep their `null` (it means "left out").
fn required_not_null(v: &mut Value) {
    match v {
        Value::Object(o) => {
            let required: Vec<String> = o
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            if let Some(Value::Object(props)) = o.get_mut("properties") {
                for name in &required {
                    if let Some(p) = props.get_mut(name) {
                        *p = not_null(p.take());
                    }
                }
            }
            o.values_mut().for_each(required_not_null);
        }
        Value::Array(items) => items.iter_mut().for_each(required_not_null),
        _ => {}
    }
}
