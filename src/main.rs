//! The `acumatica-bridge` binary: everything lives in the library; this only hands over to it.

fn main() -> std::process::ExitCode {
    acumatica_bridge::cli::main()
}
