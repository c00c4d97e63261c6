//! Settings that are either a word (`"none"`, `"off"`, `false`) or an object of
//! settings: `retry = "none"`, `breaker = "off"`, `rate_limit = "off"`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

/// Reads `word`, `false` or `null` as `off()`, an object as `T`, anything else as an
/// error that says both forms.
pub(crate) fn deserialize<'de, D, T>(
    d: D,
    word: &'static str,
    off: impl FnOnce() -> T,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(optional(d, word)?.unwrap_or_else(off))
}

/// Reads `word`, `false` or `null` as `None`, an object as `Some(T)`.
pub(crate) fn optional<'de, D, T>(d: D, word: &'static str) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Maybe<T> {
        word: &'static str,
        t: PhantomData<T>,
    }
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Maybe<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "\"{}\" or an object of settings", self.word)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<T>, E> {
            if v == self.word {
                Ok(None)
            } else {
                Err(E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<T>, E> {
            if v {
                Err(E::invalid_value(de::Unexpected::Bool(v), &self))
            } else {
                Ok(None)
            }
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<T>, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
    d.deserialize_any(Maybe {
        word,
        t: PhantomData,
    })
}
