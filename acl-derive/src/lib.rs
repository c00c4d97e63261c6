//! acl-derive: derive macros that map domain types from and to boundary types and attach
//! per-operation policies. Nothing is exported yet; the macros land with their issue.
