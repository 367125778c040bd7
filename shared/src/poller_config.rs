//! (stub — owned by its issue's work)
