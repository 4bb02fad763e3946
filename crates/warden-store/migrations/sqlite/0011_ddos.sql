-- DDoS protection and blackholes (issue 12; DDOS-1..6). Network logs are kept at least 180 days
-- (AUD-3): nothing here is purged.

-- The protection of each public IP that is not basic (DDOS-1); an IP without a row has basic
-- protection. `kind` is `basic` or `high_defense`.
CREATE TABLE ip_protection (
    ip TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    capacity_bps INTEGER,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE INDEX ip_protection_account ON ip_protection(account_id, ip);

-- Every change of an IP's protection, oldest first.
CREATE TABLE ip_protection_history (
    id TEXT PRIMARY KEY,
    ip TEXT NOT NULL,
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    capacity_bps INTEGER,
    actor TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX ip_protection_history_ip ON ip_protection_history(ip, at);

-- Inbound (and outbound) traffic per IP as 1-minute aggregates (DDOS-2, DDOS-6): the 1 s
-- samples are folded in as they arrive; averages are `*_sum / samples`.
CREATE TABLE traffic_minutes (
    ip TEXT NOT NULL,
    minute INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    samples INTEGER NOT NULL,
    in_bps_max INTEGER NOT NULL,
    in_bps_sum INTEGER NOT NULL,
    in_pps_max INTEGER NOT NULL,
    in_pps_sum INTEGER NOT NULL,
    out_bps_max INTEGER,
    out_pps_max INTEGER,
    PRIMARY KEY (ip, minute)
);
CREATE INDEX traffic_minutes_account ON traffic_minutes(account_id, minute);

-- Attacks seen against an IP (DDOS-3): one per blackhole, with the evidence that started it.
CREATE TABLE attack_events (
    id TEXT PRIMARY KEY,
    ip TEXT NOT NULL,
    account_id TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    blackhole_id TEXT,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    peak_bps INTEGER NOT NULL,
    peak_pps INTEGER NOT NULL,
    evidence TEXT NOT NULL
);
CREATE INDEX attack_events_ip ON attack_events(ip, started_at);
CREATE INDEX attack_events_account ON attack_events(account_id, started_at);

-- One row per blackhole: the domain's facts as JSON, and the columns queries filter on. The
-- latest row of an IP carries its ladder bookkeeping into the next blackhole.
CREATE TABLE blackholes (
    id TEXT PRIMARY KEY,
    ip TEXT NOT NULL,
    account_id TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    action_id TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    planned_end INTEGER,
    ended_at INTEGER,
    reason TEXT NOT NULL,
    facts TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX blackholes_ip ON blackholes(ip, started_at);
CREATE INDEX blackholes_account ON blackholes(account_id, id);
CREATE INDEX blackholes_state ON blackholes(state, planned_end);

-- Self-service early release attempts per account (DDOS-5); failed ones do not use the quota.
CREATE TABLE blackhole_releases (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    blackhole_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    succeeded INTEGER NOT NULL
);
CREATE INDEX blackhole_releases_account ON blackhole_releases(account_id, at);
