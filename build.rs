//! Rebuilds the crate when a file is added to `migrations/`: `sqlx::migrate!` (in `src/pg/`)
//! embeds the migrations at compile time, but cargo only tracks the files it already read.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
