//! The README's table of the issuer's error codes is generated from the code table
//! (`permit_issuer::error_code`), so the two never drift. Run with `UPDATE_README=1` to rewrite
//! the README's table after changing the code table.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use permit_issuer::error_code::{ErrorCode, Kind};

const BEGIN: &str = "<!-- issuer-error-codes:begin (generated from issuer/src/error_code.rs by issuer/tests/readme_codes.rs) -->\n";
const END: &str = "<!-- issuer-error-codes:end -->";

fn table() -> String {
    let mut t = String::from("| code | exit | meaning |\n|---|---|---|\n");
    for c in ErrorCode::ALL {
        let exit = match c.kind() {
            Kind::Stop => "2",
            Kind::Refused => "1",
            Kind::Row => "row",
        };
        t.push_str(&format!(
            "| `{}` | {exit} | {} |\n",
            c.as_str(),
            c.description()
        ));
    }
    t
}

#[test]
fn readme_lists_every_issuer_error_code_from_the_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme.find(BEGIN).expect("README lacks the begin marker") + BEGIN.len();
    let end = readme[start..]
        .find(END)
        .expect("README lacks the end marker")
        + start;
    let want = table();
    if std::env::var_os("UPDATE_README").is_some() {
        let new = format!("{}{want}{}", &readme[..start], &readme[end..]);
        std::fs::write(path, new).unwrap();
        return;
    }
    assert_eq!(
        readme[start..end],
        want,
        "README's issuer error-code table is out of date: run `UPDATE_README=1 cargo test -p permit-issuer --test readme_codes`"
    );
}
