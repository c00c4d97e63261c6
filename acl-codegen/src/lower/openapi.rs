//! OpenAPI 3.x and Swagger 2.0 documents: operations, parameters, bodies, responses,
//! security schemes, servers and webhooks.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use super::facts::docs_of;
use super::names::{camel, snake, Namespace};
use super::{Loc, Lowerer};
use crate::diagnostics::Severity;
use crate::ir::{
    Additional, Api, Content, Docs, Field, Method, Operation, Origin, ParamLocation, Parameter,
    Primitive, RequestBody, Response, ResponseHeader, SecurityRequirement, SecurityScheme, Server,
    ServerVariable, Status, StructDef, TypeKind, TypeRef,
};
use crate::load::{escape, DocId};

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

/// The extensions acl reads: its own, and the pagination extensions of other tools.
fn extensions(map: &Map<String, Value>) -> BTreeMap<String, Value> {
    map.iter()
        .filter(|(k, _)| {
            k.starts_with("x-acl-") || super::pagination::VENDOR_EXTENSIONS.contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn security_list(v: Option<&Value>) -> Option<Vec<SecurityRequirement>> {
    let list = v?.as_array()?;
    Some(
        list.iter()
            .filter_map(Value::as_object)
            .map(|req| {
                req.iter()
                    .map(|(k, scopes)| {
                        let scopes = scopes
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_string)
                                    .collect()
                            })
                            .unwrap_or_default();
                        (k.clone(), scopes)
                    })
                    .collect()
            })
            .collect(),
    )
}

struct OpContext {
    swagger: bool,
    consumes: Vec<String>,
    produces: Vec<String>,
}

pub(super) fn lower_document(l: &mut Lowerer<'_>, root: DocId, api: &mut Api) {
    let doc = l.docs.get(root).value.clone();
    let doc = doc.as_ref();
    let swagger = doc.get("swagger").is_some();
    let info = doc
        .get("info")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    api.title = text(info.get("title")).unwrap_or_else(|| "API".into());
    api.version = text(info.get("version")).unwrap_or_default();
    api.description = text(info.get("description"));
    if let Some(obj) = doc.as_object() {
        api.extensions = extensions(obj);
    }
    api.servers = servers(doc, swagger);
    api.security = security_list(doc.get("security")).unwrap_or_default();

    // Names of definitions first, so inline types never take them.
    let defs_ptr = if swagger {
        "/definitions"
    } else {
        "/components/schemas"
    };
    let def_keys: Vec<String> = crate::load::at_pointer(doc, defs_ptr)
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    l.reserve_definitions(root, defs_ptr, &def_keys);
    for key in &def_keys {
        l.named_type(&(root, format!("{defs_ptr}/{}", escape(key))));
    }

    api.security_schemes = security_schemes(l, root, doc, swagger);

    let ctx = OpContext {
        swagger,
        consumes: strings(doc.get("consumes")),
        produces: strings(doc.get("produces")),
    };
    let mut op_names = Namespace::default();
    let mut given_ids: HashMap<String, String> = HashMap::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for path in paths.keys() {
            // Specification extensions (`x-…`) may sit among the paths.
            if is_extension(path) {
                continue;
            }
            let loc = (root, format!("/paths/{}", escape(path)));
            if let Err(why) = template_variables(path) {
                l.diag(
                    Severity::Error,
                    "bad-path-template",
                    &loc,
                    format!("the path template `{path}` {why}; its operations are skipped"),
                    Some("every `{` closes with a `}` around a parameter name"),
                );
                continue;
            }
            let ops = path_item(l, &loc, path, &ctx, &mut op_names, None);
            for op in &ops {
                if !op.has_operation_id {
                    continue;
                }
                let here = format!("{}/{}/operationId", loc.1, op.method.key());
                match given_ids.get(&op.id) {
                    Some(first) => l.diag(
                        Severity::Error,
                        "duplicate-operation-id",
                        &(root, here),
                        format!(
                            "operationId `{}` is already used at {first}: two methods would \
                             answer to one id (and `--operation` would select both)",
                            op.id
                        ),
                        Some("operationIds are unique in a document; rename one"),
                    ),
                    None => {
                        given_ids.insert(op.id.clone(), here);
                    }
                }
            }
            api.operations.extend(ops);
        }
    } else if !swagger && doc.get("webhooks").is_none() && doc.get("components").is_none() {
        l.diag(
            Severity::Warning,
            "no-paths",
            &(root, String::new()),
            "the document has no `paths`",
            None,
        );
    }
    if let Some(hooks) = doc.get("webhooks").and_then(Value::as_object) {
        let mut hook_names = Namespace::default();
        for name in hooks.keys().filter(|k| !is_extension(k)) {
            let loc = (root, format!("/webhooks/{}", escape(name)));
            api.webhooks
                .extend(path_item(l, &loc, name, &ctx, &mut hook_names, None));
        }
    }
    super::policy::lower_policies(l, root, api);
    event_name(l, root, api);
}

/// `x-acl-event-name`: the JSON pointer at which every event's body carries its name.
fn event_name(l: &mut Lowerer<'_>, root: DocId, api: &mut Api) {
    let Some(value) = api.extensions.get(EVENT_NAME) else {
        return;
    };
    match value.as_str() {
        Some(p) if p.starts_with('/') => api.event_name = Some(p.to_string()),
        _ => l.diag(
            Severity::Error,
            "bad-event-name",
            &(root, format!("/{EVENT_NAME}")),
            format!("`{EVENT_NAME}` is a JSON pointer into each event's body, such as `/type`"),
            None,
        ),
    }
}

/// The extension saying where events carry their names.
pub(super) const EVENT_NAME: &str = "x-acl-event-name";

/// A specification extension (`x-…`): skipped wherever the specs let an object carry
/// them among its entries (paths, responses, callbacks; webhooks and the callbacks map
/// too, where vendors put them anyway).
fn is_extension(key: &str) -> bool {
    key.starts_with("x-")
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn servers(doc: &Value, swagger: bool) -> Vec<Server> {
    if swagger {
        let Some(host) = doc.get("host").and_then(Value::as_str) else {
            return Vec::new();
        };
        let base = doc.get("basePath").and_then(Value::as_str).unwrap_or("");
        let schemes = strings(doc.get("schemes"));
        let scheme = if schemes.iter().any(|s| s == "https") || schemes.is_empty() {
            "https"
        } else {
            "http"
        };
        return vec![Server {
            url: format!("{scheme}://{host}{base}"),
            description: None,
            variables: BTreeMap::new(),
        }];
    }
    doc.get("servers")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_object)
                .filter_map(|s| {
                    Some(Server {
                        url: s.get("url")?.as_str()?.to_string(),
                        description: text(s.get("description")),
                        variables: s
                            .get("variables")
                            .and_then(Value::as_object)
                            .map(|vars| {
                                vars.iter()
                                    .map(|(k, v)| {
                                        (
                                            k.clone(),
                                            ServerVariable {
                                                default: v
                                                    .get("default")
                                                    .map(|d| {
                                                        d.as_str()
                                                            .map(str::to_string)
                                                            .unwrap_or_else(|| d.to_string())
                                                    })
                                                    .unwrap_or_default(),
                                                allowed: strings(v.get("enum")),
                                            },
                                        )
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn location_of(s: &str) -> Option<ParamLocation> {
    Some(match s {
        "path" => ParamLocation::Path,
        "query" => ParamLocation::Query,
        "header" => ParamLocation::Header,
        "cookie" => ParamLocation::Cookie,
        _ => return None,
    })
}

fn security_schemes(
    l: &mut Lowerer<'_>,
    root: DocId,
    doc: &Value,
    swagger: bool,
) -> BTreeMap<String, SecurityScheme> {
    let ptr = if swagger {
        "/securityDefinitions"
    } else {
        "/components/securitySchemes"
    };
    let mut out = BTreeMap::new();
    let Some(schemes) = crate::load::at_pointer(doc, ptr).and_then(Value::as_object) else {
        return out;
    };
    for name in schemes.keys() {
        let loc = (root, format!("{ptr}/{}", escape(name)));
        let scheme = match l.deref_object(&loc) {
            Some((_, m)) => m,
            None => continue,
        };
        let kind = scheme.get("type").and_then(Value::as_str).unwrap_or("");
        let lowered = match kind {
            "apiKey" => {
                let location = scheme
                    .get("in")
                    .and_then(Value::as_str)
                    .and_then(location_of);
                match (text(scheme.get("name")), location) {
                    (Some(name), Some(location)) => Some(SecurityScheme::ApiKey { name, location }),
                    _ => None,
                }
            }
            "http" => Some(SecurityScheme::Http {
                scheme: text(scheme.get("scheme"))
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
                bearer_format: text(scheme.get("bearerFormat")),
            }),
            "basic" => Some(SecurityScheme::Http {
                scheme: "basic".into(),
                bearer_format: None,
            }),
            "oauth2" => {
                let mut scopes = BTreeMap::new();
                let mut cc = None;
                let mut ac = None;
                if swagger {
                    let flow = scheme.get("flow").and_then(Value::as_str).unwrap_or("");
                    let token = text(scheme.get("tokenUrl"));
                    match flow {
                        "application" => cc = token,
                        "accessCode" => ac = token,
                        _ => {}
                    }
                    if let Some(s) = scheme.get("scopes").and_then(Value::as_object) {
                        scopes.extend(
                            s.iter()
                                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())),
                        );
                    }
                } else if let Some(flows) = scheme.get("flows").and_then(Value::as_object) {
                    cc = flows
                        .get("clientCredentials")
                        .and_then(|f| text(f.get("tokenUrl")));
                    ac = flows
                        .get("authorizationCode")
                        .and_then(|f| text(f.get("tokenUrl")));
                    for flow in flows.values() {
                        if let Some(s) = flow.get("scopes").and_then(Value::as_object) {
                            scopes.extend(
                                s.iter().map(|(k, v)| {
                                    (k.clone(), v.as_str().unwrap_or("").to_string())
                                }),
                            );
                        }
                    }
                }
                Some(SecurityScheme::OAuth2 {
                    client_credentials_token_url: cc,
                    authorization_code_token_url: ac,
                    scopes,
                })
            }
            "openIdConnect" => text(scheme.get("openIdConnectUrl"))
                .map(|url| SecurityScheme::OpenIdConnect { url }),
            "mutualTLS" => Some(SecurityScheme::MutualTls),
            _ => None,
        };
        match lowered {
            Some(s) => {
                out.insert(name.clone(), s);
            }
            None => l.diag(
                Severity::Warning,
                "unsupported-security",
                &loc,
                format!("security scheme `{name}` (type `{kind}`) is incomplete or unknown; it is skipped"),
                None,
            ),
        }
    }
    out
}

impl Lowerer<'_> {
    /// Follows `$ref`s (components/parameters, responses, ...) to an object.
    pub(crate) fn deref_object(&mut self, loc: &Loc) -> Option<(Loc, Map<String, Value>)> {
        let at = match self.chase_refs(loc, false) {
            super::refs::Chased::End(at) => at,
            super::refs::Chased::Broken(at, e) => {
                self.ref_failed(&at, e);
                return None;
            }
            super::refs::Chased::Endless(_) => {
                self.diag(
                    Severity::Error,
                    "ref-cycle",
                    loc,
                    "`$ref` chain does not end",
                    None,
                );
                return None;
            }
        };
        match self.value(&at) {
            Some(Value::Object(m)) => {
                let m = m.clone();
                Some((at, m))
            }
            Some(_) => {
                self.diag(
                    Severity::Error,
                    "not-an-object",
                    &at,
                    "an object is required here",
                    None,
                );
                None
            }
            None => {
                self.diag(
                    Severity::Error,
                    "dangling-pointer",
                    &at,
                    "nothing here",
                    None,
                );
                None
            }
        }
    }
}

/// The operations of a path item. `id_base` names operations without an
/// `operationId` (a callback's, whose "path" is a runtime expression such as
/// `{$request.body#/callback_url}`); without it, they are named from method and path.
fn path_item(
    l: &mut Lowerer<'_>,
    loc: &Loc,
    path: &str,
    ctx: &OpContext,
    op_names: &mut Namespace,
    id_base: Option<&str>,
) -> Vec<Operation> {
    let Some((item_loc, item)) = l.deref_object(loc) else {
        return Vec::new();
    };
    let shared: Vec<Loc> = item
        .get("parameters")
        .and_then(Value::as_array)
        .map(|a| {
            (0..a.len())
                .map(|i| (item_loc.0, format!("{}/parameters/{i}", item_loc.1)))
                .collect()
        })
        .unwrap_or_default();
    let methods = Method::ALL
        .iter()
        .filter(|m| matches!(item.get(m.key()), Some(Value::Object(_))))
        .count();
    let mut out = Vec::new();
    for method in Method::ALL {
        let Some(Value::Object(op)) = item.get(method.key()) else {
            continue;
        };
        let op_loc = (item_loc.0, format!("{}/{}", item_loc.1, method.key()));
        let fallback_id = match id_base {
            Some(base) if methods == 1 => base.to_string(),
            Some(base) => format!("{base}_{}", method.key()),
            None => derived_id(method, path),
        };
        out.push(operation(
            l,
            &op_loc,
            op,
            method,
            path,
            &shared,
            ctx,
            op_names,
            fallback_id,
        ));
    }
    out
}

/// The variable names of a path template (`/pets/{petId}` → `petId`), or why the
/// template cannot be read (a brace that does not close, one inside another, an empty
/// name).
fn template_variables(path: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = path;
    loop {
        let open = rest.find('{');
        let close = rest.find('}');
        match (open, close) {
            (None, None) => return Ok(out),
            (None, Some(_)) => return Err("has a `}` that no `{` opens".into()),
            (Some(o), Some(c)) if c < o => return Err("has a `}` that no `{` opens".into()),
            (Some(_), None) => return Err("has a `{` that is never closed".into()),
            (Some(o), Some(c)) => {
                let name = &rest[o + 1..c];
                if name.contains('{') {
                    return Err("has a `{` inside another".into());
                }
                if name.is_empty() {
                    return Err("has an empty `{}`".into());
                }
                out.push(name.to_string());
                rest = &rest[c + 1..];
            }
        }
    }
}

fn derived_id(method: Method, path: &str) -> String {
    let mut words = vec![method.key().to_string()];
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        if let Some(p) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            words.push(format!("by_{p}"));
        } else {
            words.push(seg.to_string());
        }
    }
    words.join("_")
}

#[allow(clippy::too_many_arguments)]
fn operation(
    l: &mut Lowerer<'_>,
    loc: &Loc,
    op: &Map<String, Value>,
    method: Method,
    path: &str,
    shared: &[Loc],
    ctx: &OpContext,
    op_names: &mut Namespace,
    fallback_id: String,
) -> Operation {
    let given_id = text(op.get("operationId"));
    let id = given_id.clone().unwrap_or(fallback_id);
    let name = op_names.claim(&snake(&id, "operation"));
    let type_base = camel(&name, "Operation");
    let docs = Docs {
        title: text(op.get("summary")),
        description: text(op.get("description")),
        deprecated: op.get("deprecated") == Some(&Value::Bool(true)),
        example: None,
    };

    let resolved = merged_parameters(l, loc, op, shared);
    let mut param_names = Namespace::with_reserved(&["body"]);
    let mut parameters = Vec::new();
    let mut swagger_body: Option<RequestBody> = None;
    let mut form_fields: Vec<(Loc, Map<String, Value>)> = Vec::new();
    for (ploc, pmap) in resolved {
        let Some(pname) = text(pmap.get("name")) else {
            l.diag(
                Severity::Error,
                "bad-parameter",
                &ploc,
                "a parameter needs a `name`",
                None,
            );
            continue;
        };
        let where_ = text(pmap.get("in")).unwrap_or_default();
        if ctx.swagger && where_ == "body" {
            swagger_body = Some(swagger_body_parameter(l, &ploc, &pmap, op, &type_base, ctx));
            continue;
        }
        if ctx.swagger && where_ == "formData" {
            form_fields.push((ploc, pmap));
            continue;
        }
        let Some(location) = location_of(&where_) else {
            l.diag(
                Severity::Error,
                "bad-parameter",
                &ploc,
                format!("parameter `{pname}` has an unknown location `{where_}`"),
                None,
            );
            continue;
        };
        let hint = format!("{type_base}{}", camel(&pname, "Param"));
        let (ty, schema_at) = parameter_type(l, &ploc, &pmap, &hint, ctx);
        let (style, explode) = parameter_style(&pmap, location, ctx);
        parameters.push(Parameter {
            rust_name: param_names.claim(&snake(&pname, "param")),
            name: pname,
            location,
            required: location == ParamLocation::Path
                || pmap.get("required") == Some(&Value::Bool(true)),
            ty,
            style,
            explode,
            docs: docs_of(&pmap),
            schema_at: schema_at.map(|(doc, pointer)| Origin { doc, pointer }),
        });
    }

    match_path_variables(l, loc, path, &mut parameters, &mut param_names);

    let request_body = if let Some(b) = swagger_body {
        Some(b)
    } else if !form_fields.is_empty() {
        Some(form_body(l, loc, op, &type_base, form_fields, ctx))
    } else if let Some(_b) = op.get("requestBody") {
        request_body(l, &(loc.0, format!("{}/requestBody", loc.1)), &type_base)
    } else {
        None
    };

    let responses = operation_responses(l, loc, op, &type_base, ctx);
    let documents_success = responses
        .iter()
        .any(|r| crate::ir::response_role(&responses, r) == crate::ir::ResponseRole::Success);
    if !documents_success {
        l.diag(
            Severity::Warning,
            "no-success-response",
            &(loc.0, format!("{}/responses", loc.1)),
            format!("`{id}` documents no success response"),
            Some("a status below 400 is returned untyped (`UndocumentedSuccess`: status, headers, body as JSON or bytes); document it for a typed answer"),
        );
    }

    let callbacks = operation_callbacks(l, loc, op, &name, ctx);

    Operation {
        id,
        name,
        has_operation_id: given_id.is_some(),
        method,
        path: path.to_string(),
        tags: strings(op.get("tags")),
        docs,
        parameters,
        request_body,
        responses,
        security: security_list(op.get("security")),
        extensions: extensions(op),
        policy: None,
        idempotency_header: None,
        pagination: None,
        callbacks,
        origin: l.origin(loc),
    }
}

/// The parameters of an operation with its path item's: the operation's replace the
/// path item's of the same name and place.
fn merged_parameters(
    l: &mut Lowerer<'_>,
    loc: &Loc,
    op: &Map<String, Value>,
    shared: &[Loc],
) -> Vec<(Loc, Map<String, Value>)> {
    let own: Vec<Loc> = op
        .get("parameters")
        .and_then(Value::as_array)
        .map(|a| {
            (0..a.len())
                .map(|i| (loc.0, format!("{}/parameters/{i}", loc.1)))
                .collect()
        })
        .unwrap_or_default();
    let mut resolved: Vec<(Loc, Map<String, Value>)> = Vec::new();
    for p in shared.iter().chain(own.iter()) {
        if let Some((ploc, pmap)) = l.deref_object(p) {
            let key = (text(pmap.get("name")), text(pmap.get("in")));
            resolved.retain(|(_, m)| (text(m.get("name")), text(m.get("in"))) != key);
            resolved.push((ploc, pmap));
        }
    }
    resolved
}

/// Swagger 2.0's `in: body` parameter as the request body, in the media types the
/// operation (or the document) consumes.
fn swagger_body_parameter(
    l: &mut Lowerer<'_>,
    ploc: &Loc,
    pmap: &Map<String, Value>,
    op: &Map<String, Value>,
    type_base: &str,
    ctx: &OpContext,
) -> RequestBody {
    let ty = l.schema_type(
        &(ploc.0, format!("{}/schema", ploc.1)),
        &format!("{type_base}Body"),
    );
    let media = if ctx.consumes.is_empty() || op.get("consumes").is_some() {
        let own = strings(op.get("consumes"));
        if own.is_empty() {
            vec!["application/json".to_string()]
        } else {
            own
        }
    } else {
        ctx.consumes.clone()
    };
    RequestBody {
        required: pmap.get("required") == Some(&Value::Bool(true)),
        contents: media
            .into_iter()
            .map(|m| Content {
                media_type: m,
                ty: Some(ty.clone()),
                schema_at: Some(Origin {
                    doc: ploc.0,
                    pointer: format!("{}/schema", ploc.1),
                }),
            })
            .collect(),
        docs: docs_of(pmap),
    }
}

/// A parameter's type: its `schema` (the parameter itself in Swagger 2.0), the schema of
/// its first `content` media type, or a string.
fn parameter_type(
    l: &mut Lowerer<'_>,
    ploc: &Loc,
    pmap: &Map<String, Value>,
    hint: &str,
    ctx: &OpContext,
) -> (TypeRef, Option<Loc>) {
    // A Swagger 2.0 parameter is its own schema (its boolean `required` is dropped from
    // the embedded document, see `normalize_openapi30`).
    if ctx.swagger {
        (l.schema_type(ploc, hint), Some(ploc.clone()))
    } else if pmap.contains_key("schema") {
        let at = (ploc.0, format!("{}/schema", ploc.1));
        (l.schema_type(&at, hint), Some(at))
    } else if let Some(content) = pmap.get("content").and_then(Value::as_object) {
        match content.keys().next() {
            Some(media) => {
                let at = (
                    ploc.0,
                    format!("{}/content/{}/schema", ploc.1, escape(media)),
                );
                (l.schema_type(&at, hint), Some(at))
            }
            None => (TypeRef::Primitive(Primitive::String), None),
        }
    } else {
        (TypeRef::Primitive(Primitive::String), None)
    }
}

/// A parameter's serialisation: `style` and `explode` (3.x), or `collectionFormat`
/// (Swagger 2.0), with the defaults of its location.
fn parameter_style(
    pmap: &Map<String, Value>,
    location: ParamLocation,
    ctx: &OpContext,
) -> (String, bool) {
    if ctx.swagger {
        match pmap.get("collectionFormat").and_then(Value::as_str) {
            Some("multi") => ("form".to_string(), true),
            Some("ssv") => ("spaceDelimited".to_string(), false),
            Some("pipes") => ("pipeDelimited".to_string(), false),
            Some("tsv") => ("tabDelimited".to_string(), false),
            _ => (
                if matches!(location, ParamLocation::Query | ParamLocation::Cookie) {
                    "form"
                } else {
                    "simple"
                }
                .to_string(),
                false,
            ),
        }
    } else {
        let default_style = if matches!(location, ParamLocation::Query | ParamLocation::Cookie) {
            "form"
        } else {
            "simple"
        };
        let style = text(pmap.get("style")).unwrap_or_else(|| default_style.to_string());
        let explode = pmap
            .get("explode")
            .and_then(Value::as_bool)
            .unwrap_or(style == "form");
        (style, explode)
    }
}

fn form_body(
    l: &mut Lowerer<'_>,
    loc: &Loc,
    op: &Map<String, Value>,
    type_base: &str,
    fields: Vec<(Loc, Map<String, Value>)>,
    ctx: &OpContext,
) -> RequestBody {
    let name = l.names.claim(&format!("{type_base}Form"));
    let mut ns = Namespace::default();
    let mut out = Vec::new();
    let mut has_file = false;
    for (ploc, pmap) in fields {
        let wire = text(pmap.get("name")).unwrap_or_default();
        has_file |= pmap.get("type").and_then(Value::as_str) == Some("file");
        let ty = l.schema_type(&ploc, &format!("{name}{}", camel(&wire, "Field")));
        out.push(Field {
            name: ns.claim(&snake(&wire, "field")),
            wire_name: wire,
            ty,
            required: pmap.get("required") == Some(&Value::Bool(true)),
            nullable: false,
            default: None,
            docs: docs_of(&pmap),
            read_only: false,
            write_only: false,
        });
    }
    l.insert_type(
        name.clone(),
        None,
        loc,
        Docs::default(),
        TypeKind::Struct(StructDef {
            fields: out,
            additional: Additional::Ignore,
        }),
    );
    let mut media = strings(op.get("consumes"));
    if media.is_empty() {
        media = ctx.consumes.clone();
    }
    media.retain(|m| m.contains("form"));
    if media.is_empty() {
        media.push(
            if has_file {
                "multipart/form-data"
            } else {
                "application/x-www-form-urlencoded"
            }
            .to_string(),
        );
    }
    RequestBody {
        required: true,
        contents: media
            .into_iter()
            .map(|m| Content {
                media_type: m,
                ty: Some(TypeRef::Named(name.clone())),
                schema_at: None,
            })
            .collect(),
        docs: Docs::default(),
    }
}

fn request_body(l: &mut Lowerer<'_>, loc: &Loc, type_base: &str) -> Option<RequestBody> {
    let (bloc, body) = l.deref_object(loc)?;
    let contents = contents(l, &bloc, &body, &format!("{type_base}Body"));
    Some(RequestBody {
        required: body.get("required") == Some(&Value::Bool(true)),
        contents,
        docs: docs_of(&body),
    })
}

/// The `content` map of a body or response: one type per media type; media types that
/// share a schema share its type.
fn contents(l: &mut Lowerer<'_>, loc: &Loc, map: &Map<String, Value>, hint: &str) -> Vec<Content> {
    let Some(content) = map.get("content").and_then(Value::as_object) else {
        return Vec::new();
    };
    let many = content.len() > 1;
    content
        .iter()
        .map(|(media, m)| {
            let sloc = (loc.0, format!("{}/content/{}/schema", loc.1, escape(media)));
            let schema_at = m.get("schema").map(|_| Origin {
                doc: sloc.0,
                pointer: sloc.1.clone(),
            });
            let ty = m.get("schema").map(|_| {
                let h = if many && !media.contains("json") {
                    format!("{hint}{}", camel(media, ""))
                } else {
                    hint.to_string()
                };
                l.schema_type(&sloc, &h)
            });
            Content {
                media_type: media.clone(),
                ty,
                schema_at,
            }
        })
        .collect()
}

fn response(
    l: &mut Lowerer<'_>,
    loc: &Loc,
    hint: &str,
    status: Status,
    ctx: &OpContext,
    op: &Map<String, Value>,
) -> Option<Response> {
    let (rloc, r) = l.deref_object(loc)?;
    let contents = if ctx.swagger {
        match r.get("schema") {
            Some(_) => {
                let schema_at = Origin {
                    doc: rloc.0,
                    pointer: format!("{}/schema", rloc.1),
                };
                let ty = l.schema_type(&(rloc.0, format!("{}/schema", rloc.1)), hint);
                let mut media = strings(op.get("produces"));
                if media.is_empty() {
                    media = ctx.produces.clone();
                }
                if media.is_empty() {
                    media.push("application/json".into());
                }
                media
                    .into_iter()
                    .map(|m| Content {
                        media_type: m,
                        ty: Some(ty.clone()),
                        schema_at: Some(schema_at.clone()),
                    })
                    .collect()
            }
            None => Vec::new(),
        }
    } else {
        contents(l, &rloc, &r, hint)
    };
    let mut headers = Vec::new();
    if let Some(hs) = r.get("headers").and_then(Value::as_object) {
        for name in hs.keys() {
            let hloc = (rloc.0, format!("{}/headers/{}", rloc.1, escape(name)));
            let Some((hloc, h)) = l.deref_object(&hloc) else {
                continue;
            };
            let hint = format!("{hint}{}", camel(name, "Header"));
            let (ty, schema_at) = if h.contains_key("schema") {
                let at = (hloc.0, format!("{}/schema", hloc.1));
                (l.schema_type(&at, &hint), Some(at))
            } else if h.contains_key("type") {
                (l.schema_type(&hloc, &hint), Some(hloc.clone()))
            } else {
                (TypeRef::Primitive(Primitive::String), None)
            };
            headers.push(ResponseHeader {
                name: name.clone(),
                ty,
                required: h.get("required") == Some(&Value::Bool(true)),
                docs: docs_of(&h),
                schema_at: schema_at.map(|(doc, pointer)| Origin { doc, pointer }),
            });
        }
    }
    Some(Response {
        status,
        description: text(r.get("description")),
        contents,
        headers,
    })
}

/// Matches the path template's variables with the path parameters: a variable no
/// parameter declares becomes a required string parameter (warning), a path parameter
/// the template does not name is reported (warning).
fn match_path_variables(
    l: &mut Lowerer<'_>,
    loc: &Loc,
    path: &str,
    parameters: &mut Vec<Parameter>,
    param_names: &mut Namespace,
) {
    // A callback's "path" is a runtime expression, a webhook's a name: only real paths
    // have template variables to match.
    if !path.starts_with('/') {
        return;
    }
    let variables = template_variables(path).unwrap_or_default();
    for var in &variables {
        let declared = parameters
            .iter()
            .any(|p| p.location == ParamLocation::Path && p.name == *var);
        if !declared {
            l.diag(
                Severity::Warning,
                "undeclared-path-variable",
                loc,
                format!(
                    "the path template names `{{{var}}}`, which no path parameter \
                         declares; the method takes it as a required string"
                ),
                Some("declare it under `parameters` with `in: path`"),
            );
            parameters.push(Parameter {
                rust_name: param_names.claim(&snake(var, "param")),
                name: var.clone(),
                location: ParamLocation::Path,
                required: true,
                ty: TypeRef::Primitive(Primitive::String),
                style: "simple".into(),
                explode: false,
                docs: Docs::default(),
                schema_at: None,
            });
        }
    }
    for p in parameters.iter() {
        if p.location == ParamLocation::Path && !variables.contains(&p.name) {
            l.diag(
                Severity::Warning,
                "unused-path-parameter",
                loc,
                format!(
                    "path parameter `{}` does not appear in the template `{path}`; it is \
                         never sent",
                    p.name
                ),
                None,
            );
        }
    }
}

/// The documented responses of the operation at `loc`, by status (`default`, ranges,
/// codes); keys that are not statuses are skipped (`x-` silently, others with a warning).
fn operation_responses(
    l: &mut Lowerer<'_>,
    loc: &Loc,
    op: &Map<String, Value>,
    type_base: &str,
    ctx: &OpContext,
) -> Vec<Response> {
    let mut responses = Vec::new();
    if let Some(rs) = op.get("responses").and_then(Value::as_object) {
        for key in rs.keys() {
            let status = match key.as_str() {
                "default" => Status::Default,
                k if k.len() == 3 && k[1..].eq_ignore_ascii_case("xx") => {
                    match k[..1].parse::<u8>() {
                        Ok(d) => Status::Range(d),
                        Err(_) => continue,
                    }
                }
                k => match k.parse::<u16>() {
                    Ok(c) => Status::Code(c),
                    Err(_) => {
                        if !is_extension(k) {
                            l.diag(
                                Severity::Warning,
                                "bad-status",
                                &(loc.0, format!("{}/responses/{}", loc.1, escape(k))),
                                format!("`{k}` is not a status code; skipped"),
                                None,
                            );
                        }
                        continue;
                    }
                },
            };
            let rloc = (loc.0, format!("{}/responses/{}", loc.1, escape(key)));
            let suffix = match &status {
                Status::Code(c) => c.to_string(),
                Status::Range(d) => format!("{d}XX"),
                Status::Default => "Default".into(),
            };
            if let Some(r) = response(
                l,
                &rloc,
                &format!("{type_base}Response{suffix}"),
                status,
                ctx,
                op,
            ) {
                responses.push(r);
            }
        }
    }
    responses
}

/// The callbacks of the operation at `loc`, each named after the operation (`name`) and
/// the callback.
fn operation_callbacks(
    l: &mut Lowerer<'_>,
    loc: &Loc,
    op: &Map<String, Value>,
    name: &str,
    ctx: &OpContext,
) -> Vec<(String, Vec<Operation>)> {
    let mut callbacks = Vec::new();
    if let Some(cbs) = op.get("callbacks").and_then(Value::as_object) {
        for cb_name in cbs.keys().filter(|k| !is_extension(k)) {
            let cb_loc = (loc.0, format!("{}/callbacks/{}", loc.1, escape(cb_name)));
            let Some((cb_loc, cb)) = l.deref_object(&cb_loc) else {
                continue;
            };
            let mut names = Namespace::default();
            let mut ops = Vec::new();
            // Named after the operation and the callback: `create_subscription` +
            // `statusChanged` → `create_subscription_status_changed`.
            let base = format!("{name}_{}", snake(cb_name, "callback"));
            for expr in cb.keys().filter(|k| !is_extension(k)) {
                let item_loc = (cb_loc.0, format!("{}/{}", cb_loc.1, escape(expr)));
                ops.extend(path_item(l, &item_loc, expr, ctx, &mut names, Some(&base)));
            }
            callbacks.push((cb_name.clone(), ops));
        }
    }
    callbacks
}

#[cfg(test)]
mod tests {
    use super::template_variables;

    #[test]
    fn path_templates_are_read_or_say_why_not() {
        let ok = |t: &str| template_variables(t).unwrap();
        assert_eq!(ok("/pets"), Vec::<String>::new());
        assert_eq!(ok("/pets/{petId}/toys/{toy}.json"), ["petId", "toy"]);
        for (template, why) in [
            ("/c/{id", "never closed"),
            ("/c/id}", "no `{` opens"),
            ("/c/}{id}", "no `{` opens"),
            ("/c/{a{b}}", "inside another"),
            ("/c/{}", "empty"),
        ] {
            let e = template_variables(template).unwrap_err();
            assert!(e.contains(why), "{template}: {e}");
        }
    }
}
