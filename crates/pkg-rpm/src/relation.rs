//! Relation strings (`systemd`, `glibc >= 2.17`, `dkms (>= 2.1)`) as rpm dependencies.

use rpm::Dependency;

use crate::RpmError;

/// Parses one relation entry. Accepts RPM's `name OP version` and DEB's `name (OP version)`;
/// DEB's `<<`/`>>` mean `<`/`>`.
pub(crate) fn parse_relation(field: &'static str, given: &str) -> Result<Dependency, RpmError> {
    let bad = || RpmError::InvalidRelation {
        field,
        given: given.to_owned(),
    };
    let text = given.trim();
    let (name, rest) = match text.find(|c: char| c.is_whitespace() || c == '(') {
        Some(i) => (&text[..i], text[i..].trim()),
        None => (text, ""),
    };
    if name.is_empty() || name.chars().any(|c| c.is_control() || c == ',') {
        return Err(bad());
    }
    if rest.is_empty() {
        return Ok(Dependency::any(name));
    }
    let rest = match rest.strip_prefix('(') {
        Some(inner) => inner.strip_suffix(')').ok_or_else(bad)?.trim(),
        None => rest,
    };
    let (op, version) = rest
        .split_once(char::is_whitespace)
        .map(|(op, v)| (op, v.trim()))
        .ok_or_else(bad)?;
    if version.is_empty() || version.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    Ok(match op {
        "=" | "==" => Dependency::eq(name, version),
        "<" | "<<" => Dependency::less(name, version),
        "<=" => Dependency::less_eq(name, version),
        ">" | ">>" => Dependency::greater(name, version),
        ">=" => Dependency::greater_eq(name, version),
        _ => return Err(bad()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rpm::DependencyFlags;

    #[test]
    fn rpm_and_deb_spellings() {
        let d = parse_relation("requires", "systemd").unwrap();
        assert_eq!(
            (d.name.as_str(), d.flags),
            ("systemd", DependencyFlags::ANY)
        );
        let d = parse_relation("requires", "glibc >= 2.17").unwrap();
        assert_eq!((d.flags, d.version.as_str()), (DependencyFlags::GE, "2.17"));
        let d = parse_relation("conflicts", "falco (<< 0.30)").unwrap();
        assert_eq!(
            (d.flags, d.version.as_str()),
            (DependencyFlags::LESS, "0.30")
        );
        for bad in ["", "a b c", "a (>= 1", "a ~ 1", "a, b", "a >="] {
            assert!(parse_relation("requires", bad).is_err(), "{bad:?}");
        }
    }
}
