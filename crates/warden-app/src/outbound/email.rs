//! E-mail over SMTP (NOT-1). Filled in by the SMTP transport change.
