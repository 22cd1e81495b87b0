//! The process's logs: the global `tracing` subscriber over the batched [`LogWriter`], and, with
//! JSON logs, the fast path of the HTTP edge: the access line written directly
//! ([`crate::access_log`]) and the request id carried in a thread-local while the request's
//! future is polled, instead of a `tracing` span per request. Every JSON line that a request's
//! code logs still shows `"span":{"request_id":…,"name":"request"}`, as with the span.

use std::cell::Cell;
use std::sync::OnceLock;

use http::HeaderValue;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{Format, Json, JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::ServerError;
use crate::access_log;
use crate::config::{LogConfig, LogFormat};
use crate::log_writer::{LogWriter, LogWriterGuard};

/// Set once JSON logging is installed: where the access line goes, and whether it is on.
pub(crate) struct JsonLog {
    pub writer: LogWriter,
    /// The filter passes INFO for the access line's target.
    pub access: bool,
}

static JSON_LOG: OnceLock<JsonLog> = OnceLock::new();

/// The JSON fast path, when [`init_tracing`] installed JSON logs.
pub(crate) fn json_log() -> Option<&'static JsonLog> {
    JSON_LOG.get()
}

thread_local! {
    /// The id of the request whose future this thread is polling.
    static CURRENT: Cell<Option<HeaderValue>> = const { Cell::new(None) };
}

/// Runs `f` with `id` as this thread's current request id, and gives it back afterwards (also
/// when `f` panics). Nested calls restore the outer id.
pub(crate) fn with_request_id<R>(id: &mut Option<HeaderValue>, f: impl FnOnce() -> R) -> R {
    struct Restore<'a> {
        slot: &'a mut Option<HeaderValue>,
        outer: Option<HeaderValue>,
    }
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            *self.slot = CURRENT.with(|c| c.replace(self.outer.take()));
        }
    }
    let outer = CURRENT.with(|c| c.replace(id.take()));
    let _restore = Restore { slot: id, outer };
    f()
}

/// The JSON event format, plus the request id of the request being polled on this thread for
/// events outside any span (the request span it replaces was the only span).
struct JsonWithRequest<T = SystemTime>(Format<Json, T>);

impl<S, N, T> FormatEvent<S, N> for JsonWithRequest<T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let in_span = event.parent().is_some() || ctx.lookup_current().is_some();
        let id = if in_span {
            None
        } else {
            CURRENT.with(|c| {
                let v = c.take();
                let id = v.as_ref().and_then(|v| v.to_str().ok()).map(str::to_owned);
                c.set(v);
                id
            })
        };
        let Some(id) = id else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        // The formatter ends the object with `}\n`; the span goes last, as it printed it.
        let body = line.strip_suffix("}\n").ok_or(std::fmt::Error)?;
        let mut span = Vec::with_capacity(64);
        access_log::span_json(&mut span, &id);
        writer.write_str(body)?;
        writer.write_char(',')?;
        writer.write_str(std::str::from_utf8(&span).map_err(|_| std::fmt::Error)?)?;
        writer.write_str("}\n")
    }
}

/// Keeps the log writer thread alive; dropping it writes out every buffered line.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard(#[allow(dead_code)] LogWriterGuard);

/// Installs the global `tracing` subscriber, writing to stderr. `RUST_LOG` overrides the level.
///
/// Lines are formatted on the calling thread and written by one writer thread in batches
/// ([`crate::log_writer`]), so a log line costs no system call on the request path. Nothing is
/// dropped: a full buffer makes the logging thread wait. Keep the returned guard until exit.
pub fn init_tracing(cfg: &LogConfig) -> Result<LogGuard, ServerError> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(v),
        _ => EnvFilter::try_new(&cfg.level),
    }
    .map_err(|e| ServerError::Logging(format!("invalid log level {:?}: {e}", cfg.level)))?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, guard) = LogWriter::spawn(Box::new(std::io::stderr()))
        .map_err(|e| ServerError::Logging(format!("cannot start the log writer: {e}")))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer({
            let b = writer.clone();
            move || b.clone()
        })
        .with_ansi(ansi);
    let result = match cfg.format {
        LogFormat::Json => builder
            .fmt_fields(JsonFields::new())
            .event_format(JsonWithRequest(
                tracing_subscriber::fmt::format()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            ))
            .try_init(),
        LogFormat::Pretty => builder.with_target(false).try_init(),
    };
    result.map_err(|e| ServerError::Logging(e.to_string()))?;
    if cfg.format == LogFormat::Json {
        let access = tracing::enabled!(target: access_log::TARGET, Level::INFO);
        let _ = JSON_LOG.set(JsonLog { writer, access });
    }
    Ok(LogGuard(guard))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    struct Fixed;
    impl FormatTime for Fixed {
        fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
            w.write_str("2026-12-07T19:52:29.000001Z")
        }
    }

    fn json() -> Format<Json, Fixed> {
        tracing_subscriber::fmt::format()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_timer(Fixed)
    }

    fn some_events() {
        tracing::warn!(user = "u\"1", n = 3, "a line logged while serving");
        tracing::error!("another");
    }

    /// A line logged during a request shows the request id where the request span showed it.
    #[test]
    fn lines_logged_during_a_request_show_its_id_as_the_span_did() {
        let with_span = Buf::default();
        let subscriber = tracing_subscriber::fmt()
            .event_format(json())
            .fmt_fields(JsonFields::new())
            .with_writer({
                let b = with_span.clone();
                move || b.clone()
            })
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", request_id = %"id-\"7");
            span.in_scope(some_events);
            some_events();
        });
        let with_id = Buf::default();
        let subscriber = tracing_subscriber::fmt()
            .event_format(JsonWithRequest(json()))
            .fmt_fields(JsonFields::new())
            .with_writer({
                let b = with_id.clone();
                move || b.clone()
            })
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let mut id = Some(HeaderValue::from_static("id-\"7"));
            with_request_id(&mut id, some_events);
            some_events();
        });
        assert_eq!(with_id.text(), with_span.text());
        assert_eq!(
            with_id
                .text()
                .matches("\"request_id\":\"id-\\\"7\"")
                .count(),
            2
        );
    }

    #[test]
    fn the_request_id_is_current_only_inside_and_restored_after_a_panic() {
        let current = || {
            CURRENT.with(|c| {
                let v = c.take();
                c.set(v.clone());
                v
            })
        };
        let mut outer = Some(HeaderValue::from_static("outer"));
        let mut inner = Some(HeaderValue::from_static("inner"));
        with_request_id(&mut outer, || {
            assert_eq!(current().unwrap(), "outer");
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                with_request_id(&mut inner, || {
                    assert_eq!(current().unwrap(), "inner");
                    panic!("boom");
                })
            }));
            assert!(r.is_err());
            assert_eq!(current().unwrap(), "outer");
        });
        assert_eq!(current(), None);
        assert_eq!(outer.unwrap(), "outer");
        assert_eq!(inner.unwrap(), "inner");
    }
}
