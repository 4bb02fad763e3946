//! Accounts and resources (RES-1..3): registration, bulk import, owner lookup, sealed contacts (AUD-4).

use super::prelude::*;

async fn create_account(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(input): JsonBody<AccountInput>,
) -> ApiResult<Response> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_account(&who, input).await?),
    )
        .into_response())
}

async fn list_accounts(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<Page<AccountView>>> {
    let items = app
        .list_accounts(
            &who,
            q.after.as_deref().unwrap_or_default(),
            page_size(q.limit)?,
        )
        .await?;
    let next_after = items.last().map(|a| a.account.id.clone());
    Ok(Json(Page { items, next_after }))
}

async fn get_account(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<AccountView>> {
    Ok(Json(app.get_account(&who, &id).await?))
}

async fn update_account(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<AccountInput>,
) -> ApiResult<Json<AccountView>> {
    Ok(Json(app.update_account(&who, &id, input).await?))
}

async fn account_contacts(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Contacts>> {
    Ok(Json(app.reveal_contacts(&who, &id).await?))
}

async fn create_resource(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(input): JsonBody<ResourceInput>,
) -> ApiResult<Response> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_resource(&who, input).await?),
    )
        .into_response())
}

async fn list_resources(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<ResourcesQuery>,
) -> ApiResult<Json<Page<Resource>>> {
    let items = app
        .list_resources(
            &who,
            q.account_id.as_deref(),
            q.after.as_deref().unwrap_or_default(),
            page_size(q.limit)?,
        )
        .await?;
    let next_after = items.last().map(|r| r.id.clone());
    Ok(Json(Page { items, next_after }))
}

async fn get_resource(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Resource>> {
    Ok(Json(app.get_resource(&who, &id).await?))
}

async fn update_resource(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<ResourceInput>,
) -> ApiResult<Json<Resource>> {
    Ok(Json(app.update_resource(&who, &id, input).await?))
}

async fn import_resources(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> ApiResult<Response> {
    let text =
        std::str::from_utf8(&body).map_err(|_| ApiError::malformed("the body is not UTF-8"))?;
    if text.trim().is_empty() {
        return Err(ApiError::invalid(
            "body",
            "holds no resources: send one resource JSON object per line",
        ));
    }
    let report = app.import_resources(&who, text).await?;
    if report.created == 0 && report.failed > 0 {
        // Nothing was imported: an error, 422 when every line is invalid, else 409 (a line
        // names an account that does not exist or an identifier another resource holds).
        let invalid = report.lines.iter().all(|l| {
            l.code
                .is_none_or(|c| c == "invalid_field" || c == "invalid_line")
        });
        let (code, what) = if invalid {
            ("invalid_field", "every line is invalid")
        } else {
            ("conflict", "every line failed")
        };
        return Err(ApiError::new(
            code,
            format!("nothing was imported: {what}; details.lines says why, line by line"),
            json!({ "field": "body", "failed": report.failed, "lines": report.lines }),
        ));
    }
    let status = if report.failed == 0 {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    Ok((status, Json(report)).into_response())
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct OwnerQuery {
    /// A URL, domain or IP (a report target).
    #[schemars(required, extend("format" = "target"))]
    target: Option<String>,
}

async fn owner(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<OwnerQuery>,
) -> ApiResult<Json<warden_app::registry::OwnerAnswer>> {
    let target = q
        .target
        .ok_or_else(|| ApiError::invalid("target", "is required"))?;
    Ok(Json(app.lookup_owner(&who, &target).await?))
}

/// Creating an account needs its name; a resource, its account and product.
fn account_create(g: &mut SchemaGenerator) -> Schema {
    shaped::<AccountInput>(g, &["name"], &[])
}

fn account_patch(g: &mut SchemaGenerator) -> Schema {
    shaped::<AccountInput>(g, &[], &["id"])
}

fn resource_create(g: &mut SchemaGenerator) -> Schema {
    shaped::<ResourceInput>(g, &["account_id", "product"], &[])
}

/// A resource's id, account and product are fixed once it is registered.
fn resource_patch(g: &mut SchemaGenerator) -> Schema {
    shaped::<ResourceInput>(g, &[], &["id", "account_id", "product"])
}

/// The endpoints of this area.
pub(super) fn endpoints() -> Vec<Endpoint> {
    Vec::from([
        Endpoint::new(
            route(
                "POST",
                "/api/accounts",
                OPERATORS,
                "resources",
                "Create an account (e-mail and phone are encrypted at rest).",
                "RES-3, AUD-4",
            )
            .json_body(account_create)
            .replies(const {
                &[
                    json(201, schema::<AccountView>, "Created."),
                ]
            }),
            post(create_account),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/accounts",
                READERS,
                "resources",
                "List accounts (tenants: their own).",
                "RES-3",
            )
            .query(schema::<PageQuery>)
            .replies(const {
                &[
                    json( 200, schema::<Page<AccountView>>, "A page of accounts.", ),
                ]
            }),
            get(list_accounts),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/accounts/{id}",
                READERS,
                "resources",
                "One account.",
                "RES-3",
            )
            .replies(const {
                &[
                    json(200, schema::<AccountView>, "The account."),
                ]
            }),
            get(get_account),
        ),
        Endpoint::new(
            route(
                "PATCH",
                "/api/accounts/{id}",
                OPERATORS,
                "resources",
                "Update name, e-mail, phone or language.",
                "RES-3",
            )
            .json_body(account_patch)
            .replies(const {
                &[
                    json(200, schema::<AccountView>, "Updated."),
                ]
            }),
            patch(update_account),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/accounts/{id}/contacts",
                READERS,
                "resources",
                "Decrypt the account's e-mail and phone (audited).",
                "AUD-4",
            )
            .replies(const {
                &[
                    json( 200, schema::<Contacts>, "The contacts (the read is audited).", ),
                ]
            }),
            get(account_contacts),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/resources",
                OPERATORS,
                "resources",
                "Register a resource with its identifiers.",
                "RES-1, RES-2",
            )
            .json_body(resource_create)
            .replies(const {
                &[
                    json(201, schema::<Resource>, "Registered."),
                ]
            }),
            post(create_resource),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/resources",
                READERS,
                "resources",
                "List resources (?account_id=&after=&limit=).",
                "RES-3",
            )
            .query(schema::<ResourcesQuery>)
            .replies(const {
                &[
                    json( 200, schema::<Page<Resource>>, "A page of resources.", ),
                ]
            }),
            get(list_resources),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/resources/import",
                OPERATORS,
                "resources",
                "Bulk import: one resource JSON per line; per-line report; a bad line stores nothing.",
                "RES-3",
            )
            .ndjson_body(resource_create)
            .replies(const {
                &[
                    json(200, schema::<ImportReport>, "Every line imported."),
                    json(207, schema::<ImportReport>, "Some lines failed; the report says which."),
                ]
            }),
            post(import_resources).layer(DefaultBodyLimit::max(MAX_BULK_BODY)),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/resources/{id}",
                READERS,
                "resources",
                "One resource with its identifiers.",
                "RES-2",
            )
            .replies(const {
                &[
                    json(200, schema::<Resource>, "The resource."),
                ]
            }),
            get(get_resource),
        ),
        Endpoint::new(
            route(
                "PATCH",
                "/api/resources/{id}",
                OPERATORS,
                "resources",
                "Update name, region or (all) identifiers.",
                "RES-2",
            )
            .json_body(resource_patch)
            .replies(const {
                &[
                    json(200, schema::<Resource>, "Updated."),
                ]
            }),
            patch(update_resource),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/owner",
                READERS,
                "resources",
                "Owner of ?target= (URL, domain, IP...): staff get the longest match (null = unowned); a tenant only whether it is its own.",
                "RES-2",
            )
            .query(schema::<OwnerQuery>)
            .replies(const {
                &[
                    json(200, schema::<warden_app::registry::OwnerAnswer>, "Who owns the target."),
                ]
            }),
            get(owner),
        ),
    ])
}
