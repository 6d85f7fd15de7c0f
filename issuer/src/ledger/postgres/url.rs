//! Connection URLs: recognising them, and the form shown in errors (password removed).

/// Whether a `--ledger` value names a PostgreSQL database (`postgres://…` or `postgresql://…`)
/// rather than a SQLite file.
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// The URL with its password (user-info part and `password=` parameter) replaced by `***`:
/// the only form of it that errors, logs and reports show.
pub fn redact(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(pw) = password(url) {
        out = out.replacen(&format!(":{pw}@"), ":***@", 1);
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => p.to_owned(),
            })
            .collect();
        out = format!("{head}{}", params.join("&"));
    }
    out
}

/// The password of the user-info part (`scheme://user:password@host…`), as written.
fn password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    // The authority ends at the first `/` or `?`; its user info at the last `@` in it.
    let authority = rest.split(['/', '?']).next()?;
    let userinfo = &authority[..authority.rfind('@')?];
    let (_, pw) = userinfo.split_once(':')?;
    Some(pw)
}

/// `detail` with every occurrence of the URL's passwords replaced by `***` (driver messages
/// may quote the URL or a parameter).
pub(super) fn scrub(detail: &str, url: &str) -> String {
    let mut out = detail.to_owned();
    let mut secrets: Vec<String> = password(url)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .into_iter()
        .collect();
    if let Some((_, query)) = url.split_once('?') {
        secrets.extend(query.split('&').filter_map(|p| {
            p.split_once('=')
                .filter(|(k, v)| k.eq_ignore_ascii_case("password") && !v.is_empty())
                .map(|(_, v)| v.to_owned())
        }));
    }
    for s in secrets {
        out = out.replace(&s, "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_survive_redaction() {
        assert_eq!(
            redact("postgres://gdrp:s3cr%40t@db.example:5432/ledger"),
            "postgres://gdrp:***@db.example:5432/ledger"
        );
        assert_eq!(
            redact("postgresql://gdrp@127.0.0.1/ledger?password=hunter2&sslmode=disable"),
            "postgresql://gdrp@127.0.0.1/ledger?password=***&sslmode=disable"
        );
        assert_eq!(
            redact("postgres://gdrp@%2Ftmp%2Fpg:5433/ledger"),
            "postgres://gdrp@%2Ftmp%2Fpg:5433/ledger"
        );
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        let msg = scrub(
            "password authentication failed near hunter2 and pw",
            "postgres://u:pw@h/db?password=hunter2",
        );
        assert!(!msg.contains("hunter2") && !msg.contains(" pw"), "{msg}");
    }

    #[test]
    fn only_postgres_schemes_are_urls() {
        assert!(is_postgres_url("postgres://h/db"));
        assert!(is_postgres_url("postgresql://h/db"));
        assert!(!is_postgres_url("issuer-ledger.sqlite3"));
        assert!(!is_postgres_url("/var/lib/postgres://x"));
    }
}
