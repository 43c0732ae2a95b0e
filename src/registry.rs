//! Reads the organisation registry from a CSV file shaped like Enhetsregisteret's open data:
//! a header row naming at least `organisasjonsnummer`, `navn` and `organisasjonsform.kode`
//! (case and quoting as the register's download has them; other columns are ignored), and a
//! `kind` column for the rows whose form code does not tell their kind. Comma- or
//! semicolon-separated.

use std::io::Read;

use crate::domain::Error;
use crate::domain::ids::OrgNumber;
use crate::domain::organisation::{OrgKind, Organisation};
use crate::domain::plan::display_text;

/// The column names read, lowercase.
const NUMBER: &str = "organisasjonsnummer";
const NAME: &str = "navn";
const FORM: &str = "organisasjonsform.kode";
const KIND: &str = "kind";

/// Parses every row of `input`, or fails naming the first bad line (numbered from 1, the header
/// included) and field. A row without a kind whose form code does not tell one is `other`.
pub fn parse_csv(input: impl Read) -> Result<Vec<Organisation>, Error> {
    let mut text = String::new();
    let mut input = input;
    input
        .read_to_string(&mut text)
        .map_err(|e| Error::invalid("file", format!("is not readable UTF-8 text: {e}")))?;
    let header = text.lines().next().unwrap_or_default();
    let delimiter = if header.contains(';') && !header.contains(',') { b';' } else { b',' };
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Error::invalid("line 1", e.to_string()))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(number_at), Some(name_at), Some(form_at)) =
        (column(NUMBER), column(NAME), column(FORM))
    else {
        return Err(Error::invalid(
            "line 1",
            format!("the header must name {NUMBER}, {NAME} and {FORM}"),
        ));
    };
    let kind_at = column(KIND);
    let mut organisations = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = format!("line {}", i + 2);
        let record = record.map_err(|e| Error::invalid(line.clone(), e.to_string()))?;
        let field = |at: usize| record.get(at).unwrap_or_default().trim();
        let number = OrgNumber::parse(&format!("{line}: {NUMBER}"), field(number_at))?;
        let name = display_text(&format!("{line}: {NAME}"), field(name_at))?;
        let form_code = field(form_at).to_owned();
        let given = kind_at.map(field).unwrap_or_default();
        let kind = if given.is_empty() {
            OrgKind::of_form(&form_code).unwrap_or(OrgKind::Other)
        } else {
            OrgKind::from_stored(given).ok_or_else(|| {
                Error::invalid(
                    format!("{line}: {KIND}"),
                    "must be municipality, health_trust, nav_office, school, kindergarten, \
                     child_welfare, county_governor or other",
                )
            })?
        };
        organisations.push(Organisation { number, name, kind, form_code });
    }
    Ok(organisations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_shipped_sample() {
        let sample = include_str!("../registry/sample.csv");
        let orgs = parse_csv(sample.as_bytes()).unwrap();
        assert!(orgs.len() >= 10);
        let find = |n: &str| orgs.iter().find(|o| o.number.as_str() == n).unwrap();
        assert_eq!(find("910000004").kind, OrgKind::Municipality);
        assert_eq!(find("950000007").kind, OrgKind::HealthTrust);
        assert_eq!(find("960000005").kind, OrgKind::CountyGovernor);
        assert_eq!(find("890000002").name, "Nordby legesenter, avdeling Sentrum");
    }

    #[test]
    fn reads_the_registers_own_shape() {
        let csv = "\"Organisasjonsnummer\";\"Navn\";\"Organisasjonsform.kode\";\"Postadresse\"\n\
                   \"910000004\";\"NORDBY KOMMUNE\";\"KOMM\";\"Postboks 1\"\n\
                   \"930000000\";\"NAV NORDBY\";\"ORGL\";\"\"\n";
        let orgs = parse_csv(csv.as_bytes()).unwrap();
        assert_eq!(orgs[0].kind, OrgKind::Municipality);
        assert_eq!(orgs[1].kind, OrgKind::Other);
    }

    #[test]
    fn names_the_bad_line() {
        let csv = "organisasjonsnummer,navn,organisasjonsform.kode\n910000004,A,KOMM\n123,B,KOMM\n";
        let err = parse_csv(csv.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
        let csv = "organisasjonsnummer,navn\n910000004,A\n";
        assert!(parse_csv(csv.as_bytes()).is_err());
        let csv = "organisasjonsnummer,navn,organisasjonsform.kode,kind\n910000004,A,X,castle\n";
        assert!(parse_csv(csv.as_bytes()).unwrap_err().to_string().contains("kind"));
    }
}
