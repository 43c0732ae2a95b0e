//! The one mapping from domain errors to gRPC status codes. Invalid arguments carry
//! google.rpc.BadRequest field violations; internal causes are logged, never sent.
//!
//! Every error is small, whatever the request: its violations bounded by `error::bounded`, a
//! message that names the first violation, never the list. The whole status, once
//! `grpc-status-details-bin` is base64-encoded, stays under 4 KiB, which every client's trailer
//! limit (8 to 16 KiB) accepts.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::Error;
use crate::domain::error::{bounded, cut};

/// How long a client should wait before retrying what failed for a passing cause (contention,
/// an unavailable database), given in `google.rpc.RetryInfo`.
const RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(500);

/// The longest message of any status, in characters.
const MAX_MESSAGE_CHARS: usize = 300;

impl From<crate::domain::FieldViolation> for Status {
    fn from(violation: crate::domain::FieldViolation) -> Self {
        Error::from(violation).into()
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Status {
        match error {
            Error::Unauthenticated(reason) => Status::unauthenticated(reason),
            Error::InvalidArgument(violations) => {
                let violations = bounded(violations);
                let mut details = ErrorDetails::new();
                for v in &violations {
                    details.add_bad_request_violation(v.field.clone(), v.description.clone());
                }
                let message = match violations.as_slice() {
                    [] => "invalid argument".to_owned(),
                    [only] => format!("invalid argument: {}: {}", only.field, only.description),
                    [first, rest @ ..] => format!(
                        "invalid argument: {}: {} (and {} more in the details)",
                        first.field,
                        first.description,
                        rest.len()
                    ),
                };
                Status::with_error_details(
                    Code::InvalidArgument,
                    cut(&message, MAX_MESSAGE_CHARS),
                    details,
                )
            }
            Error::NotFound(what) => Status::not_found(format!("{what} not found")),
            Error::PermissionDenied(message) => {
                Status::permission_denied(cut(&message, MAX_MESSAGE_CHARS))
            }
            Error::AlreadyExists(message) => {
                Status::already_exists(cut(&message, MAX_MESSAGE_CHARS))
            }
            Error::FailedPrecondition(message) => {
                Status::failed_precondition(cut(&message, MAX_MESSAGE_CHARS))
            }
            Error::Aborted(message) => Status::aborted(cut(&message, MAX_MESSAGE_CHARS)),
            Error::Contention => Status::with_error_details(
                Code::Aborted,
                "the change collided with a concurrent one and was not made: retry",
                ErrorDetails::with_retry_info(Some(RETRY_DELAY)),
            ),
            Error::Unavailable(message) => {
                tracing::warn!(reason = %message, "unavailable");
                Status::with_error_details(
                    Code::Unavailable,
                    message,
                    ErrorDetails::with_retry_info(Some(RETRY_DELAY)),
                )
            }
            Error::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FieldViolation;
    use crate::domain::error::MAX_VIOLATIONS;

    #[test]
    fn every_error_has_its_code() {
        let cases = [
            (Error::Unauthenticated("x"), Code::Unauthenticated),
            (Error::invalid("plan.kind", "must be set"), Code::InvalidArgument),
            (Error::NotFound("plan"), Code::NotFound),
            (Error::PermissionDenied("x".into()), Code::PermissionDenied),
            (Error::AlreadyExists("x".into()), Code::AlreadyExists),
            (Error::FailedPrecondition("x".into()), Code::FailedPrecondition),
            (Error::Aborted("x".into()), Code::Aborted),
            (Error::Unavailable("x".into()), Code::Unavailable),
            (Error::internal("secret cause"), Code::Internal),
        ];
        for (error, code) in cases {
            let status = Status::from(error);
            assert_eq!(status.code(), code);
            assert!(!status.message().contains("secret"));
        }
    }

    #[test]
    fn invalid_arguments_name_their_fields() {
        let error = Error::InvalidArgument(vec![
            FieldViolation::new("a", "bad"),
            FieldViolation::new("b.c", "worse"),
        ]);
        let status = Status::from(error);
        let details = status.get_details_bad_request().unwrap();
        let fields: Vec<_> = details.field_violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["a", "b.c"]);
        assert_eq!(status.message(), "invalid argument: a: bad (and 1 more in the details)");
    }

    #[test]
    fn errors_stay_small_whatever_was_sent() {
        let huge = "x".repeat(100_000);
        let violations: Vec<FieldViolation> =
            (0..10_000).map(|i| FieldViolation::new(format!("{huge}{i}"), huge.clone())).collect();
        let status = Status::from(Error::InvalidArgument(violations));
        let details = status.get_details_bad_request().unwrap();
        assert!(details.field_violations.len() <= MAX_VIOLATIONS + 1);
        let last = details.field_violations.last().unwrap();
        assert!(last.description.starts_with("and "), "{}", last.description);
        let encoded = status.details().len() * 4 / 3 + status.message().len();
        assert!(encoded < 4096, "{encoded} bytes");
        // Counts from the domain add up with those cut here.
        let mut v = crate::domain::Violations::default();
        for i in 0..25 {
            v.push(FieldViolation::new(format!("f{i}"), "bad"));
        }
        let status = Status::from(v.into_error());
        let details = status.get_details_bad_request().unwrap();
        assert_eq!(details.field_violations.len(), MAX_VIOLATIONS + 1);
        assert_eq!(
            details.field_violations.last().unwrap().description,
            "and 5 more invalid fields, not named here"
        );
    }
}
