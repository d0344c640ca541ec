//! The error shared by every identifier newtype of this crate.

/// A string refused by one of the identifier newtypes ([`DriverVersion`](crate::DriverVersion),
/// [`KernelRelease`](crate::KernelRelease), [`KernelVersion`](crate::KernelVersion),
/// [`Target`](crate::Target)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} is not a valid {what}: {reason}")]
pub struct InvalidIdentifier {
    /// What was being parsed, e.g. `"kernel release"`.
    pub what: &'static str,
    /// The string that was given.
    pub given: String,
    /// Which rule it breaks.
    pub reason: &'static str,
}

impl InvalidIdentifier {
    pub(crate) fn new(what: &'static str, given: &str, reason: &'static str) -> Self {
        InvalidIdentifier {
            what,
            given: given.to_owned(),
            reason,
        }
    }
}

/// Implements `Display`, `AsRef<str>`, `TryFrom<&str>`, `Serialize` and `Deserialize` for a
/// newtype whose `FromStr` and `as_str` exist.
macro_rules! string_newtype {
    ($name:ident) => {
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl TryFrom<&str> for $name {
            type Error = $crate::InvalidIdentifier;

            fn try_from(s: &str) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use string_newtype;

/// Characters no identifier may contain: they would break file names, object keys or YAML.
pub(crate) fn has_forbidden_char(s: &str) -> bool {
    s.chars()
        .any(|c| c == '/' || c == '\\' || c.is_whitespace() || c.is_control())
}
