//! Durations as people write them: milliseconds (`90000`), or `500ms`,
//! `90s`, `15m`, `2h`, `30d`, `1h30m` (days are 24 hours). One parser for
//! the CLI and for schedule specs.

/// Why a text is not a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationError {
    NotADuration,
    Negative,
}

/// The duration `text` names, in milliseconds.
pub fn duration_ms(text: &str) -> Result<u64, DurationError> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<u64>() {
        return Ok(ms);
    }
    let span: jiff::Span = text.parse().map_err(|_| DurationError::NotADuration)?;
    let total = span
        .total(jiff::SpanTotal::from(jiff::Unit::Millisecond).days_are_24_hours())
        .map_err(|_| DurationError::NotADuration)?;
    if !total.is_finite() {
        return Err(DurationError::NotADuration);
    }
    if total < 0.0 {
        return Err(DurationError::Negative);
    }
    Ok(total.round() as u64)
}
