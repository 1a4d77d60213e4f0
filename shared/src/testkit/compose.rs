//! Checks of `docker-compose.yml` against a service's configuration: every service whose command runs a
//! binary has its `POS_` entries of `environment` (map or `KEY=VALUE` list form) fed to that binary's
//! configuration, which must accept them and leave no key unread (an unread key is a typo or the other
//! service's setting). Compose interpolation stands in for the operator's `.env`: `${VAR:-default}` takes
//! the default, any other `${VAR…}` a placeholder that parses for that key. (`env_file:` contents are not
//! checked.)

#![allow(clippy::panic)] // test support: a malformed compose file should stop the test with its reason

use std::path::Path;

pub use serde_norway::Value;

use crate::config::ConfigSource;

/// Stands in for a secret or any free-form value the operator provides: 32 characters.
pub const TOKEN: &str = "compose0placeholder0token0123456";

pub fn load(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    parse(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

pub fn parse(text: &str) -> Result<Value, serde_norway::Error> {
    let mut value: Value = serde_norway::from_str(text)?;
    // `<<: *anchor` merge keys, as docker-compose resolves them.
    value.apply_merge()?;
    Ok(value)
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("expected a scalar, found {other:?}"),
    }
}

/// The program a service's `command` runs (its first word or element, without a directory).
fn program(service: &Value) -> Option<String> {
    let first = match service.get("command")? {
        Value::String(s) => s.split_whitespace().next()?.to_owned(),
        Value::Sequence(list) => scalar(list.first()?),
        _ => return None,
    };
    Some(first.rsplit('/').next().unwrap_or(&first).to_owned())
}

/// The service's `command`, interpolated with `vars` (see [`interpolate`]; a string command is split
/// at whitespace, not as a shell would).
pub fn command(name: &str, service: &Value, vars: Option<&Variables>) -> Vec<String> {
    let words: Vec<String> = match service.get("command") {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Sequence(list)) => list.iter().map(scalar).collect(),
        other => panic!("service `{name}`: `command` is not a string or a list: {other:?}"),
    };
    words
        .iter()
        .map(|word| interpolate("", word, vars))
        .collect()
}

/// `(name, service)` of every service whose command runs `binary`.
pub fn services_running<'a>(compose: &'a Value, binary: &str) -> Vec<(String, &'a Value)> {
    let Some(Value::Mapping(services)) = compose.get("services") else {
        panic!("the compose file has no `services` map");
    };
    services
        .iter()
        .filter(|(_, service)| program(service).as_deref() == Some(binary))
        .map(|(name, service)| (scalar(name), service))
        .collect()
}

/// A value that parses as `key`'s setting, for an interpolation the operator's `.env` would fill in.
fn placeholder(key: &str) -> String {
    match key {
        "POS_CASHIER_TOKENS" => format!("1={TOKEN}"),
        "POS_LOG_FORMAT" => "json".to_owned(),
        "POS_SCHEDULER_ENABLED" => "true".to_owned(),
        _ if ["_PORT", "_ID", "_MS", "_SIZE", "_ATTEMPTS"]
            .iter()
            .any(|suffix| key.ends_with(suffix)) =>
        {
            "1".to_owned()
        }
        _ => TOKEN.to_owned(),
    }
}

fn name_len(text: &str) -> usize {
    text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len())
}

/// Index of the `}` closing a `${`, allowing nested braces in a default.
fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (index, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(index),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The operator's variables (an `.env` file's), by name.
pub type Variables = std::collections::HashMap<String, String>;

/// An `.env` file's `KEY=VALUE` lines as compose reads them: comments and blank lines skipped, an
/// `export ` prefix dropped, a quoted value unquoted, an unquoted value cut at ` #`.
pub fn env_file(path: &Path) -> Variables {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("{}: {line:?} is not KEY=VALUE", path.display()));
            let value = value.trim();
            let value = ['"', '\'']
                .iter()
                .find_map(|q| value.strip_prefix(*q)?.strip_suffix(*q))
                .unwrap_or_else(|| value.split(" #").next().unwrap_or(value).trim_end());
            (key.trim().to_owned(), value.to_owned())
        })
        .collect()
}

/// Compose interpolation of `text` (the value of `key`). With the operator's `vars`, compose's own
/// rules: `$$` is a literal `$`; `${VAR:-d}` gives VAR when set and not empty, else d; `${VAR-d}` VAR
/// when set, else d; `${VAR:?msg}` and `${VAR?msg}` likewise, else compose refuses to start (a panic
/// here); `${VAR:+alt}` gives alt when VAR is set and not empty, `${VAR+alt}` when set, else nothing;
/// `${VAR}` and `$VAR` give VAR, or nothing. Without `vars` (checking what a service accepts, whatever
/// the operator sets), a default is taken as written and anything else is [`placeholder`].
fn interpolate(key: &str, text: &str, vars: Option<&Variables>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = closing_brace(body)
                .unwrap_or_else(|| panic!("{key}: unterminated `${{` in {text:?}"));
            let expression = &body[..end];
            let (name, modifier) = expression.split_at(name_len(expression));
            out.push_str(&substitute(key, name, modifier, vars));
            rest = &body[end + 1..];
        } else {
            let len = name_len(after);
            match (len, vars) {
                (0, Some(_)) => panic!("{key}: `$` starts no variable in {text:?} (write `$$`)"),
                (0, None) => out.push('$'),
                (_, Some(vars)) => out.push_str(vars.get(&after[..len]).map_or("", String::as_str)),
                (_, None) => out.push_str(&placeholder(key)),
            }
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    out
}

/// One `${NAME MODIFIER}` (see [`interpolate`]).
fn substitute(key: &str, name: &str, modifier: &str, vars: Option<&Variables>) -> String {
    let Some(vars) = vars else {
        return match modifier
            .strip_prefix(":-")
            .or_else(|| modifier.strip_prefix('-'))
        {
            Some(default) => interpolate(key, default, None),
            None => placeholder(key),
        };
    };
    let set = vars.get(name);
    let non_empty = set.filter(|v| !v.is_empty());
    let operator = modifier
        .char_indices()
        .find(|(_, c)| !matches!(c, ':'))
        .map_or("", |(i, c)| &modifier[..i + c.len_utf8()]);
    let word = &modifier[operator.len()..];
    let chosen = match operator {
        "" => set.cloned(),
        ":-" => Some(
            non_empty
                .cloned()
                .unwrap_or_else(|| interpolate(key, word, Some(vars))),
        ),
        "-" => Some(
            set.cloned()
                .unwrap_or_else(|| interpolate(key, word, Some(vars))),
        ),
        ":?" => Some(
            non_empty
                .cloned()
                .unwrap_or_else(|| panic!("{key}: {name}: {word}")),
        ),
        "?" => Some(
            set.cloned()
                .unwrap_or_else(|| panic!("{key}: {name}: {word}")),
        ),
        ":+" => non_empty.map(|_| interpolate(key, word, Some(vars))),
        "+" => set.map(|_| interpolate(key, word, Some(vars))),
        other => panic!("{key}: `${{{name}{other}…}}` is not compose interpolation"),
    };
    chosen.unwrap_or_default()
}

/// The service's `POS_` environment entries, interpolated with placeholders (see [`environment`]).
pub fn pos_environment(name: &str, service: &Value) -> Vec<(String, String)> {
    environment(name, service, None)
        .into_iter()
        .filter(|(key, _)| key.starts_with("POS_"))
        .collect()
}

/// The service's environment entries, interpolated with the operator's `vars` (or placeholders, see
/// [`interpolate`]). An entry without a value (`KEY:` or `- KEY`) is passed through from the operator's
/// shell, so it gets that variable, or a placeholder.
pub fn environment(name: &str, service: &Value, vars: Option<&Variables>) -> Vec<(String, String)> {
    let entries: Vec<(String, Option<String>)> = match service.get("environment") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Mapping(map)) => map
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    Value::Null => None,
                    other => Some(scalar(other)),
                };
                (scalar(key), value)
            })
            .collect(),
        Some(Value::Sequence(list)) => list
            .iter()
            .map(|item| {
                let entry = scalar(item);
                match entry.split_once('=') {
                    Some((key, value)) => (key.to_owned(), Some(value.to_owned())),
                    None => (entry, None),
                }
            })
            .collect(),
        Some(other) => {
            panic!("service `{name}`: `environment` is neither a map nor a list: {other:?}")
        }
    };
    entries
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                Some(value) => interpolate(&key, &value, vars),
                None => vars
                    .and_then(|vars| vars.get(&key).cloned())
                    .unwrap_or_else(|| placeholder(&key)),
            };
            (key, value)
        })
        .collect()
}

/// Files named by `POS_CONFIG_FILE` and `<SECRET>_FILE` live in the container: point them at local stand-ins
/// (an empty TOML file, a file holding the secret's placeholder) so that reading them succeeds here.
fn stand_in_files(binary: &str, service: &str, pairs: &mut [(String, String)]) {
    let dir = std::env::temp_dir().join(format!(
        "compose-env-{binary}-{}-{service}",
        std::process::id()
    ));
    for (key, value) in pairs.iter_mut() {
        let contents = if key == "POS_CONFIG_FILE" {
            String::new()
        } else if let Some(secret) = key.strip_suffix("_FILE") {
            placeholder(secret)
        } else {
            continue;
        };
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let path = dir.join(key.as_str());
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        *value = path.display().to_string();
    }
}

/// Asserts that the compose file at `path` runs `binary` in at least one service and gives each only
/// settings `C` reads, with values it accepts; the names of those services.
pub fn assert_services_fit<C: crate::service::ServiceConfig>(
    path: &Path,
    binary: &str,
) -> Vec<String> {
    let (services, problems) =
        check_services(path, binary, |source| C::from_source(source).map(drop));
    assert!(
        !services.is_empty(),
        "{}: no service whose command runs `{binary}`",
        path.display()
    );
    assert!(
        problems.is_empty(),
        "{}:\n  {}",
        path.display(),
        problems.join("\n  ")
    );
    services
}

/// The names of the services that run `binary`, and every problem found with their environments.
pub fn check_services(
    path: &Path,
    binary: &str,
    accept: impl Fn(&ConfigSource) -> anyhow::Result<()>,
) -> (Vec<String>, Vec<String>) {
    let compose = load(path);
    let services = services_running(&compose, binary);
    let mut problems = Vec::new();
    for (name, service) in &services {
        let mut pairs = pos_environment(name, service);
        stand_in_files(binary, name, &mut pairs);
        let source = match ConfigSource::from_pairs(pairs) {
            Ok(source) => source,
            Err(e) => {
                problems.push(format!("service `{name}`: {e:#}"));
                continue;
            }
        };
        match accept(&source) {
            Ok(()) => {
                problems.extend(source.unread_keys().into_iter().map(|key| {
                    format!("service `{name}` sets {key}, which {binary} does not read")
                }))
            }
            Err(e) => problems.push(format!(
                "service `{name}`: {binary} rejects its environment: {e:#}"
            )),
        }
    }
    (
        services.into_iter().map(|(name, _)| name).collect(),
        problems,
    )
}
