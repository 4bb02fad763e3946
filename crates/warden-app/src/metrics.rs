//! Metrics, all named in this one module, rendered in the Prometheus text format (OPS-2).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide counters.
#[derive(Debug, Default)]
pub struct Metrics {
    reports_accepted: AtomicU64,
    rejected_invalid: AtomicU64,
    rejected_invalid_xarf: AtomicU64,
    rejected_rate_limited: AtomicU64,
    jobs_succeeded: AtomicU64,
    jobs_failed: AtomicU64,
    http_requests: AtomicU64,
    http_errors: AtomicU64,
    contacts_read_for_notices: AtomicU64,
}

impl Metrics {
    /// Reports stored.
    pub fn inc_accepted(&self, n: u64) {
        self.reports_accepted.fetch_add(n, Ordering::Relaxed);
    }

    /// One report rejected for `reason`.
    pub fn inc_rejected(&self, reason: &str) {
        self.add_rejected(reason, 1);
    }

    /// `n` reports rejected for `reason`.
    pub fn add_rejected(&self, reason: &str, n: u64) {
        let c = match reason {
            "invalid_xarf" => &self.rejected_invalid_xarf,
            "rate_limited" => &self.rejected_rate_limited,
            _ => &self.rejected_invalid,
        };
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// A job finished (ok) or failed.
    pub fn job(&self, ok: bool) {
        if ok {
            &self.jobs_succeeded
        } else {
            &self.jobs_failed
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// A sealed contact was opened for `purpose` (AUD-4): sending a notice reads the address or
    /// phone every time, which is counted here rather than audited per message.
    pub fn personal_data_read(&self, purpose: &str) {
        match purpose {
            "notice" => &self.contacts_read_for_notices,
            _ => return,
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// An HTTP response was sent; `error` when 5xx.
    pub fn http(&self, error: bool) {
        self.http_requests.fetch_add(1, Ordering::Relaxed);
        if error {
            self.http_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Prometheus text exposition, with job gauges read from storage by the caller.
    pub fn render(&self, jobs: &warden_store::jobs::JobCounts) -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# HELP warden_reports_accepted_total Reports stored.\n# TYPE warden_reports_accepted_total counter\nwarden_reports_accepted_total {}",
            g(&self.reports_accepted)
        );
        let _ = writeln!(
            o,
            "# HELP warden_reports_rejected_total Reports refused, by reason.\n# TYPE warden_reports_rejected_total counter"
        );
        let _ = writeln!(
            o,
            "warden_reports_rejected_total{{reason=\"invalid\"}} {}",
            g(&self.rejected_invalid)
        );
        let _ = writeln!(
            o,
            "warden_reports_rejected_total{{reason=\"invalid_xarf\"}} {}",
            g(&self.rejected_invalid_xarf)
        );
        let _ = writeln!(
            o,
            "warden_reports_rejected_total{{reason=\"rate_limited\"}} {}",
            g(&self.rejected_rate_limited)
        );
        let _ = writeln!(
            o,
            "# HELP warden_jobs_total Job attempts finished by this node, by outcome.\n# TYPE warden_jobs_total counter"
        );
        let _ = writeln!(
            o,
            "warden_jobs_total{{outcome=\"ok\"}} {}\nwarden_jobs_total{{outcome=\"failed\"}} {}",
            g(&self.jobs_succeeded),
            g(&self.jobs_failed)
        );
        let _ = writeln!(
            o,
            "# HELP warden_jobs Jobs in the queue, by state.\n# TYPE warden_jobs gauge"
        );
        for (s, n) in [
            ("pending", jobs.pending),
            ("running", jobs.running),
            ("done", jobs.done),
            ("dead", jobs.dead),
        ] {
            let _ = writeln!(o, "warden_jobs{{state=\"{s}\"}} {n}");
        }
        let _ = writeln!(
            o,
            "# HELP warden_personal_data_reads_total Sealed contacts opened to send notices (AUD-4: counted, not audited per message).\n# TYPE warden_personal_data_reads_total counter\nwarden_personal_data_reads_total{{purpose=\"notice\"}} {}",
            g(&self.contacts_read_for_notices)
        );
        let _ = writeln!(
            o,
            "# HELP warden_http_requests_total HTTP responses sent.\n# TYPE warden_http_requests_total counter\nwarden_http_requests_total {}",
            g(&self.http_requests)
        );
        let _ = writeln!(
            o,
            "# HELP warden_http_server_errors_total HTTP 5xx responses.\n# TYPE warden_http_server_errors_total counter\nwarden_http_server_errors_total {}",
            g(&self.http_errors)
        );
        o
    }

    /// The outbound messages not sent yet (NOT-2, ENF-2), by channel and state: `dead` ones
    /// wait for an operator to re-drive them.
    pub fn render_outbound(
        counts: &[(
            warden_store::outbound::Channel,
            warden_store::outbound::OutboundState,
            i64,
        )],
    ) -> String {
        let mut o = String::from(
            "# HELP warden_outbound_messages Outbound messages (webhook, e-mail, SMS) not sent yet, by channel and state.\n# TYPE warden_outbound_messages gauge\n",
        );
        for (channel, state, n) in counts {
            let _ = writeln!(
                o,
                "warden_outbound_messages{{channel=\"{channel}\",state=\"{state}\"}} {n}"
            );
        }
        o
    }

    /// The enforcement deliveries no point has confirmed yet (ENF-2), by adapter and state:
    /// `failed` ones need an operator (or the next reconciliation).
    pub fn render_deliveries(
        counts: &[(String, warden_domain::delivery::DeliveryState, i64)],
    ) -> String {
        let mut o = String::from(
            "# HELP warden_enforcement_deliveries Enforcement deliveries not yet confirmed, by adapter and state (ENF-2).\n# TYPE warden_enforcement_deliveries gauge\n",
        );
        for (adapter, state, n) in counts {
            let adapter = adapter.replace(['\\', '"', '\n'], "_");
            let _ = writeln!(
                o,
                "warden_enforcement_deliveries{{adapter=\"{adapter}\",state=\"{state}\"}} {n}"
            );
        }
        o
    }
}
