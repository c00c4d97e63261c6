//! Validating a raw `serde_json::Value` against the contract's original schema, with the
//! `jsonschema` crate: every keyword, including those the generated types do not
//! enforce, and every violation, each with its JSON pointer. For dead-letter records.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use crate::{BoundarySchema, Contract};

/// One way a raw value breaks the original schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawViolation {
    /// JSON pointer of the bad value in the instance.
    pub instance_path: String,
    /// JSON pointer of the keyword in the schema that rejected it.
    pub schema_path: String,
    /// What is wrong.
    pub message: String,
}

/// The schema could not be compiled (a contract the `jsonschema` crate cannot read).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the schema {schema_ref} cannot be compiled: {message}")]
pub struct SchemaError {
    /// The schema reference that failed.
    pub schema_ref: String,
    /// Why.
    pub message: String,
}

type Cache = Mutex<HashMap<(usize, &'static str), Arc<jsonschema::Validator>>>;

fn validator(
    contract: &'static Contract,
    schema_ref: &'static str,
) -> Result<Arc<jsonschema::Validator>, SchemaError> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = (contract as *const Contract as usize, schema_ref);
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(v.clone());
    }
    let err = |message: String| SchemaError {
        schema_ref: schema_ref.to_string(),
        message,
    };
    let mut options = jsonschema::options();
    options = match contract.dialect {
        "draft4" => options.with_draft(jsonschema::Draft::Draft4),
        "draft6" => options.with_draft(jsonschema::Draft::Draft6),
        "draft7" => options.with_draft(jsonschema::Draft::Draft7),
        "2019-09" => options.with_draft(jsonschema::Draft::Draft201909),
        _ => options.with_draft(jsonschema::Draft::Draft202012),
    };
    options = options.with_retriever(ContractDocuments(contract));
    let root = serde_json::json!({ "$ref": schema_ref });
    let compiled = options.build(&root).map_err(|e| err(e.to_string()))?;
    let compiled = Arc::new(compiled);
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, compiled.clone());
    Ok(compiled)
}

/// Serves the contract's own documents to the validator; nothing is fetched.
struct ContractDocuments(&'static Contract);

impl jsonschema::Retrieve for ContractDocuments {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let wanted = uri.as_str().split('#').next().unwrap_or_default();
        for (base, text) in self.0.documents {
            if *base == wanted {
                return Ok(serde_json::from_str(text)?);
            }
        }
        Err(format!("{wanted} is not a document of this contract").into())
    }
}

/// Validates `value` against the original schema of `T`; every violation is listed.
pub fn validate<T: BoundarySchema>(
    value: &Value,
) -> Result<Result<(), Vec<RawViolation>>, SchemaError> {
    validate_at(T::contract(), T::SCHEMA_REF, value)
}

/// Validates `value` against the schema at `schema_ref` in `contract` (generated code
/// lists every definition's reference in `types::schema_refs`, aliases included).
pub fn validate_at(
    contract: &'static Contract,
    schema_ref: &'static str,
    value: &Value,
) -> Result<Result<(), Vec<RawViolation>>, SchemaError> {
    let v = validator(contract, schema_ref)?;
    let errors: Vec<RawViolation> = v
        .iter_errors(value)
        .map(|e| RawViolation {
            instance_path: e.instance_path().to_string(),
            schema_path: e.schema_path().to_string(),
            message: e.to_string(),
        })
        .collect();
    Ok(if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    })
}
