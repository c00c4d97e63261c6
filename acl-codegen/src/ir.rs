//! The intermediate representation: what a contract means, as pure data.
//!
//! Loaders produce it, emitters consume it. Nothing here knows about tokens or the raw
//! document; names are already resolved to unique Rust identifiers so every emitter
//! agrees on them. Ordered maps keep the output byte-for-byte stable.

use std::collections::BTreeMap;

use serde_json::Value;

/// Which kind of contract the IR was read from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum ContractKind {
    /// OpenAPI 3.0.x.
    OpenApi30(String),
    /// OpenAPI 3.1.x (and later 3.x, read as 3.1).
    OpenApi31(String),
    /// Swagger 2.0.
    Swagger2,
    /// A standalone JSON Schema document with its dialect (`draft7`, `2020-12`, ...).
    JsonSchema(String),
}

impl ContractKind {
    /// The JSON Schema dialect of the contract's schemas (for raw validation).
    pub fn dialect(&self) -> &str {
        match self {
            ContractKind::OpenApi30(_) | ContractKind::Swagger2 => "draft4",
            ContractKind::OpenApi31(_) => "2020-12",
            ContractKind::JsonSchema(d) => d,
        }
    }
}

/// Where something comes from in the contract.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct Origin {
    /// Index of the document (0 is the root file).
    pub doc: usize,
    /// JSON pointer inside it.
    pub pointer: String,
}

impl Origin {
    /// Where this is in the embedded contract (`Contract::documents`): the document's
    /// URI, `#`, and the pointer as a URI fragment (what RFC 3986 does not allow there
    /// percent-encoded: `{petId}` → `%7BpetId%7D`).
    pub fn schema_uri(&self) -> String {
        let mut out = crate::emit::types::document_uri(self.doc);
        out.push('#');
        for b in self.pointer.bytes() {
            let ok = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&b);
            if ok {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }
}

/// Documentation taken from the contract.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Docs {
    /// `title` or `summary`.
    pub title: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `deprecated: true`.
    pub deprecated: bool,
    /// An example value, when the contract gives one.
    pub example: Option<Value>,
}

/// A whole contract.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Api {
    /// `info.title` (or the schema's title / file name).
    pub title: String,
    /// `info.version`.
    pub version: String,
    /// `info.description`.
    pub description: Option<String>,
    /// Which kind of contract.
    pub kind: Option<ContractKind>,
    /// Base URLs.
    pub servers: Vec<Server>,
    /// Every named type, by its Rust name.
    pub types: BTreeMap<String, TypeDef>,
    /// The type of the whole document, for a standalone JSON Schema.
    pub root: Option<TypeRef>,
    /// Operations in contract order (paths, then methods in a fixed order).
    pub operations: Vec<Operation>,
    /// `components.securitySchemes` / `securityDefinitions`, by name.
    pub security_schemes: BTreeMap<String, SecurityScheme>,
    /// Security requirements that apply to every operation unless it says otherwise.
    pub security: Vec<SecurityRequirement>,
    /// OpenAPI 3.1 `webhooks`: requests the vendor sends to us.
    pub webhooks: Vec<Operation>,
    /// Vendor extensions on the document (`x-acl-*`), for policies.
    pub extensions: BTreeMap<String, Value>,
    /// Where each event (webhook, callback) carries its name in its body: a JSON pointer
    /// (`x-acl-event-name: /type`).
    pub event_name: Option<String>,
    /// The document's policy settings, checked (`{"system": .., "operation": ..}`).
    pub policy: Option<Value>,
}

/// A server URL with its variables.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Server {
    /// The URL template (`https://{region}.api.example.com/v1`).
    pub url: String,
    /// `description`.
    pub description: Option<String>,
    /// Variables with their defaults and allowed values.
    pub variables: BTreeMap<String, ServerVariable>,
}

/// One server variable.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ServerVariable {
    /// The default value.
    pub default: String,
    /// The allowed values, if restricted.
    pub allowed: Vec<String>,
}

/// A named type.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TypeDef {
    /// The Rust name (unique, UpperCamelCase).
    pub name: String,
    /// The name in the contract, when it has one (`components/schemas/<name>`).
    pub contract_name: Option<String>,
    /// Where its schema is.
    pub origin: Origin,
    /// Its documentation.
    pub docs: Docs,
    /// What the generated type does not say or enforce about the schema, and why
    /// (from the diagnostics at this schema).
    pub notes: Vec<String>,
    /// What it is.
    pub kind: TypeKind,
}

/// The shape of a named type.
#[allow(clippy::large_enum_variant)] // built once per type; boxing would only add noise
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum TypeKind {
    /// An object with known properties.
    Struct(StructDef),
    /// A closed set of strings or integers.
    Enum(EnumDef),
    /// One of several shapes.
    Union(UnionDef),
    /// A value with constraints: a validated newtype.
    Constrained {
        /// The underlying type.
        inner: TypeRef,
        /// The rules.
        constraints: Constraints,
    },
    /// Another name for a type (a `$ref` to a primitive, a list, a map).
    Alias(TypeRef),
}

/// A struct.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StructDef {
    /// Fields in contract order.
    pub fields: Vec<Field>,
    /// What happens to properties the contract does not list.
    pub additional: Additional,
}

/// Properties beyond the listed ones.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum Additional {
    /// Allowed and ignored (the JSON Schema default).
    Ignore,
    /// Refused (`additionalProperties: false`).
    Deny,
    /// Kept, each of this type (`additionalProperties: {schema}`).
    Typed(TypeRef),
}

/// One property of a struct.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Field {
    /// The Rust field name (unique within the struct, snake_case, not a keyword).
    pub name: String,
    /// The property name on the wire.
    pub wire_name: String,
    /// Its type (without the `Option` that `required`/`nullable` add).
    pub ty: TypeRef,
    /// Listed in `required`.
    pub required: bool,
    /// `null` is allowed.
    pub nullable: bool,
    /// The default the contract gives, when it can be applied.
    pub default: Option<Value>,
    /// Documentation.
    pub docs: Docs,
    /// `readOnly`.
    pub read_only: bool,
    /// `writeOnly`.
    pub write_only: bool,
}

/// A closed set of values.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EnumDef {
    /// Strings or integers.
    pub repr: EnumRepr,
    /// The values, in contract order.
    pub variants: Vec<EnumVariant>,
    /// Values the contract does not list are kept in a fallback variant instead of
    /// being refused (external systems add values without notice).
    pub open: bool,
}

/// What an enum's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum EnumRepr {
    /// Strings.
    String,
    /// Integers.
    Integer,
}

/// One value of an enum.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EnumVariant {
    /// The Rust variant name (unique, UpperCamelCase).
    pub name: String,
    /// The value on the wire.
    pub value: Value,
}

/// A union of shapes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UnionDef {
    /// `oneOf` (exactly one) or `anyOf` (at least one; the first is taken).
    pub exclusive: bool,
    /// When a property names the branch.
    pub discriminator: Option<String>,
    /// The branches.
    pub variants: Vec<UnionVariant>,
}

/// One branch of a union.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UnionVariant {
    /// The Rust variant name.
    pub name: String,
    /// The discriminator values that select it (empty without a discriminator).
    pub tags: Vec<String>,
    /// Its type.
    pub ty: TypeRef,
}

/// A reference to a type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum TypeRef {
    /// A named type, by Rust name.
    Named(String),
    /// A primitive.
    Primitive(Primitive),
    /// `type: array`.
    List(Box<TypeRef>),
    /// An object of arbitrary keys with values of one type.
    Map(Box<TypeRef>),
    /// A value that may be `null`.
    Nullable(Box<TypeRef>),
    /// A fixed-length array (`prefixItems` with `items: false`).
    Tuple(Vec<TypeRef>),
}

/// Primitive types, with the formats the contract gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Primitive {
    /// Any string.
    String,
    /// `format: date-time` (RFC 3339).
    DateTime,
    /// `format: date`.
    Date,
    /// `format: uuid`.
    Uuid,
    /// `format: uri` / `url`.
    Uri,
    /// `format: ipv4`.
    Ipv4,
    /// `format: ipv6`.
    Ipv6,
    /// `format: byte` (base64).
    Bytes,
    /// Integers by width.
    I8,
    /// i16.
    I16,
    /// i32.
    I32,
    /// i64 (the default for `integer`).
    I64,
    /// u8.
    U8,
    /// u16.
    U16,
    /// u32.
    U32,
    /// u64.
    U64,
    /// `format: float`.
    F32,
    /// `number` (default) / `format: double`.
    F64,
    /// `boolean`.
    Bool,
    /// `type: null`.
    Null,
    /// Any JSON value (`{}`, `true`, or what could not be represented).
    Any,
    /// Any JSON object.
    Object,
    /// Nothing (`false`).
    Never,
}

/// A number in a constraint.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum Number {
    /// Exact integer.
    Int(i128),
    /// Other.
    Float(f64),
}

/// The rules of a constrained type (see `acl_runtime::Constraints`).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Constraints {
    /// minLength.
    pub min_length: Option<u64>,
    /// maxLength.
    pub max_length: Option<u64>,
    /// pattern.
    pub pattern: Option<String>,
    /// format (for formats kept as strings).
    pub format: Option<String>,
    /// minimum.
    pub minimum: Option<Number>,
    /// maximum.
    pub maximum: Option<Number>,
    /// exclusiveMinimum.
    pub exclusive_minimum: Option<Number>,
    /// exclusiveMaximum.
    pub exclusive_maximum: Option<Number>,
    /// multipleOf.
    pub multiple_of: Option<Number>,
    /// minItems.
    pub min_items: Option<u64>,
    /// maxItems.
    pub max_items: Option<u64>,
    /// uniqueItems.
    pub unique_items: bool,
    /// minProperties.
    pub min_properties: Option<u64>,
    /// maxProperties.
    pub max_properties: Option<u64>,
    /// enum (values that are not all strings or all integers).
    pub enum_values: Option<Vec<Value>>,
    /// const.
    pub const_value: Option<Value>,
}

impl Constraints {
    /// True when there is nothing to check.
    pub fn is_empty(&self) -> bool {
        *self == Constraints::default()
    }
}

/// HTTP methods, in the order operations are listed for one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Method {
    /// GET.
    Get,
    /// PUT.
    Put,
    /// POST.
    Post,
    /// DELETE.
    Delete,
    /// OPTIONS.
    Options,
    /// HEAD.
    Head,
    /// PATCH.
    Patch,
    /// TRACE.
    Trace,
}

impl Method {
    /// All methods, in path-item order.
    pub const ALL: [Method; 8] = [
        Method::Get,
        Method::Put,
        Method::Post,
        Method::Delete,
        Method::Options,
        Method::Head,
        Method::Patch,
        Method::Trace,
    ];

    /// The lowercase key in a path item.
    pub fn key(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Put => "put",
            Method::Post => "post",
            Method::Delete => "delete",
            Method::Options => "options",
            Method::Head => "head",
            Method::Patch => "patch",
            Method::Trace => "trace",
        }
    }

    /// Safe to repeat (RFC 9110): GET, HEAD, PUT, DELETE, OPTIONS, TRACE.
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Method::Post | Method::Patch)
    }
}

/// One operation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Operation {
    /// `operationId`, or one derived from method and path.
    pub id: String,
    /// The Rust method name (snake_case, unique).
    pub name: String,
    /// Whether `id` came from the contract.
    pub has_operation_id: bool,
    /// The HTTP method.
    pub method: Method,
    /// The path template (`/pets/{petId}`), or the webhook name.
    pub path: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Documentation (summary as title).
    pub docs: Docs,
    /// Parameters (path-level ones merged in).
    pub parameters: Vec<Parameter>,
    /// The request body.
    pub request_body: Option<RequestBody>,
    /// Responses by status.
    pub responses: Vec<Response>,
    /// Security requirements (`None`: the document's apply).
    pub security: Option<Vec<SecurityRequirement>>,
    /// Vendor extensions on the operation (`x-acl-*`).
    pub extensions: BTreeMap<String, Value>,
    /// The operation's own policy settings, checked (`OperationConfig` JSON).
    pub policy: Option<Value>,
    /// The header that carries an idempotency key per logical call.
    pub idempotency_header: Option<String>,
    /// Callbacks: requests the vendor sends back, by name.
    pub callbacks: Vec<(String, Vec<Operation>)>,
    /// How its results are paged, when acl recognises it (`lower::pagination`).
    pub pagination: Option<Pagination>,
    /// Where it is in the contract.
    pub origin: Origin,
}

/// How an operation's results are paged: the runtime's `acl_runtime::client::Pagination`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Pagination {
    /// Where a page's items are in its body (a JSON pointer; empty: the body is the array).
    pub items: String,
    /// The type of one item.
    pub item: TypeRef,
    /// How the next page is asked for.
    pub next: NextPage,
    /// What it was recognised from, for `check`'s note.
    pub source: String,
}

/// How the next page is asked for (pointers are JSON pointers into a page's body).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum NextPage {
    /// A token at `next`, sent back in the query parameter `param`.
    Cursor {
        /// The query parameter.
        param: String,
        /// The token's pointer.
        next: String,
        /// A boolean's pointer saying whether more follow.
        has_more: Option<String>,
    },
    /// The last item's `field` (a pointer into the item), sent in `param`.
    LastItem {
        /// The query parameter.
        param: String,
        /// The item's field.
        field: String,
        /// A boolean's pointer saying whether more follow.
        has_more: Option<String>,
    },
    /// An offset in `param`.
    Offset {
        /// The offset parameter.
        param: String,
        /// The page-size parameter.
        limit: Option<String>,
        /// The total count's pointer.
        total: Option<String>,
    },
    /// A page number in `param`, from `first`.
    Page {
        /// The page parameter.
        param: String,
        /// The first page's number.
        first: u64,
        /// The page-size parameter.
        size: Option<String>,
        /// The page count's pointer.
        total_pages: Option<String>,
    },
    /// A URL at `next`.
    NextUrl {
        /// The URL's pointer.
        next: String,
    },
    /// The `Link` header's `rel="next"`.
    LinkHeader,
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum ParamLocation {
    /// In the path.
    Path,
    /// In the query string.
    Query,
    /// A header.
    Header,
    /// A cookie.
    Cookie,
}

impl ParamLocation {
    /// As OpenAPI's `in` writes it: `path`, `query`, `header`, `cookie`.
    pub fn word(self) -> &'static str {
        match self {
            ParamLocation::Path => "path",
            ParamLocation::Query => "query",
            ParamLocation::Header => "header",
            ParamLocation::Cookie => "cookie",
        }
    }
}

/// One parameter.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Parameter {
    /// The name on the wire.
    pub name: String,
    /// The Rust name (snake_case, unique within the operation).
    pub rust_name: String,
    /// Where it goes.
    pub location: ParamLocation,
    /// Required (path parameters always are).
    pub required: bool,
    /// Its type.
    pub ty: TypeRef,
    /// `style` (defaults applied: `simple` for path/header, `form` for query/cookie).
    pub style: String,
    /// `explode` (defaults applied).
    pub explode: bool,
    /// Documentation.
    pub docs: Docs,
    /// Where its schema is in the contract (for test doubles that check requests).
    pub schema_at: Option<Origin>,
}

/// A request body.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RequestBody {
    /// Required.
    pub required: bool,
    /// One entry per media type, in contract order.
    pub contents: Vec<Content>,
    /// Documentation.
    pub docs: Docs,
}

/// A body in one media type.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Content {
    /// The media type (`application/json`).
    pub media_type: String,
    /// Its schema's type (`None` when no schema is given).
    pub ty: Option<TypeRef>,
    /// Where its schema is in the contract (for test doubles that answer from it).
    pub schema_at: Option<Origin>,
}

/// Which statuses a response covers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Status {
    /// One code.
    Code(u16),
    /// `2XX` and friends: the first digit.
    Range(u8),
    /// `default`.
    Default,
}

impl Status {
    /// As the contract writes it: `200`, `2XX`, `default`.
    pub fn text(&self) -> String {
        match self {
            Status::Code(c) => c.to_string(),
            Status::Range(d) => format!("{d}XX"),
            Status::Default => "default".to_string(),
        }
    }
}

/// Which side of a call a documented response is on: the one rule, read by the client
/// emitter (`Ok` or `Err`) and by `diff` (what a consumer decodes as success).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseRole {
    /// Decoded into the operation's `…Response` (`Ok`).
    Success,
    /// Decoded into the operation's `…Error` (`Err(Error::Status)`).
    Error,
}

impl Status {
    /// A status below 400 (a code, or a range `1XX`..`3XX`); `default` is not.
    pub fn is_success(&self) -> bool {
        match self {
            Status::Code(c) => *c < 400,
            Status::Range(d) => *d < 4,
            Status::Default => false,
        }
    }
}

/// The role of `response` among an operation's `responses`: statuses below 400 are
/// successes, documented ones from 400 up errors; `default` is an error, unless the
/// operation documents no success at all (then it is the success).
pub fn response_role(responses: &[Response], response: &Response) -> ResponseRole {
    let success = response.status.is_success()
        || (response.status == Status::Default && !responses.iter().any(|r| r.status.is_success()));
    if success {
        ResponseRole::Success
    } else {
        ResponseRole::Error
    }
}

/// One documented response.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Response {
    /// The status.
    pub status: Status,
    /// `description`.
    pub description: Option<String>,
    /// Bodies by media type.
    pub contents: Vec<Content>,
    /// Declared headers.
    pub headers: Vec<ResponseHeader>,
}

/// A declared response header.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResponseHeader {
    /// The header name.
    pub name: String,
    /// Its type.
    pub ty: TypeRef,
    /// Required.
    pub required: bool,
    /// Documentation.
    pub docs: Docs,
    /// Where its schema is in the contract.
    pub schema_at: Option<Origin>,
}

/// An authentication scheme.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum SecurityScheme {
    /// An API key in a header, query parameter or cookie.
    ApiKey {
        /// The header/parameter/cookie name.
        name: String,
        /// Where.
        location: ParamLocation,
    },
    /// HTTP authentication (`bearer`, `basic`, ...).
    Http {
        /// The scheme, lowercase.
        scheme: String,
        /// `bearerFormat`.
        bearer_format: Option<String>,
    },
    /// OAuth 2.
    OAuth2 {
        /// Token URL of the client-credentials flow, if any.
        client_credentials_token_url: Option<String>,
        /// Token URL of the authorization-code flow, if any.
        authorization_code_token_url: Option<String>,
        /// Scopes by name.
        scopes: BTreeMap<String, String>,
    },
    /// OpenID Connect discovery.
    OpenIdConnect {
        /// The discovery URL.
        url: String,
    },
    /// Mutual TLS.
    MutualTls,
}

/// Schemes that must all be satisfied together, with their scopes.
pub type SecurityRequirement = BTreeMap<String, Vec<String>>;
