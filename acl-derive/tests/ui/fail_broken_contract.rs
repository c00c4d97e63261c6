use acl_runtime::Policies;

#[derive(Policies)]
#[acl(contract = "tests/ui/broken.yaml")]
pub struct P;

fn main() {}
