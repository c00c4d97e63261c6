//! Typed events: one variant per OpenAPI 3.1 webhook and per callback, decoded and
//! validated like every boundary type, and a handler trait with a method per event.
//!
//! An event's name is the key a receiver decodes with: the webhook's name, or
//! `<operationId>.<callback name>` for a callback (with the method appended when one
//! webhook or callback has several).

use std::collections::BTreeSet;

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use super::client::{media_kind, ty, Media};
use super::docs::doc_attrs;
use crate::ir::{Api, Docs, Operation};
use crate::lower::names::{camel, snake};

/// One event: its decode key, Rust names, payload, documentation.
struct Event<'a> {
    name: String,
    op: &'a Operation,
    variant: Ident,
    method: Ident,
}

fn unique(taken: &mut BTreeSet<String>, mut name: String) -> Ident {
    while !taken.insert(name.clone()) {
        name.push('_');
    }
    Ident::new(&name, Span::call_site())
}

fn collect(api: &Api) -> Vec<Event<'_>> {
    fn push<'a>(base: String, ops: &'a [Operation], raw: &mut Vec<(String, &'a Operation)>) {
        let many = ops.len() > 1;
        for op in ops {
            let name = if many {
                format!("{base}.{}", op.method.key())
            } else {
                base.clone()
            };
            raw.push((name, op));
        }
    }
    let mut raw: Vec<(String, &Operation)> = Vec::new();
    // Webhooks sharing a name (several methods) are grouped by `path`.
    let mut i = 0;
    while i < api.webhooks.len() {
        let path = &api.webhooks[i].path;
        let j = i + api.webhooks[i..]
            .iter()
            .take_while(|o| &o.path == path)
            .count();
        push(path.clone(), &api.webhooks[i..j], &mut raw);
        i = j;
    }
    for op in &api.operations {
        for (cb, ops) in &op.callbacks {
            push(format!("{}.{cb}", op.id), ops, &mut raw);
        }
    }
    let (mut variants, mut methods) = (BTreeSet::new(), BTreeSet::new());
    raw.into_iter()
        .map(|(name, op)| {
            let variant = unique(&mut variants, camel(&name, "Event"));
            let method = unique(&mut methods, format!("on_{}", snake(&name, "event")));
            Event {
                name,
                op,
                variant,
                method,
            }
        })
        .collect()
}

/// Whether the contract describes any event.
pub fn has_events(api: &Api) -> bool {
    !api.webhooks.is_empty() || api.operations.iter().any(|o| !o.callbacks.is_empty())
}

/// The payload's type, and how to decode it: JSON (validated), raw bytes, or none.
fn payload(op: &Operation) -> Option<(TokenStream, bool)> {
    let body = op.request_body.as_ref()?;
    if let Some(json) = body.contents.iter().find(|c| media_kind(c) == Media::Json) {
        let t = match &json.ty {
            Some(t) => ty(t),
            None => quote!(__acl::serde_json::Value),
        };
        return Some((t, true));
    }
    Some((quote!(::std::vec::Vec<u8>), false))
}

/// The `events` module's source.
pub fn events_source(api: &Api) -> Result<String, String> {
    let events = collect(api);
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    let known = names.join(", ");
    let mut variants = Vec::new();
    let mut arms = Vec::new();
    let mut value_arms = Vec::new();
    let mut name_arms = Vec::new();
    let mut methods = Vec::new();
    let mut dispatch = Vec::new();
    for e in &events {
        let (name, variant, method) = (&e.name, &e.variant, &e.method);
        let mut docs = e.op.docs.clone();
        if docs.title.is_none() && docs.description.is_none() {
            docs = Docs {
                title: Some(format!("The `{name}` event.")),
                ..Docs::default()
            };
        }
        let doc = doc_attrs(&docs, &[format!("Event name: `{name}`.")]);
        let method_doc = format!(" Handles `{name}` (by default: accepts and ignores it).");
        match payload(e.op) {
            Some((t, json)) => {
                variants.push(quote!(#doc #variant(#t)));
                arms.push(if json {
                    quote!(#name => ::acl_runtime::__private::from_json(body).map(Event::#variant).map_err(|error| __ev::EventError::Invalid { name: #name, error }))
                } else {
                    quote!(#name => ::std::result::Result::Ok(Event::#variant(body.to_vec())))
                });
                value_arms.push(if json {
                    quote!(#name => ::acl_runtime::__private::from_value(&value).map(Event::#variant).map_err(|error| __ev::EventError::Invalid { name: #name, error }))
                } else {
                    quote!(#name => ::std::result::Result::Ok(Event::#variant(body.to_vec())))
                });
                name_arms.push(quote!(Event::#variant(_) => #name));
                methods.push(quote! {
                    #[doc = #method_doc]
                    fn #method(&self, event: #t) -> impl ::std::future::Future<Output = ::std::result::Result<(), __ev::HandlerError>> + Send {
                        let _ = event;
                        async { ::std::result::Result::Ok(()) }
                    }
                });
                dispatch.push(quote!(Event::#variant(event) => handler.#method(event).await));
            }
            None => {
                variants.push(quote!(#doc #variant));
                arms.push(quote!(#name => ::std::result::Result::Ok(Event::#variant)));
                value_arms.push(quote!(#name => ::std::result::Result::Ok(Event::#variant)));
                name_arms.push(quote!(Event::#variant => #name));
                methods.push(quote! {
                    #[doc = #method_doc]
                    fn #method(&self) -> impl ::std::future::Future<Output = ::std::result::Result<(), __ev::HandlerError>> + Send {
                        async { ::std::result::Result::Ok(()) }
                    }
                });
                dispatch.push(quote!(Event::#variant => handler.#method().await));
            }
        }
    }
    // Where the contract says each event carries its name (`x-acl-event-name: /type`).
    let (name_at, dispatch_json) = match &api.event_name {
        Some(pointer) => (
            quote! {
                /// Where each event carries its name in its body (the contract's
                /// `x-acl-event-name`).
                pub const NAME_AT: &'static str = #pointer;

                /// Decodes a JSON body by the name it carries at [`Event::NAME_AT`].
                pub fn decode_json(body: &[u8]) -> ::std::result::Result<Self, __ev::EventError> {
                    Self::decode_json_at(Self::NAME_AT, body)
                }
            },
            quote! {
                /// Like [`dispatch`], by the name the body carries at [`Event::NAME_AT`].
                pub async fn dispatch_json<H: EventHandler>(handler: &H, body: &[u8]) -> ::std::result::Result<(), __ev::HandlerError> {
                    call(handler, Event::decode_json(body)?).await
                }
            },
        ),
        None => (TokenStream::new(), TokenStream::new()),
    };
    let tokens = quote! {
        #[allow(unused_imports)]
        use ::acl_runtime::__private as __acl;
        use ::acl_runtime::__private::events as __ev;

        /// An event the vendor sends (a webhook or a callback), decoded and validated.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum Event {
            #(#variants,)*
        }

        impl Event {
            /// The names of the events the contract describes: what [`Event::decode`] takes.
            pub const NAMES: &'static [&'static str] = &[#(#names),*];

            /// Decodes the raw body of the event named `name`, validated against its
            /// schema (the error names the JSON path of the bad value).
            pub fn decode(name: &str, body: &[u8]) -> ::std::result::Result<Self, __ev::EventError> {
                match name {
                    #(#arms,)*
                    _ => ::std::result::Result::Err(__ev::EventError::Unknown { name: name.to_owned(), known: #known.to_owned() }),
                }
            }

            /// Decodes a JSON body that carries its event's name itself, as the string at
            /// `pointer` (`/type` for Stripe): the body is read once, then validated
            /// against the named event's schema.
            pub fn decode_json_at(pointer: &str, body: &[u8]) -> ::std::result::Result<Self, __ev::EventError> {
                let (name, value) = __ev::name_at(body, pointer)?;
                match name.as_str() {
                    #(#value_arms,)*
                    _ => ::std::result::Result::Err(__ev::EventError::Unknown { name, known: #known.to_owned() }),
                }
            }

            #name_at

            /// The event's name.
            pub fn name(&self) -> &'static str {
                match self {
                    #(#name_arms,)*
                }
            }
        }

        /// Handles the contract's events, one method per event. Every method has a
        /// default that accepts and ignores its event: implement the ones you use.
        /// Return [`HandlerError::Retry`](::acl_runtime::boundary::events::HandlerError) for a
        /// transient failure (retried), `Invalid`/`Permanent` to dead-letter.
        pub trait EventHandler: Send + Sync {
            #(#methods)*
        }

        /// Decodes the event named `name` and calls its method on `handler`. A body that
        /// breaks the contract is `HandlerError::Invalid` (dead-lettered with the path).
        pub async fn dispatch<H: EventHandler>(handler: &H, name: &str, body: &[u8]) -> ::std::result::Result<(), __ev::HandlerError> {
            call(handler, Event::decode(name, body)?).await
        }

        /// Like [`dispatch`], for a body that carries its event's name at `pointer`
        /// ([`Event::decode_json_at`]).
        pub async fn dispatch_json_at<H: EventHandler>(handler: &H, pointer: &str, body: &[u8]) -> ::std::result::Result<(), __ev::HandlerError> {
            call(handler, Event::decode_json_at(pointer, body)?).await
        }

        #dispatch_json

        /// Calls the method of `event` on `handler`.
        pub async fn call<H: EventHandler>(handler: &H, event: Event) -> ::std::result::Result<(), __ev::HandlerError> {
            match event {
                #(#dispatch,)*
            }
        }
    };
    super::format_file(tokens).map_err(|e| e.to_string())
}
