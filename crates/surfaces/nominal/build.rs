//! Generates the Conjure wire types from the IR copy (portcullis-conjure-codegen does the work).
fn main() {
    const IR: &str = "conjure/nominal-auth.conjure.json";
    println!("cargo::rerun-if-changed={IR}");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    portcullis_conjure_codegen::write_nominal(IR, &out)
        .unwrap_or_else(|e| panic!("conjure codegen failed: {e}"));
}
