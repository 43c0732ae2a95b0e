//! `samvirke.v1.MeasureService`.

use tonic::{Request, Response, Status};

use super::convert::{
    date_in, goal_name, measure_name, measure_status, member_name, optional_date, plan_item,
    plan_name, plan_page, required_etag, same_plan,
};
use super::document::{Change, encode_measure};
use super::{Context, principal};
use crate::auth::{Action, Object, PlanAccess, Relation};
use crate::domain::ids::ResourceId;
use crate::domain::mask;
use crate::domain::measure::{
    Evaluation, Measure, MeasurePatch, NewMeasure, check_period, description, evaluation_text,
    frequency,
};
use crate::domain::principal::Principal;
use crate::domain::time::Instant;
use crate::domain::{Error, FieldViolation, Violations};
use crate::proto;
use crate::proto::measure_service_server::MeasureService;
use crate::store::{Session, check_measure_revision};

/// The measure service.
pub struct MeasureApi(pub Context);

/// The field groups of a measure: what the coordinator plans, and the progress the responsible
/// member reports.
#[derive(Clone, Copy, Debug, PartialEq)]
enum MeasureField {
    Goal,
    Description,
    ResponsibleMember,
    StartDate,
    EndDate,
    Frequency,
    Status,
}

const UPDATABLE: &[(&str, MeasureField)] = &[
    ("goal", MeasureField::Goal),
    ("description", MeasureField::Description),
    ("responsible_member", MeasureField::ResponsibleMember),
    ("start_date", MeasureField::StartDate),
    ("end_date", MeasureField::EndDate),
    ("frequency", MeasureField::Frequency),
    ("status", MeasureField::Status),
];

const FIXED: &[&str] = &["name", "evaluations", "create_time", "update_time", "etag"];

impl MeasureField {
    fn policy(self) -> (Object, Action) {
        match self {
            MeasureField::Status => (Object::MeasureProgress, Action::Update),
            _ => (Object::Measure, Action::Update),
        }
    }
}

/// Validates the masked fields of `input` into a patch for a measure of `plan`.
fn parse_patch(
    plan: ResourceId,
    input: &proto::Measure,
    fields: &[(String, MeasureField)],
) -> Result<MeasurePatch, Vec<FieldViolation>> {
    let mut v = Violations::default();
    let mut patch = MeasurePatch::default();
    for (_, field) in fields {
        match field {
            MeasureField::Goal => {
                patch.goal = v.check(same_plan(
                    "measure.goal",
                    plan,
                    goal_name("measure.goal", &input.goal),
                ));
            }
            MeasureField::Description => {
                patch.description = v.check(description("measure.description", &input.description));
            }
            MeasureField::ResponsibleMember => {
                patch.responsible_member = v.check(same_plan(
                    "measure.responsible_member",
                    plan,
                    member_name("measure.responsible_member", &input.responsible_member),
                ));
            }
            MeasureField::StartDate => {
                patch.start_date = v.check(optional_date("measure.start_date", input.start_date));
            }
            MeasureField::EndDate => {
                patch.end_date = v.check(optional_date("measure.end_date", input.end_date));
            }
            MeasureField::Frequency => {
                patch.frequency = v.check(frequency("measure.frequency", &input.frequency));
            }
            MeasureField::Status => {
                patch.status = v.check(measure_status(input.status).ok_or_else(|| {
                    FieldViolation::new(
                        "measure.status",
                        "must be a measure status other than MEASURE_STATUS_UNSPECIFIED",
                    )
                }));
            }
        }
    }
    if v.is_empty() {
        Ok(patch)
    } else {
        Err(v.into_violations())
    }
}

impl MeasureApi {
    /// Runs a change to one measure: load the plan and the measure, add the `responsible`
    /// relation when the caller is the member responsible for it, authorize, check the plan is
    /// open, let `change` act, and write the plan's revision. Returns the measure as it now
    /// is, or `None` when the change deleted it.
    async fn change(
        &self,
        who: &Principal,
        plan: ResourceId,
        measure: ResourceId,
        authorize: &[(Object, Action)],
        change: impl AsyncFnOnce(&mut Session, &PlanAccess, Measure) -> Result<(bool, String), Error>,
    ) -> Result<Option<proto::Measure>, Error> {
        let now = Instant::now();
        let mut session = self.0.store.write().await?;
        let result = async {
            let mut access = self
                .0
                .guard
                .plan(&mut session, who, plan, Object::Plan, Action::Read, now)
                .await?;
            let loaded = session.measure(plan, measure).await?;
            if session.is_responsible(&loaded, who, now).await? {
                access.relations.push(Relation::Responsible);
            }
            for &(object, action) in authorize {
                self.0
                    .guard
                    .require(&mut session, &access, who, object, action, now)
                    .await?;
            }
            access.plan.check_open()?;
            let begun = Change::begin(&mut session, &access, who, true, now).await?;
            let (kept, what) = change(&mut session, &access, loaded).await?;
            begun
                .finish(&mut session, &access, who, &[what], now)
                .await?;
            let show = self.0.guard.may_see_identities(&access, who)?;
            Ok(if kept {
                Some(encode_measure(&session.measure(plan, measure).await?, show))
            } else {
                None
            })
        }
        .await;
        session.finish(result).await
    }
}

#[tonic::async_trait]
impl MeasureService for MeasureApi {
    async fn create_measure(
        &self,
        request: Request<proto::CreateMeasureRequest>,
    ) -> Result<Response<proto::CreateMeasureResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let input = req
            .measure
            .ok_or_else(|| Error::invalid("measure", "must be set"))?;
        let mut v = Violations::default();
        let plan = v.check(plan_name("parent", &req.parent));
        let description = v.check(description("measure.description", &input.description));
        let frequency = v.check(frequency("measure.frequency", &input.frequency));
        let start = v.check(optional_date("measure.start_date", input.start_date));
        let end = v.check(optional_date("measure.end_date", input.end_date));
        if let (Some(start), Some(end)) = (start, end) {
            v.check(check_period("measure.end_date", start, end));
        }
        let (goal, responsible) = match plan {
            Some(plan) => (
                v.check(same_plan(
                    "measure.goal",
                    plan,
                    goal_name("measure.goal", &input.goal),
                )),
                v.check(same_plan(
                    "measure.responsible_member",
                    plan,
                    member_name("measure.responsible_member", &input.responsible_member),
                )),
            ),
            None => (None, None),
        };
        let (
            Some(plan),
            Some(description),
            Some(frequency),
            Some(start_date),
            Some(end_date),
            Some(goal),
            Some(responsible_member),
        ) = (plan, description, frequency, start, end, goal, responsible)
        else {
            return Err(v.into_error().into());
        };
        v.finish()?;
        let new = NewMeasure {
            goal,
            description,
            responsible_member,
            start_date,
            end_date,
            frequency,
        };
        let now = Instant::now();
        let mut session = self.0.store.write().await?;
        let result = async {
            let access = self
                .0
                .guard
                .plan(
                    &mut session,
                    &who,
                    plan,
                    Object::Measure,
                    Action::Create,
                    now,
                )
                .await?;
            access.plan.check_open()?;
            session
                .check_measure_refs(plan, Some(goal), Some(responsible_member), now)
                .await?;
            let begun = Change::begin(&mut session, &access, &who, true, now).await?;
            let measure = session
                .insert_measure(&access.plan, &new, &who.subject, now)
                .await?;
            let name = plan_item(plan, "measures", measure.id);
            begun
                .finish(
                    &mut session,
                    &access,
                    &who,
                    &[format!("measure created: {name}")],
                    now,
                )
                .await?;
            let show = self.0.guard.may_see_identities(&access, &who)?;
            Ok(encode_measure(&measure, show))
        }
        .await;
        let measure = session.finish(result).await?;
        Ok(Response::new(proto::CreateMeasureResponse {
            measure: Some(measure),
        }))
    }

    async fn get_measure(
        &self,
        request: Request<proto::GetMeasureRequest>,
    ) -> Result<Response<proto::GetMeasureResponse>, Status> {
        let who = principal(&request)?;
        let (plan, measure) = measure_name("name", &request.get_ref().name).map_err(Error::from)?;
        let now = Instant::now();
        let mut session = self.0.store.read().await?;
        let access = self
            .0
            .guard
            .plan(&mut session, &who, plan, Object::Plan, Action::Read, now)
            .await?;
        let measure = session.measure(plan, measure).await?;
        let show = self.0.guard.may_see_identities(&access, &who)?;
        Ok(Response::new(proto::GetMeasureResponse {
            measure: Some(encode_measure(&measure, show)),
        }))
    }

    async fn list_measures(
        &self,
        request: Request<proto::ListMeasuresRequest>,
    ) -> Result<Response<proto::ListMeasuresResponse>, Status> {
        let who = principal(&request)?;
        let req = request.get_ref();
        let (plan, page) = plan_page(
            "ListMeasures",
            &req.parent,
            req.page_size,
            &req.page_token,
            "",
        )?;
        let now = Instant::now();
        let mut session = self.0.store.read().await?;
        let access = self
            .0
            .guard
            .plan(&mut session, &who, plan, Object::Plan, Action::Read, now)
            .await?;
        let mut measures = session.list_measures(plan, Some(page)).await?;
        let next_page_token = page.next_token(&mut measures, |m| m.id);
        let show = self.0.guard.may_see_identities(&access, &who)?;
        Ok(Response::new(proto::ListMeasuresResponse {
            measures: measures.iter().map(|m| encode_measure(m, show)).collect(),
            next_page_token,
        }))
    }

    async fn update_measure(
        &self,
        request: Request<proto::UpdateMeasureRequest>,
    ) -> Result<Response<proto::UpdateMeasureResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let input = req
            .measure
            .ok_or_else(|| Error::invalid("measure", "must be set"))?;
        let mut v = Violations::default();
        let name = v.check(measure_name("measure.name", &input.name));
        let expected = v.check(required_etag("measure.etag", &input.etag));
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let fields = v.check_all(mask::resolve(&paths, UPDATABLE, FIXED));
        let patch = match (&name, &fields) {
            (Some((plan, _)), Some(fields)) => v.check_all(parse_patch(*plan, &input, fields)),
            _ => None,
        };
        let (Some((plan, measure)), Some(expected), Some(fields), Some(patch)) =
            (name, expected, fields, patch)
        else {
            return Err(v.into_error().into());
        };
        v.finish()?;
        let mut authorize: Vec<(Object, Action)> = Vec::new();
        for (_, field) in &fields {
            if !authorize.contains(&field.policy()) {
                authorize.push(field.policy());
            }
        }
        let measure = self
            .change(
                &who,
                plan,
                measure,
                &authorize,
                async |session, _, mut measure| {
                    check_measure_revision(&measure, expected)?;
                    let now = Instant::now();
                    session
                        .check_measure_refs(plan, patch.goal, patch.responsible_member, now)
                        .await?;
                    patch.apply(&mut measure, now).map_err(Error::from)?;
                    session.save_measure(&measure, expected).await?;
                    let paths: Vec<&str> = fields.iter().map(|(p, _)| p.as_str()).collect();
                    let name = plan_item(plan, "measures", measure.id);
                    Ok((
                        true,
                        format!("measure updated ({}): {name}", paths.join(", ")),
                    ))
                },
            )
            .await?;
        Ok(Response::new(proto::UpdateMeasureResponse { measure }))
    }

    async fn delete_measure(
        &self,
        request: Request<proto::DeleteMeasureRequest>,
    ) -> Result<Response<proto::DeleteMeasureResponse>, Status> {
        let who = principal(&request)?;
        let req = request.get_ref();
        let mut v = Violations::default();
        let name = v.check(measure_name("name", &req.name));
        let expected = v.check(required_etag("etag", &req.etag));
        let (Some((plan, measure)), Some(expected)) = (name, expected) else {
            return Err(v.into_error().into());
        };
        self.change(
            &who,
            plan,
            measure,
            &[(Object::Measure, Action::Delete)],
            async |session, _, measure| {
                session.delete_measure(&measure, expected).await?;
                let name = plan_item(plan, "measures", measure.id);
                Ok((false, format!("measure deleted: {name}")))
            },
        )
        .await?;
        Ok(Response::new(proto::DeleteMeasureResponse {}))
    }

    async fn add_measure_evaluation(
        &self,
        request: Request<proto::AddMeasureEvaluationRequest>,
    ) -> Result<Response<proto::AddMeasureEvaluationResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let input = req
            .evaluation
            .ok_or_else(|| Error::invalid("evaluation", "must be set"))?;
        let mut v = Violations::default();
        let name = v.check(measure_name("name", &req.name));
        let expected = v.check(required_etag("etag", &req.etag));
        let date = v.check(
            input
                .date
                .ok_or_else(|| FieldViolation::new("evaluation.date", "must be set"))
                .and_then(|d| date_in("evaluation.date", d)),
        );
        let text = v.check(evaluation_text("evaluation.text", &input.text));
        let (Some((plan, measure)), Some(expected), Some(date), Some(text)) =
            (name, expected, date, text)
        else {
            return Err(v.into_error().into());
        };
        let measure = self
            .change(
                &who,
                plan,
                measure,
                &[(Object::MeasureProgress, Action::Update)],
                async |session, access, mut measure| {
                    check_measure_revision(&measure, expected)?;
                    let now = Instant::now();
                    let evaluation = Evaluation {
                        date,
                        text,
                        author: who.subject.as_stored().to_owned(),
                        author_relations: access.relation_names(),
                        time: now,
                    };
                    session
                        .insert_evaluation(&access.plan.organisation, &measure, &evaluation)
                        .await?;
                    MeasurePatch::default()
                        .apply(&mut measure, now)
                        .map_err(Error::from)?;
                    session.save_measure(&measure, expected).await?;
                    let name = plan_item(plan, "measures", measure.id);
                    Ok((true, format!("measure evaluated: {name}")))
                },
            )
            .await?;
        Ok(Response::new(proto::AddMeasureEvaluationResponse {
            measure,
        }))
    }
}
