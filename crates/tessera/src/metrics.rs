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
            "Login attempts by outcome (success, invalid_credentials, throttled, invalid_request, error)",
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
        Self {
            registry,
            logins,
            tokens_accepted,
            tokens_rejected,
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
        assert!(text.ends_with("# EOF\n"));
    }
}
