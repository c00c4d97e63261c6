//! The typed client: one async method per operation, a response enum per operation,
//! and the contract's operations as static data for `acl_runtime::client`.
//!
//! Generated methods only name their parameters and body; serialisation, auth,
//! policies and the resilience pipeline live in `acl_runtime::client`, compiled once,
//! so a contract with a thousand operations stays cheap to compile.

use std::collections::BTreeSet;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use super::docs::doc_attrs;
use super::types::type_tokens;
use crate::ir::{
    Api, Content, Docs, NextPage, Operation, ParamLocation, Parameter, Primitive, Response,
    SecurityRequirement, SecurityScheme, Status, TypeRef,
};
use crate::lower::names::{camel, snake};

fn ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

/// How a body travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Media {
    Json,
    Form,
    Multipart,
    Text,
    Binary,
}

pub(super) fn media_kind(content: &Content) -> Media {
    let lower = content.media_type.to_ascii_lowercase();
    let base = lower.split(';').next().unwrap_or("").trim();
    let typed = content
        .ty
        .as_ref()
        .is_some_and(|t| !matches!(t, TypeRef::Primitive(Primitive::String)));
    if base == "application/json" || base.ends_with("+json") || base.ends_with("/json") {
        Media::Json
    } else if base == "application/x-www-form-urlencoded" {
        Media::Form
    } else if base.starts_with("multipart/") {
        Media::Multipart
    } else if base.starts_with("text/") {
        Media::Text
    } else if (base == "*/*" || base == "application/*") && typed {
        Media::Json
    } else {
        Media::Binary
    }
}

/// Paths from the client module.
pub(super) fn ty(t: &TypeRef) -> TokenStream {
    type_tokens(
        t,
        &quote!(::acl_runtime::__private),
        &quote!(__acl),
        &|n, _| {
            let id = ident(n);
            quote!(super::types::#id)
        },
    )
}

fn value_ty(t: &Option<TypeRef>) -> TokenStream {
    match t {
        Some(t) => ty(t),
        None => quote!(__acl::serde_json::Value),
    }
}

/// A parameter's argument type: strings by `&str`, other scalars by value, the rest by
/// reference.
fn arg_ty(t: &TypeRef) -> TokenStream {
    match t {
        TypeRef::Primitive(Primitive::String) => quote!(&str),
        TypeRef::Primitive(
            Primitive::Any
            | Primitive::Object
            | Primitive::Uri
            | Primitive::Bytes
            | Primitive::DateTime,
        ) => {
            let t = ty(t);
            quote!(&#t)
        }
        TypeRef::Primitive(_) => ty(t),
        _ => {
            let t = ty(t);
            quote!(&#t)
        }
    }
}

fn reason(code: u16) -> Option<&'static str> {
    Some(match code {
        100 => "Continue",
        101 => "SwitchingProtocols",
        200 => "Ok",
        201 => "Created",
        202 => "Accepted",
        203 => "NonAuthoritativeInformation",
        204 => "NoContent",
        205 => "ResetContent",
        206 => "PartialContent",
        207 => "MultiStatus",
        300 => "MultipleChoices",
        301 => "MovedPermanently",
        302 => "Found",
        303 => "SeeOther",
        304 => "NotModified",
        307 => "TemporaryRedirect",
        308 => "PermanentRedirect",
        400 => "BadRequest",
        401 => "Unauthorized",
        402 => "PaymentRequired",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        407 => "ProxyAuthenticationRequired",
        408 => "RequestTimeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "LengthRequired",
        412 => "PreconditionFailed",
        413 => "ContentTooLarge",
        414 => "UriTooLong",
        415 => "UnsupportedMediaType",
        416 => "RangeNotSatisfiable",
        417 => "ExpectationFailed",
        421 => "MisdirectedRequest",
        422 => "UnprocessableEntity",
        423 => "Locked",
        424 => "FailedDependency",
        425 => "TooEarly",
        426 => "UpgradeRequired",
        428 => "PreconditionRequired",
        429 => "TooManyRequests",
        431 => "RequestHeaderFieldsTooLarge",
        451 => "UnavailableForLegalReasons",
        500 => "InternalServerError",
        501 => "NotImplemented",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        505 => "HttpVersionNotSupported",
        507 => "InsufficientStorage",
        _ => return None,
    })
}

fn variant_name(status: &Status) -> String {
    match status {
        Status::Code(c) => reason(*c)
            .map(str::to_string)
            .unwrap_or_else(|| format!("Status{c}")),
        Status::Range(d) => format!("Status{d}xx"),
        Status::Default => "Default".into(),
    }
}

/// The content a response is read as: JSON first, then text, then bytes.
fn response_content(r: &Response) -> Option<(&Content, Media)> {
    let with_kind: Vec<(&Content, Media)> = r.contents.iter().map(|c| (c, media_kind(c))).collect();
    with_kind
        .iter()
        .find(|(_, m)| *m == Media::Json)
        .or_else(|| with_kind.iter().find(|(_, m)| *m == Media::Text))
        .or_else(|| with_kind.first())
        .map(|(c, m)| {
            (
                *c,
                if matches!(m, Media::Json | Media::Text) {
                    *m
                } else {
                    Media::Binary
                },
            )
        })
}

/// Emits the `client` module of `api`.
pub fn client_source(
    api: &Api,
    gates: Option<&super::features::Gates>,
    embed_contract: bool,
) -> Result<String, String> {
    let mut items = Vec::new();
    let mut methods = Vec::new();
    let mut specs = Vec::new();
    let mut names = Names::default();
    for (index, op) in api.operations.iter().enumerate() {
        let (spec, op_methods, extra) = operation(op, index, &mut names);
        specs.push(spec);
        // With per-tag features, the method and its types compile with its tags'
        // features; its `OperationSpec` (static data) always does, so indices hold.
        let gate = gates.map(|g| g.op(index)).unwrap_or_default();
        for method in op_methods {
            methods.push(quote!(#gate #method));
        }
        for item in extra {
            items.push(super::features::gate_items(item, &gate)?);
        }
    }
    let system = &api.title;
    let servers = api.servers.iter().map(|s| {
        let url = &s.url;
        let vars = s.variables.iter().map(|(k, v)| {
            let d = &v.default;
            quote!((#k, #d))
        });
        quote!((#url, &[#(#vars),*]))
    });
    let policies = api
        .policy
        .as_ref()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let schemes = api.security_schemes.iter().map(|(name, s)| {
        let spec = match s {
            SecurityScheme::ApiKey { name, location } => {
                let loc = match location {
                    ParamLocation::Header => quote!(Header),
                    ParamLocation::Query => quote!(Query),
                    ParamLocation::Cookie => quote!(Cookie),
                    ParamLocation::Path => return quote!((#name, __c::SchemeSpec::Other)),
                };
                quote!(__c::SchemeSpec::ApiKey { name: #name, location: __c::KeyIn::#loc })
            }
            SecurityScheme::Http { scheme, .. } if scheme == "bearer" => {
                quote!(__c::SchemeSpec::Bearer)
            }
            SecurityScheme::Http { scheme, .. } if scheme == "basic" => {
                quote!(__c::SchemeSpec::Basic)
            }
            SecurityScheme::OAuth2 {
                client_credentials_token_url,
                ..
            } => {
                let url = match client_credentials_token_url {
                    Some(u) => quote!(Some(#u)),
                    None => quote!(None),
                };
                quote!(__c::SchemeSpec::OAuth2 { token_url: #url })
            }
            SecurityScheme::OpenIdConnect { .. } => {
                quote!(__c::SchemeSpec::OAuth2 { token_url: None })
            }
            _ => quote!(__c::SchemeSpec::Other),
        };
        quote!((#name, #spec))
    });
    let security = security_tokens(&api.security);
    let title_doc = format!(" A client for {}.", api.title.replace('\n', " "));
    let contract = if embed_contract {
        quote!(Some(&super::types::CONTRACT))
    } else {
        quote!(None)
    };
    let tokens = quote! {
        #[allow(unused_imports)]
        use ::acl_runtime::__private as __acl;
        #[allow(unused_imports)]
        use ::acl_runtime::__private::client as __c;

        /// The contract's operations, servers, security schemes and policies.
        pub static API: __c::ApiSpec = __c::ApiSpec {
            system: #system,
            servers: &[#(#servers),*],
            policies: #policies,
            schemes: &[#(#schemes),*],
            security: #security,
            operations: &[#(#specs),*],
            contract: #contract,
        };

        #[doc = #title_doc]
        ///
        /// Every method runs through acl's resilience pipeline: an outbound rate limit,
        /// a circuit breaker, retries (only where repeating is safe) within a retry budget,
        /// a per-attempt timeout and an overall deadline, metrics and tracing. Build one
        /// with [`Client::builder`] to change policies, credentials or the transport.
        ///
        /// Each method returns a [`__c::Call`]: `.await` it for the typed result, or
        /// `.with_meta().await` for the status, headers, attempts and elapsed time too.
        /// Cloning is cheap and clones share the breaker, limiter and retry budget.
        #[derive(Debug, Clone)]
        pub struct Client {
            core: __c::Core,
        }

        impl __c::FromCore for Client {
            const API: &'static __c::ApiSpec = &API;
            fn from_core(core: __c::Core) -> Self {
                Self { core }
            }
        }

        impl Client {
            /// A builder: base URL, transport, policies, credentials.
            pub fn builder() -> __c::ClientBuilder<Self> {
                __c::ClientBuilder::new()
            }

            /// A client for `base_url` with acl's default policies and transport.
            pub fn new(base_url: impl Into<::std::string::String>) -> ::std::result::Result<Self, __c::BuildError> {
                Self::builder().base_url(base_url).build()
            }

            /// What the calls share (the system's breaker, the base URL).
            pub fn core(&self) -> &__c::Core {
                &self.core
            }

            /// A client whose calls apply `options` (a timeout, headers, an idempotency
            /// key, no retries, a page limit), sharing this one's breaker, limiter and
            /// retry budget.
            pub fn with_options(&self, options: __c::CallOptions) -> Self {
                Self { core: self.core.with_options(options) }
            }

            #(#methods)*
        }

        #(#items)*
    };
    super::format_file(tokens).map_err(|e| e.to_string())
}

fn security_tokens(reqs: &[SecurityRequirement]) -> TokenStream {
    let alts = reqs.iter().map(|req| {
        let names = req.keys();
        quote!(&[#(#names),*])
    });
    quote!(&[#(#alts),*])
}

/// Names taken in the client module (items) and on `Client` (methods).
struct Names {
    items: BTreeSet<String>,
    methods: BTreeSet<String>,
}

impl Default for Names {
    fn default() -> Self {
        Self {
            items: ["API", "Client"].map(String::from).into(),
            methods: ["builder", "new", "core", "with_options"]
                .map(String::from)
                .into(),
        }
    }
}

fn unique(taken: &mut BTreeSet<String>, mut name: String) -> Ident {
    while !taken.insert(name.clone()) {
        name.push('_');
    }
    ident(&name)
}

/// The operation's spec, its method, and its own items (response enum, options, body).
/// One operation: its `OperationSpec`, its method, and the items the method names
/// (response, error, options and body types). Each step below is one part of the
/// method: what it returns, its parameters, its body, what it accepts.
fn operation(
    op: &Operation,
    index: usize,
    names: &mut Names,
) -> (TokenStream, Vec<TokenStream>, Vec<TokenStream>) {
    let all_name = op
        .pagination
        .as_ref()
        .map(|_| unique(&mut names.methods, format!("{}_all", op.name)));
    let base = camel(&op.name, "Operation");
    let mut items = Vec::new();
    let returns = returns(op, &base, names, &mut items);
    let mut params = parameters(op, &base, names, &mut items);
    let body_call = body(op, &base, names, &mut items, &mut params.args);
    let accept = accept(op);
    let Returns {
        response,
        error,
        documented,
        streaming,
        typed_events,
        untyped,
    } = returns;
    let Parameters {
        args,
        calls,
        docs: arg_docs,
    } = params;

    let method_text = op.method.key().to_ascii_uppercase();
    let name = unique(&mut names.methods, op.name.clone());
    let mut extra = vec![format!("`{} {}`", method_text, op.path)];
    if !arg_docs.is_empty() {
        extra.push(arg_docs.join("\n"));
    }
    if let Some(header) = &op.idempotency_header {
        extra.push(format!(
            "Sends a fresh `{header}` per call (the same on every retry) unless the options give one."
        ));
    }
    if untyped {
        extra.push("The contract documents no success response: any status below 400 is returned untyped (status, headers, and the body as JSON or bytes).".into());
    }
    if streaming && typed_events {
        extra.push("The body streams: the call returns once the head has arrived; `next()` gives each server-sent event decoded.".into());
    } else if streaming {
        extra.push("The body streams: the call returns once the head has arrived.".into());
    }
    let docs = doc_attrs(&op.docs, &extra);
    let send = if streaming && typed_events {
        quote!(r.send_events(#documented, #error::decode))
    } else if streaming {
        quote!(r.send_stream(#documented, #error::decode))
    } else {
        quote!(r.send(#response::decode, #error::decode))
    };
    // Not an `async fn`: the arguments are read into the request before the call's
    // future exists, so it borrows only the client, and the crate type-checks no state
    // machine per operation (a third of a large client's `cargo check`).
    let request = quote! {
        let r = self.core.request(#index) #(#calls)* #accept;
        #body_call
    };
    let mut methods = vec![quote! {
        #docs
        pub fn #name<'__a>(&'__a self, #(#args),*) -> __c::Call<'__a, #response, #error> {
            #request
            #send
        }
    }];
    if let (Some(all), Some(p), false) = (all_name, &op.pagination, streaming || untyped) {
        let item = ty(&p.item);
        let doc = format!(
            " Every item of [`Client::{name}`] across pages, as a stream: {}. Each page \
             goes through the pipeline; `.pages()` streams whole pages (with metadata and a \
             cursor to resume from).",
            p.source
        );
        methods.push(quote! {
            #[doc = #doc]
            pub fn #all<'__a>(&'__a self, #(#args),*) -> __c::Paginated<'__a, #item, #error> {
                #request
                r.paginate(#response::decode, #error::decode)
            }
        });
    }
    (operation_spec(op), methods, items)
}

/// The operation as static data for the runtime (`__c::OperationSpec`).
fn operation_spec(op: &Operation) -> TokenStream {
    let id = &op.id;
    let method_text = op.method.key().to_ascii_uppercase();
    let path = &op.path;
    let policy = op
        .policy
        .as_ref()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let key_header = match &op.idempotency_header {
        Some(h) => quote!(Some(#h)),
        None => quote!(None),
    };
    let security = match &op.security {
        Some(s) => {
            let s = security_tokens(s);
            quote!(Some(#s))
        }
        None => quote!(None),
    };
    let headers = op
        .parameters
        .iter()
        .filter(|p| p.location == ParamLocation::Header)
        .map(|p| &p.name);
    let pagination = match &op.pagination {
        Some(p) => {
            let items = &p.items;
            let opt = |v: &Option<String>| match v {
                Some(v) => quote!(Some(#v)),
                None => quote!(None),
            };
            let next = match &p.next {
                NextPage::Cursor {
                    param,
                    next,
                    has_more,
                } => {
                    let has_more = opt(has_more);
                    quote!(Cursor { param: #param, next: #next, has_more: #has_more })
                }
                NextPage::LastItem {
                    param,
                    field,
                    has_more,
                } => {
                    let has_more = opt(has_more);
                    quote!(LastItem { param: #param, field: #field, has_more: #has_more })
                }
                NextPage::Offset {
                    param,
                    limit,
                    total,
                } => {
                    let (limit, total) = (opt(limit), opt(total));
                    quote!(Offset { param: #param, limit: #limit, total: #total })
                }
                NextPage::Page {
                    param,
                    first,
                    size,
                    total_pages,
                } => {
                    let (size, total_pages) = (opt(size), opt(total_pages));
                    quote!(Page { param: #param, first: #first, size: #size, total_pages: #total_pages })
                }
                NextPage::NextUrl { next } => quote!(NextUrl { next: #next }),
                NextPage::LinkHeader => quote!(LinkHeader),
            };
            quote!(Some(__c::Pagination { items: #items, next: __c::NextPage::#next }))
        }
        None => quote!(None),
    };
    let responses = op.responses.iter().flat_map(|r| {
        let status = r.status.text();
        let at = |o: &Option<crate::ir::Origin>| {
            o.as_ref().map(crate::ir::Origin::schema_uri).unwrap_or_default()
        };
        let headers = r.headers.iter().map(|h| {
            let (name, schema, required) = (&h.name, at(&h.schema_at), h.required);
            quote!((#name, #schema, #required))
        });
        let headers = quote!(&[#(#headers),*]);
        let bodies: Vec<TokenStream> = if r.contents.is_empty() {
            vec![quote!(__c::ResponseSpec { status: #status, media: "", schema: "", headers: #headers })]
        } else {
            r.contents
                .iter()
                .map(|c| {
                    let media = &c.media_type;
                    let schema = at(&c.schema_at);
                    quote!(__c::ResponseSpec { status: #status, media: #media, schema: #schema, headers: #headers })
                })
                .collect()
        };
        bodies
    });
    let parameters = op.parameters.iter().map(|p| {
        let (location, name, required, explode) =
            (p.location.word(), &p.name, p.required, p.explode);
        let schema = p
            .schema_at
            .as_ref()
            .map(crate::ir::Origin::schema_uri)
            .unwrap_or_default();
        quote!(__c::ParamSpec { location: #location, name: #name, required: #required, schema: #schema, explode: #explode })
    });
    let (body_required, bodies) = match &op.request_body {
        Some(b) => (
            b.required,
            b.contents
                .iter()
                .map(|c| {
                    let media = &c.media_type;
                    let schema = c
                        .schema_at
                        .as_ref()
                        .map(crate::ir::Origin::schema_uri)
                        .unwrap_or_default();
                    quote!((#media, #schema))
                })
                .collect(),
        ),
        None => (false, Vec::new()),
    };
    quote! {
        __c::OperationSpec {
            id: #id,
            method: #method_text,
            path: #path,
            policy: #policy,
            idempotency_header: #key_header,
            security: #security,
            headers: &[#(#headers),*],
            pagination: #pagination,
            responses: &[#(#responses),*],
            parameters: &[#(#parameters),*],
            body: (#body_required, &[#(#bodies),*]),
        }
    }
}

/// What a method returns.
struct Returns {
    /// The `Ok` type: the response enum, or a stream.
    response: TokenStream,
    /// The type of `Error::Status`'s body: the error enum or `NoDocumentedErrors`.
    error: TokenStream,
    /// For a stream: which statuses are documented successes.
    documented: TokenStream,
    /// The success body streams: the method returns once the head has arrived.
    streaming: bool,
    /// ... as server-sent events decoded into a type.
    typed_events: bool,
    /// The contract documents no success: any is `UndocumentedSuccess`.
    untyped: bool,
}

/// The response and error types of `op` (`ir::response_role` splits its responses),
/// pushing the enums it needs onto `items`.
fn returns(op: &Operation, base: &str, names: &mut Names, items: &mut Vec<TokenStream>) -> Returns {
    let (ok_side, err_side): (Vec<&Response>, Vec<&Response>) =
        op.responses.iter().partition(|r| {
            crate::ir::response_role(&op.responses, r) == crate::ir::ResponseRole::Success
        });
    // A success body in a streaming media type (bytes, server-sent events) streams:
    // the method returns as soon as the head has arrived.
    let streams = |r: &&Response| {
        r.contents.iter().any(|c| {
            let base = c.media_type.to_ascii_lowercase();
            media_kind(c) == Media::Binary || base.starts_with("text/event-stream")
        }) && !r.contents.iter().any(|c| media_kind(c) == Media::Json)
    };
    let streaming =
        ok_side.iter().any(streams) && ok_side.iter().all(|r| r.contents.is_empty() || streams(r));
    // Server-sent events whose schema is a type: each event decoded as that type (only
    // when every success is an event stream: `audio/mpeg` or SSE is the caller's pick).
    let is_sse = |c: &Content| {
        c.media_type
            .to_ascii_lowercase()
            .starts_with("text/event-stream")
    };
    let only_sse = ok_side.iter().all(|r| r.contents.iter().all(is_sse));
    let typed_events = ok_side.iter().filter(|_| only_sse).find_map(|r| {
        r.contents.iter().find_map(|c| match &c.ty {
            Some(t) if is_sse(c) && !matches!(t, TypeRef::Primitive(Primitive::String)) => {
                Some(ty(t))
            }
            _ => None,
        })
    });
    let response = if ok_side.is_empty() {
        // Nothing documented: any success, untyped.
        quote!(__c::UndocumentedSuccess)
    } else if let (true, Some(t)) = (streaming, &typed_events) {
        quote!(__c::EventStream<#t>)
    } else if streaming {
        quote!(__c::StreamResponse)
    } else {
        let name = unique(&mut names.items, format!("{base}Response"));
        items.push(response_enum(op, &ok_side, base, &name, "responses", names));
        quote!(#name)
    };
    let documented = {
        let patterns = ok_side.iter().map(|r| match &r.status {
            Status::Code(c) => quote!(#c),
            Status::Range(d) => {
                let lo = *d as u16 * 100;
                let hi = lo + 99;
                quote!(#lo..=#hi)
            }
            Status::Default => quote!(_),
        });
        quote!(|status| matches!(status, #(#patterns)|*))
    };
    let error = if err_side.is_empty() {
        quote!(__c::NoDocumentedErrors)
    } else {
        let name = unique(&mut names.items, format!("{base}Error"));
        items.push(response_enum(
            op,
            &err_side,
            base,
            &name,
            "error responses",
            names,
        ));
        quote!(#name)
    };
    Returns {
        response,
        error,
        documented,
        streaming,
        typed_events: typed_events.is_some(),
        untyped: ok_side.is_empty(),
    }
}

/// A method's parameters: its arguments, the request calls that fill them in, and
/// their docs.
struct Parameters {
    args: Vec<TokenStream>,
    calls: Vec<TokenStream>,
    docs: Vec<String>,
}

/// Required parameters as arguments in order, the others in an `…Options` struct
/// (pushed onto `items`); the idempotency-key header is always optional (the client
/// makes one per call).
fn parameters(
    op: &Operation,
    base: &str,
    names: &mut Names,
    items: &mut Vec<TokenStream>,
) -> Parameters {
    let is_key = |p: &Parameter| {
        p.location == ParamLocation::Header
            && op
                .idempotency_header
                .as_deref()
                .is_some_and(|h| h.eq_ignore_ascii_case(&p.name))
    };
    let reserved: BTreeSet<&str> = ["body", "options", "self"].into();
    let arg_name = |p: &Parameter| {
        if reserved.contains(p.rust_name.as_str()) {
            format_ident!("{}_param", p.rust_name)
        } else {
            ident(&p.rust_name)
        }
    };
    let mut out = Parameters {
        args: Vec::new(),
        calls: Vec::new(),
        docs: Vec::new(),
    };
    let mut option_fields = Vec::new();
    for p in &op.parameters {
        let name = &p.name;
        let style = &p.style;
        let explode = p.explode;
        let positional = p.required && !is_key(p);
        let value = if positional {
            let a = arg_name(p);
            let t = arg_ty(&p.ty);
            out.args.push(quote!(#a: #t));
            out.docs.push(format!(
                "- `{}`: {} parameter `{}`{}",
                a,
                p.location.word(),
                p.name,
                p.docs
                    .description
                    .as_deref()
                    .or(p.docs.title.as_deref())
                    .map(|d| format!(": {}", first_line(d)))
                    .unwrap_or_default()
            ));
            quote!(&#a)
        } else {
            let f = ident(&p.rust_name);
            let t = ty(&p.ty);
            let docs = doc_attrs(
                &p.docs,
                &[format!("The {} parameter `{}`.", p.location.word(), p.name)],
            );
            option_fields.push(quote! {
                #docs
                pub #f: ::std::option::Option<#t>,
            });
            quote!(&options.#f)
        };
        out.calls.push(match p.location {
            ParamLocation::Path => quote!(.path(#name, #value, #style, #explode)),
            ParamLocation::Query => quote!(.query(#name, #value, #style, #explode)),
            ParamLocation::Header => quote!(.header(#name, #value, #explode)),
            ParamLocation::Cookie => quote!(.cookie(#name, #value, #explode)),
        });
    }
    if !option_fields.is_empty() {
        let options = unique(&mut names.items, format!("{base}Options"));
        let doc = format!(" Optional parameters of `{}`.", op.id);
        items.push(quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, Default)]
            pub struct #options {
                #(#option_fields)*
            }
        });
        out.args.push(quote!(options: &#options));
    }
    out
}

/// The request body: its argument (pushed onto `args`; a `…Body` enum onto `items` when
/// several media types are accepted) and the statement that attaches it.
fn body(
    op: &Operation,
    base: &str,
    names: &mut Names,
    items: &mut Vec<TokenStream>,
    args: &mut Vec<TokenStream>,
) -> TokenStream {
    let Some(rb) = &op.request_body else {
        return TokenStream::new();
    };
    let contents: Vec<(&Content, Media)> = rb.contents.iter().map(|c| (c, media_kind(c))).collect();
    if contents.len() == 1 {
        let (c, m) = contents[0];
        let (t, send) = body_parts(c, m, quote!(b));
        return if rb.required {
            args.push(quote!(body: #t));
            quote!(let r = { let b = body; r #send };)
        } else {
            args.push(quote!(body: ::std::option::Option<#t>));
            quote!(let r = match body { Some(b) => r #send, None => r };)
        };
    }
    if contents.is_empty() {
        return TokenStream::new();
    }
    let body_enum = unique(&mut names.items, format!("{base}Body"));
    let mut variants = Vec::new();
    let mut arms = Vec::new();
    let mut used = BTreeSet::new();
    for (c, m) in &contents {
        // By kind (`Json`, `Form`, ...) when that is unambiguous, else by media type.
        let kind = match m {
            Media::Json => "Json",
            Media::Form => "Form",
            Media::Multipart => "Multipart",
            Media::Text => "Text",
            Media::Binary => "Binary",
        };
        let same_kind = contents.iter().filter(|(_, k)| k == m).count();
        let v = if same_kind == 1 {
            kind.to_string()
        } else {
            camel(&c.media_type, "Other")
        };
        let v = unique(&mut used, v);
        let (t, send) = body_parts(c, *m, quote!(b));
        let t = match m {
            Media::Json | Media::Form => {
                let inner = value_ty(&c.ty);
                quote!(#inner)
            }
            Media::Binary => quote!(__c::Bytes),
            _ => t,
        };
        let send = match m {
            Media::Json | Media::Form => body_parts(c, *m, quote!(&b)).1,
            _ => send,
        };
        let doc = format!(" `{}`", c.media_type);
        variants.push(quote!(#[doc = #doc] #v(#t),));
        arms.push(quote!(#body_enum::#v(b) => r #send,));
    }
    let doc = format!(
        " The body of `{}`, in one of the media types it accepts.",
        op.id
    );
    items.push(quote! {
        #[doc = #doc]
        #[derive(Debug, Clone)]
        pub enum #body_enum {
            #(#variants)*
        }
    });
    if rb.required {
        args.push(quote!(body: #body_enum));
        quote!(let r = match body { #(#arms)* };)
    } else {
        args.push(quote!(body: ::std::option::Option<#body_enum>));
        quote!(let r = match body { Some(b) => match b { #(#arms)* }, None => r };)
    }
}

/// The `Accept` the request sends: the first JSON media type among the responses.
fn accept(op: &Operation) -> TokenStream {
    op.responses
        .iter()
        .filter_map(response_content)
        .find(|(_, m)| *m == Media::Json)
        .map(|(c, _)| {
            let m = c
                .media_type
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            let m = if m.contains('*') {
                "application/json".to_string()
            } else {
                m
            };
            quote!(.accept(#m))
        })
        .unwrap_or_default()
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().replace('`', "'")
}

/// The argument type of a body in one media type, and the request call that sends
/// `b` (an expression of that type).
fn body_parts(c: &Content, m: Media, b: TokenStream) -> (TokenStream, TokenStream) {
    let media = &c.media_type;
    match m {
        Media::Json => {
            let t = value_ty(&c.ty);
            let send = if media == "application/json" {
                quote!(.json(#b))
            } else {
                quote!(.json_as(#b, #media))
            };
            (quote!(&#t), send)
        }
        Media::Form => {
            let t = value_ty(&c.ty);
            (quote!(&#t), quote!(.form(#b)))
        }
        Media::Multipart => (quote!(__c::Multipart), quote!(.multipart(#b))),
        Media::Text => (quote!(::std::string::String), quote!(.raw(#b, #media))),
        Media::Binary => {
            let media = if media.contains('*') {
                "application/octet-stream"
            } else {
                media.as_str()
            };
            (quote!(__c::Bytes), quote!(.raw(#b, #media)))
        }
    }
}

/// The response enum of `op`, with `decode`.
fn response_enum(
    op: &Operation,
    responses: &[&Response],
    base: &str,
    name: &Ident,
    what: &str,
    names: &mut Names,
) -> TokenStream {
    let mut variants = Vec::new();
    let mut arms = Vec::new();
    let mut extra_items = Vec::new();
    let mut used = BTreeSet::new();
    let mut ordered: Vec<&Response> = responses.to_vec();
    // Exact codes first, then ranges, then `default`.
    ordered.sort_by_key(|r| match r.status {
        Status::Code(_) => 0,
        Status::Range(_) => 1,
        Status::Default => 2,
    });
    for r in ordered {
        let mut vname = variant_name(&r.status);
        while !used.insert(vname.clone()) {
            vname.push('_');
        }
        let v = ident(&vname);
        let content = response_content(r);
        let (body_ty, read) = match content {
            Some((c, Media::Json)) => (Some(value_ty(&c.ty)), quote!(__c::json(r)?)),
            Some((_, Media::Text)) => (Some(quote!(::std::string::String)), quote!(__c::text(r)?)),
            Some(_) => (Some(quote!(__c::Bytes)), quote!(__c::bytes(r)?)),
            None => (None, TokenStream::new()),
        };
        let headers = if r.headers.is_empty() {
            None
        } else {
            let hname = unique(&mut names.items, format!("{base}{vname}Headers"));
            let mut fields = Vec::new();
            let mut reads = Vec::new();
            let mut seen = BTreeSet::new();
            for h in &r.headers {
                let mut f = snake(&h.name, "header");
                while !seen.insert(f.clone()) {
                    f.push('_');
                }
                let f = ident(&f);
                let t = ty(&h.ty);
                let hn = h.name.to_ascii_lowercase();
                let docs = doc_attrs(&h.docs, &[format!("The `{}` header.", h.name)]);
                if h.required {
                    fields.push(quote!(#docs pub #f: #t,));
                    reads.push(quote!(#f: __c::required_header(r, #hn)?,));
                } else {
                    fields.push(quote!(#docs pub #f: ::std::option::Option<#t>,));
                    reads.push(quote!(#f: __c::header(r, #hn)?,));
                }
            }
            let doc = format!(" Headers of the `{vname}` response of `{}`.", op.id);
            extra_items.push(quote! {
                #[doc = #doc]
                #[derive(Debug, Clone)]
                pub struct #hname {
                    #(#fields)*
                }
            });
            Some((hname, reads))
        };
        let desc = r
            .description
            .as_deref()
            .map(super::docs::sanitize)
            .unwrap_or_default();
        let status_line = match &r.status {
            Status::Code(c) => format!("Status {c}."),
            Status::Range(d) => format!("A status {d}XX."),
            Status::Default => "Any status the contract lists no other response for.".into(),
        };
        let docs = doc_attrs(
            &Docs {
                description: (!desc.is_empty()).then_some(desc),
                ..Docs::default()
            },
            &[status_line],
        );
        let with_status = !matches!(r.status, Status::Code(_));
        // `202 Accepted`: the job to await (async request-reply).
        let accepted = matches!(r.status, Status::Code(202));
        // Simple variants decode in one expression; the others in a closure, for `?`.
        let (variant, arm) = if !with_status && headers.is_none() && !accepted {
            let read_fn = match content {
                Some((_, Media::Json)) => quote!(__c::json),
                Some((_, Media::Text)) => quote!(__c::text),
                _ => quote!(__c::bytes),
            };
            match &body_ty {
                Some(t) => (quote!(#docs #v(#t),), quote!(#read_fn(r).map(Self::#v))),
                None => (quote!(#docs #v,), quote!(Ok(Self::#v))),
            }
        } else {
            let mut fields = Vec::new();
            let mut inits = Vec::new();
            if with_status {
                fields.push(quote!(
                    /// The status received.
                    status: u16,
                ));
                inits.push(quote!(status: r.status,));
            }
            if let Some(t) = &body_ty {
                fields.push(quote!(
                    /// The body.
                    body: #t,
                ));
                inits.push(quote!(body: #read,));
            }
            if let Some((hname, reads)) = &headers {
                fields.push(quote!(
                    /// The declared headers.
                    headers: #hname,
                ));
                inits.push(quote!(headers: #hname { #(#reads)* },));
            }
            if accepted {
                fields.push(quote!(
                    /// The accepted job (its status URL from `Location`, and `Retry-After`):
                    /// await it with `acl_runtime::patterns::async_reply::JobWaiter`.
                    job: ::std::option::Option<::acl_runtime::__private::Job>,
                ));
                inits.push(quote!(job: __c::job(r),));
            }
            (
                quote!(#docs #v { #(#fields)* },),
                quote!((|| -> ::std::result::Result<Self, __c::BoundaryError> {
                    Ok(Self::#v { #(#inits)* })
                })()),
            )
        };
        variants.push(variant);
        let pattern = match &r.status {
            Status::Code(c) => quote!(#c),
            Status::Range(d) => {
                let lo = *d as u16 * 100;
                let hi = lo + 99;
                quote!(#lo..=#hi)
            }
            Status::Default => quote!(_),
        };
        arms.push(quote!(#pattern => #arm,));
    }
    if !responses.iter().any(|r| r.status == Status::Default) {
        arms.push(quote!(_ => return __c::Decoded::Undocumented,));
    }
    let doc = format!(
        " The {what} of `{}`, one variant per documented status.",
        op.id
    );
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone)]
        pub enum #name {
            #(#variants)*
        }

        impl #name {
            /// Reads a response against the contract.
            pub fn decode(r: &__c::RawResponse) -> __c::Decoded<Self> {
                let result = match r.status {
                    #(#arms)*
                };
                result.into()
            }
        }

        #(#extra_items)*
    }
}
