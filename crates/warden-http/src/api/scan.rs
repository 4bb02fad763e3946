//! Content detection (DET-1/2): scans and the lexicon.

use super::prelude::*;

async fn scan(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(input): JsonBody<ScanInput>,
) -> ApiResult<Json<warden_app::scan::ScanResult>> {
    Ok(Json(app.scan(&who, input).await?))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct LexiconQuery {
    /// Also list this content category's effective terms.
    #[serde(default)]
    #[schemars(with = "Option<warden_domain::taxonomy::ContentCategory>")]
    category: Option<String>,
}

async fn lexicon(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<LexiconQuery>,
) -> ApiResult<Json<warden_app::scan::LexiconView>> {
    Ok(Json(app.lexicon(&who, q.category.as_deref()).await?))
}

async fn put_term(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(input): JsonBody<TermInput>,
) -> ApiResult<Json<warden_app::scan::TermChange>> {
    Ok(Json(app.put_term(&who, input, false).await?))
}

async fn remove_term(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(input): JsonBody<TermInput>,
) -> ApiResult<Json<warden_app::scan::TermChange>> {
    Ok(Json(app.put_term(&who, input, true).await?))
}

/// The body of a removal: a lexicon change, except that `term` is the term as the lexicon
/// holds it. A removal never needs the term to be valid, so that a bad term an older release
/// let in (control characters and all) can always be taken out; one the lexicon does not hold
/// is 404.
fn removal_schema(g: &mut SchemaGenerator) -> Schema {
    let mut s = <TermInput as schemars::JsonSchema>::json_schema(g);
    if let Some(term) = s
        .get_mut("properties")
        .and_then(|p| p.get_mut("term"))
        .and_then(serde_json::Value::as_object_mut)
    {
        term.insert("pattern".into(), r"\S".into());
        term.insert(
            "description".into(),
            "The term as the lexicon holds it, 1 to 64 characters (a term an older release let \
             in can be removed whatever it holds; one the lexicon does not hold is 404)."
                .into(),
        );
    }
    s
}

/// The endpoints of this area.
pub(super) fn endpoints() -> Vec<Endpoint> {
    Vec::from([
        Endpoint::new(
            route(
                "POST",
                "/api/scan",
                SCANNERS,
                "detection",
                "Scan text or a URL with the lexicons; the verdict names categories, scores, terms and original offsets, and records the lexicon version.",
                "DET-1, DET-2",
            )
            .json_body(schema::<ScanInput>)
            .fetches()
            .replies(const {
                &[
                    json(200, schema::<ScanResult>, "The verdict."),
                ]
            }),
            post(scan),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/lexicon",
                OPERATORS,
                "detection",
                "Lexicon version, terms per category, changes made through the API; ?category= lists its terms.",
                "DET-1",
            )
            .query(schema::<LexiconQuery>)
            .replies(const {
                &[
                    json(200, schema::<LexiconView>, "The lexicon."),
                ]
            }),
            get(lexicon),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/lexicon/terms",
                OPERATORS,
                "detection",
                "Add or replace a term (weight, optional `near` context rule); the next scan uses it.",
                "DET-1",
            )
            .json_body(schema::<TermInput>)
            .replies(const {
                &[
                    json(200, schema::<TermChange>, "The new version."),
                ]
            }),
            post(put_term),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/lexicon/terms/remove",
                OPERATORS,
                "detection",
                "Remove a term (built-in or added); the next scan no longer finds it.",
                "DET-1",
            )
            .json_body(removal_schema)
            .replies(const {
                &[
                    json(200, schema::<TermChange>, "The new version."),
                ]
            }),
            post(remove_term),
        ),
    ])
}
