//! Rebuilds the crate when the committed console build (`console/web/dist`) changes, so new
//! hashed file names are embedded too.

fn main() {
    println!("cargo:rerun-if-changed=../../console/web/dist");
}
