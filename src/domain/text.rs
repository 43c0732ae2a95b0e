//! Free text from requests: one type for every free-text field of every request. The text is
//! normalised to Unicode NFC (so `A` + combining ring and `Å` are one letter, for lengths,
//! comparisons, both databases and the PDF alike), trimmed, and refused when it holds control
//! characters (tabs and line breaks only in multi-line fields; NUL never, which PostgreSQL
//! cannot store), bidirectional overrides (which make text read otherwise than it is stored,
//! "Trojan Source", CVE-2021-42574), or more characters than the field allows, counted after
//! NFC. Every limit is documented on the proto field it applies to.

use unicode_normalization::UnicodeNormalization;

use super::FieldViolation;

/// Whether a text may span lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lines {
    /// One line: a name, a place, a reference.
    One,
    /// Several lines: the patient's words, minutes, reasons. Line breaks become `\n`.
    Many,
}

/// The most UTF-8 bytes read per character allowed: four bytes a character, times the
/// characters that NFC can compose into one (a letter with several combining marks). Longer
/// input is refused before it is normalised, so the work is bounded by the field's limit.
const BYTES_PER_CHAR: usize = 16;

/// Whether a text must be given: a required one may not be blank.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// It must hold a visible character.
    Required,
    /// It may be empty.
    Optional,
}

pub use Presence::{Optional, Required};

/// Validates free text of at most `max` characters (after NFC); a `Required` one may not be
/// blank.
/// Returns it in NFC, trimmed, with line breaks as `\n`.
pub fn text(
    field: &str,
    value: &str,
    max: usize,
    lines: Lines,
    required: Presence,
) -> Result<String, FieldViolation> {
    let too_long = || FieldViolation::new(field, format!("must be at most {max} characters"));
    if value.len() > max.saturating_mul(BYTES_PER_CHAR) {
        return Err(too_long());
    }
    let normalised: String = value.nfc().collect();
    let normalised = match lines {
        Lines::One => normalised,
        Lines::Many => {
            normalised.replace("\r\n", "\n").replace(['\r', '\u{2028}', '\u{2029}'], "\n")
        }
    };
    let trimmed = normalised.trim();
    if required == Required && !trimmed.chars().any(is_visible) {
        return Err(FieldViolation::new(field, "must not be empty"));
    }
    if trimmed.chars().count() > max {
        return Err(too_long());
    }
    let allowed_control = |c: char| lines == Lines::Many && (c == '\n' || c == '\t');
    let line_break = |c: char| matches!(c, '\u{2028}' | '\u{2029}');
    if trimmed.chars().any(|c| (c.is_control() && !allowed_control(c)) || line_break(c)) {
        return Err(FieldViolation::new(
            field,
            match lines {
                Lines::One => "must not contain control characters or line breaks",
                Lines::Many => {
                    "must not contain control characters other than tabs and line breaks"
                }
            },
        ));
    }
    if trimmed.chars().any(is_bidi_override) {
        return Err(FieldViolation::new(
            field,
            "must not contain bidirectional embeddings, overrides or isolates",
        ));
    }
    if trimmed.chars().any(|c| is_noncharacter(c) || is_tag(c)) {
        return Err(FieldViolation::new(field, "must not contain noncharacters or tag characters"));
    }
    Ok(trimmed.to_owned())
}

/// Validates multi-line free text: `text` with `Lines::Many`.
pub fn bounded(
    field: &str,
    value: &str,
    max: usize,
    required: Presence,
) -> Result<String, FieldViolation> {
    text(field, value, max, Lines::Many, required)
}

/// Validates one line of free text: `text` with `Lines::One`.
pub fn line(
    field: &str,
    value: &str,
    max: usize,
    required: Presence,
) -> Result<String, FieldViolation> {
    text(field, value, max, Lines::One, required)
}

/// Unicode's noncharacters (U+FDD0–U+FDEF and the last two code points of every plane), which
/// are never meant for interchange.
fn is_noncharacter(c: char) -> bool {
    let cp = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&cp) || cp & 0xFFFE == 0xFFFE
}

/// The tag characters (U+E0000–U+E007F), invisible text that rides along unseen.
fn is_tag(c: char) -> bool {
    ('\u{E0000}'..='\u{E007F}').contains(&c)
}

/// Whether `c` shows as something: not a space, a zero-width or format character, or a
/// combining mark on its own, so a required text of only those counts as empty.
fn is_visible(c: char) -> bool {
    !c.is_whitespace()
        && !c.is_control()
        && !matches!(
            c,
            '\u{200B}'..='\u{200F}'
                | '\u{2060}'..='\u{2064}'
                | '\u{FEFF}'
                | '\u{034F}'
                | '\u{180E}'
                | '\u{0300}'..='\u{036F}'
                | '\u{1AB0}'..='\u{1AFF}'
                | '\u{1DC0}'..='\u{1DFF}'
                | '\u{20D0}'..='\u{20FF}'
                | '\u{FE20}'..='\u{FE2F}'
        )
}

/// The bidirectional formatting characters that change how the text around them is ordered:
/// embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069). The marks U+200E and
/// U+200F, which right-to-left scripts need, are allowed.
fn is_bidi_override(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_form_of_each_letter() {
        let decomposed = "A\u{030A}se og \u{00C5}se";
        let text = bounded("f", decomposed, 100, Required).unwrap();
        assert_eq!(text, "\u{00C5}se og \u{00C5}se");
        // Lengths count letters after composition: five decomposed letters fit in five.
        assert!(line("f", &"a\u{0301}".repeat(5), 5, Required).is_ok());
        assert!(line("f", "Sámi Čđŋšŧž", 11, Required).is_ok());
    }

    #[test]
    fn control_characters_by_kind_of_field() {
        for bad in ["a\u{0}b", "a\u{1b}b", "a\u{7f}b", "a\u{85}b"] {
            assert!(line("f", bad, 10, Required).is_err(), "{bad:?}");
            assert!(bounded("f", bad, 10, Required).is_err(), "{bad:?}");
        }
        assert!(line("f", "a\nb", 10, Required).is_err());
        assert!(line("f", "a\tb", 10, Required).is_err());
        assert_eq!(bounded("f", "a\r\nb\rc\td", 10, Required).unwrap(), "a\nb\nc\td");
        assert!(line("f", "abc\u{202E}fed", 10, Required).is_err());
        assert!(line("f", "\u{200F}שלום", 10, Required).is_ok());
    }

    #[test]
    fn blank_long_and_huge() {
        assert!(line("f", "   ", 10, Required).is_err());
        for invisible in ["\u{200B}", "\u{FEFF}\u{200B}", "\u{0301}\u{0301}", "\u{2060}"] {
            assert!(line("f", invisible, 10, Required).is_err(), "{invisible:?}");
        }
        for odd in ["a\u{2028}b", "a\u{FFFE}", "a\u{FDD0}", "a\u{10FFFF}", "a\u{E0041}"] {
            assert!(line("f", odd, 10, Optional).is_err(), "{odd:?}");
        }
        assert_eq!(bounded("f", "a\u{2028}b\u{2029}c", 10, Required).unwrap(), "a\nb\nc");
        assert_eq!(line("f", "   ", 10, Optional).unwrap(), "");
        assert!(line("f", &"ø".repeat(11), 10, Required).is_err());
        assert!(line("f", &"ø".repeat(10), 10, Required).is_ok());
        let err = line("f", &"x".repeat(1_000_000), 10, Required).unwrap_err();
        assert_eq!(err.description, "must be at most 10 characters");
    }
}
