//! Hub resources (`/hubs/finance/<name>`) and the Sage v3.1 endpoints behind them.
//! (owned by the where-clause work)
