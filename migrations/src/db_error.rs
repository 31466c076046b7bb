//! What a database error means for the caller, read from its SQLSTATE (PostgreSQL
//! documentation, Appendix A "PostgreSQL Error Codes") or from diesel's error kind, never
//! from message text (which `lc_messages` translates and releases reword).
//!
//! The SQLSTATE comes from `DatabaseErrorInformation::sql_state`, which the vendored diesel
//! and diesel-async add (`vendor/README.md`).

use diesel::result::{DatabaseErrorKind, Error};

/// The classes of database failure the services answer differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbFailure {
    /// The server cannot be reached or cannot take this work now: the connection was lost or
    /// refused (class `08`, no SQLSTATE at all), the server is shutting down or starting
    /// (`57P01` admin_shutdown, `57P02` crash_shutdown, `57P03` cannot_connect_now), it has
    /// no connection slot (`53300` too_many_connections), or it is a read-only standby, as a
    /// writer finds after a failover (`25006` read_only_sql_transaction). The API answers
    /// 503 / UNAVAILABLE, the relay exits 4.
    Unavailable,
    /// The transaction lost a race and may succeed if run again from the start: `40001`
    /// serialization_failure, `40P01` deadlock_detected.
    RetryTransaction,
    /// A lock was not granted within `lock_timeout`: `55P03` lock_not_available.
    LockTimeout,
    /// A statement ran longer than `statement_timeout`, or was cancelled: `57014`
    /// query_canceled.
    StatementTimeout,
    /// Anything else (a bug, a constraint violation, a missing table): not retryable.
    Other,
}

impl DbFailure {
    /// Classifies `error`.
    pub fn of(error: &Error) -> Self {
        match error {
            Error::DatabaseError(kind, info) => Self::from_parts(*kind, info.sql_state()),
            _ => Self::Other,
        }
    }

    /// Classifies a database error by its diesel kind and SQLSTATE (five characters).
    pub fn from_parts(kind: DatabaseErrorKind, sql_state: Option<&str>) -> Self {
        match sql_state {
            // No SQLSTATE: the client failed to send or lost the connection.
            None => match kind {
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                    Self::Unavailable
                }
                DatabaseErrorKind::SerializationFailure => Self::RetryTransaction,
                DatabaseErrorKind::ReadOnlyTransaction => Self::Unavailable,
                _ => Self::Other,
            },
            Some(code) => Self::from_sql_state(code),
        }
    }

    /// Classifies an SQLSTATE (five characters, e.g. `40P01`).
    pub fn from_sql_state(code: &str) -> Self {
        match code {
            "57P01" | "57P02" | "57P03" | "53300" | "25006" => Self::Unavailable,
            code if code.starts_with("08") => Self::Unavailable,
            "40001" | "40P01" => Self::RetryTransaction,
            "55P03" => Self::LockTimeout,
            "57014" => Self::StatementTimeout,
            _ => Self::Other,
        }
    }

    /// Whether the same work may succeed later without any change to it.
    pub fn is_transient(self) -> bool {
        !matches!(self, Self::Other)
    }
}

/// The SQLSTATE of `error`, when it is a database error that carries one.
pub fn sql_state(error: &Error) -> Option<&str> {
    match error {
        Error::DatabaseError(_, info) => info.sql_state(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified_by_their_sqlstate() {
        let cases = [
            ("57P01", DbFailure::Unavailable),
            ("57P02", DbFailure::Unavailable),
            ("57P03", DbFailure::Unavailable),
            ("53300", DbFailure::Unavailable),
            ("25006", DbFailure::Unavailable),
            ("08006", DbFailure::Unavailable),
            ("08P01", DbFailure::Unavailable),
            ("40001", DbFailure::RetryTransaction),
            ("40P01", DbFailure::RetryTransaction),
            ("55P03", DbFailure::LockTimeout),
            ("57014", DbFailure::StatementTimeout),
            ("23505", DbFailure::Other),
            ("42P01", DbFailure::Other),
        ];
        for (code, want) in cases {
            assert_eq!(DbFailure::from_sql_state(code), want, "{code}");
        }
    }

    #[test]
    fn a_lost_connection_has_no_sqlstate_and_is_unavailable() {
        for kind in [
            DatabaseErrorKind::ClosedConnection,
            DatabaseErrorKind::UnableToSendCommand,
        ] {
            assert_eq!(DbFailure::from_parts(kind, None), DbFailure::Unavailable);
        }
        assert_eq!(
            DbFailure::from_parts(DatabaseErrorKind::Unknown, None),
            DbFailure::Other
        );
        assert!(!DbFailure::Other.is_transient());
        assert!(DbFailure::LockTimeout.is_transient());
    }
}
