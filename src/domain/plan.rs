//! The plan itself.

use serde::{Deserialize, Serialize};

use super::date::Date;
use super::error::{Violations, at_most};
use super::ids::{NationalId, OrgNumber, ResourceId};
use super::language::{InterpreterNeed, LanguageTag};
use super::relation::Relation;
use super::subject::Subject;
use super::text::{Optional, Required, bounded, line};
use super::time::Instant;
use super::{Error, FieldViolation, stored_enum};

stored_enum! {
    /// The kind of plan, which decides which template sections it carries.
    PlanKind { General = "general", Palliative = "palliative" }
}

stored_enum! {
    /// Where a plan is in its life.
    PlanStatus { Requested = "requested", Active = "active", Declined = "declined", Closed = "closed" }
}

/// An individual plan (individuell plan): the coordinated plan a person with long-term,
/// coordinated health and care needs has a right to. Owned by its patient, held by one
/// responsible organisation.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The plan's id.
    pub id: ResourceId,
    /// The responsible organisation.
    pub organisation: OrgNumber,
    /// Its name in the registry; empty when the registry does not hold it.
    pub organisation_name: String,
    /// The patient the plan is for.
    pub patient: NationalId,
    /// The patient's name as shown.
    pub patient_display_name: String,
    /// The kind of plan.
    pub kind: PlanKind,
    /// Its status.
    pub status: PlanStatus,
    /// Why it was closed or declined; empty otherwise.
    pub status_reason: String,
    /// The history revision: increases with every change to the plan, its goals, measures or
    /// group.
    pub revision: i64,
    /// The version of the plan's own fields; the etag. Goals and measures have their own, so
    /// editing one does not conflict with editing the plan. `VERSION_WITHHELD` (shown as an
    /// empty etag) to a reader who does not see all of the fields it covers.
    pub version: i64,
    /// The last history revision that changed the plan's content, to tell whether a signature
    /// still covers it.
    pub content_revision: i64,
    /// The patient's own sections.
    pub sections: PatientSections,
    /// Contacts and important phone numbers.
    pub contacts: Vec<Contact>,
    /// When the plan is next to be reviewed.
    pub next_review_date: Option<Date>,
    /// The consent in force.
    pub consent: Option<Consent>,
    /// The patient's latest signature.
    pub signature: Option<Signature>,
    /// Whom the patient wishes as coordinator.
    pub coordinator_wish: Option<super::coordinator::CoordinatorWish>,
    /// The referral the plan was requested by.
    pub referral: Option<ResourceId>,
    /// The patient's preferred language, when recorded.
    pub preferred_language: Option<LanguageTag>,
    /// The patient's need for an interpreter; `None` when none is needed.
    pub interpreter: Option<InterpreterNeed>,
    /// When it was created.
    pub create_time: Instant,
    /// When it last changed.
    pub update_time: Instant,
}

impl Plan {
    /// The `version` of a plan shown to a reader who does not see all of its fields: a change
    /// to one they do not see must not show as a new etag.
    pub const VERSION_WITHHELD: i64 = 0;

    /// Whether the content changed after the signed revision.
    pub fn changed_since_signing(&self) -> bool {
        self.signature.as_ref().is_some_and(|s| self.content_revision > s.revision)
    }

    /// Checks that the plan's content may change: only while it is requested or active.
    pub fn check_open(&self) -> Result<(), Error> {
        match self.status {
            PlanStatus::Requested | PlanStatus::Active => Ok(()),
            status => Err(Error::FailedPrecondition(format!(
                "the plan is {}: its content can no longer change",
                status.wire_name()
            ))),
        }
    }

    /// Checks that the plan's group may still meet: anything but closed.
    pub fn check_open_or_declined(&self) -> Result<(), Error> {
        if self.status == PlanStatus::Closed {
            return Err(Error::FailedPrecondition("the plan is PLAN_STATUS_CLOSED".into()));
        }
        Ok(())
    }

    /// Checks a move to `to` against the lifecycle: REQUESTED → ACTIVE (with consent in
    /// force) → CLOSED, REQUESTED → DECLINED → REQUESTED.
    pub fn check_transition(&self, to: PlanStatus) -> Result<(), Error> {
        use PlanStatus::*;
        let allowed = matches!(
            (self.status, to),
            (Requested, Active) | (Active, Closed) | (Requested, Declined) | (Declined, Requested)
        );
        if !allowed {
            return Err(Error::FailedPrecondition(format!(
                "the plan is {} and cannot move to {}",
                self.status.wire_name(),
                to.wire_name()
            )));
        }
        if to == Active && self.consent.is_none() {
            return Err(Error::FailedPrecondition(
                "the plan has no consent in force: record the patient's consent first".into(),
            ));
        }
        Ok(())
    }
}

impl PlanStatus {
    /// The status as the API names it, for messages.
    pub fn wire_name(self) -> &'static str {
        match self {
            PlanStatus::Requested => "PLAN_STATUS_REQUESTED",
            PlanStatus::Active => "PLAN_STATUS_ACTIVE",
            PlanStatus::Declined => "PLAN_STATUS_DECLINED",
            PlanStatus::Closed => "PLAN_STATUS_CLOSED",
        }
    }
}

stored_enum! {
    /// One of the patient's own sections, named as in the API and the database.
    Section {
        ImportantToMe = "important_to_me",
        ResourcesAndStrengths = "resources_and_strengths",
        WhatWorksNow = "what_works_now",
        WhatINeed = "what_i_need",
        FirstPriority = "first_priority",
        ThoughtsOnIllness = "thoughts_on_illness",
        AdmissionAgreement = "admission_agreement",
    }
}

impl Section {
    /// Whether only palliative plans carry this section.
    pub fn palliative_only(self) -> bool {
        matches!(self, Section::ThoughtsOnIllness | Section::AdmissionAgreement)
    }

    /// The heading the national template gives it.
    pub fn heading(self) -> &'static str {
        match self {
            Section::ImportantToMe => "What is important to me and my closest",
            Section::ResourcesAndStrengths => "My resources and strengths",
            Section::WhatWorksNow => "What works well now",
            Section::WhatINeed => "What I need to manage what I want",
            Section::FirstPriority => "What matters most to get done first",
            Section::ThoughtsOnIllness => {
                "My thoughts on the illness, the course ahead and treatment"
            }
            Section::AdmissionAgreement => "Agreement for a hospital admission",
        }
    }

    fn index(self) -> usize {
        Section::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

/// The longest section text accepted, in characters.
pub const MAX_SECTION: usize = 10_000;

/// The patient's own sections, in their words, one text per `Section`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatientSections([String; 7]);

impl PatientSections {
    /// The text of one section.
    pub fn get(&self, section: Section) -> &str {
        &self.0[section.index()]
    }

    /// Sets the text of one section.
    pub fn set(&mut self, section: Section, text: String) {
        self.0[section.index()] = text;
    }
}

/// Validates a section's text for a plan of `kind`.
pub fn section_text(
    field: &str,
    section: Section,
    kind: PlanKind,
    text: &str,
) -> Result<String, FieldViolation> {
    let text = bounded(field, text, MAX_SECTION, Optional)?;
    if section.palliative_only() && kind != PlanKind::Palliative && !text.is_empty() {
        return Err(FieldViolation::new(field, "only palliative plans carry this section"));
    }
    Ok(text)
}

/// The most contacts a plan keeps.
pub const MAX_CONTACTS: usize = 50;

/// A contact and an important phone number.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Their name.
    pub name: String,
    /// Their role for the patient.
    pub role: String,
    /// Where they work.
    pub organisation: String,
    /// Their phone number.
    pub phone: String,
    /// A note.
    pub note: String,
}

impl Contact {
    /// Validates a contact; fields are named under `field` (`plan.contacts[2]`).
    pub fn parse(
        field: &str,
        name: &str,
        role: &str,
        organisation: &str,
        phone: &str,
        note: &str,
    ) -> Result<Contact, Vec<FieldViolation>> {
        let mut v = Violations::default();
        let name = v.check(display_text(&format!("{field}.name"), name));
        let role = v.check(line(&format!("{field}.role"), role, MAX_DISPLAY_NAME, Optional));
        let organisation = v.check(line(
            &format!("{field}.organisation"),
            organisation,
            MAX_DISPLAY_NAME,
            Optional,
        ));
        let phone = phone.trim();
        let digits = phone.strip_prefix('+').unwrap_or(phone);
        let well_formed = digits.chars().all(|c| c.is_ascii_digit() || c == ' ')
            && (phone.is_empty() || digits.chars().any(|c| c.is_ascii_digit()));
        if phone.chars().count() > 20 || !well_formed {
            v.push(FieldViolation::new(
                format!("{field}.phone"),
                "must be digits and spaces with an optional leading +, at most 20 characters",
            ));
        }
        let note = v.check(bounded(&format!("{field}.note"), note, 1000, Optional));
        let (((name, role), organisation), note) =
            v.into_result(name.zip(role).zip(organisation).zip(note))?;
        Ok(Contact { name, role, organisation, phone: phone.to_owned(), note })
    }
}

/// Who gave consent for the patient, and why the patient could not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnBehalf {
    /// Who gave it and how they relate to the patient.
    pub given_by: String,
    /// Why the patient could not.
    pub reason: String,
}

/// The patient's consent (samtykke) to the plan and to sharing it with the organisations in its
/// scope. While none is in force, only the plan's own organisation and citizens serving on the
/// group see the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consent {
    /// The organisations besides the plan's own that may receive the plan.
    pub recipients: Vec<OrgNumber>,
    /// Set when given on the patient's behalf.
    pub on_behalf: Option<OnBehalf>,
    /// When it was recorded.
    pub give_time: Instant,
    /// The relation of whoever recorded it.
    pub recorded_by: String,
}

/// Whether a consent decision recorded by `relation` is the patient's own: made by the patient
/// or their representative. Such a decision stands against consent given on the patient's
/// behalf until the patient's side decides again.
pub fn is_patients_own(relation: &str) -> bool {
    relation == Relation::Owner.as_str() || relation == Relation::Representative.as_str()
}

/// One consent as the history keeps it: given, and perhaps withdrawn or replaced.
#[derive(Clone, Debug)]
pub struct ConsentRecord {
    /// Its id.
    pub id: ResourceId,
    /// The consent as given.
    pub consent: Consent,
    /// Who recorded it.
    pub recorder: Subject,
    /// When it was withdrawn or replaced; `None` while in force.
    pub withdraw_time: Option<Instant>,
    /// The relation of whoever withdrew or replaced it.
    pub withdrawn_by: String,
    /// Who withdrew or replaced it.
    pub withdrawer: Option<Subject>,
    /// Why, as they put it.
    pub withdraw_reason: String,
}

/// The latest decision on a plan's consent: who made it, by relation, and whether it gave or
/// withdrew consent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentDecision {
    /// The relation of whoever made it (owner, representative, unit_staff, referral).
    pub by: String,
    /// Whether it withdrew consent, leaving none in force.
    pub withdrawn: bool,
}

impl ConsentDecision {
    /// Checks that a caller holding `relations` may change this decision:
    /// - one the patient made personally, only the patient or whom they gave a power of
    ///   attorney may change (a representative the unit recorded, a guardian or a parent, may
    ///   not overrule the patient);
    /// - one the patient's side made, only the patient's side (a withdrawal stands until one of
    ///   them gives consent again; consent they gave is theirs to change).
    pub fn check_may_change(&self, relations: &[Relation]) -> Result<(), Error> {
        let holds = |r: Relation| relations.contains(&r);
        if self.by == Relation::Owner.as_str()
            && !holds(Relation::Owner)
            && !holds(Relation::Attorney)
        {
            return Err(Error::FailedPrecondition(
                "the patient decided on consent themselves: only they, or whom they gave a power \
                 of attorney, may change that"
                    .into(),
            ));
        }
        if holds(Relation::Owner) || holds(Relation::Representative) {
            return Ok(());
        }
        match (is_patients_own(&self.by), self.withdrawn) {
            (false, _) => Ok(()),
            (true, true) => Err(Error::FailedPrecondition(
                "the patient or their representative withdrew consent: only they may give it \
                 again"
                    .into(),
            )),
            (true, false) => Err(Error::FailedPrecondition(
                "the consent in force is the patient's own: only the patient or their \
                 representative may change it"
                    .into(),
            )),
        }
    }
}

/// The most recipient organisations a consent names.
pub const MAX_RECIPIENTS: usize = 100;

/// What it takes to record consent, validated.
#[derive(Clone, Debug)]
pub struct NewConsent {
    /// The organisations that may receive the plan, without repeats.
    pub recipients: Vec<OrgNumber>,
    /// Set when given on the patient's behalf.
    pub on_behalf: Option<OnBehalf>,
}

impl NewConsent {
    /// Validates a consent; `on_behalf` is required unless the patient records it themselves.
    pub fn parse(
        recipients: &[String],
        on_behalf: Option<(&str, &str)>,
        by_patient: bool,
    ) -> Result<NewConsent, Vec<FieldViolation>> {
        let mut v = Violations::default();
        let recipients =
            v.check(at_most("consent.recipients", recipients, MAX_RECIPIENTS)).unwrap_or_default();
        let mut parsed: Vec<OrgNumber> = Vec::new();
        for (i, r) in recipients.iter().enumerate() {
            if let Some(org) = v.check(OrgNumber::parse(&format!("consent.recipients[{i}]"), r))
                && !parsed.contains(&org)
            {
                parsed.push(org);
            }
        }
        let on_behalf = match on_behalf {
            Some((given_by, reason)) => {
                let given_by = v.check(display_text("consent.on_behalf.given_by", given_by));
                let reason = v.check(bounded("consent.on_behalf.reason", reason, 1000, Required));
                given_by.zip(reason).map(|(given_by, reason)| OnBehalf { given_by, reason })
            }
            None if !by_patient => {
                v.push(FieldViolation::new(
                    "consent.on_behalf",
                    "must say who gave consent for the patient and why the patient could not",
                ));
                None
            }
            None => None,
        };
        if v.is_empty() {
            Ok(NewConsent { recipients: parsed, on_behalf })
        } else {
            Err(v.into_violations())
        }
    }
}

/// The patient's signature on a revision of the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The history revision signed.
    pub revision: i64,
    /// When.
    pub sign_time: Instant,
    /// Who signed: the owner or a representative.
    pub signed_by: Relation,
}

/// What it takes to create a plan, validated.
#[derive(Clone, Debug)]
pub struct NewPlan {
    /// The responsible organisation.
    pub organisation: OrgNumber,
    /// The patient.
    pub patient: NationalId,
    /// The patient's name as shown.
    pub patient_display_name: String,
    /// The kind of plan.
    pub kind: PlanKind,
}

impl NewPlan {
    /// Validates every field, reporting all violations at once.
    pub fn parse(
        organisation: &str,
        patient: &str,
        display_name: &str,
        kind: Option<PlanKind>,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut v = Violations::default();
        let organisation = v.check(OrgNumber::parse("organisation", organisation));
        let patient = v.check(NationalId::parse("patient_id", patient));
        let display_name = v.check(display_text("patient_display_name", display_name));
        let kind = v.check(kind.ok_or_else(|| {
            FieldViolation::new("kind", "must be PLAN_KIND_GENERAL or PLAN_KIND_PALLIATIVE")
        }));
        let (((organisation, patient), patient_display_name), kind) =
            v.into_result(organisation.zip(patient).zip(display_name).zip(kind))?;
        Ok(NewPlan { organisation, patient, patient_display_name, kind })
    }
}

/// The longest display name accepted, in characters.
pub const MAX_DISPLAY_NAME: usize = 200;

/// Validates a short display text: one line, not blank, at most `MAX_DISPLAY_NAME` characters.
/// Returns it in NFC, trimmed.
pub fn display_text(field: &str, value: &str) -> Result<String, FieldViolation> {
    line(field, value, MAX_DISPLAY_NAME, Required)
}

/// A whole plan: the plan, all its goals and all its measures, as it is now or was at a
/// revision of its history.
#[derive(Clone, Debug)]
pub struct PlanDocument {
    /// The plan.
    pub plan: Plan,
    /// Its goals, oldest first, each with its adjustments.
    pub goals: Vec<super::goal::Goal>,
    /// Its measures, oldest first, each with its evaluations.
    pub measures: Vec<super::measure::Measure>,
}
