-- Indexes the console's pages need at a million cases (issue 10, `warden bench console`).
-- A case page shows its history: the audit events of the case and its reports, found by
-- subject; without this index every case page read the whole audit log.
CREATE INDEX audit_events_subject ON audit_events(subject, seq);
-- A tenant's cases in one state, in id order (the dashboard lists each open state).
CREATE INDEX cases_account_state ON cases(account_id, state, id);
