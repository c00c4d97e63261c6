//! Per-call options: [`CallOptions`], applied with a generated client's
//! `with_options`, which returns a client of the same type that shares the original's
//! breaker, rate limiter and retry budget (one external system, one set of protections)
//! and applies the options to every call it makes.

use std::time::Duration;

/// Options for the calls of one client handle.
///
/// ```
/// use std::time::Duration;
/// use acl_runtime::client::CallOptions;
///
/// let options = CallOptions::new()
///     .timeout(Duration::from_millis(500))
///     .header("X-Tenant", "acme")
///     .idempotency_key("order-42-capture")
///     .no_retry();
/// assert_eq!(options.timeout_value(), Some(Duration::from_millis(500)));
/// ```
///
/// The setters never fail: a header name or value that HTTP does not allow fails the
/// call that would send it (`Error::Request`, naming the header), as does a header the
/// operation declares as a typed parameter (pass it there instead).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallOptions {
    timeout: Option<Duration>,
    headers: Vec<(String, String)>,
    idempotency_key: Option<String>,
    no_retry: bool,
    max_pages: Option<u32>,
}

impl CallOptions {
    /// No options: calls behave as the client's policies say.
    pub fn new() -> Self {
        Self::default()
    }

    /// The per-attempt timeout of these calls, instead of the operation's. The call's
    /// deadline grows to at least this timeout, so a longer timeout is honoured.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// A header sent with every attempt of these calls (added to earlier ones; a later
    /// value for the same name replaces an earlier one).
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        let name = name.as_ref();
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers
            .push((name.to_string(), value.as_ref().to_string()));
        self
    }

    /// The idempotency key of these calls, sent on every attempt, for operations that
    /// send one (the `idempotency_key` policy or a declared `Idempotency-Key` header);
    /// operations that send none ignore it. A key passed as the operation's typed
    /// parameter wins.
    pub fn idempotency_key(mut self, key: impl AsRef<str>) -> Self {
        self.idempotency_key = Some(key.as_ref().to_string());
        self
    }

    /// One attempt only: no retries, whatever the operation's retry policy.
    pub fn no_retry(mut self) -> Self {
        self.no_retry = true;
        self
    }

    /// At most `n` pages for the paginated calls (`…_all`) of this handle; the stream
    /// ends after them and `cursor()` says where the next page would start.
    pub fn max_pages(mut self, n: u32) -> Self {
        self.max_pages = Some(n);
        self
    }

    /// The per-attempt timeout set, if any.
    pub fn timeout_value(&self) -> Option<Duration> {
        self.timeout
    }

    /// The headers set, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The idempotency key set, if any.
    pub fn idempotency_key_value(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }

    /// Whether retries are off.
    pub fn retries_off(&self) -> bool {
        self.no_retry
    }

    /// The page limit set, if any.
    pub fn max_pages_value(&self) -> Option<u32> {
        self.max_pages
    }

    /// `self` with `later` laid over it: set values of `later` win, headers add up.
    pub(crate) fn merged(&self, later: CallOptions) -> CallOptions {
        let mut out = self.clone();
        if later.timeout.is_some() {
            out.timeout = later.timeout;
        }
        for (name, value) in later.headers {
            out = out.header(name, value);
        }
        if later.idempotency_key.is_some() {
            out.idempotency_key = later.idempotency_key;
        }
        out.no_retry |= later.no_retry;
        if later.max_pages.is_some() {
            out.max_pages = later.max_pages;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_options_win_and_headers_add_up() {
        let first = CallOptions::new()
            .timeout(Duration::from_secs(1))
            .header("X-A", "1")
            .header("X-B", "1");
        let both = first.merged(CallOptions::new().header("x-a", "2").max_pages(3));
        assert_eq!(both.timeout_value(), Some(Duration::from_secs(1)));
        assert_eq!(
            both.headers(),
            &[("X-B".into(), "1".into()), ("x-a".into(), "2".into())]
        );
        assert_eq!(both.max_pages_value(), Some(3));
        assert!(!both.retries_off());
        assert_eq!(CallOptions::new(), CallOptions::default());
    }
}
