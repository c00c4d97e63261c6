//! Deserialising unions: `oneOf` (exactly one branch), `anyOf` (the first branch that
//! fits) and discriminated unions (a property names the branch).
//!
//! Serde's `#[serde(untagged)]` takes the first branch that fits, which is `anyOf`, not
//! `oneOf`, and its error ("data did not match any variant") says nothing about why.
//! Serde's internally tagged enums strip the tag before the branch sees it, which breaks
//! contracts whose branch types declare the tag as a required property. These helpers
//! do both right and say, per branch, why it did not fit.

use serde_json::Value;

/// How many branches may match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnionKind {
    /// `oneOf`: exactly one branch must accept the value.
    OneOf,
    /// `anyOf` (or a union without a rule): the first branch that accepts it wins.
    AnyOf,
}

/// One branch of a union: its name and how to decode it (see [`branch`]).
pub type Variant<'a, T> = (&'a str, &'a dyn Fn(&Value) -> Result<T, String>);

/// Marks the start of a path inside an error message, so that [`crate::wire`] can
/// join the path inside a union branch to the path of the union.
pub(crate) const PATH_MARK: char = '\u{1}';

/// Decodes one branch of a union, keeping the path of the bad value inside it.
pub fn branch<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.inner().to_string();
        let path = crate::wire::render_path(e.path());
        let (nested, message) = split_path(&inner);
        let sub = format!("{}{}", &path[1..], nested);
        if sub.is_empty() {
            message.to_string()
        } else {
            format!("{PATH_MARK}{sub}{PATH_MARK}{message}")
        }
    })
}

/// Splits a message made by [`branch`] into (sub-path, message).
pub(crate) fn split_path(message: &str) -> (&str, &str) {
    if let Some(rest) = message.strip_prefix(PATH_MARK) {
        if let Some((path, msg)) = rest.split_once(PATH_MARK) {
            return (path, msg);
        }
    }
    ("", message)
}

/// Decodes `value` as the union `name` of `variants`.
pub fn one_of<T>(
    name: &str,
    kind: UnionKind,
    value: &Value,
    variants: &[Variant<'_, T>],
) -> Result<T, String> {
    let mut found: Option<(&str, T)> = None;
    let mut why = Vec::new();
    for (variant, decode) in variants {
        match decode(value) {
            Ok(decoded) => match (&found, kind) {
                (None, UnionKind::AnyOf) => return Ok(decoded),
                (None, UnionKind::OneOf) => found = Some((variant, decoded)),
                (Some((first, _)), UnionKind::OneOf) => {
                    return Err(format!(
                    "oneOf: the value fits more than one branch of {name} ({first} and {variant})"
                ))
                }
                (Some(_), UnionKind::AnyOf) => unreachable!("anyOf returns on the first match"),
            },
            Err(e) => {
                let (path, message) = split_path(&e);
                why.push(if path.is_empty() {
                    format!("{variant}: {message}")
                } else {
                    format!("{variant}: at {path}: {message}")
                })
            }
        }
    }
    match found {
        Some((_, decoded)) => Ok(decoded),
        None => Err(format!(
            "{}: the value fits no branch of {name} ({})",
            match kind {
                UnionKind::OneOf => "oneOf",
                UnionKind::AnyOf => "anyOf",
            },
            why.join("; ")
        )),
    }
}

/// Decodes `value` as the discriminated union `name`: the string property `tag` picks
/// the branch among `variants` (tag value, decoder). The branch sees the whole object,
/// tag included.
pub fn tagged<T>(
    name: &str,
    tag: &str,
    value: &Value,
    variants: &[Variant<'_, T>],
) -> Result<T, String> {
    let Some(found) = value.get(tag) else {
        return Err(format!("discriminator: {name} needs the property `{tag}`"));
    };
    let Some(found) = found.as_str() else {
        return Err(format!(
            "discriminator: `{tag}` of {name} must be a string, found {found}"
        ));
    };
    for (variant, decode) in variants {
        if *variant == found {
            return decode(value).map_err(|e| {
                let (path, message) = split_path(&e);
                if path.is_empty() {
                    format!("{message} (in {name}, {tag} = {found:?})")
                } else {
                    format!("{PATH_MARK}{path}{PATH_MARK}{message} (in {name}, {tag} = {found:?})")
                }
            });
        }
    }
    let known: Vec<&str> = variants.iter().map(|(v, _)| *v).collect();
    Err(format!(
        "discriminator: {found:?} is not a known `{tag}` of {name} (known: {})",
        known.join(", ")
    ))
}
