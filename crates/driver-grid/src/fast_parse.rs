//! A reader for the plain shape nearly every driverkit config has, many times faster than a
//! full YAML parser. It accepts only what it fully understands — top-level `key: scalar`,
//! `output:` with indented `module:`/`probe:`, `kernelurls` as a flow or block list of
//! scalars — and answers `None` for anything else (anchors, escapes, comments after values,
//! unknown keys, nulls, booleans, …), which then goes through [`read_yaml`](crate::parse::read_yaml).

use crate::parse::RawConfig;

/// Reads `text` if it has the plain shape; `None` means "ask the YAML parser".
pub(crate) fn read(text: &str) -> Option<RawConfig> {
    if text.contains('\t') || text.starts_with('\u{feff}') || text.chars().any(not_yaml_printable) {
        return None;
    }
    // YAML 1.1's other line breaks (NEL, LS, PS): libyaml ends a line there, so a scalar
    // holding one is two lines to serde_yaml and one to a reader splitting at `\n`.
    if text.contains(['\u{85}', '\u{2028}', '\u{2029}']) {
        return None;
    }
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    if lines.iter().any(|l| l.contains('\r')) {
        return None;
    }
    let mut raw = RawConfig::default();
    let mut seen: Vec<&str> = Vec::with_capacity(8);
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if is_blank_or_comment(line) {
            continue;
        }
        if line.starts_with([' ', '-', '%', '#']) || line.starts_with("...") {
            return None;
        }
        let (key, value) = split_key(line)?;
        if seen.contains(&key) {
            return None;
        }
        seen.push(key);
        raw.lines.push((key.to_owned(), i));
        match key {
            "kernelversion" | "kernelrelease" | "target" | "architecture" | "driverversion"
            | "kernelconfigdata" => {
                let value = scalar(value, true)?;
                let slot = match key {
                    "kernelversion" => &mut raw.kernel_version,
                    "kernelrelease" => &mut raw.kernel_release,
                    "target" => &mut raw.target,
                    "architecture" => &mut raw.architecture,
                    "driverversion" => &mut raw.driver_version,
                    _ => &mut raw.kernel_config_data,
                };
                *slot = Some(value.to_owned());
            }
            "output" => {
                if !value.is_empty() {
                    return None;
                }
                let mut indent = None;
                while let Some(next) = lines.get(i) {
                    if is_blank_or_comment(next) {
                        i += 1;
                        continue;
                    }
                    let trimmed = next.trim_start_matches(' ');
                    let depth = next.len() - trimmed.len();
                    if depth == 0 {
                        break;
                    }
                    if *indent.get_or_insert(depth) != depth {
                        return None;
                    }
                    i += 1;
                    let (nested, value) = split_key(trimmed)?;
                    let slot = match nested {
                        "module" => &mut raw.module_output,
                        "probe" => &mut raw.probe_output,
                        _ => return None,
                    };
                    if slot.is_some() || value.is_empty() {
                        return None;
                    }
                    *slot = Some(scalar(value, false)?.to_owned());
                    raw.lines.push((format!("output.{nested}"), i));
                }
            }
            "kernelurls" => {
                if let Some(list) = value.strip_prefix('[') {
                    let inner = list.strip_suffix(']')?.trim();
                    if !inner.is_empty() {
                        for item in inner.split(',') {
                            let item = item.trim();
                            if item.contains(['[', ']', '{', '}']) {
                                return None;
                            }
                            raw.kernel_urls.push(scalar(item, false)?.to_owned());
                        }
                    }
                } else if value.is_empty() {
                    let mut indent = None;
                    while let Some(next) = lines.get(i) {
                        if is_blank_or_comment(next) {
                            i += 1;
                            continue;
                        }
                        let trimmed = next.trim_start_matches(' ');
                        let Some(item) = trimmed.strip_prefix("- ") else {
                            break;
                        };
                        let depth = next.len() - trimmed.len();
                        if *indent.get_or_insert(depth) != depth {
                            return None;
                        }
                        i += 1;
                        raw.kernel_urls.push(scalar(item.trim(), false)?.to_owned());
                    }
                } else {
                    return None;
                }
            }
            _ => return None,
        }
    }
    Some(raw)
}

/// A character YAML does not allow in a stream (NUL and the other controls, DEL, C1, the
/// non-characters): the YAML parser refuses the config, so the fast reader must not accept it.
fn not_yaml_printable(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

fn is_blank_or_comment(line: &str) -> bool {
    let trimmed = line.trim_start_matches(' ');
    trimmed.is_empty() || trimmed.starts_with('#')
}

/// `key: value` or `key:`, with a plain key.
fn split_key(line: &str) -> Option<(&str, &str)> {
    let colon = line.find(':')?;
    let key = &line[..colon];
    let rest = &line[colon + 1..];
    let key_ok = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if !key_ok || !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    Some((key, rest.trim_matches(' ')))
}

/// A quoted scalar without escapes, or a plain scalar YAML reads as a string (or, where
/// `numbers_ok`, as a number the caller keeps as written).
fn scalar(value: &str, numbers_ok: bool) -> Option<&str> {
    if let Some(inner) = value.strip_prefix('"') {
        let inner = inner.strip_suffix('"')?;
        return (!inner.contains(['"', '\\'])).then_some(inner);
    }
    if let Some(inner) = value.strip_prefix('\'') {
        let inner = inner.strip_suffix('\'')?;
        return (!inner.contains('\'')).then_some(inner);
    }
    let first = value.chars().next()?;
    if "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || value.contains(": ")
        || value.contains(" #")
        || value.ends_with(':')
        || matches!(
            value,
            "null" | "Null" | "NULL" | "~" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
        )
    {
        return None;
    }
    let numeric = first.is_ascii_digit() || first == '.' || first == '+';
    if numeric && (!numbers_ok || value.len() >= 128 || int_yaml_cannot_hold(value)) {
        return None;
    }
    Some(value)
}

/// An integer (decimal, `0x`, `0o`) that serde_yaml reads as a number it cannot hold (past
/// 64 bits): it refuses the whole config, so the fast reader must not accept it as text.
fn int_yaml_cannot_hold(value: &str) -> bool {
    let digits = value.strip_prefix('+').unwrap_or(value);
    let (digits, radix) = match (digits.strip_prefix("0x"), digits.strip_prefix("0o")) {
        (Some(hex), _) => (hex, 16),
        (_, Some(octal)) => (octal, 8),
        _ => (digits, 10),
    };
    !digits.is_empty()
        && digits.chars().all(|c| c.is_digit(radix))
        && u64::from_str_radix(digits, radix).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::read_yaml;

    /// Every input the fast reader accepts must read exactly as the YAML parser reads it.
    fn same(text: &str) {
        let fast = read(text).unwrap_or_else(|| panic!("fast reader refused:\n{text}"));
        let slow = read_yaml(text).unwrap();
        assert_eq!(fast.kernel_version, slow.kernel_version, "{text}");
        assert_eq!(fast.kernel_release, slow.kernel_release, "{text}");
        assert_eq!(fast.target, slow.target, "{text}");
        assert_eq!(fast.architecture, slow.architecture, "{text}");
        assert_eq!(fast.driver_version, slow.driver_version, "{text}");
        assert_eq!(fast.kernel_config_data, slow.kernel_config_data, "{text}");
        assert_eq!(fast.kernel_urls, slow.kernel_urls, "{text}");
        assert_eq!(fast.module_output, slow.module_output, "{text}");
        assert_eq!(fast.probe_output, slow.probe_output, "{text}");
        assert!(slow.extra.is_empty());
        for (key, line) in &fast.lines {
            assert!(
                slow.lines.contains(&(key.clone(), *line)),
                "{key}:{line} in {text}"
            );
        }
    }

    #[test]
    fn agrees_with_the_yaml_parser() {
        same("kernelversion: 38~20.04.1\nkernelrelease: 5.15.0-1019-aws\ntarget: ubuntu\n");
        same(
            "kernelversion: 1_1.27.0\r\nkernelrelease: \"5.15.160\"\r\ntarget: 'bottlerocket'\r\n",
        );
        same("kernelversion: 1\nkernelrelease: 4.18.0-348.7.1.el8_5.x86_64\ntarget: centos\narchitecture: amd64\n\
              output:\n  module: output/a/b.ko\n  probe: \"\"\nkernelurls:\n  - https://x/a.rpm\n  - 'https://x/b.rpm'\n");
        same("kernelversion: 2\nkernelrelease: 5.4\ntarget: ol\noutput:\n    probe: output/x.o\nkernelurls: [\"https://x/a\", https://x/b]\n");
        same("# a comment\nkernelversion: 1.10\nkernelrelease: 5.10.0\n\ntarget: debian\nkernelurls: []\ndriverversion: 9.1.0+driver\n\
              kernelurls2_is_not_here: no\n".replace("kernelurls2_is_not_here: no\n", "").as_str());
        same("kernelversion: 1\nkernelrelease: 5.10.0\ntarget: debian\nkernelurls:\n- https://x/a\n- https://x/b\noutput:\n");
        same("kernelversion: 1\nkernelrelease: 5.10.0\ntarget: vanilla\nkernelconfigdata: Q09ORklHX1g9eQo=\n");
    }

    #[test]
    fn agrees_on_every_fixture_it_accepts() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut stack = vec![root];
        let mut accepted = 0;
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    if read(&text).is_some() {
                        same(&text);
                        accepted += 1;
                    }
                }
            }
        }
        // All but the broken one, the one with an unknown key and the output-less one.
        assert!(accepted >= 40, "{accepted}");
    }

    #[test]
    fn refuses_what_it_does_not_fully_understand() {
        for text in [
            "kernelversion: 1 # comment\nkernelrelease: 5.4\ntarget: debian\n",
            "kernelversion: \"a\\tb\"\nkernelrelease: 5.4\ntarget: debian\n",
            "kernelversion: &a 1\nkernelrelease: *a\ntarget: debian\n",
            "kernelversion: 1\nkernelrelease: 5.4\ntarget: debian\nbuilderimage: x\n",
            "kernelversion: 1\nkernelrelease: 5.4\ntarget: debian\noutput: {module: a}\n",
            "kernelversion: 1\nkernelrelease: 5.4\ntarget: debian\noutput:\n  module: 3\n",
            "kernelversion: 1\nkernelrelease: 5.4\ntarget: null\n",
            "kernelversion: 1\nkernelversion: 2\nkernelrelease: 5.4\ntarget: debian\n",
            "---\nkernelversion: 1\n",
            "kernelversion: 1\nkernelrelease: 5.4\ntarget: debian\nkernelurls: [\"a, b\"]\n",
            "kernelversion: 1\nkernelrelease: 5.4\ntarget: debian\nkernelurls: [unclosed\n",
            "kernelversion: 1\nkernelrelease: >\n  5.4\ntarget: debian\n",
        ] {
            assert!(read(text).is_none(), "{text}");
        }
    }
}
