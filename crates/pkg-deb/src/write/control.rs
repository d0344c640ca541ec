//! Rendering the `control` file from a package description.

use falco_artifacts_core::package::{Format, PackageSpec};

use crate::error::BuildError;

fn single_line(field: &'static str, value: &str) -> Result<(), BuildError> {
    let problem = if value.trim().is_empty() {
        Some("expected a non-empty value")
    } else if value.chars().any(char::is_control) {
        Some("expected one line without control characters")
    } else if value != value.trim() {
        Some("expected no leading or trailing spaces")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(BuildError::ControlField {
            field,
            value: value.to_owned(),
            problem,
        }),
        None => Ok(()),
    }
}

/// The `control` file, fields in dpkg's usual order.
pub(crate) fn render(spec: &PackageSpec, installed_size_kib: u64) -> Result<String, BuildError> {
    let mut out = String::new();
    let mut field = |name: &'static str, value: &str| -> Result<(), BuildError> {
        single_line(name, value)?;
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push('\n');
        Ok(())
    };
    field("Package", &spec.name)?;
    field("Version", &spec.version.deb_version())?;
    field("Architecture", spec.arch.deb_name())?;
    field("Maintainer", &spec.maintainer)?;
    field("Installed-Size", &installed_size_kib.to_string())?;
    let relations = spec.relations_for(Format::Deb);
    for (name, list) in [
        ("Pre-Depends", &relations.pre_depends),
        ("Depends", &relations.depends),
        ("Recommends", &relations.recommends),
        ("Suggests", &relations.suggests),
        ("Breaks", &relations.breaks),
        ("Conflicts", &relations.conflicts),
        ("Provides", &relations.provides),
        ("Replaces", &relations.replaces),
    ] {
        if !list.is_empty() {
            let items: Vec<&str> = list.iter().map(|r| r.trim()).collect();
            field(name, &items.join(", "))?;
        }
    }
    for (name, value) in [
        ("Section", &spec.section),
        ("Priority", &spec.priority),
        ("Homepage", &spec.homepage),
    ] {
        if let Some(value) = value {
            field(name, value)?;
        }
    }
    field("Description", &spec.summary)?;
    out.push_str(&fold_description(&spec.description)?);
    Ok(out)
}

/// The extended description as continuation lines: one leading space each, ` .` for an
/// empty line, trailing blank lines dropped.
fn fold_description(body: &str) -> Result<String, BuildError> {
    let mut out = String::new();
    for line in body.trim_end().lines() {
        let line = line.trim_end();
        if line.chars().any(|c| c.is_control() && c != '\t') {
            return Err(BuildError::ControlField {
                field: "Description",
                value: line.to_owned(),
                problem: "expected no control characters in the description",
            });
        }
        if line.is_empty() {
            out.push_str(" .\n");
        } else {
            out.push(' ');
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Control;
    use falco_artifacts_core::package::{load_manifest_str, ManifestOptions};

    fn spec(extra: &str) -> PackageSpec {
        let yaml = format!(
            "name: falco\nversion: 0.45.0-36+1307474\narch: aarch64\nmaintainer: A <a@b>\nlicense: Apache-2.0\nsource_date: 1\n{extra}"
        );
        load_manifest_str(
            &yaml,
            std::path::Path::new("."),
            &ManifestOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn golden_control() {
        let s = spec(
            "description: |\n  Falco - security\n  First paragraph.\n\n    indented verbatim\n  Last.\nhomepage: https://falco.org\nsection: utils\nrelations: { depends: [libc6 (>= 2.28)] }\noverrides: { deb: { suggests: [dkms], provides: [falco-bin] } }\n",
        );
        let text = render(&s, 42).unwrap();
        assert_eq!(
            text,
            "Package: falco\n\
             Version: 0.45.0-36+1307474\n\
             Architecture: arm64\n\
             Maintainer: A <a@b>\n\
             Installed-Size: 42\n\
             Depends: libc6 (>= 2.28)\n\
             Suggests: dkms\n\
             Provides: falco-bin\n\
             Section: utils\n\
             Homepage: https://falco.org\n\
             Description: Falco - security\n \
             First paragraph.\n \
             .\n   \
             indented verbatim\n \
             Last.\n"
        );
        let back = Control::parse(&text).unwrap();
        assert_eq!(back.architecture(), "arm64");
        assert_eq!(
            back.long_description().unwrap(),
            "First paragraph.\n\n  indented verbatim\nLast."
        );
    }

    #[test]
    fn multi_line_single_fields_are_refused() {
        let mut s = spec("description: d\n");
        s.maintainer = "A <a@b>\nInjected: yes".into();
        match render(&s, 1).unwrap_err() {
            BuildError::ControlField { field, .. } => assert_eq!(field, "Maintainer"),
            other => panic!("{other:?}"),
        }
    }
}
