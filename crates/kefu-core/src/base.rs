//! The few definitions every area of kefu-core builds on — the id type, a reference to a
//! customer, and the macro that declares a string enum — kept apart from `model` so that areas
//! `model` itself refers to (segments) need not import `model` back.

use serde::Serialize;
use utoipa::ToSchema;

/// Database-assigned ids.
pub type Id = i64;

/// A customer as other records show them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerRef {
    pub id: Id,
    pub name: String,
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            /// Parses the stored/wire form; an unknown value is a validation error.
            pub fn parse(s: &str) -> Result<Self> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(Error::validation(format!(
                        concat!("unknown ", stringify!($name), " '{}'"), other
                    ))),
                }
            }
        }
    };
}
// Other areas of kefu-core declare their enums the same way.
pub(crate) use string_enum;
