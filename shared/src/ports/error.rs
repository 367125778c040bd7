use std::fmt;

/// What kind of failure a port reports, so services can decide without string matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortErrorKind {
    /// A conditional write lost (item exists, lease held, watermark newer).
    Conflict,
    /// The item does not exist.
    NotFound,
    /// The backing service is unreachable, throttling or failing; worth retrying later.
    Unavailable,
    /// Stored data could not be read back (corrupt, wrong shape).
    Corrupt,
    /// Anything else (permissions, validation by the backing service…).
    Other,
}

/// The error type of every port. Messages never carry secret values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PortError {
    pub kind: PortErrorKind,
    pub message: String,
}

impl PortError {
    pub fn new(kind: PortErrorKind, message: impl Into<String>) -> Self {
        PortError {
            kind,
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(PortErrorKind::Conflict, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(PortErrorKind::NotFound, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(PortErrorKind::Unavailable, message)
    }

    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(PortErrorKind::Corrupt, message)
    }

    pub fn other(message: impl Into<String>) -> Self {
        Self::new(PortErrorKind::Other, message)
    }
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}
