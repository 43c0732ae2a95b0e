//! The patient's language and need for an interpreter. The plan is to be made with regard to
//! the patient's language and culture (forskrift om individuell plan ved ytelse av
//! velferdstjenester); Sami speakers have language rights of their own (sameloven kap. 3).

use std::fmt;

use icu_locale_core::LanguageIdentifier;

use super::FieldViolation;

/// A BCP 47 language tag (RFC 5646) naming a language, as ICU4X parses it and in its canonical
/// spelling: `nb`, `nn`, `se` (Northern Sami), `uk`, `ar`, `nsi` (Norwegian Sign Language),
/// `sr-Latn`. Extensions, the undetermined `und`, the private-use languages `qaa` to `qtz` and
/// the five-to-eight-letter language subtags RFC 5646 reserves (§ 2.2.1) are refused: none names
/// a language an interpreter can be booked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LanguageTag(String);

/// The longest tag accepted, in bytes: real tags are far shorter.
const MAX_TAG_BYTES: usize = 35;

impl LanguageTag {
    /// Parses `value` as `field`; INVALID_ARGUMENT naming the field for anything that is not a
    /// language tag.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let refuse =
            || FieldViolation::new(field, "must be a BCP 47 language tag such as nb, nn, se or uk");
        if value.len() > MAX_TAG_BYTES {
            return Err(refuse());
        }
        let id = LanguageIdentifier::try_from_str(value).map_err(|_| refuse())?;
        let language = id.language.as_str();
        let private_use = language.len() == 3 && ("qaa"..="qtz").contains(&language);
        if id.language.is_unknown() || language.len() > 3 || private_use {
            return Err(refuse());
        }
        Ok(LanguageTag(id.to_string()))
    }

    /// A tag as stored; `None` for one that no longer parses.
    pub fn from_stored(value: &str) -> Option<Self> {
        Self::parse("", value).ok()
    }

    /// The canonical tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LanguageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The patient's need for an interpreter (tolk), with the language to interpret to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterpreterNeed {
    /// The language to interpret to.
    pub language: LanguageTag,
}

impl InterpreterNeed {
    /// Reads the wire's `needed` and `language` as `field`: `None` when not needed (the
    /// language must then be empty), the need when needed with a language.
    pub fn parse(
        field: &str,
        needed: bool,
        language: &str,
    ) -> Result<Option<InterpreterNeed>, FieldViolation> {
        let at = format!("{field}.language");
        match (needed, language) {
            (false, "") => Ok(None),
            (false, _) => {
                Err(FieldViolation::new(&at, "must be empty when no interpreter is needed"))
            }
            (true, "") => {
                Err(FieldViolation::new(&at, "must name the language when one is needed"))
            }
            (true, tag) => Ok(Some(InterpreterNeed { language: LanguageTag::parse(&at, tag)? })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_checked_and_canonical() {
        for (given, canonical) in [
            ("nb", "nb"),
            ("NN", "nn"),
            ("se", "se"),
            ("uk", "uk"),
            ("sr-latn", "sr-Latn"),
            ("nsi", "nsi"),
        ] {
            assert_eq!(LanguageTag::parse("f", given).unwrap().as_str(), canonical);
        }
        for bad in [
            "",
            "und",
            "x",
            "norsk",
            "nb-",
            "nb-u-ca-buddhist",
            "12",
            &"a".repeat(40),
            "x-klingon",
            "i-default",
            "qaa",
            "qtz-Latn",
            "klingon",
        ] {
            assert!(LanguageTag::parse("f", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_interpreter_needs_a_language() {
        assert_eq!(InterpreterNeed::parse("i", false, ""), Ok(None));
        assert!(InterpreterNeed::parse("i", true, "").is_err());
        assert!(InterpreterNeed::parse("i", false, "uk").is_err());
        let need = InterpreterNeed::parse("i", true, "uk").unwrap().unwrap();
        assert_eq!(need.language.as_str(), "uk");
    }
}
