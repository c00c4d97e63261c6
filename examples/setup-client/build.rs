fn main() -> Result<(), acl_codegen::Error> {
    acl_codegen::Builder::new("../contracts/petstore.yaml")
        .module("petstore")
        .generate()
}
