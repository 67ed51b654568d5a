//! `mirror_enum!`: declares a public SDK enum that mirrors a generated WIT enum.
//!
//! The SDK keeps its own enums instead of re-exporting the wit-bindgen ones so that
//! every variant carries documentation, the names read like the seed API
//! (`PlayerCause::BargeIn`, not `Bargein`), and `Display` prints the UAS spelling
//! (`CALL_INCOMING`). The generated conversions are exhaustive `match`es, so a change
//! to the WIT enums fails to compile here instead of misbehaving at run time.
//! Depends only on the generated bindings.

/// Declares `pub enum $name` plus `Display`, `From<$raw>` and `From<$name> for $raw`.
///
/// Each variant is written `Variant = RawVariant => "UAS_NAME"`; `$raw` must be a
/// type name in scope (import the generated enum under an alias first).
macro_rules! mirror_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident mirrors $raw:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident = $raw_variant:ident => $text:literal,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                $(#[$variant_meta])*
                $variant,
            )*
        }

        impl $name {
            /// Every value, in WIT declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The upper-case name the UAS API uses for this value (also what
            /// `Display` prints).
            pub fn uas_name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, formatter: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                formatter.write_str(self.uas_name())
            }
        }

        impl From<$raw> for $name {
            fn from(raw: $raw) -> Self {
                match raw {
                    $($raw::$raw_variant => $name::$variant,)*
                }
            }
        }

        impl From<$name> for $raw {
            fn from(value: $name) -> Self {
                match value {
                    $($name::$variant => $raw::$raw_variant,)*
                }
            }
        }
    };
}

pub(crate) use mirror_enum;
