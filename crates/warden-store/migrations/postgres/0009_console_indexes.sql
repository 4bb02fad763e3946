-- Indexes the console's pages need at a million cases (issue 10, `warden bench console`).
-- (A case page's history reads audit events by subject: audit_events_subject, in 0008.)
-- A tenant's cases in one state, in id order (the dashboard lists each open state).
CREATE INDEX cases_account_state ON cases(account_id, state, id);
