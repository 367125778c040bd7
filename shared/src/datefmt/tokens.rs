//! Tokenizing a `SimpleDateFormat` pattern into literals and fields.
//!
//! Java's rule: every unquoted ASCII letter is a pattern letter (reserved, even when Java
//! itself gives it no meaning), a run of the same letter is one field whose length is its
//! "count", `'…'` quotes literal text and `''` is a single quote, inside or outside quotes.
//! Everything else is literal.

use super::DateFormatError;

/// A calendar or clock field a pattern letter stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    /// `G`: `AD` / `BC`.
    Era,
    /// `y`: year of era.
    Year,
    /// `M` / `L`: month, as a number (1–2 letters) or a name (3+ letters).
    Month,
    /// `d`: day of month.
    Day,
    /// `E`: day of week name.
    Weekday,
    /// `a`: `AM` / `PM`.
    AmPm,
    /// `H`: hour 0–23.
    Hour0To23,
    /// `k`: hour 1–24.
    Hour1To24,
    /// `K`: hour 0–11.
    Hour0To11,
    /// `h`: hour 1–12.
    Hour1To12,
    /// `m`: minute.
    Minute,
    /// `s`: second.
    Second,
    /// `S`: millisecond, as a plain number (Java's `S` is not a fraction).
    Millisecond,
    /// `z`: zone name (`PST`, `GMT-08:00`; 4+ letters: `Pacific Standard Time`).
    ZoneName,
    /// `Z`: RFC 822 offset `-0800`.
    Rfc822Offset,
    /// `X`, `XX`, `XXX`: ISO 8601 offset `-08`, `-0800`, `-08:00`, `Z` for zero.
    IsoOffset,
}

impl Field {
    fn from_letter(letter: char) -> Option<Field> {
        Some(match letter {
            'G' => Field::Era,
            'y' => Field::Year,
            'M' | 'L' => Field::Month,
            'd' => Field::Day,
            'E' => Field::Weekday,
            'a' => Field::AmPm,
            'H' => Field::Hour0To23,
            'k' => Field::Hour1To24,
            'K' => Field::Hour0To11,
            'h' => Field::Hour1To12,
            'm' => Field::Minute,
            's' => Field::Second,
            'S' => Field::Millisecond,
            'z' => Field::ZoneName,
            'Z' => Field::Rfc822Offset,
            'X' => Field::IsoOffset,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Token {
    Literal(String),
    Field { field: Field, count: usize },
}

/// Split `pattern` into tokens; adjacent literal text is merged into one token.
pub(super) fn tokenize(pattern: &str) -> Result<Vec<Token>, DateFormatError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                literal.push('\'');
                i += 2;
                continue;
            }
            let opened_at = i;
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(DateFormatError(format!(
                            "unterminated quote opened at position {opened_at} in date pattern `{pattern}`"
                        )));
                    }
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        literal.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        literal.push(other);
                        i += 1;
                    }
                }
            }
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while chars.get(i) == Some(&c) {
                i += 1;
            }
            let count = i - start;
            let field = Field::from_letter(c).ok_or_else(|| unknown_letter(c, start, pattern))?;
            if field == Field::IsoOffset && count > 3 {
                return Err(DateFormatError(format!(
                    "`{}` at position {start} in date pattern `{pattern}`: ISO offsets are X, XX or XXX",
                    "X".repeat(count)
                )));
            }
            if !literal.is_empty() {
                tokens.push(Token::Literal(std::mem::take(&mut literal)));
            }
            tokens.push(Token::Field { field, count });
        } else {
            literal.push(c);
            i += 1;
        }
    }
    if !literal.is_empty() {
        tokens.push(Token::Literal(literal));
    }
    Ok(tokens)
}

/// The error for a reserved letter we do not support, with a hint for the classic mix-ups
/// (`YYYY` and `DD` look right and render right for most of the year, then go wrong).
fn unknown_letter(letter: char, position: usize, pattern: &str) -> DateFormatError {
    let meaning = match letter {
        'Y' => " (week year; did you mean `y`?)",
        'D' => " (day of year; did you mean `d`?)",
        'F' => " (day of week in month)",
        'w' => " (week of year)",
        'W' => " (week of month)",
        'u' => " (day number of week)",
        'n' => " (nanosecond; use `S` for milliseconds)",
        _ => "",
    };
    DateFormatError(format!(
        "unsupported pattern letter `{letter}`{meaning} at position {position} in date pattern \
         `{pattern}` (letters are reserved; quote literal text, e.g. 'T')"
    ))
}
