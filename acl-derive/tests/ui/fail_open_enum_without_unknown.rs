use acl_runtime::FromBoundary;

mod types {
    // As acl-codegen generates an open enum: a fallback variant for values the contract
    // does not list, and `OpenEnum`.
    pub enum Status {
        Succeeded,
        Failed,
        Unknown(String),
    }
    impl acl_runtime::__private::mapping::OpenEnum for Status {}
}

#[derive(FromBoundary)]
#[acl(from = types::Status)]
pub enum Status {
    Succeeded,
    Failed,
}

fn main() {}
