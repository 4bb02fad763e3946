//! API tokens (§1): issue, list, revoke.

use super::prelude::*;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
// A tenant token is bound to an account; no other token is.
#[schemars(extend("anyOf" = [
    { "properties": { "role": { "const": "tenant" }, "account_id": { "type": "string" } }, "required": ["account_id"] },
    { "properties": { "role": { "not": { "const": "tenant" } } }, "not": { "required": ["account_id"] } },
]))]
struct TokenBody {
    /// `admin`, `operator`, `reviewer`, `auditor`, `tenant`, `detector` or `edge`.
    #[schemars(with = "warden_domain::identity::Role")]
    role: String,
    /// The account of a tenant token (required for one; no other token has one).
    #[serde(default)]
    #[schemars(length(min = 1, max = 64), pattern(r"^[A-Za-z0-9_.-]+$"))]
    account_id: Option<String>,
    /// Who or what holds it, 1 to 100 characters.
    #[schemars(length(min = 1, max = 100), pattern(r"\S"))]
    label: String,
}

async fn create_token(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(b): JsonBody<TokenBody>,
) -> ApiResult<Response> {
    let t = app
        .create_token(&who, &b.role, b.account_id.as_deref(), &b.label)
        .await?;
    Ok((StatusCode::CREATED, Json(t)).into_response())
}

async fn list_tokens(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<Items<Token>>> {
    Ok(Json(Items {
        items: app.list_tokens(&who).await?,
    }))
}

async fn revoke_token(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.revoke_token(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The endpoints of this area.
pub(super) fn endpoints() -> Vec<Endpoint> {
    Vec::from([
        Endpoint::new(
            route(
                "POST",
                "/api/tokens",
                ADMINS,
                "identity",
                "Issue an API token (shown once).",
                "§1",
            )
            .json_body(schema::<TokenBody>)
            .replies(
                const {
                    &[json(
                        201,
                        schema::<IssuedToken>,
                        "Issued; the secret is shown once.",
                    )]
                },
            ),
            post(create_token),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/tokens",
                ADMINS,
                "identity",
                "List tokens (never their secrets).",
                "§1",
            )
            .replies(
                const {
                    &[json(
                        200,
                        schema::<Items<Token>>,
                        "Every token, without secrets.",
                    )]
                },
            ),
            get(list_tokens),
        ),
        Endpoint::new(
            route(
                "DELETE",
                "/api/tokens/{id}",
                ADMINS,
                "identity",
                "Revoke a token.",
                "§1",
            )
            .replies(const { &[empty(204, "Revoked.")] }),
            delete(revoke_token),
        ),
    ])
}
