-- Traffic per source and the hourly series (issue 12; DDOS-2, DDOS-6, DDOS scale).
--
-- `source` says whose view a minute is: `api` for the detectors' samples (each a whole view of
-- the IP), `flow:<node>` for one node's flow collector (a partial view: several nodes' flows of
-- one IP add up). Readers merge a minute's rows: max(api, sum of the flow nodes).
--
-- Minutes are kept 30 days; `traffic_hours` keeps the same sums and peaks per hour for 180 days
-- (rolled up from the minutes before they go). Attack events and blackholes stay (AUD-3).
CREATE TABLE traffic_minutes_v2 (
    ip TEXT NOT NULL,
    minute INTEGER NOT NULL,
    source TEXT NOT NULL,
    account_id TEXT NOT NULL,
    samples INTEGER NOT NULL,
    in_bps_max INTEGER NOT NULL,
    in_bps_sum INTEGER NOT NULL,
    in_pps_max INTEGER NOT NULL,
    in_pps_sum INTEGER NOT NULL,
    out_bps_max INTEGER,
    out_pps_max INTEGER,
    PRIMARY KEY (ip, minute, source)
);
INSERT INTO traffic_minutes_v2
    SELECT ip, minute, 'api', account_id, samples, in_bps_max, in_bps_sum, in_pps_max, in_pps_sum,
           out_bps_max, out_pps_max
    FROM traffic_minutes;
DROP TABLE traffic_minutes;
ALTER TABLE traffic_minutes_v2 RENAME TO traffic_minutes;
CREATE INDEX traffic_minutes_account ON traffic_minutes(account_id, minute);
CREATE INDEX traffic_minutes_minute ON traffic_minutes(minute);

CREATE TABLE traffic_hours (
    ip TEXT NOT NULL,
    hour INTEGER NOT NULL,
    source TEXT NOT NULL,
    account_id TEXT NOT NULL,
    samples INTEGER NOT NULL,
    in_bps_max INTEGER NOT NULL,
    in_bps_sum INTEGER NOT NULL,
    in_pps_max INTEGER NOT NULL,
    in_pps_sum INTEGER NOT NULL,
    out_bps_max INTEGER,
    out_pps_max INTEGER,
    PRIMARY KEY (ip, hour, source)
);
CREATE INDEX traffic_hours_account ON traffic_hours(account_id, hour);
CREATE INDEX traffic_hours_hour ON traffic_hours(hour);
