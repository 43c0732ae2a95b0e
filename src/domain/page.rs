//! Paging: a page size within bounds and an opaque token that continues after the last item
//! returned. Tokens carry a position, not an offset, so inserts made meanwhile neither repeat nor
//! skip items.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::FieldViolation;
use super::ids::ResourceId;

/// The page size used when the request gives none.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The largest page a request may ask for.
pub const MAX_PAGE_SIZE: u32 = 500;

/// A page request: how many items and after which one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// How many items at most.
    pub size: u32,
    /// Continue after this item; `None` for the first page.
    pub after: Option<ResourceId>,
}

const TOKEN_PREFIX: &str = "v1:";

impl Page {
    /// Validates `page_size` and `page_token` as they come in a request.
    pub fn parse(size: i32, token: &str) -> Result<Self, Vec<FieldViolation>> {
        let mut violations = Vec::new();
        let size = match size {
            0 => Some(DEFAULT_PAGE_SIZE),
            1..=500 => Some(size as u32),
            _ => {
                violations.push(FieldViolation::new(
                    "page_size",
                    format!("must be between 0 and {MAX_PAGE_SIZE}"),
                ));
                None
            }
        };
        let after = if token.is_empty() {
            Some(None)
        } else {
            let decoded = URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|text| text.strip_prefix(TOKEN_PREFIX).and_then(ResourceId::parse));
            if decoded.is_none() {
                violations.push(FieldViolation::new(
                    "page_token",
                    "is not a token this service returned",
                ));
            }
            decoded.map(Some)
        };
        match (size, after) {
            (Some(size), Some(after)) => Ok(Page { size, after }),
            _ => Err(violations),
        }
    }

    /// The token for the page after `items`, or an empty string when this page was the last.
    /// Stores fetch one item more than the page size to know.
    pub fn next_token<T>(&self, items: &mut Vec<T>, id: impl Fn(&T) -> ResourceId) -> String {
        if items.len() <= self.size as usize {
            return String::new();
        }
        items.truncate(self.size as usize);
        items
            .last()
            .map(|last| URL_SAFE_NO_PAD.encode(format!("{TOKEN_PREFIX}{}", id(last))))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_tokens() {
        assert_eq!(Page::parse(0, "").unwrap().size, DEFAULT_PAGE_SIZE);
        assert_eq!(Page::parse(500, "").unwrap().size, 500);
        assert!(Page::parse(501, "").is_err());
        assert!(Page::parse(-1, "").is_err());
        let errs = Page::parse(-1, "garbage").unwrap_err();
        assert_eq!(errs.len(), 2);

        let page = Page::parse(2, "").unwrap();
        let ids: Vec<_> = (0..3).map(|_| ResourceId::generate()).collect();
        let mut items = ids.clone();
        let token = page.next_token(&mut items, |id| *id);
        assert_eq!(items.len(), 2);
        assert_eq!(Page::parse(2, &token).unwrap().after, Some(ids[1]));
        let mut last = vec![ids[2]];
        assert_eq!(page.next_token(&mut last, |id| *id), "");
    }
}
