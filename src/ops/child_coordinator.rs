//! Applications for a child coordinator (`domain::child_coordinator`): a family applies, the
//! municipality's unit staff accept (appointing the child coordinator on the child's plan,
//! created when the child has none) or decline.

use super::coordinator::appoint;
use super::member::described;
use super::{ChangeKind, Context, Listed, edit_plan};
use crate::auth::{Action, ApplicationPass, Object, PlanPass};
use crate::domain::child_coordinator::{
    Application, ApplicationState, Child, MOST_SUBMITTED_PER_APPLICANT, NewApplication,
};
use crate::domain::coordinator::{CoordinatorKind, NewAssignment};
use crate::domain::date::Date;
use crate::domain::ids::{NationalId, ResourceId};
use crate::domain::member::{MemberRole, NewMember, RepresentativeBasis};
use crate::domain::names::plan_item;
use crate::domain::organisation::OrgKind;
use crate::domain::page::Page;
use crate::domain::plan::{NewPlan, PlanKind};
use crate::domain::principal::Principal;
use crate::domain::relation::Relation;
use crate::domain::subject::Subject;
use crate::domain::time::Instant;
use crate::domain::{Error, Result};
use crate::store::Session;

/// AcceptChildCoordinatorApplication, validated.
#[derive(Debug, Clone)]
pub struct AcceptApplication {
    /// The application.
    pub application: ResourceId,
    /// The child coordinator; `None` keeps the one chosen on an earlier acceptance.
    pub coordinator: Option<NewAssignment>,
    /// The child's identity number, when the application has none and the child is born.
    pub child: Option<NationalId>,
    /// The unit confirmed the applicant's parental responsibility: they join the child's plan
    /// as a representative with basis PARENT.
    pub applicant_is_parent: bool,
    /// A comment to the family.
    pub comment: String,
}

/// The name of an application.
pub fn application_name(id: ResourceId) -> String {
    format!("childCoordinatorApplications/{id}")
}

impl Context {
    /// CreateChildCoordinatorApplication: a citizen applies to a municipality of the registry
    /// for their family. Applying gives them no access to any plan.
    pub async fn create_child_coordinator_application(
        &self,
        who: &Principal,
        new: NewApplication,
    ) -> Result<Application> {
        self.write(async |s, now| {
            self.guard.apply_for_child_coordinator(s, who, &new.municipality, now).await?;
            if let Child::Born(child) = &new.child {
                who.refuse_own(&Subject::citizen(child), "applies for a child coordinator")?;
            }
            let municipality = &new.municipality;
            let kinds = [OrgKind::Municipality];
            s.organisation_of_kind("application.municipality", municipality, &kinds).await?;
            s.insert_application(&new, &who.subject, MOST_SUBMITTED_PER_APPLICANT, now).await
        })
        .await
    }

    /// GetChildCoordinatorApplication.
    pub async fn get_child_coordinator_application(
        &self,
        who: &Principal,
        id: ResourceId,
    ) -> Result<Application> {
        self.read(async |s, now| {
            let pass = self.guard.application(s, who, id, Action::Read, now).await?;
            Ok(pass.application().clone())
        })
        .await
    }

    /// ListChildCoordinatorApplications: the caller's own, and their municipality's by their
    /// role there, filtered in SQL from what the policy grants.
    pub async fn list_child_coordinator_applications(
        &self,
        who: &Principal,
        state: Option<ApplicationState>,
        page: Page,
    ) -> Result<Listed<Application>> {
        self.read(async |s, now| {
            let filter = self.guard.read_filter(s, Object::ChildCoordinatorApplication).await?;
            let own = filter.grants(Relation::Applicant);
            let mut rows = s.list_applications(who, own, &filter.org_roles, state, page).await?;
            let next_page_token = page.next_token(&mut rows, |r| r.application.id);
            let passes = self.guard.listed_applications(s, who, rows, now).await?;
            let items = passes.iter().map(|p| p.application().clone()).collect();
            Ok(Listed { items, next_page_token })
        })
        .await
    }

    /// AcceptChildCoordinatorApplication: for a born child, appoints the child coordinator on
    /// the child's open plan in the municipality, creating one when there is none, and adds the
    /// applicant as a parent when the unit confirmed it; for an expected child, records the
    /// coordinator on the application until the child is born. All in one transaction.
    pub async fn accept_child_coordinator_application(
        &self,
        who: &Principal,
        accept: AcceptApplication,
    ) -> Result<Application> {
        self.write(async |s, now| {
            let id = accept.application;
            let pass = self.guard.application(s, who, id, Action::Accept, now).await?;
            let application = pass.application();
            who.refuse_own(&application.applicant, "answers an application")?;
            let born = match (&application.child, &accept.child) {
                (Child::Born(child), None) => Some(child.clone()),
                (Child::Born(child), Some(given)) if child == given => Some(child.clone()),
                (Child::Born(_), Some(_)) => {
                    return Err(Error::invalid("child_id", "the application names another child"));
                }
                (Child::Expected(due), Some(given)) => {
                    check_newborn(application, *due, given)?;
                    Some(given.clone())
                }
                (Child::Expected(_), None) => None,
            };
            if accept.applicant_is_parent && born.is_none() {
                return Err(Error::invalid(
                    "applicant_is_parent",
                    "a parent joins the child's plan once the child has an identity number: \
                     give child_id",
                ));
            }
            application.check_answerable(born.as_ref())?;
            let chosen = accept.coordinator.clone().or_else(|| application.coordinator.clone());
            let mut coordinator = chosen.ok_or_else(|| {
                Error::invalid("coordinator.subject", "name the child coordinator")
            })?;
            coordinator.kind = CoordinatorKind::Child;
            who.refuse_own(&coordinator.subject, "appoints a coordinator")?;
            // Asked now, for an expected child too: the coordinator chosen is appointed on the
            // municipality's plan once the child is born.
            coordinator.check_acts_for("coordinator", &application.municipality)?;
            if self
                .guard
                .barred_from_coordinating(&coordinator.subject, &application.municipality)?
            {
                return Err(Error::FailedPrecondition(
                    "a local rule in the policy bars this person from being coordinator".into(),
                ));
            }
            let mut answered = Application {
                state: ApplicationState::Accepted,
                coordinator: Some(coordinator.clone()),
                response: accept.comment.clone(),
                response_time: Some(now),
                ..application.clone()
            };
            if let Some(child) = born {
                let parent = accept.applicant_is_parent;
                let (plan, assignment) = self
                    .appoint_on_childs_plan(s, who, &pass, &child, &coordinator, parent, now)
                    .await?;
                answered.child = Child::Born(child);
                answered.plan = Some(plan);
                answered.assignment = Some(assignment);
            }
            s.save_answer(&pass, &answered).await?;
            Ok(Application { revision: answered.revision + 1, ..answered })
        })
        .await
    }

    /// DeclineChildCoordinatorApplication: with a reason, which the family can complain
    /// against.
    pub async fn decline_child_coordinator_application(
        &self,
        who: &Principal,
        id: ResourceId,
        reason: String,
    ) -> Result<Application> {
        self.write(async |s, now| {
            let pass = self.guard.application(s, who, id, Action::Decline, now).await?;
            let application = pass.application();
            who.refuse_own(&application.applicant, "answers an application")?;
            if application.state != ApplicationState::Submitted {
                return Err(Error::FailedPrecondition(format!(
                    "the application is {} already",
                    application.state.as_str()
                )));
            }
            let answered = Application {
                state: ApplicationState::Declined,
                response: reason.clone(),
                response_time: Some(now),
                ..application.clone()
            };
            s.save_answer(&pass, &answered).await?;
            Ok(Application { revision: answered.revision + 1, ..answered })
        })
        .await
    }

    /// Appoints `coordinator` on `child`'s open plan in the application's municipality,
    /// creating the plan when there is none (REQUESTED: the child coordinator sees to it that
    /// the family gets a plan), and adds the applicant as a parent when the unit confirmed it
    /// (`parent`). Returns the plan and the appointment.
    #[allow(clippy::too_many_arguments)]
    async fn appoint_on_childs_plan(
        &self,
        s: &mut Session,
        who: &Principal,
        application: &ApplicationPass,
        child: &NationalId,
        coordinator: &NewAssignment,
        parent: bool,
        now: Instant,
    ) -> Result<(ResourceId, ResourceId)> {
        let a = application.application();
        let municipality = &a.municipality;
        let today = Date::today_in_norway(now);
        CoordinatorKind::Child.check_patient(child, today)?;
        let org = self
            .guard
            .organisation(s, who, municipality, Object::Coordinator, Action::Appoint, now)
            .await?;
        let (pass, created) = match s.open_plan_of(&org, child).await? {
            Some(plan) => {
                let object = Object::Coordinator;
                (self.guard.plan(s, who, plan, object, Action::Appoint, now).await?, false)
            }
            None => {
                let org = self
                    .guard
                    .organisation(s, who, municipality, Object::Plan, Action::Create, now)
                    .await?;
                who.refuse_own(&Subject::citizen(child), "opens a plan")?;
                let name = match a.child_display_name.as_str() {
                    "" => format!("Child of {}", a.applicant_display_name),
                    name => name.to_owned(),
                };
                let new = NewPlan {
                    organisation: municipality.clone(),
                    patient: child.clone(),
                    patient_display_name: name.chars().take(200).collect(),
                    kind: PlanKind::General,
                };
                let plan = s.insert_plan(&org, &new, &who.subject, now).await?;
                (self.guard.created_plan(s, &org, plan, Vec::new(), who, now).await?, true)
            }
        };
        if parent {
            let object = Object::RepresentativeParent;
            self.guard.require(s, &pass, who, object, Action::Add, now).await?;
        }
        let (assignment, _) = edit_plan(s, &pass, who, ChangeKind::Record, now, async |s, _| {
            let mut lines = Vec::new();
            if created {
                lines.push(format!("plan created for {}", application_name(a.id)));
            }
            let assignment =
                appoint(&self.guard, s, &pass, coordinator, "coordinator", who, now).await?;
            let name = plan_item(pass.id(), "coordinatorAssignments", assignment.id);
            lines.push(format!("coordinator appointed: {name}"));
            if parent {
                lines.extend(add_parent(s, &pass, who, a, now).await?);
            }
            Ok((assignment.id, lines))
        })
        .await?;
        Ok((pass.id(), assignment))
    }
}

/// The longest after the expected date a child's birth is still the one expected, in days.
const DAYS_AFTER_DUE: i64 = 60;

/// Checks that `child` can be the child an application made while they were expected (due on
/// `due`) was for: born on or after the day the application was made (a child born before it
/// is named by its number in the application), by today (`NationalId::parse`), and no later
/// than `DAYS_AFTER_DUE` after the expected date; and not the applicant themselves.
fn check_newborn(application: &Application, due: Date, child: &NationalId) -> Result<()> {
    if Subject::citizen(child) == application.applicant {
        return Err(Error::invalid(
            "child_id",
            "is the applicant's own: a child coordinator is for their child",
        ));
    }
    let filed = Date::today_in_norway(application.create_time);
    let born = child.birth_date();
    if born < filed || born > due.plus_days(DAYS_AFTER_DUE) {
        return Err(Error::invalid(
            "child_id",
            "must be of a child born after the application was made, near the expected date",
        ));
    }
    Ok(())
}

/// Adds the applicant to the child's plan as a representative with basis PARENT, unless they
/// serve on it already; the history's line when added.
async fn add_parent(
    s: &mut Session,
    pass: &PlanPass,
    who: &Principal,
    application: &Application,
    now: Instant,
) -> Result<Option<String>> {
    who.refuse_own(&application.applicant, "adds a member")?;
    let all = Page::unscoped(crate::domain::page::MAX_PAGE_SIZE, None);
    let serving = s.list_members(pass, false, all, now).await?;
    if serving.iter().any(|m| m.subject == application.applicant) {
        return Ok(None);
    }
    let mut parent = NewMember {
        subject: application.applicant.clone(),
        display_name: application.applicant_display_name.clone(),
        role: MemberRole::Representative,
        organisation: None,
        start_time: None,
        end_time: None,
        basis: Some(RepresentativeBasis::Parent),
        basis_reference: String::new(),
        powers_end_time: None,
    };
    parent.limit_parent_to_minor(&pass.plan().patient, Date::today_in_norway(now))?;
    let member = s.insert_member(pass, &parent, &who.subject, now).await?;
    Ok(Some(format!("member added: {}", described(&member))))
}
