//! What generated `Deserialize` impls of structs call, so each struct's impl is a short
//! loop over its keys instead of serde's derive (a field enum with its own visitor,
//! `visit_seq`, `visit_map`): on OpenAI's contract the derive was over half of
//! `cargo check` time and memory of the generated crate. Errors are serde's own
//! (`missing field`, `duplicate field`, `unknown field`), so paths from
//! `serde_path_to_error` still point at the value.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

/// An object key, borrowed from the input when it can be.
#[derive(Debug)]
pub struct Key<'de>(pub Cow<'de, str>);

impl Key<'_> {
    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a property name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A key of an object that refuses properties it does not name: the error arises while
/// the key is read, so its path names the key (`$.owner.age`), as serde's derive does.
#[derive(Debug, Clone, Copy)]
pub struct KnownKey(pub &'static [&'static str]);

impl<'de> de::DeserializeSeed<'de> for KnownKey {
    type Value = Key<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
        let key = Key::deserialize(d)?;
        if self.0.contains(&key.as_str()) {
            Ok(key)
        } else {
            Err(de::Error::unknown_field(key.as_str(), self.0))
        }
    }
}

/// Reads the value of a named property into its slot; a second occurrence is an error.
pub fn field<'de, A, T>(
    map: &mut A,
    slot: &mut Option<T>,
    name: &'static str,
) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    T: Deserialize<'de>,
{
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

/// Skips the value of a property the type does not name.
pub fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}

/// A required property's value, or `missing field`.
pub fn required<T, E: de::Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| E::missing_field(name))
}

/// The `expecting` text of every object.
pub fn expecting_object(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    write!(f, "an object ({name})")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of a generated impl: required, optional, optional-nullable.
    #[derive(Debug, PartialEq)]
    struct S {
        a: u8,
        b: Option<String>,
        c: Option<Option<u8>>,
    }

    impl<'de> Deserialize<'de> for S {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = S;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    expecting_object(f, "S")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<S, A::Error> {
                    let (mut a, mut b, mut c) = (None, None::<Option<String>>, None);
                    while let Some(key) = map.next_key::<Key<'de>>()? {
                        match key.as_str() {
                            "a" => field(&mut map, &mut a, "a")?,
                            "b" => field(&mut map, &mut b, "b")?,
                            "c" => field(&mut map, &mut c, "c")?,
                            _ => skip(&mut map)?,
                        }
                    }
                    Ok(S {
                        a: required(a, "a")?,
                        b: b.flatten(),
                        c,
                    })
                }
            }
            d.deserialize_map(V)
        }
    }

    #[test]
    fn keys_values_and_errors_are_serde_s() {
        let s: S = serde_json::from_str(r#"{"x": [1, {"y": 2}], "a": 1, "c": null}"#).unwrap();
        assert_eq!(
            s,
            S {
                a: 1,
                b: None,
                c: Some(None)
            }
        );
        let e = serde_json::from_str::<S>(r#"{"b": "x"}"#).unwrap_err();
        assert!(e.to_string().contains("missing field `a`"), "{e}");
        let e = serde_json::from_str::<S>(r#"{"a": 1, "a": 2}"#).unwrap_err();
        assert!(e.to_string().contains("duplicate field `a`"), "{e}");
        let e = serde_json::from_str::<S>(r#"[1]"#).unwrap_err();
        assert!(e.to_string().contains("expected an object (S)"), "{e}");
        let e = crate::from_json::<S>(br#"{"a": 1, "c": "no"}"#).unwrap_err();
        assert_eq!(e.path, "$.c");
    }
}
