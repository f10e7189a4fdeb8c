//! The crate's shape, checked without a database: both backends carry the same migrations, and the
//! shared areas (`src/areas/`) hold no SQL only one backend reads (that belongs in a prelude).

use std::path::Path;

/// Both migration folders carry the same version numbers, so a deployment can move between the
/// backends and the store tests compare like with like.
#[test]
fn both_backends_carry_the_same_migration_versions() {
    let sqlite = kefu_store::sqlite::migration_versions();
    let postgres = kefu_store::postgres::migration_versions();
    assert_eq!(sqlite, postgres);
    // Strictly increasing from 1. Gaps are allowed: areas developed in parallel own fixed numbers
    // (0008 is reserved for search tables and exists only if search needs them).
    assert_eq!(sqlite.first(), Some(&1));
    assert!(sqlite.windows(2).all(|w| w[0] < w[1]), "{sqlite:?}");
}

/// Dialect-specific SQL, looked for in the code (comments aside) of the shared areas.
const BACKEND_ONLY: &[&str] = &[
    "ILIKE",
    "FOR UPDATE",
    "FOR NO KEY UPDATE",
    "FOR SHARE",
    "SKIP LOCKED",
    "json_each",
    "jsonb",
    "pg_",
    "PRAGMA",
    "group_concat",
    "NOT INDEXED",
    "sqlite_master",
    "printf(",
];

/// What a shared area's text breaks: each backend-specific token (outside comments) and each
/// `::` cast inside a string literal, as `line: finding`.
fn backend_specific(source: &str) -> Vec<String> {
    let (code, literals) = split_source(source);
    let mut found = Vec::new();
    for (line, text) in code.lines().enumerate() {
        let upper = text.to_uppercase();
        for token in BACKEND_ONLY {
            if upper.contains(&token.to_uppercase()) {
                found.push(format!("{}: {token}", line + 1));
            }
        }
    }
    for (line, literal) in literals {
        if literal.contains("::") {
            found.push(format!("{line}: `::` cast in {literal:?}"));
        }
    }
    found
}

/// The source without its comments, and its string literals with the line each starts on.
fn split_source(source: &str) -> (String, Vec<(usize, String)>) {
    let chars: Vec<char> = source.chars().collect();
    let (mut code, mut literals) = (String::new(), Vec::new());
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                if chars[i] == '\n' {
                    code.push('\n');
                    line += 1;
                }
                i += 1;
            }
            i += 2;
            continue;
        }
        // A char literal such as '"' or '\\' is not a string (lifetimes have no closing quote).
        if c == '\'' && next == Some('\\') {
            let mut end = i + 3;
            while end < chars.len() && chars[end] != '\'' {
                end += 1;
            }
            code.extend(&chars[i..(end + 1).min(chars.len())]);
            i = end + 1;
            continue;
        }
        if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            code.extend(&chars[i..i + 3]);
            i += 3;
            continue;
        }
        let raw_hashes = (c == 'r' && (next == Some('"') || next == Some('#')))
            .then(|| chars[i + 1..].iter().take_while(|&&h| h == '#').count());
        if c == '"' || raw_hashes.is_some_and(|h| chars.get(i + 1 + h) == Some(&'"')) {
            let hashes = raw_hashes.unwrap_or(0);
            let start_line = line;
            i += if raw_hashes.is_some() { hashes + 2 } else { 1 };
            let mut literal = String::new();
            while let Some(&ch) = chars.get(i) {
                if raw_hashes.is_none() && ch == '\\' {
                    if chars.get(i + 1) == Some(&'\n') {
                        line += 1;
                        code.push('\n');
                    }
                    literal.push(ch);
                    literal.extend(chars.get(i + 1));
                    i += 2;
                    continue;
                }
                if ch == '"' && chars[i + 1..].iter().take(hashes).all(|&h| h == '#') {
                    i += 1 + hashes;
                    break;
                }
                if ch == '\n' {
                    line += 1;
                    code.push('\n');
                }
                literal.push(ch);
                i += 1;
            }
            // The literal's text stays in the code too, so its tokens are found with their line.
            code.push('"');
            code.push_str(&literal.replace('\n', " "));
            code.push('"');
            literals.push((start_line, literal));
            continue;
        }
        if c == '\n' {
            line += 1;
        }
        code.push(c);
        i += 1;
    }
    (code, literals)
}

#[test]
fn shared_areas_hold_no_backend_specific_sql() {
    let areas = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/areas");
    let mut files: Vec<_> = std::fs::read_dir(&areas)
        .expect("src/areas")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the areas were not found: {files:?}");
    let mut findings = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).expect("read area");
        for finding in backend_specific(&source) {
            findings.push(format!("{}:{finding}", file.display()));
        }
    }
    assert!(
        findings.is_empty(),
        "backend-specific SQL in shared areas (move it to a prelude fragment or hook):\n{}",
        findings.join("\n")
    );
}

/// The scan itself finds what it must and ignores comments and Rust paths.
#[test]
fn the_dialect_scan_finds_backend_sql() {
    let source = "use kefu_core::model::Id;\n\
        // FOR UPDATE in a comment is fine\n\
        const A: &str = \"SELECT id FROM t WHERE id = $1 FOR UPDATE\";\n\
        const B: &str = \"SELECT CAST($1 AS BIGINT), $2::text\";\n\
        const C: &str = r#\"SELECT name FROM t WHERE name ilike $1\"#;\n\
        const D: &str = \"SELECT 1\"; // pg_sleep\n";
    let found = backend_specific(source);
    assert_eq!(
        found,
        [
            "3: FOR UPDATE",
            "5: ILIKE",
            "4: `::` cast in \"SELECT CAST($1 AS BIGINT), $2::text\""
        ],
        "{found:?}"
    );
}
