//! The penalty matrix (SPEC §6, PEN-1..5): which actions a product and a level call for.
//!
//! The matrix is configuration (PEN-1); [`PenaltyMatrix::default`] is the policy's 2024 table.
//! Rows are keyed by product code so that a configuration file reads like the table, and a
//! configured matrix is checked once by [`PenaltyMatrix::validate`]: every product × level cell
//! present and non-empty. [`plan`] turns a cell into the actions a case gets, picking the
//! content or the network action where the cell names both.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::resource::Product;
use crate::taxonomy::{Kind, Level};

/// A penalty action (处罚动作). The code is the stable API and storage name.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// 阻断 url: block the violating URLs.
    BlockUrl,
    /// 阻断网络: cut the resource's network access; the behaviour-violation action (HARM-1).
    BlockNetwork,
    /// 机器关停: shut the machine down.
    ShutdownMachine,
    /// 冻结账户: freeze the account.
    FreezeAccount,
    /// 加速域名下线: take the acceleration domain offline.
    DomainOffline,
    /// 服务停用: stop the product for the account.
    StopService,
    /// 内容屏蔽: shield (hide) the content.
    ShieldContent,
    /// 删除文件: delete the file; destructive, evidence is kept first (PEN-4).
    DeleteFile,
    /// 冻结 bucket: freeze the bucket.
    FreezeBucket,
    /// 锁定解析记录: lock the DNS records.
    LockRecords,
    /// 域名暂停解析: suspend resolution of the domain.
    SuspendResolution,
    /// 禁止转移: forbid transferring the domain away.
    ForbidTransfer,
    /// 单服务停用: stop the one API-gateway service.
    StopSingleService,
    /// 不允许新建服务: forbid creating new API-gateway services.
    ForbidNewService,
    /// 隔离和清退: isolate and clear the account (PEN-2); the month's fee is not refunded.
    IsolateAccount,
    /// 黑洞: the IP is null-routed at the border (DDOS-3, DDOS-7) — protection of the network
    /// from a DDoS attack on it, not a penalty: never in the penalty matrix; a blackhole starts
    /// and ends by the blackhole rules, and the BGP export (ExaBGP) enforces it.
    Blackhole,
}

/// An action code that is not one of [`Action::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown penalty action {0:?}; expected one of block_url, block_network, shutdown_machine, freeze_account, domain_offline, stop_service, shield_content, delete_file, freeze_bucket, lock_records, suspend_resolution, forbid_transfer, stop_single_service, forbid_new_service, isolate_account, blackhole"
)]
pub struct UnknownAction(pub String);

impl Action {
    /// Every action.
    pub const ALL: [Action; 16] = [
        Action::BlockUrl,
        Action::BlockNetwork,
        Action::ShutdownMachine,
        Action::FreezeAccount,
        Action::DomainOffline,
        Action::StopService,
        Action::ShieldContent,
        Action::DeleteFile,
        Action::FreezeBucket,
        Action::LockRecords,
        Action::SuspendResolution,
        Action::ForbidTransfer,
        Action::StopSingleService,
        Action::ForbidNewService,
        Action::IsolateAccount,
        Action::Blackhole,
    ];

    /// The stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            Action::BlockUrl => "block_url",
            Action::BlockNetwork => "block_network",
            Action::ShutdownMachine => "shutdown_machine",
            Action::FreezeAccount => "freeze_account",
            Action::DomainOffline => "domain_offline",
            Action::StopService => "stop_service",
            Action::ShieldContent => "shield_content",
            Action::DeleteFile => "delete_file",
            Action::FreezeBucket => "freeze_bucket",
            Action::LockRecords => "lock_records",
            Action::SuspendResolution => "suspend_resolution",
            Action::ForbidTransfer => "forbid_transfer",
            Action::StopSingleService => "stop_single_service",
            Action::ForbidNewService => "forbid_new_service",
            Action::IsolateAccount => "isolate_account",
            Action::Blackhole => "blackhole",
        }
    }

    /// The action in words for a zh-CN notice (the policy's name), e.g. 阻断URL.
    pub fn label_zh(self) -> &'static str {
        match self {
            Action::BlockUrl => "阻断URL",
            Action::BlockNetwork => "阻断网络",
            Action::ShutdownMachine => "机器关停",
            Action::FreezeAccount => "冻结账户",
            Action::DomainOffline => "加速域名下线",
            Action::StopService => "服务停用",
            Action::ShieldContent => "内容屏蔽",
            Action::DeleteFile => "删除文件",
            Action::FreezeBucket => "冻结存储桶",
            Action::LockRecords => "锁定解析记录",
            Action::SuspendResolution => "域名暂停解析",
            Action::ForbidTransfer => "禁止转移",
            Action::StopSingleService => "单服务停用",
            Action::ForbidNewService => "不允许新建服务",
            Action::IsolateAccount => "隔离和清退",
            Action::Blackhole => "黑洞（IP 流量被丢弃）",
        }
    }

    /// The action in words for an English notice, e.g. "URL blocked".
    pub fn label_en(self) -> &'static str {
        match self {
            Action::BlockUrl => "URL blocked",
            Action::BlockNetwork => "network access blocked",
            Action::ShutdownMachine => "machine shut down",
            Action::FreezeAccount => "account frozen",
            Action::DomainOffline => "acceleration domain taken offline",
            Action::StopService => "service stopped",
            Action::ShieldContent => "content shielded",
            Action::DeleteFile => "file deleted",
            Action::FreezeBucket => "bucket frozen",
            Action::LockRecords => "DNS records locked",
            Action::SuspendResolution => "domain resolution suspended",
            Action::ForbidTransfer => "domain transfer forbidden",
            Action::StopSingleService => "API service stopped",
            Action::ForbidNewService => "new services forbidden",
            Action::IsolateAccount => "account isolated and cleared",
            Action::Blackhole => "blackholed (traffic to the IP dropped)",
        }
    }

    /// Parses an action code; an unknown code is an error naming it.
    pub fn parse(code: &str) -> Result<Action, UnknownAction> {
        Action::ALL
            .into_iter()
            .find(|a| a.code() == code)
            .ok_or_else(|| UnknownAction(code.chars().take(64).collect()))
    }

    /// Whether the action destroys tenant data, so the evidence must be kept before it runs
    /// (PEN-4). Enforcement workers check this before applying.
    pub fn is_destructive(self) -> bool {
        match self {
            Action::DeleteFile => true,
            Action::BlockUrl
            | Action::BlockNetwork
            | Action::ShutdownMachine
            | Action::FreezeAccount
            | Action::DomainOffline
            | Action::StopService
            | Action::ShieldContent
            | Action::FreezeBucket
            | Action::LockRecords
            | Action::SuspendResolution
            | Action::ForbidTransfer
            | Action::StopSingleService
            | Action::ForbidNewService
            | Action::IsolateAccount
            | Action::Blackhole => false,
        }
    }

    /// Whether this is the network action that answers behaviour violations (§6, HARM-1).
    pub fn is_network(self) -> bool {
        self == Action::BlockNetwork
    }
}

crate::impl_code!(Action, "action");

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// One cell of the matrix: the actions for a product at a level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cell {
    /// The actions, in the policy's order. Must not be empty.
    pub actions: Vec<Action>,
    /// 禁止解封: the actions may never be lifted from the console (UNB-4). Default `false`.
    #[serde(default)]
    pub no_unblock: bool,
}

impl Cell {
    fn of(actions: &[Action]) -> Cell {
        Cell {
            actions: actions.to_vec(),
            no_unblock: false,
        }
    }

    fn no_unblock(actions: &[Action]) -> Cell {
        Cell {
            actions: actions.to_vec(),
            no_unblock: true,
        }
    }
}

/// The penalty matrix (PEN-1): product code → level → cell.
///
/// Keys are product codes (`cvm`, `clb`, `cdn`, `cos`, `dns`, `dnspod`, `vod`, `apigw`); the
/// policy's shared cvm/clb row is two equal rows here, so either can be changed alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PenaltyMatrix {
    /// Rows by product code, each with a cell per level. Default: the policy's 2024 table (§6).
    pub products: BTreeMap<Product, BTreeMap<Level, Cell>>,
}

/// What is wrong with a configured matrix, naming the cell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("penalty matrix cell {cell}: {reason}")]
pub struct MatrixError {
    /// The cell, e.g. `cos.serious`, or the row, e.g. `ecs`.
    pub cell: String,
    /// What is wrong.
    pub reason: String,
}

const LEVELS: [Level; 3] = [Level::General, Level::Serious, Level::EspeciallySerious];

impl Default for PenaltyMatrix {
    /// The policy's 2024 table (§6).
    fn default() -> Self {
        use Action::*;
        let row = |g: Cell, s: Cell, e: Cell| {
            BTreeMap::from([
                (Level::General, g),
                (Level::Serious, s),
                (Level::EspeciallySerious, e),
            ])
        };
        let stop_and_freeze = || Cell::of(&[StopService, FreezeAccount]);
        let compute = || {
            row(
                Cell::of(&[BlockUrl, BlockNetwork]),
                Cell::no_unblock(&[BlockNetwork]),
                Cell::of(&[ShutdownMachine, FreezeAccount]),
            )
        };
        let products = BTreeMap::from([
            (Product::Cvm, compute()),
            (Product::Clb, compute()),
            (
                Product::Cdn,
                row(
                    Cell::of(&[BlockUrl]),
                    Cell::of(&[DomainOffline]),
                    stop_and_freeze(),
                ),
            ),
            (
                Product::Cos,
                row(
                    Cell::of(&[ShieldContent]),
                    Cell::of(&[DeleteFile, FreezeBucket]),
                    stop_and_freeze(),
                ),
            ),
            (
                Product::Dns,
                row(
                    Cell::of(&[LockRecords]),
                    Cell::of(&[SuspendResolution]),
                    stop_and_freeze(),
                ),
            ),
            (
                Product::Dnspod,
                row(
                    Cell::of(&[LockRecords]),
                    Cell::of(&[SuspendResolution, ForbidTransfer]),
                    stop_and_freeze(),
                ),
            ),
            (
                Product::Vod,
                row(
                    Cell::of(&[ShieldContent, DeleteFile]),
                    Cell::of(&[StopService]),
                    Cell::of(&[FreezeAccount]),
                ),
            ),
            (
                Product::Apigw,
                row(
                    Cell::of(&[StopSingleService]),
                    Cell::of(&[StopSingleService, ForbidNewService]),
                    stop_and_freeze(),
                ),
            ),
        ]);
        PenaltyMatrix { products }
    }
}

impl PenaltyMatrix {
    /// The cell for `product` at `level`, if configured.
    pub fn cell(&self, product: Product, level: Level) -> Option<&Cell> {
        self.products.get(&product)?.get(&level)
    }

    /// Checks a configured matrix (unknown products are refused when it is read): every product × level present, no empty
    /// cell and no action twice in a cell. The error names the cell.
    pub fn validate(&self) -> Result<(), MatrixError> {
        for product in Product::ALL {
            for level in LEVELS {
                let name = format!("{}.{}", product.code(), level.code());
                let cell = self.cell(product, level).ok_or_else(|| MatrixError {
                    cell: name.clone(),
                    reason:
                        "is missing; every product needs general, serious and especially_serious"
                            .into(),
                })?;
                if cell.actions.is_empty() {
                    return Err(MatrixError {
                        cell: name,
                        reason: "has no actions".into(),
                    });
                }
                let mut seen = Vec::with_capacity(cell.actions.len());
                for action in &cell.actions {
                    if seen.contains(action) {
                        return Err(MatrixError {
                            cell: name,
                            reason: format!("names {action} twice"),
                        });
                    }
                    if *action == Action::Blackhole {
                        return Err(MatrixError {
                            cell: name,
                            reason: "names blackhole, which is no penalty: blackholes follow the DDoS rules (DDOS-3)".into(),
                        });
                    }
                    seen.push(*action);
                }
            }
        }
        Ok(())
    }
}

/// An action a case is to get, with whether it may ever be lifted (PEN-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlannedAction {
    /// The action.
    pub action: Action,
    /// 禁止解封: never lifted, neither from the console nor by a ticket.
    pub no_unblock: bool,
}

/// The actions a violation of `kind` on `product` at `level` gets under `matrix`.
///
/// §6: "each cell is a list of actions; the first applies to content violations and the network
/// action to behaviour violations where the cell names both". Read as:
///
/// - a cell that names the network action (`block_network`) *and* other actions is split: content
///   violations get the other actions (in the default table that is exactly the first, e.g.
///   cvm/clb general → `block_url`), behaviour violations get the network action;
/// - any other cell applies whole to both kinds (cvm/clb serious `block_network` also answers a
///   serious content violation; cos serious deletes *and* freezes).
///
/// Every planned action carries the cell's `no_unblock`. Especially serious adds
/// `isolate_account` (PEN-2 isolation and clearance) when the cell lacks it; clearance is final,
/// so it is always `no_unblock`.
///
/// A missing cell (a matrix that did not pass [`PenaltyMatrix::validate`]) plans nothing; the
/// lifecycle refuses to enforce an empty plan.
pub fn plan(
    matrix: &PenaltyMatrix,
    product: Product,
    level: Level,
    kind: Kind,
) -> Vec<PlannedAction> {
    let Some(cell) = matrix.cell(product, level) else {
        return Vec::new();
    };
    let names_network = cell.actions.iter().any(|a| a.is_network());
    let names_other = cell.actions.iter().any(|a| !a.is_network());
    let split = names_network && names_other;
    let mut planned: Vec<PlannedAction> = cell
        .actions
        .iter()
        .filter(|a| {
            !split
                || match kind {
                    Kind::Content => !a.is_network(),
                    Kind::Behaviour => a.is_network(),
                }
        })
        .map(|&action| PlannedAction {
            action,
            no_unblock: cell.no_unblock,
        })
        .collect();
    if level == Level::EspeciallySerious {
        match planned
            .iter_mut()
            .find(|p| p.action == Action::IsolateAccount)
        {
            Some(isolate) => isolate.no_unblock = true,
            None => planned.push(PlannedAction {
                action: Action::IsolateAccount,
                no_unblock: true,
            }),
        }
    }
    planned
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;

    /// PEN-1: codes round-trip through `parse`, serde uses the same codes, and an unknown code is
    /// an error naming it.
    #[test]
    fn action_codes_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.code()), Ok(a));
            assert_eq!(
                serde_json::to_value(a).unwrap(),
                serde_json::Value::String(a.code().into())
            );
        }
        let err = Action::parse("nuke_from_orbit").unwrap_err();
        assert!(err.to_string().contains("\"nuke_from_orbit\""), "{err}");
    }

    /// PEN-4 and HARM-1: only delete_file is destructive; block_network is the network action.
    #[test]
    fn destructive_and_network_actions() {
        let destructive: Vec<_> = Action::ALL
            .into_iter()
            .filter(|a| a.is_destructive())
            .collect();
        assert_eq!(destructive, [DeleteFile]);
        let network: Vec<_> = Action::ALL.into_iter().filter(|a| a.is_network()).collect();
        assert_eq!(network, [BlockNetwork]);
    }

    /// PEN-1: the shipped default is complete and valid, and survives a serde round trip.
    #[test]
    fn default_matrix_is_valid_and_round_trips() {
        let m = PenaltyMatrix::default();
        assert_eq!(m.validate(), Ok(()));
        assert_eq!(m.products.len(), 8);
        let json = serde_json::to_string(&m).unwrap();
        let back: PenaltyMatrix = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }

    /// PEN-1: a configured matrix with a missing or empty cell, an unknown product or an unknown
    /// field is rejected, naming the cell or field.
    #[test]
    fn validation_names_the_cell() {
        let mut m = PenaltyMatrix::default();
        m.products
            .get_mut(&Product::Dns)
            .unwrap()
            .remove(&Level::Serious);
        assert_eq!(m.validate().unwrap_err().cell, "dns.serious");

        let mut m = PenaltyMatrix::default();
        m.products
            .get_mut(&Product::Vod)
            .unwrap()
            .get_mut(&Level::EspeciallySerious)
            .unwrap()
            .actions
            .clear();
        let err = m.validate().unwrap_err();
        assert_eq!(err.cell, "vod.especially_serious");
        assert!(err.to_string().contains("vod.especially_serious"), "{err}");

        let mut m = PenaltyMatrix::default();
        m.products.remove(&Product::Apigw);
        assert_eq!(m.validate().unwrap_err().cell, "apigw.general");

        let unknown = r#"{"products":{"ecs":{"general":{"actions":["block_url"]}}}}"#;
        let err = serde_json::from_str::<PenaltyMatrix>(unknown).unwrap_err();
        assert!(err.to_string().contains("ecs"), "{err}");

        let mut m = PenaltyMatrix::default();
        m.products
            .get_mut(&Product::Cos)
            .unwrap()
            .get_mut(&Level::General)
            .unwrap()
            .actions
            .push(ShieldContent);
        assert_eq!(m.validate().unwrap_err().cell, "cos.general");

        let bad = r#"{"products":{"cvm":{"general":{"actions":["block_url"],"no_unblok":true}}}}"#;
        let err = serde_json::from_str::<PenaltyMatrix>(bad).unwrap_err();
        assert!(err.to_string().contains("no_unblok"), "{err}");
        let bad = r#"{"products":{"cvm":{"general":{"actions":["block_uri"]}}}}"#;
        assert!(serde_json::from_str::<PenaltyMatrix>(bad).is_err());
    }

    /// §6: the 21 default cells (cvm/clb counted once) for every product × level × kind, against
    /// a literal table written independently of `Default`. `!` marks a no_unblock action.
    #[test]
    fn default_plan_for_every_cell() {
        // (product, level, content actions, behaviour actions)
        type Row = (
            &'static str,
            Level,
            &'static [&'static str],
            &'static [&'static str],
        );
        use Level::{EspeciallySerious as E, General as G, Serious as S};
        const SE: &[&str] = &["stop_service", "freeze_account", "isolate_account!"];
        let table: &[Row] = &[
            ("cvm", G, &["block_url"], &["block_network"]),
            ("cvm", S, &["block_network!"], &["block_network!"]),
            (
                "cvm",
                E,
                &["shutdown_machine", "freeze_account", "isolate_account!"],
                &["shutdown_machine", "freeze_account", "isolate_account!"],
            ),
            ("cdn", G, &["block_url"], &["block_url"]),
            ("cdn", S, &["domain_offline"], &["domain_offline"]),
            ("cdn", E, SE, SE),
            ("cos", G, &["shield_content"], &["shield_content"]),
            (
                "cos",
                S,
                &["delete_file", "freeze_bucket"],
                &["delete_file", "freeze_bucket"],
            ),
            ("cos", E, SE, SE),
            ("dns", G, &["lock_records"], &["lock_records"]),
            ("dns", S, &["suspend_resolution"], &["suspend_resolution"]),
            ("dns", E, SE, SE),
            ("dnspod", G, &["lock_records"], &["lock_records"]),
            (
                "dnspod",
                S,
                &["suspend_resolution", "forbid_transfer"],
                &["suspend_resolution", "forbid_transfer"],
            ),
            ("dnspod", E, SE, SE),
            (
                "vod",
                G,
                &["shield_content", "delete_file"],
                &["shield_content", "delete_file"],
            ),
            ("vod", S, &["stop_service"], &["stop_service"]),
            (
                "vod",
                E,
                &["freeze_account", "isolate_account!"],
                &["freeze_account", "isolate_account!"],
            ),
            (
                "apigw",
                G,
                &["stop_single_service"],
                &["stop_single_service"],
            ),
            (
                "apigw",
                S,
                &["stop_single_service", "forbid_new_service"],
                &["stop_single_service", "forbid_new_service"],
            ),
            ("apigw", E, SE, SE),
        ];
        assert_eq!(table.len(), 21);
        let m = PenaltyMatrix::default();
        let render = |p: Vec<PlannedAction>| -> Vec<String> {
            p.into_iter()
                .map(|p| format!("{}{}", p.action, if p.no_unblock { "!" } else { "" }))
                .collect()
        };
        let mut checked = 0;
        for &(code, level, content, behaviour) in table {
            // The policy's cvm/clb row covers both products.
            let products: &[&str] = if code == "cvm" {
                &["cvm", "clb"]
            } else {
                &[code]
            };
            for p in products {
                let product = Product::parse(p).unwrap();
                for (kind, want) in [(Kind::Content, content), (Kind::Behaviour, behaviour)] {
                    assert_eq!(
                        render(plan(&m, product, level, kind)),
                        want.to_vec(),
                        "{p} {} {kind:?}",
                        level.code()
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 8 * 3 * 2);
    }

    /// PEN-2: an especially serious cell that already names isolate_account gets it once, and it
    /// is never liftable; a missing cell plans nothing.
    #[test]
    fn isolation_is_added_once_and_missing_cells_plan_nothing() {
        let mut m = PenaltyMatrix::default();
        m.products.get_mut(&Product::Dns).unwrap().insert(
            Level::EspeciallySerious,
            Cell::of(&[IsolateAccount, StopService]),
        );
        let p = plan(&m, Product::Dns, Level::EspeciallySerious, Kind::Content);
        assert_eq!(
            p,
            [
                PlannedAction {
                    action: IsolateAccount,
                    no_unblock: true
                },
                PlannedAction {
                    action: StopService,
                    no_unblock: false
                },
            ]
        );
        m.products.remove(&Product::Dns);
        assert!(plan(&m, Product::Dns, Level::General, Kind::Content).is_empty());
    }
}
