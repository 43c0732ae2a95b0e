//! Types and rules of the individual plan: identifiers, statuses, validation. No I/O, no gRPC,
//! no SQL: the api layer converts to and from these, the store persists them.

pub mod access_event;
pub mod block;
pub mod change;
pub mod child_coordinator;
pub mod complaint;
pub mod coordinator;
pub mod date;
pub mod error;
pub mod goal;
pub mod ids;
pub mod language;
pub mod limits;
pub mod mask;
pub mod measure;
pub mod meeting;
pub mod member;
pub mod names;
pub mod national_id;
pub mod organisation;
pub mod page;
pub mod plan;
pub mod principal;
pub mod referral;
pub mod relation;
pub mod scope;
pub mod subject;
pub mod text;
pub mod time;
pub mod transfer;

pub use error::{Error, FieldViolation, Result, Violations};

/// Defines a closed enum with the stable text each variant is stored as. The text is part of
/// the database schema: change it only with a migration.
macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every variant.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text the variant is stored and named as.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The variant stored as `text`.
            pub fn from_stored(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}
pub(crate) use stored_enum;
