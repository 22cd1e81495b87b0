//! The access line, serialised directly: the same bytes tracing-subscriber's JSON formatter
//! printed for the `request finished` event inside the `request` span, without formatting the
//! event through it (which re-parses the span's stored fields for every line).
//!
//! ```text
//! {"timestamp":"2026-12-07T19:52:29.123456Z","level":"INFO","fields":{"message":"request finished",
//!  "method":"GET","path":"/healthz","client_ip":"127.0.0.1","status":200,"route":"/healthz",
//!  "latency_ms":0.123},"target":"portcullis_server","span":{"request_id":"…","name":"request"}}
//! ```

use std::cell::RefCell;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// The target the access line is logged under (and filtered by).
pub const TARGET: &str = "portcullis_server";

/// One finished request, as the access line shows it.
#[derive(Debug, Clone)]
pub struct AccessRecord<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub client_ip: IpAddr,
    pub status: u16,
    pub route: &'a str,
    pub latency_ms: f64,
    pub request_id: &'a str,
}

/// Appends the JSON access line (with its newline) for `r`, stamped `now`.
pub fn write_json(out: &mut Vec<u8>, now: SystemTime, r: &AccessRecord<'_>) {
    use std::io::Write as _;
    out.extend_from_slice(b"{\"timestamp\":\"");
    write_timestamp(out, now);
    out.extend_from_slice(
        b"\",\"level\":\"INFO\",\"fields\":{\"message\":\"request finished\",\"method\":",
    );
    json_str(out, r.method);
    out.extend_from_slice(b",\"path\":");
    json_str(out, r.path);
    out.extend_from_slice(b",\"client_ip\":\"");
    // An address never needs escaping.
    let _ = write!(out, "{}", r.client_ip);
    let _ = write!(out, "\",\"status\":{},\"route\":", r.status);
    json_str(out, r.route);
    out.extend_from_slice(b",\"latency_ms\":");
    // serde_json, as the formatter: the shortest round-trip form, `null` if not finite.
    let _ = serde_json::to_writer(&mut *out, &r.latency_ms);
    out.extend_from_slice(b"},\"target\":\"");
    out.extend_from_slice(TARGET.as_bytes());
    out.extend_from_slice(b"\",");
    span_json(out, r.request_id);
    out.extend_from_slice(b"}\n");
}

/// `"span":{"request_id":"…","name":"request"}`: how the formatter showed the request span.
pub fn span_json(out: &mut Vec<u8>, request_id: &str) {
    out.extend_from_slice(b"\"span\":{\"request_id\":");
    json_str(out, request_id);
    out.extend_from_slice(b",\"name\":\"request\"}");
}

/// A JSON string with serde_json's escaping (the formatter's).
fn json_str(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(&mut *out, s);
}

thread_local! {
    /// The last second formatted on this thread: (seconds since the epoch, `YYYY-MM-DDTHH:MM:SS`).
    static SECOND: RefCell<(u64, [u8; 19])> = const { RefCell::new((u64::MAX, [0; 19])) };
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, microseconds), as tracing-subscriber's `SystemTime` timer.
pub fn write_timestamp(out: &mut Vec<u8>, now: SystemTime) {
    let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    SECOND.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs {
            *c = (secs, civil(secs));
        }
        out.extend_from_slice(&c.1);
    });
    let micros = d.subsec_micros();
    let mut frac = *b".000000Z";
    let mut m = micros;
    for i in (1..=6).rev() {
        frac[i] = b'0' + (m % 10) as u8;
        m /= 10;
    }
    out.extend_from_slice(&frac);
}

/// The calendar date and time of `secs` after the epoch (years 1970–9999).
fn civil(secs: u64) -> [u8; 19] {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut b = *b"0000-00-00T00:00:00";
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year.clamp(0, 9999) as u64);
    put(5, 2, month as u64);
    put(8, 2, day as u64);
    put(11, 2, rem / 3600);
    put(14, 2, rem / 60 % 60);
    put(17, 2, rem % 60);
    b
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;

    fn record(request_id: &str) -> AccessRecord<'_> {
        AccessRecord {
            method: "GET",
            path: "/api/x\"y\\z\u{1}é",
            client_ip: "2001:db8::1".parse().unwrap(),
            status: 404,
            route: "unmatched",
            latency_ms: 0.123_456_789,
            request_id,
        }
    }

    #[test]
    fn the_access_line_is_pinned() {
        let at = UNIX_EPOCH + Duration::from_micros(1_796_673_149_012_345);
        let mut out = Vec::new();
        write_json(&mut out, at, &record("r-1"));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            concat!(
                r#"{"timestamp":"2026-12-07T19:52:29.012345Z","level":"INFO","fields":{"#,
                r#""message":"request finished","method":"GET","path":"/api/x\"y\\z\u0001é","#,
                r#""client_ip":"2001:db8::1","status":404,"route":"unmatched","#,
                r#""latency_ms":0.123456789},"target":"portcullis_server","#,
                r#""span":{"request_id":"r-1","name":"request"}}"#,
                "\n"
            )
        );
    }

    #[test]
    fn timestamps_match_the_calendar() {
        use chrono::{DateTime, Utc};
        for secs in [
            0u64,
            951_782_400, // 2000-02-29
            951_868_799,
            1_709_164_800, // 2024-02-29
            1_796_673_149,
            4_102_444_800, // 2100-01-01
            4_107_542_399, // 2100-02-28T23:59:59
            253_402_300_799,
        ] {
            for micros in [0u32, 7, 999_999] {
                let at = UNIX_EPOCH + Duration::new(secs, micros * 1000 + 999);
                let mut out = Vec::new();
                write_timestamp(&mut out, at);
                let want = DateTime::<Utc>::from(at)
                    .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                    .to_string();
                assert_eq!(String::from_utf8(out).unwrap(), want);
            }
        }
    }

    /// What tracing-subscriber's JSON formatter (the server's before this writer) prints for the
    /// same event in the same span is the same bytes, but for the timestamp, which it takes from
    /// the clock: a timer that prints ours makes them comparable.
    #[test]
    fn the_line_is_what_the_tracing_json_formatter_printed() {
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
        struct Fixed(String);
        impl tracing_subscriber::fmt::time::FormatTime for Fixed {
            fn format_time(
                &self,
                w: &mut tracing_subscriber::fmt::format::Writer<'_>,
            ) -> std::fmt::Result {
                w.write_str(&self.0)
            }
        }
        let at = UNIX_EPOCH + Duration::from_micros(1_796_673_149_000_001);
        let mut stamp = Vec::new();
        write_timestamp(&mut stamp, at);
        for (id, latency) in [
            ("3f1d-ü\"x", 12.5),
            ("r", 1e-7),
            ("r", 1234.0),
            ("r", f64::NAN),
        ] {
            let buf = Buf::default();
            let subscriber = tracing_subscriber::fmt()
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .with_timer(Fixed(String::from_utf8(stamp.clone()).unwrap()))
                .with_writer({
                    let b = buf.clone();
                    move || b.clone()
                })
                .finish();
            let r = AccessRecord {
                latency_ms: latency,
                ..record(id)
            };
            tracing::subscriber::with_default(subscriber, || {
                let span = tracing::span!(tracing::Level::INFO, "request", request_id = %id);
                span.in_scope(|| {
                    tracing::info!(
                        target: "portcullis_server",
                        method = %r.method,
                        path = %r.path,
                        client_ip = %r.client_ip,
                        status = r.status,
                        route = %r.route,
                        latency_ms = r.latency_ms,
                        "request finished"
                    );
                });
            });
            let mut ours = Vec::new();
            write_json(&mut ours, at, &r);
            let theirs = buf.0.lock().unwrap().clone();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(theirs).unwrap()
            );
        }
    }
}
