//! Stable codes: every closed set of values that is stored in the database or sent over the API
//! (case states, actions, roles, levels, delivery states, job kinds...) is a Rust enum with one
//! snake_case code per variant.
//!
//! Storage decodes a column into its enum once, at the boundary, through [`Code::from_code`];
//! an unknown stored value is an error naming the column and the value, never a default. Above
//! the boundary a `match` names every variant, so a new action or notice kind that some code
//! forgot is a compile error rather than a silent `None`.

/// A closed set of values, each with a stable code.
pub trait Code: Copy + Sized + 'static {
    /// What the values are, for error messages ("case state", "action").
    const WHAT: &'static str;

    /// Every value, in a stable order.
    fn all() -> &'static [Self];

    /// The stable code.
    fn code(self) -> &'static str;

    /// The value with this code, if any.
    fn from_code(code: &str) -> Option<Self> {
        Self::all().iter().copied().find(|v| v.code() == code)
    }

    /// Every code, comma-separated, for "expected one of ..." messages.
    fn expected() -> String {
        Self::all()
            .iter()
            .map(|v| v.code())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Implements [`Code`] for an enum that already has an inherent `code()` and an `ALL` list.
#[macro_export]
macro_rules! impl_code {
    ($ty:ty, $what:literal) => {
        impl $crate::code::Code for $ty {
            const WHAT: &'static str = $what;
            fn all() -> &'static [Self] {
                &<$ty>::ALL
            }
            fn code(self) -> &'static str {
                <$ty>::code(self)
            }
        }
    };
}

/// Defines an enum of stable codes: the enum (serialised as its codes), `ALL`, `code()`,
/// `Display`, and [`Code`].
///
/// ```
/// warden_domain::codes! {
///     /// A colour.
///     pub enum Colour: "colour" {
///         /// Red.
///         Red = "red",
///         /// Dark blue.
///         DarkBlue = "dark_blue",
///     }
/// }
/// use warden_domain::code::Code;
/// assert_eq!(Colour::from_code("dark_blue"), Some(Colour::DarkBlue));
/// assert_eq!(Colour::expected(), "red, dark_blue");
/// ```
#[macro_export]
macro_rules! codes {
    (
        $(#[$meta:meta])*
        pub enum $name:ident : $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, schemars::JsonSchema,
        )]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $code)] $variant, )+
        }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable code.
            pub fn code(self) -> &'static str {
                match self {
                    $( $name::$variant => $code, )+
                }
            }
        }

        impl $crate::code::Code for $name {
            const WHAT: &'static str = $what;
            fn all() -> &'static [Self] {
                $name::ALL
            }
            fn code(self) -> &'static str {
                $name::code(self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}
