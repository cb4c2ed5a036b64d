//! The connection settings: how long a client may take to send a request head, how long an
//! idle keep-alive connection is kept, how many connections are served at once (in all and
//! from one client), and how long a shutdown may wait for requests in flight.
//!
//! They are entries of the one settings table ([`super::SETTINGS`]), kept in their own file
//! because they belong together; this module holds no rule of its own beyond each value's range.

use super::{DefaultValue, Entry, Parse, Sensitivity, ValueKind, default_value};
use crate::parse;

/// The most connections the settings may ask for.
pub const MAX_CONNECTIONS_LIMIT: u32 = 1_000_000;

pub(super) const HEADER_TIMEOUT: Entry<u32> = Entry {
    name: "TESSERA_HEADER_TIMEOUT_SECONDS",
    aliases: &[],
    default: DefaultValue::Value("10"),
    default_note: "",
    allowed: "an integer from 1 to 300 (seconds)",
    help: "How long a client may take to send a whole request head (the request line and every \
           header), counted from the connection's start for its first request and from the \
           first byte for later ones. A client still sending its head after this is \
           disconnected, so connections that trickle bytes (slowloris) cannot pile up. A head \
           is one or two packets; the default of 10 seconds leaves room for a slow mobile \
           link that loses packets, and frees a stalled connection quickly.",
    sensitivity: Sensitivity::Public,
    kind: ValueKind::Integer,
    in_config_file: true,
    example: "5",
    parse: Parse::Text(|raw, _| Ok((parse::integer(raw, 1, 300, "seconds")?, Vec::new()))),
    unset: default_value,
};

pub(super) const IDLE_TIMEOUT: Entry<u32> = Entry {
    name: "TESSERA_IDLE_TIMEOUT_SECONDS",
    aliases: &[],
    default: DefaultValue::Value("75"),
    default_note: "",
    allowed: "an integer from 1 to 3600 (seconds)",
    help: "How long a keep-alive connection with no request in flight is kept open waiting for \
           the client's next request; after it the connection is closed. The default of 75 \
           seconds (nginx's `keepalive_timeout`) is longer than the 60 seconds after which \
           common reverse proxies and load balancers drop their own idle connections, so the \
           proxy closes first and never sends a request on a connection tessera is closing \
           at the same moment. Behind a proxy with a longer idle timeout, set this above it.",
    sensitivity: Sensitivity::Public,
    kind: ValueKind::Integer,
    in_config_file: true,
    example: "30",
    parse: Parse::Text(|raw, _| Ok((parse::integer(raw, 1, 3600, "seconds")?, Vec::new()))),
    unset: default_value,
};

pub(super) const MAX_CONNECTIONS: Entry<Option<u32>> = Entry {
    name: "TESSERA_MAX_CONNECTIONS",
    aliases: &[],
    default: DefaultValue::Unset,
    default_note: "derived from the open-file limit",
    allowed: "an integer from 1 to 1000000 (connections)",
    help: "How many client connections are served at once. A connection beyond it is answered \
           at once with `503 Service Unavailable`, `Retry-After: 1` and `Connection: close` \
           instead of waiting, so the server never runs out of file descriptors. When not set, \
           tessera raises its soft open-file limit to the hard limit at start and serves as \
           many connections as that limit allows after keeping 256 descriptors (or a quarter \
           of a smaller limit) for the database and the rest of the process, and at most \
           65536. A value above what the open-file limit allows is used as given, with a \
           warning at start.",
    sensitivity: Sensitivity::Public,
    kind: ValueKind::Integer,
    in_config_file: true,
    example: "10000",
    parse: Parse::Text(|raw, _| {
        Ok((
            Some(parse::integer(
                raw,
                1,
                MAX_CONNECTIONS_LIMIT,
                "connections",
            )?),
            Vec::new(),
        ))
    }),
    unset: default_value,
};

pub(super) const MAX_CONNECTIONS_PER_CLIENT: Entry<u32> = Entry {
    name: "TESSERA_MAX_CONNECTIONS_PER_CLIENT",
    aliases: &[],
    default: DefaultValue::Value("64"),
    default_note: "",
    allowed: "an integer from 1 to 1000000 (connections)",
    help: "How many connections one client address holds at once (IPv6 addresses count per \
           /64 network, the block one subscriber usually gets); a connection beyond it is \
           answered at once with `429 Too Many Requests`, `Retry-After: 1` and \
           `Connection: close`. So one client cannot take every connection and keep the \
           others out. A browser opens about 6 connections to a server; the default of 64 \
           leaves room for a small office behind one address (raise it where more users \
           share one, such as a large NAT). Addresses \
           in `TESSERA_TRUSTED_PROXIES` carry many clients and are not held to this limit \
           (only to `TESSERA_MAX_CONNECTIONS`): limit connections per client on the proxy. \
           It must be less than `TESSERA_MAX_CONNECTIONS`; when that is derived and not \
           larger, half of it is used instead.",
    sensitivity: Sensitivity::Public,
    kind: ValueKind::Integer,
    in_config_file: true,
    example: "16",
    parse: Parse::Text(|raw, _| {
        Ok((
            parse::integer(raw, 1, MAX_CONNECTIONS_LIMIT, "connections")?,
            Vec::new(),
        ))
    }),
    unset: default_value,
};

pub(super) const SHUTDOWN_TIMEOUT: Entry<u32> = Entry {
    name: "TESSERA_SHUTDOWN_TIMEOUT_SECONDS",
    aliases: &[],
    default: DefaultValue::Value("10"),
    default_note: "",
    allowed: "an integer from 0 to 300 (seconds)",
    help: "On SIGTERM or Ctrl-C, tessera stops accepting connections, closes idle ones and ones \
           still sending a request head at once, and lets requests already received finish; \
           whatever is still open after this many seconds is cut and the process exits. \
           Requests take milliseconds, a login under a second, so the default of 10 seconds \
           is ample and stays well inside the 30 seconds container platforms wait before \
           killing a process. `0` cuts every connection at once.",
    sensitivity: Sensitivity::Public,
    kind: ValueKind::Integer,
    in_config_file: true,
    example: "30",
    parse: Parse::Text(|raw, _| Ok((parse::integer(raw, 0, 300, "seconds")?, Vec::new()))),
    unset: default_value,
};
