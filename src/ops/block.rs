//! Blocks (sperring): CreateBlock, ListBlocks, LiftBlock. The patient and their representatives
//! keep a person or an organisation out of the plan; the guard refuses the blocked on their
//! next call (`auth::guard`), and the lists leave the plan out for them (`store::blocks`).

use super::{ChangeKind, Context, Shown, edit_plan};
use crate::auth::{Action, Object};
use crate::domain::block::{Block, BlockTarget, NewBlock};
use crate::domain::ids::ResourceId;
use crate::domain::principal::Principal;
use crate::domain::subject::Subject;
use crate::domain::{Error, Result};

impl Context {
    /// CreateBlock: keeps `new`'s target out of the plan from the next call on. Refuses the
    /// plan's responsible organisation (the plan would have no one to run it: it moves with
    /// TransferPlan instead), the patient, and the caller themselves.
    pub async fn create_block(
        &self,
        who: &Principal,
        plan: ResourceId,
        new: NewBlock,
    ) -> Result<Shown<Block>> {
        let wants = [(Object::Block, Action::Add)];
        self.write(async |s, now| {
            let pass = self.plan_pass(s, who, plan, &wants, now).await?;
            let plan = pass.plan();
            match &new.target {
                BlockTarget::Organisation(o) if *o == plan.organisation => {
                    return Err(Error::invalid(
                        "block.organisation",
                        "is the plan's responsible organisation, which cannot be blocked: block \
                         the persons in it",
                    ));
                }
                BlockTarget::Organisation(o) if s.organisation(o).await?.is_none() => {
                    return Err(Error::invalid(
                        "block.organisation",
                        "must be an organisation of the registry",
                    ));
                }
                BlockTarget::Subject(s) if *s == Subject::citizen(&plan.patient) => {
                    return Err(Error::invalid("block.subject", "the patient cannot be blocked"));
                }
                BlockTarget::Subject(s) if who.is(s) => {
                    return Err(Error::invalid("block.subject", "you cannot block yourself"));
                }
                _ => {}
            }
            let standing = s.list_blocks(&pass, false).await?;
            if standing.iter().any(|b| b.target == new.target) {
                return Err(Error::FailedPrecondition("they are blocked already".into()));
            }
            let block = Block {
                id: ResourceId::generate(),
                plan: pass.id(),
                target: new.target.clone(),
                display_name: new.display_name.clone(),
                reason: new.reason.clone(),
                created_by: who.subject.as_stored().to_owned(),
                create_time: now,
                lift_time: None,
            };
            let (_, pass) = edit_plan(s, &pass, who, ChangeKind::Record, now, async |s, _| {
                s.insert_block(&pass, &block).await?;
                Ok(((), vec!["access blocked at the patient's request".to_owned()]))
            })
            .await?;
            Shown::by(&pass, block)
        })
        .await
    }

    /// ListBlocks: the plan's blocks in force, and lifted ones when `lifted`.
    pub async fn list_blocks(
        &self,
        who: &Principal,
        plan: ResourceId,
        lifted: bool,
    ) -> Result<Shown<Vec<Block>>> {
        self.read_plan(who, plan, (Object::Block, Action::Read), async |s, pass| {
            s.list_blocks(pass, lifted).await
        })
        .await
    }

    /// LiftBlock: the blocked regain what their relations and roles give them.
    pub async fn lift_block(
        &self,
        who: &Principal,
        plan: ResourceId,
        block: ResourceId,
    ) -> Result<Shown<Block>> {
        let wants = [(Object::Block, Action::Remove)];
        self.write(async |s, now| {
            let pass = self.plan_pass(s, who, plan, &wants, now).await?;
            let mut standing = s.block(&pass, block).await?;
            let (_, pass) = edit_plan(s, &pass, who, ChangeKind::Record, now, async |s, _| {
                s.lift_block(&pass, &standing, &who.subject, now).await?;
                Ok(((), vec!["a block lifted".to_owned()]))
            })
            .await?;
            standing.lift_time = Some(now);
            Shown::by(&pass, standing)
        })
        .await
    }
}
