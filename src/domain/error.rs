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
        FieldViolation { field: field.into(), description: description.into() }
    }

    /// The same violation, with its field nested under `parent` (`plan` + `kind` → `plan.kind`).
    pub fn under(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}

/// A result whose error is the service's `Error` unless named otherwise.
pub type Result<T, E = Error> = std::result::Result<T, E>;

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
    /// The work collided with concurrent work (a deadlock, a serialization failure, a busy
    /// database) and was rolled back; the request may be retried as it is.
    #[error("aborted: contention")]
    Contention,
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

/// The most field violations one error names; the rest are counted. The gRPC error carrying them
/// must fit in a trailer that ordinary clients accept (8 to 16 KiB), however much was sent.
pub const MAX_VIOLATIONS: usize = 20;

/// Refuses a repeated request field of more than `max` items, before any item is looked at, so
/// the work a bad request costs is bounded by the cap and not by what was sent.
pub fn at_most<'a, T>(field: &str, items: &'a [T], max: usize) -> Result<&'a [T], FieldViolation> {
    if items.len() > max {
        Err(FieldViolation::new(field, format!("must hold at most {max} items")))
    } else {
        Ok(items)
    }
}

/// Collects field violations so a client learns of every bad field at once, not one per call:
/// the first `MAX_VIOLATIONS`, and how many more there were.
#[derive(Default)]
pub struct Violations {
    kept: Vec<FieldViolation>,
    more: usize,
}

impl Violations {
    /// Keeps the value of `result`, or records its violation and returns `None`.
    pub fn check<T>(&mut self, result: Result<T, FieldViolation>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(v) => {
                self.push(v);
                None
            }
        }
    }

    /// Keeps the value of `result`, or records all its violations and returns `None`.
    pub fn check_all<T>(&mut self, result: Result<T, Vec<FieldViolation>>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(vs) => {
                vs.into_iter().for_each(|v| self.push(v));
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

    /// Records a violation; past `MAX_VIOLATIONS`, only counts it.
    pub fn push(&mut self, v: FieldViolation) {
        if self.kept.len() < MAX_VIOLATIONS {
            self.kept.push(v);
        } else {
            self.more += 1;
        }
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// The recorded violations, with one more saying how many were only counted.
    pub fn into_violations(mut self) -> Vec<FieldViolation> {
        if self.more > 0 {
            self.kept.push(more_violations(self.more));
        }
        self.kept
    }

    /// The invalid-argument error with the recorded violations.
    pub fn into_error(self) -> Error {
        Error::InvalidArgument(self.into_violations())
    }

    /// `Ok` when nothing was recorded, else the invalid-argument error.
    pub fn finish(self) -> Result<(), Error> {
        if self.is_empty() { Ok(()) } else { Err(self.into_error()) }
    }

    /// The value assembled from checked parts (`a.zip(b)`), when every part was there and
    /// nothing was recorded; else the invalid-argument error with every violation.
    pub fn ok<T>(self, value: Option<T>) -> Result<T, Error> {
        self.into_result(value).map_err(Error::InvalidArgument)
    }

    /// Like `ok`, with the violations themselves as the error, for validators that nest theirs
    /// under a parent field.
    pub fn into_result<T>(self, value: Option<T>) -> Result<T, Vec<FieldViolation>> {
        match value {
            Some(value) if self.is_empty() => Ok(value),
            _ => Err(self.into_violations()),
        }
    }
}

/// The violation that stands for `n` more than an error names.
pub fn more_violations(n: usize) -> FieldViolation {
    FieldViolation::new("", format!("and {n} more invalid fields, not named here"))
}

/// The longest field path shown, in characters.
const MAX_FIELD_CHARS: usize = 100;
/// The longest description shown, in characters.
const MAX_DESCRIPTION_CHARS: usize = 200;
/// The bytes of fields and descriptions one error carries; with the message and the encoding's
/// overhead, base64 keeps the trailer under 4 KiB.
const DETAILS_BUDGET: usize = 2_000;

/// `text` cut to `max` characters, marking the cut.
pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The violations an error carries to a client: at most `MAX_VIOLATIONS`, each field and
/// description cut to its bound and all of them to a byte budget, then one counting the rest
/// (including those `Violations` counted already).
pub fn bounded(violations: Vec<FieldViolation>) -> Vec<FieldViolation> {
    let mut kept: Vec<FieldViolation> = Vec::new();
    let mut bytes = 0;
    let mut more = 0;
    for v in violations {
        if let Some(counted) = counted_elsewhere(&v) {
            more += counted;
            continue;
        }
        let v = FieldViolation::new(
            cut(&v.field, MAX_FIELD_CHARS),
            cut(&v.description, MAX_DESCRIPTION_CHARS),
        );
        let size = v.field.len() + v.description.len();
        if kept.len() < MAX_VIOLATIONS && bytes + size <= DETAILS_BUDGET {
            bytes += size;
            kept.push(v);
        } else {
            more += 1;
        }
    }
    if more > 0 {
        kept.push(more_violations(more));
    }
    kept
}

/// How many violations `v` stands for, when it is the count `Violations` appends.
fn counted_elsewhere(v: &FieldViolation) -> Option<usize> {
    let expected = more_violations(0);
    if !v.field.is_empty() {
        return None;
    }
    let rest = v.description.strip_prefix("and ")?;
    let (n, tail) = rest.split_once(' ')?;
    let n: usize = n.parse().ok()?;
    (format!("and 0 {tail}") == expected.description).then_some(n)
}

impl fmt::Debug for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.kept).finish()?;
        if self.more > 0 {
            write!(f, " and {} more", self.more)?;
        }
        Ok(())
    }
}
