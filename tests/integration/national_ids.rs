//! National identity numbers by the register's rules (`samvirke::domain::national_id`): a table
//! of valid and invalid numbers of every kind. Numbers of the real population's kinds are built
//! as the test runs, from a birth date, an individual number range and the remainder the first
//! control digit leaves, so none that could be a person's is written in the source; only the
//! synthetic test population's (month + 80) are.

use samvirke::domain::date::Date;
use samvirke::domain::national_id::{IdKind, NationalId};

const K1: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
const K2: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

/// The first number `ddmmyy` + an individual number from `individuals` makes whose first control
/// digit leaves `remainder` (0 by today's rule, 0 to 3 by the 2032 rule) and whose second is
/// right.
fn number(ddmmyy: &str, individuals: std::ops::Range<u32>, remainder: u32) -> String {
    for individual in individuals {
        let first: Vec<u32> =
            format!("{ddmmyy}{individual:03}").bytes().map(|b| u32::from(b - b'0')).collect();
        let sum: u32 = first.iter().zip(K1).map(|(d, w)| d * w).sum();
        let k1 = (remainder + 11 - sum % 11) % 11;
        if k1 == 10 {
            continue;
        }
        let mut ten = first.clone();
        ten.push(k1);
        let k2 = (11 - ten.iter().zip(K2).map(|(d, w)| d * w).sum::<u32>() % 11) % 11;
        if k2 == 10 {
            continue;
        }
        ten.push(k2);
        return ten.iter().map(|d| char::from_digit(*d, 10).unwrap()).collect();
    }
    panic!("no number for {ddmmyy}");
}

#[test]
fn valid_numbers_of_every_kind() {
    let valid = [
        (
            "birth number, 1900s",
            number("010180", 100..500, 0),
            IdKind::BirthNumber,
            false,
            "1980-01-01",
        ),
        (
            "birth number, 2000s",
            number("150615", 500..1000, 0),
            IdKind::BirthNumber,
            false,
            "2015-06-15",
        ),
        (
            "birth number, 1800s",
            number("311299", 500..750, 0),
            IdKind::BirthNumber,
            false,
            "1899-12-31",
        ),
        (
            "birth number, 900 series",
            number("010145", 900..1000, 0),
            IdKind::BirthNumber,
            false,
            "1945-01-01",
        ),
        ("D-number", number("410180", 100..500, 0), IdKind::DNumber, false, "1980-01-01"),
        ("H-number", number("014180", 100..500, 0), IdKind::HNumber, false, "1980-01-01"),
        ("synthetic", "01818010083".into(), IdKind::BirthNumber, true, "1980-01-01"),
        ("synthetic D-number", "41818010077".into(), IdKind::DNumber, true, "1980-01-01"),
        (
            "29 February of 2000",
            number("290200", 500..1000, 0),
            IdKind::BirthNumber,
            false,
            "2000-02-29",
        ),
        (
            "2032 rule, remainder 1",
            number("010180", 100..500, 1),
            IdKind::BirthNumber,
            false,
            "1980-01-01",
        ),
        (
            "2032 rule, remainder 2",
            number("010180", 100..500, 2),
            IdKind::BirthNumber,
            false,
            "1980-01-01",
        ),
        (
            "2032 rule, remainder 3, synthetic",
            "01818010008".into(),
            IdKind::BirthNumber,
            true,
            "1980-01-01",
        ),
    ];
    for (what, n, kind, synthetic, born) in valid {
        let id = NationalId::parse("f", &n).unwrap_or_else(|e| panic!("{what}: {e:?}"));
        assert_eq!(id.kind(), kind, "{what}");
        assert_eq!(id.is_synthetic(), synthetic, "{what}");
        assert_eq!(id.birth_date().to_string(), born, "{what}");
    }
}

#[test]
fn invalid_numbers_say_why_without_the_number() {
    let mut second_wrong = number("010180", 100..500, 0);
    let last = second_wrong.pop().unwrap().to_digit(10).unwrap();
    second_wrong.push(char::from_digit((last + 1) % 10, 10).unwrap());
    let invalid = [
        ("month 13, control digits right", number("151380", 100..500, 0), "birth date"),
        ("30 February", number("300280", 100..500, 0), "birth date"),
        ("29 February of 1900", number("290200", 0..500, 0), "birth date"),
        ("day 0", number("000180", 100..500, 0), "birth date"),
        ("D-number with day 72", number("720180", 100..500, 0), "birth date"),
        ("D-number and H-number at once", number("414180", 100..500, 0), "birth date"),
        ("synthetic month 93", number("019380", 100..500, 0), "birth date"),
        ("individual number without a century", number("010180", 750..900, 0), "birth date"),
        ("born in 2032, not yet", number("010132", 500..1000, 0), "birth date"),
        ("first control digit, remainder 4", number("010180", 100..500, 4), "control digits"),
        ("second control digit wrong", second_wrong, "control digits"),
    ];
    for (what, n, why) in invalid {
        let err = NationalId::parse("patient_id", &n).expect_err(what);
        assert!(err.description.contains(why), "{what}: {}", err.description);
        assert!(!err.description.contains(&n[..6]), "{what}");
        assert_eq!(err.field, "patient_id");
    }
    for shape in ["", "0181801008", "018180100830", "0181801008a", " 1818010083"] {
        assert!(NationalId::parse("f", shape).is_err(), "{shape:?}");
    }
}

#[test]
fn redacted_and_aged() {
    let id = NationalId::parse("f", "01818010083").unwrap();
    assert_eq!(format!("{id:?} {id}"), "NationalId(<redacted>) <redacted>");
    let child = NationalId::parse("f", "15861550009").unwrap();
    assert_eq!(child.birth_date().to_string(), "2015-06-15");
    let on = |y, m, d| Date::new(y, m, d).unwrap();
    assert_eq!(child.age_on(on(2033, 6, 14)), 17);
    assert_eq!(child.age_on(on(2033, 6, 15)), 18);
    // Born on 29 February (synthetic: month + 80): a year older on 1 March in other years.
    let leap = NationalId::parse("f", &number("298200", 500..1000, 0)).unwrap();
    assert_eq!(leap.age_on(on(2018, 2, 28)), 17);
    assert_eq!(leap.age_on(on(2018, 3, 1)), 18);
}
