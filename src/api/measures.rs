//! `samvirke.v1.MeasureService`.

use tonic::Request;

use super::convert::{date_in, item_at, measure_status, optional_date, plan_page, required_etag};
use super::encode::encode_measure;
use super::{Rpc, reply, take};
use crate::domain::ids::ResourceId;
use crate::domain::mask;
use crate::domain::measure::{
    Measure, MeasurePatch, NewMeasure, check_period, description, evaluation_text, frequency,
};
use crate::domain::names::{goal_name, measure_name, member_name, plan_name, same_plan};
use crate::domain::{Error, FieldViolation, Violations};
use crate::ops::measure::UpdateMeasure;
use crate::ops::{Context, ItemRef, Shown};
use crate::proto::measure_service_server::MeasureService;
use crate::proto::{self, *};

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
    if v.is_empty() { Ok(patch) } else { Err(v.into_violations()) }
}

/// A measure as the caller may see it.
fn shown(measure: &Shown<Measure>) -> Option<proto::Measure> {
    Some(encode_measure(&measure.value, measure.identities))
}

impl TryFrom<proto::UpdateMeasureRequest> for UpdateMeasure {
    type Error = Error;

    fn try_from(req: proto::UpdateMeasureRequest) -> Result<Self, Error> {
        let input = req.measure.ok_or_else(|| Error::invalid("measure", "must be set"))?;
        let mut v = Violations::default();
        let name = v.check(measure_name("measure.name", &input.name));
        let etag = v.check(required_etag("measure.etag", &input.etag));
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let fields = v.check_all(mask::resolve(&paths, UPDATABLE, FIXED));
        let patch = match (&name, &fields) {
            (Some((plan, _)), Some(fields)) => v.check_all(parse_patch(*plan, &input, fields)),
            _ => None,
        };
        match (name, etag, fields, patch) {
            (Some((plan, measure)), Some(etag), Some(fields), Some(patch)) if v.is_empty() => {
                Ok(UpdateMeasure {
                    measure: ItemRef { plan, item: measure, etag },
                    paths: fields.into_iter().map(|(p, _)| p).collect(),
                    patch,
                })
            }
            _ => Err(v.into_error()),
        }
    }
}

/// Validates CreateMeasure's measure for `plan`, naming every violation.
fn new_measure(plan: ResourceId, input: &proto::Measure, v: &mut Violations) -> Option<NewMeasure> {
    let description = v.check(description("measure.description", &input.description));
    let frequency = v.check(frequency("measure.frequency", &input.frequency));
    let start = v.check(optional_date("measure.start_date", input.start_date));
    let end = v.check(optional_date("measure.end_date", input.end_date));
    if let (Some(start), Some(end)) = (start, end) {
        v.check(check_period("measure.end_date", start, end));
    }
    let goal = goal_name("measure.goal", &input.goal);
    let goal = v.check(same_plan("measure.goal", plan, goal));
    let field = "measure.responsible_member";
    let responsible =
        v.check(same_plan(field, plan, member_name(field, &input.responsible_member)));
    Some(NewMeasure {
        goal: goal?,
        description: description?,
        responsible_member: responsible?,
        start_date: start?,
        end_date: end?,
        frequency: frequency?,
    })
}

#[tonic::async_trait]
impl MeasureService for MeasureApi {
    async fn create_measure(&self, r: Request<CreateMeasureRequest>) -> Rpc<CreateMeasureResponse> {
        let (who, req) = take(r)?;
        let input = req.measure.ok_or_else(|| Error::invalid("measure", "must be set"))?;
        let mut v = Violations::default();
        let plan = v.check(plan_name("parent", &req.parent));
        let new = plan.and_then(|plan| new_measure(plan, &input, &mut v));
        let (Some(plan), Some(new), true) = (plan, new, v.is_empty()) else {
            return Err(v.into_error().into());
        };
        let measure = self.0.create_measure(&who, plan, new).await?;
        reply(proto::CreateMeasureResponse { measure: shown(&measure) })
    }

    async fn get_measure(&self, r: Request<GetMeasureRequest>) -> Rpc<GetMeasureResponse> {
        let (who, req) = take(r)?;
        let (plan, measure) = measure_name("name", &req.name)?;
        let measure = self.0.get_measure(&who, plan, measure).await?;
        reply(proto::GetMeasureResponse { measure: shown(&measure) })
    }

    async fn list_measures(&self, r: Request<ListMeasuresRequest>) -> Rpc<ListMeasuresResponse> {
        let (who, req) = take(r)?;
        let rpc = "ListMeasures";
        let (plan, page) = plan_page(rpc, &req.parent, req.page_size, &req.page_token, "")?;
        let listed = self.0.list_measures(&who, plan, page).await?;
        let show = listed.identities;
        reply(proto::ListMeasuresResponse {
            measures: listed.value.items.iter().map(|m| encode_measure(m, show)).collect(),
            next_page_token: listed.value.next_page_token,
        })
    }

    async fn update_measure(&self, r: Request<UpdateMeasureRequest>) -> Rpc<UpdateMeasureResponse> {
        let (who, req) = take(r)?;
        let update = UpdateMeasure::try_from(req)?;
        let measure = self.0.update_measure(&who, update).await?;
        reply(proto::UpdateMeasureResponse { measure: shown(&measure) })
    }

    async fn delete_measure(&self, r: Request<DeleteMeasureRequest>) -> Rpc<DeleteMeasureResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let Some(at) = item_at(measure_name, (&req.name, &req.etag), &mut v) else {
            return Err(v.into_error().into());
        };
        self.0.delete_measure(&who, at).await?;
        reply(proto::DeleteMeasureResponse {})
    }

    async fn add_measure_evaluation(
        &self,
        r: Request<AddMeasureEvaluationRequest>,
    ) -> Rpc<AddMeasureEvaluationResponse> {
        let (who, req) = take(r)?;
        let input = req.evaluation.ok_or_else(|| Error::invalid("evaluation", "must be set"))?;
        let mut v = Violations::default();
        let at = item_at(measure_name, (&req.name, &req.etag), &mut v);
        let date = v.check(
            input
                .date
                .ok_or_else(|| FieldViolation::new("evaluation.date", "must be set"))
                .and_then(|d| date_in("evaluation.date", d)),
        );
        let text = v.check(evaluation_text("evaluation.text", &input.text));
        let (Some(at), Some(date), Some(text)) = (at, date, text) else {
            return Err(v.into_error().into());
        };
        let measure = self.0.add_measure_evaluation(&who, at, date, text).await?;
        reply(proto::AddMeasureEvaluationResponse { measure: shown(&measure) })
    }
}
