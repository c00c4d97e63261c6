//! acl-derive: derive macros for the anti-corruption layer. Use them through
//! `acl_runtime` (feature `derive`, on by default), as serde's derives are used through
//! serde. Every attribute is `#[acl(...)]`; every mistake is a compile error at what
//! wrote it, all of them at once, with a "did you mean" for a misspelt key.
//!
//! # Attribute reference
//!
//! Each derive's documentation lists its attributes: [`macro@Policies`],
//! [`macro@FromBoundary`], [`macro@IntoBoundary`] (re-exported as `acl_runtime::Policies`,
//! `acl_runtime::FromBoundary`, `acl_runtime::IntoBoundary`).
//!
//! # How it works
//!
//! Each derive reads its attributes (`attr`: the policy attributes into JSON layers with
//! the span of every key and value), checks them, then expands; on error it still emits
//! the impl next to the `compile_error!`s so one mistake is one error.

mod attr;
mod mapping;
mod policies;

use proc_macro::TokenStream;

/// A client's policies as a type, checked against the contract at compile time; apply
/// with `ClientBuilder::policies::<T>()`.
///
/// | attribute | goes on | value | example |
/// |---|---|---|---|
/// | `contract` | the type | path of the contract, relative to the crate's `Cargo.toml` (read at compile time; a change recompiles) | `#[acl(contract = "contracts/payments.yaml")]` |
/// | `default(...)` | the type | settings of the system and of every operation, laid before the contract's `x-acl-*` | `#[acl(default(timeout = "2s", breaker(min_calls = 20)))]` |
/// | `op(id = "...", ...)` | the type, once per operation | one operation's settings, laid after the contract's | `#[acl(op(id = "createCharge", idempotency_key = "Idempotency-Key"))]` |
///
/// Settings (acl-policy's names, the same as the contract's `x-acl-*` and a service's
/// configuration; defaults in acl-policy's docs):
///
/// | setting | in | value | example |
/// |---|---|---|---|
/// | `timeout`, `deadline` | `default`, `op` | a duration | `timeout = "500ms"` |
/// | `retry(...)`: `max_attempts`, `max_total`, `backoff`, `multiplier`, `base`, `max_delay`, `jitter` | `default`, `op` | a group, or `"none"` | `retry(max_attempts = 3, backoff = "linear", jitter = "equal")` |
/// | `idempotent` | `default`, `op` | a bool (a bare key is `true`) | `idempotent` |
/// | `idempotency_key` | `default`, `op` | a header name | `idempotency_key = "Idempotency-Key"` |
/// | `max_response_body` | `default`, `op` | bytes | `max_response_body = 1048576` |
/// | `breaker(...)`: `window`, `failure_rate`, `slow_call_rate`, `slow_call_duration`, `min_calls`, `consecutive_failures`, `open_for`, `open_multiplier`, `max_open_for`, `half_open_calls` | `default` | a group, or `"off"` | `breaker(failure_rate = 0.5, window = "30s")` |
/// | `retry_budget(...)`: `ratio`, `min_per_second` | `default` | a group | `retry_budget(ratio = 0.1)` |
/// | `rate_limit(...)`: `per_second`, `burst` | `default` | a group, or `"off"` | `rate_limit(per_second = 20)` |
/// | `fast_clock` | `default` | a bool | `fast_clock` |
///
/// Compile errors, at what wrote them: an operation the contract lacks (with "did you
/// mean"), an unknown or misspelt setting, a value out of range, a setting given twice,
/// a system setting in `op(...)`, and retries on an operation not safe to repeat (a POST
/// or PATCH without an idempotency key), whether set on it or inherited from
/// `default(...)`. Operations not named that will not make `default(...)`'s retries are
/// listed in the impl's docs.
///
/// ```
/// use acl_runtime::Policies;
///
/// #[derive(Policies)]
/// #[acl(contract = "tests/ui/orders.yaml")]
/// #[acl(default(timeout = "2s", retry(max_attempts = 3), rate_limit(per_second = 20)))]
/// #[acl(op(id = "createOrder", idempotency_key = "Idempotency-Key"))]
/// #[acl(op(id = "updateOrder", retry = "none"))]
/// struct OrderPolicies;
///
/// assert!(<OrderPolicies as acl_runtime::client::Policies>::OPERATIONS.len() == 2);
/// ```
#[proc_macro_derive(Policies, attributes(acl))]
pub fn derive_policies(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    policies::derive(input).into()
}

/// `TryFrom<Boundary> for Domain`, for structs with named fields and enums of unit
/// variants; failures are `MappingError`s naming the path (`charge.amount`), never panics.
///
/// | attribute | goes on | value | meaning |
/// |---|---|---|---|
/// | `from = path` | the type | the boundary type | `#[acl(from = types::Charge)]` (a type deriving both directions also has `into = …`) |
/// | `deny_unmapped` | the type (struct) | — | every boundary field must be used or ignored: each one left out is an error at `deny_unmapped` ("missing field `livemode`"); use it, or add it to `ignore(...)` |
/// | `ignore(a, b)` | the type (struct) | boundary field names | fields the domain does not use |
/// | `unknown = path` | the type (enum) | a domain variant | where values the contract did not list go (the boundary enum's fallback); without it an open boundary enum's fallback is an unmatched variant (`E0004`) |
/// | `from = "name"` | a field or variant | a string | the boundary field or variant of another name |
/// | `with = path` | a field | a function | converts the value: `fn(B) -> D` or `fn(B) -> Result<D, E>` with `E: Display` |
/// | `from(a, b), with = path` | a field | boundary field names and a function | a value object made from several fields: `with` takes them in that order (`fn(A, B) -> D` or `-> Result<D, E>`); an error is at `{a,b}` |
/// | `default` | a field | — | not mapped: `Default::default()` |
/// | `skip` | a field or variant | — | not mapped |
///
/// Fields map by name; `Option`, `Vec` and maps convert element by element; a required
/// domain field fed by an absent optional one is a `MappingError`.
///
/// ```
/// use acl_runtime::FromBoundary;
///
/// mod types {
///     // What acl-codegen generates from the contract (here by hand).
///     pub struct Charge { pub id: String, pub amount: i64, pub currency: String, pub livemode: bool }
/// }
///
/// struct Money { cents: i64, currency: String }
/// impl Money {
///     fn new(cents: i64, currency: String) -> Result<Money, String> {
///         if currency.len() == 3 { Ok(Money { cents, currency }) } else { Err("not ISO 4217".into()) }
///     }
/// }
///
/// #[derive(FromBoundary)]
/// #[acl(from = types::Charge, deny_unmapped, ignore(livemode))]
/// struct Payment {
///     #[acl(from = "id")]
///     reference: String,
///     #[acl(from(amount, currency), with = Money::new)]
///     price: Money,
/// }
///
/// let c = types::Charge { id: "ch_1".into(), amount: 500, currency: "EUR".into(), livemode: false };
/// let p = Payment::try_from(c).unwrap();
/// assert_eq!((p.reference.as_str(), p.price.cents, p.price.currency.as_str()), ("ch_1", 500, "EUR"));
/// ```
#[proc_macro_derive(FromBoundary, attributes(acl))]
pub fn derive_from_boundary(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    mapping::derive(input, mapping::Direction::From).into()
}

/// `TryFrom<Domain> for Boundary`: builds the boundary value with a struct literal, so
/// every boundary field must be given (mapped, or `ignore`d to its `Default`).
///
/// | attribute | goes on | value | meaning |
/// |---|---|---|---|
/// | `into = path` | the type | the boundary type | `#[acl(into = types::NewCharge)]` |
/// | `ignore(a, b)` | the type (struct) | boundary field names | set to `Default::default()` |
/// | `from = "name"` | a field or variant | a string | the boundary field or variant of another name |
/// | `with = path` | a field | a function | converts the value: `fn(D) -> B` or `-> Result<B, E>` |
/// | `into(a = f, b = g)` | a field | boundary field names with functions | a value object given back as several fields: each function takes `&D` and returns the field (or `Result<_, E>`); an error is at that field |
/// | `skip` | a field or variant | — | not mapped (a skipped variant is a `MappingError`) |
///
/// ```
/// use acl_runtime::IntoBoundary;
///
/// mod types {
///     pub struct NewCharge { pub amount: i64, pub currency: String }
/// }
///
/// struct Money { cents: i64, currency: String }
/// impl Money {
///     fn cents(&self) -> i64 { self.cents }
///     fn code(&self) -> String { self.currency.clone() }
/// }
///
/// #[derive(IntoBoundary)]
/// #[acl(into = types::NewCharge)]
/// struct Payment {
///     #[acl(into(amount = Money::cents, currency = Money::code))]
///     price: Money,
/// }
///
/// let b = types::NewCharge::try_from(Payment { price: Money { cents: 5, currency: "EUR".into() } }).unwrap();
/// assert_eq!((b.amount, b.currency.as_str()), (5, "EUR"));
/// ```
#[proc_macro_derive(IntoBoundary, attributes(acl))]
pub fn derive_into_boundary(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    mapping::derive(input, mapping::Direction::Into).into()
}
