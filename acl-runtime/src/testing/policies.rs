//! [`check_policies`]: runs every operation of a client through the faults its contract
//! implies, against a [`MockVendor`], and reports where the client's resilience policy
//! contradicts the contract: it retries a documented client error, it does not retry a
//! server error on an operation that is safe to repeat (and whose policy allows retries),
//! or it tries again sooner than the `Retry-After` of a documented 429.

use std::time::Duration;

use super::{Fault, MockVendor};
use crate::client::{Core, NoDocumentedErrors, UndocumentedSuccess};

/// Where a client's policy contradicts its contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The operation id.
    pub operation: &'static str,
    /// The scenario (`documented 400`, `503`, `documented 429`).
    pub scenario: String,
    /// What went against the contract.
    pub problem: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.operation, self.scenario, self.problem
        )
    }
}

/// Runs each operation of `core`'s client (built with `transport(vendor.clone())`)
/// through the scenarios below and returns what contradicts the contract (empty: none).
/// It scripts `vendor` (and resets it after each scenario): run it on a vendor of its own.
///
/// - each documented status from 400 to 499 but 408 and 429: one attempt only;
/// - a 503 on an operation safe to repeat whose policy allows several attempts: more
///   than one attempt;
/// - a documented 429 with `Retry-After: 1`: no second attempt within that second.
pub async fn check_policies(core: &Core, vendor: &MockVendor) -> Vec<Finding> {
    let api = core.api();
    let mut findings = Vec::new();
    for (index, op) in api.operations.iter().enumerate() {
        let policy = core.policy(index);
        let mut scenarios: Vec<(String, Fault)> = Vec::new();
        for r in op.responses {
            if let Ok(status) = r.status.parse::<u16>() {
                if (400..500).contains(&status) && status != 408 && status != 429 {
                    scenarios.push((format!("documented {status}"), Fault::Status(status)));
                }
                if status == 429 {
                    scenarios.push((
                        "documented 429".into(),
                        Fault::RateLimited {
                            retry_after: Duration::from_secs(1),
                        },
                    ));
                }
            }
        }
        scenarios.push(("503".into(), Fault::Status(503)));
        for (scenario, fault) in scenarios {
            vendor.reset();
            vendor.on(op.id).times(1).fail(fault.clone());
            let call = request(core, vendor, index)
                .send(UndocumentedSuccess::decode, NoDocumentedErrors::decode);
            let _ = call.with_meta().await;
            let calls = vendor.calls(op.id);
            let attempts = calls.len();
            let finding = |problem: String| Finding {
                operation: op.id,
                scenario: scenario.clone(),
                problem,
            };
            match fault {
                Fault::Status(503) => {
                    let retries = policy.retry.max_attempts > 1 && policy.safe_to_repeat(op.method);
                    if retries && attempts < 2 {
                        findings.push(finding(format!(
                            "not retried although the operation is safe to repeat and its policy allows {} attempts",
                            policy.retry.max_attempts
                        )));
                    }
                }
                Fault::Status(status) if attempts > 1 => {
                    findings.push(finding(format!(
                        "retried ({attempts} attempts) although {status} is a client error the contract documents"
                    )));
                }
                Fault::RateLimited { retry_after } => {
                    if let [first, second, ..] = calls.as_slice() {
                        let waited = second.at.duration_since(first.at);
                        if waited < retry_after {
                            findings.push(finding(format!(
                                "tried again after {waited:?}, before the {retry_after:?} of `Retry-After`"
                            )));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    vendor.reset();
    findings
}

/// A request for operation `index` with its required parameters and body filled.
fn request<'c>(core: &'c Core, vendor: &MockVendor, index: usize) -> crate::client::Request<'c> {
    let op = &core.api().operations[index];
    let mut r = core.request(index);
    for segment in op.path.split('/') {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let value = op
                .parameters
                .iter()
                .find(|p| p.location == "path" && p.name == name)
                .map_or_else(|| "1".to_string(), |p| vendor.parameter_text(p));
            r = r.path(name, &value, "simple", false);
        }
    }
    for p in op.parameters.iter().filter(|p| p.required) {
        let value = vendor.parameter_text(p);
        r = match p.location {
            "query" => r.query(p.name, &value, "form", true),
            "header" => r.header(p.name, &value, false),
            "cookie" => r.cookie(p.name, &value, true),
            _ => r,
        };
    }
    let (required, bodies) = op.body;
    if let Some((media, schema)) = bodies
        .iter()
        .find(|(m, s)| m.contains("json") && !s.is_empty())
    {
        if let Some(value) = vendor.data(schema) {
            r = r.json_as(&value, media);
        }
    } else if required {
        if let Some((media, _)) = bodies.first() {
            r = r.raw(bytes::Bytes::from_static(b"x"), media);
        }
    }
    r
}
