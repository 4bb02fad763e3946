-- Working together (issue 10): a staff member claims a queue item (a case, an unblock request,
-- a ticket) so that nobody else acts on it meanwhile; internal notes that only staff read.
CREATE TABLE claims (
    item TEXT COLLATE "C" PRIMARY KEY,
    claimed_by TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    active_at BIGINT NOT NULL
);

CREATE TABLE staff_notes (
    id TEXT COLLATE "C" PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases(id),
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX staff_notes_case ON staff_notes(case_id, id);

-- The triage queue sorted by spread (most reported first), paged by keyset.
CREATE INDEX cases_spread ON cases(state, report_count DESC, id);

-- Audit search by subject and by actor (the console's audit page).
CREATE INDEX audit_events_subject ON audit_events(subject, seq);
CREATE INDEX audit_events_actor ON audit_events(actor, seq);

-- The handling-times dashboard reads cases by when they were opened.
CREATE INDEX cases_opened ON cases(opened_at);
