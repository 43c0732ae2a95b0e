//! Norwegian national identity numbers, by the rules the population register (Folkeregisteret)
//! issues them under. Sources:
//!
//! - Skatteetaten, "Fødselsnummer" and "D-nummer": eleven digits, `DDMMYY` then a three-digit
//!   individual number that with the year gives the century, then two mod-11 control digits
//!   (weights 3 7 6 1 8 9 4 5 2 and 5 4 3 2 7 6 5 4 3 2). A D-number adds 4 to the first digit
//!   (day + 40).
//! - Skatteetaten, "Nye fødselsnummer og d-nummer fra 2032": numbers issued from 1 January 2032
//!   compute the first control digit so that the weighted sum over the first ten digits leaves a
//!   remainder of 0, 1, 2 or 3 modulo 11, where today's rule allows only 0; the second control
//!   digit is unchanged, and systems must accept both rules side by side.
//! - The health sector's help numbers (H-numbers, hjelpenummer) add 4 to the third digit
//!   (month + 40).
//! - Skatteetaten's synthetic test population (Tenor) adds 8 to the third digit (month + 80),
//!   for fødselsnumre and D-numbers alike; the README's examples use it.
//!
//! The table test of valid and invalid numbers of each kind is `tests/integration/
//! national_ids.rs`; it builds the numbers of real-looking kinds as it runs, so no number that
//! could be a person's sits in the source.

use std::fmt;

use super::FieldViolation;
use super::date::Date;
use super::ids::digits;
use super::time::Instant;

/// Weights of the first control digit, over the first nine digits.
const WEIGHTS_K1: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
/// Weights of the second control digit, over the first ten digits.
const WEIGHTS_K2: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

/// How a national identity number was issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    /// A birth number (fødselsnummer), for those registered as residents.
    BirthNumber,
    /// A D-number (d-nummer), for those not resident: day + 40.
    DNumber,
    /// A help number (hjelpenummer) of the health sector: month + 40.
    HNumber,
}

/// A national identity number (fødselsnummer, D-number or H-number, real or of the synthetic
/// test population), with a real birth date and valid control digits. Sensitive: `Debug` and
/// `Display` redact it, so it cannot reach a log line or an error message by accident; only
/// `expose` gives the digits, for storage and for the callers who may see them.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NationalId(String);

impl NationalId {
    /// Parses and checks a national identity number — eleven digits, a real birth date, the
    /// control digits by today's or the 2032 rule; `field` names it in the violation, which
    /// never repeats the value.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let d = digits::<11>(value).ok_or_else(|| {
            FieldViolation::new(field, "must be an 11-digit national identity number")
        })?;
        // A number is issued at birth or later: a birth date after today, in Norway, whose
        // calendar the number's date is in, is no real one.
        let latest = Date::today_in_norway(Instant::now());
        if decode(&d).is_none_or(|(_, born, _)| born > latest) {
            return Err(FieldViolation::new(
                field,
                "is not a valid national identity number (birth date)",
            ));
        }
        let k1_sum: u32 = d[..9].iter().zip(WEIGHTS_K1).map(|(d, w)| d * w).sum::<u32>() + d[9];
        let k2_sum: u32 = d[..10].iter().zip(WEIGHTS_K2).map(|(d, w)| d * w).sum::<u32>() + d[10];
        if k1_sum % 11 > 3 || !k2_sum.is_multiple_of(11) {
            return Err(FieldViolation::new(
                field,
                "is not a valid national identity number (control digits)",
            ));
        }
        Ok(NationalId(value.to_owned()))
    }

    /// The first number of Skatteetaten's synthetic test population (month + 80) born on
    /// `born` (1900 to 2039) with valid control digits, after skipping `skip` others: for the
    /// benchmark's seed and for tests, so that no number that could be a person's sits in the
    /// source. `None` when the day holds no more.
    pub fn synthetic(born: Date, skip: usize) -> Option<NationalId> {
        let (year, month, day) = born.parts();
        let individuals = match year {
            1900..=1999 => 0..500,
            2000..=2039 => 500..1000,
            _ => return None,
        };
        let yy = year.rem_euclid(100);
        individuals
            .filter_map(|i| {
                let first = format!("{day:02}{:02}{yy:02}{i:03}", month + 80);
                let d: Vec<u32> = first.bytes().map(|b| u32::from(b - b'0')).collect();
                let k1 = (11 - d.iter().zip(WEIGHTS_K1).map(|(d, w)| d * w).sum::<u32>() % 11) % 11;
                let with_k1 = d.iter().copied().chain([k1]);
                let k2_sum: u32 = with_k1.zip(WEIGHTS_K2).map(|(d, w)| d * w).sum();
                let k2 = (11 - k2_sum % 11) % 11;
                (k1 < 10 && k2 < 10).then(|| format!("{first}{k1}{k2}"))
            })
            .filter_map(|n| NationalId::parse("", &n).ok())
            .nth(skip)
    }

    /// The digits, for storage and for callers the policy lets see them.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// How the number was issued.
    pub fn kind(&self) -> IdKind {
        self.decoded().0
    }

    /// Whether the number belongs to Skatteetaten's synthetic test population (month + 80).
    pub fn is_synthetic(&self) -> bool {
        self.decoded().2
    }

    /// The birth date the number carries.
    pub fn birth_date(&self) -> Date {
        self.decoded().1
    }

    /// The person's age in whole years on `day`: they turn a year older on their birthday (one
    /// born on 29 February, on 1 March in other years).
    pub fn age_on(&self, day: Date) -> i32 {
        let born = self.birth_date();
        let (by, bm, bd) = born.parts();
        let (y, m, d) = day.parts();
        y - by - i32::from((m, d) < (bm, bd))
    }

    fn decoded(&self) -> (IdKind, Date, bool) {
        // Only numbers that decode are ever built.
        digits::<11>(&self.0)
            .and_then(|d| decode(&d))
            .expect("a parsed national identity number decodes")
    }
}

/// The kind, birth date and whether synthetic, or `None` when the first nine digits carry no
/// real date.
fn decode(d: &[u32; 11]) -> Option<(IdKind, Date, bool)> {
    let mut day = d[0] * 10 + d[1];
    let mut month = d[2] * 10 + d[3];
    let yy = d[4] * 10 + d[5];
    let individual = d[6] * 100 + d[7] * 10 + d[8];
    let d_number = day > 40;
    if d_number {
        day -= 40;
    }
    let (h_number, synthetic) = match month {
        1..=12 => (false, false),
        41..=52 => (true, false),
        81..=92 => (false, true),
        _ => return None,
    };
    month -= match (h_number, synthetic) {
        (true, _) => 40,
        (_, true) => 80,
        _ => 0,
    };
    let kind = match (d_number, h_number) {
        (false, false) => IdKind::BirthNumber,
        (true, false) => IdKind::DNumber,
        (false, true) => IdKind::HNumber,
        (true, true) => return None,
    };
    let century = match (individual, yy) {
        (0..=499, _) => 1900,
        (500..=749, 54..) => 1800,
        (500..=999, ..=39) => 2000,
        (900..=999, 40..) => 1900,
        _ => return None,
    };
    let year = i32::try_from(century + yy).ok()?;
    Date::civil(year, month, day).map(|date| (kind, date, synthetic))
}

impl fmt::Debug for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NationalId(<redacted>)")
    }
}

impl fmt::Display for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The `n`-th synthetic number born on 1 January 1980, for unit tests.
#[cfg(test)]
pub(crate) fn synthetic_for_tests(n: usize) -> NationalId {
    NationalId::synthetic(Date::new(1980, 1, 1).expect("a date"), n).expect("a synthetic number")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generator gives numbers of the synthetic population, on the day asked, each other.
    #[test]
    fn synthetic_numbers_are_synthetic_and_distinct() {
        let born = Date::new(2015, 2, 28).unwrap();
        let (a, b) =
            (NationalId::synthetic(born, 0).unwrap(), NationalId::synthetic(born, 1).unwrap());
        assert!(a.is_synthetic() && b.is_synthetic());
        assert_eq!((a.birth_date(), a.kind()), (born, IdKind::BirthNumber));
        assert_ne!(a, b);
        assert!(NationalId::synthetic(Date::civil(1899, 1, 1).unwrap(), 0).is_none());
    }

    /// A number is issued at birth: one born today, in Norway, is real; one born tomorrow is
    /// not (F5 after issue 14: a day's slack let it through).
    #[test]
    fn no_number_is_born_after_today() {
        let today = Date::today_in_norway(Instant::now());
        // The generator makes only numbers that parse.
        assert!(NationalId::synthetic(today, 0).is_some());
        assert!(NationalId::synthetic(today.plus_days(1), 0).is_none());
    }
}
