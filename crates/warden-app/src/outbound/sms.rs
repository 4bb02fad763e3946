//! SMS through an HTTP gateway (NOT-1). Filled in by the SMS transport change.
