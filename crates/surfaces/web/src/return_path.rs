//! Where a sign-in may send the browser back to (`/login?r=/account`): a path of this server
//! only, so `r` can never be an open redirect.

/// Longer return paths are refused (the account pages' are a few dozen bytes).
const MAX_RETURN_PATH: usize = 512;

/// `path` when it is a relative path of this server: it starts with one `/` (not `//` or `/\`,
/// which browsers read as another host), and holds only unreserved URL characters, `/`, `%`
/// and a query's `?=&+` (no scheme, no `\`, no control characters or spaces, no `@` or `:`).
pub fn safe_return_path(path: &str) -> Option<&str> {
    let mut chars = path.chars();
    if chars.next() != Some('/') || path.len() > MAX_RETURN_PATH {
        return None;
    }
    if matches!(chars.next(), Some('/' | '\\')) {
        return None;
    }
    path.chars()
        .all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '/' | '-' | '.' | '_' | '~' | '%' | '?' | '=' | '&' | '+')
        })
        .then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_server() {
        for ok in ["/account", "/account/password?done=1", "/", "/a-b_c.d~e%20"] {
            assert_eq!(safe_return_path(ok), Some(ok));
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "evil.example",
            "",
            "/account\r\nSet-Cookie: x=1",
            "/ account",
            "/@evil.example",
            "/x:y",
            "/\\/evil.example",
            "\t//evil.example",
        ] {
            assert_eq!(safe_return_path(bad), None, "{bad:?}");
        }
        assert_eq!(safe_return_path(&format!("/{}", "a".repeat(600))), None);
    }
}
