//! The layer rules, checked on the source tree (STYLE.md, "Layout"):
//!
//! - a domain's `model.rs` and `service.rs` (or the files of a `model/` or `service/` folder)
//!   do not import our GraphQL layer: neither `crate::graphql` nor any domain's `graphql.rs`
//!   (`graphql.rs → service.rs → model.rs`, never back up);
//! - the ground floors (`config`, `db`, `state`, `error`) import no domain, not the API layer
//!   (`graphql`, `http`) and not the wiring (`scheduler`, `seed`): what starts what lives
//!   in `main.rs` and `lib.rs`.
//!
//! A domain is a folder `src/<name>/` with a `mod.rs` and a service (`service.rs` or
//! `service/`) or a GraphQL face (`graphql.rs` or `graphql/`); the list is read from the tree,
//! so a new domain is checked from its first commit. Imports are read from the code with
//! comments and literals left out: `use` trees with their `{…}` groups, `self`, `super` and
//! `crate` paths anywhere in the code (`crate::x::f(…)` in an expression counts), and inline
//! `mod … { }` scopes for `super`. A path that starts with another name (an extern crate, or
//! a name brought in by a `use`) is judged at that `use`. This file is its own test target:
//! none of it ships in the server.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

/// The ground floors: they import no domain and nothing of what is listed in `ABOVE_GROUND`.
const GROUND: &[&str] = &["config", "db", "state", "error"];
/// Besides the domains, what the ground floors may not import: the API layer and the wiring.
const ABOVE_GROUND: &[&str] = &["graphql", "http", "scheduler", "seed"];

const DOMAIN_CORE_RULE: &str =
    "a domain's model/service imports the GraphQL layer (graphql.rs → service.rs → model.rs, never back up)";
const GROUND_DOMAIN_RULE: &str = "a ground floor (config, db, state, error) imports a domain";
const GROUND_UPPER_RULE: &str =
    "a ground floor (config, db, state, error) imports the API layer or the wiring (graphql, http, scheduler, seed)";

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Star,
    Dollar,
    Other,
}

#[derive(Debug)]
struct Token {
    tok: Tok,
    line: usize,
}

/// The tokens that matter for paths; comments, string, char and number literals dropped.
fn tokens(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    // Skips a quoted literal whose opening quote is at `i`; answers the index after it.
    let skip_quoted = |mut i: usize, line: &mut usize| {
        i += 1;
        while i < chars.len() && chars[i] != '"' {
            if chars[i] == '\\' {
                i += 1;
            }
            if at(i) == '\n' {
                *line += 1;
            }
            i += 1;
        }
        i + 1
    };
    // Skips a raw literal whose `#`s (or quote) start at `i`.
    let skip_raw = |mut i: usize, line: &mut usize| {
        let mut hashes = 0;
        while at(i) == '#' {
            hashes += 1;
            i += 1;
        }
        i += 1; // the opening quote
        while i < chars.len() {
            if chars[i] == '"' && (1..=hashes).all(|k| at(i + k) == '#') {
                return i + 1 + hashes;
            }
            if chars[i] == '\n' {
                *line += 1;
            }
            i += 1;
        }
        i
    };
    while i < chars.len() {
        let c = chars[i];
        let start_line = line;
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '/' if at(i + 1) == '/' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if at(i + 1) == '*' => {
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i] == '/' && at(i + 1) == '*' {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && at(i + 1) == '/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        if chars[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                }
            }
            '"' => i = skip_quoted(i, &mut line),
            '\'' => {
                if at(i + 1) == '\\' {
                    // An escaped char literal: '\n', '\'', '\u{1F600}'.
                    i += 2;
                    while i < chars.len() && chars[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if at(i + 2) == '\'' {
                    i += 3;
                } else {
                    // A lifetime or a label: its name follows as an identifier.
                    i += 1;
                }
            }
            ':' if at(i + 1) == ':' => {
                out.push(Token {
                    tok: Tok::PathSep,
                    line,
                });
                i += 2;
            }
            '{' | '}' | ',' | '*' | '$' => {
                let tok = match c {
                    '{' => Tok::Open,
                    '}' => Tok::Close,
                    ',' => Tok::Comma,
                    '*' => Tok::Star,
                    _ => Tok::Dollar,
                };
                out.push(Token { tok, line });
                i += 1;
            }
            c if c.is_ascii_digit() => {
                while at(i).is_alphanumeric() || at(i) == '_' || (at(i) == '.' && at(i + 1).is_ascii_digit()) {
                    i += 1;
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                let begin = i;
                while at(i).is_alphanumeric() || at(i) == '_' {
                    i += 1;
                }
                let word: String = chars[begin..i].iter().collect();
                match (word.as_str(), at(i)) {
                    ("r" | "br" | "cr", '"') => i = skip_raw(i, &mut line),
                    ("r" | "br" | "cr", '#') if matches!(at(i + 1), '#' | '"') => i = skip_raw(i, &mut line),
                    ("r", '#') => {
                        // A raw identifier: r#type.
                        let begin = i + 1;
                        i += 1;
                        while at(i).is_alphanumeric() || at(i) == '_' {
                            i += 1;
                        }
                        let word = chars[begin..i].iter().collect();
                        out.push(Token {
                            tok: Tok::Ident(word),
                            line: start_line,
                        });
                    }
                    ("b" | "c", '"') => i = skip_quoted(i, &mut line),
                    ("b", '\'') => {
                        i += 1;
                        if at(i + 1) == '\\' {
                            i += 2;
                        }
                        while i < chars.len() && chars[i] != '\'' {
                            i += 1;
                        }
                        i += 1;
                    }
                    _ => out.push(Token {
                        tok: Tok::Ident(word),
                        line: start_line,
                    }),
                }
            }
            _ => {
                out.push(Token { tok: Tok::Other, line });
                i += 1;
            }
        }
    }
    out
}

fn ident(tokens: &[Token], i: usize) -> Option<&str> {
    match tokens.get(i).map(|t| &t.tok) {
        Some(Tok::Ident(word)) => Some(word),
        _ => None,
    }
}

fn is(tokens: &[Token], i: usize, tok: &Tok) -> bool {
    tokens.get(i).is_some_and(|t| &t.tok == tok)
}

/// Reads one path, or one `use` tree with its groups, from `i`; pushes each leaf path (with
/// the line of its last segment) and answers the index after it.
fn tree(tokens: &[Token], mut i: usize, prefix: &[String], out: &mut Vec<(Vec<String>, usize)>) -> usize {
    let mut path = prefix.to_vec();
    let mut line = tokens.get(i).map_or(0, |t| t.line);
    loop {
        if is(tokens, i, &Tok::Dollar) && ident(tokens, i + 1) == Some("crate") {
            path.push("$crate".into());
            line = tokens[i + 1].line;
            i += 2;
        } else if let Some(word) = ident(tokens, i) {
            path.push(word.to_owned());
            line = tokens[i].line;
            i += 1;
        } else if is(tokens, i, &Tok::Open) && path.len() > prefix.len() {
            i += 1;
            while i < tokens.len() && !is(tokens, i, &Tok::Close) {
                if is(tokens, i, &Tok::Comma) {
                    i += 1;
                    continue;
                }
                let next = tree(tokens, i, &path, out);
                i = if next == i { i + 1 } else { next };
            }
            return i + 1;
        } else if is(tokens, i, &Tok::Star) {
            out.push((path, tokens[i].line));
            return i + 1;
        } else {
            break;
        }
        if is(tokens, i, &Tok::PathSep) {
            i += 1;
        } else {
            break;
        }
    }
    if ident(tokens, i) == Some("as") {
        i += 2;
    }
    if path.len() > prefix.len() {
        out.push((path, line));
    }
    i
}

/// Where a path that starts with `crate` (or a macro's `$crate`), `self` or `super` leads, from the crate's root;
/// `None` for any other path, and for a `super` above the root.
fn resolve(module: &[String], path: &[String]) -> Option<Vec<String>> {
    let (head, rest) = path.split_first()?;
    let mut out = match head.as_str() {
        "crate" | "$crate" => Vec::new(),
        "self" => module.to_vec(),
        "super" => {
            let mut parent = module.to_vec();
            parent.pop()?;
            parent
        }
        _ => return None,
    };
    for segment in rest {
        match segment.as_str() {
            "super" => {
                out.pop()?;
            }
            "self" => {}
            _ => out.push(segment.clone()),
        }
    }
    Some(out)
}

/// One import found in a file: its line, the path as written, and where it leads.
#[derive(Debug, Clone, PartialEq)]
struct Import {
    line: usize,
    written: String,
    target: Vec<String>,
}

/// Every `crate` / `self` / `super` path of `source`, a file of module `module`.
fn imports(source: &str, module: &[String]) -> Vec<Import> {
    let tokens = tokens(source);
    let mut found = Vec::new();
    // One entry per open brace: the inline module it opens, if any.
    let mut scopes: Vec<Option<String>> = Vec::new();
    let mut pending_mod: Option<String> = None;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i].tok {
            Tok::Open => {
                scopes.push(pending_mod.take());
                i += 1;
                continue;
            }
            Tok::Close => {
                scopes.pop();
                i += 1;
                continue;
            }
            Tok::Ident(word) if word == "mod" => {
                pending_mod = ident(&tokens, i + 1).map(str::to_owned);
                i += 1;
                continue;
            }
            Tok::Other | Tok::Comma => pending_mod = None,
            _ => {}
        }
        let after_sep = i > 0 && is(&tokens, i - 1, &Tok::PathSep);
        let head = match ident(&tokens, i) {
            Some("crate" | "self" | "super") if !after_sep => Some(i + 1),
            _ if is(&tokens, i, &Tok::Dollar) && ident(&tokens, i + 1) == Some("crate") => Some(i + 2),
            _ => None,
        };
        match head {
            Some(next) if is(&tokens, next, &Tok::PathSep) => {
                let here: Vec<String> = module.iter().cloned().chain(scopes.iter().flatten().cloned()).collect();
                let mut paths = Vec::new();
                i = tree(&tokens, i, &[], &mut paths);
                for (path, line) in paths {
                    if let Some(target) = resolve(&here, &path) {
                        found.push(Import {
                            line,
                            written: path.join("::"),
                            target,
                        });
                    }
                }
            }
            _ => i += 1,
        }
    }
    found
}

/// A broken rule: the file and line, the rule, and the import as written.
#[derive(Debug, Clone, PartialEq)]
struct Violation {
    file: String,
    line: usize,
    rule: &'static str,
    import: String,
}

/// The rules for one file of module `module` (`["task", "service"]` for
/// `src/task/service.rs`), with `domains` the domain folders.
fn check(file: &str, module: &[String], source: &str, domains: &BTreeSet<String>) -> Vec<Violation> {
    let is_domain = |name: &str| domains.contains(name);
    let domain_core = module.len() >= 2 && is_domain(&module[0]) && matches!(module[1].as_str(), "model" | "service");
    let ground = module.first().is_some_and(|m| GROUND.contains(&m.as_str()));
    if !domain_core && !ground {
        return Vec::new();
    }
    let mut found = Vec::new();
    for import in imports(source, module) {
        let target: Vec<&str> = import.target.iter().map(String::as_str).collect();
        let rule = match target.as_slice() {
            ["graphql", ..] if domain_core => Some(DOMAIN_CORE_RULE),
            [domain, "graphql", ..] if domain_core && is_domain(domain) => Some(DOMAIN_CORE_RULE),
            [first, ..] if ground && is_domain(first) => Some(GROUND_DOMAIN_RULE),
            [first, ..] if ground && ABOVE_GROUND.contains(first) => Some(GROUND_UPPER_RULE),
            _ => None,
        };
        if let Some(rule) = rule {
            let violation = Violation {
                file: file.to_owned(),
                line: import.line,
                rule,
                import: import.written,
            };
            if !found.contains(&violation) {
                found.push(violation);
            }
        }
    }
    found
}

/// The domain folders under `src`: a `mod.rs` beside `service.rs` / `service/` or
/// `graphql.rs` / `graphql/`.
fn domains(src: &Path) -> BTreeSet<String> {
    let Ok(entries) = fs::read_dir(src) else {
        return BTreeSet::new();
    };
    entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|dir| {
            dir.join("mod.rs").is_file()
                && ["service.rs", "service", "graphql.rs", "graphql"]
                    .iter()
                    .any(|face| dir.join(face).exists())
        })
        .filter_map(|dir| Some(dir.file_name()?.to_str()?.to_owned()))
        .collect()
}

/// The module path of a file under `src` (`task/service.rs` → `["task", "service"]`,
/// `db/mod.rs` → `["db"]`); `None` for the binary's root, which is another crate.
fn module_of(relative: &Path) -> Option<Vec<String>> {
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let file = parts.pop()?;
    if parts.first().is_some_and(|p| p == "bin") || (parts.is_empty() && file == "main.rs") {
        return None;
    }
    match file.strip_suffix(".rs")? {
        "mod" => {}
        "lib" if parts.is_empty() => {}
        stem => parts.push(stem.to_owned()),
    }
    Some(parts)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()) {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every violation under `root`'s `src/`, in file and line order.
fn violations(root: &Path) -> Vec<Violation> {
    let src = root.join("src");
    let domains = domains(&src);
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for path in files {
        let Ok(relative) = path.strip_prefix(&src) else {
            continue;
        };
        let Some(module) = module_of(relative) else {
            continue;
        };
        let source = fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let shown = format!("src/{}", relative.display());
        found.extend(check(&shown, &module, &source, &domains));
    }
    found
}

#[test]
fn imports_point_down() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let domains = domains(&root.join("src"));
    // A guard for the rule itself: without domains it would check nothing.
    for expected in ["account", "admin", "order", "task"] {
        assert!(
            domains.contains(expected),
            "{expected} is not read as a domain: {domains:?}"
        );
    }
    for plumbing in ["auth", "db", "events", "graphql", "http"] {
        assert!(
            !domains.contains(plumbing),
            "{plumbing} is read as a domain: {domains:?}"
        );
    }
    let found = violations(root);
    let report: Vec<String> = found
        .iter()
        .map(|v| format!("  {}:{}  {}  — {}", v.file, v.line, v.import, v.rule))
        .collect();
    assert!(
        found.is_empty(),
        "{} import(s) break the layer rules (see tests/architecture.rs):\n{}",
        found.len(),
        report.join("\n")
    );
}

/// The checker itself: wrong imports given as text are reported, right ones are not.
mod checker {
    use super::*;

    fn module(path: &str) -> Vec<String> {
        path.split("::").map(str::to_owned).collect()
    }

    fn known_domains() -> BTreeSet<String> {
        ["gig", "message", "order", "task"]
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// (line, import as written) of each violation of `source` as file `module`.
    fn found(module_path: &str, source: &str) -> Vec<(usize, String)> {
        check("src/x.rs", &module(module_path), source, &known_domains())
            .into_iter()
            .map(|v| (v.line, v.import))
            .collect()
    }

    #[test]
    fn a_service_importing_the_graphql_layer_is_reported() {
        let source = "use std::sync::Arc;\n\
                      use crate::{\n    error::AppError,\n    graphql::{pagination::split_page, context::RequestCtx as Ctx},\n};\n\
                      fn f() { let (rows, more) = crate::graphql::pagination::split_page(rows, size); }\n\
                      use crate::message::graphql::MessageAttachment;\n";
        assert_eq!(
            found("task::service", source),
            vec![
                (4, "crate::graphql::pagination::split_page".to_owned()),
                (4, "crate::graphql::context::RequestCtx".to_owned()),
                (6, "crate::graphql::pagination::split_page".to_owned()),
                (7, "crate::message::graphql::MessageAttachment".to_owned()),
            ]
        );
    }

    #[test]
    fn super_paths_are_resolved_from_the_file_and_its_inline_modules() {
        assert_eq!(
            found("task::model", "use super::{graphql::Task, service};\n"),
            vec![(1, "super::graphql::Task".to_owned())]
        );
        assert_eq!(
            found("order::service::money", "use super::super::graphql;\n"),
            vec![(1, "super::super::graphql".to_owned())]
        );
        // Inside `mod tests`, `super` is the file itself, and `super::super` the domain.
        let source = "mod tests {\n    use super::graphql_like;\n    use super::super::graphql::Gig;\n}\n";
        assert_eq!(
            found("gig::model", source),
            vec![(3, "super::super::graphql::Gig".to_owned())]
        );
    }

    #[test]
    fn a_ground_floor_importing_a_domain_or_the_api_layer_is_reported() {
        let state = "use crate::{\n    config::Config,\n    gig::views::ViewCounter,\n};\n\
                     fn spawn(s: &S) { crate::scheduler::spawn(s.clone()); }\n";
        assert_eq!(
            found("state", state),
            vec![
                (3, "crate::gig::views::ViewCounter".to_owned()),
                (5, "crate::scheduler::spawn".to_owned())
            ]
        );
        let config = "fn f() { x.unwrap_or_else(crate::graphql::playground::default_dir) }";
        assert_eq!(
            found("config", config),
            vec![(1, "crate::graphql::playground::default_dir".to_owned())]
        );
        let db = "macro_rules! m { () => { $crate::http::metrics::f() } }";
        assert_eq!(found("db::page", db), vec![(1, "$crate::http::metrics::f".to_owned())]);
    }

    #[test]
    fn correct_imports_comments_and_literals_are_not_reported() {
        let service = "//! See crate::graphql::pagination, which does not matter here.\n\
                       use async_graphql::SimpleObject;\n\
                       use super::{model::{self, TaskRow}, templates};\n\
                       use crate::{db::Db, error::{AppError, AppResult}, geocell::fuzz, state::AppState};\n\
                       /* crate::graphql::x /* nested */ crate::gig::graphql::y */\n\
                       fn f<'a>(s: &'a str) -> char { let _ = \"crate::graphql::x\"; let _ = r#\"crate::graphql\"#; '\"' }\n\
                       pub(crate) fn g() { self::f(\"\"); Self::h(); crate::ledger::policy::commission_bps(1) }\n";
        assert_eq!(found("task::service", service), vec![]);
        // The graphql layer may use services, and non-core files of a domain are not judged.
        assert_eq!(
            found("task::graphql", "use crate::graphql::pagination::split_page;"),
            vec![]
        );
        assert_eq!(
            found("state", "use crate::{config::Config, db::Db, events::Bus};"),
            vec![]
        );
        // A char literal with a quote does not hide what follows it.
        assert_eq!(
            found("order::model", "const Q: char = '\"';\nuse crate::graphql::X;\n"),
            vec![(2, "crate::graphql::X".to_owned())]
        );
    }

    #[test]
    fn domains_are_read_from_the_tree() {
        let root = std::env::temp_dir().join(format!("gigmarket-architecture-{}", std::process::id()));
        let src = root.join("src");
        for (file, text) in [
            ("shop/mod.rs", "pub mod service;"),
            ("shop/service.rs", "use crate::db::Db;"),
            ("admin/mod.rs", "pub mod graphql;"),
            ("admin/graphql.rs", ""),
            ("events/mod.rs", "pub mod model;"),
            ("events/model.rs", ""),
            ("loose/service.rs", ""),
            ("state.rs", "use crate::shop::service::Shop;"),
            ("db/mod.rs", "use crate::events::Bus;"),
            ("shop/service/money.rs", "use crate::graphql::pagination::split_page;"),
        ] {
            let path = src.join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        let domains = domains(&src);
        let found: Vec<String> = violations(&root)
            .into_iter()
            .map(|v| format!("{}:{} {}", v.file, v.line, v.import))
            .collect();
        fs::remove_dir_all(&root).unwrap();
        assert_eq!(domains.into_iter().collect::<Vec<_>>(), vec!["admin", "shop"]);
        assert_eq!(
            found,
            vec![
                "src/shop/service/money.rs:1 crate::graphql::pagination::split_page",
                "src/state.rs:1 crate::shop::service::Shop",
            ]
        );
    }

    #[test]
    fn module_paths_follow_the_files() {
        let of = |p: &str| module_of(Path::new(p));
        assert_eq!(of("task/service.rs"), Some(module("task::service")));
        assert_eq!(of("db/mod.rs"), Some(module("db")));
        assert_eq!(of("lib.rs"), Some(vec![]));
        assert_eq!(of("main.rs"), None);
        assert_eq!(of("bin/tool.rs"), None);
    }
}
