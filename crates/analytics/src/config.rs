//! `AnalyticsConfig`: what a period is worth in a year, and the risk-free rate.

use serde::{Deserialize, Serialize};

use crate::error::AnalyticsError;

/// How to annualize: the number of equity periods in a year and the risk-free rate.
///
/// `periods_per_year` is the bar frequency of the equity curve: 252 for daily bars of an
/// exchange-traded market, 52 for weekly, 365 for daily crypto, 252 × 390 = 98,280 for
/// 1-minute bars of a 6.5-hour equity session.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnalyticsConfig {
    /// Periods (equity points) in one year; finite and above zero.
    pub periods_per_year: f64,
    /// Annual risk-free rate as a fraction (0.04 for 4%); finite and above −1. Defaults to 0.
    pub risk_free_rate: f64,
}

impl AnalyticsConfig {
    /// Trading days in a year on an exchange calendar.
    pub const TRADING_DAYS_PER_YEAR: f64 = 252.0;

    /// A configuration with `periods_per_year` and no risk-free rate.
    pub const fn new(periods_per_year: f64) -> Self {
        AnalyticsConfig {
            periods_per_year,
            risk_free_rate: 0.0,
        }
    }

    /// Daily bars on an exchange calendar (252 a year), no risk-free rate.
    pub const fn daily() -> Self {
        Self::new(Self::TRADING_DAYS_PER_YEAR)
    }

    /// The same configuration with an annual risk-free rate (0.04 for 4%).
    pub const fn with_risk_free_rate(self, risk_free_rate: f64) -> Self {
        AnalyticsConfig {
            risk_free_rate,
            ..self
        }
    }

    pub(crate) fn validate(&self) -> Result<(), AnalyticsError> {
        if !(self.periods_per_year.is_finite() && self.periods_per_year > 0.0) {
            return Err(AnalyticsError::InvalidPeriodsPerYear {
                value: self.periods_per_year,
            });
        }
        if !(self.risk_free_rate.is_finite() && self.risk_free_rate > -1.0) {
            return Err(AnalyticsError::InvalidRiskFreeRate {
                value: self.risk_free_rate,
            });
        }
        Ok(())
    }

    /// The risk-free rate of one period, compounded to the annual rate:
    /// `(1 + rate)^(1 / periods_per_year) − 1`.
    ///
    /// Geometric rather than `rate / periods_per_year` so that compounding it over a year
    /// gives back exactly the annual rate. Written with `ln_1p`/`exp_m1` to keep its
    /// precision for small per-period rates.
    pub(crate) fn risk_free_per_period(&self) -> f64 {
        (self.risk_free_rate.ln_1p() / self.periods_per_year).exp_m1()
    }
}

impl Default for AnalyticsConfig {
    /// Daily bars, no risk-free rate.
    fn default() -> Self {
        Self::daily()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_period_risk_free_rate_compounds_back_to_the_annual_rate() {
        let config = AnalyticsConfig::new(12.0).with_risk_free_rate(0.05);
        let monthly = config.risk_free_per_period();
        assert!(((1.0 + monthly).powi(12) - 1.05).abs() < 1e-12);
        assert_eq!(AnalyticsConfig::daily().risk_free_per_period(), 0.0);
    }

    #[test]
    fn validation_refuses_nonsensical_values() {
        for ppy in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(AnalyticsConfig::new(ppy).validate().is_err(), "{ppy}");
        }
        for rate in [-1.0, -2.0, f64::NAN, f64::NEG_INFINITY] {
            let config = AnalyticsConfig::daily().with_risk_free_rate(rate);
            assert!(config.validate().is_err(), "{rate}");
        }
        assert!(AnalyticsConfig::default().validate().is_ok());
    }
}
