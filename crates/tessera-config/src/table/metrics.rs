//! The metrics setting: where `/metrics` is served when it should not share the API's address.
//!
//! An entry of the one settings table ([`super::SETTINGS`]), kept in its own file so the table
//! stays a list; its rule is `TESSERA_LISTEN`'s.

use super::{DefaultValue, Entry, Parse, Sensitivity, ValueKind, default_value};
use crate::parse;

pub(super) const METRICS_LISTEN: Entry<Option<String>> = Entry {
    name: "TESSERA_METRICS_LISTEN",
    aliases: &[],
    default: DefaultValue::Unset,
    default_note: "`/metrics` is served on `TESSERA_LISTEN` with the API",
    allowed: "host:port, where host is an IPv4 address, an IPv6 address in brackets or a \
              host name, and port is 0 to 65535",
    help: "Address and port of a second listener that serves only `GET /metrics` \
           (OpenMetrics text). When set, the API's listener answers `404` for `/metrics` and \
           this one answers `404` for everything else, so the counters can stay on a private \
           interface (for example `127.0.0.1:9420`) while the API is public. Both listeners \
           are bound before the database is opened and stop together. It must differ from \
           `TESSERA_LISTEN`; port `0` asks the operating system for any free port.",
    sensitivity: Sensitivity::Public,
    kind: ValueKind::Text,
    in_config_file: true,
    example: "127.0.0.1:9420",
    parse: Parse::Text(|raw, _| Ok((Some(parse::listen_address(raw)?), Vec::new()))),
    unset: default_value,
};
