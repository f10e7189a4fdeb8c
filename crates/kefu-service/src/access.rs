//! Who may see what: the entitlement checks every flow (and the routes' plain reads) share.
//!
//! The rule of conversations, tickets and after-sales requests is `kefu_core::frames::entitled`:
//! admins and supervisors see the whole shop, agents their own and the unassigned ones. Anything
//! a caller may not see answers `not_found`, never a hint that it exists.

use kefu_core::frames::entitled;
use kefu_core::model::{Conversation, Id, Role, User};
use kefu_core::store::Store;
use kefu_core::{Error, Result};

/// Whether an agent may see a conversation.
pub fn agent_sees(conversation: &Conversation, user_id: Id, role: Role) -> bool {
    entitled(conversation.assignee_id, user_id, role)
}

/// The conversation if this agent may see it; otherwise `not_found`.
pub async fn visible_conversation(
    store: &dyn Store,
    agent: &User,
    conversation_id: Id,
) -> Result<Conversation> {
    let conversation = store
        .conversation(agent.shop_id, conversation_id)
        .await?
        .ok_or_else(|| Error::not_found("conversation"))?;
    if !agent_sees(&conversation, agent.id, agent.role) {
        return Err(Error::not_found("conversation"));
    }
    Ok(conversation)
}

/// Admins and supervisors manage the customer base and the shop's settings; agents read and
/// edit profiles.
pub fn require_manager(user: &User, what: &str) -> Result<()> {
    if user.role.sees_whole_shop() {
        Ok(())
    } else {
        Err(Error::forbidden(format!(
            "only admins and supervisors may {what}"
        )))
    }
}

pub fn require_admin(user: &User, what: &str) -> Result<()> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(Error::forbidden(format!("only admins may {what}")))
    }
}
