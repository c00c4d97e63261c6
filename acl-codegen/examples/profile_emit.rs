//! Where generation time goes for one contract: `cargo run --release -p acl-codegen --example profile_emit -- CONTRACT`.
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("a contract path");
    let t = Instant::now();
    let g = acl_codegen::Generator::default().generate(std::path::Path::new(&path)).unwrap();
    println!("read+lower {:.3}s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let text = g.types_file(&acl_codegen::Embed::Relative).unwrap();
    println!("emit+format {:.3}s ({} lines)", t.elapsed().as_secs_f64(), text.lines().count());
    split(&g);
}

#[allow(dead_code)]
fn split(g: &acl_codegen::Generated) {
    let t = Instant::now();
    let tokens = acl_codegen::emit::types::types_module(&g.api, &acl_codegen::emit::EmitOptions::default(), &[]);
    println!("  tokens {:.3}s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let file: syn::File = syn::parse2(tokens).unwrap();
    println!("  syn parse {:.3}s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let text = prettyplease::unparse(&file);
    println!("  prettyplease {:.3}s ({} bytes)", t.elapsed().as_secs_f64(), text.len());
}
