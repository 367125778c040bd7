//! Sage Accounting v3.1 simulator (owned by the simulator work).
