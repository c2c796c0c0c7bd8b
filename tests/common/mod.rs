//! Helpers shared by the integration tests.

use std::path::Path;

/// Checks the README block between `<!-- {name}:begin -->` and `<!-- {name}:end -->` against
/// `fresh`; with `PGTABLE_BLESS=1` rewrites it instead.
pub fn check_readme_block(name: &str, fresh: &str, test: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md is readable");
    let begin = format!("<!-- {name}:begin -->\n");
    let end = format!("<!-- {name}:end -->");
    let start = readme.find(&begin).expect("README has the begin marker") + begin.len();
    let stop = start
        + readme[start..]
            .find(&end)
            .expect("README has the end marker");
    if readme[start..stop] == *fresh {
        return;
    }
    if std::env::var_os("PGTABLE_BLESS").is_some_and(|v| v == "1") {
        let updated = format!("{}{fresh}{}", &readme[..start], &readme[stop..]);
        std::fs::write(&path, updated).expect("README.md is writable");
        eprintln!("README.md: rewrote the {name} block");
        return;
    }
    panic!(
        "README.md's {name} block is stale; run `PGTABLE_BLESS=1 cargo test --test {test}` \
         or paste this between the markers:\n{fresh}"
    );
}
