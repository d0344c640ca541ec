//! A tiny glob for kernel releases: `*` any run of characters, `?` one character.

/// A pattern such as `5.15.*-aws` matched against whole strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    pattern: Vec<char>,
}

impl Glob {
    /// A glob; every string is a valid pattern.
    pub(crate) fn new(pattern: &str) -> Self {
        Glob {
            pattern: pattern.chars().collect(),
        }
    }

    /// Whether `text` matches the whole pattern.
    pub(crate) fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let (mut p, mut t) = (0, 0);
        // Where the last `*` was, and the text position it currently covers up to.
        let mut backtrack: Option<(usize, usize)> = None;
        while t < text.len() {
            match self.pattern.get(p) {
                Some('*') => {
                    backtrack = Some((p, t));
                    p += 1;
                }
                Some(&c) if c == '?' || c == text[t] => {
                    p += 1;
                    t += 1;
                }
                _ => match backtrack {
                    Some((star, covered)) => {
                        p = star + 1;
                        t = covered + 1;
                        backtrack = Some((star, covered + 1));
                    }
                    None => return false,
                },
            }
        }
        self.pattern[p..].iter().all(|&c| c == '*')
    }
}

impl std::fmt::Display for Glob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.pattern.iter().try_for_each(|c| write!(f, "{c}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_doc_example() {
        let glob = Glob::new("5.1?.*-aws");
        assert!(glob.matches("5.15.0-1019-aws"));
        assert!(!glob.matches("5.4.0-1019-aws"));
    }

    #[test]
    fn globs() {
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("a*b*c").matches("axxbyyc"));
        assert!(!Glob::new("a*b*c").matches("axxbyy"));
        assert!(Glob::new("*-aws").matches("5.4.0-1-aws"));
        assert!(!Glob::new("5.4").matches("5.4.0"));
        assert!(Glob::new("?.?").matches("5.4"));
    }
}
