//! JSON paths in error messages: `$.pets[2].name` from serde_path_to_error's path, and
//! the marker with which a union branch passes the path inside it up to the decoder that
//! joins it to the union's own (errors cross serde as strings).

/// Marks the start of a path inside an error message, so that [`crate::boundary::decode`] can
/// join the path inside a union branch to the path of the union.
pub(crate) const PATH_MARK: char = '\u{1}';

/// Splits a message made by a union branch into (sub-path, message).
pub(crate) fn split_path(message: &str) -> (&str, &str) {
    if let Some(rest) = message.strip_prefix(PATH_MARK) {
        if let Some((path, msg)) = rest.split_once(PATH_MARK) {
            return (path, msg);
        }
    }
    ("", message)
}

pub(crate) fn render_path(path: &serde_path_to_error::Path) -> String {
    let mut out = String::from("$");
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            serde_path_to_error::Segment::Map { key } => {
                if key.chars().all(|c| c.is_alphanumeric() || c == '_') && !key.is_empty() {
                    out.push('.');
                    out.push_str(key);
                } else {
                    out.push_str(&format!("[{key:?}]"));
                }
            }
            serde_path_to_error::Segment::Enum { variant } => {
                out.push('.');
                out.push_str(variant);
            }
            serde_path_to_error::Segment::Unknown => out.push_str(".?"),
        }
    }
    out
}
