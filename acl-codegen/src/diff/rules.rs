//! The catalogue of diff rules: every rule `diff` can report, with its stable id, its
//! severity and what it means for the consumer. `acl-codegen rules` prints it; the
//! README's table and the tests (a case per rule) are checked against it.

use super::Severity;

/// One rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Rule {
    /// The stable id (`response-property-became-nullable`).
    pub id: &'static str,
    /// How much a change under this rule matters.
    pub severity: Severity,
    /// What it means for the code generated from the old version.
    pub description: &'static str,
}

const fn rule(id: &'static str, severity: Severity, description: &'static str) -> Rule {
    Rule {
        id,
        severity,
        description,
    }
}

use Severity::{Breaking, Info, Warning};

/// Every rule, breaking ones first.
#[rustfmt::skip]
pub const RULES: &[Rule] = &[
    rule("api-path-removed-without-deprecation", Breaking, "an operation we call is gone and was never deprecated"),
    rule("new-required-request-parameter", Breaking, "a parameter our calls do not send is now required"),
    rule("request-parameter-became-required", Breaking, "an optional parameter we may omit is now required"),
    rule("request-parameter-location-changed", Breaking, "a parameter moved (query, header, path, cookie): we send it in the old place"),
    rule("request-parameter-style-changed", Breaking, "a parameter is serialised differently (style or explode) than we send it"),
    rule("new-required-request-body", Breaking, "an operation we call without a body now requires one"),
    rule("request-body-became-required", Breaking, "an optional request body is now required"),
    rule("request-body-media-type-removed", Breaking, "a media type we send the body in is no longer accepted"),
    rule("new-required-request-property", Breaking, "a property our requests lack is now required (without a default)"),
    rule("request-property-became-required", Breaking, "an optional property we may omit is now required"),
    rule("request-property-type-changed", Breaking, "a value we send has another type"),
    rule("request-property-no-longer-nullable", Breaking, "null is no longer accepted for a value we may send as null"),
    rule("request-property-constraint-tightened", Breaking, "a rule on a value we send got stricter (a lower maximum, a new pattern)"),
    rule("request-property-constraint-added", Breaking, "a value we send without rules now has some"),
    rule("request-enum-value-removed", Breaking, "an enum value we may send is no longer accepted"),
    rule("request-union-branch-removed", Breaking, "a kind of value we may send (a oneOf/anyOf branch) is no longer accepted"),
    rule("response-success-status-removed", Breaking, "a success status our response enum decodes is gone"),
    rule("response-success-status-added", Breaking, "a new success status our response enum has no variant for (read as invalid data)"),
    rule("response-media-type-removed", Breaking, "a media type we decode responses from is gone"),
    rule("response-required-header-removed", Breaking, "a response header our type requires is gone"),
    rule("response-header-became-optional", Breaking, "a response header our type requires may now be absent"),
    rule("response-required-property-removed", Breaking, "a property our type requires is no longer sent"),
    rule("response-property-became-optional", Breaking, "a property our type requires may now be absent"),
    rule("response-property-became-nullable", Breaking, "a value may now be null; our type does not accept null"),
    rule("response-property-type-changed", Breaking, "a value we receive has another type"),
    rule("response-union-branch-added", Breaking, "a new kind of value (a oneOf/anyOf branch) may arrive that our union does not decode"),
    rule("response-constraint-loosened", Breaking, "the vendor dropped or relaxed a rule our generated type enforces on what we receive"),
    rule("response-enum-value-added", Warning, "a new enum value arrives as `Unknown` (breaking with closed enums)"),
    rule("response-non-success-status-added", Warning, "a new error status arrives as an undocumented status"),
    rule("request-property-removed", Warning, "a property we send is no longer documented (the vendor may ignore or refuse it)"),
    rule("request-parameter-removed", Warning, "a parameter we send is no longer documented"),
    rule("property-default-changed", Warning, "a default changed: omitting the value now means something else"),
    rule("api-removed-with-deprecation", Warning, "a deprecated operation is gone"),
    rule("api-deprecated", Warning, "an operation we call is now deprecated"),
    rule("api-operation-id-changed", Warning, "an operation's id changed: its generated method is renamed"),
    rule("api-security-changed", Warning, "an operation's security requirements changed: check the credentials we send"),
    rule("servers-changed", Warning, "the servers changed: the default base URL may be another"),
    rule("webhook-removed", Warning, "a webhook we receive is no longer documented"),
    rule("callback-removed", Warning, "a callback we receive is no longer documented"),
    rule("type-changed-compatibly", Info, "a type changed in a way our code still reads or writes (an integer narrowing in a response, widening in a request)"),
    rule("request-property-constraint-loosened", Info, "a rule on a value we send got looser"),
    rule("response-constraint-tightened", Info, "a rule on a value we receive got stricter: what arrives still passes our checks"),
    rule("request-enum-value-added", Info, "a new enum value we may send"),
    rule("response-enum-value-removed", Info, "an enum value we decode will no longer arrive"),
    rule("response-optional-property-removed", Info, "an optional property we decode will no longer arrive"),
    rule("response-non-success-status-removed", Info, "an error status will no longer arrive"),
    rule("new-optional-request-property", Info, "a new optional property we may send"),
    rule("new-optional-request-parameter", Info, "a new optional parameter we may send"),
    rule("response-property-added", Info, "a new property arrives (kept by open types, ignored otherwise)"),
    rule("endpoint-added", Info, "a new operation"),
];

/// The rule with id `id`.
pub fn rule_of(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// The catalogue as a Markdown table (what `acl-codegen rules` prints).
pub fn markdown() -> String {
    let mut out = String::from("| rule | severity | meaning |\n|---|---|---|\n");
    for r in RULES {
        out.push_str(&format!(
            "| `{}` | {:?} | {} |\n",
            r.id, r.severity, r.description
        ));
    }
    out
}
