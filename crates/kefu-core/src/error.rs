//! The one error type of the domain and the table of stable error codes.
//!
//! Every failure a client can see maps to one [`ErrorCode`]; the HTTP layer turns a code into its
//! status with [`ErrorCode::http_status`], the one place that table lives. Internal errors keep
//! their cause as the error's `source` for the log and show clients only `internal`; they are
//! logged once, where they leave the process's control: at the HTTP boundary (with the request id
//! the response carries) or by the background task that met them.

use std::fmt;

/// Stable, machine-readable error codes. The console translates them for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BadRequest,
    ValidationFailed,
    /// A message still holds a script variable without a value (e.g. `{order.no}`).
    MissingVariables,
    PayloadTooLarge,
    /// An upload whose real content is not an accepted type, or does not match its name.
    UnsupportedMediaType,
    Unauthorized,
    Forbidden,
    Blocked,
    /// The right password of an account an admin deactivated: it may not sign in.
    AccountDeactivated,
    /// The member signed in with a temporary password and must choose their own first.
    PasswordChangeRequired,
    NotFound,
    Conflict,
    RateLimited,
    /// A dependency (the database) cannot be reached right now; try again shortly.
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::MissingVariables => "missing_variables",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Blocked => "blocked",
            ErrorCode::AccountDeactivated => "account_deactivated",
            ErrorCode::PasswordChangeRequired => "password_change_required",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status of each code: the single table for the whole API.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::ValidationFailed | ErrorCode::MissingVariables => 422,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden
            | ErrorCode::Blocked
            | ErrorCode::AccountDeactivated
            | ErrorCode::PasswordChangeRequired => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::RateLimited => 429,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
    }
}

/// Whether `s` reads as a request field path: `phone`, `order.no`, `items[2].qty`.
fn is_field_path(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 80
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.[]".contains(c))
}

/// A domain error: a code and a message safe to show the client, and for a validation error the
/// request field it is about (`phone`, `items[2].qty`), so a client can translate it and point at
/// the input. An internal error keeps what caused it as its `source`, for the log only.
#[derive(Debug, thiserror::Error)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    /// What caused an internal error (a database error, an I/O error …). Never sent to a client.
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The client-safe message comes first; the cause chain follows for the log. Clients only ever
/// see `code`, `message` and `field`, never this text.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)?;
        let mut cause = self.source.as_deref().map(|e| e as &dyn std::error::Error);
        while let Some(e) = cause {
            write!(f, ": {e}")?;
            cause = e.source();
        }
        Ok(())
    }
}

/// The cause of an internal error known only as text.
#[derive(Debug)]
struct Detail(String);

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Detail {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            source: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    /// A validation error. Messages follow the `field: what is wrong` convention; the field is
    /// taken from there (use [`Error::invalid`] to name it explicitly).
    pub fn validation(message: impl Into<String>) -> Self {
        let message = message.into();
        let field = message
            .split_once(": ")
            .map(|(head, _)| head)
            .filter(|head| is_field_path(head))
            .map(str::to_owned);
        Self {
            field,
            ..Self::new(ErrorCode::ValidationFailed, message)
        }
    }
    /// A validation error about one request field.
    pub fn invalid(field: impl Into<String>, reason: impl fmt::Display) -> Self {
        let field = field.into();
        Self {
            message: format!("{field}: {reason}"),
            field: Some(field),
            ..Self::new(ErrorCode::ValidationFailed, "")
        }
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }
    /// The database (or another dependency) cannot be reached: answered 503 with `Retry-After`,
    /// so load balancers and clients come back instead of waiting on a hung request. `source`
    /// is kept for the log.
    pub fn unavailable(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            source: Some(Box::new(source)),
            ..Self::new(
                ErrorCode::Unavailable,
                "the service is unavailable for a moment; try again shortly",
            )
        }
    }
    /// An internal failure described in text. The detail is kept as the error's source for the
    /// log (see the module docs) and never shown to the client.
    pub fn internal(detail: impl fmt::Display) -> Self {
        Self::internal_from(Detail(detail.to_string()))
    }
    /// An internal failure caused by `source`, whose whole chain is kept for the log.
    pub fn internal_from(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            source: Some(Box::new(source)),
            ..Self::new(ErrorCode::Internal, "internal error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_name_their_field() {
        assert_eq!(
            Error::validation("phone: must be 5-20 digits")
                .field
                .as_deref(),
            Some("phone")
        );
        assert_eq!(
            Error::validation("items[2].qty: must be positive")
                .field
                .as_deref(),
            Some("items[2].qty")
        );
        // A sentence is not a field.
        assert_eq!(
            Error::validation("greeting and offline_message are limited").field,
            None
        );
        assert_eq!(Error::validation("To resolve: fill in x").field, None);
        let e = Error::invalid("body", "must not contain U+0000");
        assert_eq!(
            (e.field.as_deref(), e.message.as_str()),
            (Some("body"), "body: must not contain U+0000")
        );
        assert_eq!(Error::not_found("shop").field, None);
    }

    #[test]
    fn internal_errors_keep_their_cause_for_the_log_only() {
        let io = std::io::Error::other("disk on fire");
        let e = Error::internal_from(io);
        assert_eq!(e.message, "internal error");
        assert_eq!(e.to_string(), "internal: internal error: disk on fire");
        let source = std::error::Error::source(&e).expect("the cause is the source");
        assert_eq!(source.to_string(), "disk on fire");
        assert_eq!(
            Error::internal("bad sqlite url").to_string(),
            "internal: internal error: bad sqlite url"
        );
        assert!(Error::not_found("shop").source.is_none());
    }
}
