//! Checking base64 text (`kernelconfigdata`) without decoding it.

/// Why a string is not standard base64 (RFC 4648 alphabet, `=` padding).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Base64Error {
    /// A character outside the alphabet.
    #[error("character {character:?} at offset {offset} is not base64")]
    BadCharacter {
        /// The character.
        character: char,
        /// Its byte offset.
        offset: usize,
    },
    /// The length (without whitespace) is not a multiple of four, or padding is misplaced.
    #[error("the length or the `=` padding is wrong ({length} characters without whitespace)")]
    BadLength {
        /// Characters counted, whitespace excluded.
        length: usize,
    },
}

/// Checks that `text` is standard base64; line breaks and spaces are ignored, as decoders do.
pub(crate) fn check(text: &str) -> Result<(), Base64Error> {
    let mut length = 0usize;
    let mut padding = 0usize;
    for (offset, byte) in text.bytes().enumerate() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' if padding == 0 => length += 1,
            b'=' => {
                padding += 1;
                length += 1;
            }
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ => {
                return Err(Base64Error::BadCharacter {
                    character: text[offset..].chars().next().unwrap_or('?'),
                    offset,
                })
            }
        }
    }
    if length == 0 || length % 4 != 0 || padding > 2 {
        return Err(Base64Error::BadLength { length });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses() {
        assert!(check("Q09ORklHX1g9eQo=").is_ok());
        assert!(check("Q09O\nRklH").is_ok());
        assert!(check("").is_err());
        assert!(check("abc").is_err());
        assert!(check("ab=c").is_err());
        assert_eq!(
            check("ab!c"),
            Err(Base64Error::BadCharacter {
                character: '!',
                offset: 2
            })
        );
    }
}
