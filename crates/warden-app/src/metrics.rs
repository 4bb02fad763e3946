//! Metrics, all named in this one module, rendered in the Prometheus text format (OPS-2).

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide counters.
#[derive(Debug, Default)]
pub struct Metrics {
    reports_accepted: AtomicU64,
    intake_groups: AtomicU64,
    intake_grouped_reports: AtomicU64,
    intake_groups_retried: AtomicU64,
    rejected_invalid: AtomicU64,
    rejected_invalid_xarf: AtomicU64,
    rejected_rate_limited: AtomicU64,
    jobs_succeeded: AtomicU64,
    jobs_failed: AtomicU64,
    http_requests: AtomicU64,
    http_errors: AtomicU64,
    contacts_read_for_notices: AtomicU64,
    flows: Mutex<Option<FlowStats>>,
    smtp: [AtomicU64; SmtpEvent::ALL.len()],
}

/// What the SMTP listener of the abuse desk did (INT-2), one counter each: the messages by
/// outcome and every kind of refusal, so an operator sees a relay that bounces (refused) apart
/// from one that retries (deferred) without reading a log of addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpEvent {
    /// A message stored (250).
    Accepted,
    /// A message taken in before, answered with its first receipt (250).
    Duplicate,
    /// A message that is not a readable report (554 5.6.0): the relay bounces it.
    Refused,
    /// A message not stored for a fault of storage (451 4.3.0): the relay retries.
    Deferred,
    /// A message over the size limit, declared at MAIL or sent (552 5.3.4).
    TooLarge,
    /// A recipient past `max_recipients` (452 4.5.3).
    TooManyRecipients,
    /// A recipient outside `accept_recipients` (550 5.1.1).
    RecipientRefused,
    /// A connection past `max_connections` (421 4.7.0).
    ConnectionLimit,
    /// A connection from outside `allowed_clients` (554 5.7.1).
    ClientDenied,
    /// A session closed for its idle or session timeout (421 4.4.2).
    Timeout,
    /// A command refused for its syntax or sequence (500, 501, 502, 503, 555).
    BadCommand,
}

impl SmtpEvent {
    /// Every event, in the order rendered.
    pub const ALL: [SmtpEvent; 11] = [
        SmtpEvent::Accepted,
        SmtpEvent::Duplicate,
        SmtpEvent::Refused,
        SmtpEvent::Deferred,
        SmtpEvent::TooLarge,
        SmtpEvent::TooManyRecipients,
        SmtpEvent::RecipientRefused,
        SmtpEvent::ConnectionLimit,
        SmtpEvent::ClientDenied,
        SmtpEvent::Timeout,
        SmtpEvent::BadCommand,
    ];

    /// Stable code, the metric's `event` label.
    pub fn code(self) -> &'static str {
        match self {
            SmtpEvent::Accepted => "accepted",
            SmtpEvent::Duplicate => "duplicate",
            SmtpEvent::Refused => "refused",
            SmtpEvent::Deferred => "deferred",
            SmtpEvent::TooLarge => "too_large",
            SmtpEvent::TooManyRecipients => "too_many_recipients",
            SmtpEvent::RecipientRefused => "recipient_refused",
            SmtpEvent::ConnectionLimit => "connection_limit",
            SmtpEvent::ClientDenied => "client_denied",
            SmtpEvent::Timeout => "timeout",
            SmtpEvent::BadCommand => "bad_command",
        }
    }
}

/// Group commit of single reports, counted since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IntakeGroups {
    /// Transactions that stored a group.
    pub groups: u64,
    /// Reports in them.
    pub reports: u64,
    /// Groups whose transaction failed, their reports then stored one by one.
    pub retried: u64,
}

/// The flow collector's state (DDOS-2), as its receive loop last published it (once a tick).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// The decoder's counters: packets by outcome, records, templates.
    pub collector: warden_flow::Counters,
    /// Templates cached now.
    pub templates: u64,
    /// IPs tracked now, inbound and outbound.
    pub tracked: (u64, u64),
    /// IPs evicted to honour `max_ips`, inbound and outbound.
    pub evicted: (u64, u64),
    /// Datagrams the socket refused to hand over (errors other than a timeout).
    pub receive_errors: u64,
    /// Datagrams the kernel dropped because the socket's buffer was full (Linux
    /// `/proc/net/udp`; `None` elsewhere).
    pub socket_drops: Option<u64>,
    /// Ticks handed to the database and written.
    pub ticks_written: u64,
    /// Ticks replaced by a newer one before the writer got to them (the database was slow).
    pub ticks_dropped: u64,
    /// Ticks whose write failed (logged).
    pub ticks_failed: u64,
    /// Rates written, by what the app did with them: stored, unknown IP, stale.
    pub rates: (u64, u64, u64),
}

impl Metrics {
    /// Reports stored.
    pub fn inc_accepted(&self, n: u64) {
        self.reports_accepted.fetch_add(n, Ordering::Relaxed);
    }

    /// A group of `reports` single reports went to one transaction (group commit).
    pub fn intake_group(&self, reports: u64) {
        self.intake_groups.fetch_add(1, Ordering::Relaxed);
        self.intake_grouped_reports
            .fetch_add(reports, Ordering::Relaxed);
    }

    /// The group-commit counters so far.
    pub fn intake_groups(&self) -> IntakeGroups {
        IntakeGroups {
            groups: self.intake_groups.load(Ordering::Relaxed),
            reports: self.intake_grouped_reports.load(Ordering::Relaxed),
            retried: self.intake_groups_retried.load(Ordering::Relaxed),
        }
    }

    /// A group's transaction failed and its reports were stored one by one.
    pub fn intake_group_retried(&self) {
        self.intake_groups_retried.fetch_add(1, Ordering::Relaxed);
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

    /// Publishes the flow collector's state (its receive loop, once a tick).
    pub fn set_flows(&self, stats: FlowStats) {
        if let Ok(mut f) = self.flows.lock() {
            *f = Some(stats);
        }
    }

    /// The SMTP listener did `event` once.
    pub fn smtp(&self, event: SmtpEvent) {
        if let Some(c) = self.smtp.get(event as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How often the SMTP listener did `event`.
    pub fn smtp_count(&self, event: SmtpEvent) -> u64 {
        self.smtp
            .get(event as usize)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// The flow collector's state as last published; `None` without a collector.
    pub fn flows(&self) -> Option<FlowStats> {
        self.flows.lock().ok().and_then(|f| f.clone())
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
            "# HELP warden_intake_groups_total Transactions that stored grouped single reports (group commit).\n# TYPE warden_intake_groups_total counter\nwarden_intake_groups_total {}",
            g(&self.intake_groups)
        );
        let _ = writeln!(
            o,
            "# HELP warden_intake_grouped_reports_total Single reports that went into those transactions (divided by the groups: the mean group size).\n# TYPE warden_intake_grouped_reports_total counter\nwarden_intake_grouped_reports_total {}",
            g(&self.intake_grouped_reports)
        );
        let _ = writeln!(
            o,
            "# HELP warden_intake_groups_retried_total Groups whose transaction failed, their reports then stored one by one.\n# TYPE warden_intake_groups_retried_total counter\nwarden_intake_groups_retried_total {}",
            g(&self.intake_groups_retried)
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
        let _ = writeln!(
            o,
            "# HELP warden_smtp_events_total What the SMTP listener did (INT-2): messages by outcome, refusals by kind.\n# TYPE warden_smtp_events_total counter"
        );
        for e in SmtpEvent::ALL {
            let _ = writeln!(
                o,
                "warden_smtp_events_total{{event=\"{}\"}} {}",
                e.code(),
                self.smtp_count(e)
            );
        }
        if let Some(f) = self.flows() {
            render_flows(&mut o, &f);
        }
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

/// The flow collector's metrics (DDOS-2): every packet and record by outcome, so an operator can
/// tell a misconfigured exporter (not allowed, no template) from a collector that cannot keep up
/// (socket drops, dropped ticks).
fn render_flows(o: &mut String, f: &FlowStats) {
    let c = &f.collector;
    let mut family = |name: &str, kind: &str, help: &str, rows: &[(&str, u64)]| {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in rows {
            if labels.is_empty() {
                let _ = writeln!(o, "{name} {v}");
            } else {
                let _ = writeln!(o, "{name}{{{labels}}} {v}");
            }
        }
    };
    family(
        "warden_flow_packets_total",
        "counter",
        "Flow export datagrams received, by outcome (exporter_not_allowed: a source outside [flows] exporters).",
        &[
            ("outcome=\"decoded\"", c.packets_decoded),
            (
                "outcome=\"exporter_not_allowed\"",
                c.packets_exporter_not_allowed,
            ),
            ("outcome=\"oversized\"", c.packets_oversized),
            ("outcome=\"truncated\"", c.packets_truncated),
            ("outcome=\"garbage\"", c.packets_garbage),
        ],
    );
    family(
        "warden_flow_packets_received_total",
        "counter",
        "Flow export datagrams handed to the decoder.",
        &[("", c.packets_received)],
    );
    family(
        "warden_flow_socket_drops_total",
        "counter",
        "Datagrams the kernel dropped on the collector's socket (receive buffer full), and receive errors.",
        &[
            ("reason=\"buffer_full\"", f.socket_drops.unwrap_or(0)),
            ("reason=\"receive_error\"", f.receive_errors),
        ],
    );
    family(
        "warden_flow_records_total",
        "counter",
        "Flow records, by outcome.",
        &[
            ("outcome=\"decoded\"", c.records_decoded),
            ("outcome=\"without_address\"", c.records_without_address),
            ("outcome=\"over_limit\"", c.records_over_limit),
        ],
    );
    family(
        "warden_flow_sets_without_template_total",
        "counter",
        "NetFlow v9 / IPFIX data sets dropped because their template is not known (yet).",
        &[("", c.sets_without_template)],
    );
    family(
        "warden_flow_template_events_total",
        "counter",
        "Templates learned, withdrawn, evicted (cache bound), expired and refused.",
        &[
            ("event=\"learned\"", c.templates_learned),
            ("event=\"withdrawn\"", c.templates_withdrawn),
            ("event=\"evicted\"", c.templates_evicted),
            ("event=\"expired\"", c.templates_expired),
            ("event=\"refused\"", c.templates_refused),
        ],
    );
    family(
        "warden_flow_templates",
        "gauge",
        "Templates cached.",
        &[("", f.templates)],
    );
    family(
        "warden_flow_sflow_samples_skipped_total",
        "counter",
        "sFlow samples and records not decoded, by kind.",
        &[
            ("kind=\"counter_sample\"", c.sflow_counter_samples),
            ("kind=\"other_format\"", c.sflow_skipped),
            ("kind=\"header_unparsed\"", c.sflow_headers_unparsed),
        ],
    );
    family(
        "warden_flow_sampling_refused_total",
        "counter",
        "Sampling intervals from options data not stored (table full).",
        &[("", c.sampling_refused)],
    );
    family(
        "warden_flow_tracked_ips",
        "gauge",
        "Local IPs tracked, by direction.",
        &[
            ("direction=\"inbound\"", f.tracked.0),
            ("direction=\"outbound\"", f.tracked.1),
        ],
    );
    family(
        "warden_flow_evicted_ips_total",
        "counter",
        "IPs evicted to honour [flows] max_ips, by direction.",
        &[
            ("direction=\"inbound\"", f.evicted.0),
            ("direction=\"outbound\"", f.evicted.1),
        ],
    );
    family(
        "warden_flow_ticks_total",
        "counter",
        "Ticks of rates for the database, by outcome (dropped: replaced by a newer tick while the database was slow).",
        &[
            ("outcome=\"written\"", f.ticks_written),
            ("outcome=\"dropped\"", f.ticks_dropped),
            ("outcome=\"failed\"", f.ticks_failed),
        ],
    );
    family(
        "warden_flow_rates_total",
        "counter",
        "Per-IP rates written, by what the database did with them (unknown_ip: no resource's public IP).",
        &[
            ("outcome=\"stored\"", f.rates.0),
            ("outcome=\"unknown_ip\"", f.rates.1),
            ("outcome=\"stale\"", f.rates.2),
        ],
    );
}
