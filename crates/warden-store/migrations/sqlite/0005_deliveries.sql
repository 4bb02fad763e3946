-- Adapter confirmations (issue 5, PEN-3/ENF-2). An action's `desired` state is what the
-- lifecycle decided (planned, in_force, lifted); its `state` is what the enforcement points
-- confirmed (pending -> applied -> lifted, or failed). Each adapter that enforces an action has
-- one delivery row saying which change it must hold and whether it confirmed it; reconciliation
-- compares the two and re-sends the difference.
ALTER TABLE case_actions ADD COLUMN desired TEXT NOT NULL DEFAULT 'in_force';
UPDATE case_actions SET desired = CASE state WHEN 'pending' THEN 'planned' WHEN 'lifted' THEN 'lifted' ELSE 'in_force' END;
CREATE INDEX case_actions_desired ON case_actions(desired, state);

CREATE TABLE action_deliveries (
    action_id TEXT NOT NULL,
    adapter TEXT NOT NULL,
    op TEXT NOT NULL,
    revision INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    updated_at INTEGER NOT NULL,
    confirmed_at INTEGER,
    PRIMARY KEY (action_id, adapter)
);
CREATE INDEX action_deliveries_open ON action_deliveries(adapter, state, revision);
