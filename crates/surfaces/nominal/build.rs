//! Generates the Conjure wire types from the IR copy (portcullis-conjure-codegen does the work).
fn main() {
    const IR: &str = "conjure/nominal-auth.conjure.json";
    println!("cargo::rerun-if-changed={IR}");
    let ir =
        serde_json::from_str(&std::fs::read_to_string(IR).expect("read the IR")).expect("IR JSON");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let g =
        portcullis_conjure_codegen::generate(&ir, &portcullis_conjure_codegen::nominal_options(IR))
            .unwrap_or_else(|e| panic!("conjure codegen failed: {e}"));
    for (file, text) in [
        ("conjure_types.rs", g.types),
        ("conjure_lenient.rs", g.lenient),
        ("conjure_endpoints.rs", g.endpoints),
    ] {
        std::fs::write(out.join(file), text).expect("write generated source");
    }
}
