//! `samvirke.v1.BlockService`.

use tonic::Request;

use super::convert::{shown_subject, timestamp};
use super::{Rpc, reply, take};
use crate::domain::block::{Block, BlockTarget, NewBlock};
use crate::domain::names::{block_name, plan_item, plan_name};
use crate::domain::{Error, Violations};
use crate::ops::{Context, Shown};
use crate::proto::block_service_server::BlockService;
use crate::proto::{self, *};

/// The block service: the patient keeps a person or an organisation out of their plan.
pub struct BlockApi(pub Context);

fn encode(block: &Block, show_identity: bool) -> proto::Block {
    let (subject, organisation) = match &block.target {
        BlockTarget::Subject(s) => (shown_subject(s.as_stored(), show_identity), String::new()),
        BlockTarget::Organisation(o) => (String::new(), o.as_str().to_owned()),
    };
    proto::Block {
        name: plan_item(block.plan, "blocks", block.id),
        subject,
        organisation,
        display_name: block.display_name.clone(),
        reason: block.reason.clone(),
        create_time: Some(timestamp(block.create_time)),
        lift_time: block.lift_time.map(timestamp),
    }
}

fn encode_one(shown: Shown<Block>) -> Option<proto::Block> {
    Some(encode(&shown.value, shown.identities))
}

#[tonic::async_trait]
impl BlockService for BlockApi {
    async fn create_block(&self, r: Request<CreateBlockRequest>) -> Rpc<CreateBlockResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let plan = v.check(plan_name("parent", &req.parent));
        let input = req.block.unwrap_or_default();
        let new = v.check_all(NewBlock::parse(
            &input.subject,
            &input.organisation,
            &input.display_name,
            &input.reason,
        ));
        let (plan, new) = v.ok(plan.zip(new))?;
        let block = self.0.create_block(&who, plan, new).await?;
        reply(CreateBlockResponse { block: encode_one(block) })
    }

    async fn list_blocks(&self, r: Request<ListBlocksRequest>) -> Rpc<ListBlocksResponse> {
        let (who, req) = take(r)?;
        let plan = plan_name("parent", &req.parent).map_err(Error::from)?;
        let listed = self.0.list_blocks(&who, plan, req.show_lifted).await?;
        let blocks = listed.value.iter().map(|b| encode(b, listed.identities)).collect();
        reply(ListBlocksResponse { blocks })
    }

    async fn lift_block(&self, r: Request<LiftBlockRequest>) -> Rpc<LiftBlockResponse> {
        let (who, req) = take(r)?;
        let (plan, block) = block_name("name", &req.name).map_err(Error::from)?;
        let lifted = self.0.lift_block(&who, plan, block).await?;
        reply(LiftBlockResponse { block: encode_one(lifted) })
    }
}
