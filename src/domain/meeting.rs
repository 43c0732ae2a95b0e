//! Meetings of a plan's responsibility group.

use super::ids::ResourceId;
use super::time::Instant;

/// A meeting of the responsibility group (ansvarsgruppemøte), with its minutes (referat).
#[derive(Clone, Debug)]
pub struct Meeting {
    /// The meeting's id.
    pub id: ResourceId,
    /// The plan.
    pub plan: ResourceId,
    /// When it starts.
    pub start_time: Instant,
    /// Where.
    pub location: String,
    /// A video link.
    pub video_link: String,
    /// The agenda.
    pub agenda: String,
    /// The memberships invited.
    pub invited: Vec<ResourceId>,
    /// The memberships that attended.
    pub attended: Vec<ResourceId>,
    /// The minutes.
    pub minutes: String,
    /// Increases with every change; the etag.
    pub revision: i64,
    /// When it was created.
    pub create_time: Instant,
    /// When it last changed.
    pub update_time: Instant,
}

/// The longest agenda or minutes accepted, in characters.
pub const MAX_MEETING_TEXT: usize = 10_000;

/// Validates a video link: an https URL with a host, of at most 500 characters, one line of the
/// request's text type (`text::line`) without spaces.
pub fn video_link(field: &str, link: &str) -> Result<String, super::FieldViolation> {
    let link = super::text::line(field, link, 500, false)?;
    if link.is_empty() {
        return Ok(String::new());
    }
    let host = link
        .strip_prefix("https://")
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
    if host.is_none_or(str::is_empty) || link.chars().any(char::is_whitespace) {
        return Err(super::FieldViolation::new(
            field,
            "must be an https:// URL of at most 500 characters",
        ));
    }
    Ok(link.to_owned())
}
