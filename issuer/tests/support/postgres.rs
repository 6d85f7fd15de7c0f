//! A PostgreSQL server for the tests that need one: `GDRP_TEST_POSTGRES` names it (a URL whose
//! role may create databases, e.g. `postgres://gdrp@127.0.0.1:5432/postgres`); every test gets
//! a database of its own. Without it such tests say why they skip; with `GDRP_REQUIRE_TOOLS`
//! set (CI) they fail instead.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU32, Ordering};

/// The server's URL, or `None` (after saying why) when the tests must skip.
pub fn server(test: &str) -> Option<String> {
    match std::env::var("GDRP_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("GDRP_REQUIRE_TOOLS").is_none(),
                "{test}: GDRP_TEST_POSTGRES is not set and GDRP_REQUIRE_TOOLS requires PostgreSQL"
            );
            eprintln!("skipping {test} on PostgreSQL: set GDRP_TEST_POSTGRES=postgres://…");
            None
        }
    }
}

/// `url` with its database name replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => match rest.find('?') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        },
    };
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    format!("{scheme}://{authority}/{db}{query}")
}

/// Creates an empty database for one test and returns its URL.
pub fn fresh_database(server: &str, tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!(
        "gdrp_{}_{}_{}_{nanos}",
        tag.to_lowercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(20)
            .collect::<String>(),
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let mut admin = postgres::Client::connect(server, postgres::NoTls)
        .unwrap_or_else(|e| panic!("GDRP_TEST_POSTGRES: cannot connect: {e}"));
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    with_database(server, &name)
}
