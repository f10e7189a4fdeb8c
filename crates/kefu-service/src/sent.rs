//! What a send (a text, a note, a card, an upload) answers its caller.

use kefu_core::model::Message;

/// The stored message, and whether it was a retry of one stored before.
pub struct Sent {
    pub message: Message,
    pub duplicate: bool,
}
