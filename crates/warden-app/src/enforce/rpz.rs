//! The DNS Response Policy Zone adapter (ENF-1): every domain under `suspend_resolution`
//! (域名暂停解析) answers NXDOMAIN (`CNAME .`), itself and its subdomains. The SOA serial is the
//! enforcement revision, so a secondary or a reload sees every change. The zone is written
//! atomically (temporary file, then rename) and the reload commands run with a timeout; the
//! point holds a change once both succeeded.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use warden_domain::delivery::ChangeOp;
use warden_domain::penalty::Action;
use warden_store::enforcement::EnforcementChange;

use super::adapter::{Adapter, AdapterError, Mode, PushFuture};

/// Where the zone goes and how the DNS server is told.
#[derive(Debug, Clone)]
pub struct RpzConfig {
    /// The zone file (written atomically).
    pub file: PathBuf,
    /// Commands run after each write (argv), e.g. `["unbound-control", "auth_zone_reload", "rpz.warden"]`.
    pub reload: Vec<Vec<String>>,
    /// How long each reload command may take before it is killed and the push fails.
    pub timeout: Duration,
}

/// Whether an action is rendered in the zone.
pub fn in_zone(action: Action) -> bool {
    action == Action::SuspendResolution
}

/// The domain an RPZ rule names for a target (URL or domain).
pub fn domain_of(target: &str) -> Option<String> {
    super::host_of(target).filter(|h| h.parse::<std::net::IpAddr>().is_err())
}

/// The zone text for `domains` at `serial`.
pub fn render_zone<'a>(serial: i64, domains: impl IntoIterator<Item = &'a str>) -> String {
    let mut domains: Vec<&str> = domains.into_iter().collect();
    domains.sort_unstable();
    domains.dedup();
    let mut zone = format!(
        "$TTL 60\n@ IN SOA rpz.warden. hostmaster.warden. {} 3600 600 86400 60\n@ IN NS localhost.\n",
        serial.max(1)
    );
    for d in domains {
        zone.push_str(&format!("{d} CNAME .\n*.{d} CNAME .\n"));
    }
    zone
}

#[derive(Debug, Default)]
struct Held {
    /// action id → domain.
    domains: BTreeMap<String, String>,
    serial: i64,
}

/// The adapter writing this node's zone file.
#[derive(Debug)]
pub struct RpzAdapter {
    config: RpzConfig,
    held: Mutex<Held>,
}

impl RpzAdapter {
    /// With `config`.
    pub fn new(config: RpzConfig) -> Self {
        RpzAdapter {
            config,
            held: Mutex::new(Held::default()),
        }
    }

    fn zone(&self, changes: &[EnforcementChange]) -> String {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for c in changes {
            if c.op == ChangeOp::Apply {
                if let Some(d) = domain_of(&c.target) {
                    held.domains.insert(c.action_id.clone(), d);
                }
            } else {
                held.domains.remove(&c.action_id);
            }
            held.serial = held.serial.max(c.revision);
        }
        render_zone(held.serial, held.domains.values().map(String::as_str))
    }
}

impl Adapter for RpzAdapter {
    fn name(&self) -> &str {
        "rpz"
    }

    fn mode(&self) -> Mode {
        Mode::Follow
    }

    fn handles(&self, change: &EnforcementChange) -> bool {
        in_zone(change.action) && domain_of(&change.target).is_some()
    }

    fn push<'a>(&'a self, changes: &'a [EnforcementChange]) -> PushFuture<'a> {
        Box::pin(async move {
            let zone = self.zone(changes);
            let path = self.config.file.clone();
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, zone)?;
                std::fs::rename(&tmp, &path)
            })
            .await
            .map_err(|e| AdapterError::new(format!("writing the zone: {e}")))?
            .map_err(|e| {
                AdapterError::new(format!(
                    "writing the zone {}: {e}",
                    self.config.file.display()
                ))
            })?;
            for argv in &self.config.reload {
                let Some((program, args)) = argv.split_first() else {
                    continue;
                };
                let run = tokio::process::Command::new(program)
                    .args(args)
                    .kill_on_drop(true)
                    .output();
                let out = tokio::time::timeout(self.config.timeout, run)
                    .await
                    .map_err(|_| {
                        AdapterError::new(format!(
                            "reload command `{}` did not finish within {} ms",
                            argv.join(" "),
                            self.config.timeout.as_millis()
                        ))
                    })?
                    .map_err(|e| {
                        AdapterError::new(format!("reload command `{}`: {e}", argv.join(" ")))
                    })?;
                if !out.status.success() {
                    return Err(AdapterError::new(format!(
                        "reload command `{}` failed ({}): {}",
                        argv.join(" "),
                        out.status,
                        String::from_utf8_lossy(&out.stderr).trim()
                    )));
                }
            }
            Ok(())
        })
    }

    fn holds(&self) -> Option<Vec<(String, Action)>> {
        let held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(
            held.domains
                .keys()
                .map(|id| (id.clone(), Action::SuspendResolution))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names_each_domain_and_its_subdomains_once() {
        let z = render_zone(7, ["b.example", "a.example", "b.example"]);
        assert!(z.contains(" 7 3600 600 86400 60\n"), "{z}");
        assert_eq!(z.matches("b.example CNAME .").count(), 2, "{z}");
        assert!(z.contains("*.a.example CNAME .\n"), "{z}");
    }

    #[test]
    fn only_suspended_domains_are_in_the_zone() {
        let a = RpzAdapter::new(RpzConfig {
            file: PathBuf::from("/nonexistent/zone"),
            reload: Vec::new(),
            timeout: Duration::from_secs(1),
        });
        let mut c = EnforcementChange {
            revision: 1,
            action_id: "act_1".into(),
            case_id: "c".into(),
            account_id: None,
            op: ChangeOp::Apply,
            action: Action::SuspendResolution,
            product: None,
            target: "https://Bad.Example/x".into(),
            created_at: 0,
        };
        assert!(a.handles(&c));
        c.target = "203.0.113.9".into();
        assert!(!a.handles(&c), "an IP has no zone entry");
        c.action = Action::BlockUrl;
        c.target = "https://bad.example/x".into();
        assert!(!a.handles(&c));
    }
}
