fn main() -> Result<(), acl_codegen::Error> {
    // Types only: no client, no HTTP stack.
    acl_codegen::Builder::new("../contracts/petstore.yaml")
        .module("petstore")
        .client(false)
        .generate()
}
