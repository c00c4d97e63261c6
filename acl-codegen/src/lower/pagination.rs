//! Pagination: which operations return their results in pages, and how the next page
//! is asked for. Recognised, in this order:
//!
//! 1. `x-acl-pagination` on the operation (or on the document, for every operation it
//!    fits): `false` turns recognition off; an object names the style and where things
//!    are, checked against the operation (an error at the key that does not fit):
//!
//!    | key | for | meaning |
//!    |---|---|---|
//!    | `style` | all | `cursor`, `offset`, `page`, `next-url`, `link-header` |
//!    | `items` | all | JSON pointer to the items in the body (default: found) |
//!    | `param` | cursor, offset, page | the query parameter that asks for a page |
//!    | `next` | cursor, next-url | pointer to the next cursor / next-page URL |
//!    | `from_last_item` | cursor | pointer into the last item whose value is the cursor (`/id`) |
//!    | `has_more` | cursor | pointer to a boolean saying whether more pages follow |
//!    | `limit` | offset, page | the page-size query parameter |
//!    | `total` | offset | pointer to the total number of items |
//!    | `total_pages` | page | pointer to the number of pages |
//!    | `first` | page | the first page's number (default 1) |
//!
//! 2. Other tools' extensions: `x-speakeasy-pagination`, `x-ms-pageable`,
//!    `x-dropshot-pagination`.
//! 3. Shapes, on `GET` operations whose success body holds a list: a `Link` response
//!    header; a next-page URL in the body (`next_url`, `next_page_uri`, `links.next`,
//!    `links.pages.next`, ...); `has_more` with a `starting_after`/`after` parameter fed
//!    by the last item's `id`; a cursor field (`next_cursor`, `nextPageToken`, ...) with
//!    a cursor parameter; `offset` + `limit`; `page` + `per_page`.
//!
//! Each paginated operation gets a note (`check` prints it) saying what was found.

use serde::Deserialize;
use serde_json::Value;

use super::Lowerer;
use crate::diagnostics::Severity;
use crate::ir::{
    Api, Field, NextPage, Operation, Pagination, ParamLocation, Primitive, ResponseRole, Status,
    TypeKind, TypeRef,
};

/// acl's own extension.
pub(super) const EXTENSION: &str = "x-acl-pagination";
/// Other tools' pagination extensions acl reads.
pub(super) const VENDOR_EXTENSIONS: &[&str] = &[
    "x-speakeasy-pagination",
    "x-ms-pageable",
    "x-dropshot-pagination",
];

/// Fills each operation's `pagination`.
pub(super) fn lower_pagination(l: &mut Lowerer<'_>, root: usize, api: &mut Api) {
    let document = api.extensions.get(EXTENSION).cloned();
    if let Some(v) = &document {
        if !matches!(v, Value::Bool(false) | Value::Object(_)) {
            l.diag(
                Severity::Error,
                "bad-pagination",
                &(root, format!("/{EXTENSION}")),
                "`x-acl-pagination` is `false` or an object",
                None,
            );
        }
    }
    for i in 0..api.operations.len() {
        let found = detect(l, api, &api.operations[i], document.as_ref());
        if let Some(p) = &found {
            let op = &api.operations[i];
            let items = if p.items.is_empty() {
                "the body".to_string()
            } else {
                format!("`{}`", p.items)
            };
            l.diag(
                Severity::Note,
                "paginated",
                &(op.origin.doc, op.origin.pointer.clone()),
                format!(
                    "`{}` is paginated: {}; items at {items} (`{}_all` streams them)",
                    op.id, p.source, op.name
                ),
                Some("to change or turn this off, set `x-acl-pagination` on the operation"),
            );
        }
        api.operations[i].pagination = found;
    }
}

fn detect<'a>(
    l: &mut Lowerer<'_>,
    api: &'a Api,
    op: &'a Operation,
    document: Option<&Value>,
) -> Option<Pagination> {
    let body = success_body(op)?;
    let shape = Shape { api, op, body };
    let base = &op.origin.pointer;
    let doc = op.origin.doc;
    match op.extensions.get(EXTENSION) {
        Some(Value::Bool(false)) => return None,
        Some(value) => {
            let at = format!("{base}/{EXTENSION}");
            return match explicit(&shape, value) {
                Ok(mut p) => {
                    p.source = format!("{} (`x-acl-pagination`)", p.source);
                    Some(p)
                }
                Err((key, message)) => {
                    let pointer = match key {
                        Some(k) => format!("{at}/{k}"),
                        None => at,
                    };
                    l.diag(
                        Severity::Error,
                        "bad-pagination",
                        &(doc, pointer),
                        format!("`x-acl-pagination` does not fit `{}`: {message}", op.id),
                        Some("keys and styles are listed in the README's pagination section"),
                    );
                    None
                }
            };
        }
        None => {}
    }
    match document {
        Some(Value::Bool(false)) => return None,
        Some(value @ Value::Object(_)) => {
            if let Ok(mut p) = explicit(&shape, value) {
                p.source = format!("{} (the document's `x-acl-pagination`)", p.source);
                return Some(p);
            }
        }
        _ => {}
    }
    for name in VENDOR_EXTENSIONS {
        let Some(value) = op.extensions.get(*name) else {
            continue;
        };
        match vendor(&shape, name, value) {
            Ok(Some(mut p)) => {
                p.source = format!("{} (`{name}`)", p.source);
                return Some(p);
            }
            Ok(None) => return None,
            Err(message) => {
                l.diag(
                    Severity::Warning,
                    "pagination-unrecognised",
                    &(doc, format!("{base}/{}", crate::load::escape(name))),
                    format!("`{name}` on `{}` is not used: {message}", op.id),
                    Some("describe the pagination with `x-acl-pagination`, or set it to `false`"),
                );
            }
        }
    }
    if op.method != crate::ir::Method::Get {
        return None;
    }
    detected(&shape)
}

/// The type of the first 2xx JSON body.
fn success_body(op: &Operation) -> Option<&TypeRef> {
    op.responses
        .iter()
        .filter(|r| crate::ir::response_role(&op.responses, r) == ResponseRole::Success)
        .filter(|r| matches!(r.status, Status::Code(200..=299) | Status::Range(2)))
        .flat_map(|r| &r.contents)
        .find(|c| {
            let m = c.media_type.to_ascii_lowercase();
            m == "application/json" || m.ends_with("+json")
        })
        .and_then(|c| c.ty.as_ref())
}

/// An operation's page: the body's type, navigated through the IR.
struct Shape<'a> {
    api: &'a Api,
    op: &'a Operation,
    body: &'a TypeRef,
}

impl<'a> Shape<'a> {
    /// `t` without `null`, aliases and constraints.
    fn plain(&self, mut t: &'a TypeRef) -> &'a TypeRef {
        for _ in 0..32 {
            match t {
                TypeRef::Nullable(inner) => t = inner,
                TypeRef::Named(n) => match self.api.types.get(n).map(|d| &d.kind) {
                    Some(TypeKind::Alias(inner)) => t = inner,
                    Some(TypeKind::Constrained { inner, .. }) => t = inner,
                    _ => return t,
                },
                _ => return t,
            }
        }
        t
    }

    fn fields(&self, t: &'a TypeRef) -> &'a [Field] {
        match self.plain(t) {
            TypeRef::Named(n) => match self.api.types.get(n).map(|d| &d.kind) {
                Some(TypeKind::Struct(s)) => &s.fields,
                _ => &[],
            },
            _ => &[],
        }
    }

    /// The type at `pointer` inside `t` (through struct fields).
    fn at(&self, t: &'a TypeRef, pointer: &str) -> Option<&'a TypeRef> {
        let mut t = t;
        if pointer.is_empty() {
            return Some(t);
        }
        for part in pointer.strip_prefix('/')?.split('/') {
            let part = part.replace("~1", "/").replace("~0", "~");
            t = &self.fields(t).iter().find(|f| f.wire_name == part)?.ty;
        }
        Some(t)
    }

    fn body_at(&self, pointer: &str) -> Option<&'a TypeRef> {
        self.at(self.body, pointer)
    }

    fn primitive(&self, t: &TypeRef) -> Option<Primitive> {
        match self.plain(t) {
            TypeRef::Primitive(p) => Some(*p),
            _ => None,
        }
    }

    fn is_text(&self, t: &TypeRef) -> bool {
        matches!(
            self.primitive(t),
            Some(Primitive::String | Primitive::Uri | Primitive::Uuid | Primitive::Any)
        )
    }

    fn is_cursor(&self, t: &TypeRef) -> bool {
        self.is_text(t) || self.is_integer(t)
    }

    fn is_integer(&self, t: &TypeRef) -> bool {
        matches!(
            self.primitive(t),
            Some(
                Primitive::I8
                    | Primitive::I16
                    | Primitive::I32
                    | Primitive::I64
                    | Primitive::U8
                    | Primitive::U16
                    | Primitive::U32
                    | Primitive::U64
            )
        )
    }

    fn is_bool(&self, t: &TypeRef) -> bool {
        self.primitive(t) == Some(Primitive::Bool)
    }

    fn list_item(&self, t: &'a TypeRef) -> Option<&'a TypeRef> {
        match self.plain(t) {
            TypeRef::List(item) => Some(item),
            _ => None,
        }
    }

    /// Where the items are: the body when it is a list, else its one list field (or
    /// the one with a usual name when there are several).
    fn items(&self) -> Option<(String, TypeRef)> {
        let body = self.body_at("")?;
        if let Some(item) = self.list_item(body) {
            return Some((String::new(), item.clone()));
        }
        let lists: Vec<&Field> = self
            .fields(body)
            .iter()
            .filter(|f| self.list_item(&f.ty).is_some())
            .collect();
        const USUAL: &[&str] = &[
            "data", "items", "results", "value", "values", "entries", "records", "elements",
            "content", "list", "objects", "hits",
        ];
        let field = match lists.as_slice() {
            [one] => *one,
            many => *many
                .iter()
                .find(|f| USUAL.contains(&f.wire_name.as_str()))?,
        };
        let item = self.list_item(&field.ty)?.clone();
        Some((format!("/{}", crate::load::escape(&field.wire_name)), item))
    }

    fn items_at(&self, pointer: &str) -> Option<TypeRef> {
        self.list_item(self.body_at(pointer)?).cloned()
    }

    fn query_param(&self, name: &str) -> bool {
        self.op
            .parameters
            .iter()
            .any(|p| p.location == ParamLocation::Query && p.name == name)
    }

    /// The first of `names` that is a query parameter.
    fn first_param(&self, names: &[&str]) -> Option<String> {
        names
            .iter()
            .find(|n| self.query_param(n))
            .map(|n| n.to_string())
    }

    /// The first of `pointers` that is in the body and `fits`.
    fn first_field(&self, pointers: &[&str], fits: impl Fn(&TypeRef) -> bool) -> Option<String> {
        pointers
            .iter()
            .find(|p| self.body_at(p).is_some_and(&fits))
            .map(|p| p.to_string())
    }
}

/// `x-acl-pagination`'s object.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Explicit {
    style: Style,
    items: Option<String>,
    param: Option<String>,
    next: Option<String>,
    from_last_item: Option<String>,
    has_more: Option<String>,
    limit: Option<String>,
    total: Option<String>,
    total_pages: Option<String>,
    first: Option<u64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Style {
    Cursor,
    Offset,
    Page,
    NextUrl,
    LinkHeader,
}

type Misfit = (Option<&'static str>, String);

fn explicit(shape: &Shape<'_>, value: &Value) -> Result<Pagination, Misfit> {
    let e: Explicit = serde_json::from_value(value.clone()).map_err(|e| (None, e.to_string()))?;
    let (items, item) = match &e.items {
        Some(p) => {
            let item = shape.items_at(p).ok_or_else(|| {
                (
                    Some("items"),
                    format!("the success body has no list at `{p}`"),
                )
            })?;
            (p.clone(), item)
        }
        None => shape.items().ok_or_else(|| {
            (
                Some("items"),
                "no list of items found in the success body: name it with `items`".to_string(),
            )
        })?,
    };
    let param = |key: &'static str, value: &Option<String>| -> Result<String, Misfit> {
        let name = value
            .clone()
            .ok_or_else(|| (None, format!("the style needs `{key}`")))?;
        if !shape.query_param(&name) {
            return Err((Some(key), format!("`{name}` is not a query parameter")));
        }
        Ok(name)
    };
    let optional_param = |key: &'static str, value: &Option<String>| match value {
        None => Ok(None),
        some => param(key, some).map(Some),
    };
    let field = |key: &'static str,
                 value: &Option<String>,
                 fits: &dyn Fn(&TypeRef) -> bool,
                 what: &str|
     -> Result<Option<String>, Misfit> {
        let Some(p) = value else { return Ok(None) };
        match shape.body_at(p) {
            Some(t) if fits(t) => Ok(Some(p.clone())),
            Some(_) => Err((Some(key), format!("`{p}` is not {what}"))),
            None => Err((Some(key), format!("the success body has no `{p}`"))),
        }
    };
    let next = match e.style {
        Style::Cursor => {
            let param = param("param", &e.param)?;
            let has_more = field("has_more", &e.has_more, &|t| shape.is_bool(t), "a boolean")?;
            match (&e.next, &e.from_last_item) {
                (Some(_), None) => NextPage::Cursor {
                    param,
                    next: field(
                        "next",
                        &e.next,
                        &|t| shape.is_cursor(t),
                        "a string or integer",
                    )?
                    .unwrap_or_default(),
                    has_more,
                },
                (None, Some(f)) => {
                    if shape.at(&item, f).is_none_or(|t| !shape.is_cursor(t)) {
                        return Err((
                            Some("from_last_item"),
                            format!("an item has no string or integer at `{f}`"),
                        ));
                    }
                    NextPage::LastItem {
                        param,
                        field: f.clone(),
                        has_more,
                    }
                }
                _ => {
                    return Err((
                        None,
                        "a cursor comes from `next` (a field of the page) or \
                         `from_last_item` (a field of its last item): give one"
                            .into(),
                    ))
                }
            }
        }
        Style::Offset => NextPage::Offset {
            param: param("param", &e.param)?,
            limit: optional_param("limit", &e.limit)?,
            total: field("total", &e.total, &|t| shape.is_integer(t), "an integer")?,
        },
        Style::Page => NextPage::Page {
            param: param("param", &e.param)?,
            first: e.first.unwrap_or(1),
            size: optional_param("limit", &e.limit)?,
            total_pages: field(
                "total_pages",
                &e.total_pages,
                &|t| shape.is_integer(t),
                "an integer",
            )?,
        },
        Style::NextUrl => NextPage::NextUrl {
            next: field("next", &e.next, &|t| shape.is_text(t), "a string")?
                .ok_or((None, "the style needs `next`".to_string()))?,
        },
        Style::LinkHeader => NextPage::LinkHeader,
    };
    let source = describe(&next);
    Ok(Pagination {
        items,
        item,
        next,
        source,
    })
}

/// A JSONPath of the simple kind vendors write (`$.data.next`) as a JSON pointer.
fn json_path(path: &str) -> String {
    let rest = path.trim().trim_start_matches('$');
    rest.split('.')
        .filter(|p| !p.is_empty())
        .map(|p| format!("/{}", crate::load::escape(p)))
        .collect()
}

/// Another tool's pagination extension: `Ok(None)` when it says "not paginated".
fn vendor(shape: &Shape<'_>, name: &str, value: &Value) -> Result<Option<Pagination>, String> {
    let found_items = |pointer: Option<String>| -> Result<(String, TypeRef), String> {
        match pointer {
            Some(p) => shape
                .items_at(&p)
                .map(|item| (p.clone(), item))
                .ok_or_else(|| format!("the success body has no list at `{p}`")),
            None => shape
                .items()
                .ok_or_else(|| "no list of items found in the success body".into()),
        }
    };
    let (items, item, next) = match name {
        "x-ms-pageable" => {
            let Some(next) = value.get("nextLinkName") else {
                return Err("`nextLinkName` is missing".into());
            };
            let Some(next) = next.as_str() else {
                // `nextLinkName: null`: one page holds everything.
                return Ok(None);
            };
            let item_name = value
                .get("itemName")
                .and_then(Value::as_str)
                .unwrap_or("value");
            let (items, item) = found_items(Some(format!("/{}", crate::load::escape(item_name))))?;
            let next = format!("/{}", crate::load::escape(next));
            if shape.body_at(&next).is_none_or(|t| !shape.is_text(t)) {
                return Err(format!("the success body has no string at `{next}`"));
            }
            (items, item, NextPage::NextUrl { next })
        }
        "x-dropshot-pagination" => {
            let (items, item) = found_items(Some("/items".into()))?;
            if !shape.query_param("page_token") {
                return Err("the operation has no `page_token` parameter".into());
            }
            (
                items,
                item,
                NextPage::Cursor {
                    param: "page_token".into(),
                    next: "/next_page".into(),
                    has_more: None,
                },
            )
        }
        _ => {
            // x-speakeasy-pagination: {type, inputs: [{name, in, type}], outputs: {...}}
            let kind = value
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let inputs = value
                .get("inputs")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let input = |role: &str| -> Option<String> {
                inputs
                    .iter()
                    .find(|i| i.get("type").and_then(Value::as_str) == Some(role))
                    .filter(|i| i.get("in").and_then(Value::as_str) == Some("parameters"))
                    .and_then(|i| i.get("name")?.as_str())
                    .filter(|n| shape.query_param(n))
                    .map(str::to_string)
            };
            let outputs = value.get("outputs");
            let output = |key: &str| {
                outputs
                    .and_then(|o| o.get(key))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            let (items, item) = found_items(output("results").map(|p| json_path(&p)))?;
            let next = match kind {
                "offsetLimit" => match (input("offset"), input("page")) {
                    (Some(param), _) => NextPage::Offset {
                        param,
                        limit: input("limit"),
                        total: None,
                    },
                    (None, Some(param)) => NextPage::Page {
                        param,
                        first: 1,
                        size: input("limit"),
                        total_pages: output("numPages").map(|p| json_path(&p)),
                    },
                    _ => return Err("no `offset` or `page` input in the query".into()),
                },
                "cursor" => {
                    let param = input("cursor").ok_or("no `cursor` input in the query")?;
                    let cursor = output("nextCursor").ok_or("no `nextCursor` output")?;
                    // `$.data[-1].id`: the last item's field.
                    match cursor.split_once("[-1]") {
                        Some((_, field)) => NextPage::LastItem {
                            param,
                            field: json_path(field),
                            has_more: None,
                        },
                        None => NextPage::Cursor {
                            param,
                            next: json_path(&cursor),
                            has_more: None,
                        },
                    }
                }
                "url" => NextPage::NextUrl {
                    next: json_path(&output("nextUrl").ok_or("no `nextUrl` output")?),
                },
                other => return Err(format!("the type `{other}` is not one acl knows")),
            };
            (items, item, next)
        }
    };
    Ok(Some(Pagination {
        items,
        item,
        source: describe(&next),
        next,
    }))
}

/// Recognised from the shape of a `GET` operation.
fn detected(shape: &Shape<'_>) -> Option<Pagination> {
    let (items, item) = shape.items()?;
    let page = |next: NextPage| {
        Some(Pagination {
            items: items.clone(),
            item: item.clone(),
            source: describe(&next),
            next,
        })
    };
    let op = shape.op;
    let link = op
        .responses
        .iter()
        .filter(|r| r.status.is_success())
        .flat_map(|r| &r.headers)
        .any(|h| h.name.eq_ignore_ascii_case("link"));
    if link {
        return page(NextPage::LinkHeader);
    }
    const CURSOR_PARAMS: &[&str] = &[
        "cursor",
        "page_token",
        "pageToken",
        "next_token",
        "nextToken",
        "continuation_token",
        "continuationToken",
        "next_cursor",
        "starting_after",
        "after",
    ];
    let cursor_param = shape.first_param(CURSOR_PARAMS);
    const URL_FIELDS: &[&str] = &[
        "/next_url",
        "/next_page_url",
        "/next_page_uri",
        "/nextLink",
        "/next_link",
        "/links/next",
        "/links/pages/next",
        "/_links/next/href",
        "/meta/next_page_url",
        "/meta/next",
        "/pagination/next_url",
        "/paging/next",
    ];
    let is_url = |t: &TypeRef| shape.is_text(t);
    if let Some(next) = shape.first_field(URL_FIELDS, is_url) {
        return page(NextPage::NextUrl { next });
    }
    // A bare `next`: a URL, unless the operation takes a cursor parameter.
    if cursor_param.is_none() {
        if let Some(next) = shape.first_field(&["/next"], is_url) {
            return page(NextPage::NextUrl { next });
        }
    }
    let has_more = shape.first_field(&["/has_more", "/hasMore"], |t| shape.is_bool(t));
    if let (Some(has_more), Some(param)) = (
        &has_more,
        shape.first_param(&["starting_after", "after", "cursor"]),
    ) {
        if shape.at(&item, "/id").is_some_and(|t| shape.is_cursor(t)) {
            return page(NextPage::LastItem {
                param,
                field: "/id".into(),
                has_more: Some(has_more.clone()),
            });
        }
    }
    const CURSOR_FIELDS: &[&str] = &[
        "/next_cursor",
        "/nextCursor",
        "/next_page_token",
        "/nextPageToken",
        "/next_token",
        "/nextToken",
        "/continuation_token",
        "/continuationToken",
        "/next_page",
        "/cursor",
        "/next",
        "/response_metadata/next_cursor",
        "/meta/next_cursor",
        "/meta/cursor",
        "/pagination/next_cursor",
        "/paging/cursors/after",
        "/last_id",
    ];
    if let Some(param) = cursor_param {
        if let Some(next) = shape.first_field(CURSOR_FIELDS, |t| shape.is_cursor(t)) {
            return page(NextPage::Cursor {
                param,
                next,
                has_more,
            });
        }
        // A bare list that takes a cursor but carries none: the cursor travels in the
        // `Link` header, undeclared (Okta).
        if items.is_empty() {
            return page(NextPage::LinkHeader);
        }
    }
    let integer_param = |names: &[&str]| {
        names
            .iter()
            .find(|n| {
                op.parameters.iter().any(|p| {
                    p.location == ParamLocation::Query && p.name == **n && shape.is_integer(&p.ty)
                })
            })
            .map(|n| n.to_string())
    };
    const SIZE_PARAMS: &[&str] = &[
        "limit",
        "per_page",
        "perPage",
        "page_size",
        "pageSize",
        "count",
        "size",
        "max_results",
        "maxResults",
    ];
    if let Some(param) = integer_param(&["offset", "skip", "start"]) {
        return page(NextPage::Offset {
            param,
            limit: integer_param(SIZE_PARAMS),
            total: shape.first_field(
                &[
                    "/total",
                    "/total_count",
                    "/totalCount",
                    "/total_entries",
                    "/totalEntries",
                    "/total_results",
                    "/totalResults",
                    "/meta/total",
                    "/meta/total_count",
                    "/pagination/total",
                ],
                |t| shape.is_integer(t),
            ),
        });
    }
    if let Some(param) = integer_param(&["page", "page_number", "pageNumber"]) {
        return page(NextPage::Page {
            param,
            first: 1,
            size: integer_param(SIZE_PARAMS),
            total_pages: shape.first_field(
                &[
                    "/total_pages",
                    "/totalPages",
                    "/page_count",
                    "/pageCount",
                    "/meta/total_pages",
                    "/pagination/total_pages",
                ],
                |t| shape.is_integer(t),
            ),
        });
    }
    None
}

/// What the note says about `next`.
fn describe(next: &NextPage) -> String {
    let more = |has_more: &Option<String>| match has_more {
        Some(p) => format!(" while `{p}` is true"),
        None => String::new(),
    };
    match next {
        NextPage::Cursor {
            param,
            next,
            has_more,
        } => format!("cursor at `{next}` sent as `{param}`{}", more(has_more)),
        NextPage::LastItem {
            param,
            field,
            has_more,
        } => format!(
            "the last item's `{field}` sent as `{param}`{}",
            more(has_more)
        ),
        NextPage::Offset {
            param,
            limit,
            total,
        } => {
            let mut s = format!("offset `{param}`");
            if let Some(l) = limit {
                s.push_str(&format!(", page size `{l}`"));
            }
            if let Some(t) = total {
                s.push_str(&format!(", total at `{t}`"));
            }
            s
        }
        NextPage::Page {
            param,
            first,
            size,
            total_pages,
        } => {
            let mut s = format!("page number `{param}` from {first}");
            if let Some(l) = size {
                s.push_str(&format!(", page size `{l}`"));
            }
            if let Some(t) = total_pages {
                s.push_str(&format!(", page count at `{t}`"));
            }
            s
        }
        NextPage::NextUrl { next } => format!("next-page URL at `{next}`"),
        NextPage::LinkHeader => "the `Link` header's rel=\"next\"".into(),
    }
}
