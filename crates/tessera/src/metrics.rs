//! Counters served on `GET /metrics` (OpenMetrics text).
//!
//! One registry per application instance (no global), so several instances in one test
//! process keep their own numbers. The hot path touches one pre-registered counter: an
//! atomic add. Labels are fixed words, never user input.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

/// The server's counters.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    logins: Family<Outcome, Counter>,
    tokens_accepted: Counter,
    tokens_rejected: Family<Reason, Counter>,
    refreshes: Family<Outcome, Counter>,
    session_ends: Family<Reason, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every counter at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tessera");
        let logins = Family::<Outcome, Counter>::default();
        registry.register(
            "logins",
            "Login attempts by outcome (success, invalid_credentials, throttled, busy, invalid_request, error)",
            logins.clone(),
        );
        let tokens_accepted = Counter::default();
        registry.register(
            "tokens_accepted",
            "Requests whose access token verified and whose user was active",
            tokens_accepted.clone(),
        );
        let tokens_rejected = Family::<Reason, Counter>::default();
        registry.register(
            "tokens_rejected",
            "Requests whose access token was refused, by reason",
            tokens_rejected.clone(),
        );
        let refreshes = Family::<Outcome, Counter>::default();
        registry.register(
            "refreshes",
            "Refresh requests by outcome (rotated, repeated_within_grace, reuse_detected, ended, unknown, malformed, inactive_user, error)",
            refreshes.clone(),
        );
        let session_ends = Family::<Reason, Counter>::default();
        registry.register(
            "session_ends",
            "Times sessions were ended, by reason; one count per event, however many sessions it ended",
            session_ends.clone(),
        );
        Self {
            registry,
            logins,
            tokens_accepted,
            tokens_rejected,
            refreshes,
            session_ends,
        }
    }

    /// Counts one login attempt.
    pub fn login(&self, outcome: &'static str) {
        self.logins.get_or_create(&Outcome { outcome }).inc();
    }

    /// Counts one accepted token.
    pub fn token_accepted(&self) {
        self.tokens_accepted.inc();
    }

    /// Counts one refused token.
    pub fn token_rejected(&self, reason: &'static str) {
        self.tokens_rejected.get_or_create(&Reason { reason }).inc();
    }

    /// Counts one refresh request.
    pub fn refresh(&self, outcome: &'static str) {
        self.refreshes.get_or_create(&Outcome { outcome }).inc();
    }

    /// Counts one event that ended sessions.
    pub fn sessions_ended(&self, reason: &'static str) {
        self.session_ends.get_or_create(&Reason { reason }).inc();
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_appear_in_the_exposition() {
        let metrics = Metrics::new();
        metrics.login("success");
        metrics.login("success");
        metrics.token_accepted();
        metrics.token_rejected("expired");
        metrics.refresh("reuse_detected");
        metrics.sessions_ended("logout");
        let text = metrics.render().unwrap();
        assert!(
            text.contains("tessera_logins_total{outcome=\"success\"} 2"),
            "{text}"
        );
        assert!(text.contains("tessera_tokens_accepted_total 1"), "{text}");
        assert!(
            text.contains("tessera_tokens_rejected_total{reason=\"expired\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("tessera_refreshes_total{outcome=\"reuse_detected\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("tessera_session_ends_total{reason=\"logout\"} 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
