//! Deserialising unions: `oneOf` (exactly one branch), `anyOf` (the first branch that
//! fits) and discriminated unions (a property names the branch).
//!
//! Serde's `#[serde(untagged)]` takes the first branch that fits, which is `anyOf`, not
//! `oneOf`, and its error ("data did not match any variant") says nothing about why.
//! Serde's internally tagged enums strip the tag before the branch sees it, which breaks
//! contracts whose branch types declare the tag as a required property. These helpers
//! do both right and say, per branch, why it did not fit.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::HashMap;

use serde::de::{Deserializer, Error as _};
use serde_json::Value;

use super::node::{Buffered, Node, NodeVisitor, NODE};
use super::path::{render_path, split_path, PATH_MARK};

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

/// Decodes one branch of a union, keeping the path of the bad value inside it. The
/// value is read in place (`boundary::node`): unions nested in it decode their part without
/// copying it and are remembered by address.
pub fn branch<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, String> {
    serde_path_to_error::deserialize(Node(value)).map_err(|e| {
        let inner = e.inner().to_string();
        let path = render_path(e.path());
        let (nested, message) = split_path(&inner);
        let sub = format!("{}{}", &path[1..], nested);
        if sub.is_empty() {
            message.to_string()
        } else {
            format!("{PATH_MARK}{sub}{PATH_MARK}{message}")
        }
    })
}

/// Decodes `value` as the union `name` of `variants`.
///
/// Open enums (acl's default) keep values the contract does not list, and between the
/// branches of a union that is how a value meant for one branch can fit another too
/// (OpenAI's `ToolChoiceParam`: a function choice fits the hosted-tool branch through its
/// open `type`). So a branch that fits only by keeping an unknown enum value is a loose
/// fit, and an exact fit wins over it: a `oneOf` with one exact fit picks it, as JSON
/// Schema's closed enums would; only without an exact fit do loose ones count. Each
/// branch is still decoded once.
///
/// The message of a value that fits no branch is bounded: at most [`MAX_REASONS`]
/// branch reasons of at most [`MAX_REASON`] bytes each.
pub fn one_of<T>(
    name: &str,
    kind: UnionKind,
    value: &Value,
    variants: &[Variant<'_, T>],
) -> Result<T, String> {
    let start = UNKNOWN_KEPT.with(std::cell::Cell::get);
    // (branch, value, unknown values it kept)
    let mut exact: Option<(&str, T)> = None;
    let mut loose: Option<(&str, T, u64)> = None;
    let (mut exact_more, mut loose_more) = (None::<&str>, None::<&str>);
    let mut why = Vec::new();
    let mut more = 0usize;
    for (variant, decode) in variants {
        BRANCHES_TRIED.with(|n| n.set(n.get() + 1));
        UNKNOWN_KEPT.with(|u| u.set(start));
        let result = decode(value);
        let kept = UNKNOWN_KEPT.with(std::cell::Cell::get) - start;
        match result {
            Ok(decoded) if kept == 0 => {
                if kind == UnionKind::AnyOf {
                    UNKNOWN_KEPT.with(|u| u.set(start));
                    return Ok(decoded);
                }
                if exact.is_none() {
                    exact = Some((variant, decoded));
                } else if exact_more.is_none() {
                    exact_more = Some(variant);
                }
            }
            Ok(decoded) => {
                if loose.is_none() {
                    loose = Some((variant, decoded, kept));
                } else if loose_more.is_none() {
                    loose_more = Some(variant);
                }
            }
            Err(_) if why.len() == MAX_REASONS => more += 1,
            Err(e) => {
                let (path, message) = split_path(&e);
                why.push(cut(if path.is_empty() {
                    format!("{variant}: {message}")
                } else {
                    format!("{variant}: at {path}: {message}")
                }))
            }
        }
    }
    // What the chosen branch kept is what the union kept (an enclosing union judges it).
    UNKNOWN_KEPT.with(|u| u.set(start));
    let ambiguous = |first: &str, second: &str| {
        format!("oneOf: the value fits more than one branch of {name} ({first} and {second})")
    };
    match (exact, loose) {
        (Some((first, _)), _) if exact_more.is_some() => {
            Err(ambiguous(first, exact_more.unwrap_or_default()))
        }
        (Some((_, decoded)), _) => Ok(decoded),
        (None, Some((first, _, _))) if kind == UnionKind::OneOf && loose_more.is_some() => {
            Err(ambiguous(first, loose_more.unwrap_or_default()))
        }
        (None, Some((_, decoded, kept))) => {
            UNKNOWN_KEPT.with(|u| u.set(start + kept));
            Ok(decoded)
        }
        (None, None) => Err(format!(
            "{}: the value fits no branch of {name} ({})",
            match kind {
                UnionKind::OneOf => "oneOf",
                UnionKind::AnyOf => "anyOf",
            },
            reasons(&why, more)
        )),
    }
}

/// What a generated open enum calls when it keeps a value the contract does not list:
/// a union whose branch fit only that way prefers a branch that fits exactly (see
/// [`one_of`]).
pub fn note_unknown_kept() {
    UNKNOWN_KEPT.with(|u| u.set(u.get() + 1));
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
            BRANCHES_TRIED.with(|n| n.set(n.get() + 1));
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
        "discriminator: {} is not a known `{tag}` of {name} (known: {})",
        super::check::shown(found),
        known.join(", ")
    ))
}

/// At most this many branch reasons are listed when a value fits no branch.
pub const MAX_REASONS: usize = 8;
/// Each branch reason is cut after this many bytes.
pub const MAX_REASON: usize = 400;

fn cut(mut reason: String) -> String {
    if reason.len() > MAX_REASON {
        let mut at = MAX_REASON;
        while !reason.is_char_boundary(at) {
            at -= 1;
        }
        reason.truncate(at);
        reason.push('…');
    }
    reason
}

fn reasons(why: &[String], more: usize) -> String {
    if more == 0 {
        why.join("; ")
    } else {
        format!("{}; and {more} more branch(es)", why.join("; "))
    }
}

thread_local! {
    /// One memo per union being decoded on this thread, innermost last: the results of
    /// the unions nested in it, by type and node address.
    static FRAMES: RefCell<Vec<Memo>> = const { RefCell::new(Vec::new()) };
    /// Branch decodes attempted on this thread (for tests of the work done).
    static BRANCHES_TRIED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// Unknown enum values kept by open enums on this thread (see [`one_of`]).
    static UNKNOWN_KEPT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

type Memo = HashMap<(TypeId, usize), Box<dyn Any>>;

/// How many union branches this thread has tried to decode so far: a measure of the
/// work union decoding does, for tests and benchmarks.
pub fn branches_tried() -> u64 {
    BRANCHES_TRIED.with(|n| n.get())
}

/// Pops the memo of a union whose decoding ends, even by a panic.
struct FrameGuard;

impl Drop for FrameGuard {
    fn drop(&mut self) {
        FRAMES.with(|f| f.borrow_mut().pop());
    }
}

/// What a generated union's `Deserialize` calls: buffers the value once and hands it to
/// `decode` (which picks the branch with [`one_of`] or [`tagged`]).
///
/// Without memoisation, decoding is exponential: a `oneOf` tries each branch in full,
/// so when two branches share a property whose type is the union itself, the nested
/// value is decoded twice at each level (a 246-byte payload nested 20 deep took 26 s).
/// Here a union nested in a branch reads its node of the parent's buffer in place (no
/// copy, `boundary::node`) and its result is remembered in the memo of the union it is nested
/// in, by type and node address; the next branch to reach the same node gets the
/// result instead of decoding it again. A memo lives while its union is being decoded
/// (its buffer, which the addresses point into, lives longer), so at most the nested
/// results of the unions being decoded are held. Every union node is decoded once;
/// each later branch that reaches it pays a clone of the result.
pub fn decode_union<'de, D, T>(
    deserializer: D,
    decode: impl FnOnce(&Value) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Clone + 'static,
{
    let buffered = deserializer.deserialize_newtype_struct(NODE, NodeVisitor)?;
    let run = |value: &Value| {
        FRAMES.with(|f| f.borrow_mut().push(Memo::new()));
        let _pop = FrameGuard;
        decode(value)
    };
    let result = match buffered {
        Buffered::Owned(value) => run(&value),
        Buffered::Borrowed(node) => {
            // SAFETY: `node` is the address of a `Value` a `Node` deserializer borrowed
            // from the buffer a union's branch is being decoded from; that branch is
            // on the stack below this call, so the buffer is alive and unchanged for
            // the whole of it, and the reference does not outlive this function.
            let value: &Value = unsafe { &*node };
            let key = (TypeId::of::<T>(), node as usize);
            let hit = FRAMES.with(|f| {
                let frames = f.borrow();
                frames
                    .last()?
                    .get(&key)?
                    .downcast_ref::<(Result<T, String>, u64)>()
                    .cloned()
            });
            match hit {
                Some((hit, kept)) => {
                    // The unknown values it kept count again for the branch reusing it.
                    UNKNOWN_KEPT.with(|u| u.set(u.get() + kept));
                    hit
                }
                None => {
                    let before = UNKNOWN_KEPT.with(std::cell::Cell::get);
                    let result = run(value);
                    let kept = UNKNOWN_KEPT.with(std::cell::Cell::get) - before;
                    // Remembered by the enclosing union, whose buffer holds `node`.
                    FRAMES.with(|f| {
                        if let Some(memo) = f.borrow_mut().last_mut() {
                            memo.insert(key, Box::new((result.clone(), kept)));
                        }
                    });
                    result
                }
            }
        }
    };
    result.map_err(D::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_that_fits_no_branch_has_a_bounded_message() {
        let long = "x".repeat(10_000);
        let fail = |_: &Value| -> Result<u8, String> { Err(long.clone()) };
        let variants: Vec<Variant<'_, u8>> = (0..20).map(|_| ("b", &fail as _)).collect();
        let e = one_of("U", UnionKind::OneOf, &Value::Null, &variants).unwrap_err();
        assert!(
            e.ends_with("; and 12 more branch(es))"),
            "{}",
            &e[e.len() - 60..]
        );
        // 8 reasons of at most 400 bytes (and an ellipsis), plus the framing.
        assert!(
            e.len() < MAX_REASONS * (MAX_REASON + 8) + 100,
            "{} bytes",
            e.len()
        );
        assert_eq!(e.matches('…').count(), MAX_REASONS);
    }
}
