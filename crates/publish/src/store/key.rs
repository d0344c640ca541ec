//! What a valid object key is.

use crate::error::PublishError;

/// Checks that `key` is a relative key of non-empty segments, none `.` or `..`.
pub(crate) fn check_key(key: &str) -> Result<(), PublishError> {
    let invalid = |reason| PublishError::InvalidKey {
        key: key.to_owned(),
        reason,
    };
    if key.is_empty() {
        return Err(invalid("empty"));
    }
    if key.starts_with('/') {
        return Err(invalid("absolute; keys are relative to the repository"));
    }
    for segment in key.split('/') {
        match segment {
            "" => return Err(invalid("has an empty segment")),
            "." | ".." => return Err(invalid("has a '.' or '..' segment")),
            _ if segment.contains('#') || segment.chars().any(char::is_control) => {
                return Err(invalid("has '#' or a control character"))
            }
            _ => {}
        }
    }
    Ok(())
}
