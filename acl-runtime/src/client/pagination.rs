//! Pagination: a paginated operation's items across pages as one stream
//! ([`Paginated`], what a generated `…_all` method returns), its pages with their
//! metadata ([`Pages`]), and where to resume ([`PageCursor`]).
//!
//! Every page request goes through the operation's pipeline (rate limit, breaker,
//! retries, timeout), so a retry inside page 2 repeats page 2 only. Pages come from
//! outside, so each next step is checked: a cursor or URL the stream has already asked
//! for ends it with [`Error::Pagination`] (a vendor bug would otherwise loop forever),
//! a next-page URL is followed only on the base URL's origin (a page cannot send the
//! credentials elsewhere), and a malformed one is an error that names it.

use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Error, Failed, Meta, Request, Response};
use crate::boundary::decode::BoundaryError;
use crate::transport::BoxFuture;

/// How an operation's results are paged: generated from the contract (`x-acl-pagination`,
/// a vendor's pagination extension, or a shape acl recognises; `acl-codegen check` says
/// which, per operation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pagination {
    /// Where a page's items are in its body: a JSON pointer (`/data`); empty when the
    /// body is the array.
    pub items: &'static str,
    /// How the next page is asked for.
    pub next: NextPage,
}

/// How the next page is asked for. Pointers are JSON pointers into the page's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextPage {
    /// A token in the body (`next`), sent back in the query parameter `param`; the end
    /// when it is absent, `null` or empty, or when `has_more` is `false`.
    Cursor {
        /// The query parameter.
        param: &'static str,
        /// The token's pointer.
        next: &'static str,
        /// A boolean's pointer, when the page says whether more follow.
        has_more: Option<&'static str>,
    },
    /// The last item's `field` (a pointer into the item, e.g. `/id`), sent in `param`,
    /// while `has_more` is `true` and the page has items (Stripe, OpenAI).
    LastItem {
        /// The query parameter (`starting_after`, `after`).
        param: &'static str,
        /// The item's field.
        field: &'static str,
        /// A boolean's pointer (`/has_more`).
        has_more: Option<&'static str>,
    },
    /// The offset in `param`, advanced by the items read; the end at an empty page, a
    /// page shorter than the `limit` parameter's value, or at the `total` count.
    Offset {
        /// The offset parameter.
        param: &'static str,
        /// The page-size parameter.
        limit: Option<&'static str>,
        /// The total count's pointer.
        total: Option<&'static str>,
    },
    /// The page number in `param`, from `first`; the end at an empty page, a page
    /// shorter than the `size` parameter's value, or past `total_pages`.
    Page {
        /// The page parameter.
        param: &'static str,
        /// The first page's number (1 unless the contract says otherwise).
        first: u64,
        /// The page-size parameter.
        size: Option<&'static str>,
        /// The page count's pointer.
        total_pages: Option<&'static str>,
    },
    /// A URL in the body (`next`), absolute or relative to the page's URL.
    NextUrl {
        /// The URL's pointer.
        next: &'static str,
    },
    /// The `Link` header's `rel="next"` target (RFC 8288).
    LinkHeader,
}

/// Where a paginated stream goes on: save it (it is serde-serialisable) and hand it
/// to [`Paginated::resume`] later. It is outside input when it comes back: resuming
/// checks it against the operation, and a URL in it against the base URL's origin.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PageCursor {
    operation: String,
    #[serde(flatten)]
    next: Next,
}

/// The request for a next page.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Next {
    /// The template request with one query parameter set.
    Query { name: String, value: String },
    /// A whole URL.
    Url { url: String },
}

impl PageCursor {
    /// The operation the cursor belongs to.
    pub fn operation(&self) -> &str {
        &self.operation
    }
}

/// One page: its items, how the call went, and where the next page starts.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The page's items, each decoded and checked against the contract.
    pub items: Vec<T>,
    /// The page's response: status, headers, attempts, elapsed time.
    pub meta: Meta,
    /// Where the next page starts (`None`: this was the last).
    pub next: Option<PageCursor>,
}

/// A page read, and what stops the stream after it (an error of its next step).
type PageRead<T, E> = (Page<T>, Option<Error<E>>);

/// A page being fetched: its checked body with the call's metadata.
type PageFuture<'a, E> = BoxFuture<'a, Result<Response<Bytes>, Failed<E>>>;

/// Fetches one page: the request, sent through the pipeline, to its checked body.
pub(crate) type Fetch<'a, E> = Box<dyn Fn(Request<'a>) -> PageFuture<'a, E> + Send + Sync + 'a>;

/// The pages of a paginated call, as a [`futures_core::Stream`] of
/// `Result<Page<T>, Error<E>>`. The stream ends after the last page, after
/// `max_pages`, or after an error (then [`Pages::cursor`] still points at the page that
/// failed, so the call can be resumed from there).
#[must_use = "streams do nothing unless polled"]
pub struct Pages<'a, T, E> {
    template: Request<'a>,
    operation: &'static str,
    spec: Option<Pagination>,
    origin: url::Origin,
    fetch: Fetch<'a, E>,
    /// The page to fetch next (`None`: the first, if not started).
    next: Option<Next>,
    started: bool,
    done: bool,
    pages: u32,
    max_pages: Option<u32>,
    /// What was asked for so far (hashed): asking again would loop.
    seen: HashSet<u64>,
    in_flight: Option<(Request<'a>, PageFuture<'a, E>)>,
    /// What stops the stream after the page just yielded (a loop, a foreign link).
    pending: Option<Error<E>>,
    _items: PhantomData<fn() -> T>,
}

impl<T, E> std::fmt::Debug for Pages<'_, T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("operation", &self.operation)
            .field("pages", &self.pages)
            .field("next", &self.next)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

fn fingerprint(next: &Next) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    next.hash(&mut h);
    h.finish()
}

impl<'a, T: DeserializeOwned, E> Pages<'a, T, E> {
    /// At most `n` pages (counting from where the stream starts, a resumed one too).
    pub fn max_pages(mut self, n: u32) -> Self {
        self.max_pages = Some(n);
        self
    }

    /// Where the stream goes on: the page it would fetch next (the one that failed,
    /// after an error). `None` before the first page and after the last.
    pub fn cursor(&self) -> Option<PageCursor> {
        self.next.clone().map(|next| PageCursor {
            operation: self.operation.to_string(),
            next,
        })
    }

    /// Whether the last page has been read.
    pub fn is_finished(&self) -> bool {
        self.done && self.started && self.next.is_none()
    }

    /// Starts at `cursor` instead of the first page.
    pub fn resume(mut self, cursor: PageCursor) -> Result<Self, Error<E>> {
        let fail = |message: String| Error::Pagination {
            operation: self.operation,
            message,
        };
        if cursor.operation != self.operation {
            return Err(fail(format!(
                "the cursor belongs to operation `{}`",
                cursor.operation
            )));
        }
        match (&cursor.next, self.spec.map(|s| s.next)) {
            (Next::Url { url }, _) => {
                self.checked_url(url, None)?;
            }
            (
                Next::Query { name, .. },
                Some(
                    NextPage::Cursor { param, .. }
                    | NextPage::LastItem { param, .. }
                    | NextPage::Offset { param, .. }
                    | NextPage::Page { param, .. },
                ),
            ) if name == param => {}
            (Next::Query { name, .. }, _) => {
                return Err(fail(format!(
                    "the cursor sets `{name}`, which does not page this operation"
                )))
            }
        }
        self.next = Some(cursor.next);
        self.started = true;
        Ok(self)
    }

    /// `url`, resolved against `base` (a page's URL), if it is on the base URL's origin.
    fn checked_url(&self, url: &str, base: Option<&str>) -> Result<String, Error<E>> {
        let fail = |message: String| Error::Pagination {
            operation: self.operation,
            message,
        };
        let parsed = match base.map(url::Url::parse) {
            Some(Ok(base)) => base.join(url),
            _ => url::Url::parse(url),
        }
        .map_err(|e| fail(format!("the next-page URL `{url}` is malformed: {e}")))?;
        if parsed.origin() != self.origin {
            return Err(fail(format!(
                "the next-page URL `{url}` is on another origin than the base URL ({}); \
                 acl follows next-page links only there",
                self.origin.ascii_serialization()
            )));
        }
        Ok(parsed.to_string())
    }

    fn request_for(&self, next: &Next) -> Request<'a> {
        let mut request = self.template.clone();
        match next {
            Next::Query { name, value } => request.set_query(name, value),
            Next::Url { url } => request.set_url(url.clone()),
        }
        request
    }

    /// Reads a fetched page: its items, and the next step (an error there comes after
    /// the page's items, which are good).
    fn read(
        &mut self,
        request: &Request<'a>,
        response: Response<Bytes>,
    ) -> Result<PageRead<T, E>, Error<E>> {
        let operation = self.operation;
        let spec = self.spec.ok_or_else(|| Error::Pagination {
            operation,
            message: "the operation is not paginated".into(),
        })?;
        let fail = |message: String| Error::Pagination { operation, message };
        let status = response.meta.status.unwrap_or_default();
        let body: Value = if response.value.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            crate::boundary::decode::from_json(&response.value).map_err(|error| {
                Error::InvalidBody {
                    operation,
                    status,
                    error,
                    body: response.value.clone(),
                }
            })?
        };
        let raw_items: &[Value] = match body.pointer(spec.items) {
            Some(Value::Array(items)) => items,
            None | Some(Value::Null) => &[],
            Some(_) => {
                return Err(fail(format!(
                    "the items (at `{}`) are not an array",
                    spec.items
                )))
            }
        };
        let mut items = Vec::with_capacity(raw_items.len());
        for (i, item) in raw_items.iter().enumerate() {
            let item =
                crate::boundary::decode::from_value(item).map_err(|e| Error::InvalidBody {
                    operation,
                    status,
                    error: BoundaryError {
                        path: format!("{}/{i}{}", spec.items, e.path.trim_start_matches('$')),
                        message: e.message,
                    },
                    body: response.value.clone(),
                })?;
            items.push(item);
        }
        let next = self.next_step(spec, request, &body, raw_items, &response.meta);
        let (next, stop) = match next {
            Ok(next) => (next, None),
            Err(e) => (None, Some(e)),
        };
        self.next = next.clone();
        Ok((
            Page {
                items,
                meta: response.meta,
                next: next.map(|next| PageCursor {
                    operation: operation.to_string(),
                    next,
                }),
            },
            stop,
        ))
    }

    /// The request for the page after this one (`None`: this was the last).
    fn next_step(
        &mut self,
        spec: Pagination,
        request: &Request<'a>,
        body: &Value,
        raw_items: &[Value],
        meta: &Meta,
    ) -> Result<Option<Next>, Error<E>> {
        let operation = self.operation;
        let fail = |message: String| Error::Pagination { operation, message };
        let flag = |pointer: Option<&str>| pointer.and_then(|p| body.pointer(p)?.as_bool());
        let text = |v: Option<&Value>| match v {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let count = raw_items.len() as u64;
        let number = |name: &str| {
            request
                .query_value(name)
                .and_then(|v| v.parse::<u64>().ok())
        };
        let query = |name: &str, value: String| {
            Some(Next::Query {
                name: name.to_string(),
                value,
            })
        };
        let next = match spec.next {
            NextPage::Cursor {
                param,
                next,
                has_more,
            } => match flag(has_more) {
                Some(false) => None,
                _ => text(body.pointer(next)).and_then(|v| query(param, v)),
            },
            NextPage::LastItem {
                param,
                field,
                has_more,
            } => match (flag(has_more), raw_items.last()) {
                (Some(false), _) | (_, None) => None,
                (_, Some(last)) => {
                    let value = text(last.pointer(field)).ok_or_else(|| {
                        fail(format!(
                            "the last item has no `{field}` to ask for the next page with"
                        ))
                    })?;
                    query(param, value)
                }
            },
            NextPage::Offset {
                param,
                limit,
                total,
            } => {
                let at = number(param).unwrap_or(0) + count;
                let short = limit.and_then(number).is_some_and(|l| count < l);
                let past = total
                    .and_then(|p| body.pointer(p)?.as_u64())
                    .is_some_and(|t| at >= t);
                if count == 0 || short || past {
                    None
                } else {
                    query(param, at.to_string())
                }
            }
            NextPage::Page {
                param,
                first,
                size,
                total_pages,
            } => {
                let page = number(param).unwrap_or(first);
                let short = size.and_then(number).is_some_and(|l| count < l);
                let last = total_pages
                    .and_then(|p| body.pointer(p)?.as_u64())
                    .is_some_and(|t| page.saturating_sub(first) + 1 >= t);
                if count == 0 || short || last {
                    None
                } else {
                    query(param, (page + 1).to_string())
                }
            }
            NextPage::NextUrl { next } => match body.pointer(next) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.trim().is_empty() => None,
                Some(Value::String(s)) => Some(Next::Url {
                    url: self.checked_url(s.trim(), Some(&request.target()))?,
                }),
                Some(other) => {
                    return Err(fail(format!(
                        "the next-page URL (at `{next}`) is not a string: {other}"
                    )))
                }
            },
            NextPage::LinkHeader => {
                let mut target = None;
                for value in meta.headers.get_all(http::header::LINK) {
                    let value = value
                        .to_str()
                        .map_err(|_| fail("the `Link` header is not visible ASCII".to_string()))?;
                    if let Some(url) = link_next(value) {
                        target = Some(url);
                        break;
                    }
                }
                match target {
                    None => None,
                    Some(url) => Some(Next::Url {
                        url: self.checked_url(&url, Some(&request.target()))?,
                    }),
                }
            }
        };
        if let Some(n) = &next {
            if !self.seen.insert(fingerprint(n)) {
                return Err(fail(format!(
                    "the page asks for a next page already read ({}): the vendor's \
                     pagination loops",
                    match n {
                        Next::Query { name, value } => format!("`{name}={value}`"),
                        Next::Url { url } => format!("`{url}`"),
                    }
                )));
            }
        }
        Ok(next)
    }
}

/// The `rel="next"` target of a `Link` header value (RFC 8288): links are
/// `<target>; param=value; ...`, separated by commas; `rel` may hold several types.
pub fn link_next(value: &str) -> Option<String> {
    let mut rest = value;
    loop {
        let start = rest.find('<')?;
        let end = start + rest[start..].find('>')?;
        let target = &rest[start + 1..end];
        let after = &rest[end + 1..];
        // The parameters run up to the next link (a comma outside quotes, before `<`).
        let params_end = after.find('<').unwrap_or(after.len());
        let params = &after[..params_end];
        let is_next = params.split(';').any(|p| {
            let Some((k, v)) = p.split_once('=') else {
                return false;
            };
            k.trim().eq_ignore_ascii_case("rel")
                && v.trim()
                    .trim_end_matches(',')
                    .trim_end()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.trim().to_string());
        }
        rest = &after[params_end..];
    }
}

impl<'a, T: DeserializeOwned + Send + 'a, E: Send + 'a> futures_core::Stream for Pages<'a, T, E> {
    type Item = Result<Page<T>, Error<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some((_, future)) = &mut this.in_flight {
                let result = match future.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(r) => r,
                };
                let (request, _) = this.in_flight.take().expect("a page in flight");
                let page = result
                    .map_err(|failed| failed.error)
                    .and_then(|response| this.read(&request, response));
                let page = match page {
                    Ok((page, stop)) => {
                        this.pending = stop;
                        Ok(page)
                    }
                    Err(e) => Err(e),
                };
                match &page {
                    Ok(p) if p.next.is_some() || this.pending.is_some() => {}
                    // The last page, or an error: nothing more.
                    _ => this.done = true,
                }
                return Poll::Ready(Some(page));
            }
            if let Some(stop) = this.pending.take() {
                this.done = true;
                return Poll::Ready(Some(Err(stop)));
            }
            if this.done || this.max_pages.is_some_and(|max| this.pages >= max) {
                this.done = true;
                return Poll::Ready(None);
            }
            let request = match (&this.next, this.started) {
                (None, false) => this.template.clone(),
                (Some(next), _) => this.request_for(next),
                (None, true) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
            };
            if this.spec.is_none() {
                this.done = true;
                return Poll::Ready(Some(Err(Error::Pagination {
                    operation: this.operation,
                    message: "the operation is not paginated".into(),
                })));
            }
            this.started = true;
            this.pages += 1;
            let future = (this.fetch)(request.clone());
            this.in_flight = Some((request, future));
        }
    }
}

/// Every item of a paginated call, across pages, as a [`futures_core::Stream`] of
/// `Result<T, Error<E>>`: what a generated `…_all` method returns.
///
/// ```no_run
/// # async fn example<'a, E: std::fmt::Debug + Send + 'a>(
/// #     mut charges: acl_runtime::client::Paginated<'a, serde_json::Value, E>,
/// # ) {
/// use futures_util::StreamExt;
/// while let Some(charge) = charges.next().await {
///     let charge = charge.expect("every page arrives");
/// #   let _ = charge;
/// }
/// # }
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct Paginated<'a, T, E> {
    pages: Pages<'a, T, E>,
    buffer: VecDeque<T>,
}

// Neither stream pins its items: they are only moved in and out of the buffer.
impl<T, E> Unpin for Paginated<'_, T, E> {}
impl<T, E> Unpin for Pages<'_, T, E> {}

impl<T, E> std::fmt::Debug for Paginated<'_, T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paginated")
            .field("pages", &self.pages)
            .field("buffered", &self.buffer.len())
            .finish()
    }
}

impl<'a, T: DeserializeOwned, E> Paginated<'a, T, E> {
    pub(crate) fn new(
        template: Request<'a>,
        operation: &'static str,
        spec: Option<Pagination>,
        origin: url::Origin,
        fetch: Fetch<'a, E>,
        max_pages: Option<u32>,
    ) -> Self {
        Self {
            pages: Pages {
                template,
                operation,
                spec,
                origin,
                fetch,
                next: None,
                started: false,
                done: false,
                pages: 0,
                max_pages,
                seen: HashSet::new(),
                in_flight: None,
                pending: None,
                _items: PhantomData,
            },
            buffer: VecDeque::new(),
        }
    }

    /// The pages instead of the items: each with its metadata and its cursor.
    pub fn pages(self) -> Pages<'a, T, E> {
        self.pages
    }

    /// At most `n` pages.
    pub fn max_pages(mut self, n: u32) -> Self {
        self.pages = self.pages.max_pages(n);
        self
    }

    /// Starts at `cursor` (from [`Page::next`] or [`Paginated::cursor`]) instead of
    /// the first page.
    pub fn resume(mut self, cursor: PageCursor) -> Result<Self, Error<E>> {
        self.pages = self.pages.resume(cursor)?;
        Ok(self)
    }

    /// The page the stream would fetch next (see [`Pages::cursor`]). Items of the
    /// current page not yet taken from the stream are before it: resume from a page's
    /// [`Page::next`] to lose nothing.
    pub fn cursor(&self) -> Option<PageCursor> {
        self.pages.cursor()
    }
}

impl<'a, T: DeserializeOwned + Send + 'a, E: Send + 'a> futures_core::Stream
    for Paginated<'a, T, E>
{
    type Item = Result<T, Error<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.buffer.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            match Pin::new(&mut this.pages).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(page))) => this.buffer.extend(page.items),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::link_next;

    #[test]
    fn link_headers_give_their_next_target() {
        assert_eq!(
            link_next(
                r#"<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last""#
            ),
            Some("https://api.github.com/x?page=2".into())
        );
        assert_eq!(
            link_next(
                r#"<https://a/x?page=1>; rel="prev first", <https://a/x?page=3>; rel="last next""#
            ),
            Some("https://a/x?page=3".into())
        );
        assert_eq!(
            link_next("<https://a/1>; rel=next"),
            Some("https://a/1".into())
        );
        assert_eq!(link_next(r#"<https://a/1>; rel="prev""#), None);
        assert_eq!(link_next(""), None);
        assert_eq!(link_next("<unterminated; rel=next"), None);
    }

    proptest::proptest! {
        /// Any list of links, however spaced and quoted: the first whose `rel` holds
        /// `next` is found, and nothing panics on what a vendor may send.
        #[test]
        fn the_first_next_link_is_found(
            links in proptest::collection::vec(
                (
                    "[a-z0-9/?=&.:-]{1,20}",
                    proptest::sample::subsequence(vec!["next", "prev", "last", "first"], 1..3),
                    proptest::bool::ANY,
                    " {0,2}",
                ),
                0..5,
            ),
            noise in "[ -~]{0,40}",
        ) {
            let text: Vec<String> = links
                .iter()
                .map(|(target, rels, quoted, space)| {
                    let rel = rels.join(" ");
                    let rel = if *quoted || rels.len() > 1 { format!("\"{rel}\"") } else { rel };
                    format!("<https://a.example/{target}>;{space}rel={rel}")
                })
                .collect();
            let expected = links
                .iter()
                .find(|(_, rels, _, _)| rels.contains(&"next"))
                .map(|(target, ..)| format!("https://a.example/{target}"));
            proptest::prop_assert_eq!(link_next(&text.join(", ")), expected);
            let _ = link_next(&noise);
        }
    }
}
