//! The plan's access log, for its patient: ListAccessEvents.

use super::{Context, Listed};
use crate::auth::{Action, Object};
use crate::domain::Result;
use crate::domain::access_event::{AccessEvent, AccessEventFilter, describe, limited};
use crate::domain::ids::ResourceId;
use crate::domain::page::Page;
use crate::domain::principal::Principal;

/// ListAccessEvents, validated.
#[derive(Debug)]
pub struct ListAccessEvents {
    /// The plan.
    pub plan: ResourceId,
    /// Which events.
    pub filter: AccessEventFilter,
}

impl Context {
    /// ListAccessEvents: who accessed the plan and everything in it, newest first, for those
    /// the policy lets read the access log (the patient and their representatives). Reading it
    /// is logged like any other read of the plan.
    pub async fn list_access_events(
        &self,
        who: &Principal,
        list: ListAccessEvents,
        page: Page,
    ) -> Result<Listed<AccessEvent>> {
        let read = (Object::AccessLog, Action::Read);
        let listed = self.read_plan(who, list.plan, read, async |s, pass| {
            let rows = s.list_access_events(pass, who, &list.filter, page).await?;
            Ok(Listed::page(rows, page, |row| row.id))
        });
        let listed = listed.await?.value;
        let items = listed
            .items
            .into_iter()
            .map(|row| {
                let description = describe(&row.operation, &row.object, &row.action, row.allowed);
                AccessEvent {
                    id: row.id,
                    time: row.time,
                    description: if row.scoped { limited(description) } else { description },
                    accessor: row.accessor,
                    operation: row.operation,
                    allowed: row.allowed,
                    limited: row.scoped,
                }
            })
            .collect();
        Ok(Listed { items, next_page_token: listed.next_page_token })
    }
}
