-- Traffic per source and the hourly series (issue 12; DDOS-2, DDOS-6, DDOS scale).
--
-- `source` says whose view a minute is: `api` for the detectors' samples (each a whole view of
-- the IP), `flow:<node>` for one node's flow collector (a partial view: several nodes' flows of
-- one IP add up). Readers merge a minute's rows: max(api, sum of the flow nodes).
--
-- Minutes are kept 30 days; `traffic_hours` keeps the same sums and peaks per hour for 180 days
-- (rolled up from the minutes before they go). Attack events and blackholes stay (AUD-3).
ALTER TABLE traffic_minutes ADD COLUMN source TEXT NOT NULL DEFAULT 'api';
ALTER TABLE traffic_minutes ALTER COLUMN source DROP DEFAULT;
ALTER TABLE traffic_minutes DROP CONSTRAINT traffic_minutes_pkey;
ALTER TABLE traffic_minutes ADD PRIMARY KEY (ip, minute, source);
CREATE INDEX traffic_minutes_minute ON traffic_minutes(minute);

CREATE TABLE traffic_hours (
    ip TEXT NOT NULL,
    hour BIGINT NOT NULL,
    source TEXT NOT NULL,
    account_id TEXT NOT NULL,
    samples BIGINT NOT NULL,
    in_bps_max BIGINT NOT NULL,
    in_bps_sum BIGINT NOT NULL,
    in_pps_max BIGINT NOT NULL,
    in_pps_sum BIGINT NOT NULL,
    out_bps_max BIGINT,
    out_pps_max BIGINT,
    PRIMARY KEY (ip, hour, source)
);
CREATE INDEX traffic_hours_account ON traffic_hours(account_id, hour);
CREATE INDEX traffic_hours_hour ON traffic_hours(hour);
