//! The closed set of failures a request can meet, mapped to gRPC status codes in one place
//! (`api::status`). Messages are shown to clients: they never carry health data or identity
//! numbers.

use std::fmt;

/// One offending field of a request and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field's path in the request, as in the proto (`plan.organisation`).
    pub field: String,
    /// What is wrong, in words a client developer can act on.
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }

    /// The same violation, with its field nested under `parent` (`plan` + `kind` → `plan.kind`).
    pub fn under(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No token, or a token that does not prove who the caller is.
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    /// The request is malformed: one or more fields are wrong.
    #[error("invalid argument: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// The resource does not exist, or the caller may not know that it does.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller may see the resource but not do this to it.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The resource exists already (a second active membership, a granted role).
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// The resource is in the wrong state for this request.
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
    /// The caller's etag is stale: someone else changed the resource first.
    #[error("aborted: {0}")]
    Aborted(String),
    /// The database cannot be reached right now; the request may be retried.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A fault on our side. The cause is logged, never shown to the client.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// An invalid-argument error naming one field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Error::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    /// The same error with any field violations nested under `parent`, for a domain value that
    /// sits inside a request message.
    pub fn under(self, parent: &str) -> Self {
        match self {
            Error::InvalidArgument(vs) => {
                Error::InvalidArgument(vs.into_iter().map(|v| v.under(parent)).collect())
            }
            other => other,
        }
    }

    /// An internal error from any cause.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Internal(cause.into())
    }
}

impl From<FieldViolation> for Error {
    fn from(v: FieldViolation) -> Self {
        Error::InvalidArgument(vec![v])
    }
}

/// Collects field violations so a client learns of every bad field at once, not one per call.
#[derive(Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Keeps the value of `result`, or records its violation and returns `None`.
    pub fn check<T>(&mut self, result: Result<T, FieldViolation>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(v) => {
                self.0.push(v);
                None
            }
        }
    }

    /// Keeps the value of `result`, or records all its violations and returns `None`.
    pub fn check_all<T>(&mut self, result: Result<T, Vec<FieldViolation>>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(vs) => {
                self.0.extend(vs);
                None
            }
        }
    }

    /// Like `check_all`, with the violations' fields nested under `parent`.
    pub fn check_under<T>(
        &mut self,
        parent: &str,
        result: Result<T, Vec<FieldViolation>>,
    ) -> Option<T> {
        self.check_all(result.map_err(|vs| vs.into_iter().map(|v| v.under(parent)).collect()))
    }

    /// Records a violation.
    pub fn push(&mut self, v: FieldViolation) {
        self.0.push(v);
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every recorded violation.
    pub fn into_violations(self) -> Vec<FieldViolation> {
        self.0
    }

    /// The invalid-argument error with every recorded violation.
    pub fn into_error(self) -> Error {
        Error::InvalidArgument(self.0)
    }

    /// `Ok` when nothing was recorded, else the invalid-argument error with all of them.
    pub fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.into_error())
        }
    }
}

impl fmt::Debug for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}
