//! Accounts, resources and people in the console: staff list and create accounts, see an
//! account's resources and users, and import resources in bulk (RES-3); admins add staff and
//! tenant users, and an account owner adds users to its own account.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use warden_app::App;
use warden_app::error::AppError;
use warden_app::people::NewUser;
use warden_app::registry::{AccountInput, AccountView, ImportReport};
use warden_domain::identity::Role;
use warden_store::resources::Resource;
use warden_store::users::User;

use super::view::{Chrome, DoneQuery, PAGE, describe, error_page, flash, redirect, render};
use super::{Access, FormData, OPERATORS, Page, STAFF, Viewer};

/// Admins, and tenant users (an account owner manages its account's users).
const USER_ADMINS: Access = Access::Roles(&[Role::Admin, Role::Tenant]);

pub(super) fn pages() -> Vec<Page> {
    Vec::from([
        Page::get("/staff/accounts", STAFF, get(accounts)),
        Page::post("/staff/accounts", OPERATORS, post(create_account)),
        Page::get("/staff/accounts/{id}", STAFF, get(account)),
        Page::get("/staff/import", OPERATORS, get(import_form)),
        Page::post("/staff/import", OPERATORS, post(import)),
        Page::get("/users", USER_ADMINS, get(users)),
        Page::post("/users", USER_ADMINS, post(create_user)),
    ])
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    after: Option<String>,
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "staff/accounts.html")]
struct Accounts {
    c: Chrome,
    accounts: Vec<AccountView>,
    more: Option<String>,
    operator: bool,
}

async fn accounts(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<ListQuery>,
) -> Response {
    let mut c = Chrome::new(&app, &v, "/staff/accounts", "accounts.title");
    c.flash = flash(v.lang, q.done.as_deref());
    accounts_view(&app, &v, c, q.after.unwrap_or_default(), StatusCode::OK).await
}

async fn accounts_view(
    app: &App,
    v: &Viewer,
    c: Chrome,
    after: String,
    status: StatusCode,
) -> Response {
    match app.list_accounts(&v.principal(), &after, PAGE + 1).await {
        Ok(mut accounts) => {
            let more = super::view::next_page(&mut accounts, PAGE, |a| a.account.id.clone());
            render(
                status,
                &Accounts {
                    c,
                    accounts,
                    more,
                    operator: matches!(v.role(), Some(Role::Admin | Role::Operator)),
                },
            )
        }
        Err(e) => error_page(v.lang, &e, Some(v)),
    }
}

async fn create_account(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
) -> Response {
    let input = AccountInput {
        id: form.get("id"),
        name: form.get("name"),
        email: form.get("email"),
        phone: form.get("phone"),
        lang: form.get("lang"),
    };
    match app.create_account(&v.principal(), input).await {
        Ok(a) => redirect(&format!(
            "/staff/accounts/{}?done=account_created",
            a.account.id
        )),
        Err(e) => {
            let (status, text) = describe(v.lang, &e);
            let mut c = Chrome::new(&app, &v, "/staff/accounts", "accounts.title");
            c.error = Some(text);
            accounts_view(&app, &v, c, String::new(), status).await
        }
    }
}

#[derive(Template)]
#[template(path = "staff/account.html")]
struct AccountPage {
    c: Chrome,
    account: AccountView,
    resources: Vec<Resource>,
    users: Vec<User>,
}

async fn account(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let who = v.principal();
    let loaded = async {
        let account = app.get_account(&who, &id).await?;
        let resources = app
            .list_resources(&who, Some(&account.account.id), "", 500)
            .await?;
        // Users are listed to admins only (people's logins are the admin's business).
        let users = if v.role() == Some(Role::Admin) {
            app.list_users(&who)
                .await?
                .into_iter()
                .filter(|u| u.account_id.as_deref() == Some(account.account.id.as_str()))
                .collect()
        } else {
            Vec::new()
        };
        Ok::<_, AppError>((account, resources, users))
    }
    .await;
    match loaded {
        Ok((account, resources, users)) => {
            let mut c = Chrome::new(&app, &v, "/staff/accounts", "account.title");
            c.flash = flash(v.lang, q.done.as_deref());
            render(
                StatusCode::OK,
                &AccountPage {
                    c,
                    account,
                    resources,
                    users,
                },
            )
        }
        Err(e) => error_page(v.lang, &e, Some(&v)),
    }
}

#[derive(Template)]
#[template(path = "staff/import.html")]
struct Import {
    c: Chrome,
    body: String,
    report: Option<ImportReport>,
}

async fn import_form(State(app): State<App>, Extension(v): Extension<Viewer>) -> Response {
    render(
        StatusCode::OK,
        &Import {
            c: Chrome::new(&app, &v, "/staff/import", "import.title"),
            body: String::new(),
            report: None,
        },
    )
}

async fn import(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
) -> Response {
    let body = form.get("lines").unwrap_or_default();
    let mut c = Chrome::new(&app, &v, "/staff/import", "import.title");
    match app.import_resources(&v.principal(), &body).await {
        Ok(report) => {
            let status = if report.failed == 0 {
                c.flash = Some(c.count("import.done", report.created));
                StatusCode::OK
            } else {
                c.error = Some(c.f(
                    "import.partly",
                    &[
                        ("created", &report.created.to_string()),
                        ("failed", &report.failed.to_string()),
                    ],
                ));
                StatusCode::UNPROCESSABLE_ENTITY
            };
            // Keep the failed lines in the box so they can be fixed and sent again.
            let failed: std::collections::HashSet<usize> = report
                .lines
                .iter()
                .filter(|l| l.status != "created")
                .map(|l| l.line)
                .collect();
            let keep: Vec<&str> = body
                .lines()
                .enumerate()
                .filter(|(n, _)| failed.contains(&(n + 1)))
                .map(|(_, l)| l)
                .collect();
            render(
                status,
                &Import {
                    c,
                    body: keep.join("\n"),
                    report: Some(report),
                },
            )
        }
        Err(e) => {
            let (status, text) = describe(v.lang, &e);
            c.error = Some(text);
            render(
                status,
                &Import {
                    c,
                    body,
                    report: None,
                },
            )
        }
    }
}

#[derive(Template)]
#[template(path = "shared/users.html")]
struct Users {
    c: Chrome,
    users: Vec<User>,
    admin: bool,
    issued: Option<(String, String)>,
}

async fn users(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let mut c = Chrome::new(&app, &v, "/users", "users.title");
    c.flash = flash(v.lang, q.done.as_deref());
    users_view(&app, &v, c, None, StatusCode::OK).await
}

async fn users_view(
    app: &App,
    v: &Viewer,
    c: Chrome,
    issued: Option<(String, String)>,
    status: StatusCode,
) -> Response {
    let owner = v.signed.as_ref().is_some_and(|s| s.user.account_owner);
    if v.role() == Some(Role::Tenant) && !owner {
        return error_page(v.lang, &AppError::Forbidden("manage users"), Some(v));
    }
    match app.list_users(&v.principal()).await {
        Ok(users) => render(
            status,
            &Users {
                c,
                users,
                admin: v.role() == Some(Role::Admin),
                issued,
            },
        ),
        Err(e) => error_page(v.lang, &e, Some(v)),
    }
}

async fn create_user(
    State(app): State<App>,
    Extension(v): Extension<Viewer>,
    Extension(form): Extension<FormData>,
) -> Response {
    // An owner's form has no role, account or owner fields: its users are ordinary users of its
    // own account. Fields sent anyway go to the use case, which refuses what an owner may not
    // do (rather than quietly creating some other user than the one asked for).
    let admin = v.role() == Some(Role::Admin);
    let role = match form.get("role") {
        Some(r) => r,
        None if admin => String::new(),
        None => "tenant".to_string(),
    };
    let account_id = match form.get("account_id") {
        Some(a) => Some(a),
        None if admin => None,
        None => v.signed.as_ref().and_then(|s| s.user.account_id.clone()),
    };
    let result = async {
        let role = Role::parse(&role)?;
        app.create_user(
            &v.principal(),
            NewUser {
                login: form.get("login").unwrap_or_default(),
                role,
                account_id,
                account_owner: form.checked("owner"),
                password: None,
            },
        )
        .await
    }
    .await;
    match result {
        Ok(u) => {
            let mut c = Chrome::new(&app, &v, "/users", "users.title");
            c.flash = Some(c.t("users.created"));
            let issued = Some((u.user.login, u.password.unwrap_or_default()));
            users_view(&app, &v, c, issued, StatusCode::CREATED).await
        }
        Err(e) => {
            let (status, text) = describe(v.lang, &e);
            let mut c = Chrome::new(&app, &v, "/users", "users.title");
            c.error = Some(text);
            users_view(&app, &v, c, None, status).await
        }
    }
}
