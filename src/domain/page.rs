//! Paging (AIP-158): a page size within bounds and an opaque token that continues after the
//! last item returned. Tokens carry a position, not an offset, so inserts made meanwhile
//! neither repeat nor skip items; and a digest of the query they continue (the RPC, the parent
//! and the filters), which the server checks, so a token continues only the query it came from.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::FieldViolation;
use super::ids::ResourceId;

/// The page size used when the request gives none.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The largest page a request may ask for.
pub const MAX_PAGE_SIZE: u32 = 500;

const TOKEN_PREFIX: &str = "v2:";
/// The longest token this service returns, with room to spare; longer ones are refused unread.
const MAX_TOKEN_BYTES: usize = 200;

/// The query a page belongs to: a digest of the RPC, its parent and its filters, so a token
/// from one query is refused by every other. `page_size` may change between pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope([u8; 16]);

impl Scope {
    /// The scope of `rpc` (its method name) listing under `parent` (empty when it has none)
    /// with `filters` in a canonical text form (the same filters always spelled alike).
    pub fn of(rpc: &str, parent: &str, filters: &str) -> Self {
        let mut hash = Sha256::new();
        for part in [rpc, parent, filters] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        let digest = hash.finalize();
        let mut scope = [0; 16];
        scope.copy_from_slice(&digest[..16]);
        Scope(scope)
    }

    fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A page request: how many items and after which one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// How many items at most.
    pub size: u32,
    /// Continue after this item; `None` for the first page.
    pub after: Option<ResourceId>,
    scope: Option<Scope>,
}

impl Page {
    /// Validates `page_size` and `page_token` as they come in a request for the query `scope`.
    pub fn parse(size: i32, token: &str, scope: Scope) -> Result<Self, Vec<FieldViolation>> {
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
            let decoded = (token.len() <= MAX_TOKEN_BYTES)
                .then(|| URL_SAFE_NO_PAD.decode(token).ok())
                .flatten()
                .and_then(|bytes| String::from_utf8(bytes).ok());
            let parts = decoded.as_deref().and_then(|text| {
                let rest = text.strip_prefix(TOKEN_PREFIX)?;
                let (after, digest) = rest.split_once(':')?;
                Some((ResourceId::parse(after)?, digest.to_owned()))
            });
            match parts {
                Some((after, digest)) if digest == scope.hex() => Some(Some(after)),
                Some(_) => {
                    violations.push(FieldViolation::new(
                        "page_token",
                        "belongs to another query: send the same parent and filters as the \
                         request that returned it",
                    ));
                    None
                }
                None => {
                    violations.push(FieldViolation::new(
                        "page_token",
                        "is not a token this service returned",
                    ));
                    None
                }
            }
        };
        match (size, after) {
            (Some(size), Some(after)) => Ok(Page { size, after, scope: Some(scope) }),
            _ => Err(violations),
        }
    }

    /// A page for a walk the server makes itself, which never hands out a token.
    pub fn unscoped(size: u32, after: Option<ResourceId>) -> Self {
        Page { size, after, scope: None }
    }

    /// The same page, continuing after `item`: for a store that reads on past items it does not
    /// show until the page is full.
    pub fn after_item(self, item: ResourceId) -> Self {
        Page { after: Some(item), ..self }
    }

    /// How many items a store fetches for this page: one more than it holds, so that
    /// `next_token` knows whether another page follows.
    pub fn limit(&self) -> i64 {
        i64::from(self.size) + 1
    }

    /// The token for the page after `items`, or an empty string when this page was the last.
    /// Stores fetch one item more than the page size to know.
    pub fn next_token<T>(&self, items: &mut Vec<T>, id: impl Fn(&T) -> ResourceId) -> String {
        if items.len() <= self.size as usize {
            return String::new();
        }
        items.truncate(self.size as usize);
        let scope = self.scope.map(|s| s.hex()).unwrap_or_default();
        items
            .last()
            .map(|last| URL_SAFE_NO_PAD.encode(format!("{TOKEN_PREFIX}{}:{scope}", id(last))))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_tokens() {
        let scope = Scope::of("ListPlans", "", "");
        assert_eq!(Page::parse(0, "", scope).unwrap().size, DEFAULT_PAGE_SIZE);
        assert_eq!(Page::parse(500, "", scope).unwrap().size, 500);
        assert!(Page::parse(501, "", scope).is_err());
        assert!(Page::parse(-1, "", scope).is_err());
        let errs = Page::parse(-1, "garbage", scope).unwrap_err();
        assert_eq!(errs.len(), 2);

        let page = Page::parse(2, "", scope).unwrap();
        let ids: Vec<_> = (0..3).map(|_| ResourceId::generate()).collect();
        let mut items = ids.clone();
        let token = page.next_token(&mut items, |id| *id);
        assert_eq!(items.len(), 2);
        assert_eq!(Page::parse(2, &token, scope).unwrap().after, Some(ids[1]));
        assert_eq!(Page::parse(7, &token, scope).unwrap().after, Some(ids[1]));
        let mut last = vec![ids[2]];
        assert_eq!(page.next_token(&mut last, |id| *id), "");
    }

    #[test]
    fn a_token_continues_only_its_own_query() {
        let scope = Scope::of("ListPlans", "", "statuses=");
        let page = Page::parse(1, "", scope).unwrap();
        let mut items: Vec<_> = (0..2).map(|_| ResourceId::generate()).collect();
        let token = page.next_token(&mut items, |id| *id);
        for other in [
            Scope::of("ListPlans", "", "statuses=active"),
            Scope::of("ListComplaints", "", "statuses="),
            Scope::of("ListPlans", "plans/x", "statuses="),
        ] {
            let errs = Page::parse(1, &token, other).unwrap_err();
            assert_eq!(errs[0].field, "page_token");
            assert!(errs[0].description.contains("another query"));
        }
        // Part boundaries count: ("ab", "c") is not ("a", "bc").
        assert_ne!(Scope::of("ab", "c", ""), Scope::of("a", "bc", ""));
    }
}
