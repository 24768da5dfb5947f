//! `${VAR}` / `$VAR` expansion with the semantics of Go's `os.ExpandEnv`.

use std::collections::HashMap;

/// Replaces `${NAME}` and `$NAME` in `text` with `env[NAME]`, or with the
/// empty string when `NAME` is not set. Follows Go's `os.Expand` exactly:
/// a name is a run of ASCII letters, digits and `_`, or one of the special
/// characters `*#$@!?-` or a digit; `$` followed by anything else is kept
/// verbatim; an unterminated `${` or an empty `${}` is dropped.
pub(crate) fn expand_env(text: &str, env: &HashMap<String, String>) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    // Start of the not-yet-copied literal run.
    let mut lit = 0;
    let mut j = 0;
    while j < bytes.len() {
        if bytes[j] == b'$' && j + 1 < bytes.len() {
            out.push_str(&text[lit..j]);
            let (name, width) = shell_name(&text[j + 1..]);
            match name {
                None if width > 0 => {} // bad syntax: eat it
                None => out.push('$'),  // no name: keep the dollar
                Some(name) => {
                    if let Some(value) = env.get(name) {
                        out.push_str(value);
                    }
                }
            }
            j += 1 + width;
            lit = j;
        } else {
            j += 1;
        }
    }
    out.push_str(&text[lit..]);
    out
}

fn is_special(b: u8) -> bool {
    matches!(
        b,
        b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9'
    )
}

fn is_name_byte(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric()
}

/// Go's `getShellName`: the name after a `$` and the number of bytes it
/// occupies. `(None, w > 0)` means invalid syntax to be eaten.
fn shell_name(s: &str) -> (Option<&str>, usize) {
    let b = s.as_bytes();
    if b.first() == Some(&b'{') {
        if b.len() > 2 && is_special(b[1]) && b[2] == b'}' {
            return (Some(&s[1..2]), 3);
        }
        for (i, &c) in b.iter().enumerate().skip(1) {
            if c == b'}' {
                if i == 1 {
                    return (None, 2);
                }
                return (Some(&s[1..i]), i + 1);
            }
        }
        return (None, 1);
    }
    if b.first().is_some_and(|&c| is_special(c)) {
        return (Some(&s[0..1]), 1);
    }
    let n = b.iter().take_while(|&&c| is_name_byte(c)).count();
    if n == 0 {
        (None, 0)
    } else {
        (Some(&s[..n]), n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> HashMap<String, String> {
        [("HOME", "/root"), ("PORT", "9000"), ("A_B", "x")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn expands_like_go() {
        let e = env();
        assert_eq!(expand_env("${HOME}/data", &e), "/root/data");
        assert_eq!(expand_env("$HOME/data", &e), "/root/data");
        assert_eq!(expand_env("port: $PORT", &e), "port: 9000");
        assert_eq!(expand_env("$A_B-$A_B", &e), "x-x");
        assert_eq!(expand_env("${MISSING}|$MISSING|", &e), "||");
        assert_eq!(expand_env("cost $ 5 and $", &e), "cost $ 5 and $");
        assert_eq!(expand_env("a ${} b", &e), "a  b");
        assert_eq!(expand_env("a ${HOME", &e), "a HOME");
        assert_eq!(expand_env("$1x", &e), "x");
        assert_eq!(expand_env("naïve ${HOME} ü", &e), "naïve /root ü");
        assert_eq!(expand_env("no vars", &e), "no vars");
    }
}
