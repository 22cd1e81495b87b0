//! Where the store lives (SQLite path or PostgreSQL URL), and URLs with their passwords redacted.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// A SQLite path or `sqlite:` URL, as given.
    Sqlite(String),
    /// A PostgreSQL URL.
    Remote(String),
}

impl DatabaseLocation {
    pub fn as_str(&self) -> &str {
        match self {
            DatabaseLocation::Sqlite(s) | DatabaseLocation::Remote(s) => s,
        }
    }

    /// The local file of a SQLite location (`None` for in-memory or PostgreSQL).
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        let DatabaseLocation::Sqlite(s) = self else {
            return None;
        };
        let path = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
            .unwrap_or(s);
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() || path == ":memory:" {
            None
        } else {
            Some(PathBuf::from(path))
        }
    }

    /// The URL with any password replaced, for logs and error messages.
    pub fn redacted(&self) -> String {
        redact_url(self.as_str())
    }
}

/// What a printed secret is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Replaces the password of `scheme://user:password@host` and any `password=` (or
/// `sslpassword=`, …) query parameter with `***`. The password may hold `/`, `?` or `@`, so
/// the user info ends at the last `@`.
///
/// The drivers read URLs with the WHATWG parser (the `url` crate), which drops every tab and
/// newline and trims control characters and spaces: `postgres:\t//u:pw@h` connects with the
/// password `pw`. So the URL is first read the same way, and what is redacted is what the driver
/// sees (found by the `config_toml` fuzz target).
pub fn redact_url(url: &str) -> String {
    let url: String = url
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let url = url.as_str();
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (userinfo, tail) = match rest.rsplit_once('@') {
        Some((userinfo, tail)) if userinfo.contains(':') => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            (format!("{user}:***@"), tail)
        }
        _ => (String::new(), rest),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.to_ascii_lowercase().contains("password") => {
                        format!("{k}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{userinfo}{tail}")
}
