//! The settings for several instances on one PostgreSQL database: whether a random JWT secret
//! per start is accepted there, how long an instance serves tokens without confirming it has
//! applied every change, and whether it listens for changes (LISTEN/NOTIFY) or only polls.
//!
//! They are entries of the one settings table ([`super::SETTINGS`]), kept in their own file
//! because they belong together. The rule that refuses a random secret on PostgreSQL sits with
//! the other rules that join settings, in `resolve` ([`crate::Resolved::check_serve`]).

use super::{DefaultValue, Entry, Parse, Sensitivity, ValueKind, default_value};
use crate::parse;

/// The shortest instance lease, in seconds.
pub const INSTANCE_LEASE_MIN_SECONDS: u32 = 1;
/// The longest instance lease, in seconds: a revoking write may wait a lease (plus half a
/// second) for a silent instance, and must still be answered well within the 30-second request
/// timeout.
pub const INSTANCE_LEASE_MAX_SECONDS: u32 = 20;

pub(super) const ALLOW_RANDOM_SECRET: Entry<bool> = Entry {
    name: "TESSERA_ALLOW_RANDOM_SECRET",
    aliases: &[],
    default: DefaultValue::Value("false"),
    default_note: "",
    allowed: "true, false, 1, 0, yes, no, on or off (letters in any case)",
    help: "On a PostgreSQL database, `tessera serve` refuses to start without \
           `TESSERA_JWT_SECRET`: several instances on one database must share one secret, \
           else each refuses the tokens the others issue. Set this to accept a random secret \
           drawn at every start anyway (for a single instance, or a trial): tokens then stop \
           working at every restart and only work on the instance that issued them. On SQLite \
           a random secret is always accepted, with a warning, and this setting changes \
           nothing.",
    sensitivity: Sensitivity::Public,
    kind: ValueKind::Boolean,
    in_config_file: true,
    example: "true",
    parse: Parse::Text(|raw, _| Ok((parse::boolean(raw)?, Vec::new()))),
    unset: default_value,
};

pub(super) const INSTANCE_LEASE: Entry<u32> = Entry {
    name: "TESSERA_INSTANCE_LEASE_SECONDS",
    aliases: &[],
    default: DefaultValue::Value("5"),
    default_note: "",
    allowed: "an integer from 1 to 20 (seconds)",
    help: "How long an instance keeps accepting tokens without having confirmed that it has \
           applied every change made through the database (by other instances or by `tessera` \
           commands): a deactivated user, an ended session. It confirms about once a second. \
           Past its lease, requests that check a token are answered `503` with `Retry-After` \
           until the instance has caught up. A write that revokes access waits until every \
           other instance has applied it, but for an instance that has gone silent at most \
           that instance's lease (plus half a second), by when it has stopped accepting \
           tokens: so a revoked token is never accepted anywhere once the write is answered. \
           Shorter makes such writes wait less after an instance crashes; longer rides out \
           longer database hiccups without refusing requests. At most 20 seconds, so that such a \
           write is always answered within the 30-second request timeout.",
    sensitivity: Sensitivity::Public,
    kind: ValueKind::Integer,
    in_config_file: true,
    example: "10",
    parse: Parse::Text(|raw, _| {
        Ok((
            parse::integer(
                raw,
                INSTANCE_LEASE_MIN_SECONDS,
                INSTANCE_LEASE_MAX_SECONDS,
                "seconds",
            )?,
            Vec::new(),
        ))
    }),
    unset: default_value,
};

pub(super) const DATABASE_NOTIFICATIONS: Entry<bool> = Entry {
    name: "TESSERA_DATABASE_NOTIFICATIONS",
    aliases: &[],
    default: DefaultValue::Value("true"),
    default_note: "",
    allowed: "true, false, 1, 0, yes, no, on or off (letters in any case)",
    help: "On PostgreSQL, learn of changes made by other instances and by `tessera` commands \
           at once through `LISTEN`/`NOTIFY`, besides polling. Turn it off behind a connection \
           pooler in transaction mode (such as PgBouncer's `pool_mode = transaction`), which \
           does not pass notifications on: changes are then seen by polling, every 100 ms, and \
           a write that revokes access waits that long for the other instances. Ignored on \
           SQLite, which is always polled.",
    sensitivity: Sensitivity::Public,
    kind: ValueKind::Boolean,
    in_config_file: true,
    example: "false",
    parse: Parse::Text(|raw, _| Ok((parse::boolean(raw)?, Vec::new()))),
    unset: default_value,
};

#[cfg(test)]
mod tests {
    use super::super::Draft;
    use super::*;

    #[test]
    fn lease_accepts_its_range_only() {
        for (raw, expected) in [("1", 1), ("5", 5), ("20", 20)] {
            let mut draft = Draft::default();
            INSTANCE_LEASE.apply(raw, &mut draft).unwrap();
            assert_eq!(draft.instance_lease_seconds, Some(expected), "{raw}");
        }
        for raw in ["0", "21", "60", "-1", "5s", "", "1.5"] {
            let error = INSTANCE_LEASE
                .apply(raw, &mut Draft::default())
                .unwrap_err();
            assert_eq!(
                error, "must be an integer from 1 to 20 (seconds)",
                "{raw:?}"
            );
        }
    }

    #[test]
    fn switches_parse_as_booleans() {
        let mut draft = Draft::default();
        ALLOW_RANDOM_SECRET.apply("yes", &mut draft).unwrap();
        DATABASE_NOTIFICATIONS.apply("off", &mut draft).unwrap();
        assert_eq!(draft.allow_random_secret, Some(true));
        assert_eq!(draft.database_notifications, Some(false));
        assert!(ALLOW_RANDOM_SECRET.apply("sometimes", &mut draft).is_err());
        assert!(DATABASE_NOTIFICATIONS.apply("2", &mut draft).is_err());
    }
}
