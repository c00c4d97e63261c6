//! A read contract as the runtime's `ApiSpec`: what a generated client's `API` static
//! holds, built at run time for `mock`. The process serves one contract until it exits,
//! so the spec is leaked to `'static` once (its size is the contract's).

use acl_codegen::ir::{Operation, ParamLocation, SecurityRequirement, SecurityScheme};
use acl_codegen::Generated;
use acl_runtime::client::{ApiSpec, KeyIn, OperationSpec, ParamSpec, ResponseSpec, SchemeSpec};
use acl_runtime::Contract;

fn leak(s: impl Into<String>) -> &'static str {
    Box::leak(s.into().into_boxed_str())
}

fn leak_slice<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

fn security(reqs: &[SecurityRequirement]) -> &'static [&'static [&'static str]] {
    leak_slice(
        reqs.iter()
            .map(|req| leak_slice(req.keys().map(|k| leak(k.as_str())).collect()))
            .collect(),
    )
}

fn schema_at(o: &Option<acl_codegen::ir::Origin>) -> &'static str {
    o.as_ref().map(|o| leak(o.schema_uri())).unwrap_or("")
}

fn operation(op: &Operation) -> OperationSpec {
    let responses = op
        .responses
        .iter()
        .flat_map(|r| {
            let status = leak(r.status.text());
            let headers = leak_slice(
                r.headers
                    .iter()
                    .map(|h| (leak(h.name.as_str()), schema_at(&h.schema_at), h.required))
                    .collect(),
            );
            if r.contents.is_empty() {
                vec![ResponseSpec {
                    status,
                    media: "",
                    schema: "",
                    headers,
                }]
            } else {
                r.contents
                    .iter()
                    .map(|c| ResponseSpec {
                        status,
                        media: leak(c.media_type.as_str()),
                        schema: schema_at(&c.schema_at),
                        headers,
                    })
                    .collect()
            }
        })
        .collect();
    let body = match &op.request_body {
        Some(b) => (
            b.required,
            leak_slice(
                b.contents
                    .iter()
                    .map(|c| (leak(c.media_type.as_str()), schema_at(&c.schema_at)))
                    .collect(),
            ),
        ),
        None => (false, &[][..]),
    };
    OperationSpec {
        id: leak(op.id.as_str()),
        method: leak(op.method.key().to_ascii_uppercase()),
        path: leak(op.path.as_str()),
        policy: "",
        idempotency_header: op.idempotency_header.as_deref().map(leak),
        security: op.security.as_deref().map(security),
        headers: leak_slice(
            op.parameters
                .iter()
                .filter(|p| p.location == ParamLocation::Header)
                .map(|p| leak(p.name.as_str()))
                .collect(),
        ),
        // The mock answers one page at a time, as the vendor does.
        pagination: None,
        responses: leak_slice(responses),
        parameters: leak_slice(
            op.parameters
                .iter()
                .map(|p| ParamSpec {
                    location: p.location.word(),
                    name: leak(p.name.as_str()),
                    required: p.required,
                    schema: schema_at(&p.schema_at),
                    explode: p.explode,
                })
                .collect(),
        ),
        body,
    }
}

fn scheme(s: &SecurityScheme) -> SchemeSpec {
    match s {
        SecurityScheme::ApiKey { name, location } => {
            let location = match location {
                ParamLocation::Header => KeyIn::Header,
                ParamLocation::Query => KeyIn::Query,
                ParamLocation::Cookie => KeyIn::Cookie,
                ParamLocation::Path => return SchemeSpec::Other,
            };
            SchemeSpec::ApiKey {
                name: leak(name.as_str()),
                location,
            }
        }
        SecurityScheme::Http { scheme, .. } if scheme == "bearer" => SchemeSpec::Bearer,
        SecurityScheme::Http { scheme, .. } if scheme == "basic" => SchemeSpec::Basic,
        SecurityScheme::OAuth2 {
            client_credentials_token_url,
            ..
        } => SchemeSpec::OAuth2 {
            token_url: client_credentials_token_url.as_deref().map(leak),
        },
        SecurityScheme::OpenIdConnect { .. } => SchemeSpec::OAuth2 { token_url: None },
        _ => SchemeSpec::Other,
    }
}

/// The spec of `g`'s contract, with its documents embedded (what the mock answers from).
pub fn api_spec(g: &Generated) -> &'static ApiSpec {
    let api = &g.api;
    let documents = leak_slice(
        g.documents
            .iter()
            .enumerate()
            .map(|(i, text)| {
                (
                    leak(acl_codegen::emit::types::document_uri(i)),
                    leak(text.as_str()),
                )
            })
            .collect(),
    );
    let dialect = api
        .kind
        .as_ref()
        .map(|k| k.dialect().to_string())
        .unwrap_or_else(|| "2020-12".into());
    let contract: &'static Contract = Box::leak(Box::new(Contract {
        documents,
        dialect: leak(dialect),
    }));
    Box::leak(Box::new(ApiSpec {
        system: leak(api.title.as_str()),
        servers: &[],
        policies: "",
        schemes: leak_slice(
            api.security_schemes
                .iter()
                .map(|(name, s)| (leak(name.as_str()), scheme(s)))
                .collect(),
        ),
        security: security(&api.security),
        operations: leak_slice(api.operations.iter().map(operation).collect()),
        contract: Some(contract),
    }))
}
