//! DDoS protection and blackholes (DDOS-1..6): telemetry from detectors, IP protection,
//! blackholes with self-service and operator release, traffic per IP.

use warden_app::ddos::{
    BlackholeList, BlackholeQuery, ProtectionInput, ProtectionResult, ProtectionView, ReleaseInput,
    ReleaseResult, TelemetryInput, TelemetryReceipt, TrafficView,
};
use warden_app::ddos_read::{AttackPage, AttackQuery};

use super::prelude::*;

/// The path of `/api/ips/{ip}/...`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct IpPath {
    /// An IPv4 or IPv6 address (`203.0.113.10`, `2001:db8::1`); anything else is 422 naming
    /// `ip`, and an address that is no public IP of a resource (the caller's, for a tenant) is
    /// 404.
    #[schemars(length(min = 1), extend("format" = "ip-address"))]
    ip: String,
}

async fn ingest(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    JsonBody(input): JsonBody<TelemetryInput>,
) -> ApiResult<Json<TelemetryReceipt>> {
    Ok(Json(app.ingest_telemetry(&who, input).await?))
}

async fn get_protection(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(IpPath { ip }): Path<IpPath>,
) -> ApiResult<Json<ProtectionView>> {
    Ok(Json(app.ip_protection(&who, &ip).await?))
}

async fn put_protection(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(IpPath { ip }): Path<IpPath>,
    JsonBody(input): JsonBody<ProtectionInput>,
) -> ApiResult<Json<ProtectionResult>> {
    Ok(Json(app.set_protection(&who, &ip, input).await?))
}

async fn traffic(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(IpPath { ip }): Path<IpPath>,
) -> ApiResult<Json<TrafficView>> {
    Ok(Json(app.ip_traffic(&who, &ip).await?))
}

async fn list(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<BlackholeQuery>,
) -> ApiResult<Json<BlackholeList>> {
    Ok(Json(app.list_blackholes(&who, &q).await?))
}

async fn release(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<ReleaseInput>,
) -> ApiResult<Json<ReleaseResult>> {
    Ok(Json(app.release_blackhole(&who, &id, input).await?))
}

async fn attacks(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Q(q): Q<AttackQuery>,
) -> ApiResult<Json<AttackPage>> {
    Ok(Json(app.list_attacks(&who, &q).await?))
}

/// The endpoints of this area.
pub(super) fn endpoints() -> Vec<Endpoint> {
    Vec::from([
        Endpoint::new(
            route(
                "POST",
                "/api/telemetry",
                BATCHERS,
                "ddos",
                "Per-IP traffic samples (1 to 5000): folded into 1-minute aggregates; an IP whose average inbound bps over the detection window exceeds its capacity is blackholed. Samples of IPs that are no resource's public IP are counted in the answer, not refused.",
                "DDOS-2, DDOS-3, DDOS-4",
            )
            .json_body(schema::<TelemetryInput>)
            .replies(const {
                &[
                    json(200, schema::<TelemetryReceipt>, "Stored and judged."),
                ]
            }),
            post(ingest),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/ips/{ip}/protection",
                READERS,
                "ddos",
                "An IP's DDoS protection, capacity, history of changes and active blackhole (a tenant: its own IPs).",
                "DDOS-1",
            )
            .path_params(schema::<IpPath>)
            .replies(const {
                &[
                    json(200, schema::<ProtectionView>, "The protection."),
                ]
            }),
            get(get_protection),
        ),
        Endpoint::new(
            route(
                "PUT",
                "/api/ips/{ip}/protection",
                PROTECTORS,
                "ddos",
                "Enable or change an IP's protection (high_defense with capacity_bps, or basic). A capacity covering an active blackhole's peak releases it at once; one short of it is kept and the answer names the shortfall.",
                "DDOS-1, DDOS-5",
            )
            .path_params(schema::<IpPath>)
            .json_body(schema::<ProtectionInput>)
            .replies(const {
                &[
                    json(200, schema::<ProtectionResult>, "Stored; `released` and `shortfall_bps` say what it did to an active blackhole."),
                ]
            }),
            axum::routing::put(put_protection),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/ips/{ip}/traffic",
                READERS,
                "ddos",
                "An IP's traffic of the last 24 hours as 1-minute aggregates (a tenant: its own IPs).",
                "DDOS-6",
            )
            .path_params(schema::<IpPath>)
            .replies(const {
                &[
                    json(200, schema::<TrafficView>, "The minutes, oldest first."),
                ]
            }),
            get(traffic),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/blackholes",
                READERS,
                "ddos",
                "Blackholes, newest first (a tenant: its own, with its self-service quota); `active=true` keeps the active ones.",
                "DDOS-5, DDOS-6",
            )
            .query(schema::<BlackholeQuery>)
            .replies(const {
                &[
                    json(200, schema::<BlackholeList>, "The blackholes."),
                ]
            }),
            get(list),
        ),
        Endpoint::new(
            route(
                "GET",
                "/api/attacks",
                READERS,
                "ddos",
                "Attacks against IPs, newest first (a tenant: on its own IPs): start, end, peak bps and pps, and the flow evidence's top protocols and sources. `ip=` keeps one IP's (an IP that is not the caller's lists nothing, like an unknown one); `after=` (the previous page's `next_after`) and `limit=` (1 to 500) page by keyset.",
                "DDOS-3, DDOS-6",
            )
            .query(schema::<AttackQuery>)
            .replies(const {
                &[
                    json(200, schema::<AttackPage>, "A page of attacks."),
                ]
            }),
            get(attacks),
        ),
        Endpoint::new(
            route(
                "POST",
                "/api/blackholes/{id}/release",
                PROTECTORS,
                "ddos",
                "Release a blackhole early: a tenant's self-service release within the monthly quota (no `reason`; a failed attempt does not use it, a used-up quota is refused naming the reset time), or staff's release with a `reason`. A tenant giving a `reason`, or staff giving none, is refused with 403 (that release is the other role's).",
                "DDOS-5",
            )
            .json_body(schema::<ReleaseInput>)
            .replies(const {
                &[
                    json(200, schema::<ReleaseResult>, "Released, or (`released: false`) the attempt failed and why."),
                ]
            }),
            post(release),
        ),
    ])
}
