//! `samvirke.v1.MeasureService`.

use tonic::Request;

use super::convert::{date_in, item_at, masked, measure_status, optional_date, plan_page};
use super::encode::encode_measure;
use super::{Rpc, reply, take};
use crate::domain::ids::ResourceId;
use crate::domain::measure::{
    Measure, MeasurePatch, NewMeasure, description, evaluation_text, frequency,
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

/// Validates the masked fields of `input` into a patch for a measure of `plan`, recording what
/// is wrong in `v`.
fn parse_patch(
    plan: ResourceId,
    input: &proto::Measure,
    fields: &[(String, MeasureField)],
    v: &mut Violations,
) -> MeasurePatch {
    let mut patch = MeasurePatch::default();
    let member = |field| same_plan(field, plan, member_name(field, &input.responsible_member));
    for (_, field) in fields {
        match field {
            MeasureField::Goal => {
                let goal = goal_name("measure.goal", &input.goal);
                patch.goal = v.check(same_plan("measure.goal", plan, goal));
            }
            MeasureField::Description => {
                patch.description = v.check(description("measure.description", &input.description));
            }
            MeasureField::ResponsibleMember => {
                patch.responsible_member = v.check(member("measure.responsible_member"));
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
    patch
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
        let at = (&input.name[..], &input.etag[..]);
        let m = masked(&mut v, ("measure", measure_name), at, req.update_mask, (UPDATABLE, FIXED));
        let patch = m.at.map(|((plan, _), _)| parse_patch(plan, &input, &m.fields, &mut v));
        let paths = m.paths();
        let (((plan, measure), etag), patch) = v.ok(m.at.zip(patch))?;
        Ok(UpdateMeasure { measure: ItemRef { plan, item: measure, etag }, paths, patch })
    }
}

#[tonic::async_trait]
impl MeasureService for MeasureApi {
    async fn create_measure(&self, r: Request<CreateMeasureRequest>) -> Rpc<CreateMeasureResponse> {
        let (who, req) = take(r)?;
        let input = req.measure.ok_or_else(|| Error::invalid("measure", "must be set"))?;
        let mut v = Violations::default();
        let plan = v.check(plan_name("parent", &req.parent));
        let dates = (input.start_date, input.end_date);
        let dates = (
            dates.0.map(|d| date_in("measure.start_date", d)),
            dates.1.map(|d| date_in("measure.end_date", d)),
        );
        let new = plan.and_then(|plan| {
            let (goal, member) = (&input.goal, &input.responsible_member);
            v.check_all(NewMeasure::parse(
                plan,
                goal,
                &input.description,
                member,
                dates,
                &input.frequency,
            ))
        });
        let (plan, new) = v.ok(plan.zip(new))?;
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
        let at = item_at(measure_name, (&req.name, &req.etag), &mut v);
        let at = v.ok(at)?;
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
        let ((at, date), text) = v.ok(at.zip(date).zip(text))?;
        let measure = self.0.add_measure_evaluation(&who, at, date, text).await?;
        reply(proto::AddMeasureEvaluationResponse { measure: shown(&measure) })
    }
}
