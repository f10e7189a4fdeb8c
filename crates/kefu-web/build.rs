// Re-embed only when the built web assets change (and make sure the folder exists so a plain
// `cargo build` works before the web console has been built).
fn main() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist");
    let _ = std::fs::create_dir_all(&dist);
    println!("cargo:rerun-if-changed={}", dist.display());
}
