//! OpenAPI parameter serialisation: `style` and `explode` for path, query, header and
//! cookie parameters, with percent-encoding (OpenAPI 3.1 §4.8.12.4, RFC 6570).
//!
//! Values arrive as JSON (anything `Serialize`): a scalar, an array or an object.
//! Scalars render as their text (`true`, `42`, `abc`); `null` renders as empty.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

/// Everything but RFC 3986 unreserved characters is encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one value for a path segment or a query component.
pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The parts of a value: a scalar, a list, or key-value pairs (nested values as JSON).
enum Shape {
    Scalar(String),
    List(Vec<String>),
    Pairs(Vec<(String, String)>),
}

fn shape(v: &Value) -> Shape {
    match v {
        Value::Array(items) => Shape::List(items.iter().map(scalar).collect()),
        Value::Object(map) => {
            Shape::Pairs(map.iter().map(|(k, v)| (k.clone(), scalar(v))).collect())
        }
        other => Shape::Scalar(scalar(other)),
    }
}

/// A path parameter's text, encoded, for `style` `simple` (default), `label` or `matrix`.
pub fn path(name: &str, value: &Value, style: &str, explode: bool) -> String {
    let e = |s: &str| encode(s);
    let (prefix, sep) = match style {
        "label" => (".", if explode { "." } else { "," }),
        "matrix" => (";", if explode { ";" } else { "," }),
        _ => ("", ","),
    };
    match (style, shape(value)) {
        ("matrix", Shape::Scalar(s)) => format!(";{}={}", e(name), e(&s)),
        ("matrix", Shape::List(items)) if explode => items
            .iter()
            .map(|i| format!(";{}={}", e(name), e(i)))
            .collect(),
        ("matrix", Shape::List(items)) => format!(
            ";{}={}",
            e(name),
            items.iter().map(|i| e(i)).collect::<Vec<_>>().join(",")
        ),
        ("matrix", Shape::Pairs(pairs)) if explode => pairs
            .iter()
            .map(|(k, v)| format!(";{}={}", e(k), e(v)))
            .collect(),
        ("matrix", Shape::Pairs(pairs)) => format!(
            ";{}={}",
            e(name),
            pairs
                .iter()
                .map(|(k, v)| format!("{},{}", e(k), e(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        (_, Shape::Scalar(s)) => format!("{prefix}{}", e(&s)),
        (_, Shape::List(items)) => format!(
            "{prefix}{}",
            items.iter().map(|i| e(i)).collect::<Vec<_>>().join(sep)
        ),
        (_, Shape::Pairs(pairs)) => {
            let kv = if explode { "=" } else { "," };
            format!(
                "{prefix}{}",
                pairs
                    .iter()
                    .map(|(k, v)| format!("{}{kv}{}", e(k), e(v)))
                    .collect::<Vec<_>>()
                    .join(sep)
            )
        }
    }
}

/// Query pairs (encoded) for `style` `form` (default), `spaceDelimited`,
/// `pipeDelimited` or `deepObject`. `null` adds nothing.
pub fn query(name: &str, value: &Value, style: &str, explode: bool) -> Vec<(String, String)> {
    if value.is_null() {
        return Vec::new();
    }
    let n = encode(name);
    match (style, shape(value)) {
        (_, Shape::Scalar(s)) => vec![(n, encode(&s))],
        ("spaceDelimited" | "pipeDelimited", Shape::List(items)) if !explode => {
            let sep = if style == "spaceDelimited" {
                "%20"
            } else {
                "|"
            };
            vec![(
                n,
                items
                    .iter()
                    .map(|i| encode(i))
                    .collect::<Vec<_>>()
                    .join(sep),
            )]
        }
        (_, Shape::List(items)) if explode => {
            items.iter().map(|i| (n.clone(), encode(i))).collect()
        }
        (_, Shape::List(items)) => {
            vec![(
                n,
                items
                    .iter()
                    .map(|i| encode(i))
                    .collect::<Vec<_>>()
                    .join(","),
            )]
        }
        ("deepObject", Shape::Pairs(pairs)) => pairs
            .iter()
            .map(|(k, v)| (format!("{n}%5B{}%5D", encode(k)), encode(v)))
            .collect(),
        (_, Shape::Pairs(pairs)) if explode => {
            pairs.iter().map(|(k, v)| (encode(k), encode(v))).collect()
        }
        (_, Shape::Pairs(pairs)) => vec![(
            n,
            pairs
                .iter()
                .map(|(k, v)| format!("{},{}", encode(k), encode(v)))
                .collect::<Vec<_>>()
                .join(","),
        )],
    }
}

/// A header's value (`simple` style, not encoded).
pub fn header(value: &Value, explode: bool) -> String {
    match shape(value) {
        Shape::Scalar(s) => s,
        Shape::List(items) => items.join(","),
        Shape::Pairs(pairs) => pairs
            .iter()
            .map(|(k, v)| {
                if explode {
                    format!("{k}={v}")
                } else {
                    format!("{k},{v}")
                }
            })
            .collect::<Vec<_>>()
            .join(","),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // The examples of the OpenAPI specification's style table.
    #[test]
    fn path_styles_follow_the_specification_table() {
        let list = json!(["blue", "black", "brown"]);
        let obj = json!({"R": 100, "G": 200, "B": 150});
        assert_eq!(path("color", &json!("blue"), "simple", false), "blue");
        assert_eq!(path("color", &list, "simple", false), "blue,black,brown");
        assert_eq!(path("color", &obj, "simple", false), "R,100,G,200,B,150");
        assert_eq!(path("color", &obj, "simple", true), "R=100,G=200,B=150");
        assert_eq!(path("color", &json!("blue"), "label", false), ".blue");
        assert_eq!(path("color", &list, "label", true), ".blue.black.brown");
        assert_eq!(path("color", &obj, "label", true), ".R=100.G=200.B=150");
        assert_eq!(
            path("color", &json!("blue"), "matrix", false),
            ";color=blue"
        );
        assert_eq!(
            path("color", &list, "matrix", false),
            ";color=blue,black,brown"
        );
        assert_eq!(
            path("color", &list, "matrix", true),
            ";color=blue;color=black;color=brown"
        );
        assert_eq!(path("color", &obj, "matrix", true), ";R=100;G=200;B=150");
        assert_eq!(
            path("id", &json!("a/b c?"), "simple", false),
            "a%2Fb%20c%3F"
        );
    }

    #[test]
    fn query_styles_follow_the_specification_table() {
        let list = json!(["blue", "black"]);
        let obj = json!({"R": 100, "G": 200});
        let q = |v: &Value, style, explode| {
            query("color", v, style, explode)
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        };
        assert_eq!(q(&json!("blue"), "form", true), "color=blue");
        assert_eq!(q(&list, "form", true), "color=blue&color=black");
        assert_eq!(q(&list, "form", false), "color=blue,black");
        assert_eq!(q(&obj, "form", true), "R=100&G=200");
        assert_eq!(q(&obj, "form", false), "color=R,100,G,200");
        assert_eq!(q(&list, "spaceDelimited", false), "color=blue%20black");
        assert_eq!(q(&list, "pipeDelimited", false), "color=blue|black");
        assert_eq!(
            q(&obj, "deepObject", true),
            "color%5BR%5D=100&color%5BG%5D=200"
        );
        assert_eq!(q(&json!(null), "form", true), "");
        assert_eq!(q(&json!("a&b=c"), "form", true), "color=a%26b%3Dc");
    }

    #[test]
    fn headers_are_simple() {
        assert_eq!(header(&json!([1, 2]), false), "1,2");
        assert_eq!(header(&json!({"a": 1}), true), "a=1");
        assert_eq!(header(&json!(true), false), "true");
    }
}
