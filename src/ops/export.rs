//! The plan as a document the patient can keep and bring to the hospital: everything the plan
//! holds now, in words, rendered to PDF.

use crate::auth::PlanPass;
use crate::domain::date::Date;
use crate::domain::ids::ResourceId;
use crate::domain::member::MemberRole;
use crate::domain::page::{MAX_PAGE_SIZE, Page};
use crate::domain::plan::{PlanKind, Section};
use crate::domain::scope::{PlanPart, Sight, Within};
use crate::domain::time::Instant;
use crate::domain::{Error, Result};
use crate::export::{self, Document};
use crate::store::Session;

fn section(heading: impl Into<String>, paragraphs: Vec<String>) -> export::Section {
    export::Section { heading: heading.into(), paragraphs }
}

fn or_none(paragraphs: Vec<String>, none: &str) -> Vec<String> {
    if paragraphs.is_empty() { vec![none.to_owned()] } else { paragraphs }
}

fn period(start: Option<Date>, end: Option<Date>) -> String {
    match (start, end) {
        (Some(s), Some(e)) => format!("{s} to {e}"),
        (Some(s), None) => format!("from {s}"),
        (None, Some(e)) => format!("until {e}"),
        (None, None) => "no dates set".into(),
    }
}

/// A plan rendered to PDF for its reader, and the history revision it shows.
#[derive(Debug)]
pub struct Exported {
    /// The PDF.
    pub pdf: Vec<u8>,
    /// The revision.
    pub revision: i64,
}

/// `export` renders only what the reader's sight gives (the sections it leaves out are not
/// printed at all), so the document is already within it.
impl Within for Exported {
    const WHAT: &'static str = "plan";

    fn within(self, _: &Sight) -> Option<Self> {
        Some(self)
    }
}

/// Renders the plan as it is now in this session, as far as the reader's sight goes: the parts
/// an access scope leaves out are absent, headings and all. The identity number is printed only
/// for callers who may see it.
pub async fn export(session: &mut Session, pass: &PlanPass) -> Result<Exported> {
    let now = Instant::now();
    let sight = pass.sight();
    let show_identity = pass.identities();
    let plan = pass.plan().clone().within(sight).ok_or(Error::NotFound("plan"))?;
    let (goals, measures) = session.plan_content(pass).await?;
    let (goals, measures) = (goals.within(sight), measures.within(sight));
    let (goals, measures) = (goals.unwrap_or_default(), measures.unwrap_or_default());
    let all = Page::unscoped(MAX_PAGE_SIZE, None);
    let members = session.list_members(pass, false, all, now).await?;
    let members = members.within(sight).unwrap_or_default();
    let member_name = |id: ResourceId| {
        let unknown = match sight.sees(PlanPart::Group) {
            true => "a former member",
            false => "a member of the group",
        };
        members
            .iter()
            .find(|m| m.id == id)
            .map_or_else(|| unknown.to_owned(), |m| m.display_name.clone())
    };
    let goal_text = |id: ResourceId| {
        goals.iter().find(|g| g.id == id).map_or_else(String::new, |g| g.text.clone())
    };

    let mut about = vec![
        format!("Patient: {}", plan.patient_display_name),
        match plan.organisation_name.as_str() {
            "" => format!("Responsible organisation: {}", plan.organisation),
            name => format!("Responsible organisation: {name} ({})", plan.organisation),
        },
        format!("Status: {}", plan.status.as_str()),
        format!(
            "Next review: {}",
            plan.next_review_date.map_or_else(|| "not set".to_owned(), |d| d.to_string())
        ),
        format!(
            "Preferred language: {}",
            plan.preferred_language.as_ref().map_or("not recorded", |l| l.as_str())
        ),
        match &plan.interpreter {
            Some(need) => format!("Interpreter needed: yes, for {}", need.language),
            None => "Interpreter needed: no".to_owned(),
        },
        format!("Printed {} from revision {}.", Date::today_in_norway(now), plan.revision),
    ];
    if show_identity {
        about.insert(1, format!("National identity number: {}", plan.patient.expose()));
    }
    about.push(match &plan.signature {
        Some(s) if plan.changed_since_signing() => format!(
            "Signed by the {} at revision {}; the plan has changed since it was signed.",
            s.signed_by.as_str(),
            s.revision
        ),
        Some(s) => format!("Signed by the {} at revision {}.", s.signed_by.as_str(), s.revision),
        None => "Not signed.".to_owned(),
    });
    about.push(match &plan.consent {
        Some(c) if c.recipients.is_empty() => {
            "Consent given; the plan is shared with the responsible organisation only.".to_owned()
        }
        Some(c) => {
            let recipients: Vec<String> = c.recipients.iter().map(ToString::to_string).collect();
            format!("Consent given; shared with {}.", recipients.join(", "))
        }
        None => "No consent recorded.".to_owned(),
    });

    if !sight.is_whole() {
        about.push("This copy shows the parts of the plan the patient shares with you.".to_owned());
    }

    let mut sections = vec![section("About this plan", about)];
    for &s in Section::ALL {
        if !sight.sees(PlanPart::PatientSections) {
            break;
        }
        if s.palliative_only() && plan.kind != PlanKind::Palliative {
            continue;
        }
        let text = plan.sections.get(s);
        let paragraphs = if text.is_empty() {
            vec!["(not filled in)".to_owned()]
        } else {
            vec![text.to_owned()]
        };
        sections.push(section(s.heading(), paragraphs));
    }

    let mut ordered: Vec<_> = goals.iter().collect();
    ordered.sort_by_key(|g| g.priority);
    let goal_lines = ordered
        .iter()
        .map(|g| {
            let target = g.target_date.map_or_else(String::new, |d| format!(", by {d}"));
            format!("Priority {}: {} ({}{target})", g.priority, g.text, g.status.as_str())
        })
        .collect();
    let goals_seen =
        sight.sees(PlanPart::GoalsAndMeasures) || sight.sees(PlanPart::OwnGoalsAndMeasures);
    if goals_seen {
        sections.push(section("Goals", or_none(goal_lines, "No goals yet.")));
    }

    let mut measure_lines = Vec::new();
    for m in &measures {
        let mut line = format!(
            "{} ({}). For the goal: {}. Responsible: {}. {}",
            m.description,
            m.status.as_str(),
            goal_text(m.goal),
            member_name(m.responsible_member),
            period(m.start_date, m.end_date),
        );
        if !m.frequency.is_empty() {
            line.push_str(&format!(", {}", m.frequency));
        }
        line.push('.');
        measure_lines.push(line);
        for e in &m.evaluations {
            measure_lines.push(format!("Evaluation {}: {}", e.date, e.text));
        }
    }
    if goals_seen {
        sections.push(section("Measures", or_none(measure_lines, "No measures yet.")));
    }

    let coordinators: Vec<String> = members
        .iter()
        .filter(|m| m.role == MemberRole::Coordinator)
        .map(|m| m.display_name.clone())
        .collect();
    if sight.sees(PlanPart::Group) {
        let none = "No coordinator appointed.";
        sections.push(section("Coordinator", or_none(coordinators, none)));
    }
    let group = members
        .iter()
        .map(|m| {
            let org =
                m.organisation.as_ref().map_or_else(String::new, |o| format!(", organisation {o}"));
            format!("{} ({}{org})", m.display_name, m.role.as_str())
        })
        .collect();
    if sight.sees(PlanPart::Group) {
        sections.push(section("Responsibility group", or_none(group, "No members yet.")));
    }
    let contacts = plan
        .contacts
        .iter()
        .map(|c| {
            let parts: Vec<&str> = [&c.role, &c.organisation, &c.phone, &c.note]
                .into_iter()
                .map(String::as_str)
                .filter(|p| !p.is_empty())
                .collect();
            if parts.is_empty() {
                c.name.clone()
            } else {
                format!("{}: {}", c.name, parts.join(", "))
            }
        })
        .collect();
    if sight.sees(PlanPart::Contacts) {
        sections.push(section(
            "Contacts and important phone numbers",
            or_none(contacts, "No contacts yet."),
        ));
    }

    let document =
        Document { title: format!("Individual plan for {}", plan.patient_display_name), sections };
    // Laying out a long plan takes CPU time: on a blocking thread, so the runtime's workers
    // keep serving other calls meanwhile.
    let pdf = tokio::task::spawn_blocking(move || export::render_pdf(&document))
        .await
        .map_err(Error::internal)?;
    Ok(Exported { pdf, revision: plan.revision })
}
