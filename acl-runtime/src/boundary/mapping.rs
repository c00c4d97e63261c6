//! Mapping between boundary types (generated from the contract) and domain types,
//! as `#[derive(FromBoundary)]` and `#[derive(IntoBoundary)]` write it: `TryFrom` impls
//! whose errors name the path of the value (`charge.customer.email`) instead of
//! panicking, so an absent value the domain requires is an error the caller can
//! dead-letter.

use std::any::Any;
use std::fmt;

/// A boundary value that does not fit the domain (or the reverse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingError {
    /// The type the mapping started from (`charge`).
    pub root: String,
    /// The path inside it (`customer`, `email`).
    pub path: Vec<String>,
    /// What went wrong.
    pub kind: MappingErrorKind,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingErrorKind {
    /// The domain requires a value the boundary value does not have.
    Missing,
    /// A value with no counterpart on the other side (an enum value).
    Unmapped(String),
    /// A conversion refused the value.
    Invalid(String),
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut path = self.root.clone();
        for p in &self.path {
            if !path.is_empty() && !p.starts_with('[') {
                path.push('.');
            }
            path.push_str(p);
        }
        match &self.kind {
            MappingErrorKind::Missing => write!(f, "{path}: required by the domain but absent"),
            MappingErrorKind::Unmapped(v) => write!(f, "{path}: `{v}` has no counterpart"),
            MappingErrorKind::Invalid(m) => write!(f, "{path}: {m}"),
        }
    }
}

impl std::error::Error for MappingError {}

impl From<std::convert::Infallible> for MappingError {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}

impl MappingError {
    fn new(kind: MappingErrorKind) -> Self {
        Self {
            root: String::new(),
            path: Vec::new(),
            kind,
        }
    }

    /// The path as text (`charge.customer.email`).
    pub fn path_text(&self) -> String {
        let text = self.to_string();
        text.split(": ").next().unwrap_or_default().to_string()
    }

    /// The same error one level further out: `segment` is prepended to the path.
    pub fn at(mut self, segment: &str) -> Self {
        self.path.insert(0, segment.to_string());
        self
    }

    /// The same error inside an element of a list.
    pub fn at_index(self, index: usize) -> Self {
        self.at(&format!("[{index}]"))
    }

    /// The type the mapping started from.
    pub fn rooted(mut self, root: &str) -> Self {
        self.root = root.to_string();
        self
    }

    /// A value with no counterpart.
    pub fn unmapped(value: impl fmt::Debug) -> Self {
        Self::new(MappingErrorKind::Unmapped(format!("{value:?}")))
    }
}

/// Not public API: what the derives call.
#[doc(hidden)]
pub mod support {
    use super::*;

    /// A boundary value on its way to a domain field. Which of [`Nested`], [`Single`]
    /// and [`Plain`] applies is decided by the value's type at the call site
    /// (`(&&&source(v)).required()`: the most specific impl sits at the outermost
    /// reference), so `Option<Option<T>>`, `Option<T>` and `T` each read right.
    pub struct Source<T>(std::cell::Cell<Option<T>>);

    /// Wraps a boundary value.
    pub fn source<T>(value: T) -> Source<T> {
        Source(std::cell::Cell::new(Some(value)))
    }

    fn missing() -> MappingError {
        MappingError::new(MappingErrorKind::Missing)
    }

    /// An optional and nullable boundary value (`Option<Option<T>>`).
    pub trait Nested<T> {
        /// The value, absent or null as `None`.
        fn optional(&self) -> Option<T>;
        /// The value the domain requires: absent or null is an error.
        fn required(&self) -> Result<T, MappingError>;
    }

    impl<T> Nested<T> for &&Source<Option<Option<T>>> {
        fn optional(&self) -> Option<T> {
            self.0.take().flatten().flatten()
        }
        fn required(&self) -> Result<T, MappingError> {
            self.optional().ok_or_else(missing)
        }
    }

    /// An optional (or nullable) boundary value (`Option<T>`).
    pub trait Single<T> {
        /// The value.
        fn optional(&self) -> Option<T>;
        /// The value the domain requires: absent is an error.
        fn required(&self) -> Result<T, MappingError>;
    }

    impl<T> Single<T> for &Source<Option<T>> {
        fn optional(&self) -> Option<T> {
            self.0.take().flatten()
        }
        fn required(&self) -> Result<T, MappingError> {
            self.optional().ok_or_else(missing)
        }
    }

    /// A boundary value that is always there.
    pub trait Plain<T> {
        /// The value, as an `Option`.
        fn optional(&self) -> Option<T>;
        /// The value.
        fn required(&self) -> Result<T, MappingError>;
    }

    impl<T> Plain<T> for Source<T> {
        fn optional(&self) -> Option<T> {
            self.0.take()
        }
        fn required(&self) -> Result<T, MappingError> {
            self.optional().ok_or_else(missing)
        }
    }

    /// The result of a `with = ...` function: a value, or a `Result`.
    pub struct Out<T>(pub T);

    impl<T, E: fmt::Display + 'static> Out<Result<T, E>> {
        /// A fallible conversion's result.
        pub fn mapped(self) -> Result<T, MappingError> {
            self.0.map_err(error)
        }
    }

    /// The fallback for infallible `with` functions.
    pub trait Infallible<T> {
        /// The value.
        fn mapped(self) -> Result<T, MappingError>;
    }

    impl<T> Infallible<T> for Out<T> {
        fn mapped(self) -> Result<T, MappingError> {
            Ok(self.0)
        }
    }

    /// A conversion's error as a mapping error (a nested mapping keeps its path).
    pub fn error<E: fmt::Display + 'static>(e: E) -> MappingError {
        match (&e as &dyn Any).downcast_ref::<MappingError>() {
            Some(m) => m.clone(),
            None => MappingError::new(MappingErrorKind::Invalid(e.to_string())),
        }
    }

    /// `D::try_from(b)`, with the error as a mapping error.
    pub fn convert<B, D>(b: B) -> Result<D, MappingError>
    where
        D: TryFrom<B>,
        D::Error: fmt::Display + 'static,
    {
        D::try_from(b).map_err(error)
    }

    /// Each element converted; an error names its index.
    pub fn list<B, D>(items: impl IntoIterator<Item = B>) -> Result<Vec<D>, MappingError>
    where
        D: TryFrom<B>,
        D::Error: fmt::Display + 'static,
    {
        items
            .into_iter()
            .enumerate()
            .map(|(i, b)| convert(b).map_err(|e| e.at_index(i)))
            .collect()
    }

    /// A boundary enum that keeps values the contract does not list (an open enum's
    /// fallback variant): generated open enums implement it, so a mapping that does not
    /// say where those values go can be told how to fix it.
    pub trait OpenEnum {}

    /// What the mapping derives ask of a boundary enum mapped without `unknown = …`;
    /// resolved by [`ViaOpen`] (an [`OpenEnum`]: the fallback is unmapped) or [`ViaAny`].
    pub struct UnknownProbe<T>(pub std::marker::PhantomData<T>);

    /// The boundary enum is open and the mapping names no `unknown` variant.
    pub struct UnknownNotMapped;

    /// Nothing to say: a closed enum, or one the mapping handles.
    pub struct UnknownFine;

    /// Picked for an [`OpenEnum`] (no autoref needed, so it wins).
    pub trait ViaOpen {
        /// The verdict.
        fn unknown_probe(&self) -> UnknownNotMapped {
            UnknownNotMapped
        }
    }
    impl<T: OpenEnum> ViaOpen for UnknownProbe<T> {}

    /// Picked for any other enum.
    pub trait ViaAny {
        /// The verdict.
        fn unknown_probe(&self) -> UnknownFine {
            UnknownFine
        }
    }
    impl<T> ViaAny for &UnknownProbe<T> {}

    /// Holds when the mapping of a boundary enum covers the values the contract does not
    /// list.
    #[diagnostic::on_unimplemented(
        message = "the boundary enum keeps values the contract does not list, and this mapping does not say where they go",
        label = "add `unknown = Domain::Variant` here: #[acl(from = …, unknown = Domain::Other)]",
        note = "the contract's enum may grow; acl keeps new values in its fallback variant instead of failing to decode"
    )]
    pub trait UnknownMapped {}
    impl UnknownMapped for UnknownFine {}

    /// Compiles when `verdict` is [`UnknownFine`].
    pub fn require_unknown_mapped<T: UnknownMapped>(verdict: T) {
        let _ = verdict;
    }

    /// Each value of a map converted; an error names its key.
    pub fn map<K, B, D, M>(items: impl IntoIterator<Item = (K, B)>) -> Result<M, MappingError>
    where
        K: fmt::Display,
        D: TryFrom<B>,
        D::Error: fmt::Display + 'static,
        M: FromIterator<(K, D)>,
    {
        items
            .into_iter()
            .map(|(k, b)| {
                let d = convert(b).map_err(|e| e.at(&k.to_string()))?;
                Ok((k, d))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::support::*;

    #[test]
    // The references pick the impl (see `Source`).
    #[allow(clippy::needless_borrow)]
    fn optional_and_required_sources_and_paths() {
        #[allow(unused_imports)]
        use super::support::{Nested as _, Plain as _, Single as _};
        assert_eq!((&&&source(Some(3))).optional(), Some(3));
        assert_eq!((&&&source(3)).optional(), Some(3));
        assert_eq!((&&&source(Some(Some(3)))).required(), Ok(3));
        assert!((&&&source(Some(None::<u8>))).required().is_err());
        let e = (&&&source(None::<u8>)).required().unwrap_err();
        let e = e.at("email").at("customer").rooted("charge");
        assert_eq!(
            e.to_string(),
            "charge.customer.email: required by the domain but absent"
        );
        assert_eq!(e.path_text(), "charge.customer.email");
        let e = list::<i64, u8>(vec![1, 300])
            .unwrap_err()
            .at("amounts")
            .rooted("x");
        assert_eq!(e.path_text(), "x.amounts[1]");
        #[allow(unused_imports)]
        use super::support::Infallible as _;
        assert_eq!(Out(5u8).mapped(), Ok(5));
        assert!(Out("x".parse::<u8>()).mapped().is_err());
    }
}
