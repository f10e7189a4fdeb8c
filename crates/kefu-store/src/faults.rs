//! Which database failures mean "the database cannot be reached" rather than "this statement is
//! wrong", for both backends: those answer 503 with `Retry-After` instead of hanging or a 500.

/// Whether `e` says the connection to the database is gone, refused or exhausted.
pub(crate) fn is_unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL's class 08 (connection exception) and 57P0x (the server is shutting down,
        // cannot connect now).
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P0")),
        _ => false,
    }
}

/// Maps a failure to connect or to check the database: unreachable → `unavailable`, else internal.
pub(crate) fn connect_err(e: sqlx::Error) -> kefu_core::Error {
    if is_unreachable(&e) {
        kefu_core::Error::unavailable(e)
    } else {
        kefu_core::Error::internal_from(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_connections_are_unreachable_and_bad_statements_are_not() {
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(is_unreachable(&io));
        assert!(is_unreachable(&sqlx::Error::PoolTimedOut));
        assert!(!is_unreachable(&sqlx::Error::RowNotFound));
        assert_eq!(
            connect_err(sqlx::Error::PoolTimedOut).code,
            kefu_core::ErrorCode::Unavailable
        );
        assert_eq!(
            connect_err(sqlx::Error::RowNotFound).code,
            kefu_core::ErrorCode::Internal
        );
    }
}
