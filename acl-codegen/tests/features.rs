//! `--features-per-tag`: each tag's operations and the types only they reach behind a
//! Cargo feature. The generated crate is checked by cargo with every feature, with one
//! tag alone, and with none (shared types only), so a gate that leaves a dangling
//! reference fails here.

use std::path::{Path, PathBuf};
use std::process::Command;

use acl_codegen::{Generator, Settings};

const SHOP: &str = r#"openapi: 3.0.3
info: {title: Shop, version: '1'}
servers: [{url: 'https://shop.example'}]
paths:
  /pets:
    get:
      operationId: listPets
      tags: [pets]
      parameters:
        - {name: kind, in: query, schema: {$ref: '#/components/schemas/PetKind'}}
        - {name: page, in: query, schema: {type: integer}}
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {type: array, items: {$ref: '#/components/schemas/Pet'}}
  /orders:
    post:
      operationId: createOrder
      tags: [Store Orders]
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/NewOrder'}
      responses:
        '201':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Order'}
  /adoptions:
    post:
      operationId: adopt
      tags: [pets, Store Orders]
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Adoption'}
      responses:
        '204': {description: ok}
  /health:
    get:
      operationId: health
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Health'}
webhooks:
  petAdopted:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/AdoptedEvent'}
      responses:
        '200': {description: ok}
components:
  schemas:
    PetKind: {type: string, enum: [cat, dog]}
    Pet:
      type: object
      properties:
        name: {type: string, maxLength: 40}
        owner: {$ref: '#/components/schemas/Owner'}
        tag: {$ref: '#/components/schemas/PetTag'}
    PetTag: {type: string, minLength: 1}
    Owner: {type: object, properties: {name: {type: string}}}
    NewOrder: {type: object, properties: {pet: {type: string}}}
    Order:
      type: object
      properties:
        owner: {$ref: '#/components/schemas/Owner'}
        total: {type: integer}
    Adoption: {type: object, properties: {pet: {type: string}}}
    Health: {type: object, properties: {ok: {type: boolean}}}
    AdoptedEvent:
      type: object
      properties:
        pet: {$ref: '#/components/schemas/AdoptedPet'}
    AdoptedPet: {type: object, properties: {name: {type: string}}}
    Unused: {type: object, properties: {note: {type: string}}}
"#;

fn generate(dir: &Path) -> acl_codegen::Generated {
    std::fs::create_dir_all(dir).unwrap();
    let contract = dir.join("shop.yaml");
    std::fs::write(&contract, SHOP).unwrap();
    let settings = Settings {
        features_per_tag: true,
        ..Settings::default()
    };
    Generator::new(settings).generate(&contract).unwrap()
}

/// The `cfg(…)` among the attributes and docs right above the line starting (after
/// indentation) with `item`, when there is one; panics when there is no such line.
fn cfg_above(text: &str, item: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().map(str::trim_start).collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(item))
        .unwrap_or_else(|| panic!("`{item}` not generated"));
    lines[..at]
        .iter()
        .rev()
        .take_while(|l| l.starts_with('#') || l.starts_with("///"))
        .find_map(|l| l.strip_prefix("#[cfg(")?.strip_suffix(")]"))
        .map(str::to_string)
}

#[test]
fn each_tag_and_the_types_only_it_reaches_sit_behind_a_feature() {
    let dir = std::env::temp_dir().join(format!("acl-features-{}", std::process::id()));
    let g = generate(&dir);
    let section = g.features_section().unwrap();
    assert!(section.contains("default = [\"all\"]"), "{section}");
    assert!(
        section.contains("all = [\"pets\", \"store_orders\", \"untagged\"]"),
        "{section}"
    );
    let types = std::fs::read_to_string({
        g.write_crate(&dir.join("crate"), "shop-features", None)
            .unwrap();
        dir.join("crate/src/types.rs")
    })
    .unwrap();
    let gate_of = |name: &str| {
        let item = if types.contains(&format!("pub struct {name} ")) {
            format!("pub struct {name} ")
        } else {
            format!("pub enum {name} ")
        };
        cfg_above(&types, &item).map(|cfg| {
            cfg.trim_start_matches("feature = \"")
                .trim_end_matches('"')
                .to_string()
        })
    };
    assert_eq!(gate_of("Pet").as_deref(), Some("pets"));
    assert_eq!(gate_of("PetKind").as_deref(), Some("pets"));
    assert_eq!(gate_of("NewOrder").as_deref(), Some("store_orders"));
    assert_eq!(gate_of("Health").as_deref(), Some("untagged"));
    for shared in ["Owner", "Adoption", "AdoptedEvent", "AdoptedPet", "Unused"] {
        assert_eq!(
            gate_of(shared),
            None,
            "{shared} is shared and always compiled"
        );
    }
    // A method with two tags compiles with either; an untagged one with `untagged`.
    let client = std::fs::read_to_string(dir.join("crate/src/client.rs")).unwrap();
    assert_eq!(
        cfg_above(&client, "pub fn adopt").as_deref(),
        Some("any(feature = \"pets\", feature = \"store_orders\")")
    );
    assert_eq!(
        cfg_above(&client, "pub fn health").as_deref(),
        Some("feature = \"untagged\"")
    );
    // An operation's every method (a paginated one has two) is behind its features.
    for method in ["pub fn list_pets<", "pub fn list_pets_all<"] {
        assert_eq!(
            cfg_above(&client, method).as_deref(),
            Some("feature = \"pets\""),
            "{method}"
        );
    }
    // For build.rs, the including crate declares the features: the section is written
    // next to the module.
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    g.write_out_dir(&out, "shop").unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("shop.features.toml")).unwrap(),
        section
    );
    let module = std::fs::read_to_string(out.join("shop.rs")).unwrap();
    assert!(
        module.contains("#[cfg(feature = \"pets\")]"),
        "gated in build.rs output too"
    );
}

#[test]
fn the_crate_builds_with_every_feature_one_tag_alone_and_none() {
    let dir = std::env::temp_dir().join(format!("acl-features-build-{}", std::process::id()));
    let g = generate(&dir);
    let krate = dir.join("crate");
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR")).join("../acl-runtime");
    g.write_crate(&krate, "shop-features", Some(&runtime))
        .unwrap();
    // Same dependency versions as the workspace, so nothing new is resolved.
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock"),
        krate.join("Cargo.lock"),
    )
    .unwrap();
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("real-contracts/target");
    for args in [
        &[][..],
        &["--no-default-features", "--features", "pets"][..],
        &["--no-default-features", "--features", "store_orders"][..],
        &["--no-default-features"][..],
    ] {
        let out = Command::new(env!("CARGO"))
            .args(["check", "--quiet"])
            .args(args)
            .env("CARGO_TARGET_DIR", &target)
            .env("CARGO_INCREMENTAL", "0")
            .env("RUSTFLAGS", "-D warnings")
            .current_dir(&krate)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cargo check {args:?}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
