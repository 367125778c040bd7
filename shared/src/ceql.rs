//! CEQL, Cloud Elements' `where` language: a small parser (owned by the where-clause work).
