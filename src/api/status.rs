//! The one mapping from domain errors to gRPC status codes. Invalid arguments carry
//! google.rpc.BadRequest field violations; internal causes are logged, never sent.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::Error;

impl From<Error> for Status {
    fn from(error: Error) -> Status {
        match error {
            Error::Unauthenticated(reason) => Status::unauthenticated(reason),
            Error::InvalidArgument(violations) => {
                let mut details = ErrorDetails::new();
                for v in &violations {
                    details.add_bad_request_violation(v.field.clone(), v.description.clone());
                }
                let message = Error::InvalidArgument(violations).to_string();
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            Error::NotFound(what) => Status::not_found(format!("{what} not found")),
            Error::PermissionDenied(message) => Status::permission_denied(message),
            Error::AlreadyExists(message) => Status::already_exists(message),
            Error::FailedPrecondition(message) => Status::failed_precondition(message),
            Error::Aborted(message) => Status::aborted(message),
            Error::Unavailable(message) => {
                tracing::warn!(reason = %message, "database unavailable");
                Status::unavailable(message)
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

    #[test]
    fn every_error_has_its_code() {
        let cases = [
            (Error::Unauthenticated("x"), Code::Unauthenticated),
            (
                Error::invalid("plan.kind", "must be set"),
                Code::InvalidArgument,
            ),
            (Error::NotFound("plan"), Code::NotFound),
            (Error::PermissionDenied("x".into()), Code::PermissionDenied),
            (Error::AlreadyExists("x".into()), Code::AlreadyExists),
            (
                Error::FailedPrecondition("x".into()),
                Code::FailedPrecondition,
            ),
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
        let fields: Vec<_> = details
            .field_violations
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(fields, ["a", "b.c"]);
    }
}
